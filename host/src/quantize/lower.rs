//! Lowering of an optimized f32 graph to a mixed int8 / f32 graph with kiln's own post-training
//! parameters ([`lower`]).
//!
//! Contract:
//! - Tensor ids of the f32 graph keep their meaning: an activation of the f32 graph is, in the
//!   lowered graph, the same id holding the same value (int8 when its producer runs int8). New
//!   tensors (quantized copies, int8 constants, dequantized outputs) are appended.
//! - Graph inputs and outputs stay f32 with their ONNX names; a quantized graph output keeps its
//!   id and is renamed `NAME:int8`, and a new f32 tensor named `NAME` (its dequantization) becomes
//!   the graph output.
//! - A node runs int8 when an int8 kernel exists for it (op and parameters), every activation it
//!   reads and writes has a calibrated range, and it is not named in
//!   [`LowerOptions::float_layers`]; otherwise it runs f32 with `Quantize` / `Dequantize` nodes at
//!   its edges. [`LowerReport::layers`] says which, and why for f32.
//! - Output parameters: calibrated range (`act_qparams`) for conv, dense, add / sub / mul,
//!   element-wise functions (LUT), mean and concat; the input's own parameters for pure data
//!   movement and pooling (strided copies, gather, pad, max / average pool), as TFLite does;
//!   `scale = 1/256, zp = -128` for softmax.
//! - Weights: symmetric, per output channel (axis 0 of conv weights, the column of dense
//!   weights), `[-q, q]` with `q = 2^(bits-1) - 1` (8 bits: 127); bias int32 at
//!   `in_scale * w_scale[c]`. A constant operand of add / sub / mul is quantized per tensor,
//!   asymmetric, over its own range.

use std::collections::{HashMap, HashSet};

use kiln_kernels::f32::{self as k, KOp};
use kiln_kernels::i8::{self as q, QOp};

use super::{act_qparams, bias_q, Calibration};
use crate::ir::{DType, Graph, Node, Op, QParams, QTables, Tensor, TensorId};

/// How weights are quantized (the defaults are kiln's recipe; the others exist to measure the
/// cost of a worse recipe, e.g. in a gate test).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightRecipe {
    /// Bits of the symmetric weight grid, 2..=8 (values stay stored as int8).
    pub bits: u8,
    /// One scale per output channel (true) or one per tensor.
    pub per_channel: bool,
}

