//! Sample data files (DESIGN.md "Data").
//!
//! Inputs: `.npz` keyed by ONNX input names, or `.npy` for a single-input model. Each array is
//! `[N, *shape]` where `shape` is the model input's shape (batch fixed to 1); when the model's
//! leading dimension is 1 and the array has the model's rank, the leading axis is the sample axis
//! (`[N, 64]` is accepted for `[1, 64]`). float32 is read as is, float64 is converted, integer
//! and bool arrays only when every value converts exactly. Labels (classifiers): an integer `[N]`
//! array under `labels` (or the key given with `--labels`).
//!
//! Outputs: `.npz` keyed by ONNX output names, each `[N, *output_shape]`, float32.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn, OwnedRepr};
use ndarray_npy::{NpzReader, NpzWriter, ReadNpyError, ReadNpyExt, ReadNpzError};

/// Why reading or writing a data file failed.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(
        "{path}: input `{input}` is int8 here (scale {scale}, zero point {zero_point}) but the \
         data holds {found}; quantize it first: q = round(x / scale) + zero point"
    )]
    NotQuantized {
        path: PathBuf,
        input: String,
        scale: f32,
        zero_point: i32,
        found: String,
    },
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid .npz file")]
    Npz {
        path: PathBuf,
        #[source]
        source: ReadNpzError,
    },
    #[error("{path}: cannot read array `{key}`")]
    Npy {
        path: PathBuf,
        key: String,
        #[source]
        source: ReadNpyError,
    },
    #[error("{path} has no array `{key}` (arrays present: {})", present.join(", "))]
    MissingKey {
        path: PathBuf,
        key: String,
        present: Vec<String>,
    },
    #[error("{path}: array `{key}` has dtype {dtype}; expected {expected}")]
    DType {
        path: PathBuf,
        key: String,
        dtype: String,
        expected: &'static str,
    },
    #[error("{path}: array `{key}` ({dtype}) holds {value}, which is not exactly representable as {target}")]
    Lossy {
        path: PathBuf,
        key: String,
        dtype: String,
        value: String,
        target: &'static str,
    },
    #[error("{path}: array `{key}` has shape {got:?}; expected {expected}")]
    Shape {
        path: PathBuf,
        key: String,
        got: Vec<usize>,
        expected: String,
    },
    #[error("{path}: the arrays disagree on the number of samples ({})", counts.iter().map(|(k, n)| format!("{k}: {n}")).collect::<Vec<_>>().join(", "))]
    SampleCount {
        path: PathBuf,
        counts: Vec<(String, usize)>,
    },
    #[error("{path} is a .npy file, but the model has {} inputs ({}); use a .npz keyed by input name", inputs.len(), inputs.join(", "))]
    NpyForManyInputs { path: PathBuf, inputs: Vec<String> },
    #[error("{path} holds no samples")]
    NoSamples { path: PathBuf },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Which labels to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Labels {
    /// The `labels` array when present.
    #[default]
    Default,
    /// A key the user named (`--labels KEY`): an error when missing.
    Key(String),
    /// Do not read labels.
    None,
}

/// Options for [`load_samples`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub labels: Labels,
    /// Keep only the first `limit` samples (`--limit N`).
    pub limit: Option<usize>,
}

/// A model input as the data loader needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    pub name: String,
    /// The input's shape (batch fixed, usually 1).
    pub shape: Vec<usize>,
}

impl InputSpec {
    /// The graph inputs of an imported model, in order.
    pub fn of_graph(g: &crate::ir::Graph) -> Vec<InputSpec> {
        g.inputs
            .iter()
            .map(|&t| InputSpec {
                name: g.tensors[t].name.clone(),
                shape: g.tensors[t].shape.clone(),
            })
            .collect()
    }
}

/// Samples read from an input file.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    /// Number of samples.
    pub n: usize,
    /// Per model input, in model order: the `n` samples flattened row-major, `n * len` values
    /// where `len` is the product of `specs[i].shape`.
    pub inputs: Vec<Vec<f32>>,
    /// The model inputs the data was read for.
    pub specs: Vec<InputSpec>,
    /// Labels, one per sample, when read.
    pub labels: Option<Vec<i64>>,
}

impl Samples {
    /// Sample `i` of input `input` (`input`'s shape, row-major).
    pub fn sample(&self, input: usize, i: usize) -> &[f32] {
        let len: usize = self.specs[input].shape.iter().product();
        &self.inputs[input][i * len..(i + 1) * len]
    }

