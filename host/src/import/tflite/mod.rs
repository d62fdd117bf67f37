//! TFLite flatbuffer → kiln IR: the second front end, producing the same IR as the ONNX one.
//!
//! How it works:
//! - The file is read with the TFLite schema's generated flatbuffer code (`tract_tflite::tflite`,
//!   verified when loaded); the float reference is tract-tflite's model of the same file.
//! - Operators are in execution order (the schema's rule). Each is mapped by [`ops`] to kiln
//!   nodes whose kernel parameters are all computed here; every operator kiln cannot run is
//!   listed at once, with its index, builtin name and why.
//! - TFLite is NHWC; kiln's image kernels are NCHW. A 4-D activation written by a conv, depthwise
//!   conv or pool stays NCHW (*permuted*, named `NAME:nchw`); an op that needs TFLite's own order
//!   reads a transposed copy named `NAME` (a plain copy, which `optimize` removes, when C or H×W
//!   is 1). Constants are permuted at import. Graph inputs and outputs keep TFLite's layout.
//! - An int8 model becomes what a QDQ ONNX model becomes: an f32 graph whose tensors carry the
//!   model's own quantization parameters (weights dequantized exactly, int32 biases with their
//!   scales), int8 inputs read through a Dequantize, int8 outputs written by a Quantize;
//!   `quantize::lower` then runs it in int8 with exactly those parameters.

pub(crate) mod ops;

use std::collections::HashMap;
use std::path::Path;

use kiln_kernels::f32::KOp;
use tract_tflite::tflite as fb;

use super::{ImportError, ImportOptions, Imported, Problem, Reason, TractModel};
use crate::ir::{self, DType, QParams, TensorId};
use crate::ops::strided::strided_params;

/// Whether `bytes` are a TFLite flatbuffer (file identifier `TFL3` at offset 4).
pub fn is_tflite(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"TFL3")
}

/// Where a TFLite tensor's value lives in the kiln graph.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Val {
    pub id: TensorId,
    /// A 4-D value stored NCHW (TFLite's NHWC permuted).
    pub nchw: bool,
}

/// The layout an op reads an activation in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// TFLite's own order.
    Tfl,
    /// NCHW for 4-D values (TFLite's order otherwise).
    Nchw,
}

/// NHWC dim `d` sits at `NHWC_TO_NCHW[d]` in NCHW.
pub(crate) const NHWC_TO_NCHW: [usize; 4] = [0, 2, 3, 1];

/// Permutes a 4-D NHWC shape to NCHW.
pub(crate) fn nchw_shape(s: &[usize]) -> Vec<usize> {
    vec![s[0], s[3], s[1], s[2]]
}

/// A tensor's quantization as TFLite stores it: scales, zero points, quantized dimension.
pub(crate) type TflQuant = (Vec<f32>, Vec<i32>, usize);

pub(crate) struct Front<'a> {
    pub model: fb::Model<'a>,
    pub sg: fb::SubGraph<'a>,
    pub g: ir::Graph,
    pub vals: HashMap<usize, Val>,
    /// `(permuted tensor, wanted layout)` → its transposed copy.
    copies: HashMap<(TensorId, bool), TensorId>,
    /// Constants folded at import (DEQUANTIZE of weights), by tensor index.
    pub folded: HashMap<usize, Vec<f32>>,
    /// The model has int8 activations (runs int8 with its own parameters).
    pub quantized: bool,
}

impl<'a> Front<'a> {
    /// Adds int8 tensor `out` and the TFLite QUANTIZE `name` computing it from f32 `x`: ties
    /// round away from zero, as `std::round` in TFLite's kernels. Returns `out`'s id.
    pub fn push_quantize(
        &mut self,
        name: String,
        op_type: &str,
        x: TensorId,
        out: ir::Tensor,
    ) -> TensorId {
        self.g.push_quantize_rounding(name, op_type, x, out, true)
    }

