//! Hand-computed edge cases, one per interesting shape or mode.

use crate::reference::*;
use kiln_kernels::f32::*;

pub const CONV: Conv2dP = Conv2dP {
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
    act: Act::NONE,
};

pub const POOL: Pool2dP = Pool2dP {
    kind: POOL_AVG,
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
};

pub fn shape(s: &[u32]) -> [u32; MAX_RANK] {
    let mut a = [0; MAX_RANK];
    a[..s.len()].copy_from_slice(s);
    a
}

fn iota(n: usize) -> Vec<f32> {
    (0..n).map(|v| v as f32).collect()
}

fn conv(p: &Conv2dP, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let mut out = vec![f32::NAN; (p.batch * p.out_c * p.out_h * p.out_w) as usize];
    conv2d(p, x, w, bias, &mut out);
    // Every case here is also checked against the reference.
    let (want, mag) = conv2d_ref(p, x, w, bias);
    assert_close(&out, &want, &mag);
    out
}

// ---- conv2d

#[test]
fn conv_depthwise() {
    let p = Conv2dP {
        in_c: 2,
        in_h: 3,
        in_w: 3,
        out_c: 2,
        out_h: 2,
        out_w: 2,
        k_h: 2,
        k_w: 2,
        groups: 2,
        ..CONV
    };
    let x: Vec<f32> = (1..=18).map(|v| v as f32).collect();
    let w = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    let out = conv(&p, &x, &w, Some(&[0.5, -1.0]));
    assert_same(&out, &[6.5, 8.5, 12.5, 14.5, 23.0, 25.0, 29.0, 31.0]);
}

#[test]
fn conv_stride2_dilation2() {
    let p = Conv2dP {
        in_h: 5,
        in_w: 5,
        out_h: 2,
        out_w: 2,
        k_h: 2,
        k_w: 2,
        s_h: 2,
        s_w: 2,
        d_h: 2,
        d_w: 2,
        ..CONV
    };
    let out = conv(&p, &iota(25), &[1.0, 2.0, 3.0, 4.0], None);
    assert_same(&out, &[82.0, 102.0, 182.0, 202.0]);
}

#[test]
fn conv_stride2_dilation2_padded() {
    // Same with pad 2 all round: out = (5 + 4 - 3) / 2 + 1 = 4.
    let p = Conv2dP {
        in_h: 5,
        in_w: 5,
        out_h: 4,
        out_w: 4,
        k_h: 2,
        k_w: 2,
        s_h: 2,
        s_w: 2,
        d_h: 2,
        d_w: 2,
        pad_t: 2,
        pad_l: 2,
        ..CONV
    };
    let out = conv(&p, &iota(25), &[1.0, 2.0, 3.0, 4.0], None);
    // Corner (0, 0) only sees tap (1, 1) at input (0, 0) = 0; (1, 1) is the unpadded (0, 0).
    assert_eq!(out[0], 0.0);
    assert_eq!(out[5], 82.0);
}

#[test]
fn conv_asymmetric_padding_relu() {
    // pad top 1, bottom 0, left 0, right 2; 3x3 box filter, bias -20, ReLU.
    let p = Conv2dP {
        in_h: 3,
        in_w: 3,
        out_h: 2,
        out_w: 3,
        k_h: 3,
        k_w: 3,
        pad_t: 1,
        act: Act::RELU,
        ..CONV
    };
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let out = conv(&p, &x, &[1.0; 9], Some(&[-20.0]));
    assert_same(&out, &[1.0, 0.0, 0.0, 25.0, 13.0, 0.0]);
}

#[test]
fn conv_1d_clip() {
    // Conv1d as in_h = k_h = out_h = 1: 2 input channels, k 3, pads 1 / 1.
    let p = Conv2dP {
        in_c: 2,
        in_w: 6,
        out_w: 6,
        k_w: 3,
        pad_l: 1,
        act: Act::clip(-1.0, 5.0),
        ..CONV
    };
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
    let w = [1.0, 0.0, -1.0, 2.0, 2.0, 2.0];
    let out = conv(&p, &x, &w, None);
    assert_same(&out, &[0.0, 0.0, 2.0, 0.0, 2.0, 5.0]);
}

