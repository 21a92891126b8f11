//! Binary-classification pieces of the XOR probes: binarisation rules, the XOR of two
//! independent Bernoulli probabilities, confusion-matrix scores and the ROC curve (the statistics are [`crate::stats`]'s), and a
//! one-dimensional logistic calibration that turns a baseline's imputed value into a
//! probability.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a gene's expression is turned into HIGH / not HIGH.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binarize {
    /// HIGH ⇔ value **>** the `q`-quantile of the values (numpy's linear interpolation). With
    /// many zeros the quantile is 0 and HIGH means "expressed".
    Quantile {
        /// Quantile in (0, 1).
        q: f64,
    },
    /// HIGH ⇔ value > the midpoint of the two cluster means of a 1-D two-means clustering
    /// (Lloyd's iterations from the minimum and maximum): a cut between the modes of an on/off
    /// gene, whatever share of cells is ON.
    TwoMeans,
}

impl Binarize {
    /// The threshold this rule puts on `values` (HIGH ⇔ value > threshold).
    ///
    /// # Errors
    /// [`Error::Empty`] for no values, [`Error::InvalidParam`] for `q` outside (0, 1),
    /// [`Error::NonFinite`] for NaN/∞.
    pub fn threshold(&self, values: &[f64]) -> Result<f64> {
        if values.is_empty() {
            return Err(Error::Empty {
                what: "values to binarise",
                why: "no cells".into(),
            });
        }
        if let Some((i, &v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "values to binarise",
                row: i,
                col: 0,
                value: v,
            });
        }
        match *self {
            Binarize::Quantile { q } => {
                if !(q > 0.0 && q < 1.0) {
                    return Err(Error::param("q", q, "must be in (0, 1)"));
                }
                Ok(crate::stats::quantile(values, q))
            }
            Binarize::TwoMeans => Ok(two_means(values)),
        }
    }
}

fn two_means(values: &[f64]) -> f64 {
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo == hi {
        return lo;
    }
    for _ in 0..100 {
        let cut = 0.5 * (lo + hi);
        let (mut s0, mut n0, mut s1, mut n1) = (0.0, 0usize, 0.0, 0usize);
        for &v in values {
            if v > cut {
                s1 += v;
                n1 += 1;
            } else {
                s0 += v;
                n0 += 1;
            }
        }
        let (a, b) = (s0 / n0.max(1) as f64, s1 / n1.max(1) as f64);
        if a == lo && b == hi {
            break;
        }
        lo = a;
        hi = b;
    }
    0.5 * (lo + hi)
}

/// The bin threshold `b` for which `bin ≥ b` best reproduces an expression call: exactly 1
/// when the expression threshold is 0 (HIGH ⇔ expressed ⇔ bin ≥ 1, since bin 0 is "not
/// expressed"), otherwise the `b` in `1..n_bins` with the most agreements on the training
/// cells (smallest on ties).
pub fn bin_threshold(bins: &[u32], labels: &[bool], expr_threshold: f64, n_bins: u32) -> u32 {
    if expr_threshold <= 0.0 {
        return 1;
    }
    let k = n_bins as usize;
    let mut pos = vec![0usize; k + 1];
    let mut neg = vec![0usize; k + 1];
    for (&b, &l) in bins.iter().zip(labels) {
        let b = (b as usize).min(k - 1);
        if l {
            pos[b] += 1;
        } else {
            neg[b] += 1;
        }
    }
    let n_pos: usize = pos.iter().sum();
    let (mut best, mut best_agree) = (1u32, 0usize);
    // agreements(b) = #pos with bin ≥ b + #neg with bin < b.
    let mut pos_below = pos[0];
    let mut neg_below = neg[0];
    for b in 1..k {
        let agree = (n_pos - pos_below) + neg_below;
        if agree > best_agree {
            best_agree = agree;
            best = b as u32;
        }
        pos_below += pos[b];
        neg_below += neg[b];
    }
    best
}

