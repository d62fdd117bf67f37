//! Data movement as one strided copy: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Slice, Identity (TFLite RESHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE, STRIDED_SLICE).
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call), `tflite` (its TFLite builtins), `int8` (its int8 lowering rule).

pub(crate) mod int8;
pub mod onnx;
pub(crate) mod tflite;

pub use onnx::is_plain_copy;
pub(crate) use onnx::*;
