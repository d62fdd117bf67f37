//! Per-channel affine maps: inference BatchNormalization (folded into the conv or dense before it where it can be).
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call).

pub(crate) mod onnx;

pub(crate) use onnx::*;
