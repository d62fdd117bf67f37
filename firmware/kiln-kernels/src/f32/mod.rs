//! f32 kernels.
//!
//! Layout contract: every tensor is dense, row-major, NCHW for images (ONNX's own layout); conv
//! weights are `[out_c, in_c / groups, k_h, k_w]`; dense weights are `[k, n]` (already transposed by
//! the host when the ONNX node had `transB`).
//!
//! Parameter types hold only integers, floats, bools and fixed arrays (no nested enums, no slices),
//! so their `Debug` text is a valid Rust literal that codegen emits as a `const` (with
//! `use kiln_kernels::f32::*;` in scope). Every shape-dependent number is computed on the host.

pub mod ops;

pub use ops::*;

/// Maximum tensor rank the shape-generic kernels accept.
pub const MAX_RANK: usize = 6;

/// Fused activation applied to each output element, after the whole sum (bias included). An
/// unknown `kind` is the identity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Act {
    /// One of the `ACT_*` constants.
    pub kind: u8,
    /// Clip min / LeakyRelu alpha / HardSigmoid alpha.
    pub a: f32,
    /// Clip max / HardSigmoid beta.
    pub b: f32,
}

pub const ACT_NONE: u8 = 0;
pub const ACT_RELU: u8 = 1;
/// `min(max(x, a), b)`.
pub const ACT_CLIP: u8 = 2;
/// `x < 0 ? a * x : x` (LeakyRelu; the kind the `a` field's "LeakyRelu alpha" refers to).
pub const ACT_LEAKY_RELU: u8 = 3;
/// `max(0, min(1, a * x + b))` (HardSigmoid; the kind the fields' "HardSigmoid alpha / beta" refer
/// to).
pub const ACT_HARD_SIGMOID: u8 = 4;

impl Act {
    pub const NONE: Act = Act {
        kind: ACT_NONE,
        a: 0.0,
        b: 0.0,
    };
    pub const RELU: Act = Act {
        kind: ACT_RELU,
        a: 0.0,
        b: 0.0,
    };
    pub const fn clip(min: f32, max: f32) -> Act {
        Act {
            kind: ACT_CLIP,
            a: min,
            b: max,
        }
    }
    pub const fn leaky_relu(alpha: f32) -> Act {
        Act {
            kind: ACT_LEAKY_RELU,
            a: alpha,
            b: 0.0,
        }
    }
    pub const fn hard_sigmoid(alpha: f32, beta: f32) -> Act {
        Act {
            kind: ACT_HARD_SIGMOID,
            a: alpha,
            b: beta,
        }
    }
}

/// 2-D convolution (1-D convs use `in_h = k_h = out_h = 1`).
/// Inputs: `x [batch, in_c, in_h, in_w]`, `w [out_c, in_c/groups, k_h, k_w]`, optional `bias [out_c]`.
/// Output: `[batch, out_c, out_h, out_w]`. Padding cells read as 0.
///
/// Only the top / left pads are given; the bottom / right ones are implied by `out_h` / `out_w`
/// (taps past the input are skipped). Accumulation order: see [`conv2d`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2dP {
    pub batch: u32,
    pub in_c: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub out_c: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub k_h: u32,
    pub k_w: u32,
    pub s_h: u32,
    pub s_w: u32,
    pub d_h: u32,
    pub d_w: u32,
    pub pad_t: u32,
    pub pad_l: u32,
    pub groups: u32,
    pub act: Act,
}

/// Dense layer: `out[b, m, n] = act(sum_k a[b, m, k] * w[k, n] + bias)`.
/// Inputs: `a`, `w [k, n]`, optional bias: `[n]` when `bias_full` is false, `[m, n]` when true
/// (the same bias for every `b`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DenseP {
    pub batch: u32,
    pub m: u32,
    pub k: u32,
    pub n: u32,
    pub bias_full: bool,
    pub act: Act,
}

