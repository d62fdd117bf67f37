//! int8 kernels (TFLite Micro / CMSIS-NN int8 semantics), integer-only on the device path.
//!
//! # Quantization scheme
//! `real = scale * (q - zero_point)`.
//! - Activations: int8, asymmetric, one `(scale, zp)` per tensor.
//! - Weights (conv, dense): int8, symmetric (`zp = 0`), one scale per output channel (or one per
//!   tensor: the `per_channel = false` case below).
//! - Bias: int32, `scale = in_scale * w_scale[c]`, `zp = 0`.
//!
//! Layout is the f32 module's: dense row-major, NCHW; conv weights `[out_c, in_c / groups, k_h,
//! k_w]`; int8 dense weights `[n, k]` (one row per output column, the order the dot
//! products read; the f32 dense is `[k, n]`). Parameter types hold only integers, floats, bools and fixed
//! arrays, so their `Debug` text is a valid Rust literal (with `use kiln_kernels::i8::*;` in scope);
//! [`StridedP`], [`GatherP`] and [`MAX_RANK`] are the f32 module's own (pure data movement),
//! re-exported here.
//!
//! # Calling convention: [`run`]
//! ```text
//! pub fn run(op: &QOp, ins: &[&[i8]], t: &Tables, outs: &mut [&mut [i8]])
//! ```
//! - `ins`: the op's int8 tensor inputs (activations and int8 weights alike) in the order each
//!   param type documents; `outs`: its int8 outputs (always exactly one). Slices are at least the
//!   documented length; outputs never alias inputs.
//! - `t`: the op's constant tables ([`Tables`]), each a slice into a `static` array in flash;
//!   fields an op does not use are empty (`Tables::NONE`). Codegen writes e.g.
//!   `Tables { bias: &L3_BIAS, mult: &L3_MULT, shift: &L3_SHIFT, ..Tables::NONE }`.
//!   - `bias: &[i32]` — conv / dense bias, one per output channel; **empty = no bias**.
//!   - `mult: &[i32]`, `shift: &[i32]` — conv / dense requantization, one pair per output channel
//!     (`per_channel = true`) or a single pair (`per_channel = false`); real multiplier
//!     `in_scale * w_scale[c] / out_scale` as produced by [`quantize_multiplier`].
//!   - `lut: &[i8]` — [`QOp::Lut`]'s 256-entry table (built by [`make_lut`]).
//!   - `exp: &[i32]` — [`QOp::Softmax`]'s 256-entry `Q0` exp table (built by [`softmax_exp_table`]).
//!   - `idx: &[u32]` — [`QOp::Gather`]'s index table.
//! - Per-tensor requantization constants of element-wise ops (add, mul, concat, mean, requant) are
//!   in the params themselves.
//! - The float boundaries are separate functions, not `QOp`s (their element types differ):
//!   [`quantize`] (f32 → i8, [`QuantizeP`]) and [`dequantize`] (i8 → f32, [`DequantizeP`]).
//!
//! Every real multiplier `M` is passed as a pair `(mult, shift)` with `M ≈ mult * 2^(shift - 31)`,
//! `mult` in `[2^30, 2^31)` (negated for a negative `M`), `shift` in `[-31, 30]`, exactly as TFLite's
//! `QuantizeMultiplier` produces ([`quantize_multiplier`], host side).
//!
//! # Rounding rules (the numerical contract; all integer, identical on host and device)
//! - **`multiply_by_quantized_multiplier(x, mult, shift)`** ([`multiply_by_quantized_multiplier`])
//!   is TFLite's reference form with `TFLITE_SINGLE_ROUNDING` **off** (double rounding), which is
//!   also CMSIS-NN's default `arm_nn_requantize`:
//!   1. `x' = x * 2^max(shift, 0)` (wrapping; in range for every accumulator the host plans);
//!   2. `h = SaturatingRoundingDoublingHighMul(x', mult)` = `(x' * mult + nudge) / 2^31` in 64 bits,
//!      `nudge = 2^30` when the product is `>= 0`, `1 - 2^30` otherwise, division truncating toward
//!      zero — which equals `floor((x' * mult + 2^30) / 2^31)`: rounded to nearest, **ties toward
//!      +infinity** (`2.5 → 3`, `-2.5 → -2`; gemmlowp's negative nudge is `1 - 2^30`, not
//!      `-2^30`); the only overflow, `i32::MIN * i32::MIN`, saturates to `i32::MAX`;
//!   3. `RoundingDivideByPOT(h, max(-shift, 0))` = `h / 2^e` rounded to nearest, **ties away
//!      from zero** (`(h >> e) + (remainder > (mask >> 1) + (h < 0))`), `e` clamped to `[0, 31]`.
//!
//!   Why the double-rounding form: it is what the TFLite reference kernels and CMSIS-NN compute by
//!   default, so kiln's int8 results match the reference implementations bit for bit; either form
//!   would be bit-exact between host and device, since both run this code.
//! - **Accumulators** are i32 with wrapping addition (C++ would have undefined behaviour on
//!   overflow; the host keeps `k * 255 * 128` well inside i32). Integer addition being
//!   associative, the summation order is free and optimized variants are bit-exact.
//! - **Conv / dense**: `acc = bias[c] + Σ (x + in_offset) * w` with `in_offset = -in_zp`;
//!   padding taps are skipped (they would read `in_zp`, i.e. contribute 0 after the offset);
//!   `out = clamp(mbqm(acc, mult[c], shift[c]) + out_zp, act_min, act_max)`.
//! - **Fused activation** = the clamp to `[act_min, act_max]` in the output's quantized domain
//!   (`-128..=127` for none; ReLU is `[out_zp, 127]`; ReLU6 / Clip are the quantized bounds,
//!   computed on the host).
//! - **Add / Sub** (TFLite int8 add): `left_shift = 20` (a param), `a' = mbqm((a - a_zp) <<
//!   left_shift, a_mult, a_shift)`, `b'` likewise, `raw = a' ± b'` (wrapping),
//!   `out = clamp(mbqm(raw, out_mult, out_shift) + out_zp, act_min, act_max)`; the host computes
//!   `twice_max = 2 * max(a_scale, b_scale)`, `a_mult ← a_scale / twice_max`, `b_mult ← b_scale /
//!   twice_max`, `out_mult ← twice_max / (2^left_shift * out_scale)`.
//! - **Mul**: `out = clamp(mbqm((a - a_zp) * (b - b_zp), out_mult, out_shift) + out_zp, act_min,
//!   act_max)`, `out_mult ← a_scale * b_scale / out_scale`.
//! - **Max pool**: the largest tap (padding skipped), then the act clamp; input and output share
//!   their quantization params.
//! - **Average pool** (TFLite): `acc = Σ taps`, `n` = number of taps inside the input; result
//!   `acc > 0 ? (acc + n/2) / n : (acc - n/2) / n` with truncating division — rounding half away
//!   from zero — then the act clamp. With `count_include_pad`, padding taps count as `zp` in the
//!   sum and `n = k_h * k_w`. A window with no tap inside the input gives `zp`.
//! - **Mean** (TFLite's reference `QuantizedMeanOrSum`, the form TFLite-Micro runs): `acc = Σ (x -
//!   in_zp)` over the `n` reduced elements, `out = sat_i8(mbqm(acc, mult, shift) + out_zp)`, where
//!   the host folds the division by `n` into the multiplier ([`mean_multiplier`]): from `(m, s)` of
//!   `in_scale / out_scale`, `k = min(floor(log2 n), 32, 31 + s)`, `mult = (m << k) / n`
//!   (truncating), `shift = s - k`.
//! - **Requantize** (TFLite `Requantize`; concat inputs whose params differ from the output's):
//!   `sat_i8(mbqm(x - in_zp, mult, shift) + out_zp)`, `mult ← in_scale / out_scale`. Concat inputs
//!   with identical params are copied.
//! - **Pad** fills with the output zero point (a param); strided copy / gather move bytes.
//! - **LUT** (sigmoid, tanh, hard-swish, …): `out = lut[x + 128]`; the host builds the table with
//!   [`make_lut`]: `sat(round_half_away(f(in_scale * (q - in_zp)) / out_scale) + out_zp)`.
//! - **Softmax** (TFLite's reference int8 softmax, which CMSIS-NN's `arm_softmax_s8` equals):
//!   output params are fixed to `scale = 1/256, zp = -128` (the host inserts a requantize
//!   otherwise). The host table holds, for each distance `d = max - x` in `0..256`, TFLite's
//!   gemmlowp `exp_on_negative_values` of `-d` scaled by `beta * in_scale` (a `Q0` value; `i32::MAX`
//!   for `d = 0`, and 0 where `-d < diff_min`). Per line: `sum = Σ RoundingDivideByPOT(E, 12)`
//!   (`Q12`), `(scale, bits) = GetReciprocal(sum, 12)`, `out = sat_i8(RoundingDivideByPOT(
//!   SaturatingRoundingDoublingHighMul(scale, E), bits + 23) - 128)` ([`fixedpoint`]). No floats on
//!   the device.
//! - **Quantize** (ONNX `QuantizeLinear`, f32 → i8): `sat_i8(round_half_to_even(x / scale) + zp)`,
//!   one IEEE f32 division (correctly rounded in hardware and in soft float), an explicit integer
//!   ties-to-even rounding, NaN → `zp`. **Dequantize**: `(q - zp) as f32 * scale`.
//!
//! # Kernel conventions
//! As in the f32 module: sizes come from the params; a short slice panics on indexing, nothing
//! else panics; a stride or dilation of 0 is treated as 1; an unknown op / kind code leaves the
//! output unwritten.

