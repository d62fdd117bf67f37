//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;

use crate::import::shape::arr_u32;
use crate::import::tflite::ops::*;
use crate::import::tflite::{nchw_shape, Front, Layout};
use crate::import::Reason;

pub(crate) fn pad(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
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
