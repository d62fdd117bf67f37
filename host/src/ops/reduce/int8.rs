//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::{Node, QTables};
use crate::quantize::lower::{Lowering, Plan, QNode};

/// The int8 kernel of one Reduce node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::ReduceP) -> Plan<QNode> {
    let x = node.inputs[0];
    let o = node.outputs[0];
    if p.kind != k::RED_MEAN {
        return Err("only ReduceMean has an int8 kernel".into());
    }
    {
        let xq = l.in_q(x)?;
        let oq = l.out_q(o)?;
        l.multiplier(xq.scale[0] as f64 / oq.scale[0] as f64)?;
        let n: u64 = (0..p.rank as usize)
            .filter(|d| p.mask >> d & 1 == 1)
            .map(|d| p.in_shape[d] as u64)
            .product();
        let (mult, shift) = q::mean_multiplier(xq.scale[0] as f64 / oq.scale[0] as f64, n);
        Ok(QNode {
            op: QOp::Mean(q::QMeanP {
                rank: p.rank,
                in_shape: p.in_shape,
                mask: p.mask,
                in_zp: xq.zp[0],
                out_zp: oq.zp[0],
                mult,
                shift,
            }),
            tables: QTables::default(),
            inputs: vec![Ok(x)],
            out_q: oq,
        })
    }
}
