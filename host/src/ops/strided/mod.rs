//! Data movement as one strided copy: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Slice, Identity (TFLite RESHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE, STRIDED_SLICE).
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call).

pub mod onnx;

pub(crate) use onnx::*;
pub use onnx::is_plain_copy;