    pub fn tensor(&self, i: usize) -> Result<fb::Tensor<'a>, Reason> {
        let ts = self
            .sg
            .tensors()
            .ok_or_else(|| limitation("the subgraph has no tensors"))?;
        if i >= ts.len() {
            return Err(Reason::InvalidValue {
                input: format!("tensor {i}"),
                why: format!("index out of range ({} tensors)", ts.len()),
            });
        }
        Ok(ts.get(i))
    }

    pub fn name(&self, i: usize) -> String {
        self.tensor(i)
            .ok()
            .and_then(|t| t.name().map(str::to_string))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("tensor_{i}"))
    }

    /// The static shape of tensor `i` (dims <= 0 refused).
    pub fn shape(&self, i: usize) -> Result<Vec<usize>, Reason> {
        let t = self.tensor(i)?;
        let dims: Vec<i32> = t.shape().map(|s| s.iter().collect()).unwrap_or_default();
        dims.iter()
            .map(|&d| {
                usize::try_from(d)
                    .ok()
                    .filter(|&d| d > 0)
                    .ok_or_else(|| Reason::UnknownShape {
                        value: self.name(i),
                        cause: format!("dimension {d} in shape {dims:?}"),
                    })
            })
            .collect()
    }

    /// The raw bytes of a constant tensor, `None` for activations.
    pub fn data(&self, i: usize) -> Result<Option<&'a [u8]>, Reason> {
        let t = self.tensor(i)?;
        let b = t.buffer() as usize;
        if b == 0 {
            return Ok(None);
        }
        let bufs = self
            .model
            .buffers()
            .ok_or_else(|| limitation("the model has no buffers"))?;
        if b >= bufs.len() {
            return Err(Reason::InvalidValue {
                input: self.name(i),
                why: format!("buffer {b} out of range ({} buffers)", bufs.len()),
            });
        }
        let buf = bufs.get(b);
        match buf.data() {
            Some(d) if !d.is_empty() => Ok(Some(d.bytes())),
            _ => Ok(None),
        }
    }

    pub fn is_const(&self, i: usize) -> bool {
        self.folded.contains_key(&i) || matches!(self.data(i), Ok(Some(_)))
    }

    /// The model's quantization of tensor `i`: `(scales, zero points, quantized dimension)`.
    pub fn quant(&self, i: usize) -> Result<Option<TflQuant>, Reason> {
        let t = self.tensor(i)?;
        let Some(q) = t.quantization() else {
            return Ok(None);
        };
        let scale: Vec<f32> = q.scale().map(|s| s.iter().collect()).unwrap_or_default();
        if scale.is_empty() {
            return Ok(None);
        }
        let zp: Vec<i64> = q
            .zero_point()
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        let mut zp: Vec<i32> = zp
            .iter()
            .map(|&z| i32::try_from(z).unwrap_or(i32::MAX))
            .collect();
        if zp.is_empty() {
            zp = vec![0; scale.len()];
        }
        if zp.len() != scale.len() || scale.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(Reason::InvalidValue {
                input: self.name(i),
                why: format!(
                    "quantization with {} scales and {} zero points",
                    scale.len(),
                    zp.len()
                ),
            });
        }
        let dim = usize::try_from(q.quantized_dimension()).unwrap_or(0);
        Ok(Some((scale, zp, dim)))
    }

    /// Per-tensor parameters of an int8 activation (`None` for float ones).
    pub fn act_quant(&self, i: usize) -> Result<Option<QParams>, Reason> {
        let t = self.tensor(i)?;
        // uint8 values are seen as int8 (`u - 128`, zero point - 128), DESIGN.md's uint8 rule.
        let shift = match t.type_() {
            fb::TensorType::INT8 => 0,
            fb::TensorType::UINT8 => 128,
            _ => return Ok(None),
        };
        match self.quant(i)? {
            Some((s, z, _)) if s.len() == 1 => Ok(Some(QParams::per_tensor(s[0], z[0] - shift))),
            Some(_) => Err(Reason::Limitation {
                what: format!("activation `{}` is quantized per axis", self.name(i)),
            }),
            None => Err(Reason::InvalidValue {
                input: self.name(i),
                why: "int8 tensor without quantization parameters".into(),
            }),
        }
    }

    /// A constant's values as f32: float32 as is, int8 / int32 dequantized with their own
    /// parameters along the quantized dimension (`(q - zp) * scale`, as kiln's Dequantize).
    pub fn const_f32(&self, i: usize) -> Result<Vec<f32>, Reason> {
        if let Some(v) = self.folded.get(&i) {
            return Ok(v.clone());
        }
        let t = self.tensor(i)?;
        let shape = self.shape(i)?;
        let len = checked_len(&self.name(i), &shape)?;
        let bytes = self.data(i)?.ok_or_else(|| Reason::NotConstant {
            input: self.name(i),
            role: "weights",
        })?;
        let ty = t.type_();
        let size = match ty {
            fb::TensorType::FLOAT32 | fb::TensorType::INT32 => 4,
            fb::TensorType::INT8 | fb::TensorType::UINT8 => 1,
            other => {
                return Err(Reason::DType {
                    value: self.name(i),
                    dtype: type_name(other),
                    expected: "float32, int8 or int32",
                })
            }
        };
        if bytes.len() != len * size {
            return Err(Reason::InvalidValue {
                input: self.name(i),
                why: format!(
                    "buffer holds {} bytes, shape {shape:?} needs {}",
                    bytes.len(),
                    len * size
                ),
            });
        }
        if ty == fb::TensorType::FLOAT32 {
            return Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect());
        }
        let ints: Vec<i32> = if ty == fb::TensorType::INT8 {
            bytes.iter().map(|&b| b as i8 as i32).collect()
        } else if ty == fb::TensorType::UINT8 {
            bytes.iter().map(|&b| b as i32).collect()
        } else {
            bytes
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let Some((scale, zp, dim)) = self.quant(i)? else {
            return Ok(ints.iter().map(|&v| v as f32).collect());
        };
        let inner = if scale.len() == 1 {
            len
        } else {
            if dim >= shape.len() || shape[dim] != scale.len() {
                return Err(Reason::InvalidValue {
                    input: self.name(i),
                    why: format!(
                        "{} scales along dimension {dim} of shape {shape:?}",
                        scale.len()
                    ),
                });
            }
            shape[dim + 1..].iter().product()
        };
        let n = scale.len();
        Ok(ints
            .iter()
            .enumerate()
            .map(|(k, &v)| {
                let c = if n == 1 { 0 } else { (k / inner) % n };
                (v - zp[c]) as f32 * scale[c]
            })
            .collect())
    }

    /// The exact values of an int32 constant (a quantized bias).
    pub fn const_i32(&self, i: usize) -> Result<Option<Vec<i32>>, Reason> {
        if self.tensor(i)?.type_() != fb::TensorType::INT32 || self.folded.contains_key(&i) {
            return Ok(None);
        }
        Ok(Some(
            self.const_ints(i)?.into_iter().map(|v| v as i32).collect(),
        ))
    }

    /// A constant's integer values (shapes, axes, paddings).
    pub fn const_ints(&self, i: usize) -> Result<Vec<i64>, Reason> {
        let t = self.tensor(i)?;
        let bytes = self.data(i)?.ok_or_else(|| Reason::NotConstant {
            input: self.name(i),
            role: "parameter",
        })?;
        match t.type_() {
            fb::TensorType::INT32 => Ok(bytes
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
                .collect()),
            fb::TensorType::INT64 => Ok(bytes
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                .collect()),
            other => Err(Reason::DType {
                value: self.name(i),
                dtype: type_name(other),
                expected: "int32 or int64",
            }),
        }
    }

    /// The kiln tensor of activation `i` in layout `want`, transposing (once) when needed.
    pub fn input(&mut self, i: usize, want: Layout) -> Result<TensorId, Reason> {
        let v = *self.vals.get(&i).ok_or_else(|| Reason::UnknownShape {
            value: self.name(i),
            cause: "no earlier operator computes it".into(),
        })?;
        let to_nchw = want == Layout::Nchw;
        let rank4 = self.g.tensors[v.id].shape.len() == 4;
        if !rank4 || v.nchw == to_nchw {
            return Ok(v.id);
        }
        if let Some(&c) = self.copies.get(&(v.id, to_nchw)) {
            return Ok(c);
        }
        let src = self.g.tensors[v.id].clone();
        let s = &src.shape;
        // Strides of the source, in the order of the copy's dims.
        let (out_shape, strides) = if to_nchw {
            // NHWC source [n, h, w, c] read as [n, c, h, w].
            let (h, w, c) = (s[1], s[2], s[3]);
            (vec![s[0], c, h, w], vec![h * w * c, 1, w * c, c])
        } else {
            // NCHW source [n, c, h, w] read as [n, h, w, c].
            let (c, h, w) = (s[1], s[2], s[3]);
            (vec![s[0], h, w, c], vec![c * h * w, w, 1, h * w])
        };
        let base = self.name(i);
        let name = if to_nchw {
            format!("{base}:nchw")
        } else {
            base.clone()
        };
        let strides: Vec<isize> = strides.iter().map(|&x| x as isize).collect();
        let p = strided_params(&name, &out_shape, &strides, 0)?;
        let mut t = ir::Tensor::act(name, out_shape);
        t.quant = src.quant.clone();
        let y = self.g.add_tensor(t);
        self.g.nodes.push(ir::Node::new(
            format!("{base}:to_{}", if to_nchw { "nchw" } else { "nhwc" }),
            "Transpose",
            KOp::Strided(p).into(),
            vec![v.id],
            vec![y],
        ));
        self.copies.insert((v.id, to_nchw), y);
        Ok(y)
    }

    /// Whether activation `i` is stored NCHW.
    pub fn is_nchw(&self, i: usize) -> bool {
        self.vals.get(&i).is_some_and(|v| v.nchw)
    }

    /// A new kiln tensor for TFLite tensor `i` (an op's output), NCHW when `nchw` and 4-D.
    pub fn output(&mut self, i: usize, nchw: bool) -> Result<TensorId, Reason> {
        let shape = self.shape(i)?;
        checked_len(&self.name(i), &shape)?;
        let nchw = nchw && shape.len() == 4;
        let name = if nchw {
            format!("{}:nchw", self.name(i))
        } else {
            self.name(i)
        };
        let mut t = ir::Tensor::act(name, if nchw { nchw_shape(&shape) } else { shape });
        t.quant = self.act_quant(i)?;
        let id = self.g.add_tensor(t);
        self.vals.insert(i, Val { id, nchw });
        Ok(id)
    }

    /// A new f32 kiln constant (data and shape already in kiln's layout).
    pub fn konst(&mut self, name: String, shape: Vec<usize>, data: Vec<f32>) -> TensorId {
        self.g.add_tensor(ir::Tensor::f32_const(name, shape, data))
    }
}