pub const BIN_ADD: u8 = 0;
pub const BIN_SUB: u8 = 1;
pub const BIN_MUL: u8 = 2;
pub const BIN_DIV: u8 = 3;
/// `a < 0 ? a * b : a` (ONNX PRelu, slope broadcast as `b`).
pub const BIN_PRELU: u8 = 4;

/// Broadcasting binary op over `rank` dims. Element `i` of the output, with multi-index `idx`,
/// reads `a[sum idx[d] * a_strides[d]]` and `b[sum idx[d] * b_strides[d]]` (stride 0 on
/// broadcast dims). Unused trailing entries (`d >= rank`) are ignored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinaryP {
    pub op: u8,
    pub rank: u32,
    pub out_shape: [u32; MAX_RANK],
    pub a_strides: [u32; MAX_RANK],
    pub b_strides: [u32; MAX_RANK],
    pub act: Act,
}

pub const UN_COPY: u8 = 0;
pub const UN_RELU: u8 = 1;
/// `x < 0 ? alpha * x : x`.
pub const UN_LEAKY_RELU: u8 = 2;
pub const UN_SIGMOID: u8 = 3;
pub const UN_TANH: u8 = 4;
/// `max(0, min(1, alpha * x + beta))`.
pub const UN_HARD_SIGMOID: u8 = 5;
/// `x * max(0, min(1, x / 6 + 0.5))`, evaluated as ONNX writes it: `alpha * x + beta` with
/// `alpha` = [`HARD_SWISH_ALPHA`] (1/6 rounded to f32) and `beta` = 0.5 (`alpha`/`beta` fields unused).
pub const UN_HARD_SWISH: u8 = 6;
/// `min(max(x, alpha), beta)`.
pub const UN_CLIP: u8 = 7;

/// Element-wise unary op over `len` elements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnaryP {
    pub kind: u8,
    pub len: u32,
    pub alpha: f32,
    pub beta: f32,
}

pub const POOL_MAX: u8 = 0;
pub const POOL_AVG: u8 = 1;

/// 2-D max / average pooling over `[batch, c, in_h, in_w]`. Padding cells are skipped for max;
/// for average they count in the divisor only when `count_include_pad`.
///
/// As for [`Conv2dP`], the bottom / right pads are implied by `out_h` / `out_w`, so with
/// `count_include_pad` the divisor is always `k_h * k_w`. ONNX's `ceil_mode` + `count_include_pad`
/// with a last window overhanging the declared pads needs a different divisor there; the host
/// lowers it to an explicit zero `pad` followed by pooling without padding and without
/// `count_include_pad` (see [`pool2d`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool2dP {
    pub kind: u8,
    pub batch: u32,
    pub c: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub k_h: u32,
    pub k_w: u32,
    pub s_h: u32,
    pub s_w: u32,
    pub d_h: u32,
    pub d_w: u32,
    pub pad_t: u32,
    pub pad_l: u32,
    pub count_include_pad: bool,
}

pub const RED_MEAN: u8 = 0;
pub const RED_MAX: u8 = 1;
pub const RED_SUM: u8 = 2;

/// Reduction of the dims whose bit is set in `mask` (bit `d` = dim `d`); the output has the input's
/// shape with reduced dims set to 1 (row-major, so keepdims does not change the data).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReduceP {
    pub kind: u8,
    pub rank: u32,
    pub in_shape: [u32; MAX_RANK],
    pub mask: u32,
}

/// Strided gather-copy: output element with multi-index `idx` (over `out_shape`) reads
/// `x[offset + sum idx[d] * strides[d]]`. Covers Transpose, Slice (negative steps too) and plain
/// copies (Reshape, Flatten, Squeeze, Unsqueeze, Identity).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StridedP {
    pub rank: u32,
    pub out_shape: [u32; MAX_RANK],
    pub strides: [i32; MAX_RANK],
    pub offset: u32,
}

