//! Sparse regression `Θ Ξ ≈ Ẋ` (≈ `pysindy.optimizers`).
//!
//! Every optimizer works on [`NormalEquations`] (`ΘᵀΘ`, `ΘᵀẊ`): the samples are read once to
//! build them, and every thresholding iteration, every point of a threshold sweep and every
//! ensemble member is then a `p × p` solve. Row bagging uses the per-block statistics of
//! [`BlockedNormalEquations`] (a block bootstrap).
//!
//! Coefficients are `(n_features, n_targets)` so that `Ẋ ≈ Θ Ξ` (Brunton, Proctor & Kutz 2016);
//! PySINDy stores the transpose.

mod auto;
mod ensemble;
mod lasso;
mod stlsq;

pub use auto::{AutoParams, AutoRule, AutoStlsq, EquationSelection, PathPoint, RSS_FLOOR};
pub use ensemble::{Aggregate, Ensemble, EnsembleParams};
pub use lasso::{Lasso, LassoParams};
pub use stlsq::{Stlsq, StlsqParams};

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::linalg::{solve_spd, BlockedNormalEquations, NormalEquations};

/// Coefficients with magnitude at or below this are treated as exactly zero (PySINDy's `1e-14`).
pub const ZERO_TOL: f64 = 1e-14;

/// Result of a sparse regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseFit {
    /// Coefficients, `(n_features, n_targets)`.
    pub coef: Array2<f64>,
    /// Iterations of the outer thresholding loop.
    pub n_iter: usize,
    /// Whether the support stopped changing before `max_iter`.
    pub converged: bool,
    /// For ensembles: the fraction of models in which each coefficient is non-zero,
    /// `(n_features, n_targets)`.
    pub inclusion: Option<Array2<f64>>,
    /// For [`AutoStlsq`]: how each equation's support was chosen (the path and its scores).
    #[serde(default)]
    pub selection: Option<Vec<EquationSelection>>,
}

impl SparseFit {
    /// A converged one-iteration fit with these coefficients and no diagnostics: what an
    /// optimizer defined outside the crate returns.
    pub fn new(coef: Array2<f64>) -> Self {
        Self {
            coef,
            n_iter: 1,
            converged: true,
            inclusion: None,
            selection: None,
        }
    }

    /// Support mask, `(n_features, n_targets)`.
    pub fn support(&self) -> Array2<bool> {
        self.coef.mapv(|c| c.abs() > ZERO_TOL)
    }

    /// Number of non-zero coefficients.
    pub fn complexity(&self) -> usize {
        self.coef.iter().filter(|c| c.abs() > ZERO_TOL).count()
    }
}

/// A sparse regression method.
///
/// Open to optimizers defined outside this crate: implement [`Self::fit_normal`] and the
/// optimizer works in [`crate::SindyParams::optimizer`]; implement [`Self::with_threshold`]
/// too and it works in threshold sweeps ([`crate::SindyParams::select_threshold`]) and as the
/// inner optimizer of an [`Ensemble`] ([`Ensemble::with_inner`]). Only [`Self::config`] is
/// needed to save a fitted model, and only the crate's own optimizers have one.
pub trait SparseRegressor: std::fmt::Debug + Send + Sync {
    /// Fits from sufficient statistics.
    ///
    /// # Errors
    /// [`Error::Empty`] for zero features or samples; [`Error::Linalg`] if a solve fails.
    fn fit_normal(&self, ne: &BlockedNormalEquations) -> Result<SparseFit>;

    /// Fits from data, `Θ Ξ ≈ Y`.
    ///
    /// # Shapes
    /// `theta`: `(n_samples, n_features)`, `target`: `(n_samples, n_targets)`;
    /// `SparseFit::coef` is `(n_features, n_targets)`.
    ///
    /// # Errors
    /// [`Error::Shape`] on mismatched rows, [`Error::NonFinite`] on NaN/Inf, and as
    /// [`SparseRegressor::fit_normal`].
    fn fit(&self, theta: ArrayView2<'_, f64>, target: ArrayView2<'_, f64>) -> Result<SparseFit> {
        crate::error::check_finite("theta", theta)?;
        crate::error::check_finite("target", target)?;
        let ne = blocked_from_data(theta, target, DEFAULT_BLOCKS)?;
        self.fit_normal(&ne)
    }

    /// The serialisable description; `None` (the default) for an optimizer defined outside
    /// this crate, whose fitted models then work in memory but cannot be saved.
    fn config(&self) -> Option<OptimizerConfig> {
        None
    }

    /// The same optimizer with its sparsity threshold set to `threshold`: what a threshold
    /// sweep fits at each point.
    ///
    /// # Errors
    /// [`Error::Unsupported`] (the default) for an optimizer without a threshold;
    /// [`Error::InvalidParam`] for a threshold it refuses.
    fn with_threshold(&self, threshold: f64) -> Result<Box<dyn SparseRegressor>> {
        let _ = threshold;
        Err(Error::Unsupported(format!(
            "{self:?} has no sparsity threshold to sweep (implement SparseRegressor::with_threshold)"
        )))
    }

    /// Whether the optimizer resamples blocks of rows (as [`Ensemble`]'s bagging does): the data
    /// are then kept as [`DEFAULT_BLOCKS`] blocks rather than one total.
    fn resamples_rows(&self) -> bool {
        false
    }
}

