//! The linear-regression baseline: every masked gene regressed on the visible genes by
//! ordinary least squares with an intercept.
//!
//! Written on faer's Cholesky (`linalg::solve_spd`) rather than `linfa-linear`: its OLS fits one
//! target at a time and refactorises the design for each, so a probe masking 14 genes of a
//! 2,000-gene vocabulary factorised the same 2,000 × 2,000 problem 14 times. Here the centred
//! normal equations are formed once and solved for every masked gene together; an
//! under-determined or collinear design (fewer cells than genes, duplicated genes) gets the
//! minimum-norm solution from the solver's pseudo-inverse fallback instead of an error.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{check_finite, Error, Result};
use crate::linalg::{gram, solve_spd};

/// Relative variance below which a visible feature counts as constant on the training cells
/// and is left out of the regression (it would be collinear with the intercept).
const CONSTANT_TOL: f64 = 1e-12;

/// Ridge of the normal equations, relative to the mean predictor sum of squares.
const RIDGE: f64 = 1e-10;

/// Masked features predicted from the visible ones by ordinary least squares, one regression
/// per masked feature (solved together), fitted on training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearImputer {
    n_features: usize,
    masked: Vec<usize>,
    /// Visible features used as predictors (non-constant on the training rows).
    predictors: Vec<usize>,
    /// `(predictors.len(), masked.len())`.
    coef: Array2<f64>,
    /// `(masked.len(),)`.
    intercept: Array1<f64>,
}

impl LinearImputer {
    /// Fits `x[:, masked[t]] ≈ b_t + x[:, visible] · w_t` for every masked feature `t` on the
    /// rows of `x` (the training cells). Visible features that are constant on these rows are
    /// dropped (they carry no information and make the design singular). With fewer rows than
    /// predictors, or collinear predictors, `w_t` is (to within a ridge of 1e-10 of the mean
    /// predictor sum of squares) the minimum-norm least-squares solution.
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for masked indices out of range, repeated, empty, or covering
    /// every feature, or when no visible feature varies; [`Error::TooFewSamples`] with fewer
    /// than two rows; [`Error::NonFinite`]; [`Error::Linalg`] when the solver fails.
    pub fn fit(x: ArrayView2<'_, f64>, masked: &[usize]) -> Result<Self> {
        let (n, p) = x.dim();
        check_finite("linear baseline input", x)?;
        if masked.is_empty() {
            return Err(Error::param("masked", 0, "no feature to impute"));
        }
        let is_masked = super::masked_flags(masked, p)?;
        if n < 2 {
            return Err(Error::TooFewSamples {
                op: "linear baseline".into(),
                needed: 2,
                got: n,
            });
        }
        let mut predictors = Vec::new();
        for j in (0..p).filter(|&j| !is_masked[j]) {
            let c = x.column(j);
            let mean = c.sum() / n as f64;
            let var = c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
            let scale = c.iter().map(|v| v * v).sum::<f64>().max(f64::MIN_POSITIVE);
            if var > CONSTANT_TOL * scale {
                predictors.push(j);
            }
        }
        if predictors.is_empty() {
            return Err(Error::param(
                "masked",
                masked.len(),
                "no visible feature varies on the training rows: nothing to regress on",
            ));
        }
        // Centring both sides takes the intercept out of the solve.
        let mut xs = x.select(Axis(1), &predictors);
        let mut ys = x.select(Axis(1), masked);
        let (x_mean, y_mean) = (column_means(&xs), column_means(&ys));
        xs -= &x_mean;
        ys -= &y_mean;
        let g = gram(xs.view());
        let rhs = xs.t().dot(&ys);
        // A ridge far below any gene's variance: the solve stays stable (Cholesky would
        // otherwise accept a rounding-error pivot of a collinear design) and tends to the
        // minimum-norm solution there, while a well-posed fit is OLS to ~1e-8.
        let ridge = RIDGE * g.diag().mean().unwrap_or(0.0);
        let coef = solve_spd(g.view(), rhs.view(), ridge)?;
        if !coef.iter().all(|v| v.is_finite()) {
            return Err(Error::Linalg(
                "linear baseline: non-finite coefficients".into(),
            ));
        }
        let intercept = &y_mean - &x_mean.dot(&coef);
        Ok(Self {
            n_features: p,
            masked: masked.to_vec(),
            predictors,
            coef,
            intercept,
        })
    }

