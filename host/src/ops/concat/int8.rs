//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::{Node, QParams, QTables};
use crate::quantize::lower::{Lowering, Plan, QNode};

/// The int8 kernel of one Concat node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::ConcatP) -> Plan<QNode> {
    let src = l.src;
    let o = node.outputs[0];
    // An output without parameters of its own keeps its inputs' when they all share
    // them: the concatenation then moves values without changing them.
    let oq = l.out_q(o).or_else(|e| {
        let shared: Vec<QParams> = node.inputs.iter().filter_map(|&t| l.in_q(t).ok()).collect();
        match shared.split_first() {
            Some((q, rest)) if shared.len() == node.inputs.len() && rest.iter().all(|r| r == q) => {
                Ok(q.clone())
            }
            _ => Err(e),
        }
    })?;
    let mut cp = q::QConcatP {
        outer: p.outer,
        count: p.count,
        parts: p.parts,
        requant_mask: 0,
        in_zp: [0; k::MAX_CONCAT],
        mult: [0; k::MAX_CONCAT],
        shift: [0; k::MAX_CONCAT],
        out_zp: oq.zp[0],
    };
    let mut ins = Vec::new();
    for (i, &t) in node.inputs.iter().enumerate() {
        if src.tensors[t].is_const() {
            return Err("a constant Concat input has no int8 kernel".into());
        }
        let iq = l.in_q(t)?;
        if iq != oq {
            cp.requant_mask |= 1 << i;
            cp.in_zp[i] = iq.zp[0];
            (cp.mult[i], cp.shift[i]) = l.multiplier(iq.scale[0] as f64 / oq.scale[0] as f64)?;
        }
        ins.push(Ok(t));
    }
    Ok(QNode {
        op: QOp::Concat(cp),
        tables: QTables::default(),
        inputs: ins,
        out_q: oq,
    })
}
