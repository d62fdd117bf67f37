//! The ONNX front end: an ONNX `ModelProto` → kiln IR ([`crate::ir::Graph`]).
//!
//! How it works:
//! 1. The file is decoded as an ONNX `ModelProto` (prost types from `tract_onnx::pb`).
//! 2. tract-onnx parses it into an `InferenceModel`; kiln fixes every input shape (a symbolic
//!    leading batch dimension becomes 1, other symbolic dimensions come from
//!    [`ImportOptions::input_shapes`]) and runs tract's analysis. That gives, for every ONNX value
//!    name, its concrete shape and dtype and, where it is constant (initializers, `Constant` nodes,
//!    shape-computing subgraphs such as `Shape → Gather → Unsqueeze → Concat → Reshape`,
//!    `DequantizeLinear` of constant weights), its value.
//! 3. kiln walks the ONNX nodes itself. A node whose outputs are all constant is folded (not
//!    emitted). Every other node is checked against a declarative spec ([`spec`]: opset range,
//!    arity, attributes, which inputs must be constant, dtypes) and lowered by its op family's
//!    module to one or more [`ir::Node`]s whose kernel parameters are all computed here.
//! 4. Every problem found on the way is collected; the import fails once, at the end, with
//!    [`ImportError::Unsupported`] listing them all. Nothing here panics on user input.

pub(crate) mod cx;
mod order;
mod qcontrib;
mod qdq;
mod qlinear;
mod qmove;
pub mod spec;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use prost::Message;
use tract_onnx::pb;
use tract_onnx::prelude::{
    DatumType, InferenceFact, InferenceModel, InferenceModelExt, IntoArcTensor, OutletId, TValue,
    TVec, Tensor, TractError,
};
use tract_onnx::tract_hir::infer::Factoid;

use super::{
    ImportError, ImportOptions, Imported, Problem, Reason, ReferenceSource, TractModel,
    UnresolvedDim,
};
use crate::ir;
use cx::{Cx, NodeCx};

/// What kiln knows about one ONNX value after tract's analysis (and kiln's own folding).
#[derive(Clone, Debug, Default)]
pub(crate) struct ValueInfo {
    pub shape: Option<Vec<usize>>,
    pub dtype: Option<DatumType>,
    pub value: Option<Arc<Tensor>>,
}

/// Default-domain opset declared by the model.
fn default_opset(proto: &pb::ModelProto) -> Option<i64> {
    proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
}

pub(crate) fn domain_opset(proto: &pb::ModelProto, domain: &str) -> i64 {
    if domain.is_empty() || domain == "ai.onnx" {
        return default_opset(proto).unwrap_or(0);
    }
    proto
        .opset_import
        .iter()
        .find(|o| o.domain == domain)
        .map(|o| o.version)
        .unwrap_or(0)
}

/// The name tract gives a node (and kiln reports): its ONNX name, else its first output.
pub(crate) fn node_name(node: &pb::NodeProto, index: usize) -> String {
    if !node.name.is_empty() {
        node.name.clone()
    } else if let Some(o) = node.output.first().filter(|o| !o.is_empty()) {
        o.clone()
    } else {
        format!("{index}-{}", node.op_type)
    }
}

/// Decodes an ONNX file without interpreting it.
pub fn load_proto(path: &Path) -> Result<pb::ModelProto, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.into(),
        source,
    })?;
    decode_proto(path, &bytes)
}

pub(super) fn decode_proto(path: &Path, bytes: &[u8]) -> Result<pb::ModelProto, ImportError> {
    let proto = pb::ModelProto::decode(bytes).map_err(|source| ImportError::Decode {
        path: path.into(),
        source,
    })?;
    // Protobuf skips unknown fields, so some non-ONNX bytes decode "successfully": require the
    // parts every ONNX model has.
    let not_onnx = |why| {
        Err(ImportError::NotOnnx {
            path: path.into(),
            why,
        })
    };
    if proto.ir_version <= 0 {
        return not_onnx("no ir_version");
    }
    let Some(graph) = &proto.graph else {
        return not_onnx("no graph");
    };
    if default_opset(&proto).is_none() {
        return not_onnx("no opset_import for the default ONNX domain");
    }
    if graph.output.is_empty() {
        return not_onnx("the graph has no outputs");
    }
    Ok(proto)
}

