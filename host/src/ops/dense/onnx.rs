//! Dense family: Gemm and MatMul with constant weights, lowered to the `dense` kernel
//! (weights `[k, n]`, transposed / scaled on the host).

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::fits_u32;
use crate::import::Reason;
use crate::ops::binary::{binary_params, broadcast_strides};
use crate::ops::strided::strided_params;

pub(crate) const SPECS: &[OpSpec] = &[
    OpSpec {
        op_type: "Gemm",
        opsets: (7, MAX_OPSET),
        inputs: &[In::f32("A"), In::weight("B"), In::f32("C").opt()],
        variadic: false,
        outputs: (1, 1),
        attrs: &["alpha", "beta", "transA", "transB"],
        family: "dense",
        lower: lower_gemm,
    },
    OpSpec {
        op_type: "MatMul",
        opsets: (1, MAX_OPSET),
        inputs: &[In::f32("A"), In::weight("B")],
        variadic: false,
        outputs: (1, 1),
        attrs: &[],
        family: "dense",
        lower: lower_matmul,
    },
];

fn rank_error(input: &str, what: &str, shape: &[usize]) -> Reason {
    Reason::InvalidValue {
        input: input.to_string(),
        why: format!("{what}, got shape {shape:?}"),
    }
}

fn lower_gemm(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (a, b, out) = (n.req(0)?, n.req(1)?, n.out0()?);
    let alpha = n.attr_f("alpha", 1.0)?;
    let beta = n.attr_f("beta", 1.0)?;
    let trans_a = n.attr_i("transA", 0)? != 0;
    let trans_b = n.attr_i("transB", 0)? != 0;
    let (sa, sb) = (cx.shape(a)?, cx.shape(b)?);
    if sa.len() != 2 {
        return Err(rank_error(a, "Gemm needs a 2-D A", &sa));
    }
    if sb.len() != 2 {
        return Err(rank_error(b, "Gemm needs a 2-D B", &sb));
    }
    let (m, k) = if trans_a {
        (sa[1], sa[0])
    } else {
        (sa[0], sa[1])
    };
    let (kb, nn) = if trans_b {
        (sb[1], sb[0])
    } else {
        (sb[0], sb[1])
    };
    if k != kb {
        return Err(Reason::InvalidValue {
            input: b.to_string(),
            why: format!("inner dimensions differ: A gives {k}, B gives {kb}"),
        });
    }
    cx.check_shape(out, &[m, nn])?;
    // Weights [k, n] = alpha * op(B).
    let bdata = cx.const_f32(b, "weights B")?;
    let w: Vec<f32> = if !trans_b && alpha == 1.0 {
        bdata
    } else {
        let mut w = vec![0.0; k * nn];
        for kk in 0..k {
            for j in 0..nn {
                let v = if trans_b {
                    bdata[j * k + kk]
                } else {
                    bdata[kk * nn + j]
                };
                w[kk * nn + j] = alpha * v;
            }
        }
        w
    };
    let wt = if !trans_b && alpha == 1.0 {
        cx.tensor(b)?
    } else {
        let id = cx.konst(n.derived("weights"), vec![k, nn], w);
        // A pre-quantized B's per-channel params follow the transposition (alpha 1 only).
        if alpha == 1.0 {
            cx.g.tensors[id].quant = cx.qconsts.get(b).map(|q| crate::ir::QParams {
                axis: q.axis.map(|a| 1 - a.min(1)),
                ..q.clone()
            });
        }
        id
    };

    let mut xa = cx.tensor(a)?;
    if trans_a {
        // A is stored [k, m]; the kernel reads [m, k].
        let p = strided_params(&n.derived("transA"), &[m, k], &[1, m as isize], 0)?;
        let t = cx.temp(n.derived("transA"), vec![m, k]);
        cx.emit(n, KOp::Strided(p), vec![xa], vec![t], vec![]);
        xa = t;
    }

    // C: a constant becomes the bias ([n] when it only varies along n, else [m, n]); an
    // activation is added by a following Binary node.
    let mut dense_in = vec![xa, wt];
    let mut bias_full = false;
    let mut add_c = None;
    if let Some(c) = n.input(2) {
        let sc = cx.shape(c)?;
        let Some(cs) = broadcast_strides(&sc, &[m, nn]) else {
            return Err(Reason::InvalidValue {
                input: c.to_string(),
                why: format!("C {sc:?} does not broadcast to [{m}, {nn}]"),
            });
        };
        if cx.is_const(c) {
            let cdata = cx.const_f32(c, "bias C")?;
            bias_full = cs[0] != 0 && m > 1;
            let rows = if bias_full { m } else { 1 };
            let mut bias = vec![0.0; rows * nn];
            for i in 0..rows {
                for j in 0..nn {
                    bias[i * nn + j] = beta * cdata[i * cs[0] + j * cs[1]];
                }
            }
            let shape = if bias_full { vec![m, nn] } else { vec![nn] };
            let bt = cx.konst(n.derived("bias"), shape, bias);
            dense_in.push(bt);
        } else {
            if beta != 1.0 {
                return Err(Reason::Limitation {
                    what: format!("Gemm with a computed C and beta = {beta}"),
                });
            }
            add_c = Some((c, sc, cs));
        }
    }
    let p = DenseP {
        batch: 1,
        m: fits_u32("m", m)?,
        k: fits_u32("k", k)?,
        n: fits_u32("n", nn)?,
        bias_full,
        act: Act::NONE,
    };
    match add_c {
        None => {
            let y = cx.output(out)?;
            cx.emit(n, KOp::Dense(p), dense_in, vec![y], vec![]);
        }
        Some((c, _sc, cs)) => {
            let t = cx.temp(n.derived("matmul"), vec![m, nn]);
            cx.emit(n, KOp::Dense(p), dense_in, vec![t], vec![]);
            let bp = binary_params(out, BIN_ADD, &[m, nn], &[nn, 1], &cs)?;
            let ct = cx.tensor(c)?;
            let y = cx.output(out)?;
            cx.emit(n, KOp::Binary(bp), vec![t, ct], vec![y], vec![]);
        }
    }
    Ok(())
}