    /// Sample `i` of every input, in model order.
    pub fn sample_all(&self, i: usize) -> Vec<&[f32]> {
        (0..self.inputs.len()).map(|k| self.sample(k, i)).collect()
    }
}

/// Checks that the samples of every int8 graph input of `g` are integers in its range
/// (`-128..=127`, or `0..=255` for a uint8 one): int8 data is never quantized silently.
pub fn check_int8_inputs(
    path: &Path,
    samples: &Samples,
    g: &crate::ir::Graph,
) -> Result<(), DataError> {
    for (k, &t) in g.inputs.iter().enumerate() {
        let tensor = &g.tensors[t];
        if tensor.dtype != crate::ir::DType::I8 {
            continue;
        }
        let (lo, hi) = if tensor.io == Some(crate::ir::IoType::Uint8) {
            (0.0, 255.0)
        } else {
            (-128.0, 127.0)
        };
        if let Some(v) = samples.inputs[k]
            .iter()
            .find(|v| v.fract() != 0.0 || **v < lo || **v > hi)
        {
            let (scale, zero_point) = tensor.quant.as_ref().map_or((1.0, 0), |q| q.one());
            return Err(DataError::NotQuantized {
                path: path.into(),
                input: tensor.name.clone(),
                scale,
                zero_point,
                found: format!("the value {v}"),
            });
        }
    }
    Ok(())
}

/// `values` for graph input `t`: as they are for an f32 input or integer data; float data of an
/// int8 input quantized with its parameters (ONNX QuantizeLinear rounding).
pub fn as_input_values(t: &crate::ir::Tensor, values: &[f32]) -> Vec<f32> {
    if t.dtype != crate::ir::DType::I8 || values.iter().all(|v| v.fract() == 0.0) {
        return values.to_vec();
    }
    let (scale, zp) = t.quant.as_ref().map_or((1.0, 0), |q| q.one());
    values
        .iter()
        .map(|&v| kiln_kernels::i8::quantize_f32(v, scale, zp) as f32)
        .collect()
}

/// [`load_samples`] for the inputs of `graph`, with the default options (labels read when
/// present, no limit).
pub fn load_inputs(path: &Path, graph: &crate::ir::Graph) -> Result<Samples, DataError> {
    load_samples(path, &InputSpec::of_graph(graph), &LoadOptions::default())
}

/// An array read with whatever numeric dtype it was stored in.
enum AnyArray {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    I32(ArrayD<i32>),
    I16(ArrayD<i16>),
    I8(ArrayD<i8>),
    U64(ArrayD<u64>),
    U32(ArrayD<u32>),
    U16(ArrayD<u16>),
    U8(ArrayD<u8>),
    Bool(ArrayD<bool>),
}

impl AnyArray {
    fn shape(&self) -> &[usize] {
        match self {
            AnyArray::F32(a) => a.shape(),
            AnyArray::F64(a) => a.shape(),
            AnyArray::I64(a) => a.shape(),
            AnyArray::I32(a) => a.shape(),
            AnyArray::I16(a) => a.shape(),
            AnyArray::I8(a) => a.shape(),
            AnyArray::U64(a) => a.shape(),
            AnyArray::U32(a) => a.shape(),
            AnyArray::U16(a) => a.shape(),
            AnyArray::U8(a) => a.shape(),
            AnyArray::Bool(a) => a.shape(),
        }
    }

