//! Conv2d family: 1-D and 2-D Conv (pads, auto_pad, strides, dilations, groups incl.
//! depthwise) lowered to the `conv2d` kernel. Also the window geometry shared with pooling.

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::fits_u32;
use crate::import::Reason;

pub(crate) const SPECS: &[OpSpec] = &[OpSpec {
    op_type: "Conv",
    opsets: (1, MAX_OPSET),
    inputs: &[In::f32("X"), In::weight("W"), In::weight("B").opt()],
    variadic: false,
    outputs: (1, 1),
    attrs: &[
        "auto_pad",
        "dilations",
        "group",
        "kernel_shape",
        "pads",
        "strides",
    ],
    family: "conv2d",
    lower: lower_conv,
}];

/// The geometry of a sliding window over the spatial dims (1 or 2 of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pad_begin: Vec<usize>,
    pub pad_end: Vec<usize>,
    pub out: Vec<usize>,
}

/// Computes pads and output size from the ONNX attributes (`auto_pad`, `pads`, `strides`,
/// `dilations`, and `ceil_mode` for pools, following the ONNX / PyTorch rule that the last window
/// must start inside the input or its begin padding).
pub(crate) fn window(
    n: &NodeCx,
    input: &[usize],
    kernel: &[usize],
    ceil_mode: bool,
) -> Result<Window, Reason> {
    let r = input.len();
    let ints = |name: &str, default: usize| -> Result<Vec<usize>, Reason> {
        match n.attr_ints(name)? {
            None => Ok(vec![default; r]),
            Some(v) if v.len() == r && v.iter().all(|&x| x >= 1) => {
                Ok(v.iter().map(|&x| x as usize).collect())
            }
            Some(_) => Err(n.bad_attr(name, format!("needs {r} positive values"))),
        }
    };
    let strides = ints("strides", 1)?;
    let dilations = ints("dilations", 1)?;
    let auto_pad = n.attr_s("auto_pad", "NOTSET")?;
    let span: Vec<usize> = (0..r).map(|d| (kernel[d] - 1) * dilations[d] + 1).collect();
    let (pad_begin, pad_end) = match auto_pad.as_str() {
        "NOTSET" => match n.attr_ints("pads")? {
            None => (vec![0; r], vec![0; r]),
            Some(p) if p.len() == 2 * r && p.iter().all(|&x| x >= 0) => (
                p[..r].iter().map(|&x| x as usize).collect(),
                p[r..].iter().map(|&x| x as usize).collect(),
            ),
            Some(_) => {
                return Err(n.bad_attr("pads", format!("needs {} non-negative values", 2 * r)))
            }
        },
        "VALID" => (vec![0; r], vec![0; r]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut b = vec![0; r];
            let mut e = vec![0; r];
            for d in 0..r {
                let out = input[d].div_ceil(strides[d]);
                let total = ((out - 1) * strides[d] + span[d]).saturating_sub(input[d]);
                let small = total / 2;
                let (pb, pe) = if auto_pad == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                b[d] = pb;
                e[d] = pe;
            }
            (b, e)
        }
        _ => {
            return Err(n.bad_attr(
                "auto_pad",
                "expected NOTSET, SAME_UPPER, SAME_LOWER or VALID",
            ))
        }
    };
    let mut out = vec![0; r];
    for d in 0..r {
        let padded = input[d] + pad_begin[d] + pad_end[d];
        if padded < span[d] {
            return Err(Reason::InvalidValue {
                input: n.name.clone(),
                why: format!(
                    "the window ({} cells) is larger than the padded input ({padded})",
                    span[d]
                ),
            });
        }
        let room = padded - span[d];
        let mut o = if ceil_mode {
            room.div_ceil(strides[d])
        } else {
            room / strides[d]
        } + 1;
        if ceil_mode && (o - 1) * strides[d] >= input[d] + pad_begin[d] {
            o -= 1;
        }
        out[d] = o;
    }
    Ok(Window {
        kernel: kernel.to_vec(),
        strides,
        dilations,
        pad_begin,
        pad_end,
        out,
    })
}

