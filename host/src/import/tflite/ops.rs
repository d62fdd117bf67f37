//! TFLite builtin operators → kiln nodes: the dispatch table (each builtin's lowering lives in
//! its family's module, `crate::ops::<family>::tflite`), QUANTIZE / DEQUANTIZE, and the helpers
//! the lowerings share (operator context, fused activations, padding windows, weight and bias
//! parameters).

use kiln_kernels::f32::*;
use tract_tflite::tflite as fb;

use super::{limitation, nchw_shape, Front, Layout};
use crate::import::shape::fits_u32;
use crate::import::Reason;
use crate::ir::{self, QParams, TensorId};
use crate::ops::strided::strided_params;

/// One TFLite operator being lowered.
pub(crate) struct OpCx<'a> {
    pub op: fb::Operator<'a>,
    /// kiln's node name (`conv_2d_3`: builtin and operator index).
    pub name: String,
    pub op_type: String,
    /// Tensor indices; -1 for an omitted optional input.
    pub ins: Vec<i32>,
    pub outs: Vec<usize>,
}

impl OpCx<'_> {
    pub(crate) fn input(&self, k: usize) -> Result<usize, Reason> {
        match self.ins.get(k) {
            Some(&i) if i >= 0 => Ok(i as usize),
            _ => Err(Reason::Arity {
                what: "inputs",
                expected: format!("input {k}"),
                actual: self.ins.len(),
            }),
        }
    }
    pub(crate) fn opt_input(&self, k: usize) -> Option<usize> {
        self.ins.get(k).filter(|&&i| i >= 0).map(|&i| i as usize)
    }
    pub(crate) fn out0(&self) -> Result<usize, Reason> {
        match self.outs.as_slice() {
            [o] => Ok(*o),
            other => Err(Reason::Arity {
                what: "outputs",
                expected: "1".into(),
                actual: other.len(),
            }),
        }
    }
}

pub(crate) type Lower = fn(&mut Front, &OpCx) -> Result<(), Reason>;

/// The lowering of a builtin, `None` when kiln has no kernel for it.
pub(crate) fn lowering(op: fb::BuiltinOperator) -> Option<Lower> {
    use fb::BuiltinOperator as B;
    Some(match op {
        B::CONV_2D => crate::ops::conv2d::tflite::conv_2d,
        B::DEPTHWISE_CONV_2D => crate::ops::conv2d::tflite::depthwise_conv_2d,
        B::FULLY_CONNECTED => crate::ops::dense::tflite::fully_connected,
        B::AVERAGE_POOL_2D | B::MAX_POOL_2D => crate::ops::pool2d::tflite::pool_2d,
        B::ADD | B::SUB | B::MUL | B::DIV => crate::ops::binary::tflite::binary,
        B::RESHAPE | B::SQUEEZE | B::EXPAND_DIMS => crate::ops::strided::tflite::reshape,
        B::SOFTMAX => crate::ops::softmax::tflite::softmax,
        B::LOGISTIC
        | B::TANH
        | B::RELU
        | B::RELU6
        | B::RELU_N1_TO_1
        | B::LEAKY_RELU
        | B::HARD_SWISH => crate::ops::unary::tflite::unary,
        B::CONCATENATION => crate::ops::concat::tflite::concatenation,
        B::PAD | B::PADV2 => crate::ops::pad::tflite::pad,
        B::MEAN => crate::ops::reduce::tflite::mean,
        B::STRIDED_SLICE => crate::ops::strided::tflite::strided_slice,
        B::TRANSPOSE => crate::ops::strided::tflite::transpose,
        B::QUANTIZE => quantize,
        B::DEQUANTIZE => dequantize,
        _ => return None,
    })
}

pub(crate) fn push(f: &mut Front, n: &OpCx, op: ir::Op, inputs: Vec<TensorId>, y: TensorId) {
    let macs = op.macs();
    f.g.nodes.push(ir::Node {
        name: n.name.clone(),
        op_type: n.op_type.clone(),
        op,
        inputs,
        outputs: vec![y],
        idx: vec![],
        tables: Default::default(),
        macs,
    });
}

