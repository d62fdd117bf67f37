//! Hand-computed edge cases.

use crate::reference::*;
use kiln_kernels::i8::*;

pub const CONV: QConv2dP = QConv2dP {
    batch: 1,
    in_c: 1,
    in_h: 1,
    in_w: 1,
    out_c: 1,
    out_h: 1,
    out_w: 1,
    k_h: 1,
    k_w: 1,
    s_h: 1,
    s_w: 1,
    d_h: 1,
    d_w: 1,
    pad_t: 0,
    pad_l: 0,
    groups: 1,
    in_zp: 0,
    out_zp: 0,
    per_channel: false,
    act_min: -128,
    act_max: 127,
};

pub const POOL: QPool2dP = QPool2dP {
    kind: QPOOL_AVG,
    batch: 1,
    c: 1,
    in_h: 1,
    in_w: 1,
    out_h: 1,
    out_w: 1,
    k_h: 1,
    k_w: 1,
    s_h: 1,
    s_w: 1,
    d_h: 1,
    d_w: 1,
    pad_t: 0,
    pad_l: 0,
    count_include_pad: false,
    zp: 0,
    act_min: -128,
    act_max: 127,
};

pub const BIN: QBinaryP = QBinaryP {
    op: QBIN_ADD,
    rank: 1,
    out_shape: [1, 1, 1, 1, 1, 1],
    a_strides: [1, 0, 0, 0, 0, 0],
    b_strides: [1, 0, 0, 0, 0, 0],
    a_zp: 0,
    b_zp: 0,
    out_zp: 0,
    left_shift: 20,
    a_mult: 1 << 30,
    a_shift: 0,
    b_mult: 1 << 30,
    b_shift: 0,
    out_mult: 1 << 30,
    out_shift: 0,
    act_min: -128,
    act_max: 127,
};

/// `(mult, shift)` of exactly 1.0.
pub const ONE: (i32, i32) = (1 << 30, 1);

// ---------------------------------------------------------------------------------------------
// Fixed-point primitives

#[test]
fn srdhm_rounds_ties_toward_plus_infinity() {
    // a * b / 2^31 = 0.5 exactly -> 1; -0.5 -> 0 (gemmlowp's nudge `1 - 2^30` for negatives).
    assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);
    assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
    // 1.5 -> 2, -1.5 -> -1, 2.5 -> 3, -2.5 -> -2.
    assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
    assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
    assert_eq!(saturating_rounding_doubling_high_mul(5, 1 << 30), 3);
    assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
    // Just below / above a half.
    assert_eq!(saturating_rounding_doubling_high_mul(1, (1 << 30) - 1), 0);
    assert_eq!(saturating_rounding_doubling_high_mul(-1, (1 << 30) - 1), 0);
    assert_eq!(saturating_rounding_doubling_high_mul(1, (1 << 30) + 1), 1);
    // Exact products.
    assert_eq!(saturating_rounding_doubling_high_mul(1000, 1 << 30), 500);
    assert_eq!(saturating_rounding_doubling_high_mul(-1000, 1 << 30), -500);
}

#[test]
fn srdhm_saturates_only_at_min_times_min() {
    assert_eq!(
        saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
        i32::MAX
    );
    // MIN * MAX / 2^31 = -(2^31 - 1) exactly.
    assert_eq!(
        saturating_rounding_doubling_high_mul(i32::MIN, i32::MAX),
        -i32::MAX
    );
    assert_eq!(
        saturating_rounding_doubling_high_mul(i32::MAX, i32::MAX),
        i32::MAX - 1
    );
    assert_eq!(saturating_rounding_doubling_high_mul(i32::MIN, 1), -1);
    assert_eq!(saturating_rounding_doubling_high_mul(i32::MAX, 1), 1);
}

#[test]
fn rounding_divide_by_pot_ties_away_from_zero() {
    assert_eq!(rounding_divide_by_pot(5, 1), 3); // 2.5
    assert_eq!(rounding_divide_by_pot(-5, 1), -3); // -2.5
    assert_eq!(rounding_divide_by_pot(4, 3), 1); // 0.5
    assert_eq!(rounding_divide_by_pot(-4, 3), -1); // -0.5
    assert_eq!(rounding_divide_by_pot(3, 3), 0); // 0.375
    assert_eq!(rounding_divide_by_pot(-3, 3), 0);
    assert_eq!(rounding_divide_by_pot(5, 3), 1); // 0.625
    assert_eq!(rounding_divide_by_pot(-5, 3), -1);
    assert_eq!(rounding_divide_by_pot(-12, 2), -3);
    assert_eq!(rounding_divide_by_pot(7, 0), 7);
    assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
    assert_eq!(rounding_divide_by_pot(i32::MIN, 0), i32::MIN);
}

