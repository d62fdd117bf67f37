//! The on-target check of the int8 kernels: seeded random cases through the kernels as the target
//! compiles them (with the DSP instructions where the core has them, [`super::dsp`]) and through
//! the plain references of this module (the contract of the module docs as per-element loops,
//! no `asm!`), compared bit for bit. `--kernel-check` firmware runs it in QEMU on each core; the
//! host runs it in its tests. No allocation: every case fits fixed stack buffers.

use core::fmt::Write;

use super::*;

/// Bytes of the input and weight buffers; output elements per case.
const X_MAX: usize = 1024;
const W_MAX: usize = 2048;
const OUT_MAX: usize = 512;
const C_MAX: usize = 32;

/// A small deterministic generator (64-bit LCG, high half).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.next() % (hi - lo + 1)
    }

    fn i8(&mut self) -> i8 {
        self.next() as i8
    }

    fn fill(&mut self, v: &mut [i8]) {
        v.iter_mut().for_each(|x| *x = self.i8());
    }

    /// A realistic requantization pair: a multiplier in `[2^30, 2^31)`, mostly right shifts.
    fn q(&mut self) -> (i32, i32) {
        let mult = (1 << 30) + (self.next() >> 2) as i32;
        let shift = self.range(0, 14) as i32 - 12;
        (mult, shift)
    }

    /// A bias and a requantization pair for each of `n <= C_MAX` channels (one pair is used
    /// when not `per_channel`).
    fn channels(&mut self, n: usize, per_channel: bool) -> ChannelQ {
        let mut cq = ChannelQ {
            bias: [0; C_MAX],
            mult: [0; C_MAX],
            shift: [0; C_MAX],
            n,
            nq: if per_channel { n } else { 1 },
        };
        for c in 0..n {
            cq.bias[c] = (self.next() as i32) >> 14;
            (cq.mult[c], cq.shift[c]) = self.q();
        }
        cq
    }

    fn act(&mut self) -> (i8, i8) {
        if self.next().is_multiple_of(2) {
            (-128, 127)
        } else {
            let (a, b) = (self.i8(), self.i8());
            (a.min(b), a.max(b))
        }
    }
}

/// Conv / dense tables of a case: `n` biases, `nq` requantization pairs.
struct ChannelQ {
    bias: [i32; C_MAX],
    mult: [i32; C_MAX],
    shift: [i32; C_MAX],
    n: usize,
    nq: usize,
}

impl ChannelQ {
    /// `(bias, mult, shift)` as the kernels take them.
    fn tables(&self) -> (&[i32], &[i32], &[i32]) {
        (
            &self.bias[..self.n],
            &self.mult[..self.nq],
            &self.shift[..self.nq],
        )
    }
}

/// One drawn case of a kernel: whether kernel and reference agreed, `None` when the drawn
/// geometry does not fit the buffers.
type Case = fn(&mut Rng) -> Option<bool>;

/// The result of [`run`]: how many cases ran and how many differed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub cases: u32,
    pub mismatches: u32,
}

/// Runs `cases` cases of each checked kernel (conv2d in its im2col, depthwise and direct forms,
/// dense, binary, mean, quantize) from `seed`, writing one line per differing case and a summary
/// line `kernel-check: N cases, M mismatches` to `w`.
pub fn run(seed: u64, cases: u32, w: &mut dyn Write) -> Summary {
    let mut r = Rng(seed);
    let mut s = Summary::default();
    let checks: [(&str, Case); 5] = [
        ("conv2d", conv_case),
        ("dense", dense_case),
        ("binary", binary_case),
        ("mean", mean_case),
        ("quantize", quantize_case),
    ];
    for (name, check) in checks {
        let mut done = 0;
        while done < cases {
            // A drawn geometry that does not fit the buffers is drawn again.
            let Some(same) = check(&mut r) else { continue };
            done += 1;
            s.cases += 1;
            if !same {
                s.mismatches += 1;
                let _ = writeln!(w, "kernel-check: {name} case {done} differs");
            }
        }
    }
    let _ = writeln!(
        w,
        "kernel-check: {} cases, {} mismatches",
        s.cases, s.mismatches
    );
    s
}

