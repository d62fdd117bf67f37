//! The int8 lowering rule of the family: none. A BatchNormalization that did not fold into the
//! conv or dense before it stays f32.

use kiln_kernels::f32 as k;

use crate::ir::Node;
use crate::quantize::lower::{Lowering, Plan, QNode};

/// Why an unfolded BatchNormalization has no int8 kernel.
pub(crate) fn lower(_: &mut Lowering, _: &Node, _: k::ChannelAffineP) -> Plan<QNode> {
    Err("an unfolded BatchNormalization has no int8 kernel".into())
}