/// `[h, w]` views of 1-D / 2-D window params (1-D puts everything in `w`).
pub(crate) fn hw(v: &[usize], one: usize) -> (usize, usize) {
    match v {
        [w] => (one, *w),
        [h, w] => (*h, *w),
        _ => (one, one),
    }
}

fn lower_conv(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (x, w, out) = (n.req(0)?, n.req(1)?, n.out0()?);
    let (sx, sw) = (cx.shape(x)?, cx.shape(w)?);
    if !(3..=4).contains(&sx.len()) {
        return Err(Reason::Limitation {
            what: format!(
                "Conv on rank-{} input (kiln runs 1-D and 2-D convolutions)",
                sx.len()
            ),
        });
    }
    if sw.len() != sx.len() {
        return Err(Reason::InvalidValue {
            input: w.to_string(),
            why: format!("weights {sw:?} do not match input {sx:?}"),
        });
    }
    let groups = n.attr_i("group", 1)?;
    let (batch, in_c, out_c) = (sx[0], sx[1], sw[0]);
    if groups < 1 || in_c % groups as usize != 0 || out_c % groups as usize != 0 {
        return Err(n.bad_attr(
            "group",
            format!("must divide {in_c} input and {out_c} output channels"),
        ));
    }
    let groups = groups as usize;
    if sw[1] != in_c / groups {
        return Err(Reason::InvalidValue {
            input: w.to_string(),
            why: format!(
                "weights {sw:?} need {} input channels per group",
                in_c / groups
            ),
        });
    }
    let kernel = sw[2..].to_vec();
    if let Some(ks) = n.attr_ints("kernel_shape")? {
        if ks.iter().map(|&k| k as usize).collect::<Vec<_>>() != kernel {
            return Err(n.bad_attr(
                "kernel_shape",
                format!("differs from the weights' {kernel:?}"),
            ));
        }
    }
    let win = window(n, &sx[2..], &kernel, false)?;
    let mut expected = vec![batch, out_c];
    expected.extend(&win.out);
    cx.check_shape(out, &expected)?;
    if let Some(b) = n.input(2) {
        let sb = cx.shape(b)?;
        if sb != [out_c] {
            return Err(Reason::InvalidValue {
                input: b.to_string(),
                why: format!("bias has shape {sb:?}, expected [{out_c}]"),
            });
        }
    }
    let (in_h, in_w) = hw(&sx[2..], 1);
    let (out_h, out_w) = hw(&win.out, 1);
    let (k_h, k_w) = hw(&win.kernel, 1);
    let (s_h, s_w) = hw(&win.strides, 1);
    let (d_h, d_w) = hw(&win.dilations, 1);
    let (pad_t, pad_l) = hw(&win.pad_begin, 0);
    let u = |what, v| fits_u32(what, v);
    let p = Conv2dP {
        batch: u("batch", batch)?,
        in_c: u("in_c", in_c)?,
        in_h: u("in_h", in_h)?,
        in_w: u("in_w", in_w)?,
        out_c: u("out_c", out_c)?,
        out_h: u("out_h", out_h)?,
        out_w: u("out_w", out_w)?,
        k_h: u("k_h", k_h)?,
        k_w: u("k_w", k_w)?,
        s_h: u("s_h", s_h)?,
        s_w: u("s_w", s_w)?,
        d_h: u("d_h", d_h)?,
        d_w: u("d_w", d_w)?,
        pad_t: u("pad_t", pad_t)?,
        pad_l: u("pad_l", pad_l)?,
        groups: u("groups", groups)?,
        act: Act::NONE,
    };
    let mut inputs = vec![cx.tensor(x)?, cx.tensor(w)?];
    if let Some(b) = n.input(2) {
        inputs.push(cx.tensor(b)?);
    }
    let y = cx.output(out)?;
    cx.emit(n, KOp::Conv2d(p), inputs, vec![y], vec![]);
    Ok(())
}
