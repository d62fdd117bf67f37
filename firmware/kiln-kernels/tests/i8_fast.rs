//! The optimized int8 conv / dense / pool / binary kernels against naive per-element references
//! that spell out the numerical contract with the same wrapping i32 arithmetic (bias, then
//! `+ (x - in_zp) * w` over the taps inside the input, then `multiply_by_quantized_multiplier`,
//! `+ out_zp`, clamp), bit for bit, on random shapes, strides, dilations, pads, groups, zero
//! points and requantization constants (extreme ones included). Deterministic: a small LCG.

use kiln_kernels::i8::*;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 32) as u32
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() as u64 % (hi - lo + 1) as u64) as i64
    }
    fn u(&mut self, lo: u32, hi: u32) -> u32 {
        self.range(lo as i64, hi as i64) as u32
    }
    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 < percent
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() as i8).collect()
    }
    /// A zero point: mostly int8, sometimes anything (the kernels must wrap like the contract).
    fn zp(&mut self) -> i32 {
        match self.next() % 10 {
            0 => self.next() as i32,
            1 => [i32::MIN, i32::MAX, -32768, 32767, 32768, -32769][self.range(0, 5) as usize],
            _ => self.next() as i8 as i32,
        }
    }
    /// A (mult, shift) pair: mostly realistic, sometimes degenerate.
    fn q(&mut self) -> (i32, i32) {
        match self.next() % 12 {
            0 => (i32::MIN, self.range(-3, 3) as i32),
            1 => (self.next() as i32, self.next() as i32),
            2 => (i32::MAX, self.range(-31, 31) as i32),
            _ => {
                let e = self.range(-14_000, 2_000) as f64 / 1000.0;
                quantize_multiplier(libm::pow(2.0, e))
            }
        }
    }
    fn act(&mut self) -> (i8, i8) {
        if self.chance(50) {
            (-128, 127)
        } else {
            let (a, b) = (self.next() as i8, self.next() as i8);
            (a.min(b), a.max(b))
        }
    }
    fn bias(&mut self, n: usize) -> Vec<i32> {
        match self.next() % 4 {
            0 => vec![],
            1 => (0..n).map(|_| self.next() as i32).collect(),
            _ => (0..n)
                .map(|_| self.range(-100_000, 100_000) as i32)
                .collect(),
        }
    }
}

fn clamp8(v: i32, lo: i8, hi: i8) -> i8 {
    let v = if v > hi as i32 { hi as i32 } else { v };
    if v < lo as i32 {
        lo
    } else {
        v as i8
    }
}

/// Output length of a window op along one dim (`None` when no window fits).
fn out_len(n: u32, k: u32, s: u32, d: u32, pad_a: u32, pad_b: u32) -> Option<u32> {
    let ext = (k.max(1) - 1) * d + 1;
    let padded = n + pad_a + pad_b;
    (ext <= padded).then(|| (padded - ext) / s + 1)
}

// ---------------------------------------------------------------------------------------------
// Conv

fn naive_conv(
    p: &QConv2dP,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
) -> Vec<i8> {
    let g = p.groups.max(1) as usize;
    let (in_c, out_c) = (p.in_c as usize, p.out_c as usize);
    let (icg, ocg) = (in_c / g, out_c / g);
    let (kh, kw) = (p.k_h as usize, p.k_w as usize);
    let (s_h, s_w) = (p.s_h.max(1) as i64, p.s_w.max(1) as i64);
    let (d_h, d_w) = (p.d_h.max(1) as i64, p.d_w.max(1) as i64);
    let (ih, iw) = (p.in_h as i64, p.in_w as i64);
    let off = p.in_zp.wrapping_neg();
    let mut out = vec![];
    for n in 0..p.batch as usize {
        for oc in 0..out_c {
            let grp = oc / ocg.max(1);
            let c = if p.per_channel { oc } else { 0 };
            for oy in 0..p.out_h as i64 {
                for ox in 0..p.out_w as i64 {
                    let mut acc = if bias.is_empty() { 0 } else { bias[oc] };
                    for icl in 0..icg {
                        let ic = grp * icg + icl;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = oy * s_h - p.pad_t as i64 + ky as i64 * d_h;
                                let ix = ox * s_w - p.pad_l as i64 + kx as i64 * d_w;
                                if iy < 0 || ix < 0 || iy >= ih || ix >= iw {
                                    continue;
                                }
                                let xv = x
                                    [((n * in_c + ic) as i64 * ih * iw + iy * iw + ix) as usize]
                                    as i32;
                                let wv = w[((oc * icg + icl) * kh + ky) * kw + kx] as i32;
                                acc = acc.wrapping_add(xv.wrapping_add(off).wrapping_mul(wv));
                            }
                        }
                    }
                    let v = multiply_by_quantized_multiplier(acc, mult[c], shift[c])
                        .wrapping_add(p.out_zp);
                    out.push(clamp8(v, p.act_min, p.act_max));
                }
            }
        }
    }
    out
}

