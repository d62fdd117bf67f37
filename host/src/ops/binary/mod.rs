//! Element-wise binary ops (Add, Sub, Mul, Div, PRelu; TFLite ADD, SUB, MUL, DIV) with broadcasting.
//!
//! The family's home: `onnx` (its ONNX specs and lowering, and the kernel-parameter builders both
//! front ends call).

pub(crate) mod onnx;

pub(crate) use onnx::*;
