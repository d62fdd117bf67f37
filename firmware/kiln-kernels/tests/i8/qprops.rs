//! Randomized comparisons with the wide-integer references (named `qprops` so its proptest
//! regression file does not collide with the f32 suite's `props.txt`).

use crate::edge::{BIN, CONV, POOL};
use crate::reference::*;
use kiln_kernels::i8::*;
use proptest::collection::vec;
use proptest::prelude::*;

/// A realistic requantization pair: `mult` in `[2^30, 2^31)` (or negated), `shift` in
/// `[-31, 30]`.
fn mult_shift() -> impl Strategy<Value = (i32, i32)> {
    (
        (1i32 << 30)..=i32::MAX,
        any::<bool>(),
        prop_oneof![-31i32..=0, 1i32..=30],
    )
        .prop_map(|(m, neg, s)| (if neg { -m } else { m }, s))
}

/// A (mult, shift) from a random real multiplier in the range conv / dense use.
fn conv_mult() -> impl Strategy<Value = (i32, i32)> {
    (-14.0f64..2.0).prop_map(|e| quantize_multiplier(libm::pow(2.0, e)))
}

fn i8s(len: usize) -> impl Strategy<Value = Vec<i8>> {
    vec(any::<i8>(), len)
}

/// Output length of a window op along one dim, or `None` when no window fits.
fn out_len(n: u32, k: u32, s: u32, d: u32, pad_a: u32, pad_b: u32) -> Option<u32> {
    let ext = (k - 1) * d + 1;
    let padded = n + pad_a + pad_b;
    (ext <= padded).then(|| (padded - ext) / s + 1)
}

/// One spatial dim: (in, k, s, d, pad_begin, pad_end).
fn dim() -> impl Strategy<Value = (u32, u32, u32, u32, u32, u32)> {
    (1u32..=7, 1u32..=3, 1u32..=3, 1u32..=2, 0u32..=2, 0u32..=2)
}

fn act_range() -> impl Strategy<Value = (i8, i8)> {
    prop_oneof![
        Just((-128i8, 127i8)),
        (any::<i8>(), any::<i8>()).prop_map(|(a, b)| (a.min(b), a.max(b))),
    ]
}

#[derive(Debug, Clone)]
struct ConvCase {
    p: QConv2dP,
    x: Vec<i8>,
    w: Vec<i8>,
    bias: Vec<i32>,
    mult: Vec<i32>,
    shift: Vec<i32>,
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        dim(),
        dim(),
        1u32..=2,
        1u32..=3,
        1u32..=3,
        1u32..=2,
        any::<bool>(),
    )
        .prop_filter_map("no window fits", |(h, w, batch, g, icg, ocg, pc)| {
            let oh = out_len(h.0, h.1, h.2, h.3, h.4, h.5)?;
            let ow = out_len(w.0, w.1, w.2, w.3, w.4, w.5)?;
            Some(QConv2dP {
                batch,
                in_c: g * icg,
                in_h: h.0,
                in_w: w.0,
                out_c: g * ocg,
                out_h: oh,
                out_w: ow,
                k_h: h.1,
                k_w: w.1,
                s_h: h.2,
                s_w: w.2,
                d_h: h.3,
                d_w: w.3,
                pad_t: h.4,
                pad_l: w.4,
                groups: g,
                per_channel: pc,
                ..CONV
            })
        })
        .prop_flat_map(|p| {
            let nx = (p.batch * p.in_c * p.in_h * p.in_w) as usize;
            let nw = (p.out_c * (p.in_c / p.groups) * p.k_h * p.k_w) as usize;
            let nq = if p.per_channel { p.out_c as usize } else { 1 };
            (
                Just(p),
                i8s(nx),
                i8s(nw),
                prop_oneof![Just(vec![]), vec(-100_000i32..100_000, p.out_c as usize)],
                vec(conv_mult(), nq),
                any::<i8>(),
                any::<i8>(),
                act_range(),
            )
        })
        .prop_map(|(p, x, w, bias, q, izp, ozp, (lo, hi))| ConvCase {
            p: QConv2dP {
                in_zp: izp as i32,
                out_zp: ozp as i32,
                act_min: lo,
                act_max: hi,
                ..p
            },
            x,
            w,
            bias,
            mult: q.iter().map(|v| v.0).collect(),
            shift: q.iter().map(|v| v.1).collect(),
        })
}