#[test]
fn mbqm_positive_and_negative_shifts() {
    // 1.0 (shift > 0): identity.
    for x in [-1000, -1, 0, 1, 77, 123456] {
        assert_eq!(multiply_by_quantized_multiplier(x, ONE.0, ONE.1), x);
    }
    // 0.75 * 2^3 = 6 (shift 3): 10 * 6 = 60.
    assert_eq!(multiply_by_quantized_multiplier(10, 3 << 29, 3), 60);
    assert_eq!(multiply_by_quantized_multiplier(-10, 3 << 29, 3), -60);
    // 0.75 * 2^-4 = 3/64: 100 * 3/64 = 4.6875 -> 5; -100 -> -5.
    assert_eq!(multiply_by_quantized_multiplier(100, 3 << 29, -4), 5);
    assert_eq!(multiply_by_quantized_multiplier(-100, 3 << 29, -4), -5);
    // Exact tie at the end: 0.5 * 2^-2 = 1/8; 4/8 = 0.5 -> 1, -0.5 -> -1.
    assert_eq!(multiply_by_quantized_multiplier(4, 1 << 30, -2), 1);
    assert_eq!(multiply_by_quantized_multiplier(-4, 1 << 30, -2), -1);
    // Negative multiplier.
    assert_eq!(multiply_by_quantized_multiplier(10, -(3 << 29), 3), -60);
}

#[test]
fn mbqm_is_double_rounding() {
    // x = 5, M = 0.25 (mult 2^30 = 0.5, shift -1): exact 1.25. Double rounding (TFLite reference,
    // TFLITE_SINGLE_ROUNDING off): round(5 * 0.5) = 3 (2.5 away from zero), then round(3 / 2) = 2.
    // Single rounding would give 1.
    assert_eq!(multiply_by_quantized_multiplier(5, 1 << 30, -1), 2);
    // -1.25: round(-2.5) = -2 (ties up), then round(-2 / 2) = -1.
    assert_eq!(multiply_by_quantized_multiplier(-5, 1 << 30, -1), -1);
    // x = 7, M = 0.25: 3.5 -> 4, 4 / 2 = 2 (single rounding: round(1.75) = 2, the same).
    // x = -6, M = 1/8 (shift -2): -3 exact, -3 / 4 = -0.75 -> -1.
    assert_eq!(multiply_by_quantized_multiplier(-6, 1 << 30, -2), -1);
    assert_eq!(ref_mbqm(5, 1 << 30, -1), 2);
}

#[test]
fn mbqm_left_shift_then_saturating_high_mul() {
    // x * 2^1 = i32::MIN exactly, then MIN * MIN saturates.
    assert_eq!(
        multiply_by_quantized_multiplier(-(1 << 30), i32::MIN, 1),
        i32::MAX
    );
    // 2^30 * 2 wraps to MIN (C++: undefined); documented as wrapping.
    assert_eq!(
        multiply_by_quantized_multiplier(1 << 30, 1 << 30, 1),
        -(1 << 30)
    );
}

#[test]
fn quantize_multiplier_known_values() {
    assert_eq!(quantize_multiplier(0.0), (0, 0));
    assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
    assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
    assert_eq!(quantize_multiplier(0.75), (3 << 29, 0));
    assert_eq!(quantize_multiplier(-0.75), (-(3 << 29), 0));
    assert_eq!(quantize_multiplier(3.0), (3 << 29, 2));
    assert_eq!(quantize_multiplier(1.0 / 64.0), (1 << 30, -5));
    // q rounds up to 2^31: renormalized.
    assert_eq!(quantize_multiplier(1.0 - 1e-12), (1 << 30, 1));
    // Below 2^-32: flushed to zero, as TFLite does.
    assert_eq!(quantize_multiplier(1e-12), (0, 0));
    // 2^-32 itself: frexp gives (0.5, -31), kept.
    assert_eq!(quantize_multiplier(libm::pow(2.0, -32.0)), (1 << 30, -31));
}

// ---------------------------------------------------------------------------------------------
// QuantizeLinear / DequantizeLinear

