//! Model files → kiln IR ([`crate::ir::Graph`]): two front ends behind one entry point.
//!
//! [`import`] reads the file and recognises its format by content: TFLite by the flatbuffer's
//! `TFL3` identifier ([`tflite`]), otherwise ONNX ([`onnx`]). Both front ends produce the same
//! IR (NCHW activations, kernel parameters computed at import, int8 tensors with their
//! parameters) and report problems the same way: every [`Problem`] at once, in
//! [`ImportError::Unsupported`].
//!
//! An operator family's module (`binary`, `conv2d`, `dense`, `pool2d`, `reduce`, `strided`, ...)
//! is its home in import: the ONNX spec and lowering of its ops, and the kernel-parameter
//! builders both front ends use (`binary_params`, `reduce_params`, `strided_params`). The ONNX
//! registry of every family ([`spec::deployed_ops`]) is the list the conformance suite and the
//! docs derive from.

pub mod onnx;
pub(crate) mod shape;
pub mod tflite;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use tract_onnx::prelude::InferenceModel;

use crate::ir;
pub use crate::ops::strided::is_plain_copy;
pub(crate) use crate::ops::strided::strided_params;
pub use onnx::spec;
pub use onnx::{import_proto, load_proto};

/// Options for [`import`].
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Fixed shapes for model inputs by ONNX input name (CLI `--input-shape NAME=1x49x10x1`).
    /// Needed for every symbolic dimension other than a leading batch dimension.
    pub input_shapes: HashMap<String, Vec<usize>>,
}

/// The result of [`import`]: kiln's graph, and the tract model the float reference runs.
#[derive(Clone, Debug)]
pub struct Imported {
    pub graph: ir::Graph,
    pub model: TractModel,
}

/// The tract model of an imported file, with every input shape fixed to the shapes used for the
/// kiln graph. [`crate::reference::Reference`] builds the float reference from it.
#[derive(Clone, Debug)]
pub struct TractModel {
    pub(crate) source: ReferenceSource,
    /// Model input names, in model order.
    pub input_names: Vec<String>,
    /// Model output names, in model order.
    pub output_names: Vec<String>,
}

/// What tract made of the file.
#[derive(Clone, Debug)]
pub(crate) enum ReferenceSource {
    /// An ONNX model, analysed (input facts fixed).
    Onnx(InferenceModel),
    /// A TFLite model as tract-tflite reads it, or why it could not.
    Tflite(Result<tract_onnx::prelude::TypedModel, String>),
}

impl TractModel {
    pub(crate) fn tflite(
        model: Result<tract_onnx::prelude::TypedModel, String>,
        input_names: Vec<String>,
        output_names: Vec<String>,
    ) -> TractModel {
        TractModel {
            source: ReferenceSource::Tflite(model),
            input_names,
            output_names,
        }
    }
}

/// A symbolic input dimension kiln could not fix on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnresolvedDim {
    pub input: String,
    /// Dimension index.
    pub dim: usize,
    /// The ONNX `dim_param` (empty when the dimension is just unknown).
    pub param: String,
}

/// One reason a node cannot be imported.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Reason {
    #[error("kiln has no kernel for this op")]
    UnknownOp,
    #[error("op from domain `{domain}`; kiln supports the default ONNX domain only")]
    CustomDomain { domain: String },
    #[error("opset {opset} is outside the range kiln supports for this op ({min}..={max})")]
    Opset { opset: i64, min: i64, max: i64 },
    #[error("{what}: expected {expected}, got {actual}")]
    Arity {
        what: &'static str,
        expected: String,
        actual: usize,
    },
    #[error("attribute `{name}` is not supported")]
    UnknownAttribute { name: String },
    #[error("attribute `{name}` = {value} is not supported: {why}")]
    AttributeValue {
        name: String,
        value: String,
        why: String,
    },
    #[error("input `{input}` ({role}) is not a constant; kiln needs it fixed at build time")]
    NotConstant { input: String, role: &'static str },
    #[error("`{value}` has dtype {dtype}; kiln needs {expected} here")]
    DType {
        value: String,
        dtype: String,
        expected: &'static str,
    },
    #[error("`{value}` has rank {rank}; kiln kernels handle rank {max} at most")]
    Rank {
        value: String,
        rank: usize,
        max: usize,
    },
    #[error("the shape of `{value}` is unknown ({cause})")]
    UnknownShape { value: String, cause: String },
    #[error("kiln computes shape {kiln:?} for `{value}` where tract infers {tract:?}")]
    ShapeMismatch {
        value: String,
        kiln: Vec<usize>,
        tract: Vec<usize>,
    },
    #[error("input `{input}`: {why}")]
    InvalidValue { input: String, why: String },
    #[error("not supported by kiln: {what}")]
    Limitation { what: String },
    #[error("graph output `{output}` is a constant; kiln only deploys computed outputs")]
    OutputIsConstant { output: String },
    #[error(
        "graph output `{output}` is a graph input (or an Identity of one); nothing to compute"
    )]
    OutputIsInput { output: String },
    #[error("tract could not read it: {message}")]
    Tract { message: String },
}

