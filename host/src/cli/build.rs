//! `kiln build`: generate and build the firmware crate; print flash and RAM.

use clap::Args;
use serde::Serialize;

use super::{prepare, print_json, BuildArgs, Format, Target};
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
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    board: String,
    precision: &'static str,
    plan: &'a PlanStats,
    folded: Vec<String>,
    /// `--int8-io`: the int8 parameters of the inputs and outputs (empty otherwise).
    io: &'a [crate::quantize::lower::IoQuant],
    firmware: Option<&'a Firmware>,
}

pub fn run(a: BuildCmd) -> anyhow::Result<()> {
    let (p, target) = prepare(&a.build)?;
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
            Some(super::build_firmware(&a.build, &p, board, selftest)?)
        }
    };
    let report = Report {
        model: a.build.model.display().to_string(),
        board: a.build.board.clone(),
        precision: p.precision(),
        plan: &p.plan.stats,
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
        }
    }
    Ok(())
}
