//! Binary-classification pieces of the XOR probes: binarisation rules, the XOR of two
//! independent Bernoulli probabilities, balanced accuracy, confusion matrix, ROC/AUROC, and a
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
                Ok(quantile(values, q))
            }
            Binarize::TwoMeans => Ok(two_means(values)),
        }
    }
}

/// The `q`-quantile of `values` with linear interpolation (numpy's default). `values` must be
/// non-empty and finite.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut s = values.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
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

/// Balanced accuracy and confusion matrix of predictions.
///
/// # Errors
/// [`Error::Shape`] if the lengths differ.
pub fn balanced_accuracy(pred: &[bool], truth: &[bool]) -> Result<(f64, [[usize; 2]; 2])> {
    if pred.len() != truth.len() {
        return Err(Error::shape(
            "balanced_accuracy",
            format!("{} predictions", truth.len()),
            format!("{}", pred.len()),
        ));
    }
    let mut c = [[0usize; 2]; 2];
    for (&p, &t) in pred.iter().zip(truth) {
        c[usize::from(t)][usize::from(p)] += 1;
    }
    let tpr = c[1][1] as f64 / (c[1][0] + c[1][1]).max(1) as f64;
    let tnr = c[0][0] as f64 / (c[0][0] + c[0][1]).max(1) as f64;
    Ok((0.5 * (tpr + tnr), c))
}

/// AUROC of `score` for `truth` (Mann–Whitney U with average ranks for ties); 0.5 when a class
/// is empty.
///
/// # Errors
/// [`Error::Shape`] if the lengths differ, [`Error::NonFinite`] for a NaN score.
pub fn auroc(score: &[f64], truth: &[bool]) -> Result<f64> {
    check_pair(score, truth)?;
    let n = score.len();
    let n_pos = truth.iter().filter(|&&t| t).count();
    let n_neg = n - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Ok(0.5);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && score[order[j]] == score[order[i]] {
            j += 1;
        }
        let r = (i + j + 1) as f64 / 2.0;
        rank_sum += r * order[i..j].iter().filter(|&&k| truth[k]).count() as f64;
        i = j;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Ok(u / (n_pos as f64 * n_neg as f64))
}

fn check_pair(score: &[f64], truth: &[bool]) -> Result<()> {
    if score.len() != truth.len() {
        return Err(Error::shape(
            "scores",
            format!("{} scores", truth.len()),
            format!("{}", score.len()),
        ));
    }
    if let Some((i, &v)) = score.iter().enumerate().find(|(_, v)| v.is_nan()) {
        return Err(Error::NonFinite {
            what: "scores",
            row: i,
            col: 0,
            value: v,
        });
    }
    Ok(())
}

/// ROC curve of `score`: `(false positive rate, true positive rate)` from `(0, 0)` to `(1, 1)`,
/// one point per distinct score (thresholds descending).
///
/// # Errors
/// As [`auroc`].
pub fn roc_curve(score: &[f64], truth: &[bool]) -> Result<Vec<(f64, f64)>> {
    check_pair(score, truth)?;
    let n_pos = truth.iter().filter(|&&t| t).count().max(1) as f64;
    let n_neg = truth.iter().filter(|&&t| !t).count().max(1) as f64;
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_unstable_by(|&a, &b| score[b].total_cmp(&score[a]));
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

/// Balanced accuracy (at 0.5), AUROC and confusion matrix of probabilities `p`.
///
/// # Errors
/// As [`auroc`].
pub fn score_binary(p: &[f64], truth: &[bool]) -> Result<BinaryScores> {
    let pred: Vec<bool> = p.iter().map(|&v| v >= 0.5).collect();
    let (ba, confusion) = balanced_accuracy(&pred, truth)?;
    Ok(BinaryScores {
        n: truth.len(),
        n_positive: truth.iter().filter(|&&t| t).count(),
        balanced_accuracy: ba,
        auroc: auroc(p, truth)?,
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
        check_pair(x, y)?;
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
                let p = sigmoid(a + b * zi);
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
        sigmoid(self.a + self.b * (x - self.center) / self.scale)
    }
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
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
        assert!((auroc(&s, &t).unwrap() - 4.5 / 6.0).abs() < 1e-12);
        let roc = roc_curve(&s, &t).unwrap();
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert!(auroc(&s, &t[..4]).is_err());
    }

    #[test]
    fn balanced_accuracy_and_xor_probability() {
        let (ba, c) =
            balanced_accuracy(&[true, false, true, true], &[true, false, false, true]).unwrap();
        assert_eq!(c, [[1, 1], [0, 2]]);
        assert!((ba - 0.75).abs() < 1e-12);
        assert_eq!(xor_probability(1.0, 0.0), 1.0);
        assert_eq!(xor_probability(1.0, 1.0), 0.0);
        assert!((xor_probability(0.5, 0.5) - 0.5).abs() < 1e-12);
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
