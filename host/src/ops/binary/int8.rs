//! The int8 lowering rule of the family: its int8 kernel and parameters, or why it has none
//! (the layer then stays f32).

use kiln_kernels::f32 as k;
use kiln_kernels::i8::{self as q, QOp};

use crate::ir::{Node, QParams, QTables, TensorId};
use crate::quantize::act_qparams;
use crate::quantize::lower::{clamp_of, Lowering, Plan, QNode};

/// The int8 kernel of one Binary node (its kernel parameters `p`), or why there is none.
pub(crate) fn lower(l: &mut Lowering, node: &Node, p: k::BinaryP) -> Plan<QNode> {
    let src = l.src;
    let o = node.outputs[0];
    let act_of = |t: TensorId| Ok::<_, String>(Ok(t));
    let qop = match p.op {
        k::BIN_ADD => q::QBIN_ADD,
        k::BIN_SUB => q::QBIN_SUB,
        k::BIN_MUL => q::QBIN_MUL,
        _ => return Err("no int8 kernel for this binary op".into()),
    };
    let oq = l.out_q(o)?;
    let (act_min, act_max) = clamp_of(p.act, &oq)?;
    let mut ins = Vec::new();
    let mut qs = Vec::new();
    for &t in &node.inputs[..2] {
        if let Some(d) = &src.tensors[t].data {
            let (lo, hi) = d
                .iter()
                .filter(|v| v.is_finite())
                .fold((0f32, 0f32), |(a, b), &v| (a.min(v), b.max(v)));
            let (s, z) = act_qparams(lo, hi);
            let qv: Vec<i8> = d.iter().map(|&v| q::quantize_f32(v, s, z)).collect();
            let id = l.int8_const(t, qv, vec![s], 0);
            l.out.tensors[id].quant = Some(QParams::per_tensor(s, z));
            ins.push(Err(id));
            qs.push(QParams::per_tensor(s, z));
        } else {
            qs.push(l.in_q(t)?);
            ins.push(act_of(t)?);
        }
    }
    let (sa, sb, so) = (
        qs[0].scale[0] as f64,
        qs[1].scale[0] as f64,
        oq.scale[0] as f64,
    );
    let left_shift = 20;
    let mut bp = q::QBinaryP {
        op: qop,
        rank: p.rank,
        out_shape: p.out_shape,
        a_strides: p.a_strides,
        b_strides: p.b_strides,
        a_zp: qs[0].zp[0],
        b_zp: qs[1].zp[0],
        out_zp: oq.zp[0],
        left_shift: 0,
        a_mult: 0,
        a_shift: 0,
        b_mult: 0,
        b_shift: 0,
        out_mult: 0,
        out_shift: 0,
        act_min,
        act_max,
    };
    if qop == q::QBIN_MUL {
        (bp.out_mult, bp.out_shift) = l.multiplier(sa * sb / so)?;
    } else {
        let twice_max = 2.0 * sa.max(sb);
        bp.left_shift = left_shift;
        (bp.a_mult, bp.a_shift) = l.multiplier(sa / twice_max)?;
        (bp.b_mult, bp.b_shift) = l.multiplier(sb / twice_max)?;
        (bp.out_mult, bp.out_shift) =
            l.multiplier(twice_max / ((1u64 << left_shift) as f64 * so))?;
    }
    Ok(QNode {
        op: QOp::Binary(bp),
        tables: QTables::default(),
        inputs: ins,
        out_q: oq,
    })
}
