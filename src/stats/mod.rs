//! The summary statistics every other module uses, each written once with its edge cases
//! defined: quantiles (numpy's default rule), the median, average ranks, Pearson and Spearman
//! correlation, AUROC, average precision, balanced accuracy and the percentile bootstrap.
//!
//! Written here rather than taken from a crate because the conventions are the point: reports
//! are compared with numpy, scipy and scikit-learn, and `statrs`/`ndarray-stats` use other
//! quantile rules and have no ranking metrics. `tests/stats.rs` checks every function against
//! golden values from numpy/scipy/sklearn (`tests/data/golden/make_stats_golden.py`).
//!
//! Edge cases, for all of them: an empty input gives NaN (or `None` where the result is an
//! `Option`), never a panic; a NaN input gives NaN (numpy's and scipy's `propagate`) except in
//! the ranking metrics, where a NaN score is an [`Error::NonFinite`] (scikit-learn refuses it
//! too); inputs of different lengths are an [`Error::Shape`].

use rand::Rng;

use crate::error::{Error, Result};

pub(crate) mod ranks;

/// The random-stream domain of bootstrap resamples (see `rng`).
const DOMAIN_BOOTSTRAP: u64 = 0x626f6f74_73000031;

/// The `q`-quantile of `sorted` (ascending, NaN-free) with numpy's default rule (`linear`:
/// `x[lo] + (x[hi] − x[lo])·frac` at position `q·(n − 1)`). NaN when `sorted` is empty or `q`
/// is not in `[0, 1]`.
pub fn quantile_sorted<T: Copy + Into<f64>>(sorted: &[T], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    if !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    let pos = q * last as f64;
    let lo = (pos.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    let (a, b): (f64, f64) = (sorted[lo].into(), sorted[hi].into());
    a + (b - a) * (pos - lo as f64)
}

/// The `q`-quantile of `values` (any order) as `numpy.quantile(values, q)`. NaN when `values` is
/// empty or holds a NaN, or `q` is not in `[0, 1]`.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    match sorted_finite(values) {
        Some(s) => quantile_sorted(&s, q),
        None => f64::NAN,
    }
}

/// The median as `numpy.median`: the middle value, or the mean of the two middle values. NaN
/// when `values` is empty or holds a NaN.
pub fn median(values: &[f64]) -> f64 {
    match sorted_finite(values) {
        Some(s) => median_sorted(&s),
        None => f64::NAN,
    }
}

/// [`median`] of ascending, NaN-free `sorted` (NaN when empty).
pub fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}

/// A sorted copy of `values`; `None` when empty or a value is NaN.
fn sorted_finite(values: &[f64]) -> Option<Vec<f64>> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut s = values.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    Some(s)
}

/// Average ranks, 1-based, ties sharing the mean of their positions: `scipy.stats.rankdata`
/// (`method="average"`). All NaN if any value is NaN (scipy's `nan_policy="propagate"`).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    if x.iter().any(|v| v.is_nan()) {
        return vec![f64::NAN; n];
    }
    let mut out = vec![0.0; n];
    ranks::centred_ranks(x, &mut out, &mut ranks::RankScratch::default());
    // Centred ranks are half-integers minus the half-integer mean: adding it back is exact.
    let mean = (n + 1) as f64 / 2.0;
    out.iter_mut().for_each(|r| *r += mean);
    out
}

/// Calls `f(lo, hi, members)` for each run of equal values of `x` in `order` (ascending).
fn for_each_tie(x: &[f64], order: &[usize], mut f: impl FnMut(usize, usize, &[usize])) {
    let n = order.len();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && x[order[j]] == x[order[i]] {
            j += 1;
        }
        f(i, j, &order[i..j]);
        i = j;
    }
}

/// `x` centred on its mean and scaled to unit norm, the vector whose dot products are Pearson
/// correlations; all zeros for a constant (or empty) `x`, which therefore correlates 0 with
/// everything. NaN in, NaN out.
pub fn centred_unit(x: &[f64]) -> Vec<f64> {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let centred: Vec<f64> = x.iter().map(|a| a - m).collect();
    let norm = centred.iter().map(|a| a * a).sum::<f64>().sqrt();
    if norm > 0.0 || norm.is_nan() {
        centred.iter().map(|a| a / norm).collect()
    } else {
        vec![0.0; centred.len()]
    }
}

