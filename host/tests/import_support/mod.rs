//! Shared helpers for the `import_*` tests: a small ONNX model builder on tract's prost types, an
//! IR interpreter over the real kiln kernels, and comparison with the tract float reference.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kiln::import::{import, ImportOptions, Imported};
use kiln::ir::Graph;
use kiln::reference::Reference;
use prost::Message;
use tract_onnx::pb::{
    self,
    attribute_proto::AttributeType,
    tensor_shape_proto::{dimension::Value as DimValue, Dimension},
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};

/// A declared input dimension.
pub enum D {
    N(i64),
    S(&'static str),
}

pub fn float_type(dims: Option<&[D]>, elem: i32) -> TypeProto {
    TypeProto {
        value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
            elem_type: elem,
            shape: dims.map(|dims| TensorShapeProto {
                dim: dims
                    .iter()
                    .map(|d| Dimension {
                        value: Some(match d {
                            D::N(n) => DimValue::DimValue(*n),
                            D::S(s) => DimValue::DimParam(s.to_string()),
                        }),
                        ..Default::default()
                    })
                    .collect(),
            }),
        })),
        ..Default::default()
    }
}

pub const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
pub const INT64: i32 = pb::tensor_proto::DataType::Int64 as i32;
pub const INT8: i32 = pb::tensor_proto::DataType::Int8 as i32;

/// Builder for small ONNX models.
pub struct M {
    g: GraphProto,
    opset: i64,
}

impl M {
    pub fn new(opset: i64) -> M {
        M {
            g: GraphProto {
                name: "test".into(),
                ..Default::default()
            },
            opset,
        }
    }

    pub fn input(self, name: &str, dims: &[D]) -> M {
        self.input_typed(name, FLOAT, Some(dims))
    }

    pub fn input_typed(mut self, name: &str, elem: i32, dims: Option<&[D]>) -> M {
        self.g.input.push(ValueInfoProto {
            name: name.into(),
            r#type: Some(float_type(dims, elem)),
            ..Default::default()
        });
        self
    }

    pub fn output(self, name: &str) -> M {
        self.output_typed(name, FLOAT)
    }

    pub fn output_typed(mut self, name: &str, elem: i32) -> M {
        self.g.output.push(ValueInfoProto {
            name: name.into(),
            r#type: Some(float_type(None, elem)),
            ..Default::default()
        });
        self
    }