fn clamp8(v: i32, lo: i8, hi: i8) -> i8 {
    v.clamp(lo as i32, hi as i32) as i8
}

/// Output length of a window along one dim, when one fits.
fn out_len(n: u32, k: u32, s: u32, d: u32, pad: u32) -> Option<u32> {
    let ext = (k - 1) * d + 1;
    (ext <= n + 2 * pad).then(|| (n + 2 * pad - ext) / s + 1)
}

fn conv_case(r: &mut Rng) -> Option<bool> {
    let depthwise = r.next().is_multiple_of(3);
    // One case in four has 576 taps per output (64 channels, 3 x 3): the im2col path that
    // reads its weights in place; the others pack them.
    let deep = !depthwise && r.next().is_multiple_of(4);
    let in_c = if deep { 64 } else { r.range(1, 12) };
    let (groups, out_c) = if depthwise {
        (in_c, in_c * r.range(1, 2))
    } else if deep {
        (1, r.range(2, 3))
    } else {
        (1, r.range(1, 20))
    };
    let k = if deep { 3 } else { r.range(1, 3) };
    let (s, d, pad) = (r.range(1, 2), r.range(1, 2), r.range(0, 1));
    let side = if deep { 4 } else { 12 };
    let (in_h, in_w) = (r.range(1, side), r.range(1, side));
    let out_h = out_len(in_h, k, s, d, pad)?;
    let out_w = out_len(in_w, k, s, d, pad)?;
    let icg = in_c / groups;
    let (nx, nw, no) = (
        (in_c * in_h * in_w) as usize,
        (out_c * icg * k * k) as usize,
        (out_c * out_h * out_w) as usize,
    );
    if nx > X_MAX || nw > W_MAX || no > OUT_MAX || out_c as usize > C_MAX {
        return None;
    }
    let (act_min, act_max) = r.act();
    let p = QConv2dP {
        batch: 1,
        in_c,
        in_h,
        in_w,
        out_c,
        out_h,
        out_w,
        k_h: k,
        k_w: k,
        s_h: s,
        s_w: s,
        d_h: d,
        d_w: d,
        pad_t: pad,
        pad_l: pad,
        groups,
        in_zp: r.i8() as i32,
        out_zp: r.i8() as i32,
        per_channel: !r.next().is_multiple_of(4),
        act_min,
        act_max,
    };
    let (mut x, mut wt) = ([0i8; X_MAX], [0i8; W_MAX]);
    r.fill(&mut x[..nx]);
    r.fill(&mut wt[..nw]);
    let cq = r.channels(out_c as usize, p.per_channel);
    let t = cq.tables();
    let (mut got, mut want) = ([0i8; OUT_MAX], [0i8; OUT_MAX]);
    conv2d(&p, &x[..nx], &wt[..nw], t.0, t.1, t.2, &mut got[..no]);
    ref_conv2d(&p, &x[..nx], &wt[..nw], t, &mut want[..no]);
    Some(got[..no] == want[..no])
}