impl Default for WeightRecipe {
    fn default() -> Self {
        WeightRecipe {
            bits: 8,
            per_channel: true,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LowerOptions {
    /// ONNX node names kept in f32.
    pub float_layers: Vec<String>,
    pub weights: WeightRecipe,
    /// Float model inputs and outputs become int8 (with their calibrated parameters) instead of
    /// being quantized / dequantized on the device.
    pub int8_io: bool,
}

/// The int8 parameters of a graph input or output of an int8-I/O build.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IoQuant {
    pub name: String,
    /// `input` or `output`.
    pub role: &'static str,
    pub scale: f32,
    pub zero_point: i32,
}

/// The precision one node of the f32 graph ended up with.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LayerPrecision {
    pub node: String,
    pub op_type: String,
    /// `int8` or `f32`.
    pub kernel: &'static str,
    /// Why the node stayed f32 (`None` for int8 nodes).
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LowerReport {
    /// One entry per node of the f32 graph, in order.
    pub layers: Vec<LayerPrecision>,
    /// Quantize / Dequantize nodes inserted at f32 / int8 edges (graph boundary included).
    pub conversions: usize,
    /// With `int8_io`: the parameters of every int8 input and output (data must be quantized
    /// with them: `q = round(x / scale) + zero_point`).
    pub io: Vec<IoQuant>,
}

impl LowerReport {
    pub fn int8_layers(&self) -> usize {
        self.layers.iter().filter(|l| l.kernel == "int8").count()
    }
    /// Layers that fell back to f32 on their own (not asked for by `--float-layers`).
    pub fn fallbacks(&self) -> impl Iterator<Item = &LayerPrecision> {
        self.layers
            .iter()
            .filter(|l| l.kernel == "f32" && l.reason.as_deref() != Some(ASKED))
    }
}

const ASKED: &str = "kept in f32 by --float-layers";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LowerError {
    #[error("--float-layers names {} not in the model (its nodes: {})", .unknown.join(", "), .known.join(", "))]
    UnknownFloatLayers {
        unknown: Vec<String>,
        known: Vec<String>,
    },
    #[error("--int8-io: `{name}` cannot be int8: {why}")]
    Int8Io { name: String, why: String },
    #[error("--weight-bits {0} is outside 2..=8")]
    WeightBits(u8),
    #[error("node `{node}` needs a requantization multiplier of {value:e}, outside the fixed-point range")]
    Multiplier { node: String, value: f64 },
}

/// Quantizes `g` (an optimized f32 graph) with the parameters its tensors carry (a pre-quantized
/// model's own, [`Tensor::quant`]) and, for the others, the activation ranges of `cal` (computed
/// on `g`).
pub fn lower(
    g: &Graph,
    cal: Option<&Calibration>,
    opts: &LowerOptions,
) -> Result<(Graph, LowerReport), LowerError> {
    if !(2..=8).contains(&opts.weights.bits) {
        return Err(LowerError::WeightBits(opts.weights.bits));
    }
    let names: HashSet<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
    let unknown: Vec<String> = opts
        .float_layers
        .iter()
        .filter(|n| !names.contains(n.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        let mut known: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        known.sort();
        return Err(LowerError::UnknownFloatLayers { unknown, known });
    }
    let mut l = Lowering {
        src: g,
        cal,
        opts,
        out: Graph {
            tensors: g.tensors.clone(),
            nodes: Vec::new(),
            inputs: g.inputs.clone(),
            outputs: g.outputs.clone(),
            meta: g.meta.clone(),
        },
        as_i8: HashMap::new(),
        as_f32: HashMap::new(),
        report: LowerReport::default(),
    };
    for &t in &g.inputs {
        if opts.int8_io && g.tensors[t].dtype == DType::F32 {
            let qp = l.own_q(t).map_err(|why| LowerError::Int8Io {
                name: g.tensors[t].name.clone(),
                why,
            })?;
            let (scale, zero_point) = qp.one();
            l.report.io.push(IoQuant {
                name: g.tensors[t].name.clone(),
                role: "input",
                scale,
                zero_point,
            });
            let tensor = &mut l.out.tensors[t];
            tensor.dtype = DType::I8;
            tensor.quant = Some(qp);
        }
        match l.out.tensors[t].dtype {
            DType::F32 => l.as_f32.insert(t, t),
            DType::I8 => l.as_i8.insert(t, t),
        };
    }
    for node in &g.nodes {
        // The model's own int8 structure (int8 I/O, kept Q / DQ nodes, uint8 flips).
        match &node.op {
            Op::F32(_) => {}
            Op::Q(op) => {
                let inputs: Vec<TensorId> = node.inputs.iter().map(|&t| l.int8_of(t)).collect();
                for &o in &node.outputs {
                    l.as_i8.insert(o, o);
                }
                l.out.nodes.push(Node {
                    op: Op::Q(*op),
                    inputs,
                    ..node.clone()
                });
                continue;
            }
            Op::Dequantize(_) => {
                // The f32 value is the int8 one: computed only where an f32 layer reads it.
                let i = l.int8_of(node.inputs[0]);
                l.as_i8.insert(node.outputs[0], i);
                continue;
            }
            Op::Quantize(qp) => {
                let (x, o) = (node.inputs[0], node.outputs[0]);
                let requant = l.as_i8.get(&x).and_then(|&xi| {
                    let (xs, xz) = l.out.tensors[xi].quant.as_ref().expect("int8").one();
                    let (mult, shift) = l.multiplier(xs as f64 / qp.scale as f64).ok()?;
                    Some((
                        xi,
                        q::RequantP {
                            len: qp.len,
                            in_zp: xz,
                            out_zp: qp.zp,
                            mult,
                            shift,
                        },
                    ))
                });
                if let Some((xi, rp)) = requant {
                    l.out.nodes.push(Node {
                        op: Op::Q(QOp::Requant(rp)),
                        inputs: vec![xi],
                        ..node.clone()
                    });
                    l.as_i8.insert(o, o);
                    continue;
                }
                let f = l.float_of(x);
                l.out.nodes.push(Node {
                    inputs: vec![f],
                    ..node.clone()
                });
                l.as_i8.insert(o, o);
                continue;
            }
        }
        let planned = if opts.float_layers.contains(&node.name) {
            Err(ASKED.to_string())
        } else {
            l.int8_node(node)
        };
        match planned {
            Ok(qn) => {
                l.emit_int8(node, qn);
                l.report.layers.push(LayerPrecision {
                    node: node.name.clone(),
                    op_type: node.op_type.clone(),
                    kernel: "int8",
                    reason: None,
                });
            }
            Err(reason) => {
                l.emit_f32(node);
                l.report.layers.push(LayerPrecision {
                    node: node.name.clone(),
                    op_type: node.op_type.clone(),
                    kernel: "f32",
                    reason: Some(reason),
                });
            }
        }
    }
    for i in 0..l.out.outputs.len() {
        let t = l.out.outputs[i];
        let produced = l.out.nodes.iter().any(|n| n.outputs.contains(&t));
        if opts.int8_io && g.tensors[t].dtype == DType::F32 {
            // int8 out: the int8 value itself, or the quantization of an f32 layer's output.
            let name = l.out.tensors[t].name.clone();
            let q = if l.out.tensors[t].dtype == DType::I8 {
                t
            } else {
                l.out.tensors[t].name = format!("{name}:f32");
                let q = l.int8_of(t);
                l.out.tensors[q].name = name.clone();
                q
            };
            let (scale, zero_point) = l.out.tensors[q].quant.as_ref().expect("int8").one();
            l.report.io.push(IoQuant {
                name,
                role: "output",
                scale,
                zero_point,
            });
            l.out.outputs[i] = q;
            continue;
        }
        if g.tensors[t].dtype == DType::F32 && l.out.tensors[t].dtype == DType::I8 {
            // An f32 output an int8 layer computes: dequantized at the boundary, same name.
            let name = l.out.tensors[t].name.clone();
            l.out.tensors[t].name = format!("{name}:int8");
            let f = l.dequantize(t, Some(name));
            l.out.outputs[i] = f;
        } else if !produced {
            // The output of a model's own DequantizeLinear, computed int8 until here.
            let i8t = l.as_i8[&t];
            let f = l.dequantize(i8t, Some(l.out.tensors[t].name.clone()));
            l.out.outputs[i] = f;
        }
    }
    let report = l.report;
    Ok((l.out, report))
}

/// An int8 kernel for one node, before its inputs are converted.
pub(crate) struct QNode {
    pub(crate) op: QOp,
    pub(crate) tables: QTables,
    /// Node inputs: `Ok(id)` an activation of the source graph (read as int8), `Err(id)` a new
    /// int8 constant already in the output graph.
    pub(crate) inputs: Vec<Result<TensorId, TensorId>>,
    pub(crate) out_q: QParams,
}

/// The quantized parts of a conv / dense node ([`Lowering::weighted`]).
pub(crate) struct Weighted {
    pub(crate) xq: QParams,
    pub(crate) oq: QParams,
    pub(crate) clamp: (i8, i8),
    /// Weights, channel-major.
    pub(crate) wq: Vec<i8>,
    pub(crate) ws: Vec<f32>,
    pub(crate) tables: QTables,
}

pub(crate) struct Lowering<'a> {
    pub(crate) src: &'a Graph,
    cal: Option<&'a Calibration>,
    opts: &'a LowerOptions,
    pub(crate) out: Graph,
    /// Source activation → its int8 version in `out`.
    as_i8: HashMap<TensorId, TensorId>,
    /// Source activation → its f32 version in `out`.
    as_f32: HashMap<TensorId, TensorId>,
    report: LowerReport,
}

pub(crate) type Plan<T> = Result<T, String>;

impl Lowering<'_> {
    /// The model's own params of activation `t`, else its calibrated range's.
    fn own_q(&self, t: TensorId) -> Plan<QParams> {
        let name = &self.src.tensors[t].name;
        if let Some(q) = &self.src.tensors[t].quant {
            return if q.scale.len() == 1 && q.zp.len() == 1 {
                Ok(QParams::per_tensor(q.scale[0], q.zp[0]))
            } else {
                Err(format!("`{name}` is quantized per axis"))
            };
        }
        let range = match self.cal {
            Some(cal) => cal.ranges.get(t).copied().flatten(),
            None => None,
        };
        let (lo, hi) = range.ok_or_else(|| match self.cal {
            Some(_) => format!("no calibrated range for `{name}`"),
            None => format!("the model gives `{name}` no quantization parameters"),
        })?;
        let (s, z) = act_qparams(lo, hi);
        Ok(QParams::per_tensor(s, z))
    }

    /// Parameters an activation has (or will have) as int8: its producer's if it already is
    /// int8, else its own.
    pub(crate) fn in_q(&self, t: TensorId) -> Plan<QParams> {
        if let Some(&i) = self.as_i8.get(&t) {
            return Ok(self.out.tensors[i]
                .quant
                .clone()
                .expect("int8 tensor has params"));
        }
        self.own_q(t)
    }

    pub(crate) fn out_q(&self, t: TensorId) -> Plan<QParams> {
        self.own_q(t)
    }

    /// Output params of an op that moves values without changing them (pooling, copies): the
    /// input's; a pre-quantized model must not ask for others.
    pub(crate) fn same_q(&self, x: TensorId, o: TensorId) -> Plan<QParams> {
        let xq = self.in_q(x)?;
        if let Some(q) = &self.src.tensors[o].quant {
            if q.scale != xq.scale || q.zp != xq.zp {
                return Err(format!(
                    "the model gives `{}` other parameters than its input's",
                    self.src.tensors[o].name
                ));
            }
        }
        Ok(xq)
    }

    pub(crate) fn multiplier(&self, real: f64) -> Plan<(i32, i32)> {
        let (m, s) = q::quantize_multiplier(real);
        if s > 30 || !real.is_finite() {
            return Err(format!(
                "requantization multiplier {real:e} is out of range"
            ));
        }
        Ok((m, s))
    }

    /// The int8 kernel for `node`, or why there is none: its family's rule
    /// (`crate::ops::<family>::int8`).
    fn int8_node(&mut self, node: &Node) -> Plan<QNode> {
        let Op::F32(kop) = node.op else {
            return Err("not an f32 node".into());
        };
        if node.outputs.len() != 1 {
            return Err("more than one output".into());
        }
        match kop {
            KOp::Conv2d(p) => crate::ops::conv2d::int8::lower(self, node, p),
            KOp::Dense(p) => crate::ops::dense::int8::lower(self, node, p),
            KOp::Binary(p) => crate::ops::binary::int8::lower(self, node, p),
            KOp::Unary(p) => crate::ops::unary::int8::lower(self, node, p),
            KOp::Pool2d(p) => crate::ops::pool2d::int8::lower(self, node, p),
            KOp::Reduce(p) => crate::ops::reduce::int8::lower(self, node, p),
            KOp::Strided(p) => crate::ops::strided::int8::lower(self, node, p),
            KOp::Gather(p) => crate::ops::gather::int8::lower(self, node, p),
            KOp::Pad(p) => crate::ops::pad::int8::lower(self, node, p),
            KOp::Concat(p) => crate::ops::concat::int8::lower(self, node, p),
            KOp::Softmax(p) => crate::ops::softmax::int8::lower(self, node, p),
            KOp::Resize(p) => crate::ops::resize::int8::lower(self, node, p),
            KOp::ChannelAffine(p) => crate::ops::channel_affine::int8::lower(self, node, p),
        }
    }

    /// Weight quantization by the recipe: `channels` rows of `w` (row-major), per channel or per
    /// tensor. Returns the int8 values and the scales (one per channel, or one).
    fn quantize_weights(&self, w: &[f32], channels: usize) -> (Vec<i8>, Vec<f32>) {
        let r = self.opts.weights;
        let groups = if r.per_channel { channels.max(1) } else { 1 };
        let (scales, q) = super::weight_qparams(w, groups, r.bits);
        (q, scales)
    }

    /// Conv / dense: input and output params, the fused activation's clamp, the weights
    /// (`wc`: `channels` rows, one per output channel) quantized by the recipe, and the bias and
    /// requantization tables. A pre-quantized model's weights keep their own grid; their
    /// per-channel scales must lie along `channel_axis` of the weight tensor.
    pub(crate) fn weighted(
        &mut self,
        node: &Node,
        act: k::Act,
        wc: &[f32],
        channels: usize,
        channel_axis: usize,
    ) -> Plan<Weighted> {
        let xq = self.in_q(node.inputs[0])?;
        let oq = self.out_q(node.outputs[0])?;
        let clamp = clamp_of(act, &oq)?;
        let (wq, ws) = match &self.src.tensors[node.inputs[1]].quant {
            Some(mq) => model_weights(wc, channels, channel_axis, mq)?,
            None => self.quantize_weights(wc, channels),
        };
        let bias = match node.inputs.get(2) {
            Some(&b) => {
                let bf = const_f32(self.src, b)?;
                match &self.src.tensors[b].quant {
                    Some(bq) => model_bias(
                        bf,
                        self.src.tensors[b].ints.as_deref(),
                        xq.scale[0],
                        &ws,
                        bq,
                    )?,
                    None => bias_q(bf, xq.scale[0], &ws),
                }
            }
            None => vec![],
        };
        let (mult, shift) = self.requant_tables(xq.scale[0], &ws, oq.scale[0])?;
        Ok(Weighted {
            xq,
            oq,
            clamp,
            wq,
            ws,
            tables: QTables {
                bias,
                mult,
                shift,
                ..QTables::default()
            },
        })
    }

    fn requant_tables(
        &self,
        in_scale: f32,
        w_scales: &[f32],
        out_scale: f32,
    ) -> Plan<(Vec<i32>, Vec<i32>)> {
        let mut mult = Vec::with_capacity(w_scales.len());
        let mut shift = Vec::with_capacity(w_scales.len());
        for &ws in w_scales {
            let (m, s) = self.multiplier(in_scale as f64 * ws as f64 / out_scale as f64)?;
            mult.push(m);
            shift.push(s);
        }
        Ok((mult, shift))
    }

    /// Adds the int8 version of constant `of` to the output graph.
    /// Adds the int8 version of constant `of` (symmetric; per channel along `axis` when there
    /// is more than one scale).
    pub(crate) fn int8_const(
        &mut self,
        of: TensorId,
        values: Vec<i8>,
        scales: Vec<f32>,
        axis: usize,
    ) -> TensorId {
        let shape = self.src.tensors[of].shape.clone();
        self.int8_const_shaped(of, shape, values, scales, axis)
    }

    /// [`Self::int8_const`] laid out as `shape` (e.g. a transpose of `of`).
    pub(crate) fn int8_const_shaped(
        &mut self,
        of: TensorId,
        shape: Vec<usize>,
        values: Vec<i8>,
        scales: Vec<f32>,
        axis: usize,
    ) -> TensorId {
        let src = &self.src.tensors[of];
        let zp = vec![0; scales.len()];
        let axis = (scales.len() > 1).then_some(axis);
        self.out.add_tensor(Tensor {
            name: format!("{}:int8", src.name),
            shape,
            dtype: DType::I8,
            qdata: Some(values),
            quant: Some(QParams {
                scale: scales,
                zp,
                axis,
            }),
            origin: Some(of),
            ..Tensor::default()
        })
    }

    fn emit_int8(&mut self, node: &Node, qn: QNode) {
        let inputs: Vec<TensorId> = qn
            .inputs
            .iter()
            .map(|i| match *i {
                Ok(t) => self.int8_of(t),
                Err(c) => c,
            })
            .collect();
        let o = node.outputs[0];
        let t = &mut self.out.tensors[o];
        t.dtype = DType::I8;
        t.quant = Some(qn.out_q);
        self.as_i8.insert(o, o);
        self.out.nodes.push(Node {
            name: node.name.clone(),
            op_type: node.op_type.clone(),
            op: Op::Q(qn.op),
            inputs,
            outputs: vec![o],
            idx: node.idx.clone(),
            tables: qn.tables,
            macs: node.macs,
        });
    }

    fn emit_f32(&mut self, node: &Node) {
        let inputs: Vec<TensorId> = node
            .inputs
            .iter()
            .map(|&t| {
                if self.src.tensors[t].is_const() {
                    t
                } else {
                    self.float_of(t)
                }
            })
            .collect();
        for &o in &node.outputs {
            self.as_f32.insert(o, o);
        }
        let mut n = node.clone();
        n.inputs = inputs;
        self.out.nodes.push(n);
    }

    /// The int8 version of source activation `t`, quantizing its f32 version on first use.
    fn int8_of(&mut self, t: TensorId) -> TensorId {
        if let Some(&i) = self.as_i8.get(&t) {
            return i;
        }
        let f = self.as_f32[&t];
        let qp = self.in_q(t).expect("range checked when planning the node");
        let (scale, zp) = qp.one();
        let src = &self.src.tensors[t];
        let id = self.out.add_tensor(Tensor {
            name: format!("{}:int8", src.name),
            shape: src.shape.clone(),
            dtype: DType::I8,
            quant: Some(qp),
            origin: Some(t),
            ..Tensor::default()
        });
        self.out.nodes.push(Node {
            name: format!("{}:quantize", src.name),
            op_type: "QuantizeLinear".into(),
            op: Op::Quantize(q::QuantizeP {
                len: src.len() as u32,
                scale,
                zp,
                ties_away: false,
            }),
            inputs: vec![f],
            outputs: vec![id],
            idx: vec![],
            tables: QTables::default(),
            macs: 0,
        });
        self.report.conversions += 1;
        self.as_i8.insert(t, id);
        id
    }

    /// The f32 version of source activation `t`, dequantizing its int8 version on first use.
    fn float_of(&mut self, t: TensorId) -> TensorId {
        if let Some(&f) = self.as_f32.get(&t) {
            return f;
        }
        let i = self.as_i8[&t];
        let f = self.dequantize(i, None);
        self.as_f32.insert(t, f);
        f
    }

    /// Appends a Dequantize of int8 tensor `i` into a new f32 tensor (named `name`, or
    /// `NAME:f32`).
    fn dequantize(&mut self, i: TensorId, name: Option<String>) -> TensorId {
        let t = &self.out.tensors[i];
        let (scale, zp) = t.quant.as_ref().expect("int8 tensor has params").one();
        let base = t.name.trim_end_matches(":int8").to_string();
        let shape = t.shape.clone();
        let len = t.len() as u32;
        let origin = Some(t.origin.unwrap_or(i));
        let f = self.out.add_tensor(Tensor {
            origin,
            ..Tensor::act(name.unwrap_or_else(|| format!("{base}:f32")), shape)
        });
        self.out.nodes.push(Node {
            name: format!("{base}:dequantize"),
            op_type: "DequantizeLinear".into(),
            op: Op::Dequantize(q::DequantizeP { len, scale, zp }),
            inputs: vec![i],
            outputs: vec![f],
            idx: vec![],
            tables: QTables::default(),
            macs: 0,
        });
        self.report.conversions += 1;
        f
    }
}

/// A pre-quantized model's weights: `wc` (`channels` rows, channel-major) back on their int8
/// grid with the model's scales (`mq`, per tensor or per `channel_axis`). Refused when the zero
/// points are not 0 or the values are not on the grid.
fn model_weights(
    wc: &[f32],
    channels: usize,
    channel_axis: usize,
    mq: &QParams,
) -> Plan<(Vec<i8>, Vec<f32>)> {
    if mq.zp.iter().any(|&z| z != 0) {
        return Err("non-zero weight zero points have no int8 kernel".into());
    }
    let scales: Vec<f32> = match (mq.scale.len(), mq.axis) {
        (1, _) => vec![mq.scale[0]; channels],
        (n, Some(a)) if n == channels && a == channel_axis => mq.scale.clone(),
        (n, a) => {
            return Err(format!(
                "{n} weight scales along axis {a:?} do not match the {channels} output channels"
            ))
        }
    };
    let per = wc.len() / channels.max(1);
    let mut q = Vec::with_capacity(wc.len());
    for (c, row) in wc.chunks(per.max(1)).enumerate() {
        let s = scales[c] as f64;
        for &w in row {
            let v = (w as f64 / s).round();
            if !(-128.0..=127.0).contains(&v) || ((v * s) as f32 - w).abs() > w.abs() * 1e-6 {
                return Err(format!(
                    "weight {w} is not on its int8 grid (scale {s}); the model's quantization \
                     cannot be kept exactly"
                ));
            }
            q.push(v as i8);
        }
    }
    let scales = if mq.scale.len() == 1 {
        vec![mq.scale[0]]
    } else {
        scales
    };
    Ok((q, scales))
}

/// A pre-quantized model's int32 bias: its own integer values (`ints`, else recovered from the
/// float values) when its scale is `in_scale * w_scale[c]` (as QDQ writers and TFLite make it),
/// else requantized from its float value.
fn model_bias(
    b: &[f32],
    ints: Option<&[i32]>,
    in_scale: f32,
    ws: &[f32],
    bq: &QParams,
) -> Plan<Vec<i32>> {
    let matches = b.iter().enumerate().all(|(c, _)| {
        let sb = bq.scale[if bq.scale.len() == 1 { 0 } else { c }] as f64;
        let want = in_scale as f64 * ws[if ws.len() == 1 { 0 } else { c }] as f64;
        (sb - want).abs() <= want * 1e-6
    });
    if !matches || bq.scale.len() != 1 && bq.scale.len() != b.len() {
        return Ok(bias_q(b, in_scale, ws));
    }
    if let Some(ints) = ints.filter(|i| i.len() == b.len()) {
        return Ok(ints.to_vec());
    }
    Ok(b.iter()
        .enumerate()
        .map(|(c, &v)| {
            (v as f64 / bq.scale[if bq.scale.len() == 1 { 0 } else { c }] as f64).round() as i32
        })
        .collect())
}

pub(crate) fn const_f32(g: &Graph, t: TensorId) -> Plan<&[f32]> {
    g.tensors[t]
        .data
        .as_deref()
        .ok_or_else(|| format!("`{}` is not a constant", g.tensors[t].name))
}

/// The quantized clamp of a fused activation, in the output's params.
pub(crate) fn clamp_of(act: k::Act, oq: &QParams) -> Plan<(i8, i8)> {
    let (s, z) = oq.one();
    match act.kind {
        k::ACT_NONE => Ok((-128, 127)),
        k::ACT_RELU => Ok((q::sat_i8(z), 127)),
        k::ACT_CLIP => Ok((q::quantize_f32(act.a, s, z), q::quantize_f32(act.b, s, z))),
        _ => Err("a fused LeakyRelu / HardSigmoid has no int8 kernel".into()),
    }
}
