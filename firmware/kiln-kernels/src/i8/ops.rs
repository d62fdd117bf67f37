//! The int8 kernels [`run`] dispatches to. Rounding rules: see the module docs of [`crate::i8`].
//!
//! # How the hot kernels are organised (tuned for Armv7E-M, counted in emulated instructions)
//! Every reordering below is bit-exact: i32 sums wrap and are associative, and the
//! requantization is [`multiply_by_quantized_multiplier`] exactly (see `Rq`). The arithmetic is
//! target-independent; on cores with the DSP extension a few steps are single instructions
//! ([`super::dsp`]), whose portable forms (host simulation, M0 / M3) give the same bits.
//! - **Requantization** constants are decoded once per output channel (`Rq`); the one 64-bit
//!   product per output element uses a saturating add instead of a compare for gemmlowp's single
//!   overflow case. Where every accumulator is below 2^30 and the shift is a right shift, the
//!   short exact form (`SMMULR`, `Rq::scale_short`) is used.
//! - **Input offset**: `Σ (x - in_zp) * w = Σ x * w - in_zp * Σ w`, and a padding tap read as
//!   `x = in_zp` contributes exactly what skipping it would. The conv paths therefore read raw
//!   `x`, pad with `in_zp`, and start each accumulator at `bias - in_zp * Σ w`.
//! - **Conv, ≥ 2 output channels per group** (`conv_gemm`): im2col for two output pixels at a
//!   time (from a copy of the input padded with `in_zp` when there is padding and it fits), as
//!   16-bit lanes in `SXTB16` order, multiplied with pairs of output channels: with the block's
//!   weights widened and packed into the scratch, 8 loads and 8 `SMLAD` per 16 MACs
//!   (`dot22_packed`); for layers too deep to pack, read in place and widened (`dot22`).
//! - **Depthwise conv** (`conv_dw`): the input is copied into a padded stack buffer, so no tap
//!   needs a bounds test; 3 × 3 kernels go two channels per word the same way.
//! - **Conv with a large `k`** (beyond the im2col scratch) or one output channel per group
//!   (`conv_pairs`): direct, two output channels' weights per word, each input byte feeding an
//!   `smlabb` and an `smlabt`. Only odd cases (zero points outside i8, `k > 1024`, groups that
//!   do not divide the channels) take the plain per-tap loop (`conv_direct`).
//! - **Dense**: weights `[n, k]`; two output columns per pass, four taps per `SMLAD` pair.
//! - **Add / Sub**: the per-operand rescaling is tabulated (256 entries each) for large tensors.
//! - Hot loops live in small `#[inline(never)]` functions, and `core::hint::black_box` (which
//!   compiles to nothing) keeps a few loops rolled or a few loads in place: inlined into one big
//!   kernel, unrolled, or with invariant weight lanes hoisted, LLVM spills their accumulators.

use super::dsp::*;
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

/// [`multiply_by_quantized_multiplier`] with its shift decoded once.
///
/// The short form ([`Rq::scale_acc`], `fast`) is for accumulators known to satisfy `|x| < 2^30`
/// with a right shift `e >= 1` (a real multiplier below 0.5, as almost every conv / dense has):
/// there `SaturatingRoundingDoublingHighMul(x, m)` = `floor((x * m + 2^30) / 2^31)` is the
/// rounded high word of `2x * m` (`SMMULR`, never saturating), and `RoundingDivideByPOT(h, e)`
/// = `(h + 2^(e-1) - (h < 0)) >> e` (no overflow: `|h| < 2^30`). Both are equalities, so the
/// result is the long form's exactly.
#[derive(Clone, Copy, Default)]
struct Rq {
    mult: i32,
    /// `2^clamp(shift, 0, 31)` (wrapping: `x * lmul == x << left`).
    lmul: i32,
    /// `clamp(max(-shift, 0), 0, 31)`.
    right: u32,
    /// `2^right - 1`.
    mask: i32,
    /// `2^(right - 1)`: the short form's rounding term.
    rnd: i32,
    /// Take the short form (set by [`Rq::of`] when the caller guarantees the bound).
    fast: bool,
}

impl Rq {
    #[inline(always)]
    fn new(mult: i32, shift: i32) -> Rq {
        let right = if shift > 0 { 0 } else { shift.saturating_neg() };
        let right = right.clamp(0, 31) as u32;
        Rq {
            mult,
            lmul: 1i32.wrapping_shl(shift.clamp(0, 31) as u32),
            right,
            mask: ((1i64 << right) - 1) as i32,
            rnd: ((1i64 << right) >> 1) as i32,
            fast: false,
        }
    }

    /// Channel `c`'s constants; `bounded`: every accumulator they scale is below 2^30 in
    /// magnitude ([`acc_bounded`]), which allows the short form.
    #[inline(always)]
    fn of(mult: &[i32], shift: &[i32], per_channel: bool, c: usize, bounded: bool) -> Rq {
        let (m, s) = channel_q(mult, shift, per_channel, c);
        let mut rq = Rq::new(m, s);
        rq.fast = bounded && rq.right >= 1;
        rq
    }

    /// [`Rq::scale`], by the short form when `fast`.
    #[inline(always)]
    fn scale_acc(&self, x: i32) -> i32 {
        if self.fast {
            self.scale_short(x)
        } else {
            self.scale(x)
        }
    }

    /// The short form; equals [`Rq::scale`] only where `fast` holds.
    #[inline(always)]
    fn scale_short(&self, x: i32) -> i32 {
        let h = smmulr(x.wrapping_shl(1), self.mult);
        h.wrapping_add(self.rnd).wrapping_add(h >> 31) >> self.right
    }

    /// Exactly `multiply_by_quantized_multiplier(x, mult, shift)`. The high mul
    /// `(x * mult + nudge) / 2^31` (nudge `2^30` or `1 - 2^30`, truncating) equals
    /// `floor((x * mult + 2^30) / 2^31)` = `2 * hi + (lo >> 31)` of the 64-bit sum; it leaves
    /// i32 only for `i32::MIN * i32::MIN` (`hi = 2^30`), where the saturating doubling gives
    /// gemmlowp's `i32::MAX`.
    #[inline(always)]
    fn scale(&self, x: i32) -> i32 {
        let x = x.wrapping_mul(self.lmul);
        let ab = x as i64 * self.mult as i64 + (1 << 30);
        let (hi, lo) = ((ab >> 32) as i32, ab as u32);
        let h = hi.saturating_add(hi) | (lo >> 31) as i32;
        let threshold = (self.mask >> 1) + (h < 0) as i32;
        (h >> self.right) + ((h & self.mask) > threshold) as i32
    }
}

/// The output stage shared by an op's channels: `clamp(v + zp, lo, hi)`.
#[derive(Clone, Copy)]
struct OutQ {
    zp: i32,
    lo: i8,
    hi: i8,
}

impl OutQ {
    #[inline(always)]
    fn out(&self, rq: &Rq, acc: i32) -> i8 {
        act(rq.scale_acc(acc).wrapping_add(self.zp), self.lo, self.hi)
    }

    /// [`OutQ::out`] by the short form when `SHORT` (the caller checked `rq.fast`), else the
    /// long one: a branch-free body for a block whose channels all take the same form.
    #[inline(always)]
    fn out_as<const SHORT: bool>(&self, rq: &Rq, acc: i32) -> i8 {
        let v = if SHORT {
            rq.scale_short(acc)
        } else {
            rq.scale(acc)
        };
        act(v.wrapping_add(self.zp), self.lo, self.hi)
    }
}

/// Whether `|bias + Σ_k (x - in_zp) * w| < 2^30` for every int8 `x` and `w` and every channel's
/// bias: `max |bias| + k * 128 * (128 + |in_zp|)` is below it. Partial sums may wrap; only the
/// final accumulator is scaled.
fn acc_bounded(bias: &[i32], k: usize, in_zp: i32) -> bool {
    let b = bias.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as u64;
    let per_tap = 128 * (128 + in_zp.unsigned_abs() as u64);
    (k as u64)
        .checked_mul(per_tap)
        .and_then(|t| t.checked_add(b))
        .is_some_and(|t| t < 1 << 30)
}

/// `Σ v` (wrapping): four bytes per word load, each lane pair summed by one `SMLAD` with 1s.
#[inline]
fn sum_i8(v: &[i8]) -> i32 {
    const ONES: u32 = 0x0001_0001;
    let words = v.chunks_exact(4);
    let tail = words.remainder();
    let mut s = 0i32;
    for c in words {
        let w = u32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]);
        s = smlad(sxtb16(w), ONES, s);
        s = smlad(sxtb16_ror8(w), ONES, s);
    }
    tail.iter().fold(s, |s, &x| s.wrapping_add(x as i32))
}

/// The output indices `o` in `[0, count)` whose whole window `o * s - pad + [0, ext)` lies in
/// `[0, n)`, as `lo..hi` (`lo <= hi`).
#[inline]
fn full_range(pad: usize, s: usize, ext: usize, n: usize, count: usize) -> (usize, usize) {
    let lo = pad.div_ceil(s).min(count);
    let hi = if n + pad >= ext {
        ((n + pad - ext) / s + 1).min(count)
    } else {
        0
    };
    (lo, hi.max(lo))
}