/// `P(exactly one of two independent events)`: `p1 (1 − p2) + p2 (1 − p1)`.
pub fn xor_probability(p1: f64, p2: f64) -> f64 {
    p1 * (1.0 - p2) + p2 * (1.0 - p1)
}

/// Scores of binary predictions against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryScores {
    /// Cells scored.
    pub n: usize,
    /// Cells whose truth is positive.
    pub n_positive: usize,
    /// Mean of sensitivity and specificity of `score >= 0.5`.
    pub balanced_accuracy: f64,
    /// Area under the ROC curve of the score (ties count one half).
    pub auroc: f64,
    /// `[[TN, FP], [FN, TP]]` of `score >= 0.5`.
    pub confusion: [[usize; 2]; 2],
}

/// ROC curve of `score`: `(false positive rate, true positive rate)` from `(0, 0)` to `(1, 1)`,
/// one point per distinct score (thresholds descending).
///
/// # Errors
/// As [`crate::stats::auroc`].
pub fn roc_curve(score: &[f64], truth: &[bool]) -> Result<Vec<(f64, f64)>> {
    crate::stats::check_scores("roc_curve", score, truth)?;
    let n_pos = truth.iter().filter(|&&t| t).count().max(1) as f64;
    let n_neg = truth.iter().filter(|&&t| !t).count().max(1) as f64;
    let order = crate::stats::descending(score);
    let mut pts = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && score[order[j]] == score[order[i]] {
            if truth[order[j]] {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        pts.push((fp as f64 / n_neg, tp as f64 / n_pos));
        i = j;
    }
    Ok(pts)
}

/// Balanced accuracy (at 0.5), AUROC (0.5, "no information", when a class is empty) and
/// confusion matrix of probabilities `p`.
///
/// # Errors
/// As [`crate::stats::auroc`].
pub fn score_binary(p: &[f64], truth: &[bool]) -> Result<BinaryScores> {
    let pred: Vec<bool> = p.iter().map(|&v| v >= 0.5).collect();
    let (ba, confusion) = crate::stats::balanced_accuracy(&pred, truth)?;
    Ok(BinaryScores {
        n: truth.len(),
        n_positive: truth.iter().filter(|&&t| t).count(),
        balanced_accuracy: ba,
        auroc: crate::stats::auroc(p, truth)?.unwrap_or(0.5),
        confusion,
    })
}

/// `P(y = 1 | x) = σ(a + b x)`, fitted by Newton's method on the log-likelihood with a small
/// ridge on `b` (1e-6 · n), which keeps the fit finite when the classes are perfectly
/// separated. This is how the XOR probes turn a baseline's imputed value into a probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Logistic1d {
    /// Intercept.
    pub a: f64,
    /// Slope (on the standardised value; see `center`, `scale`).
    pub b: f64,
    /// Mean of the training `x`.
    pub center: f64,
    /// Standard deviation of the training `x` (1 if constant).
    pub scale: f64,
}