#[test]
fn conv_pointwise_grouped_batched() {
    // 1x1 conv (the flat-row path), batch 2, groups 2, 2 out channels per group.
    let p = Conv2dP {
        batch: 2,
        in_c: 4,
        in_h: 2,
        in_w: 3,
        out_c: 4,
        out_h: 2,
        out_w: 3,
        groups: 2,
        ..CONV
    };
    let x: Vec<f32> = (0..48).map(|v| (v as f32 * 0.37).sin()).collect();
    let w: Vec<f32> = (0..8).map(|v| v as f32 - 3.5).collect();
    let out = conv(&p, &x, &w, Some(&[0.1, 0.2, 0.3, 0.4]));
    // out[n=1, oc=3, 0, 0] = 0.4 + w[3,0] * x[n=1, ic=2] + w[3,1] * x[n=1, ic=3]
    let want = 0.4 + 2.5 * x[24 + 12] + 3.5 * x[24 + 18];
    assert_eq!(out[24 + 18], want);
}

#[test]
fn conv_window_larger_than_input_and_empty_taps() {
    // Kernel 5x5 on a 2x2 input with pads 2: every output sees part of the input.
    let p = Conv2dP {
        in_h: 2,
        in_w: 2,
        out_h: 2,
        out_w: 2,
        k_h: 5,
        k_w: 5,
        pad_t: 2,
        pad_l: 2,
        ..CONV
    };
    let w: Vec<f32> = (0..25).map(|v| v as f32).collect();
    conv(&p, &[1.0, 2.0, 3.0, 4.0], &w, Some(&[1.0]));
    // Stride larger than the kernel: rows / cols skipped entirely.
    let p = Conv2dP {
        in_h: 7,
        in_w: 7,
        out_h: 2,
        out_w: 3,
        k_h: 2,
        k_w: 1,
        s_h: 4,
        s_w: 3,
        ..CONV
    };
    conv(&p, &iota(49), &[1.0, -1.0], None);
}

#[test]
fn conv_zero_stride_and_dilation_do_not_panic() {
    let p = Conv2dP {
        in_h: 3,
        in_w: 3,
        out_h: 2,
        out_w: 2,
        k_h: 2,
        k_w: 2,
        s_h: 0,
        s_w: 0,
        d_h: 0,
        d_w: 0,
        ..CONV
    };
    let mut out = [0.0; 4];
    conv2d(&p, &iota(9), &[1.0; 4], None, &mut out);
    let p1 = Conv2dP {
        s_h: 1,
        s_w: 1,
        d_h: 1,
        d_w: 1,
        ..p
    };
    let mut out1 = [0.0; 4];
    conv2d(&p1, &iota(9), &[1.0; 4], None, &mut out1);
    assert_same(&out, &out1);
}

// ---- dense

#[test]
fn dense_bias_row_and_full() {
    let a = [1.0, 2.0, 3.0, 4.0];
    let w = [1.0, 2.0, 3.0, 4.0];
    let p = DenseP {
        batch: 2,
        m: 1,
        k: 2,
        n: 2,
        bias_full: false,
        act: Act::NONE,
    };
    let mut out = [0.0; 4];
    dense(&p, &a, &w, Some(&[1.0, -1.0]), &mut out);
    assert_same(&out, &[8.0, 9.0, 16.0, 21.0]);

    let p = DenseP {
        batch: 1,
        m: 2,
        bias_full: true,
        ..p
    };
    dense(&p, &a, &w, Some(&[1.0, 1.0, 2.0, 2.0]), &mut out);
    assert_same(&out, &[8.0, 11.0, 17.0, 24.0]);

    // bias_full repeats per batch.
    let p = DenseP {
        batch: 2,
        m: 1,
        bias_full: true,
        act: Act::clip(8.5, 20.0),
        ..p
    };
    dense(&p, &a, &w, Some(&[1.0, -1.0]), &mut out);
    assert_same(&out, &[8.5, 9.0, 16.0, 20.0]);

    let p = DenseP {
        batch: 1,
        m: 2,
        bias_full: false,
        act: Act::leaky_relu(0.5),
        ..p
    };
    dense(&p, &[-1.0, 0.0, 0.0, 1.0], &w, None, &mut out);
    assert_same(&out, &[-0.5, -1.0, 3.0, 4.0]);
}

#[test]
fn dense_k0_is_bias() {
    let p = DenseP {
        batch: 1,
        m: 1,
        k: 0,
        n: 3,
        bias_full: false,
        act: Act::RELU,
    };
    let mut out = [9.0; 3];
    dense(&p, &[], &[], Some(&[1.0, -2.0, 3.0]), &mut out);
    assert_same(&out, &[1.0, 0.0, 3.0]);
}

