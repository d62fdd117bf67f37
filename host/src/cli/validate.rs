//! `kiln validate`: device vs host simulation vs float model vs labels.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::run::Spread;
use super::{open_runner, print_json, BuildArgs, CheckFailed, Format, LinkArgs};
use crate::data::{load_samples, InputSpec, Labels, LoadOptions};
use crate::deploy::{Firmware, Stats};
use crate::metrics::{compare, confusion, top_k, Compare, Confusion};
use crate::quantize::lower::LayerPrecision;
use crate::reference::Reference;
use crate::validate::{accuracy, agreement, Agreement};

/// Version of the validate report format (`"schema"` field); bumped on any incompatible change.
pub const REPORT_SCHEMA: &str = crate::gate::REPORT_SCHEMA;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub link: LinkArgs,
    /// Samples (`.npz` keyed by input name, plus labels for classifiers).
    #[arg(long)]
    pub data: PathBuf,
    /// Key of the labels array in `--data`.
    #[arg(long)]
    pub labels: Option<String>,
    /// Validate only the first N samples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write the report: `F.json` (the versioned JSON schema) or `F.html` (one self-contained
    /// page).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML file with one test case per check.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also compare every layer's output on the device with the float model's matching tensor
    /// (SNR, cosine) and time every layer.
    #[arg(long)]
    pub per_layer: bool,
    /// Time every layer on the device (sample 0): instructions (cycles on real boards), MACs and
    /// instructions per MAC per layer, checked to add up to the whole inference.
    #[arg(long)]
    pub profile: bool,
    /// Samples for `--per-layer` (the first N of `--data`).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub per_layer_samples: usize,
    /// `--per-layer` names the first layer whose SNR falls below this many dB.
    #[arg(long, default_value_t = 25.0, value_name = "DB")]
    pub snr_threshold_db: f64,
    #[command(flatten)]
    pub store: super::compare::ValidateStoreArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Per model output: how the device compares with the host simulation and the float model.
#[derive(Serialize)]
pub struct OutputReport {
    pub name: String,
    /// One LSB of an int8-computed output (the scale of its last quantization); `null` for f32.
    pub lsb: Option<f32>,
    /// Largest device vs host difference in LSB (int8 outputs; must be 0).
    pub max_lsb_device_vs_host: Option<f64>,
    pub device_vs_host: Agreement,
    pub device_vs_float: Agreement,
    pub host_vs_float: Agreement,
}

#[derive(Serialize)]
pub struct Accuracy {
    pub device: f64,
    pub host: f64,
    pub float: f64,
}

/// One row of the three-way comparison (first output): device vs labels, float model vs labels,
/// device vs float model. Against labels the reference is the one-hot label vector.
#[derive(Serialize)]
pub struct Row {
    pub name: &'static str,
    pub output: String,
    pub top1: Option<f64>,
    /// Top-5 accuracy, for classifiers with more than 5 classes.
    pub top5: Option<f64>,
    /// What the error metrics compare: `outputs`, or `softmax` of outputs that are not
    /// probabilities (logits) in the label rows.
    pub basis: &'static str,
    #[serde(flatten)]
    pub metrics: Compare,
}

/// Quantization provenance of an int8 build.
#[derive(Serialize)]
pub struct QuantReport {
    /// `ptq`: kiln's own calibration; `model`: the model's own QDQ / QLinear parameters.
    pub source: &'static str,
    pub recipe: String,
    pub calib_method: Option<String>,
    pub calib_hash: Option<String>,
    pub calib_samples: Option<usize>,
    pub weight_bits: u8,
    pub weight_granularity: &'static str,
    pub int8_layers: usize,
    pub f32_layers: usize,
    pub layers: Vec<LayerPrecision>,
    /// `--int8-io`: the int8 parameters of the model's inputs and outputs; empty otherwise.
    pub io: Vec<crate::quantize::lower::IoQuant>,
}

