//! Graph passes on the kiln IR, run after import:
//! - fold a `ChannelAffine` (inference BatchNormalization) into the preceding Conv2d / Dense
//!   when that node's output has no other reader;
//! - fold a constant `Add` that is a bias (per output channel / per column) into the preceding
//!   Conv2d / Dense (PyTorch's `MatMul + Add`), and a per-channel constant `Mul` into its weights
//!   and bias (not for a pre-quantized model's weights, which stay on their grid);
//! - recognise HardSwish and HardSigmoid written out as exporters write them (`x * Clip(x + 3,
//!   0, 6) / 6`, `Mul(x, HardSigmoid(x))`, `Clip(x + 3, 0, 6) / 6`, division or multiplication by
//!   1/6) and run them as one element-wise op (one lookup table in int8);
//! - merge a zero Pad of the spatial dims into the Conv2d reading it (the conv's own padding);
//! - fuse a following Relu / Clip into Conv2d / Dense / Binary `act`;
//! - compose two strided copies in a row (Transpose pairs, Reshape after Transpose, a Slice of a
//!   Transpose) into one when the result is again a strided copy; a pair that cancels becomes a
//!   plain copy;
//! - drop plain copies (Reshape, Flatten, Squeeze, Unsqueeze, Cast, Identity): the producer of
//!   the copied activation writes straight into the copy's output instead, which keeps the
//!   copied tensor's quantization parameters when it has none of its own.
//!
//! Every rewrite needs the intermediate activation to have exactly one reader and not to be a
//! graph output. Results stay within the f32 contract (BN folding changes rounding slightly).
//! Unreferenced tensors are dropped at the end.

use std::fmt;

use kiln_kernels::f32::*;

use crate::import::{is_plain_copy, strided_params};
use crate::ir::{Graph, Op, TensorId};

/// One rewrite `optimize` made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// A BatchNormalization folded into the weights and bias of `into`.
    FoldedBatchNorm { node: String, into: String },
    /// A constant bias `Add` folded into the bias of `into`.
    FoldedBias { node: String, into: String },
    /// A per-channel constant `Mul` folded into the weights and bias of `into`.
    FoldedScale { node: String, into: String },
    /// A Relu / Clip fused into `into`'s activation.
    FusedActivation {
        node: String,
        op_type: String,
        into: String,
    },
    /// A plain copy removed (its input's producer writes the copy's output directly).
    RemovedCopy { node: String, op_type: String },
    /// A zero Pad merged into the padding of the Conv2d `into`.
    MergedPad { node: String, into: String },
    /// Two strided copies in a row (`first`, then `into`) made one.
    ComposedCopies { first: String, into: String },
    /// Element-wise nodes that compute HardSwish / HardSigmoid, run as one op named `into`.
    FusedHardActivation {
        nodes: Vec<String>,
        op_type: &'static str,
        into: String,
    },
}

impl fmt::Display for Rewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rewrite::FoldedBatchNorm { node, into } => {
                write!(f, "folded BatchNormalization `{node}` into `{into}`")
            }
            Rewrite::FoldedBias { node, into } => {
                write!(f, "folded bias Add `{node}` into `{into}`")
            }
            Rewrite::FoldedScale { node, into } => {
                write!(f, "folded per-channel Mul `{node}` into `{into}`")
            }
            Rewrite::FusedActivation {
                node,
                op_type,
                into,
            } => {
                write!(f, "fused {op_type} `{node}` into `{into}`")
            }
            Rewrite::RemovedCopy { node, op_type } => write!(f, "removed copy {op_type} `{node}`"),
            Rewrite::MergedPad { node, into } => write!(f, "merged Pad `{node}` into `{into}`"),
            Rewrite::ComposedCopies { first, into } => {
                write!(f, "composed copy `{first}` into `{into}`")
            }
            Rewrite::FusedHardActivation {
                nodes,
                op_type,
                into,
            } => write!(
                f,
                "recognised {op_type} in {} nodes ({}) as `{into}`",
                nodes.len(),
                nodes.join(", ")
            ),
        }
    }
}

/// What [`optimize`] did, for `kiln build` output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptimizeReport {
    pub rewrites: Vec<Rewrite>,
    pub nodes_before: usize,
    pub nodes_after: usize,
}

