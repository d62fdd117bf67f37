//! Sample models made by real exporters, end to end on the emulated M4F and M7: f32 and int8
//! (kiln's own calibration) validate on each. PaddlePaddle (paddle2onnx): BatchNormalization
//! folds away and Hardswish / Hardsigmoid run as single ops. PyTorch (torch.onnx.export,
//! TorchScript exporter): the `view(x.size(0), -1)` shape subgraph folds away and Gemm with
//! transB runs as a dense layer. keras2onnx: a file whose nodes are out of topological order
//! (kiln sorts them), NHWC Transposes and a BatchNormalization between them that still folds.

mod e2e_support;

use e2e_support::kiln;

use serde_json::Value;

/// `kiln validate MODEL --board B --data DIR/test.npz [--precision int8 --calib DIR/calib.npz]`.
fn validate(dir: &str, board: &str, int8: bool) -> Value {
    let mut c = kiln("e2e-exporters.db");
    c.args(["validate", &format!("{dir}/model.onnx"), "--board", board])
        .args(["--data", &format!("{dir}/test.npz"), "--limit", "6"])
        .args(["--format", "json", "--no-db"]);
    if int8 {
        c.args([
            "--precision",
            "int8",
            "--calib",
            &format!("{dir}/calib.npz"),
        ]);
    }
    let o = c.output().unwrap();
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!(
            "{dir} on {board}: no report\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert!(o.status.success(), "{dir} on {board}: {r:#}");
    assert_eq!(r["passed"], true, "{r:#}");
    r
}

#[test]
fn paddle_mobilenet_v3_block_f32_and_int8_on_m4_and_m7() {
    let dir = "models/paddle-mbv3";
    let o = kiln("e2e-exporters.db")
        .args(["inspect", &format!("{dir}/model.onnx"), "--format", "json"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let layers = r["layers"].as_array().unwrap();
    let ops: Vec<&str> = layers
        .iter()
        .map(|l| l["op_type"].as_str().unwrap())
        .collect();
    assert!(!ops.contains(&"BatchNormalization"), "{ops:?}");
    assert_eq!(
        ops.iter().filter(|&&o| o == "HardSwish").count(),
        2,
        "{ops:?}"
    );
    f32_and_int8_on_m4_and_m7(dir);
}

/// [`validate`] f32 and int8 on mps2-an386 and mps2-an500, every layer of the int8 build int8:
/// the `(f32, int8)` reports, board by board.
fn f32_and_int8_on_m4_and_m7(dir: &str) -> Vec<(Value, Value)> {
    let mut reports = Vec::new();
    for board in ["mps2-an386", "mps2-an500"] {
        let f = validate(dir, board, false);
        let q = validate(dir, board, true);
        assert_eq!(
            q["quantization"]["f32_layers"], 0,
            "{:#}",
            q["quantization"]
        );
        reports.push((f, q));
    }
    reports
}

/// `kiln inspect DIR/model.onnx --format json`, asserted to be fully supported.
fn inspect(dir: &str) -> Value {
    let o = kiln("e2e-exporters.db")
        .args(["inspect", &format!("{dir}/model.onnx"), "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["supported"], true, "{r:#}");
    r
}

/// The layers' `(op_type, kernel)`.
fn layer_kinds(r: &Value) -> Vec<(String, String)> {
    r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap().to_string();
            (s("op_type"), s("kernel"))
        })
        .collect()
}

#[test]
fn pytorch_lenet5_f32_and_int8_on_m4_and_m7() {
    let dir = "models/pytorch-lenet5";
    let r = inspect(dir);
    assert_eq!(r["producer"], "pytorch 2.15.0", "{r:#}");
    // The exporter's `Shape -> Gather -> Unsqueeze -> Concat -> Reshape` is folded away: no
    // layer is left of it, not even the Reshape (a copy on the flattened arena).
    let kinds = layer_kinds(&r);
    let ops: Vec<&str> = kinds.iter().map(|(o, _)| o.as_str()).collect();
    for op in [
        "Shape",
        "Gather",
        "Unsqueeze",
        "Concat",
        "Reshape",
        "Constant",
    ] {
        assert!(!ops.contains(&op), "{op} left: {ops:?}");
    }
    for op in ["Shape", "Gather", "Unsqueeze", "Concat"] {
        assert!(r["ops"].get(op).is_none(), "{op}: {:#}", r["ops"]);
    }
    let want = [
        ("Conv", "Conv2d"),
        ("MaxPool", "Pool2d"),
        ("Conv", "Conv2d"),
        ("MaxPool", "Pool2d"),
        ("Gemm", "Dense"),
        ("Gemm", "Dense"),
        ("Gemm", "Dense"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(o, k)| (o.to_string(), k.to_string()))
        .collect();
    assert_eq!(kinds, want, "{r:#}");
    // Gemm transB=1: C5 is 400 -> 120 (weights [120, 400] + bias), the ReLUs fused.
    let c5 = &r["layers"][4];
    assert_eq!(c5["output_shape"], serde_json::json!([1, 120]), "{c5:#}");
    assert_eq!(c5["params"], 400 * 120 + 120, "{c5:#}");
    assert_eq!(c5["macs"], 400 * 120, "{c5:#}");
    assert_eq!(r["macs"], 416_520, "{r:#}");
    for (f, q) in f32_and_int8_on_m4_and_m7(dir) {
        assert_eq!(f["accuracy"]["device"], 1.0, "{f:#}");
        assert_eq!(q["accuracy"]["device"], 1.0, "{q:#}");
    }
}

/// Nodes of `DIR/model.onnx` that read a tensor no earlier node (nor an input or initializer)
/// produced.
fn nodes_read_later_outputs(dir: &str) -> usize {
    let path = kiln_root().join(dir).join("model.onnx");
    let proto = kiln::import::load_proto(&path).unwrap();
    let g = proto.graph.unwrap();
    let mut seen: std::collections::HashSet<String> =
        g.input.iter().map(|i| i.name.clone()).collect();
    seen.extend(g.initializer.iter().map(|i| i.name.clone()));
    let mut late = 0;
    for n in &g.node {
        late += usize::from(n.input.iter().any(|i| !i.is_empty() && !seen.contains(i)));
        seen.extend(n.output.iter().cloned());
    }
    late
}

#[test]
fn keras2onnx_out_of_order_digits_f32_and_int8_on_m4_and_m7() {
    let dir = "models/keras2onnx-digits";
    // The file is as keras2onnx wrote it: not topologically sorted.
    assert!(nodes_read_later_outputs(dir) > 0);
    let r = inspect(dir);
    assert_eq!(r["producer"], "keras2onnx 1.16.0", "{r:#}");
    let kinds = layer_kinds(&r);
    let ops: Vec<&str> = kinds.iter().map(|(o, _)| o.as_str()).collect();
    // BatchNormalization sits between two Transposes (NCHW <-> NHWC) after the bias-less Conv:
    // the pair cancels and it folds into the Conv; the Identity copies go.
    assert!(!ops.contains(&"BatchNormalization"), "{ops:?}");
    assert!(!ops.contains(&"Identity"), "{ops:?}");
    assert_eq!(ops.iter().filter(|&&o| o == "Conv").count(), 4, "{ops:?}");
    assert_eq!(ops.last(), Some(&"MatMul"), "{ops:?}");
    assert!(
        r["optimizations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o.as_str().unwrap().starts_with("folded BatchNormalization")),
        "{:#}",
        r["optimizations"]
    );
    for (f, _) in f32_and_int8_on_m4_and_m7(dir) {
        assert_eq!(f["accuracy"]["device"], 1.0, "{f:#}");
    }
}

/// onnxruntime's quantization tool, QOperator format (QLinearConv, QLinearMatMul and its
/// com.microsoft QLinearAdd / QLinearMul / QLinearGlobalAveragePool) on the Paddle model: runs
/// int8 with the model's own parameters, within one step of onnxruntime's outputs on every
/// element, and validates on the M4 and the M7.
#[test]
fn onnxruntime_qoperator_model_matches_onnxruntime() {
    let dir = "models/paddle-mbv3-qop";
    for board in ["host", "mps2-an386", "mps2-an500"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out.npz");
        let o = kiln("e2e-exporters.db")
            .args(["run", &format!("{dir}/model.onnx"), "--board", board])
            .args([
                "--input",
                &format!("{dir}/test.npz"),
                "--limit",
                "8",
                "--output",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let read = |p: &std::path::Path| -> Vec<f32> {
            let mut r = ndarray_npy::NpzReader::new(std::fs::File::open(p).unwrap()).unwrap();
            let a: ndarray::ArrayD<f32> = r.by_name("fetch_name_0").unwrap();
            a.iter().copied().collect()
        };
        let got = read(&out);
        let want = read(&kiln_root().join(dir).join("ort_outputs.npz"));
        let want = &want[..got.len()];
        // One step of the logits' quantization (`Add.5_scale`). onnxruntime rounds the last
        // conv's output to int8 before the BatchNormalization its quantizer left in float, and
        // the MatMul's before the bias QLinearAdd; kiln folds both into the layer before.
        let step = 0.002_488_162_1f32;
        for (s, (g, w)) in got.chunks(10).zip(want.chunks(10)).enumerate() {
            let arg = |v: &[f32]| (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j])).unwrap();
            assert_eq!(arg(g), arg(w), "{board} sample {s}: {g:?} vs {w:?}");
            let worst = g
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst <= step * 1.001, "{board} sample {s}: {worst}");
        }
    }
    for board in ["mps2-an386", "mps2-an500"] {
        let o = kiln("e2e-exporters.db")
            .args(["validate", &format!("{dir}/model.onnx"), "--board", board])
            .args(["--data", &format!("{dir}/test.npz"), "--limit", "6"])
            .args(["--format", "json", "--no-db"])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["passed"], true, "{board}: {r:#}");
        // Every layer int8 but the two the quantizer left in float (BatchNormalization, folded
        // into the conv before it, and the GlobalAveragePool after it).
        let q = &r["quantization"];
        assert_eq!(q["f32_layers"], 2, "{q:#}");
        assert_eq!(q["int8_layers"], 10, "{q:#}");
    }
}

fn kiln_root() -> std::path::PathBuf {
    e2e_support::root()
}
