//! `kiln build --protocol mlperf-tiny` end to end on the emulated M4 and M7 boards: the firmware
//! is driven over QEMU's serial pty the way the MLPerf Tiny runner (mlcommons/tiny
//! `benchmark/runner`) drives a DUT: `%`-terminated commands, replies read line by line until
//! `m-ready`, inputs loaded as `db load N` and `db <hex>` chunks of 31 bytes, `infer N W`,
//! `results`. The printed results must equal the host simulation of the same input (as printed,
//! 3 decimals), and the `m-lap-us-` interval of `infer N W` must match N times the emulated
//! instructions per inference that the kiln link measures for that input (1 µs = 1000
//! instructions under `-icount shift=0`).

mod e2e_support;

use e2e_support::{root, target_dir};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln::boards::{Board, Catalog};
use kiln::data::{load_samples, InputSpec, Labels, LoadOptions};
use kiln::deploy::{
    build_firmware, prepare, DeviceRunner, HostRunner, Prepared, QuantConfig, Runner,
};
use kiln::import::ImportOptions;
use kiln::ir::DType;
use kiln::link::{QemuConfig, QemuSession};
use regex::Regex;
use serde_json::Value;

/// The runner's chunk size for `db <hex>` without a power manager (`DUT._max_bytes`).
const DB_CHUNK: usize = 31;

fn board(name: &str) -> Board {
    Catalog::builtin().unwrap().get(name).unwrap().clone()
}

/// `kiln build ... --protocol mlperf-tiny --format json` into `target/e2e/mlperf-<tag>-<board>`,
/// run from the repository root.
fn build_mlperf(model: &str, tag: &str, board: &str, extra: &[&str]) -> Value {
    let out = root().join(format!("target/e2e/mlperf-{tag}-{board}"));
    let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .current_dir(root())
        .env("KILN_TARGET_DIR", target_dir())
        .args([
            "build",
            &format!("models/{model}/model.onnx"),
            "--board",
            board,
        ])
        .args(["--protocol", "mlperf-tiny", "--format", "json"])
        .args(extra)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("kiln runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "kiln build --protocol mlperf-tiny failed ({}):\n{}\n{stdout}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["protocol"], "mlperf-tiny", "{v:#}");
    v
}

/// The runner's view of a DUT (benchmark/runner/serial_device.py): a reader that drops `\r`
/// and `\0` and splits lines on `\n`; `send_command` writes the command and `%`, and collects
/// non-empty lines until one contains `m-ready`.
struct Dut<P: Read + Write> {
    port: P,
    buf: Vec<u8>,
}

impl<P: Read + Write> Dut<P> {
    fn new(port: P) -> Self {
        Dut {
            port,
            buf: Vec::new(),
        }
    }

    /// The next line, or `None` when nothing completes one within `timeout`.
    fn read_line(&mut self, timeout: Duration) -> Option<String> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self
                    .buf
                    .drain(..=i)
                    .filter(|b| !b"\r\n\0".contains(b))
                    .collect();
                return Some(String::from_utf8(line).expect("the DUT sends ASCII"));
            }
            if Instant::now() >= end {
                return None;
            }
            let mut chunk = [0u8; 256];
            match self.port.read(&mut chunk) {
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("reading the DUT: {e}"),
            }
        }
    }

    fn send(&mut self, command: &str) -> Vec<String> {
        self.port.write_all(command.as_bytes()).unwrap();
        self.port.write_all(b"%").unwrap();
        self.port.flush().unwrap();
        let mut lines = Vec::new();
        loop {
            let line = self
                .read_line(Duration::from_secs(20))
                .unwrap_or_else(|| panic!("no response to `{command}` after {lines:?}"));
            let done = line.contains("m-ready");
            if !line.is_empty() {
                lines.push(line);
            }
            if done {
                return lines;
            }
        }
    }

    /// The runner's `DUT.load`: `db load N`, then `db <hex>` chunks; the last answers
    /// `m-load-done`.
    fn load(&mut self, data: &[u8]) {
        assert_eq!(
            self.send(&format!("db load {}", data.len())),
            [
                format!("m-[Expecting {} bytes]", data.len()),
                "m-ready".into()
            ]
        );
        let chunks: Vec<&[u8]> = data.chunks(DB_CHUNK).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let hex: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let r = self.send(&format!("db {hex}"));
            if i + 1 == chunks.len() {
                assert_eq!(r, ["m-load-done", "m-ready"]);
            } else {
                assert_eq!(r, ["m-ready"]);
            }
        }
    }
}