pub mod check;
pub mod dsp;
pub mod fixedpoint;
pub mod ops;
pub mod requant;

pub use crate::f32::{GatherP, StridedP, MAX_CONCAT, MAX_RANK};
pub use ops::*;
pub use requant::*;

/// Constant tables of one op (see the module docs). `Tables::NONE` has every field empty.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tables<'a> {
    /// Conv / dense int32 bias, one per output channel; empty = no bias.
    pub bias: &'a [i32],
    /// Conv / dense requantization multipliers, per output channel or a single one.
    pub mult: &'a [i32],
    /// Conv / dense requantization shifts, matching `mult`.
    pub shift: &'a [i32],
    /// 256-entry int8 lookup table ([`QOp::Lut`]), indexed by `x + 128`.
    pub lut: &'a [i8],
    /// 256-entry softmax exp table ([`QOp::Softmax`]), indexed by `max - x`.
    pub exp: &'a [i32],
    /// Gather indices ([`QOp::Gather`]).
    pub idx: &'a [u32],
}

impl Tables<'static> {
    pub const NONE: Tables<'static> = Tables {
        bias: &[],
        mult: &[],
        shift: &[],
        lut: &[],
        exp: &[],
        idx: &[],
    };
}

/// int8 2-D convolution (grouped / depthwise: `groups = in_c = out_c / depth_multiplier`), stride,
/// dilation, padding. Inputs: `x [batch, in_c, in_h, in_w]`, `w [out_c, in_c/groups, k_h, k_w]`;
/// tables `bias` (optional), `mult`, `shift`. Output `[batch, out_c, out_h, out_w]`.
///
/// Only the top / left pads are given; the bottom / right ones are implied by `out_h` / `out_w`.
/// Padding taps are skipped, which equals reading `in_zp` (0 after the input offset).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QConv2dP {
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
    /// Input zero point (the kernel adds `-in_zp` to every input value).
    pub in_zp: i32,
    pub out_zp: i32,
    /// `mult` / `shift` hold `out_c` entries (true) or one (false).
    pub per_channel: bool,
    pub act_min: i8,
    pub act_max: i8,
}

