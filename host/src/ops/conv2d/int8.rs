//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::Node;
use crate::quantize::lower::{const_f32, Lowering, Plan, QNode};

/// The int8 kernel of one Conv2d node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::Conv2dP) -> Plan<QNode> {
    let src = l.src;
    let x = node.inputs[0];
    let w = const_f32(src, node.inputs[1])?;
    let wl = l.weighted(node, p.act, w, p.out_c as usize, 0)?;
    let (xq, oq, per_channel) = (wl.xq, wl.oq, wl.tables.mult.len() > 1);
    let (act_min, act_max) = wl.clamp;
    let wid = l.int8_const(node.inputs[1], wl.wq, wl.ws, 0);
    Ok(QNode {
        op: QOp::Conv2d(q::QConv2dP {
            batch: p.batch,
            in_c: p.in_c,
            in_h: p.in_h,
            in_w: p.in_w,
            out_c: p.out_c,
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
            groups: p.groups,
            in_zp: xq.zp[0],
            out_zp: oq.zp[0],
            per_channel,
            act_min,
            act_max,
        }),
        tables: wl.tables,
        inputs: vec![Ok(x), Err(wid)],
        out_q: oq,
    })
}
