//! `kiln bench` on an emulated board (QEMU) stores its latency and sizes; `compare` gates two
//! bench runs, and a bench run against a validate run, on them (docs/CLI.md).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const MODEL: &str = "models/digits-mlp/model.onnx";
const BOARD: &str = "mps2-an386";

/// `kiln` from the repository root, with the shared firmware target dir and an output folder
/// of this test's own.
fn kiln(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(root())
        .env_remove("KILN_DB")
        .env(
            "KILN_TARGET_DIR",
            std::env::var_os("KILN_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root().join("target/firmware")),
        )
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("kiln runs")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_ok(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", show(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", show(o)))
}

#[test]
fn bench_on_a_board_stores_latency_and_sizes_and_compares() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let out = root()
        .join("target/store-bench")
        .join(format!("digits-mlp-{BOARD}"));
    let out = out.to_str().unwrap();
    let build = ["--board", BOARD, "--out", out, "--format", "json"];
    let bench = || {
        let mut a = vec!["bench", MODEL, "--limit", "2"];
        a.extend_from_slice(&build);
        json_ok(&kiln(&db, &a))
    };
    let b1 = bench();
    let b2 = bench();
    assert_eq!(
        (&b1["stored"]["id"], &b2["stored"]["id"]),
        (&json!(1), &json!(2))
    );
    let mean = b1["instructions_per_inference"]["mean"].as_f64().unwrap();
    assert!(mean > 0.0, "{b1:#}");

    // history: the stored figures are the bench report's.
    let h = json_ok(&kiln(
        &db,
        &["history", "--kind", "bench", "--format", "json"],
    ));
    let r = &h["runs"][1];
    assert_eq!((&r["id"], &r["kind"]), (&json!(1), &json!("bench")));
    assert_eq!(
        r["instructions_per_inference"],
        b1["instructions_per_inference"]
    );
    assert_eq!(r["flash_bytes"], b1["firmware"]["sizes"]["flash_bytes"]);
    assert_eq!(r["ram_bytes"], b1["firmware"]["sizes"]["ram_bytes"]);
    assert_eq!(r["model_hash"], b1["firmware"]["hash"]);
    assert_eq!(r["model_sha256"], b1["provenance"]["model_sha256"]);

    // Two bench runs of the same firmware: latency and sizes gated, unchanged.
    let c = json_ok(&kiln(&db, &["compare", "1", "2", "--format", "json"]));
    let status: Vec<&str> = c["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["skipped", "pass", "pass", "pass"], "{c:#}");
    assert_eq!(c["deltas"]["instructions_mean_pct"], 0.0);
    assert_eq!(c["deltas"]["flash_pct"], 0.0);

    // A validate run of the same firmware against the bench run: latency and sizes only.
    let mut a = vec![
        "validate",
        MODEL,
        "--data",
        "models/digits-mlp/test.npz",
        "--limit",
        "2",
    ];
    a.extend_from_slice(&build);
    let v = json_ok(&kiln(&db, &a));
    assert_eq!(v["stored"]["id"], 3);
    let o = kiln(
        &db,
        &[
            "compare",
            "1",
            "3",
            "--max-latency-increase",
            "50",
            "--format",
            "json",
        ],
    );
    let c = json_ok(&o);
    assert_eq!(c["gates"][0]["status"], "skipped", "{c:#}");
    assert_eq!(c["gates"][2]["status"], "pass", "{c:#}");
    assert_eq!(c["deltas"]["flash_pct"], 0.0);
}
