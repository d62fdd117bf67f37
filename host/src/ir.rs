//! kiln's own model representation, produced by `import` and consumed by `optimize`, `plan`,
//! `codegen` and the host simulation.
//!
//! Invariants:
//! - `nodes` are in execution (topological) order.
//! - Every node input is either a constant (`Tensor::data` or `Tensor::qdata` is `Some`) or an
//!   activation produced by an earlier node or a graph input.
//! - Node inputs are in the order the node's op documents; their element types are the op's: f32
//!   for [`Op::F32`] and the input of [`Op::Quantize`], int8 for [`Op::Q`] and the input of
//!   [`Op::Dequantize`]. Every int8 tensor carries its [`QParams`].
//! - `import` and `optimize` produce f32 graphs only; `quantize::lower` makes mixed ones.

use kiln_kernels::f32::KOp;
use kiln_kernels::i8::{DequantizeP, QOp, QuantizeP};
use serde::Serialize;

/// Index into [`Graph::tensors`].
pub type TensorId = usize;

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    #[default]
    F32,
    I8,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::I8 => 1,
        }
    }
}

/// Quantization parameters: `real = scale * (q - zp)`. One entry for a per-tensor quantized
/// tensor, one per index of `axis` for per-channel weights.
///
/// On an int8 tensor they are its parameters; on an f32 tensor of a pre-quantized model they are
/// the parameters the model gives it (its QDQ pair, or its constant's `DequantizeLinear`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QParams {
    pub scale: Vec<f32>,
    pub zp: Vec<i32>,
    /// The channel axis of per-channel params (`None`: per tensor).
    pub axis: Option<usize>,
}

impl QParams {
    pub fn per_tensor(scale: f32, zp: i32) -> QParams {
        QParams {
            scale: vec![scale],
            zp: vec![zp],
            axis: None,
        }
    }
    /// The per-tensor `(scale, zp)`; the first channel's for per-channel params.
    pub fn one(&self) -> (f32, i32) {
        (self.scale[0], self.zp[0])
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensor {
    /// ONNX value name (or a derived name for tensors kiln creates, e.g. folded weights).
    pub name: String,
    /// Static shape. Scalars have an empty shape.
    pub shape: Vec<usize>,
    /// Constant f32 data (row-major). `None` for activations and int8 constants.
    pub data: Option<Vec<f32>>,
    /// Element type (`I8` for int8 activations and `qdata` constants).
    pub dtype: DType,
    /// Constant int8 data (row-major), for `dtype == I8` constants.
    pub qdata: Option<Vec<i8>>,
    /// The exact integers behind `data` when the model stores the constant as int32 with
    /// [`Tensor::quant`] (a pre-quantized bias; `data` holds their real values, rounded to f32).
    pub ints: Option<Vec<i32>>,
    /// Quantization parameters: always `Some` when `dtype == I8`; on f32 tensors, the
    /// pre-quantized model's own (see [`QParams`]).
    pub quant: Option<QParams>,
    /// For a tensor the int8 lowering added (a quantized or dequantized copy, int8 weights):
    /// the tensor of the f32 graph it stands for.
    pub origin: Option<TensorId>,
    /// Element type of a graph input or output outside kiln when it is not the tensor's own
    /// (`uint8` for an int8 tensor holding uint8 bytes next to a bit-flip node; `int32` for an
    /// f32 tensor holding exact integers).
    pub io: Option<IoType>,
}

/// Element type of a graph input or output as the user's data has it (see [`Tensor::io`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IoType {
    Uint8,
    Int32,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_const(&self) -> bool {
        self.data.is_some() || self.qdata.is_some()
    }

    /// Bytes of the tensor's data.
    pub fn bytes(&self) -> usize {
        self.len() * self.dtype.size()
    }

    /// An f32 activation.
    pub fn act(name: impl Into<String>, shape: Vec<usize>) -> Tensor {
        Tensor {
            name: name.into(),
            shape,
            ..Tensor::default()
        }
    }

    /// An f32 constant.
    pub fn f32_const(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        Tensor {
            name: name.into(),
            shape,
            data: Some(data),
            ..Tensor::default()
        }
    }
}

/// A node's kernel: an f32 or int8 kernel, or a float boundary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    F32(KOp),
    Q(QOp),
    /// f32 → int8 (ONNX QuantizeLinear semantics).
    Quantize(QuantizeP),
    /// int8 → f32.
    Dequantize(DequantizeP),
}

impl From<KOp> for Op {
    fn from(k: KOp) -> Op {
        Op::F32(k)
    }
}