// ---- binary

fn bin(op: u8, out_shape: &[u32], a_shape: &[u32], b_shape: &[u32], act: Act) -> BinaryP {
    let r = out_shape.len();
    BinaryP {
        op,
        rank: r as u32,
        out_shape: shape(out_shape),
        a_strides: bcast_strides(r, out_shape, a_shape),
        b_strides: bcast_strides(r, out_shape, b_shape),
        act,
    }
}

fn run_bin(p: &BinaryP, a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut out = vec![f32::NAN; numel(p.rank, &p.out_shape)];
    binary(p, a, b, &mut out);
    assert_same(&out, &binary_ref(p, a, b));
    out
}

#[test]
fn binary_broadcast_234_plus_31() {
    let p = bin(BIN_ADD, &[2, 3, 4], &[2, 3, 4], &[3, 1], Act::NONE);
    let out = run_bin(&p, &iota(24), &[100.0, 200.0, 300.0]);
    for (i, &v) in out.iter().enumerate() {
        let j = (i / 4) % 3;
        assert_eq!(v, i as f32 + 100.0 * (j + 1) as f32);
    }
}

#[test]
fn binary_scalar_broadcast_both_sides() {
    let p = bin(BIN_MUL, &[2, 2], &[2, 2], &[], Act::NONE);
    assert_same(
        &run_bin(&p, &[1.0, 2.0, 3.0, 4.0], &[2.5]),
        &[2.5, 5.0, 7.5, 10.0],
    );
    let p = bin(BIN_SUB, &[3], &[], &[3], Act::NONE);
    assert_same(&run_bin(&p, &[10.0], &[1.0, 2.0, 3.0]), &[9.0, 8.0, 7.0]);
    // Rank 0.
    let p = bin(BIN_DIV, &[], &[], &[], Act::NONE);
    assert_same(&run_bin(&p, &[1.0], &[4.0]), &[0.25]);
}

#[test]
fn binary_outer_product_broadcast() {
    // [3, 1] - [1, 4] -> [3, 4]
    let p = bin(BIN_SUB, &[3, 4], &[3, 1], &[1, 4], Act::RELU);
    let out = run_bin(&p, &[10.0, 20.0, 30.0], &[5.0, 15.0, 25.0, 35.0]);
    assert_same(
        &out,
        &[
            5.0, 0.0, 0.0, 0.0, 15.0, 5.0, 0.0, 0.0, 25.0, 15.0, 5.0, 0.0,
        ],
    );
}

#[test]
fn binary_prelu_per_channel_and_div_by_zero() {
    // x [1, 2, 2, 2], slope [2, 1, 1] (per channel).
    let p = bin(
        BIN_PRELU,
        &[1, 2, 2, 2],
        &[1, 2, 2, 2],
        &[2, 1, 1],
        Act::NONE,
    );
    let x = [-1.0, 1.0, -2.0, 2.0, -1.0, 1.0, -2.0, 2.0];
    assert_same(
        &run_bin(&p, &x, &[0.5, 0.25]),
        &[-0.5, 1.0, -1.0, 2.0, -0.25, 1.0, -0.5, 2.0],
    );
    let p = bin(BIN_DIV, &[3], &[3], &[1], Act::NONE);
    let out = run_bin(&p, &[1.0, -1.0, 0.0], &[0.0]);
    assert_eq!(out[0], f32::INFINITY);
    assert_eq!(out[1], f32::NEG_INFINITY);
    assert!(out[2].is_nan());
}

#[test]
fn binary_transposed_strides_and_clip() {
    // a read transposed: out [3, 2] from a [2, 3] with strides [1, 3].
    let mut p = bin(BIN_ADD, &[3, 2], &[3, 2], &[3, 2], Act::clip(1.0, 4.0));
    p.a_strides = shape(&[1, 3]);
    let out = run_bin(&p, &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[0.5; 6]);
    assert_same(&out, &[1.0, 3.5, 1.5, 4.0, 2.5, 4.0]);
}

// ---- unary

#[test]
fn unary_all_kinds() {
    let x = [-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.0, 3.0, 7.0];
    for kind in [
        UN_COPY,
        UN_RELU,
        UN_LEAKY_RELU,
        UN_SIGMOID,
        UN_TANH,
        UN_HARD_SIGMOID,
        UN_HARD_SWISH,
        UN_CLIP,
    ] {
        let p = UnaryP {
            kind,
            len: x.len() as u32,
            alpha: 0.2,
            beta: 0.6,
        };
        let mut out = [f32::NAN; 9];
        unary(&p, &x, &mut out);
        assert_close_rel(&out, &unary_ref(&p, &x));
    }
}