impl OptimizeReport {
    /// One line of text per rewrite.
    pub fn lines(&self) -> Vec<String> {
        self.rewrites.iter().map(|r| r.to_string()).collect()
    }

    pub fn count(&self, f: impl Fn(&Rewrite) -> bool) -> usize {
        self.rewrites.iter().filter(|r| f(r)).count()
    }
}

impl fmt::Display for OptimizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} nodes -> {}: {} BatchNorm folded, {} bias Add folded, {} hard activations recognised, {} activations fused, {} copies removed",
            self.nodes_before,
            self.nodes_after,
            self.count(|r| matches!(r, Rewrite::FoldedBatchNorm { .. })),
            self.count(|r| matches!(r, Rewrite::FoldedBias { .. })),
            self.count(|r| matches!(r, Rewrite::FusedHardActivation { .. })),
            self.count(|r| matches!(r, Rewrite::FusedActivation { .. })),
            self.count(|r| matches!(r, Rewrite::RemovedCopy { .. })),
        )
    }
}

/// Runs all passes to a fixed point.
pub fn optimize(g: &mut Graph) -> OptimizeReport {
    let mut report = OptimizeReport {
        nodes_before: g.nodes.len(),
        ..Default::default()
    };
    loop {
        let done = fold_batchnorm(g)
            .or_else(|| fold_bias(g))
            .or_else(|| fuse_hard_activation(g))
            .or_else(|| merge_pad(g))
            .or_else(|| fuse_activation(g))
            .or_else(|| remove_copy(g))
            .or_else(|| compose_copies(g));
        match done {
            Some(r) => report.rewrites.push(r),
            None => break,
        }
    }
    compact(g);
    report.nodes_after = g.nodes.len();
    report
}

/// Number of node inputs reading `t`.
fn readers(g: &Graph, t: TensorId) -> usize {
    g.nodes
        .iter()
        .map(|n| n.inputs.iter().filter(|&&i| i == t).count())
        .sum()
}

/// The node producing `t` when `t` is a single-reader activation, not a graph input or output.
fn sole_producer(g: &Graph, t: TensorId) -> Option<usize> {
    if g.outputs.contains(&t)
        || g.inputs.contains(&t)
        || g.tensors[t].is_const()
        || readers(g, t) != 1
    {
        return None;
    }
    g.nodes.iter().position(|n| n.outputs.contains(&t))
}

fn const_data(g: &Graph, t: TensorId) -> Option<&Vec<f32>> {
    g.tensors[t].data.as_ref()
}

/// Replaces producer `p`'s output with node `c`'s output and removes `c`.
fn splice(g: &mut Graph, p: usize, c: usize) {
    let out = g.nodes[c].outputs[0];
    g.nodes[p].outputs = vec![out];
    g.nodes.remove(c);
}

fn new_const(g: &mut Graph, name: String, shape: Vec<usize>, data: Vec<f32>) -> TensorId {
    g.add_tensor(crate::ir::Tensor::f32_const(name, shape, data))
}

