//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;

use crate::ir::Node;
use crate::quantize::lower::{Lowering, Plan, QNode};

/// The int8 kernel of one Resize node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(_l: &mut Lowering, _node: &Node, _: k::ResizeP) -> Plan<QNode> {
    Err("Resize has no int8 kernel".into())
}