#[test]
fn unary_exact_values() {
    let run = |kind, alpha, beta, x: &[f32]| {
        let mut out = vec![f32::NAN; x.len()];
        unary(
            &UnaryP {
                kind,
                len: x.len() as u32,
                alpha,
                beta,
            },
            x,
            &mut out,
        );
        out
    };
    assert_same(
        &run(UN_HARD_SWISH, 0.0, 0.0, &[-3.0, 3.0, -4.0, 4.0, 0.0]),
        &[-0.0, 3.0, -0.0, 4.0, 0.0],
    );
    // 1 * (f32(1/6) * 1 + 0.5), ONNX's alpha * x + beta.
    assert_eq!(
        run(UN_HARD_SWISH, 0.0, 0.0, &[1.0])[0],
        (1.0f32 / 6.0) + 0.5
    );
    assert_eq!(HARD_SWISH_ALPHA, 1.0f32 / 6.0);
    assert_eq!(HARD_SWISH_BETA, 0.5);
    assert_same(
        &run(UN_SIGMOID, 0.0, 0.0, &[0.0, -200.0, 200.0]),
        &[0.5, 0.0, 1.0],
    );
    assert_same(
        &run(UN_CLIP, -1.0, 2.0, &[-5.0, 0.5, 5.0]),
        &[-1.0, 0.5, 2.0],
    );
    assert_same(&run(UN_LEAKY_RELU, 0.1, 0.0, &[-10.0, 3.0]), &[-1.0, 3.0]);
    assert_same(
        &run(UN_HARD_SIGMOID, 0.2, 0.5, &[-5.0, 0.0, 5.0]),
        &[0.0, 0.5, 1.0],
    );
    assert_same(&run(UN_RELU, 0.0, 0.0, &[-1.0, 2.0]), &[0.0, 2.0]);
    assert_same(&run(UN_TANH, 0.0, 0.0, &[0.0, 50.0]), &[0.0, 1.0]);
}

// ---- pool2d

fn pool(p: &Pool2dP, x: &[f32], pad_b: u32, pad_r: u32) -> Vec<f32> {
    let mut out = vec![f32::NAN; (p.batch * p.c * p.out_h * p.out_w) as usize];
    pool2d(p, x, &mut out);
    assert_close_rel(&out, &pool2d_ref(p, x, pad_b, pad_r));
    out
}

#[test]
fn avgpool_count_include_pad_or_not() {
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let p = Pool2dP {
        in_h: 3,
        in_w: 3,
        out_h: 2,
        out_w: 2,
        k_h: 2,
        k_w: 2,
        s_h: 2,
        s_w: 2,
        pad_t: 1,
        pad_l: 1,
        ..POOL
    };
    assert_same(&pool(&p, &x, 1, 1), &[1.0, 2.5, 5.5, 7.0]);
    let p = Pool2dP {
        count_include_pad: true,
        ..p
    };
    assert_same(&pool(&p, &x, 1, 1), &[0.25, 1.25, 2.75, 7.0]);
}

#[test]
fn maxpool_padding_is_not_zero() {
    let x: Vec<f32> = (1..=9).map(|v| -v as f32).collect();
    let p = Pool2dP {
        kind: POOL_MAX,
        in_h: 3,
        in_w: 3,
        out_h: 3,
        out_w: 3,
        k_h: 3,
        k_w: 3,
        pad_t: 1,
        pad_l: 1,
        ..POOL
    };
    assert_same(
        &pool(&p, &x, 1, 1),
        &[-1.0, -1.0, -2.0, -1.0, -1.0, -2.0, -4.0, -4.0, -5.0],
    );
}

#[test]
fn pool_dilated_strided_batched() {
    let x: Vec<f32> = (0..2 * 3 * 7 * 6)
        .map(|v| ((v * 37) % 101) as f32 - 50.0)
        .collect();
    for kind in [POOL_MAX, POOL_AVG] {
        // out_h = (7 + 1 + 0 - 5) / 2 + 1 = 2; out_w = (6 + 0 + 1 - 3) / 1 + 1 = 5.
        let p = Pool2dP {
            kind,
            batch: 2,
            c: 3,
            in_h: 7,
            in_w: 6,
            out_h: 2,
            out_w: 5,
            k_h: 3,
            k_w: 2,
            s_h: 2,
            s_w: 1,
            d_h: 2,
            d_w: 2,
            pad_t: 1,
            pad_l: 0,
            ..POOL
        };
        pool(&p, &x, 0, 1);
    }
}