#[derive(Debug, Clone)]
struct DenseCase {
    p: QDenseP,
    a: Vec<i8>,
    w: Vec<i8>,
    bias: Vec<i32>,
    mult: Vec<i32>,
    shift: Vec<i32>,
}

fn dense_case() -> impl Strategy<Value = DenseCase> {
    (1u32..=2, 1u32..=3, 1u32..=40, 1u32..=80, any::<bool>())
        .prop_flat_map(|(batch, m, k, n, pc)| {
            let nq = if pc { n as usize } else { 1 };
            (
                Just((batch, m, k, n, pc)),
                i8s((batch * m * k) as usize),
                i8s((k * n) as usize),
                prop_oneof![Just(vec![]), vec(-100_000i32..100_000, n as usize)],
                vec(conv_mult(), nq),
                any::<i8>(),
                any::<i8>(),
                act_range(),
            )
        })
        .prop_map(
            |((batch, m, k, n, pc), a, w, bias, q, izp, ozp, (lo, hi))| DenseCase {
                p: QDenseP {
                    batch,
                    m,
                    k,
                    n,
                    in_zp: izp as i32,
                    out_zp: ozp as i32,
                    per_channel: pc,
                    act_min: lo,
                    act_max: hi,
                },
                a,
                w,
                bias,
                mult: q.iter().map(|v| v.0).collect(),
                shift: q.iter().map(|v| v.1).collect(),
            },
        )
}

