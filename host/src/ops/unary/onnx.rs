//! Unary family: element-wise activations lowered to the `unary` kernel.

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::fits_u32;
use crate::import::Reason;

const X: &[In] = &[In::f32("X")];

const fn act(
    op_type: &'static str,
    since: i64,
    attrs: &'static [&'static str],
    lower: crate::import::spec::Lower,
) -> OpSpec {
    OpSpec {
        op_type,
        opsets: (since, MAX_OPSET),
        inputs: X,
        variadic: false,
        outputs: (1, 1),
        attrs,
        family: "unary",
        lower,
    }
}

pub(crate) const SPECS: &[OpSpec] = &[
    act("Relu", 6, &[], lower_relu),
    act("LeakyRelu", 6, &["alpha"], lower_leaky_relu),
    act("Sigmoid", 6, &[], lower_sigmoid),
    act("Tanh", 6, &[], lower_tanh),
    act("HardSigmoid", 6, &["alpha", "beta"], lower_hard_sigmoid),
    act("HardSwish", 14, &[], lower_hard_swish),
    OpSpec {
        op_type: "Clip",
        opsets: (6, 10),
        inputs: &[In::f32("input")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["min", "max"],
        family: "unary",
        lower: lower_clip,
    },
    OpSpec {
        op_type: "Clip",
        opsets: (11, MAX_OPSET),
        inputs: &[
            In::f32("input"),
            In::konst("min").opt(),
            In::konst("max").opt(),
        ],
        variadic: false,
        outputs: (1, 1),
        attrs: &[],
        family: "unary",
        lower: lower_clip,
    },
];

/// Emits `out = f(x)` for the node's single input and output.
fn emit(cx: &mut Cx, n: &NodeCx, kind: u8, alpha: f32, beta: f32) -> Result<(), Reason> {
    let input = n.req(0)?;
    let shape = cx.shape(input)?;
    cx.check_shape(n.out0()?, &shape)?;
    let x = cx.tensor(input)?;
    let y = cx.output(n.out0()?)?;
    let len = fits_u32("length", cx.g.tensors[y].len())?;
    cx.emit(
        n,
        KOp::Unary(UnaryP {
            kind,
            len,
            alpha,
            beta,
        }),
        vec![x],
        vec![y],
        vec![],
    );
    Ok(())
}

/// Rejects NaN and infinite attribute values (kernel params must be finite Rust literals).
fn finite(n: &NodeCx, name: &str, v: f32) -> Result<f32, Reason> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(n.bad_attr(name, "must be finite"))
    }
}

fn lower_relu(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    emit(cx, n, UN_RELU, 0.0, 0.0)
}

fn lower_leaky_relu(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let alpha = finite(n, "alpha", n.attr_f("alpha", 0.01)?)?;
    emit(cx, n, UN_LEAKY_RELU, alpha, 0.0)
}

fn lower_sigmoid(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    emit(cx, n, UN_SIGMOID, 0.0, 0.0)
}

fn lower_tanh(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    emit(cx, n, UN_TANH, 0.0, 0.0)
}

fn lower_hard_sigmoid(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let alpha = finite(n, "alpha", n.attr_f("alpha", 0.2)?)?;
    let beta = finite(n, "beta", n.attr_f("beta", 0.5)?)?;
    emit(cx, n, UN_HARD_SIGMOID, alpha, beta)
}

fn lower_hard_swish(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    emit(cx, n, UN_HARD_SWISH, 0.0, 0.0)
}

/// Clip bounds, with an absent bound as `f32::MIN` / `f32::MAX` (finite, so the parameters stay
/// valid Rust literals; equal to ONNX's unbounded Clip for every finite input).
pub(crate) fn clip_bounds(cx: &Cx, n: &NodeCx) -> Result<(f32, f32), Reason> {
    let (min, max) = if n.opset < 11 {
        (n.attr_f("min", f32::MIN)?, n.attr_f("max", f32::MAX)?)
    } else {
        let bound = |i: usize, default: f32| -> Result<f32, Reason> {
            let Some(name) = n.input(i) else {
                return Ok(default);
            };
            let v = cx.const_f32(name, if i == 1 { "min" } else { "max" })?;
            match v.as_slice() {
                [] => Ok(default),
                [x] => Ok(*x),
                _ => Err(Reason::InvalidValue {
                    input: name.to_string(),
                    why: format!("a Clip bound must be a scalar, got {} values", v.len()),
                }),
            }
        };
        (bound(1, f32::MIN)?, bound(2, f32::MAX)?)
    };
    let clamp_inf = |v: f32| {
        if v == f32::INFINITY {
            Ok(f32::MAX)
        } else if v == f32::NEG_INFINITY {
            Ok(f32::MIN)
        } else if v.is_nan() {
            Err(Reason::InvalidValue {
                input: n.name.clone(),
                why: "a Clip bound is NaN".into(),
            })
        } else {
            Ok(v)
        }
    };
    Ok((clamp_inf(min)?, clamp_inf(max)?))
}

fn lower_clip(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (min, max) = clip_bounds(cx, n)?;
    emit(cx, n, UN_CLIP, min, max)
}
