//! `run` routes every `KOp` variant to its kernel with the documented input order.

use crate::edge::{shape, CONV, POOL};
use kiln_kernels::f32::*;

/// Runs `op` through `run` and returns the single output.
fn via_run(op: KOp, ins: &[&[f32]], idx: &[u32], n_out: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; n_out];
    run(&op, ins, idx, &mut [&mut out]);
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

fn seq(n: usize, k: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32 + 1.0) * k).sin()).collect()
}

#[test]
fn run_dispatches_every_variant() {
    let x = seq(2 * 3 * 4, 0.7);
    let mut checked = 0;

    // Conv2d, with and without bias.
    let p = Conv2dP {
        in_c: 2,
        in_h: 3,
        in_w: 4,
        out_c: 3,
        out_h: 2,
        out_w: 3,
        k_h: 2,
        k_w: 2,
        ..CONV
    };
    let w = seq(3 * 2 * 4, 1.3);
    let b = seq(3, 2.1);
    let mut want = vec![0.0; 18];
    conv2d(&p, &x, &w, Some(&b), &mut want);
    assert_eq!(
        bits(&via_run(KOp::Conv2d(p), &[&x, &w, &b], &[], 18)),
        bits(&want)
    );
    conv2d(&p, &x, &w, None, &mut want);
    assert_eq!(
        bits(&via_run(KOp::Conv2d(p), &[&x, &w], &[], 18)),
        bits(&want)
    );
    checked += 1;

    // Dense.
    let p = DenseP {
        batch: 1,
        m: 2,
        k: 12,
        n: 3,
        bias_full: true,
        act: Act::RELU,
    };
    let w = seq(36, 0.9);
    let b = seq(6, 0.4);
    let mut want = vec![0.0; 6];
    dense(&p, &x, &w, Some(&b), &mut want);
    assert_eq!(
        bits(&via_run(KOp::Dense(p), &[&x, &w, &b], &[], 6)),
        bits(&want)
    );
    dense(&p, &x, &w, None, &mut want);
    assert_eq!(
        bits(&via_run(KOp::Dense(p), &[&x, &w], &[], 6)),
        bits(&want)
    );
    checked += 1;

    // Binary: a - b is not symmetric, so the operand order shows.
    let p = BinaryP {
        op: BIN_SUB,
        rank: 1,
        out_shape: shape(&[4]),
        a_strides: shape(&[1]),
        b_strides: shape(&[1]),
        act: Act::NONE,
    };
    let out = via_run(
        KOp::Binary(p),
        &[&[5.0, 6.0, 7.0, 8.0], &[1.0, 2.0, 3.0, 4.0]],
        &[],
        4,
    );
    assert_eq!(out, [4.0; 4]);
    checked += 1;

    let p = UnaryP {
        kind: UN_TANH,
        len: 24,
        alpha: 0.0,
        beta: 0.0,
    };
    let mut want = vec![0.0; 24];
    unary(&p, &x, &mut want);
    assert_eq!(bits(&via_run(KOp::Unary(p), &[&x], &[], 24)), bits(&want));
    checked += 1;

    let p = Pool2dP {
        kind: POOL_MAX,
        c: 2,
        in_h: 3,
        in_w: 4,
        out_h: 2,
        out_w: 2,
        k_h: 2,
        k_w: 2,
        s_w: 2,
        ..POOL
    };
    let mut want = vec![0.0; 8];
    pool2d(&p, &x, &mut want);
    assert_eq!(bits(&via_run(KOp::Pool2d(p), &[&x], &[], 8)), bits(&want));
    checked += 1;

    let p = ReduceP {
        kind: RED_MEAN,
        rank: 3,
        in_shape: shape(&[2, 3, 4]),
        mask: 0b010,
    };
    let mut want = vec![0.0; 8];
    reduce(&p, &x, &mut want);
    assert_eq!(bits(&via_run(KOp::Reduce(p), &[&x], &[], 8)), bits(&want));
    checked += 1;

    let p = StridedP {
        rank: 2,
        out_shape: shape(&[4, 6]),
        strides: [1, 4, 0, 0, 0, 0],
        offset: 0,
    };
    let mut want = vec![0.0; 24];
    strided(&p, &x, &mut want);
    assert_eq!(bits(&via_run(KOp::Strided(p), &[&x], &[], 24)), bits(&want));
    checked += 1;

    let mut parts = [0; MAX_CONCAT];
    parts[..3].copy_from_slice(&[1, 2, 1]);
    let p = ConcatP {
        outer: 2,
        count: 3,
        parts,
    };
    let out = via_run(
        KOp::Concat(p),
        &[&[1.0, 2.0], &[3.0, 4.0, 5.0, 6.0], &[7.0, 8.0]],
        &[],
        8,
    );
    assert_eq!(out, [1.0, 3.0, 4.0, 7.0, 2.0, 5.0, 6.0, 8.0]);
    checked += 1;

    let p = GatherP {
        outer: 2,
        axis_len: 3,
        inner: 4,
        n_idx: 2,
    };
    let mut want = vec![0.0; 16];
    gather(&p, &x, &[2, 0], &mut want);
    assert_eq!(
        bits(&via_run(KOp::Gather(p), &[&x], &[2, 0], 16)),
        bits(&want)
    );
    checked += 1;

    let p = PadP {
        rank: 2,
        in_shape: shape(&[6, 4]),
        out_shape: shape(&[7, 5]),
        begin: shape(&[1, 0]),
        value: 2.0,
    };
    let mut want = vec![0.0; 35];
    pad(&p, &x, &mut want);
    assert_eq!(bits(&via_run(KOp::Pad(p), &[&x], &[], 35)), bits(&want));
    checked += 1;

    let p = ResizeP {
        rank: 2,
        in_shape: shape(&[6, 4]),
        out_shape: shape(&[3, 8]),
    };
    let tbl = [0, 2, 4, 0, 0, 1, 1, 2, 2, 3, 3];
    let mut want = vec![0.0; 24];
    resize(&p, &x, &tbl, &mut want);
    assert_eq!(bits(&via_run(KOp::Resize(p), &[&x], &tbl, 24)), bits(&want));
    checked += 1;

    let p = SoftmaxP {
        outer: 2,
        axis: 3,
        inner: 4,
    };
    let mut want = vec![0.0; 24];
    softmax(&p, &x, &mut want);
    assert_eq!(bits(&via_run(KOp::Softmax(p), &[&x], &[], 24)), bits(&want));
    checked += 1;

    // ChannelAffine: x, scale, shift in that order.
    let p = ChannelAffineP {
        outer: 1,
        c: 2,
        inner: 2,
    };
    let out = via_run(
        KOp::ChannelAffine(p),
        &[&[1.0, 2.0, 3.0, 4.0], &[10.0, 100.0], &[1.0, 2.0]],
        &[],
        4,
    );
    assert_eq!(out, [11.0, 21.0, 302.0, 402.0]);
    checked += 1;

    // One per KOp variant; a new variant without a case here fails to compile below.
    assert_eq!(checked, 13);
    let _exhaustive = |op: &KOp| match op {
        KOp::Conv2d(_)
        | KOp::Dense(_)
        | KOp::Binary(_)
        | KOp::Unary(_)
        | KOp::Pool2d(_)
        | KOp::Reduce(_)
        | KOp::Strided(_)
        | KOp::Concat(_)
        | KOp::Gather(_)
        | KOp::Pad(_)
        | KOp::Resize(_)
        | KOp::Softmax(_)
        | KOp::ChannelAffine(_) => (),
    };
}