/// MatMul with constant B. `A [..., m, k] x B [k, n]` is one Dense node over all of A's
/// leading dims. A batched B (`[..., k, n]`, numpy-broadcast against A's leading dims) becomes one
/// Dense per output batch (each on its slice of A, with its slice of B), concatenated.
fn lower_matmul(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (a, b, out) = (n.req(0)?, n.req(1)?, n.out0()?);
    let (sa, sb) = (cx.shape(a)?, cx.shape(b)?);
    if sa.is_empty() || sb.is_empty() {
        return Err(rank_error(
            a,
            "MatMul needs operands of rank 1 or more",
            &sa,
        ));
    }
    // ONNX: a 1-D A gets a leading 1 (dropped from the result), a 1-D B a trailing 1.
    let a_vec = sa.len() == 1;
    let b_vec = sb.len() == 1;
    let (m, ka) = if a_vec {
        (1, sa[0])
    } else {
        (sa[sa.len() - 2], sa[sa.len() - 1])
    };
    let (k, nn) = if b_vec {
        (sb[0], 1)
    } else {
        (sb[sb.len() - 2], sb[sb.len() - 1])
    };
    if ka != k {
        return Err(Reason::InvalidValue {
            input: b.to_string(),
            why: format!("inner dimensions differ: A gives {ka}, B gives {k}"),
        });
    }
    let a_batch: &[usize] = if a_vec { &[] } else { &sa[..sa.len() - 2] };
    let b_batch: &[usize] = if b_vec { &[] } else { &sb[..sb.len() - 2] };
    let out_batch = crate::ops::binary::broadcast_shape(a_batch, b_batch).ok_or_else(|| {
        Reason::InvalidValue {
            input: b.to_string(),
            why: format!("batch dims {a_batch:?} and {b_batch:?} do not broadcast"),
        }
    })?;
    let mut expected = out_batch.clone();
    if !a_vec {
        expected.push(m);
    }
    if !b_vec {
        expected.push(nn);
    }
    cx.check_shape(out, &expected)?;
    let w = cx.const_f32(b, "weights B")?;
    let nb: usize = out_batch.iter().product();
    let dense = |batch: usize| -> Result<DenseP, Reason> {
        Ok(DenseP {
            batch: fits_u32("batch", batch)?,
            m: fits_u32("m", m)?,
            k: fits_u32("k", k)?,
            n: fits_u32("n", nn)?,
            bias_full: false,
            act: Act::NONE,
        })
    };
    let xa = cx.tensor(a)?;
    if b_batch.iter().all(|&d| d == 1) {
        // One weight matrix for every row of A (A's leading dims are the output's).
        let wt = if sb.len() == 2 {
            cx.tensor(b)?
        } else {
            cx.konst(n.derived("weights"), vec![k, nn], w)
        };
        let batch = nb.max(1);
        let y = cx.output(out)?;
        cx.emit(n, KOp::Dense(dense(batch)?), vec![xa, wt], vec![y], vec![]);
        return Ok(());
    }
    let no_broadcast = || Reason::InvalidValue {
        input: b.to_string(),
        why: format!("batch dims {a_batch:?} and {b_batch:?} do not broadcast"),
    };
    let a_strides =
        crate::ops::binary::broadcast_strides(a_batch, &out_batch).ok_or_else(no_broadcast)?;
    let b_strides =
        crate::ops::binary::broadcast_strides(b_batch, &out_batch).ok_or_else(no_broadcast)?;
    let a_count: usize = a_batch.iter().product();
    let y = cx.output(out)?;
    let mut parts = vec![];
    for ob in 0..nb {
        // Multi-index of batch `ob`, mapped to A's and B's batch (0 on broadcast dims).
        let (mut rem, mut ai, mut bi) = (ob, 0, 0);
        for d in (0..out_batch.len()).rev() {
            let i = rem % out_batch[d];
            rem /= out_batch[d];
            ai += i * a_strides[d];
            bi += i * b_strides[d];
        }
        let x = if a_count == 1 {
            xa
        } else {
            let t = cx.temp(n.derived(&format!("a{ob}")), vec![m, k]);
            let p = strided_params(&n.derived("a"), &[m * k], &[1], ai * m * k)?;
            cx.emit(n, KOp::Strided(p), vec![xa], vec![t], vec![]);
            t
        };
        let wt = cx.konst(
            n.derived(&format!("weights{ob}")),
            vec![k, nn],
            w[bi * k * nn..(bi + 1) * k * nn].to_vec(),
        );
        let r = cx.temp(n.derived(&format!("mm{ob}")), vec![m, nn]);
        cx.emit(n, KOp::Dense(dense(1)?), vec![x, wt], vec![r], vec![]);
        parts.push((r, 1));
    }
    crate::ops::concat::concat_into(cx, n, &parts, 1, m * nn, y, |len| vec![len, m, nn])
}