/// `--per-layer`: every layer's output on the device against the float model's matching tensor.
#[derive(Serialize)]
pub struct PerLayer {
    pub samples: usize,
    pub threshold_db: f64,
    /// The first layer (in execution order) whose SNR is below the threshold.
    pub first_below: Option<String>,
    pub layers: Vec<LayerDiff>,
    /// Mean emulated instructions of all layers run one by one up to the last, and of the
    /// whole inference timed separately on the same samples (devices only).
    pub instructions_layers_total: Option<f64>,
    pub instructions_whole: Option<f64>,
}

#[derive(Serialize)]
pub struct LayerDiff {
    /// The ONNX node (or the conversion kiln inserted).
    pub node: String,
    pub op_type: String,
    /// Kernel family and kernel, e.g. `int8 Conv2d`.
    pub kernel: String,
    /// The layer's output tensor.
    pub output: String,
    /// `10·log10(Σ ref² / Σ (device − ref)²)` over the samples; `null` when the device equals
    /// the float model exactly (infinite) or the layer has no float counterpart.
    pub snr_db: Option<f64>,
    /// The device equals the float model exactly on this layer.
    pub identical: bool,
    pub cosine: Option<f64>,
    /// Mean emulated instructions of this layer alone (devices only).
    pub instructions: Option<f64>,
}

#[derive(Serialize)]
pub struct Provenance {
    pub producer: String,
    pub opset: i64,
    pub model_sha256: String,
    pub kiln_version: &'static str,
    pub git_commit: Option<String>,
}

#[derive(Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

#[derive(Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub model: String,
    pub board: String,
    pub precision: &'static str,
    pub samples: usize,
    pub data: String,
    pub accuracy: Option<Accuracy>,
    /// Device vs labels, float model vs labels, device vs float model (first output).
    pub rows: Vec<Row>,
    /// Device confusion matrix (rows: label, columns: arg-max), classifiers with labels.
    pub confusion: Option<Confusion>,
    pub outputs: Vec<OutputReport>,
    pub instructions_per_inference: Option<Spread>,
    /// Real boards: core clock cycles per inference, and milliseconds at the board's clock
    /// (`null` elsewhere).
    pub cycles_per_inference: Option<Spread>,
    pub ms_per_inference: Option<super::run::Millis>,
    /// The first sample run again at the end gave the same outputs and instruction count.
    pub repeat_identical: bool,
    pub stack: Option<Stats>,
    pub firmware: Option<Firmware>,
    pub quantization: Option<QuantReport>,
    /// `--per-layer` results; `null` without it.
    pub per_layer: Option<PerLayer>,
    /// `--profile`: per-layer latency on the device (sample 0); `null` without it or on `host`.
    pub profile: Option<super::profile::Profile>,
    pub provenance: Provenance,
    pub notices: Vec<String>,
    pub checks: Vec<Check>,
    pub passed: bool,
    /// `--baseline` and the gate limits; `null` without a baseline.
    pub baseline: Option<super::compare::BaselineInfo>,
    /// Regression gates against the baseline (also added to `checks`, skipped ones excepted).
    pub gates: Vec<crate::gate::Gate>,
    /// Where the run was stored; `null` with `--no-db`.
    pub stored: Option<super::compare::StoredInfo>,
}

/// Painting cannot tell a stack that just fits from one that overflowed its reserve: the whole
/// reserve used is a failure.
fn stack_check(st: &Stats) -> Check {
    Check {
        name: "stack_within_reserve",
        passed: st.stack_used < st.stack_reserve,
        detail: format!(
            "stack high-water mark {} of {} reserved bytes",
            st.stack_used, st.stack_reserve
        ),
    }
}

fn per_output(all: &[Vec<Vec<f32>>], k: usize) -> Vec<Vec<f32>> {
    all.iter().map(|s| s[k].clone()).collect()
}

