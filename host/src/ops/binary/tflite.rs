//! TFLite builtins of the family → kiln nodes (kernel parameters and layout rule).

use kiln_kernels::f32::*;
use tract_tflite::tflite as fb;

use crate::import::tflite::ops::*;
use crate::import::tflite::{nchw_shape, Front, Layout};
use crate::import::Reason;
use crate::ops::binary::{binary_params, broadcast_shape, broadcast_strides};

pub(crate) fn binary(f: &mut Front, n: &OpCx) -> Result<(), Reason> {
    let (a, b, out) = (n.input(0)?, n.input(1)?, n.out0()?);
    let (op, act) = match n.op_type.as_str() {
        "ADD" => (
            BIN_ADD,
            n.op.builtin_options_as_add_options()
                .map(|o| o.fused_activation_function()),
        ),
        "SUB" => (
            BIN_SUB,
            n.op.builtin_options_as_sub_options()
                .map(|o| o.fused_activation_function()),
        ),
        "MUL" => (
            BIN_MUL,
            n.op.builtin_options_as_mul_options()
                .map(|o| o.fused_activation_function()),
        ),
        _ => (
            BIN_DIV,
            n.op.builtin_options_as_div_options()
                .map(|o| o.fused_activation_function()),
        ),
    };
    let act = fused(act.unwrap_or(fb::ActivationFunctionType::NONE))?;
    let os = f.shape(out)?;
    // NCHW when every activation operand is a permuted 4-D value and the output is 4-D.
    let acts: Vec<usize> = [a, b].into_iter().filter(|&i| !f.is_const(i)).collect();
    let nchw = os.len() == 4
        && acts.iter().any(|&i| f.is_nchw(i))
        && acts.iter().all(|&i| f.shape(i).is_ok_and(|s| s.len() == 4));
    let mut ids = vec![];
    let mut shapes = vec![];
    for i in [a, b] {
        if f.is_const(i) {
            let (id, s) = const_operand(f, i, nchw)?;
            ids.push(id);
            shapes.push(s);
        } else {
            let id = f.input(i, if nchw { Layout::Nchw } else { Layout::Tfl })?;
            shapes.push(f.g.tensors[id].shape.clone());
            ids.push(id);
        }
    }
    let so = broadcast_shape(&shapes[0], &shapes[1]).ok_or_else(|| Reason::InvalidValue {
        input: f.name(b),
        why: format!(
            "shapes {:?} and {:?} do not broadcast",
            shapes[0], shapes[1]
        ),
    })?;
    let want = if nchw { nchw_shape(&os) } else { os.clone() };
    if so != want {
        return Err(Reason::ShapeMismatch {
            value: f.name(out),
            kiln: so,
            tract: want,
        });
    }
    let sa = broadcast_strides(&shapes[0], &so).unwrap_or_default();
    let sb = broadcast_strides(&shapes[1], &so).unwrap_or_default();
    let mut p = binary_params(&f.name(out), op, &so, &sa, &sb)?;
    p.act = act;
    let y = f.output(out, nchw)?;
    push(f, n, KOp::Binary(p).into(), ids, y);
    Ok(())
}
