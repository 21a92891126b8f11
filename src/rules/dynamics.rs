//! Route 3: SINDy on expression time courses, with settings read from the data.
//!
//! Two stages per target gene `g`:
//!
//! 1. **Edges by stability selection on one-step increments.** The discrete-time step
//!    `(g(i+1) − g(i)) / Δt` is regressed on every gene's level `x(i)`, beside a constant
//!    (basal production) and `g`'s own level (decay), which are always kept. Using increments
//!    rather than an estimated derivative keeps measurement noise out of the regressors'
//!    neighbourhood and needs no smoothing width. STLSQ paths over a grid of thresholds run
//!    on many half-samples of contiguous blocks (Meinshausen & Bühlmann's stability
//!    selection, with blocks because rows of a time course are not independent). A
//!    regulator's score is the share of (half-sample, threshold) pairs that keep it: how
//!    stably the data ask for it, with no threshold to choose. Thresholds are effects in the
//!    target's units per standard deviation of the regulator, on one grid for all targets, so
//!    scores compare across targets. The sign is that of the full-data coefficient at the
//!    largest threshold that keeps the regulator. Control inputs are not in the screen (see
//!    `screen_design`). A gate whose inputs have no main effect (XOR) is invisible to levels,
//!    so a model-free pair screen offers the pair of genes whose Hill terms and product most
//!    lower the error of a joint fit with the stable regulators as one more column, and the
//!    selection runs again (`best_pair`).
//! 2. **A rule from the stable regulators.** The most stable regulators (score ≥ 0.5, at most
//!    `max_regulators`) get a library of constant, controls, decay, their levels, Hill terms
//!    and pairwise Hill products (gates), fitted by [`AutoStlsq`] (cross-validated sparsity)
//!    on the rows of the differentiator ([`auto_diff`] by default: the weak form) once per
//!    Hill coefficient in `hill_n`; the coefficient with the smallest held-out error is kept.
//!    Half-activation constants `K` are each gene's midpoint between its 2nd and 98th
//!    percentile (for a switch-like gene, between OFF and ON).
//! 3. **Edge scores that agree with the rules.** An edge's score is the mean of its
//!    stability and whether the target's rule uses the regulator (1 or 0): edges the rule
//!    keeps rank above those it drops, and stability orders each group. Stage 1 leaves
//!    control inputs out, so a gene driven by an input can borrow stable regulators that
//!    the rule, which has the input, does not need. The trace keeps the stability scores.
//!
//! Nothing is fixed to a generator: sparsity and the Hill coefficient come from held-out
//! error, `K` from each gene's range, the differentiator from the noise. Every draw is keyed
//! by the seed and targets are independent, so a fit is the same for any thread count.

use std::ops::Range;

use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{TimeGrid, Trajectory};
use crate::differentiate::{auto_diff, DiffConfig, Differentiator};
use crate::error::{Error, Result};
use crate::library::FeatureLibrary;
use crate::linalg::{solve_spd, BlockedNormalEquations, NormalEquations};
use crate::optimize::{AutoStlsq, EquationSelection, SparseRegressor};

use super::libraries::HillLibrary;
use super::{edge_sign, Rule, RuleSet, RuleTerm, ScoredEdge};

/// Domain of the half-sample draws.
const DOMAIN_BAGS: u64 = 0x64796e61_6d696301;

/// Parameters of [`fit_dynamics`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `differentiator` | `None`: [`auto_diff`] (weak form, width from the noise) | `dx/dt` rows | any [`DiffConfig`] |
/// | `hill_k` | `None`: midpoint of each gene's 2nd and 98th percentile | half-activation constants | `> 0`, one per gene |
/// | `hill_n` | 1, 2, 4, 8 | Hill coefficients tried for each rule | each `>= 1` |
/// | `bags` | 50 | half-samples of the stability selection | `>= 1` |
/// | `thresholds` | 25 | thresholds per half-sample, log-spaced | `>= 2` |
/// | `min_threshold` | 1e-2 | smallest threshold, relative to the largest coefficient of the full fit | `(0, 1)` |
/// | `max_regulators` | 4 | regulators a rule may use | `>= 1` |
/// | `interactions` | `true` | pairwise Hill products in rules | |
/// | `seed` | 0 | half-sample draws | any |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicsParams {
    /// How `dx/dt` is estimated (`None`: chosen from the data by [`auto_diff`]).
    pub differentiator: Option<DiffConfig>,
    /// Half-activation constants, one per gene (`None`: estimated from the data).
    pub hill_k: Option<Vec<f64>>,
    /// Hill coefficients tried for each rule (the one with the smallest held-out error wins).
    pub hill_n: Vec<f64>,
    /// Half-samples.
    pub bags: usize,
    /// Thresholds per half-sample.
    pub thresholds: usize,
    /// Smallest threshold.
    pub min_threshold: f64,
    /// Most regulators in one rule.
    pub max_regulators: usize,
    /// Pairwise Hill products in rules.
    pub interactions: bool,
    /// Seed of the half-samples.
    pub seed: u64,
}

