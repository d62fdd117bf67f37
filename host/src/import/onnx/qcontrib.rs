//! onnxruntime's `com.microsoft` QLinear operators (what its quantization tool writes in the
//! QOperator format next to the standard QLinearConv / QLinearMatMul) rewritten into their QDQ
//! definition, as [`super::qlinear`] does for the standard ones: each operand through a
//! `DequantizeLinear` with its scale and zero point, the float op, a `QuantizeLinear` of the
//! result with the output's.
//!
//! - `QLinearAdd` / `QLinearMul (A, A_s, A_zp, B, B_s, B_zp, C_s, C_zp)` → `Add` / `Mul`.
//! - `QLinearGlobalAveragePool`, `QLinearAveragePool`, `QLinearSigmoid`, `QLinearLeakyRelu`
//!   `(X, X_s, X_zp, Y_s, Y_zp)` → `GlobalAveragePool`, `AveragePool`, `Sigmoid`, `LeakyRelu`
//!   (attributes kept; `channels_last = 1` is left for the import to refuse).
//!
//! New value names are the node's name plus `:a`, `:b`, `:y`; outputs keep their names.

use tract_onnx::pb;

/// `(contrib op, float op, number of quantized operands)`.
const OPS: &[(&str, &str, usize)] = &[
    ("QLinearAdd", "Add", 2),
    ("QLinearMul", "Mul", 2),
    ("QLinearGlobalAveragePool", "GlobalAveragePool", 1),
    ("QLinearAveragePool", "AveragePool", 1),
    ("QLinearSigmoid", "Sigmoid", 1),
    ("QLinearLeakyRelu", "LeakyRelu", 1),
];

fn node(op: &str, name: String, input: Vec<String>, output: Vec<String>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name,
        input,
        output,
        ..Default::default()
    }
}

/// The model with every such operator rewritten, or `None` when it has none.
pub(crate) fn rewrite(proto: &pb::ModelProto) -> Option<pb::ModelProto> {
    let graph = proto.graph.as_ref()?;
    let find = |n: &pb::NodeProto| {
        (n.domain == "com.microsoft")
            .then(|| OPS.iter().find(|(op, _, _)| *op == n.op_type))
            .flatten()
    };
    if !graph.node.iter().any(|n| find(n).is_some()) {
        return None;
    }
    let mut out = proto.clone();
    let g = out.graph.as_mut()?;
    let mut nodes = Vec::with_capacity(g.node.len());
    for (index, n) in graph.node.iter().enumerate() {
        let Some(&(_, float_op, operands)) = find(n) else {
            nodes.push(n.clone());
            continue;
        };
        let at = |i: usize| n.input.get(i).cloned().unwrap_or_default();
        let (Some(y), true) = (n.output.first().cloned(), n.input.len() > 3 * operands) else {
            // Malformed: left for the spec check to report.
            nodes.push(n.clone());
            continue;
        };
        let name = super::node_name(n, index);
        let v = |s: &str| format!("{name}:{s}");
        let mut float_inputs = vec![];
        for k in 0..operands {
            let q = v(["a", "b"][k]);
            let mut ins = vec![at(3 * k), at(3 * k + 1)];
            if !at(3 * k + 2).is_empty() {
                ins.push(at(3 * k + 2));
            }
            nodes.push(node(
                "DequantizeLinear",
                v(&format!("dq_{k}")),
                ins,
                vec![q.clone()],
            ));
            float_inputs.push(q);
        }
        let mut core = node(float_op, v("op"), float_inputs, vec![v("y")]);
        core.attribute = n
            .attribute
            .iter()
            .filter(|a| a.name != "channels_last" || a.i != 0)
            .cloned()
            .collect();
        nodes.push(core);
        let mut qin = vec![v("y"), at(3 * operands)];
        if !at(3 * operands + 1).is_empty() {
            qin.push(at(3 * operands + 1));
        }
        nodes.push(node("QuantizeLinear", name, qin, vec![y]));
    }
    g.node = nodes;
    Some(out)
}
