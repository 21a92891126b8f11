//! Sparsity chosen from the data, per equation (the default optimizer).
//!
//! A fixed STLSQ threshold is a number in the units of the coefficients, so it cannot suit
//! every system: a term `0.01·x` and a term `100·xy` need thresholds four orders of magnitude
//! apart, and rescaling a variable or the clock moves every coefficient. [`AutoStlsq`] instead
//! works per equation in *normalised* coordinates, where a coefficient is the term's share of
//! the target (`|ξ_i|·‖θ_i‖ / ‖ẋ_j‖`), a number without units:
//!
//! 1. the **paths**: STLSQ run at thresholds rising geometrically through every scale the
//!    least-squares fit shows, each from the previous support (continuation), and backward
//!    elimination (libraries up to 120 features); both nested from the full library down to
//!    the empty model;
//! 2. a **score** for every distinct support, by one of the rules of [`AutoRule`];
//! 3. the chosen support refitted by least squares on all the data.
//!
//! Everything runs on the normal equations (`p × p` work per candidate and fold), so the cost
//! does not grow with the number of samples. The path and every score are returned in
//! [`SparseFit::selection`] so a report can say why a term was kept.

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::{check_normal, OptimizerConfig, SparseFit, SparseRegressor, ZERO_TOL};
use crate::error::{Error, Result};
use crate::linalg::{solve_spd, BlockedNormalEquations, NormalEquations};

/// How a support is chosen from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AutoRule {
    /// Cross-validation over contiguous blocks of samples, with the one-standard-error rule:
    /// the sparsest support whose held-out error is within one standard error of the best
    /// (Hastie, Tibshirani & Friedman, *Elements of Statistical Learning* §7.10), or within
    /// [`AutoParams::min_improvement`] of it when that is wider; among supports of that size
    /// the folds cannot tell apart, the one with features listed earlier in the library.
    #[default]
    CrossValidation,
    /// Bayesian information criterion `n ln(RSS/n) + k ln n` on the training data.
    Bic,
    /// The knee of the path: the support just before the largest rise of `ln RSS` per term
    /// removed.
    Knee,
}

/// Hyper-parameters of [`AutoStlsq`] (unchecked; see [`AutoParams::check`]).
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `rule` | cross-validation | how a support is chosen from the path | |
/// | `folds` | 8 | cross-validation folds (interleaved blocks of samples) | `>= 2` |
/// | `grid` | 60 | thresholds on the path | `>= 2` |
/// | `min_threshold` | 1e-6 | smallest normalised threshold | `(0, 1)` |
/// | `max_iter` | 20 | STLSQ iterations per threshold | `>= 1` |
/// | `min_improvement` | 0.1 | smallest relative drop of held-out error worth more terms | `>= 0` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoParams {
    /// Selection rule.
    pub rule: AutoRule,
    /// Cross-validation folds.
    pub folds: usize,
    /// Number of thresholds on the path.
    pub grid: usize,
    /// Smallest threshold, as a share of the target.
    pub min_threshold: f64,
    /// STLSQ iterations per threshold.
    pub max_iter: usize,
    /// Smallest relative drop of the held-out error that justifies more terms (beside one
    /// standard error): noise in the library's columns correlates with the residual, so with
    /// many samples spurious terms lower the held-out error by a few percent, consistently.
    pub min_improvement: f64,
}

impl Default for AutoParams {
    fn default() -> Self {
        Self {
            rule: AutoRule::CrossValidation,
            folds: 8,
            grid: 60,
            min_threshold: 1e-6,
            max_iter: 20,
            min_improvement: MIN_IMPROVEMENT,
        }
    }
}