#[test]
fn quantize_linear_rounds_half_to_even() {
    let cases: [(f32, i8); 12] = [
        (0.5, 0),
        (1.5, 2),
        (2.5, 2),
        (3.5, 4),
        (-0.5, 0),
        (-1.5, -2),
        (-2.5, -2),
        (-3.5, -4),
        (0.49999997, 0),
        (0.50000006, 1),
        (2.4, 2),
        (-2.6, -3),
    ];
    for (x, want) in cases {
        assert_eq!(quantize_f32(x, 1.0, 0), want, "x = {x}");
        assert_eq!(round_half_even(x), want as f32, "x = {x}");
    }
    // Through the scale and zero point: 0.25 / 0.5 = 0.5 -> 0; + zp.
    assert_eq!(quantize_f32(0.25, 0.5, 10), 10);
    assert_eq!(quantize_f32(0.75, 0.5, 10), 12);
    assert_eq!(quantize_f32(-0.75, 0.5, -10), -12);
}

#[test]
fn quantize_linear_saturates() {
    assert_eq!(quantize_f32(1000.0, 1.0, 0), 127);
    assert_eq!(quantize_f32(-1000.0, 1.0, 0), -128);
    assert_eq!(quantize_f32(120.0, 1.0, 20), 127);
    assert_eq!(quantize_f32(-120.0, 1.0, -20), -128);
    assert_eq!(quantize_f32(f32::INFINITY, 1.0, 0), 127);
    assert_eq!(quantize_f32(f32::NEG_INFINITY, 1.0, 0), -128);
    assert_eq!(quantize_f32(f32::NAN, 1.0, 5), 5);
    assert_eq!(quantize_f32(1e30, 1e-30, 0), 127);
    assert_eq!(round_half_even(8_388_609.0), 8_388_609.0);
    assert_eq!(round_half_even(4_194_304.5), 4_194_304.0);
    assert_eq!(round_half_even(4_194_305.5), 4_194_306.0);
}

#[test]
fn quantize_linear_matches_f64_nearbyint() {
    // f64 reference: the f32 quotient rounded half to even via f64's round_ties_even.
    let mut x = -300.0f32;
    while x < 300.0 {
        for scale in [0.1f32, 0.5, 1.0, 2.5, 0.0078125] {
            let q = x / scale;
            let want = (q as f64).round_ties_even().clamp(-1e6, 1e6) as i64 + 3;
            assert_eq!(
                quantize_f32(x, scale, 3) as i64,
                want.clamp(-128, 127),
                "x = {x}, scale = {scale}"
            );
        }
        x += 0.03125 / 2.0;
    }
}

#[test]
fn dequantize_linear() {
    assert_eq!(dequantize_f32(-128, 0.5, -128), 0.0);
    assert_eq!(dequantize_f32(127, 0.5, -128), 127.5);
    assert_eq!(dequantize_f32(-3, 0.1, 2), -5.0 * 0.1f32);
    let p = DequantizeP {
        len: 3,
        scale: 2.0,
        zp: 1,
    };
    let mut out = [0.0f32; 3];
    dequantize(&p, &[1, 2, -1], &mut out);
    assert_eq!(out, [0.0, 2.0, -4.0]);
    let q = QuantizeP {
        len: 3,
        scale: 2.0,
        zp: 1,
        ties_away: false,
    };
    let mut back = [0i8; 3];
    quantize(&q, &out, &mut back);
    assert_eq!(back, [1, 2, -1]);
}

#[test]
fn quantize_ties_to_even_or_away_from_zero() {
    // x / scale: 2.5, -2.5, 3.5, 0.5, -0.5, 2.4999998, -7.5; zp 0.
    let x = [2.5f32, -2.5, 3.5, 0.5, -0.5, 2.499_999_8, -7.5];
    let run = |ties_away| {
        let p = QuantizeP {
            len: 7,
            scale: 1.0,
            zp: 0,
            ties_away,
        };
        let mut q = [0i8; 7];
        quantize(&p, &x, &mut q);
        q
    };
    assert_eq!(run(false), [2, -2, 4, 0, 0, 2, -8]);
    assert_eq!(run(true), [3, -3, 4, 1, -1, 2, -8]);
    assert_eq!(quantize_f32_away(1e30, 1.0, 0), 127);
    assert_eq!(quantize_f32_away(-1e30, 1.0, 0), -128);
    assert_eq!(quantize_f32_away(f32::NAN, 1.0, 5), 5);
    assert_eq!(quantize_f32_away(8_388_609.0, 1.0, -128), 127);
    for (v, r) in [
        (2.5f32, 3.0f32),
        (-2.5, -3.0),
        (2.4, 2.0),
        (-0.5, -1.0),
        (1e9, 1e9),
    ] {
        assert_eq!(round_half_away(v), r, "{v}");
    }
}

// ---------------------------------------------------------------------------------------------
// Conv / dense

