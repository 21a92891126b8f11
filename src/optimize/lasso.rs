use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::{
    check_normal, column_norms, nonzero_columns, normalized, unbias, OptimizerConfig, SparseFit,
    SparseRegressor, ZERO_TOL,
};
use crate::error::{Error, Result};
use crate::linalg::{BlockedNormalEquations, NormalEquations};

/// Hyper-parameters of sequentially thresholded L1 regression (unchecked).
///
/// Each round solves the lasso `min (1/2n)‖y − Θw‖² + alpha‖w‖₁` on the current support by
/// cyclic coordinate descent (on unit-RMS columns, so `alpha` is scale-free), zeroes the
/// coefficients whose magnitude *in the original units* is below `threshold`, and repeats until
/// the support is stable; `unbias` then refits the support by least squares.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `alpha` | 1e-3 | L1 penalty (unit-RMS columns) | `>= 0` |
/// | `threshold` | 0.1 | magnitude below which coefficients are removed | `>= 0` |
/// | `max_iter` | 20 | thresholding rounds | `>= 1` |
/// | `cd_max_iter` | 10000 | coordinate-descent sweeps per round | `>= 1` |
/// | `tol` | 1e-10 | largest coefficient change that stops coordinate descent | `> 0` |
/// | `unbias` | `true` | least-squares refit of the support | |
///
/// # Errors
/// [`LassoParams::check`] returns [`Error::InvalidParam`] for out-of-range values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LassoParams {
    /// L1 penalty.
    pub alpha: f64,
    /// Sparsity threshold (original units).
    pub threshold: f64,
    /// Thresholding rounds.
    pub max_iter: usize,
    /// Coordinate-descent sweeps per round.
    pub cd_max_iter: usize,
    /// Coordinate-descent tolerance.
    pub tol: f64,
    /// Least-squares refit of the support.
    pub unbias: bool,
}

impl Default for LassoParams {
    fn default() -> Self {
        Self {
            alpha: 1e-3,
            threshold: 0.1,
            max_iter: 20,
            cd_max_iter: 10_000,
            tol: 1e-10,
            unbias: true,
        }
    }
}

impl LassoParams {
    /// Sets `alpha`.
    #[must_use]
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
        self
    }
    /// Sets `threshold`.
    #[must_use]
    pub fn threshold(mut self, v: f64) -> Self {
        self.threshold = v;
        self
    }
    /// Sets `unbias`.
    #[must_use]
    pub fn unbias(mut self, v: bool) -> Self {
        self.unbias = v;
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the offending parameter.
    pub fn check(self) -> Result<Lasso> {
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::param("alpha", self.alpha, "must be finite and >= 0"));
        }
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return Err(Error::param(
                "threshold",
                self.threshold,
                "must be finite and >= 0",
            ));
        }
        if self.max_iter == 0 || self.cd_max_iter == 0 {
            return Err(Error::param(
                "max_iter",
                self.max_iter.min(self.cd_max_iter),
                "must be >= 1",
            ));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(Error::param("tol", self.tol, "must be finite and > 0"));
        }
        Ok(Lasso { p: self })
    }
}

/// Sequentially thresholded lasso, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Lasso {
    p: LassoParams,
}

impl Lasso {
    /// Default (unchecked) parameters.
    pub fn params() -> LassoParams {
        LassoParams::default()
    }

    /// Coordinate descent for one target on `support` (normalised statistics, unit-RMS
    /// columns), warm-started from `w`. Returns whether it converged.
    fn coordinate_descent(
        &self,
        ne: &NormalEquations,
        target: usize,
        support: &[usize],
        w: &mut [f64],
    ) -> bool {
        let n = ne.n_samples as f64;
        let lam = self.p.alpha * n;
        for _ in 0..self.p.cd_max_iter {
            let mut max_change: f64 = 0.0;
            let mut max_w: f64 = 0.0;
            for &j in support {
                let gjj = ne.gram[(j, j)];
                if gjj <= 0.0 {
                    continue;
                }
                let mut r = ne.xty[(j, target)];
                for &k in support {
                    if k != j {
                        r -= ne.gram[(j, k)] * w[k];
                    }
                }
                let new = soft(r, lam) / gjj;
                max_change = max_change.max((new - w[j]).abs());
                max_w = max_w.max(new.abs());
                w[j] = new;
            }
            if max_change <= self.p.tol * max_w.max(1e-300) {
                return true;
            }
        }
        false
    }
}

fn soft(x: f64, lam: f64) -> f64 {
    if x > lam {
        x - lam
    } else if x < -lam {
        x + lam
    } else {
        0.0
    }
}

impl SparseRegressor for Lasso {
    fn fit_normal(&self, ne: &BlockedNormalEquations) -> Result<SparseFit> {
        let raw = ne.total();
        check_normal(raw)?;
        // Unit-RMS columns: norms = sqrt(diag(G)/n).
        let n = raw.n_samples as f64;
        let norms: Vec<f64> = column_norms(raw, true)
            .into_iter()
            .map(|v| v / n.sqrt())
            .map(|v| if v > 0.0 { v } else { 1.0 })
            .collect();
        let ne = normalized(raw, &norms);
        let (p, t) = (ne.n_features(), ne.n_targets());
        let live = nonzero_columns(&ne);
        let mut coef = Array2::zeros((p, t));
        let mut n_iter = 0;
        let mut converged = true;
        for j in 0..t {
            let mut support = live.clone();
            let mut w = vec![0.0; p];
            for round in 0..self.p.max_iter {
                n_iter = n_iter.max(round + 1);
                if !self.coordinate_descent(&ne, j, &support, &mut w) {
                    converged = false;
                }
                let before = support.len();
                support.retain(|&i| (w[i] / norms[i]).abs() >= self.p.threshold && w[i] != 0.0);
                for (i, wi) in w.iter_mut().enumerate() {
                    if !support.contains(&i) {
                        *wi = 0.0;
                    }
                }
                if support.len() == before {
                    break;
                }
            }
            for &i in &support {
                coef[(i, j)] = w[i];
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
        Some(OptimizerConfig::Lasso(self.p.clone()))
    }

    fn with_threshold(&self, threshold: f64) -> Result<Box<dyn SparseRegressor>> {
        Ok(Box::new(self.p.clone().threshold(threshold).check()?))
    }
}
