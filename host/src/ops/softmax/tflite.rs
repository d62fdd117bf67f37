//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;

use crate::import::shape::fits_u32;
use crate::import::tflite::ops::*;
use crate::import::tflite::{checked_len, Front, Layout};
use crate::import::Reason;

pub(crate) fn softmax(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let beta =
        n.op.builtin_options_as_softmax_options()
            .map_or(1.0, |o| o.beta());
    if beta != 1.0 {
        return Err(Reason::AttributeValue {
            name: "beta".into(),
            value: beta.to_string(),
            why: "kiln's softmax has beta = 1".into(),
        });
    }
    let xs = f.shape(x)?;
    let last = *xs.last().unwrap_or(&1);
    let len = checked_len(&f.name(x), &xs)?;
    let xt = f.input(x, Layout::Tfl)?;
    let y = f.output(out, false)?;
    let p = SoftmaxP {
        outer: fits_u32("rows", len / last.max(1))?,
        axis: fits_u32("classes", last)?,
        inner: 1,
    };
    push(f, n, KOp::Softmax(p).into(), vec![xt], y);
    Ok(())
}