/// What `infer N W` answered.
struct Infer {
    laps: [u64; 2],
    results: String,
}

/// Checks the reply of `infer n w` line by line against the reference firmware's sequence.
fn parse_infer(lines: &[String], n: u64, w: u64) -> Infer {
    let lap = Regex::new(r"^m-lap-us-([0-9]+)$").unwrap();
    let results = Regex::new(r"^m-results-\[([^]]+)\]$").unwrap();
    assert_eq!(lines.len(), 8, "{lines:?}");
    assert_eq!(lines[0], format!("m-warmup-start-{w}"));
    assert_eq!(lines[1], "m-warmup-done");
    assert_eq!(lines[2], format!("m-infer-start-{n}"));
    let t = |l: &str| -> u64 {
        lap.captures(l)
            .unwrap_or_else(|| panic!("not a lap line: {l}"))[1]
            .parse()
            .unwrap()
    };
    let laps = [t(&lines[3]), t(&lines[4])];
    assert_eq!(lines[5], "m-infer-done");
    let r = results
        .captures(&lines[6])
        .unwrap_or_else(|| panic!("not a results line: {}", lines[6]))[1]
        .to_string();
    assert_eq!(lines[7], "m-ready");
    Infer { laps, results: r }
}

/// One sample of the model's test set: the `db` bytes (all inputs in their own dtype) and the
/// host simulation's `m-results-[...]` list for it, printed as the firmware prints it.
struct Sample {
    db: Vec<u8>,
    inputs: Vec<Vec<f32>>,
    expected: String,
}

