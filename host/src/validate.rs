//! Comparison metrics: device vs host simulation vs float reference vs labels.

use serde::Serialize;

/// f32 contract of DESIGN.md: `|x - ref| <= ATOL + RTOL * |ref|`.
pub const F32_ATOL: f32 = 1e-5;
pub const F32_RTOL: f32 = 1e-4;

/// How one set of outputs compares with another (all samples, all elements of one output).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Agreement {
    /// Largest `|a - b|`.
    pub max_abs_error: f64,
    pub rmse: f64,
    /// Mean over samples of the cosine similarity of the two output vectors.
    pub cosine_similarity: f64,
    /// Fraction of samples whose arg-max agrees (classifier outputs).
    pub top1_agreement: f64,
    /// Elements outside the f32 tolerance (`ATOL + RTOL * |b|`, `b` the reference).
    pub out_of_tolerance: u64,
    /// Elements that differ at all (bit patterns).
    pub mismatched: u64,
    pub elements: u64,
}

impl Agreement {
    pub fn bit_exact(&self) -> bool {
        self.mismatched == 0
    }
    pub fn within_f32_tolerance(&self) -> bool {
        self.out_of_tolerance == 0
    }
}

pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Compares `a` with the reference `b`; both are `[sample][element]` with equal shapes.
pub fn agreement(a: &[Vec<f32>], b: &[Vec<f32>]) -> Agreement {
    assert_eq!(a.len(), b.len(), "sample counts");
    let mut m = Agreement::default();
    let (mut sq, mut cos_sum, mut top1) = (0f64, 0f64, 0u64);
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len(), "output lengths");
        let (mut dot, mut nx, mut ny) = (0f64, 0f64, 0f64);
        for (&p, &q) in x.iter().zip(y) {
            let d = (p as f64 - q as f64).abs();
            if d.is_nan() || d > m.max_abs_error {
                m.max_abs_error = if d.is_nan() { f64::INFINITY } else { d };
            }
            sq += d * d;
            if p.to_bits() != q.to_bits() {
                m.mismatched += 1;
            }
            let within = (p - q).abs() <= F32_ATOL + F32_RTOL * q.abs();
            if !within && p.to_bits() != q.to_bits() {
                m.out_of_tolerance += 1;
            }
            dot += p as f64 * q as f64;
            nx += p as f64 * p as f64;
            ny += q as f64 * q as f64;
        }
        m.elements += x.len() as u64;
        cos_sum += if nx == 0.0 && ny == 0.0 {
            1.0
        } else if nx == 0.0 || ny == 0.0 {
            0.0
        } else {
            dot / (nx.sqrt() * ny.sqrt())
        };
        if !x.is_empty() && argmax(x) == argmax(y) {
            top1 += 1;
        }
    }
    let n = a.len().max(1) as f64;
    m.rmse = (sq / (m.elements.max(1) as f64)).sqrt();
    m.cosine_similarity = cos_sum / n;
    m.top1_agreement = top1 as f64 / n;
    m
}

/// Fraction of samples whose arg-max equals the label.
pub fn accuracy(outputs: &[Vec<f32>], labels: &[i64]) -> f64 {
    let hits = outputs
        .iter()
        .zip(labels)
        .filter(|(o, &l)| l >= 0 && argmax(o) == l as usize)
        .count();
    hits as f64 / outputs.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_outputs_agree_exactly() {
        let a = vec![vec![0.1, 0.9, -2.0], vec![3.0, 1.0, 0.0]];
        let m = agreement(&a, &a);
        assert!(m.bit_exact() && m.within_f32_tolerance());
        assert_eq!(m.max_abs_error, 0.0);
        assert!((m.cosine_similarity - 1.0).abs() < 1e-12);
        assert_eq!(m.top1_agreement, 1.0);
    }

    #[test]
    fn tolerance_and_top1_detect_differences() {
        let a = vec![vec![1.0, 2.0], vec![1.0, 0.5]];
        let b = vec![vec![1.0, 2.00001], vec![0.4, 0.5]];
        let m = agreement(&a, &b);
        assert_eq!(m.mismatched, 2);
        assert_eq!(
            m.out_of_tolerance, 1,
            "2.0 vs 2.00001 is inside 1e-5 + 1e-4*2; 1.0 vs 0.4 is not"
        );
        assert_eq!(m.top1_agreement, 0.5);
        assert!((m.max_abs_error - 0.6).abs() < 1e-6);
    }

    #[test]
    fn accuracy_counts_argmax_hits() {
        let o = vec![vec![0.0, 1.0], vec![1.0, 0.0], vec![0.2, 0.1]];
        assert!((accuracy(&o, &[1, 1, 0]) - 2.0 / 3.0).abs() < 1e-12);
    }
}