/// Pearson's correlation as `scipy.stats.pearsonr(x, y).statistic`: NaN when either input is
/// constant, has fewer than two values, or holds a NaN.
///
/// # Errors
/// [`Error::Shape`] if the lengths differ.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    same_length("pearson", x.len(), y.len())?;
    if x.len() < 2 || is_constant(x) || is_constant(y) {
        return Ok(f64::NAN);
    }
    let (u, v) = (centred_unit(x), centred_unit(y));
    Ok(u.iter()
        .zip(&v)
        .map(|(a, b)| a * b)
        .sum::<f64>()
        .clamp(-1.0, 1.0))
}

/// The logistic function `1 / (1 + e^{−t})`, evaluated without overflow for large `|t|`.
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// Spearman's correlation as `scipy.stats.spearmanr(x, y).statistic`: Pearson's of the
/// [`average_ranks`]. NaN as [`pearson`].
///
/// # Errors
/// [`Error::Shape`] if the lengths differ.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    same_length("spearman", x.len(), y.len())?;
    pearson(&average_ranks(x), &average_ranks(y))
}

fn is_constant(x: &[f64]) -> bool {
    x.iter().all(|&v| v == x[0])
}

fn same_length(op: &'static str, a: usize, b: usize) -> Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(Error::shape(
            op,
            format!("{a} values (as the first input)"),
            format!("{b}"),
        ))
    }
}

/// Binary labels against scores: lengths equal, no NaN score.
pub(crate) fn check_scores(op: &'static str, scores: &[f64], labels: &[bool]) -> Result<()> {
    same_length(op, scores.len(), labels.len())?;
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(Error::NonFinite {
            what: "scores",
            row: i,
            col: 0,
            value: f64::NAN,
        });
    }
    Ok(())
}

/// Area under the ROC curve as `sklearn.metrics.roc_auc_score`: the probability that a random
/// positive scores above a random negative, ties counting one half (Mann–Whitney U from
/// average ranks). `None` when a class is empty (scikit-learn raises); a caller that wants a
/// number there says which (0.5 is "no information").
///
/// # Errors
/// [`Error::Shape`] if the lengths differ, [`Error::NonFinite`] for a NaN score.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Result<Option<f64>> {
    check_scores("auroc", scores, labels)?;
    let n = scores.len();
    let n_pos = labels.iter().filter(|&&t| t).count();
    let n_neg = n - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Ok(None);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    for_each_tie(scores, &order, |lo, hi, members| {
        let r = (lo + hi + 1) as f64 / 2.0;
        rank_sum += r * members.iter().filter(|&&k| labels[k]).count() as f64;
    });
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Ok(Some(u / (n_pos as f64 * n_neg as f64)))
}

