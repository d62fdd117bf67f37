//! Calibration statistics and int8 quantization parameters (`kiln::quantize`), and the
//! simulator's observation hook they use.

use std::path::{Path, PathBuf};

use kiln::data::load_inputs;
use kiln::deploy::{prepare, Prepared};
use kiln::quantize::{
    act_qparams, bias_q, calibrate, calibrate_file, weight_qparams_per_channel, CalibMethod,
};
use kiln::sim::Simulator;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn digits() -> (Prepared, PathBuf) {
    let dir = root().join("models/digits-mlp");
    let p = prepare(
        &dir.join("model.onnx"),
        &Default::default(),
        None,
        &Default::default(),
    )
    .expect("prepare digits-mlp");
    (p, dir.join("calib.npz"))
}

/// Activations: graph inputs and node outputs.
fn activations(g: &kiln::ir::Graph) -> Vec<usize> {
    let mut a: Vec<usize> = g.inputs.clone();
    a.extend(g.nodes.iter().flat_map(|n| n.outputs.iter().copied()));
    a
}

#[test]
fn run_observed_sees_every_activation_once_and_matches_run() {
    let (p, calib) = digits();
    let (g, plan) = (&p.graph, &p.plan);
    let samples = load_inputs(&calib, g).unwrap();
    let acts = activations(g);
    for i in 0..samples.n.min(5) {
        let ins = samples.sample_all(i);
        let want = Simulator::new(g, plan).run(&ins);
        let mut seen = vec![0usize; g.tensors.len()];
        let mut order = vec![];
        let got = Simulator::new(g, plan).run_observed(&ins, &mut |t, v| {
            assert_eq!(v.len(), g.tensors[t].len(), "tensor {t} length");
            seen[t] += 1;
            order.push(t);
        });
        assert_eq!(got, want);
        assert_eq!(order, acts, "inputs first, then node outputs in order");
        for (t, &n) in seen.iter().enumerate() {
            let expect = usize::from(acts.contains(&t));
            assert_eq!(n, expect, "tensor {t} `{}`", g.tensors[t].name);
        }
    }
}

#[test]
fn minmax_ranges_are_the_observed_extremes() {
    let (p, calib) = digits();
    let (g, plan) = (&p.graph, &p.plan);
    let samples = load_inputs(&calib, g).unwrap();
    let c = calibrate(g, plan, &samples, CalibMethod::MinMax);
    assert_eq!(c.samples, samples.n);
    assert_eq!(c.method, CalibMethod::MinMax);
    assert_eq!(c.ranges.len(), g.tensors.len());

    let mut want: Vec<Option<(f32, f32)>> = vec![None; g.tensors.len()];
    let mut sim = Simulator::new(g, plan);
    for i in 0..samples.n {
        sim.run_observed(&samples.sample_all(i), &mut |t, v| {
            for &x in v {
                let r = want[t].get_or_insert((x, x));
                r.0 = r.0.min(x);
                r.1 = r.1.max(x);
            }
        });
    }
    let acts = activations(g);
    for (t, w) in want.iter().enumerate() {
        match *w {
            None => {
                assert!(!acts.contains(&t));
                assert_eq!(c.ranges[t], None, "constant {t} has no range");
            }
            Some((lo, hi)) => {
                assert_eq!(c.ranges[t], Some((lo.min(0.0), hi.max(0.0))), "tensor {t}");
            }
        }
    }
}

#[test]
fn percentile_and_mse_lie_within_minmax_and_include_zero() {
    let (p, calib) = digits();
    let (g, plan) = (&p.graph, &p.plan);
    let mm = calibrate_file(g, plan, &calib, CalibMethod::MinMax).unwrap();
    let want_hash = hex::encode(Sha256::digest(std::fs::read(&calib).unwrap()));
    assert_eq!(mm.hash, want_hash);
    for method in [CalibMethod::Percentile(99.99), CalibMethod::Mse] {
        let c = calibrate_file(g, plan, &calib, method).unwrap();
        assert_eq!(c.hash, want_hash);
        assert_eq!(c.method, method);
        for (t, (r, m)) in c.ranges.iter().zip(&mm.ranges).enumerate() {
            assert_eq!(r.is_some(), m.is_some(), "tensor {t}");
            if let (Some((lo, hi)), Some((mlo, mhi))) = (r, m) {
                assert!(*lo <= 0.0 && *hi >= 0.0, "{method}: tensor {t} excludes 0");
                assert!(
                    lo >= mlo && hi <= mhi,
                    "{method}: tensor {t} [{lo}, {hi}] not within [{mlo}, {mhi}]"
                );
            }
        }
    }
}