fn fold_batchnorm(g: &mut Graph) -> Option<Rewrite> {
    for c in 0..g.nodes.len() {
        let Some(KOp::ChannelAffine(ap)) = g.nodes[c].op.f32().copied() else {
            continue;
        };
        let Some(p) = sole_producer(g, g.nodes[c].inputs[0]) else {
            continue;
        };
        if !matches!(g.nodes[p].op.f32(), Some(KOp::Conv2d(_) | KOp::Dense(_))) {
            continue;
        }
        let (scale, shift) = match (
            const_data(g, g.nodes[c].inputs[1]),
            const_data(g, g.nodes[c].inputs[2]),
        ) {
            (Some(s), Some(t)) => (s.clone(), t.clone()),
            _ => continue,
        };
        let pn = &g.nodes[p];
        let Some(w) = const_data(g, pn.inputs[1]).cloned() else {
            continue;
        };
        let bias = pn.inputs.get(2).map(|&b| const_data(g, b).cloned());
        if let Some(None) = bias {
            continue;
        }
        let bias = bias.flatten();
        let name = pn.name.clone();
        let (new_w, new_b, b_shape) = match pn.op.f32().copied() {
            Some(KOp::Conv2d(cp)) => {
                if cp.act.kind != ACT_NONE
                    || ap.c != cp.out_c
                    || ap.outer != cp.batch
                    || ap.inner != cp.out_h * cp.out_w
                {
                    continue;
                }
                let oc = cp.out_c as usize;
                let per = w.len() / oc;
                let w2: Vec<f32> = w
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| v * scale[i / per])
                    .collect();
                let b2: Vec<f32> = (0..oc)
                    .map(|o| bias.as_ref().map_or(0.0, |b| b[o]) * scale[o] + shift[o])
                    .collect();
                (w2, b2, vec![oc])
            }
            Some(KOp::Dense(dp)) => {
                if dp.act.kind != ACT_NONE
                    || ap.inner != 1
                    || ap.c != dp.n
                    || ap.outer != dp.batch * dp.m
                {
                    continue;
                }
                let n = dp.n as usize;
                let w2: Vec<f32> = w
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| v * scale[i % n])
                    .collect();
                let rows = if dp.bias_full { dp.m as usize } else { 1 };
                let b2: Vec<f32> = (0..rows * n)
                    .map(|i| bias.as_ref().map_or(0.0, |b| b[i]) * scale[i % n] + shift[i % n])
                    .collect();
                let shape = if dp.bias_full { vec![rows, n] } else { vec![n] };
                (w2, b2, shape)
            }
            _ => continue,
        };
        let w_shape = g.tensors[g.nodes[p].inputs[1]].shape.clone();
        let wt = new_const(g, format!("{name}::bn_weights"), w_shape, new_w);
        let bt = new_const(g, format!("{name}::bn_bias"), b_shape, new_b);
        let x = g.nodes[p].inputs[0];
        g.nodes[p].inputs = vec![x, wt, bt];
        let bn = g.nodes[c].name.clone();
        splice(g, p, c);
        return Some(Rewrite::FoldedBatchNorm {
            node: bn,
            into: name,
        });
    }
    None
}

fn fold_bias(g: &mut Graph) -> Option<Rewrite> {
    for c in 0..g.nodes.len() {
        let Some(KOp::Binary(bp)) = g.nodes[c].op.f32().copied() else {
            continue;
        };
        if !(bp.op == BIN_ADD || bp.op == BIN_MUL) || bp.act.kind != ACT_NONE {
            continue;
        }
        let mul = bp.op == BIN_MUL;
        let (a, b) = (g.nodes[c].inputs[0], g.nodes[c].inputs[1]);
        // The activation side and the constant side.
        let (act, k) = match (g.tensors[a].is_const(), g.tensors[b].is_const()) {
            (false, true) => (a, b),
            (true, false) => (b, a),
            _ => continue,
        };
        let Some(p) = sole_producer(g, act) else {
            continue;
        };
        let kshape = g.tensors[k].shape.clone();
        let kdata = g.tensors[k].data.clone().unwrap_or_default();
        let out_shape = g.tensors[g.nodes[c].outputs[0]].shape.clone();
        if out_shape != g.tensors[act].shape {
            continue;
        }
        let pn = &g.nodes[p];
        // Channels the bias runs along, and which dim of the output that is.
        let (channels, dim) = match pn.op.f32().copied() {
            Some(KOp::Conv2d(cp)) if cp.act.kind == ACT_NONE && out_shape.len() >= 3 => {
                (cp.out_c as usize, 1)
            }
            Some(KOp::Dense(dp))
                if dp.act.kind == ACT_NONE && !dp.bias_full && !out_shape.is_empty() =>
            {
                (dp.n as usize, out_shape.len() - 1)
            }
            _ => continue,
        };
        // The constant must vary only along `dim` (right-aligned broadcasting).
        let lead = out_shape.len().saturating_sub(kshape.len());
        if kshape.len() > out_shape.len() {
            continue;
        }
        let only_dim = kshape
            .iter()
            .enumerate()
            .all(|(i, &s)| s == 1 || i + lead == dim);
        if !only_dim || !(kdata.len() == channels || kdata.len() == 1) {
            continue;
        }
        let add: Vec<f32> = (0..channels)
            .map(|i| kdata[if kdata.len() == 1 { 0 } else { i }])
            .collect();
        let old = match pn.inputs.get(2) {
            Some(&bt) => match const_data(g, bt) {
                Some(d) => d.clone(),
                None => continue,
            },
            None => vec![0.0; channels],
        };
        let w = pn.inputs[1];
        // A scale goes into the weights: not for a pre-quantized model's, which must stay on
        // their int8 grid.
        if mul && (g.tensors[w].quant.is_some() || const_data(g, w).is_none()) {
            continue;
        }
        let new_b: Vec<f32> = if mul {
            old.iter().zip(&add).map(|(o, m)| o * m).collect()
        } else {
            old.iter().zip(&add).map(|(o, a)| o + a).collect()
        };
        let name = pn.name.clone();
        let conv = matches!(pn.op.f32(), Some(KOp::Conv2d(_)));
        if mul {
            let wd = const_data(g, w).cloned().unwrap_or_default();
            let per = wd.len() / channels.max(1);
            // Conv weights [out_c, ...]: one row per channel; dense [k, n]: one column.
            let scaled: Vec<f32> = wd
                .iter()
                .enumerate()
                .map(|(i, &v)| v * add[if conv { i / per.max(1) } else { i % channels }])
                .collect();
            let shape = g.tensors[w].shape.clone();
            let wt = new_const(g, format!("{name}::weights"), shape, scaled);
            g.nodes[p].inputs[1] = wt;
        }
        let bt = new_const(g, format!("{name}::bias"), vec![channels], new_b);
        g.nodes[p].inputs.truncate(2);
        g.nodes[p].inputs.push(bt);
        let add_name = g.nodes[c].name.clone();
        splice(g, p, c);
        return Some(if mul {
            Rewrite::FoldedScale {
                node: add_name,
                into: name,
            }
        } else {
            Rewrite::FoldedBias {
                node: add_name,
                into: name,
            }
        });
    }
    None
}

