//! Per-channel affine maps: inference BatchNormalization (folded into the conv or dense before it where it can be).
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call), `int8` (its int8 lowering rule).

pub(crate) mod int8;
pub(crate) mod onnx;

pub(crate) use onnx::*;