/// One spatial dim: (in, k, s, d, pad_begin, pad_end).
fn dim(r: &mut Lcg, max_in: u32, max_k: u32) -> (u32, u32, u32, u32, u32, u32) {
    let k = r.u(1, max_k);
    (
        r.u(1, max_in),
        k,
        if r.chance(60) { 1 } else { r.u(1, 3) },
        if r.chance(75) { 1 } else { r.u(1, 3) },
        r.u(0, k),
        r.u(0, k),
    )
}

/// A conv and its operands.
struct ConvCase {
    p: QConv2dP,
    x: Vec<i8>,
    w: Vec<i8>,
    bias: Vec<i32>,
    mult: Vec<i32>,
    shift: Vec<i32>,
}

fn random_conv(r: &mut Lcg) -> Option<ConvCase> {
    let big = r.chance(15);
    let (h, w) = if big {
        (dim(r, 12, 5), dim(r, 12, 5))
    } else {
        (dim(r, 9, 4), dim(r, 9, 4))
    };
    let oh = out_len(h.0, h.1, h.2, h.3, h.4, h.5)?;
    let ow = out_len(w.0, w.1, w.2, w.3, w.4, w.5)?;
    let groups = if r.chance(30) { r.u(2, 6) } else { 1 };
    let icg = match r.next() % 4 {
        0 => 1,
        1 => r.u(1, 4),
        2 => r.u(1, 12),
        _ if big => r.u(16, 80),
        _ => r.u(1, 40),
    };
    let ocg = match r.next() % 4 {
        0 => 1,
        1 => r.u(2, 3),
        2 => r.u(1, 9),
        _ => r.u(10, 70),
    };
    let per_channel = r.chance(70);
    let (act_min, act_max) = r.act();
    let p = QConv2dP {
        batch: r.u(1, 2),
        in_c: groups * icg,
        in_h: h.0,
        in_w: w.0,
        out_c: groups * ocg,
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
        groups,
        in_zp: r.zp(),
        out_zp: if r.chance(90) {
            r.next() as i8 as i32
        } else {
            r.zp()
        },
        per_channel,
        act_min,
        act_max,
    };
    let nx = (p.batch * p.in_c * p.in_h * p.in_w) as usize;
    let nw = (p.out_c * icg * p.k_h * p.k_w) as usize;
    if nw * (p.batch * oh * ow) as usize > 4_000_000 {
        return None;
    }
    let x = r.i8s(nx);
    let w = r.i8s(nw);
    let bias = r.bias(p.out_c as usize);
    let nq = if per_channel { p.out_c as usize } else { 1 };
    let (mut mult, mut shift) = (vec![], vec![]);
    for _ in 0..nq {
        let (m, s) = r.q();
        mult.push(m);
        shift.push(s);
    }
    Some(ConvCase {
        p,
        x,
        w,
        bias,
        mult,
        shift,
    })
}

#[test]
fn conv2d_matches_naive() {
    let mut r = Lcg(0x5eed_c0de);
    let mut done = 0;
    while done < 3000 {
        let Some(ConvCase {
            p,
            x,
            w,
            bias,
            mult,
            shift,
        }) = random_conv(&mut r)
        else {
            continue;
        };
        let n = (p.batch * p.out_c * p.out_h * p.out_w) as usize;
        let mut out = vec![0i8; n];
        conv2d(&p, &x, &w, &bias, &mult, &shift, &mut out);
        let want = naive_conv(&p, &x, &w, &bias, &mult, &shift);
        assert!(
            out == want,
            "case {done}: {p:?}\nbias {bias:?}\nmult {mult:?}\nshift {shift:?}"
        );
        done += 1;
    }
}

