//! Plain, obviously-correct reference kernels: one output element at a time, multi-indices decoded
//! with div / mod, sums in f64. Each returns the values and, where rounding error depends on the
//! size of the terms, the sum of the terms' magnitudes (for the tolerance).
#![allow(clippy::needless_range_loop)] // index loops read like the definitions

use kiln_kernels::f32::*;

/// `|got - want| <= 1e-5 * (1 + mag)` element-wise (`mag`: sum of |terms|, or |want|).
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f64], mag: &[f64]) {
    assert_eq!(got.len(), want.len(), "length");
    for (i, ((&g, &w), &m)) in got.iter().zip(want).zip(mag).enumerate() {
        let tol = 1e-5 * (1.0 + m.max(w.abs()));
        let ok = (g as f64 - w).abs() <= tol || (g.is_nan() && w.is_nan()) || (g as f64 == w);
        assert!(
            ok,
            "element {i}: got {g}, want {w} (tol {tol})\ngot  {got:?}\nwant {want:?}"
        );
    }
}

/// [`assert_close`] with `mag = |want|`.
#[track_caller]
pub fn assert_close_rel(got: &[f32], want: &[f64]) {
    let mag: Vec<f64> = want.iter().map(|w| w.abs()).collect();
    assert_close(got, want, &mag);
}

/// Exact equality, NaN equal to NaN.
#[track_caller]
pub fn assert_same(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w || (g.is_nan() && w.is_nan()),
            "element {i}: got {g}, want {w}\ngot  {got:?}\nwant {want:?}"
        );
    }
}

/// Activations propagate NaN (ONNX defines them with min / max; the kernels keep a NaN input).
pub fn act_ref(act: &Act, v: f64) -> f64 {
    let (a, b) = (act.a as f64, act.b as f64);
    if v.is_nan() {
        return v;
    }
    match act.kind {
        ACT_RELU => v.max(0.0),
        ACT_CLIP => v.max(a).min(b),
        ACT_LEAKY_RELU => {
            if v < 0.0 {
                a * v
            } else {
                v
            }
        }
        ACT_HARD_SIGMOID => (a * v + b).clamp(0.0, 1.0),
        _ => v,
    }
}

