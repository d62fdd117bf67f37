//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;

use crate::import::shape::fits_u32;
use crate::import::tflite::ops::*;
use crate::import::tflite::{limitation, Front, Layout};
use crate::import::Reason;

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

pub(crate) fn conv_2d(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    conv_like(f, n, false)
}

pub(crate) fn depthwise_conv_2d(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    conv_like(f, n, true)
}