impl AutoParams {
    /// Sets `rule`.
    #[must_use]
    pub fn rule(mut self, v: AutoRule) -> Self {
        self.rule = v;
        self
    }
    /// Sets `folds`.
    #[must_use]
    pub fn folds(mut self, v: usize) -> Self {
        self.folds = v;
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the offending parameter.
    pub fn check(self) -> Result<AutoStlsq> {
        if self.folds < 2 {
            return Err(Error::param("folds", self.folds, "must be >= 2"));
        }
        if self.grid < 2 {
            return Err(Error::param("grid", self.grid, "must be >= 2"));
        }
        if !(self.min_threshold > 0.0 && self.min_threshold < 1.0) {
            return Err(Error::param(
                "min_threshold",
                self.min_threshold,
                "must be in (0, 1)",
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::param("max_iter", 0, "must be >= 1"));
        }
        if !(self.min_improvement.is_finite() && self.min_improvement >= 0.0) {
            return Err(Error::param(
                "min_improvement",
                self.min_improvement,
                "must be finite and >= 0",
            ));
        }
        Ok(AutoStlsq { p: self })
    }
}

/// One support on an equation's path and its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathPoint {
    /// Smallest normalised threshold that gave this support on the STLSQ path (`None` for a
    /// support found only by backward elimination or the tie-break).
    pub threshold: Option<f64>,
    /// Feature indices of the support.
    pub support: Vec<usize>,
    /// Training residual sum of squares as a share of the target's sum of squares.
    pub rss: f64,
    /// Mean held-out error per fold (same scale), when cross-validating.
    pub cv: Option<f64>,
    /// Its standard error over the folds.
    pub cv_se: Option<f64>,
    /// Bayesian information criterion (up to a constant).
    pub bic: f64,
}

/// How one equation's support was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquationSelection {
    /// The rule actually applied (cross-validation falls back to BIC with fewer than two
    /// blocks of samples).
    pub rule: AutoRule,
    /// Distinct supports from the full library down to the empty model, densest first: the
    /// STLSQ path and the backward-elimination path together.
    pub path: Vec<PathPoint>,
    /// Index of the chosen point.
    pub chosen: usize,
}

/// Per-equation automatic sparsity: an STLSQ path on normalised columns, scored by an
/// [`AutoRule`] (see the module documentation).
///
/// # Example
/// ```
/// use cellsindy::optimize::{AutoStlsq, SparseRegressor};
/// use ndarray::Array2;
/// let theta = Array2::from_shape_fn((400, 4), |(i, j)| ((i * (j + 1)) as f64 * 0.37).sin());
/// // 0.01·θ0 + 100·θ2: terms four orders of magnitude apart.
/// let y = theta.column(0).mapv(|v| 0.01 * v) + theta.column(2).mapv(|v| 100.0 * v);
/// let fit = AutoStlsq::default().fit(theta.view(), y.insert_axis(ndarray::Axis(1)).view())?;
/// assert_eq!(fit.complexity(), 2);
/// # Ok::<(), cellsindy::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AutoStlsq {
    p: AutoParams,
}

impl AutoStlsq {
    /// Default (unchecked) parameters.
    pub fn params() -> AutoParams {
        AutoParams::default()
    }

    /// The validated parameters.
    pub fn get(&self) -> &AutoParams {
        &self.p
    }
}

/// One equation in normalised coordinates: `G' = D⁻¹GD⁻¹` (unit diagonal on live columns),
/// `b' = D⁻¹b / s`, `yy' = yy / s²` with `s² = yy` of the total.
struct Scaled {
    gram: Array2<f64>,
    b: Array1<f64>,
    yy: f64,
}

fn scaled(ne: &NormalEquations, j: usize, d: &[f64], s2: f64) -> Scaled {
    let p = ne.n_features();
    let s = s2.sqrt();
    Scaled {
        gram: Array2::from_shape_fn((p, p), |(a, c)| ne.gram[(a, c)] / (d[a] * d[c])),
        b: Array1::from_shape_fn(p, |a| ne.xty[(a, j)] / (d[a] * s)),
        yy: ne.yty[j] / s2,
    }
}

/// Default of [`AutoParams::min_improvement`].
pub const MIN_IMPROVEMENT: f64 = 0.1;

/// Libraries up to this many live features also get a backward-elimination path.
const BACKWARD_MAX_FEATURES: usize = 120;

/// Ridge on the unit-diagonal normalised Gram: numerical only (no shrinkage to speak of).
const RIDGE: f64 = 1e-12;

/// Least squares on `support`; entries outside are zero.
fn solve(eq: &Scaled, support: &[usize]) -> Result<Array1<f64>> {
    let mut w = Array1::zeros(eq.b.len());
    if support.is_empty() {
        return Ok(w);
    }
    let k = support.len();
    let g = Array2::from_shape_fn((k, k), |(a, c)| eq.gram[(support[a], support[c])]);
    let rhs = Array2::from_shape_fn((k, 1), |(a, _)| eq.b[support[a]]);
    let sol = solve_spd(g.view(), rhs.view(), RIDGE)?;
    for (a, &i) in support.iter().enumerate() {
        w[i] = sol[(a, 0)];
    }
    Ok(w)
}