// ---------------------------------------------------------------------------------------------
// Conv2d

/// Conv geometry, decoded once (strides / dilations of 0 read as 1, groups of 0 as 1).
#[derive(Clone, Copy)]
struct Geom {
    in_c: usize,
    in_h: usize,
    in_w: usize,
    out_c: usize,
    out_h: usize,
    out_w: usize,
    k_h: usize,
    k_w: usize,
    s_h: usize,
    s_w: usize,
    d_h: usize,
    d_w: usize,
    pad_t: usize,
    pad_l: usize,
    groups: usize,
    icg: usize,
    ocg: usize,
    ihw: usize,
    ohw: usize,
    khw: usize,
}

impl Geom {
    fn new(p: &QConv2dP) -> Geom {
        let groups = (p.groups as usize).max(1);
        let (in_c, out_c) = (p.in_c as usize, p.out_c as usize);
        let (in_h, in_w, out_h, out_w) = (
            p.in_h as usize,
            p.in_w as usize,
            p.out_h as usize,
            p.out_w as usize,
        );
        let (k_h, k_w) = (p.k_h as usize, p.k_w as usize);
        Geom {
            in_c,
            in_h,
            in_w,
            out_c,
            out_h,
            out_w,
            k_h,
            k_w,
            s_h: (p.s_h as usize).max(1),
            s_w: (p.s_w as usize).max(1),
            d_h: (p.d_h as usize).max(1),
            d_w: (p.d_w as usize).max(1),
            pad_t: p.pad_t as usize,
            pad_l: p.pad_l as usize,
            groups,
            icg: in_c / groups,
            ocg: out_c / groups,
            ihw: in_h * in_w,
            ohw: out_h * out_w,
            khw: k_h * k_w,
        }
    }

    /// Output rows / columns whose window lies inside the input.
    fn full_rows(&self) -> (usize, usize) {
        let ext = (self.k_h.max(1) - 1) * self.d_h + 1;
        full_range(self.pad_t, self.s_h, ext, self.in_h, self.out_h)
    }

    fn full_cols(&self) -> (usize, usize) {
        let ext = (self.k_w.max(1) - 1) * self.d_w + 1;
        full_range(self.pad_l, self.s_w, ext, self.in_w, self.out_w)
    }

    /// Whole groups (`groups` divides both channel counts).
    fn whole_groups(&self) -> bool {
        self.icg * self.groups == self.in_c && self.ocg * self.groups == self.out_c
    }
}

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
    let g = Geom::new(p);
    let k4 = (g.icg * g.khw).div_ceil(4) * 4;
    // im2col: two output channels per group share each column; `in_zp` must fit a 16-bit lane
    // (padding taps read it); the scratch holds two pixels' columns and the tap offsets.
    if g.ocg >= 2 && g.whole_groups() && k4 > 0 && i16::try_from(p.in_zp).is_ok() && k4 <= COL_K {
        return conv_gemm(p, &g, x, w, bias, mult, shift, out);
    }
    // Depthwise: the padded channel is an i8 buffer, so `in_zp` must be an i8.
    if g.icg == 1
        && g.ocg == 1
        && g.whole_groups()
        && g.khw > 0
        && i8::try_from(p.in_zp).is_ok()
        && conv_dw(p, &g, x, w, bias, mult, shift, out)
    {
        return;
    }
    // Large `k` (or one output channel per group): direct, output channels in pairs.
    let k = g.icg * g.khw;
    if g.whole_groups() && k > 0 && k <= PAIR_WORDS {
        return conv_pairs(p, &g, x, w, bias, mult, shift, out);
    }
    conv_direct(p, &g, x, w, bias, mult, shift, out);
}

/// Most taps per output channel (rounded up to 4) [`conv_gemm`] takes: its stack scratch holds
/// two pixels' columns (`k / 2` words each) and the tap offsets (`k` words), 4.5 KiB.
const COL_K: usize = 576;
/// Output channels whose constants [`conv_gemm`] decodes at once (even).
const BLOCK_MAX: usize = 32;
/// Bytes of [`conv_gemm`]'s padded copy of a group's input.
const PAD_BUF: usize = 1024;

/// Copies the planes `src` (geometry `g`) into `dst` as planes of `ph` × `pw` with the input at
/// `(pad_t, pad_l)` and `zp` around it (rows / columns beyond `ph` / `pw` are dropped).
fn pad_planes(g: &Geom, src: &[i8], dst: &mut [i8], ph: usize, pw: usize, zp: i8) {
    dst.fill(zp);
    let (c0, len) = if g.pad_l < pw {
        (g.pad_l, g.in_w.min(pw - g.pad_l))
    } else {
        (0, 0)
    };
    for (sp, dp) in src
        .chunks_exact(g.ihw.max(1))
        .zip(dst.chunks_exact_mut(ph * pw))
    {
        for (iy, row) in sp.chunks_exact(g.in_w.max(1)).enumerate().take(g.in_h) {
            let r = iy + g.pad_t;
            if r < ph && len > 0 {
                dp[r * pw + c0..][..len].copy_from_slice(&row[..len]);
            }
        }
    }
}

/// Two values in the 16-bit lanes of a word (`lo` in bits 0..16).
#[inline(always)]
fn pack(lo: i32, hi: i32) -> u32 {
    (lo as u32 & 0xffff) | ((hi as u32) << 16)
}

/// Four int8 weights as one little-endian word (one unaligned load on Armv7-M).
#[inline(always)]
fn word4(c: &[i8]) -> u32 {
    u32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8])
}

/// The last `c.len() < 4` weights of a channel as a word, zero above them.
#[inline(always)]
fn word_tail(c: &[i8]) -> u32 {
    c.iter()
        .enumerate()
        .fold(0, |v, (i, &b)| v | (b as u8 as u32) << (8 * i))
}

/// The column words of taps `4j..4j + 4` of two pixels `a`, `b` times the weight words `wa`,
/// `wb` of two channels, added to `s = [a·wa, a·wb, b·wa, b·wb]`. A column group is
/// `[a(t0, t2), a(t1, t3), b(t0, t2), b(t1, t3)]` (16-bit lanes), the lane order `SXTB16` gives
/// the weights, so each of the 8 `SMLAD`s does two MACs.
#[inline(always)]
fn quad(c: &[u32], wa: u32, wb: u32, s: &mut [i32; 4]) {
    let (a02, a13, b02, b13) = (sxtb16(wa), sxtb16_ror8(wa), sxtb16(wb), sxtb16_ror8(wb));
    s[0] = smlad(c[1], a13, smlad(c[0], a02, s[0]));
    s[1] = smlad(c[1], b13, smlad(c[0], b02, s[1]));
    s[2] = smlad(c[3], a13, smlad(c[2], a02, s[2]));
    s[3] = smlad(c[3], b13, smlad(c[2], b02, s[3]));
}

/// Two pixels' columns `col` times two channels' int8 weights `wa`, `wb` (read in place, whole
/// groups of 4 only: `col.len() == wa.len() == wb.len()`), added to `s` as [`quad`] does.
#[inline(never)]
fn dot22(col: &[u32], wa: &[i8], wb: &[i8], s: &mut [i32; 4]) {
    let n = col.len().min(wa.len()).min(wb.len()) / 4;
    let (col, wa, wb) = (&col[..4 * n], &wa[..4 * n], &wb[..4 * n]);
    let [mut s0, mut s1, mut s2, mut s3] = *s;
    for j in 0..n {
        // Keeps LLVM from unrolling: the unrolled body spills the accumulators on Armv7-M.
        core::hint::black_box(());
        let (x, y) = (word4(&wa[4 * j..4 * j + 4]), word4(&wb[4 * j..4 * j + 4]));
        let c = &col[4 * j..4 * j + 4];
        let (a, b) = (sxtb16(x), sxtb16(y));
        s0 = smlad(c[0], a, s0);
        s1 = smlad(c[0], b, s1);
        s2 = smlad(c[2], a, s2);
        s3 = smlad(c[2], b, s3);
        let (a, b) = (sxtb16_ror8(x), sxtb16_ror8(y));
        s0 = smlad(c[1], a, s0);
        s1 = smlad(c[1], b, s1);
        s2 = smlad(c[3], a, s2);
        s3 = smlad(c[3], b, s3);
    }
    *s = [s0, s1, s2, s3];
}