#[test]
fn avgpool_ceil_mode_count_include_pad_lowered_to_pad_then_pool() {
    // ONNX AveragePool 4x4, k 3, s 2, pads 1, ceil_mode, count_include_pad: out 3x3, the last
    // window overhangs the declared pad. Lowered as Pad(0) + pool without count_include_pad.
    let x: Vec<f32> = (0..16).map(|v| v as f32 + 1.0).collect();
    let onnx = Pool2dP {
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
        count_include_pad: true,
        ..POOL
    };
    let want = pool2d_ref(&onnx, &x, 1, 1);
    let pp = PadP {
        rank: 4,
        in_shape: shape(&[1, 1, 4, 4]),
        out_shape: shape(&[1, 1, 6, 6]),
        begin: shape(&[0, 0, 1, 1]),
        value: 0.0,
    };
    let mut padded = [f32::NAN; 36];
    pad(&pp, &x, &mut padded);
    let lowered = Pool2dP {
        in_h: 6,
        in_w: 6,
        pad_t: 0,
        pad_l: 0,
        count_include_pad: false,
        ..onnx
    };
    let mut out = [f32::NAN; 9];
    pool2d(&lowered, &padded, &mut out);
    assert_close_rel(&out, &want);
    // Window (0, 2) reads x[0, 3] and x[1, 3]; its divisor is 3 * 2 taps, not 9.
    assert_eq!(want[2], (4.0 + 8.0) / 6.0);
}

#[test]
fn pool_global_average_and_empty_window() {
    let x: Vec<f32> = (0..2 * 16).map(|v| v as f32).collect();
    let p = Pool2dP {
        c: 2,
        in_h: 4,
        in_w: 4,
        k_h: 4,
        k_w: 4,
        ..POOL
    };
    assert_same(&pool(&p, &x, 0, 0), &[7.5, 23.5]);
    // pad 2 with k 2: the corner window lies wholly in the padding.
    let p = Pool2dP {
        kind: POOL_MAX,
        in_h: 1,
        in_w: 1,
        out_h: 2,
        out_w: 2,
        k_h: 2,
        k_w: 2,
        s_h: 2,
        s_w: 2,
        pad_t: 2,
        pad_l: 2,
        ..POOL
    };
    let mut out = [0.0; 4];
    pool2d(&p, &[3.0], &mut out);
    assert_same(
        &out,
        &[f32::NEG_INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY, 3.0],
    );
    let p = Pool2dP {
        kind: POOL_AVG,
        ..p
    };
    pool2d(&p, &[3.0], &mut out);
    assert_same(&out, &[0.0, 0.0, 0.0, 3.0]);
}

// ---- reduce

fn red(kind: u8, s: &[u32], mask: u32, x: &[f32]) -> Vec<f32> {
    let p = ReduceP {
        kind,
        rank: s.len() as u32,
        in_shape: shape(s),
        mask,
    };
    let (want, mag) = reduce_ref(&p, x);
    let mut out = vec![f32::NAN; want.len()];
    reduce(&p, x, &mut out);
    assert_close(&out, &want, &mag);
    out
}

#[test]
fn reduce_non_contiguous_mask() {
    let x = iota(24);
    assert_same(&red(RED_SUM, &[2, 3, 4], 0b101, &x), &[60.0, 92.0, 124.0]);
    assert_same(&red(RED_MEAN, &[2, 3, 4], 0b101, &x), &[7.5, 11.5, 15.5]);
    assert_same(&red(RED_MAX, &[2, 3, 4], 0b101, &x), &[15.0, 19.0, 23.0]);
}

#[test]
fn reduce_masks_and_shapes() {
    let x: Vec<f32> = (0..2 * 3 * 4 * 5)
        .map(|v| ((v * 53) % 97) as f32 * 0.1 - 4.0)
        .collect();
    let s = [2, 3, 4, 5];
    for mask in 0..16 {
        for kind in [RED_MEAN, RED_MAX, RED_SUM] {
            red(kind, &s, mask, &x);
        }
    }
    // Global average pool as ReduceMean over H, W.
    assert_same(&red(RED_MEAN, &[1, 2, 2, 2], 0b1100, &iota(8)), &[1.5, 5.5]);
    // Size-1 dims in the mask, rank 0, mask bits past the rank.
    assert_same(
        &red(RED_SUM, &[3, 1], 0b10, &[1.0, 2.0, 3.0]),
        &[1.0, 2.0, 3.0],
    );
    assert_same(&red(RED_SUM, &[], 0, &[4.0]), &[4.0]);
    assert_same(
        &red(RED_SUM, &[3], 0b110, &[1.0, 2.0, 3.0]),
        &[1.0, 2.0, 3.0],
    );
}

