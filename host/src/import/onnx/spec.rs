//! The declarative op table: for each supported ONNX op and opset range, its inputs (which must
//! be constant, which dtypes), outputs and known attributes. Each op family module registers its
//! entries in a `SPECS` slice; [`table`] lists the families explicitly.
//!
//! A node is checked in two steps: [`check_static`] (opset, arity, attribute names — needs only
//! the protobuf) and [`check_values`] (constness, dtypes, known shapes — needs tract's analysis).

use super::cx::{is_int, Cx, NodeCx};
use super::{domain_opset, node_name};
use super::{Problem, Reason};
use tract_onnx::pb;
use tract_onnx::prelude::DatumType;

/// Highest opset kiln's specs have been checked against (ONNX 1.20).
pub const MAX_OPSET: i64 = 25;

/// Lowers one checked node into kiln nodes.
pub(crate) type Lower = fn(&mut Cx, &NodeCx) -> Result<(), Reason>;

/// What an input must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A float32 tensor: an activation, or a constant kept as a constant input.
    F32,
    /// A constant float32 tensor (weights, bias, statistics).
    Weight,
    /// A constant integer tensor (shape, axes, indices, pads, sizes).
    Int,
    /// A constant of any numeric dtype (bounds, scales, flags).
    Const,
}

/// One input slot of an op.
#[derive(Clone, Copy, Debug)]
pub struct In {
    pub name: &'static str,
    pub kind: Kind,
    pub optional: bool,
}

impl In {
    pub const fn f32(name: &'static str) -> In {
        In {
            name,
            kind: Kind::F32,
            optional: false,
        }
    }
    pub const fn weight(name: &'static str) -> In {
        In {
            name,
            kind: Kind::Weight,
            optional: false,
        }
    }
    pub const fn int(name: &'static str) -> In {
        In {
            name,
            kind: Kind::Int,
            optional: false,
        }
    }
    pub const fn konst(name: &'static str) -> In {
        In {
            name,
            kind: Kind::Const,
            optional: false,
        }
    }
    pub const fn opt(self) -> In {
        In {
            optional: true,
            ..self
        }
    }
}

/// One supported ONNX op over an opset range.
pub struct OpSpec {
    pub op_type: &'static str,
    /// Inclusive opset range this entry implements.
    pub opsets: (i64, i64),
    pub inputs: &'static [In],
    /// The last input repeats (Concat).
    pub variadic: bool,
    /// Inclusive range of outputs.
    pub outputs: (usize, usize),
    /// Attributes kiln reads; any other attribute on the node is a problem.
    pub attrs: &'static [&'static str],
    /// The kernel family (module) it lowers to.
    pub family: &'static str,
    pub(crate) lower: Lower,
}

impl std::fmt::Debug for OpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpSpec")
            .field("op_type", &self.op_type)
            .field("opsets", &self.opsets)
            .field("family", &self.family)
            .finish()
    }
}

/// The quantization ops kiln deploys (not in [`table`]: the QDQ pass absorbs `QuantizeLinear` /
/// `DequantizeLinear` pairs, and the integer ops are rewritten into QDQ form before it).
pub fn quant_ops() -> impl Iterator<Item = &'static str> {
    ["QuantizeLinear", "DequantizeLinear"]
        .into_iter()
        .chain(super::qlinear::OPS.iter().copied())
}

/// Every standard-domain op type kiln deploys (sorted, once each): the families' [`table`]
/// and [`quant_ops`]. What conformance runs is derived from this list.
pub fn deployed_ops() -> Vec<&'static str> {
    let mut ops: Vec<&str> = table().map(|s| s.op_type).chain(quant_ops()).collect();
    ops.sort_unstable();
    ops.dedup();
    ops
}

/// Every supported op, family by family.
pub fn table() -> impl Iterator<Item = &'static OpSpec> {
    [
        crate::ops::conv2d::SPECS,
        crate::ops::dense::SPECS,
        crate::ops::binary::SPECS,
        crate::ops::unary::SPECS,
        crate::ops::pool2d::SPECS,
        crate::ops::reduce::SPECS,
        crate::ops::strided::SPECS,
        crate::ops::concat::SPECS,
        crate::ops::gather::SPECS,
        crate::ops::pad::SPECS,
        crate::ops::resize::SPECS,
        crate::ops::softmax::SPECS,
        crate::ops::channel_affine::SPECS,
    ]
    .into_iter()
    .flatten()
}

