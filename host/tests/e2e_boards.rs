//! End to end on the emulated boards: every sample model on every QEMU board through the real
//! pipeline (import, plan, codegen, firmware build, QEMU, serial link), compared with the host
//! simulation (bit-exact) and tract's float reference (DESIGN.md tolerance).

mod e2e_support;

use e2e_support::{kiln, root};

use serde_json::Value;

fn validate(model: &str, board: &str, limit: Option<usize>) -> Value {
    let out = root().join("target/e2e").join(format!("{model}-{board}"));
    let mut c = kiln("e2e-kiln.db");
    let c = c
        .args([
            "validate",
            &format!("models/{model}/model.onnx"),
            "--board",
            board,
        ])
        .args([
            "--data",
            &format!("models/{model}/test.npz"),
            "--format",
            "json",
        ])
        .arg("--out")
        .arg(&out);
    if let Some(n) = limit {
        c.args(["--limit", &n.to_string()]);
    }
    let o = c.output().expect("kiln runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "kiln validate {model} on {board} failed ({}):\n{stderr}\n{stdout}",
        o.status
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {stdout}"))
}

fn check(model: &str, board: &str, limit: Option<usize>) {
    let r = validate(model, board, limit);
    assert_eq!(r["schema"], "kiln.validate/1");
    assert_eq!(r["passed"], true, "{r:#}");
    for o in r["outputs"].as_array().unwrap() {
        assert_eq!(
            o["device_vs_host"]["mismatched"], 0,
            "{model} on {board}: device differs from host simulation"
        );
        assert_eq!(
            o["device_vs_float"]["out_of_tolerance"], 0,
            "{model} on {board}: outside f32 tolerance of tract"
        );
    }
    if let Some(acc) = r["accuracy"].as_object() {
        assert_eq!(
            acc["device"], acc["host"],
            "{model} on {board}: device accuracy must equal host-simulated accuracy"
        );
        assert!(
            acc["device"].as_f64().unwrap() > 0.9,
            "{model}: accuracy {}",
            acc["device"]
        );
    }
    if board == "host" {
        assert!(r["firmware"].is_null() && r["instructions_per_inference"].is_null());
        return;
    }
    let ipi = &r["instructions_per_inference"];
    assert!(ipi["min"].as_u64().unwrap() > 0, "{ipi}");
    assert_eq!(r["repeat_identical"], true);
    let stack = &r["stack"];
    assert!(stack["stack_used"].as_u64().unwrap() > 0);
    assert!(stack["stack_used"].as_u64().unwrap() <= stack["stack_reserve"].as_u64().unwrap());
    let fw = &r["firmware"];
    assert!(fw["sizes"]["flash_weights_bytes"].as_u64().unwrap() > 0);
    eprintln!(
        "{model} on {board}: {} instructions/inference (min {}, max {}), flash {} (weights {}, code {}), RAM arena {}, stack {} of {}",
        ipi["mean"], ipi["min"], ipi["max"],
        fw["sizes"]["flash_bytes"], fw["sizes"]["flash_weights_bytes"], fw["sizes"]["flash_code_bytes"],
        fw["sizes"]["ram_arena_bytes"], stack["stack_used"], stack["stack_reserve"]
    );
}

macro_rules! board_tests {
    ($($name:ident: $model:expr, $board:expr, $limit:expr;)*) => {$(
        #[test]
        fn $name() {
            check($model, $board, $limit);
        }
    )*};
}

board_tests! {
    digits_mlp_on_mps2_an386: "digits-mlp", "mps2-an386", None;
    digits_cnn_on_mps2_an386: "digits-cnn", "mps2-an386", None;
    ds_cnn_kws_on_mps2_an386: "ds-cnn-kws", "mps2-an386", None;
    digits_mlp_on_mps2_an385: "digits-mlp", "mps2-an385", Some(100);
    digits_cnn_on_mps2_an385: "digits-cnn", "mps2-an385", Some(100);
    ds_cnn_kws_on_mps2_an385: "ds-cnn-kws", "mps2-an385", Some(5);
    digits_mlp_on_mps2_an500: "digits-mlp", "mps2-an500", Some(100);
    digits_cnn_on_mps2_an500: "digits-cnn", "mps2-an500", Some(100);
    ds_cnn_kws_on_mps2_an500: "ds-cnn-kws", "mps2-an500", Some(5);
    digits_mlp_on_mps3_an547: "digits-mlp", "mps3-an547", Some(100);
    digits_cnn_on_mps3_an547: "digits-cnn", "mps3-an547", Some(100);
    ds_cnn_kws_on_mps3_an547: "ds-cnn-kws", "mps3-an547", Some(5);
    digits_cnn_on_host: "digits-cnn", "host", None;
}
