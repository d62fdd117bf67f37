//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;

use crate::import::shape::strides_of;
use crate::import::tflite::ops::*;
use crate::import::tflite::{limitation, Front, Layout};
use crate::import::Reason;
use crate::ops::strided::strided_params;

pub(crate) fn reshape(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let xt = f.input(x, Layout::Tfl)?;
    let y = f.output(out, false)?;
    copy(f, n, xt, y)
}

pub(crate) fn strided_slice(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
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

pub(crate) fn transpose(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
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