#[test]
fn reduce_sum_order_is_row_major() {
    // 1e8 + 1 + ... in f32: the order is visible.
    let x = [1e8, 1.0, 1.0, 1.0, -1e8, 1.0];
    let p = ReduceP {
        kind: RED_SUM,
        rank: 1,
        in_shape: shape(&[6]),
        mask: 1,
    };
    let mut out = [0.0];
    reduce(&p, &x, &mut out);
    let seq = x.iter().fold(0.0f32, |a, &v| a + v);
    assert_eq!(out[0], seq);
}

// ---- strided

fn strd(rank: usize, out_shape: &[u32], strides: &[i32], offset: u32, x: &[f32]) -> Vec<f32> {
    let mut st = [0i32; MAX_RANK];
    st[..rank].copy_from_slice(strides);
    let p = StridedP {
        rank: rank as u32,
        out_shape: shape(out_shape),
        strides: st,
        offset,
    };
    let mut out = vec![f32::NAN; numel(p.rank, &p.out_shape)];
    strided(&p, x, &mut out);
    assert_same(&out, &strided_ref(&p, x));
    out
}

#[test]
fn strided_transpose_perm() {
    // x [2, 3, 4], perm [2, 0, 1]: out [4, 2, 3], out[a, b, c] = x[b, c, a].
    let x = iota(24);
    let out = strd(3, &[4, 2, 3], &[1, 12, 4], 0, &x);
    for a in 0..4 {
        for b in 0..2 {
            for c in 0..3 {
                assert_eq!(out[(a * 2 + b) * 3 + c], x[(b * 3 + c) * 4 + a]);
            }
        }
    }
    // NCHW -> NHWC.
    let out = strd(4, &[1, 2, 2, 3], &[12, 2, 1, 4], 0, &iota(12));
    assert_same(
        &out,
        &[0.0, 4.0, 8.0, 1.0, 5.0, 9.0, 2.0, 6.0, 10.0, 3.0, 7.0, 11.0],
    );
}

#[test]
fn strided_negative_step_slice() {
    // x[4::-2] on [5].
    assert_same(&strd(1, &[3], &[-2], 4, &iota(5)), &[4.0, 2.0, 0.0]);
    // x[::-1, 1:3] on [3, 4].
    assert_same(
        &strd(2, &[3, 2], &[-4, 1], 9, &iota(12)),
        &[9.0, 10.0, 5.0, 6.0, 1.0, 2.0],
    );
    // Both axes reversed.
    assert_same(
        &strd(2, &[2, 3], &[-3, -1], 5, &iota(6)),
        &[5.0, 4.0, 3.0, 2.0, 1.0, 0.0],
    );
}

#[test]
fn strided_plain_copy_and_slices() {
    assert_same(&strd(3, &[2, 1, 3], &[3, 0, 1], 0, &iota(6)), &iota(6));
    assert_same(&strd(0, &[], &[], 2, &iota(3)), &[2.0]);
    // x[:, 1:4:2] on [2, 5].
    assert_same(
        &strd(2, &[2, 2], &[5, 2], 1, &iota(10)),
        &[1.0, 3.0, 6.0, 8.0],
    );
}

// ---- concat

#[test]
fn concat_three_inputs_middle_axis() {
    // [2, 1, 3] ++ [2, 2, 3] ++ [2, 3, 3] on axis 1 -> [2, 6, 3].
    let a: Vec<f32> = (0..6).map(|v| 100.0 + v as f32).collect();
    let b: Vec<f32> = (0..12).map(|v| 200.0 + v as f32).collect();
    let c: Vec<f32> = (0..18).map(|v| 300.0 + v as f32).collect();
    let mut parts = [0; MAX_CONCAT];
    parts[..3].copy_from_slice(&[3, 6, 9]);
    let p = ConcatP {
        outer: 2,
        count: 3,
        parts,
    };
    let mut out = vec![f32::NAN; 36];
    concat(&p, &[&a, &b, &c], &mut out);
    let want: Vec<f32> = [&a[..3], &b[..6], &c[..9], &a[3..], &b[6..], &c[9..]].concat();
    assert_same(&out, &want);
}

