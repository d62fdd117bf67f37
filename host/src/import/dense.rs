//! Dense family: Gemm and MatMul with constant weights, lowered to the `dense` kernel
//! (weights `[k, n]`, transposed / scaled on the host).

use kiln_kernels::f32::*;

use super::binary::{binary_params, broadcast_strides};
use super::cx::{Cx, NodeCx, fits_u32};
use super::spec::{In, MAX_OPSET, OpSpec};
use super::strided::strided_params;
use super::Reason;

pub(super) const SPECS: &[OpSpec] = &[
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
    Reason::InvalidValue { input: input.to_string(), why: format!("{what}, got shape {shape:?}") }
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
    let (m, k) = if trans_a { (sa[1], sa[0]) } else { (sa[0], sa[1]) };
    let (kb, nn) = if trans_b { (sb[1], sb[0]) } else { (sb[0], sb[1]) };
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
                let v = if trans_b { bdata[j * k + kk] } else { bdata[kk * nn + j] };
                w[kk * nn + j] = alpha * v;
            }
        }
        w
    };
    let wt = if !trans_b && alpha == 1.0 {
        cx.tensor(b)?
    } else {
        cx.konst(n.derived("weights"), vec![k, nn], w)
    };

    let mut xa = cx.tensor(a)?;
    if trans_a {
        // A is stored [k, m]; the kernel reads [m, k].
        let p = strided_params(&n.derived("transA"), &[m, k], &[1, m as isize], 0)?;
        let t = cx.temp(n.derived("transA"), vec![m, k]);
        cx.emit(n, KOp::Strided(p), vec![xa], vec![t], vec![], 0);
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
    let macs = (m * k * nn) as u64;
    match add_c {
        None => {
            let y = cx.output(out)?;
            cx.emit(n, KOp::Dense(p), dense_in, vec![y], vec![], macs);
        }
        Some((c, _sc, cs)) => {
            let t = cx.temp(n.derived("matmul"), vec![m, nn]);
            cx.emit(n, KOp::Dense(p), dense_in, vec![t], vec![], macs);
            let bp = binary_params(out, BIN_ADD, &[m, nn], &[nn, 1], &cs)?;
            let ct = cx.tensor(c)?;
            let y = cx.output(out)?;
            cx.emit(n, KOp::Binary(bp), vec![t, ct], vec![y], vec![], 0);
        }
    }
    Ok(())
}

fn lower_matmul(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (a, b, out) = (n.req(0)?, n.req(1)?, n.out0()?);
    let (sa, sb) = (cx.shape(a)?, cx.shape(b)?);
    let (k, nn) = match sb.as_slice() {
        [k, nn] => (*k, *nn),
        [k] => (*k, 1),
        _ => {
            return Err(Reason::Limitation {
                what: format!("MatMul with weights B of rank {} (kiln needs 1-D or 2-D)", sb.len()),
            });
        }
    };
    let (batch, m, ka) = match sa.as_slice() {
        [] => return Err(rank_error(a, "MatMul needs A of rank 1 or more", &sa)),
        [k] => (1, 1, *k),
        [lead @ .., m, k] => (lead.iter().product::<usize>(), *m, *k),
    };
    if ka != k {
        return Err(Reason::InvalidValue {
            input: b.to_string(),
            why: format!("inner dimensions differ: A gives {ka}, B gives {k}"),
        });
    }
    let mut expected: Vec<usize> = sa[..sa.len().saturating_sub(1)].to_vec();
    if sb.len() == 2 {
        expected.push(nn);
    }
    cx.check_shape(out, &expected)?;
    let xa = cx.tensor(a)?;
    let wt = if sb.len() == 2 {
        cx.tensor(b)?
    } else {
        let w = cx.const_f32(b, "weights B")?;
        cx.konst(n.derived("weights"), vec![k, 1], w)
    };
    let y = cx.output(out)?;
    let p = DenseP {
        batch: fits_u32("batch", batch)?,
        m: fits_u32("m", m)?,
        k: fits_u32("k", k)?,
        n: fits_u32("n", nn)?,
        bias_full: false,
        act: Act::NONE,
    };
    cx.emit(n, KOp::Dense(p), vec![xa, wt], vec![y], vec![], (batch * m * k * nn) as u64);
    Ok(())
}
