//! Concat family, lowered to the `concat` kernel (chained when there are more than
//! `MAX_CONCAT` inputs).

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::{fits_u32, norm_axis};
use crate::import::Reason;

pub(crate) const SPECS: &[OpSpec] = &[OpSpec {
    op_type: "Concat",
    opsets: (4, MAX_OPSET),
    inputs: &[In::f32("inputs")],
    variadic: true,
    outputs: (1, 1),
    attrs: &["axis"],
    family: "concat",
    lower: lower_concat,
}];

fn lower_concat(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let out = n.out0()?;
    let first = cx.shape(n.req(0)?)?;
    let axis = norm_axis(n.attr_i("axis", 0)?, first.len(), out)?;
    let mut so = first.clone();
    so[axis] = 0;
    for i in 0..n.n_inputs() {
        so[axis] += cx.shape(n.req(i)?)?.get(axis).copied().unwrap_or(0);
    }
    cx.check_shape(out, &so)?;
    let outer: usize = so[..axis].iter().product();
    let inner: usize = so[axis + 1..].iter().product();
    // (tensor, axis length) per input; inputs with an empty axis contribute nothing.
    let mut parts: Vec<(usize, usize)> = vec![];
    let mut total = 0;
    for i in 0..n.n_inputs() {
        let name = n.req(i)?;
        let s = cx.shape(name)?;
        let fits = s.len() == so.len() && (0..s.len()).all(|d| d == axis || s[d] == so[d]);
        if !fits {
            return Err(Reason::InvalidValue {
                input: name.to_string(),
                why: format!("shape {s:?} does not concatenate into {so:?} on axis {axis}"),
            });
        }
        total += s[axis];
        if s[axis] > 0 {
            parts.push((cx.tensor(name)?, s[axis]));
        }
    }
    debug_assert_eq!(total, so[axis]);
    let y = cx.output(out)?;
    concat_into(cx, n, &parts, outer, inner, y, |len| {
        let mut shape = so.clone();
        shape[axis] = len;
        shape
    })
}

/// Concatenates `parts` (tensor, length along the axis) into `y`, with the data viewed as
/// `[outer, axis, inner]`; chained when there are more than `MAX_CONCAT` parts (the first node
/// takes `MAX_CONCAT` inputs, each next one the running result plus up to `MAX_CONCAT - 1`
/// more). `temp_shape(len)` is the shape of a running result `len` long on the axis.
pub(crate) fn concat_into(
    cx: &mut Cx,
    n: &NodeCx,
    parts: &[(usize, usize)],
    outer: usize,
    inner: usize,
    y: usize,
    temp_shape: impl Fn(usize) -> Vec<usize>,
) -> Result<(), Reason> {
    if parts.len() == 1 {
        return crate::ops::strided::onnx::emit_copy(cx, n, parts[0].0, y);
    }
    let mut acc: Option<(usize, usize)> = None;
    let mut rest = parts;
    let mut step = 0;
    while !rest.is_empty() {
        let room = if acc.is_some() {
            MAX_CONCAT - 1
        } else {
            MAX_CONCAT
        };
        let take = rest.len().min(room);
        let group: Vec<(usize, usize)> = acc
            .into_iter()
            .chain(rest[..take].iter().copied())
            .collect();
        rest = &rest[take..];
        let axis_len: usize = group.iter().map(|g| g.1).sum();
        let target = if rest.is_empty() {
            y
        } else {
            step += 1;
            cx.temp(n.derived(&format!("part{step}")), temp_shape(axis_len))
        };
        let mut p = ConcatP {
            outer: fits_u32("outer", outer)?,
            count: group.len() as u32,
            parts: [0; MAX_CONCAT],
        };
        for (i, g) in group.iter().enumerate() {
            p.parts[i] = fits_u32("part", g.1 * inner)?;
        }
        cx.emit(
            n,
            KOp::Concat(p),
            group.iter().map(|g| g.0).collect(),
            vec![target],
            vec![],
        );
        acc = Some((target, axis_len));
    }
    Ok(())
}
