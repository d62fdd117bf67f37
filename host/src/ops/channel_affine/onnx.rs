//! Channel-affine family: inference BatchNormalization, lowered to the `channel_affine` kernel
//! with `scale' = scale / sqrt(var + eps)` and `shift' = bias - mean * scale'` computed here
//! (`optimize` folds it into a preceding Conv / Dense when it can).

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::fits_u32;
use crate::import::Reason;

const BN_INPUTS: &[In] = &[
    In::f32("X"),
    In::weight("scale"),
    In::weight("B"),
    In::weight("mean"),
    In::weight("var"),
];

pub(crate) const SPECS: &[OpSpec] = &[
    OpSpec {
        op_type: "BatchNormalization",
        opsets: (7, 8),
        inputs: BN_INPUTS,
        variadic: false,
        outputs: (1, 5),
        attrs: &["epsilon", "momentum", "spatial"],
        family: "channel_affine",
        lower: lower_bn,
    },
    OpSpec {
        op_type: "BatchNormalization",
        opsets: (9, 13),
        inputs: BN_INPUTS,
        variadic: false,
        outputs: (1, 5),
        attrs: &["epsilon", "momentum"],
        family: "channel_affine",
        lower: lower_bn,
    },
    OpSpec {
        op_type: "BatchNormalization",
        opsets: (14, MAX_OPSET),
        inputs: BN_INPUTS,
        variadic: false,
        outputs: (1, 3),
        attrs: &["epsilon", "momentum", "training_mode"],
        family: "channel_affine",
        lower: lower_bn,
    },
];

/// `(scale', shift')` of an inference BatchNormalization.
pub(crate) fn bn_affine(
    scale: &[f32],
    bias: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
) -> (Vec<f32>, Vec<f32>) {
    let s: Vec<f32> = scale
        .iter()
        .zip(var)
        .map(|(&g, &v)| (g as f64 / (v as f64 + eps as f64).sqrt()) as f32)
        .collect();
    let t: Vec<f32> = bias
        .iter()
        .zip(mean)
        .zip(&s)
        .map(|((&b, &m), &s)| (b as f64 - m as f64 * s as f64) as f32)
        .collect();
    (s, t)
}

fn lower_bn(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    if n.attr_i("training_mode", 0)? != 0 {
        return Err(n.bad_attr("training_mode", "kiln runs inference only"));
    }
    if n.attr_i("spatial", 1)? != 1 {
        return Err(n.bad_attr("spatial", "only spatial = 1 is supported"));
    }
    for i in 1..n.proto.output.len() {
        if let Some(o) = n.output(i).filter(|o| cx.is_used(o)) {
            return Err(Reason::Limitation {
                what: format!("training output `{o}` of BatchNormalization is used"),
            });
        }
    }
    let (x, out) = (n.req(0)?, n.out0()?);
    let s = cx.shape(x)?;
    if s.len() < 2 {
        return Err(Reason::InvalidValue {
            input: x.to_string(),
            why: format!("BatchNormalization needs [N, C, ...], got {s:?}"),
        });
    }
    cx.check_shape(out, &s)?;
    let c = s[1];
    let mut stats = vec![];
    for (i, role) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
        let name = n.req(i)?;
        let v = cx.const_f32(name, role)?;
        if v.len() != c {
            return Err(Reason::InvalidValue {
                input: name.to_string(),
                why: format!("{role} has {} values for {c} channels", v.len()),
            });
        }
        stats.push(v);
    }
    let eps = n.attr_f("epsilon", 1e-5)?;
    let (scale, shift) = bn_affine(&stats[0], &stats[1], &stats[2], &stats[3], eps);
    let outer = s[0];
    let inner: usize = s[2..].iter().product();
    let p = ChannelAffineP {
        outer: fits_u32("outer", outer)?,
        c: fits_u32("channels", c)?,
        inner: fits_u32("inner", inner)?,
    };
    let xt = cx.tensor(x)?;
    let st = cx.konst(n.derived("scale"), vec![c], scale);
    let tt = cx.konst(n.derived("shift"), vec![c], shift);
    let y = cx.output(out)?;
    // MACs count Conv / Dense work only (the usual convention for model MACs).
    cx.emit(n, KOp::ChannelAffine(p), vec![xt, st, tt], vec![y], vec![]);
    Ok(())
}
