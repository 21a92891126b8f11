//! The linear-regression baseline: every masked gene regressed on the visible genes by
//! ordinary least squares with an intercept, through `linfa-linear` (the only place the crate
//! uses linfa: an adapter from our arrays to a `linfa::Dataset`).

use linfa::traits::Fit;
use linfa::Dataset;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{check_finite, Error, Result};

/// Relative variance below which a visible feature counts as constant on the training cells
/// and is left out of the regression (it would be collinear with the intercept).
const CONSTANT_TOL: f64 = 1e-12;

/// Masked features predicted from the visible ones by ordinary least squares, one regression
/// per masked feature, fitted on training rows.
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
    /// dropped (they carry no information and make the design singular).
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for masked indices out of range, repeated, empty, or covering
    /// every feature; [`Error::TooFewSamples`] with fewer rows than predictors + 1;
    /// [`Error::NonFinite`]; [`Error::Linalg`] when linfa-linear cannot solve the least-squares
    /// problem (e.g. collinear predictors).
    pub fn fit(x: ArrayView2<'_, f64>, masked: &[usize]) -> Result<Self> {
        let (n, p) = x.dim();
        check_finite("linear baseline input", x)?;
        if masked.is_empty() {
            return Err(Error::param("masked", 0, "no feature to impute"));
        }
        let is_masked = super::masked_flags(masked, p)?;
        let mut predictors = Vec::new();
        for j in (0..p).filter(|&j| !is_masked[j]) {
            let c = x.column(j);
            let mean = c.sum() / n.max(1) as f64;
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
        if n < predictors.len() + 1 {
            return Err(Error::TooFewSamples {
                op: "linear baseline".into(),
                needed: predictors.len() + 1,
                got: n,
            });
        }
        let records = x.select(Axis(1), &predictors);
        let mut coef = Array2::zeros((predictors.len(), masked.len()));
        let mut intercept = Array1::zeros(masked.len());
        for (t, &m) in masked.iter().enumerate() {
            let ds = Dataset::new(records.clone(), x.column(m).to_owned());
            let fitted = LinearRegression::new()
                .fit(&ds)
                .map_err(|e| Error::Linalg(format!("linfa-linear: {e}")))?;
            let w = fitted.params();
            if w.len() != predictors.len() || !w.iter().all(|v| v.is_finite()) {
                return Err(Error::Linalg(format!(
                    "linfa-linear returned unusable coefficients for feature {m}"
                )));
            }
            coef.column_mut(t).assign(w);
            intercept[t] = fitted.intercept();
        }
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
        assert!(LinearImputer::fit(x.view(), &[4]).is_err());
        assert!(lin.predict(x.slice(ndarray::s![.., ..3])).is_err());
    }
}