/// Smallest residual a score distinguishes, as a share of the target's sum of squares: below
/// it `yᵀy − 2wᵀb + wᵀGw` is rounding (its terms are each near `yᵀy`), so every support that
/// fits that well ties, and the rules then prefer the sparsest.
pub const RSS_FLOOR: f64 = 1e-12;

/// `‖y − Θw‖²` from the statistics, floored at [`RSS_FLOOR`] of the total's scale.
fn rss(eq: &Scaled, w: &Array1<f64>) -> f64 {
    (eq.yy - 2.0 * w.dot(&eq.b) + w.dot(&eq.gram.dot(w))).max(RSS_FLOOR * eq.yy)
}

/// STLSQ at `threshold` starting from `support`.
fn stlsq(
    eq: &Scaled,
    mut support: Vec<usize>,
    threshold: f64,
    max_iter: usize,
) -> Result<Vec<usize>> {
    for _ in 0..max_iter {
        if support.is_empty() {
            break;
        }
        let w = solve(eq, &support)?;
        let before = support.len();
        support.retain(|&i| w[i].abs() >= threshold);
        if support.len() == before {
            break;
        }
    }
    Ok(support)
}

impl AutoStlsq {
    /// The path and the choice for target `j`; returns the chosen normalised coefficients.
    fn select_one(
        &self,
        ne: &BlockedNormalEquations,
        j: usize,
        d: &[f64],
        live: &[usize],
    ) -> Result<(Array1<f64>, EquationSelection)> {
        let total = ne.total();
        let p = total.n_features();
        let s2 = total.yty[j];
        let n = total.n_samples as f64;
        let empty = || EquationSelection {
            rule: self.p.rule,
            path: vec![PathPoint {
                threshold: None,
                support: Vec::new(),
                rss: 0.0,
                cv: None,
                cv_se: None,
                bic: 0.0,
            }],
            chosen: 0,
        };
        if s2 <= 0.0 || live.is_empty() {
            return Ok((Array1::zeros(p), empty()));
        }
        let eq = scaled(total, j, d, s2);
        // The path: thresholds through every scale of the least-squares coefficients.
        let w_ls = solve(&eq, live)?;
        let top = w_ls.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let lo = self.p.min_threshold;
        let hi = (top * 1.01).max(lo * 10.0);
        let mut supports: Vec<(Option<f64>, Vec<usize>)> = vec![(Some(0.0), live.to_vec())];
        let mut support = live.to_vec();
        for k in 0..self.p.grid {
            let thr = lo * (hi / lo).powf(k as f64 / (self.p.grid - 1) as f64);
            support = stlsq(&eq, support, thr, self.p.max_iter)?;
            if supports.last().map(|s| &s.1) != Some(&support) {
                supports.push((Some(thr), support.clone()));
            }
            if support.is_empty() {
                break;
            }
        }
        if supports.last().is_some_and(|s| !s.1.is_empty()) {
            supports.push((Some(hi), Vec::new()));
        }
        // A second path, by backward elimination (drop the term whose removal raises the
        // residual least): when columns are collinear, STLSQ drops the smallest normalised
        // coefficient first, which can be a small true term shared with spurious substitutes;
        // elimination ranks terms by what their removal costs, and gives other candidates.
        if live.len() <= BACKWARD_MAX_FEATURES {
            for sup in backward_path(&eq, live)? {
                if !supports.iter().any(|(_, s)| *s == sup) {
                    supports.push((None, sup));
                }
            }
            // Densest first, as the rules expect (a stable sort keeps each size's order).
            supports.sort_by_key(|s| std::cmp::Reverse(s.1.len()));
        }
        // Scores.
        let blocks = ne.blocks();
        let folds = self.p.folds.min(blocks.len());
        let mut rule = self.p.rule;
        if rule == AutoRule::CrossValidation && folds < 2 {
            rule = AutoRule::Bic;
        }
        let fold_eqs: Vec<(Scaled, Scaled)> = if rule == AutoRule::CrossValidation {
            (0..folds)
                .map(|f| {
                    // Contiguous folds: rows share samples over a test function's width, so
                    // interleaved folds would leak each held-out row into its neighbours.
                    let (a, b) = (f * blocks.len() / folds, (f + 1) * blocks.len() / folds);
                    let mut test = NormalEquations::zeros(p, total.n_targets());
                    for blk in &blocks[a..b] {
                        test.add_scaled(blk, 1.0);
                    }
                    let mut train = total.clone();
                    train.add_scaled(&test, -1.0);
                    (scaled(&train, j, d, s2), scaled(&test, j, d, s2))
                })
                .collect()
        } else {
            Vec::new()
        };
        let score = |thr: Option<f64>, sup: Vec<usize>| -> Result<PathPoint> {
            let w = solve(&eq, &sup)?;
            let r = rss(&eq, &w);
            let (cv, cv_se) = if fold_eqs.is_empty() {
                (None, None)
            } else {
                let errs = fold_eqs
                    .iter()
                    .map(|(train, test)| Ok(rss(test, &solve(train, &sup)?)))
                    .collect::<Result<Vec<f64>>>()?;
                let m = errs.len() as f64;
                let mean = errs.iter().sum::<f64>() / m;
                let var = errs.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (m - 1.0);
                (Some(mean), Some((var / m).sqrt()))
            };
            let k = sup.len() as f64;
            Ok(PathPoint {
                threshold: thr,
                bic: n * (r.max(1e-300) / n).ln() + k * n.ln(),
                support: sup,
                rss: r,
                cv,
                cv_se,
            })
        };
        let mut path = supports
            .into_iter()
            .map(|(thr, sup)| score(thr, sup))
            .collect::<Result<Vec<_>>>()?;
        let mut chosen = choose(&path, rule, self.p.min_improvement);
        if rule == AutoRule::CrossValidation && live.len() <= BACKWARD_MAX_FEATURES {
            // Among supports of the chosen size, prefer features listed earlier in the library
            // (lower degree for polynomials) when the data cannot tell them apart: a term and
            // a near-substitute (y and y·z when z hovers around its mean) can score alike
            // under noise, and the simpler one is the better guess. "Cannot tell apart" is
            // paired over the folds (fold difficulty cancels): the swap's mean held-out error
            // exceeds the original choice's by less than one standard error of the per-fold
            // differences. Every swap is compared with the original choice, so swaps cannot
            // drift.
            let fold_errs = |sup: &[usize]| -> Result<Vec<f64>> {
                fold_eqs
                    .iter()
                    .map(|(train, test)| Ok(rss(test, &solve(train, sup)?)))
                    .collect()
            };
            let original = fold_errs(&path[chosen].support)?;
            let indistinct = |errs: &[f64]| {
                let m = errs.len() as f64;
                let d: Vec<f64> = errs.iter().zip(&original).map(|(a, b)| a - b).collect();
                let mean = d.iter().sum::<f64>() / m;
                let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0);
                mean <= (var / m).sqrt()
            };
            loop {
                let current = path[chosen].support.clone();
                let mut best: Option<(f64, Vec<usize>)> = None;
                for (pos, &i) in current.iter().enumerate() {
                    for &j in live.iter().filter(|&&j| j < i && !current.contains(&j)) {
                        let mut cand = current.clone();
                        cand[pos] = j;
                        cand.sort_unstable();
                        if path.iter().any(|p| p.support == cand) {
                            continue;
                        }
                        let errs = fold_errs(&cand)?;
                        let cv = errs.iter().sum::<f64>() / errs.len() as f64;
                        if indistinct(&errs) && best.as_ref().is_none_or(|b| cv < b.0) {
                            best = Some((cv, cand));
                        }
                    }
                }
                match best {
                    Some((_, cand)) => {
                        path.push(score(None, cand)?);
                        chosen = path.len() - 1;
                    }
                    None => break,
                }
            }
            // Densest first again, the choice following its point.
            let support = path[chosen].support.clone();
            path.sort_by_key(|p| std::cmp::Reverse(p.support.len()));
            chosen = path.iter().position(|p| p.support == support).unwrap_or(0);
        }
        let w = solve(&eq, &path[chosen].support)?;
        Ok((w, EquationSelection { rule, path, chosen }))
    }
}

