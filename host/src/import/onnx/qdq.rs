//! The quantization structure of a pre-quantized (QDQ) model, read from the ONNX graph itself.
//!
//! tract's analysis folds `DequantizeLinear` of constant weights into plain f32 constants, so the
//! int8 structure is read here, from the nodes and the constant values, before kiln walks the
//! graph:
//! - **Activation pairs**: `QuantizeLinear(x, s, z) → y` whose every reader is a
//!   `DequantizeLinear(y, s', z')` with `s' = s`, `z' = z` (per-tensor, constant). The pair is
//!   absorbed: the `DequantizeLinear` outputs become `x`, and `x` carries `(s, z)` as the
//!   parameters it must have in int8 ([`crate::ir::Tensor::quant`] on an f32 tensor).
//! - **Constant dequantization** (weights, int32 bias): `DequantizeLinear(c, s, z, axis)` with a
//!   constant int8 / uint8 / int32 `c`. tract folds the value; its scales, zero points and axis
//!   are kept for the folded constant's name.
//! - uint8 becomes int8 by shifting zero points by -128 (values shift alike; real values do not
//!   change).
//!
//! Forms kiln cannot run exactly are listed as problems with the reason (blocked quantization,
//! per-axis activation quantization, a `QuantizeLinear` output read by something other than a
//! matching `DequantizeLinear`, quantized graph outputs or inputs).

use std::collections::{HashMap, HashSet};

use tract_onnx::pb;
use tract_onnx::prelude::DatumType;

use super::cx::{tensor_f32, tensor_i64};
use super::{Reason, ValueInfo};
use crate::ir::QParams;

/// What [`analyse`] found.
#[derive(Debug, Default)]
pub(crate) struct Qdq {
    /// Indices of absorbed `QuantizeLinear` nodes → `(x, params)`.
    pub q_nodes: HashMap<usize, (String, QParams)>,
    /// Indices of absorbed `DequantizeLinear` nodes → `x` (their output becomes `x`).
    pub dq_nodes: HashMap<usize, String>,
    /// Folded constant (a `DequantizeLinear` output) → its quantization (int8 domain, `axis`
    /// set for per-axis params).
    pub consts: HashMap<String, QParams>,
    /// `QuantizeLinear`s kept as nodes (their output is a graph output, or is read by other
    /// nodes than matching `DequantizeLinear`s) → `(params, the output is uint8)`.
    pub q_emit: HashMap<usize, (QParams, bool)>,
    /// `DequantizeLinear`s of a runtime int8 / uint8 value (a graph input, or a kept
    /// `QuantizeLinear`) kept as nodes → params.
    pub dq_emit: HashMap<usize, QParams>,
    /// Nodes whose quantization form kiln refuses, with the reason.
    pub problems: Vec<(usize, Reason)>,
}

impl Qdq {
    /// The model carries its own quantization.
    pub fn is_quantized(&self) -> bool {
        !self.q_nodes.is_empty()
            || !self.consts.is_empty()
            || !self.q_emit.is_empty()
            || !self.dq_emit.is_empty()
    }
}

fn attr_i(node: &pb::NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

/// `(scales, zero points in the int8 domain, source dtype)` of a Q / DQ node's inputs 1 and 2.
fn params(
    node: &pb::NodeProto,
    values: &HashMap<String, ValueInfo>,
) -> Result<(Vec<f32>, Vec<i64>, DatumType), Reason> {
    let konst = |i: usize, role: &'static str| {
        let name = node.input.get(i).filter(|n| !n.is_empty())?;
        Some(
            values
                .get(name)
                .and_then(|v| v.value.clone())
                .ok_or_else(|| Reason::NotConstant {
                    input: name.clone(),
                    role,
                }),
        )
    };
    let scale = konst(1, "scale").ok_or_else(|| Reason::Arity {
        what: "inputs",
        expected: "2 or 3".into(),
        actual: node.input.len(),
    })??;
    let scales = tensor_f32(&scale).ok_or_else(|| Reason::InvalidValue {
        input: node.input[1].clone(),
        why: "scale is not a float tensor".into(),
    })?;
    let (zps, dtype) = match konst(2, "zero point").transpose()? {
        Some(z) => {
            let dt = z.datum_type();
            let v = tensor_i64(&z).ok_or_else(|| Reason::InvalidValue {
                input: node.input[2].clone(),
                why: "zero point is not an integer tensor".into(),
            })?;
            (v, dt)
        }
        // ONNX: no zero point means 0 of type uint8 (QuantizeLinear) / the input's type.
        None => (vec![0; scales.len()], DatumType::U8),
    };
    let zps = match dtype {
        DatumType::U8 => zps.iter().map(|z| z - 128).collect(),
        DatumType::I8 | DatumType::I32 => zps,
        other => {
            return Err(Reason::DType {
                value: node.input.get(2).cloned().unwrap_or_default(),
                dtype: super::dtype_name(other),
                expected: "int8, uint8 or int32",
            })
        }
    };
    Ok((scales, zps, dtype))
}

