//! Pool2d family: 1-D, 2-D and 3-D MaxPool / AveragePool lowered to the `pool2d` kernel (3-D as
//! two separable passes; global pools are reductions, see `reduce`).

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::{arr_u32, fits_u32};
use crate::import::Reason;
use crate::ops::conv2d::window;

pub(crate) const SPECS: &[OpSpec] = &[
    OpSpec {
        op_type: "MaxPool",
        opsets: (1, MAX_OPSET),
        inputs: &[In::f32("X")],
        variadic: false,
        outputs: (1, 2),
        attrs: &[
            "auto_pad",
            "ceil_mode",
            "dilations",
            "kernel_shape",
            "pads",
            "storage_order",
            "strides",
        ],
        family: "pool2d",
        lower: lower_max,
    },
    OpSpec {
        op_type: "AveragePool",
        opsets: (7, MAX_OPSET),
        inputs: &[In::f32("X")],
        variadic: false,
        outputs: (1, 1),
        attrs: &[
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
            "dilations",
            "kernel_shape",
            "pads",
            "strides",
        ],
        family: "pool2d",
        lower: lower_avg,
    },
];

fn lower_max(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    if let Some(ix) = n.output(1).filter(|o| cx.is_used(o)) {
        return Err(Reason::Limitation {
            what: format!("MaxPool indices output `{ix}` is used"),
        });
    }
    lower(cx, n, POOL_MAX)
}

fn lower_avg(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    lower(cx, n, POOL_AVG)
}

fn lower(cx: &mut Cx, n: &NodeCx, kind: u8) -> Result<(), Reason> {
    let (x, out) = (n.req(0)?, n.out0()?);
    let sx = cx.shape(x)?;
    if !(3..=5).contains(&sx.len()) {
        return Err(Reason::Limitation {
            what: format!(
                "pooling over rank-{} input (kiln pools 1-D, 2-D and 3-D)",
                sx.len()
            ),
        });
    }
    let r = sx.len() - 2;
    let kernel: Vec<usize> = match n.attr_ints("kernel_shape")? {
        Some(k) if k.len() == r && k.iter().all(|&v| v >= 1) => {
            k.iter().map(|&v| v as usize).collect()
        }
        _ => return Err(n.bad_attr("kernel_shape", format!("needs {r} positive values"))),
    };
    let ceil_mode = n.attr_i("ceil_mode", 0)? != 0;
    let mut count_include_pad = n.attr_i("count_include_pad", 0)? != 0;
    let win = window(n, &sx[2..], &kernel, ceil_mode)?;
    let mut expected = sx[..2].to_vec();
    expected.extend(&win.out);
    cx.check_shape(out, &expected)?;

    let mut xt = cx.tensor(x)?;
    let mut in_spatial = sx[2..].to_vec();
    let mut pad_begin = win.pad_begin.clone();
    // ONNX (and tract) count explicit padding in the average's divisor but not a ceil-mode
    // window's overhang past it; the kernel cannot tell the two apart, so pad explicitly then.
    let overhang = (0..r).any(|d| {
        let span = (win.kernel[d] - 1) * win.dilations[d] + 1;
        (win.out[d] - 1) * win.strides[d] + span > sx[d + 2] + win.pad_begin[d] + win.pad_end[d]
    });
    let has_pad = win.pad_begin.iter().chain(&win.pad_end).any(|&p| p > 0);
    if !has_pad {
        // Nothing to include; and an overhang must not count.
        count_include_pad = false;
    }
    if kind == POOL_AVG && count_include_pad && overhang {
        let mut padded = sx.clone();
        for d in 0..r {
            padded[d + 2] += win.pad_begin[d] + win.pad_end[d];
        }
        let mut begin = vec![0; sx.len()];
        begin[2..].copy_from_slice(&win.pad_begin);
        let pp = PadP {
            rank: sx.len() as u32,
            in_shape: arr_u32(&sx),
            out_shape: arr_u32(&padded),
            begin: arr_u32(&begin),
            value: 0.0,
        };
        let t = cx.temp(n.derived("padded"), padded.clone());
        cx.emit(n, KOp::Pad(pp), vec![xt], vec![t], vec![]);
        xt = t;
        in_spatial = padded[2..].to_vec();
        pad_begin = vec![0; r];
        count_include_pad = false;
    }
    let geo = |d: usize| Axis {
        input: in_spatial[d],
        out: win.out[d],
        k: win.kernel[d],
        s: win.strides[d],
        d: win.dilations[d],
        pad: pad_begin[d],
    };
    let y = cx.output(out)?;
    if r <= 2 {
        let (h, w) = if r == 1 {
            (Axis::ONE, geo(0))
        } else {
            (geo(0), geo(1))
        };
        let p = params(kind, count_include_pad, sx[0], sx[1], h, w)?;
        cx.emit(n, KOp::Pool2d(p), vec![xt], vec![y], vec![]);
    } else {
        // 3-D: the window is a box, so pool over (h, w) for every depth slice, then over depth
        // with the (h, w) plane flattened. Max of maxes is the max; for the average, the valid
        // cells of a box are the product of the valid cells per axis, so the average of
        // averages is the average.
        let (dd, h, w) = (geo(0), geo(1), geo(2));
        let plane = params(kind, count_include_pad, sx[0], sx[1] * dd.input, h, w)?;
        let t = cx.temp(
            n.derived("planes"),
            vec![sx[0], sx[1], dd.input, h.out, w.out],
        );
        cx.emit(n, KOp::Pool2d(plane), vec![xt], vec![t], vec![]);
        let flat = Axis {
            input: h.out * w.out,
            out: h.out * w.out,
            ..Axis::ONE
        };
        let depth = params(kind, count_include_pad, sx[0], sx[1], dd, flat)?;
        cx.emit(n, KOp::Pool2d(depth), vec![t], vec![y], vec![]);
    }
    Ok(())
}

/// The window geometry along one axis.
#[derive(Clone, Copy)]
struct Axis {
    input: usize,
    out: usize,
    k: usize,
    s: usize,
    d: usize,
    pad: usize,
}

impl Axis {
    const ONE: Axis = Axis {
        input: 1,
        out: 1,
        k: 1,
        s: 1,
        d: 1,
        pad: 0,
    };
}

fn params(
    kind: u8,
    count_include_pad: bool,
    batch: usize,
    c: usize,
    h: Axis,
    w: Axis,
) -> Result<Pool2dP, Reason> {
    let u = |what, v| fits_u32(what, v);
    Ok(Pool2dP {
        kind,
        batch: u("batch", batch)?,
        c: u("channels", c)?,
        in_h: u("in_h", h.input)?,
        in_w: u("in_w", w.input)?,
        out_h: u("out_h", h.out)?,
        out_w: u("out_w", w.out)?,
        k_h: u("k_h", h.k)?,
        k_w: u("k_w", w.k)?,
        s_h: u("s_h", h.s)?,
        s_w: u("s_w", w.s)?,
        d_h: u("d_h", h.d)?,
        d_w: u("d_w", w.d)?,
        pad_t: u("pad_t", h.pad)?,
        pad_l: u("pad_l", w.pad)?,
        count_include_pad,
    })
}