/// The columns of two output pixels times every channel pair of the block (`acc0.len()`
/// channels of `k` weights each in `wblk`; an odd last channel pairs with itself), started at
/// the channels' `acc0`: `sums[2 * c..][..2]` = channel `c` at both pixels. `tails[c]`: channel
/// `c`'s last `k % 4` weights as a word ([`word_tail`]).
#[inline(never)]
fn gemm_pairs(col: &[u32], wblk: &[i8], k: usize, acc0: &[i32], tails: &[u32], sums: &mut [i32]) {
    let nc = acc0.len();
    let full = k / 4 * 4;
    let (body, tail) = col.split_at(full.min(col.len()));
    for q in 0..nc.div_ceil(2) {
        let (ca, cb) = (2 * q, (2 * q + 1).min(nc - 1));
        let (wa, wb) = (&wblk[ca * k..][..full], &wblk[cb * k..][..full]);
        let mut s = [acc0[ca], acc0[cb], acc0[ca], acc0[cb]];
        dot22(body, wa, wb, &mut s);
        if full < k {
            quad(&tail[..4], tails[ca], tails[cb], &mut s);
        }
        let [s00, s01, s10, s11] = s;
        sums[2 * ca..][..2].copy_from_slice(&[s00, s10]);
        if cb != ca {
            sums[2 * cb..][..2].copy_from_slice(&[s01, s11]);
        }
    }
}

/// Packs the channels of `wblk` (`k` weights each) in pairs for [`gemm_packed`]: per pair and
/// group of 4 taps the words `[a02, a13, b02, b13]` ([`quad`]'s widened weights, zero beyond
/// `k`; an odd last channel pairs with itself), `k4` words a pair.
fn pack_pairs(wblk: &[i8], k: usize, wp: &mut [u32]) {
    let nc = wblk.len() / k.max(1);
    let k4 = k.div_ceil(4) * 4;
    for (q, dst) in wp.chunks_exact_mut(k4).enumerate().take(nc.div_ceil(2)) {
        let (ca, cb) = (2 * q, (2 * q + 1).min(nc - 1));
        let (wa, wb) = (&wblk[ca * k..][..k], &wblk[cb * k..][..k]);
        for (j, d) in dst.chunks_exact_mut(4).enumerate() {
            let (a, b) = (
                word_tail(&wa[4 * j..(4 * j + 4).min(k)]),
                word_tail(&wb[4 * j..(4 * j + 4).min(k)]),
            );
            d.copy_from_slice(&[sxtb16(a), sxtb16_ror8(a), sxtb16(b), sxtb16_ror8(b)]);
        }
    }
}

/// Two pixels' columns times one channel pair's packed weights ([`pack_pairs`]), added to `s`
/// as [`quad`] does: 8 loads and 8 `SMLAD`s per 16 MACs.
#[inline(always)]
fn dot22_packed(col: &[u32], wp: &[u32], s: &mut [i32; 4]) {
    let [mut s0, mut s1, mut s2, mut s3] = *s;
    for (c, w) in col.chunks_exact(4).zip(wp.chunks_exact(4)) {
        // Keeps LLVM from unrolling: the unrolled body spills the accumulators on Armv7-M.
        core::hint::black_box(());
        s0 = smlad(c[1], w[1], smlad(c[0], w[0], s0));
        s1 = smlad(c[1], w[3], smlad(c[0], w[2], s1));
        s2 = smlad(c[3], w[1], smlad(c[2], w[0], s2));
        s3 = smlad(c[3], w[3], smlad(c[2], w[2], s3));
    }
    *s = [s0, s1, s2, s3];
}

/// [`gemm_pairs`] with the block's weights packed ([`pack_pairs`], `col.len()` words a pair):
/// `acc0` and `sums` cover whole pairs (an odd last channel's partner repeats it).
#[inline(never)]
fn gemm_packed(col: &[u32], wp: &[u32], acc0: &[i32], sums: &mut [i32]) {
    for ((wq, a), s) in wp
        .chunks_exact(col.len().max(1))
        .zip(acc0.chunks_exact(2))
        .zip(sums.chunks_exact_mut(4))
    {
        let mut t = [a[0], a[1], a[0], a[1]];
        dot22_packed(col, wq, &mut t);
        s.copy_from_slice(&[t[0], t[2], t[1], t[3]]);
    }
}

/// Requantizes a block of channels at output pixels `pos` and `pos + 1` (when `two`):
/// `sums` as [`gemm_pairs`] leaves them, channel `c` of the block into `outb[c * ohw..]`.
/// `SHORT`: every channel of the block takes the short requantization form.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn gemm_out<const SHORT: bool>(
    sums: &[i32],
    rq: &[Rq],
    oq: &OutQ,
    outb: &mut [i8],
    ohw: usize,
    pos: usize,
    two: bool,
) {
    if !two {
        for ((o, r), s) in outb.chunks_exact_mut(ohw).zip(rq).zip(sums.chunks_exact(2)) {
            core::hint::black_box(());
            o[pos] = oq.out_as::<SHORT>(r, s[0]);
        }
        return;
    }
    for ((o, r), s) in outb.chunks_exact_mut(ohw).zip(rq).zip(sums.chunks_exact(2)) {
        // Keeps LLVM from unrolling (two channels' constants at once spill).
        core::hint::black_box(());
        let o = &mut o[pos..pos + 2];
        o[0] = oq.out_as::<SHORT>(r, s[0]);
        o[1] = oq.out_as::<SHORT>(r, s[1]);
    }
}

/// Fills the columns `col` (groups as [`quad`] reads them) with the taps of output pixels `a`
/// and `b` (`(oy, ox, inside)`), in the weights' order `(icl, ky, kx)`; taps outside the input
/// read `in_zp` (`zz` = it in both lanes). `toff` holds the tap offsets of an interior window
/// (taps beyond `k` repeat tap 0: their weights are 0).
#[inline(never)]
fn fill_cols(
    g: &Geom,
    col: &mut [u32],
    toff: &[u32],
    xg: &[i8],
    a: (usize, usize, bool),
    b: (usize, usize, bool),
    zz: u32,
) {
    let base = |oy: usize, ox: usize| (oy * g.s_h - g.pad_t) * g.in_w + ox * g.s_w - g.pad_l;
    if a.2 && b.2 {
        // The window's taps from its top-left element: offsets `0..span` (the last tap, the
        // farthest, is `span - 1`); both windows lie inside `xg` (checked here, once).
        let span = (g.icg.max(1) - 1) * g.ihw
            + (g.k_h.max(1) - 1) * g.d_h * g.in_w
            + (g.k_w.max(1) - 1) * g.d_w
            + 1;
        let (xa, xb) = (&xg[base(a.0, a.1)..][..span], &xg[base(b.0, b.1)..][..span]);
        debug_assert!(toff.iter().all(|&t| (t as usize) < span));
        let at = |x: &[i8], t: u32| -> i32 {
            // SAFETY: `x` holds `span` elements and every entry of `toff` is below `span`:
            // `conv_gemm` builds it from this window geometry (taps beyond `k` repeat tap 0).
            unsafe { *x.get_unchecked(t as usize) as i32 }
        };
        for (c, t) in col.chunks_exact_mut(4).zip(toff.chunks_exact(4)) {
            c[0] = pack(at(xa, t[0]), at(xa, t[2]));
            c[1] = pack(at(xa, t[1]), at(xa, t[3]));
            c[2] = pack(at(xb, t[0]), at(xb, t[2]));
            c[3] = pack(at(xb, t[1]), at(xb, t[3]));
        }
        return;
    }
    col.fill(zz);
    for (lane, (oy, ox, _)) in [a, b].into_iter().enumerate() {
        let by = (oy * g.s_h) as isize - g.pad_t as isize;
        let bx = (ox * g.s_w) as isize - g.pad_l as isize;
        let (ky_lo, ky_hi) = valid_range(by, g.d_h, g.k_h, g.in_h);
        let (kx_lo, kx_hi) = valid_range(bx, g.d_w, g.k_w, g.in_w);
        if kx_lo >= kx_hi {
            continue;
        }
        // In range: the window has a tap inside the input.
        let ix = (bx + (kx_lo * g.d_w) as isize) as usize;
        for icl in 0..g.icg {
            let xp = &xg[icl * g.ihw..][..g.ihw];
            for ky in ky_lo..ky_hi {
                let iy = (by + (ky * g.d_h) as isize) as usize;
                let t0 = icl * g.khw + ky * g.k_w;
                let mut i = iy * g.in_w + ix;
                for t in t0 + kx_lo..t0 + kx_hi {
                    // Tap `t`: group `t / 4`, word `2 * lane + t % 2`, lane `(t % 4) / 2`.
                    let cw = &mut col[4 * (t / 4) + 2 * lane + t % 2];
                    let sh = 16 * ((t % 4) / 2);
                    *cw = (*cw & !(0xffff << sh)) | (xp[i] as i32 as u32 & 0xffff) << sh;
                    i += g.d_w;
                }
            }
        }
    }
}

