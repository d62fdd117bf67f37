//! Real boards through probe-rs.
//!
//! Without a debug probe attached, `kiln flash` / `run` on a real board must fail with exit 2
//! before any firmware build, naming the board, the chip, the USB identity looked for and the
//! probes and ports seen. Tests named `hw_*` flash and validate on a real board: they run only
//! with a probe attached and `KILN_HW_BOARD=<board>` set, and otherwise print why they skip.

mod e2e_support;

use e2e_support::{kiln, root};
use std::process::Output;

use serde_json::Value;

const MODEL: &str = "models/digits-mlp/model.onnx";
const BOARD: &str = "nucleo-l4r5zi";

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn probes_attached() -> Vec<String> {
    kiln::flash::list_probes()
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect()
}

/// The acceptance check: `kiln flash MODEL --board nucleo-l4r5zi` with no probe attached exits
/// 2 with a message naming what it looked for, and builds nothing.
#[test]
fn flash_without_probe_names_what_it_looked_for() {
    let seen = probes_attached();
    if !seen.is_empty() {
        eprintln!(
            "a debug probe is attached ({}): the no-probe error is not checked",
            seen.join(", ")
        );
        return;
    }
    let board = kiln::boards::Catalog::builtin()
        .unwrap()
        .get(BOARD)
        .unwrap()
        .clone();
    let probe = board
        .probe
        .clone()
        .expect("a real board has a [probe] table");
    let out = tempfile::tempdir().unwrap();
    let o = kiln("hw-kiln.db")
        .args(["flash", MODEL, "--board", BOARD, "--out"])
        .arg(out.path().join("fw"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let looked_for = format!(
        "looked for USB {:04x}:{:04x}",
        probe.vid.unwrap(),
        probe.pid.unwrap()
    );
    for want in [
        format!("board `{BOARD}`"),
        probe.chip.clone(),
        looked_for,
        "probes seen: none".into(),
        "ports seen:".into(),
        "--probe VID:PID[:SERIAL]".into(),
        "--port PATH".into(),
        "udev rules".into(),
    ] {
        assert!(stderr.contains(&want), "missing `{want}` in:\n{stderr}");
    }
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        !out.path().join("fw").exists(),
        "the firmware crate was generated before the probe check"
    );

    // `run` on a real board looks for the probe before building too; `--probe` replaces the
    // board file's identity in what it looked for.
    let o = kiln("hw-kiln.db")
        .args([
            "run",
            MODEL,
            "--board",
            BOARD,
            "--probe",
            "1366:1015:000683",
        ])
        .args(["--input", "models/digits-mlp/test.npz", "--out"])
        .arg(out.path().join("fw"))
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("looked for USB 1366:1015:000683"),
        "{stderr}"
    );
    assert!(!out.path().join("fw").exists());
}

#[test]
fn flash_usage_errors_exit_2() {
    for (args, want) in [
        (
            vec!["flash", MODEL, "--board", BOARD, "--probe", "0483"],
            "--probe `0483`: missing product id",
        ),
        (
            vec!["flash", MODEL, "--board", BOARD, "--probe", "0483:xyz"],
            "product id (PID) `xyz` is not a 16-bit hex number",
        ),
        (
            vec!["flash", MODEL, "--board", "mps2-an386"],
            "board `mps2-an386` is emulated",
        ),
        (vec!["flash", MODEL, "--board", "host"], "nothing to flash"),
        (
            vec!["flash", MODEL, "--board", BOARD, "--log-seconds", "3"],
            "--log",
        ),
        (
            vec!["flash", MODEL, "--board", "nope"],
            "unknown board `nope`",
        ),
    ] {
        let o = kiln("hw-kiln.db").args(&args).output().unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "{args:?}: missing `{want}` in:\n{stderr}"
        );
    }
}