/// A problem with one node (or graph input/output) of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// ONNX node name (its first output name when the node has none); the value name for graph
    /// inputs and outputs.
    pub node: String,
    /// ONNX op type; `input` / `output` for graph inputs and outputs, `model` for the whole file.
    pub op_type: String,
    /// The model's opset for the node's domain.
    pub opset: i64,
    pub reason: Reason,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op_type.as_str() {
            "input" | "output" => {
                write!(f, "graph {} `{}`: {}", self.op_type, self.node, self.reason)
            }
            "model" => write!(f, "model: {}", self.reason),
            _ => write!(
                f,
                "node `{}` ({}, opset {}): {}",
                self.node, self.op_type, self.opset, self.reason
            ),
        }
    }
}

fn list_problems(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

fn list_dims(dims: &[UnresolvedDim]) -> String {
    dims.iter()
        .map(|d| {
            if d.param.is_empty() {
                format!("\n  - input `{}` dim {} is unknown", d.input, d.dim)
            } else {
                format!(
                    "\n  - input `{}` dim {} is symbolic (`{}`)",
                    d.input, d.dim, d.param
                )
            }
        })
        .collect()
}

/// Why [`import`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read model {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an ONNX model (protobuf decoding failed; truncated or not ONNX)")]
    Decode {
        path: PathBuf,
        #[source]
        source: prost::DecodeError,
    },
    #[error("{path} is not an ONNX model: {why}")]
    NotOnnx { path: PathBuf, why: &'static str },
    #[error("{path} is not a valid TFLite model: {why}")]
    NotTflite { path: PathBuf, why: String },
    #[error("tract could not parse {path}: {message}")]
    Tract {
        path: PathBuf,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "--input-shape names `{name}`, which is not an input of {path} (inputs: {})",
        inputs.join(", ")
    )]
    UnknownInput {
        path: PathBuf,
        name: String,
        inputs: Vec<String>,
    },
    #[error(
        "--input-shape {input}={} does not fit the model's declared shape {declared}",
        join_dims(given)
    )]
    InputShapeMismatch {
        input: String,
        given: Vec<usize>,
        declared: String,
    },
    #[error(
        "{path}: input shapes need fixing with --input-shape NAME=D0xD1x...:{}",
        list_dims(dims)
    )]
    UnresolvedInputDims {
        path: PathBuf,
        dims: Vec<UnresolvedDim>,
    },
    #[error("{path}: {} problem(s) prevent deploying this model:{}", problems.len(), list_problems(problems))]
    Unsupported {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn join_dims(d: &[usize]) -> String {
    d.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Imports an ONNX or TFLite model file into kiln's IR; the format is recognised by the file's
/// content (TFLite's `TFL3` identifier), not its extension. See the module docs and [`tflite`].
pub fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.into(),
        source,
    })?;
    if tflite::is_tflite(&bytes) {
        return tflite::import(path, &bytes, opts);
    }
    let proto = onnx::decode_proto(path, &bytes)?;
    let dir = path
        .parent()
        .and_then(|d| d.to_str())
        .map(|d| if d.is_empty() { "." } else { d });
    import_proto(path, dir, &proto, opts)
}

/// The int8 ↔ uint8 bit flip (`lut[i] = i`, reinterpreted): `u - 128` one way, `q + 128` the
/// other. Adds a node from `x` into a new int8 tensor `out_name` of graph `g`; returns it.
pub(crate) fn flip_uint8_in(
    g: &mut ir::Graph,
    x: ir::TensorId,
    out_name: String,
    node_name: String,
) -> ir::TensorId {
    let src = &g.tensors[x];
    let mut t = ir::Tensor::act(out_name, src.shape.clone());
    t.dtype = ir::DType::I8;
    t.quant = src.quant.clone();
    let len = t.len() as u32;
    let y = g.add_tensor(t);
    g.nodes.push(ir::Node {
        name: node_name,
        op_type: "Cast".into(),
        op: ir::Op::Q(kiln_kernels::i8::QOp::Lut(kiln_kernels::i8::LutP { len })),
        inputs: vec![x],
        outputs: vec![y],
        idx: vec![],
        tables: ir::QTables {
            lut: (0..256).map(|i| i as u8 as i8).collect(),
            ..Default::default()
        },
        macs: 0,
    });
    y
}
