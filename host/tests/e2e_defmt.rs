//! defmt logs from the firmware, decoded on the host, over the same serial link as the protocol
//! (kiln-proto's "Logs"): real builds, real QEMU, real pty.
//!
//! - `kiln run --log` prints the device's decoded session-start line (board, model hash, arena,
//!   stack reserve) on stderr, and its outputs and instruction counts equal a run without
//!   `--log` bit for bit.
//! - The frames a `DEFMT_LOG=debug` firmware sends decode, with the table of its ELF, into
//!   exactly the lines the runtime logs for the requests it served, a refused one included.

mod e2e_support;

use e2e_support::{root, target_dir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln::boards::Catalog;
use kiln::codegen::Protocol;
use kiln::deploy::{build_firmware_for, prepare, QuantConfig};
use kiln::import::ImportOptions;
use kiln::link::log::DecodeError;
use kiln::link::{
    ErrorCode, LinkError, LinkOptions, LogDecoder, QemuConfig, QemuSession, PROTOCOL_VERSION,
};
use serde_json::Value;

const MODEL: &str = "models/digits-mlp/model.onnx";
const BOARD: &str = "mps2-an386";

/// `kiln run` of digits-mlp on the M4 board (first 20 test samples), from the repository root
/// with the shared firmware target dir and the default log filter: its JSON report, its
/// stderr, and the outputs file it wrote.
fn run(tag: &str, log: bool) -> (Value, String, PathBuf) {
    let dir = root().join("target/e2e");
    let output = dir.join(format!("defmt-{tag}.npz"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.current_dir(root())
        .env("KILN_TARGET_DIR", target_dir())
        .env_remove("DEFMT_LOG")
        .args(["run", MODEL, "--board", BOARD])
        .args(["--input", "models/digits-mlp/test.npz", "--limit", "20"])
        .args(["--format", "json", "--output"])
        .arg(&output)
        .arg("--out")
        .arg(dir.join(format!("defmt-{tag}-{BOARD}")));
    if log {
        c.arg("--log");
    }
    let o = c.output().expect("kiln runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "kiln run ({tag}) failed ({}):\n{stderr}\n{stdout}",
        o.status
    );
    let report =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {stdout}"));
    (report, stderr, output)
}

/// Every array of an `.npz` file, by name, as raw little-endian f32 bits.
fn arrays(path: &Path) -> Vec<(String, Vec<u32>)> {
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut names = npz.names().unwrap();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let a: ndarray::ArrayD<f32> = npz.by_name(&n).unwrap();
            (n, a.iter().map(|v| v.to_bits()).collect())
        })
        .collect()
}

#[test]
fn run_log_prints_device_lines_and_changes_no_output_or_count() {
    let (logged, stderr, logged_out) = run("log", true);
    let (plain, plain_stderr, plain_out) = run("plain", false);

    let fw = &logged["firmware"];
    let hash = fw["hash"].as_str().unwrap();
    assert_eq!(hash.len(), 32, "{fw}");
    assert_eq!(fw["defmt_log"], "info");
    let start = format!(
        "[device INFO ] session start: board {BOARD}, model {hash}, arena {} bytes, stack reserve \
         {} bytes, protocol {PROTOCOL_VERSION}",
        fw["sizes"]["ram_arena_bytes"], logged["stack"]["stack_reserve"]
    );
    assert!(
        stderr.lines().any(|l| l == start),
        "expected the line\n{start}\nin kiln's stderr:\n{stderr}"
    );
    // At `info`, a clean run logs nothing but the session start.
    let device_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("[device"))
        .collect();
    assert_eq!(device_lines, [start.as_str()], "{stderr}");
    assert!(!plain_stderr.contains("[device"), "{plain_stderr}");

    // The firmware without a logger is another build (its own hash, no defmt filter) ...
    assert!(plain["firmware"]["defmt_log"].is_null());
    assert_ne!(plain["firmware"]["hash"], fw["hash"]);
    // ... computing the same outputs in the same number of instructions: logging never runs
    // inside the timed inference.
    let (a, b) = (arrays(&logged_out), arrays(&plain_out));
    assert!(!a.is_empty() && a.iter().all(|(_, v)| !v.is_empty()));
    assert_eq!(a, b, "outputs with and without --log differ");
    assert_eq!(
        logged["instructions_per_inference"],
        plain["instructions_per_inference"]
    );
    let flash = |r: &Value| r["firmware"]["sizes"]["flash_bytes"].as_u64().unwrap();
    let ram = |r: &Value| r["firmware"]["sizes"]["ram_bytes"].as_u64().unwrap();
    eprintln!(
        "digits-mlp on {BOARD}: {} instructions/inference with and without --log; defmt logger \
         (info) costs {} bytes of flash and {} of RAM; stack used {} vs {}",
        plain["instructions_per_inference"]["mean"],
        flash(&logged) as i64 - flash(&plain) as i64,
        ram(&logged) as i64 - ram(&plain) as i64,
        logged["stack"]["stack_used"],
        plain["stack"]["stack_used"],
    );
}