impl Op {
    /// The f32 kernel op, if this is one.
    pub fn f32(&self) -> Option<&KOp> {
        match self {
            Op::F32(k) => Some(k),
            _ => None,
        }
    }
    /// The kernel's name without its parameters (`Conv2d`, `Pool2d`; `Quantize`, `Dequantize`
    /// for the boundaries).
    pub fn variant(&self) -> String {
        let dbg = match self {
            Op::F32(k) => format!("{k:?}"),
            Op::Q(q) => format!("{q:?}"),
            Op::Quantize(_) => return "Quantize".into(),
            Op::Dequantize(_) => return "Dequantize".into(),
        };
        dbg.split('(').next().unwrap_or("").to_string()
    }

    /// Kernel family and kernel, for reports: `int8 Conv2d`, `f32 Dense`; `quantize` and
    /// `dequantize` for the boundaries.
    pub fn describe(&self) -> String {
        match self {
            Op::F32(_) | Op::Q(_) => format!("{} {}", self.kernel(), self.variant()),
            _ => self.kernel().to_string(),
        }
    }

    /// Short name of the kernel family, for reports: `f32`, `int8`, `quantize`, `dequantize`.
    pub fn kernel(&self) -> &'static str {
        match self {
            Op::F32(_) => "f32",
            Op::Q(_) => "int8",
            Op::Quantize(_) => "quantize",
            Op::Dequantize(_) => "dequantize",
        }
    }
}

/// Constant tables of an int8 node (see `kiln_kernels::i8::Tables`); empty when unused.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QTables {
    pub bias: Vec<i32>,
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
    pub lut: Vec<i8>,
    pub exp: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The ONNX node this comes from (one ONNX node may lower to several kiln nodes, e.g. Split).
    pub name: String,
    /// The ONNX op type, for reports.
    pub op_type: String,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// Index table handed to the kernel (Gather indices, Resize coordinate maps); usually empty.
    pub idx: Vec<u32>,
    /// int8 constant tables (int8 nodes only).
    pub tables: QTables,
    /// Multiply-accumulates of one run of this node.
    pub macs: u64,
}

impl Op {
    /// Multiply-accumulates of one run: of a conv (depthwise included) or dense layer, from its
    /// kernel parameters; 0 for every other op. The one count import, reports and `bench` use
    /// (saturating: it never wraps).
    pub fn macs(&self) -> u64 {
        let product = |xs: &[u32]| xs.iter().fold(1u64, |a, &x| a.saturating_mul(x.into()));
        match self {
            Op::F32(KOp::Conv2d(p)) => product(&[
                p.batch,
                p.out_c,
                p.out_h,
                p.out_w,
                p.in_c / p.groups.max(1),
                p.k_h,
                p.k_w,
            ]),
            Op::F32(KOp::Dense(p)) => product(&[p.batch, p.m, p.k, p.n]),
            _ => 0,
        }
    }
}

impl Node {
    /// A node with no index table, no int8 tables and no MACs.
    pub fn new(
        name: impl Into<String>,
        op_type: impl Into<String>,
        op: Op,
        inputs: Vec<TensorId>,
        outputs: Vec<TensorId>,
    ) -> Node {
        Node {
            name: name.into(),
            op_type: op_type.into(),
            op,
            inputs,
            outputs,
            idx: vec![],
            tables: QTables::default(),
            macs: 0,
        }
    }
}

/// Facts about the source model, kept for reports and provenance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelMeta {
    pub producer: String,
    pub opset: i64,
    /// The model is pre-quantized (QDQ): its tensors carry the model's own [`QParams`].
    pub quantized: bool,
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

    /// Adds tensor `out` and the float boundary node `name` computing it from `x`: a Quantize
    /// (ONNX rounding, ties to even) when `out` is int8, a Dequantize when it is f32, with
    /// `out`'s parameters (which it must carry). Returns `out`'s id.
    pub fn push_boundary(
        &mut self,
        name: impl Into<String>,
        op_type: &str,
        x: TensorId,
        out: Tensor,
    ) -> TensorId {
        self.push_quantize_rounding(name, op_type, x, out, false)
    }

    /// [`Graph::push_boundary`], a Quantize rounding ties away from zero when `ties_away`
    /// (TFLite's QUANTIZE).
    pub fn push_quantize_rounding(
        &mut self,
        name: impl Into<String>,
        op_type: &str,
        x: TensorId,
        out: Tensor,
        ties_away: bool,
    ) -> TensorId {
        let (scale, zp) = out.quant.as_ref().map_or((1.0, 0), QParams::one);
        let len = out.len() as u32;
        let op = match out.dtype {
            DType::I8 => Op::Quantize(QuantizeP {
                len,
                scale,
                zp,
                ties_away,
            }),
            DType::F32 => Op::Dequantize(DequantizeP { len, scale, zp }),
        };
        let y = self.add_tensor(out);
        self.nodes
            .push(Node::new(name, op_type, op, vec![x], vec![y]));
        y
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