pub(crate) fn fused(a: fb::ActivationFunctionType) -> Result<Act, Reason> {
    use fb::ActivationFunctionType as A;
    match a {
        A::NONE => Ok(Act::NONE),
        A::RELU => Ok(Act::RELU),
        A::RELU6 => Ok(Act::clip(0.0, 6.0)),
        A::RELU_N1_TO_1 => Ok(Act::clip(-1.0, 1.0)),
        other => Err(Reason::AttributeValue {
            name: "fused_activation_function".into(),
            value: other.variant_name().unwrap_or("?").into(),
            why: "kiln fuses NONE, RELU, RELU6 and RELU_N1_TO_1".into(),
        }),
    }
}

pub(crate) fn options_missing(what: &str) -> Reason {
    Reason::InvalidValue {
        input: "builtin_options".into(),
        why: format!("{what} options are missing"),
    }
}

/// Output size and top / left pad of one spatial dim for TFLite's padding mode.
pub(crate) fn window(
    padding: fb::Padding,
    input: usize,
    k: usize,
    s: usize,
    d: usize,
) -> Result<(usize, usize), Reason> {
    let eff = (k - 1) * d + 1;
    match padding {
        fb::Padding::SAME => {
            let out = input.div_ceil(s);
            let total = ((out - 1) * s + eff).saturating_sub(input);
            Ok((out, total / 2))
        }
        fb::Padding::VALID if input >= eff => Ok(((input - eff) / s + 1, 0)),
        fb::Padding::VALID => Err(limitation(
            "VALID padding with a window larger than the input",
        )),
        other => Err(Reason::AttributeValue {
            name: "padding".into(),
            value: format!("{}", other.0),
            why: "unknown padding mode".into(),
        }),
    }
}

pub(crate) fn positive(name: &str, v: i32) -> Result<usize, Reason> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| Reason::AttributeValue {
            name: name.into(),
            value: v.to_string(),
            why: "must be at least 1".into(),
        })
}

/// The model's parameters of a weight tensor, for its kiln layout: per tensor, or per channel
/// with the channel axis of the kiln tensor. Float models (weights-only int8 included) give none.
pub(crate) fn weight_q(
    f: &Front,
    w: usize,
    tfl_dim: usize,
    kiln_axis: usize,
) -> Result<Option<QParams>, Reason> {
    if !f.quantized {
        return Ok(None);
    }
    let Some((scale, zp, dim)) = f.quant(w)? else {
        return Ok(None);
    };
    if scale.len() == 1 {
        return Ok(Some(QParams::per_tensor(scale[0], zp[0])));
    }
    if dim != tfl_dim {
        return Err(Reason::Limitation {
            what: format!(
                "`{}` is quantized along dimension {dim}; kiln needs the output channels ({tfl_dim})",
                f.name(w)
            ),
        });
    }
    Ok(Some(QParams {
        scale,
        zp,
        axis: Some(kiln_axis),
    }))
}

/// A bias constant with its model parameters.
pub(crate) fn bias(
    f: &mut Front,
    n: &OpCx,
    k: usize,
    channels: usize,
) -> Result<Option<TensorId>, Reason> {
    let Some(b) = n.opt_input(k) else {
        return Ok(None);
    };
    let data = f.const_f32(b)?;
    if data.len() != channels {
        return Err(Reason::InvalidValue {
            input: f.name(b),
            why: format!("{} bias values for {channels} output channels", data.len()),
        });
    }
    let q = if f.quantized {
        f.quant(b)?.map(|(scale, zp, _)| {
            let axis = (scale.len() > 1).then_some(0);
            QParams { scale, zp, axis }
        })
    } else {
        None
    };
    let ints = if q.is_some() { f.const_i32(b)? } else { None };
    let name = f.name(b);
    let id = f.konst(name, vec![channels], data);
    f.g.tensors[id].quant = q;
    f.g.tensors[id].ints = ints;
    Ok(Some(id))
}

/// A separate activation after an op whose kernel has no fused one (pooling).
pub(crate) fn activation_after(f: &mut Front, n: &OpCx, y: TensorId, act: Act) -> TensorId {
    if act.kind == ACT_NONE {
        return y;
    }
    let t = f.g.tensors[y].clone();
    let (kind, alpha, beta) = match act.kind {
        ACT_RELU => (UN_RELU, 0.0, 0.0),
        _ => (UN_CLIP, act.a, act.b),
    };
    let pre = ir::Tensor {
        name: format!("{}:pre_act", t.name),
        ..t.clone()
    };
    let pre = f.g.add_tensor(pre);
    // The op writes `pre`; the activation writes the op's output tensor.
    if let Some(node) = f.g.nodes.last_mut() {
        node.outputs = vec![pre];
    }
    let p = UnaryP {
        kind,
        len: t.len() as u32,
        alpha,
        beta,
    };
    f.g.nodes.push(ir::Node::new(
        format!("{}:act", n.name),
        n.op_type.clone(),
        KOp::Unary(p).into(),
        vec![pre],
        vec![y],
    ));
    y
}