// ---- gather

#[test]
fn gather_axis1() {
    // x [2, 4, 3], indices [3, 0, 3] on axis 1.
    let x = iota(24);
    let p = GatherP {
        outer: 2,
        axis_len: 4,
        inner: 3,
        n_idx: 3,
    };
    let mut out = vec![f32::NAN; 18];
    gather(&p, &x, &[3, 0, 3], &mut out);
    let mut want = vec![];
    for o in 0..2 {
        for j in [3, 0, 3] {
            want.extend_from_slice(&x[(o * 4 + j) * 3..][..3]);
        }
    }
    assert_same(&out, &want);
    // Innermost axis (inner 1).
    let p = GatherP {
        outer: 2,
        axis_len: 3,
        inner: 1,
        n_idx: 2,
    };
    let mut out = [0.0; 4];
    gather(&p, &iota(6), &[2, 1], &mut out);
    assert_same(&out, &[2.0, 1.0, 5.0, 4.0]);
}

// ---- pad

#[test]
fn pad_constant() {
    let p = PadP {
        rank: 2,
        in_shape: shape(&[2, 3]),
        out_shape: shape(&[4, 6]),
        begin: shape(&[1, 2]),
        value: -1.0,
    };
    let mut out = vec![f32::NAN; 24];
    pad(&p, &iota(6), &mut out);
    #[rustfmt::skip]
    let want = [
        -1.0, -1.0, -1.0, -1.0, -1.0, -1.0,
        -1.0, -1.0, 0.0, 1.0, 2.0, -1.0,
        -1.0, -1.0, 3.0, 4.0, 5.0, -1.0,
        -1.0, -1.0, -1.0, -1.0, -1.0, -1.0,
    ];
    assert_same(&out, &want);
    assert_same(&out, &pad_ref(&p, &iota(6)));
}

#[test]
fn pad_shapes_vs_reference() {
    let cases: &[(&[u32], &[u32], &[u32])] = &[
        (&[1, 2, 3, 3], &[1, 2, 5, 4], &[0, 0, 1, 0]),
        (&[2, 3], &[5, 3], &[2, 0]),
        (&[3, 1], &[3, 3], &[0, 1]),
        (&[2, 2, 2], &[2, 2, 2], &[0, 0, 0]),
        (&[], &[], &[]),
    ];
    for (i, o, b) in cases {
        let p = PadP {
            rank: i.len() as u32,
            in_shape: shape(i),
            out_shape: shape(o),
            begin: shape(b),
            value: 7.5,
        };
        let x: Vec<f32> = (0..numel(p.rank, &p.in_shape)).map(|v| v as f32).collect();
        let mut out = vec![f32::NAN; numel(p.rank, &p.out_shape)];
        pad(&p, &x, &mut out);
        assert_same(&out, &pad_ref(&p, &x));
    }
}

// ---- resize

#[test]
fn resize_upsample_2x() {
    let p = ResizeP {
        rank: 4,
        in_shape: shape(&[1, 1, 2, 2]),
        out_shape: shape(&[1, 1, 4, 4]),
    };
    let tbl = [0, 0, 0, 0, 1, 1, 0, 0, 1, 1];
    let mut out = vec![f32::NAN; 16];
    resize(&p, &[1.0, 2.0, 3.0, 4.0], &tbl, &mut out);
    #[rustfmt::skip]
    let want = [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0];
    assert_same(&out, &want);
}

#[test]
fn resize_mixed_vs_reference() {
    // [2, 3, 4] -> [3, 2, 6]: repeat, downsample, upsample with an irregular table.
    let p = ResizeP {
        rank: 3,
        in_shape: shape(&[2, 3, 4]),
        out_shape: shape(&[3, 2, 6]),
    };
    let tbl = [0, 1, 1, 2, 0, 0, 1, 1, 2, 3, 3];
    let x = iota(24);
    let mut out = vec![f32::NAN; 36];
    resize(&p, &x, &tbl, &mut out);
    assert_same(&out, &resize_ref(&p, &x, &tbl));
    // Rank 1 and rank 0.
    let p = ResizeP {
        rank: 1,
        in_shape: shape(&[2]),
        out_shape: shape(&[3]),
    };
    let mut out = [0.0; 3];
    resize(&p, &[5.0, 6.0], &[1, 0, 1], &mut out);
    assert_same(&out, &[6.0, 5.0, 6.0]);
    let p = ResizeP {
        rank: 0,
        in_shape: shape(&[]),
        out_shape: shape(&[]),
    };
    let mut out = [0.0];
    resize(&p, &[5.0], &[], &mut out);
    assert_same(&out, &[5.0]);
}

