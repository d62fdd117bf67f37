//! Integer-operator models rewritten into the QDQ form before anything else reads them.
//!
//! `QLinearConv`, `QLinearMatMul`, `ConvInteger` and `MatMulInteger` are, by their ONNX
//! definitions, a float `Conv` / `MatMul` between `DequantizeLinear`s of the operands and (for
//! the QLinear ops) a `QuantizeLinear` of the result. kiln rewrites each into exactly that
//! subgraph, so one path ([`super::qdq`]) reads the quantization of every model, tract computes
//! the float reference of the rewritten (equivalent) graph, and the int8 lowering sees the
//! model's own scales and zero points:
//!
//! - `QLinearConv(x, xs, xz, w, ws, wz, ys, yz[, B])` → `DQ(x, xs, xz)`, `DQ(w, ws, wz, axis 0)`,
//!   `DQ(B, xs·ws)` (int32 bias, its scale a `Mul` of the two scales that import folds),
//!   `Conv` (same attributes), `Q(·, ys, yz)`.
//! - `QLinearMatMul(a, as, az, b, bs, bz, ys, yz)` → `DQ(a)`, `DQ(b, axis = last)`, `MatMul`,
//!   `Q`.
//! - `ConvInteger(x, w[, xz, wz])`, `MatMulInteger(a, b[, az, bz])` → the same with scale 1, and a
//!   `Cast` to int32 of the (exactly integral) float result.
//!
//! New value names are the node's name plus a suffix (`:x`, `:w`, `:b`, `:b_scale`, `:one`,
//! `:y`, `:f`); outputs keep their names.

use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;

fn node(op: &str, name: String, inputs: Vec<String>, outputs: Vec<String>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name,
        input: inputs,
        output: outputs,
        ..Default::default()
    }
}

fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn input(n: &pb::NodeProto, i: usize) -> Option<String> {
    n.input.get(i).filter(|s| !s.is_empty()).cloned()
}

/// The rank of `value` if it is an initializer or a declared input.
fn rank_of(graph: &pb::GraphProto, value: &str) -> Option<usize> {
    if let Some(t) = graph.initializer.iter().find(|t| t.name == value) {
        return Some(t.dims.len());
    }
    graph
        .input
        .iter()
        .chain(&graph.value_info)
        .find(|v| v.name == value)
        .and_then(|v| match &v.r#type.as_ref()?.value {
            Some(pb::type_proto::Value::TensorType(t)) => Some(t.shape.as_ref()?.dim.len()),
            _ => None,
        })
}

/// Number of elements of initializer `value` (1 for a scalar), if it is one.
fn len_of(graph: &pb::GraphProto, value: &str) -> Option<usize> {
    graph
        .initializer
        .iter()
        .find(|t| t.name == value)
        .map(|t| t.dims.iter().product::<i64>().max(1) as usize)
}

/// Returns the model with every integer operator rewritten (see the module docs) and the names
/// of the int32 `Cast`s it wrote, or `None` when it has no integer operator.
/// The standard-domain integer ops this module rewrites into QDQ form.
pub(crate) const OPS: &[&str] = &[
    "QLinearConv",
    "QLinearMatMul",
    "ConvInteger",
    "MatMulInteger",
];