/// The scalar value of a constant whose elements are all equal.
fn scalar(g: &Graph, t: TensorId) -> Option<f32> {
    let d = const_data(g, t)?;
    let v = *d.first()?;
    d.iter().all(|&x| x == v).then_some(v)
}

/// `node` is a binary `op` of one activation and a scalar constant: `(activation, scalar)`
/// (`a op c` only: the constant second, or either side for commutative ops).
fn binary_scalar(g: &Graph, node: usize, op: u8) -> Option<(TensorId, f32)> {
    let Some(KOp::Binary(p)) = g.nodes[node].op.f32() else {
        return None;
    };
    if p.op != op || p.act.kind != ACT_NONE {
        return None;
    }
    let (a, b) = (g.nodes[node].inputs[0], g.nodes[node].inputs[1]);
    if let Some(c) = scalar(g, b) {
        return (!g.tensors[a].is_const()).then_some((a, c));
    }
    let commutes = op == BIN_ADD || op == BIN_MUL;
    match scalar(g, a) {
        Some(c) if commutes && !g.tensors[b].is_const() => Some((b, c)),
        _ => None,
    }
}

/// `t` is `Clip(x + 3, 0, 6)` (a Clip node, or the Add with a fused clip): `(x, nodes)`.
fn relu6_of_x_plus_3(g: &Graph, t: TensorId) -> Option<(TensorId, Vec<usize>)> {
    let n = sole_producer(g, t)?;
    let clip6 = |a: &Act| a.kind == ACT_CLIP && a.a == 0.0 && a.b == 6.0;
    match g.nodes[n].op.f32()? {
        KOp::Unary(u) if u.kind == UN_CLIP && u.alpha == 0.0 && u.beta == 6.0 => {
            let a = sole_producer(g, g.nodes[n].inputs[0])?;
            let (x, c) = binary_scalar(g, a, BIN_ADD)?;
            (c == 3.0).then(|| (x, vec![a, n]))
        }
        KOp::Binary(p) if p.op == BIN_ADD && clip6(&p.act) => {
            let (a, b) = (g.nodes[n].inputs[0], g.nodes[n].inputs[1]);
            let (x, c) = match (scalar(g, a), scalar(g, b)) {
                (None, Some(c)) => (a, c),
                (Some(c), None) => (b, c),
                _ => return None,
            };
            (c == 3.0).then(|| (x, vec![n]))
        }
        _ => None,
    }
}