#[test]
fn conv_act_clamp_and_output_zp() {
    // 1x1 conv, w = 1, M = 1: out = x - in_zp + out_zp, clamped.
    let p = QConv2dP {
        in_w: 4,
        out_w: 4,
        in_zp: 3,
        out_zp: -5,
        act_min: -10,
        act_max: 50,
        ..CONV
    };
    let mut out = [0i8; 4];
    conv2d(
        &p,
        &[3, 100, -100, 10],
        &[1],
        &[],
        &[ONE.0],
        &[ONE.1],
        &mut out,
    );
    assert_eq!(out, [-5, 50, -10, 2]);
    // Bias added before requantization: (x - 3 + 7) * 0.5, rounded away from zero.
    conv2d(&p, &[3, 4, -2, 10], &[1], &[7], &[1 << 30], &[0], &mut out);
    // (7, 8, 2, 14) * 0.5 = 3.5 -> 4, 4, 1, 7; + out_zp -5.
    assert_eq!(out, [-1, -1, -4, 2]);
}

#[test]
fn conv_padding_with_nonzero_input_zp() {
    // 3x3 all-ones kernel over a 2x2 input with pad 1 (out 2x2); in_zp = 10. Padding reads as the
    // zero point, i.e. contributes 0: each output sums (x - 10) over the 2x2 input.
    let p = QConv2dP {
        in_h: 2,
        in_w: 2,
        out_h: 2,
        out_w: 2,
        k_h: 3,
        k_w: 3,
        pad_t: 1,
        pad_l: 1,
        in_zp: 10,
        ..CONV
    };
    let x = [11, 12, 13, 14];
    let w = [1i8; 9];
    let mut out = [0i8; 4];
    conv2d(&p, &x, &w, &[], &[ONE.0], &[ONE.1], &mut out);
    assert_eq!(out, [10, 10, 10, 10]);
    // Same with a kernel that weights the centre only -> x - in_zp.
    let mut w = [0i8; 9];
    w[4] = 1;
    conv2d(&p, &x, &w, &[], &[ONE.0], &[ONE.1], &mut out);
    assert_eq!(out, [1, 2, 3, 4]);
    assert_eq!(out.to_vec(), ref_conv(&p, &x, &w, &[], &[ONE.0], &[ONE.1]));
}

#[test]
fn conv_depthwise_per_channel() {
    // 2 channels, depthwise 2x2 kernel, stride 1, output 1x1; per-channel multipliers 1 and 0.5.
    let p = QConv2dP {
        in_c: 2,
        out_c: 2,
        groups: 2,
        in_h: 2,
        in_w: 2,
        k_h: 2,
        k_w: 2,
        per_channel: true,
        in_zp: -1,
        ..CONV
    };
    let x = [1, 2, 3, 4, -1, -2, -3, -4];
    let w = [1, 1, 1, 1, 1, -1, 2, 0];
    let bias = [0, 1];
    let mut out = [0i8; 2];
    conv2d(&p, &x, &w, &bias, &[ONE.0, 1 << 30], &[ONE.1, 0], &mut out);
    // ch0: (2 + 3 + 4 + 5) = 14. ch1: x+1 = (0, -1, -2, -3): 0 + 1 - 4 + 0 + bias 1 = -2, * 0.5.
    assert_eq!(out, [14, -1]);
    assert_eq!(
        out.to_vec(),
        ref_conv(&p, &x, &w, &bias, &[ONE.0, 1 << 30], &[ONE.1, 0])
    );
}

#[test]
fn dense_hand_computed() {
    let p = QDenseP {
        batch: 1,
        m: 2,
        k: 3,
        n: 2,
        in_zp: 1,
        out_zp: 2,
        per_channel: true,
        act_min: -128,
        act_max: 127,
    };
    // a - 1 = [[0, 1, 2], [-2, -1, 0]]; w [n = 2, k = 3]: column 0 = [1, 2, -3], 1 = [-1, 3, 4].
    let a = [1, 2, 3, -1, 0, 1];
    let w = [1, 2, -3, -1, 3, 4];
    let bias = [10, -10];
    let mut out = [0i8; 4];
    dense(&p, &a, &w, &bias, &[ONE.0, 1 << 30], &[ONE.1, 0], &mut out);
    // row 0: col0 = 0 + 2 - 6 + 10 = 6; col1 = (0 + 3 + 8 - 10) * 0.5 = 0.5 -> 1; + out_zp 2.
    // row 1: col0 = -2 - 2 + 10 = 6; col1 = (2 - 3 - 10) * 0.5 = -5.5 -> -5 (high-mul ties go
    // up); + out_zp 2.
    assert_eq!(out, [8, 3, 8, -3]);
}

