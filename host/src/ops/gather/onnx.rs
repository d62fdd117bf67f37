//! Gather family: Gather with constant indices, lowered to the `gather` kernel with the
//! normalized indices in the node's index table.

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::{fits_u32, norm_axis};
use crate::import::Reason;

pub(crate) const SPECS: &[OpSpec] = &[OpSpec {
    op_type: "Gather",
    opsets: (1, MAX_OPSET),
    inputs: &[In::f32("data"), In::int("indices")],
    variadic: false,
    outputs: (1, 1),
    attrs: &["axis"],
    family: "gather",
    lower: lower_gather,
}];

fn lower_gather(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (data, indices, out) = (n.req(0)?, n.req(1)?, n.out0()?);
    let sd = cx.shape(data)?;
    let si = cx.shape(indices)?;
    let axis = norm_axis(n.attr_i("axis", 0)?, sd.len(), data)?;
    let axis_len = sd[axis];
    let mut idx = Vec::new();
    for i in cx.const_i64(indices, "indices")? {
        let j = if i < 0 { i + axis_len as i64 } else { i };
        if !(0..axis_len as i64).contains(&j) {
            return Err(Reason::InvalidValue {
                input: indices.to_string(),
                why: format!("index {i} is out of range for an axis of length {axis_len}"),
            });
        }
        idx.push(j as u32);
    }
    if idx.is_empty() {
        return Err(Reason::Limitation {
            what: format!("Gather with no indices (`{indices}` is empty)"),
        });
    }
    // A scalar index drops the axis; otherwise the indices' shape replaces it.
    let mut expected = sd[..axis].to_vec();
    expected.extend(&si);
    expected.extend(&sd[axis + 1..]);
    cx.check_shape(out, &expected)?;
    let p = GatherP {
        outer: fits_u32("outer", sd[..axis].iter().product())?,
        axis_len: fits_u32("axis", axis_len)?,
        inner: fits_u32("inner", sd[axis + 1..].iter().product())?,
        n_idx: fits_u32("indices", idx.len())?,
    };
    let x = cx.tensor(data)?;
    let y = cx.output(out)?;
    cx.emit(n, KOp::Gather(p), vec![x], vec![y], idx);
    Ok(())
}
