//! The conditional-Gaussian sampler: the masked genes drawn from a multivariate normal given
//! the visible ones, `x_M | x_O ~ N(μ_M + B (x_O − μ_O), Σ_res)`, with `B` the least-squares
//! regression ([`LinearImputer`]) and `Σ_res` the covariance of its training residuals. This is
//! exactly the conditional of a joint Gaussian fitted to the training cells, so any covariance
//! structure that is Gaussian in log space is reproduced by its draws: the cheap alternative
//! to a model's joint sample.

use nalgebra::DMatrix;
use ndarray::{Array2, ArrayView2, Axis};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::LinearImputer;
use crate::error::{Error, Result};

const DOMAIN_GAUSS_DRAW: u64 = 0x6761_7573_735f_6472;

/// A joint Gaussian over the features, conditioned on the visible ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionalGaussian {
    mean: LinearImputer,
    /// Lower Cholesky factor of the residual covariance, `(masked.len(), masked.len())`.
    chol: Array2<f64>,
}

impl ConditionalGaussian {
    /// Fits on the rows of `x` (training cells).
    ///
    /// # Errors
    /// As [`LinearImputer::fit`]; [`Error::Linalg`] if the residual covariance has no
    /// Cholesky factor even with a small jitter.
    pub fn fit(x: ArrayView2<'_, f64>, masked: &[usize]) -> Result<Self> {
        let mean = LinearImputer::fit(x, masked)?;
        let resid = &x.select(Axis(1), masked) - &mean.predict(x)?;
        let n = resid.nrows();
        let m = resid.ncols();
        let cov = resid.t().dot(&resid) / (n.saturating_sub(1).max(1)) as f64;
        let scale = (0..m).map(|i| cov[[i, i]]).fold(0.0, f64::max).max(1e-300);
        // A perfectly predicted gene has zero residual variance: add the smallest jitter that
        // makes the factor exist.
        for jitter in [0.0, 1e-12, 1e-9, 1e-6] {
            let a = DMatrix::from_fn(m, m, |i, j| {
                cov[[i, j]] + if i == j { jitter * scale } else { 0.0 }
            });
            if let Some(c) = a.cholesky() {
                let l = c.l();
                return Ok(Self {
                    mean,
                    chol: Array2::from_shape_fn((m, m), |(i, j)| l[(i, j)]),
                });
            }
        }
        Err(Error::Linalg(
            "conditional Gaussian: the residual covariance is not positive semi-definite".into(),
        ))
    }

    /// Conditional means of the masked features (the linear regression's prediction).
    ///
    /// # Errors
    /// As [`LinearImputer::predict`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.mean.predict(x)
    }

    /// One joint draw of the masked features per row (row `i` uses stream `i` of `seed`).
    ///
    /// # Errors
    /// As [`LinearImputer::predict`].
    pub fn sample(&self, x: ArrayView2<'_, f64>, seed: u64) -> Result<Array2<f64>> {
        let mut out = self.mean.predict(x)?;
        let m = self.chol.nrows();
        for (i, mut row) in out.rows_mut().into_iter().enumerate() {
            let mut rng = crate::rng::stream(seed, DOMAIN_GAUSS_DRAW, i as u64);
            let z: Vec<f64> = (0..m).map(|_| StandardNormal.sample(&mut rng)).collect();
            for a in 0..m {
                row[a] += (0..=a).map(|b| self.chol[[a, b]] * z[b]).sum::<f64>();
            }
        }
        Ok(out)
    }

    /// Covariance of the residuals (`L Lᵀ`).
    pub fn residual_covariance(&self) -> Array2<f64> {
        self.chol.dot(&self.chol.t())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_reproduce_the_conditional_covariance() {
        // x0 visible; x1 = x0 + e1, x2 = −x0 + e2 with corr(e1, e2) = +0.8 (var 1 each).
        let n = 4000;
        let mut rng = crate::rng::stream(1, 7, 0);
        let mut x = Array2::<f64>::zeros((n, 3));
        for i in 0..n {
            let (a, u, v): (f64, f64, f64) = (
                StandardNormal.sample(&mut rng),
                StandardNormal.sample(&mut rng),
                StandardNormal.sample(&mut rng),
            );
            let e1 = u;
            let e2 = 0.8 * u + 0.6 * v;
            x[[i, 0]] = a;
            x[[i, 1]] = a + e1;
            x[[i, 2]] = -a + e2;
        }
        let g = ConditionalGaussian::fit(x.view(), &[1, 2]).unwrap();
        let c = g.residual_covariance();
        assert!((c[[0, 1]] - 0.8).abs() < 0.06, "{c}");
        let q = Array2::<f64>::zeros((n, 3));
        let d = g.sample(q.view(), 5).unwrap();
        let r = crate::stats::pearson(&d.column(0).to_vec(), &d.column(1).to_vec()).unwrap();
        assert!((r - 0.8).abs() < 0.05, "{r}");
        assert_eq!(d, g.sample(q.view(), 5).unwrap());
        assert!(ConditionalGaussian::fit(x.view(), &[]).is_err());
    }
}
