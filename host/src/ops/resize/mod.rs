//! Resize (nearest and linear) through per-axis coordinate tables.
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call), `int8` (its int8 lowering rule).

pub(crate) mod int8;
pub(crate) mod onnx;

pub(crate) use onnx::*;