/// int8 fully-connected / MatMul with constant weights:
/// `out[r, j] = clamp(mbqm(bias[j] + Σ_k (a[r, k] - in_zp) * w[j, k], mult[j], shift[j]) + out_zp)`
/// for the `batch * m` rows `r`. Inputs: `a [batch, m, k]`, `w [n, k]` (transposed: each output
/// column's weights contiguous); tables `bias [n]`
/// (optional), `mult`, `shift` (`n` entries, or one when `per_channel` is false).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QDenseP {
    pub batch: u32,
    pub m: u32,
    pub k: u32,
    pub n: u32,
    pub in_zp: i32,
    pub out_zp: i32,
    pub per_channel: bool,
    pub act_min: i8,
    pub act_max: i8,
}

/// `a + b` (TFLite int8 Add).
pub const QBIN_ADD: u8 = 0;
/// `a - b` (TFLite int8 Sub: the Add pipeline with the scaled `b` subtracted).
pub const QBIN_SUB: u8 = 1;
/// `a * b` (TFLite int8 Mul; only `out_mult` / `out_shift` are used).
pub const QBIN_MUL: u8 = 2;

/// Broadcasting int8 binary op over `rank` dims (addressing as the f32 `BinaryP`: output element
/// with multi-index `idx` reads `a[Σ idx[d] * a_strides[d]]`, `b[Σ idx[d] * b_strides[d]]`).
/// Inputs: `a`, `b`. Rounding: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QBinaryP {
    pub op: u8,
    pub rank: u32,
    pub out_shape: [u32; MAX_RANK],
    pub a_strides: [u32; MAX_RANK],
    pub b_strides: [u32; MAX_RANK],
    pub a_zp: i32,
    pub b_zp: i32,
    pub out_zp: i32,
    /// Add / Sub only: TFLite uses 20.
    pub left_shift: i32,
    pub a_mult: i32,
    pub a_shift: i32,
    pub b_mult: i32,
    pub b_shift: i32,
    pub out_mult: i32,
    pub out_shift: i32,
    pub act_min: i8,
    pub act_max: i8,
}

