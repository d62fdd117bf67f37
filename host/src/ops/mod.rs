//! Operator families, one module each: the ONNX and TFLite mappings of its ops, the int8
//! lowering rule and the kernel-parameter builders live together (the MAC count is
//! [`crate::ir::Op::macs`], from the kernel parameters).

pub(crate) mod binary;
pub(crate) mod channel_affine;
pub(crate) mod concat;
pub(crate) mod conv2d;
pub(crate) mod dense;
pub(crate) mod gather;
pub(crate) mod pad;
pub(crate) mod pool2d;
pub(crate) mod reduce;
pub(crate) mod resize;
pub(crate) mod softmax;
pub mod strided;
pub(crate) mod unary;
