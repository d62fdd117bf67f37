//! Pad family: constant-mode Pad with constant, non-negative pads, lowered to the `pad` kernel.

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::{arr_u32, norm_axis};
use crate::import::Reason;

pub(crate) const SPECS: &[OpSpec] = &[
    OpSpec {
        op_type: "Pad",
        opsets: (2, 10),
        inputs: &[In::f32("data")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["mode", "pads", "value"],
        family: "pad",
        lower: lower_pad,
    },
    OpSpec {
        op_type: "Pad",
        opsets: (11, 17),
        inputs: &[
            In::f32("data"),
            In::int("pads"),
            In::konst("constant_value").opt(),
        ],
        variadic: false,
        outputs: (1, 1),
        attrs: &["mode"],
        family: "pad",
        lower: lower_pad,
    },
    OpSpec {
        op_type: "Pad",
        opsets: (18, MAX_OPSET),
        inputs: &[
            In::f32("data"),
            In::int("pads"),
            In::konst("constant_value").opt(),
            In::int("axes").opt(),
        ],
        variadic: false,
        outputs: (1, 1),
        attrs: &["mode"],
        family: "pad",
        lower: lower_pad,
    },
];

fn lower_pad(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (x, out) = (n.req(0)?, n.out0()?);
    let mode = n.attr_s("mode", "constant")?;
    if mode != "constant" {
        return Err(n.bad_attr("mode", "kiln pads with a constant only"));
    }
    let s = cx.shape(x)?;
    let rank = s.len();
    let (pads, value, pads_name) = if n.opset < 11 {
        let pads = n
            .attr_ints("pads")?
            .ok_or_else(|| n.bad_attr("pads", "required"))?;
        (pads, n.attr_f("value", 0.0)?, "pads".to_string())
    } else {
        let pname = n.req(1)?;
        let pads = cx.const_i64(pname, "pads")?;
        let value = match n.input(2) {
            None => 0.0,
            Some(v) => {
                let v = cx.const_f32(v, "constant_value")?;
                v.first().copied().unwrap_or(0.0)
            }
        };
        (pads, value, pname.to_string())
    };
    if !value.is_finite() {
        return Err(Reason::InvalidValue {
            input: n.name.clone(),
            why: "the pad value is not finite".into(),
        });
    }
    let axes: Vec<usize> = match n.input(3) {
        None => (0..rank).collect(),
        Some(a) => cx
            .const_i64(a, "axes")?
            .into_iter()
            .map(|v| norm_axis(v, rank, a))
            .collect::<Result<_, _>>()?,
    };
    if pads.len() != 2 * axes.len() {
        return Err(Reason::InvalidValue {
            input: pads_name,
            why: format!("{} pads for {} axes", pads.len(), axes.len()),
        });
    }
    if pads.iter().any(|&p| p < 0) {
        return Err(Reason::InvalidValue {
            input: pads_name,
            why: format!("negative pads {pads:?} (cropping) are not supported; use Slice"),
        });
    }
    let mut begin = vec![0usize; rank];
    let mut out_shape = s.clone();
    for (i, &a) in axes.iter().enumerate() {
        begin[a] = pads[i] as usize;
        out_shape[a] += pads[i] as usize + pads[i + axes.len()] as usize;
    }
    cx.check_shape(out, &out_shape)?;
    if rank > MAX_RANK {
        return Err(Reason::Rank {
            value: out.to_string(),
            rank,
            max: MAX_RANK,
        });
    }
    for &d in out_shape.iter() {
        crate::import::shape::fits_u32("dimension", d)?;
    }
    let p = PadP {
        rank: rank.max(1) as u32,
        in_shape: arr_u32(if rank == 0 { &[1] } else { &s }),
        out_shape: arr_u32(if rank == 0 { &[1] } else { &out_shape }),
        begin: arr_u32(&begin),
        value,
    };
    let xt = cx.tensor(x)?;
    let y = cx.output(out)?;
    cx.emit(n, KOp::Pad(p), vec![xt], vec![y], vec![]);
    Ok(())
}