    /// An initializer of any element type from its little-endian bytes.
    pub fn init_raw(mut self, name: &str, elem: i32, dims: &[i64], raw: Vec<u8>) -> M {
        self.g.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: elem,
            raw_data: raw,
            ..Default::default()
        });
        self
    }

    pub fn init(mut self, name: &str, dims: &[i64], data: Vec<f32>) -> M {
        assert_eq!(dims.iter().product::<i64>() as usize, data.len(), "{name}");
        self.g.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: FLOAT,
            float_data: data,
            ..Default::default()
        });
        self
    }

    pub fn init_i64(mut self, name: &str, dims: &[i64], data: Vec<i64>) -> M {
        self.g.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: INT64,
            int64_data: data,
            ..Default::default()
        });
        self
    }

    pub fn init_i8(mut self, name: &str, dims: &[i64], data: Vec<i8>) -> M {
        self.g.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: INT8,
            raw_data: data.iter().map(|&v| v as u8).collect(),
            ..Default::default()
        });
        self
    }

    pub fn node(mut self, op: &str, ins: &[&str], outs: &[&str], attrs: Vec<AttributeProto>) -> M {
        let name = format!("{}_{}", op.to_lowercase(), self.g.node.len());
        self.g.node.push(NodeProto {
            name,
            op_type: op.into(),
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: outs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
        self
    }

    pub fn proto(self) -> ModelProto {
        ModelProto {
            ir_version: 8,
            producer_name: "kiln-tests".into(),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            graph: Some(self.g),
            ..Default::default()
        }
    }

    /// Writes the model to `dir/name.onnx`.
    pub fn save(self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.onnx"));
        std::fs::write(&path, self.proto().encode_to_vec()).unwrap();
        path
    }
}

pub fn ai(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}
pub fn af(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}
pub fn as_(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}
pub fn ais(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}
pub fn afs(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Floats as i32,
        floats: v.to_vec(),
        ..Default::default()
    }
}
/// A tensor-valued attribute (Constant's `value`).
pub fn at_f32(name: &str, dims: &[i64], data: Vec<f32>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(TensorProto {
            dims: dims.to_vec(),
            data_type: FLOAT,
            float_data: data,
            ..Default::default()
        }),
        ..Default::default()
    }
}
pub fn at_i64(name: &str, dims: &[i64], data: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(TensorProto {
            dims: dims.to_vec(),
            data_type: INT64,
            int64_data: data,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Deterministic pseudo-random values in [-1, 1).
pub fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Runs the kiln graph on the real kernels, node by node (no planning: one buffer per tensor).
pub fn run_ir(g: &Graph, inputs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut bufs: Vec<Vec<f32>> = g
        .tensors
        .iter()
        .map(|t| t.data.clone().unwrap_or_else(|| vec![f32::NAN; t.len()]))
        .collect();
    for (&t, x) in g.inputs.iter().zip(inputs) {
        assert_eq!(bufs[t].len(), x.len(), "input {}", g.tensors[t].name);
        bufs[t] = x.clone();
    }
    for n in &g.nodes {
        let ins: Vec<Vec<f32>> = n.inputs.iter().map(|&t| bufs[t].clone()).collect();
        let ins_ref: Vec<&[f32]> = ins.iter().map(|v| v.as_slice()).collect();
        let mut outs: Vec<Vec<f32>> = n
            .outputs
            .iter()
            .map(|&t| vec![f32::NAN; g.tensors[t].len()])
            .collect();
        {
            let mut outs_ref: Vec<&mut [f32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
            let op = n.op.f32().expect("import makes f32 nodes");
            kiln_kernels::f32::run(op, &ins_ref, &n.idx, &mut outs_ref);
        }
        for (&t, o) in n.outputs.iter().zip(outs) {
            bufs[t] = o;
        }
    }
    g.outputs.iter().map(|&t| bufs[t].clone()).collect()
}

/// Asserts the f32 contract of DESIGN.md element-wise.
pub fn assert_close(what: &str, kiln: &[f32], tract: &[f32]) {
    assert_eq!(kiln.len(), tract.len(), "{what}: lengths differ");
    for (i, (k, t)) in kiln.iter().zip(tract).enumerate() {
        let tol = 1e-5 + 1e-4 * t.abs();
        assert!(
            (k - t).abs() <= tol,
            "{what}: element {i}: kiln {k} vs tract {t} (|diff| {} > {tol})",
            (k - t).abs()
        );
    }
}

pub fn import_ok(path: &Path, opts: &ImportOptions) -> Imported {
    match import(path, opts) {
        Ok(i) => i,
        Err(e) => panic!("import of {} failed: {e}", path.display()),
    }
}

/// Imports, runs the kiln graph (as imported, and optimized) and tract on random inputs, and
/// checks both against tract. Returns the imported model and the optimized graph.
pub fn check_model(path: &Path, opts: &ImportOptions, seed: u64) -> (Imported, Graph) {
    let imported = import_ok(path, opts);
    let reference = Reference::new(&imported.model).expect("reference");
    let g = &imported.graph;
    let inputs: Vec<Vec<f32>> = g
        .inputs
        .iter()
        .enumerate()
        .map(|(i, &t)| rand_vec(g.tensors[t].len(), seed + i as u64))
        .collect();
    let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
    let expected = reference.run_flat(&refs).expect("tract run");
    let got = run_ir(g, &inputs);
    for (k, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert_close(&format!("{} output {k} (imported)", path.display()), a, b);
    }
    let mut opt = g.clone();
    kiln::optimize::optimize(&mut opt);
    let got = run_ir(&opt, &inputs);
    for (k, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert_close(&format!("{} output {k} (optimized)", path.display()), a, b);
    }
    (imported, opt)
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
