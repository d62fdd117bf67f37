//! Data movement on quantized tensors, as tf2onnx writes it: `x:int8 → Reshape → y:int8 →
//! DequantizeLinear(s, zp) → z`, also on the int8 model input. The DequantizeLinear moves before
//! the movement (`x → DequantizeLinear(s, zp) → Reshape → z`): the same values, since moving
//! elements commutes with a per-tensor affine map. The import then sees an ordinary QDQ graph,
//! and the int8 lowering runs the movement on int8 values (it keeps their parameters).

use std::collections::HashMap;

use tract_onnx::pb;

/// Ops that only move or copy elements of their first input.
const MOVES: &[&str] = &[
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Flatten",
    "Identity",
];

/// Whether initializer `name` holds one element.
fn is_scalar(graph: &pb::GraphProto, name: &str) -> bool {
    graph
        .initializer
        .iter()
        .find(|t| t.name == name)
        .is_some_and(|t| t.dims.iter().product::<i64>() == 1)
}

/// The model with every such pattern rewritten, or `None` when it has none.
pub(crate) fn rewrite(proto: &pb::ModelProto) -> Option<pb::ModelProto> {
    let mut out = proto.clone();
    let mut changed = false;
    // Each pass moves one DequantizeLinear up one op; chains (Transpose → Reshape) take several.
    for _ in 0..proto.graph.as_ref()?.node.len() {
        let g = out.graph.as_mut()?;
        let outputs: Vec<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
        let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in g.node.iter().enumerate() {
            for x in n.input.iter().filter(|x| !x.is_empty()) {
                readers.entry(x.as_str()).or_default().push(i);
            }
        }
        let found = g.node.iter().enumerate().find_map(|(m, n)| {
            let is_move = (n.domain.is_empty() || n.domain == "ai.onnx")
                && MOVES.contains(&n.op_type.as_str());
            let y = n.output.first()?;
            if !is_move || n.input.is_empty() || outputs.contains(&y.as_str()) {
                return None;
            }
            let [d] = readers.get(y.as_str())?.as_slice() else {
                return None;
            };
            let dq = &g.node[*d];
            let per_tensor = dq.op_type == "DequantizeLinear"
                && dq.input.first() == Some(y)
                && dq.input.get(1).is_some_and(|s| is_scalar(g, s))
                && dq
                    .input
                    .get(2)
                    .is_none_or(|z| z.is_empty() || is_scalar(g, z));
            per_tensor.then_some((m, *d))
        });
        let Some((m, d)) = found else {
            break;
        };
        let mut dq = g.node[d].clone();
        let mut mv = g.node[m].clone();
        let z = dq.output[0].clone();
        let x_real = format!("{}:dequantized", mv.input[0]);
        dq.input[0] = mv.input[0].clone();
        dq.output = vec![x_real.clone()];
        dq.name = format!("{}:moved", if dq.name.is_empty() { &z } else { &dq.name });
        mv.input[0] = x_real;
        mv.output = vec![z];
        g.node.remove(d.max(m));
        g.node.remove(d.min(m));
        let at = m.min(d);
        g.node.insert(at, mv);
        g.node.insert(at, dq);
        changed = true;
    }
    changed.then_some(out)
}