/// Shapes of the sample models (digits-cnn, ds-cnn-kws) and a few common MCU layers.
#[test]
fn conv2d_model_shapes_match_naive() {
    // (in_c, in_h, in_w, out_c, k_h, k_w, s, pad_t, pad_l, pad_b, pad_r, groups)
    let shapes = [
        (1, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1),
        (8, 4, 4, 16, 3, 3, 1, 1, 1, 1, 1, 1),
        (1, 49, 10, 64, 10, 4, 2, 4, 1, 5, 1, 1),
        (64, 25, 5, 64, 3, 3, 1, 1, 1, 1, 1, 64),
        (64, 25, 5, 64, 1, 1, 1, 0, 0, 0, 0, 1),
        (3, 16, 16, 8, 3, 3, 2, 0, 0, 1, 1, 1),
        (16, 8, 8, 32, 3, 3, 1, 1, 1, 1, 1, 1),
        (64, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1),
        (32, 9, 9, 64, 1, 1, 1, 0, 0, 0, 0, 1),
        (8, 10, 10, 16, 3, 3, 2, 1, 1, 1, 1, 8),
    ];
    let mut r = Lcg(42);
    for (i, &(ic, ih, iw, oc, kh, kw, s, pt, pl, pb, pr, g)) in shapes.iter().enumerate() {
        for _ in 0..4 {
            let oh = out_len(ih, kh, s, 1, pt, pb).unwrap();
            let ow = out_len(iw, kw, s, 1, pl, pr).unwrap();
            let p = QConv2dP {
                batch: 1,
                in_c: ic,
                in_h: ih,
                in_w: iw,
                out_c: oc,
                out_h: oh,
                out_w: ow,
                k_h: kh,
                k_w: kw,
                s_h: s,
                s_w: s,
                d_h: 1,
                d_w: 1,
                pad_t: pt,
                pad_l: pl,
                groups: g,
                in_zp: r.next() as i8 as i32,
                out_zp: r.next() as i8 as i32,
                per_channel: true,
                act_min: -128,
                act_max: 127,
            };
            let x = r.i8s((ic * ih * iw) as usize);
            let w = r.i8s((oc * ic / g * kh * kw) as usize);
            let bias = r.bias(oc as usize);
            let q: Vec<(i32, i32)> = (0..oc)
                .map(|_| {
                    quantize_multiplier(libm::pow(2.0, -(r.range(4000, 12000) as f64) / 1000.0))
                })
                .collect();
            let (mult, shift): (Vec<i32>, Vec<i32>) = q.into_iter().unzip();
            let mut out = vec![0i8; (oc * oh * ow) as usize];
            conv2d(&p, &x, &w, &bias, &mult, &shift, &mut out);
            assert_eq!(
                out,
                naive_conv(&p, &x, &w, &bias, &mult, &shift),
                "shape {i}"
            );
        }
    }
}

