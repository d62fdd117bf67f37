//! kiln's own model representation, produced by `import` and consumed by `optimize`, `plan`,
//! `codegen` and the host simulation.
//!
//! Invariants:
//! - `nodes` are in execution (topological) order.
//! - Every node input is either a constant (`Tensor::data` is `Some`) or an activation produced by
//!   an earlier node or a graph input; every activation is f32.
//! - Node inputs are in the order the node's [`KOp`] documents.

use kiln_kernels::f32::KOp;

/// Index into [`Graph::tensors`].
pub type TensorId = usize;

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// ONNX value name (or a derived name for tensors kiln creates, e.g. folded weights).
    pub name: String,
    /// Static shape. Scalars have an empty shape.
    pub shape: Vec<usize>,
    /// Constant data (row-major f32). `None` for activations.
    pub data: Option<Vec<f32>>,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_const(&self) -> bool {
        self.data.is_some()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The ONNX node this comes from (one ONNX node may lower to several kiln nodes, e.g. Split).
    pub name: String,
    /// The ONNX op type, for reports.
    pub op_type: String,
    pub op: KOp,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// Index table handed to the kernel (Gather indices, Resize coordinate maps); usually empty.
    pub idx: Vec<u32>,
    /// Multiply-accumulates of one run of this node.
    pub macs: u64,
}

/// Facts about the source model, kept for reports and provenance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelMeta {
    pub producer: String,
    pub opset: i64,
    /// Notices produced during import (e.g. a symbolic batch dimension fixed to 1).
    pub notices: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub tensors: Vec<Tensor>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    pub meta: ModelMeta,
}

impl Graph {
    pub fn add_tensor(&mut self, t: Tensor) -> TensorId {
        self.tensors.push(t);
        self.tensors.len() - 1
    }

    /// Number of weight parameters (elements of constants used by nodes).
    pub fn param_count(&self) -> usize {
        let mut seen = vec![false; self.tensors.len()];
        let mut n = 0;
        for node in &self.nodes {
            for &t in &node.inputs {
                if self.tensors[t].is_const() && !seen[t] {
                    seen[t] = true;
                    n += self.tensors[t].len();
                }
            }
        }
        n
    }

    pub fn total_macs(&self) -> u64 {
        self.nodes.iter().map(|n| n.macs).sum()
    }
}
