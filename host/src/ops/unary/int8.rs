//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::{Node, QTables};
use crate::quantize::lower::{Lowering, Plan, QNode};

/// The int8 kernel of one Unary node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::UnaryP) -> Plan<QNode> {
    let x = node.inputs[0];
    let o = node.outputs[0];
    let xq = l.in_q(x)?;
    let oq = l.out_q(o)?;
    let (is, iz) = xq.one();
    let (os, oz) = oq.one();
    let lut = q::make_lut(is as f64, iz, os as f64, oz, |v| {
        let mut y = [0f32];
        k::unary(&k::UnaryP { len: 1, ..p }, &[v as f32], &mut y);
        y[0] as f64
    });
    Ok(QNode {
        op: QOp::Lut(q::LutP { len: p.len }),
        tables: QTables {
            lut: lut.to_vec(),
            ..QTables::default()
        },
        inputs: vec![Ok(x)],
        out_q: oq,
    })
}