#[test]
fn conv2d_degenerate_geometry_matches_naive() {
    // Zero-sized kernels, groups that do not divide, in_c < groups, zero strides / dilations.
    let base = QConv2dP {
        batch: 1,
        in_c: 2,
        in_h: 3,
        in_w: 3,
        out_c: 4,
        out_h: 3,
        out_w: 3,
        k_h: 3,
        k_w: 3,
        s_h: 1,
        s_w: 1,
        d_h: 1,
        d_w: 1,
        pad_t: 1,
        pad_l: 1,
        groups: 1,
        in_zp: 3,
        out_zp: -2,
        per_channel: false,
        act_min: -128,
        act_max: 127,
    };
    let variants = [
        QConv2dP { k_h: 0, ..base },
        QConv2dP { k_w: 0, ..base },
        QConv2dP {
            s_h: 0,
            s_w: 0,
            d_h: 0,
            d_w: 0,
            ..base
        },
        QConv2dP { groups: 0, ..base },
        QConv2dP {
            out_c: 5,
            groups: 2,
            ..base
        },
        QConv2dP {
            in_c: 1,
            groups: 2,
            ..base
        },
        QConv2dP { out_w: 0, ..base },
        QConv2dP { batch: 0, ..base },
    ];
    let mut r = Lcg(7);
    for (i, p) in variants.iter().enumerate() {
        let x = r.i8s(128);
        let w = r.i8s(128);
        let (m, s) = quantize_multiplier(0.3);
        let n = (p.batch * p.out_c * p.out_h * p.out_w) as usize;
        let mut out = vec![0i8; n];
        conv2d(p, &x, &w, &[], &[m], &[s], &mut out);
        assert_eq!(out, naive_conv(p, &x, &w, &[], &[m], &[s]), "variant {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// Dense

fn naive_dense(
    p: &QDenseP,
    a: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
) -> Vec<i8> {
    let (k, n) = (p.k as usize, p.n as usize);
    let off = p.in_zp.wrapping_neg();
    let mut out = vec![];
    for r in 0..(p.batch * p.m) as usize {
        for j in 0..n {
            let mut acc = if bias.is_empty() { 0 } else { bias[j] };
            for kk in 0..k {
                let av = (a[r * k + kk] as i32).wrapping_add(off);
                acc = acc.wrapping_add(av.wrapping_mul(w[j * k + kk] as i32));
            }
            let c = if p.per_channel { j } else { 0 };
            let v = multiply_by_quantized_multiplier(acc, mult[c], shift[c]).wrapping_add(p.out_zp);
            out.push(clamp8(v, p.act_min, p.act_max));
        }
    }
    out
}

#[test]
fn dense_matches_naive() {
    let mut r = Lcg(0xde05e);
    for case in 0..3000 {
        let (act_min, act_max) = r.act();
        let p = QDenseP {
            batch: r.u(1, 2),
            m: r.u(1, 3),
            k: if r.chance(10) { 0 } else { r.u(1, 100) },
            n: r.u(1, 45),
            in_zp: r.zp(),
            out_zp: r.zp(),
            per_channel: r.chance(70),
            act_min,
            act_max,
        };
        let a = r.i8s((p.batch * p.m * p.k) as usize);
        let w = r.i8s((p.k * p.n) as usize);
        let bias = r.bias(p.n as usize);
        let nq = if p.per_channel { p.n as usize } else { 1 };
        let (mut mult, mut shift) = (vec![], vec![]);
        for _ in 0..nq {
            let (m, s) = r.q();
            mult.push(m);
            shift.push(s);
        }
        let mut out = vec![0i8; (p.batch * p.m * p.n) as usize];
        dense(&p, &a, &w, &bias, &mult, &shift, &mut out);
        assert_eq!(
            out,
            naive_dense(&p, &a, &w, &bias, &mult, &shift),
            "case {case}: {p:?}"
        );
    }
}

#[test]
fn high_mul_saturation_case() {
    // acc << 1 == i32::MIN with mult == i32::MIN: the high mul saturates to i32::MAX.
    let p = QDenseP {
        batch: 1,
        m: 1,
        k: 0,
        n: 1,
        in_zp: 0,
        out_zp: 0,
        per_channel: false,
        act_min: -128,
        act_max: 127,
    };
    let mut out = [0i8];
    dense(&p, &[], &[], &[-(1 << 30)], &[i32::MIN], &[1], &mut out);
    assert_eq!(
        out.to_vec(),
        naive_dense(&p, &[], &[], &[-(1 << 30)], &[i32::MIN], &[1])
    );
    assert_eq!(out[0], 127);
}

// ---------------------------------------------------------------------------------------------
// Pool

fn naive_pool(p: &QPool2dP, x: &[i8]) -> Vec<i8> {
    let round_div = |acc: i32, n: i32| {
        if acc > 0 {
            (acc + n / 2) / n
        } else {
            (acc - n / 2) / n
        }
    };
    let (s_h, s_w) = (p.s_h.max(1) as i64, p.s_w.max(1) as i64);
    let (d_h, d_w) = (p.d_h.max(1) as i64, p.d_w.max(1) as i64);
    let (ih, iw) = (p.in_h as i64, p.in_w as i64);
    let full = (p.k_h * p.k_w) as i32;
    let mut out = vec![];
    for pl in 0..(p.batch * p.c) as i64 {
        for oy in 0..p.out_h as i64 {
            for ox in 0..p.out_w as i64 {
                let mut acc: i32 = if p.kind == QPOOL_MAX { -128 } else { 0 };
                let mut n_in = 0i32;
                for ky in 0..p.k_h as i64 {
                    for kx in 0..p.k_w as i64 {
                        let iy = oy * s_h - p.pad_t as i64 + ky * d_h;
                        let ix = ox * s_w - p.pad_l as i64 + kx * d_w;
                        if iy < 0 || ix < 0 || iy >= ih || ix >= iw {
                            continue;
                        }
                        let v = x[((pl * ih + iy) * iw + ix) as usize] as i32;
                        n_in += 1;
                        acc = if p.kind == QPOOL_MAX {
                            acc.max(v)
                        } else {
                            acc + v
                        };
                    }
                }
                let v = if p.kind == QPOOL_MAX {
                    acc
                } else if p.count_include_pad && full > 0 {
                    round_div(acc.wrapping_add((full - n_in).wrapping_mul(p.zp)), full)
                } else if n_in > 0 {
                    round_div(acc, n_in)
                } else {
                    p.zp
                };
                out.push(clamp8(v, p.act_min, p.act_max));
            }
        }
    }
    out
}

#[test]
fn pool2d_matches_naive() {
    let mut r = Lcg(0xb001);
    let mut done = 0;
    while done < 3000 {
        let h = dim(&mut r, 30, 6);
        let w = dim(&mut r, 30, 6);
        let (Some(oh), Some(ow)) = (
            out_len(h.0, h.1, h.2, h.3, h.4, h.5),
            out_len(w.0, w.1, w.2, w.3, w.4, w.5),
        ) else {
            continue;
        };
        let (act_min, act_max) = r.act();
        let p = QPool2dP {
            kind: r.u(0, 1) as u8,
            batch: r.u(1, 2),
            c: r.u(1, 3),
            in_h: h.0,
            in_w: w.0,
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
            count_include_pad: r.chance(50),
            zp: r.next() as i8 as i32,
            act_min,
            act_max,
        };
        let x = r.i8s((p.batch * p.c * h.0 * w.0) as usize);
        let mut out = vec![0i8; (p.batch * p.c * oh * ow) as usize];
        pool2d(&p, &x, &mut out);
        assert_eq!(out, naive_pool(&p, &x), "case {done}: {p:?}");
        done += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Binary

fn naive_binary(p: &QBinaryP, a: &[i8], b: &[i8]) -> Vec<i8> {
    let rank = p.rank as usize;
    let shape = &p.out_shape[..rank];
    let total: usize = shape.iter().map(|&l| l as usize).product();
    let ls = p.left_shift.clamp(0, 31) as u32;
    (0..total)
        .map(|mut flat| {
            let (mut ia, mut ib) = (0usize, 0usize);
            for d in (0..rank).rev() {
                let i = flat % shape[d] as usize;
                flat /= shape[d] as usize;
                ia += i * p.a_strides[d] as usize;
                ib += i * p.b_strides[d] as usize;
            }
            let (x, y) = (
                (a[ia] as i32).wrapping_sub(p.a_zp),
                (b[ib] as i32).wrapping_sub(p.b_zp),
            );
            let raw = if p.op == QBIN_MUL {
                x.wrapping_mul(y)
            } else {
                let sa = multiply_by_quantized_multiplier(x.wrapping_shl(ls), p.a_mult, p.a_shift);
                let sb = multiply_by_quantized_multiplier(y.wrapping_shl(ls), p.b_mult, p.b_shift);
                if p.op == QBIN_SUB {
                    sa.wrapping_sub(sb)
                } else {
                    sa.wrapping_add(sb)
                }
            };
            let v = multiply_by_quantized_multiplier(raw, p.out_mult, p.out_shift)
                .wrapping_add(p.out_zp);
            clamp8(v, p.act_min, p.act_max)
        })
        .collect()
}

#[test]
fn binary_matches_naive() {
    let mut r = Lcg(0xb1);
    for case in 0..3000 {
        let rank = r.u(1, 4) as usize;
        let mut out_shape = [1u32; 6];
        for d in out_shape.iter_mut().take(rank) {
            *d = if r.chance(20) { 1 } else { r.u(1, 7) };
        }
        // Each operand broadcasts along a random subset of dims (stride 0).
        let strides = |r: &mut Lcg| {
            let mut s = [0u32; 6];
            let mut acc = 1;
            for d in (0..rank).rev() {
                if !r.chance(35) {
                    s[d] = acc;
                    acc *= out_shape[d];
                }
            }
            (s, acc as usize)
        };
        let (a_strides, na) = strides(&mut r);
        let (b_strides, nb) = strides(&mut r);
        let (act_min, act_max) = r.act();
        let (a_mult, a_shift) = r.q();
        let (b_mult, b_shift) = r.q();
        let (out_mult, out_shift) = r.q();
        let p = QBinaryP {
            op: r.u(0, 2) as u8,
            rank: rank as u32,
            out_shape,
            a_strides,
            b_strides,
            a_zp: r.zp(),
            b_zp: r.zp(),
            out_zp: r.zp(),
            left_shift: if r.chance(80) { 20 } else { r.next() as i32 },
            a_mult,
            a_shift,
            b_mult,
            b_shift,
            out_mult,
            out_shift,
            act_min,
            act_max,
        };
        let a = r.i8s(na);
        let b = r.i8s(nb);
        let total: usize = out_shape[..rank].iter().map(|&l| l as usize).product();
        let mut out = vec![0i8; total];
        binary(&p, &a, &b, &mut out);
        assert_eq!(out, naive_binary(&p, &a, &b), "case {case}: {p:?}");
    }
}

/// Depthwise convs (one input and one output channel per group): mostly 3 × 3, both strides,
/// dilations, odd channel counts, and planes large enough to need several buffer bands.
#[test]
fn depthwise_matches_naive() {
    let mut r = Lcg(0xd3_9e);
    let mut done = 0;
    while done < 1500 {
        let k3 = r.chance(70);
        let (kh, kw) = if k3 { (3, 3) } else { (r.u(1, 5), r.u(1, 5)) };
        let big = r.chance(15);
        let (ih, iw) = if big {
            (r.u(1, 60), r.u(1, 140))
        } else {
            (r.u(1, 12), r.u(1, 12))
        };
        let (sh, sw) = (r.u(1, 2), r.u(1, 2));
        let (dh, dw) = if r.chance(80) {
            (1, 1)
        } else {
            (r.u(1, 3), r.u(1, 3))
        };
        let (pt, pb, pl, pr) = (r.u(0, 2), r.u(0, 2), r.u(0, 2), r.u(0, 2));
        let (Some(oh), Some(ow)) = (
            out_len(ih, kh, sh, dh, pt, pb),
            out_len(iw, kw, sw, dw, pl, pr),
        ) else {
            continue;
        };
        let c = r.u(1, 9);
        let per_channel = r.chance(80);
        let (act_min, act_max) = r.act();
        let p = QConv2dP {
            batch: r.u(1, 2),
            in_c: c,
            in_h: ih,
            in_w: iw,
            out_c: c,
            out_h: oh,
            out_w: ow,
            k_h: kh,
            k_w: kw,
            s_h: sh,
            s_w: sw,
            d_h: dh,
            d_w: dw,
            pad_t: pt,
            pad_l: pl,
            groups: c,
            in_zp: if r.chance(90) {
                r.next() as i8 as i32
            } else {
                r.zp()
            },
            out_zp: r.next() as i8 as i32,
            per_channel,
            act_min,
            act_max,
        };
        let x = r.i8s((p.batch * c * ih * iw) as usize);
        let w = r.i8s((c * kh * kw) as usize);
        let bias = r.bias(c as usize);
        let nq = if per_channel { c as usize } else { 1 };
        let (mut mult, mut shift) = (vec![], vec![]);
        for _ in 0..nq {
            let (m, s) = r.q();
            mult.push(m);
            shift.push(s);
        }
        let mut out = vec![0i8; (p.batch * c * oh * ow) as usize];
        conv2d(&p, &x, &w, &bias, &mult, &shift, &mut out);
        let want = naive_conv(&p, &x, &w, &bias, &mult, &shift);
        assert!(out == want, "case {done}: {p:?}");
        done += 1;
    }
}
