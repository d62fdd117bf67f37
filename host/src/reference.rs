//! The float reference: the imported model run by tract (optimized, with the same fixed input
//! shapes as the kiln graph). The numerical contract of DESIGN.md is stated against it.
//!
//! Where tract cannot serve (a quantized TFLite file: tract-tflite's int8 kernels are not
//! TFLite's; a TFLite file tract-tflite cannot read), [`Reference::for_prepared`] falls back to
//! kiln's f32 simulation of the model's float graph (its own weights in f32 arithmetic, the
//! outputs of an int8 model quantized with its own parameters) and says so.

use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use tract_onnx::prelude::{
    DatumType, InferenceModelExt, IntoRunnable, IntoTensor, TValue, Tensor, TractError,
    TypedRunnableModel,
};

use crate::import::{ReferenceSource, TractModel};

/// Why building or running the reference failed.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("tract could not prepare the float reference: {message}")]
    Build {
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the model has {expected} input(s), {got} given")]
    InputCount { expected: usize, got: usize },
    #[error("input `{input}` has shape {got:?}, the model expects {expected:?}")]
    InputShape {
        input: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("tract failed running the float reference: {message}")]
    Run {
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("model output `{output}` has dtype {dtype:?}; the reference returns float32 only")]
    OutputDType { output: String, dtype: DatumType },
}

fn boxed(e: TractError) -> (String, Box<dyn std::error::Error + Send + Sync>) {
    (format!("{e:#}"), e.into())
}

/// What runs the reference.
#[derive(Debug, Clone)]
enum Engine {
    Tract(Arc<TypedRunnableModel>),
    /// kiln's f32 simulation of a float graph and its plan.
    Sim(Arc<(crate::ir::Graph, crate::plan::Plan)>),
}

/// A runnable float reference of the imported model.
#[derive(Debug, Clone)]
pub struct Reference {
    engine: Engine,
    /// Input names and shapes, in model order.
    pub inputs: Vec<(String, Vec<usize>)>,
    /// Element type of each input (int8 / uint8 inputs take their integer values; a quantized
    /// tract type is that integer type with its parameters).
    pub input_types: Vec<DatumType>,
    /// Output names, in model order.
    pub outputs: Vec<String>,
}

impl Reference {
    /// Builds the reference (tract `into_optimized` + `into_runnable`) from an imported model.
    pub fn new(model: &TractModel) -> Result<Reference, ReferenceError> {
        let build = |e: TractError| {
            let (message, source) = boxed(e);
            ReferenceError::Build { message, source }
        };
        let typed = match &model.source {
            ReferenceSource::Onnx(m) => m.clone().into_typed().map_err(build)?,
            ReferenceSource::Tflite(Ok(m)) => m.clone(),
            ReferenceSource::Tflite(Err(message)) => {
                return Err(ReferenceError::Build {
                    message: format!("tract-tflite: {message}"),
                    source: message.clone().into(),
                })
            }
        };
        let mut inputs = vec![];
        let mut input_types = vec![];
        for (ix, name) in model.input_names.iter().enumerate() {
            let fact = typed.input_fact(ix).map_err(build)?;
            input_types.push(fact.datum_type);
            let shape = fact
                .shape
                .as_concrete()
                .map(|s| s.to_vec())
                .unwrap_or_default();
            inputs.push((name.clone(), shape));
        }
        let plan = typed
            .into_optimized()
            .map_err(build)?
            .into_runnable()
            .map_err(build)?;
        Ok(Reference {
            engine: Engine::Tract(plan),
            inputs,
            input_types,
            outputs: model.output_names.clone(),
        })
    }

    /// The reference validate compares with: tract's, or — for a quantized TFLite model, or
    /// one tract-tflite cannot read — kiln's f32 simulation of `p.float_graph`, with a notice
    /// saying which and why.
    pub fn for_prepared(
        p: &crate::deploy::Prepared,
    ) -> Result<(Reference, Option<String>), ReferenceError> {
        let why = match &p.imported.model.source {
            ReferenceSource::Onnx(_) => None,
            ReferenceSource::Tflite(_) if p.float_graph.meta.quantized => Some(
                "the model is an int8 TFLite file (tract-tflite's int8 kernels are not TFLite's); \
                 device vs float measures quantization, not conversion"
                    .to_string(),
            ),
            ReferenceSource::Tflite(Err(e)) => Some(format!(
                "tract-tflite cannot read the file ({e}); device vs float checks kiln's kernels, \
                 not the conversion"
            )),
            ReferenceSource::Tflite(Ok(_)) => None,
        };
        let Some(why) = why else {
            return Ok((Reference::new(&p.imported.model)?, None));
        };
        let (g, plan) = (p.float_graph.clone(), p.float_plan.clone());
        let inputs = g
            .inputs
            .iter()
            .map(|&t| (g.tensors[t].name.clone(), g.tensors[t].shape.clone()))
            .collect();
        let input_types = g
            .inputs
            .iter()
            .map(|&t| match g.tensors[t].dtype {
                crate::ir::DType::I8 => DatumType::I8,
                crate::ir::DType::F32 => DatumType::F32,
            })
            .collect();
        let outputs = g
            .outputs
            .iter()
            .map(|&t| g.tensors[t].name.clone())
            .collect();
        let note =
            format!("float reference: kiln's f32 simulation of the model's float graph: {why}");
        Ok((
            Reference {
                engine: Engine::Sim(Arc::new((g, plan))),
                inputs,
                input_types,
                outputs,
            },
            Some(note),
        ))
    }

