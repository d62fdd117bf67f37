//! The real-board catalog builds: for every built-in board with a `[probe]` table, `kiln build`
//! one sample model (digits-cnn, or digits-mlp where digits-cnn does not fit) at f32 and at
//! int8 through the real pipeline and the board's Rust target, and checks the firmware: flash
//! and RAM reported and within the board's memory, the chip's boot layout in the ELF (vector
//! table at the start of flash, RP2040 boot2, RP2350 IMAGE_DEF), and a generated crate whose
//! `cargo run` goes through `probe-rs run` for the board's chip. No probe is needed.
//!
//! One family also runs: QEMU's `netduinoplus2` is an STM32F405, the STM32F407's die with the
//! same USART2, so the `stm32f4-discovery` self-test firmware runs there unchanged (QEMU
//! ignores the clock enables and its DWT cycle counter reads 0) and must print the host
//! simulation's outputs, then park (no debugger, so no semihosting exit).
//!
//! Builds share `KILN_TARGET_DIR` (one cargo target dir, a subdirectory per target triple) with
//! the other firmware tests; both precisions of a board build in one output folder, so they
//! share its compiled runtime and kernels. The table of sizes is printed to stdout
//! (`cargo test -p kiln --test catalog_builds -- --nocapture`).

mod e2e_support;

use e2e_support::{kiln, parse_selftest, root};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln::boards::Catalog;
use kiln::data::{load_samples, InputSpec, Labels, LoadOptions};
use kiln::deploy::{build_firmware, prepare, HostRunner};
use kiln::import::ImportOptions;

use object::{Object, ObjectSection, ObjectSymbol};
use serde_json::Value;