/// Ops kiln accepts only when their outputs are constant (folded at import).
pub const FOLD_ONLY: &[&str] = &[
    "Constant",
    "ConstantOfShape",
    "Shape",
    "Size",
    "Range",
    "DequantizeLinear",
    "Equal",
    "Where",
    "NonZero",
    "Expand",
    "Tile",
];

/// The spec entry for an op at an opset.
pub fn lookup(domain: &str, op_type: &str, opset: i64) -> Result<&'static OpSpec, Reason> {
    if !(domain.is_empty() || domain == "ai.onnx") {
        return Err(Reason::CustomDomain {
            domain: domain.to_string(),
        });
    }
    let mut entries = table().filter(|s| s.op_type == op_type).peekable();
    if entries.peek().is_none() {
        if FOLD_ONLY.contains(&op_type) {
            return Err(Reason::Limitation {
                what: format!("{op_type} is supported only on constants (folded at build time)"),
            });
        }
        return Err(Reason::UnknownOp);
    }
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for e in entries {
        if (e.opsets.0..=e.opsets.1).contains(&opset) {
            return Ok(e);
        }
        min = min.min(e.opsets.0);
        max = max.max(e.opsets.1);
    }
    Err(Reason::Opset { opset, min, max })
}

/// Arity and attribute-name checks.
pub(crate) fn check_static(spec: &OpSpec, n: &NodeCx) -> Vec<Reason> {
    let mut reasons = vec![];
    let p = n.proto;
    let required = spec.inputs.iter().filter(|i| !i.optional).count();
    let given = p.input.len();
    let max = if spec.variadic {
        usize::MAX
    } else {
        spec.inputs.len()
    };
    if given < required || given > max {
        let expected = if spec.variadic {
            format!("at least {required}")
        } else if required == max {
            format!("{required}")
        } else {
            format!("{required} to {max}")
        };
        reasons.push(Reason::Arity {
            what: "inputs",
            expected,
            actual: given,
        });
    } else {
        for (i, slot) in spec.inputs.iter().enumerate() {
            if !slot.optional && n.input(i).is_none() {
                reasons.push(Reason::Arity {
                    what: "inputs",
                    expected: format!("input #{i} ({}) present", slot.name),
                    actual: given,
                });
            }
        }
        if spec.variadic {
            for i in spec.inputs.len()..given {
                if n.input(i).is_none() {
                    reasons.push(Reason::Arity {
                        what: "inputs",
                        expected: format!("input #{i} present"),
                        actual: given,
                    });
                }
            }
        }
    }
    let outs = p.output.len();
    if outs < spec.outputs.0 || outs > spec.outputs.1 {
        let expected = if spec.outputs.0 == spec.outputs.1 {
            format!("{}", spec.outputs.0)
        } else {
            format!("{} to {}", spec.outputs.0, spec.outputs.1)
        };
        reasons.push(Reason::Arity {
            what: "outputs",
            expected,
            actual: outs,
        });
    }
    for a in &p.attribute {
        if !spec.attrs.contains(&a.name.as_str()) {
            reasons.push(Reason::UnknownAttribute {
                name: a.name.clone(),
            });
        }
    }
    reasons
}

