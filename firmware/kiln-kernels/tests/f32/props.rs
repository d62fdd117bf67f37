//! Randomized tests against the reference kernels.

use crate::edge::{shape, CONV, POOL};
use crate::reference::*;
use kiln_kernels::f32::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn data(len: usize) -> impl Strategy<Value = Vec<f32>> {
    vec(-1.0f32..1.0, len)
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        Just(Act::NONE),
        Just(Act::RELU),
        Just(Act::clip(-0.5, 0.5)),
        Just(Act::leaky_relu(0.1)),
        Just(Act::hard_sigmoid(0.2, 0.5)),
    ]
}

/// Output length of a window op along one dim, or `None` when no window fits. `extra` adds the
/// output ceil_mode (or an implied bottom pad) can add past the declared pads.
fn out_len(n: u32, k: u32, s: u32, d: u32, pad_a: u32, pad_b: u32, extra: bool) -> Option<u32> {
    let ext = (k - 1) * d + 1;
    let padded = n + pad_a + pad_b;
    if ext > padded {
        return None;
    }
    let o = (padded - ext) / s + 1;
    // The extra window must still start inside the input or the leading pad.
    Some(if extra && (o * s) < n + pad_a {
        o + 1
    } else {
        o
    })
}

/// One spatial dim: (in, k, s, d, pad_begin, pad_end, extra).
fn dim() -> impl Strategy<Value = (u32, u32, u32, u32, u32, u32, bool)> {
    (
        1u32..=7,
        1u32..=3,
        1u32..=3,
        1u32..=2,
        0u32..=2,
        0u32..=2,
        any::<bool>(),
    )
}

#[derive(Debug, Clone)]
struct ConvCase {
    p: Conv2dP,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Option<Vec<f32>>,
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        (1u32..=2, 1u32..=3, 1u32..=3, 1u32..=3),
        any::<bool>(),
        dim(),
        dim(),
        act(),
    )
        .prop_filter_map(
            "window fits",
            |((batch, groups, icg, ocg), one_d, h, w, act)| {
                // 1-D conv: in_h = k_h = out_h = 1.
                let h = if one_d { (1, 1, 1, 1, 0, 0, false) } else { h };
                let out_h = out_len(h.0, h.1, h.2, h.3, h.4, h.5, h.6)?;
                let out_w = out_len(w.0, w.1, w.2, w.3, w.4, w.5, w.6)?;
                Some(Conv2dP {
                    batch,
                    in_c: groups * icg,
                    in_h: h.0,
                    in_w: w.0,
                    out_c: groups * ocg,
                    out_h,
                    out_w,
                    k_h: h.1,
                    k_w: w.1,
                    s_h: h.2,
                    s_w: w.2,
                    d_h: h.3,
                    d_w: w.3,
                    pad_t: h.4,
                    pad_l: w.4,
                    groups,
                    act,
                })
            },
        )
        .prop_flat_map(|p| {
            let nx = (p.batch * p.in_c * p.in_h * p.in_w) as usize;
            let nw = (p.out_c * (p.in_c / p.groups) * p.k_h * p.k_w) as usize;
            let nb = p.out_c as usize;
            (Just(p), data(nx), data(nw), proptest::option::of(data(nb)))
        })
        .prop_map(|(p, x, w, bias)| ConvCase { p, x, w, bias })
}

#[derive(Debug, Clone)]
struct DenseCase {
    p: DenseP,
    a: Vec<f32>,
    w: Vec<f32>,
    bias: Option<Vec<f32>>,
}

fn dense_case() -> impl Strategy<Value = DenseCase> {
    (
        1u32..=2,
        1u32..=3,
        0u32..=20,
        1u32..=9,
        any::<bool>(),
        act(),
    )
        .prop_flat_map(|(batch, m, k, n, bias_full, act)| {
            let p = DenseP {
                batch,
                m,
                k,
                n,
                bias_full,
                act,
            };
            let nb = if bias_full { m * n } else { n } as usize;
            (
                Just(p),
                data((batch * m * k) as usize),
                data((k * n) as usize),
                proptest::option::of(data(nb)),
            )
        })
        .prop_map(|(p, a, w, bias)| DenseCase { p, a, w, bias })
}

#[derive(Debug, Clone)]
struct BinCase {
    p: BinaryP,
    a: Vec<f32>,
    b: Vec<f32>,
}

