//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;

use crate::import::tflite::ops::*;
use crate::import::tflite::{nchw_shape, Front, Layout, NHWC_TO_NCHW};
use crate::import::Reason;
use crate::ops::reduce::reduce_params;

pub(crate) fn mean(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
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
