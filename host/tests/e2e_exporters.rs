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