pub(crate) fn limitation(what: &str) -> Reason {
    Reason::Limitation { what: what.into() }
}

/// Element count with overflow checked.
pub(crate) fn checked_len(name: &str, shape: &[usize]) -> Result<usize, Reason> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= 1 << 31)
        .ok_or_else(|| Reason::Limitation {
            what: format!("`{name}` with shape {shape:?} is too large"),
        })
}

pub(crate) fn type_name(t: fb::TensorType) -> String {
    t.variant_name()
        .map(|s| s.to_lowercase())
        .unwrap_or_else(|| format!("tensor type {}", t.0))
}

/// The builtin operator of an operator code (the schema keeps small codes in
/// `deprecated_builtin_code`).
fn builtin(code: &fb::OperatorCode) -> fb::BuiltinOperator {
    let dep = code.deprecated_builtin_code() as i32;
    let new = code.builtin_code().0;
    fb::BuiltinOperator(dep.max(new))
}

pub(crate) fn builtin_name(op: fb::BuiltinOperator) -> String {
    op.variant_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("BUILTIN_{}", op.0))
}

/// Imports a TFLite file's bytes. See the module docs.
pub fn import(path: &Path, bytes: &[u8], opts: &ImportOptions) -> Result<Imported, ImportError> {
    let model = fb::root_as_model(bytes).map_err(|e| ImportError::NotTflite {
        path: path.into(),
        why: e.to_string(),
    })?;
    let not = |why: &str| ImportError::NotTflite {
        path: path.into(),
        why: why.to_string(),
    };
    let sgs = model.subgraphs().ok_or_else(|| not("no subgraphs"))?;
    if sgs.is_empty() {
        return Err(not("no subgraphs"));
    }
    let sg = sgs.get(0);
    let codes = model.operator_codes();
    let mut f = Front {
        model,
        sg,
        g: ir::Graph::default(),
        vals: HashMap::new(),
        copies: HashMap::new(),
        folded: HashMap::new(),
        quantized: false,
    };
    let version = model.version() as i64;
    let mut problems: Vec<Problem> = vec![];
    let model_problem = |reason| Problem {
        node: path.display().to_string(),
        op_type: "model".into(),
        opset: version,
        reason,
    };
    if sgs.len() > 1 {
        problems.push(model_problem(limitation(
            "more than one subgraph (control flow: IF / WHILE / CALL_ONCE)",
        )));
    }
    let inputs: Vec<usize> = sg
        .inputs()
        .map(|v| v.iter().map(|i| i.max(0) as usize).collect())
        .unwrap_or_default();
    let outputs: Vec<usize> = sg
        .outputs()
        .map(|v| v.iter().map(|i| i.max(0) as usize).collect())
        .unwrap_or_default();
    if outputs.is_empty() {
        return Err(not("the subgraph has no outputs"));
    }
    // Quantized: some activation (a tensor without data) is int8 or uint8.
    let n_tensors = sg.tensors().map(|t| t.len()).unwrap_or(0);
    f.quantized = (0..n_tensors).any(|i| {
        f.tensor(i).is_ok_and(|t| {
            matches!(t.type_(), fb::TensorType::INT8 | fb::TensorType::UINT8)
                && matches!(f.data(i), Ok(None))
        })
    });

    for &i in &inputs {
        let name = f.name(i);
        let problem = |reason| Problem {
            node: name.clone(),
            op_type: "input".into(),
            opset: version,
            reason,
        };
        let shape = match f.shape(i) {
            Ok(s) => s,
            Err(r) => {
                problems.push(problem(r));
                continue;
            }
        };
        if let Some(given) = opts.input_shapes.get(&name) {
            if *given != shape {
                return Err(ImportError::InputShapeMismatch {
                    input: name,
                    given: given.clone(),
                    declared: format!("{shape:?} (TFLite shapes are fixed in the file)"),
                });
            }
        }
        let ty = f.tensor(i).map(|t| t.type_()).unwrap_or_default();
        match ty {
            fb::TensorType::FLOAT32 => {
                let id = f.g.add_tensor(ir::Tensor::act(name, shape));
                f.g.inputs.push(id);
                f.vals.insert(i, Val { id, nchw: false });
            }
            fb::TensorType::INT8 | fb::TensorType::UINT8 => {
                let q = match f.act_quant(i) {
                    Ok(Some(q)) => q,
                    Ok(None) => {
                        problems.push(problem(limitation("int8 input without parameters")));
                        continue;
                    }
                    Err(r) => {
                        problems.push(problem(r));
                        continue;
                    }
                };
                let mut t = ir::Tensor::act(name.clone(), shape.clone());
                t.dtype = DType::I8;
                t.quant = Some(q.clone());
                let unsigned = ty == fb::TensorType::UINT8;
                if unsigned {
                    t.io = Some(ir::IoType::Uint8);
                }
                let x = f.g.add_tensor(t);
                f.g.inputs.push(x);
                // A uint8 input is flipped to int8 (`u - 128`) right away.
                let x = if unsigned {
                    crate::import::flip_uint8_in(
                        &mut f.g,
                        x,
                        format!("{name}:int8"),
                        format!("{name}:to_int8"),
                    )
                } else {
                    x
                };
                let mut d = ir::Tensor::act(format!("{name}:dequantized"), shape);
                d.quant = Some(q);
                let y =
                    f.g.push_boundary(format!("{name}:dequantize"), "DEQUANTIZE", x, d);
                f.vals.insert(i, Val { id: y, nchw: false });
            }
            other => problems.push(problem(Reason::DType {
                value: name.clone(),
                dtype: type_name(other),
                expected: "float32, int8 or uint8",
            })),
        }
    }

    let op_list = sg
        .operators()
        .map(|o| o.iter().collect::<Vec<_>>())
        .unwrap_or_default();
    for (index, op) in op_list.iter().enumerate() {
        let code = codes
            .as_ref()
            .filter(|c| (op.opcode_index() as usize) < c.len())
            .map(|c| c.get(op.opcode_index() as usize));
        let (bop, op_version, custom) = match &code {
            Some(c) => (builtin(c), c.version() as i64, c.custom_code()),
            None => (fb::BuiltinOperator(-1), 0, None),
        };
        let bname = if let Some(cname) = custom.filter(|_| bop == fb::BuiltinOperator::CUSTOM) {
            format!("CUSTOM({cname})")
        } else {
            builtin_name(bop)
        };
        let op_ins: Vec<i32> = op.inputs().map(|v| v.iter().collect()).unwrap_or_default();
        let op_outs: Vec<usize> = op
            .outputs()
            .map(|v| v.iter().filter(|&i| i >= 0).map(|i| i as usize).collect())
            .unwrap_or_default();
        let node_name = format!("{}_{index}", bname.to_lowercase());
        let problem = |reason| Problem {
            node: format!("#{index} {node_name}"),
            op_type: bname.clone(),
            opset: op_version,
            reason,
        };
        let Some(lower) = ops::lowering(bop) else {
            problems.push(problem(if bop == fb::BuiltinOperator::CUSTOM {
                limitation("custom operators have no kiln kernel")
            } else {
                Reason::UnknownOp
            }));
            continue;
        };
        // Ops downstream of a failed one are skipped: the report names root causes.
        let upstream_failed = op_ins
            .iter()
            .any(|&i| i >= 0 && !f.vals.contains_key(&(i as usize)) && !f.is_const(i as usize));
        if upstream_failed {
            continue;
        }
        // Activations kiln computes: float32 and int8 (int16 activations of 16x8 models, uint8 of
        // legacy ones and integer tensors have no kernel).
        let bad_type = op_ins
            .iter()
            .filter(|&&i| i >= 0)
            .map(|&i| i as usize)
            .chain(op_outs.iter().copied())
            .filter(|&i| !f.is_const(i))
            .find_map(|i| {
                let ty = f.tensor(i).ok()?.type_();
                (!matches!(
                    ty,
                    fb::TensorType::FLOAT32 | fb::TensorType::INT8 | fb::TensorType::UINT8
                ))
                .then(|| (f.name(i), ty))
            });
        if let Some((value, ty)) = bad_type {
            problems.push(problem(Reason::DType {
                value,
                dtype: type_name(ty),
                expected: "float32, int8 or uint8 (kiln's activation types)",
            }));
            continue;
        }
        let cx = ops::OpCx {
            op: *op,
            name: node_name.clone(),
            op_type: bname.clone(),
            ins: op_ins,
            outs: op_outs.clone(),
        };
        let before = (f.g.tensors.len(), f.g.nodes.len());
        if let Err(reason) = lower(&mut f, &cx) {
            f.g.tensors.truncate(before.0);
            f.g.nodes.truncate(before.1);
            for o in &op_outs {
                f.vals.remove(o);
            }
            f.copies.retain(|_, c| *c < before.0);
            f.vals.retain(|_, v| v.id < before.0);
            problems.push(problem(reason));
        }
    }

    for &o in &outputs {
        let name = f.name(o);
        let problem = |reason| Problem {
            node: name.clone(),
            op_type: "output".into(),
            opset: version,
            reason,
        };
        if !f.vals.contains_key(&o) {
            if f.is_const(o) {
                problems.push(problem(Reason::OutputIsConstant {
                    output: name.clone(),
                }));
            } else if problems.is_empty() {
                problems.push(problem(Reason::UnknownShape {
                    value: name.clone(),
                    cause: "no operator computes it".into(),
                }));
            }
            continue;
        }
        if inputs.contains(&o) {
            problems.push(problem(Reason::OutputIsInput {
                output: name.clone(),
            }));
            continue;
        }
        match output_value(&mut f, o) {
            Ok(id) => f.g.outputs.push(id),
            Err(r) => problems.push(problem(r)),
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Unsupported {
            path: path.into(),
            problems,
        });
    }
    let description = model.description().unwrap_or("").trim().to_string();
    f.g.meta = ir::ModelMeta {
        producer: if description.is_empty() {
            format!("TFLite schema {version}")
        } else {
            format!("TFLite schema {version} ({description})")
        },
        opset: version,
        quantized: f.quantized,
        notices: vec![],
    };
    let reference = tract_reference(bytes);
    let input_names = inputs.iter().map(|&i| f.name(i)).collect();
    let output_names = outputs.iter().map(|&o| f.name(o)).collect();
    Ok(Imported {
        graph: f.g,
        model: TractModel::tflite(reference, input_names, output_names),
    })
}

