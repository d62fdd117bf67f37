//! The lowering context shared by the op-family modules: the graph being built, what tract's
//! analysis knows about each ONNX value, and typed access to a node's attributes.

use std::collections::{HashMap, HashSet};

use kiln_kernels::f32::KOp;
use tract_onnx::pb;
use tract_onnx::prelude::{DatumType, Tensor};

use super::spec::OpSpec;
use super::{Reason, ValueInfo};
use crate::ir::{self, TensorId};

/// Converts a (constant) tract tensor to row-major f32.
pub(crate) fn tensor_f32(t: &Tensor) -> Option<Vec<f32>> {
    let c = t.cast_to::<f32>().ok()?;
    let view = c.try_as_plain_ram().ok()?;
    Some(view.as_slice::<f32>().ok()?.to_vec())
}

/// Converts a (constant) integer tract tensor (incl. concrete `TDim`s) to i64.
pub(crate) fn tensor_i64(t: &Tensor) -> Option<Vec<i64>> {
    if t.datum_type().is_float() {
        return None;
    }
    let c = t.cast_to::<i64>().ok()?;
    let view = c.try_as_plain_ram().ok()?;
    Some(view.as_slice::<i64>().ok()?.to_vec())
}

pub(crate) fn is_int(dt: DatumType) -> bool {
    dt.is_integer() || dt == DatumType::TDim
}

pub(crate) struct Cx<'a> {
    pub g: ir::Graph,
    values: &'a HashMap<String, ValueInfo>,
    /// ONNX value name → kiln tensor (activations, and constants once materialized).
    pub ids: HashMap<String, TensorId>,
    graph_outputs: HashSet<&'a str>,
    /// Values some node reads, or graph outputs.
    used: HashSet<&'a str>,
    /// Shapes kiln computed where tract's analysis left them open.
    overlay: HashMap<String, Vec<usize>>,
    /// Quantization of folded constants of a pre-quantized model, by ONNX value name.
    pub qconsts: HashMap<String, ir::QParams>,
    /// Names of the int32 `Cast`s that [`super::qlinear`] wrote after an integer op.
    pub integral_casts: HashSet<String>,
}

impl<'a> Cx<'a> {
    pub fn new(
        values: &'a HashMap<String, ValueInfo>,
        graph_outputs: HashSet<&'a str>,
        used: HashSet<&'a str>,
    ) -> Self {
        Cx {
            g: ir::Graph::default(),
            values,
            ids: HashMap::new(),
            graph_outputs,
            used,
            overlay: HashMap::new(),
            qconsts: HashMap::new(),
            integral_casts: HashSet::new(),
        }
    }

    /// Whether some node reads the value or it is a graph output.
    pub fn is_used(&self, name: &str) -> bool {
        self.used.contains(name)
    }