/// `node` divides by 6 or multiplies by 1/6: its other operand.
fn sixth_of(g: &Graph, node: usize) -> Option<TensorId> {
    if let Some((u, 6.0)) = binary_scalar(g, node, BIN_DIV) {
        return Some(u);
    }
    match binary_scalar(g, node, BIN_MUL) {
        Some((u, c)) if (c - 1.0 / 6.0).abs() <= 1e-6 => Some(u),
        _ => None,
    }
}

/// Node `n` is `Clip(x + 3, 0, 6) / 6` (or `* (1/6)`): `(x, nodes)`.
fn written_hard_sigmoid(g: &Graph, n: usize) -> Option<(TensorId, Vec<usize>)> {
    let (x, mut nodes) = relu6_of_x_plus_3(g, sixth_of(g, n)?)?;
    nodes.push(n);
    Some((x, nodes))
}

/// `t` is HardSigmoid(x) with alpha 1/6, beta 1/2, written out or as one op: `(x, nodes)`.
fn hard_sigmoid_of(g: &Graph, t: TensorId) -> Option<(TensorId, Vec<usize>)> {
    let n = sole_producer(g, t)?;
    if let Some(KOp::Unary(u)) = g.nodes[n].op.f32() {
        let sixth = (u.alpha - 1.0 / 6.0).abs() <= 1e-6 && u.beta == 0.5;
        return (u.kind == UN_HARD_SIGMOID && sixth).then(|| (g.nodes[n].inputs[0], vec![n]));
    }
    written_hard_sigmoid(g, n)
}

/// A matcher of `f(x)` in a tensor: `(x, nodes computing it)`.
type Gate = fn(&Graph, TensorId) -> Option<(TensorId, Vec<usize>)>;

/// Node `m` is `x * f(x)` (either order) where `gate` recognises `f(x)`: `(x, nodes)`, `m`
/// last.
fn x_times(g: &Graph, m: usize, gate: Gate) -> Option<(TensorId, Vec<usize>)> {
    let Some(KOp::Binary(p)) = g.nodes[m].op.f32() else {
        return None;
    };
    if p.op != BIN_MUL || p.act.kind != ACT_NONE {
        return None;
    }
    let (a, b) = (g.nodes[m].inputs[0], g.nodes[m].inputs[1]);
    [(a, b), (b, a)].into_iter().find_map(|(x, t)| {
        let (y, mut nodes) = gate(g, t)?;
        (y == x).then(|| {
            nodes.push(m);
            (x, nodes)
        })
    })
}

/// One pattern ending at node `n`: `(x, nodes computing it, kind)`.
fn hard_activation(g: &Graph, n: usize) -> Option<(TensorId, Vec<usize>, u8)> {
    // x * HardSigmoid(x)
    if let Some((x, nodes)) = x_times(g, n, hard_sigmoid_of) {
        return Some((x, nodes, UN_HARD_SWISH));
    }
    // (x * Clip(x + 3, 0, 6)) / 6
    let swish = sixth_of(g, n)
        .and_then(|u| sole_producer(g, u))
        .and_then(|m| x_times(g, m, relu6_of_x_plus_3));
    if let Some((x, mut nodes)) = swish {
        nodes.push(n);
        return Some((x, nodes, UN_HARD_SWISH));
    }
    // Clip(x + 3, 0, 6) / 6 alone
    let (x, nodes) = written_hard_sigmoid(g, n)?;
    Some((x, nodes, UN_HARD_SIGMOID))
}

