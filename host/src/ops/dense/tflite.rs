//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;
use tract_tflite::tflite as fb;

use crate::import::shape::fits_u32;
use crate::import::tflite::ops::*;
use crate::import::tflite::{checked_len, limitation, Front, Layout};
use crate::import::Reason;

pub(crate) fn fully_connected(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
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
