//! Strided family: data movement lowered to the `strided` kernel — plain copies (Reshape,
//! Flatten, Squeeze, Unsqueeze, float→float Cast, Identity/Dropout feeding a graph output),
//! Transpose, Slice (negative steps too), Split (one node per output).

use kiln_kernels::f32::{KOp, StridedP, MAX_RANK};

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::{norm_axis, strides_of};
use crate::import::Reason;
use crate::ir::TensorId;

pub(crate) const SPECS: &[OpSpec] = &[
    OpSpec {
        op_type: "Reshape",
        opsets: (5, MAX_OPSET),
        inputs: &[In::f32("data"), In::int("shape")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["allowzero"],
        family: "strided",
        lower: lower_copy,
    },
    OpSpec {
        op_type: "Flatten",
        opsets: (1, MAX_OPSET),
        inputs: &[In::f32("input")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["axis"],
        family: "strided",
        lower: lower_copy,
    },
    OpSpec {
        op_type: "Squeeze",
        opsets: (1, 12),
        inputs: &[In::f32("data")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["axes"],
        family: "strided",
        lower: lower_copy,
    },
    OpSpec {
        op_type: "Squeeze",
        opsets: (13, MAX_OPSET),
        inputs: &[In::f32("data"), In::int("axes").opt()],
        variadic: false,
        outputs: (1, 1),
        attrs: &[],
        family: "strided",
        lower: lower_copy,
    },
    OpSpec {
        op_type: "Unsqueeze",
        opsets: (1, 12),
        inputs: &[In::f32("data")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["axes"],
        family: "strided",
        lower: lower_copy,
    },
    OpSpec {
        op_type: "Unsqueeze",
        opsets: (13, MAX_OPSET),
        inputs: &[In::f32("data"), In::int("axes")],
        variadic: false,
        outputs: (1, 1),
        attrs: &[],
        family: "strided",
        lower: lower_copy,
    },
    OpSpec {
        op_type: "Cast",
        opsets: (6, MAX_OPSET),
        inputs: &[In::f32("input")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["to", "saturate", "round_mode"],
        family: "strided",
        lower: lower_cast,
    },
    OpSpec {
        op_type: "Identity",
        opsets: (1, MAX_OPSET),
        inputs: &[In::f32("input")],
        variadic: false,
        outputs: (1, 1),
        attrs: &[],
        family: "strided",
        lower: lower_identity,
    },
    OpSpec {
        op_type: "Dropout",
        opsets: (7, 11),
        inputs: &[In::f32("data")],
        variadic: false,
        outputs: (1, 2),
        attrs: &["ratio", "seed"],
        family: "strided",
        lower: lower_identity,
    },
    OpSpec {
        op_type: "Dropout",
        opsets: (12, MAX_OPSET),
        inputs: &[
            In::f32("data"),
            In::konst("ratio").opt(),
            In::konst("training_mode").opt(),
        ],
        variadic: false,
        outputs: (1, 2),
        attrs: &["seed"],
        family: "strided",
        lower: lower_identity,
    },
    OpSpec {
        op_type: "Transpose",
        opsets: (1, MAX_OPSET),
        inputs: &[In::f32("data")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["perm"],
        family: "strided",
        lower: lower_transpose,
    },
    OpSpec {
        op_type: "Slice",
        opsets: (1, 9),
        inputs: &[In::f32("data")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["starts", "ends", "axes"],
        family: "strided",
        lower: lower_slice,
    },
    OpSpec {
        op_type: "Slice",
        opsets: (10, MAX_OPSET),
        inputs: &[
            In::f32("data"),
            In::int("starts"),
            In::int("ends"),
            In::int("axes").opt(),
            In::int("steps").opt(),
        ],
        variadic: false,
        outputs: (1, 1),
        attrs: &[],
        family: "strided",
        lower: lower_slice,
    },
    OpSpec {
        op_type: "Split",
        opsets: (2, 12),
        inputs: &[In::f32("input")],
        variadic: false,
        outputs: (1, usize::MAX),
        attrs: &["axis", "split"],
        family: "strided",
        lower: lower_split,
    },
    OpSpec {
        op_type: "Split",
        opsets: (13, 17),
        inputs: &[In::f32("input"), In::int("split").opt()],
        variadic: false,
        outputs: (1, usize::MAX),
        attrs: &["axis"],
        family: "strided",
        lower: lower_split,
    },
    OpSpec {
        op_type: "Split",
        opsets: (18, MAX_OPSET),
        inputs: &[In::f32("input"), In::int("split").opt()],
        variadic: false,
        outputs: (1, usize::MAX),
        attrs: &["axis", "num_outputs"],
        family: "strided",
        lower: lower_split,
    },
];

/// `StridedP` for a gather-copy, with size-1 dims dropped and contiguous dims merged (so
/// higher-rank views still fit [`MAX_RANK`]).
pub(crate) fn strided_params(
    value: &str,
    out_shape: &[usize],
    strides: &[isize],
    offset: usize,
) -> Result<StridedP, Reason> {
    let mut dims: Vec<(usize, isize)> = vec![];
    for (&n, &s) in out_shape.iter().zip(strides) {
        if n == 1 {
            continue;
        }
        match dims.last_mut() {
            Some(last) if last.1 == s * n as isize => *last = (last.0 * n, s),
            _ => dims.push((n, s)),
        }
    }
    if dims.is_empty() {
        dims.push((1, 1));
    }
    if dims.len() > MAX_RANK {
        return Err(Reason::Rank {
            value: value.to_string(),
            rank: dims.len(),
            max: MAX_RANK,
        });
    }
    let mut p = StridedP {
        rank: dims.len() as u32,
        out_shape: [0; MAX_RANK],
        strides: [0; MAX_RANK],
        offset: crate::import::shape::fits_u32("offset", offset)?,
    };
    for (d, (n, s)) in dims.into_iter().enumerate() {
        p.out_shape[d] = crate::import::shape::fits_u32("dimension", n)?;
        p.strides[d] = i32::try_from(s).map_err(|_| Reason::Limitation {
            what: format!("stride {s} does not fit in 32 bits"),
        })?;
    }
    Ok(p)
}

/// Whether `p` copies its whole input contiguously (a plain copy).
pub fn is_plain_copy(p: &StridedP) -> bool {
    p.rank == 1 && p.strides[0] == 1 && p.offset == 0
}

/// Emits a plain copy `x → y` (same number of elements).
pub(crate) fn emit_copy(cx: &mut Cx, n: &NodeCx, x: TensorId, y: TensorId) -> Result<(), Reason> {
    let len = cx.g.tensors[y].len();
    let p = strided_params(&cx.g.tensors[y].name, &[len], &[1], 0)?;
    cx.emit(n, KOp::Strided(p), vec![x], vec![y], vec![]);
    Ok(())
}

fn lower_copy(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let x = cx.tensor(n.req(0)?)?;
    let y = cx.output(n.out0()?)?;
    if cx.g.tensors[x].len() != cx.g.tensors[y].len() {
        return Err(Reason::ShapeMismatch {
            value: cx.g.tensors[y].name.clone(),
            kiln: cx.g.tensors[x].shape.clone(),
            tract: cx.g.tensors[y].shape.clone(),
        });
    }
    emit_copy(cx, n, x, y)
}

fn lower_cast(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let to = n.attr_i("to", 0)?;
    // The int32 result of a rewritten ConvInteger / MatMulInteger: exact integers in f32.
    if to == tract_onnx::pb::tensor_proto::DataType::Int32 as i64
        && cx.integral_casts.contains(&n.name)
    {
        lower_copy(cx, n)?;
        let y = cx.tensor(n.out0()?)?;
        cx.g.tensors[y].io = Some(crate::ir::IoType::Int32);
        return Ok(());
    }
    if to != tract_onnx::pb::tensor_proto::DataType::Float as i64 {
        return Err(n.bad_attr(
            "to",
            "kiln computes float32 only; casts to other types work only on constants",
        ));
    }
    lower_copy(cx, n)
}

/// Identity / inference Dropout: the output is the input. Rewired (no node) unless the output is
/// a graph output, which keeps its ONNX name through a copy.
fn lower_identity(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    if n.op_type() == "Dropout" {
        if let Some(mask) = n.output(1).filter(|m| cx.is_used(m)) {
            return Err(Reason::Limitation {
                what: format!("the Dropout mask output `{mask}` is used"),
            });
        }
        if let Some(t) = n.input(2) {
            if cx.const_f32(t, "training_mode")?.iter().any(|&v| v != 0.0) {
                return Err(Reason::InvalidValue {
                    input: t.to_string(),
                    why: "training_mode is true; kiln runs inference only".into(),
                });
            }
        }
    }
    let input = n.req(0)?;
    let out = n.out0()?;
    let x = cx.tensor(input)?;
    if cx.is_graph_output(out) {
        let y = cx.output(out)?;
        return emit_copy(cx, n, x, y);
    }
    cx.alias(out, x);
    Ok(())
}

fn lower_transpose(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let input = n.req(0)?;
    let shape = cx.shape(input)?;
    let rank = shape.len();
    let perm: Vec<i64> = match n.attr_ints("perm")? {
        Some(p) => p,
        None => (0..rank as i64).rev().collect(),
    };
    let mut seen = vec![false; rank];
    let mut axes = vec![];
    for &p in &perm {
        let a = norm_axis(p, rank, input).map_err(|_| n.bad_attr("perm", "not a permutation"))?;
        if seen[a] {
            return Err(n.bad_attr("perm", "not a permutation"));
        }
        seen[a] = true;
        axes.push(a);
    }
    if axes.len() != rank {
        return Err(n.bad_attr(
            "perm",
            format!("has {} entries for rank {rank}", axes.len()),
        ));
    }
    let in_strides = strides_of(&shape);
    let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    let strides: Vec<isize> = axes.iter().map(|&a| in_strides[a] as isize).collect();
    let out = n.out0()?;
    cx.check_shape(out, &out_shape)?;
    let p = strided_params(out, &out_shape, &strides, 0)?;
    let x = cx.tensor(input)?;
    let y = cx.output(out)?;
    cx.emit(n, KOp::Strided(p), vec![x], vec![y], vec![]);
    Ok(())
}

fn lower_slice(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let input = n.req(0)?;
    let shape = cx.shape(input)?;
    let rank = shape.len();
    let (starts, ends, axes, steps) = if n.opset < 10 {
        let starts = n
            .attr_ints("starts")?
            .ok_or_else(|| n.bad_attr("starts", "required"))?;
        let ends = n
            .attr_ints("ends")?
            .ok_or_else(|| n.bad_attr("ends", "required"))?;
        let axes = n.attr_ints("axes")?;
        (starts, ends, axes, None)
    } else {
        let starts = cx.const_i64(n.req(1)?, "starts")?;
        let ends = cx.const_i64(n.req(2)?, "ends")?;
        let axes = n.input(3).map(|a| cx.const_i64(a, "axes")).transpose()?;
        let steps = n.input(4).map(|s| cx.const_i64(s, "steps")).transpose()?;
        (starts, ends, axes, steps)
    };
    let axes: Vec<i64> = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps: Vec<i64> = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(Reason::InvalidValue {
            input: input.to_string(),
            why: "starts, ends, axes and steps differ in length".into(),
        });
    }
    let in_strides = strides_of(&shape);
    let mut out_shape = shape.clone();
    let mut strides: Vec<isize> = in_strides.iter().map(|&s| s as isize).collect();
    let mut offset = 0usize;
    let mut seen = vec![false; rank];
    for i in 0..starts.len() {
        let axis = norm_axis(axes[i], rank, input)?;
        if std::mem::replace(&mut seen[axis], true) {
            return Err(Reason::InvalidValue {
                input: input.to_string(),
                why: format!("axis {axis} is sliced twice"),
            });
        }
        let (start, len, step) = slice_range(shape[axis], starts[i], ends[i], steps[i])
            .ok_or_else(|| Reason::InvalidValue {
                input: input.to_string(),
                why: "a Slice step is 0".into(),
            })?;
        out_shape[axis] = len;
        offset += start * in_strides[axis];
        strides[axis] = step as isize * in_strides[axis] as isize;
    }
    let out = n.out0()?;
    cx.check_shape(out, &out_shape)?;
    let p = strided_params(out, &out_shape, &strides, offset)?;
    let x = cx.tensor(input)?;
    let y = cx.output(out)?;
    cx.emit(n, KOp::Strided(p), vec![x], vec![y], vec![]);
    Ok(())
}

/// ONNX Slice semantics on one axis of length `dim`: `(first index, count, step)`, with
/// negative starts/ends counted from the end and both clamped. `None` when `step == 0`.
pub(crate) fn slice_range(
    dim: usize,
    start: i64,
    end: i64,
    step: i64,
) -> Option<(usize, usize, i64)> {
    if step == 0 {
        return None;
    }
    let d = dim as i128;
    let (mut s, mut e) = (start as i128, end as i128);
    if s < 0 {
        s += d;
    }
    if e < 0 {
        e += d;
    }
    let step = step as i128;
    let len = if step > 0 {
        s = s.clamp(0, d);
        e = e.clamp(0, d);
        if e > s {
            (e - s + step - 1) / step
        } else {
            0
        }
    } else {
        s = s.clamp(0, d - 1);
        e = e.clamp(-1, d - 1);
        if s > e {
            (s - e + (-step) - 1) / (-step)
        } else {
            0
        }
    };
    // An empty slice never reads `start`; keep it in range.
    let s = if len == 0 { 0 } else { s };
    Some((s as usize, len as usize, step as i64))
}

fn lower_split(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let input = n.req(0)?;
    let shape = cx.shape(input)?;
    let axis = norm_axis(n.attr_i("axis", 0)?, shape.len(), input)?;
    let in_strides = strides_of(&shape);
    let strides: Vec<isize> = in_strides.iter().map(|&s| s as isize).collect();
    let x = cx.tensor(input)?;
    // tract resolved the split sizes (attribute, input or num_outputs) into the output shapes.
    let mut start = 0usize;
    for i in 0..n.proto.output.len() {
        let Some(out) = n.output(i) else {
            return Err(Reason::Limitation {
                what: format!("Split output #{i} has no name"),
            });
        };
        let out_shape = cx.shape(out)?;
        let mut expected = shape.clone();
        expected[axis] = out_shape.get(axis).copied().unwrap_or(0);
        if out_shape != expected {
            return Err(Reason::ShapeMismatch {
                value: out.to_string(),
                kiln: expected,
                tract: out_shape,
            });
        }
        let len = out_shape[axis];
        if cx.is_used(out) {
            let p = strided_params(out, &out_shape, &strides, start * in_strides[axis])?;
            let y = cx.output(out)?;
            cx.emit(n, KOp::Strided(p), vec![x], vec![y], vec![]);
        }
        start += len;
    }
    if start != shape[axis] {
        return Err(Reason::InvalidValue {
            input: input.to_string(),
            why: format!(
                "split sizes add up to {start}, the axis has {}",
                shape[axis]
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_range_follows_onnx_clamping() {
        assert_eq!(slice_range(10, 0, 10, 1), Some((0, 10, 1)));
        assert_eq!(slice_range(10, 2, -1, 1), Some((2, 7, 1)));
        assert_eq!(slice_range(10, -1, i64::MIN, -1), Some((9, 10, -1)));
        assert_eq!(slice_range(10, 8, 1, -3), Some((8, 3, -3)));
        assert_eq!(slice_range(10, 100, -100, -2), Some((9, 5, -2)));
        assert_eq!(slice_range(10, 0, i64::MAX, 3), Some((0, 4, 3)));
        assert_eq!(slice_range(10, 5, 5, 1), Some((0, 0, 1)));
        assert_eq!(slice_range(10, 1, 2, 0), None);
    }

    #[test]
    fn strided_params_merge_contiguous_dims() {
        // A copy of a [2,3,4] tensor is one contiguous run.
        let p = strided_params("t", &[2, 3, 4], &[12, 4, 1], 0).unwrap();
        assert!(is_plain_copy(&p));
        assert_eq!(p.out_shape[0], 24);
        // Transpose [2,3] -> [3,2] stays rank 2.
        let p = strided_params("t", &[3, 2], &[1, 3], 0).unwrap();
        assert_eq!(
            (p.rank, p.out_shape[..2].to_vec(), p.strides[..2].to_vec()),
            (2, vec![3, 2], vec![1, 3])
        );
        // Size-1 dims vanish, so rank 8 with ones fits.
        let p =
            strided_params("t", &[1, 2, 1, 3, 1, 1, 1, 1], &[6, 3, 3, 1, 1, 1, 1, 1], 0).unwrap();
        assert_eq!(p.rank, 1);
    }
}