pub(crate) fn rewrite(
    proto: &pb::ModelProto,
) -> Option<(pb::ModelProto, std::collections::HashSet<String>)> {
    let graph = proto.graph.as_ref()?;
    let integer = |n: &pb::NodeProto| {
        (n.domain.is_empty() || n.domain == "ai.onnx") && OPS.contains(&n.op_type.as_str())
    };
    if !graph.node.iter().any(integer) {
        return None;
    }
    let mut out = proto.clone();
    let g = out.graph.as_mut()?;
    let mut nodes = Vec::with_capacity(g.node.len());
    let mut inits = Vec::new();
    let mut casts = std::collections::HashSet::new();
    for (index, n) in graph.node.iter().enumerate() {
        if !integer(n) {
            nodes.push(n.clone());
            continue;
        }
        let name = super::node_name(n, index);
        let v = |suffix: &str| format!("{name}:{suffix}");
        let y = n.output.first().cloned().unwrap_or_else(|| v("out"));
        let conv = n.op_type.ends_with("Conv") || n.op_type == "ConvInteger";
        let qlinear = n.op_type.starts_with("QLinear");
        // (x, x scale, x zp, w, w scale, w zp) as ONNX value names.
        let (x, xs, xz, w, ws, wz) = if qlinear {
            (
                input(n, 0),
                input(n, 1),
                input(n, 2),
                input(n, 3),
                input(n, 4),
                input(n, 5),
            )
        } else {
            let one = v("one");
            inits.push(pb::TensorProto {
                name: one.clone(),
                data_type: DataType::Float as i32,
                float_data: vec![1.0],
                ..Default::default()
            });
            (
                input(n, 0),
                Some(one.clone()),
                input(n, 2),
                input(n, 1),
                Some(one),
                input(n, 3),
            )
        };
        let (Some(x), Some(xs), Some(w), Some(ws)) = (x, xs, w, ws) else {
            // Malformed: leave it for the spec check to report.
            nodes.push(n.clone());
            continue;
        };
        let dq = |what: &str, q: &str, s: &str, z: &Option<String>, axis: Option<i64>| {
            let mut inputs = vec![q.to_string(), s.to_string()];
            if let Some(z) = z {
                inputs.push(z.clone());
            }
            let mut d = node(
                "DequantizeLinear",
                v(&format!("dq_{what}")),
                inputs,
                vec![v(what)],
            );
            if let Some(a) = axis {
                d.attribute.push(int_attr("axis", a));
            }
            d
        };
        nodes.push(dq("x", &x, &xs, &xz, None));
        // Per-channel weight params run along the output channel: axis 0 of conv weights, the
        // last axis of a MatMul's B.
        let per_channel = |s: &Option<String>| {
            s.as_deref()
                .and_then(|s| len_of(graph, s))
                .is_some_and(|n| n > 1)
        };
        let w_axis = if per_channel(&Some(ws.clone())) || per_channel(&wz) {
            Some(if conv {
                0
            } else {
                rank_of(graph, &w).map_or(1, |r| r as i64 - 1)
            })
        } else {
            None
        };
        nodes.push(dq("w", &w, &ws, &wz, w_axis));
        let mut op_inputs = vec![v("x"), v("w")];
        if conv && qlinear {
            if let Some(b) = input(n, 8) {
                nodes.push(node(
                    "Mul",
                    v("b_scale_mul"),
                    vec![xs.clone(), ws.clone()],
                    vec![v("b_scale")],
                ));
                let mut d = node(
                    "DequantizeLinear",
                    v("dq_b"),
                    vec![b, v("b_scale")],
                    vec![v("b")],
                );
                if w_axis.is_some() {
                    d.attribute.push(int_attr("axis", 0));
                }
                nodes.push(d);
                op_inputs.push(v("b"));
            }
        }
        let mut core = node(
            if conv { "Conv" } else { "MatMul" },
            v("op"),
            op_inputs,
            vec![if qlinear { v("y") } else { v("f") }],
        );
        if conv {
            core.attribute = n.attribute.clone();
        }
        nodes.push(core);
        if qlinear {
            let mut inputs = vec![v("y")];
            inputs.extend(input(n, 6));
            inputs.extend(input(n, 7));
            nodes.push(node("QuantizeLinear", name.clone(), inputs, vec![y]));
        } else {
            let mut cast = node("Cast", name.clone(), vec![v("f")], vec![y]);
            cast.attribute.push(int_attr("to", DataType::Int32 as i64));
            nodes.push(cast);
            casts.insert(name);
        }
    }
    g.node = nodes;
    g.initializer.extend(inits);
    Some((out, casts))
}
