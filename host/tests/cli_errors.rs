//! Bad input through the `kiln` binary: a clear message naming the thing, exit code 2, no panic.

mod import_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use import_support::{D, M};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(root())
        .env("KILN_TARGET_DIR", root().join("target/firmware"))
        .args(args)
        .output()
        .expect("kiln runs")
}

/// Asserts exit code 2 and that stderr names every needle; returns stderr.
fn fails_with(o: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "stderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in:\n{err}");
    }
    err
}

#[test]
fn a_file_that_is_not_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.onnx");
    std::fs::write(&p, "this is not a model\n").unwrap();
    fails_with(&kiln(&["inspect", p.to_str().unwrap()]), &["notes.onnx"]);
}

#[test]
fn a_truncated_model() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(root().join("models/digits-cnn/model.onnx")).unwrap();
    let p = dir.path().join("cut.onnx");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    fails_with(
        &kiln(&["build", p.to_str().unwrap(), "--board", "host"]),
        &["cut.onnx"],
    );
}

#[test]
fn unsupported_ops_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    let p = M::new(13)
        .input("x", &[D::N(1), D::N(4)])
        .output("y")
        .node("Erf", &["x"], &["a"], vec![])
        .node("Relu", &["a"], &["b"], vec![])
        .node("Floor", &["b"], &["c"], vec![])
        .node("Celu", &["c"], &["y"], vec![])
        .save(dir.path(), "unsup");
    fails_with(
        &kiln(&["inspect", p.to_str().unwrap()]),
        &["unsup.onnx", "Erf", "Floor", "Celu"],
    );
}

#[test]
fn a_model_too_big_for_the_board_is_refused_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("boards/mps2-an386.toml"))
        .unwrap()
        .replace("mps2-an386", "tiny-ram")
        .replace("ram_size = 0x400000", "ram_size = 0x4000")
        .replace("stack_reserve = 16384", "stack_reserve = 8192");
    std::fs::write(dir.path().join("tiny-ram.toml"), text).unwrap();
    let out = dir.path().join("fw");
    let o = kiln(&[
        "build",
        "models/ds-cnn-kws/model.onnx",
        "--board",
        "tiny-ram",
        "--boards-dir",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    fails_with(&o, &["does not fit board `tiny-ram`", "RAM needs", "16384"]);
    assert!(
        !out.exists(),
        "nothing is generated for a model that does not fit"
    );
}

#[test]
fn a_board_that_does_not_exist_lists_the_valid_ones() {
    fails_with(
        &kiln(&[
            "build",
            "models/digits-mlp/model.onnx",
            "--board",
            "mps9-nope",
        ]),
        &["mps9-nope", "mps2-an386", "mps3-an547", "host"],
    );
}

#[test]
fn a_missing_qemu_names_the_remedy() {
    let o = kiln(&[
        "run",
        "models/digits-mlp/model.onnx",
        "--input",
        "models/digits-mlp/test.npz",
        "--limit",
        "1",
        "--qemu",
        "/nonexistent/qemu-system-arm",
    ]);
    fails_with(
        &o,
        &[
            "/nonexistent/qemu-system-arm",
            "apt-get install qemu-system-arm",
        ],
    );
}

#[test]
fn missing_data_key_lists_the_keys() {
    let o = kiln(&[
        "run",
        "models/digits-mlp/model.onnx",
        "--board",
        "host",
        "--input",
        "models/digits-cnn/calib.npz",
        "--limit",
        "1",
    ]);
    // digits-cnn's calibration data has the same key but the CNN's shape.
    fails_with(&o, &["calib.npz", "input"]);
}

#[test]
fn doctor_without_qemu_is_a_failed_check_with_the_fix() {
    let o = kiln(&["doctor", "--qemu", "/nonexistent/qemu-system-arm"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("apt-get install qemu-system-arm") && out.contains("NOT usable"),
        "{out}"
    );
}
