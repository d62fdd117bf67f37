//! Fixed-point requantization (device path, integer only) and the host-side helpers that compute
//! its constants (`quantize_multiplier`, LUT builders; they use `f64` + `libm` and are never
//! called on the device).
//!
//! The device functions are TFLite's reference `MultiplyByQuantizedMultiplier` built from gemmlowp's
//! `SaturatingRoundingDoublingHighMul` and `RoundingDivideByPOT` — the *double rounding* form
//! (`TFLITE_SINGLE_ROUNDING` off), which is also CMSIS-NN's default `arm_nn_requantize`. See the
//! module docs of [`crate::i8`] for the exact rules.

/// gemmlowp `SaturatingRoundingDoublingHighMul`: `(a * b + nudge) / 2^31` in 64 bits, `nudge =
/// 2^30` for a product `>= 0` and `1 - 2^30` otherwise, the division truncating toward zero. That is
/// `floor((a * b + 2^30) / 2^31)`: `a * b / 2^31` rounded to nearest, **ties toward +infinity**
/// (`0.5 → 1`, `-0.5 → 0`, `-1.5 → -1`; gemmlowp's nudge is not symmetric). The only overflowing
/// case, `a = b = i32::MIN` (true result `2^31`), saturates to `i32::MAX`.
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division truncates toward zero, as in C++.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp `RoundingDivideByPOT`: `round(x / 2^exponent)`, ties away from zero (an arithmetic
/// shift plus a correction). `exponent` is clamped into `[0, 31]`.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let e = exponent.clamp(0, 31);
    let mask = ((1i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> e) + (remainder > threshold) as i32
}

/// TFLite reference `MultiplyByQuantizedMultiplier` (double rounding):
/// `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^max(shift, 0), mult), max(-shift, 0))`.
///
/// Approximates `x * mult * 2^(shift - 31)`. `shift` is expected in `[-31, 30]`; the left shift
/// `x * 2^shift` wraps (two's complement) if it overflows, where C++ would be undefined — the
/// host never produces such constants for in-range accumulators.
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, mult: i32, shift: i32) -> i32 {
    let left = shift.clamp(0, 31);
    let right = if shift > 0 { 0 } else { shift.saturating_neg() };
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_shl(left as u32), mult),
        right,
    )
}

/// `(q - zp) * mult * 2^(shift-31) + out_zp`, saturated to i8: TFLite's int8 `Requantize`.
#[inline(always)]
pub fn requantize(q: i8, in_zp: i32, out_zp: i32, mult: i32, shift: i32) -> i8 {
    let v = multiply_by_quantized_multiplier((q as i32).wrapping_sub(in_zp), mult, shift);
    sat_i8(v.saturating_add(out_zp))
}

/// Saturating cast to i8.
#[inline(always)]
pub fn sat_i8(v: i32) -> i8 {
    v.clamp(-128, 127) as i8
}

/// ONNX `QuantizeLinear` for one value: `saturate(round_half_to_even(x / scale) + zp)`. The
/// division is one IEEE f32 division (correctly rounded on every target, hardware or soft
/// float); the rounding is [`round_half_even`]. NaN maps to `zp`, ±inf saturate.
#[inline(always)]
pub fn quantize_f32(x: f32, scale: f32, zp: i32) -> i8 {
    /// 1.5 * 2^23: for `|v| < 2^22`, `v + C` lies in `[2^23, 2^24)`, where the f32 spacing is 1,
    /// so the IEEE addition rounds `v` to an integer, ties to even, and `- C` is exact.
    const C: f32 = 12_582_912.0;
    let v = x / scale;
    // `as i32` saturates and maps NaN to 0.
    let r = if v.abs() < 4_194_304.0 {
        ((v + C) - C) as i32
    } else {
        round_wide(v)
    };
    sat_i8(r.saturating_add(zp))
}