pub const QPOOL_MAX: u8 = 0;
pub const QPOOL_AVG: u8 = 1;

/// int8 2-D max / average pooling over `[batch, c, in_h, in_w]`; input and output share their
/// quantization params (`zp` is that zero point). Geometry exactly as the f32 `Pool2dP`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QPool2dP {
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
    pub zp: i32,
    pub act_min: i8,
    pub act_max: i8,
}

/// int8 mean over the dims set in `mask` (bit `d` = dim `d`); output = input shape with reduced
/// dims set to 1. `mult` / `shift` stand for `in_scale / (out_scale * n)` ([`mean_multiplier`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QMeanP {
    pub rank: u32,
    pub in_shape: [u32; MAX_RANK],
    pub mask: u32,
    pub in_zp: i32,
    pub out_zp: i32,
    pub mult: i32,
    pub shift: i32,
}

/// int8 concat of `count` inputs (geometry as the f32 `ConcatP`: data viewed as `[outer, part]`
/// per input, `parts[i] = axis_len_i * inner`). Input `i` is requantized to the output's params
/// (`in_zp[i]`, `mult[i]`, `shift[i]`, `out_zp`) when bit `i` of `requant_mask` is set, copied
/// otherwise (equal params).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QConcatP {
    pub outer: u32,
    pub count: u32,
    pub parts: [u32; MAX_CONCAT],
    pub requant_mask: u32,
    pub in_zp: [i32; MAX_CONCAT],
    pub mult: [i32; MAX_CONCAT],
    pub shift: [i32; MAX_CONCAT],
    pub out_zp: i32,
}

/// Constant padding: output `out_shape`, input `in_shape` placed at `begin`; other cells =
/// `value` (the output zero point, i.e. real 0, for ONNX constant-0 padding).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QPadP {
    pub rank: u32,
    pub in_shape: [u32; MAX_RANK],
    pub out_shape: [u32; MAX_RANK],
    pub begin: [u32; MAX_RANK],
    pub value: i8,
}

/// int8 softmax along the middle axis of `[outer, axis, inner]`; table `exp`; output params
/// fixed at `scale = 1/256`, `zp = -128`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QSoftmaxP {
    pub outer: u32,
    pub axis: u32,
    pub inner: u32,
}