/// im2col conv for groups with at least two output channels: for every pair of output pixels
/// their columns are gathered once per block of channels (raw `x` as 16-bit lanes, padding =
/// `in_zp`) and multiplied with every channel pair's int8 weights, read in place
/// ([`gemm_pairs`]), then requantized ([`gemm_out`]).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn conv_gemm(
    p: &QConv2dP,
    g: &Geom,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    out: &mut [i8],
) {
    let k = g.icg * g.khw;
    let k4 = k.div_ceil(4) * 4;
    let off = p.in_zp.wrapping_neg();
    let bounded = acc_bounded(bias, k, p.in_zp);
    let zz = pack(p.in_zp, p.in_zp);
    let oq = OutQ {
        zp: p.out_zp,
        lo: p.act_min,
        hi: p.act_max,
    };

    // With padding, the group's input is copied into a buffer padded with `in_zp` when it
    // fits, so every window lies inside it and the gather needs no bounds logic.
    let g0 = g;
    let (oy_a, oy_b) = g.full_rows();
    let (ox_a, ox_b) = g.full_cols();
    let padded = (oy_a, oy_b, ox_a, ox_b) != (0, g.out_h, 0, g.out_w);
    let ph = (g.out_h.max(1) - 1) * g.s_h + (g.k_h - 1) * g.d_h + 1;
    let pw = (g.out_w.max(1) - 1) * g.s_w + (g.k_w - 1) * g.d_w + 1;
    let zp8 = i8::try_from(p.in_zp).ok();
    let copy = padded && zp8.is_some() && g.icg * ph * pw <= PAD_BUF;
    let mut pbuf = [0i8; PAD_BUF];
    let gp = Geom {
        in_h: ph,
        in_w: pw,
        pad_t: 0,
        pad_l: 0,
        ihw: ph * pw,
        ..*g
    };
    let g = if copy { &gp } else { g };

    // The scratch holds the columns (`k4` words), the tap offsets (`k4`) and, in what is left,
    // the packed weights of a block of channel pairs (`k4` words a pair).
    let mut scratch = [0u32; 2 * COL_K];
    let (col, rest) = scratch.split_at_mut(k4);
    let (toff, wpack) = rest.split_at_mut(k4);
    // Tap offsets from the window's top-left input element; taps beyond `k` repeat tap 0.
    let mut t = 0;
    for icl in 0..g.icg {
        for ky in 0..g.k_h {
            for kx in 0..g.k_w {
                toff[t] = (icl * g.ihw + ky * g.d_h * g.in_w + kx * g.d_w) as u32;
                t += 1;
            }
        }
    }

    let (oy_a, oy_b) = g.full_rows();
    let (ox_a, ox_b) = g.full_cols();
    let pixel = |pos: usize| {
        let (oy, ox) = (pos / g.out_w, pos % g.out_w);
        (
            oy,
            ox,
            (oy_a..oy_b).contains(&oy) && (ox_a..ox_b).contains(&ox),
        )
    };
    let mut acc0 = [0i32; BLOCK_MAX];
    let mut rq = [Rq::default(); BLOCK_MAX];
    let mut sums = [0i32; 2 * BLOCK_MAX];
    let mut tails = [0u32; BLOCK_MAX];
    // Packed weights (no widening in the inner loop) when a block of at least 6 channels, or
    // all of them, fits the scratch; else the weights are read in place and widened there.
    let pack_max = (2 * (wpack.len() / k4)).min(BLOCK_MAX);
    let packed = pack_max >= g.ocg.min(6);
    let cap = if packed { pack_max } else { BLOCK_MAX };
    // Blocks of channels, as many as fit, spread evenly.
    let per_block = g.ocg.div_ceil(g.ocg.div_ceil(cap));

    for n in 0..p.batch as usize {
        for grp in 0..g.groups {
            let xg = if copy {
                let src = &x[(n * g0.in_c + grp * g.icg) * g0.ihw..][..g.icg * g0.ihw];
                let dst = &mut pbuf[..g.icg * g.ihw];
                pad_planes(g0, src, dst, ph, pw, zp8.unwrap_or(0));
                &pbuf[..g.icg * g.ihw]
            } else {
                &x[(n * g.in_c + grp * g.icg) * g.ihw..][..g.icg * g.ihw]
            };
            let outg = &mut out[(n * g.out_c + grp * g.ocg) * g.ohw..][..g.ocg * g.ohw];
            let mut oc0 = 0;
            while oc0 < g.ocg {
                let nc = per_block.min(g.ocg - oc0);
                let c0 = grp * g.ocg + oc0;
                let wblk = &w[c0 * k..][..nc * k];
                for (c, wo) in wblk.chunks_exact(k).enumerate() {
                    let b0 = if bias.is_empty() { 0 } else { bias[c0 + c] };
                    acc0[c] = b0.wrapping_add(off.wrapping_mul(sum_i8(wo)));
                    rq[c] = Rq::of(mult, shift, p.per_channel, c0 + c, bounded);
                    tails[c] = word_tail(&wo[k / 4 * 4..]);
                }
                if !nc.is_multiple_of(2) {
                    // The pair partner of an odd last channel repeats it.
                    acc0[nc] = acc0[nc - 1];
                }
                let short = rq[..nc].iter().all(|r| r.fast);
                let outb = &mut outg[oc0 * g.ohw..][..nc * g.ohw];
                let wp = &mut wpack[..if packed { nc.div_ceil(2) * k4 } else { 0 }];
                if packed {
                    pack_pairs(wblk, k, wp);
                }
                for pos in (0..g.ohw).step_by(2) {
                    let two = pos + 1 < g.ohw;
                    let b = if two { pixel(pos + 1) } else { pixel(pos) };
                    fill_cols(g, col, toff, xg, pixel(pos), b, zz);
                    let (a0, t0) = (&acc0[..nc], &tails[..nc]);
                    if packed {
                        let np = nc.div_ceil(2);
                        gemm_packed(col, wp, &acc0[..2 * np], &mut sums[..4 * np]);
                    } else {
                        gemm_pairs(col, wblk, k, a0, t0, &mut sums[..2 * nc]);
                    }
                    if short {
                        gemm_out::<true>(&sums, &rq[..nc], &oq, outb, g.ohw, pos, two);
                    } else {
                        gemm_out::<false>(&sums, &rq[..nc], &oq, outb, g.ohw, pos, two);
                    }
                }
                oc0 += nc;
            }
        }
    }
}

/// Bytes of the padded-channel stack buffer of [`conv_dw`] (single channels).
const DW_BUF: usize = 2048;
/// Words of the channel-pair stack buffer of [`conv_dw`] (3 × 3 kernels).
const DW_WORDS: usize = 512;

/// Depthwise conv (one input and one output channel per group). Each channel is copied into a
/// stack buffer padded with `in_zp` (whole, or in bands of output rows when large), so no tap
/// needs a bounds test. 3 × 3 kernels with unit column dilation and column stride 1 or 2 take
/// channels in pairs, interleaved in the 16-bit lanes of one word with their weights likewise
/// ([`dw_pairs`], [`dw3_row`]: each load pair feeds two `smlaxy`); other kernels and an odd last
/// channel go one channel at a time, four pixels sharing each weight load ([`dw_singles`]).
/// Returns false (nothing written) when the buffers are too small for even one output row.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn conv_dw(
    p: &QConv2dP,
    g: &Geom,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    out: &mut [i8],
) -> bool {
    let ext_h = (g.k_h - 1) * g.d_h + 1;
    // Single channels: buffer columns for groups of four pixels, the last group overhanging.
    let pw = ((g.out_w.div_ceil(4) * 4).max(4) - 1) * g.s_w + (g.k_w - 1) * g.d_w + 1;
    // Channel pairs (3 × 3): buffer columns for every pixel's window.
    let pw2 = (g.out_w.max(1) - 1) * g.s_w + 3;
    let paired = g.k_h == 3 && g.k_w == 3 && g.d_w == 1 && g.s_w <= 2 && ext_h * pw2 <= DW_WORDS;
    let pairs = if paired { g.out_c / 2 } else { 0 };
    if 2 * pairs < g.out_c && ext_h * pw > DW_BUF {
        return false;
    }
    let oq = OutQ {
        zp: p.out_zp,
        lo: p.act_min,
        hi: p.act_max,
    };
    if pairs > 0 {
        dw_pairs(p, g, x, w, bias, mult, shift, out, pairs, pw2, &oq);
    }
    if 2 * pairs < g.out_c {
        dw_singles(p, g, x, w, bias, mult, shift, out, 2 * pairs, pw, &oq);
    }
    true
}

/// The channels from `c0` on of [`conv_dw`], one at a time (`pw` buffer columns).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn dw_singles(
    p: &QConv2dP,
    g: &Geom,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    out: &mut [i8],
    c0: usize,
    pw: usize,
    oq: &OutQ,
) {
    let ext_h = (g.k_h - 1) * g.d_h + 1;
    // Output rows per band.
    let band = ((DW_BUF / pw - ext_h) / g.s_h + 1).min(g.out_h).max(1);
    let zp = p.in_zp as i8;
    let off = p.in_zp.wrapping_neg();
    let bounded = acc_bounded(bias, g.khw, p.in_zp);
    let mut buf = [0i8; DW_BUF];
    for n in 0..p.batch as usize {
        for c in c0..g.out_c {
            let xp = &x[(n * g.in_c + c) * g.ihw..][..g.ihw];
            let wo = &w[c * g.khw..][..g.khw];
            let plane = &mut out[(n * g.out_c + c) * g.ohw..][..g.ohw];
            let b0 = if bias.is_empty() { 0 } else { bias[c] };
            let acc0 = b0.wrapping_add(off.wrapping_mul(sum_i8(wo)));
            let rq = Rq::of(mult, shift, p.per_channel, c, bounded);
            let mut oy0 = 0;
            while oy0 < g.out_h {
                let rows = band.min(g.out_h - oy0);
                let pb = &mut buf[..((rows - 1) * g.s_h + ext_h) * pw];
                dw_fill(g, pb, pw, xp, (oy0 * g.s_h) as isize - g.pad_t as isize, zp);
                for r in 0..rows {
                    let orow = &mut plane[(oy0 + r) * g.out_w..][..g.out_w];
                    dw_row(g, &pb[r * g.s_h * pw..], pw, wo, acc0, &rq, oq, orow);
                }
                oy0 += rows;
            }
        }
    }
}

