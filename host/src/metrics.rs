//! Output-comparison metrics for `kiln validate`: one set of model outputs against another (device
//! vs float reference, device vs host simulation) and outputs against labels.
//!
//! Conventions shared by every function:
//! - a batch is `[sample][element]`: the outer slice holds samples, the inner `Vec` one sample's
//!   flattened output;
//! - all arithmetic is done in `f64` (each `f32` converts exactly);
//! - shape mismatches between the two sides are caller bugs and panic (documented per function);
//! - non-finite inputs propagate (NaN in → NaN out) rather than being silently dropped; a metric
//!   whose denominator is exactly zero is `None` rather than inf/NaN, so reports stay JSON-safe.
//!   serde_json writes a NaN or infinite `f64` as `null`, which does not deserialize back into
//!   `f64`: callers that may hold such values should check `is_finite` before serializing.

use serde::{Deserialize, Serialize};

/// Relative slack, in LSBs, for `f32` rounding of dequantized values (see [`lsb_diff`]).
const LSB_SLACK: f64 = 1e-3;

/// Element-wise comparison of a prediction batch with a reference batch (see [`compare`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compare {
    /// `sqrt(mean((p - r)^2))`; 0 when there are no elements.
    pub rmse: f64,
    /// `mean(|p - r|)`; 0 when there are no elements.
    pub mae: f64,
    /// `max(|p - r|)`; 0 when there are no elements.
    pub max_abs: f64,
    /// `||p - r||_2 / ||r||_2`; `Some(0.0)` when both norms are 0, `None` when only `||r||_2` is 0.
    pub rel_l2: Option<f64>,
    /// `<p, r> / (||p||_2 ||r||_2)` over the whole flattened batch, clamped to `[-1, 1]`; `None`
    /// when either norm is 0.
    pub cosine: Option<f64>,
    /// Nash–Sutcliffe efficiency `1 - Σ(p - r)^2 / Σ(r - mean(r))^2` (1 is perfect, 0 is no better
    /// than predicting `mean(r)`, unbounded below); `None` when the reference has zero variance
    /// (including no elements).
    pub nse: Option<f64>,
    /// Number of elements compared (all samples).
    pub elements: usize,
}

/// Compares `pred` with `reference` over all elements of all samples.
///
/// See the [`Compare`] fields for each formula and its undefined cases. NaN or infinite inputs
/// propagate into the affected fields (an `Option` field is then `Some(NaN)`, not `None`).
///
/// # Panics
/// If the sample counts differ or any sample's lengths differ.
pub fn compare(pred: &[Vec<f32>], reference: &[Vec<f32>]) -> Compare {
    check_batch_shapes(pred, reference);
    let pairs = || {
        pred.iter()
            .zip(reference)
            .flat_map(|(p, r)| p.iter().zip(r))
            .map(|(&p, &r)| (f64::from(p), f64::from(r)))
    };

    let mut elements = 0usize;
    let (mut sse, mut sae, mut max_abs) = (0f64, 0f64, 0f64);
    let (mut dot, mut pp, mut rr) = (0f64, 0f64, 0f64);
    // The reference is shifted by its first value before taking the mean, so a constant reference
    // gives an exactly zero variance (and less cancellation otherwise).
    let shift = pairs().next().map_or(0.0, |(_, r)| r);
    let mut shifted_sum = 0f64;
    for (p, r) in pairs() {
        let d = p - r;
        elements += 1;
        sse += d * d;
        sae += d.abs();
        max_abs = nan_max(max_abs, d.abs());
        dot += p * r;
        pp += p * p;
        rr += r * r;
        shifted_sum += r - shift;
    }

    if elements == 0 {
        return Compare {
            rmse: 0.0,
            mae: 0.0,
            max_abs: 0.0,
            rel_l2: Some(0.0),
            cosine: None,
            nse: None,
            elements,
        };
    }
    let n = elements as f64;
    let shifted_mean = shifted_sum / n;
    let sst: f64 = pairs()
        .map(|(_, r)| {
            let c = (r - shift) - shifted_mean;
            c * c
        })
        .sum();

    Compare {
        rmse: (sse / n).sqrt(),
        mae: sae / n,
        max_abs,
        rel_l2: if rr == 0.0 {
            (sse == 0.0).then_some(0.0)
        } else {
            Some((sse / rr).sqrt())
        },
        cosine: cosine_from_sums(dot, pp, rr),
        nse: (sst != 0.0).then(|| 1.0 - sse / sst),
        elements,
    }
}

