//! The int8 kernels checked on every emulated core: `KernelCheck` firmware runs the same seeded
//! cases through the kernels as each target compiles them (the DSP `asm!` forms on M4, M7, M33
//! and M55; the portable forms on M3 and M0) and through the plain references of
//! `kiln_kernels::i8::check`, in QEMU, and must find no difference.

mod e2e_support;

use e2e_support::{root, target_dir};
use std::time::Duration;

use kiln::boards::Catalog;
use kiln::codegen::Protocol;
use kiln::deploy::{build_firmware_for, prepare};
use kiln::import::ImportOptions;
use kiln::link::{run_to_exit, QemuConfig};

const SEED: u64 = 0x6b69_6c6e;
const CASES: u32 = 40;

#[test]
fn int8_kernels_match_their_references_on_every_emulated_core() {
    let model = root().join("models/digits-mlp/model.onnx");
    let p = prepare(&model, &ImportOptions::default(), None, &Default::default()).unwrap();
    let catalog = Catalog::builtin().unwrap();
    let mut failures = Vec::new();
    for name in [
        "mps2-an386",
        "mps2-an500",
        "mps2-an505",
        "mps3-an547",
        "mps2-an385",
        "microbit",
    ] {
        let board = catalog.get(name).unwrap().clone();
        let out = root().join(format!("target/kernel-check/{name}"));
        let protocol = Protocol::KernelCheck {
            seed: SEED,
            cases: CASES,
        };
        let fw = build_firmware_for(&p, &board, &out, Some(&target_dir()), None, protocol, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let q = board.qemu.as_ref().unwrap();
        let run = run_to_exit(
            &QemuConfig::new(&q.machine, &q.cpu, &fw.elf),
            Duration::from_secs(120),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = String::from_utf8_lossy(&run.serial).to_string();
        let summary = format!("kernel-check: {} cases, 0 mismatches", 5 * CASES);
        if !run.status.success() || !text.contains(&summary) {
            failures.push(format!("{name} ({}):\n{text}\n{}", q.cpu, run.output));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
