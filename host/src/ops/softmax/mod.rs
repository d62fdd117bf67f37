//! Softmax along one axis (Softmax, TFLite SOFTMAX).
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call), `tflite` (its TFLite builtins), `int8` (its int8 lowering rule).

pub(crate) mod int8;
pub(crate) mod onnx;
pub(crate) mod tflite;

pub(crate) use onnx::*;