impl Logistic1d {
    /// Fits to `(x, y)`.
    ///
    /// # Errors
    /// [`Error::Shape`] for different lengths, [`Error::Empty`] for no data,
    /// [`Error::NonFinite`].
    pub fn fit(x: &[f64], y: &[bool]) -> Result<Self> {
        crate::stats::check_scores("Logistic1d", x, y)?;
        if x.is_empty() {
            return Err(Error::Empty {
                what: "calibration data",
                why: "no cells".into(),
            });
        }
        if let Some((i, &v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "calibration values",
                row: i,
                col: 0,
                value: v,
            });
        }
        let n = x.len() as f64;
        let center = x.iter().sum::<f64>() / n;
        let sd = (x.iter().map(|v| (v - center) * (v - center)).sum::<f64>() / n).sqrt();
        let scale = if sd > 0.0 { sd } else { 1.0 };
        let z: Vec<f64> = x.iter().map(|v| (v - center) / scale).collect();
        let lambda = 1e-6 * n;
        let pos = y.iter().filter(|&&t| t).count() as f64;
        // Start at the base rate (clamped away from 0 and 1).
        let base = (pos / n).clamp(1e-6, 1.0 - 1e-6);
        let (mut a, mut b) = ((base / (1.0 - base)).ln(), 0.0f64);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, -lambda * b, 0.0, 0.0, lambda);
            for (&zi, &yi) in z.iter().zip(y) {
                let p = crate::stats::sigmoid(a + b * zi);
                let r = f64::from(u8::from(yi)) - p;
                let w = (p * (1.0 - p)).max(1e-12);
                ga += r;
                gb += r * zi;
                haa += w;
                hab += w * zi;
                hbb += w * zi * zi;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a += da;
            b += db;
            if da.abs() + db.abs() < 1e-10 {
                break;
            }
        }
        Ok(Self {
            a,
            b,
            center,
            scale,
        })
    }

    /// `P(y = 1 | x)`.
    pub fn predict(&self, x: f64) -> f64 {
        crate::stats::sigmoid(self.a + self.b * (x - self.center) / self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_counts_ties_as_half_and_matches_pairs() {
        let s = [0.1, 0.4, 0.35, 0.8, 0.4];
        let t = [false, false, true, true, true];
        // Pairs (pos, neg): 0.35>0.1 ✓, 0.35<0.4 ✗, 0.8 ✓✓, 0.4>0.1 ✓, 0.4=0.4 ½ → 4.5 / 6.
        let auroc = |s: &[f64], t: &[bool]| crate::stats::auroc(s, t).map(|a| a.unwrap_or(0.5));
        assert!((auroc(&s, &t).unwrap() - 4.5 / 6.0).abs() < 1e-12);
        let roc = roc_curve(&s, &t).unwrap();
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert!(auroc(&s, &t[..4]).is_err());
    }

    #[test]
    fn balanced_accuracy_and_xor_probability() {
        let (ba, c) = crate::stats::balanced_accuracy(
            &[true, false, true, true],
            &[true, false, false, true],
        )
        .unwrap();
        assert_eq!(c, [[1, 1], [0, 2]]);
        assert!((ba - 0.75).abs() < 1e-12);
        assert_eq!(xor_probability(1.0, 0.0), 1.0);
        assert_eq!(xor_probability(1.0, 1.0), 0.0);
        assert!((xor_probability(0.5, 0.5) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bin_threshold_is_exact_at_zero_and_best_agreement_otherwise() {
        assert_eq!(bin_threshold(&[0, 5, 9], &[false, true, true], 0.0, 11), 1);
        // Calls are HIGH from bin 6 up, with one noisy cell.
        let bins = [0, 2, 4, 5, 6, 7, 9, 10, 3];
        let labels = [false, false, false, false, true, true, true, true, true];
        assert_eq!(bin_threshold(&bins, &labels, 1.0, 11), 6);
    }

    #[test]
    fn thresholds_and_calibration() {
        let v = [0.0, 0.0, 0.0, 0.0, 1.0, 2.0]; // numpy: quantile(v, 0.6) = 0
        assert_eq!(Binarize::Quantile { q: 0.6 }.threshold(&v).unwrap(), 0.0);
        let bimodal: Vec<f64> = (0..100)
            .map(|i| {
                if i % 3 == 0 {
                    5.0 + (i % 7) as f64 * 0.1
                } else {
                    (i % 5) as f64 * 0.1
                }
            })
            .collect();
        let t = Binarize::TwoMeans.threshold(&bimodal).unwrap();
        assert!(t > 0.5 && t < 5.0, "{t}");
        assert!(Binarize::Quantile { q: 1.5 }.threshold(&v).is_err());
        let y: Vec<bool> = bimodal.iter().map(|&x| x > t).collect();
        let l = Logistic1d::fit(&bimodal, &y).unwrap();
        assert!(l.predict(6.0) > 0.99 && l.predict(0.0) < 0.01);
    }
}