/// Cosine similarity `<a, b> / (||a||_2 ||b||_2)` of two single tensors, clamped to `[-1, 1]`.
///
/// `None` when either norm is 0 (including empty tensors); NaN inputs give `Some(NaN)`.
///
/// # Panics
/// If the lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f64> {
    assert_eq!(a.len(), b.len(), "cosine: tensor lengths differ");
    let (mut dot, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    cosine_from_sums(dot, aa, bb)
}

/// Signal-to-noise ratio of `test` against the reference signal, in dB:
/// `10 * log10(Σ r^2 / Σ (t - r)^2)`.
///
/// `None` when `Σ r^2 == 0` (including empty inputs); `Some(f64::INFINITY)` when `test` equals
/// the reference exactly. An infinite value must not be serialized as a JSON number: render or
/// drop it first. NaN inputs give `Some(NaN)`.
///
/// # Panics
/// If the lengths differ.
pub fn snr_db(signal_ref: &[f32], test: &[f32]) -> Option<f64> {
    assert_eq!(
        signal_ref.len(),
        test.len(),
        "snr_db: signal lengths differ"
    );
    let (mut signal, mut noise) = (0f64, 0f64);
    for (&r, &t) in signal_ref.iter().zip(test) {
        let (r, t) = (f64::from(r), f64::from(t));
        signal += r * r;
        noise += (t - r) * (t - r);
    }
    if signal == 0.0 {
        None
    } else if noise == 0.0 {
        Some(f64::INFINITY)
    } else {
        Some(10.0 * (signal / noise).log10())
    }
}

/// Top-k accuracy: the fraction of samples whose label is among the `k` largest outputs.
///
/// Ties favour the label: it is in the top `k` iff fewer than `k` outputs are *strictly* greater
/// than `outputs[label]` (NaN outputs are never greater). A sample counts as wrong when its label
/// is negative or not below the output length, or `outputs[label]` is NaN. `k == 0` gives 0; no
/// samples gives 0.
///
/// # Panics
/// If `outputs` and `labels` have different lengths.
pub fn top_k(outputs: &[Vec<f32>], labels: &[i64], k: usize) -> f64 {
    assert_eq!(
        outputs.len(),
        labels.len(),
        "top_k: sample and label counts differ"
    );
    let hits = outputs
        .iter()
        .zip(labels)
        .filter(|(out, &label)| {
            let Some(target) = class_index(label, out.len()).map(|i| out[i]) else {
                return false;
            };
            !target.is_nan() && out.iter().filter(|&&x| x > target).count() < k
        })
        .count();
    fraction(hits, outputs.len())
}

/// Fraction of samples whose arg-max (index of the first maximum, NaN elements ignored) is the same
/// in `a` and `b`. A sample with no arg-max on either side (empty or all NaN) counts as a
/// disagreement; no samples gives 0.
///
/// # Panics
/// If the sample counts differ or any sample's lengths differ.
pub fn top1_agreement(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    check_batch_shapes(a, b);
    let agree = a
        .iter()
        .zip(b)
        .filter(|(x, y)| matches!((argmax(x), argmax(y)), (Some(i), Some(j)) if i == j))
        .count();
    fraction(agree, a.len())
}

/// Confusion matrix: `counts[true_label][predicted]`, both in `0..classes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub classes: usize,
    /// `classes × classes`; row = true label, column = predicted class (arg-max of the outputs).
    pub counts: Vec<Vec<u64>>,
}