#[test]
fn dense_wide_output_spans_chunks() {
    let n = 70;
    let p = QDenseP {
        batch: 2,
        m: 1,
        k: 5,
        n,
        in_zp: -3,
        out_zp: 1,
        per_channel: false,
        act_min: -100,
        act_max: 100,
    };
    let a: Vec<i8> = (0..10).map(|i| (i * 7 % 23 - 11) as i8).collect();
    let w: Vec<i8> = (0..5 * n).map(|i| (i * 13 % 41) as i8 - 20).collect();
    let bias: Vec<i32> = (0..n as i32).map(|i| i * 3 - 100).collect();
    let (m, s) = quantize_multiplier(0.37);
    let mut out = vec![0i8; 2 * n as usize];
    dense(&p, &a, &w, &bias, &[m], &[s], &mut out);
    assert_eq!(out, ref_dense(&p, &a, &w, &bias, &[m], &[s]));
}

// ---------------------------------------------------------------------------------------------
// Add / mul

#[test]
fn add_with_different_scales() {
    // a: scale 0.5, zp 1; b: scale 0.25, zp -2; out: scale 1.0, zp 3 (TFLite's parameter recipe).
    let (sa, sb, so) = (0.5f64, 0.25f64, 1.0f64);
    let twice_max = 2.0 * sa.max(sb);
    let ls = 20;
    let (am, ash) = quantize_multiplier(sa / twice_max);
    let (bm, bsh) = quantize_multiplier(sb / twice_max);
    let (om, osh) = quantize_multiplier(twice_max / ((1u64 << ls) as f64 * so));
    let p = QBinaryP {
        rank: 1,
        out_shape: [6, 1, 1, 1, 1, 1],
        a_zp: 1,
        b_zp: -2,
        out_zp: 3,
        left_shift: ls,
        a_mult: am,
        a_shift: ash,
        b_mult: bm,
        b_shift: bsh,
        out_mult: om,
        out_shift: osh,
        ..BIN
    };
    let a = [1i8, 3, 5, -1, 2, 127];
    let b = [-2i8, 0, 4, -4, -1, 127];
    let mut out = [0i8; 6];
    binary(&p, &a, &b, &mut out);
    // real a = 0, 1, 2, -1, 0.5, 63; real b = 0, 0.5, 1.5, -0.5, 0.25, 32.25.
    // sum = 0, 1.5, 3.5, -1.5, 0.75, 95.25 -> round away: 0, 2, 4, -2, 1, 95; + 3, clamp 127.
    assert_eq!(out, [3, 5, 7, 1, 4, 98]);
    assert_eq!(out.to_vec(), ref_binary(&p, &a, &b));
    // Sub: a - b = 0, 0.5, 0.5, -0.5, 0.25, 30.75 -> 0, 1, 1, -1, 0, 31.
    let p = QBinaryP { op: QBIN_SUB, ..p };
    binary(&p, &a, &b, &mut out);
    assert_eq!(out, [3, 4, 4, 2, 3, 34]);
    assert_eq!(out.to_vec(), ref_binary(&p, &a, &b));
}

#[test]
fn mul_and_broadcast_and_clamp() {
    // a [2, 3] * b [3] (broadcast along dim 0); M = 0.5; out_zp -1; ReLU-like clamp at out_zp.
    let (m, s) = quantize_multiplier(0.5);
    let p = QBinaryP {
        op: QBIN_MUL,
        rank: 2,
        out_shape: [2, 3, 1, 1, 1, 1],
        a_strides: [3, 1, 0, 0, 0, 0],
        b_strides: [0, 1, 0, 0, 0, 0],
        a_zp: 1,
        b_zp: 0,
        out_zp: -1,
        out_mult: m,
        out_shift: s,
        act_min: -1,
        act_max: 127,
        ..BIN
    };
    let a = [2i8, 3, 4, -1, 0, 127];
    let b = [3i8, -3, 100];
    let mut out = [0i8; 6];
    binary(&p, &a, &b, &mut out);
    // (a-1)*b = 3, -6, 300, -6, 3, 12600; * 0.5 -> 2, -3, 150, -3, 2, 6300; - 1, clamp [-1, 127].
    assert_eq!(out, [1, -1, 127, -1, 1, 127]);
    assert_eq!(out.to_vec(), ref_binary(&p, &a, &b));
}

// ---------------------------------------------------------------------------------------------
// Pooling