/// Add / Sub / Mul with TFLite's parameter recipe from random scales, on broadcast shapes.
fn binary_case() -> impl Strategy<Value = (QBinaryP, Vec<i8>, Vec<i8>)> {
    (
        0u8..3,
        vec(1u32..=4, 1..=4),
        vec(any::<bool>(), 4),
        vec(any::<bool>(), 4),
        (-8.0f64..0.0, -8.0f64..0.0, -8.0f64..0.0),
        (any::<i8>(), any::<i8>(), any::<i8>()),
        act_range(),
    )
        .prop_flat_map(
            |(op, shape, ba, bb, (ea, eb, eo), (za, zb, zo), (lo, hi))| {
                let rank = shape.len();
                let mut out_shape = [1u32; 6];
                out_shape[..rank].copy_from_slice(&shape);
                // Row-major strides of each operand's own (broadcast) shape.
                let strides = |bcast: &[bool]| {
                    let mut s = [0u32; 6];
                    let mut acc = 1;
                    for d in (0..rank).rev() {
                        if !bcast[d] {
                            s[d] = acc;
                            acc *= out_shape[d];
                        }
                    }
                    (s, acc as usize)
                };
                let (a_strides, na) = strides(&ba);
                let (b_strides, nb) = strides(&bb);
                let (sa, sb, so) = (libm::pow(2.0, ea), libm::pow(2.0, eb), libm::pow(2.0, eo));
                let mut p = QBinaryP {
                    op,
                    rank: rank as u32,
                    out_shape,
                    a_strides,
                    b_strides,
                    a_zp: za as i32,
                    b_zp: zb as i32,
                    out_zp: zo as i32,
                    act_min: lo,
                    act_max: hi,
                    ..BIN
                };
                if op == QBIN_MUL {
                    (p.out_mult, p.out_shift) = quantize_multiplier(sa * sb / so);
                } else {
                    let twice_max = 2.0 * sa.max(sb);
                    (p.a_mult, p.a_shift) = quantize_multiplier(sa / twice_max);
                    (p.b_mult, p.b_shift) = quantize_multiplier(sb / twice_max);
                    (p.out_mult, p.out_shift) =
                        quantize_multiplier(twice_max / ((1u64 << 20) as f64 * so));
                }
                (Just(p), i8s(na), i8s(nb))
            },
        )
        .prop_filter("multiplier out of range", |(p, _, _)| {
            p.out_shift <= 30 && p.out_mult != 0
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mbqm_matches_wide_reference((m, s) in mult_shift(), x in any::<i32>()) {
        // Keep x * 2^left inside i32 (the planned range; overflow is documented as wrapping).
        let left = s.max(0);
        let x = x >> left;
        prop_assert_eq!(multiply_by_quantized_multiplier(x, m, s), ref_mbqm(x, m, s));
    }

    #[test]
    fn srdhm_matches_wide_reference(a in any::<i32>(), b in any::<i32>()) {
        let want = round_half_up(a as i128 * b as i128, 1 << 31)
            .clamp(i32::MIN as i128, i32::MAX as i128) as i32;
        prop_assert_eq!(saturating_rounding_doubling_high_mul(a, b), want);
    }

    #[test]
    fn rdbpot_matches_wide_reference(x in any::<i32>(), e in 0i32..=31) {
        prop_assert_eq!(
            rounding_divide_by_pot(x, e),
            round_away(x as i128, 1i128 << e) as i32
        );
    }

    #[test]
    fn quantize_multiplier_within_2_pow_minus_31(e in -31.0f64..30.0, f in 0.5f64..1.0, neg in any::<bool>()) {
        let real = libm::pow(2.0, e.floor()) * f * if neg { -1.0 } else { 1.0 };
        let (m, s) = quantize_multiplier(real);
        prop_assert!((-31..=31).contains(&s));
        prop_assert!(m.unsigned_abs() >= 1 << 30);
        let got = multiplier_value(m, s);
        let rel = ((got - real) / real).abs();
        prop_assert!(rel <= libm::pow(2.0, -31.0), "real {} got {} rel {}", real, got, rel);
    }

    #[test]
    fn requant_matches_reference(v in any::<i8>(), zi in any::<i8>(), zo in any::<i8>(), e in -8.0f64..4.0) {
        let (m, s) = quantize_multiplier(libm::pow(2.0, e));
        prop_assert_eq!(requantize(v, zi as i32, zo as i32, m, s), ref_requant(v, zi as i32, zo as i32, m, s));
    }

    #[test]
    fn conv2d_matches_reference(c in conv_case()) {
        let n = (c.p.batch * c.p.out_c * c.p.out_h * c.p.out_w) as usize;
        let mut out = vec![0i8; n];
        conv2d(&c.p, &c.x, &c.w, &c.bias, &c.mult, &c.shift, &mut out);
        prop_assert_eq!(out, ref_conv(&c.p, &c.x, &c.w, &c.bias, &c.mult, &c.shift));
    }

    #[test]
    fn dense_matches_reference(c in dense_case()) {
        let n = (c.p.batch * c.p.m * c.p.n) as usize;
        let mut out = vec![0i8; n];
        dense(&c.p, &c.a, &c.w, &c.bias, &c.mult, &c.shift, &mut out);
        prop_assert_eq!(out, ref_dense(&c.p, &c.a, &c.w, &c.bias, &c.mult, &c.shift));
    }

    #[test]
    fn binary_matches_reference((p, a, b) in binary_case()) {
        let n: usize = p.out_shape.iter().map(|&l| l as usize).product();
        let mut out = vec![0i8; n];
        binary(&p, &a, &b, &mut out);
        prop_assert_eq!(out, ref_binary(&p, &a, &b));
    }

    #[test]
    fn pool2d_matches_reference(
        h in dim(), w in dim(), kind in 0u8..2, cip in any::<bool>(), zp in any::<i8>(),
        (lo, hi) in act_range(), seed in any::<u64>(),
    ) {
        let (Some(oh), Some(ow)) = (
            out_len(h.0, h.1, h.2, h.3, h.4, h.5),
            out_len(w.0, w.1, w.2, w.3, w.4, w.5),
        ) else {
            return Ok(());
        };
        let p = QPool2dP {
            kind, c: 2, in_h: h.0, in_w: w.0, out_h: oh, out_w: ow, k_h: h.1, k_w: w.1,
            s_h: h.2, s_w: w.2, d_h: h.3, d_w: w.3, pad_t: h.4, pad_l: w.4,
            count_include_pad: cip, zp: zp as i32, act_min: lo, act_max: hi, ..POOL
        };
        let x: Vec<i8> = (0..2 * h.0 * w.0)
            .map(|i| (seed.wrapping_mul(6364136223846793005).wrapping_add((i as u64).wrapping_mul(1442695040888963407)) >> 56) as i8)
            .collect();
        let mut out = vec![0i8; (2 * oh * ow) as usize];
        pool2d(&p, &x, &mut out);
        prop_assert_eq!(out, ref_pool(&p, &x));
    }

    #[test]
    fn quantize_linear_is_half_even(x in -200.0f32..200.0, scale_e in -6i32..3, zp in any::<i8>()) {
        let scale = libm::ldexpf(1.0, scale_e) * 1.3;
        let q = x / scale;
        let want = ((q as f64).round_ties_even() as i64 + zp as i64).clamp(-128, 127);
        prop_assert_eq!(quantize_f32(x, scale, zp as i32) as i64, want);
    }
}