/// Number of row blocks kept for in-memory data (row bagging draws from them).
pub const DEFAULT_BLOCKS: usize = 64;

/// Normal equations of `(theta, y)` split into up to `n_blocks` blocks of consecutive rows.
///
/// # Errors
/// [`Error::Shape`] if the row counts differ.
pub fn blocked_from_data(
    theta: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
    n_blocks: usize,
) -> Result<BlockedNormalEquations> {
    if theta.nrows() != y.nrows() {
        return Err(Error::shape(
            "sparse regression",
            format!("target with {} rows", theta.nrows()),
            format!("{} rows", y.nrows()),
        ));
    }
    let n = theta.nrows();
    let mut out = BlockedNormalEquations::new(theta.ncols(), y.ncols());
    let nb = n_blocks.clamp(1, n.max(1));
    for b in 0..nb {
        let (s, e) = (b * n / nb, (b + 1) * n / nb);
        out.push(NormalEquations::from_data(
            theta.slice(ndarray::s![s..e, ..]),
            y.slice(ndarray::s![s..e, ..]),
        )?)?;
    }
    Ok(out)
}

/// Serialisable choice of optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// [`Stlsq`].
    Stlsq(StlsqParams),
    /// [`Lasso`] (sequentially thresholded L1).
    Lasso(LassoParams),
    /// [`Ensemble`].
    Ensemble(EnsembleParams),
    /// [`AutoStlsq`].
    Auto(AutoParams),
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Stlsq(StlsqParams::default())
    }
}

impl OptimizerConfig {
    /// Validates and builds the optimizer.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] on invalid settings.
    pub fn build(&self) -> Result<Box<dyn SparseRegressor>> {
        Ok(match self {
            OptimizerConfig::Stlsq(p) => Box::new(p.clone().check()?),
            OptimizerConfig::Lasso(p) => Box::new(p.clone().check()?),
            OptimizerConfig::Ensemble(p) => Box::new(p.clone().check()?),
            OptimizerConfig::Auto(p) => Box::new(p.clone().check()?),
        })
    }
}

/// Shared checks on the statistics every optimizer starts from.
pub(crate) fn check_normal(ne: &NormalEquations) -> Result<()> {
    if ne.n_features() == 0 {
        return Err(Error::Empty {
            what: "feature library",
            why: "it produced no features".into(),
        });
    }
    if ne.n_samples == 0 {
        return Err(Error::Empty {
            what: "training data",
            why: "no samples".into(),
        });
    }
    if ne.gram.iter().chain(ne.xty.iter()).any(|v| !v.is_finite()) {
        return Err(Error::Linalg(
            "normal equations contain non-finite values (overflow in the library?)".into(),
        ));
    }
    Ok(())
}

/// Column scales used by `normalize_columns` (PySINDy divides by the column's L2 norm).
/// Zero columns get scale 1 (their coefficient is forced to zero anyway).
pub(crate) fn column_norms(ne: &NormalEquations, normalize: bool) -> Vec<f64> {
    (0..ne.n_features())
        .map(|i| {
            let g = ne.gram[(i, i)];
            if normalize && g > 0.0 {
                g.sqrt()
            } else {
                1.0
            }
        })
        .collect()
}

/// Statistics in normalised coordinates: `G' = D⁻¹ G D⁻¹`, `b' = D⁻¹ b`.
pub(crate) fn normalized(ne: &NormalEquations, norms: &[f64]) -> NormalEquations {
    let mut out = ne.clone();
    for i in 0..ne.n_features() {
        for j in 0..ne.n_features() {
            out.gram[(i, j)] /= norms[i] * norms[j];
        }
        for j in 0..ne.n_targets() {
            out.xty[(i, j)] /= norms[i];
        }
    }
    out
}

/// Solves `(G_SS + ridge I) w = b_S` for one target on support `support`; entries outside the
/// support are zero.
pub(crate) fn solve_on_support(
    ne: &NormalEquations,
    target: usize,
    support: &[usize],
    ridge: f64,
) -> Result<Vec<f64>> {
    let mut out = vec![0.0; ne.n_features()];
    if support.is_empty() {
        return Ok(out);
    }
    let k = support.len();
    let g = Array2::from_shape_fn((k, k), |(i, j)| ne.gram[(support[i], support[j])]);
    let b = Array2::from_shape_fn((k, 1), |(i, _)| ne.xty[(support[i], target)]);
    let w = solve_spd(g.view(), b.view(), ridge)?;
    for (i, &s) in support.iter().enumerate() {
        out[s] = w[(i, 0)];
    }
    Ok(out)
}

/// Least-squares refit of every target on its current support (PySINDy's `unbias`).
pub(crate) fn unbias(ne: &NormalEquations, coef: &mut Array2<f64>) -> Result<()> {
    for j in 0..coef.ncols() {
        let support: Vec<usize> = (0..coef.nrows())
            .filter(|&i| coef[(i, j)].abs() > ZERO_TOL)
            .collect();
        let w = solve_on_support(ne, j, &support, 0.0)?;
        for i in 0..coef.nrows() {
            coef[(i, j)] = w[i];
        }
    }
    Ok(())
}

/// Indices of features whose column is not identically zero.
pub(crate) fn nonzero_columns(ne: &NormalEquations) -> Vec<usize> {
    (0..ne.n_features())
        .filter(|&i| ne.gram[(i, i)] > 0.0)
        .collect()
}
