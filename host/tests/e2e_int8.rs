//! End to end, int8: kiln's own post-training quantization of the sample models, run on the
//! emulated boards and on `host`; the device must equal the host simulation bit for bit and the
//! digits CNN must stay within 1 accuracy point of its float version. Also the regression gate
//! failing on a deliberately degraded (4-bit per-tensor weights) build.

mod e2e_support;

use e2e_support::{kiln, root};
use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// `kiln validate MODEL --precision int8 --calib models/MODEL/calib.npz` plus `extra`.
fn validate_int8(model: &str, board: &str, extra: &[&str]) -> Output {
    let out = root()
        .join("target/e2e")
        .join(format!("{model}-int8-{board}"));
    kiln("e2e-kiln.db")
        .args(["validate", &format!("models/{model}/model.onnx")])
        .args(["--board", board, "--precision", "int8"])
        .args(["--calib", &format!("models/{model}/calib.npz")])
        .args(["--data", &format!("models/{model}/test.npz")])
        .args(["--format", "json"])
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("kiln runs")
}

fn json(o: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn ok(o: Output, what: &str) -> Value {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    json(&o)
}

/// The checks every int8 run must pass: precision, device == host in bits and LSB, the three
/// rows, quantization provenance.
fn check_int8(r: &Value, model: &str, board: &str) {
    assert_eq!(r["precision"], "int8", "{model} on {board}");
    assert_eq!(r["passed"], true, "{r:#}");
    for o in r["outputs"].as_array().unwrap() {
        assert_eq!(o["device_vs_host"]["mismatched"], 0, "{model} on {board}");
        assert_eq!(o["max_lsb_device_vs_host"], 0.0, "{model} on {board}");
        assert!(o["lsb"].as_f64().unwrap() > 0.0);
    }
    let q = &r["quantization"];
    assert_eq!(q["source"], "ptq");
    assert_eq!(q["calib_method"], "minmax");
    assert_eq!(q["calib_hash"].as_str().unwrap().len(), 64);
    assert!(q["int8_layers"].as_u64().unwrap() > 0, "{q:#}");
    let rows: Vec<&str> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    if r["accuracy"].is_object() {
        assert_eq!(
            rows,
            ["device_vs_labels", "float_vs_labels", "device_vs_float"]
        );
        assert!(r["confusion"]["counts"].is_array());
    } else {
        assert_eq!(rows, ["device_vs_float"]);
    }
    assert_eq!(r["provenance"]["model_sha256"].as_str().unwrap().len(), 64);
    if board != "host" {
        assert_eq!(r["repeat_identical"], true);
        assert!(r["instructions_per_inference"]["min"].as_u64().unwrap() > 0);
        let fw = &r["firmware"]["sizes"];
        eprintln!(
            "{model} int8 on {board}: {} instructions/inference, flash {} (weights {}), arena {}, stack {}",
            r["instructions_per_inference"]["mean"],
            fw["flash_bytes"],
            fw["flash_weights_bytes"],
            fw["ram_arena_bytes"],
            r["stack"]["stack_used"]
        );
    }
}

/// Acceptance: the digits CNN quantized by kiln is within 1.0 accuracy point of its float
/// version on the whole test split, and the device equals the host simulation.
fn digits_cnn_accuracy(board: &str) {
    let r = ok(
        validate_int8("digits-cnn", board, &[]),
        "digits-cnn int8 validate",
    );
    check_int8(&r, "digits-cnn", board);
    let acc = &r["accuracy"];
    let (dev, host, float) = (
        acc["device"].as_f64().unwrap(),
        acc["host"].as_f64().unwrap(),
        acc["float"].as_f64().unwrap(),
    );
    assert_eq!(r["samples"], 359);
    assert_eq!(dev, host);
    assert!(
        (float - dev) * 100.0 <= 1.0,
        "int8 {dev} vs float {float} on {board}"
    );
    assert_eq!(
        r["quantization"]["f32_layers"], 0,
        "{:#}",
        r["quantization"]
    );
    eprintln!("digits-cnn on {board}: int8 accuracy {dev}, float {float}");
}

#[test]
fn digits_cnn_int8_on_mps2_an386() {
    digits_cnn_accuracy("mps2-an386");
}

#[test]
fn digits_cnn_int8_on_mps2_an500() {
    digits_cnn_accuracy("mps2-an500");
}

#[test]
fn ds_cnn_kws_int8_on_mps3_an547() {
    let r = ok(
        validate_int8("ds-cnn-kws", "mps3-an547", &["--limit", "4"]),
        "ds-cnn-kws int8 on an547",
    );
    check_int8(&r, "ds-cnn-kws", "mps3-an547");
}

#[test]
fn digits_mlp_int8_on_mps2_an385() {
    // Cortex-M3: no FPU; the float boundary (quantize / dequantize) runs in soft float.
    let r = ok(
        validate_int8("digits-mlp", "mps2-an385", &["--limit", "50"]),
        "digits-mlp int8 on an385",
    );
    check_int8(&r, "digits-mlp", "mps2-an385");
}

#[test]
fn float_layers_stay_f32_and_are_reported() {
    let r = ok(
        validate_int8(
            "digits-cnn",
            "mps2-an386",
            &["--float-layers", "conv2", "--limit", "40"],
        ),
        "digits-cnn int8 with --float-layers conv2",
    );
    check_int8(&r, "digits-cnn", "mps2-an386");
    let layers = r["quantization"]["layers"].as_array().unwrap();
    let conv2 = layers.iter().find(|l| l["node"] == "conv2").unwrap();
    assert_eq!(conv2["kernel"], "f32");
    assert!(conv2["reason"].as_str().unwrap().contains("--float-layers"));
    assert_eq!(r["quantization"]["f32_layers"], 1);
    let conv1 = layers.iter().find(|l| l["node"] == "conv1").unwrap();
    assert_eq!(conv1["kernel"], "int8");
}

#[test]
fn unknown_float_layer_is_an_error_naming_it() {
    let o = validate_int8(
        "digits-cnn",
        "host",
        &["--float-layers", "conv9,conv1", "--no-db"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("conv9") && err.contains("conv2"), "{err}");
}

#[test]
fn int8_without_calibration_says_what_to_pass() {
    let o = kiln("e2e-kiln.db")
        .args([
            "validate",
            "models/digits-cnn/model.onnx",
            "--board",
            "host",
        ])
        .args([
            "--data",
            "models/digits-cnn/test.npz",
            "--precision",
            "int8",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--calib"), "{err}");
}

/// A gate catches a degraded quantization recipe (4-bit, per-tensor weights) against the
/// committed-style baseline report of the normal recipe, and passes the normal one.
#[test]
fn gate_fails_on_degraded_build_and_passes_normal_one() {
    let dir = root().join("target/e2e/gate-int8");
    std::fs::create_dir_all(&dir).unwrap();
    let baseline = dir.join("baseline.json");
    let base = ok(
        validate_int8(
            "digits-cnn",
            "host",
            &["--no-db", "--report", baseline.to_str().unwrap()],
        ),
        "baseline",
    );
    let gate = [
        "--no-db",
        "--baseline",
        baseline.to_str().unwrap(),
        "--max-accuracy-drop",
        "0.5",
        "--max-latency-increase",
        "5",
        "--max-flash-increase",
        "1",
    ];
    let normal = ok(
        validate_int8("digits-cnn", "host", &gate),
        "normal vs baseline",
    );
    assert_eq!(normal["accuracy"]["device"], base["accuracy"]["device"]);
    let g = normal["gates"].as_array().unwrap();
    assert!(g
        .iter()
        .any(|g| g["name"] == "gate_accuracy" && g["status"] == "pass"));

    let mut degraded_args = gate.to_vec();
    degraded_args.extend(["--weight-bits", "4", "--weight-granularity", "tensor"]);
    let o = validate_int8("digits-cnn", "host", &degraded_args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json(&o);
    assert_eq!(r["passed"], false);
    assert!(r["quantization"]["recipe"]
        .as_str()
        .unwrap()
        .contains("4-bit"));
    let acc_gate = r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "gate_accuracy")
        .unwrap();
    assert_eq!(acc_gate["status"], "fail", "{acc_gate:#}");
    assert!(acc_gate["regression"].as_f64().unwrap() > 0.5);
    // Device still equals the host simulation: the gate, not a numerical fault, fails it.
    assert_eq!(r["outputs"][0]["device_vs_host"]["mismatched"], 0);
}

fn read_npz_f32(path: &Path, key: &str) -> Vec<f32> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut z = ndarray_npy::NpzReader::new(f).unwrap();
    let a: ndarray::ArrayD<f32> = z.by_name(key).unwrap();
    a.iter().copied().collect()
}

/// Acceptance: the pre-quantized QDQ sample (quantized by onnxruntime) runs int8 on the board
/// with its own scales and zero points; its outputs are within 1 LSB of onnxruntime's committed
/// outputs on at least 99 % of elements, and equal the host simulation.
#[test]
fn qdq_model_matches_onnxruntime_on_mps2_an386() {
    let model = "models/digits-cnn-qdq/model.onnx";
    let out_dir = root().join("target/e2e/digits-cnn-qdq-mps2-an386");
    let r = ok(
        kiln("e2e-kiln.db")
            .args([
                "validate",
                model,
                "--data",
                "models/digits-cnn-qdq/test.npz",
            ])
            .args(["--format", "json", "--no-db", "--out"])
            .arg(&out_dir)
            .output()
            .unwrap(),
        "validate the QDQ model",
    );
    assert_eq!(r["precision"], "int8");
    assert_eq!(r["passed"], true, "{r:#}");
    assert_eq!(r["quantization"]["source"], "model");
    assert!(r["quantization"]["calib_hash"].is_null());
    assert_eq!(
        r["quantization"]["f32_layers"], 0,
        "{:#}",
        r["quantization"]
    );
    assert_eq!(r["outputs"][0]["max_lsb_device_vs_host"], 0.0);
    let lsb = r["outputs"][0]["lsb"].as_f64().unwrap() as f32;

    let outputs = out_dir.join("outputs.npz");
    ok(
        kiln("e2e-kiln.db")
            .args(["run", model, "--input", "models/digits-cnn-qdq/test.npz"])
            .arg("--output")
            .arg(&outputs)
            .args(["--format", "json", "--out"])
            .arg(&out_dir)
            .output()
            .unwrap(),
        "run the QDQ model",
    );
    let dev = read_npz_f32(&outputs, "logits");
    let ort = read_npz_f32(
        &root().join("models/digits-cnn-qdq/ort_outputs.npz"),
        "logits",
    );
    assert_eq!(dev.len(), ort.len());
    let d = kiln::metrics::lsb_diff(&[dev], &[ort], lsb);
    eprintln!(
        "digits-cnn-qdq on mps2-an386 vs onnxruntime: {:.4} of {} elements within 1 LSB ({lsb}), \
         {:.4} identical, max {} LSB",
        d.within_1_lsb, d.elements, d.exact, d.max_lsb
    );
    assert!(d.within_1_lsb >= 0.99, "{d:?}");
}

#[test]
fn qdq_model_refuses_calibration_and_f32() {
    let base = [
        "validate",
        "models/digits-cnn-qdq/model.onnx",
        "--board",
        "host",
        "--data",
        "models/digits-cnn-qdq/test.npz",
        "--no-db",
    ];
    let o = kiln("e2e-kiln.db")
        .args(base)
        .args(["--calib", "models/digits-cnn/calib.npz"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("pre-quantized") && err.contains("--calib"),
        "{err}"
    );
    let o = kiln("e2e-kiln.db")
        .args(base)
        .args(["--precision", "f32"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pre-quantized"));
}

/// `--report F.html` writes one self-contained page: the three rows, the confusion matrix as
/// inline SVG, the quantization table; no external URL, script or stylesheet.
#[test]
fn html_report_is_self_contained() {
    let dir = root().join("target/e2e/html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("report.html");
    ok(
        validate_int8(
            "digits-cnn",
            "host",
            &["--no-db", "--report", html.to_str().unwrap()],
        ),
        "validate with an HTML report",
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>"), "{}", &page[..80]);
    for banned in ["http://", "https://", "<script", "<link", "<img", "url("] {
        assert!(!page.contains(banned), "the page contains {banned}");
    }
    for wanted in [
        "Device vs labels",
        "Float model vs labels",
        "Device vs float model",
        "<svg",
        "conv1",
        "int8",
    ] {
        assert!(page.contains(wanted), "the page lacks {wanted}");
    }
}

/// `--per-layer` on the device: every layer's output is read over the link and compared with
/// the float model; layer timings add up to the whole inference.
#[test]
fn per_layer_diff_on_the_device() {
    let r = ok(
        validate_int8(
            "digits-cnn",
            "mps2-an386",
            &["--per-layer", "--per-layer-samples", "3", "--limit", "20"],
        ),
        "per-layer validate",
    );
    let pl = &r["per_layer"];
    assert_eq!(pl["samples"], 3);
    assert_eq!(pl["threshold_db"], 25.0);
    let layers = pl["layers"].as_array().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l["node"].as_str().unwrap()).collect();
    for want in ["conv1", "pool1", "conv2", "pool2", "fc"] {
        assert!(names.contains(&want), "{names:?}");
    }
    for l in layers {
        let snr = l["snr_db"].as_f64().unwrap_or_else(|| panic!("{l:#}"));
        assert!(snr > 25.0, "{l:#}");
        assert!(l["cosine"].as_f64().unwrap() > 0.99, "{l:#}");
        assert!(l["instructions"].as_f64().is_some(), "{l:#}");
    }
    assert!(pl["first_below"].is_null());
    let conv2 = layers.iter().find(|l| l["node"] == "conv2").unwrap();
    assert_eq!(conv2["kernel"], "int8 Conv2d");
    let timing = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "per_layer_timing_matches_whole_inference")
        .unwrap();
    assert_eq!(timing["passed"], true, "{timing:#}");
}

/// The first layer below the threshold is named; an f32 build compares as identical.
#[test]
fn per_layer_names_the_first_layer_below_the_threshold() {
    let r = ok(
        validate_int8(
            "digits-cnn",
            "host",
            &[
                "--no-db",
                "--per-layer",
                "--snr-threshold-db",
                "41",
                "--limit",
                "8",
            ],
        ),
        "per-layer on host",
    );
    let pl = &r["per_layer"];
    let layers = pl["layers"].as_array().unwrap();
    let first = layers
        .iter()
        .find(|l| l["snr_db"].as_f64().is_some_and(|s| s < 41.0))
        .expect("a layer below 41 dB");
    assert_eq!(pl["first_below"], first["node"]);
    assert!(layers.iter().all(|l| l["instructions"].is_null()));

    let o = kiln("e2e-kiln.db")
        .args([
            "validate",
            "models/digits-cnn/model.onnx",
            "--board",
            "host",
        ])
        .args(["--data", "models/digits-cnn/test.npz", "--limit", "4"])
        .args(["--per-layer", "--format", "json", "--no-db"])
        .output()
        .unwrap();
    let r = ok(o, "per-layer f32");
    for l in r["per_layer"]["layers"].as_array().unwrap() {
        assert_eq!(l["identical"], true, "{l:#}");
    }
}

/// `--int8-io`: the digits CNN takes int8 inputs and gives int8 outputs with the parameters
/// `build` reports; its test split quantized with them validates on the device within one
/// accuracy point of the float model; float data for the int8 input is refused.
#[test]
fn int8_io_build_takes_and_gives_int8() {
    let built = ok(
        kiln("e2e-kiln.db")
            .args(["build", "models/digits-cnn/model.onnx", "--board", "host"])
            .args([
                "--precision",
                "int8",
                "--calib",
                "models/digits-cnn/calib.npz",
            ])
            .args(["--int8-io", "--format", "json"])
            .output()
            .unwrap(),
        "build --int8-io",
    );
    let io = built["io"].as_array().unwrap();
    let input = io.iter().find(|q| q["role"] == "input").unwrap();
    assert_eq!(input["name"], "input");
    assert!(io
        .iter()
        .any(|q| q["role"] == "output" && q["name"] == "logits"));
    let (scale, zp) = (
        input["scale"].as_f64().unwrap() as f32,
        input["zero_point"].as_i64().unwrap() as f32,
    );

    // The test split, quantized with the input's parameters.
    let test = root().join("models/digits-cnn/test.npz");
    let mut z = ndarray_npy::NpzReader::new(std::fs::File::open(&test).unwrap()).unwrap();
    let x: ndarray::ArrayD<f32> = z.by_name("input").unwrap();
    let labels: ndarray::ArrayD<i64> = z.by_name("labels").unwrap();
    let q = x.mapv(|v| ((v / scale).round_ties_even() + zp).clamp(-128.0, 127.0) as i8);
    let dir = root().join("target/e2e/int8-io");
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("test-int8.npz");
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(&data).unwrap());
    w.add_array("input", &q).unwrap();
    w.add_array("labels", &labels).unwrap();
    w.finish().unwrap();

    let o = kiln("e2e-kiln.db")
        .args([
            "validate",
            "models/digits-cnn/model.onnx",
            "--board",
            "mps2-an386",
        ])
        .args([
            "--precision",
            "int8",
            "--calib",
            "models/digits-cnn/calib.npz",
        ])
        .arg("--int8-io")
        .arg("--data")
        .arg(&data)
        .args(["--format", "json", "--no-db", "--out"])
        .arg(dir.join("fw"))
        .output()
        .unwrap();
    let r = ok(o, "validate --int8-io");
    assert_eq!(r["passed"], true, "{r:#}");
    let acc = &r["accuracy"];
    let (dev, float) = (
        acc["device"].as_f64().unwrap(),
        acc["float"].as_f64().unwrap(),
    );
    assert!(
        (float - dev) * 100.0 <= 1.0,
        "int8-io {dev} vs float {float}"
    );
    assert_eq!(r["outputs"][0]["device_vs_host"]["mismatched"], 0);
    assert_eq!(r["quantization"]["io"].as_array().unwrap().len(), 2);

    // Float data for an int8 input is an error that says how to quantize it.
    let o = kiln("e2e-kiln.db")
        .args(["run", "models/digits-cnn/model.onnx", "--board", "host"])
        .args([
            "--precision",
            "int8",
            "--calib",
            "models/digits-cnn/calib.npz",
        ])
        .args(["--int8-io", "--input", "models/digits-cnn/test.npz"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`input` is int8") && err.contains("round(x / scale)"),
        "{err}"
    );
}

/// `kiln bench` times every layer on the device; the layers add up to the whole inference
/// (within 2 % for models of at least a million instructions) and carry their MACs.
#[test]
fn bench_reports_per_layer_latency() {
    let r = ok(
        kiln("e2e-kiln.db")
            .args([
                "bench",
                "models/ds-cnn-kws/model.onnx",
                "--board",
                "mps2-an386",
            ])
            .args([
                "--precision",
                "int8",
                "--calib",
                "models/ds-cnn-kws/calib.npz",
            ])
            .args(["--limit", "1", "--no-db", "--format", "json", "--out"])
            .arg(root().join("target/e2e/ds-cnn-kws-int8-mps2-an386"))
            .output()
            .unwrap(),
        "bench ds-cnn-kws int8",
    );
    let l = &r["layers"];
    let layers = l["layers"].as_array().unwrap();
    let macs: u64 = layers.iter().map(|x| x["macs"].as_u64().unwrap()).sum();
    assert_eq!(macs, r["macs"].as_u64().unwrap());
    let sum: u64 = layers
        .iter()
        .map(|x| x["instructions"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, l["total_instructions"].as_u64().unwrap());
    let whole = l["whole_instructions"].as_u64().unwrap() as f64;
    assert!(whole >= 1e6);
    assert!((sum as f64 - whole).abs() / whole <= 0.02, "{l:#}");
    for x in layers.iter().filter(|x| x["kernel"] == "int8 Conv2d") {
        assert!(x["instructions"].as_u64().unwrap() > 0, "{x:#}");
        assert!(x["instructions_per_mac"].as_f64().unwrap() > 0.0, "{x:#}");
    }
    eprintln!(
        "ds-cnn-kws int8 per layer on mps2-an386: sum {sum}, whole {whole}, {} layers",
        layers.len()
    );

    // `validate --profile` measures the same, checks it, and draws it in the HTML report.
    let html = root().join("target/e2e/ds-cnn-kws-int8-profile.html");
    let v = ok(
        kiln("e2e-kiln.db")
            .args([
                "validate",
                "models/ds-cnn-kws/model.onnx",
                "--board",
                "mps2-an386",
                "--data",
                "models/ds-cnn-kws/test.npz",
            ])
            .args([
                "--precision",
                "int8",
                "--calib",
                "models/ds-cnn-kws/calib.npz",
            ])
            .args(["--limit", "2", "--profile", "--no-db", "--format", "json"])
            .arg("--report")
            .arg(&html)
            .arg("--out")
            .arg(root().join("target/e2e/ds-cnn-kws-int8-mps2-an386"))
            .output()
            .unwrap(),
        "validate --profile ds-cnn-kws int8",
    );
    let pr = &v["profile"];
    assert_eq!(pr["layers"].as_array().unwrap().len(), layers.len());
    // Same firmware, same sample: the same per-layer instructions as bench.
    assert_eq!(pr["total_instructions"], l["total_instructions"], "{pr:#}");
    let check = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "profile_layers_add_up_to_whole_inference")
        .expect("profile check");
    assert_eq!(check["passed"], true, "{check:#}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("aria-label=\"Instructions per layer\""));
    assert!(page.contains("per MAC"));

    let host = ok(
        kiln("e2e-kiln.db")
            .args(["bench", "models/digits-mlp/model.onnx", "--board", "host"])
            .args(["--limit", "1", "--no-db", "--format", "json"])
            .output()
            .unwrap(),
        "bench on host",
    );
    assert!(host["layers"].is_null());
}
