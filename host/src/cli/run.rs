//! `kiln run` and `kiln bench`: samples through the board, outputs and latency; `bench` stores
//! its run in the run database like `validate`.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{open_runner, print_json, BuildArgs, Format, LinkArgs};
use crate::data::{load_samples, write_outputs, InputSpec, Labels, LoadOptions, OutputData};
use crate::deploy::{Firmware, Stats};

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub link: LinkArgs,
    /// Input samples (`.npz` keyed by input name, or `.npy` for a single-input model).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the outputs (`.npz` keyed by output name).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Run only the first N samples.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub link: LinkArgs,
    /// Input samples (default: `test.npz` beside the model, else zeros).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Number of inferences.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[command(flatten)]
    pub store: super::compare::StoreArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Mean, min and max of a latency figure over the samples.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub min: u64,
    pub max: u64,
}

impl Spread {
    pub fn of(v: &[u64]) -> Option<Spread> {
        if v.is_empty() {
            return None;
        }
        Some(Spread {
            mean: v.iter().sum::<u64>() as f64 / v.len() as f64,
            min: *v.iter().min().unwrap_or(&0),
            max: *v.iter().max().unwrap_or(&0),
        })
    }
}

/// Latency of a real board in milliseconds at its clock (`clock_hz`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Millis {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub clock_hz: u64,
}

impl Millis {
    pub fn of(cycles: &Spread, clock_hz: u64) -> Millis {
        let ms = |c: f64| c / clock_hz.max(1) as f64 * 1e3;
        Millis {
            mean: ms(cycles.mean),
            min: ms(cycles.min as f64),
            max: ms(cycles.max as f64),
            clock_hz,
        }
    }

    /// `(cycles, ms)` of the cycle counts of a real board; both `None` elsewhere.
    pub fn spread(cycles: &[u64], target: &super::Target) -> (Option<Spread>, Option<Millis>) {
        let spread = Spread::of(cycles);
        let ms = match target {
            super::Target::Board(b) => spread.as_ref().map(|c| Millis::of(c, b.clock_hz)),
            super::Target::Host => None,
        };
        (spread, ms)
    }

    /// `12345 cycles per inference (min 12300, max 12400) = 0.103 ms at 120 MHz`.
    pub fn describe(cycles: &Spread, ms: &Millis) -> String {
        format!(
            "{:.0} cycles per inference (min {}, max {}) = {:.3} ms at {} MHz",
            cycles.mean,
            cycles.min,
            cycles.max,
            ms.mean,
            ms.clock_hz as f64 / 1e6
        )
    }
}

#[derive(Serialize)]
struct RunReport<'a> {
    outputs: Option<String>,
    samples: usize,
    board: &'a str,
    precision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions_per_inference: Option<Spread>,
    /// Real boards: core clock cycles, and milliseconds at the board's clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    cycles_per_inference: Option<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ms_per_inference: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flash_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ram_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    firmware: Option<&'a Firmware>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<Stats>,
    /// Import notices (a symbolic dimension fixed, its value taken from the data).
    notices: &'a [String],
}

pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let (p, target) = super::prepare_with_data(&a.build, Some(&a.input))?;
    let opts = LoadOptions {
        labels: Labels::None,
        limit: a.limit,
    };
    let samples = load_samples(&a.input, &InputSpec::of_graph(&p.graph), &opts)?;
    crate::data::check_int8_inputs(&a.input, &samples, &p.graph)?;
    let mut runner = open_runner(&a.build, &a.link, &p, &target)?;
    let bar = super::progress::bar(samples.n as u64, "running");
    let mut outs: Vec<Vec<Vec<f32>>> = Vec::with_capacity(samples.n);
    let (mut instr, mut cycles) = (Vec::new(), Vec::new());
    for i in 0..samples.n {
        let r = runner.run(&samples.sample_all(i))?;
        outs.push(r.outputs);
        instr.extend(r.instructions);
        cycles.extend(r.cycles);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let stack = runner.stats()?;
    if let Some(path) = &a.output {
        let flat: Vec<Vec<f32>> = (0..p.graph.outputs.len())
            .map(|k| outs.iter().flat_map(|o| o[k].iter().copied()).collect())
            .collect();
        let data: Vec<OutputData> = p
            .graph
            .outputs
            .iter()
            .zip(&flat)
            .map(|(&t, v)| OutputData {
                name: &p.graph.tensors[t].name,
                shape: &p.graph.tensors[t].shape,
                values: v,
                elem: crate::data::OutElem::of(&p.graph.tensors[t]),
            })
            .collect();
        write_outputs(path, samples.n, &data)?;
    }
    let fw = runner.firmware();
    let (cycles_per_inference, ms_per_inference) = Millis::spread(&cycles, &target);
    let report = RunReport {
        outputs: a.output.as_ref().map(|p| p.display().to_string()),
        samples: samples.n,
        board: &a.build.board,
        precision: p.precision(),
        instructions_per_inference: Spread::of(&instr),
        cycles_per_inference,
        ms_per_inference,
        flash_bytes: fw.map(|f| f.sizes.flash_bytes),
        ram_bytes: fw.map(|f| f.sizes.ram_bytes),
        firmware: fw,
        stack,
        notices: &p.graph.meta.notices,
    };
    if a.format == Format::Json {
        return print_json(&report);
    }
    for n in report.notices {
        println!("notice    {n}");
    }
    println!("ran {} samples on {}", report.samples, report.board);
    if let Some(o) = &report.outputs {
        println!("outputs   {o}");
    }
    if let Some(s) = &report.instructions_per_inference {
        println!(
            "latency   {:.0} emulated instructions per inference (min {}, max {})",
            s.mean, s.min, s.max
        );
    }
    if let (Some(c), Some(ms)) = (&report.cycles_per_inference, &report.ms_per_inference) {
        println!("latency   {}", Millis::describe(c, ms));
    }
    if let Some(f) = fw {
        println!(
            "flash     {} bytes (weights {}, code {}); RAM {} bytes (arena {}, stack reserve {})",
            f.sizes.flash_bytes,
            f.sizes.flash_weights_bytes,
            f.sizes.flash_code_bytes,
            f.sizes.ram_bytes,
            f.sizes.ram_arena_bytes,
            f.sizes.ram_stack_reserve_bytes
        );
    }
    if let Some(s) = &report.stack {
        println!(
            "stack     {} bytes used of {} reserved",
            s.stack_used, s.stack_reserve
        );
    }
    Ok(())
}

/// How an int8 bench build was quantized (the validate report's `quantization`, in short).
#[derive(Serialize)]
struct BenchQuant {
    /// `ptq` or `model`.
    source: &'static str,
    recipe: String,
    calib_hash: Option<String>,
}

/// `kiln bench --format json` (schema `kiln.bench/1`).
#[derive(Serialize)]
struct BenchReport<'a> {
    schema: &'static str,
    model: String,
    board: &'a str,
    precision: &'static str,
    samples: usize,
    /// The input samples file; `null` for zeros.
    data: Option<String>,
    macs: u64,
    params: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions_per_inference: Option<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions_per_mac: Option<f64>,
    /// Real boards: core clock cycles, per MAC, and milliseconds at the board's clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    cycles_per_inference: Option<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cycles_per_mac: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ms_per_inference: Option<Millis>,
    arena_bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    firmware: Option<&'a Firmware>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<Stats>,
    quantization: Option<BenchQuant>,
    /// Per-layer latency on the device (the first sample, layer by layer); `null` on `host`.
    layers: Option<super::profile::Profile>,
    provenance: super::validate::Provenance,
    /// Where the run was stored; `null` with `--no-db`.
    stored: Option<super::compare::StoredInfo>,
}