/// A broadcast operand shape: drop `lead` leading dims, set the dims in `ones` to 1.
fn operand(out: &[u32], lead: usize, ones: u32) -> Vec<u32> {
    out.iter()
        .enumerate()
        .skip(lead)
        .map(|(d, &l)| if ones >> d & 1 == 1 { 1 } else { l })
        .collect()
}

/// Mostly uniform, sometimes a small multiple of 0.5 (exact zeros, for Div and PRelu).
fn bin_val() -> impl Strategy<Value = f32> {
    prop_oneof![3 => -1.0f32..1.0, 1 => (-4i32..=4).prop_map(|v| v as f32 * 0.5)]
}

fn bin_case() -> impl Strategy<Value = BinCase> {
    let exact_act = prop_oneof![
        Just(Act::NONE),
        Just(Act::RELU),
        Just(Act::clip(-0.5, 0.5)),
        Just(Act::leaky_relu(0.25))
    ];
    (
        vec(1u32..=4, 0..=5),
        0u8..=4,
        exact_act,
        0usize..=5,
        0usize..=5,
        any::<u32>(),
        any::<u32>(),
    )
        .prop_flat_map(|(out, op, act, la, lb, oa, ob)| {
            let r = out.len();
            let (sa, sb) = (operand(&out, la.min(r), oa), operand(&out, lb.min(r), ob));
            let p = BinaryP {
                op,
                rank: r as u32,
                out_shape: shape(&out),
                a_strides: bcast_strides(r, &out, &sa),
                b_strides: bcast_strides(r, &out, &sb),
                act,
            };
            let na: usize = sa.iter().map(|&v| v as usize).product();
            let nb: usize = sb.iter().map(|&v| v as usize).product();
            (Just(p), vec(bin_val(), na), vec(bin_val(), nb))
        })
        .prop_map(|(p, a, b)| BinCase { p, a, b })
}

#[derive(Debug, Clone)]
struct PoolCase {
    p: Pool2dP,
    pad_b: u32,
    pad_r: u32,
    x: Vec<f32>,
}

