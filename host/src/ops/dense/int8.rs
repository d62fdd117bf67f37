//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::Node;
use crate::quantize::lower::{const_f32, Lowering, Plan, QNode};

/// The int8 kernel of one Dense node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::DenseP) -> Plan<QNode> {
    let src = l.src;
    let x = node.inputs[0];
    if p.bias_full {
        return Err("a bias per row has no int8 kernel".into());
    }
    if src.tensors[node.inputs[1]].data.is_none() {
        return Err("MatMul of two activations has no int8 kernel".into());
    }
    let (kk, n) = (p.k as usize, p.n as usize);
    let w = const_f32(src, node.inputs[1])?;
    // Channels are columns: the int8 kernel takes the transpose, `[n, k]`.
    let wt: Vec<f32> = (0..n * kk).map(|i| w[(i % kk) * n + i / kk]).collect();
    let wl = l.weighted(node, p.act, &wt, n, 1)?;
    let (xq, oq, per_channel) = (wl.xq, wl.oq, wl.tables.mult.len() > 1);
    let (act_min, act_max) = wl.clamp;
    let wid = l.int8_const_shaped(node.inputs[1], vec![n, kk], wl.wq, wl.ws, 0);
    Ok(QNode {
        op: QOp::Dense(q::QDenseP {
            batch: p.batch,
            m: p.m,
            k: p.k,
            n: p.n,
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