/// Average precision as `sklearn.metrics.average_precision_score`: `Σₖ (Rₖ − Rₖ₋₁) Pₖ` over the
/// distinct score thresholds in decreasing order (a step function, no interpolation). Items
/// with equal scores enter together. Recall is `tp / n_positives`, which may exceed the number
/// of positive labels: positives missing from the ranking can then never be recalled (with
/// `n_positives` = the labelled positives this is scikit-learn's number). `None` when
/// `n_positives == 0`.
///
/// # Errors
/// [`Error::Shape`] if the lengths differ or `n_positives` is below the number of positive
/// labels; [`Error::NonFinite`] for a NaN score.
pub fn average_precision(
    scores: &[f64],
    labels: &[bool],
    n_positives: usize,
) -> Result<Option<f64>> {
    check_scores("average_precision", scores, labels)?;
    let n_lab = labels.iter().filter(|l| **l).count();
    if n_lab > n_positives {
        return Err(Error::shape(
            "average_precision",
            format!("at least {n_lab} positives (the labelled ones)"),
            format!("{n_positives}"),
        ));
    }
    if n_positives == 0 {
        return Ok(None);
    }
    let order = descending(scores);
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            if labels[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let recall = tp as f64 / n_positives as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(Some(ap))
}

/// Indices of `scores` from the highest to the lowest (stable for ties).
pub fn descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// `[[TN, FP], [FN, TP]]` of predictions against the truth (sklearn's `confusion_matrix`
/// layout: rows are the truth).
///
/// # Errors
/// [`Error::Shape`] if the lengths differ.
pub fn confusion(pred: &[bool], truth: &[bool]) -> Result<[[usize; 2]; 2]> {
    same_length("confusion", pred.len(), truth.len())?;
    let mut c = [[0usize; 2]; 2];
    for (&p, &t) in pred.iter().zip(truth) {
        c[usize::from(t)][usize::from(p)] += 1;
    }
    Ok(c)
}

/// Balanced accuracy as `sklearn.metrics.balanced_accuracy_score`: the mean recall over the
/// classes present in `truth` (with one class present, that class's recall); NaN for empty
/// input. Returned with the [`confusion`] matrix it was computed from.
///
/// # Errors
/// [`Error::Shape`] if the lengths differ.
pub fn balanced_accuracy(pred: &[bool], truth: &[bool]) -> Result<(f64, [[usize; 2]; 2])> {
    let c = confusion(pred, truth)?;
    let recalls: Vec<f64> = [(c[0][0], c[0][1]), (c[1][1], c[1][0])]
        .iter()
        .filter(|(hit, miss)| hit + miss > 0)
        .map(|&(hit, miss)| hit as f64 / (hit + miss) as f64)
        .collect();
    let ba = match recalls.as_slice() {
        [] => f64::NAN,
        [r] => *r,
        [a, b, ..] => 0.5 * (a + b),
    };
    Ok((ba, c))
}

/// A percentile bootstrap interval: the statistic on the data, and the `(1 − level)/2` and
/// `(1 + level)/2` quantiles of its values over resamples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    /// The statistic on the data as given.
    pub estimate: f64,
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Coverage the interval was computed for, e.g. 0.95.
    pub level: f64,
}

/// Percentile bootstrap of `stat` over `n` items: `reps` resamples of `n` indices drawn with
/// replacement (a ChaCha8 stream keyed by `seed`, so the interval is the same on any machine),
/// `stat` evaluated on each, the interval cut at the quantiles of the finite values (as
/// `scipy.stats.bootstrap(method="percentile")`; resamples on which `stat` is undefined are
/// dropped). `stat(indices)` receives the identity `0..n` first, for the estimate.
///
/// # Errors
/// [`Error::InvalidParam`] if `n` or `reps` is 0 or `level` is not in (0, 1); [`Error::Empty`]
/// if `stat` is NaN on every resample.
pub fn bootstrap(
    n: usize,
    reps: usize,
    level: f64,
    seed: u64,
    mut stat: impl FnMut(&[usize]) -> f64,
) -> Result<Interval> {
    let mut out = bootstrap_many(n, reps, level, seed, 1, |idx| vec![stat(idx)])?;
    out.pop().ok_or_else(|| Error::Empty {
        what: "bootstrap",
        why: "no statistic".into(),
    })
}

/// [`bootstrap`] of `k` statistics computed together on the same resamples (`stat` returns
/// `k` values): one pass when the statistics share their expensive part, such as the three
/// group means of one correlation matrix.
///
/// # Errors
/// As [`bootstrap`], for each statistic; [`Error::Shape`] if `stat` does not return `k` values.
pub fn bootstrap_many(
    n: usize,
    reps: usize,
    level: f64,
    seed: u64,
    k: usize,
    mut stat: impl FnMut(&[usize]) -> Vec<f64>,
) -> Result<Vec<Interval>> {
    if n == 0 || reps == 0 {
        return Err(Error::param(
            "bootstrap",
            format!("n = {n}, reps = {reps}"),
            "both must be positive",
        ));
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::param("level", level, "must be in (0, 1)"));
    }
    let mut eval = |idx: &[usize]| -> Result<Vec<f64>> {
        let v = stat(idx);
        if v.len() == k {
            Ok(v)
        } else {
            Err(Error::shape(
                "bootstrap statistic",
                format!("{k} values"),
                format!("{}", v.len()),
            ))
        }
    };
    let identity: Vec<usize> = (0..n).collect();
    let estimate = eval(&identity)?;
    let mut rng = crate::rng::stream(seed, DOMAIN_BOOTSTRAP, 0);
    let mut idx = vec![0usize; n];
    let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); k];
    for _ in 0..reps {
        idx.iter_mut().for_each(|i| *i = rng.random_range(0..n));
        for (acc, v) in values.iter_mut().zip(eval(&idx)?) {
            if !v.is_nan() {
                acc.push(v);
            }
        }
    }
    values
        .into_iter()
        .zip(estimate)
        .map(|(mut v, estimate)| {
            if v.is_empty() {
                return Err(Error::Empty {
                    what: "bootstrap",
                    why: "the statistic is undefined on every resample".into(),
                });
            }
            v.sort_unstable_by(f64::total_cmp);
            Ok(Interval {
                estimate,
                lo: quantile_sorted(&v, (1.0 - level) / 2.0),
                hi: quantile_sorted(&v, (1.0 + level) / 2.0),
                level,
            })
        })
        .collect()
}