    fn dtype(&self) -> &'static str {
        match self {
            AnyArray::F32(_) => "float32",
            AnyArray::F64(_) => "float64",
            AnyArray::I64(_) => "int64",
            AnyArray::I32(_) => "int32",
            AnyArray::I16(_) => "int16",
            AnyArray::I8(_) => "int8",
            AnyArray::U64(_) => "uint64",
            AnyArray::U32(_) => "uint32",
            AnyArray::U16(_) => "uint16",
            AnyArray::U8(_) => "uint8",
            AnyArray::Bool(_) => "bool",
        }
    }

    /// Row-major f32 values: float64 rounded, integers only when exact.
    fn to_f32(&self, path: &Path, key: &str) -> Result<Vec<f32>, DataError> {
        fn ints<T: Copy + Into<i128> + std::fmt::Display>(
            a: &ArrayD<T>,
            path: &Path,
            key: &str,
            dtype: &str,
        ) -> Result<Vec<f32>, DataError> {
            a.iter()
                .map(|&v| {
                    let f = v.into() as f32;
                    if f as i128 == v.into() {
                        Ok(f)
                    } else {
                        Err(DataError::Lossy {
                            path: path.into(),
                            key: key.into(),
                            dtype: dtype.into(),
                            value: v.to_string(),
                            target: "float32",
                        })
                    }
                })
                .collect()
        }
        let dt = self.dtype();
        Ok(match self {
            AnyArray::F32(a) => a.iter().copied().collect(),
            AnyArray::F64(a) => a.iter().map(|&v| v as f32).collect(),
            AnyArray::I64(a) => ints(a, path, key, dt)?,
            AnyArray::I32(a) => ints(a, path, key, dt)?,
            AnyArray::I16(a) => ints(a, path, key, dt)?,
            AnyArray::I8(a) => ints(a, path, key, dt)?,
            AnyArray::U64(a) => ints(a, path, key, dt)?,
            AnyArray::U32(a) => ints(a, path, key, dt)?,
            AnyArray::U16(a) => ints(a, path, key, dt)?,
            AnyArray::U8(a) => ints(a, path, key, dt)?,
            AnyArray::Bool(a) => a.iter().map(|&b| b as u8 as f32).collect(),
        })
    }

    /// Integer values (labels): integers as they are, floats only when integral.
    fn to_i64(&self, path: &Path, key: &str) -> Result<Vec<i64>, DataError> {
        let lossy = |value: String| DataError::Lossy {
            path: path.into(),
            key: key.into(),
            dtype: self.dtype().into(),
            value,
            target: "int64",
        };
        fn conv<T: Copy + TryInto<i64> + std::fmt::Display>(
            a: &ArrayD<T>,
            lossy: &dyn Fn(String) -> DataError,
        ) -> Result<Vec<i64>, DataError> {
            a.iter()
                .map(|&v| v.try_into().map_err(|_| lossy(v.to_string())))
                .collect()
        }
        match self {
            AnyArray::I64(a) => Ok(a.iter().copied().collect()),
            AnyArray::I32(a) => conv(a, &lossy),
            AnyArray::I16(a) => conv(a, &lossy),
            AnyArray::I8(a) => conv(a, &lossy),
            AnyArray::U64(a) => conv(a, &lossy),
            AnyArray::U32(a) => conv(a, &lossy),
            AnyArray::U16(a) => conv(a, &lossy),
            AnyArray::U8(a) => conv(a, &lossy),
            _ => Err(DataError::DType {
                path: path.into(),
                key: key.into(),
                dtype: self.dtype().into(),
                expected: "an integer dtype (int64) for labels",
            }),
        }
    }
}

/// Tries each element type in turn until the array's descriptor matches.
macro_rules! read_any {
    ($read:ident, $wrong:pat, $($t:ty => $v:ident),*) => {{
        let mut wrong = vec![];
        $(
            match $read!($t) {
                Ok(a) => return Ok(AnyArray::$v(a)),
                Err(e @ $wrong) => wrong.push(e),
                Err(e) => return Err(e),
            }
        )*
        // Every dtype was tried, so `wrong` holds the last descriptor mismatch.
        Err(wrong.pop().expect("at least one dtype tried"))
    }};
}

fn read_npy_bytes(bytes: &[u8]) -> Result<AnyArray, ReadNpyError> {
    macro_rules! read {
        ($t:ty) => {
            ArrayD::<$t>::read_npy(Cursor::new(bytes))
        };
    }
    read_any!(read, ReadNpyError::WrongDescriptor(_), f32 => F32, f64 => F64, i64 => I64,
        i32 => I32, i16 => I16, i8 => I8, u64 => U64, u32 => U32, u16 => U16, u8 => U8,
        bool => Bool)
}

fn read_npz_member(
    r: &mut NpzReader<Cursor<Vec<u8>>>,
    key: &str,
) -> Result<AnyArray, ReadNpzError> {
    macro_rules! read {
        ($t:ty) => {
            r.by_name::<OwnedRepr<$t>, IxDyn>(key)
        };
    }
    read_any!(read, ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_)), f32 => F32, f64 => F64,
        i64 => I64, i32 => I32, i16 => I16, i8 => I8, u64 => U64, u32 => U32, u16 => U16,
        u8 => U8, bool => Bool)
}

