//! End to end over the real link: the echo firmware (tests/fixtures/echo-fw, on kiln-rt) built
//! with the Debian toolchain, run under QEMU, driven through a pty opened like a serial port.
//!
//! Needs `qemu-system-arm` and Debian's `cargo` + `rust-web-src` (scripts/setup.sh). Without
//! them the QEMU tests say so and pass, except under CI (`CI` set), where they fail.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use kiln::link::{
    run_to_exit, Device, ErrorCode, LinkError, LinkOptions, Port, QemuConfig, QemuSession,
    PROTOCOL_VERSION,
};

const HASH: [u8; 16] = *b"echo-fw-hash-001";
const IN0: usize = 16 * 4;
const IN1: usize = 300 * 4;
const STACK_RESERVE: u32 = 8 * 1024;

struct Board {
    machine: &'static str,
    cpu: &'static str,
    triple: &'static str,
    family: &'static str,
}

const AN386: Board = Board {
    machine: "mps2-an386",
    cpu: "cortex-m4",
    triple: "thumbv7em-none-eabihf",
    family: "mps2",
};
const AN500: Board = Board {
    machine: "mps2-an500",
    cpu: "cortex-m7",
    triple: "thumbv7em-none-eabihf",
    family: "mps2",
};
const AN385: Board = Board {
    machine: "mps2-an385",
    cpu: "cortex-m3",
    triple: "thumbv7m-none-eabi",
    family: "mps2",
};
const AN547: Board = Board {
    machine: "mps3-an547",
    cpu: "cortex-m55",
    triple: "thumbv8m.main-none-eabihf",
    family: "mps3",
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Whether QEMU and the Debian toolchain are here; prints why not.
fn tools_present() -> bool {
    static PRESENT: OnceLock<Result<(), String>> = OnceLock::new();
    let present = PRESENT.get_or_init(|| {
        let mut missing = Vec::new();
        if Command::new("qemu-system-arm")
            .arg("--version")
            .output()
            .is_err()
        {
            missing.push("qemu-system-arm");
        }
        if !Path::new("/usr/bin/cargo").exists() {
            missing.push("Debian cargo (/usr/bin/cargo)");
        }
        if !Path::new("/usr/lib/rustlib/src/rust/library/core").exists() {
            missing.push("Debian rust-web-src (/usr/lib/rustlib/src/rust)");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "missing {}; install them with scripts/setup.sh",
                missing.join(", ")
            ))
        }
    });
    match present {
        Ok(()) => true,
        Err(why) if std::env::var_os("CI").is_some() => panic!("QEMU link tests cannot run: {why}"),
        Err(why) => {
            eprintln!("SKIPPED: QEMU link test: {why}");
            false
        }
    }
}

/// The cargo target folder shared by every firmware build (`$KILN_TARGET_DIR`, as set by
/// scripts/test.sh, else `target/firmware`); cargo keeps one subfolder per target triple.
fn firmware_target_dir() -> PathBuf {
    std::env::var_os("KILN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/firmware"))
}

/// Builds echo-fw once per (target, features), with Debian's cargo and `-Zbuild-std=core`;
/// returns a copy of the ELF named after the configuration.
fn echo_elf(triple: &str, features: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{triple} {features}");
    if let Some(elf) = built.get_or_insert_with(HashMap::new).get(&key) {
        return elf.clone();
    }
    let target_dir = firmware_target_dir();
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("/usr/bin/cargo");
    for (var, _) in std::env::vars_os() {
        let var = var.to_string_lossy().into_owned();
        let tool_env =
            var.starts_with("CARGO") || var.starts_with("RUSTUP") || var.starts_with("RUSTC");
        if tool_env && var != "CARGO_HOME" {
            cmd.env_remove(&var);
        }
    }
    for var in ["RUSTFLAGS", "RUSTDOCFLAGS"] {
        cmd.env_remove(var);
    }
    let started = Instant::now();
    let out = cmd
        .current_dir(workspace().join("tests/fixtures/echo-fw"))
        .env("PATH", path)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", &target_dir)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            triple,
            "--features",
            features,
        ])
        .output()
        .expect("run Debian cargo");
    assert!(
        out.status.success(),
        "building echo-fw for {triple} ({features}) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "built echo-fw for {triple} ({features}) in {:.1?}",
        started.elapsed()
    );
    let out_dir = target_dir.join(triple);
    let elf = out_dir.join(format!("echo-fw-{}.elf", features.replace(' ', "-")));
    std::fs::copy(out_dir.join("release/echo-fw"), &elf).unwrap();
    built
        .get_or_insert_with(HashMap::new)
        .insert(key, elf.clone());
    elf
}