/// `v` with `sig` significant digits and trailing zeros removed (`-2.667`, `28`, `0.00123`);
/// scientific notation outside `1e-4 ≤ |v| < 1e7` (`1.50e-7`); `0`, `NaN`, `inf` as Rust
/// writes them. The one number format of reports, equations and figures.
pub fn format_significant(v: f64, sig: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let sig = sig.max(1);
    let mag = v.abs().log10().floor() as i64;
    if !(-4..=6).contains(&mag) {
        return format!("{v:.*e}", sig - 1);
    }
    let decimals = (sig as i64 - 1 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_nan_inputs_are_defined() {
        assert!(quantile(&[], 0.5).is_nan());
        assert!(quantile(&[1.0, f64::NAN], 0.5).is_nan());
        assert!(quantile(&[1.0, 2.0], 1.5).is_nan());
        assert!(median(&[]).is_nan());
        assert!(median(&[f64::NAN]).is_nan());
        assert!(average_ranks(&[1.0, f64::NAN])[0].is_nan());
        assert!(average_ranks(&[]).is_empty());
        assert!(pearson(&[], &[]).unwrap().is_nan());
        assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).unwrap().is_nan());
        assert!(spearman(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0])
            .unwrap()
            .is_nan());
        assert!(pearson(&[1.0], &[1.0, 2.0]).is_err());
        assert_eq!(auroc(&[], &[]).unwrap(), None);
        assert_eq!(auroc(&[0.3, 0.4], &[true, true]).unwrap(), None);
        assert!(auroc(&[f64::NAN, 0.4], &[true, false]).is_err());
        assert_eq!(average_precision(&[0.1], &[false], 0).unwrap(), None);
        assert!(balanced_accuracy(&[], &[]).unwrap().0.is_nan());
        assert!(bootstrap(0, 10, 0.9, 1, |_| 0.0).is_err());
        assert!(bootstrap(3, 10, 0.9, 1, |_| f64::NAN).is_err());
        assert_eq!(format_significant(f64::NAN, 3), "NaN");
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_mean() {
        let x: Vec<f64> = (0..200).map(|i| (i as f64 * 0.37).sin()).collect();
        let mean = |idx: &[usize]| idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
        let a = bootstrap(x.len(), 500, 0.95, 7, mean).unwrap();
        let b = bootstrap(x.len(), 500, 0.95, 7, mean).unwrap();
        assert_eq!(a, b);
        assert!(a.lo < a.estimate && a.estimate < a.hi, "{a:?}");
        // The standard error of a mean of 200 values of spread ~0.7 is ~0.05.
        assert!(a.hi - a.lo > 0.05 && a.hi - a.lo < 0.4, "{a:?}");
        // Several statistics on the same resamples: the first is `bootstrap`'s interval.
        let both =
            bootstrap_many(x.len(), 500, 0.95, 7, 2, |idx| vec![mean(idx), -mean(idx)]).unwrap();
        assert_eq!(both[0], a);
        assert!((both[1].lo + a.hi).abs() < 1e-12 && (both[1].hi + a.lo).abs() < 1e-12);
        assert!(bootstrap_many(x.len(), 5, 0.95, 7, 2, |_| vec![0.0]).is_err());
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(format_significant(-10.0000001, 4), "-10");
        assert_eq!(format_significant(-8.0 / 3.0, 4), "-2.667");
        assert_eq!(format_significant(28.0, 4), "28");
        assert_eq!(format_significant(0.001234567, 3), "0.00123");
        assert_eq!(format_significant(1.5e-7, 3), "1.50e-7");
    }
}
