//! The f32 reference kernels `run` dispatches to.
//!
//! # Conventions shared by every kernel
//! - **Evaluation order is part of the contract.** Host simulation and device run this same code,
//!   and f32 addition is not associative, so every sum is accumulated in one fixed order, written
//!   down on each kernel. Products and sums are separate operations (`acc + w * x`, rounded twice);
//!   nothing here asks for a fused multiply-add and Rust never contracts one by itself (LLVM may
//!   emit Armv7-M `vmla.f32`, which rounds the product before the add: the same result). There
//!   are no target-dependent code paths. Transcendentals come from `libm`. Bit-exactness assumes
//!   the default FP environment on both ends: round to nearest, subnormals not flushed.
//! - **Bias first.** Conv and Dense start each accumulator at the bias (or `0.0` without one) and
//!   then add the products in the documented order; the fused activation comes last.
//! - **Lengths.** Sizes come from the parameters; input and output slices must be at least that
//!   long (the host guarantees exactly that). A short slice panics on indexing; nothing else
//!   panics.
//! - **Degenerate parameters never panic.** A stride or dilation of 0 (invalid ONNX) is treated
//!   as 1. An unknown op / kind code (a host bug) leaves the output unwritten; an unknown
//!   activation kind is the identity.
//! - **NaN.** Activations and unary ops propagate a NaN input (ReLU / Clip of NaN is NaN), as
//!   does arithmetic. Max-style comparisons are `v > m`, so a NaN tap is skipped by Max pooling
//!   and ReduceMax.

use super::*;
use crate::walk::*;

/// ONNX HardSwish `alpha` (1/6, rounded to f32 once), used as `alpha * x + beta`.
pub const HARD_SWISH_ALPHA: f32 = 1.0 / 6.0;
/// ONNX HardSwish `beta`.
pub const HARD_SWISH_BETA: f32 = 0.5;

// ---------------------------------------------------------------------------------------------
// Scalar helpers