/// The conv contract, one output element at a time.
fn ref_conv2d(p: &QConv2dP, x: &[i8], w: &[i8], t: (&[i32], &[i32], &[i32]), out: &mut [i8]) {
    let (bias, mult, shift) = t;
    let g = p.groups.max(1) as usize;
    let (icg, ocg) = (p.in_c as usize / g, p.out_c as usize / g);
    let (kh, kw, ih, iw) = (
        p.k_h as usize,
        p.k_w as usize,
        p.in_h as isize,
        p.in_w as isize,
    );
    let mut o = 0;
    for oc in 0..p.out_c as usize {
        let grp = oc / ocg;
        let c = if p.per_channel { oc } else { 0 };
        for oy in 0..p.out_h as isize {
            for ox in 0..p.out_w as isize {
                let mut acc = bias[oc];
                for icl in 0..icg {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = oy * p.s_h as isize - p.pad_t as isize
                                + (ky * p.d_h as usize) as isize;
                            let ix = ox * p.s_w as isize - p.pad_l as isize
                                + (kx * p.d_w as usize) as isize;
                            if iy < 0 || ix < 0 || iy >= ih || ix >= iw {
                                continue;
                            }
                            let ic = grp * icg + icl;
                            let xv = x[ic * (ih * iw) as usize + (iy * iw + ix) as usize] as i32;
                            let wv = w[((oc * icg + icl) * kh + ky) * kw + kx] as i32;
                            acc = acc.wrapping_add(xv.wrapping_sub(p.in_zp).wrapping_mul(wv));
                        }
                    }
                }
                let v = multiply_by_quantized_multiplier(acc, mult[c], shift[c]);
                out[o] = clamp8(v.wrapping_add(p.out_zp), p.act_min, p.act_max);
                o += 1;
            }
        }
    }
}

fn dense_case(r: &mut Rng) -> Option<bool> {
    let (m, k, n) = (r.range(1, 3), r.range(1, 200), r.range(1, C_MAX as u32));
    let (na, nw, no) = ((m * k) as usize, (k * n) as usize, (m * n) as usize);
    if na > X_MAX || nw > W_MAX || no > OUT_MAX {
        return None;
    }
    let (act_min, act_max) = r.act();
    let p = QDenseP {
        batch: 1,
        m,
        k,
        n,
        in_zp: r.i8() as i32,
        out_zp: r.i8() as i32,
        per_channel: !r.next().is_multiple_of(4),
        act_min,
        act_max,
    };
    let (mut a, mut wt) = ([0i8; X_MAX], [0i8; W_MAX]);
    r.fill(&mut a[..na]);
    r.fill(&mut wt[..nw]);
    let cq = r.channels(n as usize, p.per_channel);
    let (b, mu, sh) = cq.tables();
    let (mut got, mut want) = ([0i8; OUT_MAX], [0i8; OUT_MAX]);
    dense(&p, &a[..na], &wt[..nw], b, mu, sh, &mut got[..no]);
    let (k, n) = (k as usize, n as usize);
    for row in 0..m as usize {
        for j in 0..n {
            let acc = (0..k).fold(b[j], |s, i| {
                let av = (a[row * k + i] as i32).wrapping_sub(p.in_zp);
                s.wrapping_add(av.wrapping_mul(wt[j * k + i] as i32))
            });
            let c = if p.per_channel { j } else { 0 };
            let v = multiply_by_quantized_multiplier(acc, mu[c], sh[c]).wrapping_add(p.out_zp);
            want[row * n + j] = clamp8(v, act_min, act_max);
        }
    }
    Some(got[..no] == want[..no])
}