fn sample(p: &Prepared, model: &str) -> Sample {
    let opts = LoadOptions {
        labels: Labels::None,
        limit: Some(1),
    };
    let s = load_samples(
        &root().join(format!("models/{model}/test.npz")),
        &InputSpec::of_graph(&p.graph),
        &opts,
    )
    .unwrap();
    let g = &p.graph;
    // An int8 input takes its integers (the data a user quantized with the printed params).
    let inputs: Vec<Vec<f32>> = s
        .sample_all(0)
        .iter()
        .zip(&g.inputs)
        .map(|(v, &t)| {
            let tensor = &g.tensors[t];
            match tensor.dtype {
                DType::F32 => v.to_vec(),
                DType::I8 => {
                    let (scale, zp) = tensor.quant.as_ref().unwrap().one();
                    v.iter()
                        .map(|&x| kiln_kernels::i8::quantize_f32(x, scale, zp) as f32)
                        .collect()
                }
            }
        })
        .collect();
    let db: Vec<u8> = inputs
        .iter()
        .zip(&g.inputs)
        .flat_map(|(v, &t)| kiln::sim::raw_bytes_of(&g.tensors[t], v))
        .collect();
    let refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
    let outs = HostRunner::new(p).run(&refs).outputs;
    // int8 outputs print dequantized, with the firmware's f32 arithmetic.
    let printed: Vec<String> = outs
        .iter()
        .zip(&g.outputs)
        .flat_map(|(v, &t)| {
            let tensor = &g.tensors[t];
            v.iter()
                .map(|&x| match tensor.dtype {
                    DType::F32 => format!("{x:.3}"),
                    DType::I8 => {
                        let (scale, zp) = tensor.quant.as_ref().unwrap().one();
                        format!("{:.3}", (x as i32 - zp) as f32 * scale)
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Sample {
        db,
        inputs,
        expected: printed.join(","),
    }
}

/// Instructions per inference of `sample` on `board`, measured through the kiln link on a
/// kiln-protocol build of the same model (what `kiln run` reports); checked repeatable.
fn instructions(p: &Prepared, board: &Board, out: &Path, s: &Sample) -> (u64, String) {
    let fw = build_firmware(p, board, out, Some(&target_dir()), None).unwrap();
    let hash = hex::encode(fw.hash);
    let mut r = DeviceRunner::start(
        board,
        fw,
        &p.graph,
        &p.plan,
        Path::new("qemu-system-arm"),
        Duration::from_secs(20),
    )
    .unwrap();
    let refs: Vec<&[f32]> = s.inputs.iter().map(Vec::as_slice).collect();
    let a = r.run(&refs).unwrap().instructions.unwrap();
    let b = r.run(&refs).unwrap().instructions.unwrap();
    assert_eq!(a, b, "instructions per inference must repeat");
    (a, hash)
}

/// Drives one mlperf-tiny firmware as the runner does and checks every reply.
fn check(model: &str, board_name: &str, p: &Prepared, build: &Value, model_id: &str) {
    let b = board(board_name);
    let s = sample(p, model);
    let kiln_out = root().join(format!("target/e2e/{model}-{board_name}"));
    let kiln_out = match p.precision() {
        "f32" => kiln_out,
        _ => root().join(format!("target/e2e/{model}-int8io-{board_name}")),
    };
    let (per_inference, kiln_hash) = instructions(p, &b, &kiln_out, &s);
    let fw = &build["firmware"];
    assert_ne!(
        fw["hash"].as_str().unwrap(),
        kiln_hash,
        "the two protocols' firmware must have different hashes"
    );
    assert_eq!(build["mlperf_model"], model_id);

    let q = b.qemu.as_ref().unwrap();
    let elf = PathBuf::from(fw["elf"].as_str().unwrap());
    let qemu = QemuSession::spawn(&QemuConfig::new(&q.machine, &q.cpu, &elf)).unwrap();
    let mut dut = Dut::new(qemu.open_port().unwrap());
    // The start-up lines went out before the pty was open (QEMU drops them then); whatever
    // arrives is discarded, as the runner's first command does.
    while dut.read_line(Duration::from_millis(300)).is_some() {}
    let n = s.db.len();

    // Identification, as the runner's init_dut does it.
    let name = Regex::new(r"^m-(name)-dut-\[([^]]+)]$").unwrap();
    let r = dut.send("name");
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(
        &name.captures(&r[0]).expect("runner's name regex")[2],
        "kiln"
    );
    assert_eq!(
        dut.send("profile"),
        [
            "m-profile-[ULPMark for tinyML Firmware V0.0.1]".to_string(),
            format!("m-model-[{model_id}]"),
            "m-ready".into()
        ]
    );

    // Error replies: each is one `e-[...]` line, then m-ready.
    assert_eq!(
        dut.send("bogus 1"),
        ["e-[Unknown command: bogus]", "m-ready"]
    );
    assert_eq!(
        dut.send("results"),
        ["e-[No inference has run yet]", "m-ready"]
    );
    assert_eq!(
        dut.send("infer 1 0"),
        [
            format!("e-[Input db has 0 bytes, expected {n}]"),
            "m-ready".into()
        ]
    );
    assert_eq!(
        dut.send(&format!("db load {}", n + 1)),
        [
            format!("e-[Supplied buffer size {} exceeds maximum of {n}]", n + 1),
            "m-ready".into()
        ]
    );
    assert_eq!(
        dut.send("db 00"),
        ["e-[Command 'db' needs 'db load N' first]", "m-ready"]
    );

    dut.load(&s.db);
    // One byte past the announced count.
    assert_eq!(
        dut.send("db 00"),
        [
            format!("e-[db buffer is full: {n} bytes loaded; 'db load N' starts over]"),
            "m-ready".into()
        ]
    );
    assert_eq!(
        dut.send("infer 0"),
        ["e-[Inference iterations must be >0]", "m-ready"]
    );

    let one = parse_infer(&dut.send("infer 1 0"), 1, 0);
    let five = parse_infer(&dut.send("infer 5 2"), 5, 2);
    let fifty = parse_infer(&dut.send("infer 50 0"), 50, 0);
    assert_eq!(one.results, s.expected, "device results vs host simulation");
    assert_eq!(
        five.results, s.expected,
        "device results vs host simulation"
    );
    assert_eq!(
        dut.send("results"),
        [format!("m-results-[{}]", s.expected), "m-ready".into()]
    );
    let stamp = Regex::new(r"^m-lap-us-([0-9]+)$").unwrap();
    let t = dut.send("timestamp");
    let last: u64 = stamp.captures(&t[0]).expect("a lap line")[1]
        .parse()
        .unwrap();

    // Laps only increase; each interval holds what docs/MLPERF_TINY.md lists: N inferences of
    // `per_inference` instructions each (1 µs = 1000 instructions), the loop around them, the
    // input reload when the plan reuses input bytes, and the first stamp's digits; both stamps
    // are floored to whole µs, so an interval reads up to 1 µs short or long.
    let laps = [
        one.laps[0],
        one.laps[1],
        five.laps[0],
        five.laps[1],
        fifty.laps[0],
        fifty.laps[1],
        last,
    ];
    assert!(laps.windows(2).all(|w| w[0] < w[1]), "{laps:?}");
    let main_rs =
        std::fs::read_to_string(Path::new(fw["dir"].as_str().unwrap()).join("src/main.rs"))
            .unwrap();
    let reload = main_rs.contains("reload_inputs: true");
    assert!(reload || main_rs.contains("reload_inputs: false"));
    let per_iteration_bound = LOOP_BOUND + if reload { reload_bound(n) } else { 0 };
    for (iterations, i) in [(1u64, &one), (5, &five), (50, &fifty)] {
        let measured_ns = (i.laps[1] - i.laps[0]) as i64 * 1000;
        let excess = measured_ns - (iterations * per_inference) as i64;
        let bound = 1000 + PRINT_BOUND + iterations as i64 * per_iteration_bound;
        eprintln!(
            "{model} on {board_name}: infer {iterations}: m-lap-us interval {} µs for {iterations} \
             × {per_inference} instructions (kiln link): excess {excess} ns (bound {bound})",
            i.laps[1] - i.laps[0]
        );
        assert!(
            excess > -1000 && excess <= bound,
            "{model} on {board_name}, infer {iterations}: interval {measured_ns} ns vs \
             {iterations} × {per_inference} instructions: excess {excess} ns, bound {bound}"
        );
    }
    // Per inference, from 1 and 50 (resolution 2 µs / 49 = 41 ns).
    let per =
        ((fifty.laps[1] - fifty.laps[0]) as i64 - (one.laps[1] - one.laps[0]) as i64) * 1000 / 49;
    eprintln!(
        "{model} on {board_name}: {per} ns per timed inference (reload {reload}, {n} input \
         bytes) vs {per_inference} instructions through the kiln link"
    );
    assert!(per >= per_inference as i64 - 41, "{per} vs {per_inference}");
}

/// docs/MLPERF_TINY.md's bounds on what an `infer` interval holds beyond the inferences, in
/// emulated instructions (ns): the loop around each inference, the reload of `bytes` input
/// bytes before each one, the digits of the first stamp.
const LOOP_BOUND: i64 = 20;
const PRINT_BOUND: i64 = 1000;
fn reload_bound(bytes: usize) -> i64 {
    100 + 2 * bytes as i64
}

fn prepared(model: &str, qc: &QuantConfig) -> Prepared {
    let precision = qc.calib.as_ref().map(|_| kiln::deploy::Precision::Int8);
    prepare(
        &root().join(format!("models/{model}/model.onnx")),
        &ImportOptions::default(),
        precision,
        qc,
    )
    .unwrap()
}

#[test]
fn digits_cnn_on_mps2_an386() {
    let p = prepared("digits-cnn", &QuantConfig::default());
    let build = build_mlperf("digits-cnn", "digits-cnn", "mps2-an386", &[]);
    check("digits-cnn", "mps2-an386", &p, &build, "digits-cnn");
    start_up_lines_and_command_errors("mps2-an386", &build);
}

#[test]
fn digits_cnn_on_mps2_an500() {
    let p = prepared("digits-cnn", &QuantConfig::default());
    let build = build_mlperf(
        "digits-cnn",
        "digits-cnn",
        "mps2-an500",
        &["--mlperf-model", "dc01"],
    );
    check("digits-cnn", "mps2-an500", &p, &build, "dc01");
}

/// int8 inputs and outputs: `db` takes int8 bytes, `results` prints dequantized values.
#[test]
fn int8_io_digits_cnn_on_mps2_an386() {
    let calib = root().join("models/digits-cnn/calib.npz");
    let qc = QuantConfig {
        calib: Some(calib),
        lower: kiln::quantize::lower::LowerOptions {
            int8_io: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let p = prepared("digits-cnn", &qc);
    let build = build_mlperf(
        "digits-cnn",
        "digits-cnn-int8io",
        "mps2-an386",
        &[
            "--precision",
            "int8",
            "--calib",
            "models/digits-cnn/calib.npz",
            "--int8-io",
        ],
    );
    check("digits-cnn", "mps2-an386", &p, &build, "digits-cnn");
}

/// QEMU with UART0 on a Unix socket it waits on before the firmware starts, so the start-up
/// lines cannot be lost (a pty drops them until it is opened). Killed on drop.
struct WaitingQemu(Child);

impl Drop for WaitingQemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The start-up lines (over a socket QEMU waits on, so none are lost) and the error replies of
/// malformed commands.
fn start_up_lines_and_command_errors(board_name: &str, build: &Value) {
    let b = board(board_name);
    let elf = build["firmware"]["elf"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("uart0.sock");
    let q = b.qemu.as_ref().unwrap();
    let cfg = QemuConfig::new(&q.machine, &q.cpu, elf);
    let _qemu = WaitingQemu(
        Command::new(&cfg.binary)
            .args(cfg.args(&format!("unix:{},server=on,wait=on", sock.display())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qemu-system-arm runs"),
    );
    let end = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match UnixStream::connect(&sock) {
            Ok(s) => break s,
            Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("QEMU's UART socket {}: {e}", sock.display()),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut dut = Dut::new(stream);
    let mut banner = Vec::new();
    while let Some(l) = dut.read_line(Duration::from_secs(10)) {
        let ready = l == "m-ready";
        banner.push(l);
        if ready {
            break;
        }
    }
    assert_eq!(banner.len(), 4, "{banner:?}");
    assert_eq!(banner[0], "m-timestamp-mode-performance");
    assert!(Regex::new(r"^m-lap-us-[0-9]+$")
        .unwrap()
        .is_match(&banner[1]));
    assert_eq!(banner[2..], ["m-init-done", "m-ready"]);

    assert_eq!(dut.send(""), ["m-ready"]);
    assert_eq!(
        dut.send("db"),
        ["e-[Command 'db' requires a subcommand]", "m-ready"]
    );
    assert_eq!(
        dut.send("db load 0"),
        ["e-[Command 'db load' must be >0 bytes]", "m-ready"]
    );
    assert_eq!(dut.send("db load 4"), ["m-[Expecting 4 bytes]", "m-ready"]);
    assert_eq!(
        dut.send("db 0"),
        ["e-[Insufficent number of hex digits]", "m-ready"]
    );
    assert_eq!(dut.send("db zz"), ["e-[Invalid hex digit 'zz']", "m-ready"]);
    // Digits past the announced count are dropped, as the reference firmware does.
    assert_eq!(dut.send("db 0011223344"), ["m-load-done", "m-ready"]);
    assert_eq!(dut.send("db print"), ["m-buffer-00-11-22-33", "m-ready"]);
    assert_eq!(
        dut.send(&"x".repeat(81)),
        ["e-[Command longer than 80 characters]", "m-ready"]
    );
    assert_eq!(
        dut.send("infer 1 -1"),
        ["e-[Inference warmup must be >=0]", "m-ready"]
    );
    // Still answering after every error.
    assert_eq!(dut.send("name"), ["m-name-dut-[kiln]", "m-ready"]);
}

/// Options that cannot go together are refused before anything is built (exit 2, a message
/// naming the option).
#[test]
fn protocol_option_errors() {
    for (args, says) in [
        (
            &["--protocol", "mlperf-tiny", "--selftest"][..],
            "drop --selftest or --protocol mlperf-tiny",
        ),
        (
            &["--mlperf-model", "kws01"],
            "--mlperf-model is only used with",
        ),
        (
            &["--protocol", "mlperf-tiny", "--mlperf-model", "kws]01"],
            "--mlperf-model `kws]01`",
        ),
        (
            &["--protocol", "mlperf-tiny", "--board", "host"],
            "board `host` runs in-process",
        ),
        (&["--protocol", "ascii"], "invalid value 'ascii'"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .current_dir(root())
            .args(["build", "models/digits-mlp/model.onnx"])
            .args(args)
            .output()
            .expect("kiln runs");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