fn config(board: &Board, features: &str) -> QemuConfig {
    QemuConfig::new(board.machine, board.cpu, echo_elf(board.triple, features))
}

/// Whether process `pid` is gone (reaped, or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_gone(pid: u32) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn f32_bytes(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
    values.into_iter().flat_map(f32::to_le_bytes).collect()
}

fn echo(input: &[u8]) -> Vec<u8> {
    f32_bytes(
        input
            .chunks_exact(4)
            .map(|c| 2.0 * f32::from_le_bytes(c.try_into().unwrap()) + 1.0),
    )
}

/// Finite, normal f32 values from a fixed pseudo-random sequence: their bytes take every value,
/// the frame delimiter and tty control bytes (XON/XOFF, ^C, CR, LF) included.
fn inputs(seed: u32, first: f32) -> (Vec<u8>, Vec<u8>) {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let v = f32::from_bits(state);
        if v.is_normal() && v.abs() < 1e30 {
            v
        } else {
            (state >> 8) as f32 * 1e-3
        }
    };
    let mut a: Vec<f32> = (0..IN0 / 4).map(|_| next()).collect();
    a[0] = first;
    a[1] = f32::from_le_bytes([0x0a, 0x0d, 0x11, 0x13]);
    a[2] = f32::from_le_bytes([0x00, 0x03, 0x13, 0x41]);
    let b: Vec<f32> = (0..IN1 / 4).map(|_| next()).collect();
    (f32_bytes(a), f32_bytes(b))
}

fn run<P: Port>(dev: &mut Device<P>, a: &[u8], b: &[u8]) -> u64 {
    let (outs, ticks) = dev.run_sample(&[a, b], &[IN0, IN1]).unwrap();
    assert_eq!(outs[0], echo(a), "output 0");
    assert_eq!(outs[1], echo(b), "output 1");
    ticks
}

#[test]
fn echo_on_mps2_an386() {
    if !tools_present() {
        return;
    }
    let cfg = config(&AN386, "mps2");
    let t0 = Instant::now();
    let qemu = QemuSession::spawn(&cfg).unwrap();
    let pid = qemu.pid();
    let mut dev = qemu.connect(LinkOptions::default()).unwrap();

    let info = dev.hello(&HASH).unwrap();
    let ready = t0.elapsed();
    assert_eq!(info.version, PROTOCOL_VERSION);
    assert_eq!(info.board, "echo-mps2");
    assert_eq!(info.model_hash, HASH);
    assert_eq!((info.n_inputs, info.n_outputs), (2, 2));
    assert_eq!(info.arena_bytes as usize, 2 * (IN0 + IN1));
    assert_eq!(info.stack_reserve, STACK_RESERVE);

    // Outputs before any inference are refused, not made up.
    match dev.read_output(0, 4) {
        Err(LinkError::DeviceError {
            code: ErrorCode::NotInvoked,
            ..
        }) => {}
        other => panic!("expected NotInvoked, got {other:?}"),
    }

    let (a, b) = inputs(1, 0.0);
    let ticks = run(&mut dev, &a, &b);
    assert!(ticks > 0);
    // The same inputs again: identical ticks, whether run again or answered from the cache.
    assert_eq!(run(&mut dev, &a, &b), ticks);
    assert_eq!(dev.invoke().unwrap(), ticks);

    // A longer busy loop takes more ticks; every length gives the same ticks twice.
    let mut last = 0;
    for extra in 0..48u32 {
        let (a, b) = inputs(100 + extra, extra as f32 * 3.0);
        let t1 = run(&mut dev, &a, &b);
        let t2 = run(&mut dev, &a, &b);
        assert_eq!(
            t1,
            t2,
            "ticks differ between two runs with busy loop +{}",
            extra * 3
        );
        assert!(t1 >= last, "ticks went down: {last} then {t1}");
        last = t1;
    }

    let stack = dev.stats().unwrap();
    assert_eq!(stack.reserve, STACK_RESERVE);
    assert!(stack.used > 0 && stack.used < STACK_RESERVE, "{stack:?}");

    // Throughput, both ways (inputs and outputs of 1200 bytes, three frames each).
    let rounds = 20;
    let t = Instant::now();
    for _ in 0..rounds {
        dev.write_input(1, &b).unwrap();
    }
    let up = (rounds * IN1) as f64 / t.elapsed().as_secs_f64();
    dev.invoke().unwrap();
    let t = Instant::now();
    for _ in 0..rounds {
        dev.read_output(1, IN1).unwrap();
    }
    let down = (rounds * IN1) as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..rounds {
        dev.stats().unwrap();
    }
    let rtt = t.elapsed() / rounds as u32;
    eprintln!(
        "mps2-an386: pty after {:.1?}, hello answered after {ready:.1?}; echo invoke {ticks} \
         ticks (~{} instructions); stack used {} of {} bytes; host->device {:.1} KB/s, \
         device->host {:.1} KB/s, Stats round trip {rtt:.2?}; {:?}",
        qemu.startup_time(),
        ticks * 40,
        stack.used,
        stack.reserve,
        up / 1e3,
        down / 1e3,
        dev.link_stats()
    );
    assert_eq!(dev.link_stats().retries, 0);

    // Stale firmware: another expected model is refused, naming both hashes.
    match dev.hello(&[0x11; 16]) {
        Err(LinkError::ModelHashMismatch { expected, found }) => {
            assert_eq!(expected, "11".repeat(16));
            assert_eq!(found, hex::encode(HASH));
        }
        other => panic!("expected a hash mismatch, got {other:?}"),
    }

    drop(dev);
    drop(qemu);
    assert!(
        gone(pid),
        "QEMU {pid} still running after the session was dropped"
    );
}