/// Supports from `live` down to one term, each dropping the term whose removal raises the
/// residual least: `ΔRSS_i = w_i² / (G_S⁻¹)_ii` (one inverse per step).
fn backward_path(eq: &Scaled, live: &[usize]) -> Result<Vec<Vec<usize>>> {
    let mut out = Vec::with_capacity(live.len());
    let mut support = live.to_vec();
    while support.len() > 1 {
        let k = support.len();
        let g = Array2::from_shape_fn((k, k), |(a, c)| eq.gram[(support[a], support[c])]);
        let inv = solve_spd(g.view(), Array2::eye(k).view(), RIDGE)?;
        let rhs = Array2::from_shape_fn((k, 1), |(a, _)| eq.b[support[a]]);
        let w = inv.dot(&rhs);
        let worst = (0..k)
            .min_by(|&a, &c| {
                let da = w[(a, 0)].powi(2) / inv[(a, a)].max(f64::MIN_POSITIVE);
                let dc = w[(c, 0)].powi(2) / inv[(c, c)].max(f64::MIN_POSITIVE);
                da.total_cmp(&dc)
            })
            .unwrap_or(0);
        support.remove(worst);
        out.push(support.clone());
    }
    Ok(out)
}

/// The held-out error a support may have and still be chosen: the best error plus one
/// standard error, or plus `min_improvement` of it when that is larger.
fn selection_bound(path: &[PathPoint], min_improvement: f64) -> f64 {
    let best = path
        .iter()
        .filter_map(|p| p.cv.map(|cv| (cv, p.cv_se.unwrap_or(0.0))))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((cv, se)) => cv + se.max(min_improvement * cv),
        None => f64::INFINITY,
    }
}