pub fn bench(a: BenchArgs) -> anyhow::Result<()> {
    let (p, target) = super::prepare_with_data(&a.build, a.data.as_deref())?;
    // Opened before the (possibly long) run so a bad database fails fast.
    let mut store = a.store.open()?;
    let specs = InputSpec::of_graph(&p.graph);
    let default = p.model_path.with_file_name("test.npz");
    let data = a
        .data
        .clone()
        .or_else(|| default.exists().then_some(default));
    let n = a.limit.max(1);
    let inputs: Vec<Vec<Vec<f32>>> = match &data {
        Some(path) => {
            let opts = LoadOptions {
                labels: Labels::None,
                limit: Some(n),
            };
            let s = load_samples(path, &specs, &opts)?;
            // Latency does not depend on the values: float samples of an int8 input are
            // quantized with its parameters.
            (0..s.n)
                .map(|i| {
                    s.sample_all(i)
                        .into_iter()
                        .zip(&p.graph.inputs)
                        .map(|(v, &t)| crate::data::as_input_values(&p.graph.tensors[t], v))
                        .collect()
                })
                .collect()
        }
        None => vec![
            specs
                .iter()
                .map(|s| vec![0.0; s.shape.iter().product()])
                .collect();
            n
        ],
    };
    let mut runner = open_runner(&a.build, &a.link, &p, &target)?;
    let (mut instr, mut cycles) = (Vec::new(), Vec::new());
    let bar = super::progress::bar(inputs.len() as u64, "benchmarking");
    for sample in &inputs {
        let refs: Vec<&[f32]> = sample.iter().map(Vec::as_slice).collect();
        let r = runner.run(&refs)?;
        instr.extend(r.instructions);
        cycles.extend(r.cycles);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let spread = Spread::of(&instr);
    let (cycles_per_inference, ms_per_inference) = Millis::spread(&cycles, &target);
    let first: Vec<&[f32]> = inputs[0].iter().map(Vec::as_slice).collect();
    let layers = super::profile::measure(
        &p,
        &target,
        runner.as_mut(),
        &first,
        instr.first().copied(),
        cycles.first().copied(),
    )?;
    let stack = runner.stats()?;
    let macs = p.graph.total_macs();
    let provenance = super::validate::provenance(&p)?;
    let meta = crate::store::RunMeta {
        model_hash: Some(provenance.model_sha256.clone()),
        git_commit: provenance.git_commit.clone(),
    };
    let mut report = BenchReport {
        schema: crate::store::BENCH_SCHEMA,
        model: a.build.model.display().to_string(),
        board: &a.build.board,
        precision: p.precision(),
        samples: inputs.len(),
        data: data.as_ref().map(|d| d.display().to_string()),
        macs,
        params: p.graph.param_count(),
        instructions_per_mac: spread
            .as_ref()
            .filter(|_| macs > 0)
            .map(|s| s.mean / macs as f64),
        instructions_per_inference: spread,
        cycles_per_mac: cycles_per_inference
            .as_ref()
            .filter(|_| macs > 0)
            .map(|s| s.mean / macs as f64),
        cycles_per_inference,
        ms_per_inference,
        arena_bytes: p.plan.stats.arena_bytes,
        firmware: runner.firmware(),
        stack,
        quantization: p.quant.as_ref().map(|q| BenchQuant {
            source: q.source,
            recipe: q.recipe(),
            calib_hash: q.calib_hash.clone(),
        }),
        layers,
        provenance,
        stored: None,
    };
    if let Some(store) = &mut store {
        let db = store.path().display().to_string();
        let text = serde_json::to_string_pretty(&report)?;
        // One transaction: the run is stored with the report naming its id, or not at all.
        store.insert_with(&text, &meta, |id| {
            report.stored = Some(super::compare::StoredInfo { db, id });
            serde_json::to_string_pretty(&report).map(Some)
        })?;
    }
    // The per-layer figures must add up to the whole inference (DESIGN.md, measurement).
    let layer_check = report
        .layers
        .as_ref()
        .and_then(super::profile::Profile::failure);
    if a.format == Format::Json {
        print_json(&report)?;
        return match layer_check {
            Some(why) => Err(super::CheckFailed(why).into()),
            None => Ok(()),
        };
    }
    println!(
        "model     {} on {} ({} samples)",
        report.model, report.board, report.samples
    );
    println!("MACs      {}   params {}", report.macs, report.params);
    match (
        &report.instructions_per_inference,
        &report.cycles_per_inference,
        &report.ms_per_inference,
    ) {
        (Some(s), _, _) => println!(
            "latency   {:.0} emulated instructions per inference (min {}, max {}), {:.2} per MAC",
            s.mean,
            s.min,
            s.max,
            report.instructions_per_mac.unwrap_or(0.0)
        ),
        (None, Some(c), Some(ms)) => println!(
            "latency   {}, {:.2} cycles per MAC",
            Millis::describe(c, ms),
            report.cycles_per_mac.unwrap_or(0.0)
        ),
        _ => println!("latency   not measured on the host board"),
    }
    if let Some(f) = report.firmware {
        println!(
            "flash     {} bytes (weights {}, code {}); RAM {} bytes (arena {}, stack reserve {}, other {})",
            f.sizes.flash_bytes,
            f.sizes.flash_weights_bytes,
            f.sizes.flash_code_bytes,
            f.sizes.ram_bytes,
            f.sizes.ram_arena_bytes,
            f.sizes.ram_stack_reserve_bytes,
            f.sizes.ram_other_bytes
        );
    }
    if let Some(s) = &report.stack {
        println!(
            "stack     {} bytes used of {} reserved",
            s.stack_used, s.stack_reserve
        );
    }
    if let Some(l) = &report.layers {
        l.print();
    }
    if let Some(s) = &report.stored {
        println!("stored    run {} in {}", s.id, s.db);
    }
    match layer_check {
        Some(why) => Err(super::CheckFailed(why).into()),
        None => Ok(()),
    }
}