fn fuse_hard_activation(g: &mut Graph) -> Option<Rewrite> {
    for n in 0..g.nodes.len() {
        let Some((x, mut nodes, kind)) = hard_activation(g, n) else {
            continue;
        };
        let y = g.nodes[n].outputs[0];
        if g.tensors[x].shape != g.tensors[y].shape {
            continue;
        }
        let names = nodes.iter().map(|&i| g.nodes[i].name.clone()).collect();
        let (alpha, beta, op_type) = if kind == UN_HARD_SWISH {
            (0.0, 0.0, "HardSwish")
        } else {
            (1.0 / 6.0, 0.5, "HardSigmoid")
        };
        let into = g.nodes[n].name.clone();
        let len = g.tensors[y].len() as u32;
        g.nodes[n].op = Op::F32(KOp::Unary(UnaryP {
            kind,
            len,
            alpha,
            beta,
        }));
        g.nodes[n].op_type = op_type.into();
        g.nodes[n].inputs = vec![x];
        g.nodes[n].macs = 0;
        nodes.retain(|&i| i != n);
        nodes.sort_unstable();
        for &i in nodes.iter().rev() {
            g.nodes.remove(i);
        }
        return Some(Rewrite::FusedHardActivation {
            nodes: names,
            op_type,
            into,
        });
    }
    None
}

fn merge_pad(g: &mut Graph) -> Option<Rewrite> {
    for c in 0..g.nodes.len() {
        let Some(KOp::Conv2d(cp)) = g.nodes[c].op.f32().copied() else {
            continue;
        };
        let Some(p) = sole_producer(g, g.nodes[c].inputs[0]) else {
            continue;
        };
        let Some(KOp::Pad(pp)) = g.nodes[p].op.f32().copied() else {
            continue;
        };
        // Zero padding of H and W only, of a 4-D NCHW tensor.
        let spatial_only = pp.rank == 4
            && pp.value == 0.0
            && pp.begin[0] == 0
            && pp.begin[1] == 0
            && pp.in_shape[..2] == pp.out_shape[..2];
        if !spatial_only || pp.out_shape[2] != cp.in_h || pp.out_shape[3] != cp.in_w {
            continue;
        }
        let merged = Conv2dP {
            in_h: pp.in_shape[2],
            in_w: pp.in_shape[3],
            pad_t: cp.pad_t + pp.begin[2],
            pad_l: cp.pad_l + pp.begin[3],
            ..cp
        };
        let (node, into) = (g.nodes[p].name.clone(), g.nodes[c].name.clone());
        g.nodes[c].op = Op::F32(KOp::Conv2d(merged));
        g.nodes[c].inputs[0] = g.nodes[p].inputs[0];
        g.nodes.remove(p);
        return Some(Rewrite::MergedPad { node, into });
    }
    None
}

fn fuse_activation(g: &mut Graph) -> Option<Rewrite> {
    for c in 0..g.nodes.len() {
        let Some(KOp::Unary(up)) = g.nodes[c].op.f32().copied() else {
            continue;
        };
        let act = match up.kind {
            UN_RELU => Act::RELU,
            UN_CLIP => Act::clip(up.alpha, up.beta),
            _ => continue,
        };
        let Some(p) = sole_producer(g, g.nodes[c].inputs[0]) else {
            continue;
        };
        let slot = match &mut g.nodes[p].op {
            Op::F32(KOp::Conv2d(q)) => &mut q.act,
            Op::F32(KOp::Dense(q)) => &mut q.act,
            Op::F32(KOp::Binary(q)) => &mut q.act,
            _ => continue,
        };
        if slot.kind != ACT_NONE {
            continue;
        }
        *slot = act;
        let into = g.nodes[p].name.clone();
        let (node, op_type) = (g.nodes[c].name.clone(), g.nodes[c].op_type.clone());
        splice(g, p, c);
        return Some(Rewrite::FusedActivation {
            node,
            op_type,
            into,
        });
    }
    None
}

