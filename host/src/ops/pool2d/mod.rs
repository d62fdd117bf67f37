//! 2-D max and average pooling, global pooling included (TFLite AVERAGE_POOL_2D, MAX_POOL_2D).
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call), `tflite` (its TFLite builtins), `int8` (its int8 lowering rule).

pub(crate) mod int8;
pub(crate) mod onnx;
pub(crate) mod tflite;

pub(crate) use onnx::*;