/// Add / Sub / Mul of `[c, len]` by `[c, len]` or by a per-row `[c, 1]` (a broadcast row).
fn binary_case(r: &mut Rng) -> Option<bool> {
    let (c, len) = (r.range(1, 8), r.range(1, 64));
    let broadcast = r.next().is_multiple_of(2);
    let op = r.range(0, 2) as u8;
    let no = (c * len) as usize;
    if no > OUT_MAX {
        return None;
    }
    let mut shape = [1u32; MAX_RANK];
    (shape[0], shape[1]) = (c, len);
    let mut a_st = [0u32; MAX_RANK];
    (a_st[0], a_st[1]) = (len, 1);
    let mut b_st = a_st;
    if broadcast {
        (b_st[0], b_st[1]) = (1, 0);
    }
    let (am, ash) = r.q();
    let (bm, bsh) = r.q();
    let (om, osh) = r.q();
    let (act_min, act_max) = r.act();
    let p = QBinaryP {
        op,
        rank: 2,
        out_shape: shape,
        a_strides: a_st,
        b_strides: b_st,
        a_zp: r.i8() as i32,
        b_zp: r.i8() as i32,
        out_zp: r.i8() as i32,
        left_shift: 20,
        a_mult: am,
        a_shift: ash.min(0),
        b_mult: bm,
        b_shift: bsh.min(0),
        out_mult: om,
        out_shift: osh,
        act_min,
        act_max,
    };
    let (mut a, mut b) = ([0i8; OUT_MAX], [0i8; OUT_MAX]);
    r.fill(&mut a[..no]);
    r.fill(&mut b[..no]);
    let (mut got, mut want) = ([0i8; OUT_MAX], [0i8; OUT_MAX]);
    binary(&p, &a[..no], &b[..no], &mut got[..no]);
    let mbqm = multiply_by_quantized_multiplier;
    for (i, o) in want[..no].iter_mut().enumerate() {
        let bi = if broadcast { i / len as usize } else { i };
        let (x, y) = (
            (a[i] as i32).wrapping_sub(p.a_zp),
            (b[bi] as i32).wrapping_sub(p.b_zp),
        );
        let raw = if op == QBIN_MUL {
            x.wrapping_mul(y)
        } else {
            let xs = mbqm(x.wrapping_shl(20), p.a_mult, p.a_shift);
            let ys = mbqm(y.wrapping_shl(20), p.b_mult, p.b_shift);
            if op == QBIN_SUB {
                xs.wrapping_sub(ys)
            } else {
                xs.wrapping_add(ys)
            }
        };
        let v = mbqm(raw, p.out_mult, p.out_shift).wrapping_add(p.out_zp);
        *o = clamp8(v, act_min, act_max);
    }
    Some(got[..no] == want[..no])
}

/// Mean of `[c, h * w]` over its last dim (a global average pool).
fn mean_case(r: &mut Rng) -> Option<bool> {
    let (c, hw) = (r.range(1, 16), r.range(1, 64));
    let n = (c * hw) as usize;
    if n > X_MAX {
        return None;
    }
    let mut in_shape = [1u32; MAX_RANK];
    (in_shape[0], in_shape[1]) = (c, hw);
    let (mult, shift) = r.q();
    let p = QMeanP {
        rank: 2,
        in_shape,
        mask: 0b10,
        in_zp: r.i8() as i32,
        out_zp: r.i8() as i32,
        mult,
        shift,
    };
    let mut x = [0i8; X_MAX];
    r.fill(&mut x[..n]);
    let (mut got, mut want) = ([0i8; C_MAX], [0i8; C_MAX]);
    mean(&p, &x[..n], &mut got[..c as usize]);
    for (row, o) in x[..n]
        .chunks_exact(hw as usize)
        .zip(&mut want[..c as usize])
    {
        let acc = row.iter().fold(0i32, |s, &v| {
            s.wrapping_add((v as i32).wrapping_sub(p.in_zp))
        });
        let v = multiply_by_quantized_multiplier(acc, mult, shift).wrapping_add(p.out_zp);
        *o = sat_i8(v);
    }
    Some(got[..c as usize] == want[..c as usize])
}

/// f32 → int8 over a run of values around the rounding boundaries.
fn quantize_case(r: &mut Rng) -> Option<bool> {
    let scale = f32::from_bits(0x3c00_0000 + (r.next() >> 8));
    let zp = r.i8() as i32;
    let mut x = [0f32; 64];
    for v in x.iter_mut() {
        // Halves of the scale and arbitrary bit patterns (NaN and infinities included).
        *v = if r.next().is_multiple_of(2) {
            (r.range(0, 600) as f32 - 300.0 + 0.5) * scale
        } else {
            f32::from_bits(r.next())
        };
    }
    let ties_away = r.next().is_multiple_of(2);
    let p = QuantizeP {
        len: 64,
        scale,
        zp,
        ties_away,
    };
    let mut got = [0i8; 64];
    quantize(&p, &x, &mut got);
    let same = x.iter().zip(&got).all(|(&v, &g)| {
        let t = v / scale;
        let r = if ties_away {
            round_half_away(t)
        } else {
            round_half_even(t)
        };
        g == sat_i8((r as i32).saturating_add(zp))
    });
    Some(same)
}
