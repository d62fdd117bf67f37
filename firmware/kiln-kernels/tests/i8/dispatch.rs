//! `run` routes every `QOp` variant to its kernel with the documented inputs and tables.

use crate::edge::{BIN, CONV, ONE, POOL};
use kiln_kernels::i8::*;

/// Runs `op`; also checks that `param_type` names the type its `Debug` text holds (generated
/// code imports exactly those names).
fn via_run(op: QOp, ins: &[&[i8]], t: &Tables, n_out: usize) -> Vec<i8> {
    let text = format!("{op:?}");
    let held = text.split_once('(').map(|(_, rest)| rest).unwrap_or("");
    assert!(
        held.starts_with(&format!("{} {{", op.param_type())),
        "{} for {text}",
        op.param_type()
    );
    let mut out = vec![0x55i8; n_out];
    run(&op, ins, t, &mut [&mut out]);
    out
}

fn seq(n: usize, k: i32) -> Vec<i8> {
    (0..n as i32).map(|i| ((i * k) % 251 - 125) as i8).collect()
}

#[test]
fn run_dispatches_every_variant() {
    let x = seq(2 * 3 * 4, 37);
    let mut checked = 0;

    // Conv2d, with and without bias, per-channel tables.
    let p = QConv2dP {
        in_c: 2,
        in_h: 3,
        in_w: 4,
        out_c: 3,
        out_h: 2,
        out_w: 3,
        k_h: 2,
        k_w: 2,
        in_zp: 3,
        out_zp: -2,
        per_channel: true,
        ..CONV
    };
    let w = seq(3 * 2 * 4, 53);
    let (bias, mult, shift) = ([100, -7, 0], [1 << 30, 3 << 29, 1 << 30], [-6, -7, -8]);
    let mut want = vec![0i8; 18];
    conv2d(&p, &x, &w, &bias, &mult, &shift, &mut want);
    let t = Tables {
        bias: &bias,
        mult: &mult,
        shift: &shift,
        ..Tables::NONE
    };
    assert_eq!(via_run(QOp::Conv2d(p), &[&x, &w], &t, 18), want);
    conv2d(&p, &x, &w, &[], &mult, &shift, &mut want);
    let t = Tables { bias: &[], ..t };
    assert_eq!(via_run(QOp::Conv2d(p), &[&x, &w], &t, 18), want);
    checked += 1;

    // Dense, one multiplier.
    let p = QDenseP {
        batch: 1,
        m: 2,
        k: 12,
        n: 3,
        in_zp: -1,
        out_zp: 4,
        per_channel: false,
        act_min: -128,
        act_max: 127,
    };
    let w = seq(36, 11);
    let mut want = vec![0i8; 6];
    dense(&p, &x, &w, &bias, &[1 << 30], &[-8], &mut want);
    let t = Tables {
        bias: &bias,
        mult: &[1 << 30],
        shift: &[-8],
        ..Tables::NONE
    };
    assert_eq!(via_run(QOp::Dense(p), &[&x, &w], &t, 6), want);
    checked += 1;

    // Binary: Sub is not symmetric, so the operand order shows.
    let p = QBinaryP {
        op: QBIN_SUB,
        out_shape: [5, 1, 1, 1, 1, 1],
        out_mult: 1 << 30,
        out_shift: -19,
        ..BIN
    };
    let y = seq(5, 91);
    let mut want = vec![0i8; 5];
    binary(&p, &x, &y, &mut want);
    assert_ne!(want, {
        let mut o = vec![0i8; 5];
        binary(&p, &y, &x, &mut o);
        o
    });
    assert_eq!(via_run(QOp::Binary(p), &[&x, &y], &Tables::NONE, 5), want);
    checked += 1;

    // Pool2d.
    let p = QPool2dP {
        c: 2,
        in_h: 3,
        in_w: 4,
        out_h: 2,
        out_w: 3,
        k_h: 2,
        k_w: 2,
        ..POOL
    };
    let mut want = vec![0i8; 12];
    pool2d(&p, &x, &mut want);
    assert_eq!(via_run(QOp::Pool2d(p), &[&x], &Tables::NONE, 12), want);
    checked += 1;

    // Mean.
    let p = QMeanP {
        rank: 3,
        in_shape: [2, 3, 4, 1, 1, 1],
        mask: 0b100,
        in_zp: 1,
        out_zp: 2,
        mult: ONE.0,
        shift: ONE.1,
    };
    let mut want = vec![0i8; 6];
    mean(&p, &x, &mut want);
    assert_eq!(via_run(QOp::Mean(p), &[&x], &Tables::NONE, 6), want);
    checked += 1;

    // Strided.
    let p = StridedP {
        rank: 2,
        out_shape: [4, 6, 1, 1, 1, 1],
        strides: [1, 4, 0, 0, 0, 0],
        offset: 0,
    };
    let mut want = vec![0i8; 24];
    strided(&p, &x, &mut want);
    assert_eq!(via_run(QOp::Strided(p), &[&x], &Tables::NONE, 24), want);
    checked += 1;

    // Concat of three inputs, the middle one requantized.
    let mut p = QConcatP {
        outer: 2,
        count: 3,
        parts: [0; MAX_CONCAT],
        requant_mask: 0b010,
        in_zp: [0; MAX_CONCAT],
        mult: [0; MAX_CONCAT],
        shift: [0; MAX_CONCAT],
        out_zp: 1,
    };
    p.parts[..3].copy_from_slice(&[1, 2, 3]);
    p.in_zp[1] = 5;
    p.mult[1] = 3 << 29;
    p.shift[1] = 0;
    let (a, b, c) = (seq(2, 3), seq(4, 5), seq(6, 7));
    let mut want = vec![0i8; 12];
    concat(&p, &[&a, &b, &c], &mut want);
    assert_eq!(
        via_run(QOp::Concat(p), &[&a, &b, &c], &Tables::NONE, 12),
        want
    );
    checked += 1;

    // Gather.
    let p = GatherP {
        outer: 2,
        axis_len: 3,
        inner: 4,
        n_idx: 2,
    };
    let idx = [2u32, 0];
    let mut want = vec![0i8; 16];
    gather(&p, &x, &idx, &mut want);
    let t = Tables {
        idx: &idx,
        ..Tables::NONE
    };
    assert_eq!(via_run(QOp::Gather(p), &[&x], &t, 16), want);
    checked += 1;

    // Pad.
    let p = QPadP {
        rank: 2,
        in_shape: [6, 4, 1, 1, 1, 1],
        out_shape: [7, 5, 1, 1, 1, 1],
        begin: [1, 0, 0, 0, 0, 0],
        value: -9,
    };
    let mut want = vec![0i8; 35];
    pad(&p, &x, &mut want);
    assert_eq!(via_run(QOp::Pad(p), &[&x], &Tables::NONE, 35), want);
    checked += 1;

    // Softmax.
    let p = QSoftmaxP {
        outer: 2,
        axis: 3,
        inner: 4,
    };
    let exp = softmax_exp_table(1.0, 0.05).unwrap();
    let mut want = vec![0i8; 24];
    softmax(&p, &x, &exp, &mut want);
    let t = Tables {
        exp: &exp,
        ..Tables::NONE
    };
    assert_eq!(via_run(QOp::Softmax(p), &[&x], &t, 24), want);
    checked += 1;

    // Lut.
    let table = make_lut(0.05, 0, 1.0 / 128.0, 0, libm::tanh);
    let p = LutP { len: 24 };
    let mut want = vec![0i8; 24];
    lut(&p, &x, &table, &mut want);
    let t = Tables {
        lut: &table,
        ..Tables::NONE
    };
    assert_eq!(via_run(QOp::Lut(p), &[&x], &t, 24), want);
    checked += 1;

    // Requant.
    let p = RequantP {
        len: 24,
        in_zp: 3,
        out_zp: -3,
        mult: 3 << 29,
        shift: 1,
    };
    let mut want = vec![0i8; 24];
    requant(&p, &x, &mut want);
    assert_eq!(via_run(QOp::Requant(p), &[&x], &Tables::NONE, 24), want);
    checked += 1;

    assert_eq!(checked, 12, "one check per QOp variant");
}

#[test]
fn params_debug_is_a_rust_literal() {
    // Spot check: codegen emits `{:?}` of a QOp as a const.
    let s = format!("{:?}", QOp::Conv2d(QConv2dP { in_zp: -3, ..CONV }));
    assert!(s.starts_with("Conv2d(QConv2dP { batch: 1,"), "{s}");
    assert!(s.contains("in_zp: -3,"), "{s}");
    const _C: QOp = QOp::Pool2d(QPool2dP {
        kind: 1,
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
        zp: -128,
        act_min: -128,
        act_max: 127,
    });
}

/// The on-target kernel check (`--kernel-check` firmware) passes on the host too, with every
/// kernel it names drawn many times.
#[test]
fn kernel_check_runs_and_agrees_on_the_host() {
    let mut text = String::new();
    let s = kiln_kernels::i8::check::run(0x6b69_6c6e, 300, &mut text);
    assert_eq!(s.cases, 5 * 300, "{text}");
    assert_eq!(s.mismatches, 0, "{text}");
    assert!(
        text.ends_with("kernel-check: 1500 cases, 0 mismatches\n"),
        "{text}"
    );
}