// ---- softmax

#[test]
fn softmax_large_values() {
    let p = SoftmaxP {
        outer: 1,
        axis: 3,
        inner: 1,
    };
    let mut big = [0.0; 3];
    softmax(&p, &[1000.0, 1001.0, 1002.0], &mut big);
    let mut small = [0.0; 3];
    softmax(&p, &[0.0, 1.0, 2.0], &mut small);
    assert_same(&big, &small);
    assert_close_rel(&big, &softmax_ref(&p, &[0.0, 1.0, 2.0]));
    let mut out = [0.0; 3];
    softmax(&p, &[-1e30, 3e38, -3e38], &mut out);
    assert_same(&out, &[0.0, 1.0, 0.0]);
}

#[test]
fn softmax_inner_axis() {
    // [2, 3, 4] over axis 1.
    let p = SoftmaxP {
        outer: 2,
        axis: 3,
        inner: 4,
    };
    let x: Vec<f32> = (0..24).map(|v| ((v * 7) % 11) as f32 * 0.7 - 3.0).collect();
    let mut out = vec![f32::NAN; 24];
    softmax(&p, &x, &mut out);
    assert_close_rel(&out, &softmax_ref(&p, &x));
}

// ---- channel affine

#[test]
fn channel_affine_per_channel() {
    let p = ChannelAffineP {
        outer: 2,
        c: 3,
        inner: 2,
    };
    let x = iota(12);
    let mut out = vec![f32::NAN; 12];
    channel_affine(&p, &x, &[1.0, 2.0, -1.0], &[0.5, 0.0, 10.0], &mut out);
    assert_same(
        &out,
        &[
            0.5, 1.5, 4.0, 6.0, 6.0, 5.0, 6.5, 7.5, 16.0, 18.0, 0.0, -1.0,
        ],
    );
}

// ---- fused activations

#[test]
fn fused_activations() {
    let x = [-2.0, -0.5, 0.0, 0.5, 2.0];
    let p = |act| bin(BIN_ADD, &[5], &[5], &[], act);
    assert_same(&run_bin(&p(Act::NONE), &x, &[0.0]), &x);
    assert_same(
        &run_bin(&p(Act::RELU), &x, &[0.0]),
        &[0.0, 0.0, 0.0, 0.5, 2.0],
    );
    assert_same(
        &run_bin(&p(Act::clip(-1.0, 1.0)), &x, &[0.0]),
        &[-1.0, -0.5, 0.0, 0.5, 1.0],
    );
    assert_same(
        &run_bin(&p(Act::leaky_relu(0.25)), &x, &[0.0]),
        &[-0.5, -0.125, 0.0, 0.5, 2.0],
    );
    assert_same(
        &run_bin(&p(Act::hard_sigmoid(0.5, 0.5)), &x, &[0.0]),
        &[0.0, 0.25, 0.5, 0.75, 1.0],
    );
    // Unknown kind: identity.
    let unknown = Act {
        kind: 200,
        a: 1.0,
        b: 2.0,
    };
    let mut out = [0.0; 5];
    binary(&p(unknown), &x, &[0.0], &mut out);
    assert_same(&out, &x);
}

#[test]
fn unknown_op_codes_do_not_panic() {
    let mut out = [7.0; 2];
    binary(
        &BinaryP {
            op: 99,
            ..bin(BIN_ADD, &[2], &[2], &[2], Act::NONE)
        },
        &[1.0, 2.0],
        &[1.0, 2.0],
        &mut out,
    );
    unary(
        &UnaryP {
            kind: 99,
            len: 2,
            alpha: 0.0,
            beta: 0.0,
        },
        &[1.0, 2.0],
        &mut out,
    );
    pool2d(&Pool2dP { kind: 99, ..POOL }, &[1.0], &mut out);
    reduce(
        &ReduceP {
            kind: 99,
            rank: 1,
            in_shape: shape(&[2]),
            mask: 1,
        },
        &[1.0, 2.0],
        &mut out,
    );
    assert_same(&out, &[7.0, 7.0]);
}
