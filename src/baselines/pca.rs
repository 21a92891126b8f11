//! Principal component analysis: fit (exact thin SVD or randomized SVD of the centred data),
//! explained variance, transform, and imputation of masked genes from the visible ones.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{check_finite, Error, Result};
use crate::linalg::{randomized_svd, solve_spd, thin_svd};

/// How [`Pca`] computes the decomposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PcaSolver {
    /// [`PcaSolver::Randomized`] (scikit-learn's defaults) when `min(n, p) > 500` and
    /// `n_components < 0.8 · min(n, p)`, [`PcaSolver::Exact`] otherwise (scikit-learn's
    /// `svd_solver="auto"` rule).
    Auto,
    /// Exact thin SVD of the centred data (faer).
    Exact,
    /// Randomized SVD (Halko et al. 2011), seeded.
    Randomized {
        /// Extra sketch directions beyond `n_components`.
        n_oversamples: usize,
        /// Power iterations.
        n_iter: usize,
    },
}

/// Hyper-parameters of [`Pca`] (unchecked; see [`PcaParams::check`]).
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `n_components` | 20 | principal components kept | `1..=min(n_samples, n_features)` (checked at fit) |
/// | `solver` | `Auto` | exact or randomized SVD | |
/// | `seed` | 0 | the randomized solver's sketch | any |
///
/// # Example
/// ```
/// use cellsindy::baselines::Pca;
/// use ndarray::Array2;
/// let x = Array2::from_shape_fn((100, 5), |(i, j)| ((i * (j + 2)) as f64 * 0.1).sin());
/// let pca = Pca::params(2).fit(x.view())?;
/// assert_eq!(pca.components().dim(), (2, 5));
/// assert!(pca.explained_variance_ratio().sum() <= 1.0 + 1e-12);
/// # Ok::<(), cellsindy::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcaParams {
    /// Components kept.
    pub n_components: usize,
    /// Decomposition method.
    pub solver: PcaSolver,
    /// Seed of the randomized solver.
    pub seed: u64,
}

impl Default for PcaParams {
    fn default() -> Self {
        Self {
            n_components: 20,
            solver: PcaSolver::Auto,
            seed: 0,
        }
    }
}

/// Checked [`PcaParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct PcaValidParams(PcaParams);

impl PcaParams {
    /// Sets `n_components`.
    #[must_use]
    pub fn n_components(mut self, v: usize) -> Self {
        self.n_components = v;
        self
    }
    /// Sets `solver`.
    #[must_use]
    pub fn solver(mut self, v: PcaSolver) -> Self {
        self.solver = v;
        self
    }
    /// Sets `seed`.
    #[must_use]
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }

    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `n_components == 0`.
    pub fn check(self) -> Result<PcaValidParams> {
        if self.n_components == 0 {
            return Err(Error::param("n_components", 0, "must be at least 1"));
        }
        Ok(PcaValidParams(self))
    }

    /// [`PcaParams::check`], then [`PcaValidParams::fit`].
    ///
    /// # Errors
    /// As those two.
    pub fn fit(self, x: ArrayView2<'_, f64>) -> Result<Pca> {
        self.check()?.fit(x)
    }
}

/// A fitted PCA: mean, components and their variances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    mean: Array1<f64>,
    components: Array2<f64>,
    explained_variance: Array1<f64>,
    total_variance: f64,
    n_samples: usize,
}

impl Pca {
    /// Unchecked parameters with `n_components` components.
    pub fn params(n_components: usize) -> PcaParams {
        PcaParams::default().n_components(n_components)
    }
}