#[test]
fn doctor_lists_probes_and_ports() {
    let o = kiln("hw-kiln.db")
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    let r: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let probes: Vec<String> = r["probes"]
        .as_array()
        .expect("a probes array")
        .iter()
        .map(|p| format!("{}:{}", p["vid"], p["pid"]))
        .collect();
    let listed: Vec<String> = kiln::flash::list_probes()
        .into_iter()
        .map(|(p, _)| format!("{}:{}", p.vid, p.pid))
        .collect();
    assert_eq!(probes, listed);
    let ports = r["ports"].as_array().expect("a ports array");
    let paths: Vec<&Value> = ports.iter().map(|p| &p["path"]).collect();
    let serial: Vec<&Value> = r["serial_ports"].as_array().unwrap().iter().collect();
    assert_eq!(paths, serial);
}

/// The board to test on, or why the hardware tests skip.
fn hw_board() -> Option<String> {
    let board = std::env::var("KILN_HW_BOARD")
        .ok()
        .filter(|b| !b.is_empty());
    let probes = probes_attached();
    match (board, probes.is_empty()) {
        (Some(b), false) => Some(b),
        (Some(b), true) => {
            eprintln!("skipped: no debug probe attached (KILN_HW_BOARD={b} is set)");
            None
        }
        (None, _) => {
            eprintln!(
                "skipped: no debug probe attached (set KILN_HW_BOARD=<board> with its probe \
                 connected; probes seen: {})",
                if probes.is_empty() {
                    "none".into()
                } else {
                    probes.join(", ")
                }
            );
            None
        }
    }
}

fn json(o: &Output, what: &str) -> Value {
    let (stdout, stderr) = text(o);
    assert!(
        o.status.success(),
        "{what} failed ({}):\n{stderr}\n{stdout}",
        o.status
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: bad JSON ({e}): {stdout}"))
}

#[test]
fn hw_flash_confirms_the_firmware_runs() {
    let Some(board) = hw_board() else { return };
    let out = root().join("target/hw").join(format!("digits-mlp-{board}"));
    let o = kiln("hw-kiln.db")
        .args([
            "flash", MODEL, "--board", &board, "--format", "json", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let r = json(&o, "kiln flash");
    assert_eq!(r["board"], board.as_str());
    assert_eq!(
        r["device"]["model_hash"].as_array().map(Vec::len),
        Some(16),
        "{r:#}"
    );
    assert!(r["port"].as_str().is_some_and(|p| !p.is_empty()), "{r:#}");
    assert!(r["flashed"]["seconds"].as_f64().unwrap() > 0.0, "{r:#}");
}

#[test]
fn hw_validate_and_bench_report_cycles() {
    let Some(board) = hw_board() else { return };
    let out = root().join("target/hw").join(format!("digits-mlp-{board}"));
    let o = kiln("hw-kiln.db")
        .args([
            "validate", MODEL, "--board", &board, "--limit", "20", "--format", "json",
        ])
        .args(["--data", "models/digits-mlp/test.npz", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let r = json(&o, "kiln validate");
    assert_eq!(r["passed"], true, "{r:#}");
    for o in r["outputs"].as_array().unwrap() {
        assert_eq!(o["device_vs_host"]["mismatched"], 0, "{r:#}");
    }
    assert!(r["instructions_per_inference"].is_null(), "{r:#}");
    let cycles = r["cycles_per_inference"]["mean"]
        .as_f64()
        .expect("cycles on a real board");
    assert!(cycles > 0.0, "{r:#}");
    let ms = r["ms_per_inference"]["mean"].as_f64().unwrap();
    let clock = kiln::boards::Catalog::builtin()
        .unwrap()
        .get(&board)
        .unwrap()
        .clock_hz as f64;
    assert!(
        (ms - cycles / clock * 1e3).abs() <= 1e-9 * ms.max(1.0),
        "{r:#}"
    );

    let o = kiln("hw-kiln.db")
        .args([
            "bench", MODEL, "--board", &board, "--no-db", "--limit", "5", "--format", "json",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let b = json(&o, "kiln bench");
    assert!(
        b["cycles_per_inference"]["mean"].as_f64().unwrap() > 0.0,
        "{b:#}"
    );
    assert!(b["instructions_per_inference"].is_null(), "{b:#}");
}
