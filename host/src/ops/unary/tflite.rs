//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;

use crate::import::shape::fits_u32;
use crate::import::tflite::ops::*;
use crate::import::tflite::{Front, Layout};
use crate::import::Reason;

pub(crate) fn unary(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (x, out) = (n.input(0)?, n.out0()?);
    let (kind, alpha, beta) = match n.op_type.as_str() {
        "LOGISTIC" => (UN_SIGMOID, 0.0, 0.0),
        "TANH" => (UN_TANH, 0.0, 0.0),
        "RELU" => (UN_RELU, 0.0, 0.0),
        "RELU6" => (UN_CLIP, 0.0, 6.0),
        "RELU_N1_TO_1" => (UN_CLIP, -1.0, 1.0),
        "LEAKY_RELU" => (
            UN_LEAKY_RELU,
            n.op.builtin_options_as_leaky_relu_options()
                .map_or(0.2, |o| o.alpha()),
            0.0,
        ),
        _ => (UN_HARD_SWISH, 0.0, 0.0),
    };
    let nchw = f.is_nchw(x);
    let xt = f.input(x, if nchw { Layout::Nchw } else { Layout::Tfl })?;
    let y = f.output(out, nchw)?;
    let p = UnaryP {
        kind,
        len: fits_u32("elements", f.g.tensors[y].len())?,
        alpha,
        beta,
    };
    push(f, n, KOp::Unary(p).into(), vec![xt], y);
    Ok(())
}