impl PcaValidParams {
    /// Fits to `x` (rows are samples): `x − mean = U S Vᵀ`; the components are the rows of
    /// `Vᵀ`, the explained variances `s² / (n − 1)` (scikit-learn's convention).
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)`.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] with fewer than two samples, [`Error::NonFinite`] for NaN/∞,
    /// [`Error::InvalidParam`] for more components than `min(n_samples, n_features)`,
    /// [`Error::Linalg`] if the SVD fails.
    pub fn fit(&self, x: ArrayView2<'_, f64>) -> Result<Pca> {
        let (n, p) = x.dim();
        if n < 2 {
            return Err(Error::TooFewSamples {
                op: "PCA".into(),
                needed: 2,
                got: n,
            });
        }
        check_finite("PCA input", x)?;
        let k = self.0.n_components;
        let max = n.min(p);
        if k > max {
            return Err(Error::param(
                "n_components",
                k,
                format!("at most min(n_samples, n_features) = {max}"),
            ));
        }
        let mean = x.mean_axis(Axis(0)).ok_or_else(|| Error::Empty {
            what: "PCA input",
            why: "no samples".into(),
        })?;
        let total_variance = x
            .axis_iter(Axis(1))
            .zip(mean.iter())
            .map(|(c, &m)| c.iter().map(|v| (v - m) * (v - m)).sum::<f64>())
            .sum::<f64>()
            / (n - 1) as f64;
        let solver = match self.0.solver {
            PcaSolver::Auto if max > 500 && (k as f64) < 0.8 * max as f64 => {
                PcaSolver::Randomized {
                    n_oversamples: 10,
                    n_iter: if (k as f64) < 0.1 * max as f64 { 7 } else { 4 },
                }
            }
            PcaSolver::Auto => PcaSolver::Exact,
            s => s,
        };
        let svd = match solver {
            PcaSolver::Randomized {
                n_oversamples,
                n_iter,
            } if k + n_oversamples <= max => {
                randomized_svd(x, Some(mean.view()), k, n_oversamples, n_iter, self.0.seed)?
            }
            _ => thin_svd(x, Some(mean.view()), k)?,
        };
        let explained_variance = svd.s.mapv(|s| s * s / (n - 1) as f64);
        Ok(Pca {
            mean,
            components: svd.vt,
            explained_variance,
            total_variance,
            n_samples: n,
        })
    }
}

impl Pca {
    /// `(n_components, n_features)`: unit-norm principal axes, in decreasing variance.
    pub fn components(&self) -> &Array2<f64> {
        &self.components
    }
    /// `(n_features,)` feature means of the training data.
    pub fn mean(&self) -> &Array1<f64> {
        &self.mean
    }
    /// `(n_components,)` variance along each component (`s² / (n − 1)`).
    pub fn explained_variance(&self) -> &Array1<f64> {
        &self.explained_variance
    }
    /// `(n_components,)` share of the total variance along each component.
    pub fn explained_variance_ratio(&self) -> Array1<f64> {
        if self.total_variance > 0.0 {
            self.explained_variance.mapv(|v| v / self.total_variance)
        } else {
            Array1::zeros(self.explained_variance.len())
        }
    }
    /// Number of components.
    pub fn n_components(&self) -> usize {
        self.components.nrows()
    }
    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }
    /// Samples the model was fitted on.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    fn check_features(&self, op: &'static str, x: ArrayView2<'_, f64>) -> Result<()> {
        if x.ncols() != self.n_features() {
            return Err(Error::shape(
                op,
                format!("(n_samples, {})", self.n_features()),
                format!("{:?}", x.dim()),
            ));
        }
        check_finite("PCA input", x)
    }

    /// Scores: `(x − mean) Vᵀ`.
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)` → `(n_samples, n_components)`.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of features, [`Error::NonFinite`] for NaN/∞.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.check_features("Pca::transform", x)?;
        Ok((&x - &self.mean).dot(&self.components.t()))
    }

    /// Imputes the features `masked` of every row of `x` from its other features: the scores
    /// `z` are the least-squares fit of the visible centred values on the loadings restricted
    /// to the visible features, `min_z ‖(x_O − μ_O) − V_Oᵀ z‖²`, and the masked features are
    /// reconstructed as `μ_M + V_Mᵀ z`. The values of `x` at masked features are ignored.
    ///
    /// **Rank deficiency.** The normal matrix `V_O V_Oᵀ` (`n_components²`) is singular when
    /// fewer features are visible than there are components or when the visible loadings are
    /// collinear; the solve then returns the minimum-norm least-squares scores (eigenvalues
    /// below `1e-13 · λ_max` dropped, see [`crate::linalg::solve_spd`]) rather than failing, so
    /// the imputation uses only the directions the visible genes determine.
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)` → `(n_samples, masked.len())`, columns in the order of
    /// `masked`.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of features, [`Error::InvalidParam`] for a masked
    /// index out of range or repeated, or no visible feature left, [`Error::NonFinite`].
    pub fn impute(&self, x: ArrayView2<'_, f64>, masked: &[usize]) -> Result<Array2<f64>> {
        let p = self.n_features();
        if x.ncols() != p {
            return Err(Error::shape(
                "Pca::impute",
                format!("(n_samples, {p})"),
                format!("{:?}", x.dim()),
            ));
        }
        let is_masked = super::masked_flags(masked, p)?;
        let visible: Vec<usize> = (0..p).filter(|&j| !is_masked[j]).collect();
        if visible.is_empty() {
            return Err(Error::param(
                "masked",
                masked.len(),
                "every feature is masked: nothing to impute from",
            ));
        }
        let xo = x.select(Axis(1), &visible);
        check_finite("PCA input", xo.view())?;
        let vo = self.components.select(Axis(1), &visible); // (k, |O|)
        let vm = self.components.select(Axis(1), masked); // (k, |M|)
        let mo = self.mean.select(Axis(0), &visible);
        let mm = self.mean.select(Axis(0), masked);
        // W = (V_O V_Oᵀ)⁺ V_O, so z = W (x_O − μ_O)ᵀ for every row at once.
        let gram = vo.dot(&vo.t());
        let w = solve_spd(gram.view(), vo.view(), 0.0)?; // (k, |O|)
        let z = (&xo - &mo).dot(&w.t()); // (n, k)
        Ok(z.dot(&vm) + &mm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imputes_exactly_on_data_of_rank_k() {
        // Rank-2 data plus a mean: two visible genes determine the rest.
        let x = Array2::from_shape_fn((200, 6), |(i, j)| {
            let a = (i as f64 * 0.13).sin();
            let b = (i as f64 * 0.07).cos();
            1.0 + j as f64 + a * (j as f64 - 2.5) + b * ((j * j) as f64 * 0.2)
        });
        let pca = Pca::params(2)
            .solver(PcaSolver::Exact)
            .fit(x.view())
            .unwrap();
        let r = pca.explained_variance_ratio();
        assert!((r.sum() - 1.0).abs() < 1e-10, "{r}");
        let imp = pca.impute(x.view(), &[1, 4]).unwrap();
        for i in 0..200 {
            assert!((imp[(i, 0)] - x[(i, 1)]).abs() < 1e-8);
            assert!((imp[(i, 1)] - x[(i, 4)]).abs() < 1e-8);
        }
        // Masked values are ignored.
        let mut y = x.clone();
        y.column_mut(1).fill(1e6);
        assert_eq!(pca.impute(y.view(), &[1, 4]).unwrap(), imp);
        assert!(pca.impute(x.view(), &[0, 1, 2, 3, 4, 5]).is_err());
        assert!(pca.impute(x.view(), &[1, 1]).is_err());
        assert!(pca.impute(x.view(), &[6]).is_err());
        // More components than visible genes: minimum-norm scores, still finite.
        let pca5 = Pca::params(5)
            .solver(PcaSolver::Exact)
            .fit(x.view())
            .unwrap();
        let imp5 = pca5.impute(x.view(), &[0, 1, 2, 3]).unwrap();
        assert!(imp5.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = Array2::from_shape_fn((10, 3), |(i, j)| (i + j) as f64);
        assert!(Pca::params(0).fit(x.view()).is_err());
        assert!(Pca::params(4).fit(x.view()).is_err());
        assert!(Pca::params(1).fit(x.slice(ndarray::s![..1, ..])).is_err());
        let mut y = x.clone();
        y[(3, 1)] = f64::NAN;
        assert!(matches!(
            Pca::params(1).fit(y.view()),
            Err(Error::NonFinite { row: 3, col: 1, .. })
        ));
        let pca = Pca::params(1).fit(x.view()).unwrap();
        assert!(pca.transform(x.slice(ndarray::s![.., ..2])).is_err());
    }
}