/// Shorter run on the other boards: handshake, one sample, repeatable ticks.
fn echo_smoke(board: &Board) {
    if !tools_present() {
        return;
    }
    let qemu = QemuSession::spawn(&config(board, board.family)).unwrap();
    let pid = qemu.pid();
    let mut dev = qemu.connect(LinkOptions::default()).unwrap();
    let info = dev.hello(&HASH).unwrap();
    assert_eq!(info.board, format!("echo-{}", board.family));
    let (a, b) = inputs(7, 10.0);
    let ticks = run(&mut dev, &a, &b);
    assert_eq!(run(&mut dev, &a, &b), ticks);
    let stack = dev.stats().unwrap();
    // Host-to-device speed shows the firmware sleeps until each byte's interrupt (a missed
    // interrupt would leave it asleep until the next SysTick wrap, ~0.5 s per byte).
    let t = Instant::now();
    for _ in 0..5 {
        dev.write_input(1, &b).unwrap();
    }
    let up = (5 * IN1) as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "{}: pty after {:.1?}; echo invoke {ticks} ticks; stack used {} of {} bytes; \
         host->device {:.1} KB/s",
        board.machine,
        qemu.startup_time(),
        stack.used,
        stack.reserve,
        up / 1e3
    );
    assert!(
        up > 2e3,
        "host->device at {up:.0} B/s: is the UART receive interrupt enabled?"
    );
    assert!(stack.used > 0 && stack.used < stack.reserve);
    drop(qemu);
    assert!(gone(pid));
}

#[test]
fn echo_on_mps2_an500() {
    echo_smoke(&AN500);
}

#[test]
fn echo_on_mps2_an385() {
    echo_smoke(&AN385);
}

#[test]
fn echo_on_mps3_an547() {
    echo_smoke(&AN547);
}

/// kiln-rt and kiln-proto also build for Cortex-M0/M0+ (no board runs them here).
#[test]
fn echo_builds_for_thumbv6m() {
    if !tools_present() {
        return;
    }
    assert!(echo_elf("thumbv6m-none-eabi", "mps2").exists());
}