    pub fn info(&self, name: &str) -> Option<&'a ValueInfo> {
        self.values.get(name)
    }

    pub fn is_graph_output(&self, name: &str) -> bool {
        self.graph_outputs.contains(name)
    }

    pub fn is_const(&self, name: &str) -> bool {
        self.info(name).is_some_and(|v| v.value.is_some())
    }

    pub fn shape(&self, name: &str) -> Result<Vec<usize>, Reason> {
        if let Some(s) = self.overlay.get(name) {
            return Ok(s.clone());
        }
        self.info(name)
            .and_then(|v| v.shape.clone())
            .ok_or_else(|| Reason::UnknownShape {
                value: name.to_string(),
                cause: "tract's analysis gave no concrete shape".into(),
            })
    }

    /// Checks kiln's computed shape of `value` against tract's; where tract has none, kiln's
    /// becomes the value's shape.
    pub fn check_shape(&mut self, value: &str, kiln: &[usize]) -> Result<(), Reason> {
        match self.shape(value) {
            Ok(tract) if tract == kiln => Ok(()),
            Ok(tract) => Err(Reason::ShapeMismatch {
                value: value.to_string(),
                kiln: kiln.to_vec(),
                tract,
            }),
            Err(_) => {
                self.overlay.insert(value.to_string(), kiln.to_vec());
                Ok(())
            }
        }
    }

    pub fn const_f32(&self, name: &str, role: &'static str) -> Result<Vec<f32>, Reason> {
        let v = self
            .info(name)
            .and_then(|v| v.value.as_ref())
            .ok_or_else(|| Reason::NotConstant {
                input: name.to_string(),
                role,
            })?;
        tensor_f32(v).ok_or_else(|| Reason::DType {
            value: name.to_string(),
            dtype: super::dtype_name(v.datum_type()),
            expected: "a number",
        })
    }

    pub fn const_i64(&self, name: &str, role: &'static str) -> Result<Vec<i64>, Reason> {
        let v = self
            .info(name)
            .and_then(|v| v.value.as_ref())
            .ok_or_else(|| Reason::NotConstant {
                input: name.to_string(),
                role,
            })?;
        tensor_i64(v).ok_or_else(|| Reason::DType {
            value: name.to_string(),
            dtype: super::dtype_name(v.datum_type()),
            expected: "an integer tensor",
        })
    }

    /// The kiln tensor for an ONNX value: the activation, or the constant (materialized as f32
    /// on first use).
    pub fn tensor(&mut self, name: &str) -> Result<TensorId, Reason> {
        if let Some(&id) = self.ids.get(name) {
            return Ok(id);
        }
        let info = self.info(name);
        if let Some(v) = info.and_then(|v| v.value.as_ref()) {
            if v.datum_type() != DatumType::F32 {
                return Err(Reason::DType {
                    value: name.to_string(),
                    dtype: super::dtype_name(v.datum_type()),
                    expected: "float32",
                });
            }
            let data = self.const_f32(name, "constant")?;
            let id = self.konst(name.to_string(), v.shape().to_vec(), data);
            self.g.tensors[id].quant = self.qconsts.get(name).cloned();
            self.ids.insert(name.to_string(), id);
            return Ok(id);
        }
        Err(Reason::UnknownShape {
            value: name.to_string(),
            cause: "no earlier node computes it".into(),
        })
    }

    /// A new constant tensor (not registered under an ONNX name).
    pub fn konst(&mut self, name: String, shape: Vec<usize>, data: Vec<f32>) -> TensorId {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        self.g.add_tensor(ir::Tensor::f32_const(name, shape, data))
    }

    /// A kiln-internal activation (between the nodes one ONNX node lowers to).
    pub fn temp(&mut self, name: String, shape: Vec<usize>) -> TensorId {
        self.g.add_tensor(ir::Tensor::act(name, shape))
    }

    /// The activation tensor for an ONNX node output, with the shape tract inferred.
    pub fn output(&mut self, name: &str) -> Result<TensorId, Reason> {
        let shape = self.shape(name)?;
        if shape.contains(&0) {
            return Err(Reason::Limitation {
                what: format!("`{name}` is empty (shape {shape:?})"),
            });
        }
        let id = self.temp(name.to_string(), shape);
        self.ids.insert(name.to_string(), id);
        Ok(id)
    }

    /// Makes ONNX value `name` refer to an existing tensor (Identity, Dropout).
    pub fn alias(&mut self, name: &str, id: TensorId) {
        self.ids.insert(name.to_string(), id);
    }

    pub fn emit(
        &mut self,
        n: &NodeCx,
        op: KOp,
        inputs: Vec<TensorId>,
        outputs: Vec<TensorId>,
        idx: Vec<u32>,
    ) {
        let op = ir::Op::from(op);
        let macs = op.macs();
        self.g.nodes.push(ir::Node {
            name: n.name.clone(),
            op_type: n.op_type().to_string(),
            op,
            inputs,
            outputs,
            idx,
            tables: Default::default(),
            macs,
        });
    }

    /// Undoes a lowering that failed halfway.
    pub fn rollback(&mut self, (tensors, nodes): (usize, usize), outs: &[&str]) {
        self.g.tensors.truncate(tensors);
        self.g.nodes.truncate(nodes);
        self.ids.retain(|_, id| *id < tensors);
        for o in outs {
            self.ids.remove(*o);
        }
    }

    pub fn finish(self) -> ir::Graph {
        self.g
    }
}

/// One ONNX node being lowered, with typed attribute access.
pub(crate) struct NodeCx<'a> {
    pub proto: &'a pb::NodeProto,
    /// kiln's name for the node (ONNX name, else its first output).
    pub name: String,
    pub opset: i64,
    pub spec: &'static OpSpec,
}