pub fn conv2d_ref(p: &Conv2dP, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> (Vec<f64>, Vec<f64>) {
    let u = |v: u32| v as i64;
    let (icg, ocg) = (u(p.in_c) / u(p.groups), u(p.out_c) / u(p.groups));
    let (mut out, mut mag) = (vec![], vec![]);
    for n in 0..u(p.batch) {
        for oc in 0..u(p.out_c) {
            let g = oc / ocg;
            for oy in 0..u(p.out_h) {
                for ox in 0..u(p.out_w) {
                    let b = bias.map_or(0.0, |b| b[oc as usize] as f64);
                    let (mut acc, mut m) = (b, b.abs());
                    for icl in 0..icg {
                        let ic = g * icg + icl;
                        for ky in 0..u(p.k_h) {
                            for kx in 0..u(p.k_w) {
                                let iy = oy * u(p.s_h) + ky * u(p.d_h) - u(p.pad_t);
                                let ix = ox * u(p.s_w) + kx * u(p.d_w) - u(p.pad_l);
                                if iy < 0 || iy >= u(p.in_h) || ix < 0 || ix >= u(p.in_w) {
                                    continue;
                                }
                                let xi = ((n * u(p.in_c) + ic) * u(p.in_h) + iy) * u(p.in_w) + ix;
                                let wi = ((oc * icg + icl) * u(p.k_h) + ky) * u(p.k_w) + kx;
                                let t = x[xi as usize] as f64 * w[wi as usize] as f64;
                                acc += t;
                                m += t.abs();
                            }
                        }
                    }
                    out.push(act_ref(&p.act, acc));
                    mag.push(m);
                }
            }
        }
    }
    (out, mag)
}

pub fn dense_ref(p: &DenseP, a: &[f32], w: &[f32], bias: Option<&[f32]>) -> (Vec<f64>, Vec<f64>) {
    let (m, k, n) = (p.m as usize, p.k as usize, p.n as usize);
    let (mut out, mut mag) = (vec![], vec![]);
    for b in 0..p.batch as usize {
        for i in 0..m {
            for j in 0..n {
                let bv = match bias {
                    Some(bs) if p.bias_full => bs[i * n + j] as f64,
                    Some(bs) => bs[j] as f64,
                    None => 0.0,
                };
                let (mut acc, mut mg) = (bv, bv.abs());
                for kk in 0..k {
                    let t = a[(b * m + i) * k + kk] as f64 * w[kk * n + j] as f64;
                    acc += t;
                    mg += t.abs();
                }
                out.push(act_ref(&p.act, acc));
                mag.push(mg);
            }
        }
    }
    (out, mag)
}

/// Multi-index of flat index `i` over `shape[..rank]`.
pub fn unravel(mut i: usize, rank: usize, shape: &[u32]) -> Vec<usize> {
    let mut idx = vec![0; rank];
    for d in (0..rank).rev() {
        idx[d] = i % shape[d] as usize;
        i /= shape[d] as usize;
    }
    idx
}

pub fn numel(rank: u32, shape: &[u32]) -> usize {
    shape[..rank as usize].iter().map(|&v| v as usize).product()
}

/// Numpy broadcasting strides: `in_shape` right-aligned against `out_shape[..rank]`, stride 0 on
/// size-1 and missing dims.
pub fn bcast_strides(rank: usize, out_shape: &[u32], in_shape: &[u32]) -> [u32; MAX_RANK] {
    let mut s = [0u32; MAX_RANK];
    let lead = rank - in_shape.len();
    let mut acc = 1u32;
    for d in (0..in_shape.len()).rev() {
        let od = lead + d;
        assert!(
            in_shape[d] == 1 || in_shape[d] == out_shape[od],
            "not broadcastable"
        );
        s[od] = if in_shape[d] == 1 { 0 } else { acc };
        acc *= in_shape[d];
    }
    s
}

/// In f32: every binary op is one rounding, so the kernel must match this exactly.
pub fn binary_ref(p: &BinaryP, a: &[f32], b: &[f32]) -> Vec<f32> {
    let rank = p.rank as usize;
    (0..numel(p.rank, &p.out_shape))
        .map(|i| {
            let idx = unravel(i, rank, &p.out_shape);
            let ai: usize = (0..rank).map(|d| idx[d] * p.a_strides[d] as usize).sum();
            let bi: usize = (0..rank).map(|d| idx[d] * p.b_strides[d] as usize).sum();
            let (x, y) = (a[ai], b[bi]);
            let v = match p.op {
                BIN_ADD => x + y,
                BIN_SUB => x - y,
                BIN_MUL => x * y,
                BIN_DIV => x / y,
                BIN_PRELU => {
                    if x < 0.0 {
                        x * y
                    } else {
                        x
                    }
                }
                _ => unreachable!(),
            };
            act_ref(&p.act, v as f64) as f32
        })
        .collect()
}

pub fn unary_ref(p: &UnaryP, x: &[f32]) -> Vec<f64> {
    let (al, be) = (p.alpha as f64, p.beta as f64);
    x.iter()
        .map(|&v| {
            let v = v as f64;
            if v.is_nan() {
                return v;
            }
            match p.kind {
                UN_COPY => v,
                UN_RELU => v.max(0.0),
                UN_LEAKY_RELU => {
                    if v < 0.0 {
                        al * v
                    } else {
                        v
                    }
                }
                UN_SIGMOID => 1.0 / (1.0 + (-v).exp()),
                UN_TANH => v.tanh(),
                UN_HARD_SIGMOID => (al * v + be).clamp(0.0, 1.0),
                UN_HARD_SWISH => v * (v / 6.0 + 0.5).clamp(0.0, 1.0),
                UN_CLIP => v.max(al).min(be),
                _ => unreachable!(),
            }
        })
        .collect()
}

/// ONNX / onnxruntime pooling with explicit bottom / right pads `pad_b`, `pad_r`: with
/// `count_include_pad` the divisor counts the taps inside `[-pad_t, in_h + pad_b)` x
/// `[-pad_l, in_w + pad_r)`.
pub fn pool2d_ref(p: &Pool2dP, x: &[f32], pad_b: u32, pad_r: u32) -> Vec<f64> {
    let i = |v: u32| v as i64;
    let mut out = vec![];
    for pl in 0..i(p.batch * p.c) {
        for oy in 0..i(p.out_h) {
            for ox in 0..i(p.out_w) {
                let (mut mx, mut sum, mut valid, mut padded) = (f64::NEG_INFINITY, 0.0, 0, 0);
                for ky in 0..i(p.k_h) {
                    for kx in 0..i(p.k_w) {
                        let iy = oy * i(p.s_h) + ky * i(p.d_h) - i(p.pad_t);
                        let ix = ox * i(p.s_w) + kx * i(p.d_w) - i(p.pad_l);
                        if iy >= -i(p.pad_t)
                            && iy < i(p.in_h + pad_b)
                            && ix >= -i(p.pad_l)
                            && ix < i(p.in_w + pad_r)
                        {
                            padded += 1;
                        }
                        if iy < 0 || iy >= i(p.in_h) || ix < 0 || ix >= i(p.in_w) {
                            continue;
                        }
                        let v = x[((pl * i(p.in_h) + iy) * i(p.in_w) + ix) as usize] as f64;
                        mx = mx.max(v);
                        sum += v;
                        valid += 1;
                    }
                }
                out.push(match p.kind {
                    POOL_MAX => mx,
                    _ if p.count_include_pad => sum / padded as f64,
                    _ => sum / valid.max(1) as f64,
                });
            }
        }
    }
    out
}

pub fn reduce_ref(p: &ReduceP, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let rank = p.rank as usize;
    let mut out_shape = p.in_shape;
    for d in 0..rank {
        if p.mask >> d & 1 == 1 {
            out_shape[d] = 1;
        }
    }
    let n_out = numel(p.rank, &out_shape);
    let init = if p.kind == RED_MAX {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    let (mut out, mut mag, mut cnt) = (vec![init; n_out], vec![0.0; n_out], vec![0usize; n_out]);
    for (i, &v) in x.iter().enumerate().take(numel(p.rank, &p.in_shape)) {
        let mut idx = unravel(i, rank, &p.in_shape);
        for (d, id) in idx.iter_mut().enumerate() {
            if p.mask >> d & 1 == 1 {
                *id = 0;
            }
        }
        let o = idx
            .iter()
            .zip(&out_shape)
            .fold(0, |acc, (&id, &l)| acc * l as usize + id);
        let v = v as f64;
        out[o] = if p.kind == RED_MAX {
            out[o].max(v)
        } else {
            out[o] + v
        };
        mag[o] += v.abs();
        cnt[o] += 1;
    }
    if p.kind == RED_MEAN {
        for ((o, m), c) in out.iter_mut().zip(&mut mag).zip(&cnt) {
            *o /= *c as f64;
            *m /= *c as f64;
        }
    }
    (out, mag)
}

pub fn strided_ref(p: &StridedP, x: &[f32]) -> Vec<f32> {
    let rank = p.rank as usize;
    (0..numel(p.rank, &p.out_shape))
        .map(|i| {
            let idx = unravel(i, rank, &p.out_shape);
            let off = p.offset as i64
                + (0..rank)
                    .map(|d| idx[d] as i64 * p.strides[d] as i64)
                    .sum::<i64>();
            x[off as usize]
        })
        .collect()
}

pub fn pad_ref(p: &PadP, x: &[f32]) -> Vec<f32> {
    let rank = p.rank as usize;
    (0..numel(p.rank, &p.out_shape))
        .map(|i| {
            let idx = unravel(i, rank, &p.out_shape);
            let mut src = 0usize;
            for d in 0..rank {
                let (b, l) = (p.begin[d] as usize, p.in_shape[d] as usize);
                if idx[d] < b || idx[d] >= b + l {
                    return p.value;
                }
                src = src * l + (idx[d] - b);
            }
            x[src]
        })
        .collect()
}

pub fn resize_ref(p: &ResizeP, x: &[f32], tbl: &[u32]) -> Vec<f32> {
    let rank = p.rank as usize;
    (0..numel(p.rank, &p.out_shape))
        .map(|i| {
            let idx = unravel(i, rank, &p.out_shape);
            let (mut src, mut start) = (0usize, 0usize);
            for d in 0..rank {
                src = src * p.in_shape[d] as usize + tbl[start + idx[d]] as usize;
                start += p.out_shape[d] as usize;
            }
            x[src]
        })
        .collect()
}

pub fn softmax_ref(p: &SoftmaxP, x: &[f32]) -> Vec<f64> {
    let (outer, axis, inner) = (p.outer as usize, p.axis as usize, p.inner as usize);
    let mut out = vec![0.0; outer * axis * inner];
    for o in 0..outer {
        for i in 0..inner {
            let at = |a: usize| (o * axis + a) * inner + i;
            let m = (0..axis)
                .map(|a| x[at(a)] as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = (0..axis).map(|a| (x[at(a)] as f64 - m).exp()).sum();
            for a in 0..axis {
                out[at(a)] = (x[at(a)] as f64 - m).exp() / s;
            }
        }
    }
    out
}
