//! Data movement on quantized tensors, as tf2onnx writes it: `x:int8 → Reshape → y:int8 →
//! DequantizeLinear(s, zp) → z`, also on the int8 model input. The DequantizeLinear moves before
//! the movement (`x → DequantizeLinear(s, zp) → Reshape → z`): the same values, since moving
//! elements commutes with a per-tensor affine map. The import then sees an ordinary QDQ graph,
//! and the int8 lowering runs the movement on int8 values (it keeps their parameters).
//!
//! - Concat: every input gets its own DequantizeLinear with the one `(s, zp)`, which is exact
//!   because the int8 inputs already share the output's parameters.
//! - Pad (opset ≥ 11): the int8 pad value `c` (0 when absent) becomes the float `(c − zp)·s`, so
//!   padding with the zero point pads with 0.0.

use std::collections::HashMap;

use tract_onnx::pb;

/// Ops that only move or copy elements of their first input; the other inputs are indices.
const MOVES: &[&str] = &[
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Flatten",
    "Identity",
    "Slice",
];

/// The initializer `name`, when it holds one element.
fn scalar<'g>(graph: &'g pb::GraphProto, name: &str) -> Option<&'g pb::TensorProto> {
    graph
        .initializer
        .iter()
        .find(|t| t.name == name)
        .filter(|t| t.dims.iter().product::<i64>() == 1)
}

/// The value of a one-element int8 or uint8 initializer.
fn int_value(t: &pb::TensorProto) -> Option<i32> {
    use pb::tensor_proto::DataType;
    let v = match t.raw_data.first() {
        Some(&b) => b,
        None => *t.int32_data.first()? as u8,
    };
    match t.data_type {
        d if d == DataType::Int8 as i32 => Some(v as i8 as i32),
        d if d == DataType::Uint8 as i32 => Some(v as i32),
        _ => None,
    }
}

/// The value of a one-element float initializer.
fn f32_value(t: &pb::TensorProto) -> Option<f32> {
    match t.raw_data.get(..4) {
        Some(b) => Some(f32::from_le_bytes(b.try_into().ok()?)),
        None => t.float_data.first().copied(),
    }
}

/// A movement the rewrite can undo: its node and the DequantizeLinear reading its output.
struct Found {
    mv: usize,
    dq: usize,
}

fn find(g: &pb::GraphProto) -> Option<Found> {
    let outputs: Vec<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for x in n.input.iter().filter(|x| !x.is_empty()) {
            readers.entry(x.as_str()).or_default().push(i);
        }
    }
    g.node.iter().enumerate().find_map(|(m, n)| {
        let op = n.op_type.as_str();
        let movable = (n.domain.is_empty() || n.domain == "ai.onnx")
            && (MOVES.contains(&op) || op == "Concat" || (op == "Pad" && n.input.len() >= 2));
        let y = n.output.first()?;
        if !movable || n.input.is_empty() || outputs.contains(&y.as_str()) {
            return None;
        }
        let [d] = readers.get(y.as_str())?.as_slice() else {
            return None;
        };
        let dq = &g.node[*d];
        let per_tensor = dq.op_type == "DequantizeLinear"
            && dq.input.first() == Some(y)
            && dq.input.get(1).is_some_and(|s| scalar(g, s).is_some())
            && dq
                .input
                .get(2)
                .is_none_or(|z| z.is_empty() || scalar(g, z).is_some());
        // The pad value must be a known int8 constant to move into the float domain.
        let pad_known = op != "Pad"
            || n.input
                .get(2)
                .is_none_or(|c| c.is_empty() || scalar(g, c).and_then(int_value).is_some());
        (per_tensor && pad_known).then_some(Found { mv: m, dq: *d })
    })
}

/// `(c − zp)·s` for Pad's int8 value `c`, as a new float initializer named `name`.
fn pad_value(
    g: &pb::GraphProto,
    mv: &pb::NodeProto,
    dq: &pb::NodeProto,
    name: &str,
) -> pb::TensorProto {
    let int = |n: Option<&String>| {
        n.filter(|n| !n.is_empty())
            .and_then(|n| scalar(g, n))
            .and_then(int_value)
            .unwrap_or(0)
    };
    let (c, zp) = (int(mv.input.get(2)), int(dq.input.get(2)));
    let s = scalar(g, &dq.input[1]).and_then(f32_value).unwrap_or(1.0);
    pb::TensorProto {
        name: name.into(),
        data_type: pb::tensor_proto::DataType::Float as i32,
        float_data: vec![(c - zp) as f32 * s],
        ..Default::default()
    }
}

/// The model with every such pattern rewritten, or `None` when it has none.
pub(crate) fn rewrite(proto: &pb::ModelProto) -> Option<pb::ModelProto> {
    let mut out = proto.clone();
    let mut changed = false;
    // Each pass moves one DequantizeLinear up one op; chains (Transpose → Reshape) take several.
    for _ in 0..proto.graph.as_ref()?.node.len() {
        let g = out.graph.as_mut()?;
        let Some(Found { mv: m, dq: d }) = find(g) else {
            break;
        };
        let dq = g.node[d].clone();
        let mut mv = g.node[m].clone();
        let z = dq.output[0].clone();
        let base = if dq.name.is_empty() { &z } else { &dq.name };
        // Concat moves every input; the others only their data input.
        let data = if mv.op_type == "Concat" {
            mv.input.len()
        } else {
            1
        };
        let mut dqs = vec![];
        for i in 0..data {
            let x_real = format!("{z}:dequantized:{i}");
            let mut di = dq.clone();
            di.input[0] = std::mem::replace(&mut mv.input[i], x_real.clone());
            di.output = vec![x_real];
            di.name = format!("{base}:moved:{i}");
            dqs.push(di);
        }
        if mv.op_type == "Pad" {
            let name = format!("{z}:pad_value");
            let value = pad_value(g, &mv, &dq, &name);
            g.initializer.push(value);
            mv.input.resize(mv.input.len().max(3), String::new());
            mv.input[2] = name;
        }
        mv.output = vec![z];
        g.node.remove(d.max(m));
        g.node.remove(d.min(m));
        let at = m.min(d);
        g.node.insert(at, mv);
        for di in dqs.into_iter().rev() {
            g.node.insert(at, di);
        }
        changed = true;
    }
    changed.then_some(out)
}
