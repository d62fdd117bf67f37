//! Plain, obviously-correct references written with wide (i64 / i128) integer math: no shifts
//! tricks, no nudges — just "round the exact rational to nearest, ties away from zero".

use kiln_kernels::i8::*;

/// `floor(num / den)` (den > 0).
pub fn floor_div(num: i128, den: i128) -> i128 {
    num.div_euclid(den)
}

/// `num / den` (den > 0) rounded to nearest, ties toward +infinity (gemmlowp's high mul).
pub fn round_half_up(num: i128, den: i128) -> i128 {
    floor_div(2 * num + den, 2 * den)
}

/// `num / den` (den > 0) rounded to nearest, ties away from zero.
pub fn round_away(num: i128, den: i128) -> i128 {
    assert!(den > 0);
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

/// TFLite's double-rounding `MultiplyByQuantizedMultiplier`, from its definition: `x * 2^left`,
/// then `x * mult / 2^31` rounded half up (saturated to i32), then `/ 2^right` rounded half away
/// from zero. Assumes the left shift does not overflow.
pub fn ref_mbqm(x: i32, mult: i32, shift: i32) -> i32 {
    let left = shift.max(0);
    let right = (-shift).max(0);
    let xs = x as i128 * (1i128 << left);
    assert!(xs >= i32::MIN as i128 && xs <= i32::MAX as i128);
    let h = round_half_up(xs * mult as i128, 1i128 << 31).clamp(i32::MIN as i128, i32::MAX as i128);
    round_away(h, 1i128 << right) as i32
}

pub fn clamp8(v: i64, lo: i8, hi: i8) -> i8 {
    v.clamp(lo as i64, hi as i64) as i8
}

/// Convolution with explicit padding: an input read outside the image reads `in_zp`.
pub fn ref_conv(
    p: &QConv2dP,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
) -> Vec<i8> {
    let g = p.groups as i64;
    let (icg, ocg) = (p.in_c as i64 / g, p.out_c as i64 / g);
    let mut out = vec![];
    for n in 0..p.batch as i64 {
        for oc in 0..p.out_c as i64 {
            let grp = oc / ocg;
            let c = if p.per_channel { oc as usize } else { 0 };
            for oy in 0..p.out_h as i64 {
                for ox in 0..p.out_w as i64 {
                    let mut acc: i64 = if bias.is_empty() {
                        0
                    } else {
                        bias[oc as usize] as i64
                    };
                    for icl in 0..icg {
                        let ic = grp * icg + icl;
                        for ky in 0..p.k_h as i64 {
                            for kx in 0..p.k_w as i64 {
                                let iy = oy * p.s_h as i64 - p.pad_t as i64 + ky * p.d_h as i64;
                                let ix = ox * p.s_w as i64 - p.pad_l as i64 + kx * p.d_w as i64;
                                let xv = if iy >= 0
                                    && ix >= 0
                                    && iy < p.in_h as i64
                                    && ix < p.in_w as i64
                                {
                                    x[(((n * p.in_c as i64 + ic) * p.in_h as i64 + iy)
                                        * p.in_w as i64
                                        + ix) as usize] as i64
                                } else {
                                    p.in_zp as i64
                                };
                                let wv = w[(((oc * icg + icl) * p.k_h as i64 + ky) * p.k_w as i64
                                    + kx) as usize] as i64;
                                acc += (xv - p.in_zp as i64) * wv;
                            }
                        }
                    }
                    let v = ref_mbqm(acc as i32, mult[c], shift[c]) as i64 + p.out_zp as i64;
                    out.push(clamp8(v, p.act_min, p.act_max));
                }
            }
        }
    }
    out
}

pub fn ref_dense(
    p: &QDenseP,
    a: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
) -> Vec<i8> {
    let (k, n) = (p.k as usize, p.n as usize);
    let mut out = vec![];
    for r in 0..(p.batch * p.m) as usize {
        for j in 0..n {
            let mut acc: i64 = if bias.is_empty() { 0 } else { bias[j] as i64 };
            for kk in 0..k {
                acc += (a[r * k + kk] as i64 - p.in_zp as i64) * w[j * k + kk] as i64;
            }
            let c = if p.per_channel { j } else { 0 };
            let v = ref_mbqm(acc as i32, mult[c], shift[c]) as i64 + p.out_zp as i64;
            out.push(clamp8(v, p.act_min, p.act_max));
        }
    }
    out
}

/// Element of TFLite's Add / Sub / Mul from its definition.
pub fn ref_binary_one(p: &QBinaryP, a: i8, b: i8) -> i8 {
    let (a, b) = (a as i64 - p.a_zp as i64, b as i64 - p.b_zp as i64);
    let v = match p.op {
        QBIN_MUL => ref_mbqm((a * b) as i32, p.out_mult, p.out_shift) as i64,
        op => {
            let ls = 1i64 << p.left_shift;
            let sa = ref_mbqm((a * ls) as i32, p.a_mult, p.a_shift) as i64;
            let sb = ref_mbqm((b * ls) as i32, p.b_mult, p.b_shift) as i64;
            let raw = if op == QBIN_SUB { sa - sb } else { sa + sb };
            ref_mbqm(raw as i32, p.out_mult, p.out_shift) as i64
        }
    };
    clamp8(v + p.out_zp as i64, p.act_min, p.act_max)
}

/// Broadcasting binary through an explicit multi-index.
pub fn ref_binary(p: &QBinaryP, a: &[i8], b: &[i8]) -> Vec<i8> {
    let rank = p.rank as usize;
    let shape = &p.out_shape[..rank];
    let total: usize = shape.iter().map(|&l| l as usize).product();
    (0..total)
        .map(|mut flat| {
            let (mut ia, mut ib) = (0usize, 0usize);
            for d in (0..rank).rev() {
                let i = flat % shape[d] as usize;
                flat /= shape[d] as usize;
                ia += i * p.a_strides[d] as usize;
                ib += i * p.b_strides[d] as usize;
            }
            ref_binary_one(p, a[ia], b[ib])
        })
        .collect()
}

/// Pooling with an explicit tap list; average divides with `round_away`.
pub fn ref_pool(p: &QPool2dP, x: &[i8]) -> Vec<i8> {
    let mut out = vec![];
    for pl in 0..(p.batch * p.c) as i64 {
        for oy in 0..p.out_h as i64 {
            for ox in 0..p.out_w as i64 {
                let mut taps = vec![];
                let mut pads = 0i64;
                for ky in 0..p.k_h as i64 {
                    for kx in 0..p.k_w as i64 {
                        let iy = oy * p.s_h as i64 - p.pad_t as i64 + ky * p.d_h as i64;
                        let ix = ox * p.s_w as i64 - p.pad_l as i64 + kx * p.d_w as i64;
                        if iy >= 0 && ix >= 0 && iy < p.in_h as i64 && ix < p.in_w as i64 {
                            taps.push(
                                x[((pl * p.in_h as i64 + iy) * p.in_w as i64 + ix) as usize] as i64,
                            );
                        } else {
                            pads += 1;
                        }
                    }
                }
                let v = if p.kind == QPOOL_MAX {
                    taps.iter().copied().max().unwrap_or(-128)
                } else if p.count_include_pad {
                    let s: i64 = taps.iter().sum::<i64>() + pads * p.zp as i64;
                    round_away(s as i128, (p.k_h * p.k_w) as i128) as i64
                } else if taps.is_empty() {
                    p.zp as i64
                } else {
                    round_away(taps.iter().sum::<i64>() as i128, taps.len() as i128) as i64
                };
                out.push(clamp8(v, p.act_min, p.act_max));
            }
        }
    }
    out
}

/// Requantize one value from its definition.
pub fn ref_requant(v: i8, in_zp: i32, out_zp: i32, mult: i32, shift: i32) -> i8 {
    let r = ref_mbqm(v as i32 - in_zp, mult, shift) as i64 + out_zp as i64;
    clamp8(r, -128, 127)
}
