//! The `kiln` commands' happy paths and their JSON contract (docs/CLI.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn kiln_json(args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(root())
        .env("KILN_DB", root().join("target/cli-commands.db"))
        .env(
            "KILN_TARGET_DIR",
            std::env::var_os("KILN_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root().join("target/firmware")),
        )
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("kiln runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "kiln {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

#[test]
fn doctor_finds_the_default_board_usable() {
    let r = kiln_json(&["doctor"]);
    assert_eq!(r["default_board"], "mps2-an386");
    assert_eq!(r["default_board_usable"], true, "{r:#}");
    let names: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"qemu") && names.contains(&"toolchain thumbv7em-none-eabihf"),
        "{names:?}"
    );
}

#[test]
fn boards_lists_the_catalog_with_fields() {
    let r = kiln_json(&["boards"]);
    let boards = r["boards"].as_array().unwrap();
    let an547 = boards.iter().find(|b| b["name"] == "mps3-an547").unwrap();
    assert_eq!(an547["kind"], "emulated");
    assert_eq!(an547["target"], "thumbv8m.main-none-eabihf");
    assert_eq!(an547["memory"]["ram_size"], 0x80000);
    assert!(boards
        .iter()
        .any(|b| b["name"] == "host" && b["kind"] == "host"));
}

#[test]
fn inspect_reports_ops_params_and_macs() {
    let r = kiln_json(&["inspect", "models/ds-cnn-kws/model.onnx"]);
    assert_eq!(r["inputs"][0]["shape"], serde_json::json!([1, 1, 49, 10]));
    assert_eq!(r["outputs"][0]["name"], "probs");
    assert_eq!(r["macs"], 2_656_768);
    assert_eq!(r["ops"]["Conv"], 9);
    assert!(r["layers"].as_array().unwrap().len() >= 9);
}

#[test]
fn run_writes_outputs_and_reports_instructions() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.npz");
    let r = kiln_json(&[
        "run",
        "models/digits-cnn/model.onnx",
        "--input",
        "models/digits-cnn/test.npz",
        "--limit",
        "7",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r["samples"], 7);
    assert_eq!(r["board"], "mps2-an386");
    assert_eq!(r["precision"], "f32");
    let ipi = &r["instructions_per_inference"];
    assert!(ipi["min"].as_u64().unwrap() > 0 && ipi["min"].as_u64() <= ipi["max"].as_u64());
    assert!(r["flash_bytes"].as_u64().unwrap() > 0 && r["ram_bytes"].as_u64().unwrap() > 0);

    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&out).unwrap()).unwrap();
    let logits: ndarray::ArrayD<f32> = npz.by_name("logits").unwrap();
    assert_eq!(logits.shape(), &[7, 1, 10]);

    // The same samples on the host board give the same bits.
    let host_out = dir.path().join("host.npz");
    kiln_json(&[
        "run",
        "models/digits-cnn/model.onnx",
        "--board",
        "host",
        "--input",
        "models/digits-cnn/test.npz",
        "--limit",
        "7",
        "--output",
        host_out.to_str().unwrap(),
    ]);
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&host_out).unwrap()).unwrap();
    let host: ndarray::ArrayD<f32> = npz.by_name("logits").unwrap();
    assert_eq!(logits, host);
}

#[test]
fn bench_reports_latency_macs_and_sizes() {
    let r = kiln_json(&["bench", "models/digits-mlp/model.onnx", "--limit", "3"]);
    assert_eq!(r["macs"], 2368);
    assert_eq!(r["samples"], 3);
    assert!(r["instructions_per_mac"].as_f64().unwrap() > 1.0);
    assert!(r["firmware"]["sizes"]["flash_code_bytes"].as_u64().unwrap() > 0);
    assert!(r["stack"]["stack_used"].as_u64().unwrap() > 0);
    // Each dense layer next to the f32 limit of the Cortex-M4F (one VFMA per MAC).
    let layers = r["layers"]["layers"].as_array().unwrap();
    let dense: Vec<&Value> = layers.iter().filter(|l| l["macs"] != 0).collect();
    assert!(!dense.is_empty(), "{layers:?}");
    for l in dense {
        assert_eq!(l["limit_per_mac"], 1.0, "{l}");
        assert!(l["instructions_per_mac"].as_f64().unwrap() >= 1.0, "{l}");
    }
    assert!(layers
        .iter()
        .filter(|l| l["macs"] == 0)
        .all(|l| l["limit_per_mac"].is_null()));
}

#[test]
fn validate_writes_report_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let junit = dir.path().join("j.xml");
    let r = kiln_json(&[
        "validate",
        "models/digits-mlp/model.onnx",
        "--board",
        "host",
        "--data",
        "models/digits-mlp/test.npz",
        "--report",
        report.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(file, r);
    assert_eq!(
        r["notices"].as_array().unwrap().len(),
        1,
        "symbolic batch notice"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite")
            && xml.contains("device_equals_host_simulation")
            && !xml.contains("<failure")
    );
}

#[test]
fn build_with_a_relative_out_and_the_default_target_dir() {
    // The README's path: a relative output folder and the default target dir inside it (a cold
    // build of its own), resolved against the working directory, not the generated crate's.
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(root())
        .env_remove("KILN_TARGET_DIR")
        .args([
            "build",
            "models/digits-mlp/model.onnx",
            "--out",
            "target/rel-out/digits-mlp",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = root().join("target/rel-out/digits-mlp");
    assert!(out.join("firmware.elf").is_file());
    assert!(out.join("target/thumbv7em-none-eabihf/release").is_dir());
    assert!(
        !out.join("target/rel-out").exists(),
        "target dir nested inside the crate"
    );
}
