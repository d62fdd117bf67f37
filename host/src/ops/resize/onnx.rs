//! Resize family: nearest-neighbour Resize with constant scales or sizes, lowered to the
//! `resize` kernel. The source coordinate of every output index is computed here, with the
//! node's `coordinate_transformation_mode` and `nearest_mode`, in f32 exactly as tract does.

use kiln_kernels::f32::*;

use crate::import::onnx::cx::{Cx, NodeCx};
use crate::import::onnx::spec::{In, OpSpec, MAX_OPSET};
use crate::import::shape::{arr_u32, norm_axis};
use crate::import::Reason;

const COMMON_ATTRS: &[&str] = &[
    "mode",
    "coordinate_transformation_mode",
    "nearest_mode",
    "cubic_coeff_a",
    "exclude_outside",
    "extrapolation_value",
];

pub(crate) const SPECS: &[OpSpec] = &[
    OpSpec {
        op_type: "Resize",
        opsets: (10, 10),
        inputs: &[In::f32("X"), In::konst("scales")],
        variadic: false,
        outputs: (1, 1),
        attrs: &["mode"],
        family: "resize",
        lower: lower_resize,
    },
    OpSpec {
        op_type: "Resize",
        opsets: (11, 17),
        inputs: &[
            In::f32("X"),
            In::konst("roi").opt(),
            In::konst("scales").opt(),
            In::int("sizes").opt(),
        ],
        variadic: false,
        outputs: (1, 1),
        attrs: COMMON_ATTRS,
        family: "resize",
        lower: lower_resize,
    },
    OpSpec {
        op_type: "Resize",
        opsets: (18, MAX_OPSET),
        inputs: &[
            In::f32("X"),
            In::konst("roi").opt(),
            In::konst("scales").opt(),
            In::int("sizes").opt(),
        ],
        variadic: false,
        outputs: (1, 1),
        attrs: &[
            "mode",
            "coordinate_transformation_mode",
            "nearest_mode",
            "cubic_coeff_a",
            "exclude_outside",
            "extrapolation_value",
            "antialias",
            "axes",
            "keep_aspect_ratio_policy",
        ],
        family: "resize",
        lower: lower_resize,
    },
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Coord {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfHalfPixelForNn,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Nearest {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

/// The source coordinate of output index `x` (tract's `CoordTransformer::transform`).
fn transform(c: Coord, x: usize, scale: f32, len_in: usize, len_out: usize) -> f32 {
    let xf = x as f32;
    match c {
        Coord::HalfPixel => (xf + 0.5) / scale - 0.5,
        Coord::AlignCorners => {
            let output_width = scale * len_in as f32;
            if output_width == 1.0 {
                0.0
            } else {
                (xf * (len_in as f32 - 1.0)) / (output_width - 1.0)
            }
        }
        Coord::Asymmetric => xf / scale,
        Coord::PytorchHalfPixel => {
            if len_out > 1 {
                (xf + 0.5) / scale - 0.5
            } else {
                -0.5
            }
        }
        Coord::HalfPixelSymmetric => {
            let adjustment = len_out as f32 / (scale * len_in as f32);
            let offset = len_in as f32 / 2.0 * (1.0 - adjustment);
            offset + (xf + 0.5) / scale - 0.5
        }
        Coord::TfHalfPixelForNn => (xf + 0.5) / scale,
    }
}

/// Source indices for one axis.
pub(crate) fn axis_table(
    c: Coord,
    m: Nearest,
    scale: f32,
    len_in: usize,
    len_out: usize,
) -> Vec<u32> {
    (0..len_out)
        .map(|x| {
            let x_in = transform(c, x, scale, len_in, len_out);
            // The two neighbours are `cell` and `cell + 1`, `r` in (0, 1] the distance past `cell`.
            let cell = x_in.ceil() - 1.0;
            let r = x_in - cell;
            let right = r == 1.0
                || match m {
                    Nearest::Floor => false,
                    Nearest::Ceil => true,
                    Nearest::RoundPreferFloor => r > 0.5,
                    Nearest::RoundPreferCeil => r >= 0.5,
                };
            let i = cell as isize + right as isize;
            i.clamp(0, len_in as isize - 1) as u32
        })
        .collect()
}

fn lower_resize(cx: &mut Cx, n: &NodeCx) -> Result<(), Reason> {
    let (x, out) = (n.req(0)?, n.out0()?);
    let mode = n.attr_s("mode", "nearest")?;
    if mode != "nearest" {
        return Err(n.bad_attr("mode", "kiln resizes with nearest only"));
    }
    let coord = if n.opset == 10 {
        Coord::Asymmetric
    } else {
        match n
            .attr_s("coordinate_transformation_mode", "half_pixel")?
            .as_str()
        {
            "half_pixel" => Coord::HalfPixel,
            "half_pixel_symmetric" => Coord::HalfPixelSymmetric,
            "pytorch_half_pixel" => Coord::PytorchHalfPixel,
            "align_corners" => Coord::AlignCorners,
            "asymmetric" => Coord::Asymmetric,
            "tf_half_pixel_for_nn" => Coord::TfHalfPixelForNn,
            _ => {
                return Err(n.bad_attr(
                    "coordinate_transformation_mode",
                    "tf_crop_and_resize and unknown modes are not supported",
                ));
            }
        }
    };
    let nearest = match n.attr_s("nearest_mode", "round_prefer_floor")?.as_str() {
        "round_prefer_floor" => Nearest::RoundPreferFloor,
        "round_prefer_ceil" => Nearest::RoundPreferCeil,
        "floor" => Nearest::Floor,
        "ceil" => Nearest::Ceil,
        _ => return Err(n.bad_attr("nearest_mode", "unknown mode")),
    };
    if n.attr_i("exclude_outside", 0)? != 0 {
        return Err(n.bad_attr("exclude_outside", "not supported"));
    }
    let policy = n.attr_s("keep_aspect_ratio_policy", "stretch")?;
    let si = cx.shape(x)?;
    let so = cx.shape(out)?;
    let rank = si.len();
    if so.len() != rank {
        return Err(Reason::ShapeMismatch {
            value: out.to_string(),
            kiln: si.clone(),
            tract: so,
        });
    }
    if rank > MAX_RANK {
        return Err(Reason::Rank {
            value: out.to_string(),
            rank,
            max: MAX_RANK,
        });
    }
    let axes: Vec<usize> = match n.attr_ints("axes")? {
        None => (0..rank).collect(),
        Some(a) => a
            .into_iter()
            .map(|v| norm_axis(v, rank, x))
            .collect::<Result<_, _>>()?,
    };
    let scales_in = if n.opset == 10 {
        n.input(1)
    } else {
        n.input(2)
    };
    let scales = match scales_in {
        Some(s) => Some(cx.const_f32(s, "scales")?).filter(|v| !v.is_empty()),
        None => None,
    };
    let sizes = match n.input(3) {
        Some(s) if n.opset > 10 => Some(cx.const_i64(s, "sizes")?).filter(|v| !v.is_empty()),
        _ => None,
    };
    // Per-axis scale, as tract resolves it.
    let mut scale = vec![1.0f32; rank];
    if let Some(sc) = &scales {
        if sc.len() != axes.len() {
            return Err(Reason::InvalidValue {
                input: scales_in.unwrap_or_default().to_string(),
                why: format!("{} scales for {} axes", sc.len(), axes.len()),
            });
        }
        for (&a, &s) in axes.iter().zip(sc) {
            if !(s > 0.0 && s.is_finite()) {
                return Err(Reason::InvalidValue {
                    input: scales_in.unwrap_or_default().to_string(),
                    why: format!("scale {s} is not positive"),
                });
            }
            scale[a] = s;
        }
    } else if let Some(sz) = &sizes {
        if sz.len() != axes.len() {
            return Err(Reason::InvalidValue {
                input: n.input(3).unwrap_or_default().to_string(),
                why: format!("{} sizes for {} axes", sz.len(), axes.len()),
            });
        }
        match policy.as_str() {
            "stretch" => {
                for &a in &axes {
                    scale[a] = so[a] as f32 / si[a] as f32;
                }
            }
            "not_larger" | "not_smaller" => {
                let ratios = axes.iter().zip(sz).map(|(&a, &s)| s as f32 / si[a] as f32);
                let s = if policy == "not_larger" {
                    ratios.fold(f32::INFINITY, f32::min)
                } else {
                    ratios.fold(0.0, f32::max)
                };
                for &a in &axes {
                    scale[a] = s;
                }
            }
            _ => return Err(n.bad_attr("keep_aspect_ratio_policy", "unknown policy")),
        }
    } else {
        return Err(Reason::InvalidValue {
            input: x.to_string(),
            why: "Resize has neither scales nor sizes".into(),
        });
    }
    let mut idx = vec![];
    for d in 0..rank {
        idx.extend(axis_table(coord, nearest, scale[d], si[d], so[d]));
    }
    for &d in so.iter().chain(&si) {
        crate::import::shape::fits_u32("dimension", d)?;
    }
    let p = ResizeP {
        rank: rank as u32,
        in_shape: arr_u32(&si),
        out_shape: arr_u32(&so),
    };
    let xt = cx.tensor(x)?;
    let y = cx.output(out)?;
    cx.emit(n, KOp::Resize(p), vec![xt], vec![y], idx);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_tables() {
        // 2x upsampling, asymmetric + floor: 0 0 1 1 2 2.
        assert_eq!(
            axis_table(Coord::Asymmetric, Nearest::Floor, 2.0, 3, 6),
            vec![0, 0, 1, 1, 2, 2]
        );
        // half_pixel + round_prefer_floor, 2x: x_in = x/2 - 0.25 -> 0 0 1 1 2 2.
        assert_eq!(
            axis_table(Coord::HalfPixel, Nearest::RoundPreferFloor, 2.0, 3, 6),
            vec![0, 0, 1, 1, 2, 2]
        );
        // Downsampling 4 -> 2 with half_pixel: x_in = 2x + 0.5 -> round_prefer_floor gives 0, 2.
        assert_eq!(
            axis_table(Coord::HalfPixel, Nearest::RoundPreferFloor, 0.5, 4, 2),
            vec![0, 2]
        );
        assert_eq!(
            axis_table(Coord::HalfPixel, Nearest::RoundPreferCeil, 0.5, 4, 2),
            vec![1, 3]
        );
        // align_corners 2 -> 3: x_in = 0, 0.5, 1.
        assert_eq!(
            axis_table(Coord::AlignCorners, Nearest::RoundPreferCeil, 1.5, 2, 3),
            vec![0, 1, 1]
        );
        // Identity axis.
        assert_eq!(
            axis_table(Coord::HalfPixel, Nearest::RoundPreferFloor, 1.0, 3, 3),
            vec![0, 1, 2]
        );
    }
}
