//! Reduce family: ReduceMean / ReduceMax / ReduceSum and GlobalAveragePool / GlobalMaxPool,
//! lowered to the `reduce` kernel.

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::{arr_u32, norm_axis};
use crate::import::Reason;

const DATA: &[In] = &[In::f32("data")];
const DATA_AXES: &[In] = &[In::f32("data"), In::int("axes").opt()];
const X: &[In] = &[In::f32("X")];

const fn attr_axes(op_type: &'static str, until: i64, lower: crate::import::spec::Lower) -> OpSpec {
    OpSpec {
        op_type,
        opsets: (1, until),
        inputs: DATA,
        variadic: false,
        outputs: (1, 1),
        attrs: &["axes", "keepdims"],
        family: "reduce",
        lower,
    }
}

const fn input_axes(
    op_type: &'static str,
    since: i64,
    lower: crate::import::spec::Lower,
) -> OpSpec {
    OpSpec {
        op_type,
        opsets: (since, MAX_OPSET),
        inputs: DATA_AXES,
        variadic: false,
        outputs: (1, 1),
        attrs: &["keepdims", "noop_with_empty_axes"],
        family: "reduce",
        lower,
    }
}

const fn global(op_type: &'static str, lower: crate::import::spec::Lower) -> OpSpec {
    OpSpec {
        op_type,
        opsets: (1, MAX_OPSET),
        inputs: X,
        variadic: false,
        outputs: (1, 1),
        attrs: &[],
        family: "reduce",
        lower,
    }
}

pub(crate) const SPECS: &[OpSpec] = &[
    attr_axes("ReduceMean", 17, lower_mean),
    input_axes("ReduceMean", 18, lower_mean),
    attr_axes("ReduceMax", 17, lower_max),
    input_axes("ReduceMax", 18, lower_max),
    attr_axes("ReduceSum", 12, lower_sum),
    input_axes("ReduceSum", 13, lower_sum),
    global("GlobalAveragePool", lower_global_avg),
    global("GlobalMaxPool", lower_global_max),
];

fn lower_mean(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, RED_MEAN)
}
fn lower_max(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, RED_MAX)
}
fn lower_sum(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, RED_SUM)
}
fn lower_global_avg(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower_global(cx, n, RED_MEAN)
}
fn lower_global_max(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower_global(cx, n, RED_MAX)
}

/// `ReduceP` for reducing the dims set in `reduced`: size-1 dims dropped, and neighbouring dims
/// that are both reduced or both kept merged (the data layout is the same).
pub(crate) fn reduce_params(
    value: &str,
    kind: u8,
    shape: &[usize],
    reduced: &[bool],
) -> Result<ReduceP, Reason> {
    let mut dims: Vec<(usize, bool)> = vec![];
    for (&s, &r) in shape.iter().zip(reduced) {
        if s == 1 {
            continue;
        }
        match dims.last_mut() {
            Some(l) if l.1 == r => l.0 *= s,
            _ => dims.push((s, r)),
        }
    }
    if dims.is_empty() {
        dims.push((1, true));
    }
    if dims.len() > MAX_RANK {
        return Err(Reason::Rank {
            value: value.to_string(),
            rank: dims.len(),
            max: MAX_RANK,
        });
    }
    let sizes: Vec<usize> = dims.iter().map(|d| d.0).collect();
    for &s in &sizes {
        crate::import::shape::fits_u32("dimension", s)?;
    }
    let mask = dims
        .iter()
        .enumerate()
        .filter(|(_, d)| d.1)
        .fold(0u32, |m, (i, _)| m | (1 << i));
    Ok(ReduceP {
        kind,
        rank: dims.len() as u32,
        in_shape: arr_u32(&sizes),
        mask,
    })
}

fn emit(cx: &mut Cx, n: &NodeCx, kind: u8, reduced: &[bool]) -> Result<(), Reason> {
    let (x, out) = (n.req(0)?, n.out0()?);
    let shape = cx.shape(x)?;
    let p = reduce_params(out, kind, &shape, reduced)?;
    let xt = cx.tensor(x)?;
    let y = cx.output(out)?;
    let kept: usize = shape
        .iter()
        .zip(reduced)
        .filter(|(_, r)| !**r)
        .map(|(s, _)| s)
        .product();
    if cx.g.tensors[y].len() != kept {
        return Err(Reason::ShapeMismatch {
            value: out.to_string(),
            kiln: shape
                .iter()
                .zip(reduced)
                .map(|(&s, &r)| if r { 1 } else { s })
                .collect(),
            tract: cx.g.tensors[y].shape.clone(),
        });
    }
    cx.emit(n, KOp::Reduce(p), vec![xt], vec![y], vec![]);
    Ok(())
}

fn lower(cx: &mut Cx, n: &NodeCx, kind: u8) -> Result<(), Reason> {
    let x = n.req(0)?;
    let rank = cx.shape(x)?.len();
    let attr_form = n.spec.attrs.contains(&"axes");
    let axes: Option<Vec<i64>> = if attr_form {
        n.attr_ints("axes")?
    } else {
        n.input(1).map(|a| cx.const_i64(a, "axes")).transpose()?
    };
    let axes = axes.filter(|a| !a.is_empty());
    let reduced = match axes {
        Some(axes) => {
            let mut r = vec![false; rank];
            for a in axes {
                r[norm_axis(a, rank, x)?] = true;
            }
            r
        }
        None if !attr_form && n.attr_i("noop_with_empty_axes", 0)? != 0 => {
            let xt = cx.tensor(x)?;
            let y = cx.output(n.out0()?)?;
            return crate::ops::strided::onnx::emit_copy(cx, n, xt, y);
        }
        None => vec![true; rank],
    };
    emit(cx, n, kind, &reduced)
}

fn lower_global(cx: &mut Cx, n: &NodeCx, kind: u8) -> Result<(), Reason> {
    let rank = cx.shape(n.req(0)?)?.len();
    if rank < 3 {
        return Err(Reason::InvalidValue {
            input: n.req(0)?.to_string(),
            why: format!("global pooling needs [N, C, spatial...], got rank {rank}"),
        });
    }
    let reduced: Vec<bool> = (0..rank).map(|d| d >= 2).collect();
    emit(cx, n, kind, &reduced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_params_merge_dims() {
        // Global average pool over [1, 8, 5, 5]: [8, 25] with the last dim reduced.
        let p = reduce_params("y", RED_MEAN, &[1, 8, 5, 5], &[false, false, true, true]).unwrap();
        assert_eq!(
            (p.rank, p.in_shape[..2].to_vec(), p.mask),
            (2, vec![8, 25], 0b10)
        );
        // Everything reduced.
        let p = reduce_params("y", RED_SUM, &[2, 3], &[true, true]).unwrap();
        assert_eq!((p.rank, p.in_shape[0], p.mask), (1, 6, 1));
    }
}