/// A constant operand in the working layout: broadcast-aligned to rank 4 and permuted to NCHW
/// when `nchw`.
pub(crate) fn const_operand(
    f: &mut Front,
    i: usize,
    nchw: bool,
) -> Result<(TensorId, Vec<usize>), Reason> {
    let data = f.const_f32(i)?;
    let shape = f.shape(i)?;
    let name = f.name(i);
    if !nchw {
        let id = f.konst(name, shape.clone(), data);
        return Ok((id, shape));
    }
    let mut s4 = vec![1; 4 - shape.len().min(4)];
    s4.extend(&shape);
    let (h, w, c) = (s4[1], s4[2], s4[3]);
    let mut out = vec![0f32; data.len()];
    for nn in 0..s4[0] {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    out[((nn * c + ch) * h + y) * w + x] = data[((nn * h + y) * w + x) * c + ch];
                }
            }
        }
    }
    let s = nchw_shape(&s4);
    let id = f.konst(format!("{name}:nchw"), s.clone(), out);
    Ok((id, s))
}

pub(crate) fn copy(f: &mut Front, n: &OpCx, x: TensorId, y: TensorId) -> Result<(), Reason> {
    let len = f.g.tensors[y].len();
    if f.g.tensors[x].len() != len {
        return Err(Reason::InvalidValue {
            input: f.g.tensors[x].name.clone(),
            why: format!("{} elements reshaped to {len}", f.g.tensors[x].len()),
        });
    }
    let p = strided_params(&f.g.tensors[y].name, &[len], &[1], 0)?;
    push(f, n, KOp::Strided(p).into(), vec![x], y);
    Ok(())
}

pub(crate) fn norm_axis(axis: i64, rank: usize) -> Result<usize, Reason> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| Reason::AttributeValue {
            name: "axis".into(),
            value: axis.to_string(),
            why: format!("out of range for rank {rank}"),
        })
}

/// QUANTIZE: float → int8, or int8 → int8 with other parameters (a requantize once lowered).
/// In the f32 graph: a Quantize into an int8 tensor and its Dequantize, whose value carries the
/// output's parameters.
pub(crate) fn quantize(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let q = f
        .act_quant(out)?
        .ok_or_else(|| limitation("QUANTIZE into a type other than int8"))?;
    let nchw = f.is_nchw(x);
    let xt = f.input(x, if nchw { Layout::Nchw } else { Layout::Tfl })?;
    let shape = f.g.tensors[xt].shape.clone();
    fits_u32("elements", f.g.tensors[xt].len())?;
    let mut t = ir::Tensor::act(format!("{}:int8", f.name(out)), shape);
    t.dtype = ir::DType::I8;
    t.quant = Some(q);
    let qi = f.push_quantize(n.name.clone(), n.op_type.as_str(), xt, t);
    // The value TFLite calls `out`, with its parameters: the Dequantize of the int8 tensor.
    let y = f.output(out, nchw)?;
    let (scale, zp) = f.g.tensors[y].quant.as_ref().map_or((1.0, 0), |q| q.one());
    let len = f.g.tensors[y].len() as u32;
    f.g.nodes.push(ir::Node::new(
        format!("{}:dequantize", n.name),
        "QUANTIZE",
        ir::Op::Dequantize(kiln_kernels::i8::DequantizeP { len, scale, zp }),
        vec![qi],
        vec![y],
    ));
    Ok(())
}

/// DEQUANTIZE: of a constant (weights of a float op), folded; of an int8 activation, the same
/// value (the f32 graph already holds it as a real number).
pub(crate) fn dequantize(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    if f.is_const(x) {
        let data = f.const_f32(x)?;
        f.folded.insert(out, data);
        return Ok(());
    }
    let v = *f.vals.get(&x).ok_or_else(|| Reason::UnknownShape {
        value: f.name(x),
        cause: "no earlier operator computes it".into(),
    })?;
    f.vals.insert(out, v);
    Ok(())
}
