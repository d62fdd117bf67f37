//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;

use crate::import::shape::fits_u32;
use crate::import::tflite::ops::*;
use crate::import::tflite::{limitation, Front, Layout};
use crate::import::Reason;

pub(crate) fn pool_2d(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
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
