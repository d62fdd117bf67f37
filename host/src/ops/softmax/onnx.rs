//! Softmax family, lowered to the `softmax` kernel.

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::{fits_u32, norm_axis};
use crate::import::Reason;

pub(crate) const SPECS: &[OpSpec] = &[
    OpSpec {
        op_type: "Softmax",
        opsets: (1, 12),
        inputs: &[In::f32("input")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["axis"],
        family: "softmax",
        lower: lower_softmax,
    },
    OpSpec {
        op_type: "Softmax",
        opsets: (13, MAX_OPSET),
        inputs: &[In::f32("input")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["axis"],
        family: "softmax",
        lower: lower_softmax,
    },
];

fn lower_softmax(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (x, out) = (n.req(0)?, n.out0()?);
    let s = cx.shape(x)?;
    cx.check_shape(out, &s)?;
    let (outer, axis, inner) = if n.opset < 13 {
        // Softmax-1/11: the input is flattened to 2-D at `axis`.
        let a = norm_axis(n.attr_i("axis", 1)?, s.len().max(1), x)?;
        let a = a.min(s.len());
        (
            s[..a].iter().product::<usize>(),
            s[a..].iter().product::<usize>(),
            1usize,
        )
    } else {
        let a = norm_axis(n.attr_i("axis", -1)?, s.len(), x)?;
        (s[..a].iter().product(), s[a], s[a + 1..].iter().product())
    };
    let p = SoftmaxP {
        outer: fits_u32("outer", outer)?,
        axis: fits_u32("axis", axis)?,
        inner: fits_u32("inner", inner)?,
    };
    let xt = cx.tensor(x)?;
    let y = cx.output(out)?;
    cx.emit(n, KOp::Softmax(p), vec![xt], vec![y], vec![]);
    Ok(())
}