/// Builds the confusion matrix of `outputs` (arg-max = first maximum, NaN elements ignored)
/// against `labels`.
///
/// Samples are skipped (counted nowhere) when the label is outside `0..classes`, or when the
/// prediction is: undefined (empty or all-NaN output) or not below `classes` (output wider than
/// `classes`).
///
/// # Panics
/// If `outputs` and `labels` have different lengths.
pub fn confusion(outputs: &[Vec<f32>], labels: &[i64], classes: usize) -> Confusion {
    assert_eq!(
        outputs.len(),
        labels.len(),
        "confusion: sample and label counts differ"
    );
    let mut counts = vec![vec![0u64; classes]; classes];
    for (out, &label) in outputs.iter().zip(labels) {
        let truth = class_index(label, classes);
        let predicted = argmax(out).filter(|&p| p < classes);
        if let (Some(t), Some(p)) = (truth, predicted) {
            counts[t][p] += 1;
        }
    }
    Confusion { classes, counts }
}

impl Confusion {
    /// Per true class `c`: `counts[c][c] / Σ counts[c]`; `None` for a class with no samples.
    pub fn per_class_recall(&self) -> Vec<Option<f64>> {
        self.counts
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let total: u64 = row.iter().sum();
                let hit = row.get(c).copied().unwrap_or(0);
                (total != 0).then(|| hit as f64 / total as f64)
            })
            .collect()
    }

    /// Trace over total count; 0 when the matrix is empty.
    pub fn accuracy(&self) -> f64 {
        let total: u64 = self.counts.iter().flatten().sum();
        let trace: u64 = self
            .counts
            .iter()
            .enumerate()
            .filter_map(|(c, row)| row.get(c))
            .sum();
        if total == 0 {
            0.0
        } else {
            trace as f64 / total as f64
        }
    }
}

/// Distance between two quantized outputs, in LSBs (see [`lsb_diff`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LsbDiff {
    /// `max(|a - b|) / lsb`; 0 when there are no elements.
    pub max_lsb: f64,
    /// Fraction of elements with `|a - b| <= 1 lsb` (with `1e-3` lsb slack for rounding).
    pub within_1_lsb: f64,
    /// Fraction of elements with `|a - b| <= 1e-3 lsb`, i.e. the same quantized value.
    pub exact: f64,
    /// Number of elements compared (all samples).
    pub elements: usize,
}

/// Compares two batches of dequantized int8 outputs sharing the quantization step `lsb` (the
/// scale), so that `a - b` is an integer multiple of `lsb` up to `f32` rounding; a slack of
/// `1e-3` lsb absorbs that rounding in the `within_1_lsb` and `exact` thresholds.
///
/// Fractions are 0 when there are no elements; NaN differences make `max_lsb` NaN and count in
/// neither fraction.
///
/// # Panics
/// If `lsb` is not finite and positive, the sample counts differ or any sample's lengths differ.
pub fn lsb_diff(a: &[Vec<f32>], b: &[Vec<f32>], lsb: f32) -> LsbDiff {
    assert!(
        lsb.is_finite() && lsb > 0.0,
        "lsb_diff: lsb must be finite and positive, got {lsb}"
    );
    check_batch_shapes(a, b);
    let lsb = f64::from(lsb);
    let (mut elements, mut within, mut exact, mut max_lsb) = (0usize, 0usize, 0usize, 0f64);
    for (&x, &y) in a.iter().zip(b).flat_map(|(x, y)| x.iter().zip(y)) {
        let d = (f64::from(x) - f64::from(y)).abs() / lsb;
        elements += 1;
        max_lsb = nan_max(max_lsb, d);
        within += usize::from(d <= 1.0 + LSB_SLACK);
        exact += usize::from(d <= LSB_SLACK);
    }
    LsbDiff {
        max_lsb,
        within_1_lsb: fraction(within, elements),
        exact: fraction(exact, elements),
        elements,
    }
}

/// Panics unless `a` and `b` have the same number of samples and equal per-sample lengths.
fn check_batch_shapes(a: &[Vec<f32>], b: &[Vec<f32>]) {
    assert_eq!(a.len(), b.len(), "sample counts differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.len(), y.len(), "sample {i}: output lengths differ");
    }
}

/// Cosine from `<a, b>`, `||a||^2`, `||b||^2`; `None` when a norm is 0.
fn cosine_from_sums(dot: f64, aa: f64, bb: f64) -> Option<f64> {
    (aa != 0.0 && bb != 0.0).then(|| (dot / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0))
}