/// tract-tflite's model of the file, for the float reference; tract-tflite panics on some valid
/// files (an omitted optional input), which is caught and reported as its failure.
fn tract_reference(bytes: &[u8]) -> Result<tract_onnx::prelude::TypedModel, String> {
    use tract_tflite::internal::tract_core::framework::Framework;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(|| tract_tflite::tflite().model_for_read(&mut &bytes[..]));
    std::panic::set_hook(hook);
    match r {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("tract-tflite panicked reading the file".into()),
    }
}

/// The graph output for TFLite output tensor `o`: in TFLite's layout, named as in the file; an
/// int8 output is the Quantize of the f32 value (a requantize once lowered).
fn output_value(f: &mut Front, o: usize) -> Result<TensorId, Reason> {
    let name = f.name(o);
    let mut id = f.input(o, Layout::Tfl)?;
    if f.g.tensors[id].name != name {
        // An alias (e.g. DEQUANTIZE) or a plain copy: an explicit copy carries the name.
        let src = f.g.tensors[id].clone();
        let p = strided_params(&name, &[src.len()], &[1], 0)?;
        let mut t = ir::Tensor::act(name.clone(), src.shape.clone());
        t.quant = src.quant.clone();
        let y = f.g.add_tensor(t);
        f.g.nodes.push(ir::Node::new(
            format!("{name}:copy"),
            "RESHAPE",
            KOp::Strided(p).into(),
            vec![id],
            vec![y],
        ));
        id = y;
    }
    let ty = f.tensor(o)?.type_();
    match ty {
        fb::TensorType::FLOAT32 => Ok(id),
        fb::TensorType::INT8 | fb::TensorType::UINT8 => {
            let q = f
                .act_quant(o)?
                .ok_or_else(|| limitation("int8 output without parameters"))?;
            let unsigned = ty == fb::TensorType::UINT8;
            f.g.tensors[id].name = format!("{name}:f32");
            let shape = f.g.tensors[id].shape.clone();
            let qname = if unsigned {
                format!("{name}:int8")
            } else {
                name.clone()
            };
            let mut t = ir::Tensor::act(qname, shape);
            t.dtype = DType::I8;
            t.quant = Some(q);
            let y = f.push_quantize(format!("{name}:quantize"), "QUANTIZE", id, t);
            if !unsigned {
                return Ok(y);
            }
            let u =
                crate::import::flip_uint8_in(&mut f.g, y, name.clone(), format!("{name}:to_uint8"));
            f.g.tensors[u].io = Some(ir::IoType::Uint8);
            Ok(u)
        }
        other => Err(Reason::DType {
            value: name,
            dtype: type_name(other),
            expected: "float32, int8 or uint8",
        }),
    }
}