impl Default for DynamicsParams {
    fn default() -> Self {
        DynamicsParams {
            differentiator: None,
            hill_k: None,
            hill_n: vec![1.0, 2.0, 4.0, 8.0],
            bags: 50,
            thresholds: 25,
            min_threshold: 1e-2,
            max_regulators: 4,
            interactions: true,
            seed: 0,
        }
    }
}

impl DynamicsParams {
    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        let bad_n = |n: f64| !(n.is_finite() && n >= 1.0);
        if self.hill_n.is_empty() || self.hill_n.iter().any(|&n| bad_n(n)) {
            return Err(Error::param(
                "hill_n",
                format!("{:?}", self.hill_n),
                "must be non-empty, each finite and >= 1",
            ));
        }
        if self.bags == 0 {
            return Err(Error::param("bags", 0, "must be at least 1"));
        }
        if self.thresholds < 2 {
            return Err(Error::param(
                "thresholds",
                self.thresholds,
                "must be at least 2",
            ));
        }
        if !(self.min_threshold > 0.0 && self.min_threshold < 1.0) {
            return Err(Error::param(
                "min_threshold",
                self.min_threshold,
                "must be in (0, 1)",
            ));
        }
        if self.max_regulators == 0 {
            return Err(Error::param("max_regulators", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// How one target's rule was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetTrace {
    /// Target gene.
    pub target: String,
    /// Stability score of every gene as a regulator of the target (the target itself: its
    /// Hill term, a self-loop), in gene order.
    pub stability: Vec<f64>,
    /// Regulators offered to the rule, most stable first.
    pub candidates: Vec<String>,
    /// Held-out error (share of the target's sum of squares) of the rule chosen at each Hill
    /// coefficient tried, `(n, cv)`.
    pub cv_by_hill_n: Vec<(f64, f64)>,
    /// The Hill coefficient kept.
    pub hill_n: f64,
    /// The rule library's feature names.
    pub features: Vec<String>,
    /// The sparsity path and choice of the rule fit.
    pub selection: Option<EquationSelection>,
}

/// The result of [`fit_dynamics`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicsFit {
    /// One rule `dg/dt = …` per gene, and every gene pair's scored edge.
    pub rules: RuleSet,
    /// Gene names (state variables), in trajectory column order.
    pub genes: Vec<String>,
    /// Half-activation constants used.
    pub hill_k: Vec<f64>,
    /// The differentiator used.
    pub differentiator: DiffConfig,
    /// Per-target selection trace.
    pub targets: Vec<TargetTrace>,
    /// Regression rows (all trajectories).
    pub n_samples: usize,
}

/// A library evaluated on one trajectory's levels and controls.
type RowsFn<'a> =
    dyn Fn(ArrayView2<'_, f64>, ArrayView2<'_, f64>) -> Result<Array2<f64>> + Sync + 'a;

/// The regression rows of every trajectory: `dx/dt` (weak or pointwise) and any library
/// evaluated on the same rows.
struct Rows {
    /// The differentiator of the rows when they are weak-form (its test function integrates
    /// every library column); `None` for pointwise rows.
    weak: Option<Box<dyn Differentiator>>,
    /// Levels the library is built from (smoothed where the differentiator smooths).
    xs: Vec<Array2<f64>>,
    us: Vec<Array2<f64>>,
    ts: Vec<TimeGrid>,
    /// Row range of each trajectory in the stacked rows.
    spans: Vec<Range<usize>>,
    lhs: Array2<f64>,
}

impl Rows {
    /// One-step increments `(x(i+1) − x(i)) / Δt` on the levels `x(i)`: a discrete-time step,
    /// no derivative estimate.
    fn increments(trajectories: &[Trajectory]) -> Result<Self> {
        let mut rows = Rows {
            weak: None,
            xs: Vec::new(),
            us: Vec::new(),
            ts: Vec::new(),
            spans: Vec::new(),
            lhs: Array2::zeros((0, 0)),
        };
        let mut lhs_parts = Vec::new();
        let mut start = 0;
        for t in trajectories {
            let (x, dx) = t.one_step()?;
            let n = x.nrows() + 1;
            rows.spans.push(start..start + n - 1);
            start += n - 1;
            lhs_parts.push(dx);
            rows.xs.push(x.to_owned());
            rows.us.push(match t.u() {
                Some(u) => u.slice(s![..n - 1, ..]).to_owned(),
                None => Array2::zeros((n - 1, 0)),
            });
            rows.ts.push(t.t().slice(0, n - 1));
        }
        rows.lhs = stack(&lhs_parts)?;
        Ok(rows)
    }

    /// `diff`'s rows: estimated derivatives, or weak-form rows when `diff` has a test
    /// function (the library is then built from its smoothed levels and integrated).
    fn derivatives(trajectories: &[Trajectory], diff: Box<dyn Differentiator>) -> Result<Self> {
        let mut weak = false;
        let mut xs = Vec::new();
        let mut us = Vec::new();
        let mut ts = Vec::new();
        let mut lhs_parts = Vec::new();
        let mut spans = Vec::new();
        let mut start = 0;
        for t in trajectories {
            let dx = diff.differentiate(t.x(), t.t())?;
            let x = diff
                .smooth(t.x(), t.t())?
                .unwrap_or_else(|| t.x().to_owned());
            let w = diff.test_function(t.t())?.is_some();
            weak |= w;
            let dx = if w {
                let r = diff.radius();
                dx.slice(s![r..dx.nrows() - r, ..]).to_owned()
            } else {
                dx
            };
            spans.push(start..start + dx.nrows());
            start += dx.nrows();
            lhs_parts.push(dx);
            xs.push(x);
            us.push(match t.u() {
                Some(u) => u.to_owned(),
                None => Array2::zeros((t.n_samples(), 0)),
            });
            ts.push(t.t().clone());
        }
        let lhs = stack(&lhs_parts)?;
        Ok(Rows {
            weak: weak.then_some(diff),
            xs,
            us,
            ts,
            spans,
            lhs,
        })
    }

    /// `f(levels, controls)` of every trajectory on the regression rows.
    fn columns(&self, f: &RowsFn<'_>) -> Result<Array2<f64>> {
        let parts: Vec<Array2<f64>> = self
            .xs
            .iter()
            .zip(&self.us)
            .zip(&self.ts)
            .map(|((x, u), t)| {
                let theta = f(x.view(), u.view())?;
                match &self.weak {
                    Some(diff) => {
                        let w = diff.weak_integrate(theta.view(), t)?;
                        let r = diff.radius();
                        Ok(w.slice(s![r..w.nrows() - r, ..]).to_owned())
                    }
                    None => Ok(theta),
                }
            })
            .collect::<Result<_>>()?;
        stack(&parts)
    }

    /// Contiguous blocks of rows (never across trajectories), about `n_blocks` in all and each
    /// at least one test-function width long.
    fn blocks(&self, n_blocks: usize) -> Vec<Range<usize>> {
        let total = self.lhs.nrows();
        let min_len = self.weak.as_ref().map_or(1, |d| 2 * d.radius() + 1);
        let len = (total / n_blocks.max(1)).max(min_len).max(1);
        let mut out = Vec::new();
        for sp in &self.spans {
            let mut a = sp.start;
            while a < sp.end {
                let mut b = (a + len).min(sp.end);
                if sp.end - b < len / 2 {
                    b = sp.end;
                }
                out.push(a..b);
                a = b;
            }
        }
        out
    }
}

fn stack(parts: &[Array2<f64>]) -> Result<Array2<f64>> {
    let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    concatenate(Axis(0), &views).map_err(|e| Error::Linalg(e.to_string()))
}

/// Blocked normal equations of `theta` against `y` over `blocks`.
fn blocked(
    theta: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
    blocks: &[Range<usize>],
) -> Result<BlockedNormalEquations> {
    let mut ne = BlockedNormalEquations::new(theta.ncols(), y.ncols());
    for b in blocks {
        ne.push(NormalEquations::from_data(
            theta.slice(s![b.clone(), ..]),
            y.slice(s![b.clone(), ..]),
        )?)?;
    }
    Ok(ne)
}

/// Each gene's half-activation constant: the midpoint of its 2nd and 98th percentile over all
/// samples (robust to a few noisy extremes), or 1 for a gene that never rises above 0.
fn estimate_k(xs: &[Array2<f64>], n_genes: usize) -> Vec<f64> {
    (0..n_genes)
        .map(|j| {
            let mut v: Vec<f64> = xs.iter().flat_map(|x| x.column(j).to_vec()).collect();
            v.sort_by(f64::total_cmp);
            let lo = crate::stats::quantile_sorted(&v, 0.02).max(0.0);
            let hi = crate::stats::quantile_sorted(&v, 0.98);
            let mid = 0.5 * (lo + hi);
            if mid.is_finite() && mid > 0.0 {
                mid
            } else {
                1.0
            }
        })
        .collect()
}

/// SINDy on gene time courses with data-chosen settings (see the module docs): edges scored by
/// stability selection, one sparse rule per gene.
///
/// # Errors
/// [`Error::Empty`] without trajectories; [`Error::Shape`] if the trajectories disagree in
/// genes or controls, or `hill_k` has the wrong length; [`Error::InvalidParam`] for bad
/// parameters; [`Error::NonFinite`] for NaN/Inf levels; errors of the differentiator (too few
/// samples) and of the regressions.
pub fn fit_dynamics(trajectories: &[Trajectory], p: &DynamicsParams) -> Result<DynamicsFit> {
    p.validate()?;
    let first = trajectories.first().ok_or_else(|| Error::Empty {
        what: "trajectory list",
        why: "the dynamics route needs at least one time course".into(),
    })?;
    let genes = first.names().to_vec();
    let controls = first.control_names().to_vec();
    for (i, t) in trajectories.iter().enumerate() {
        if t.names() != genes.as_slice() || t.control_names() != controls.as_slice() {
            return Err(Error::shape(
                "fit_dynamics",
                format!("genes {genes:?} and controls {controls:?} in every trajectory"),
                format!(
                    "trajectory {i}: {:?} and {:?}",
                    t.names(),
                    t.control_names()
                ),
            ));
        }
        crate::error::check_finite("time-course levels", t.x())?;
    }
    let diff_cfg = match &p.differentiator {
        Some(d) => d.clone(),
        None => auto_diff(trajectories),
    };
    let rows = Rows::derivatives(trajectories, diff_cfg.build()?)?;
    let steps = Rows::increments(trajectories)?;
    let d = genes.len();
    let hill_k = match &p.hill_k {
        Some(k) if k.len() != d => {
            return Err(Error::shape(
                "fit_dynamics hill_k",
                format!("{d} constants (one per gene)"),
                format!("{}", k.len()),
            ))
        }
        Some(k) => k.clone(),
        None => estimate_k(&rows.xs, d),
    };
    let n_rows = rows.lhs.nrows();
    if n_rows < 8 {
        return Err(Error::TooFewSamples {
            op: "dynamics route (regression rows)".into(),
            needed: 8,
            got: n_rows,
        });
    }

    // The screen: every gene's level on the one-step rows.
    let screen = steps.columns(&|x, _u| Ok(x.to_owned()))?;
    let blocks = rows.blocks(40);
    let step_blocks = steps.blocks(40);
    // Thresholds in units of dx/dt per standard deviation of a regulator, shared by every
    // target: from the largest full-data coefficient of any target down `min_threshold` of
    // it, so scores compare across targets (a target with no regulators scores low).
    let designs: Vec<Design> = (0..d)
        .into_par_iter()
        .map(|g| screen_design(g, &screen, &steps.lhs, &step_blocks, None))
        .collect::<Result<_>>()?;
    // Hill terms of every level on the one-step rows, one matrix per coefficient tried.
    let pair_hill: Vec<Array2<f64>> = p
        .hill_n
        .iter()
        .map(|&n| {
            let lib = HillLibrary::new(hill_k.clone(), n)?.interactions(false);
            steps.columns(&|x, _u| lib.transform(x))
        })
        .collect::<Result<_>>()?;
    let mut top = 0.0f64;
    for design in &designs {
        let full = stlsq_path(design.ne.total(), design.n_fixed, &[0.0])?;
        for (&k, &c) in full[0].0.iter().zip(&full[0].1) {
            if design.owner[k].len() == 1 {
                top = top.max(c.abs());
            }
        }
    }
    let taus: Vec<f64> = (0..p.thresholds)
        .map(|k| {
            top * p
                .min_threshold
                .powf(1.0 - k as f64 / (p.thresholds - 1) as f64)
        })
        .collect();
    let per_target: Vec<(Vec<f64>, Vec<i8>, Rule, TargetTrace)> = designs
        .par_iter()
        .enumerate()
        .map(|(g, design)| {
            let (score, sign) = screen_target(g, design, &taus, d, p)?;
            // A gate whose inputs have no main effect (XOR) is invisible to the levels: the
            // pair of genes whose Hill terms and product most lower the error of a joint fit
            // with the stable regulators is offered to the stability selection as one more
            // column.
            let (score, sign) = match best_pair(g, &score, &screen, &pair_hill, &steps.lhs)? {
                Some((a, b, column)) => {
                    let d2 =
                        screen_design(g, &screen, &steps.lhs, &step_blocks, Some((a, b, &column)))?;
                    let (s2, sign2) = screen_target(g, &d2, &taus, d, p)?;
                    let sign = sign
                        .iter()
                        .zip(&sign2)
                        .map(|(&x, &y)| if x != 0 { x } else { y })
                        .collect();
                    (s2, sign)
                }
                None => (score, sign),
            };
            let (rule, trace) =
                rule_for_target(g, &genes, &controls, &score, &rows, &hill_k, &blocks, p)?;
            Ok((score, sign, rule, trace))
        })
        .collect::<Result<_>>()?;

    let mut edges = Vec::with_capacity(d * d);
    let mut rules = Vec::with_capacity(d);
    let mut traces = Vec::with_capacity(d);
    for (g, (score, sign, rule, trace)) in per_target.into_iter().enumerate() {
        for (j, reg) in genes.iter().enumerate() {
            let max_abs_coef = rule
                .terms
                .iter()
                .filter(|t| {
                    t.genes.contains(reg) && !(j == g && t.genes.len() == 1 && t.feature == *reg)
                })
                .fold(0.0f64, |a, t| a.max(t.coef.abs()));
            // The edge list agrees with the rules: an edge the rule uses ranks above every
            // edge it does not, and stability orders edges within each tier; its sign is the
            // rule's (an XOR input's level alone has no consistent sign).
            let in_rule = max_abs_coef > 0.0;
            let sign = if in_rule && j != g {
                edge_sign(rule.terms.iter().map(|t| (t.coef, t.genes.as_slice())), reg)
            } else if score[j] > 0.0 {
                sign[j]
            } else {
                0
            };
            edges.push(ScoredEdge {
                regulator: reg.clone(),
                target: genes[g].clone(),
                sign,
                score: 0.5 * (score[j] + f64::from(u8::from(in_rule))),
                max_abs_coef,
            });
        }
        rules.push(rule);
        traces.push(trace);
    }
    Ok(DynamicsFit {
        rules: RuleSet { rules, edges },
        genes,
        hill_k,
        differentiator: diff_cfg,
        targets: traces,
        n_samples: n_rows,
    })
}

/// Stage 1's regression of one target: blocked normal equations whose first `n_fixed`
/// columns are always kept, and the genes each later column involves.
struct Design {
    ne: BlockedNormalEquations,
    owner: Vec<Vec<usize>>,
    n_fixed: usize,
}

/// Stage 1's regression for target `g`: always-kept columns (constant, own level: basal
/// production and decay), then every other gene's level as a candidate. Control inputs are
/// left out of the screen: they are not genes, and as noise-free signals they would stand in
/// for the noisy genes they drive (they enter the rules). Returns the blocked normal
/// equations and each candidate's gene.
fn screen_design(
    g: usize,
    screen: &Array2<f64>,
    lhs: &Array2<f64>,
    blocks: &[Range<usize>],
    pair: Option<(usize, usize, &Array1<f64>)>,
) -> Result<Design> {
    let d = screen.ncols();
    let mut owner: Vec<Vec<usize>> = Vec::new();
    let mut cols: Vec<usize> = Vec::new();
    for j in (0..d).filter(|&j| j != g) {
        owner.push(vec![j]);
        cols.push(j);
    }
    let extra = usize::from(pair.is_some());
    let n_fixed = 2;
    let mut theta = Array2::zeros((lhs.nrows(), n_fixed + cols.len() + extra));
    theta.column_mut(0).fill(1.0);
    theta.column_mut(1).assign(&screen.column(g));
    for (k, &c) in cols.iter().enumerate() {
        theta.column_mut(n_fixed + k).assign(&screen.column(c));
    }
    if let Some((a, b, column)) = pair {
        theta.column_mut(n_fixed + cols.len()).assign(column);
        owner.push(vec![a, b]);
    }
    let y = lhs.column(g).insert_axis(Axis(1));
    Ok(Design {
        ne: blocked(theta.view(), y, blocks)?,
        owner,
        n_fixed,
    })
}

/// Genes a pair screen searches at most (the most variable ones), so its cost stays
/// quadratic in a bounded number.
const PAIR_POOL: usize = 40;

/// The model-free pair screen of target `g`: for every pair of other genes and every Hill
/// coefficient, how much `[H(a), H(b), H(a) H(b)]` lowers the residual sum of squares of the
/// increments when added to the constant, the target's own level and its stable regulators
/// (score ≥ 0.5). The drop is that of the joint fit (Frisch–Waugh–Lovell: the pair's
/// columns are residualised on the base columns too), not of a fit to the base's residual:
/// a gate's output follows its inputs, so the target's own level soaks up part of the
/// gate's signal, and a screen of the residual alone would miss the gate's pair. The pair
/// with the largest drop is returned with its product column (at the best coefficient).
/// `None` with fewer than two other genes.
fn best_pair(
    g: usize,
    score: &[f64],
    screen: &Array2<f64>,
    hills: &[Array2<f64>],
    lhs: &Array2<f64>,
) -> Result<Option<(usize, usize, Array1<f64>)>> {
    let (n, d) = screen.dim();
    let mut base: Vec<usize> = vec![g];
    base.extend((0..d).filter(|&j| j != g && score[j] >= 0.5));
    let mut z = Array2::ones((n, base.len() + 1));
    for (k, &j) in base.iter().enumerate() {
        z.column_mut(k + 1).assign(&screen.column(j));
    }
    let ridge = 1e-10 * n as f64;
    let zt = z.t();
    let gram = zt.dot(&z);
    // The part of a column the base columns do not explain.
    let residualise = |v: ArrayView2<'_, f64>| -> Result<Array2<f64>> {
        let beta = solve_spd(gram.view(), zt.dot(&v).view(), ridge)?;
        Ok(&v - &z.dot(&beta))
    };
    let r = residualise(lhs.column(g).insert_axis(Axis(1)))?
        .column(0)
        .to_owned();
    let rss0 = r.dot(&r);
    if rss0.is_nan() || rss0 <= 0.0 {
        return Ok(None);
    }
    let mut pool: Vec<usize> = (0..d).filter(|&j| j != g).collect();
    if pool.len() > PAIR_POOL {
        let var = |j: usize| screen.column(j).var(0.0);
        pool.sort_by(|&a, &b| var(b).total_cmp(&var(a)).then(a.cmp(&b)));
        pool.truncate(PAIR_POOL);
        pool.sort_unstable();
    }
    let mut best: Option<(f64, usize, usize, usize)> = None;
    for (hi, h) in hills.iter().enumerate() {
        let pooled = Array2::from_shape_fn((n, pool.len()), |(i, k)| h[(i, pool[k])]);
        let main = residualise(pooled.view())?;
        for ia in 0..pool.len() {
            for ib in ia + 1..pool.len() {
                let (a, b) = (pool[ia], pool[ib]);
                let w = (&h.column(a) * &h.column(b)).insert_axis(Axis(1));
                let w = residualise(w.view())?;
                let cols = [main.column(ia), main.column(ib), w.column(0)];
                let mut gram3 = Array2::<f64>::zeros((3, 3));
                let mut rhs = Array2::<f64>::zeros((3, 1));
                for i in 0..3 {
                    rhs[(i, 0)] = cols[i].dot(&r);
                    for j in i..3 {
                        gram3[(i, j)] = cols[i].dot(&cols[j]);
                        gram3[(j, i)] = gram3[(i, j)];
                    }
                }
                let c = solve_spd(gram3.view(), rhs.view(), ridge)?;
                // Explained sum of squares of a least-squares fit: cᵀ C̃ᵀr.
                let explained = (0..3).map(|i| c[(i, 0)] * rhs[(i, 0)]).sum::<f64>();
                if best.is_none_or(|bb| explained > bb.0) {
                    best = Some((explained, hi, a, b));
                }
            }
        }
    }
    Ok(best.map(|(_, hi, a, b)| (a, b, &hills[hi].column(a) * &hills[hi].column(b))))
}

/// Stage 1 for target `g`: stability score and sign of every gene as its regulator.
fn screen_target(
    g: usize,
    design: &Design,
    taus: &[f64],
    d: usize,
    p: &DynamicsParams,
) -> Result<(Vec<f64>, Vec<i8>)> {
    let (ne, owner, n_fixed) = (&design.ne, &design.owner, design.n_fixed);
    let mut hits = vec![0usize; d];
    let nb = ne.blocks().len();
    let half = (nb / 2).max(1);
    let mut order: Vec<usize> = (0..nb).collect();
    for b in 0..p.bags {
        let mut rng = crate::rng::stream(p.seed, DOMAIN_BAGS, (g as u64) << 32 | b as u64);
        order.shuffle(&mut rng);
        let mut w = vec![0.0; nb];
        for &i in &order[..half] {
            w[i] = 1.0;
        }
        let bag = ne.weighted(&w);
        for sel in stlsq_path(&bag, n_fixed, taus)? {
            let mut seen = vec![false; d];
            for &k in &sel.0 {
                for &j in &owner[k] {
                    seen[j] = true;
                }
            }
            for (h, s) in hits.iter_mut().zip(seen) {
                *h += usize::from(s);
            }
        }
    }
    let total = (p.bags * taus.len()) as f64;
    let score: Vec<f64> = hits.iter().map(|&h| h as f64 / total).collect();
    // Signs from the full data: the regulator's coefficient at the largest threshold that
    // keeps it.
    let full = stlsq_path(ne.total(), n_fixed, taus)?;
    let mut sign = vec![0i8; d];
    for (support, coef) in full.iter().rev() {
        for (&k, &c) in support.iter().zip(coef) {
            for &j in &owner[k] {
                if sign[j] == 0 && c != 0.0 {
                    sign[j] = if c > 0.0 { 1 } else { -1 };
                }
            }
        }
    }
    Ok((score, sign))
}

/// STLSQ with `n_fixed` leading columns always kept, at every threshold of `taus` (ascending,
/// with continuation: each support starts from the previous one). A candidate stays while
/// `|coef| · rms(column) >= tau` (its effect on the target per standard deviation of the
/// column, in the target's units). Returns each threshold's candidate support (indices from 0
/// after the fixed columns) and those effects.
fn stlsq_path(
    ne: &NormalEquations,
    n_fixed: usize,
    taus: &[f64],
) -> Result<Vec<(Vec<usize>, Vec<f64>)>> {
    let p = ne.n_features();
    let gram = &ne.gram;
    let b = ne.xty.column(0);
    let n = (ne.n_samples.max(1)) as f64;
    let rms: Vec<f64> = (0..p).map(|i| (gram[(i, i)].max(0.0) / n).sqrt()).collect();
    let solve = |cols: &[usize]| -> Result<Array1<f64>> {
        let k = cols.len();
        let a = Array2::from_shape_fn((k, k), |(i, j)| gram[(cols[i], cols[j])]);
        let rhs = Array2::from_shape_fn((k, 1), |(i, _)| b[cols[i]]);
        let trace: f64 = (0..k).map(|i| a[(i, i)]).sum::<f64>() / k.max(1) as f64;
        Ok(solve_spd(a.view(), rhs.view(), 1e-10 * trace)?
            .column(0)
            .to_owned())
    };
    let fixed: Vec<usize> = (0..n_fixed).collect();
    let mut support: Vec<usize> = (n_fixed..p).filter(|&i| rms[i] > 0.0).collect();
    let mut out = Vec::with_capacity(taus.len());
    for &tau in taus {
        let mut w;
        loop {
            let cols: Vec<usize> = fixed.iter().chain(&support).copied().collect();
            w = solve(&cols)?;
            let keep: Vec<usize> = support
                .iter()
                .enumerate()
                .filter(|(i, &c)| (w[n_fixed + i] * rms[c]).abs() >= tau)
                .map(|(_, &c)| c)
                .collect();
            if keep.len() == support.len() {
                break;
            }
            support = keep;
        }
        out.push((
            support.iter().map(|&c| c - n_fixed).collect(),
            (0..support.len())
                .map(|i| w[n_fixed + i] * rms[support[i]])
                .collect(),
        ));
    }
    Ok(out)
}

/// Stage 2 for target `g`: a sparse rule in its most stable regulators.
#[allow(clippy::too_many_arguments)]
fn rule_for_target(
    g: usize,
    genes: &[String],
    controls: &[String],
    score: &[f64],
    rows: &Rows,
    hill_k: &[f64],
    blocks: &[Range<usize>],
    p: &DynamicsParams,
) -> Result<(Rule, TargetTrace)> {
    let mut ranked: Vec<usize> = (0..genes.len())
        .filter(|&j| j != g && score[j] >= 0.5)
        .collect();
    ranked.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    ranked.truncate(p.max_regulators);
    let mut cands = ranked.clone();
    cands.sort_unstable();
    // Library: 1, controls, own level, candidate levels, then Hill terms (and products) of
    // the candidates. Feature → genes it involves.
    let mut names: Vec<String> = vec!["1".into()];
    let mut involves: Vec<Vec<String>> = vec![vec![]];
    for c in controls {
        names.push(c.clone());
        involves.push(vec![]);
    }
    for &j in std::iter::once(&g).chain(&cands) {
        names.push(genes[j].clone());
        involves.push(vec![genes[j].clone()]);
    }
    let n_linear = names.len();
    let hill_names: Vec<String> = if cands.is_empty() {
        vec![]
    } else {
        let lib = HillLibrary::new(cands.iter().map(|&j| hill_k[j]).collect(), 1.0)?
            .interactions(p.interactions);
        let cand_names: Vec<String> = cands.iter().map(|&j| genes[j].clone()).collect();
        for gs in lib.feature_inputs(cands.len()) {
            let mut v: Vec<String> = gs.iter().map(|&i| cand_names[i].clone()).collect();
            v.sort();
            involves.push(v);
        }
        lib.feature_names(&cand_names)
    };
    names.extend(hill_names);
    let y = rows.lhs.column(g).insert_axis(Axis(1)).to_owned();
    let opt = AutoStlsq::default();
    let mut best: Option<(f64, f64, crate::optimize::SparseFit)> = None;
    let mut cv_by_n = Vec::new();
    let n_list: Vec<f64> = if cands.is_empty() {
        vec![p.hill_n[0]]
    } else {
        p.hill_n.clone()
    };
    for &n in &n_list {
        let lib = if cands.is_empty() {
            None
        } else {
            Some(
                HillLibrary::new(cands.iter().map(|&j| hill_k[j]).collect(), n)?
                    .interactions(p.interactions),
            )
        };
        let theta = rows.columns(&|x, u| {
            let rows_n = x.nrows();
            let mut out = Array2::zeros((rows_n, n_linear));
            out.column_mut(0).fill(1.0);
            out.slice_mut(s![.., 1..1 + u.ncols()]).assign(&u);
            for (k, &j) in std::iter::once(&g).chain(&cands).enumerate() {
                out.column_mut(1 + u.ncols() + k).assign(&x.column(j));
            }
            match &lib {
                Some(lib) => {
                    let sub =
                        Array2::from_shape_fn((rows_n, cands.len()), |(i, k)| x[(i, cands[k])]);
                    let h = lib.transform(sub.view())?;
                    concatenate(Axis(1), &[out.view(), h.view()])
                        .map_err(|e| Error::Linalg(e.to_string()))
                }
                None => Ok(out),
            }
        })?;
        let ne = blocked(theta.view(), y.view(), blocks)?;
        let fit = opt.fit_normal(&ne)?;
        let cv = fit
            .selection
            .as_ref()
            .and_then(|s| s.first())
            .and_then(|s| s.path.get(s.chosen))
            .and_then(|pt| pt.cv.or(Some(pt.rss)))
            .unwrap_or(f64::INFINITY);
        cv_by_n.push((n, cv));
        if best.as_ref().is_none_or(|b| cv < b.0) {
            best = Some((cv, n, fit));
        }
    }
    let Some((_, hill_n, fit)) = best else {
        return Err(Error::Empty {
            what: "Hill coefficients",
            why: "hill_n is empty".into(),
        });
    };
    let terms: Vec<RuleTerm> = (0..names.len())
        .filter(|&i| fit.coef[(i, 0)] != 0.0)
        .map(|i| RuleTerm {
            feature: names[i].clone(),
            genes: involves[i].clone(),
            coef: fit.coef[(i, 0)],
            inclusion: None,
        })
        .collect();
    let rule = Rule {
        target: genes[g].clone(),
        lhs: format!("d{}/dt", genes[g]),
        terms,
    };
    let trace = TargetTrace {
        target: genes[g].clone(),
        stability: score.to_vec(),
        candidates: ranked.iter().map(|&j| genes[j].clone()).collect(),
        cv_by_hill_n: cv_by_n,
        hill_n,
        features: names,
        selection: fit.selection.and_then(|mut s| s.pop()),
    };
    Ok((rule, trace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// The pair screen finds an XOR's inputs, whose levels alone explain nothing, when the
    /// target's own level follows the gate (so the decay term takes part of its signal).
    #[test]
    fn pair_screen_finds_the_inputs_of_an_xor() {
        let n = 2_000;
        let mut rng = crate::rng::stream(3, 0, 0);
        let mut x = Array2::from_shape_fn((n, 5), |_| rng.random::<f64>());
        let h = |v: f64| v.powi(4) / (0.5f64.powi(4) + v.powi(4));
        let gate: Vec<f64> = (0..n)
            .map(|i| {
                let (a, b) = (h(x[(i, 1)]), h(x[(i, 3)]));
                a + b - 2.0 * a * b
            })
            .collect();
        // Column 0 is the target: its level is the gate plus noise, its increment the gate's
        // production minus decay.
        let mut y = Array2::zeros((n, 5));
        for i in 0..n {
            x[(i, 0)] = gate[i] + 0.2 * (rng.random::<f64>() - 0.5);
            y[(i, 0)] = 3.0 * gate[i] - 1.0 * x[(i, 0)];
        }
        let lib = HillLibrary::new(vec![0.5; 5], 4.0)
            .unwrap()
            .interactions(false);
        let hills = vec![lib.transform(x.view()).unwrap()];
        let score = vec![0.0; 5];
        let (a, b, column) = best_pair(0, &score, &x, &hills, &y).unwrap().unwrap();
        assert_eq!((a, b), (1, 3));
        assert_eq!(column.len(), n);
    }
}