/// TFLite's `QUANTIZE` for one value: `saturate(round_half_away(x / scale) + zp)`, the
/// rounding of `std::round`. The same division as [`quantize_f32`]; NaN maps to `zp`, ±inf
/// saturate.
#[inline(always)]
pub fn quantize_f32_away(x: f32, scale: f32, zp: i32) -> i8 {
    /// 2^23: from here on every f32 is an integer.
    const TWO_23: f32 = 8_388_608.0;
    let v = x / scale;
    // `as i32` truncates toward zero (saturating, NaN → 0); below 2^23 the fraction `v - t`
    // is exact, so comparing it with ±0.5 decides ties exactly.
    let t = v as i32;
    let r = if v.abs() < TWO_23 {
        let frac = v - t as f32;
        if frac >= 0.5 {
            t + 1
        } else if frac <= -0.5 {
            t - 1
        } else {
            t
        }
    } else {
        t
    };
    sat_i8(r.saturating_add(zp))
}

/// [`round_half_even`] as an i32 (saturating, NaN → 0), out of the hot loop.
#[cold]
#[inline(never)]
fn round_wide(v: f32) -> i32 {
    round_half_even(v) as i32
}

/// ONNX `DequantizeLinear` for one value: `(q - zp) as f32 * scale` (one f32 multiply; `q - zp`
/// is exact in f32).
#[inline(always)]
pub fn dequantize_f32(q: i8, scale: f32, zp: i32) -> f32 {
    (q as i32 - zp) as f32 * scale
}

/// Rounds to the nearest integer, ties away from zero (`std::round`): [`round_half_even`]
/// with its ties moved outwards. Integers, NaN and infinities are returned as is.
#[inline]
pub fn round_half_away(x: f32) -> f32 {
    let r = round_half_even(x);
    // A tie is exactly half way; `x ± 0.5` is then an integer, exact in f32.
    if (x - r).abs() == 0.5 {
        if x > 0.0 {
            x + 0.5
        } else {
            x - 0.5
        }
    } else {
        r
    }
}