/// Checks that need tract's facts: constness, dtypes, known shapes.
pub(crate) fn check_values(
    spec: &OpSpec,
    n: &NodeCx,
    cx: &Cx,
    analysis_error: Option<&str>,
) -> Vec<Reason> {
    let mut reasons = vec![];
    let unknown = |value: &str| Reason::UnknownShape {
        value: value.to_string(),
        cause: analysis_error
            .map(|e| format!("tract's analysis failed: {e}"))
            .unwrap_or_else(|| "tract's analysis gave no concrete shape".into()),
    };
    for i in 0..n.n_inputs() {
        let Some(name) = n.input(i) else { continue };
        let slot = spec.inputs.get(i).or(if spec.variadic {
            spec.inputs.last()
        } else {
            None
        });
        let Some(slot) = slot else { continue };
        let info = cx.info(name);
        let dtype = info.and_then(|v| v.dtype);
        let is_const = cx.is_const(name);
        let dtype_text = dtype
            .map(super::dtype_name)
            .unwrap_or_else(|| "unknown".into());
        match slot.kind {
            Kind::F32 => {
                let shape_known = cx.shape(name).is_ok();
                if dtype.is_some_and(|d| d != DatumType::F32) {
                    reasons.push(Reason::DType {
                        value: name.to_string(),
                        dtype: dtype_text,
                        expected: "float32",
                    });
                } else if !shape_known {
                    reasons.push(unknown(name));
                }
            }
            Kind::Weight => {
                if !is_const {
                    reasons.push(Reason::NotConstant {
                        input: name.to_string(),
                        role: slot.name,
                    });
                } else if dtype != Some(DatumType::F32) {
                    reasons.push(Reason::DType {
                        value: name.to_string(),
                        dtype: dtype_text,
                        expected: "float32",
                    });
                }
            }
            Kind::Int => {
                if !is_const {
                    reasons.push(Reason::NotConstant {
                        input: name.to_string(),
                        role: slot.name,
                    });
                } else if !dtype.is_some_and(is_int) {
                    reasons.push(Reason::DType {
                        value: name.to_string(),
                        dtype: dtype_text,
                        expected: "an integer tensor",
                    });
                }
            }
            Kind::Const => {
                if !is_const {
                    reasons.push(Reason::NotConstant {
                        input: name.to_string(),
                        role: slot.name,
                    });
                }
            }
        }
    }
    for i in 0..n.proto.output.len() {
        let Some(name) = n.output(i) else { continue };
        if !cx.is_used(name) {
            // Unused optional outputs (MaxPool indices, Dropout mask, BatchNormalization
            // statistics) do not matter; a lowering that cannot produce a used one says so.
            continue;
        }
        // A missing output shape is not a problem yet: most lowerings compute it themselves
        // (and say so when they cannot).
        if let Some(dt) = cx.info(name).and_then(|v| v.dtype) {
            // The int32 result of a rewritten integer op is exact in f32.
            let integral = dt == DatumType::I32 && cx.integral_casts.contains(&n.name);
            if dt != DatumType::F32 && !integral {
                reasons.push(Reason::DType {
                    value: name.to_string(),
                    dtype: super::dtype_name(dt),
                    expected: "float32 (kiln computes float32 activations only)",
                });
            }
        }
    }
    reasons
}

/// Spec checks alone, for when tract cannot parse the model at all.
pub(crate) fn check_without_shapes(proto: &pb::ModelProto) -> Vec<Problem> {
    let mut problems = vec![];
    let Some(graph) = &proto.graph else {
        return problems;
    };
    for (index, node) in graph.node.iter().enumerate() {
        let opset = domain_opset(proto, &node.domain);
        let name = node_name(node, index);
        let reasons = match lookup(&node.domain, &node.op_type, opset) {
            Err(Reason::Limitation { .. }) => vec![],
            Err(r) => vec![r],
            Ok(spec) => check_static(spec, &NodeCx::new(node, name.clone(), opset, spec)),
        };
        problems.extend(reasons.into_iter().map(|reason| Problem {
            node: name.clone(),
            op_type: node.op_type.clone(),
            opset,
            reason,
        }));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opset_ranges_of_one_op_do_not_overlap() {
        let specs: Vec<_> = table().collect();
        for (i, a) in specs.iter().enumerate() {
            assert!(a.opsets.0 <= a.opsets.1, "{}", a.op_type);
            assert!(a.opsets.1 <= MAX_OPSET, "{}", a.op_type);
            for b in &specs[i + 1..] {
                if a.op_type == b.op_type {
                    assert!(
                        a.opsets.1 < b.opsets.0 || b.opsets.1 < a.opsets.0,
                        "{} has overlapping opset ranges",
                        a.op_type
                    );
                }
            }
        }
    }

    #[test]
    fn lookup_reports_opset_range_and_unknown_ops() {
        assert!(lookup("", "Relu", 13).is_ok());
        assert_eq!(lookup("", "NoSuchOp", 13).unwrap_err(), Reason::UnknownOp);
        assert!(matches!(
            lookup("", "HardSwish", 13),
            Err(Reason::Opset { min: 14, .. })
        ));
        assert!(matches!(
            lookup("com.microsoft", "Relu", 1),
            Err(Reason::CustomDomain { .. })
        ));
    }
}