fn quantize(x: f32, scale: f32, zp: i32) -> i32 {
    ((x / scale).round_ties_even() as i32 + zp).clamp(-128, 127)
}

#[test]
fn act_qparams_round_trip() {
    for &(lo, hi) in &[
        (-1.0f32, 1.0f32),
        (0.0, 6.0),
        (-3.7, 0.2),
        (0.5, 2.0),
        (-2.0, -0.5),
        (-0.001, 1000.0),
        (-1e-6, 3e-6),
        (-128.0, 127.0),
    ] {
        let (scale, zp) = act_qparams(lo, hi);
        assert!(scale > 0.0, "{lo} {hi}");
        assert!((-128..=127).contains(&zp), "{lo} {hi}: zp {zp}");
        // 0 is exactly representable.
        assert_eq!(quantize(0.0, scale, zp), zp);
        assert_eq!((zp - zp) as f32 * scale, 0.0);
        // The (zero-including) range ends come back within one step.
        for end in [lo.min(0.0), hi.max(0.0)] {
            let back = (quantize(end, scale, zp) - zp) as f32 * scale;
            assert!(
                (back - end).abs() <= scale * 1.0001,
                "{lo} {hi}: {end} -> {back} (scale {scale}, zp {zp})"
            );
        }
    }
    // Symmetric-ish range: TFLite nudges the zero point to the nearest integer.
    let (scale, zp) = act_qparams(-1.0, 1.0);
    assert!((scale - 2.0 / 255.0).abs() < 1e-9);
    assert!(zp == 0 || zp == -1, "{zp}");
    // ReLU range: zp at the bottom.
    assert_eq!(act_qparams(0.0, 6.0).1, -128);
    assert_eq!(act_qparams(-6.0, 0.0).1, 127);
    // Degenerate.
    assert_eq!(act_qparams(0.0, 0.0), (1.0, 0));
}

#[test]
fn per_channel_weight_error_within_half_scale() {
    let out_c = 4;
    let w: Vec<f32> = (0..out_c * 9)
        .map(|i| {
            let c = i / 9;
            match c {
                0 => ((i as f32) * 0.37).sin() * 0.05,
                1 => 0.0, // all-zero channel
                2 => ((i as f32) * 1.3).cos() * 20.0,
                _ => (i as f32 - 30.0) * 1e-4,
            }
        })
        .collect();
    let (scales, q) = weight_qparams_per_channel(&w, out_c);
    assert_eq!(scales.len(), out_c);
    assert_eq!(q.len(), w.len());
    assert_eq!(scales[1], 1.0);
    assert!(q[9..18].iter().all(|&v| v == 0));
    for c in 0..out_c {
        let ch = &w[c * 9..(c + 1) * 9];
        let qc = &q[c * 9..(c + 1) * 9];
        assert!(qc.iter().all(|&v| (-127..=127).contains(&v)));
        if c != 1 {
            assert!(
                qc.iter().any(|&v| v.abs() == 127),
                "channel {c} uses the range"
            );
        }
        for (&x, &v) in ch.iter().zip(qc) {
            let err = (x - v as f32 * scales[c]).abs();
            assert!(err <= scales[c] / 2.0 * 1.0001, "channel {c}: {x} -> {v}");
        }
    }
}

#[test]
fn bias_rounding_and_saturation() {
    // Round half away from zero.
    assert_eq!(
        bias_q(&[0.5, -0.5, 1.5, -1.5, 0.49, -2.5], 1.0, &[1.0]),
        vec![1, -1, 2, -2, 0, -3]
    );
    // Scale is in_scale * w_scale[c], per channel.
    assert_eq!(bias_q(&[1.0, 1.0], 0.5, &[0.25, 2.0]), vec![8, 1]);
    // Saturation and NaN.
    assert_eq!(
        bias_q(&[1e10, -1e10, f32::NAN, f32::INFINITY], 1e-3, &[1.0]),
        vec![i32::MAX, i32::MIN, 0, i32::MAX]
    );
    // Zero scale: ±inf saturates, 0/0 is 0.
    assert_eq!(
        bias_q(&[1.0, -1.0, 0.0], 0.0, &[1.0]),
        vec![i32::MAX, i32::MIN, 0]
    );
    assert!(bias_q(&[], 1.0, &[]).is_empty());
}
