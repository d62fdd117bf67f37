//! `kiln inspect MODEL`: inputs, outputs, ops and their support, parameters, MACs, layers.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{parse_input_shapes, print_json, Format};
use crate::import::{self, ImportOptions};
use crate::ir;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The model file (ONNX or TFLite).
    pub model: PathBuf,
    /// Fixed shape for an input with symbolic dims, e.g. `input=1x49x10x1` (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shapes: Vec<String>,
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Serialize)]
struct Io {
    name: String,
    shape: Vec<usize>,
    dtype: &'static str,
    /// The model's own quantization of an int8 input or output.
    #[serde(skip_serializing_if = "Option::is_none")]
    scale: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zero_point: Option<i32>,
}

#[derive(Serialize)]
struct Layer {
    name: String,
    op_type: String,
    kernel: String,
    output_shape: Vec<usize>,
    params: usize,
    macs: u64,
}

#[derive(Serialize)]
struct Report {
    model: String,
    producer: String,
    opset: i64,
    inputs: Vec<Io>,
    outputs: Vec<Io>,
    supported: bool,
    ops: BTreeMap<String, usize>,
    params: usize,
    macs: u64,
    /// The layers as deployed: the graph after `optimize` (folded BatchNorm, fused activations,
    /// removed copies), whose rewrites `optimizations` lists.
    layers: Vec<Layer>,
    optimizations: Vec<String>,
    notices: Vec<String>,
}

pub fn run(a: InspectArgs) -> anyhow::Result<()> {
    let opts = ImportOptions {
        input_shapes: parse_input_shapes(&a.input_shapes)?,
    };
    let imported = import::import(&a.model, &opts)?;
    let g = &imported.graph;
    let io = |ts: &[usize]| -> Vec<Io> {
        ts.iter()
            .map(|&t| {
                let tensor = &g.tensors[t];
                let dtype = match (tensor.dtype, tensor.io) {
                    (_, Some(ir::IoType::Uint8)) => "uint8",
                    (_, Some(ir::IoType::Int32)) => "int32",
                    (ir::DType::I8, None) => "int8",
                    (ir::DType::F32, None) => "float32",
                };
                let q = (tensor.dtype == ir::DType::I8)
                    .then(|| tensor.quant.as_ref().map(|q| q.one()))
                    .flatten();
                Io {
                    name: tensor.name.clone(),
                    shape: tensor.shape.clone(),
                    dtype,
                    scale: q.map(|q| q.0),
                    zero_point: q.map(|q| q.1),
                }
            })
            .collect()
    };
    let mut ops = BTreeMap::new();
    for n in &g.nodes {
        *ops.entry(n.op_type.clone()).or_insert(0) += 1;
    }
    let mut opt = g.clone();
    let rewrites = crate::optimize::optimize(&mut opt);
    let mut layers = Vec::new();
    for n in &opt.nodes {
        let g = &opt;
        let params = n
            .inputs
            .iter()
            .filter(|&&t| g.tensors[t].is_const())
            .map(|&t| g.tensors[t].len())
            .sum();
        layers.push(Layer {
            name: n.name.clone(),
            op_type: n.op_type.clone(),
            kernel: n.op.variant().to_string(),
            output_shape: n
                .outputs
                .first()
                .map(|&t| g.tensors[t].shape.clone())
                .unwrap_or_default(),
            params,
            macs: n.macs,
        });
    }
    let report = Report {
        model: a.model.display().to_string(),
        producer: g.meta.producer.clone(),
        opset: g.meta.opset,
        inputs: io(&g.inputs),
        outputs: io(&g.outputs),
        supported: true,
        ops,
        params: opt.param_count(),
        macs: opt.total_macs(),
        layers,
        optimizations: rewrites.lines(),
        notices: g.meta.notices.clone(),
    };
    if a.format == Format::Json {
        return print_json(&report);
    }
    println!(
        "model    {}  (producer {}, opset {})",
        report.model, report.producer, report.opset
    );
    for n in &report.notices {
        println!("notice   {n}");
    }
    for i in &report.inputs {
        println!(
            "input    {} {:?} {}{}",
            i.name,
            i.shape,
            i.dtype,
            quant_text(i)
        );
    }
    for o in &report.outputs {
        println!(
            "output   {} {:?} {}{}",
            o.name,
            o.shape,
            o.dtype,
            quant_text(o)
        );
    }
    println!("params   {}", report.params);
    println!("MACs     {}", report.macs);
    println!(
        "ops      {} (all supported)",
        report
            .ops
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for o in &report.optimizations {
        println!("optimize {o}");
    }
    println!();
    println!(
        "{:<24} {:<20} {:<14} {:<18} {:>8} {:>10}",
        "LAYER", "MODEL OP", "KERNEL", "OUTPUT", "PARAMS", "MACS"
    );
    for l in &report.layers {
        println!(
            "{:<24} {:<20} {:<14} {:<18} {:>8} {:>10}",
            l.name,
            l.op_type,
            l.kernel,
            format!("{:?}", l.output_shape),
            l.params,
            l.macs
        );
    }
    Ok(())
}

fn quant_text(io: &Io) -> String {
    match (io.scale, io.zero_point) {
        (Some(s), Some(z)) => format!(" (scale {s}, zero point {z})"),
        _ => String::new(),
    }
}