#[test]
fn avg_pool_rounds_half_away_from_zero() {
    let p = QPool2dP {
        in_w: 2,
        k_w: 2,
        ..POOL
    };
    let cases: [([i8; 2], i8); 8] = [
        ([1, 2], 2),    // 1.5
        ([-1, -2], -2), // -1.5
        ([0, 1], 1),    // 0.5
        ([0, -1], -1),  // -0.5
        ([1, 1], 1),
        ([127, 126], 127), // 126.5
        ([-128, -127], -128),
        ([-128, 127], -1), // -0.5
    ];
    for (x, want) in cases {
        let mut out = [0i8];
        pool2d(&p, &x, &mut out);
        assert_eq!(out[0], want, "{x:?}");
    }
    // 1.25 -> 1, 1.75 -> 2 (4 taps).
    let p = QPool2dP {
        in_w: 4,
        k_w: 4,
        ..POOL
    };
    let mut out = [0i8];
    pool2d(&p, &[1, 1, 1, 2], &mut out);
    assert_eq!(out[0], 1);
    pool2d(&p, &[2, 2, 2, 1], &mut out);
    assert_eq!(out[0], 2);
    pool2d(&p, &[-2, -2, -2, -1], &mut out);
    assert_eq!(out[0], -2);
}

#[test]
fn avg_pool_padding_modes() {
    // 1x2 input, kernel 1x3, pad_l 1, out 1x2; zp = 10.
    let p = QPool2dP {
        in_w: 2,
        out_w: 2,
        k_w: 3,
        pad_l: 1,
        zp: 10,
        ..POOL
    };
    let x = [20i8, 31];
    let mut out = [0i8; 2];
    pool2d(&p, &x, &mut out);
    // Without count_include_pad: (20 + 31) / 2 = 25.5 -> 26 for both windows.
    assert_eq!(out, [26, 26]);
    let p = QPool2dP {
        count_include_pad: true,
        ..p
    };
    pool2d(&p, &x, &mut out);
    // Pads count as zp = 10: (10 + 20 + 31) / 3 = 20.33 -> 20 for both.
    assert_eq!(out, [20, 20]);
    assert_eq!(out.to_vec(), ref_pool(&p, &x));
}

#[test]
fn max_pool_with_act_clamp() {
    let p = QPool2dP {
        kind: QPOOL_MAX,
        in_h: 2,
        in_w: 2,
        k_h: 2,
        k_w: 2,
        act_min: -5,
        act_max: 5,
        ..POOL
    };
    let mut out = [0i8];
    pool2d(&p, &[-100, -50, -30, -20], &mut out);
    assert_eq!(out[0], -5);
    pool2d(&p, &[-100, 50, 3, -20], &mut out);
    assert_eq!(out[0], 5);
    pool2d(&p, &[-100, 2, 3, -20], &mut out);
    assert_eq!(out[0], 3);
}

// ---------------------------------------------------------------------------------------------
// Mean, concat, pad, lut, softmax, requant

#[test]
fn mean_rounds_like_tflite() {
    // [2, 3] mean over dim 1 -> [2, 1]; in_zp 1, out_zp -1, same scale: 1/3 folded in.
    let (mult, shift) = mean_multiplier(1.0, 3);
    // k = 1: (2^30 << 1) / 3, shift 1 - 1.
    assert_eq!((mult, shift), (((1i64 << 31) / 3) as i32, 0));
    let p = QMeanP {
        rank: 2,
        in_shape: [2, 3, 1, 1, 1, 1],
        mask: 0b10,
        in_zp: 1,
        out_zp: -1,
        mult,
        shift,
    };
    let x = [1, 2, 3, -1, -2, 1];
    let mut out = [0i8; 2];
    mean(&p, &x, &mut out);
    // x - 1: (0, 1, 2) sum 3 / 3 = 1 -> 0; (-2, -3, 0) sum -5 / 3 = -1.67 -> -2 -> -3.
    assert_eq!(out, [0, -3]);
    // Over dim 0 -> [1, 3]: sums -2, -2, 2 halved: -1, -1, 1; -1.
    let (mult, shift) = mean_multiplier(1.0, 2);
    let p = QMeanP {
        mask: 0b01,
        mult,
        shift,
        ..p
    };
    let mut out = [0i8; 3];
    mean(&p, &x, &mut out);
    assert_eq!(out, [-2, -2, 0]);
    // The double rounding TFLite-Micro has: 28200 * 5.86434 / 1024 = 161.498 rounds to 162
    // (srdhm to 20672, then 20672 / 128 = 161.5, ties away from zero).
    let (mult, shift) = mean_multiplier(0.022252047f32 as f64 / 0.0037944717f32 as f64, 1024);
    assert_eq!(multiply_by_quantized_multiplier(28200, mult, shift), 162);
    assert_eq!(mean_multiplier(1.0, 0), (0, 0));
}