#[test]
fn debug_frames_decode_into_the_lines_of_the_requests_served() {
    let p = prepare(
        &root().join(MODEL),
        &ImportOptions::default(),
        None,
        &QuantConfig::default(),
    )
    .unwrap();
    let board = Catalog::builtin().unwrap().get(BOARD).unwrap().clone();
    let out = root().join(format!("target/e2e/defmt-debug-{BOARD}"));
    let fw = build_firmware_for(
        &p,
        &board,
        &out,
        Some(&target_dir()),
        None,
        Protocol::Kiln,
        Some("debug".into()),
    )
    .unwrap();
    assert_eq!(fw.defmt_log.as_deref(), Some("debug"));
    let decoder = LogDecoder::from_elf(&fw.elf).unwrap();

    let q = board.qemu.as_ref().unwrap();
    let qemu = QemuSession::spawn(&QemuConfig::new(&q.machine, &q.cpu, &fw.elf)).unwrap();
    // Timeouts far above the answer times: a resend would log a request twice.
    let mut dev = qemu
        .connect(LinkOptions {
            timeout: Duration::from_secs(20),
            invoke_timeout: Duration::from_secs(60),
            retries: 3,
        })
        .unwrap();
    let bodies = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let sink = bodies.clone();
    dev.set_log_sink(Some(Box::new(move |b: &[u8]| {
        sink.lock().unwrap().push(b.to_vec())
    })));
    let info = dev.hello(&fw.hash).unwrap();
    let out_bytes = p.graph.tensors[p.graph.outputs[0]].bytes();
    match dev.read_output(0, out_bytes) {
        Err(LinkError::DeviceError {
            code: ErrorCode::NotInvoked,
            ..
        }) => {}
        other => panic!("outputs before any inference: {other:?}"),
    }
    let input = vec![0u8; p.graph.tensors[p.graph.inputs[0]].bytes()];
    let (_, ticks) = dev.run_sample(&[&input], &[out_bytes]).unwrap();
    let stack = dev.stats().unwrap();
    assert_eq!(dev.link_stats().retries, 0);

    let bodies = bodies.lock().unwrap();
    let lines: Vec<String> = bodies
        .iter()
        .map(|b| decoder.decode(b).unwrap().to_string())
        .collect();
    let expected = [
        format!(
            "[device INFO ] session start: board {BOARD}, model {}, arena {} bytes, stack \
             reserve {} bytes, protocol {PROTOCOL_VERSION}",
            hex::encode(fw.hash),
            info.arena_bytes,
            info.stack_reserve
        ),
        "[device WARN ] ReadOutput refused: NotInvoked".to_string(),
        format!("[device DEBUG] input 0: {} bytes at 0", input.len()),
        format!("[device DEBUG] invoke: {ticks} ticks"),
        format!("[device DEBUG] output 0: {out_bytes} bytes at 0"),
        format!(
            "[device DEBUG] stack: {} of {} bytes used",
            stack.used, stack.reserve
        ),
    ];
    assert_eq!(lines, expected);
    assert_eq!(dev.link_stats().log_frames, expected.len() as u64);

    // A damaged body (CRC-intact, e.g. from another firmware) is reported, never mis-read.
    let first = &bodies[0];
    assert!(matches!(
        decoder.decode(&first[..first.len() - 1]),
        Err(DecodeError::Malformed { .. })
    ));
    let mut longer = first.clone();
    longer.push(7);
    assert_eq!(
        decoder.decode(&longer),
        Err(DecodeError::Trailing {
            len: longer.len(),
            extra: 1
        })
    );
    eprintln!(
        "{} log frames ({} bytes of defmt frames) decoded: {lines:#?}",
        bodies.len(),
        bodies.iter().map(Vec::len).sum::<usize>()
    );
}
