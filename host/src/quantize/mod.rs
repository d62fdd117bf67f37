//! Post-training int8 quantization: calibration statistics and quantization parameters.
//!
//! Conventions are the kernel crate's (`kiln_kernels::i8`): `real = scale * (q - zp)`;
//! activations int8 asymmetric per tensor (`[-128, 127]`); weights int8 symmetric per output
//! channel (`[-127, 127]`, `zp = 0`); bias int32 with `scale = in_scale * w_scale[c]`, `zp = 0`.
//!
//! # Calibration ([`calibrate`])
//! The f32 host simulation ([`Simulator::run_observed`]) runs every calibration sample and sees
//! every activation (graph inputs and node outputs; constants get no range). Non-finite values
//! (NaN, ±inf) are ignored by every statistic.
//! - [`CalibMethod::MinMax`]: the observed minimum and maximum over all samples.
//! - [`CalibMethod::Percentile`]`(p)`: **asymmetric** — the lower `(100 - p)`-th and the upper
//!   `p`-th percentile of the values, taken from a [`HIST_BINS`]-bin histogram over the observed
//!   `[min, max]` (a second pass over the samples). The cut is on bin edges and conservative: at
//!   most `(1 - p/100)·N` values lie outside the range on each side. Asymmetric because int8
//!   activations are asymmetric (a ReLU output keeps its lower end at 0).
//! - [`CalibMethod::Mse`]: over the same histogram, the range `[a, b]` (`a ≤ 0 ≤ b`, each a bin
//!   edge or 0) minimising the expected squared error of int8 asymmetric quantization,
//!   `E(a, b) = Σ_i n_i · e(x_i)` with `x_i` the bin centres, `n_i` the counts, `s = (b - a) / 255`
//!   and `e(x) = (a - x)²` for `x < a` (clipping), `(x - b)²` for `x > b` (clipping), `s² / 12`
//!   otherwise (uniform rounding noise). Exhaustive over all edge pairs, O(1) each with prefix sums
//!   of `n`, `n·x`, `n·x²`. Ties keep the widest range (the first found).
//!
//! Every range includes 0 (`min ≤ 0 ≤ max`), so zero is exactly representable.
//!
//! [`lower::lower`] turns the ranges into an int8 graph.

pub mod lower;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::data::{DataError, Samples};
use crate::ir::Graph;
use crate::plan::Plan;
use crate::sim::Simulator;

/// Percentile used by `--calib-method percentile` without an explicit value.
pub const DEFAULT_PERCENTILE: f64 = 99.99;

/// Bins of the per-tensor histogram used by the percentile and MSE methods.
pub const HIST_BINS: usize = 2048;

/// How activation ranges are chosen from the calibration statistics (CLI `--calib-method`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum CalibMethod {
    /// Observed minimum and maximum.
    #[default]
    MinMax,
    /// Lower `(100 - p)`-th and upper `p`-th percentile, `p` in `(50, 100]` (e.g. 99.99).
    Percentile(f64),
    /// Range minimising the expected squared quantization error (clipping + rounding).
    Mse,
}

/// A `--calib-method` value that is not `minmax`, `percentile[:P]` or `mse`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("unknown calibration method `{0}` (expected minmax, percentile, percentile:P with 50 < P <= 100, or mse)")]
pub struct ParseCalibMethodError(pub String);

impl FromStr for CalibMethod {
    type Err = ParseCalibMethodError;

    /// `minmax`, `mse`, `percentile` (= `percentile:99.99`, [`DEFAULT_PERCENTILE`]) or
    /// `percentile:P` with `50 < P <= 100`. Case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseCalibMethodError(s.to_string());
        let l = s.trim().to_ascii_lowercase();
        match l.as_str() {
            "minmax" => Ok(CalibMethod::MinMax),
            "mse" => Ok(CalibMethod::Mse),
            "percentile" => Ok(CalibMethod::Percentile(DEFAULT_PERCENTILE)),
            _ => {
                let p: f64 = l
                    .strip_prefix("percentile:")
                    .ok_or_else(err)?
                    .parse()
                    .map_err(|_| err())?;
                if p > 50.0 && p <= 100.0 {
                    Ok(CalibMethod::Percentile(p))
                } else {
                    Err(err())
                }
            }
        }
    }
}