fn pool_case() -> impl Strategy<Value = PoolCase> {
    (
        (1u32..=2, 1u32..=3),
        prop_oneof![Just(POOL_MAX), Just(POOL_AVG)],
        any::<bool>(),
        dim(),
        dim(),
    )
        .prop_filter_map("window fits", |((batch, c), kind, cip, h, w)| {
            // ceil_mode overhang with count_include_pad is lowered by the host (see `pool2d`).
            let extra = |e: bool| e && !cip;
            Some((
                Pool2dP {
                    kind,
                    batch,
                    c,
                    in_h: h.0,
                    in_w: w.0,
                    out_h: out_len(h.0, h.1, h.2, h.3, h.4, h.5, extra(h.6))?,
                    out_w: out_len(w.0, w.1, w.2, w.3, w.4, w.5, extra(w.6))?,
                    k_h: h.1,
                    k_w: w.1,
                    s_h: h.2,
                    s_w: w.2,
                    d_h: h.3,
                    d_w: w.3,
                    pad_t: h.4,
                    pad_l: w.4,
                    count_include_pad: cip,
                },
                h.5,
                w.5,
            ))
        })
        .prop_flat_map(|(p, pad_b, pad_r)| {
            let n = (p.batch * p.c * p.in_h * p.in_w) as usize;
            (Just(p), Just(pad_b), Just(pad_r), data(n))
        })
        .prop_map(|(p, pad_b, pad_r, x)| PoolCase { p, pad_b, pad_r, x })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_matches_reference(c in conv_case()) {
        let p = &c.p;
        let mut out = vec![f32::NAN; (p.batch * p.out_c * p.out_h * p.out_w) as usize];
        conv2d(p, &c.x, &c.w, c.bias.as_deref(), &mut out);
        let (want, mag) = conv2d_ref(p, &c.x, &c.w, c.bias.as_deref());
        assert_close(&out, &want, &mag);
    }

    #[test]
    fn dense_matches_reference(c in dense_case()) {
        let p = &c.p;
        let mut out = vec![f32::NAN; (p.batch * p.m * p.n) as usize];
        dense(p, &c.a, &c.w, c.bias.as_deref(), &mut out);
        let (want, mag) = dense_ref(p, &c.a, &c.w, c.bias.as_deref());
        assert_close(&out, &want, &mag);
    }

    #[test]
    fn binary_matches_reference_exactly(c in bin_case()) {
        let mut out = vec![f32::NAN; numel(c.p.rank, &c.p.out_shape)];
        binary(&c.p, &c.a, &c.b, &mut out);
        assert_same(&out, &binary_ref(&c.p, &c.a, &c.b));
    }

    #[test]
    fn pool2d_matches_reference(c in pool_case()) {
        let p = &c.p;
        let mut out = vec![f32::NAN; (p.batch * p.c * p.out_h * p.out_w) as usize];
        pool2d(p, &c.x, &mut out);
        assert_close_rel(&out, &pool2d_ref(p, &c.x, c.pad_b, c.pad_r));
    }

    #[test]
    fn reduce_matches_reference(s in vec(1u32..=4, 0..=5), mask in 0u32..64, kind in 0u8..=2, seed in any::<u64>()) {
        let p = ReduceP { kind, rank: s.len() as u32, in_shape: shape(&s), mask };
        let n = numel(p.rank, &p.in_shape);
        let x: Vec<f32> = (0..n as u64).map(|i| (((i + 1).wrapping_mul(seed | 1) >> 40) % 2001) as f32 / 1000.0 - 1.0).collect();
        let (want, mag) = reduce_ref(&p, &x);
        let mut out = vec![f32::NAN; want.len()];
        reduce(&p, &x, &mut out);
        assert_close(&out, &want, &mag);
    }

    #[test]
    fn strided_transpose_slice_matches_reference(
        s in vec(1u32..=4, 1..=5),
        perm_key in vec(any::<u32>(), 5),
        steps in vec(prop_oneof![Just(1i32), Just(2), Just(-1), Just(-2)], 5),
    ) {
        // Slice every dim with its step (whole extent), then permute.
        let r = s.len();
        let mut in_stride = vec![1i32; r];
        for d in (0..r - 1).rev() {
            in_stride[d] = in_stride[d + 1] * s[d + 1] as i32;
        }
        let (mut len, mut stride, mut offset) = (vec![0u32; r], vec![0i32; r], 0i64);
        for d in 0..r {
            let st = steps[d];
            len[d] = s[d].div_ceil(st.unsigned_abs());
            stride[d] = st * in_stride[d];
            if st < 0 {
                offset += (s[d] as i64 - 1) * in_stride[d] as i64;
            }
        }
        let mut perm: Vec<usize> = (0..r).collect();
        perm.sort_by_key(|&d| perm_key[d]);
        let mut p = StridedP { rank: r as u32, out_shape: [0; MAX_RANK], strides: [0; MAX_RANK], offset: offset as u32 };
        for (o, &d) in perm.iter().enumerate() {
            p.out_shape[o] = len[d];
            p.strides[o] = stride[d];
        }
        let n: usize = s.iter().map(|&v| v as usize).product();
        let x: Vec<f32> = (0..n).map(|v| v as f32).collect();
        let mut out = vec![f32::NAN; numel(p.rank, &p.out_shape)];
        strided(&p, &x, &mut out);
        assert_same(&out, &strided_ref(&p, &x));
    }
}

/// Conv with the implied bottom / right pad larger than the declared one never reads outside
/// the input (a guard for the `out_len(.., extra)` cases above, with a fixed seed).
#[test]
fn conv_overhang_fixed() {
    let p = Conv2dP {
        in_h: 4,
        in_w: 4,
        out_h: 3,
        out_w: 3,
        k_h: 3,
        k_w: 3,
        s_h: 2,
        s_w: 2,
        pad_t: 1,
        pad_l: 1,
        ..CONV
    };
    let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let w: Vec<f32> = (0..9).map(|v| v as f32 - 4.0).collect();
    let mut out = [f32::NAN; 9];
    conv2d(&p, &x, &w, None, &mut out);
    let (want, mag) = conv2d_ref(&p, &x, &w, None);
    assert_close(&out, &want, &mag);
    let pp = Pool2dP {
        kind: POOL_AVG,
        in_h: 4,
        in_w: 4,
        out_h: 3,
        out_w: 3,
        k_h: 3,
        k_w: 3,
        s_h: 2,
        s_w: 2,
        pad_t: 1,
        pad_l: 1,
        ..POOL
    };
    pool2d(&pp, &x, &mut out);
    assert_close_rel(&out, &pool2d_ref(&pp, &x, 1, 1));
}