/// Rounds to the nearest integer, ties to even (`nearbyint` in the default rounding mode),
/// without depending on the FP environment: integers, NaN and infinities are returned as is.
#[inline(always)]
pub fn round_half_even(x: f32) -> f32 {
    /// 2^23: from here on every f32 is an integer, and adding it to a smaller magnitude leaves
    /// a spacing of exactly 1.
    const TWO_23: f32 = 8_388_608.0;
    if x.is_nan() || x.abs() >= TWO_23 {
        return x;
    }
    // IEEE addition rounds to nearest, ties to even (hardware FPUs and soft-float routines alike,
    // and neither may reassociate it): `x + 2^23` is `x` rounded to an integer, plus 2^23.
    let r = if x >= 0.0 {
        (x + TWO_23) - TWO_23
    } else {
        (x - TWO_23) + TWO_23
    };
    // Keep the sign of zero for -0.4 etc. (irrelevant after the cast to int, but `nearbyint`-like).
    if r == 0.0 {
        return if x.is_sign_negative() { -0.0 } else { 0.0 };
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Host-side helpers (f64; not for the device path)

/// TFLite `QuantizeMultiplier`: `real ≈ mult * 2^(shift - 31)` with `mult` in `[2^30, 2^31)` (or
/// its negative for a negative `real`). `q, shift = frexp(real)`, `mult = round(q * 2^31)` (ties
/// away from zero); `mult == 2^31` becomes `2^30` with `shift + 1`; `real == 0` or a `shift < -31`
/// (|real| below about 2^-32) gives `(0, 0)`. Uses `libm::frexp`, so it is deterministic on every
/// platform. A `shift > 30` (|real| >= 2^30) is returned as is; callers must refuse it.
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(real);
    let mut q_fixed = libm::round(q * (1i64 << 31) as f64) as i64;
    if q_fixed.abs() == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    (q_fixed as i32, shift)
}

/// The multiplier of an int8 mean over `n` elements (TFLite's `QuantizedMeanOrSumExtraArgs`):
/// `(m, s)` = [`quantize_multiplier`] of `in_scale / out_scale`, then `k = min(floor(log2 n), 32,
/// 31 + s)`, `mult = (m << k) / n` (truncating), `shift = s - k`. `n = 0` gives `(0, 0)`.
pub fn mean_multiplier(in_over_out: f64, n: u64) -> (i32, i32) {
    let (m, s) = quantize_multiplier(in_over_out);
    if n == 0 {
        return (0, 0);
    }
    let k = (63 - n.leading_zeros() as i32).min(32).min(31 + s).max(0);
    ((((m as i64) << k) / n as i64) as i32, s - k)
}

/// The real number `mult * 2^(shift - 31)` a `(mult, shift)` pair stands for.
pub fn multiplier_value(mult: i32, shift: i32) -> f64 {
    mult as f64 * libm::pow(2.0, (shift - 31) as f64)
}

/// A 256-entry lookup table for an element-wise function of one int8 tensor (the table a
/// [`crate::i8::LutP`] op reads): entry `i` is the output for input `q = i - 128`:
/// `saturate(round(f(in_scale * (q - in_zp)) / out_scale) + out_zp)`, rounding half away from
/// zero (`libm::round`), NaN to `out_zp`.
pub fn make_lut(
    in_scale: f64,
    in_zp: i32,
    out_scale: f64,
    out_zp: i32,
    f: impl Fn(f64) -> f64,
) -> [i8; 256] {
    let mut t = [0i8; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let q = i as i32 - 128;
        let y = f(in_scale * (q - in_zp) as f64) / out_scale;
        let r = libm::round(y);
        let r = if r.is_nan() {
            0
        } else {
            r.clamp(-1e9, 1e9) as i32
        };
        *e = sat_i8(r + out_zp);
    }
    t
}

/// TFLite `PreprocessSoftmaxScaling` with 5 integer bits (double rounding): the multiplier and
/// left shift that turn an input difference into a `Q5` value of `beta * in_scale * diff`, and
/// `diff_min`, the most negative difference that still counts (`-CalculateInputRadius`).
/// `None` when `beta * in_scale * 2^26 <= 1` (TFLite refuses such a model).
pub fn softmax_scaling(beta: f64, in_scale: f64) -> Option<(i32, i32, i32)> {
    const INT_BITS: i32 = 5;
    let max_real = ((1i64 << 31) - 1) as f64;
    let real = (beta * in_scale * (1i64 << (31 - INT_BITS)) as f64).min(max_real);
    if real.is_nan() || real <= 1.0 {
        return None;
    }
    let (mult, left_shift) = quantize_multiplier(real);
    if !(0..=31).contains(&left_shift) {
        return None;
    }
    let radius = libm::floor(
        ((1i64 << INT_BITS) - 1) as f64 * (1i64 << (31 - INT_BITS)) as f64
            / (1i64 << left_shift) as f64,
    );
    Some((mult, left_shift, -(radius as i32)))
}

/// The exp table of the int8 softmax (see the module docs): entry `d` is gemmlowp's
/// `exp_on_negative_values` (`Q0`) of the input difference `-d` rescaled as TFLite does, 0 where
/// `-d < diff_min`. `None` where [`softmax_scaling`] is.
pub fn softmax_exp_table(beta: f64, in_scale: f64) -> Option<[i32; 256]> {
    let (mult, left_shift, diff_min) = softmax_scaling(beta, in_scale)?;
    let mut t = [0i32; 256];
    for (d, e) in t.iter_mut().enumerate() {
        let diff = -(d as i32);
        if diff >= diff_min {
            let rescaled = saturating_rounding_doubling_high_mul(diff << left_shift, mult);
            *e = super::fixedpoint::exp_on_negative_values_q5(rescaled);
        }
    }
    Some(t)
}
