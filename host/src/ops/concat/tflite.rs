//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;

use crate::import::shape::fits_u32;
use crate::import::tflite::ops::*;
use crate::import::tflite::{limitation, nchw_shape, Front, Layout, NHWC_TO_NCHW};
use crate::import::Reason;

pub(crate) fn concatenation(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let out = n.out0()?;
    let o =
        n.op.builtin_options_as_concatenation_options()
            .ok_or_else(|| options_missing("Concatenation"))?;
    if fused(o.fused_activation_function())?.kind != ACT_NONE {
        return Err(limitation("a fused activation on CONCATENATION"));
    }
    let os = f.shape(out)?;
    let axis = norm_axis(o.axis() as i64, os.len())?;
    let ins: Vec<usize> = (0..n.ins.len())
        .map(|k| n.input(k))
        .collect::<Result<_, _>>()?;
    if ins.len() > MAX_CONCAT {
        return Err(Reason::Limitation {
            what: format!(
                "{} inputs; kiln concatenates at most {MAX_CONCAT}",
                ins.len()
            ),
        });
    }
    let nchw = os.len() == 4
        && ins.iter().all(|&i| f.is_nchw(i) || f.is_const(i))
        && ins.iter().any(|&i| f.is_nchw(i));
    let (axis, oshape) = if nchw {
        (NHWC_TO_NCHW[axis], nchw_shape(&os))
    } else {
        (axis, os.clone())
    };
    let mut ids = vec![];
    let mut parts = [0u32; MAX_CONCAT];
    let inner: usize = oshape[axis + 1..].iter().product();
    let outer: usize = oshape[..axis].iter().product();
    for (k, &i) in ins.iter().enumerate() {
        let (id, s) = if f.is_const(i) {
            const_operand(f, i, nchw)?
        } else {
            let id = f.input(i, if nchw { Layout::Nchw } else { Layout::Tfl })?;
            (id, f.g.tensors[id].shape.clone())
        };
        if s.len() != oshape.len() {
            return Err(Reason::InvalidValue {
                input: f.name(i),
                why: format!("rank {} concatenated into rank {}", s.len(), oshape.len()),
            });
        }
        parts[k] = fits_u32("part", s[axis] * inner)?;
        ids.push(id);
    }
    let y = f.output(out, nchw)?;
    let p = ConcatP {
        outer: fits_u32("outer", outer)?,
        count: ids.len() as u32,
        parts,
    };
    push(f, n, KOp::Concat(p).into(), ids, y);
    Ok(())
}