    /// Predicted masked features of every row of `x` (its masked columns are ignored).
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)` → `(n_samples, masked.len())`.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of features, [`Error::NonFinite`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.n_features {
            return Err(Error::shape(
                "LinearImputer::predict",
                format!("(n_samples, {})", self.n_features),
                format!("{:?}", x.dim()),
            ));
        }
        let xo = x.select(Axis(1), &self.predictors);
        check_finite("linear baseline input", xo.view())?;
        Ok(xo.dot(&self.coef) + &self.intercept)
    }

    /// The masked features, in output order.
    pub fn masked(&self) -> &[usize] {
        &self.masked
    }

    /// Visible features used as predictors.
    pub fn predictors(&self) -> &[usize] {
        &self.predictors
    }
}

/// Column means of `x` (`x` has at least one row).
fn column_means(x: &Array2<f64>) -> Array1<f64> {
    x.mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(x.ncols()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_linear_relation_and_drops_constant_features() {
        let x = Array2::from_shape_fn((100, 4), |(i, j)| {
            let a = (i as f64 * 0.31).sin();
            let b = (i as f64 * 0.17).cos();
            match j {
                0 => a,
                1 => b,
                2 => 7.0, // constant
                _ => 2.0 + 3.0 * a - 0.5 * b,
            }
        });
        let lin = LinearImputer::fit(x.view(), &[3]).unwrap();
        assert_eq!(lin.predictors(), &[0, 1]);
        let y = lin.predict(x.view()).unwrap();
        for i in 0..100 {
            assert!((y[(i, 0)] - x[(i, 3)]).abs() < 1e-8);
        }
        assert!(LinearImputer::fit(x.view(), &[0, 1, 3]).is_err());
        assert!(LinearImputer::fit(x.slice(ndarray::s![..1, ..]), &[3]).is_err());
        assert!(LinearImputer::fit(x.view(), &[4]).is_err());
        assert!(lin.predict(x.slice(ndarray::s![.., ..3])).is_err());
    }

    #[test]
    fn several_targets_solve_together_and_an_underdetermined_design_interpolates() {
        let x = Array2::from_shape_fn((40, 6), |(i, j)| {
            let t = i as f64;
            match j {
                0 => (t * 0.31).sin(),
                1 => (t * 0.17).cos(),
                2 => (t * 0.05).sin() * (t * 0.7).cos(),
                3 => 1.0 - 2.0 * (t * 0.31).sin() + 0.5 * (t * 0.17).cos(),
                4 => (t * 0.23).sin().powi(2),
                _ => (t * 0.91).cos(),
            }
        });
        let both = LinearImputer::fit(x.view(), &[3, 4]).unwrap();
        let swapped = LinearImputer::fit(x.view(), &[4, 3]).unwrap();
        let (y, ys) = (
            both.predict(x.view()).unwrap(),
            swapped.predict(x.view()).unwrap(),
        );
        for i in 0..40 {
            // Column 3 is an exact linear function of the others; 4 is not.
            assert!((y[(i, 0)] - x[(i, 3)]).abs() < 1e-6);
            assert!((y[(i, 0)] - ys[(i, 1)]).abs() < 1e-9);
            assert!((y[(i, 1)] - ys[(i, 0)]).abs() < 1e-9);
        }
        // Three rows, five predictors: the minimum-norm fit passes through the training rows.
        let few = x.slice(ndarray::s![..3, ..]);
        let lin = LinearImputer::fit(few, &[3]).unwrap();
        let y = lin.predict(few).unwrap();
        for i in 0..3 {
            assert!(
                (y[(i, 0)] - few[(i, 3)]).abs() < 1e-6,
                "{} vs {}",
                y[(i, 0)],
                few[(i, 3)]
            );
        }
    }
}