/// The channel pairs `(2i, 2i + 1)`, `i < pairs`, of [`conv_dw`] (3 × 3, `d_w = 1`,
/// `s_w <= 2`; `pw` buffer columns).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn dw_pairs(
    p: &QConv2dP,
    g: &Geom,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    out: &mut [i8],
    pairs: usize,
    pw: usize,
    oq: &OutQ,
) {
    let ext_h = 2 * g.d_h + 1;
    let band = ((DW_WORDS / pw - ext_h) / g.s_h + 1).min(g.out_h).max(1);
    let zz = pack(p.in_zp, p.in_zp);
    let off = p.in_zp.wrapping_neg();
    let bounded = acc_bounded(bias, 9, p.in_zp);
    let mut buf = [0u32; DW_WORDS];
    for n in 0..p.batch as usize {
        for c in (0..2 * pairs).step_by(2) {
            let xs = &x[(n * g.in_c + c) * g.ihw..][..2 * g.ihw];
            let (xa, xb) = xs.split_at(g.ihw);
            let (wa, wb) = (&w[c * 9..][..9], &w[(c + 1) * 9..][..9]);
            let w9: [u32; 9] = core::array::from_fn(|t| pack(wa[t] as i32, wb[t] as i32));
            let b = |c: usize| if bias.is_empty() { 0 } else { bias[c] };
            let acc = [
                b(c).wrapping_add(off.wrapping_mul(sum_i8(wa))),
                b(c + 1).wrapping_add(off.wrapping_mul(sum_i8(wb))),
            ];
            let rq = [
                Rq::of(mult, shift, p.per_channel, c, bounded),
                Rq::of(mult, shift, p.per_channel, c + 1, bounded),
            ];
            let planes = &mut out[(n * g.out_c + c) * g.ohw..][..2 * g.ohw];
            let (pa, pb) = planes.split_at_mut(g.ohw);
            let mut oy0 = 0;
            while oy0 < g.out_h {
                let rows = band.min(g.out_h - oy0);
                let bw = &mut buf[..((rows - 1) * g.s_h + ext_h) * pw];
                let iy0 = (oy0 * g.s_h) as isize - g.pad_t as isize;
                dw_fill2(g, bw, pw, xa, xb, iy0, zz);
                for r in 0..rows {
                    let top = &bw[r * g.s_h * pw..];
                    let oa = &mut pa[(oy0 + r) * g.out_w..][..g.out_w];
                    let ob = &mut pb[(oy0 + r) * g.out_w..][..g.out_w];
                    if rq[0].fast && rq[1].fast {
                        dw3_row::<true>(g, top, pw, &w9, acc, &rq, oq, oa, ob);
                    } else {
                        dw3_row::<false>(g, top, pw, &w9, acc, &rq, oq, oa, ob);
                    }
                }
                oy0 += rows;
            }
        }
    }
}

/// [`dw_fill`] for a channel pair: word `(r, c)` of `bw` holds both channels' value.
fn dw_fill2(g: &Geom, bw: &mut [u32], pw: usize, xa: &[i8], xb: &[i8], iy0: isize, zz: u32) {
    bw.fill(zz);
    let (c0, len) = if g.pad_l < pw {
        (g.pad_l, g.in_w.min(pw - g.pad_l))
    } else {
        (0, 0)
    };
    for (r, row) in bw.chunks_exact_mut(pw).enumerate() {
        let iy = iy0 + r as isize;
        if iy >= 0 && (iy as usize) < g.in_h && len > 0 {
            let ra = &xa[iy as usize * g.in_w..][..len];
            let rb = &xb[iy as usize * g.in_w..][..len];
            for (d, (&va, &vb)) in row[c0..c0 + len].iter_mut().zip(ra.iter().zip(rb)) {
                *d = pack(va as i32, vb as i32);
            }
        }
    }
}

/// One output row of a channel pair ([`dw_pairs`]), the 3 × 3 window fully unrolled: `top`
/// starts at the buffer row of the window tops. Each tap is one load of both channels' input,
/// one of both weights, and two `smlaxy`.
/// `SHORT`: both channels take the short requantization form.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn dw3_row<const SHORT: bool>(
    g: &Geom,
    top: &[u32],
    pw: usize,
    w9: &[u32; 9],
    acc: [i32; 2],
    rq: &[Rq; 2],
    oq: &OutQ,
    oa: &mut [i8],
    ob: &mut [i8],
) {
    let step = g.d_h * pw;
    let n = oa.len().min(ob.len());
    if n == 0 {
        return;
    }
    // The window of the last pixel ends at `span`: checked once, so the taps need no checks.
    let span = (n - 1) * g.s_w + 2 * step + 3;
    let top = &top[..span];
    for (ox, (o_a, o_b)) in oa.iter_mut().zip(ob.iter_mut()).enumerate() {
        let (mut a, mut b) = (acc[0], acc[1]);
        let at = ox * g.s_w;
        // An opaque weight pointer per pixel: otherwise LLVM hoists the 18 weight lanes out of
        // the loop and spills them (a stack load per MAC instead of one word load per tap).
        let w9 = core::hint::black_box(w9);
        for (ky, wr) in w9.chunks_exact(3).enumerate() {
            let base = at + ky * step;
            for (t, &wv) in wr.iter().enumerate() {
                // SAFETY: `ox < n`, `ky < 3` and `t < 3`, so `base + t <= (n - 1) * s_w +
                // 2 * step + 2 < span = top.len()`.
                let x = unsafe { *top.get_unchecked(base + t) };
                a = a.wrapping_add(lane_lo(x) * lane_lo(wv));
                b = b.wrapping_add(lane_hi(x) * lane_hi(wv));
            }
        }
        *o_a = oq.out_as::<SHORT>(&rq[0], a);
        *o_b = oq.out_as::<SHORT>(&rq[1], b);
    }
}

/// Copies the input rows `iy0..` of one channel into the band `pb` (`pw` columns, column `c` =
/// input column `c - pad_l`), `zp` elsewhere.
fn dw_fill(g: &Geom, pb: &mut [i8], pw: usize, xp: &[i8], iy0: isize, zp: i8) {
    pb.fill(zp);
    let (c0, len) = if g.pad_l < pw {
        (g.pad_l, g.in_w.min(pw - g.pad_l))
    } else {
        (0, 0)
    };
    for (r, row) in pb.chunks_exact_mut(pw).enumerate() {
        let iy = iy0 + r as isize;
        if iy >= 0 && (iy as usize) < g.in_h && len > 0 {
            row[c0..c0 + len].copy_from_slice(&xp[iy as usize * g.in_w..][..len]);
        }
    }
}

/// One output row of [`conv_dw`] (any kernel width, stride, dilation): `top` starts at the
/// band row of the window tops; pixels in groups of four sharing each weight load.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn dw_row(
    g: &Geom,
    top: &[i8],
    pw: usize,
    wo: &[i8],
    acc0: i32,
    rq: &Rq,
    oq: &OutQ,
    orow: &mut [i8],
) {
    let (s_w, d_w, k_w) = (g.s_w, g.d_w, g.k_w);
    let step = g.d_h * pw;
    for (i, o4) in orow.chunks_mut(4).enumerate() {
        let mut a = [acc0; 4];
        let mut at = 4 * i * s_w;
        for wr in wo.chunks_exact(k_w) {
            let mut c = at;
            for &wv in wr {
                // Keeps LLVM from unrolling this short loop (the remainder code costs more).
                core::hint::black_box(());
                let wv = wv as i32;
                let xs = &top[c..][..3 * s_w + 1];
                a[0] = a[0].wrapping_add(xs[0] as i32 * wv);
                a[1] = a[1].wrapping_add(xs[s_w] as i32 * wv);
                a[2] = a[2].wrapping_add(xs[2 * s_w] as i32 * wv);
                a[3] = a[3].wrapping_add(xs[3 * s_w] as i32 * wv);
                c += d_w;
            }
            at += step;
        }
        for (o, &v) in o4.iter_mut().zip(&a) {
            *o = oq.out(rq, v);
        }
    }
}

/// Words of [`conv_pairs`]' packed weights (the most taps per output channel it takes).
const PAIR_WORDS: usize = 1024;

