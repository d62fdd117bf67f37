//! End to end on the ARMv8-M and ARMv6-M emulated boards: QEMU `mps2-an505` (Cortex-M33,
//! running Secure) with the digits CNN and QEMU `microbit` (nRF51822 Cortex-M0, 16 KiB RAM) with
//! the digits MLP, each in f32 and int8, through the real pipeline (firmware build, QEMU, serial
//! link). The device must equal the host simulation bit for bit and score the `host` board's
//! accuracy; a model too big for the micro:bit is refused before any build.

mod e2e_support;

use e2e_support::{kiln, root};
use std::process::Output;

use serde_json::Value;

/// Samples per validation: enough for an accuracy figure, few enough for a short test.
const LIMIT: &str = "100";

fn json(o: &Output, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{}\n{stdout}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: bad JSON ({e}): {stdout}"))
}

/// `kiln validate models/MODEL --board BOARD` on the first [`LIMIT`] test samples, int8 with the
/// model's calibration set when `int8`.
fn validate(model: &str, board: &str, int8: bool) -> Value {
    let precision = if int8 { "int8" } else { "f32" };
    let out = root()
        .join("target/e2e")
        .join(format!("{model}-{precision}-{board}"));
    let mut c = kiln("e2e-kiln.db");
    c.args(["validate", &format!("models/{model}/model.onnx")])
        .args(["--board", board])
        .args(["--data", &format!("models/{model}/test.npz")])
        .args(["--limit", LIMIT, "--format", "json", "--out"])
        .arg(out);
    if int8 {
        c.args(["--precision", "int8"])
            .args(["--calib", &format!("models/{model}/calib.npz")]);
    }
    let o = c.output().expect("kiln runs");
    json(&o, &format!("kiln validate {model} {precision} on {board}"))
}

/// The board's run passes, equals the host simulation bit for bit, scores the `host` board's
/// accuracy, repeats identically, and reports its instructions, memory and stack.
fn check(model: &str, board: &str, int8: bool) {
    let r = validate(model, board, int8);
    let precision = if int8 { "int8" } else { "f32" };
    let what = format!("{model} {precision} on {board}");
    assert_eq!(r["schema"], "kiln.validate/1");
    assert_eq!(r["board"], board);
    assert_eq!(r["precision"], precision, "{what}");
    assert_eq!(r["samples"].as_u64(), LIMIT.parse().ok(), "{what}");
    assert_eq!(r["passed"], true, "{what}: {r:#}");
    for o in r["outputs"].as_array().unwrap() {
        assert_eq!(
            o["device_vs_host"]["mismatched"], 0,
            "{what}: device != host"
        );
        assert_eq!(o["device_vs_host"]["max_abs_error"], 0.0, "{what}");
        if int8 {
            assert_eq!(o["max_lsb_device_vs_host"], 0.0, "{what}");
        } else {
            assert_eq!(o["device_vs_float"]["out_of_tolerance"], 0, "{what}");
        }
    }
    let acc = &r["accuracy"];
    assert_eq!(acc["device"], acc["host"], "{what}: {acc}");
    let host = validate(model, "host", int8);
    assert_eq!(
        acc["device"], host["accuracy"]["device"],
        "{what}: accuracy differs from the host board's"
    );
    assert!(acc["device"].as_f64().unwrap() > 0.9, "{what}: {acc}");

    assert_eq!(r["repeat_identical"], true, "{what}");
    let ipi = &r["instructions_per_inference"];
    let (min, max) = (ipi["min"].as_u64().unwrap(), ipi["max"].as_u64().unwrap());
    assert!(0 < min && min <= max, "{what}: {ipi}");
    let stack = &r["stack"];
    let (used, reserve) = (
        stack["stack_used"].as_u64().unwrap(),
        stack["stack_reserve"].as_u64().unwrap(),
    );
    assert!(0 < used && used <= reserve, "{what}: {stack}");
    let sizes = &r["firmware"]["sizes"];
    assert!(
        sizes["flash_weights_bytes"].as_u64().unwrap() > 0,
        "{sizes}"
    );
    eprintln!(
        "{what}: {} instructions/inference (min {min}, max {max}), flash {} (weights {}, code {}), \
         RAM {} (arena {}, stack reserve {}, other {}), stack used {used} of {reserve}, accuracy {}",
        ipi["mean"],
        sizes["flash_bytes"],
        sizes["flash_weights_bytes"],
        sizes["flash_code_bytes"],
        sizes["ram_bytes"],
        sizes["ram_arena_bytes"],
        sizes["ram_stack_reserve_bytes"],
        sizes["ram_other_bytes"],
        acc["device"],
    );
}

#[test]
fn digits_cnn_f32_on_mps2_an505() {
    check("digits-cnn", "mps2-an505", false);
}

#[test]
fn digits_cnn_int8_on_mps2_an505() {
    check("digits-cnn", "mps2-an505", true);
}

#[test]
fn digits_mlp_f32_on_microbit() {
    check("digits-mlp", "microbit", false);
}

#[test]
fn digits_mlp_int8_on_microbit() {
    check("digits-mlp", "microbit", true);
}

/// The keyword-spotting CNN's arena alone is several times the micro:bit's 16 KiB of RAM:
/// `kiln build` refuses it with exit 2, naming the board, the memory and both byte counts,
/// before generating or building anything.
#[test]
fn model_too_big_for_microbit_is_refused_before_the_build() {
    let out = root().join("target/e2e/ds-cnn-kws-microbit-refused");
    let _ = std::fs::remove_dir_all(&out);
    let o = kiln("e2e-kiln.db")
        .args([
            "build",
            "models/ds-cnn-kws/model.onnx",
            "--board",
            "microbit",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("kiln runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("does not fit"))
        .unwrap_or_else(|| panic!("no fit error in:\n{stderr}"));
    assert!(
        line.contains("board `microbit`") && line.contains("RAM"),
        "{line}"
    );
    let needed: u64 = line
        .split_once("RAM needs ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("needed bytes not named: {line}"));
    assert!(needed > 16 * 1024, "{line}");
    assert!(
        line.contains(&format!("the board has {}", 16 * 1024)),
        "available RAM not named: {line}"
    );
    assert!(!out.exists(), "refused after generating {}", out.display());
}