#[inline(always)]
fn relu(v: f32) -> f32 {
    // `v < 0` keeps NaN and -0.0 as they are.
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

/// `min(max(v, lo), hi)`, NaN propagating.
#[inline(always)]
fn clip(v: f32, lo: f32, hi: f32) -> f32 {
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}

#[inline(always)]
fn leaky_relu(v: f32, alpha: f32) -> f32 {
    if v < 0.0 {
        alpha * v
    } else {
        v
    }
}

/// `max(0, min(1, alpha * v + beta))`.
#[inline(always)]
fn hard_sigmoid(v: f32, alpha: f32, beta: f32) -> f32 {
    clip(alpha * v + beta, 0.0, 1.0)
}

/// Applies `act` to every element of `out` in place.
fn act_inplace(act: &Act, out: &mut [f32]) {
    let (a, b) = (act.a, act.b);
    match act.kind {
        ACT_RELU => out.iter_mut().for_each(|v| *v = relu(*v)),
        ACT_CLIP => out.iter_mut().for_each(|v| *v = clip(*v, a, b)),
        ACT_LEAKY_RELU => out.iter_mut().for_each(|v| *v = leaky_relu(*v, a)),
        ACT_HARD_SIGMOID => out.iter_mut().for_each(|v| *v = hard_sigmoid(*v, a, b)),
        _ => {}
    }
}

/// `out[j] = out[j] + wv * x[j * step]` for every `j` of `out` (`step >= 1`).
#[inline(always)]
fn axpy(out: &mut [f32], wv: f32, x: &[f32], step: usize) {
    if step == 1 {
        for (o, &xv) in out.iter_mut().zip(x) {
            *o += wv * xv;
        }
    } else {
        for (o, &xv) in out.iter_mut().zip(x.iter().step_by(step)) {
            *o += wv * xv;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conv2d

/// 2-D convolution, grouped / depthwise, with stride, dilation and zero padding (see [`Conv2dP`]).
///
/// Output channel `oc` belongs to group `g = oc / (out_c / groups)` and reads input channels
/// `g * (in_c / groups) ..` of the same group. Output pixel `(oy, ox)` reads input
/// `(oy * s_h - pad_t + ky * d_h, ox * s_w - pad_l + kx * d_w)`; taps outside the input (the top /
/// left padding given, the bottom / right padding implied by `out_h`, `out_w`) are skipped, not
/// multiplied by 0.
///
/// Evaluation order of each output element: `acc = bias[oc]` (or `0.0`), then for each input
/// channel of the group ascending, `ky` ascending, `kx` ascending: `acc = acc + w * x`; then the
/// fused activation.
///
/// The loop runs weight-stationary (one weight at a time, added into a whole output plane), which
/// gives every output element exactly the order above.
pub fn conv2d(p: &Conv2dP, x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let (in_c, in_h, in_w) = (p.in_c as usize, p.in_h as usize, p.in_w as usize);
    let (out_c, out_h, out_w) = (p.out_c as usize, p.out_h as usize, p.out_w as usize);
    let (k_h, k_w) = (p.k_h as usize, p.k_w as usize);
    let (s_h, s_w) = ((p.s_h as usize).max(1), (p.s_w as usize).max(1));
    let (d_h, d_w) = ((p.d_h as usize).max(1), (p.d_w as usize).max(1));
    let (pad_t, pad_l) = (p.pad_t as isize, p.pad_l as isize);
    let groups = (p.groups as usize).max(1);
    let (icg, ocg) = (in_c / groups, out_c / groups);
    let (ihw, ohw, khw) = (in_h * in_w, out_h * out_w, k_h * k_w);
    // Whole output rows read whole, consecutive input rows: one long row per tap.
    let flat_rows = s_w == 1 && s_h == 1 && in_w == out_w;

    for n in 0..p.batch as usize {
        for oc in 0..out_c {
            let g = oc / ocg.max(1);
            let plane = &mut out[(n * out_c + oc) * ohw..][..ohw];
            plane.fill(match bias {
                Some(b) => b[oc],
                None => 0.0,
            });
            for icl in 0..icg {
                let xp = &x[(n * in_c + g * icg + icl) * ihw..][..ihw];
                let wk = &w[(oc * icg + icl) * khw..][..khw];
                for ky in 0..k_h {
                    let ry = (ky * d_h) as isize - pad_t;
                    let (oy_lo, oy_hi) = valid_range(ry, s_h, out_h, in_h);
                    if oy_lo == oy_hi {
                        continue;
                    }
                    for kx in 0..k_w {
                        let wv = wk[ky * k_w + kx];
                        let rx = (kx * d_w) as isize - pad_l;
                        let (ox_lo, ox_hi) = valid_range(rx, s_w, out_w, in_w);
                        if ox_lo == ox_hi {
                            continue;
                        }
                        // In range: oy_lo * s_h + ry >= 0 and ox_lo * s_w + rx >= 0.
                        let ix = (ox_lo * s_w) as isize + rx;
                        if flat_rows && ox_lo == 0 && ox_hi == out_w {
                            let iy = (oy_lo as isize + ry) as usize;
                            let o = &mut plane[oy_lo * out_w..oy_hi * out_w];
                            axpy(o, wv, &xp[iy * in_w..], 1);
                            continue;
                        }
                        for oy in oy_lo..oy_hi {
                            let iy = ((oy * s_h) as isize + ry) as usize;
                            let o = &mut plane[oy * out_w + ox_lo..oy * out_w + ox_hi];
                            axpy(o, wv, &xp[(iy * in_w) + ix as usize..], s_w);
                        }
                    }
                }
            }
        }
    }
    act_inplace(&p.act, &mut out[..p.batch as usize * out_c * ohw]);
}

// ---------------------------------------------------------------------------------------------
// Dense

/// Matrix product with bias and activation (see [`DenseP`]).
///
/// Evaluation order of each output element: `acc = bias` (or `0.0`), then for `k` ascending:
/// `acc = acc + a[b, m, k] * w[k, n]`; then the fused activation. (Computed one `a` element at a
/// time into a whole output row, which gives the same order.)
pub fn dense(p: &DenseP, a: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let (m, k, n) = (p.m as usize, p.k as usize, p.n as usize);
    let rows = p.batch as usize * m;
    for r in 0..rows {
        let o = &mut out[r * n..][..n];
        match bias {
            Some(b) if p.bias_full => o.copy_from_slice(&b[(r % m.max(1)) * n..][..n]),
            Some(b) => o.copy_from_slice(&b[..n]),
            None => o.fill(0.0),
        }
        for (kk, &av) in a[r * k..][..k].iter().enumerate() {
            axpy(o, av, &w[kk * n..][..n], 1);
        }
    }
    act_inplace(&p.act, &mut out[..rows * n]);
}

// ---------------------------------------------------------------------------------------------
// Binary

#[inline(always)]
fn bin_row(
    f: impl Fn(f32, f32) -> f32,
    a: &[f32],
    sa: isize,
    b: &[f32],
    sb: isize,
    out: &mut [f32],
) {
    if sa == 1 && sb == 1 {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    } else if sa == 1 && sb == 0 {
        let y = b[0];
        for (o, &x) in out.iter_mut().zip(a) {
            *o = f(x, y);
        }
    } else {
        let (mut i, mut j) = (0usize, 0usize);
        for o in out.iter_mut() {
            *o = f(a[i], b[j]);
            i = i.wrapping_add(sa as usize);
            j = j.wrapping_add(sb as usize);
        }
    }
}

/// Broadcasting element-wise `a op b` (see [`BinaryP`]), then the fused activation. PRelu is
/// `a < 0 ? a * b : a`; Div by zero follows IEEE (±inf / NaN).
pub fn binary(p: &BinaryP, a: &[f32], b: &[f32], out: &mut [f32]) {
    let walk = Walk::new(
        p.rank,
        &p.out_shape,
        &strides_u32(&p.a_strides),
        &strides_u32(&p.b_strides),
    );
    let (len, sa, sb) = walk.row();
    let mut k = 0usize;
    walk.rows(|oa, ob| {
        let (a, b) = (&a[oa as usize..], &b[ob as usize..]);
        let o = &mut out[k..k + len];
        match p.op {
            BIN_ADD => bin_row(|x, y| x + y, a, sa, b, sb, o),
            BIN_SUB => bin_row(|x, y| x - y, a, sa, b, sb, o),
            BIN_MUL => bin_row(|x, y| x * y, a, sa, b, sb, o),
            BIN_DIV => bin_row(|x, y| x / y, a, sa, b, sb, o),
            BIN_PRELU => bin_row(|x, y| if x < 0.0 { x * y } else { x }, a, sa, b, sb, o),
            _ => {}
        }
        k += len;
    });
    act_inplace(&p.act, &mut out[..k]);
}

// ---------------------------------------------------------------------------------------------
// Unary

/// Element-wise unary op over `len` elements (see [`UnaryP`] and the `UN_*` constants).
///
/// Sigmoid is `1 / (1 + expf(-x))`, Tanh is `libm::tanhf`; HardSwish is
/// `x * max(0, min(1, alpha * x + beta))` with ONNX's `alpha = 1/6` ([`HARD_SWISH_ALPHA`], the f32
/// nearest 1/6) and `beta = 0.5`, evaluated as a multiply then an add, exactly as ONNX writes it.
pub fn unary(p: &UnaryP, x: &[f32], out: &mut [f32]) {
    let n = p.len as usize;
    let (x, out) = (&x[..n], &mut out[..n]);
    let (alpha, beta) = (p.alpha, p.beta);
    let act = |kind| Act {
        kind,
        a: alpha,
        b: beta,
    };
    match p.kind {
        UN_COPY => out.copy_from_slice(x),
        UN_RELU | UN_LEAKY_RELU | UN_HARD_SIGMOID | UN_CLIP => {
            out.copy_from_slice(x);
            let kind = match p.kind {
                UN_RELU => ACT_RELU,
                UN_LEAKY_RELU => ACT_LEAKY_RELU,
                UN_HARD_SIGMOID => ACT_HARD_SIGMOID,
                _ => ACT_CLIP,
            };
            act_inplace(&act(kind), out);
        }
        UN_SIGMOID => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = 1.0 / (1.0 + libm::expf(-v));
            }
        }
        UN_TANH => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = libm::tanhf(v);
            }
        }
        UN_HARD_SWISH => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = v * hard_sigmoid(v, HARD_SWISH_ALPHA, HARD_SWISH_BETA);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Pool2d

/// 2-D max / average pooling (see [`Pool2dP`]).
///
/// Window `(oy, ox)` covers input rows `oy * s_h - pad_t + ky * d_h` and columns likewise; taps
/// outside the input are skipped. Max: the largest tap (`-inf` for a window with no tap inside the
/// input). Average: `acc = 0.0`, taps added `ky` then `kx` ascending, then `acc / divisor`:
/// - without `count_include_pad`: the number of taps inside the input (a window with none gives
///   `0.0`);
/// - with `count_include_pad`: the taps inside the padded input, `[-pad_t, in_h + pad_b)` by
///   `[-pad_l, in_w + pad_r)`, where the bottom / right pads are the ones implied by the output
///   size, `pad_b = max(0, (out_h - 1) * s_h + (k_h - 1) * d_h + 1 - in_h - pad_t)`. Every window
///   lies inside that region, so the divisor is `k_h * k_w` for every window.
///
/// `count_include_pad` with `ceil_mode`: ONNX (and onnxruntime, PyTorch) count only the taps
/// inside the *declared* pads, not the extra overhang `ceil_mode` adds past them. These params
/// cannot tell the two apart, so the host lowers that case (a last window overhanging the
/// declared bottom / right pad) as an explicit `pad` with zeros by the declared pads followed by
/// this kernel with no padding and `count_include_pad = false`, which gives ONNX's divisor.
pub fn pool2d(p: &Pool2dP, x: &[f32], out: &mut [f32]) {
    let is_max = match p.kind {
        POOL_MAX => true,
        POOL_AVG => false,
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
    let full = (k_h * k_w) as f32;

    for pl in 0..p.batch as usize * p.c as usize {
        let xp = &x[pl * ihw..][..ihw];
        let op = &mut out[pl * ohw..][..ohw];
        for oy in 0..out_h {
            let by = (oy * s_h) as isize - pad_t;
            let (ky_lo, ky_hi) = valid_range(by, d_h, k_h, in_h);
            let orow = &mut op[oy * out_w..][..out_w];
            for (ox, o) in orow.iter_mut().enumerate() {
                let bx = (ox * s_w) as isize - pad_l;
                let (kx_lo, kx_hi) = valid_range(bx, d_w, k_w, in_w);
                let nx = kx_hi - kx_lo;
                // Only dereferenced when the window has a tap inside the input.
                let ix = (bx + (kx_lo * d_w) as isize) as usize;
                let mut acc = if is_max { f32::NEG_INFINITY } else { 0.0 };
                if nx > 0 {
                    for ky in ky_lo..ky_hi {
                        let iy = (by + (ky * d_h) as isize) as usize;
                        let taps = xp[iy * in_w + ix..].iter().step_by(d_w).take(nx);
                        if is_max {
                            for &v in taps {
                                if v > acc {
                                    acc = v;
                                }
                            }
                        } else {
                            for &v in taps {
                                acc += v;
                            }
                        }
                    }
                }
                *o = if is_max {
                    acc
                } else if p.count_include_pad {
                    acc / full
                } else {
                    acc / (((ky_hi - ky_lo) * nx).max(1) as f32)
                };
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reduce

/// Reduction over the dims set in `mask` (see [`ReduceP`]).
///
/// Each output element reduces its input elements in row-major order of the input: Sum and Mean
/// start at `0.0` and add in that order, Mean then divides by the number of reduced elements (in
/// f32, `sum / count`); Max starts at `-inf` and keeps `v > max`. An empty reduction gives `0.0`
/// (Sum), NaN (Mean, `0 / 0`) or `-inf` (Max). Mask bits at or above `rank` are ignored.
pub fn reduce(p: &ReduceP, x: &[f32], out: &mut [f32]) {
    let rank = (p.rank as usize).min(MAX_RANK);
    let mut out_shape = p.in_shape;
    let mut count = 1usize;
    for (d, l) in out_shape.iter_mut().enumerate().take(rank) {
        if p.mask >> d & 1 == 1 {
            count *= *l as usize;
            *l = 1;
        }
    }
    let mut so = contiguous_strides(rank, &out_shape);
    for (d, s) in so.iter_mut().enumerate().take(rank) {
        if p.mask >> d & 1 == 1 {
            *s = 0;
        }
    }
    let n_out: usize = out_shape[..rank].iter().map(|&l| l as usize).product();
    let out = &mut out[..n_out];
    let is_max = match p.kind {
        RED_MAX => true,
        RED_SUM | RED_MEAN => false,
        _ => return,
    };
    out.fill(if is_max { f32::NEG_INFINITY } else { 0.0 });

    let walk = Walk::new(p.rank, &p.in_shape, &[0; MAX_RANK], &so);
    let (len, _, s_out) = walk.row();
    let mut k = 0usize;
    walk.rows(|_, oo| {
        let xs = &x[k..k + len];
        let oo = oo as usize;
        if s_out == 0 {
            let mut acc = out[oo];
            if is_max {
                for &v in xs {
                    if v > acc {
                        acc = v;
                    }
                }
            } else {
                for &v in xs {
                    acc += v;
                }
            }
            out[oo] = acc;
        } else {
            let os = out[oo..].iter_mut().step_by(s_out as usize);
            if is_max {
                for (o, &v) in os.zip(xs) {
                    if v > *o {
                        *o = v;
                    }
                }
            } else {
                for (o, &v) in os.zip(xs) {
                    *o += v;
                }
            }
        }
        k += len;
    });
    if p.kind == RED_MEAN {
        let c = count as f32;
        out.iter_mut().for_each(|v| *v /= c);
    }
}

// ---------------------------------------------------------------------------------------------
// Strided copy

/// Strided gather-copy (see [`StridedP`]): Transpose, Slice (negative steps too), plain copies.
/// Every `offset + sum idx[d] * strides[d]` the output reaches must lie inside `x`.
pub fn strided(p: &StridedP, x: &[f32], out: &mut [f32]) {
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

// ---------------------------------------------------------------------------------------------
// Concat

/// Concat (see [`ConcatP`]): for each of the `outer` rows, the inputs' parts in input order.
/// `ins` holds the `count` inputs (at most [`MAX_CONCAT`]; extra entries are ignored).
pub fn concat(p: &ConcatP, ins: &[&[f32]], out: &mut [f32]) {
    let count = (p.count as usize).min(MAX_CONCAT);
    let parts = &p.parts[..count];
    let mut k = 0usize;
    for r in 0..p.outer as usize {
        for (x, &part) in ins.iter().zip(parts) {
            let part = part as usize;
            out[k..k + part].copy_from_slice(&x[r * part..][..part]);
            k += part;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gather

/// Gather along one axis with the constant index table `idx` (`n_idx` entries, each
/// `< axis_len`; see [`GatherP`]).
pub fn gather(p: &GatherP, x: &[f32], idx: &[u32], out: &mut [f32]) {
    let (axis_len, inner) = (p.axis_len as usize, p.inner as usize);
    let idx = &idx[..p.n_idx as usize];
    let block = axis_len * inner;
    let mut k = 0usize;
    for r in 0..p.outer as usize {
        let xb = &x[r * block..][..block];
        for &j in idx {
            let j = j as usize;
            if inner == 1 {
                out[k] = xb[j];
            } else {
                out[k..k + inner].copy_from_slice(&xb[j * inner..][..inner]);
            }
            k += inner;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pad

/// Constant padding (see [`PadP`]): the output is filled with `value`, then the input is copied to
/// `begin` (which must satisfy `begin[d] + in_shape[d] <= out_shape[d]`).
pub fn pad(p: &PadP, x: &[f32], out: &mut [f32]) {
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
            // `s` is 0 only for a single-element input (no dim left to stride along).
            for (o, &v) in out[o0..].iter_mut().step_by((s as usize).max(1)).zip(xs) {
                *o = v;
            }
        }
        k += len;
    });
}

// ---------------------------------------------------------------------------------------------
// Resize

/// Nearest-neighbour resize (see [`ResizeP`]): output element `o` reads
/// `x[sum_d tbl_d[o[d]] * in_stride[d]]`, where `tbl_d` is the `d`-th section of `idx`
/// (`out_shape[d]` entries each, every entry `< in_shape[d]`). An output row whose source row is the
/// same as the previous output row's is copied from it.
pub fn resize(p: &ResizeP, x: &[f32], idx: &[u32], out: &mut [f32]) {
    let rank = (p.rank as usize).min(MAX_RANK);
    if rank == 0 {
        out[0] = x[0];
        return;
    }
    let si = contiguous_strides(rank, &p.in_shape);
    let last = rank - 1;
    // Start of each dim's section of the table.
    let mut start = [0usize; MAX_RANK];
    let mut acc = 0usize;
    for (s, &l) in start.iter_mut().zip(&p.out_shape).take(rank) {
        *s = acc;
        acc += l as usize;
    }
    let out_shape = &p.out_shape[..rank];
    if out_shape.contains(&0) {
        return;
    }
    let w = out_shape[last] as usize;
    let cols = &idx[start[last]..][..w];
    let mut o_idx = [0usize; MAX_RANK];
    let mut prev: Option<usize> = None;
    let mut k = 0usize;
    loop {
        let src: usize = (0..last)
            .map(|d| idx[start[d] + o_idx[d]] as usize * si[d] as usize)
            .sum();
        if prev == Some(src) {
            let (prev_row, row) = out[k - w..k + w].split_at_mut(w);
            row.copy_from_slice(prev_row);
        } else {
            let xr = &x[src..];
            for (o, &c) in out[k..k + w].iter_mut().zip(cols) {
                *o = xr[c as usize];
            }
        }
        prev = Some(src);
        k += w;
        // Next row: odometer over the outer dims.
        let mut d = last;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            o_idx[d] += 1;
            if o_idx[d] < out_shape[d] as usize {
                break;
            }
            o_idx[d] = 0;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Softmax

/// Softmax along the middle axis of `[outer, axis, inner]` (see [`SoftmaxP`]). For each line:
/// `m = max` (first to last, `v > m`), `e_i = expf(x_i - m)`, `sum` of the `e_i` added first to
/// last from `0.0`, `out_i = e_i / sum`.
pub fn softmax(p: &SoftmaxP, x: &[f32], out: &mut [f32]) {
    let (axis, inner) = (p.axis as usize, p.inner as usize);
    if axis == 0 || inner == 0 {
        return;
    }
    let block = axis * inner;
    for r in 0..p.outer as usize {
        let xb = &x[r * block..][..block];
        let ob = &mut out[r * block..][..block];
        for i in 0..inner {
            let mut m = f32::NEG_INFINITY;
            for &v in xb[i..].iter().step_by(inner) {
                if v > m {
                    m = v;
                }
            }
            let mut sum = 0.0f32;
            for (o, &v) in ob[i..]
                .iter_mut()
                .step_by(inner)
                .zip(xb[i..].iter().step_by(inner))
            {
                let e = libm::expf(v - m);
                *o = e;
                sum += e;
            }
            for o in ob[i..].iter_mut().step_by(inner) {
                *o /= sum;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ChannelAffine

/// Per-channel affine (see [`ChannelAffineP`]): `out = x * scale[c] + shift[c]`, a multiply then
/// an add (two roundings).
pub fn channel_affine(
    p: &ChannelAffineP,
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    out: &mut [f32],
) {
    let (c, inner) = (p.c as usize, p.inner as usize);
    let mut k = 0usize;
    for _ in 0..p.outer as usize {
        for (&s, &t) in scale[..c].iter().zip(&shift[..c]) {
            for (o, &v) in out[k..k + inner].iter_mut().zip(&x[k..k + inner]) {
                *o = v * s + t;
            }
            k += inner;
        }
    }
}