fn npy_error(path: &Path, key: &str, e: ReadNpyError) -> DataError {
    match e {
        ReadNpyError::WrongDescriptor(d) => DataError::DType {
            path: path.into(),
            key: key.into(),
            dtype: d.to_string(),
            expected: "a float, integer or bool dtype",
        },
        source => DataError::Npy {
            path: path.into(),
            key: key.into(),
            source,
        },
    }
}

/// Reads every needed array of an `.npz` (or the single array of an `.npy`).
struct DataFile {
    path: PathBuf,
    kind: FileKind,
}

enum FileKind {
    Npy(Vec<u8>),
    Npz(NpzReader<Cursor<Vec<u8>>>, Vec<String>),
}

impl DataFile {
    fn open(path: &Path) -> Result<DataFile, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })?;
        let is_npy = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
            || bytes.starts_with(b"\x93NUMPY");
        let kind = if is_npy {
            FileKind::Npy(bytes)
        } else {
            let mut r = NpzReader::new(Cursor::new(bytes)).map_err(|source| DataError::Npz {
                path: path.into(),
                source,
            })?;
            let names = r.names().map_err(|source| DataError::Npz {
                path: path.into(),
                source,
            })?;
            FileKind::Npz(r, names)
        };
        Ok(DataFile {
            path: path.into(),
            kind,
        })
    }

    fn keys(&self) -> Vec<String> {
        match &self.kind {
            FileKind::Npy(_) => vec![],
            FileKind::Npz(_, names) => names.clone(),
        }
    }

    fn has(&self, key: &str) -> bool {
        match &self.kind {
            FileKind::Npy(_) => false,
            FileKind::Npz(_, names) => names.iter().any(|n| n == key),
        }
    }

    fn read(&mut self, key: &str) -> Result<AnyArray, DataError> {
        let path = self.path.clone();
        match &mut self.kind {
            FileKind::Npy(bytes) => read_npy_bytes(bytes).map_err(|e| npy_error(&path, key, e)),
            FileKind::Npz(r, names) => {
                if !names.iter().any(|n| n == key) {
                    return Err(DataError::MissingKey {
                        path,
                        key: key.into(),
                        present: names.clone(),
                    });
                }
                read_npz_member(r, key).map_err(|e| match e {
                    ReadNpzError::Npy(e) => npy_error(&path, key, e),
                    source => DataError::Npz {
                        path: path.clone(),
                        source,
                    },
                })
            }
        }
    }
}

/// The shape of every array in a data file, by key (`""` for a `.npy` file's one array).
pub fn array_shapes(path: &Path) -> Result<Vec<(String, Vec<usize>)>, DataError> {
    let mut file = DataFile::open(path)?;
    if let FileKind::Npy(_) = file.kind {
        return Ok(vec![(String::new(), file.read("")?.shape().to_vec())]);
    }
    let mut out = vec![];
    for key in file.keys() {
        let shape = file.read(&key)?.shape().to_vec();
        out.push((key, shape));
    }
    Ok(out)
}