/// The index of the chosen point of a path ordered from the densest support to the empty one.
fn choose(path: &[PathPoint], rule: AutoRule, min_improvement: f64) -> usize {
    let sparsest_best = |score: &dyn Fn(&PathPoint) -> f64| {
        let mut best = 0;
        for (i, pt) in path.iter().enumerate() {
            if score(pt) <= score(&path[best]) {
                best = i;
            }
        }
        best
    };
    match rule {
        AutoRule::CrossValidation => {
            let best = sparsest_best(&|pt| pt.cv.unwrap_or(f64::INFINITY));
            let bound = selection_bound(path, min_improvement);
            // The sparsest support within one standard error (or the smallest worthwhile
            // improvement) of the best.
            (0..path.len())
                .rev()
                .find(|&i| path[i].cv.is_some_and(|cv| cv <= bound))
                .unwrap_or(best)
        }
        AutoRule::Bic => sparsest_best(&|pt| pt.bic),
        AutoRule::Knee => {
            let mut best = 0;
            let mut best_jump = f64::NEG_INFINITY;
            for i in 0..path.len().saturating_sub(1) {
                let removed = path[i].support.len() - path[i + 1].support.len();
                let jump = ((path[i + 1].rss.max(1e-300)).ln() - (path[i].rss.max(1e-300)).ln())
                    / removed.max(1) as f64;
                if jump > best_jump {
                    best_jump = jump;
                    best = i;
                }
            }
            best
        }
    }
}

impl SparseRegressor for AutoStlsq {
    fn fit_normal(&self, ne: &BlockedNormalEquations) -> Result<SparseFit> {
        let total = ne.total();
        check_normal(total)?;
        let (p, t) = (total.n_features(), total.n_targets());
        let d: Vec<f64> = (0..p)
            .map(|i| {
                let g = total.gram[(i, i)];
                if g > 0.0 {
                    g.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let live: Vec<usize> = (0..p).filter(|&i| total.gram[(i, i)] > 0.0).collect();
        let mut coef = Array2::zeros((p, t));
        let mut selection = Vec::with_capacity(t);
        for j in 0..t {
            let (w, sel) = self.select_one(ne, j, &d, &live)?;
            let s = total.yty[j].max(0.0).sqrt();
            for i in 0..p {
                let c = w[i] * s / d[i];
                coef[(i, j)] = if c.abs() <= ZERO_TOL { 0.0 } else { c };
            }
            selection.push(sel);
        }
        Ok(SparseFit {
            coef,
            n_iter: selection.iter().map(|s| s.path.len()).sum(),
            converged: true,
            inclusion: None,
            selection: Some(selection),
        })
    }

    fn config(&self) -> Option<OptimizerConfig> {
        Some(OptimizerConfig::Auto(self.p.clone()))
    }

    /// A fixed threshold replaces the automatic choice: STLSQ at `threshold` (PySINDy's
    /// other defaults), so sweeps and ensembles built on the default optimizer work.
    fn with_threshold(&self, threshold: f64) -> Result<Box<dyn SparseRegressor>> {
        Ok(Box::new(
            super::Stlsq::params().threshold(threshold).check()?,
        ))
    }

    fn resamples_rows(&self) -> bool {
        // Cross-validation folds are made of the row blocks.
        true
    }
}
