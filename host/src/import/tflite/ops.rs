//! TFLite builtin operators → kiln nodes: one lowering per builtin (or family), with its kernel
//! parameters, its layout rule and its MAC count.

use kiln_kernels::f32::*;
use tract_tflite::tflite as fb;

use super::{checked_len, limitation, nchw_shape, Front, Layout, NHWC_TO_NCHW};
use crate::ops::binary::{binary_params, broadcast_shape, broadcast_strides};
use crate::ops::reduce::reduce_params;
use crate::import::shape::{arr_u32, fits_u32, strides_of};
use crate::ops::strided::strided_params;
use crate::import::Reason;
use crate::ir::{self, QParams, TensorId};

/// One TFLite operator being lowered.
pub(super) struct OpCx<'a> {
    pub op: fb::Operator<'a>,
    /// kiln's node name (`conv_2d_3`: builtin and operator index).
    pub name: String,
    pub op_type: String,
    /// Tensor indices; -1 for an omitted optional input.
    pub ins: Vec<i32>,
    pub outs: Vec<usize>,
}

impl OpCx<'_> {
    fn input(&self, k: usize) -> Result<usize, Reason> {
        match self.ins.get(k) {
            Some(&i) if i >= 0 => Ok(i as usize),
            _ => Err(Reason::Arity {
                what: "inputs",
                expected: format!("input {k}"),
                actual: self.ins.len(),
            }),
        }
    }
    fn opt_input(&self, k: usize) -> Option<usize> {
        self.ins.get(k).filter(|&&i| i >= 0).map(|&i| i as usize)
    }
    fn out0(&self) -> Result<usize, Reason> {
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

type Lower = fn(&mut Front, &OpCx) -> Result<(), Reason>;

/// The lowering of a builtin, `None` when kiln has no kernel for it.
pub(super) fn lowering(op: fb::BuiltinOperator) -> Option<Lower> {
    use fb::BuiltinOperator as B;
    Some(match op {
        B::CONV_2D => conv_2d,
        B::DEPTHWISE_CONV_2D => depthwise_conv_2d,
        B::FULLY_CONNECTED => fully_connected,
        B::AVERAGE_POOL_2D | B::MAX_POOL_2D => pool_2d,
        B::ADD | B::SUB | B::MUL | B::DIV => binary,
        B::RESHAPE | B::SQUEEZE | B::EXPAND_DIMS => reshape,
        B::SOFTMAX => softmax,
        B::LOGISTIC
        | B::TANH
        | B::RELU
        | B::RELU6
        | B::RELU_N1_TO_1
        | B::LEAKY_RELU
        | B::HARD_SWISH => unary,
        B::CONCATENATION => concatenation,
        B::PAD | B::PADV2 => pad,
        B::MEAN => mean,
        B::STRIDED_SLICE => strided_slice,
        B::TRANSPOSE => transpose,
        B::QUANTIZE => quantize,
        B::DEQUANTIZE => dequantize,
        _ => return None,
    })
}

fn push(f: &mut Front, n: &OpCx, op: ir::Op, inputs: Vec<TensorId>, y: TensorId) {
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

fn fused(a: fb::ActivationFunctionType) -> Result<Act, Reason> {
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

fn options_missing(what: &str) -> Reason {
    Reason::InvalidValue {
        input: "builtin_options".into(),
        why: format!("{what} options are missing"),
    }
}

/// Output size and top / left pad of one spatial dim for TFLite's padding mode.
fn window(
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

fn positive(name: &str, v: i32) -> Result<usize, Reason> {
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
fn weight_q(
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
fn bias(f: &mut Front, n: &OpCx, k: usize, channels: usize) -> Result<Option<TensorId>, Reason> {
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

fn conv_like(f: &mut Front, n: &OpCx, depthwise: bool) -> Result<(), Reason> {
    let (x, w, out) = (n.input(0)?, n.input(1)?, n.out0()?);
    // Conv2DOptions and DepthwiseConv2DOptions share these fields (different generated types).
    macro_rules! geometry {
        ($o:expr) => {
            (
                $o.padding(),
                $o.stride_h(),
                $o.stride_w(),
                $o.dilation_h_factor(),
                $o.dilation_w_factor(),
                $o.fused_activation_function(),
            )
        };
    }
    let (padding, sh, sw, dh, dw, act) = if depthwise {
        geometry!(n
            .op
            .builtin_options_as_depthwise_conv_2_doptions()
            .ok_or_else(|| options_missing("DepthwiseConv2D"))?)
    } else {
        geometry!(n
            .op
            .builtin_options_as_conv_2_doptions()
            .ok_or_else(|| options_missing("Conv2D"))?)
    };
    let (sh, sw) = (positive("stride_h", sh)?, positive("stride_w", sw)?);
    let (dh, dw) = (
        positive("dilation_h_factor", dh)?,
        positive("dilation_w_factor", dw)?,
    );
    let act = fused(act)?;
    let xs = f.shape(x)?;
    let ws = f.shape(w)?;
    let os = f.shape(out)?;
    if xs.len() != 4 || ws.len() != 4 || os.len() != 4 {
        return Err(limitation("only 2-D convolutions on 4-D NHWC tensors"));
    }
    let (batch, ih, iw, ic) = (xs[0], xs[1], xs[2], xs[3]);
    let (kh, kw) = (ws[1], ws[2]);
    let oc = os[3];
    let (groups, per_group) = if depthwise {
        if ws[0] != 1 || ws[3] != oc || oc % ic != 0 {
            return Err(Reason::InvalidValue {
                input: f.name(w),
                why: format!("depthwise filter {ws:?} for {ic} input and {oc} output channels"),
            });
        }
        (ic, 1)
    } else {
        if ws[0] != oc || ws[3] == 0 || ic % ws[3] != 0 {
            return Err(Reason::InvalidValue {
                input: f.name(w),
                why: format!("filter {ws:?} for {ic} input and {oc} output channels"),
            });
        }
        (ic / ws[3], ws[3])
    };
    let (oh, pad_t) = window(padding, ih, kh, sh, dh)?;
    let (ow, pad_l) = window(padding, iw, kw, sw, dw)?;
    if [batch, oh, ow, oc] != os[..] {
        return Err(Reason::ShapeMismatch {
            value: f.name(out),
            kiln: vec![batch, oh, ow, oc],
            tract: os,
        });
    }
    // TFLite [oc, kh, kw, ic/groups] (depthwise [1, kh, kw, oc]) → kiln [oc, ic/groups, kh, kw].
    let wd = f.const_f32(w)?;
    let mut wk = vec![0f32; wd.len()];
    for o in 0..oc {
        for i in 0..per_group {
            for y in 0..kh {
                for xx in 0..kw {
                    let src = if depthwise {
                        (y * kw + xx) * oc + o
                    } else {
                        ((o * kh + y) * kw + xx) * per_group + i
                    };
                    wk[((o * per_group + i) * kh + y) * kw + xx] = wd[src];
                }
            }
        }
    }
    let wq = weight_q(f, w, if depthwise { 3 } else { 0 }, 0)?;
    let wname = f.name(w);
    let wid = f.konst(wname, vec![oc, per_group, kh, kw], wk);
    f.g.tensors[wid].quant = wq;
    let b = bias(f, n, 2, oc)?;
    let xt = f.input(x, Layout::Nchw)?;
    let y = f.output(out, true)?;
    let p = Conv2dP {
        batch: fits_u32("batch", batch)?,
        in_c: fits_u32("channels", ic)?,
        in_h: fits_u32("height", ih)?,
        in_w: fits_u32("width", iw)?,
        out_c: fits_u32("channels", oc)?,
        out_h: oh as u32,
        out_w: ow as u32,
        k_h: fits_u32("kernel", kh)?,
        k_w: fits_u32("kernel", kw)?,
        s_h: fits_u32("stride", sh)?,
        s_w: fits_u32("stride", sw)?,
        d_h: fits_u32("dilation", dh)?,
        d_w: fits_u32("dilation", dw)?,
        pad_t: pad_t as u32,
        pad_l: pad_l as u32,
        groups: groups as u32,
        act,
    };
    let mut inputs = vec![xt, wid];
    inputs.extend(b);
    push(f, n, KOp::Conv2d(p).into(), inputs, y);
    Ok(())
}

fn conv_2d(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    conv_like(f, n, false)
}

fn depthwise_conv_2d(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    conv_like(f, n, true)
}

fn fully_connected(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, w, out) = (n.input(0)?, n.input(1)?, n.out0()?);
    let o =
        n.op.builtin_options_as_fully_connected_options()
            .ok_or_else(|| options_missing("FullyConnected"))?;
    if o.weights_format() != fb::FullyConnectedOptionsWeightsFormat::DEFAULT {
        return Err(limitation("shuffled fully-connected weights"));
    }
    let act = fused(o.fused_activation_function())?;
    let ws = f.shape(w)?;
    if ws.len() != 2 {
        return Err(Reason::InvalidValue {
            input: f.name(w),
            why: format!("weights of shape {ws:?}; TFLite's are [units, input size]"),
        });
    }
    let (units, k) = (ws[0], ws[1]);
    let len = checked_len(&f.name(x), &f.shape(x)?)?;
    if k == 0 || len % k != 0 {
        return Err(Reason::InvalidValue {
            input: f.name(x),
            why: format!("{len} elements do not split into rows of {k}"),
        });
    }
    let rows = len / k;
    let wd = f.const_f32(w)?;
    // TFLite [units, k] → kiln [k, units].
    let wk: Vec<f32> = (0..k * units)
        .map(|i| wd[(i % units) * k + i / units])
        .collect();
    let wq = weight_q(f, w, 0, 1)?;
    let wname = f.name(w);
    let wid = f.konst(wname, vec![k, units], wk);
    f.g.tensors[wid].quant = wq;
    let b = bias(f, n, 2, units)?;
    let xt = f.input(x, Layout::Tfl)?;
    let y = f.output(out, false)?;
    if f.g.tensors[y].len() != rows * units {
        return Err(Reason::ShapeMismatch {
            value: f.name(out),
            kiln: vec![rows, units],
            tract: f.shape(out)?,
        });
    }
    let p = DenseP {
        batch: 1,
        m: fits_u32("rows", rows)?,
        k: fits_u32("input size", k)?,
        n: fits_u32("units", units)?,
        bias_full: false,
        act,
    };
    let mut inputs = vec![xt, wid];
    inputs.extend(b);
    push(f, n, KOp::Dense(p).into(), inputs, y);
    Ok(())
}

/// A separate activation after an op whose kernel has no fused one (pooling).
fn activation_after(f: &mut Front, n: &OpCx, y: TensorId, act: Act) -> TensorId {
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

fn pool_2d(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let o =
        n.op.builtin_options_as_pool_2_doptions()
            .ok_or_else(|| options_missing("Pool2D"))?;
    let act = fused(o.fused_activation_function())?;
    let (kh, kw) = (
        positive("filter_height", o.filter_height())?,
        positive("filter_width", o.filter_width())?,
    );
    let (sh, sw) = (
        positive("stride_h", o.stride_h())?,
        positive("stride_w", o.stride_w())?,
    );
    let xs = f.shape(x)?;
    let os = f.shape(out)?;
    if xs.len() != 4 || os.len() != 4 {
        return Err(limitation("only 2-D pooling on 4-D NHWC tensors"));
    }
    let (oh, pad_t) = window(o.padding(), xs[1], kh, sh, 1)?;
    let (ow, pad_l) = window(o.padding(), xs[2], kw, sw, 1)?;
    if [xs[0], oh, ow, xs[3]] != os[..] {
        return Err(Reason::ShapeMismatch {
            value: f.name(out),
            kiln: vec![xs[0], oh, ow, xs[3]],
            tract: os,
        });
    }
    let max = n.op_type == "MAX_POOL_2D";
    let p = Pool2dP {
        kind: if max { POOL_MAX } else { POOL_AVG },
        batch: fits_u32("batch", xs[0])?,
        c: fits_u32("channels", xs[3])?,
        in_h: fits_u32("height", xs[1])?,
        in_w: fits_u32("width", xs[2])?,
        out_h: oh as u32,
        out_w: ow as u32,
        k_h: kh as u32,
        k_w: kw as u32,
        s_h: sh as u32,
        s_w: sw as u32,
        d_h: 1,
        d_w: 1,
        pad_t: pad_t as u32,
        pad_l: pad_l as u32,
        count_include_pad: false,
    };
    let xt = f.input(x, Layout::Nchw)?;
    let y = f.output(out, true)?;
    push(f, n, KOp::Pool2d(p).into(), vec![xt], y);
    activation_after(f, n, y, act);
    Ok(())
}

/// A constant operand in the working layout: broadcast-aligned to rank 4 and permuted to NCHW
/// when `nchw`.
fn const_operand(f: &mut Front, i: usize, nchw: bool) -> Result<(TensorId, Vec<usize>), Reason> {
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

fn binary(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (a, b, out) = (n.input(0)?, n.input(1)?, n.out0()?);
    let (op, act) = match n.op_type.as_str() {
        "ADD" => (
            BIN_ADD,
            n.op.builtin_options_as_add_options()
                .map(|o| o.fused_activation_function()),
        ),
        "SUB" => (
            BIN_SUB,
            n.op.builtin_options_as_sub_options()
                .map(|o| o.fused_activation_function()),
        ),
        "MUL" => (
            BIN_MUL,
            n.op.builtin_options_as_mul_options()
                .map(|o| o.fused_activation_function()),
        ),
        _ => (
            BIN_DIV,
            n.op.builtin_options_as_div_options()
                .map(|o| o.fused_activation_function()),
        ),
    };
    let act = fused(act.unwrap_or(fb::ActivationFunctionType::NONE))?;
    let os = f.shape(out)?;
    // NCHW when every activation operand is a permuted 4-D value and the output is 4-D.
    let acts: Vec<usize> = [a, b].into_iter().filter(|&i| !f.is_const(i)).collect();
    let nchw = os.len() == 4
        && acts.iter().any(|&i| f.is_nchw(i))
        && acts.iter().all(|&i| f.shape(i).is_ok_and(|s| s.len() == 4));
    let mut ids = vec![];
    let mut shapes = vec![];
    for i in [a, b] {
        if f.is_const(i) {
            let (id, s) = const_operand(f, i, nchw)?;
            ids.push(id);
            shapes.push(s);
        } else {
            let id = f.input(i, if nchw { Layout::Nchw } else { Layout::Tfl })?;
            shapes.push(f.g.tensors[id].shape.clone());
            ids.push(id);
        }
    }
    let so = broadcast_shape(&shapes[0], &shapes[1]).ok_or_else(|| Reason::InvalidValue {
        input: f.name(b),
        why: format!(
            "shapes {:?} and {:?} do not broadcast",
            shapes[0], shapes[1]
        ),
    })?;
    let want = if nchw { nchw_shape(&os) } else { os.clone() };
    if so != want {
        return Err(Reason::ShapeMismatch {
            value: f.name(out),
            kiln: so,
            tract: want,
        });
    }
    let sa = broadcast_strides(&shapes[0], &so).unwrap_or_default();
    let sb = broadcast_strides(&shapes[1], &so).unwrap_or_default();
    let mut p = binary_params(&f.name(out), op, &so, &sa, &sb)?;
    p.act = act;
    let y = f.output(out, nchw)?;
    push(f, n, KOp::Binary(p).into(), ids, y);
    Ok(())
}

fn copy(f: &mut Front, n: &OpCx, x: TensorId, y: TensorId) -> Result<(), Reason> {
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

fn reshape(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let xt = f.input(x, Layout::Tfl)?;
    let y = f.output(out, false)?;
    copy(f, n, xt, y)
}

fn softmax(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let beta =
        n.op.builtin_options_as_softmax_options()
            .map_or(1.0, |o| o.beta());
    if beta != 1.0 {
        return Err(Reason::AttributeValue {
            name: "beta".into(),
            value: beta.to_string(),
            why: "kiln's softmax has beta = 1".into(),
        });
    }
    let xs = f.shape(x)?;
    let last = *xs.last().unwrap_or(&1);
    let len = checked_len(&f.name(x), &xs)?;
    let xt = f.input(x, Layout::Tfl)?;
    let y = f.output(out, false)?;
    let p = SoftmaxP {
        outer: fits_u32("rows", len / last.max(1))?,
        axis: fits_u32("classes", last)?,
        inner: 1,
    };
    push(f, n, KOp::Softmax(p).into(), vec![xt], y);
    Ok(())
}

fn unary(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let (kind, alpha, beta) = match n.op_type.as_str() {
        "LOGISTIC" => (UN_SIGMOID, 0.0, 0.0),
        "TANH" => (UN_TANH, 0.0, 0.0),
        "RELU" => (UN_RELU, 0.0, 0.0),
        "RELU6" => (UN_CLIP, 0.0, 6.0),
        "RELU_N1_TO_1" => (UN_CLIP, -1.0, 1.0),
        "LEAKY_RELU" => (
            UN_LEAKY_RELU,
            n.op.builtin_options_as_leaky_relu_options()
                .map_or(0.2, |o| o.alpha()),
            0.0,
        ),
        _ => (UN_HARD_SWISH, 0.0, 0.0),
    };
    let nchw = f.is_nchw(x);
    let xt = f.input(x, if nchw { Layout::Nchw } else { Layout::Tfl })?;
    let y = f.output(out, nchw)?;
    let p = UnaryP {
        kind,
        len: fits_u32("elements", f.g.tensors[y].len())?,
        alpha,
        beta,
    };
    push(f, n, KOp::Unary(p).into(), vec![xt], y);
    Ok(())
}

fn norm_axis(axis: i64, rank: usize) -> Result<usize, Reason> {
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

fn concatenation(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let out = n.out0()?;
    let o =
        n.op.builtin_options_as_concatenation_options()
            .ok_or_else(|| options_missing("Concatenation"))?;
    if fused(o.fused_activation_function())?.kind != ACT_NONE {
        return Err(limitation("a fused activation on CONCATENATION"));
    }
    let os = f.shape(out)?;
    let axis = norm_axis(o.axis() as i64, os.len())?;
    let ins: Vec<usize> = (0..n.ins.len())
        .map(|k| n.input(k))
        .collect::<Result<_, _>>()?;
    if ins.len() > MAX_CONCAT {
        return Err(Reason::Limitation {
            what: format!(
                "{} inputs; kiln concatenates at most {MAX_CONCAT}",
                ins.len()
            ),
        });
    }
    let nchw = os.len() == 4
        && ins.iter().all(|&i| f.is_nchw(i) || f.is_const(i))
        && ins.iter().any(|&i| f.is_nchw(i));
    let (axis, oshape) = if nchw {
        (NHWC_TO_NCHW[axis], nchw_shape(&os))
    } else {
        (axis, os.clone())
    };
    let mut ids = vec![];
    let mut parts = [0u32; MAX_CONCAT];
    let inner: usize = oshape[axis + 1..].iter().product();
    let outer: usize = oshape[..axis].iter().product();
    for (k, &i) in ins.iter().enumerate() {
        let (id, s) = if f.is_const(i) {
            const_operand(f, i, nchw)?
        } else {
            let id = f.input(i, if nchw { Layout::Nchw } else { Layout::Tfl })?;
            (id, f.g.tensors[id].shape.clone())
        };
        if s.len() != oshape.len() {
            return Err(Reason::InvalidValue {
                input: f.name(i),
                why: format!("rank {} concatenated into rank {}", s.len(), oshape.len()),
            });
        }
        parts[k] = fits_u32("part", s[axis] * inner)?;
        ids.push(id);
    }
    let y = f.output(out, nchw)?;
    let p = ConcatP {
        outer: fits_u32("outer", outer)?,
        count: ids.len() as u32,
        parts,
    };
    push(f, n, KOp::Concat(p).into(), ids, y);
    Ok(())
}

fn pad(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, pads, out) = (n.input(0)?, n.input(1)?, n.out0()?);
    let xs = f.shape(x)?;
    let rank = xs.len();
    let pv = f.const_ints(pads)?;
    if pv.len() != 2 * rank || pv.iter().any(|&p| p < 0) {
        return Err(Reason::InvalidValue {
            input: f.name(pads),
            why: format!("paddings {pv:?} for rank {rank} (non-negative [rank, 2])"),
        });
    }
    let value = match n.opt_input(2) {
        Some(v) => *f.const_f32(v)?.first().unwrap_or(&0.0),
        None => 0.0,
    };
    let nchw = rank == 4 && f.is_nchw(x);
    let mut begin: Vec<usize> = (0..rank).map(|d| pv[2 * d] as usize).collect();
    let mut shape_in = xs.clone();
    let mut shape_out: Vec<usize> = (0..rank)
        .map(|d| xs[d] + pv[2 * d] as usize + pv[2 * d + 1] as usize)
        .collect();
    if f.shape(out)? != shape_out {
        return Err(Reason::ShapeMismatch {
            value: f.name(out),
            kiln: shape_out,
            tract: f.shape(out)?,
        });
    }
    if nchw {
        begin = nchw_shape(&begin);
        shape_in = nchw_shape(&shape_in);
        shape_out = nchw_shape(&shape_out);
    }
    if rank > MAX_RANK {
        return Err(Reason::Rank {
            value: f.name(x),
            rank,
            max: MAX_RANK,
        });
    }
    let xt = f.input(x, if nchw { Layout::Nchw } else { Layout::Tfl })?;
    let y = f.output(out, nchw)?;
    let p = PadP {
        rank: rank as u32,
        in_shape: arr_u32(&shape_in),
        out_shape: arr_u32(&shape_out),
        begin: arr_u32(&begin),
        value,
    };
    push(f, n, KOp::Pad(p).into(), vec![xt], y);
    Ok(())
}

fn mean(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, axes, out) = (n.input(0)?, n.input(1)?, n.out0()?);
    let keep =
        n.op.builtin_options_as_reducer_options()
            .is_some_and(|o| o.keep_dims());
    let xs = f.shape(x)?;
    let rank = xs.len();
    let mut reduced = vec![false; rank];
    for a in f.const_ints(axes)? {
        reduced[norm_axis(a, rank)?] = true;
    }
    // NCHW input: fine when the kept dims keep their order (always with keep_dims).
    let kept: Vec<usize> = (0..rank).filter(|&d| !reduced[d]).collect();
    let nchw = rank == 4
        && f.is_nchw(x)
        && (keep
            || kept
                .windows(2)
                .all(|w| NHWC_TO_NCHW[w[0]] < NHWC_TO_NCHW[w[1]]));
    let (shape, red) = if nchw {
        let mut r = vec![false; 4];
        for d in 0..4 {
            r[NHWC_TO_NCHW[d]] = reduced[d];
        }
        (nchw_shape(&xs), r)
    } else {
        (xs.clone(), reduced)
    };
    let p = reduce_params(&f.name(out), RED_MEAN, &shape, &red)?;
    let xt = f.input(x, if nchw { Layout::Nchw } else { Layout::Tfl })?;
    let y = f.output(out, nchw && keep)?;
    push(f, n, KOp::Reduce(p).into(), vec![xt], y);
    Ok(())
}

fn strided_slice(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let o =
        n.op.builtin_options_as_strided_slice_options()
            .ok_or_else(|| options_missing("StridedSlice"))?;
    if o.ellipsis_mask() != 0 || o.new_axis_mask() != 0 {
        return Err(limitation(
            "STRIDED_SLICE with ellipsis_mask or new_axis_mask",
        ));
    }
    let xs = f.shape(x)?;
    let rank = xs.len();
    let begin = f.const_ints(n.input(1)?)?;
    let end = f.const_ints(n.input(2)?)?;
    let steps = match n.opt_input(3) {
        Some(s) => f.const_ints(s)?,
        None => vec![1; rank],
    };
    if begin.len() != rank || end.len() != rank || steps.len() != rank {
        return Err(Reason::InvalidValue {
            input: f.name(x),
            why: format!(
                "begin / end / strides of lengths {} / {} / {} for rank {rank}",
                begin.len(),
                end.len(),
                steps.len()
            ),
        });
    }
    let in_strides = strides_of(&xs);
    let (mut offset, mut shape, mut strides) = (0usize, vec![], vec![]);
    for d in 0..rank {
        let dim = xs[d] as i64;
        let s = steps[d];
        if s == 0 {
            return Err(Reason::InvalidValue {
                input: f.name(x),
                why: format!("stride 0 on dimension {d}"),
            });
        }
        let norm = |v: i64| if v < 0 { v + dim } else { v };
        let shrink = o.shrink_axis_mask() & (1 << d) != 0;
        let (b, cnt) = if shrink {
            let b = norm(begin[d]);
            if !(0..dim).contains(&b) {
                return Err(Reason::InvalidValue {
                    input: f.name(x),
                    why: format!("index {} out of range on dimension {d}", begin[d]),
                });
            }
            (b, 1)
        } else if s > 0 {
            let b = if o.begin_mask() & (1 << d) != 0 {
                0
            } else {
                norm(begin[d]).clamp(0, dim)
            };
            let e = if o.end_mask() & (1 << d) != 0 {
                dim
            } else {
                norm(end[d]).clamp(0, dim)
            };
            (b, ((e - b).max(0) + s - 1) / s)
        } else {
            let b = if o.begin_mask() & (1 << d) != 0 {
                dim - 1
            } else {
                norm(begin[d]).clamp(-1, dim - 1)
            };
            let e = if o.end_mask() & (1 << d) != 0 {
                -1
            } else {
                norm(end[d]).clamp(-1, dim - 1)
            };
            (b, ((b - e).max(0) + (-s) - 1) / (-s))
        };
        if cnt > 0 {
            offset += b as usize * in_strides[d];
        }
        if !shrink {
            shape.push(cnt as usize);
            strides.push(s as isize * in_strides[d] as isize);
        }
    }
    let xt = f.input(x, Layout::Tfl)?;
    let y = f.output(out, false)?;
    let len: usize = shape.iter().product();
    if f.g.tensors[y].len() != len {
        return Err(Reason::ShapeMismatch {
            value: f.name(out),
            kiln: shape,
            tract: f.shape(out)?,
        });
    }
    let p = strided_params(&f.name(out), &shape, &strides, offset)?;
    push(f, n, KOp::Strided(p).into(), vec![xt], y);
    Ok(())
}

fn transpose(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, perm, out) = (n.input(0)?, n.input(1)?, n.out0()?);
    let xs = f.shape(x)?;
    let perm = f.const_ints(perm)?;
    let rank = xs.len();
    let mut seen = vec![false; rank];
    for &p in &perm {
        match usize::try_from(p).ok().filter(|&p| p < rank) {
            Some(p) if !seen[p] => seen[p] = true,
            _ => {
                return Err(Reason::InvalidValue {
                    input: f.name(x),
                    why: format!("permutation {perm:?} for rank {rank}"),
                })
            }
        }
    }
    if perm.len() != rank {
        return Err(Reason::InvalidValue {
            input: f.name(x),
            why: format!("permutation {perm:?} for rank {rank}"),
        });
    }
    let in_strides = strides_of(&xs);
    let shape: Vec<usize> = perm.iter().map(|&p| xs[p as usize]).collect();
    let strides: Vec<isize> = perm
        .iter()
        .map(|&p| in_strides[p as usize] as isize)
        .collect();
    let xt = f.input(x, Layout::Tfl)?;
    let y = f.output(out, false)?;
    let p = strided_params(&f.name(out), &shape, &strides, 0)?;
    push(f, n, KOp::Strided(p).into(), vec![xt], y);
    Ok(())
}

/// QUANTIZE: float → int8, or int8 → int8 with other parameters (a requantize once lowered).
/// In the f32 graph: a Quantize into an int8 tensor and its Dequantize, whose value carries the
/// output's parameters.
fn quantize(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
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
fn dequantize(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
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
