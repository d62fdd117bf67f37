//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::{Node, QTables};
use crate::quantize::lower::{Lowering, Plan, QNode};

/// The int8 kernel of one Pad node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::PadP) -> Plan<QNode> {
    let x = node.inputs[0];
    let o = node.outputs[0];
    let xq = l.same_q(x, o)?;
    let (s, z) = xq.one();
    let value = q::quantize_f32(p.value, s, z);
    if q::dequantize_f32(value, s, z) != p.value {
        return Err(format!(
            "pad value {} is not exactly representable in int8",
            p.value
        ));
    }
    Ok(QNode {
        op: QOp::Pad(q::QPadP {
            rank: p.rank,
            in_shape: p.in_shape,
            out_shape: p.out_shape,
            begin: p.begin,
            value,
        }),
        tables: QTables::default(),
        inputs: vec![Ok(x)],
        out_q: xq,
    })
}