impl fmt::Display for CalibMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalibMethod::MinMax => f.write_str("minmax"),
            CalibMethod::Percentile(p) => write!(f, "percentile:{p}"),
            CalibMethod::Mse => f.write_str("mse"),
        }
    }
}

/// The result of [`calibrate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Per tensor id: the activation's `(min, max)` range (always `min ≤ 0 ≤ max`); `None` for
    /// constants and tensors the simulation never produced.
    pub ranges: Vec<Option<(f32, f32)>>,
    pub method: CalibMethod,
    /// Number of calibration samples run.
    pub samples: usize,
    /// sha256 (lowercase hex) of the calibration file's bytes; empty when the samples did not come
    /// from a file ([`calibrate`]; [`calibrate_file`] fills it).
    pub hash: String,
}

/// A fixed-size histogram over `[lo, hi]` (values outside are counted in the end bins).
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub lo: f32,
    pub hi: f32,
    pub counts: Vec<u64>,
}

impl Histogram {
    pub fn new(lo: f32, hi: f32, bins: usize) -> Histogram {
        Histogram {
            lo,
            hi,
            counts: vec![0; bins.max(1)],
        }
    }

    /// Counts the finite values of `v`.
    pub fn add(&mut self, v: &[f32]) {
        let bins = self.counts.len();
        let width = (self.hi as f64 - self.lo as f64) / bins as f64;
        for &x in v {
            if !x.is_finite() {
                continue;
            }
            let i = if width > 0.0 {
                (((x as f64 - self.lo as f64) / width).floor()).clamp(0.0, (bins - 1) as f64)
                    as usize
            } else {
                0
            };
            self.counts[i] += 1;
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn edge(&self, j: usize) -> f64 {
        let w = (self.hi as f64 - self.lo as f64) / self.counts.len() as f64;
        self.lo as f64 + j as f64 * w
    }

    /// Asymmetric percentile range (see the module docs), widened to include 0.
    pub fn percentile_range(&self, p: f64) -> (f32, f32) {
        let n = self.total();
        if n == 0 || self.hi <= self.lo {
            return with_zero(self.lo, self.hi);
        }
        let tail = (n as f64 * (1.0 - p / 100.0)).max(0.0);
        let bins = self.counts.len();
        // Lower: the largest j with count(bins < j) <= tail.
        let mut below = 0u64;
        let mut lo_j = 0;
        for j in 0..bins {
            if (below + self.counts[j]) as f64 > tail {
                break;
            }
            below += self.counts[j];
            lo_j = j + 1;
        }
        // Upper: the smallest k with count(bins >= k) <= tail.
        let mut above = 0u64;
        let mut hi_k = bins;
        for k in (0..bins).rev() {
            if (above + self.counts[k]) as f64 > tail {
                break;
            }
            above += self.counts[k];
            hi_k = k;
        }
        let lo = if lo_j >= bins {
            self.lo
        } else {
            self.edge(lo_j) as f32
        };
        let hi = if hi_k == 0 || hi_k >= bins {
            self.hi
        } else {
            self.edge(hi_k) as f32
        };
        let (lo, hi) = if lo > hi {
            (self.lo, self.hi)
        } else {
            (lo.max(self.lo), hi.min(self.hi))
        };
        with_zero(lo, hi)
    }

    /// The range minimising the expected int8 asymmetric quantization error (module docs),
    /// including 0.
    pub fn mse_range(&self) -> (f32, f32) {
        let bins = self.counts.len();
        if self.total() == 0 || self.hi <= self.lo {
            return with_zero(self.lo, self.hi);
        }
        let w = (self.hi as f64 - self.lo as f64) / bins as f64;
        let centre = |i: usize| self.lo as f64 + (i as f64 + 0.5) * w;
        // Prefix sums over bins [0, j): count, Σ n·x, Σ n·x².
        let mut pn = vec![0f64; bins + 1];
        let mut p1 = vec![0f64; bins + 1];
        let mut p2 = vec![0f64; bins + 1];
        for i in 0..bins {
            let n = self.counts[i] as f64;
            let x = centre(i);
            pn[i + 1] = pn[i] + n;
            p1[i + 1] = p1[i] + n * x;
            p2[i + 1] = p2[i] + n * x * x;
        }
        // Number of bins whose centre lies below `v`.
        let below = |v: f64| -> usize {
            (((v - self.lo as f64) / w - 0.5).ceil()).clamp(0.0, bins as f64) as usize
        };
        // Number of bins whose centre lies at or below `v`.
        let at_or_below = |v: f64| -> usize {
            (((v - self.lo as f64) / w - 0.5).floor() + 1.0).clamp(0.0, bins as f64) as usize
        };
        let mut lows: Vec<f64> = (0..=bins)
            .map(|j| self.edge(j))
            .filter(|&e| e < 0.0)
            .collect();
        lows.push(0.0);
        let mut highs: Vec<f64> = (0..=bins)
            .map(|j| self.edge(j))
            .filter(|&e| e > 0.0)
            .collect();
        highs.reverse(); // widest first, so ties keep the widest range
        highs.push(0.0);
        let total = pn[bins];
        let mut best = (f64::INFINITY, self.lo as f64, self.hi as f64);
        for &a in &lows {
            let ja = below(a);
            let low = a * a * pn[ja] - 2.0 * a * p1[ja] + p2[ja];
            for &b in &highs {
                if b <= a {
                    continue;
                }
                let kb = at_or_below(b);
                let (n_hi, s1, s2) = (total - pn[kb], p1[bins] - p1[kb], p2[bins] - p2[kb]);
                let high = b * b * n_hi - 2.0 * b * s1 + s2;
                let s = (b - a) / 255.0;
                let inside = (pn[kb] - pn[ja]) * s * s / 12.0;
                let e = low + high + inside;
                if e < best.0 {
                    best = (e, a, b);
                }
            }
        }
        with_zero(best.1 as f32, best.2 as f32)
    }
}

fn with_zero(lo: f32, hi: f32) -> (f32, f32) {
    (lo.min(0.0), hi.max(0.0))
}

/// Runs the f32 simulation of `g` over every sample and returns each activation's range, chosen
/// by `method` (module docs). `hash` is left empty ([`calibrate_file`] sets it).
/// Panics if `samples` does not fit `g`'s inputs (callers load them for `g`).
pub fn calibrate(g: &Graph, plan: &Plan, samples: &Samples, method: CalibMethod) -> Calibration {
    let nt = g.tensors.len();
    let mut sim = Simulator::new(g, plan);
    // Pass 1: min / max.
    let mut mm: Vec<Option<(f32, f32)>> = vec![None; nt];
    let mut seen = vec![false; nt];
    for i in 0..samples.n {
        sim.run_observed(&samples.sample_all(i), &mut |t, v| {
            seen[t] = true;
            for &x in v.iter().filter(|x| x.is_finite()) {
                let r = mm[t].get_or_insert((x, x));
                r.0 = r.0.min(x);
                r.1 = r.1.max(x);
            }
        });
    }
    let ranges = match method {
        CalibMethod::MinMax => mm
            .iter()
            .zip(&seen)
            .map(|(r, &s)| s.then(|| r.map_or((0.0, 0.0), |(lo, hi)| with_zero(lo, hi))))
            .collect(),
        CalibMethod::Percentile(_) | CalibMethod::Mse => {
            // Pass 2: histograms over the observed [min, max].
            let mut hists: Vec<Option<Histogram>> = mm
                .iter()
                .map(|r| r.map(|(lo, hi)| Histogram::new(lo, hi, HIST_BINS)))
                .collect();
            for i in 0..samples.n {
                sim.run_observed(&samples.sample_all(i), &mut |t, v| {
                    if let Some(h) = &mut hists[t] {
                        h.add(v);
                    }
                });
            }
            hists
                .iter()
                .zip(&seen)
                .map(|(h, &s)| {
                    s.then(|| match (h, method) {
                        (None, _) => (0.0, 0.0),
                        (Some(h), CalibMethod::Percentile(p)) => h.percentile_range(p),
                        (Some(h), _) => h.mse_range(),
                    })
                })
                .collect()
        }
    };
    Calibration {
        ranges,
        method,
        samples: samples.n,
        hash: String::new(),
    }
}

/// Loads the calibration file at `path` for `g`'s inputs and [`calibrate`]s, recording the
/// sha256 of the file's bytes.
pub fn calibrate_file(
    g: &Graph,
    plan: &Plan,
    path: &Path,
    method: CalibMethod,
) -> Result<Calibration, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    let samples = crate::data::load_inputs(path, g)?;
    let mut c = calibrate(g, plan, &samples, method);
    c.hash = hex::encode(Sha256::digest(&bytes));
    Ok(c)
}

/// int8 asymmetric `(scale, zero_point)` for the real range `[min, max]` (widened to include 0),
/// quantized range `[-128, 127]`, with TFLite's nudged zero point (`ChooseQuantizationParams`):
/// `scale = (max - min) / 255`; the zero point from whichever end gives the smaller error, rounded
/// and clamped to `[-128, 127]`. A zero-width range gives `(1.0, 0)`.
pub fn act_qparams(min: f32, max: f32) -> (f32, i32) {
    let (qmin, qmax) = (-128f64, 127f64);
    let (min, max) = with_zero(min, max);
    let (min, max) = (min as f64, max as f64);
    let scale = ((max - min) / (qmax - qmin)) as f32;
    if !scale.is_finite() || scale <= 0.0 {
        return (1.0, 0);
    }
    let s = scale as f64;
    let zp_from_min = qmin - min / s;
    let zp_from_max = qmax - max / s;
    let err_min = qmin.abs() + (min / s).abs();
    let err_max = qmax.abs() + (max / s).abs();
    let zp = if err_min < err_max {
        zp_from_min
    } else {
        zp_from_max
    };
    let zp = zp.round().clamp(qmin, qmax) as i32;
    (scale, zp)
}

/// Symmetric int8 per-output-channel quantization of a weight tensor whose first axis has
/// `out_c` channels (`w.len()` a multiple of `out_c`): `scale[c] = max|w_c| / 127`,
/// `q = clamp(round_half_away(w / scale[c]), -127, 127)`. A channel that is all zeros (or has no
/// finite non-zero value) gets scale 1 and all-zero weights; NaN weights quantize to 0.
pub fn weight_qparams_per_channel(w: &[f32], out_c: usize) -> (Vec<f32>, Vec<i8>) {
    weight_qparams(w, out_c, 8)
}

/// [`weight_qparams_per_channel`] on a `bits`-bit symmetric grid (`qmax = 2^(bits-1) - 1`,
/// `bits` in `2..=8`) with `groups` scales over consecutive equal slices of `w` (`groups = 1`:
/// per tensor).
pub fn weight_qparams(w: &[f32], groups: usize, bits: u8) -> (Vec<f32>, Vec<i8>) {
    assert!(
        groups > 0 && w.len().is_multiple_of(groups),
        "weights of {} values do not split into {groups} channels",
        w.len()
    );
    assert!((2..=8).contains(&bits), "{bits}-bit weights");
    let qmax = ((1i32 << (bits - 1)) - 1) as f64;
    let per = w.len() / groups;
    let mut scales = Vec::with_capacity(groups);
    let mut q = Vec::with_capacity(w.len());
    for ch in w.chunks(per.max(1)).take(groups) {
        let m = ch
            .iter()
            .filter(|x| x.is_finite())
            .fold(0f32, |m, x| m.max(x.abs()));
        let scale = m / qmax as f32;
        if !scale.is_finite() || scale <= 0.0 {
            scales.push(1.0);
            q.extend(std::iter::repeat_n(0i8, ch.len()));
            continue;
        }
        scales.push(scale);
        q.extend(
            ch.iter()
                .map(|&x| ((x as f64 / scale as f64).round().clamp(-qmax, qmax)) as i8),
        );
    }
    // Channels of zero length (empty tensor): keep one scale per channel.
    scales.resize(groups, 1.0);
    (scales, q)
}

/// int32 bias: `q[c] = round_half_away(b[c] / (in_scale * w_scales[c]))` computed in f64,
/// saturated to the i32 range (NaN → 0). `w_scales` has one scale per bias value, or a single
/// scale for all (per-tensor weights).
pub fn bias_q(b: &[f32], in_scale: f32, w_scales: &[f32]) -> Vec<i32> {
    assert!(
        w_scales.len() == b.len() || w_scales.len() == 1,
        "{} bias values, {} weight scales",
        b.len(),
        w_scales.len()
    );
    b.iter()
        .enumerate()
        .map(|(c, &v)| {
            let ws = w_scales[if w_scales.len() == 1 { 0 } else { c }];
            // `as` saturates and maps NaN to 0.
            (v as f64 / (in_scale as f64 * ws as f64)).round() as i32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic uniform in [0, 1) (xorshift).
    fn rng(seed: &mut u64) -> f64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    fn laplace_with_outliers(n: usize) -> Vec<f32> {
        let mut s = 0x1234_5678_9abc_def1u64;
        let mut v: Vec<f32> = (0..n)
            .map(|_| {
                let u = rng(&mut s) - 0.5;
                (-u.signum() * (1.0 - 2.0 * u.abs()).max(1e-12).ln()) as f32
            })
            .collect();
        v.extend([60.0, -45.0, 80.0]);
        v
    }

    fn hist(v: &[f32]) -> Histogram {
        let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut h = Histogram::new(lo, hi, HIST_BINS);
        h.add(v);
        h
    }

    #[test]
    fn parse_method() {
        assert_eq!("minmax".parse(), Ok(CalibMethod::MinMax));
        assert_eq!("MSE".parse(), Ok(CalibMethod::Mse));
        assert_eq!(
            "percentile".parse(),
            Ok(CalibMethod::Percentile(DEFAULT_PERCENTILE))
        );
        assert_eq!("percentile:99.9".parse(), Ok(CalibMethod::Percentile(99.9)));
        assert!("percentile:20".parse::<CalibMethod>().is_err());
        assert!("kl".parse::<CalibMethod>().is_err());
        for m in [
            CalibMethod::MinMax,
            CalibMethod::Mse,
            CalibMethod::Percentile(99.5),
        ] {
            assert_eq!(m.to_string().parse(), Ok(m));
        }
    }

    #[test]
    fn percentile_within_minmax_and_shrinks_on_heavy_tails() {
        let v = laplace_with_outliers(100_000);
        let h = hist(&v);
        let (lo, hi) = h.percentile_range(99.9);
        assert!(lo >= -45.0 && hi <= 80.0, "{lo} {hi}");
        assert!(lo <= 0.0 && hi >= 0.0);
        assert!(hi < 20.0 && lo > -20.0, "tails clipped: {lo} {hi}");
        // At most the tail mass lies outside, per side.
        let tail = v.len() as f64 * 0.001;
        assert!(v.iter().filter(|&&x| x > hi).count() as f64 <= tail);
        assert!(v.iter().filter(|&&x| x < lo).count() as f64 <= tail);
        // 100 keeps everything.
        assert_eq!(h.percentile_range(100.0), (-45.0, 80.0));
        // A narrower percentile never widens the range.
        let (lo2, hi2) = h.percentile_range(99.0);
        assert!(lo2 >= lo && hi2 <= hi);
    }

    #[test]
    fn percentile_of_relu_like_keeps_zero_floor() {
        let mut s = 7u64;
        let v: Vec<f32> = (0..10_000).map(|_| rng(&mut s) as f32 * 4.0).collect();
        let (lo, hi) = hist(&v).percentile_range(99.99);
        assert_eq!(lo, 0.0);
        assert!(hi <= 4.0 && hi > 3.9);
    }

    #[test]
    fn mse_narrower_than_minmax_on_laplacian_with_outliers() {
        let v = laplace_with_outliers(100_000);
        let h = hist(&v);
        let (lo, hi) = h.mse_range();
        assert!(lo <= 0.0 && hi >= 0.0);
        assert!(lo > -45.0 && hi < 80.0, "{lo} {hi}");
        // And the real quantization error of the data is smaller than with min/max.
        let err = |(lo, hi): (f32, f32)| {
            let (scale, zp) = act_qparams(lo, hi);
            v.iter()
                .map(|&x| {
                    let q = ((x / scale).round() as i32 + zp).clamp(-128, 127);
                    let d = (q - zp) as f64 * scale as f64 - x as f64;
                    d * d
                })
                .sum::<f64>()
        };
        assert!(err((lo, hi)) < err((-45.0, 80.0)));
        // Uniform data: MSE keeps (nearly) the whole range.
        let mut s = 99u64;
        let u: Vec<f32> = (0..50_000)
            .map(|_| rng(&mut s) as f32 * 2.0 - 1.0)
            .collect();
        let (ulo, uhi) = hist(&u).mse_range();
        assert!(ulo < -0.95 && uhi > 0.95, "{ulo} {uhi}");
    }

    #[test]
    fn degenerate_histograms() {
        let mut h = Histogram::new(3.0, 3.0, HIST_BINS);
        h.add(&[3.0, 3.0]);
        assert_eq!(h.percentile_range(99.99), (0.0, 3.0));
        assert_eq!(h.mse_range(), (0.0, 3.0));
        let h = Histogram::new(-1.0, 2.0, HIST_BINS);
        assert_eq!(h.mse_range(), (-1.0, 2.0));
    }
}