    /// Runs one inference. `inputs` are in model order, each with the model input's exact shape.
    pub fn run(&self, inputs: &[ArrayD<f32>]) -> Result<Vec<ArrayD<f32>>, ReferenceError> {
        if inputs.len() != self.inputs.len() {
            return Err(ReferenceError::InputCount {
                expected: self.inputs.len(),
                got: inputs.len(),
            });
        }
        let plan = match &self.engine {
            Engine::Tract(plan) => plan,
            Engine::Sim(gp) => return self.run_sim(&gp.0, &gp.1, inputs),
        };
        let mut values = tract_onnx::prelude::tvec!();
        for ((a, (name, shape)), &dt) in inputs.iter().zip(&self.inputs).zip(&self.input_types) {
            if a.shape() != shape.as_slice() {
                return Err(ReferenceError::InputShape {
                    input: name.clone(),
                    expected: shape.clone(),
                    got: a.shape().to_vec(),
                });
            }
            let data: Vec<f32> = a.iter().copied().collect();
            let t = Tensor::from_shape(shape, &data)
                .and_then(|t| {
                    if dt == DatumType::F32 {
                        Ok(t)
                    } else {
                        // Integer values as given; a quantized type keeps them as its raw values.
                        let mut c = t.cast_to_dt(dt.unquantized())?.into_owned();
                        if dt.is_quantized() {
                            // SAFETY: a quantized type has its unquantized type's size and layout.
                            unsafe { c.set_datum_type(dt) };
                        }
                        Ok(c)
                    }
                })
                .map_err(|e| {
                    let (message, source) = boxed(e);
                    ReferenceError::Run { message, source }
                })?;
            values.push(TValue::from(t));
        }
        let run = |e: TractError| {
            let (message, source) = boxed(e);
            ReferenceError::Run { message, source }
        };
        let outputs = plan.run(values).map_err(run)?;
        let mut result = vec![];
        for (t, name) in outputs.into_iter().zip(&self.outputs) {
            let mut t = t.into_tensor();
            if t.datum_type().is_quantized() {
                // Raw integers, as the model's int8 output holds them.
                let raw = t.datum_type().unquantized();
                // SAFETY: a quantized type has its unquantized type's size and layout.
                unsafe { t.set_datum_type(raw) };
            }
            // Integer outputs (of quantized models) are compared as numbers.
            if matches!(
                t.datum_type(),
                DatumType::I8 | DatumType::U8 | DatumType::I32
            ) {
                t = t.cast_to::<f32>().map_err(run)?.into_owned();
            }
            if t.datum_type() != DatumType::F32 {
                return Err(ReferenceError::OutputDType {
                    output: name.clone(),
                    dtype: t.datum_type(),
                });
            }
            let view = t.try_as_plain_ram().map_err(run)?;
            let data = view.as_slice::<f32>().map_err(run)?.to_vec();
            let a = ArrayD::from_shape_vec(IxDyn(t.shape()), data)
                .map_err(|e| run(TractError::msg(e.to_string())))?;
            result.push(a);
        }
        Ok(result)
    }

    fn run_sim(
        &self,
        g: &crate::ir::Graph,
        plan: &crate::plan::Plan,
        inputs: &[ArrayD<f32>],
    ) -> Result<Vec<ArrayD<f32>>, ReferenceError> {
        let mut flat = vec![];
        for (a, (name, shape)) in inputs.iter().zip(&self.inputs) {
            if a.len() != shape.iter().product::<usize>() {
                return Err(ReferenceError::InputShape {
                    input: name.clone(),
                    expected: shape.clone(),
                    got: a.shape().to_vec(),
                });
            }
            flat.push(a.iter().copied().collect::<Vec<f32>>());
        }
        let refs: Vec<&[f32]> = flat.iter().map(Vec::as_slice).collect();
        let outs = crate::sim::Simulator::new(g, plan).run(&refs);
        outs.into_iter()
            .zip(&g.outputs)
            .map(|(v, &t)| {
                ArrayD::from_shape_vec(IxDyn(&g.tensors[t].shape), v).map_err(|e| {
                    ReferenceError::Run {
                        message: e.to_string(),
                        source: e.to_string().into(),
                    }
                })
            })
            .collect()
    }

    /// Runs on flattened row-major data, one `Vec` per input (each of the input's exact length).
    pub fn run_flat(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>, ReferenceError> {
        let arrays = inputs
            .iter()
            .zip(&self.inputs)
            .map(|(d, (name, shape))| {
                ArrayD::from_shape_vec(IxDyn(shape), d.to_vec()).map_err(|_| {
                    ReferenceError::InputShape {
                        input: name.clone(),
                        expected: shape.clone(),
                        got: vec![d.len()],
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if arrays.len() != self.inputs.len() {
            return Err(ReferenceError::InputCount {
                expected: self.inputs.len(),
                got: inputs.len(),
            });
        }
        Ok(self
            .run(&arrays)?
            .into_iter()
            .map(|a| a.into_iter().collect())
            .collect())
    }
}