/// A graph input (not an initializer) and the shape kiln fixes for it.
struct GraphInput {
    name: String,
    elem_type: i32,
    shape: Vec<usize>,
}

fn resolve_input_shapes(
    path: &Path,
    graph: &pb::GraphProto,
    opts: &ImportOptions,
    notices: &mut Vec<String>,
) -> Result<Vec<GraphInput>, ImportError> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_str()))
        .collect();
    for name in opts.input_shapes.keys() {
        if !inputs.iter().any(|i| &i.name == name) {
            return Err(ImportError::UnknownInput {
                path: path.into(),
                name: name.clone(),
                inputs: inputs.iter().map(|i| i.name.clone()).collect(),
            });
        }
    }
    let mut unresolved = vec![];
    let mut out = vec![];
    for input in inputs {
        let tensor_type = input
            .r#type
            .as_ref()
            .and_then(|t| t.value.as_ref())
            .map(|v| {
                let pb::type_proto::Value::TensorType(t) = v;
                t
            });
        let elem_type = tensor_type.map(|t| t.elem_type).unwrap_or(0);
        // Declared dims: Some(n) when fixed, None when symbolic / unknown (with the param name).
        let declared: Option<Vec<(Option<usize>, String)>> =
            tensor_type.and_then(|t| t.shape.as_ref()).map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(Dim::DimValue(v)) if *v > 0 => (Some(*v as usize), String::new()),
                        Some(Dim::DimParam(p)) => (None, p.clone()),
                        _ => (None, String::new()),
                    })
                    .collect()
            });
        let declared_text = match &declared {
            None => "(no shape)".to_string(),
            Some(d) => format!(
                "[{}]",
                d.iter()
                    .map(|(v, p)| match v {
                        Some(v) => v.to_string(),
                        None if p.is_empty() => "?".into(),
                        None => p.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        if let Some(given) = opts.input_shapes.get(&input.name) {
            if let Some(d) = &declared {
                let fits = d.len() == given.len()
                    && d.iter()
                        .zip(given)
                        .all(|((v, _), g)| v.is_none() || *v == Some(*g));
                if !fits {
                    return Err(ImportError::InputShapeMismatch {
                        input: input.name.clone(),
                        given: given.clone(),
                        declared: declared_text,
                    });
                }
            }
            if given.contains(&0) {
                return Err(ImportError::InputShapeMismatch {
                    input: input.name.clone(),
                    given: given.clone(),
                    declared: declared_text,
                });
            }
            out.push(GraphInput {
                name: input.name.clone(),
                elem_type,
                shape: given.clone(),
            });
            continue;
        }
        let Some(d) = declared else {
            unresolved.push(UnresolvedDim {
                input: input.name.clone(),
                dim: 0,
                param: "(no shape declared)".into(),
            });
            continue;
        };
        let mut shape = vec![];
        for (i, (v, p)) in d.iter().enumerate() {
            match v {
                Some(v) => shape.push(*v),
                None if i == 0 && d.len() > 1 => {
                    let what = if p.is_empty() {
                        "unknown".to_string()
                    } else {
                        format!("`{p}`")
                    };
                    notices.push(format!(
                        "input `{}`: symbolic batch dimension {what} fixed to 1 (use --input-shape to choose another)",
                        input.name
                    ));
                    shape.push(1);
                }
                None => {
                    unresolved.push(UnresolvedDim {
                        input: input.name.clone(),
                        dim: i,
                        param: p.clone(),
                    });
                    shape.push(1);
                }
            }
        }
        out.push(GraphInput {
            name: input.name.clone(),
            elem_type,
            shape,
        });
    }
    if !unresolved.is_empty() {
        return Err(ImportError::UnresolvedInputDims {
            path: path.into(),
            dims: unresolved,
        });
    }
    Ok(out)
}

/// Imports an already-decoded model. `model_dir` is where external tensor data is looked up.
pub fn import_proto(
    path: &Path,
    model_dir: Option<&str>,
    proto: &pb::ModelProto,
    opts: &ImportOptions,
) -> Result<Imported, ImportError> {
    // Nodes in topological order (some exporters write them otherwise).
    let reordered = match proto.graph.as_ref().map(order::sorted_nodes) {
        Some(Ok(Some(nodes))) => {
            let mut p = proto.clone();
            if let Some(g) = p.graph.as_mut() {
                g.node = nodes;
            }
            Some(p)
        }
        Some(Err(i)) => {
            let g = proto.graph.as_ref().expect("checked");
            let node = &g.node[i];
            return Err(ImportError::Unsupported {
                path: path.into(),
                problems: vec![Problem {
                    node: node_name(node, i),
                    op_type: node.op_type.clone(),
                    opset: domain_opset(proto, &node.domain),
                    reason: Reason::InvalidValue {
                        input: node.input.first().cloned().unwrap_or_default(),
                        why: "the node is on a cycle of the graph (it depends on its own output)"
                            .into(),
                    },
                }],
            });
        }
        _ => None,
    };
    let proto = reordered.as_ref().unwrap_or(proto);
    // Data movement on int8 tensors (tf2onnx) reads dequantized values instead.
    let moved = qmove::rewrite(proto);
    let proto = moved.as_ref().unwrap_or(proto);
    // onnxruntime's com.microsoft QLinear operators become their QDQ form.
    let contrib = qcontrib::rewrite(proto);
    let proto = contrib.as_ref().unwrap_or(proto);
    // Integer operators (QLinearConv, ConvInteger, ...) become their QDQ form first.
    let rewritten = qlinear::rewrite(proto);
    let (proto, integral_casts) = match &rewritten {
        Some((p, casts)) => (p, casts.clone()),
        None => (proto, HashSet::new()),
    };
    let Some(graph) = &proto.graph else {
        return Err(ImportError::NotOnnx {
            path: path.into(),
            why: "no graph",
        });
    };
    let opset = default_opset(proto).unwrap_or(0);
    let mut notices = vec![];
    let inputs = resolve_input_shapes(path, graph, opts, &mut notices)?;
    let mut problems = vec![];
    for i in &inputs {
        if !is_io_elem(i.elem_type) {
            problems.push(Problem {
                node: i.name.clone(),
                op_type: "input".into(),
                opset,
                reason: Reason::DType {
                    value: i.name.clone(),
                    dtype: onnx_dtype_name(i.elem_type),
                    expected: "float32",
                },
            });
        }
    }

    let parsed = match tract_onnx::onnx().parse(proto, model_dir) {
        Ok(p) => p,
        Err(e) => {
            // tract stops at the first node it cannot build; kiln's own checks still list
            // everything else that is wrong.
            let mut problems = problems;
            problems.extend(spec::check_without_shapes(proto));
            if problems.is_empty() {
                return Err(tract_error(path, e));
            }
            problems.push(Problem {
                node: path.display().to_string(),
                op_type: "model".into(),
                opset,
                reason: Reason::Tract {
                    message: format!("{e:#}"),
                },
            });
            return Err(ImportError::Unsupported {
                path: path.into(),
                problems,
            });
        }
    };
    let mut model = parsed.model;
    let outlets = parsed.outlets_by_name;
    for name in &parsed.unresolved_inputs {
        problems.push(Problem {
            node: name.clone(),
            op_type: "input".into(),
            opset,
            reason: Reason::InvalidValue {
                input: name.clone(),
                why: "no node, initializer or graph input produces it".into(),
            },
        });
    }
    let input_outlets = model
        .input_outlets()
        .map(|o| o.to_vec())
        .unwrap_or_default();
    for i in &inputs {
        let dt = onnx_datum_type(i.elem_type).unwrap_or(DatumType::F32);
        let Some(outlet) = outlets.get(&i.name) else {
            continue;
        };
        if let Some(ix) = input_outlets.iter().position(|o| o == outlet) {
            let fact = InferenceFact::dt_shape(dt, i.shape.clone());
            if let Err(e) = model.set_input_fact(ix, fact) {
                return Err(tract_error(path, e));
            }
        }
    }
    // Obstinate: keep going past nodes tract cannot analyse (typically ops it does not know),
    // so every other value still gets its facts.
    let analysis_error = model.analyse(true).err().map(|e| format!("{e:#}"));

    let mut values: HashMap<String, ValueInfo> = HashMap::new();
    for (name, outlet) in &outlets {
        let Ok(fact) = model.outlet_fact(*outlet) else {
            continue;
        };
        let shape = fact
            .shape
            .as_concrete_finite()
            .ok()
            .flatten()
            .map(|s| s.to_vec());
        let value = fact.value.concretize();
        values.insert(
            name.clone(),
            ValueInfo {
                shape: value.as_ref().map(|v| v.shape().to_vec()).or(shape),
                dtype: value
                    .as_ref()
                    .map(|v| v.datum_type())
                    .or(fact.datum_type.concretize()),
                value,
            },
        );
    }
    fold_beyond_budget(&model, graph, &outlets, &mut values);

    let graph_outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let mut used: HashSet<&str> = graph_outputs.clone();
    for node in &graph.node {
        used.extend(
            node.input
                .iter()
                .filter(|i| !i.is_empty())
                .map(|i| i.as_str()),
        );
    }
    let qdq = qdq::analyse(graph, &values);
    let mut cx = Cx::new(&values, graph_outputs, used);
    cx.qconsts = qdq.consts.clone();
    cx.integral_casts = integral_casts;
    cx.g.meta = ir::ModelMeta {
        quantized: qdq.is_quantized(),
        producer: if proto.producer_version.is_empty() {
            proto.producer_name.clone()
        } else {
            format!("{} {}", proto.producer_name, proto.producer_version)
        },
        opset,
        notices,
    };
    for i in &inputs {
        let int8 = i.elem_type == pb::tensor_proto::DataType::Int8 as i32;
        let uint8 = i.elem_type == pb::tensor_proto::DataType::Uint8 as i32;
        let mut t = ir::Tensor::act(i.name.clone(), i.shape.clone());
        if int8 || uint8 {
            t.dtype = ir::DType::I8;
        }
        if uint8 {
            t.io = Some(ir::IoType::Uint8);
        }
        let id = cx.g.add_tensor(t);
        cx.g.inputs.push(id);
        // A uint8 input is flipped to int8 (`u - 128`) right away.
        let id = if uint8 {
            flip_uint8(
                &mut cx,
                id,
                format!("{}:int8", i.name),
                format!("{}:to_int8", i.name),
            )
        } else {
            id
        };
        cx.ids.insert(i.name.clone(), id);
    }
    // Values that are unavailable because an earlier node failed: nodes reading them are only
    // checked against their spec, so the report names root causes instead of cascades.
    let mut poisoned: HashSet<String> = HashSet::new();
    for i in &inputs {
        if !is_io_elem(i.elem_type) {
            poisoned.insert(i.name.clone());
        }
    }

    for (index, node) in graph.node.iter().enumerate() {
        let name = node_name(node, index);
        let node_opset = domain_opset(proto, &node.domain);
        let outs: Vec<&str> = node
            .output
            .iter()
            .filter(|o| !o.is_empty())
            .map(|o| o.as_str())
            .collect();
        let problem = |reason| Problem {
            node: name.clone(),
            op_type: node.op_type.clone(),
            opset: node_opset,
            reason,
        };
        let qdq_problems: Vec<Reason> = qdq
            .problems
            .iter()
            .filter(|(i, _)| *i == index)
            .map(|(_, r)| r.clone())
            .collect();
        if !qdq_problems.is_empty() {
            problems.extend(qdq_problems.into_iter().map(problem));
            poisoned.extend(outs.iter().map(|o| o.to_string()));
            continue;
        }
        // An absorbed QDQ pair: the QuantizeLinear annotates `x`, the DequantizeLinear outputs
        // become `x`.
        if let Some((x, qp)) = qdq.q_nodes.get(&index) {
            if let Some(&id) = cx.ids.get(x) {
                let t = &mut cx.g.tensors[id];
                if t.quant.is_none() {
                    t.quant = Some(qp.clone());
                } else if t.quant.as_ref() != Some(qp) {
                    cx.g.meta.notices.push(format!(
                        "`{x}` is quantized by more than one QuantizeLinear with different \
                         parameters; kiln uses the first"
                    ));
                }
            }
            continue;
        }
        if let Some((qp, unsigned)) = qdq.q_emit.get(&index) {
            if let Err(reason) = emit_quantize(&mut cx, node, &name, qp, *unsigned) {
                problems.push(problem(reason));
                poisoned.extend(outs.iter().map(|o| o.to_string()));
            }
            continue;
        }
        if let Some(qp) = qdq.dq_emit.get(&index) {
            if node.input.first().is_some_and(|x| poisoned.contains(x)) {
                poisoned.extend(outs.iter().map(|o| o.to_string()));
            } else if let Err(reason) = emit_dequantize(&mut cx, node, &name, qp) {
                problems.push(problem(reason));
                poisoned.extend(outs.iter().map(|o| o.to_string()));
            }
            continue;
        }
        if let Some(x) = qdq.dq_nodes.get(&index) {
            match cx.ids.get(x) {
                Some(&id) if !poisoned.contains(x) => {
                    for o in &outs {
                        cx.alias(o, id);
                    }
                }
                _ => poisoned.extend(outs.iter().map(|o| o.to_string())),
            }
            continue;
        }
        let folded = !outs.is_empty()
            && outs
                .iter()
                .all(|o| values.get(*o).is_some_and(|v| v.value.is_some()));
        if folded {
            continue;
        }
        let upstream_failed = node
            .input
            .iter()
            .any(|i| !i.is_empty() && poisoned.contains(i.as_str()));
        let spec = match spec::lookup(&node.domain, &node.op_type, node_opset) {
            Ok(spec) => spec,
            Err(reason) => {
                // An op tract does not know either leaves its outputs without facts; its own
                // problem is the one to report, not the cascade.
                problems.push(problem(reason));
                poisoned.extend(outs.iter().map(|o| o.to_string()));
                continue;
            }
        };
        let ncx = NodeCx::new(node, name.clone(), node_opset, spec);
        let mut reasons = spec::check_static(spec, &ncx);
        if reasons.is_empty() && !upstream_failed {
            reasons = spec::check_values(spec, &ncx, &cx, analysis_error.as_deref());
        }
        if reasons.is_empty() && !upstream_failed {
            let before = (cx.g.tensors.len(), cx.g.nodes.len());
            if let Err(reason) = (spec.lower)(&mut cx, &ncx) {
                cx.rollback(before, &outs);
                reasons.push(reason);
            }
        }
        if upstream_failed || !reasons.is_empty() {
            poisoned.extend(outs.iter().map(|o| o.to_string()));
        }
        problems.extend(reasons.into_iter().map(problem));
    }

    for out in &graph.output {
        let problem = |reason| Problem {
            node: out.name.clone(),
            op_type: "output".into(),
            opset,
            reason,
        };
        if poisoned.contains(&out.name) {
            continue;
        }
        if values.get(&out.name).is_some_and(|v| v.value.is_some()) {
            problems.push(problem(Reason::OutputIsConstant {
                output: out.name.clone(),
            }));
            continue;
        }
        match cx.ids.get(&out.name) {
            Some(&id) if cx.g.inputs.contains(&id) => {
                problems.push(problem(Reason::OutputIsInput {
                    output: out.name.clone(),
                }))
            }
            Some(&id) => {
                // An output that is an absorbed DequantizeLinear keeps its ONNX name.
                if qdq.dq_nodes.values().any(|x| cx.ids.get(x) == Some(&id)) {
                    cx.g.tensors[id].name = out.name.clone();
                }
                cx.g.outputs.push(id)
            }
            None => problems.push(problem(Reason::UnknownShape {
                value: out.name.clone(),
                cause: "no node computes it".into(),
            })),
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Unsupported {
            path: path.into(),
            problems,
        });
    }
    let graph_ir = cx.finish();
    Ok(Imported {
        graph: graph_ir,
        model: TractModel {
            source: ReferenceSource::Onnx(model),
            input_names: inputs.iter().map(|i| i.name.clone()).collect(),
            output_names: graph.output.iter().map(|o| o.name.clone()).collect(),
        },
    })
}

fn tract_error(path: &Path, e: TractError) -> ImportError {
    ImportError::Tract {
        path: path.into(),
        message: format!("{e:#}"),
        source: e.into(),
    }
}

/// Element types a graph input may have: float32, or int8 / uint8 read by a `DequantizeLinear`.
fn is_io_elem(elem: i32) -> bool {
    use pb::tensor_proto::DataType;
    elem == DataType::Float as i32
        || elem == DataType::Int8 as i32
        || elem == DataType::Uint8 as i32
}

/// [`flip_uint8_in`] on the import's graph.
fn flip_uint8(cx: &mut Cx, x: ir::TensorId, out_name: String, node_name: String) -> ir::TensorId {
    super::flip_uint8_in(&mut cx.g, x, out_name, node_name)
}

/// A kept `QuantizeLinear` (f32 → int8; a uint8 output through a bit flip).
fn emit_quantize(
    cx: &mut Cx,
    node: &pb::NodeProto,
    name: &str,
    qp: &ir::QParams,
    unsigned: bool,
) -> Result<(), Reason> {
    let x = cx.tensor(node.input.first().map_or("", |s| s.as_str()))?;
    if cx.g.tensors[x].dtype != ir::DType::F32 {
        return Err(Reason::Limitation {
            what: "QuantizeLinear of a value that is already int8".into(),
        });
    }
    // The value quantized here gets these params as its int8 ones (its producer can compute
    // them directly).
    if cx.g.tensors[x].quant.is_none() && !cx.g.inputs.contains(&x) {
        cx.g.tensors[x].quant = Some(qp.clone());
    }
    let out = node.output.first().cloned().unwrap_or_default();
    let mut t = ir::Tensor::act(
        if unsigned {
            format!("{out}:int8")
        } else {
            out.clone()
        },
        cx.g.tensors[x].shape.clone(),
    );
    t.dtype = ir::DType::I8;
    t.quant = Some(qp.clone());
    let y = cx.g.push_boundary(name, "QuantizeLinear", x, t);
    let y = if unsigned {
        let u = flip_uint8(cx, y, out.clone(), format!("{name}:to_uint8"));
        cx.g.tensors[u].io = Some(ir::IoType::Uint8);
        u
    } else {
        y
    };
    cx.ids.insert(out, y);
    Ok(())
}

/// A kept `DequantizeLinear` of a runtime int8 value (int8 → f32); the value takes the params
/// when it has none yet (a graph input).
fn emit_dequantize(
    cx: &mut Cx,
    node: &pb::NodeProto,
    name: &str,
    qp: &ir::QParams,
) -> Result<(), Reason> {
    let xname = node.input.first().map_or("", |s| s.as_str());
    let x = cx.tensor(xname)?;
    let t = &mut cx.g.tensors[x];
    if t.dtype != ir::DType::I8 {
        return Err(Reason::DType {
            value: xname.to_string(),
            dtype: "float32".into(),
            expected: "int8 or uint8",
        });
    }
    match &t.quant {
        None => t.quant = Some(qp.clone()),
        Some(q) if q == qp => {}
        Some(_) => {
            return Err(Reason::Limitation {
                what: format!("`{xname}` is dequantized with different parameters"),
            })
        }
    }
    let out = node.output.first().cloned().unwrap_or_default();
    let mut f = ir::Tensor::act(out.clone(), t.shape.clone());
    f.quant = Some(qp.clone());
    let y = cx.g.push_boundary(name, "DequantizeLinear", x, f);
    cx.ids.insert(out, y);
    Ok(())
}

/// tract's analysis folds a node only when its inputs and outputs stay within a memory budget
/// (4 MiB); finish the job for constant nodes beyond it (e.g. `DequantizeLinear` or `Transpose`
/// of large weights) by evaluating the tract op directly.
fn fold_beyond_budget(
    model: &InferenceModel,
    graph: &pb::GraphProto,
    outlets: &HashMap<String, OutletId>,
    values: &mut HashMap<String, ValueInfo>,
) {
    for node in &graph.node {
        let outs: Vec<&String> = node.output.iter().filter(|o| !o.is_empty()).collect();
        if outs.is_empty()
            || outs
                .iter()
                .all(|o| values.get(*o).is_some_and(|v| v.value.is_some()))
        {
            continue;
        }
        let ins: Option<Vec<Arc<Tensor>>> = node
            .input
            .iter()
            .filter(|i| !i.is_empty())
            .map(|i| values.get(i).and_then(|v| v.value.clone()))
            .collect();
        let Some(ins) = ins else { continue };
        if ins.is_empty() {
            continue;
        }
        let Some(outlet) = outlets.get(outs[0]) else {
            continue;
        };
        let tnode = &model.nodes()[outlet.node];
        if tnode.inputs.len() != ins.len() {
            continue;
        }
        let inputs: TVec<TValue> = ins.into_iter().map(TValue::from_const).collect();
        let op = tnode.op.as_op();
        let Ok(Some(results)) = op.eval_out_of_plan(inputs) else {
            continue;
        };
        for (name, t) in node.output.iter().filter(|o| !o.is_empty()).zip(results) {
            let t = t.into_arc_tensor();
            values.insert(
                name.clone(),
                ValueInfo {
                    shape: Some(t.shape().to_vec()),
                    dtype: Some(t.datum_type()),
                    value: Some(t),
                },
            );
        }
    }
}

pub(crate) fn onnx_datum_type(elem_type: i32) -> Option<DatumType> {
    use pb::tensor_proto::DataType as D;
    let d = D::try_from(elem_type).ok()?;
    Some(match d {
        D::Float => DatumType::F32,
        D::Double => DatumType::F64,
        D::Float16 => DatumType::F16,
        D::Int8 => DatumType::I8,
        D::Int16 => DatumType::I16,
        D::Int32 => DatumType::I32,
        D::Int64 => DatumType::I64,
        D::Uint8 => DatumType::U8,
        D::Uint16 => DatumType::U16,
        D::Uint32 => DatumType::U32,
        D::Uint64 => DatumType::U64,
        D::Bool => DatumType::Bool,
        _ => return None,
    })
}

pub(crate) fn onnx_dtype_name(elem_type: i32) -> String {
    pb::tensor_proto::DataType::try_from(elem_type)
        .map(|d| d.as_str_name().to_lowercase())
        .unwrap_or_else(|_| format!("unknown dtype {elem_type}"))
}

pub(crate) fn dtype_name(dt: DatumType) -> String {
    match dt {
        DatumType::F32 => "float32".into(),
        DatumType::F64 => "float64".into(),
        DatumType::F16 => "float16".into(),
        DatumType::TDim => "int64".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}