fn qparams(scales: Vec<f32>, zps: &[i64], axis: Option<usize>) -> QParams {
    QParams {
        scale: scales,
        zp: zps.iter().map(|&z| z as i32).collect(),
        axis,
    }
}

/// Reads the QDQ structure of `graph`; `values` is the import's analysis (constants included).
pub(crate) fn analyse(graph: &pb::GraphProto, values: &HashMap<String, ValueInfo>) -> Qdq {
    let mut qdq = Qdq::default();
    let is_const = |n: &str| values.get(n).is_some_and(|v| v.value.is_some());
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for inp in node.input.iter().filter(|n| !n.is_empty()) {
            readers.entry(inp.as_str()).or_default().push(i);
        }
    }
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();

    for (i, node) in graph.node.iter().enumerate() {
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            continue;
        }
        let (Some(x), Some(y)) = (node.input.first(), node.output.first()) else {
            continue;
        };
        match node.op_type.as_str() {
            "DequantizeLinear" if is_const(x) => {
                if attr_i(node, "block_size").unwrap_or(0) != 0 {
                    qdq.problems.push((
                        i,
                        Reason::Limitation {
                            what: "blocked quantization (block_size) has no int8 kernel".into(),
                        },
                    ));
                    continue;
                }
                match params(node, values) {
                    Ok((scales, zps, _)) => {
                        let rank = values
                            .get(x)
                            .and_then(|v| v.shape.as_ref())
                            .map_or(0, |s| s.len()) as i64;
                        let axis = (scales.len() > 1).then(|| {
                            let a = attr_i(node, "axis").unwrap_or(1);
                            (if a < 0 { a + rank } else { a }) as usize
                        });
                        qdq.consts.insert(y.clone(), qparams(scales, &zps, axis));
                    }
                    Err(r) => qdq.problems.push((i, r)),
                }
            }
            "DequantizeLinear" => {
                if attr_i(node, "block_size").unwrap_or(0) != 0 {
                    qdq.problems.push((
                        i,
                        Reason::Limitation {
                            what: "blocked quantization (block_size) has no int8 kernel".into(),
                        },
                    ));
                    continue;
                }
                // Absorbed pairs are decided at their QuantizeLinear (earlier in the graph).
                if qdq.dq_nodes.contains_key(&i) {
                    continue;
                }
                match params(node, values) {
                    Ok((s, z, _)) if s.len() == 1 && z.len() == 1 => {
                        qdq.dq_emit.insert(i, qparams(s, &z, None));
                    }
                    Ok(_) => qdq.problems.push((
                        i,
                        Reason::Limitation {
                            what: format!(
                                "per-axis dequantization of the runtime value `{x}` has no \
                                 int8 kernel"
                            ),
                        },
                    )),
                    Err(r) => qdq.problems.push((i, r)),
                }
            }
            "QuantizeLinear" if !is_const(x) => {
                let (scales, zps, dtype) = match params(node, values) {
                    Ok(p) => p,
                    Err(r) => {
                        qdq.problems.push((i, r));
                        continue;
                    }
                };
                if scales.len() != 1 || zps.len() != 1 {
                    qdq.problems.push((
                        i,
                        Reason::Limitation {
                            what: "per-axis quantization of an activation has no int8 kernel"
                                .into(),
                        },
                    ));
                    continue;
                }
                let rs = readers.get(y.as_str()).cloned().unwrap_or_default();
                let matching = |&r: &usize| {
                    let d = &graph.node[r];
                    d.op_type == "DequantizeLinear"
                        && d.input.first() == Some(y)
                        && params(d, values).is_ok_and(|(s, z, _)| s == scales && z == zps)
                };
                if outputs.contains(y.as_str()) || rs.is_empty() || !rs.iter().all(matching) {
                    // Kept: a real int8 value (graph output, or read by a QLinear-style node).
                    let unsigned = dtype == DatumType::U8;
                    qdq.q_emit
                        .insert(i, (qparams(scales, &zps, None), unsigned));
                    continue;
                }
                for r in rs {
                    qdq.dq_nodes.insert(r, x.clone());
                }
                qdq.q_nodes
                    .insert(i, (x.clone(), qparams(scales, &zps, None)));
            }
            _ => {}
        }
    }
    qdq
}
