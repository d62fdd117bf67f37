//! The int8 reference kernels [`run`] dispatches to. Rounding rules: see the module
//! docs of [`crate::i8`].

use super::*;
use crate::walk::*;

// ---------------------------------------------------------------------------------------------
// Helpers

/// `clamp(v, lo, hi)` as i8 (`lo <= hi` expected; `lo` wins otherwise, never panics).
#[inline(always)]
fn act(v: i32, lo: i8, hi: i8) -> i8 {
    let v = if v > hi as i32 { hi as i32 } else { v };
    if v < lo as i32 {
        lo
    } else {
        v as i8
    }
}

/// TFLite's rounding division of an average: `acc / n` rounded half away from zero (`n > 0`).
#[inline(always)]
fn round_div(acc: i32, n: i32) -> i32 {
    if acc > 0 {
        (acc + n / 2) / n
    } else {
        (acc - n / 2) / n
    }
}

/// The (mult, shift) pair of channel `c`: `c`-th entry, or the single one when not per channel.
#[inline(always)]
fn channel_q(mult: &[i32], shift: &[i32], per_channel: bool, c: usize) -> (i32, i32) {
    let i = if per_channel { c } else { 0 };
    (mult[i], shift[i])
}

// ---------------------------------------------------------------------------------------------
// Conv2d

