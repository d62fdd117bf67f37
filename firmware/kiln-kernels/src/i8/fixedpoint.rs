//! gemmlowp fixed-point arithmetic on `i32` (the parts TFLite's int8 softmax uses), integer only.
//!
//! A value in `Q{I}` has `I` integer bits and `31 - I` fractional bits: `real = raw / 2^(31 - I)`.
//! Every function is the scalar form of gemmlowp's `fixedpoint.h`, operation for operation, so
//! results equal TFLite's reference kernels and CMSIS-NN bit for bit. Additions wrap (gemmlowp's
//! int32 `Add` is plain `+`; the ranges used here never overflow).

use super::requant::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul as srdhm};

/// gemmlowp `SaturatingRoundingMultiplyByPOT<exp>` for `exp > 0`: `x * 2^exp`, saturated.
#[inline(always)]
pub fn saturating_shl(x: i32, exp: u32) -> i32 {
    let threshold = (1i32 << (31 - exp)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exp
    }
}

/// gemmlowp `RoundingHalfSum` (int32): `(a + b) / 2`, rounded half away from zero.
#[inline(always)]
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// gemmlowp `exp_on_interval_between_negative_one_quarter_and_0_excl`: `exp(a)` for `a` in
/// `[-1/4, 0)`, `Q0` in and out (Taylor expansion around `-1/8`).
#[inline(always)]
pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1_895_147_668; // exp(-1/8)
    const ONE_THIRD: i32 = 715_827_883;
    let x = a.wrapping_add(1 << 28);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let poly = rounding_divide_by_pot(
        srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        1,
    );
    CONSTANT_TERM.wrapping_add(srdhm(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// gemmlowp `exp_on_negative_values` for a `Q5` input (`a <= 0`); result in `Q0` (`exp(0)` is
/// `i32::MAX`, gemmlowp's `One()` in `Q0`).
#[inline(always)]
pub fn exp_on_negative_values_q5(a: i32) -> i32 {
    const FRAC: i32 = 26;
    const ONE_QUARTER: i32 = 1 << (FRAC - 2);
    let mask = ONE_QUARTER - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(ONE_QUARTER);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(saturating_shl(
        a_mod_quarter_minus_one_quarter,
        5,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    // exp(-2^e) in Q0, for e = -2..=4.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (e, m) in BARREL {
        if remainder & (1 << (FRAC + e)) != 0 {
            result = srdhm(result, m);
        }
    }
    if a == 0 {
        result = i32::MAX;
    }
    result
}

/// gemmlowp `one_over_one_plus_x_for_x_in_0_1`: `1 / (1 + a)` for `a` in `[0, 1)`, `Q0` in and
/// out (three Newton-Raphson steps in `Q2`).
#[inline(always)]
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const C48_OVER_17: i32 = 1_515_870_810;
    const CNEG32_OVER_17: i32 = -1_010_580_540;
    const ONE_Q2: i32 = 1 << 29;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = C48_OVER_17.wrapping_add(srdhm(half_denominator, CNEG32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = srdhm(half_denominator, x);
        let one_minus = ONE_Q2.wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(saturating_shl(srdhm(x, one_minus), 2));
    }
    saturating_shl(x, 1)
}

/// TFLite `GetReciprocal`: for `x > 0` in `Q{integer_digits}`, returns `(scale, bits)` with
/// `1 / x = scale / 2^31 / 2^bits` (`scale` in `Q0`).
#[inline(always)]
pub fn get_reciprocal(x: i32, integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let bits_over_unit = integer_digits - headroom_plus_one as i32;
    let shifted_minus_one = ((x as u32) << (headroom_plus_one & 31)).wrapping_sub(1 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_minus_one),
        bits_over_unit,
    )
}
