//! `kiln build`: generate and build the firmware crate; print flash and RAM.

use clap::Args;
use serde::Serialize;

use super::{prepare, print_json, BuildArgs, Format, Target};
use crate::codegen::Protocol;
use crate::data::{load_samples, InputSpec, Labels, LoadOptions};
use crate::deploy::Firmware;
use crate::plan::PlanStats;

#[derive(Args, Debug)]
pub struct BuildCmd {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Bake samples into the firmware; it runs them at boot and prints the results (no host needed).
    #[arg(long)]
    pub selftest: bool,
    /// Samples for `--selftest` (default: `test.npz` beside the model).
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// How many samples `--selftest` bakes in.
    #[arg(long, default_value_t = 4)]
    pub limit: usize,
    /// What the firmware speaks on its UART: `kiln` (the link `run`, `validate` and `bench`
    /// use) or `mlperf-tiny` (the MLPerf Tiny / EEMBC benchmark runner's ASCII protocol; see
    /// docs/MLPERF_TINY.md). Only `build` makes `mlperf-tiny` firmware.
    #[arg(long, value_enum, default_value = "kiln")]
    pub protocol: ProtocolArg,
    /// Model id an `mlperf-tiny` firmware reports (`m-model-[ID]`); the runner picks its test
    /// script by it (`kws01`, `vww01`, `ad01`, `ic01`). Default: the model's name.
    #[arg(long, value_name = "ID")]
    pub mlperf_model: Option<String>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolArg {
    Kiln,
    MlperfTiny,
}

impl ProtocolArg {
    fn name(self) -> &'static str {
        match self {
            ProtocolArg::Kiln => "kiln",
            ProtocolArg::MlperfTiny => "mlperf-tiny",
        }
    }
}

/// The protocol the options ask for, checked before anything is built.
fn protocol(a: &BuildCmd, model_name: &str, host: bool) -> anyhow::Result<Protocol> {
    match a.protocol {
        ProtocolArg::Kiln => {
            if a.mlperf_model.is_some() {
                anyhow::bail!("--mlperf-model is only used with --protocol mlperf-tiny");
            }
            Ok(Protocol::Kiln)
        }
        ProtocolArg::MlperfTiny => {
            if a.selftest {
                anyhow::bail!(
                    "--selftest firmware prints its results and exits; it speaks no protocol: \
                     drop --selftest or --protocol mlperf-tiny"
                );
            }
            if host {
                anyhow::bail!(
                    "--protocol mlperf-tiny builds firmware for a device; board `host` runs \
                     in-process and has none (pass --board, e.g. --board mps2-an386)"
                );
            }
            let model = match &a.mlperf_model {
                Some(id) => {
                    let ok = !id.is_empty()
                        && id
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
                    if !ok {
                        anyhow::bail!(
                            "--mlperf-model `{id}`: use ASCII letters, digits, `-`, `_` and `.` \
                             only (e.g. kws01)"
                        );
                    }
                    id.clone()
                }
                None => crate::codegen::crate_name(model_name),
            };
            Ok(Protocol::MlperfTiny { model })
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    board: String,
    precision: &'static str,
    plan: &'a PlanStats,
    /// `kiln` or `mlperf-tiny`.
    protocol: &'static str,
    /// The id an `mlperf-tiny` firmware reports (`m-model-[...]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    mlperf_model: Option<String>,
    folded: Vec<String>,
    /// `--int8-io`: the int8 parameters of the inputs and outputs (empty otherwise).
    io: &'a [crate::quantize::lower::IoQuant],
    firmware: Option<&'a Firmware>,
}

pub fn run(a: BuildCmd) -> anyhow::Result<()> {
    let (p, target) = prepare(&a.build)?;
    let protocol = protocol(&a, &p.model_name, matches!(target, Target::Host))?;
    let firmware = match &target {
        Target::Host => None,
        Target::Board(board) => {
            let selftest = if a.selftest {
                let data = a
                    .data
                    .clone()
                    .unwrap_or_else(|| p.model_path.with_file_name("test.npz"));
                let opts = LoadOptions {
                    labels: Labels::None,
                    limit: Some(a.limit.max(1)),
                };
                let s = load_samples(&data, &InputSpec::of_graph(&p.graph), &opts)?;
                let mut flat = Vec::new();
                for i in 0..s.n {
                    for input in s.sample_all(i) {
                        flat.extend_from_slice(input);
                    }
                }
                Some((flat, s.n as u32))
            } else {
                None
            };
            Some(super::build_firmware_for(
                &a.build,
                &p,
                board,
                selftest,
                protocol.clone(),
            )?)
        }
    };
    let report = Report {
        model: a.build.model.display().to_string(),
        board: a.build.board.clone(),
        precision: p.precision(),
        plan: &p.plan.stats,
        protocol: a.protocol.name(),
        mlperf_model: match &protocol {
            Protocol::MlperfTiny { model } => Some(model.clone()),
            Protocol::Kiln | Protocol::KernelCheck { .. } => None,
        },
        folded: p.optimize.rewrites.iter().map(|r| r.to_string()).collect(),
        io: p.quant.as_ref().map_or(&[], |q| q.report.io.as_slice()),
        firmware: firmware.as_ref(),
    };
    if a.format == Format::Json {
        return print_json(&report);
    }
    let s = &p.plan.stats;
    for l in &report.folded {
        println!("optimize  {l}");
    }
    if let Some(q) = &p.quant {
        println!(
            "int8      {} ({} layers int8, {} f32)",
            q.recipe(),
            q.report.int8_layers(),
            q.report.layers.len() - q.report.int8_layers()
        );
    }
    for io in report.io {
        println!(
            "int8 {:<6} `{}`: scale {}, zero point {} (q = round(x / scale) + zero point)",
            io.role, io.name, io.scale, io.zero_point
        );
    }
    println!(
        "arena     {} bytes (all activations {} bytes, largest live set {} bytes)",
        s.arena_bytes, s.activations_total_bytes, s.largest_live_set_bytes
    );
    match &firmware {
        None => println!("board host: runs in-process, nothing to build"),
        Some(f) => {
            let z = &f.sizes;
            println!(
                "flash     {} bytes (weights {}, code {})",
                z.flash_bytes, z.flash_weights_bytes, z.flash_code_bytes
            );
            println!(
                "RAM       {} bytes (arena {}, stack reserve {}, other {})",
                z.ram_bytes, z.ram_arena_bytes, z.ram_stack_reserve_bytes, z.ram_other_bytes
            );
            println!(
                "firmware  {} (built in {:.1} s with {})",
                f.elf.display(),
                f.build_seconds,
                f.toolchain.version
            );
            if let Some(model) = &report.mlperf_model {
                println!(
                    "protocol  mlperf-tiny: the MLPerf Tiny runner's serial protocol, model id \
                     `{model}` (docs/MLPERF_TINY.md)"
                );
            }
        }
    }
    Ok(())
}