pub fn run(a: ValidateArgs) -> anyhow::Result<()> {
    let (p, target) = super::prepare_with_data(&a.build, Some(&a.data))?;
    let mut gating = super::compare::Gating::open(&a.store, &a.build)?;
    let opts = LoadOptions {
        labels: match &a.labels {
            Some(k) => Labels::Key(k.clone()),
            None => Labels::Default,
        },
        limit: a.limit,
    };
    let samples = load_samples(&a.data, &InputSpec::of_graph(&p.graph), &opts)?;
    crate::data::check_int8_inputs(&a.data, &samples, &p.graph)?;
    let (reference, reference_note) = Reference::for_prepared(&p)?;
    // `--int8-io`: the float model takes and gives float values; compare on dequantized ones.
    let io_in = int8_io(&p, false);
    let io_out = int8_io(&p, true);
    let deq_all = |outs: Vec<Vec<f32>>| -> Vec<Vec<f32>> {
        outs.iter()
            .zip(&io_out)
            .map(|(v, q)| dequantized(v, *q))
            .collect()
    };
    let mut host = crate::deploy::HostRunner::new(&p);
    let mut runner = open_runner(&a.build, &a.link, &p, &target)?;

    let bar = super::progress::bar(samples.n as u64, "validating");
    let (mut dev, mut sim, mut flt, mut instr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cycles = Vec::new();
    for i in 0..samples.n {
        let inputs = samples.sample_all(i);
        let r = runner.run(&inputs)?;
        dev.push(deq_all(r.outputs));
        instr.extend(r.instructions);
        cycles.extend(r.cycles);
        sim.push(deq_all(host.run(&inputs).outputs));
        let ref_inputs: Vec<Vec<f32>> = inputs
            .iter()
            .zip(&io_in)
            .map(|(v, q)| dequantized(v, *q))
            .collect();
        let ref_refs: Vec<&[f32]> = ref_inputs.iter().map(Vec::as_slice).collect();
        flt.push(reference.run_flat(&ref_refs)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let per_layer = if a.per_layer {
        Some(per_layer(&a, &p, &samples, runner.as_mut(), &instr)?)
    } else {
        None
    };
    let profile = if a.profile && samples.n > 0 {
        let first = samples.sample_all(0);
        super::profile::measure(
            &p,
            &target,
            runner.as_mut(),
            &first,
            instr.first().copied(),
            cycles.first().copied(),
        )?
    } else {
        None
    };
    let again = runner.run(&samples.sample_all(0))?;
    let repeat_identical =
        deq_all(again.outputs) == dev[0] && again.instructions == instr.first().copied();
    let stack = runner.stats()?;

    let outputs: Vec<OutputReport> = p
        .graph
        .outputs
        .iter()
        .enumerate()
        .map(|(k, &t)| {
            let (d, h, f) = (
                per_output(&dev, k),
                per_output(&sim, k),
                per_output(&flt, k),
            );
            let lsb = io_out[k]
                .map(|(s, _)| s)
                .or_else(|| output_lsb(&p.graph, t));
            OutputReport {
                name: p.graph.tensors[t].name.clone(),
                lsb,
                max_lsb_device_vs_host: lsb.map(|l| crate::metrics::lsb_diff(&d, &h, l).max_lsb),
                device_vs_host: agreement(&d, &h),
                device_vs_float: agreement(&d, &f),
                host_vs_float: agreement(&h, &f),
            }
        })
        .collect();
    let accuracy = samples.labels.as_ref().map(|labels| Accuracy {
        device: accuracy(&per_output(&dev, 0), labels),
        host: accuracy(&per_output(&sim, 0), labels),
        float: accuracy(&per_output(&flt, 0), labels),
    });

    let rows = three_rows(
        &p.graph.tensors[p.graph.outputs[0]].name,
        &per_output(&dev, 0),
        &per_output(&flt, 0),
        samples.labels.as_deref(),
    );
    let confusion = samples.labels.as_ref().and_then(|labels| {
        let d = per_output(&dev, 0);
        let classes = d.first().map_or(0, |v| v.len());
        (classes > 1).then(|| confusion(&d, labels, classes))
    });

    let mut checks = vec![Check {
        name: "device_equals_host_simulation",
        passed: outputs.iter().all(|o| o.device_vs_host.bit_exact()),
        detail: outputs
            .iter()
            .map(|o| {
                let lsb = o
                    .max_lsb_device_vs_host
                    .map(|m| format!(", max difference {m} LSB"))
                    .unwrap_or_default();
                format!(
                    "{}: {} of {} elements differ{lsb}",
                    o.name, o.device_vs_host.mismatched, o.device_vs_host.elements
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }];
    // The f32 numerical contract; an int8 build is judged by accuracy and its gates instead.
    if p.quant.is_none() {
        checks.push(Check {
            name: "device_within_f32_tolerance_of_float_model",
            passed: outputs
                .iter()
                .all(|o| o.device_vs_float.within_f32_tolerance()),
            detail: outputs
                .iter()
                .map(|o| {
                    format!(
                        "{}: {} elements outside 1e-5 + 1e-4*|ref|, max abs error {:.3e}",
                        o.name, o.device_vs_float.out_of_tolerance, o.device_vs_float.max_abs_error
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    if let Some(pl) = &per_layer {
        if let (Some(layers), Some(whole)) = (pl.instructions_layers_total, pl.instructions_whole) {
            // The layer-by-layer runs add one comparison per layer; a timer tick of slack.
            let slack = whole * 0.01 + 2.0 * 40.0;
            checks.push(Check {
                name: "per_layer_timing_matches_whole_inference",
                passed: (layers - whole).abs() <= slack,
                detail: format!(
                    "layers run one by one: {layers:.0} instructions, whole inference: \
                     {whole:.0} (mean of {} samples)",
                    pl.samples
                ),
            });
        }
    }
    if let Some(pr) = profile.as_ref().filter(|pr| pr.checked()) {
        checks.push(Check {
            name: "profile_layers_add_up_to_whole_inference",
            passed: pr.failure().is_none(),
            detail: format!(
                "per-layer sum {} vs whole inference {} ({:.2} % apart, at most {} %)",
                pr.total_instructions,
                pr.whole_instructions,
                pr.difference_pct,
                super::profile::SUM_TOLERANCE_PCT
            ),
        });
    }
    if runner.firmware().is_some() {
        checks.push(Check {
            name: "repeated_run_identical",
            passed: repeat_identical,
            // A real board's cycle counts may vary (caches, flash wait states): outputs only.
            detail: if cycles.is_empty() {
                "sample 0 run again gives the same outputs and instruction count".into()
            } else {
                "sample 0 run again gives the same outputs".into()
            },
        });
    }
    checks.extend(stack.as_ref().map(stack_check));
    let passed = checks.iter().all(|c| c.passed);
    let mut report = Report {
        schema: REPORT_SCHEMA,
        model: a.build.model.display().to_string(),
        board: a.build.board.clone(),
        precision: p.precision(),
        samples: samples.n,
        data: a.data.display().to_string(),
        accuracy,
        rows,
        confusion,
        outputs,
        instructions_per_inference: Spread::of(&instr),
        cycles_per_inference: Spread::of(&cycles),
        ms_per_inference: super::run::Millis::spread(&cycles, &target).1,
        repeat_identical,
        stack,
        firmware: runner.firmware().cloned(),
        quantization: quant_report(&p),
        per_layer,
        profile,
        provenance: provenance(&p)?,
        notices: p
            .graph
            .meta
            .notices
            .iter()
            .cloned()
            .chain(reference_note)
            .collect(),
        checks,
        passed,
        baseline: None,
        gates: Vec::new(),
        stored: None,
    };
    gating.finish(&mut report)?;
    if let Some(path) = &a.report {
        // `.html`: one self-contained page; anything else: the JSON report.
        let html = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        let text = if html {
            crate::report_html::render(&serde_json::to_value(&report)?)
        } else {
            serde_json::to_string_pretty(&report)?
        };
        std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write report {}: {e}", path.display()))?;
    }
    if let Some(path) = &a.junit {
        std::fs::write(path, junit(&report))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    if a.format == Format::Json {
        print_json(&report)?;
    } else {
        render(&report);
    }
    if !report.passed {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        return Err(CheckFailed(format!("validation failed: {}", failed.join(", "))).into());
    }
    Ok(())
}

/// `--per-layer`: runs the first samples layer by layer on the runner and compares each layer's
/// output with the float graph's matching tensor (kiln's f32 simulation of the optimized float
/// model, which is within the f32 contract of tract).
fn per_layer(
    a: &ValidateArgs,
    p: &crate::deploy::Prepared,
    samples: &crate::data::Samples,
    runner: &mut dyn crate::deploy::Runner,
    whole: &[u64],
) -> anyhow::Result<PerLayer> {
    let n = a.per_layer_samples.min(samples.n);
    let g = &p.graph;
    let fg = &p.float_graph;
    let mut fsim = crate::sim::Simulator::new(fg, &p.float_plan);
    let layers: Vec<usize> = (0..g.nodes.len()).collect();
    let io_in = int8_io(p, false);
    // Per layer: Σ ref², Σ (dev - ref)², Σ dev·ref, Σ dev², instructions.
    let mut acc = vec![[0f64; 5]; layers.len()];
    let mut timed = false;
    let bar = super::progress::bar(n as u64, "per-layer");
    for s in 0..n {
        let inputs = samples.sample_all(s);
        let mut float: std::collections::HashMap<usize, Vec<f32>> = Default::default();
        // An int8 input of an int8-I/O build is the float model's input quantized.
        let finputs: Vec<Vec<f32>> = inputs
            .iter()
            .zip(&io_in)
            .map(|(v, q)| dequantized(v, *q))
            .collect();
        let finputs: Vec<&[f32]> = finputs.iter().map(Vec::as_slice).collect();
        fsim.run_observed(&finputs, &mut |t, v| {
            float.insert(t, v.to_vec());
        });
        let outs = runner.run_layers(&inputs, &layers)?;
        let mut prev = 0u64;
        for (l, out) in outs.iter().enumerate() {
            let t = g.nodes[l].outputs[0];
            let src = if t < fg.tensors.len() {
                Some(t)
            } else {
                g.tensors[t].origin
            };
            if let Some(r) = src.and_then(|t| float.get(&t)) {
                if r.len() == out.values.len() {
                    for (&d, &f) in out.values.iter().zip(r) {
                        let (d, f) = (d as f64, f as f64);
                        acc[l][0] += f * f;
                        acc[l][1] += (d - f) * (d - f);
                        acc[l][2] += d * f;
                        acc[l][3] += d * d;
                    }
                } else {
                    acc[l][0] = f64::NAN;
                }
            } else {
                acc[l][0] = f64::NAN;
            }
            if let Some(until) = out.instructions_until {
                timed = true;
                acc[l][4] += until.saturating_sub(prev) as f64;
                prev = until;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let nf = n.max(1) as f64;
    let mut first_below = None;
    let diffs: Vec<LayerDiff> = layers
        .iter()
        .map(|&l| {
            let node = &g.nodes[l];
            let [r2, e2, dr, d2, instr] = acc[l];
            let compared = !r2.is_nan();
            let identical = compared && e2 == 0.0;
            let snr_db = (compared && !identical && r2 > 0.0).then(|| 10.0 * (r2 / e2).log10());
            let cosine = (compared && r2 > 0.0 && d2 > 0.0).then(|| dr / (r2.sqrt() * d2.sqrt()));
            if first_below.is_none() && snr_db.is_some_and(|s| s < a.snr_threshold_db) {
                first_below = Some(node.name.clone());
            }
            LayerDiff {
                node: node.name.clone(),
                op_type: node.op_type.clone(),
                kernel: node.op.describe(),
                output: g.tensors[node.outputs[0]].name.clone(),
                snr_db,
                identical,
                cosine,
                instructions: timed.then(|| instr / nf),
            }
        })
        .collect();
    let total = timed.then(|| acc.iter().map(|a| a[4]).sum::<f64>() / nf);
    let whole = (timed && n > 0 && whole.len() >= n)
        .then(|| whole[..n].iter().sum::<u64>() as f64 / n as f64);
    Ok(PerLayer {
        samples: n,
        threshold_db: a.snr_threshold_db,
        first_below,
        layers: diffs,
        instructions_layers_total: total,
        instructions_whole: whole,
    })
}

/// Per graph input (`outputs` false) or output: the `(scale, zero point)` of one the build made
/// int8 where the float model has f32 (`--int8-io`), `None` for the others.
fn int8_io(p: &crate::deploy::Prepared, outputs: bool) -> Vec<Option<(f32, i32)>> {
    let (ids, float_ids) = if outputs {
        (&p.graph.outputs, &p.float_graph.outputs)
    } else {
        (&p.graph.inputs, &p.float_graph.inputs)
    };
    ids.iter()
        .zip(float_ids)
        .map(|(&t, &f)| {
            let q = &p.graph.tensors[t];
            (q.dtype == crate::ir::DType::I8
                && p.float_graph.tensors[f].dtype == crate::ir::DType::F32)
                .then(|| q.quant.as_ref().map_or((1.0, 0), |q| q.one()))
        })
        .collect()
}

/// `v` dequantized with `q` (integer values), or as it is.
fn dequantized(v: &[f32], q: Option<(f32, i32)>) -> Vec<f32> {
    match q {
        Some((s, z)) => v
            .iter()
            .map(|&x| kiln_kernels::i8::dequantize_f32(x as i8, s, z))
            .collect(),
        None => v.to_vec(),
    }
}

/// One LSB of graph output `t`: the scale of its last quantization when it is the
/// dequantization of an int8 tensor, 1 for an int8 output (its integers).
fn output_lsb(g: &crate::ir::Graph, t: usize) -> Option<f32> {
    if g.tensors[t].dtype == crate::ir::DType::I8 {
        return Some(1.0);
    }
    g.nodes
        .iter()
        .rev()
        .find(|n| n.outputs.contains(&t))
        .and_then(|n| match n.op {
            crate::ir::Op::Dequantize(d) => Some(d.scale),
            _ => None,
        })
}

fn softmax(v: &[f32]) -> Vec<f32> {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = v.iter().map(|&x| ((x - m) as f64).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|&x| (x / s) as f32).collect()
}

fn one_hot(labels: &[i64], classes: usize) -> Vec<Vec<f32>> {
    labels
        .iter()
        .map(|&l| {
            let mut v = vec![0f32; classes];
            if let Some(x) = usize::try_from(l).ok().and_then(|i| v.get_mut(i)) {
                *x = 1.0;
            }
            v
        })
        .collect()
}

/// The three comparison rows of the first output (the label rows only with labels).
fn three_rows(
    output: &str,
    dev: &[Vec<f32>],
    flt: &[Vec<f32>],
    labels: Option<&[i64]>,
) -> Vec<Row> {
    let classes = dev.first().map_or(0, |v| v.len());
    let mut rows = Vec::new();
    if let Some(labels) = labels {
        let hot = one_hot(labels, classes);
        let probs = |o: &[Vec<f32>]| {
            o.iter().all(|v| {
                v.iter().all(|x| (0.0..=1.0).contains(x))
                    && (v.iter().sum::<f32>() - 1.0).abs() < 1e-2
            })
        };
        let basis = if probs(dev) && probs(flt) {
            "outputs"
        } else {
            "softmax"
        };
        for (name, out) in [("device_vs_labels", dev), ("float_vs_labels", flt)] {
            let m = if basis == "softmax" {
                compare(&out.iter().map(|v| softmax(v)).collect::<Vec<_>>(), &hot)
            } else {
                compare(out, &hot)
            };
            rows.push(Row {
                name,
                output: output.to_string(),
                top1: Some(top_k(out, labels, 1)),
                top5: (classes > 5).then(|| top_k(out, labels, 5)),
                basis,
                metrics: m,
            });
        }
    }
    rows.push(Row {
        name: "device_vs_float",
        output: output.to_string(),
        top1: (classes > 1).then(|| crate::metrics::top1_agreement(dev, flt)),
        top5: None,
        basis: "outputs",
        metrics: compare(dev, flt),
    });
    rows
}

fn quant_report(p: &crate::deploy::Prepared) -> Option<QuantReport> {
    let q = p.quant.as_ref()?;
    Some(QuantReport {
        source: q.source,
        recipe: q.recipe(),
        calib_method: q.method.map(|m| m.to_string()),
        calib_hash: q.calib_hash.clone(),
        calib_samples: q.calib_samples,
        weight_bits: q.weights.bits,
        weight_granularity: if q.weights.per_channel {
            "channel"
        } else {
            "tensor"
        },
        int8_layers: q.report.int8_layers(),
        f32_layers: q.report.layers.len() - q.report.int8_layers(),
        layers: q.report.layers.clone(),
        io: q.report.io.clone(),
    })
}

/// The model file's provenance (validate and bench reports).
pub(crate) fn provenance(p: &crate::deploy::Prepared) -> anyhow::Result<Provenance> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(&p.model_path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.model_path.display()))?;
    Ok(Provenance {
        producer: p.graph.meta.producer.clone(),
        opset: p.graph.meta.opset,
        model_sha256: hex::encode(Sha256::digest(&bytes)),
        kiln_version: env!("CARGO_PKG_VERSION"),
        git_commit: crate::store::git_commit(),
    })
}

fn render(r: &Report) {
    println!(
        "validated {} on {} with {} samples from {}",
        r.model, r.board, r.samples, r.data
    );
    for n in &r.notices {
        println!("notice    {n}");
    }
    if let Some(acc) = &r.accuracy {
        println!(
            "accuracy  device {:.2} %   host simulation {:.2} %   float model {:.2} %",
            acc.device * 100.0,
            acc.host * 100.0,
            acc.float * 100.0
        );
    }
    if let Some(q) = &r.quantization {
        println!(
            "int8      {} ({} layers int8, {} f32)",
            q.recipe, q.int8_layers, q.f32_layers
        );
        for io in &q.io {
            println!(
                "          int8 {} `{}`: scale {}, zero point {}",
                io.role, io.name, io.scale, io.zero_point
            );
        }
        for l in q.layers.iter().filter(|l| l.kernel == "f32") {
            println!(
                "          f32 fallback: {} ({}): {}",
                l.node,
                l.op_type,
                l.reason.as_deref().unwrap_or("")
            );
        }
    }
    if !r.rows.is_empty() {
        println!(
            "{:<28} {:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>9}",
            "", "top-1", "top-5", "RMSE", "MAE", "rel. L2", "cosine", "NSE"
        );
        let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}%", v * 100.0));
        let num = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.4}"));
        for row in &r.rows {
            println!(
                "{:<28} {:>8} {:>8} {:>10.4e} {:>10.4e} {:>10} {:>10} {:>9}",
                format!(
                    "{}{}",
                    row.name.replace('_', " "),
                    if row.basis == "softmax" {
                        " (softmax)"
                    } else {
                        ""
                    }
                ),
                pct(row.top1),
                pct(row.top5),
                row.metrics.rmse,
                row.metrics.mae,
                num(row.metrics.rel_l2),
                num(row.metrics.cosine),
                num(row.metrics.nse)
            );
        }
    }
    for o in &r.outputs {
        println!(
            "{:<9} vs host: {}   vs float: top-1 agreement {:.2} %, max abs error {:.3e}, RMSE {:.3e}, cosine {:.6}",
            o.name,
            if o.device_vs_host.bit_exact() { "bit-exact".to_string() } else { format!("{} elements differ", o.device_vs_host.mismatched) },
            o.device_vs_float.top1_agreement * 100.0,
            o.device_vs_float.max_abs_error,
            o.device_vs_float.rmse,
            o.device_vs_float.cosine_similarity
        );
    }
    if let Some(pl) = &r.per_layer {
        println!(
            "per-layer ({} samples; SNR threshold {} dB){}",
            pl.samples,
            pl.threshold_db,
            pl.first_below
                .as_ref()
                .map(|n| format!(": first layer below: {n}"))
                .unwrap_or_default()
        );
        for l in &pl.layers {
            let snr = match (l.snr_db, l.identical) {
                (_, true) => "identical".to_string(),
                (Some(s), _) => format!("{s:.1} dB"),
                (None, _) => "-".to_string(),
            };
            println!(
                "  {:<28} {:<18} {:>11} {:>10} {:>12}",
                l.node,
                l.kernel,
                snr,
                l.cosine.map_or("-".into(), |c| format!("{c:.5}")),
                l.instructions
                    .map_or(String::new(), |i| format!("{i:.0} instr"))
            );
        }
    }
    if let Some(pr) = &r.profile {
        println!("profile (sample 0, on the device)");
        pr.print();
    }
    if let Some(s) = &r.instructions_per_inference {
        println!(
            "latency   {:.0} emulated instructions per inference (min {}, max {}); repeated run {}",
            s.mean,
            s.min,
            s.max,
            if r.repeat_identical {
                "identical"
            } else {
                "DIFFERENT"
            }
        );
    }
    if let (Some(c), Some(ms)) = (&r.cycles_per_inference, &r.ms_per_inference) {
        println!(
            "latency   {}; repeated run {}",
            super::run::Millis::describe(c, ms),
            if r.repeat_identical {
                "identical"
            } else {
                "DIFFERENT"
            }
        );
    }
    if let Some(s) = &r.stack {
        println!(
            "stack     {} bytes used of {} reserved",
            s.stack_used, s.stack_reserve
        );
    }
    if let Some(f) = &r.firmware {
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
    if let Some(s) = &r.stored {
        println!("stored    run {} in {}", s.id, s.db);
    }
    for c in &r.checks {
        println!(
            "{}  {}: {}",
            if c.passed { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML: one test case per check.
fn junit(r: &Report) -> String {
    let failures = r.checks.iter().filter(|c| !c.passed).count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s += &format!(
        "<testsuite name=\"kiln validate {} on {}\" tests=\"{}\" failures=\"{}\">\n",
        xml_escape(&r.model),
        xml_escape(&r.board),
        r.checks.len(),
        failures
    );
    for c in &r.checks {
        s += &format!(
            "  <testcase classname=\"kiln.validate\" name=\"{}\">",
            c.name
        );
        if !c.passed {
            s += &format!("<failure message=\"{}\"/>", xml_escape(&c.detail));
        }
        s += "</testcase>\n";
    }
    s += "</testsuite>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_that_reached_its_reserve_fails() {
        let st = |used| Stats {
            stack_used: used,
            stack_reserve: 4096,
        };
        assert!(stack_check(&st(4092)).passed);
        let c = stack_check(&st(4096));
        assert!(
            !c.passed && c.detail.contains("4096 of 4096"),
            "{}",
            c.detail
        );
    }
}
