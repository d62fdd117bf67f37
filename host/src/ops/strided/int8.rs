//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::QOp;

use crate::ir::{Node, QTables};
use crate::quantize::lower::{Lowering, Plan, QNode};

/// The int8 kernel of one Strided node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::StridedP) -> Plan<QNode> {
    let x = node.inputs[0];
    let o = node.outputs[0];
    let xq = l.same_q(x, o)?;
    Ok(QNode {
        op: QOp::Strided(p),
        tables: QTables::default(),
        inputs: vec![Ok(x)],
        out_q: xq,
    })
}