fn attr_value_text(a: &pb::AttributeProto) -> String {
    use pb::attribute_proto::AttributeType as T;
    match T::try_from(a.r#type).unwrap_or(T::Undefined) {
        T::Float => a.f.to_string(),
        T::Int => a.i.to_string(),
        T::String => format!("\"{}\"", String::from_utf8_lossy(&a.s)),
        T::Floats => format!("{:?}", a.floats),
        T::Ints => format!("{:?}", a.ints),
        other => format!("({})", other.as_str_name().to_lowercase()),
    }
}

impl<'a> NodeCx<'a> {
    pub fn new(proto: &'a pb::NodeProto, name: String, opset: i64, spec: &'static OpSpec) -> Self {
        NodeCx {
            proto,
            name,
            opset,
            spec,
        }
    }

    pub fn op_type(&self) -> &str {
        &self.proto.op_type
    }

    /// Input `i`, `None` when absent or given as "" (optional input left out).
    pub fn input(&self, i: usize) -> Option<&'a str> {
        self.proto
            .input
            .get(i)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    /// A required input (the spec check guarantees it is there).
    pub fn req(&self, i: usize) -> Result<&'a str, Reason> {
        self.input(i).ok_or_else(|| Reason::Arity {
            what: "inputs",
            expected: format!("input #{i} present"),
            actual: self.proto.input.len(),
        })
    }

    pub fn n_inputs(&self) -> usize {
        self.proto.input.len()
    }

    /// Output `i`, `None` when absent or "".
    pub fn output(&self, i: usize) -> Option<&'a str> {
        self.proto
            .output
            .get(i)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }

    pub fn out0(&self) -> Result<&'a str, Reason> {
        self.output(0).ok_or_else(|| Reason::Arity {
            what: "outputs",
            expected: "output #0 present".into(),
            actual: 0,
        })
    }

    pub fn attr(&self, name: &str) -> Option<&'a pb::AttributeProto> {
        self.proto.attribute.iter().find(|a| a.name == name)
    }

    fn wrong_type(a: &pb::AttributeProto, expected: &str) -> Reason {
        Reason::AttributeValue {
            name: a.name.clone(),
            value: attr_value_text(a),
            why: format!("expected {expected}"),
        }
    }

    fn is(a: &pb::AttributeProto, t: pb::attribute_proto::AttributeType) -> bool {
        // Very old exporters leave `type` unset; accept the field then.
        a.r#type == t as i32 || a.r#type == 0
    }

    pub fn attr_i(&self, name: &str, default: i64) -> Result<i64, Reason> {
        match self.attr(name) {
            None => Ok(default),
            Some(a) if Self::is(a, pb::attribute_proto::AttributeType::Int) => Ok(a.i),
            Some(a) => Err(Self::wrong_type(a, "an int")),
        }
    }

    pub fn attr_f(&self, name: &str, default: f32) -> Result<f32, Reason> {
        match self.attr(name) {
            None => Ok(default),
            Some(a) if Self::is(a, pb::attribute_proto::AttributeType::Float) => Ok(a.f),
            Some(a) => Err(Self::wrong_type(a, "a float")),
        }
    }

    pub fn attr_s(&self, name: &str, default: &str) -> Result<String, Reason> {
        match self.attr(name) {
            None => Ok(default.to_string()),
            Some(a) if Self::is(a, pb::attribute_proto::AttributeType::String) => {
                Ok(String::from_utf8_lossy(&a.s).into_owned())
            }
            Some(a) => Err(Self::wrong_type(a, "a string")),
        }
    }

    pub fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>, Reason> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) if Self::is(a, pb::attribute_proto::AttributeType::Ints) => {
                Ok(Some(a.ints.clone()))
            }
            Some(a) => Err(Self::wrong_type(a, "a list of ints")),
        }
    }

    /// An attribute value kiln does not implement.
    pub fn bad_attr(&self, name: &str, why: impl Into<String>) -> Reason {
        Reason::AttributeValue {
            name: name.to_string(),
            value: self
                .attr(name)
                .map(attr_value_text)
                .unwrap_or_else(|| "(default)".into()),
            why: why.into(),
        }
    }

    /// A derived name for a tensor kiln creates for this node.
    pub fn derived(&self, what: &str) -> String {
        format!("{}::{what}", self.name)
    }
}