#[test]
fn selftest_prints_outputs_and_exits() {
    if !tools_present() {
        return;
    }
    let run = run_to_exit(&config(&AN386, "mps2 selftest"), Duration::from_secs(30)).unwrap();
    assert!(run.status.success(), "{:?}: {}", run.status, run.output);
    let text = String::from_utf8(run.serial).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "kiln selftest: 3 samples");
    let mut ticks = Vec::new();
    for s in 0..3 {
        let value = |i: usize| 2.0 * ((s * 10) as f32 + i as f32 * 0.25 - 2.0) + 1.0;
        let fmt = |r: std::ops::Range<usize>| {
            r.map(|i| format!("{:?}", value(i)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert_eq!(
            lines[1 + 3 * s],
            format!("sample {s}: out0 = [{}]", fmt(0..16))
        );
        assert_eq!(
            lines[2 + 3 * s],
            format!("sample {s}: out1 = [{}]", fmt(16..316))
        );
        let t = lines[3 + 3 * s]
            .strip_prefix(&format!("sample {s}: ticks = "))
            .unwrap();
        ticks.push(t.parse::<u64>().unwrap());
    }
    assert!(ticks.iter().all(|&t| t > 0), "{ticks:?}");
    assert!(
        lines[10].starts_with("kiln selftest: done, stack used "),
        "{}",
        lines[10]
    );
}

#[test]
fn qemu_exit_is_reported_with_its_status() {
    if !tools_present() {
        return;
    }
    let qemu = QemuSession::spawn(&config(&AN386, "mps2")).unwrap();
    let mut dev = qemu.connect(LinkOptions::default()).unwrap();
    dev.hello(&HASH).unwrap();
    // SAFETY: plain syscall on our own child.
    unsafe { libc::kill(qemu.pid() as i32, libc::SIGKILL) };
    qemu.wait_timeout(Duration::from_secs(5))
        .expect("QEMU killed");
    match dev.stats() {
        Err(LinkError::QemuExited { status, .. }) => assert!(status.contains("signal"), "{status}"),
        other => panic!("expected QemuExited, got {other:?}"),
    }
}

#[test]
fn bad_machine_reports_qemu_output() {
    if !tools_present() {
        return;
    }
    let cfg = QemuConfig::new("no-such-board", "cortex-m4", "/nonexistent.elf");
    match QemuSession::spawn(&cfg) {
        Err(LinkError::QemuExited { output, .. }) => {
            assert!(output.contains("unsupported machine type"), "{output}")
        }
        Err(other) => panic!("expected QemuExited, got {other:?}"),
        Ok(_) => panic!("QEMU started with a bad machine"),
    }
}

#[test]
fn missing_qemu_names_the_remedy() {
    let mut cfg = QemuConfig::new("mps2-an386", "cortex-m4", "fw.elf");
    cfg.binary = PathBuf::from("/nonexistent/qemu-system-arm");
    let err = QemuSession::spawn(&cfg).err().expect("spawn must fail");
    assert!(matches!(err, LinkError::QemuNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("apt-get install qemu-system-arm"),
        "{err}"
    );
}

/// A failed handshake (here: stale firmware) still stops QEMU when the session drops.
#[test]
fn no_qemu_left_after_an_error() {
    if !tools_present() {
        return;
    }
    let elf = echo_elf(AN386.triple, "mps2");
    let pid;
    {
        let qemu = QemuSession::spawn(&QemuConfig::new(AN386.machine, AN386.cpu, elf)).unwrap();
        pid = qemu.pid();
        let result = qemu
            .connect(LinkOptions::default())
            .and_then(|mut d| d.hello(&[0; 16]));
        assert!(matches!(result, Err(LinkError::ModelHashMismatch { .. })));
    }
    assert!(gone(pid), "QEMU {pid} left running after an error");
}

/// Not a test by itself: the child process of `ctrl_c_kills_qemu`.
#[test]
fn sigint_helper() {
    let Some(elf) = std::env::var_os("KILN_TEST_SIGINT_ELF") else {
        return;
    };
    let qemu = QemuSession::spawn(&QemuConfig::new(AN386.machine, AN386.cpu, elf)).unwrap();
    println!("QEMU_PID={}", qemu.pid());
    std::thread::sleep(Duration::from_secs(60));
    panic!("SIGINT never came");
}

/// Ctrl-C on a kiln-like process (this test binary, re-run as `sigint_helper`) kills QEMU and
/// exits with status 130.
#[test]
fn ctrl_c_kills_qemu() {
    if !tools_present() {
        return;
    }
    let elf = echo_elf(AN386.triple, "mps2");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigint_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILN_TEST_SIGINT_ELF", elf)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let pid: u32 = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("QEMU_PID=")
                .nth(1)
                .map(|p| p.trim().parse().unwrap())
        })
        .expect("helper reports its QEMU");
    assert!(!gone(pid));
    // SAFETY: plain syscall on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(wait_gone(pid), "QEMU {pid} survived Ctrl-C of its kiln");
}