/// int8 2-D convolution (see [`QConv2dP`] and the module docs): for each output element,
/// `acc = bias[oc] (or 0) + Σ_{taps inside the input} (x - in_zp) * w` (wrapping i32), then
/// `clamp(mbqm(acc, mult[oc], shift[oc]) + out_zp, act_min, act_max)`.
pub fn conv2d(
    p: &QConv2dP,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    out: &mut [i8],
) {
    let (in_c, in_h, in_w) = (p.in_c as usize, p.in_h as usize, p.in_w as usize);
    let (out_c, out_h, out_w) = (p.out_c as usize, p.out_h as usize, p.out_w as usize);
    let (k_h, k_w) = (p.k_h as usize, p.k_w as usize);
    let (s_h, s_w) = ((p.s_h as usize).max(1), (p.s_w as usize).max(1));
    let (d_h, d_w) = ((p.d_h as usize).max(1), (p.d_w as usize).max(1));
    let (pad_t, pad_l) = (p.pad_t as isize, p.pad_l as isize);
    let groups = (p.groups as usize).max(1);
    let (icg, ocg) = (in_c / groups, out_c / groups);
    let (ihw, ohw, khw) = (in_h * in_w, out_h * out_w, k_h * k_w);
    let off = p.in_zp.wrapping_neg();

    for n in 0..p.batch as usize {
        for oc in 0..out_c {
            let g = oc / ocg.max(1);
            let b0 = if bias.is_empty() { 0 } else { bias[oc] };
            let (m, s) = channel_q(mult, shift, p.per_channel, oc);
            let plane = &mut out[(n * out_c + oc) * ohw..][..ohw];
            let xg = &x[(n * in_c + g * icg) * ihw..][..icg * ihw];
            let wo = &w[oc * icg * khw..][..icg * khw];
            for oy in 0..out_h {
                let by = (oy * s_h) as isize - pad_t;
                let (ky_lo, ky_hi) = valid_range(by, d_h, k_h, in_h);
                for ox in 0..out_w {
                    let bx = (ox * s_w) as isize - pad_l;
                    let (kx_lo, kx_hi) = valid_range(bx, d_w, k_w, in_w);
                    let mut acc = b0;
                    if kx_lo < kx_hi {
                        // In range whenever the window has a tap inside the input.
                        let ix = (bx + (kx_lo * d_w) as isize) as usize;
                        for icl in 0..icg {
                            let xp = &xg[icl * ihw..][..ihw];
                            let wk = &wo[icl * khw..][..khw];
                            for ky in ky_lo..ky_hi {
                                let iy = (by + (ky * d_h) as isize) as usize;
                                let xs = xp[iy * in_w + ix..].iter().step_by(d_w);
                                let ws = &wk[ky * k_w + kx_lo..ky * k_w + kx_hi];
                                for (&xv, &wv) in xs.zip(ws) {
                                    acc = acc.wrapping_add(
                                        (xv as i32).wrapping_add(off).wrapping_mul(wv as i32),
                                    );
                                }
                            }
                        }
                    }
                    let v = multiply_by_quantized_multiplier(acc, m, s).wrapping_add(p.out_zp);
                    plane[oy * out_w + ox] = act(v, p.act_min, p.act_max);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dense

/// Output columns accumulated at once by [`dense`] (a stack buffer; no allocation).
const DENSE_CHUNK: usize = 32;

/// int8 fully-connected (see [`QDenseP`]). Accumulates `DENSE_CHUNK` output columns at a time,
/// reading weight rows contiguously; the i32 sums are order-independent.
pub fn dense(
    p: &QDenseP,
    a: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    out: &mut [i8],
) {
    let (m, k, n) = (p.m as usize, p.k as usize, p.n as usize);
    let rows = p.batch as usize * m;
    let off = p.in_zp.wrapping_neg();
    let mut acc = [0i32; DENSE_CHUNK];
    for r in 0..rows {
        let ar = &a[r * k..][..k];
        let orow = &mut out[r * n..][..n];
        let mut j0 = 0;
        while j0 < n {
            let cw = (n - j0).min(DENSE_CHUNK);
            let acc = &mut acc[..cw];
            if bias.is_empty() {
                acc.fill(0);
            } else {
                acc.copy_from_slice(&bias[j0..j0 + cw]);
            }
            for (kk, &av) in ar.iter().enumerate() {
                let av = (av as i32).wrapping_add(off);
                for (s, &wv) in acc.iter_mut().zip(&w[kk * n + j0..][..cw]) {
                    *s = s.wrapping_add(av.wrapping_mul(wv as i32));
                }
            }
            for (jj, (&s, o)) in acc.iter().zip(&mut orow[j0..j0 + cw]).enumerate() {
                let (mu, sh) = channel_q(mult, shift, p.per_channel, j0 + jj);
                let v = multiply_by_quantized_multiplier(s, mu, sh).wrapping_add(p.out_zp);
                *o = act(v, p.act_min, p.act_max);
            }
            j0 += cw;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Binary

/// One element of TFLite's int8 Add / Sub (see the module docs).
#[inline(always)]
fn add_one(p: &QBinaryP, a: i8, b: i8, sub: bool) -> i8 {
    let ls = p.left_shift.clamp(0, 31) as u32;
    let a = (a as i32).wrapping_sub(p.a_zp).wrapping_shl(ls);
    let b = (b as i32).wrapping_sub(p.b_zp).wrapping_shl(ls);
    let a = multiply_by_quantized_multiplier(a, p.a_mult, p.a_shift);
    let b = multiply_by_quantized_multiplier(b, p.b_mult, p.b_shift);
    let raw = if sub {
        a.wrapping_sub(b)
    } else {
        a.wrapping_add(b)
    };
    let v = multiply_by_quantized_multiplier(raw, p.out_mult, p.out_shift).wrapping_add(p.out_zp);
    act(v, p.act_min, p.act_max)
}

/// One element of TFLite's int8 Mul.
#[inline(always)]
fn mul_one(p: &QBinaryP, a: i8, b: i8) -> i8 {
    let prod = (a as i32)
        .wrapping_sub(p.a_zp)
        .wrapping_mul((b as i32).wrapping_sub(p.b_zp));
    let v = multiply_by_quantized_multiplier(prod, p.out_mult, p.out_shift).wrapping_add(p.out_zp);
    act(v, p.act_min, p.act_max)
}

/// Broadcasting int8 Add / Sub / Mul (see [`QBinaryP`]).
pub fn binary(p: &QBinaryP, a: &[i8], b: &[i8], out: &mut [i8]) {
    let f: fn(&QBinaryP, i8, i8) -> i8 = match p.op {
        QBIN_ADD => |p, a, b| add_one(p, a, b, false),
        QBIN_SUB => |p, a, b| add_one(p, a, b, true),
        QBIN_MUL => mul_one,
        _ => return,
    };
    let walk = Walk::new(
        p.rank,
        &p.out_shape,
        &p.a_strides.map(|v| v as isize),
        &p.b_strides.map(|v| v as isize),
    );
    let (len, sa, sb) = walk.row();
    let mut k = 0usize;
    walk.rows(|oa, ob| {
        let o = &mut out[k..k + len];
        let (mut i, mut j) = (oa as usize, ob as usize);
        for v in o.iter_mut() {
            *v = f(p, a[i], b[j]);
            i = i.wrapping_add(sa as usize);
            j = j.wrapping_add(sb as usize);
        }
        k += len;
    });
}

// ---------------------------------------------------------------------------------------------
// Pool2d

/// int8 max / average pooling (see [`QPool2dP`] and the module docs for the average's rounding).
pub fn pool2d(p: &QPool2dP, x: &[i8], out: &mut [i8]) {
    let is_max = match p.kind {
        QPOOL_MAX => true,
        QPOOL_AVG => false,
        _ => return,
    };
    let (in_h, in_w, out_h, out_w) = (
        p.in_h as usize,
        p.in_w as usize,
        p.out_h as usize,
        p.out_w as usize,
    );
    let (k_h, k_w) = (p.k_h as usize, p.k_w as usize);
    let (s_h, s_w) = ((p.s_h as usize).max(1), (p.s_w as usize).max(1));
    let (d_h, d_w) = ((p.d_h as usize).max(1), (p.d_w as usize).max(1));
    let (pad_t, pad_l) = (p.pad_t as isize, p.pad_l as isize);
    let (ihw, ohw) = (in_h * in_w, out_h * out_w);
    let full = (k_h * k_w) as i32;

    for pl in 0..p.batch as usize * p.c as usize {
        let xp = &x[pl * ihw..][..ihw];
        let op = &mut out[pl * ohw..][..ohw];
        for oy in 0..out_h {
            let by = (oy * s_h) as isize - pad_t;
            let (ky_lo, ky_hi) = valid_range(by, d_h, k_h, in_h);
            for ox in 0..out_w {
                let bx = (ox * s_w) as isize - pad_l;
                let (kx_lo, kx_hi) = valid_range(bx, d_w, k_w, in_w);
                let nx = kx_hi - kx_lo;
                let n_in = ((ky_hi - ky_lo) * nx) as i32;
                let mut acc: i32 = if is_max { -128 } else { 0 };
                if nx > 0 {
                    let ix = (bx + (kx_lo * d_w) as isize) as usize;
                    for ky in ky_lo..ky_hi {
                        let iy = (by + (ky * d_h) as isize) as usize;
                        let taps = xp[iy * in_w + ix..].iter().step_by(d_w).take(nx);
                        if is_max {
                            for &v in taps {
                                acc = acc.max(v as i32);
                            }
                        } else {
                            for &v in taps {
                                acc += v as i32;
                            }
                        }
                    }
                }
                let v = if is_max {
                    acc
                } else if p.count_include_pad && full > 0 {
                    round_div(acc.wrapping_add((full - n_in).wrapping_mul(p.zp)), full)
                } else if n_in > 0 {
                    round_div(acc, n_in)
                } else {
                    p.zp
                };
                op[oy * out_w + ox] = act(v, p.act_min, p.act_max);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mean

/// int8 mean over the dims in `mask` (see [`QMeanP`]; TFLite `integer_ops::Mean` rounding).
/// An empty reduction gives `out_zp`.
pub fn mean(p: &QMeanP, x: &[i8], out: &mut [i8]) {
    let rank = (p.rank as usize).min(MAX_RANK);
    let si = contiguous_strides(rank, &p.in_shape);
    let (mut out_shape, mut red_shape) = (p.in_shape, p.in_shape);
    let mut count = 1usize;
    for d in 0..rank {
        if p.mask >> d & 1 == 1 {
            count *= p.in_shape[d] as usize;
            out_shape[d] = 1;
        } else {
            red_shape[d] = 1;
        }
    }
    let outer = Walk::new(p.rank, &out_shape, &si, &[0; MAX_RANK]);
    let inner = Walk::new(p.rank, &red_shape, &si, &[0; MAX_RANK]);
    let (olen, ost, _) = outer.row();
    let (ilen, ist, _) = inner.row();
    let n = count as i32;
    let mut k = 0usize;
    outer.rows(|ob, _| {
        for j in 0..olen {
            let base = ob + j as isize * ost;
            let mut acc = 0i32;
            inner.rows(|ib, _| {
                let mut i = base + ib;
                for _ in 0..ilen {
                    acc = acc.wrapping_add((x[i as usize] as i32).wrapping_sub(p.in_zp));
                    i += ist;
                }
            });
            let v = if n > 0 {
                let s = multiply_by_quantized_multiplier(acc, p.mult, p.shift);
                round_div(s, n).wrapping_add(p.out_zp)
            } else {
                p.out_zp
            };
            out[k] = sat_i8(v);
            k += 1;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Data movement

/// Strided gather-copy (see the f32 [`StridedP`]).
pub fn strided(p: &StridedP, x: &[i8], out: &mut [i8]) {
    let walk = Walk::new(
        p.rank,
        &p.out_shape,
        &p.strides.map(|v| v as isize),
        &[0; MAX_RANK],
    );
    let (len, s, _) = walk.row();
    let base = p.offset as isize;
    let mut k = 0usize;
    walk.rows(|ox, _| {
        let o = &mut out[k..k + len];
        let i0 = base + ox;
        if s == 1 {
            o.copy_from_slice(&x[i0 as usize..][..len]);
        } else {
            let mut i = i0;
            for v in o.iter_mut() {
                *v = x[i as usize];
                i += s;
            }
        }
        k += len;
    });
}

/// Gather along one axis with the constant index table `idx` (see the f32 [`GatherP`]).
pub fn gather(p: &GatherP, x: &[i8], idx: &[u32], out: &mut [i8]) {
    let (axis_len, inner) = (p.axis_len as usize, p.inner as usize);
    let idx = &idx[..p.n_idx as usize];
    let block = axis_len * inner;
    let mut k = 0usize;
    for r in 0..p.outer as usize {
        let xb = &x[r * block..][..block];
        for &j in idx {
            let j = j as usize;
            out[k..k + inner].copy_from_slice(&xb[j * inner..][..inner]);
            k += inner;
        }
    }
}

/// int8 concat (see [`QConcatP`]): for each of the `outer` rows, the inputs' parts in input
/// order, each copied or requantized ([`requantize`]).
pub fn concat(p: &QConcatP, ins: &[&[i8]], out: &mut [i8]) {
    let count = (p.count as usize).min(MAX_CONCAT);
    let mut k = 0usize;
    for r in 0..p.outer as usize {
        for (i, x) in ins.iter().enumerate().take(count) {
            let part = p.parts[i] as usize;
            let src = &x[r * part..][..part];
            let dst = &mut out[k..k + part];
            if p.requant_mask >> i & 1 == 1 {
                let (zi, m, s) = (p.in_zp[i], p.mult[i], p.shift[i]);
                for (o, &v) in dst.iter_mut().zip(src) {
                    *o = requantize(v, zi, p.out_zp, m, s);
                }
            } else {
                dst.copy_from_slice(src);
            }
            k += part;
        }
    }
}

/// Constant padding (see [`QPadP`]): the output is filled with `value`, then the input is copied
/// to `begin` (`begin[d] + in_shape[d] <= out_shape[d]`).
pub fn pad(p: &QPadP, x: &[i8], out: &mut [i8]) {
    let rank = (p.rank as usize).min(MAX_RANK);
    let n_out: usize = p.out_shape[..rank].iter().map(|&l| l as usize).product();
    let out = &mut out[..n_out];
    out.fill(p.value);
    let so = contiguous_strides(rank, &p.out_shape);
    let base: isize = (0..rank).map(|d| p.begin[d] as isize * so[d]).sum();
    let walk = Walk::new(p.rank, &p.in_shape, &[0; MAX_RANK], &so);
    let (len, _, s) = walk.row();
    let mut k = 0usize;
    walk.rows(|_, oo| {
        let xs = &x[k..k + len];
        let o0 = (base + oo) as usize;
        if s == 1 {
            out[o0..o0 + len].copy_from_slice(xs);
        } else {
            for (o, &v) in out[o0..].iter_mut().step_by((s as usize).max(1)).zip(xs) {
                *o = v;
            }
        }
        k += len;
    });
}

// ---------------------------------------------------------------------------------------------
// Element-wise

/// `out = lut[x + 128]` over `len` elements (see [`LutP`]); `lut` has 256 entries.
pub fn lut(p: &LutP, x: &[i8], lut: &[i8], out: &mut [i8]) {
    let n = p.len as usize;
    let lut = &lut[..256];
    for (o, &v) in out[..n].iter_mut().zip(&x[..n]) {
        *o = lut[(v as u8 ^ 0x80) as usize];
    }
}

/// Element-wise int8 requantization (see [`RequantP`]).
pub fn requant(p: &RequantP, x: &[i8], out: &mut [i8]) {
    let n = p.len as usize;
    for (o, &v) in out[..n].iter_mut().zip(&x[..n]) {
        *o = requantize(v, p.in_zp, p.out_zp, p.mult, p.shift);
    }
}

/// ONNX QuantizeLinear, f32 → i8 (see [`quantize_f32`]).
pub fn quantize(p: &QuantizeP, x: &[f32], out: &mut [i8]) {
    let n = p.len as usize;
    for (o, &v) in out[..n].iter_mut().zip(&x[..n]) {
        *o = quantize_f32(v, p.scale, p.zp);
    }
}

/// ONNX DequantizeLinear, i8 → f32 (see [`dequantize_f32`]).
pub fn dequantize(p: &DequantizeP, x: &[i8], out: &mut [f32]) {
    let n = p.len as usize;
    for (o, &v) in out[..n].iter_mut().zip(&x[..n]) {
        *o = dequantize_f32(v, p.scale, p.zp);
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax

/// int8 softmax (see [`QSoftmaxP`] and the module docs): integer only, output scale 1/256, zp
/// -128. `exp` has 256 entries, `exp[d]` for a distance `d = max - x`.
pub fn softmax(p: &QSoftmaxP, x: &[i8], exp: &[i32], out: &mut [i8]) {
    let (axis, inner) = (p.axis as usize, p.inner as usize);
    if axis == 0 || inner == 0 {
        return;
    }
    let exp = &exp[..256];
    let e = |m: i8, v: i8| exp[(m as i32 - v as i32) as usize].max(0) as u64;
    let block = axis * inner;
    for r in 0..p.outer as usize {
        let xb = &x[r * block..][..block];
        let ob = &mut out[r * block..][..block];
        for i in 0..inner {
            let m = xb[i..].iter().step_by(inner).copied().max().unwrap_or(0);
            let sum: u64 = xb[i..].iter().step_by(inner).map(|&v| e(m, v)).sum();
            let sum = sum.max(1);
            for (o, &v) in ob[i..]
                .iter_mut()
                .step_by(inner)
                .zip(xb[i..].iter().step_by(inner))
            {
                let q = (512 * e(m, v) + sum) / (2 * sum);
                *o = (q.min(255) as i32 - 128) as i8;
            }
        }
    }
}