/// Maximum number of Concat inputs.
pub const MAX_CONCAT: usize = 16;

/// Concat of `count` inputs along one axis: the data is viewed as `[outer, part]` per input, where
/// `parts[i] = axis_len_i * inner`; the output is `[outer, sum parts]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConcatP {
    pub outer: u32,
    pub count: u32,
    pub parts: [u32; MAX_CONCAT],
}

/// Gather with constant indices along one axis: `x` viewed as `[outer, axis_len, inner]`, the
/// indices (already non-negative, `< axis_len`) come in the `idx` table; output
/// `[outer, idx.len(), inner]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GatherP {
    pub outer: u32,
    pub axis_len: u32,
    pub inner: u32,
    pub n_idx: u32,
}

/// Constant padding: output `out_shape`, input `in_shape` placed at `begin`; other cells = `value`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PadP {
    pub rank: u32,
    pub in_shape: [u32; MAX_RANK],
    pub out_shape: [u32; MAX_RANK],
    pub begin: [u32; MAX_RANK],
    pub value: f32,
}

/// Nearest-neighbour resize. The `idx` table holds, for each dim `d` in order, `out_shape[d]` source
/// coordinates (computed on the host with the node's coordinate-transform and rounding modes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResizeP {
    pub rank: u32,
    pub in_shape: [u32; MAX_RANK],
    pub out_shape: [u32; MAX_RANK],
}

/// Softmax along one axis: data viewed as `[outer, axis, inner]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxP {
    pub outer: u32,
    pub axis: u32,
    pub inner: u32,
}

/// Per-channel affine (unfused BatchNormalization): `out = x * scale[c] + shift[c]`, data viewed as
/// `[outer, c, inner]`. Inputs: `x`, `scale [c]`, `shift [c]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelAffineP {
    pub outer: u32,
    pub c: u32,
    pub inner: u32,
}

/// One f32 kernel invocation with all its constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KOp {
    Conv2d(Conv2dP),
    Dense(DenseP),
    Binary(BinaryP),
    Unary(UnaryP),
    Pool2d(Pool2dP),
    Reduce(ReduceP),
    Strided(StridedP),
    Concat(ConcatP),
    Gather(GatherP),
    Pad(PadP),
    Resize(ResizeP),
    Softmax(SoftmaxP),
    ChannelAffine(ChannelAffineP),
}

/// Runs one kernel. `ins` are the op's tensor inputs in the order each param type documents
/// (activations and constants alike), `idx` its index table (empty unless documented), `outs` its
/// outputs. Slices have exactly the documented lengths; outputs never alias inputs.
#[inline(always)]
pub fn run(op: &KOp, ins: &[&[f32]], idx: &[u32], outs: &mut [&mut [f32]]) {
    match op {
        KOp::Conv2d(p) => conv2d(p, ins[0], ins[1], ins.get(2).copied(), outs[0]),
        KOp::Dense(p) => dense(p, ins[0], ins[1], ins.get(2).copied(), outs[0]),
        KOp::Binary(p) => binary(p, ins[0], ins[1], outs[0]),
        KOp::Unary(p) => unary(p, ins[0], outs[0]),
        KOp::Pool2d(p) => pool2d(p, ins[0], outs[0]),
        KOp::Reduce(p) => reduce(p, ins[0], outs[0]),
        KOp::Strided(p) => strided(p, ins[0], outs[0]),
        KOp::Concat(p) => concat(p, ins, outs[0]),
        KOp::Gather(p) => gather(p, ins[0], idx, outs[0]),
        KOp::Pad(p) => pad(p, ins[0], outs[0]),
        KOp::Resize(p) => resize(p, ins[0], idx, outs[0]),
        KOp::Softmax(p) => softmax(p, ins[0], outs[0]),
        KOp::ChannelAffine(p) => channel_affine(p, ins[0], ins[1], ins[2], outs[0]),
    }
}