/// Element-wise lookup over `len` elements: `out = lut[x + 128]` (table `lut`, 256 entries).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LutP {
    pub len: u32,
}

/// Element-wise int8 → int8 requantization over `len` elements (`mult` / `shift` for
/// `in_scale / out_scale`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequantP {
    pub len: u32,
    pub in_zp: i32,
    pub out_zp: i32,
    pub mult: i32,
    pub shift: i32,
}

/// Quantization over `len` elements (f32 → i8), see [`quantize`]: ONNX QuantizeLinear (ties
/// to even), or TFLite's QUANTIZE when `ties_away` (`std::round`: ties away from zero).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantizeP {
    pub len: u32,
    pub scale: f32,
    pub zp: i32,
    pub ties_away: bool,
}

/// ONNX DequantizeLinear over `len` elements (i8 → f32), see [`dequantize`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DequantizeP {
    pub len: u32,
    pub scale: f32,
    pub zp: i32,
}

/// One int8 kernel invocation with all its constants (tables apart).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QOp {
    /// `ins = [x, w]`; tables `bias` (optional), `mult`, `shift`.
    Conv2d(QConv2dP),
    /// `ins = [a, w]`; tables `bias` (optional), `mult`, `shift`.
    Dense(QDenseP),
    /// `ins = [a, b]`.
    Binary(QBinaryP),
    /// `ins = [x]`.
    Pool2d(QPool2dP),
    /// `ins = [x]`.
    Mean(QMeanP),
    /// `ins = [x]`.
    Strided(StridedP),
    /// `ins` = the `count` inputs.
    Concat(QConcatP),
    /// `ins = [x]`; table `idx`.
    Gather(GatherP),
    /// `ins = [x]`.
    Pad(QPadP),
    /// `ins = [x]`; table `exp`.
    Softmax(QSoftmaxP),
    /// `ins = [x]`; table `lut`.
    Lut(LutP),
    /// `ins = [x]`.
    Requant(RequantP),
}

impl QOp {
    /// The name of the parameter type the variant holds, as its `Debug` text spells it: what
    /// generated code must have in scope to name the op.
    pub fn param_type(&self) -> &'static str {
        match self {
            QOp::Conv2d(_) => "QConv2dP",
            QOp::Dense(_) => "QDenseP",
            QOp::Binary(_) => "QBinaryP",
            QOp::Pool2d(_) => "QPool2dP",
            QOp::Mean(_) => "QMeanP",
            QOp::Strided(_) => "StridedP",
            QOp::Concat(_) => "QConcatP",
            QOp::Gather(_) => "GatherP",
            QOp::Pad(_) => "QPadP",
            QOp::Softmax(_) => "QSoftmaxP",
            QOp::Lut(_) => "LutP",
            QOp::Requant(_) => "RequantP",
        }
    }
}

/// Runs one int8 kernel (see the module docs for `ins`, `t` and `outs`).
#[inline(always)]
pub fn run(op: &QOp, ins: &[&[i8]], t: &Tables, outs: &mut [&mut [i8]]) {
    match op {
        QOp::Conv2d(p) => conv2d(p, ins[0], ins[1], t.bias, t.mult, t.shift, outs[0]),
        QOp::Dense(p) => dense(p, ins[0], ins[1], t.bias, t.mult, t.shift, outs[0]),
        QOp::Binary(p) => binary(p, ins[0], ins[1], outs[0]),
        QOp::Pool2d(p) => pool2d(p, ins[0], outs[0]),
        QOp::Mean(p) => mean(p, ins[0], outs[0]),
        QOp::Strided(p) => strided(p, ins[0], outs[0]),
        QOp::Concat(p) => concat(p, ins, outs[0]),
        QOp::Gather(p) => gather(p, ins[0], t.idx, outs[0]),
        QOp::Pad(p) => pad(p, ins[0], outs[0]),
        QOp::Softmax(p) => softmax(p, ins[0], t.exp, outs[0]),
        QOp::Lut(p) => lut(p, ins[0], t.lut, outs[0]),
        QOp::Requant(p) => requant(p, ins[0], outs[0]),
    }
}
