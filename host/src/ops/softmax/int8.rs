//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::{Node, QParams, QTables};
use crate::quantize::lower::{Lowering, Plan, QNode};

/// The int8 kernel of one Softmax node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::SoftmaxP) -> Plan<QNode> {
    let src = l.src;
    let x = node.inputs[0];
    let o = node.outputs[0];
    let xq = l.in_q(x)?;
    if let Some(q) = &src.tensors[o].quant {
        if q.scale != [1.0 / 256.0] || q.zp != [-128] {
            return Err(
                "int8 softmax gives scale 1/256, zero point -128; the model asks for \
                 others"
                    .into(),
            );
        }
    }
    let exp = q::softmax_exp_table(1.0, xq.scale[0] as f64).ok_or_else(|| {
        format!(
            "input scale {} is too small for TFLite's int8 softmax",
            xq.scale[0]
        )
    })?;
    Ok(QNode {
        op: QOp::Softmax(q::QSoftmaxP {
            outer: p.outer,
            axis: p.axis,
            inner: p.inner,
        }),
        tables: QTables {
            exp: exp.to_vec(),
            ..QTables::default()
        },
        inputs: vec![Ok(x)],
        out_q: QParams::per_tensor(1.0 / 256.0, -128),
    })
}