/// Source offsets of every output element of a strided copy, in output order.
fn strided_sources(p: &StridedP) -> Vec<i64> {
    let rank = (p.rank as usize).clamp(1, MAX_RANK);
    let shape = &p.out_shape[..rank];
    let len: usize = shape.iter().map(|&d| d as usize).product();
    let mut out = Vec::with_capacity(len);
    let mut idx = [0usize; MAX_RANK];
    for _ in 0..len {
        let off: i64 = (0..rank)
            .map(|d| idx[d] as i64 * p.strides[d] as i64)
            .sum::<i64>()
            + p.offset as i64;
        out.push(off);
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] as usize {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// `second ∘ first` as one strided copy over the output's logical `shape`, when it is one: the
/// source offsets the second copy reads through the first must be affine in the output index.
fn compose_strided(first: &StridedP, second: &StridedP, shape: &[usize]) -> Option<StridedP> {
    let a = strided_sources(first);
    let src: Vec<i64> = strided_sources(second)
        .iter()
        .map(|&j| usize::try_from(j).ok().and_then(|j| a.get(j).copied()))
        .collect::<Option<_>>()?;
    if shape.iter().product::<usize>() != src.len() || src.is_empty() {
        return None;
    }
    let base = src[0];
    // The source offset's step along each logical dim; strided_params drops size-1 dims and
    // merges contiguous ones (so an identity map becomes a plain copy).
    let mut inner = src.len();
    let strides: Vec<isize> = shape
        .iter()
        .map(|&n| {
            inner /= n.max(1);
            if n > 1 {
                (src[inner] - base) as isize
            } else {
                0
            }
        })
        .collect();
    let p = strided_params("", shape, &strides, usize::try_from(base).ok()?).ok()?;
    (strided_sources(&p) == src).then_some(p)
}

fn compose_copies(g: &mut Graph) -> Option<Rewrite> {
    for c in 0..g.nodes.len() {
        let Some(KOp::Strided(second)) = g.nodes[c].op.f32().copied() else {
            continue;
        };
        let Some(p) = sole_producer(g, g.nodes[c].inputs[0]) else {
            continue;
        };
        let Some(KOp::Strided(first)) = g.nodes[p].op.f32().copied() else {
            continue;
        };
        let shape = g.tensors[g.nodes[c].outputs[0]].shape.clone();
        let Some(composed) = compose_strided(&first, &second, &shape) else {
            continue;
        };
        let first_name = g.nodes[p].name.clone();
        g.nodes[c].op = Op::F32(KOp::Strided(composed));
        g.nodes[c].inputs = g.nodes[p].inputs.clone();
        g.nodes.remove(p);
        return Some(Rewrite::ComposedCopies {
            first: first_name,
            into: g.nodes[c - 1].name.clone(),
        });
    }
    None
}

fn remove_copy(g: &mut Graph) -> Option<Rewrite> {
    for c in 0..g.nodes.len() {
        let Some(KOp::Strided(sp)) = g.nodes[c].op.f32().copied() else {
            continue;
        };
        if !is_plain_copy(&sp) {
            continue;
        }
        let Some(p) = sole_producer(g, g.nodes[c].inputs[0]) else {
            continue;
        };
        if g.nodes[p].outputs.len() != 1 {
            continue;
        }
        let (node, op_type) = (g.nodes[c].name.clone(), g.nodes[c].op_type.clone());
        // The copy holds the same values: it keeps the parameters the model gave them.
        let (x, y) = (g.nodes[c].inputs[0], g.nodes[c].outputs[0]);
        if g.tensors[y].quant.is_none() {
            g.tensors[y].quant = g.tensors[x].quant.clone();
        }
        splice(g, p, c);
        return Some(Rewrite::RemovedCopy { node, op_type });
    }
    None
}

/// Drops tensors no node, graph input or graph output refers to, renumbering the rest.
fn compact(g: &mut Graph) {
    let mut used = vec![false; g.tensors.len()];
    for n in &g.nodes {
        for &t in n.inputs.iter().chain(&n.outputs) {
            used[t] = true;
        }
    }
    for &t in g.inputs.iter().chain(&g.outputs) {
        used[t] = true;
    }
    let mut map = vec![usize::MAX; g.tensors.len()];
    let mut kept = vec![];
    for (i, t) in std::mem::take(&mut g.tensors).into_iter().enumerate() {
        if used[i] {
            map[i] = kept.len();
            kept.push(t);
        }
    }
    g.tensors = kept;
    for n in &mut g.nodes {
        for t in n.inputs.iter_mut().chain(n.outputs.iter_mut()) {
            *t = map[*t];
        }
    }
    for t in g.inputs.iter_mut().chain(g.outputs.iter_mut()) {
        *t = map[*t];
    }
}