fn json(o: &std::process::Output, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: bad JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The catalog's real boards, as `kiln boards --format json` lists them.
fn real_boards() -> Vec<Value> {
    let o = kiln("e2e-kiln.db")
        .args(["boards", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "kiln boards failed");
    json(&o, "kiln boards")["boards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["probe"].is_object())
        .cloned()
        .collect()
}

struct Built {
    model: &'static str,
    report: Value,
    seconds: f64,
}

/// `kiln build` of `model` for `board` at `precision` into `out`; `None` when kiln refuses it
/// before building because it does not fit (exit 2, naming the board and the memory).
fn build(board: &str, model: &'static str, precision: &str, out: &Path) -> Option<Built> {
    let m = format!("models/{model}/model.onnx");
    let mut c = kiln("e2e-kiln.db");
    c.args(["build", &m, "--board", board, "--format", "json"])
        .arg("--out")
        .arg(out);
    if precision == "int8" {
        c.args([
            "--precision",
            "int8",
            "--calib",
            &format!("models/{model}/calib.npz"),
        ]);
    }
    let t = Instant::now();
    let o = c.output().expect("kiln runs");
    let seconds = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&o.stderr);
    if o.status.code() == Some(2) && stderr.contains("does not fit") {
        assert!(stderr.contains(board), "{stderr}");
        return None;
    }
    assert!(
        o.status.success(),
        "kiln build {model} --board {board} ({precision}) failed ({}):\n{stderr}",
        o.status
    );
    Some(Built {
        model,
        report: json(&o, "kiln build"),
        seconds,
    })
}

/// The board's boot layout in the firmware ELF: the vector table where the boot ROM looks
/// for it (after the 256-byte boot2 on RP2040), and the RP2350's IMAGE_DEF in the first 4 KiB.
fn check_elf(board: &Value, elf: &Path) {
    let name = board["name"].as_str().unwrap();
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let section = |n: &str| {
        file.section_by_name(n)
            .map(|s| (s.address(), s.size()))
            .unwrap_or_else(|| panic!("{name}: no {n} section in {}", elf.display()))
    };
    let flash = board["memory"]["flash_origin"].as_u64().unwrap();
    let (vt, _) = section(".vector_table");
    match board["runtime"].as_str().unwrap() {
        "rp2040" => {
            assert_eq!(section(".boot2"), (flash, 256), "{name}: boot2");
            assert_eq!(vt, flash + 256, "{name}: vector table after boot2");
        }
        "rp2350" => {
            assert_eq!(vt, flash, "{name}: vector table");
            let (start, size) = section(".start_block");
            assert!(
                start + size <= flash + 4096 && size == 20,
                "{name}: IMAGE_DEF"
            );
            let s = file.section_by_name(".start_block").unwrap();
            let words: Vec<u32> = s
                .data()
                .unwrap()
                .chunks(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            assert_eq!(words[0], 0xffff_ded3, "{name}: block start marker");
            assert_eq!(words[4], 0xab12_3579, "{name}: block end marker");
        }
        _ => assert_eq!(vt, flash, "{name}: vector table at the start of flash"),
    }
    // The reset vector points into flash (Thumb bit set).
    let reset = file
        .symbols()
        .find(|s| s.name() == Ok("Reset"))
        .expect("Reset symbol")
        .address();
    let size = board["memory"]["flash_size"].as_u64().unwrap();
    assert!(
        reset >= flash && reset < flash + size,
        "{name}: Reset at {reset:#x}"
    );
}

#[test]
fn every_catalog_board_builds_at_f32_and_int8() {
    let boards = real_boards();
    assert!(
        boards.len() >= 6,
        "expected the six catalog boards, found {}",
        boards.len()
    );
    let t0 = Instant::now();
    let mut rows = Vec::new();
    for b in &boards {
        let name = b["name"].as_str().unwrap();
        let chip = b["probe"]["chip"].as_str().unwrap();
        let out = root().join("target/catalog").join(name);
        for precision in ["f32", "int8"] {
            let built = build(name, "digits-cnn", precision, &out)
                .or_else(|| build(name, "digits-mlp", precision, &out))
                .unwrap_or_else(|| panic!("{name}: neither digits-cnn nor digits-mlp fits"));
            let r = &built.report;
            assert_eq!(r["board"], name);
            assert_eq!(r["precision"], precision);
            let fw = &r["firmware"];
            let s = &fw["sizes"];
            let (flash, ram) = (
                s["flash_bytes"].as_u64().unwrap(),
                s["ram_bytes"].as_u64().unwrap(),
            );
            let m = &b["memory"];
            assert!(
                flash > 0 && flash <= m["flash_size"].as_u64().unwrap(),
                "{name}: flash {flash}"
            );
            assert!(
                ram > 0 && ram <= m["ram_size"].as_u64().unwrap(),
                "{name}: RAM {ram}"
            );
            assert!(s["flash_weights_bytes"].as_u64().unwrap() > 0);
            assert_eq!(
                s["ram_stack_reserve_bytes"], b["stack_reserve"],
                "{name}: stack reserve"
            );
            assert_eq!(fw["toolchain"]["target"], b["target"], "{name}: target");
            check_elf(b, Path::new(fw["elf"].as_str().unwrap()));
            let config = std::fs::read_to_string(out.join(".cargo/config.toml")).unwrap();
            assert!(
                config.contains(&format!("runner = \"probe-rs run --chip {chip}\"")),
                "{name}: runner in\n{config}"
            );
            rows.push((
                name.to_string(),
                built.model,
                precision,
                flash,
                s["flash_weights_bytes"].as_u64().unwrap(),
                ram,
                s["ram_arena_bytes"].as_u64().unwrap(),
                b["target"].as_str().unwrap().to_string(),
                built.seconds,
            ));
        }
    }
    println!(
        "| board | model | precision | flash (weights) | RAM (arena) | target | build s |\n|---|---|---|---|---|---|---|"
    );
    for (board, model, precision, flash, weights, ram, arena, target, secs) in &rows {
        println!(
            "| {board} | {model} | {precision} | {flash} ({weights}) | {ram} ({arena}) | {target} | {secs:.1} |"
        );
    }
    println!(
        "{} builds in {:.1} s",
        rows.len(),
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn stm32f4_family_runs_its_selftest_on_qemu_netduinoplus2() {
    let model = root().join("models/digits-cnn/model.onnx");
    let p = prepare(&model, &ImportOptions::default(), None, &Default::default()).unwrap();
    let opts = LoadOptions {
        labels: Labels::None,
        limit: Some(2),
    };
    let s = load_samples(
        &root().join("models/digits-cnn/test.npz"),
        &InputSpec::of_graph(&p.graph),
        &opts,
    )
    .unwrap();
    let flat: Vec<f32> = (0..s.n).flat_map(|i| s.sample(0, i).to_vec()).collect();
    let board = Catalog::builtin()
        .unwrap()
        .get("stm32f4-discovery")
        .unwrap()
        .clone();
    let target_dir = std::env::var_os("KILN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/firmware"));
    let out = root().join("target/catalog/stm32f4-discovery-selftest");
    let fw = build_firmware(
        &p,
        &board,
        &out,
        Some(&target_dir),
        Some((flat, s.n as u32)),
    )
    .unwrap();
    let mut host = HostRunner::new(&p);
    let expected: Vec<Vec<f32>> = (0..s.n)
        .map(|i| host.run(&s.sample_all(i)).outputs.remove(0))
        .collect();

    // USART2 is QEMU's second serial port. Semihosting is on: an exit would end QEMU.
    let mut qemu = Command::new(std::env::var("KILN_QEMU").unwrap_or("qemu-system-arm".into()))
        .args([
            "-M",
            "netduinoplus2",
            "-display",
            "none",
            "-monitor",
            "none",
        ])
        .args(["-serial", "null", "-serial", "stdio"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&fw.elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm runs");
    let mut stdout = qemu.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !text.contains("kiln selftest: done") && Instant::now() < deadline {
        if let Ok(b) = rx.recv_timeout(Duration::from_millis(100)) {
            text.push_str(&String::from_utf8_lossy(&b));
        }
    }
    // The line's end, then a moment to show that the firmware parks instead of exiting.
    std::thread::sleep(Duration::from_millis(500));
    while let Ok(b) = rx.try_recv() {
        text.push_str(&String::from_utf8_lossy(&b));
    }
    let still_running = qemu.try_wait().unwrap().is_none();
    let _ = qemu.kill();
    let _ = qemu.wait();
    assert!(
        text.contains("kiln selftest: 2 samples") && text.contains("kiln selftest: done"),
        "{text}"
    );
    assert_eq!(parse_selftest(&text), expected, "{text}");
    assert!(
        text.lines().filter(|l| l.ends_with("ticks = 0")).count() == 2,
        "QEMU's DWT cycle counter reads 0: {text}"
    );
    assert!(
        still_running,
        "without a debugger the firmware must not exit over semihosting"
    );
}
