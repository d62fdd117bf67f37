//! `--selftest` firmware: samples baked into flash, run at boot, results printed on the UART.
//! Checked against the host simulation bit for bit, both through QEMU directly and through
//! `cargo run --release` inside the generated crate (its `.cargo/config.toml` runner).

mod e2e_support;

use e2e_support::{parse_selftest, root};
use std::path::PathBuf;
use std::time::Duration;

use kiln::boards::Catalog;
use kiln::data::{load_samples, InputSpec, Labels, LoadOptions};
use kiln::deploy::{build_firmware, prepare, HostRunner};
use kiln::import::ImportOptions;
use kiln::link::{run_to_exit, QemuConfig};

#[test]
fn selftest_firmware_prints_the_host_simulation_results() {
    let model = root().join("models/digits-mlp/model.onnx");
    let p = prepare(&model, &ImportOptions::default(), None, &Default::default()).unwrap();
    let opts = LoadOptions {
        labels: Labels::None,
        limit: Some(3),
    };
    let s = load_samples(
        &root().join("models/digits-mlp/test.npz"),
        &InputSpec::of_graph(&p.graph),
        &opts,
    )
    .unwrap();
    let flat: Vec<f32> = (0..s.n).flat_map(|i| s.sample(0, i).to_vec()).collect();
    let board = Catalog::builtin()
        .unwrap()
        .get("mps2-an386")
        .unwrap()
        .clone();
    let out = root().join("target/selftest-crate/digits-mlp");
    let target_dir = std::env::var_os("KILN_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/firmware"));
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

    let q = board.qemu.as_ref().unwrap();
    let run = run_to_exit(
        &QemuConfig::new(&q.machine, &q.cpu, &fw.elf),
        Duration::from_secs(60),
    )
    .unwrap();
    let text = String::from_utf8_lossy(&run.serial);
    assert!(run.status.success(), "{text}\n{}", run.output);
    assert!(
        text.contains("kiln selftest: 3 samples") && text.contains("kiln selftest: done"),
        "{text}"
    );
    assert_eq!(parse_selftest(&text), expected, "{text}");

    // A user who never calls kiln again: `cargo run --release` in the generated crate.
    let mut cmd = fw.toolchain.cargo();
    let o = cmd
        .current_dir(&out)
        .args(["run", "--release", "--quiet"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(parse_selftest(&stdout), expected, "{stdout}");
}