/// Direct conv over pairs of output channels (for what [`conv_gemm`] cannot hold: large `k`,
/// or one output channel per group): the pair's weights are packed per tap into the 16-bit
/// lanes of one word, so each raw input byte feeds an `smlabb` and an `smlabt`; the input
/// offset is added as `-in_zp * Σ w` (over the taps inside the input). Output-stationary.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn conv_pairs(
    p: &QConv2dP,
    g: &Geom,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    out: &mut [i8],
) {
    let k = g.icg * g.khw;
    let off = p.in_zp.wrapping_neg();
    let bounded = acc_bounded(bias, k, p.in_zp);
    let oq = OutQ {
        zp: p.out_zp,
        lo: p.act_min,
        hi: p.act_max,
    };
    let mut wbuf = [0u32; PAIR_WORDS];
    let wp = &mut wbuf[..k];
    for n in 0..p.batch as usize {
        for grp in 0..g.groups {
            let xg = &x[(n * g.in_c + grp * g.icg) * g.ihw..][..g.icg * g.ihw];
            for c0 in (0..g.ocg).step_by(2) {
                let (oa, ob) = (grp * g.ocg + c0, grp * g.ocg + (c0 + 1).min(g.ocg - 1));
                let (wa, wb) = (&w[oa * k..][..k], &w[ob * k..][..k]);
                // Tap-major: `wp[t * icg + icl]` for tap `t = ky * k_w + kx`.
                for (t, wt) in wp.chunks_exact_mut(g.icg).enumerate() {
                    for (icl, d) in wt.iter_mut().enumerate() {
                        let i = icl * g.khw + t;
                        *d = pack(wa[i] as i32, wb[i] as i32);
                    }
                }
                let b = |c: usize| if bias.is_empty() { 0 } else { bias[c] };
                let full = |c: usize, wc: &[i8]| b(c).wrapping_add(off.wrapping_mul(sum_i8(wc)));
                let acc = [b(oa), b(ob), full(oa, wa), full(ob, wb)];
                let rq = [
                    Rq::of(mult, shift, p.per_channel, oa, bounded),
                    Rq::of(mult, shift, p.per_channel, ob, bounded),
                ];
                let planes = &mut out[(n * g.out_c + oa) * g.ohw..][..(ob - oa + 1) * g.ohw];
                let (pa, pb) = planes.split_at_mut(g.ohw);
                for oy in 0..g.out_h {
                    let ra = &mut pa[oy * g.out_w..][..g.out_w];
                    // `ob == oa` (an odd last channel): the second result is dropped.
                    let rb = pb.get_mut(oy * g.out_w..(oy + 1) * g.out_w);
                    pairs_row(g, xg, wp, oy, off, acc, &rq, &oq, ra, rb);
                }
            }
        }
    }
}

/// `(Σ x·lo(w), Σ x·hi(w), Σ lo(w), Σ hi(w))` over one window's taps inside the input (raw `x`:
/// one `smlabb` and one `smlabt` per tap); the weight sums only when `SW`. Taps: kernel rows
/// `ky_lo..ky_hi` from input row `iy0`, columns `kx_lo..kx_hi` from input column `ix0`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pairs_window<const SW: bool>(
    g: &Geom,
    xg: &[i8],
    wp: &[u32],
    (ky_lo, ky_hi, iy0): (usize, usize, usize),
    (kx_lo, kx_hi, ix0): (usize, usize, usize),
) -> [i32; 4] {
    let mut s = [0i32; 4];
    let mut iy = iy0;
    for ky in ky_lo..ky_hi {
        let mut ix = ix0;
        for kx in kx_lo..kx_hi {
            let wt = &wp[(ky * g.k_w + kx) * g.icg..][..g.icg];
            let xs = &xg[iy * g.in_w + ix..];
            let mut i = 0;
            for &wv in wt {
                let xv = xs[i] as i32;
                s[0] = s[0].wrapping_add(xv * lane_lo(wv));
                s[1] = s[1].wrapping_add(xv * lane_hi(wv));
                if SW {
                    s[2] = s[2].wrapping_add(lane_lo(wv));
                    s[3] = s[3].wrapping_add(lane_hi(wv));
                }
                i += g.ihw;
            }
            ix += g.d_w;
        }
        iy += g.d_h;
    }
    s
}

/// One output row of [`conv_pairs`] (`rb`: the second channel's row, if any; `wp` tap-major;
/// `acc`: the channels' bias, then `bias - in_zp * Σ w`). Each tap runs over all input channels
/// (a long inner loop); a clipped window skips the taps outside and sums its weights.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn pairs_row(
    g: &Geom,
    xg: &[i8],
    wp: &[u32],
    oy: usize,
    off: i32,
    acc: [i32; 4],
    rq: &[Rq; 2],
    oq: &OutQ,
    ra: &mut [i8],
    mut rb: Option<&mut [i8]>,
) {
    let by = (oy * g.s_h) as isize - g.pad_t as isize;
    let (ky_lo, ky_hi) = valid_range(by, g.d_h, g.k_h, g.in_h);
    // Only used when the window has a row inside the input.
    let iy0 = (by + (ky_lo * g.d_h) as isize) as usize;
    let rows = (ky_lo, ky_hi, iy0);
    for (ox, o) in ra.iter_mut().enumerate() {
        let bx = (ox * g.s_w) as isize - g.pad_l as isize;
        let (kx_lo, kx_hi) = valid_range(bx, g.d_w, g.k_w, g.in_w);
        let (a, b) = if ky_lo >= ky_hi || kx_lo >= kx_hi {
            (acc[0], acc[1])
        } else {
            let cols = (kx_lo, kx_hi, (bx + (kx_lo * g.d_w) as isize) as usize);
            if ky_hi - ky_lo == g.k_h && kx_hi - kx_lo == g.k_w {
                let s = pairs_window::<false>(g, xg, wp, rows, cols);
                (acc[2].wrapping_add(s[0]), acc[3].wrapping_add(s[1]))
            } else {
                let s = pairs_window::<true>(g, xg, wp, rows, cols);
                let a = acc[0]
                    .wrapping_add(s[0])
                    .wrapping_add(off.wrapping_mul(s[2]));
                (
                    a,
                    acc[1]
                        .wrapping_add(s[1])
                        .wrapping_add(off.wrapping_mul(s[3])),
                )
            }
        };
        *o = oq.out(&rq[0], a);
        if let Some(rb) = rb.as_deref_mut() {
            rb[ox] = oq.out(&rq[1], b);
        }
    }
}

