//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::{Node, QTables};
use crate::quantize::lower::{Lowering, Plan, QNode};

/// The int8 kernel of one Pool2d node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::Pool2dP) -> Plan<QNode> {
    let x = node.inputs[0];
    let o = node.outputs[0];
    let xq = l.same_q(x, o)?;
    let kind = if p.kind == k::POOL_MAX {
        q::QPOOL_MAX
    } else {
        q::QPOOL_AVG
    };
    Ok(QNode {
        op: QOp::Pool2d(q::QPool2dP {
            kind,
            batch: p.batch,
            c: p.c,
            in_h: p.in_h,
            in_w: p.in_w,
            out_h: p.out_h,
            out_w: p.out_w,
            k_h: p.k_h,
            k_w: p.k_w,
            s_h: p.s_h,
            s_w: p.s_w,
            d_h: p.d_h,
            d_w: p.d_w,
            pad_t: p.pad_t,
            pad_l: p.pad_l,
            count_include_pad: p.count_include_pad,
            zp: xq.zp[0],
            act_min: -128,
            act_max: 127,
        }),
        tables: QTables::default(),
        inputs: vec![Ok(x)],
        out_q: xq,
    })
}