/// `max` that propagates NaN (`f64::max` ignores it).
fn nan_max(acc: f64, x: f64) -> f64 {
    if acc.is_nan() || x.is_nan() {
        f64::NAN
    } else {
        acc.max(x)
    }
}

/// Index of the first maximum, NaN elements ignored; `None` if empty or all NaN.
fn argmax(v: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &x) in v.iter().enumerate() {
        if !x.is_nan() && best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

/// `label` as an index into `0..len`, if in range.
fn class_index(label: i64, len: usize) -> Option<usize> {
    usize::try_from(label).ok().filter(|&i| i < len)
}

/// `part / whole`, 0 when `whole == 0`.
fn fraction(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + b.abs())
    }

    macro_rules! assert_close {
        ($a:expr, $b:expr) => {{
            let (a, b): (f64, f64) = ($a, $b);
            assert!(close(a, b), "{a} != {b}");
        }};
    }

    #[test]
    fn compare_hand_computed() {
        // Elements: p = [1, 2, 3, 4], r = [1, 1, 4, 2]; d = [0, 1, -1, 2].
        let pred = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        let reference = vec![vec![1.0, 1.0], vec![4.0, 2.0]];
        let c = compare(&pred, &reference);
        assert_eq!(c.elements, 4);
        // Σd² = 6, Σ|d| = 4.
        assert_close!(c.rmse, (6.0f64 / 4.0).sqrt());
        assert_close!(c.mae, 1.0);
        assert_close!(c.max_abs, 2.0);
        // ||r||² = 1 + 1 + 16 + 4 = 22.
        assert_close!(c.rel_l2.unwrap(), (6.0f64 / 22.0).sqrt());
        // <p, r> = 1 + 2 + 12 + 8 = 23, ||p||² = 30.
        assert_close!(c.cosine.unwrap(), 23.0 / (30.0f64.sqrt() * 22.0f64.sqrt()));
        // mean(r) = 2, Σ(r - 2)² = 1 + 1 + 4 + 0 = 6 → nse = 1 - 6/6 = 0.
        assert_close!(c.nse.unwrap(), 0.0);
    }

    #[test]
    fn compare_identical() {
        let x = vec![vec![0.5, -1.25, 3.0], vec![7.0, 0.0, -2.0]];
        let c = compare(&x, &x);
        assert_eq!(c.rmse, 0.0);
        assert_eq!(c.mae, 0.0);
        assert_eq!(c.max_abs, 0.0);
        assert_eq!(c.rel_l2, Some(0.0));
        assert_close!(c.cosine.unwrap(), 1.0);
        assert_eq!(c.nse, Some(1.0));
        assert_eq!(c.elements, 6);
    }

    #[test]
    fn compare_constant_reference_has_no_nse() {
        // 0.1 is inexact in binary: the variance must still be exactly zero.
        let reference = vec![vec![0.1f32; 7]; 3];
        let pred = vec![vec![0.2f32; 7]; 3];
        let c = compare(&pred, &reference);
        assert_eq!(c.nse, None);
        assert!(c.rel_l2.is_some());
        assert_close!(c.cosine.unwrap(), 1.0);
    }

    #[test]
    fn compare_zero_norms() {
        let zeros = vec![vec![0.0f32; 3]];
        let ones = vec![vec![1.0f32; 3]];
        // Both zero: rel_l2 0, cosine undefined.
        let c = compare(&zeros, &zeros);
        assert_eq!(c.rel_l2, Some(0.0));
        assert_eq!(c.cosine, None);
        assert_eq!(c.nse, None);
        // Only the reference is zero: rel_l2 and cosine undefined.
        let c = compare(&ones, &zeros);
        assert_eq!(c.rel_l2, None);
        assert_eq!(c.cosine, None);
        assert_close!(c.rmse, 1.0);
        // Only the prediction is zero: rel_l2 = 1, cosine undefined.
        let c = compare(&zeros, &ones);
        assert_eq!(c.rel_l2, Some(1.0));
        assert_eq!(c.cosine, None);
    }

    #[test]
    fn compare_empty() {
        let c = compare(&[], &[]);
        assert_eq!(c.elements, 0);
        assert_eq!((c.rmse, c.mae, c.max_abs), (0.0, 0.0, 0.0));
        assert_eq!((c.rel_l2, c.cosine, c.nse), (Some(0.0), None, None));
        let c = compare(&[vec![]], &[vec![]]);
        assert_eq!(c.elements, 0);
    }

    #[test]
    fn compare_nan_propagates() {
        let pred = vec![vec![f32::NAN, 1.0, 2.0]];
        let reference = vec![vec![1.0, 2.0, 3.0]];
        let c = compare(&pred, &reference);
        assert!(c.rmse.is_nan() && c.mae.is_nan() && c.max_abs.is_nan());
        assert!(c.rel_l2.unwrap().is_nan());
        assert!(c.cosine.unwrap().is_nan());
        assert!(c.nse.unwrap().is_nan());
        // NaN not in the first element must survive later larger differences too.
        let pred = vec![vec![1.0, f32::NAN, 100.0]];
        assert!(compare(&pred, &reference).max_abs.is_nan());
    }

    #[test]
    fn compare_serde_round_trip() {
        let c = compare(&[vec![1.0, 2.0]], &[vec![1.5, 2.0]]);
        let json = serde_json::to_string(&c).unwrap();
        let back: Compare = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let c = compare(&[vec![1.0]], &[vec![0.0]]);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"rel_l2\":null"), "{json}");
        assert_eq!(serde_json::from_str::<Compare>(&json).unwrap(), c);
    }

    #[test]
    #[should_panic(expected = "sample counts differ")]
    fn compare_sample_count_mismatch_panics() {
        compare(&[vec![1.0]], &[vec![1.0], vec![2.0]]);
    }

    #[test]
    #[should_panic(expected = "output lengths differ")]
    fn compare_length_mismatch_panics() {
        compare(&[vec![1.0, 2.0]], &[vec![1.0]]);
    }

    #[test]
    fn cosine_single() {
        assert_close!(cosine(&[1.0, 0.0], &[0.0, 1.0]).unwrap(), 0.0);
        assert_close!(cosine(&[1.0, 2.0], &[-2.0, -4.0]).unwrap(), -1.0);
        // <(1,1), (1,0)> = 1, norms √2 and 1.
        assert_close!(
            cosine(&[1.0, 1.0], &[1.0, 0.0]).unwrap(),
            1.0 / 2.0f64.sqrt()
        );
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), None);
        assert_eq!(cosine(&[], &[]), None);
        let v = [0.1f32, 0.7, -0.3, 1e-3];
        let c = cosine(&v, &v).unwrap();
        assert!(c <= 1.0 && close(c, 1.0));
    }

    #[test]
    #[should_panic(expected = "tensor lengths differ")]
    fn cosine_length_mismatch_panics() {
        cosine(&[1.0], &[1.0, 2.0]);
    }

    #[test]
    fn snr() {
        // Σr² = 100, Σ(t-r)² = 1 → 20 dB.
        assert_close!(snr_db(&[6.0, 8.0], &[6.0, 9.0]).unwrap(), 20.0);
        // Σr² = 2, Σ(t-r)² = 2 → 0 dB.
        assert_close!(snr_db(&[1.0, 1.0], &[0.0, 0.0]).unwrap(), 0.0);
        assert_eq!(snr_db(&[1.0, -2.0], &[1.0, -2.0]), Some(f64::INFINITY));
        assert_eq!(snr_db(&[0.0, 0.0], &[1.0, 2.0]), None);
        assert_eq!(snr_db(&[], &[]), None);
        assert!(snr_db(&[1.0], &[f32::NAN]).unwrap().is_nan());
    }

    #[test]
    #[should_panic(expected = "signal lengths differ")]
    fn snr_length_mismatch_panics() {
        snr_db(&[1.0, 2.0], &[1.0]);
    }

    #[test]
    fn top_k_basic() {
        let outputs = vec![
            vec![0.1, 0.7, 0.2], // label 1: rank 1
            vec![0.5, 0.3, 0.2], // label 1: rank 2
            vec![0.5, 0.3, 0.2], // label 2: rank 3
        ];
        let labels = [1, 1, 2];
        assert_close!(top_k(&outputs, &labels, 1), 1.0 / 3.0);
        assert_close!(top_k(&outputs, &labels, 2), 2.0 / 3.0);
        assert_close!(top_k(&outputs, &labels, 3), 1.0);
        assert_close!(top_k(&outputs, &labels, 10), 1.0);
        assert_eq!(top_k(&outputs, &labels, 0), 0.0);
    }

    #[test]
    fn top_k_ties_favour_the_label() {
        // All tied: nothing strictly greater, so any label is top-1.
        let outputs = vec![vec![0.25; 4], vec![0.25; 4]];
        assert_eq!(top_k(&outputs, &[0, 3], 1), 1.0);
        // Label tied with one other below a strict maximum: one greater → top-2 but not top-1.
        let outputs = vec![vec![0.9, 0.05, 0.05]];
        assert_eq!(top_k(&outputs, &[2], 1), 0.0);
        assert_eq!(top_k(&outputs, &[2], 2), 1.0);
    }

    #[test]
    fn top_k_bad_labels_and_nan() {
        let outputs = vec![vec![1.0, 0.0]; 4];
        assert_eq!(top_k(&outputs, &[-1, 2, 99, 0], 2), 0.25);
        // NaN at the label is wrong; NaN elsewhere is never greater.
        let outputs = vec![vec![f32::NAN, 0.5], vec![f32::NAN, 0.5]];
        assert_eq!(top_k(&outputs, &[0, 1], 1), 0.5);
        assert_eq!(top_k(&[], &[], 1), 0.0);
    }

    #[test]
    #[should_panic(expected = "label counts differ")]
    fn top_k_count_mismatch_panics() {
        top_k(&[vec![1.0]], &[0, 0], 1);
    }

    #[test]
    fn top1_agreement_basic() {
        let a = vec![vec![0.1, 0.9], vec![0.8, 0.2], vec![0.5, 0.5], vec![]];
        let b = vec![vec![0.3, 0.4], vec![0.1, 0.2], vec![0.5, 0.1], vec![]];
        // Agree, disagree, agree (first max index 0 on both sides), empty = disagree.
        assert_eq!(top1_agreement(&a, &b), 0.5);
        assert_eq!(top1_agreement(&a, &a), 0.75);
        assert_eq!(top1_agreement(&[], &[]), 0.0);
        // NaN elements are ignored by the arg-max.
        assert_eq!(
            top1_agreement(&[vec![f32::NAN, 1.0, 0.0]], &[vec![0.0, 2.0, 1.0]]),
            1.0
        );
    }

    #[test]
    #[should_panic(expected = "sample counts differ")]
    fn top1_agreement_mismatch_panics() {
        top1_agreement(&[vec![1.0]], &[]);
    }

    #[test]
    fn confusion_counts() {
        let outputs = vec![
            vec![0.9, 0.1, 0.0], // true 0, pred 0
            vec![0.2, 0.7, 0.1], // true 1, pred 1
            vec![0.6, 0.3, 0.1], // true 1, pred 0
            vec![0.0, 0.1, 0.9], // true 2, pred 2
            vec![0.0, 0.8, 0.2], // true 2, pred 1
            vec![0.0, 0.0, 1.0], // label 3: skipped
            vec![1.0, 0.0, 0.0], // label -1: skipped
        ];
        let labels = [0, 1, 1, 2, 2, 3, -1];
        let c = confusion(&outputs, &labels, 3);
        assert_eq!(c.classes, 3);
        assert_eq!(c.counts, vec![vec![1, 0, 0], vec![1, 1, 0], vec![0, 1, 1]]);
        assert_eq!(c.per_class_recall(), vec![Some(1.0), Some(0.5), Some(0.5)]);
        assert_close!(c.accuracy(), 3.0 / 5.0);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Confusion>(&json).unwrap(), c);
    }

    #[test]
    fn confusion_edge_cases() {
        // Class 1 never appears as a label; a prediction beyond `classes` is skipped.
        let outputs = vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 5.0], vec![]];
        let c = confusion(&outputs, &[0, 0, 0], 2);
        assert_eq!(c.counts, vec![vec![1, 0], vec![0, 0]]);
        assert_eq!(c.per_class_recall(), vec![Some(1.0), None]);
        assert_eq!(c.accuracy(), 1.0);
        let empty = confusion(&[], &[], 0);
        assert!(empty.counts.is_empty());
        assert_eq!(empty.accuracy(), 0.0);
        assert!(empty.per_class_recall().is_empty());
    }

    #[test]
    #[should_panic(expected = "label counts differ")]
    fn confusion_count_mismatch_panics() {
        confusion(&[vec![1.0]], &[], 1);
    }

    #[test]
    fn lsb_diff_dequantized() {
        // Dequantized int8 with scale 0.1: value = 0.1 * q, rounded to f32.
        let lsb = 0.1f32;
        let deq = |q: &[i8]| q.iter().map(|&q| lsb * f32::from(q)).collect::<Vec<f32>>();
        let a = vec![deq(&[0, 3, -7, 127]), deq(&[5, 5, -128, 1])];
        let b = vec![deq(&[0, 2, -7, 126]), deq(&[8, 5, -127, 1])];
        // |Δq| = [0, 1, 0, 1, 3, 0, 1, 0]: 4 exact, 7 within 1 LSB, max 3.
        let d = lsb_diff(&a, &b, lsb);
        assert_eq!(d.elements, 8);
        assert_eq!(d.exact, 4.0 / 8.0);
        assert_eq!(d.within_1_lsb, 7.0 / 8.0);
        assert!((d.max_lsb - 3.0).abs() < 1e-3, "{}", d.max_lsb);
        let same = lsb_diff(&a, &a, lsb);
        assert_eq!(
            (same.max_lsb, same.exact, same.within_1_lsb),
            (0.0, 1.0, 1.0)
        );
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<LsbDiff>(&json).unwrap(), d);
    }

    #[test]
    fn lsb_diff_empty_and_nan() {
        let d = lsb_diff(&[], &[], 0.5);
        assert_eq!(
            d,
            LsbDiff {
                max_lsb: 0.0,
                within_1_lsb: 0.0,
                exact: 0.0,
                elements: 0
            }
        );
        let d = lsb_diff(&[vec![f32::NAN, 1.0]], &[vec![0.0, 1.0]], 0.5);
        assert!(d.max_lsb.is_nan());
        assert_eq!((d.exact, d.within_1_lsb), (0.5, 0.5));
    }

    #[test]
    #[should_panic(expected = "lsb must be finite and positive")]
    fn lsb_diff_zero_lsb_panics() {
        lsb_diff(&[vec![1.0]], &[vec![1.0]], 0.0);
    }

    #[test]
    #[should_panic(expected = "output lengths differ")]
    fn lsb_diff_length_mismatch_panics() {
        lsb_diff(&[vec![1.0, 2.0]], &[vec![1.0]], 0.1);
    }

    fn batch_pair() -> impl Strategy<Value = (Vec<Vec<f32>>, Vec<Vec<f32>>)> {
        prop::collection::vec(
            prop::collection::vec((-1e6f32..1e6f32, -1e6f32..1e6f32), 0..8),
            0..6,
        )
        .prop_map(|samples| {
            samples
                .into_iter()
                .map(|pairs| pairs.into_iter().unzip::<f32, f32, Vec<f32>, Vec<f32>>())
                .unzip()
        })
    }

    proptest! {
        #[test]
        fn error_norms_are_ordered((pred, reference) in batch_pair()) {
            let c = compare(&pred, &reference);
            let slack = 1e-9 * (1.0 + c.max_abs);
            prop_assert!(c.rmse <= c.max_abs + slack, "rmse {} > max_abs {}", c.rmse, c.max_abs);
            prop_assert!(c.mae <= c.rmse + slack, "mae {} > rmse {}", c.mae, c.rmse);
            if let Some(cos) = c.cosine {
                prop_assert!((-1.0..=1.0).contains(&cos));
            }
        }
    }
}