#[test]
fn concat_requantizes_only_differing_inputs() {
    let (m, s) = quantize_multiplier(0.5);
    let mut p = QConcatP {
        outer: 2,
        count: 2,
        parts: [0; MAX_CONCAT],
        requant_mask: 0b10,
        in_zp: [0; MAX_CONCAT],
        mult: [0; MAX_CONCAT],
        shift: [0; MAX_CONCAT],
        out_zp: 4,
    };
    p.parts[..2].copy_from_slice(&[1, 2]);
    p.in_zp[1] = -2;
    p.mult[1] = m;
    p.shift[1] = s;
    let a = [7i8, 8];
    let b = [-2i8, 1, 127, -128];
    let mut out = [0i8; 6];
    concat(&p, &[&a, &b], &mut out);
    // b: (b + 2) * 0.5 + 4 = 4, 5.5 -> 6... (3 * 0.5 = 1.5 -> 2) + 4 = 6; (129 * .5 = 64.5 -> 65)
    // + 4 = 69; (-126 * .5 = -63) + 4 = -59.
    assert_eq!(out, [7, 4, 6, 8, 69, -59]);
    for (i, &v) in b.iter().enumerate() {
        assert_eq!(
            requantize(v, -2, 4, m, s),
            ref_requant(v, -2, 4, m, s),
            "{i}"
        );
    }
}

#[test]
fn pad_fills_with_output_zp() {
    let p = QPadP {
        rank: 2,
        in_shape: [1, 2, 1, 1, 1, 1],
        out_shape: [2, 3, 1, 1, 1, 1],
        begin: [1, 1, 0, 0, 0, 0],
        value: -7,
    };
    let mut out = [0i8; 6];
    pad(&p, &[1, 2], &mut out);
    assert_eq!(out, [-7, -7, -7, -7, 1, 2]);
}

#[test]
fn lut_indexes_by_x_plus_128() {
    let t = make_lut(1.0, 0, 1.0, 0, |x| -x);
    assert_eq!(t[0], 127); // -(-128) saturates
    assert_eq!(t[128], 0);
    assert_eq!(t[255], -127);
    let mut out = [0i8; 4];
    lut(&LutP { len: 4 }, &[-128, 0, 5, 127], &t, &mut out);
    assert_eq!(out, [127, 0, -5, -127]);
    // Rounding half away from zero: f(x) = x / 2 at x = 1, -1, 3.
    let t = make_lut(1.0, 0, 1.0, 0, |x| x / 2.0);
    assert_eq!([t[129], t[127], t[131]], [1, -1, 2]);
    // With scales and zero points: sigmoid(0) = 0.5 / (1/256) - 128 = 0.
    let t = make_lut(0.1, 3, 1.0 / 256.0, -128, |x| 1.0 / (1.0 + (-x).exp()));
    assert_eq!(t[(3 + 128) as usize], 0);
}

#[test]
fn softmax_integer() {
    let table = softmax_exp_table(1.0, 0.1).unwrap();
    // exp(0) is gemmlowp's Q0 one; exp(-0.1 * d) in Q0 otherwise.
    assert_eq!(table[0], i32::MAX);
    for (d, &e) in table.iter().enumerate().skip(1) {
        let want = (-0.1 * d as f64).exp() * 2f64.powi(31);
        assert!((e as f64 - want).abs() <= want * 1e-6 + 64.0, "d {d}");
    }
    let p = QSoftmaxP {
        outer: 1,
        axis: 4,
        inner: 1,
    };
    let mut out = [0i8; 4];
    // Uniform: 256 / 4 = 64 each -> -64.
    softmax(&p, &[5, 5, 5, 5], &table, &mut out);
    assert_eq!(out, [-64; 4]);
    // One dominant element: exp(-25.5) is 0 in Q0 -> 256 -> saturated to 127.
    softmax(&p, &[127, -128, -128, -128], &table, &mut out);
    assert_eq!(out, [127, -128, -128, -128]);
    // Against f64 within one LSB.
    let x = [10i8, 0, -7, 3];
    softmax(&p, &x, &table, &mut out);
    let e: Vec<f64> = x.iter().map(|&v| ((v as f64 - 10.0) * 0.1).exp()).collect();
    let s: f64 = e.iter().sum();
    for (o, ev) in out.iter().zip(&e) {
        let want = (ev / s * 256.0).round() - 128.0;
        assert!((*o as f64 - want).abs() <= 1.0, "{o} vs {want}");
    }
    // Inner > 1: axis is the middle dim.
    let p = QSoftmaxP {
        outer: 1,
        axis: 2,
        inner: 2,
    };
    let mut out = [0i8; 4];
    softmax(&p, &[1, 9, 1, -9], &table, &mut out);
    assert_eq!(out[0], out[2]);
    assert_eq!(out[0], 0);
    // exp(-1.8) / (1 + exp(-1.8)) * 256 = 36.3 -> 36: -92 and 220 -> 92.
    assert_eq!([out[1], out[3]], [92, -92]);
    // Differences past TFLite's diff_min count as exp = 0: a huge scale leaves only the max.
    let big = softmax_exp_table(1.0, 100.0).unwrap();
    assert!(big[1..].iter().all(|&e| e == 0));
    assert!(softmax_exp_table(1.0, 1e-9).is_none());
}

