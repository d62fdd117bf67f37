//! Concatenation along one axis (Concat, TFLite CONCATENATION).
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call).

pub(crate) mod onnx;

pub(crate) use onnx::*;
