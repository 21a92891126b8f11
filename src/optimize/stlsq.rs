use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{
    check_normal, column_norms, nonzero_columns, normalized, solve_on_support, unbias,
    OptimizerConfig, SparseFit, SparseRegressor, ZERO_TOL,
};
use crate::error::{Error, Result};
use crate::linalg::BlockedNormalEquations;

/// Hyper-parameters of sequentially thresholded least squares (unchecked; see
/// [`StlsqParams::check`]). Names and defaults are PySINDy's (`pysindy.optimizers.STLSQ`), so
/// results compare one to one.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `threshold` | 0.1 | coefficients below this magnitude are zeroed | `>= 0` |
/// | `alpha` | 0.05 | ridge penalty of the thresholding regressions | `>= 0` |
/// | `max_iter` | 20 | thresholding iterations | `>= 1` |
/// | `normalize_columns` | `false` | scale library columns to unit norm first | |
/// | `unbias` | `true` | final ordinary least squares on the support | |
///
/// # Errors
/// [`StlsqParams::check`] returns [`Error::InvalidParam`] for a negative or non-finite
/// `threshold` or `alpha`, or `max_iter == 0`.
///
/// # Example
/// ```
/// use cellsindy::optimize::{SparseRegressor, Stlsq};
/// use ndarray::{array, Array2};
/// let theta = Array2::from_shape_fn((50, 3), |(i, j)| ((i * (j + 1)) as f64 * 0.37).sin());
/// let y = theta.column(0).mapv(|v| 2.0 * v).insert_axis(ndarray::Axis(1));
/// let fit = Stlsq::params().threshold(0.1).check()?.fit(theta.view(), y.view())?;
/// assert!((fit.coef[(0, 0)] - 2.0).abs() < 1e-10 && fit.complexity() == 1);
/// # Ok::<(), cellsindy::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StlsqParams {
    /// Sparsity threshold.
    pub threshold: f64,
    /// Ridge penalty.
    pub alpha: f64,
    /// Maximum thresholding iterations.
    pub max_iter: usize,
    /// Normalise library columns to unit L2 norm before regressing.
    pub normalize_columns: bool,
    /// Refit the support by ordinary least squares.
    pub unbias: bool,
    /// Continuation steps (0 = PySINDy's behaviour): run STLSQ at `continuation` thresholds
    /// rising geometrically from `threshold / 100` to `threshold`, each starting from the
    /// previous support. Weak terms hidden by collinear junk in the full library survive
    /// because the junk is pruned first; this is what makes noisy fits reliable.
    pub continuation: usize,
}

impl Default for StlsqParams {
    fn default() -> Self {
        Self {
            threshold: 0.1,
            alpha: 0.05,
            max_iter: 20,
            normalize_columns: false,
            unbias: true,
            continuation: 0,
        }
    }
}

impl StlsqParams {
    /// Sets `threshold`.
    #[must_use]
    pub fn threshold(mut self, v: f64) -> Self {
        self.threshold = v;
        self
    }
    /// Sets `alpha`.
    #[must_use]
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
        self
    }
    /// Sets `max_iter`.
    #[must_use]
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Sets `normalize_columns`.
    #[must_use]
    pub fn normalize_columns(mut self, v: bool) -> Self {
        self.normalize_columns = v;
        self
    }
    /// Sets `unbias`.
    #[must_use]
    pub fn unbias(mut self, v: bool) -> Self {
        self.unbias = v;
        self
    }
    /// Sets `continuation`.
    #[must_use]
    pub fn continuation(mut self, v: usize) -> Self {
        self.continuation = v;
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the offending parameter.
    pub fn check(self) -> Result<Stlsq> {
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return Err(Error::param(
                "threshold",
                self.threshold,
                "must be finite and >= 0",
            ));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::param("alpha", self.alpha, "must be finite and >= 0"));
        }
        if self.max_iter == 0 {
            return Err(Error::param("max_iter", self.max_iter, "must be >= 1"));
        }
        Ok(Stlsq { p: self })
    }
}

/// Sequentially thresholded least squares (Brunton, Proctor & Kutz 2016), validated and ready to
/// fit; mirrors `pysindy.optimizers.STLSQ` step for step: ridge regression on the current
/// support, zero the coefficients below `threshold`, repeat until the support stops changing,
/// then an optional unbiased least-squares refit.
#[derive(Debug, Clone, PartialEq)]
pub struct Stlsq {
    p: StlsqParams,
}

impl Default for Stlsq {
    /// PySINDy's defaults (valid by construction).
    fn default() -> Self {
        Self {
            p: StlsqParams::default(),
        }
    }
}

impl Stlsq {
    /// Default (unchecked) parameters.
    pub fn params() -> StlsqParams {
        StlsqParams::default()
    }

    /// The validated parameters.
    pub fn get(&self) -> &StlsqParams {
        &self.p
    }
}

impl SparseRegressor for Stlsq {
    fn fit_normal(&self, ne: &BlockedNormalEquations) -> Result<SparseFit> {
        let raw = ne.total();
        check_normal(raw)?;
        let norms = column_norms(raw, self.p.normalize_columns);
        let ne = normalized(raw, &norms);
        let (p, t) = (ne.n_features(), ne.n_targets());
        let live = nonzero_columns(&ne);
        let mut support: Vec<Vec<usize>> = vec![live.clone(); t];
        let mut coef = Array2::zeros((p, t));
        let mut n_iter = 0;
        let mut converged = false;
        let steps = self.p.continuation.max(1);
        for step in 0..steps {
            let threshold = if steps == 1 {
                self.p.threshold
            } else {
                self.p.threshold * 100f64.powf(step as f64 / (steps - 1) as f64 - 1.0)
            };
            let mut prev_pattern: Option<Vec<Vec<usize>>> = None;
            converged = false;
            for _ in 0..self.p.max_iter {
                n_iter += 1;
                coef.fill(0.0);
                for j in 0..t {
                    if support[j].is_empty() {
                        continue;
                    }
                    let w = solve_on_support(&ne, j, &support[j], self.p.alpha)?;
                    support[j].retain(|&i| w[i].abs() >= threshold);
                    for &i in &support[j] {
                        coef[(i, j)] = w[i];
                    }
                }
                if prev_pattern.as_ref() == Some(&support) {
                    converged = true;
                    break;
                }
                prev_pattern = Some(support.clone());
            }
        }
        if self.p.unbias {
            unbias(&ne, &mut coef)?;
        }
        for i in 0..p {
            for j in 0..t {
                coef[(i, j)] /= norms[i];
                if coef[(i, j)].abs() <= ZERO_TOL {
                    coef[(i, j)] = 0.0;
                }
            }
        }
        Ok(SparseFit {
            coef,
            n_iter,
            converged,
            inclusion: None,
            selection: None,
        })
    }

    fn config(&self) -> Option<OptimizerConfig> {
        Some(OptimizerConfig::Stlsq(self.p.clone()))
    }

    fn with_threshold(&self, threshold: f64) -> Result<Box<dyn SparseRegressor>> {
        Ok(Box::new(self.p.clone().threshold(threshold).check()?))
    }
}