/// Direct conv, the plain per-tap loop: what the other paths do not take (`k > PAIR_WORDS`,
/// groups that do not divide the channel counts). Indexing as the module docs define it.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn conv_direct(
    p: &QConv2dP,
    g: &Geom,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    out: &mut [i8],
) {
    let off = p.in_zp.wrapping_neg();
    let bounded = acc_bounded(bias, g.icg * g.khw, p.in_zp);
    let oq = OutQ {
        zp: p.out_zp,
        lo: p.act_min,
        hi: p.act_max,
    };
    let kwg = g.icg * g.khw;
    for n in 0..p.batch as usize {
        for oc in 0..g.out_c {
            let grp = oc / g.ocg.max(1);
            let b0 = if bias.is_empty() { 0 } else { bias[oc] };
            let rq = Rq::of(mult, shift, p.per_channel, oc, bounded);
            let plane = &mut out[(n * g.out_c + oc) * g.ohw..][..g.ohw];
            let xg = &x[(n * g.in_c + grp * g.icg) * g.ihw..][..g.icg * g.ihw];
            let wo = &w[oc * kwg..][..kwg];
            for (pos, o) in plane.iter_mut().enumerate() {
                let by = ((pos / g.out_w) * g.s_h) as isize - g.pad_t as isize;
                let bx = ((pos % g.out_w) * g.s_w) as isize - g.pad_l as isize;
                let mut acc = b0;
                for (t, &wv) in wo.iter().enumerate() {
                    let (icl, ky, kx) = (t / g.khw, t % g.khw / g.k_w, t % g.k_w);
                    let iy = by + (ky * g.d_h) as isize;
                    let ix = bx + (kx * g.d_w) as isize;
                    if (0..g.in_h as isize).contains(&iy) && (0..g.in_w as isize).contains(&ix) {
                        let xv = xg[icl * g.ihw + iy as usize * g.in_w + ix as usize] as i32;
                        acc = acc.wrapping_add(xv.wrapping_add(off).wrapping_mul(wv as i32));
                    }
                }
                *o = oq.out(&rq, acc);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dense

/// `[s0 + Σ (a[i] + off) * wa[i], s1 + Σ (a[i] + off) * wb[i]]`: four taps per step, the input
/// offset added in the 16-bit lanes as `a` is widened (`SXTAB16`, `off` in both lanes of
/// `offs`; `a + off` must fit 16 bits), the weights widened by `SXTB16`, 4 `SMLAD`s per 8 MACs.
#[inline(never)]
fn dense2(a: &[i8], wa: &[i8], wb: &[i8], off: i32, offs: u32, s: [i32; 2]) -> [i32; 2] {
    let k = a.len().min(wa.len()).min(wb.len());
    let n = k / 4;
    let [mut s0, mut s1] = s;
    {
        let (a4, wa4, wb4) = (&a[..4 * n], &wa[..4 * n], &wb[..4 * n]);
        for j in 0..n {
            // Keeps LLVM from unrolling (the unrolled body spills on Armv7-M).
            core::hint::black_box(());
            let x = word4(&a4[4 * j..4 * j + 4]);
            let (x02, x13) = (sxtab16(offs, x), sxtab16_ror8(offs, x));
            let (y, z) = (word4(&wa4[4 * j..4 * j + 4]), word4(&wb4[4 * j..4 * j + 4]));
            s0 = smlad(x02, sxtb16(y), s0);
            s0 = smlad(x13, sxtb16_ror8(y), s0);
            s1 = smlad(x02, sxtb16(z), s1);
            s1 = smlad(x13, sxtb16_ror8(z), s1);
        }
    }
    for i in 4 * n..k {
        let av = (a[i] as i32).wrapping_add(off);
        s0 = s0.wrapping_add(av.wrapping_mul(wa[i] as i32));
        s1 = s1.wrapping_add(av.wrapping_mul(wb[i] as i32));
    }
    [s0, s1]
}

/// One output column: `acc + Σ_k (a[k] + off) * w[k]` (any `off`).
#[inline(never)]
fn dense1(a: &[i8], off: i32, w: &[i8], acc: i32) -> i32 {
    a.iter().zip(w).fold(acc, |s, (&av, &wv)| {
        s.wrapping_add((av as i32).wrapping_add(off).wrapping_mul(wv as i32))
    })
}

/// int8 fully-connected (see [`QDenseP`]; weights `[n, k]`): output columns in pairs, each a
/// dot product over contiguous rows ([`dense2`]); zero points whose offset does not fit the
/// 16-bit lanes take the scalar [`dense1`]. The i32 sums are order-independent.
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
    let bounded = acc_bounded(bias, k, p.in_zp);
    // `a + off` in a 16-bit lane for every int8 `a`.
    let lanes = (-32_639..=32_639).contains(&off);
    let offs = pack(off, off);
    let oq = OutQ {
        zp: p.out_zp,
        lo: p.act_min,
        hi: p.act_max,
    };
    let w = &w[..k * n];
    let init = |j: usize| if bias.is_empty() { 0 } else { bias[j] };
    for r in 0..rows {
        let ar = &a[r * k..][..k];
        let orow = &mut out[r * n..][..n];
        let mut j = 0;
        while lanes && j + 2 <= n {
            let (wa, wb) = (&w[j * k..][..k], &w[(j + 1) * k..][..k]);
            let s = dense2(ar, wa, wb, off, offs, [init(j), init(j + 1)]);
            for (t, &v) in s.iter().enumerate() {
                let rq = Rq::of(mult, shift, p.per_channel, j + t, bounded);
                orow[j + t] = oq.out(&rq, v);
            }
            j += 2;
        }
        for (jj, o) in orow.iter_mut().enumerate().skip(j) {
            let s = dense1(ar, off, &w[jj * k..][..k], init(jj));
            *o = oq.out(&Rq::of(mult, shift, p.per_channel, jj, bounded), s);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Binary

/// TFLite's int8 Add / Sub / Mul with the multipliers decoded once (see the module docs).
struct BinQ {
    op: u8,
    a_zp: i32,
    b_zp: i32,
    ls: u32,
    a: Rq,
    b: Rq,
    o: Rq,
    oq: OutQ,
}

impl BinQ {
    /// `mbqm((v - a_zp) << left_shift, a_mult, a_shift)` (Add / Sub only).
    #[inline(always)]
    fn scale_a(&self, v: i8) -> i32 {
        let d = (v as i32).wrapping_sub(self.a_zp).wrapping_shl(self.ls);
        self.a.scale(d)
    }

    #[inline(always)]
    fn scale_b(&self, v: i8) -> i32 {
        let d = (v as i32).wrapping_sub(self.b_zp).wrapping_shl(self.ls);
        self.b.scale(d)
    }

    /// Add / Sub from the scaled operands.
    #[inline(always)]
    fn add_scaled(&self, a: i32, b: i32) -> i8 {
        let raw = if self.op == QBIN_SUB {
            a.wrapping_sub(b)
        } else {
            a.wrapping_add(b)
        };
        self.oq.out(&self.o, raw)
    }

    #[inline(always)]
    fn mul(&self, a: i8, b: i8) -> i8 {
        let prod = (a as i32)
            .wrapping_sub(self.a_zp)
            .wrapping_mul((b as i32).wrapping_sub(self.b_zp));
        self.oq.out(&self.o, prod)
    }

    /// One output row, operands stepping by `sa` / `sb` (0: broadcast along the row).
    #[inline(never)]
    fn row(&self, a: &[i8], sa: isize, b: &[i8], sb: isize, out: &mut [i8]) {
        let (mut i, mut j) = (0usize, 0usize);
        if self.op == QBIN_MUL && (sa == 0 || sb == 0) && sa.max(sb) == 1 {
            // One operand broadcast along a contiguous row (a squeeze-excite gate, a scale).
            let (v, f) = if sb == 0 {
                (&a[..out.len()], (b[0] as i32).wrapping_sub(self.b_zp))
            } else {
                (&b[..out.len()], (a[0] as i32).wrapping_sub(self.a_zp))
            };
            let zp = if sb == 0 { self.a_zp } else { self.b_zp };
            // Every product `(v - zp) * f` below 2^30 in magnitude: the short requantization.
            let bound = (128 + zp.unsigned_abs() as u64) * f.unsigned_abs() as u64;
            return if self.o.right >= 1 && bound < 1 << 30 {
                self.scale_row::<true>(v, zp, f, out)
            } else {
                self.scale_row::<false>(v, zp, f, out)
            };
        }
        if self.op == QBIN_MUL {
            for o in out.iter_mut() {
                // Keeps LLVM from unrolling (code size; the body is long anyway).
                core::hint::black_box(());
                *o = self.mul(a[i], b[j]);
                i = i.wrapping_add(sa as usize);
                j = j.wrapping_add(sb as usize);
            }
            return;
        }
        // Add / Sub: a broadcast operand is scaled once per row.
        let xa = if sa == 0 { self.scale_a(a[0]) } else { 0 };
        let xb = if sb == 0 { self.scale_b(b[0]) } else { 0 };
        for o in out.iter_mut() {
            core::hint::black_box(());
            let x = if sa == 0 { xa } else { self.scale_a(a[i]) };
            let y = if sb == 0 { xb } else { self.scale_b(b[j]) };
            *o = self.add_scaled(x, y);
            i = i.wrapping_add(sa as usize);
            j = j.wrapping_add(sb as usize);
        }
    }

    /// `out[i] = requant((v[i] - zp) * f)`: a Mul whose other operand is the constant `f` (its
    /// value minus its zero point) along the row.
    /// `SHORT`: every product is below 2^30 in magnitude and the shift is a right shift.
    #[inline(never)]
    fn scale_row<const SHORT: bool>(&self, v: &[i8], zp: i32, f: i32, out: &mut [i8]) {
        for (o, &x) in out.iter_mut().zip(v) {
            core::hint::black_box(());
            let prod = (x as i32).wrapping_sub(zp).wrapping_mul(f);
            *o = self.oq.out_as::<SHORT>(&self.o, prod);
        }
    }

    /// [`BinQ::row`] for Add / Sub with the scaled operands looked up in `ta` / `tb` (entry
    /// `v + 128` = `scale_a(v)` / `scale_b(v)`).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn row_lut(
        &self,
        ta: &[i32; 256],
        tb: &[i32; 256],
        a: &[i8],
        sa: isize,
        b: &[i8],
        sb: isize,
        out: &mut [i8],
    ) {
        let (mut i, mut j) = (0usize, 0usize);
        for o in out.iter_mut() {
            core::hint::black_box(());
            let x = ta[(a[i] as u8 ^ 0x80) as usize];
            let y = tb[(b[j] as u8 ^ 0x80) as usize];
            *o = self.add_scaled(x, y);
            i = i.wrapping_add(sa as usize);
            j = j.wrapping_add(sb as usize);
        }
    }
}

/// Broadcasting int8 Add / Sub / Mul (see [`QBinaryP`]).
pub fn binary(p: &QBinaryP, a: &[i8], b: &[i8], out: &mut [i8]) {
    if !matches!(p.op, QBIN_ADD | QBIN_SUB | QBIN_MUL) {
        return;
    }
    let q = BinQ {
        op: p.op,
        a_zp: p.a_zp,
        b_zp: p.b_zp,
        ls: p.left_shift.clamp(0, 31) as u32,
        a: Rq::new(p.a_mult, p.a_shift),
        b: Rq::new(p.b_mult, p.b_shift),
        o: Rq::new(p.out_mult, p.out_shift),
        oq: OutQ {
            zp: p.out_zp,
            lo: p.act_min,
            hi: p.act_max,
        },
    };
    let walk = Walk::new(
        p.rank,
        &p.out_shape,
        &strides_u32(&p.a_strides),
        &strides_u32(&p.b_strides),
    );
    let (len, sa, sb) = walk.row();
    let rank = (p.rank as usize).min(MAX_RANK);
    let total: usize = p.out_shape[..rank].iter().map(|&l| l as usize).product();
    let mut k = 0usize;
    if p.op != QBIN_MUL && total >= 256 {
        // An int8 operand has 256 values: tabulate both scalings once.
        let v = |i: usize| (i as u8 ^ 0x80) as i8;
        let ta: [i32; 256] = core::array::from_fn(|i| q.scale_a(v(i)));
        let tb: [i32; 256] = core::array::from_fn(|i| q.scale_b(v(i)));
        walk.rows(|oa, ob| {
            let o = &mut out[k..k + len];
            q.row_lut(&ta, &tb, &a[oa as usize..], sa, &b[ob as usize..], sb, o);
            k += len;
        });
        return;
    }
    walk.rows(|oa, ob| {
        let o = &mut out[k..k + len];
        q.row(&a[oa as usize..], sa, &b[ob as usize..], sb, o);
        k += len;
    });
}

// ---------------------------------------------------------------------------------------------
// Pool2d

/// The max (`max`) or the sum of one window: `rows` input rows from `at` (`row_step` apart),
/// `span` bytes each, every `d_w`-th one a tap. The max starts at -128.
#[inline(always)]
fn pool_window(
    max: bool,
    xp: &[i8],
    mut at: usize,
    rows: usize,
    row_step: usize,
    span: usize,
    d_w: usize,
) -> i32 {
    let mut acc: i32 = if max { -128 } else { 0 };
    for _ in 0..rows {
        for &v in xp[at..][..span].iter().step_by(d_w) {
            acc = if max {
                acc.max(v as i32)
            } else {
                acc + v as i32
            };
        }
        at += row_step;
    }
    acc
}

/// One plane of [`pool2d`].
#[inline(never)]
fn pool_plane(max: bool, p: &QPool2dP, xp: &[i8], op: &mut [i8]) {
    let (in_h, in_w, out_w) = (p.in_h as usize, p.in_w as usize, p.out_w as usize);
    let (k_h, k_w) = (p.k_h as usize, p.k_w as usize);
    let (s_h, d_h) = ((p.s_h as usize).max(1), (p.d_h as usize).max(1));
    let (s_w, d_w) = ((p.s_w as usize).max(1), (p.d_w as usize).max(1));
    let full = (k_h * k_w) as i32;
    let finish = |acc: i32, n_in: i32| -> i8 {
        let v = if max {
            acc
        } else if p.count_include_pad && full > 0 {
            round_div(acc.wrapping_add((full - n_in).wrapping_mul(p.zp)), full)
        } else if n_in > 0 {
            round_div(acc, n_in)
        } else {
            p.zp
        };
        act(v, p.act_min, p.act_max)
    };
    let ext_w = (k_w.max(1) - 1) * d_w + 1;
    let (fa, fb) = full_range(p.pad_l as usize, s_w, ext_w, in_w, out_w);
    let row_step = d_h * in_w;
    for (oy, orow) in op.chunks_exact_mut(out_w.max(1)).enumerate() {
        let by = (oy * s_h) as isize - p.pad_t as isize;
        let (ky_lo, ky_hi) = valid_range(by, d_h, k_h, in_h);
        let rows = ky_hi - ky_lo;
        // Only dereferenced when the window has a row inside the input.
        let iy0 = (by + (ky_lo * d_h) as isize) as usize;
        let interior = rows > 0 && k_w > 0;
        if interior && fa < fb {
            // Interior columns: the same taps relative to the window, no clipping.
            let n_in = (rows * k_w) as i32;
            let mut at = iy0 * in_w + fa * s_w - p.pad_l as usize;
            for o in &mut orow[fa..fb] {
                let acc = if rows == 2 && k_w == 2 && d_w == 1 {
                    // 2 × 2 windows (the common pooling), unrolled.
                    let (r0, r1) = (&xp[at..][..2], &xp[at + row_step..][..2]);
                    let (a, b) = (r0[0] as i32, r0[1] as i32);
                    let (c, d) = (r1[0] as i32, r1[1] as i32);
                    if max {
                        a.max(b).max(c.max(d))
                    } else {
                        a + b + c + d
                    }
                } else if ext_w == in_w && d_h == 1 && d_w == 1 {
                    // Whole consecutive input rows (global pooling): one contiguous run.
                    pool_window(max, xp, at, 1, 0, ext_w * rows, 1)
                } else {
                    pool_window(max, xp, at, rows, row_step, ext_w, d_w)
                };
                *o = finish(acc, n_in);
                at += s_w;
            }
        }
        // Border pixels (clipped windows), and every pixel when no row is inside the input.
        for (ox, o) in orow.iter_mut().enumerate() {
            if interior && (fa..fb).contains(&ox) {
                continue;
            }
            let bx = (ox * s_w) as isize - p.pad_l as isize;
            let (kx_lo, kx_hi) = valid_range(bx, d_w, k_w, in_w);
            let nx = kx_hi - kx_lo;
            let acc = if nx > 0 && rows > 0 {
                let ix = (bx + (kx_lo * d_w) as isize) as usize;
                let span = (nx - 1) * d_w + 1;
                pool_window(max, xp, iy0 * in_w + ix, rows, row_step, span, d_w)
            } else if max {
                -128
            } else {
                0
            };
            *o = finish(acc, (rows * nx) as i32);
        }
    }
}

/// int8 max / average pooling (see [`QPool2dP`] and the module docs for the average's rounding).
pub fn pool2d(p: &QPool2dP, x: &[i8], out: &mut [i8]) {
    let max = match p.kind {
        QPOOL_MAX => true,
        QPOOL_AVG => false,
        _ => return,
    };
    let ihw = p.in_h as usize * p.in_w as usize;
    let ohw = p.out_h as usize * p.out_w as usize;
    for pl in 0..p.batch as usize * p.c as usize {
        pool_plane(max, p, &x[pl * ihw..][..ihw], &mut out[pl * ohw..][..ohw]);
    }
}

// ---------------------------------------------------------------------------------------------
// Mean

/// int8 mean over the dims in `mask` (see [`QMeanP`]; TFLite's `QuantizedMeanOrSum` with the
/// division folded into the multiplier).
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
                let i = base + ib;
                if ist == 1 {
                    // A contiguous run (e.g. the H × W plane of a global average pool).
                    let run = &x[i as usize..][..ilen];
                    let zs = p.in_zp.wrapping_mul(ilen as i32);
                    acc = acc.wrapping_add(sum_i8(run)).wrapping_sub(zs);
                    return;
                }
                let mut i = i;
                for _ in 0..ilen {
                    acc = acc.wrapping_add((x[i as usize] as i32).wrapping_sub(p.in_zp));
                    i += ist;
                }
            });
            let v = if n > 0 {
                multiply_by_quantized_multiplier(acc, p.mult, p.shift).wrapping_add(p.out_zp)
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

/// QuantizeLinear / QUANTIZE, f32 → i8 (see [`quantize_f32`], [`quantize_f32_away`]).
pub fn quantize(p: &QuantizeP, x: &[f32], out: &mut [i8]) {
    let n = p.len as usize;
    let pairs = out[..n].iter_mut().zip(&x[..n]);
    if p.ties_away {
        for (o, &v) in pairs {
            *o = quantize_f32_away(v, p.scale, p.zp);
        }
    } else {
        for (o, &v) in pairs {
            *o = quantize_f32(v, p.scale, p.zp);
        }
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

/// int8 softmax (see [`QSoftmaxP`] and the module docs): TFLite's reference int8 softmax, integer
/// only, output scale 1/256, zp -128. `exp` has 256 entries, `exp[d]` = the `Q0` fixed-point
/// `exp` of a distance `d = max - x` (0 past TFLite's `diff_min`), built by
/// [`super::softmax_exp_table`].
pub fn softmax(p: &QSoftmaxP, x: &[i8], exp: &[i32], out: &mut [i8]) {
    use super::fixedpoint::get_reciprocal;
    /// Integer bits of the sum of exps (TFLite's `kAccumulationIntegerBits`).
    const ACC_BITS: i32 = 12;
    let (axis, inner) = (p.axis as usize, p.inner as usize);
    if axis == 0 || inner == 0 {
        return;
    }
    let exp = &exp[..256];
    let e = |m: i8, v: i8| exp[(m as i32 - v as i32) as usize];
    let block = axis * inner;
    for r in 0..p.outer as usize {
        let xb = &x[r * block..][..block];
        let ob = &mut out[r * block..][..block];
        for i in 0..inner {
            let m = xb[i..].iter().step_by(inner).copied().max().unwrap_or(0);
            // Q12 sum of the Q0 exps (gemmlowp `Rescale<12>`).
            let sum = xb[i..].iter().step_by(inner).fold(0i32, |s, &v| {
                s.wrapping_add(rounding_divide_by_pot(e(m, v), ACC_BITS))
            });
            let (scale, bits) = get_reciprocal(sum, ACC_BITS);
            for (o, &v) in ob[i..]
                .iter_mut()
                .step_by(inner)
                .zip(xb[i..].iter().step_by(inner))
            {
                let unsat = rounding_divide_by_pot(
                    saturating_rounding_doubling_high_mul(scale, e(m, v)),
                    bits + 31 - 8,
                );
                *o = sat_i8(unsat - 128);
            }
        }
    }
}