/// Splits an array `[N, *shape]` (or `[N, *shape[1..]]` when `shape[0] == 1`) into N samples.
fn sample_count(
    path: &Path,
    key: &str,
    got: &[usize],
    shape: &[usize],
) -> Result<usize, DataError> {
    if got.len() == shape.len() + 1 && got[1..] == *shape {
        return Ok(got[0]);
    }
    if !shape.is_empty() && shape[0] == 1 && got.len() == shape.len() && got[1..] == shape[1..] {
        return Ok(got[0]);
    }
    let dims = |s: &[usize]| {
        s.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut expected = format!("[N, {}]", dims(shape));
    if !shape.is_empty() && shape[0] == 1 {
        expected += &format!(" or [N, {}]", dims(&shape[1..]));
    }
    Err(DataError::Shape {
        path: path.into(),
        key: key.into(),
        got: got.to_vec(),
        expected,
    })
}

/// Loads the samples for `inputs` (the model inputs, in order) from `path`.
pub fn load_samples(
    path: &Path,
    inputs: &[InputSpec],
    opts: &LoadOptions,
) -> Result<Samples, DataError> {
    let mut file = DataFile::open(path)?;
    if matches!(file.kind, FileKind::Npy(_)) && inputs.len() != 1 {
        return Err(DataError::NpyForManyInputs {
            path: path.into(),
            inputs: inputs.iter().map(|i| i.name.clone()).collect(),
        });
    }
    let mut counts = vec![];
    let mut data = vec![];
    for spec in inputs {
        let arr = file.read(&spec.name)?;
        let n = sample_count(path, &spec.name, arr.shape(), &spec.shape)?;
        counts.push((spec.name.clone(), n));
        data.push(arr.to_f32(path, &spec.name)?);
    }
    let labels = match &opts.labels {
        Labels::None => None,
        Labels::Default if !file.has("labels") => None,
        Labels::Default => Some("labels".to_string()),
        Labels::Key(k) => {
            if matches!(file.kind, FileKind::Npy(_)) || !file.has(k) {
                return Err(DataError::MissingKey {
                    path: path.into(),
                    key: k.clone(),
                    present: file.keys(),
                });
            }
            Some(k.clone())
        }
    };
    let labels = match labels {
        None => None,
        Some(key) => {
            let arr = file.read(&key)?;
            if arr.shape().len() != 1 {
                return Err(DataError::Shape {
                    path: path.into(),
                    key: key.clone(),
                    got: arr.shape().to_vec(),
                    expected: "[N]".into(),
                });
            }
            counts.push((key.clone(), arr.shape()[0]));
            Some(arr.to_i64(path, &key)?)
        }
    };
    let n = counts.first().map(|c| c.1).unwrap_or(0);
    if counts.iter().any(|c| c.1 != n) {
        return Err(DataError::SampleCount {
            path: path.into(),
            counts,
        });
    }
    if n == 0 {
        return Err(DataError::NoSamples { path: path.into() });
    }
    let keep = opts.limit.map_or(n, |l| l.min(n));
    for (d, spec) in data.iter_mut().zip(inputs) {
        let len: usize = spec.shape.iter().product();
        d.truncate(keep * len);
    }
    let labels = labels.map(|mut l| {
        l.truncate(keep);
        l
    });
    Ok(Samples {
        n: keep,
        inputs: data,
        specs: inputs.to_vec(),
        labels,
    })
}

/// One model output to write: its ONNX name, its shape (batch fixed) and the `n` samples'
/// values flattened row-major (`n * len`).
#[derive(Clone, Debug)]
pub struct OutputData<'a> {
    pub name: &'a str,
    pub shape: &'a [usize],
    pub values: &'a [f32],
    /// Element type written (the model output's).
    pub elem: OutElem,
}

/// Element type of a written output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutElem {
    F32,
    I8,
    U8,
    I32,
}

impl OutElem {
    /// The element type a graph output tensor has for the user.
    pub fn of(t: &crate::ir::Tensor) -> OutElem {
        use crate::ir::{DType, IoType};
        match (t.dtype, t.io) {
            (DType::F32, Some(IoType::Int32)) => OutElem::I32,
            (DType::F32, _) => OutElem::F32,
            (DType::I8, Some(IoType::Uint8)) => OutElem::U8,
            (DType::I8, _) => OutElem::I8,
        }
    }
}

/// Writes outputs to `path` as `.npz`, each `[N, *shape]` in its element type (values of
/// integer outputs are exact integers).
pub fn write_outputs(path: &Path, n: usize, outputs: &[OutputData]) -> Result<(), DataError> {
    let write_err = |e: Box<dyn std::error::Error + Send + Sync>| DataError::Write {
        path: path.into(),
        source: e,
    };
    let file = std::fs::File::create(path).map_err(|e| write_err(e.into()))?;
    let mut w = NpzWriter::new(file);
    for o in outputs {
        let mut shape = vec![n];
        shape.extend_from_slice(o.shape);
        let a = ArrayD::from_shape_vec(IxDyn(&shape), o.values.to_vec())
            .map_err(|e| write_err(e.into()))?;
        match o.elem {
            OutElem::F32 => w.add_array(o.name, &a),
            OutElem::I8 => w.add_array(o.name, &a.mapv(|v| v as i8)),
            OutElem::U8 => w.add_array(o.name, &a.mapv(|v| v as u8)),
            OutElem::I32 => w.add_array(o.name, &a.mapv(|v| v as i32)),
        }
        .map_err(|e| write_err(e.into()))?;
    }
    w.finish().map_err(|e| write_err(e.into()))?;
    Ok(())
}
