//! Sample models made by real exporters, end to end on the emulated M4F and M7: f32 and int8
//! (kiln's own calibration) validate on each. PaddlePaddle (paddle2onnx): BatchNormalization
//! folds away and Hardswish / Hardsigmoid run as single ops.

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
    for board in ["mps2-an386", "mps2-an500"] {
        validate(dir, board, false);
        let r = validate(dir, board, true);
        assert_eq!(
            r["quantization"]["f32_layers"], 0,
            "{:#}",
            r["quantization"]
        );
    }
}

/// onnxruntime's quantization tool, QOperator format (QLinearConv, QLinearMatMul and its
/// com.microsoft QLinearAdd / QLinearMul / QLinearGlobalAveragePool) on the Paddle model: runs
/// int8 with the model's own parameters and agrees with onnxruntime on every sample.
#[test]
fn onnxruntime_qoperator_model_matches_onnxruntime() {
    let dir = "models/paddle-mbv3-qop";
    for board in ["host", "mps2-an386"] {
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
        for (s, (g, w)) in got.chunks(10).zip(want.chunks(10)).enumerate() {
            let arg = |v: &[f32]| (0..v.len()).max_by(|&i, &j| v[i].total_cmp(&v[j])).unwrap();
            assert_eq!(arg(g), arg(w), "{board} sample {s}: {g:?} vs {w:?}");
            // A few steps of the logits' quantization (the last layer runs f32 here).
            let worst = g
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-2, "{board} sample {s}: {worst}");
        }
    }
}

fn kiln_root() -> std::path::PathBuf {
    e2e_support::root()
}
