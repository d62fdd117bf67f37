//! Binary family: numpy-broadcasting Add/Sub/Mul/Div and PRelu, lowered to the `binary` kernel.
//! Either side may be a constant (it becomes a constant input of the node).

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::strides_of;
use crate::import::Reason;

const INPUTS: &[In] = &[In::f32("A"), In::f32("B")];

const fn bin(op_type: &'static str, lower: crate::import::spec::Lower) -> OpSpec {
    OpSpec {
        op_type,
        opsets: (7, MAX_OPSET),
        inputs: INPUTS,
        variadic: false,
        outputs: (1, 1),
        attrs: &[],
        family: "binary",
        lower,
    }
}

pub(crate) const SPECS: &[OpSpec] = &[
    bin("Add", lower_add),
    bin("Sub", lower_sub),
    bin("Mul", lower_mul),
    bin("Div", lower_div),
    bin("PRelu", lower_prelu),
];

fn lower_add(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, BIN_ADD)
}
fn lower_sub(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, BIN_SUB)
}
fn lower_mul(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, BIN_MUL)
}
fn lower_div(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, BIN_DIV)
}
fn lower_prelu(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, BIN_PRELU)
}

/// The numpy broadcast of two shapes.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let dim = |s: &[usize], d: usize| {
        if d + s.len() >= r {
            s[d + s.len() - r]
        } else {
            1
        }
    };
    (0..r)
        .map(|d| match (dim(a, d), dim(b, d)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Per-output-dim strides of an operand broadcast (numpy rules, right-aligned) to `out`; 0 on
/// broadcast dims. `None` when the shapes do not broadcast.
pub(crate) fn broadcast_strides(shape: &[usize], out: &[usize]) -> Option<Vec<usize>> {
    if shape.len() > out.len() {
        return None;
    }
    let lead = out.len() - shape.len();
    let natural = strides_of(shape);
    let mut strides = vec![0; out.len()];
    for (d, &o) in out.iter().enumerate().skip(lead) {
        let s = shape[d - lead];
        if s == o {
            strides[d] = if o == 1 { 0 } else { natural[d - lead] };
        } else if s != 1 {
            return None;
        }
    }
    Some(strides)
}

/// `BinaryP` over `out`, dropping size-1 dims and merging dims that are contiguous for both
/// operands, so that e.g. a rank-8 elementwise op still fits [`MAX_RANK`].
pub(crate) fn binary_params(
    value: &str,
    op: u8,
    out: &[usize],
    a: &[usize],
    b: &[usize],
) -> Result<BinaryP, Reason> {
    let mut dims: Vec<(usize, usize, usize)> = vec![];
    for ((&o, &sa), &sb) in out.iter().zip(a).zip(b) {
        if o == 1 {
            continue;
        }
        match dims.last_mut() {
            Some(l) if l.1 == sa * o && l.2 == sb * o => *l = (l.0 * o, sa, sb),
            _ => dims.push((o, sa, sb)),
        }
    }
    if dims.is_empty() {
        dims.push((1, 0, 0));
    }
    if dims.len() > MAX_RANK {
        return Err(Reason::Rank {
            value: value.to_string(),
            rank: dims.len(),
            max: MAX_RANK,
        });
    }
    let mut p = BinaryP {
        op,
        rank: dims.len() as u32,
        out_shape: [0; MAX_RANK],
        a_strides: [0; MAX_RANK],
        b_strides: [0; MAX_RANK],
        act: Act::NONE,
    };
    for (d, (o, sa, sb)) in dims.into_iter().enumerate() {
        p.out_shape[d] = crate::import::shape::fits_u32("dimension", o)?;
        p.a_strides[d] = crate::import::shape::fits_u32("stride", sa)?;
        p.b_strides[d] = crate::import::shape::fits_u32("stride", sb)?;
    }
    Ok(p)
}

fn lower(cx: &mut Cx, n: &NodeCx, op: u8) -> Result<(), Reason> {
    let (a, b, out) = (n.req(0)?, n.req(1)?, n.out0()?);
    let (sa, sb) = (cx.shape(a)?, cx.shape(b)?);
    let mismatch = || Reason::InvalidValue {
        input: b.to_string(),
        why: format!("shapes {sa:?} and {sb:?} do not broadcast"),
    };
    let so = if op == BIN_PRELU {
        sa.clone()
    } else {
        broadcast_shape(&sa, &sb).ok_or_else(mismatch)?
    };
    cx.check_shape(out, &so)?;
    let a_strides = broadcast_strides(&sa, &so).ok_or_else(mismatch)?;
    let b_strides = broadcast_strides(&sb, &so).ok_or_else(mismatch)?;
    let p = binary_params(out, op, &so, &a_strides, &b_strides)?;
    let ta = cx.tensor(a)?;
    let tb = cx.tensor(b)?;
    let y = cx.output(out)?;
    cx.emit(n, KOp::Binary(p), vec![ta, tb], vec![y], vec![]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_strides_and_collapse() {
        let out = [2, 3, 4];
        assert_eq!(broadcast_strides(&[4], &out), Some(vec![0, 0, 1]));
        assert_eq!(broadcast_strides(&[3, 1], &out), Some(vec![0, 1, 0]));
        assert_eq!(broadcast_strides(&[2, 3, 4], &out), Some(vec![12, 4, 1]));
        assert_eq!(broadcast_strides(&[3], &out), None);
        // Same-shape operands collapse to one dim.
        let p = binary_params("y", BIN_ADD, &out, &[12, 4, 1], &[12, 4, 1]).unwrap();
        assert_eq!((p.rank, p.out_shape[0], p.a_strides[0]), (1, 24, 1));
        // Bias over the last dim: [6, 4] with b strides [0, 1].
        let p = binary_params("y", BIN_ADD, &out, &[12, 4, 1], &[0, 0, 1]).unwrap();
        assert_eq!(
            (p.rank, p.out_shape[..2].to_vec(), p.b_strides[..2].to_vec()),
            (2, vec![6, 4], vec![0, 1])
        );
        // Scalar output.
        let p = binary_params("y", BIN_MUL, &[], &[], &[]).unwrap();
        assert_eq!((p.rank, p.out_shape[0]), (1, 1));
    }
}