#[test]
fn strided_transpose_and_gather() {
    // [2, 3] -> transpose -> [3, 2].
    let p = StridedP {
        rank: 2,
        out_shape: [3, 2, 1, 1, 1, 1],
        strides: [1, 3, 0, 0, 0, 0],
        offset: 0,
    };
    let mut out = [0i8; 6];
    strided(&p, &[1, 2, 3, 4, 5, 6], &mut out);
    assert_eq!(out, [1, 4, 2, 5, 3, 6]);
    let p = GatherP {
        outer: 2,
        axis_len: 3,
        inner: 1,
        n_idx: 2,
    };
    let mut out = [0i8; 4];
    gather(&p, &[1, 2, 3, 4, 5, 6], &[2, 0], &mut out);
    assert_eq!(out, [3, 1, 6, 4]);
}

#[test]
fn degenerate_constants_never_panic() {
    // Out-of-range shifts are clamped, extreme zero points wrap: no panic in debug builds.
    let _ = multiply_by_quantized_multiplier(12345, i32::MAX, i32::MIN);
    let _ = multiply_by_quantized_multiplier(12345, i32::MAX, i32::MAX);
    let _ = rounding_divide_by_pot(-7, 99);
    let _ = requantize(5, i32::MIN, i32::MAX, i32::MIN, -40);
    let p = QBinaryP {
        a_zp: i32::MIN,
        b_zp: i32::MAX,
        left_shift: 99,
        ..BIN
    };
    let mut out = [0i8];
    binary(&p, &[1], &[-1], &mut out);
    binary(&QBinaryP { op: QBIN_MUL, ..p }, &[1], &[-1], &mut out);
    // An unknown op code leaves the output unwritten.
    out[0] = 42;
    binary(&QBinaryP { op: 9, ..p }, &[1], &[-1], &mut out);
    assert_eq!(out[0], 42);
}

#[test]
fn round_half_even_matches_std_on_ties_and_beyond() {
    let mut vals: Vec<f32> = (-3000..3000).map(|k| k as f32 * 0.5).collect();
    vals.extend([
        4_194_303.5,
        4_194_304.5,
        8_388_607.5,
        -8_388_607.5,
        8_388_608.0,
        1e9,
        -0.49,
    ]);
    vals.extend((0..2000).map(|i| (i as f32 * 0.618_034).sin() * 3e6));
    for v in vals {
        let want = v.round_ties_even();
        let got = round_half_even(v);
        assert_eq!(got.to_bits(), want.to_bits(), "{v}");
    }
}

/// `quantize_f32` (its short rounding below 2^22) equals the contract's
/// `sat(round_half_even(x / scale) + zp)` on every value around the 2^22 and 2^23 boundaries,
/// on halves, and with zero points that bring large quotients back into the int8 range.
#[test]
fn quantize_linear_equals_the_contract_everywhere() {
    let contract =
        |x: f32, s: f32, zp: i32| sat_i8((round_half_even(x / s) as i32).saturating_add(zp));
    let mut xs = vec![0.0f32, -0.0, f32::MIN_POSITIVE, f32::MAX, f32::MIN];
    for base in [4_194_304.0f32, 8_388_608.0, 1.0, 127.0, 0.5] {
        let b = base.to_bits();
        for d in 0..8u32 {
            for v in [f32::from_bits(b + d), f32::from_bits(b - d)] {
                xs.extend([v, -v, v + 0.5, -v - 0.5]);
            }
        }
    }
    let mut r = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        xs.push(f32::from_bits(r as u32));
    }
    for &x in &xs {
        for (s, zp) in [
            (1.0f32, 0),
            (0.5, -4_194_300),
            (1.0, -4_194_304),
            (0.37, 8_388_600),
            (3.0, 0),
        ] {
            assert_eq!(
                quantize_f32(x, s, zp),
                contract(x, s, zp),
                "x = {x:e}, scale {s}, zp {zp}"
            );
        }
    }
}
