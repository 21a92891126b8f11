use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use ndarray::{concatenate, Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::stream::StreamParts;
use super::SindyParams;
use crate::data::{TimeGrid, Trajectory};
use crate::differentiate::{DiffConfig, Differentiator};
use crate::error::{check_finite, Error, Result};
use crate::library::{FeatureLibrary, LibraryConfig};
use crate::optimize::{EquationSelection, OptimizerConfig, SparseFit, ZERO_TOL};
use crate::simulate::{integrate, SolverConfig};

/// Diagnostics of a fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    /// Samples (rows of Θ) used.
    pub n_samples: usize,
    /// Optimizer iterations.
    pub n_iter: usize,
    /// Whether the optimizer's support converged.
    pub converged: bool,
    /// Training residual sum of squares per target.
    pub rss: Vec<f64>,
    /// Training R² per target (of the derivative, or of the next state in discrete time).
    pub r2: Vec<f64>,
    /// Ensemble inclusion probabilities, `(n_features, n_targets)`.
    pub inclusion: Option<Array2<f64>>,
    /// Library features left out of the fit because they carry nothing an earlier feature
    /// does not (their coefficients are zero).
    #[serde(default)]
    pub dropped: Vec<DroppedFeature>,
    /// How each equation's sparsity was chosen, for the automatic optimizer
    /// ([`crate::optimize::AutoStlsq`]): the path of supports and their scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Vec<EquationSelection>>,
}

/// A library feature left out of a fit: zero on every sample, or a multiple of an earlier
/// feature (see [`crate::linalg::NormalEquations::redundant_columns`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedFeature {
    /// The feature left out.
    pub feature: String,
    /// The earlier feature it is a multiple of; `None` when it is zero on every sample.
    pub duplicate_of: Option<String>,
}

/// A fitted SINDy model: immutable, cheap to clone, serialisable to JSON.
#[derive(Debug, Clone)]
pub struct Sindy {
    library: Arc<dyn FeatureLibrary>,
    differentiator: Arc<dyn Differentiator>,
    /// `None` for an optimizer defined outside the crate (the model cannot be saved).
    optimizer: Option<OptimizerConfig>,
    coef: Array2<f64>,
    feature_names: Vec<String>,
    state_names: Vec<String>,
    control_names: Vec<String>,
    discrete_time: bool,
    info: FitInfo,
}

/// On-disk form of a model (`format_version` 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedModel {
    format_version: u32,
    library: LibraryConfig,
    differentiator: DiffConfig,
    optimizer: OptimizerConfig,
    discrete_time: bool,
    state_names: Vec<String>,
    control_names: Vec<String>,
    feature_names: Vec<String>,
    /// `(n_features, n_targets)`, row-major.
    coefficients: Vec<Vec<f64>>,
    equations: Vec<String>,
    info: FitInfo,
}

impl Sindy {
    /// Default params: polynomial degree 2, sparsity chosen per equation from the data
    /// ([`crate::optimize::AutoStlsq`]), differentiator chosen from the data
    /// ([`crate::differentiate::auto_diff`]).
    pub fn params() -> SindyParams {
        SindyParams::default()
    }

    /// Fits `x` sampled every `dt` with the default params: the one-liner
    /// `Sindy::fit_uniform(x.view(), dt)` (PySINDy's `ps.SINDy().fit(x, t=dt)`). See
    /// [`SindyParams::fit_uniform`].
    ///
    /// # Example
    /// ```
    /// use cellsindy::Sindy;
    /// use ndarray::Array2;
    /// // x' = -2x, sampled every 0.01.
    /// let x = Array2::from_shape_fn((500, 1), |(i, _)| (-2.0 * 0.01 * i as f64).exp());
    /// let model = Sindy::fit_uniform(x.view(), 0.01)?;
    /// assert_eq!(model.equations_pretty(), ["x' = -2x"]);
    /// # Ok::<(), cellsindy::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`SindyParams::fit_uniform`].
    pub fn fit_uniform(x: ArrayView2<'_, f64>, dt: f64) -> Result<Self> {
        SindyParams::default().fit_uniform(x, dt)
    }

    pub(crate) fn from_fit(parts: StreamParts, fit: SparseFit) -> Result<Self> {
        let total = parts.normal.total();
        let rss = total.rss(fit.coef.view()).to_vec();
        let n = total.n_samples as f64;
        let r2 = rss
            .iter()
            .enumerate()
            .map(|(j, r)| {
                let tss = total.yty[j] - parts.y_sum[j] * parts.y_sum[j] / n;
                if tss > 0.0 {
                    1.0 - r / tss
                } else {
                    f64::NAN
                }
            })
            .collect();
        Ok(Self {
            library: parts.params.library.clone(),
            differentiator: parts.params.differentiator.clone(),
            optimizer: parts.params.optimizer.config(),
            coef: fit.coef,
            feature_names: parts.feature_names,
            state_names: parts.state_names,
            control_names: parts.control_names,
            discrete_time: parts.params.discrete_time,
            info: FitInfo {
                n_samples: total.n_samples,
                n_iter: fit.n_iter,
                converged: fit.converged,
                rss,
                r2,
                inclusion: fit.inclusion,
                dropped: parts.dropped,
                selection: fit.selection,
            },
        })
    }

    /// Coefficients Ξ, `(n_features, n_targets)` so that `Ẋ ≈ Θ Ξ`. PySINDy's
    /// `coefficients()` is the transpose: see [`Sindy::coefficients_t`].
    pub fn coefficients(&self) -> &Array2<f64> {
        &self.coef
    }

    /// Coefficients in PySINDy's orientation, `(n_targets, n_features)`.
    pub fn coefficients_t(&self) -> Array2<f64> {
        self.coef.t().to_owned()
    }

    /// Feature names, in library order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// State variable names.
    pub fn state_names(&self) -> &[String] {
        &self.state_names
    }

    /// Control input names.
    pub fn control_names(&self) -> &[String] {
        &self.control_names
    }

    /// Whether the model is discrete-time.
    pub fn is_discrete_time(&self) -> bool {
        self.discrete_time
    }

    /// The library.
    pub fn library(&self) -> &dyn FeatureLibrary {
        self.library.as_ref()
    }

    /// Fit diagnostics.
    pub fn info(&self) -> &FitInfo {
        &self.info
    }

    /// The optimizer's configuration (`None` for an optimizer defined outside the crate).
    pub fn optimizer_config(&self) -> Option<&OptimizerConfig> {
        self.optimizer.as_ref()
    }

    /// The differentiator's configuration.
    pub fn differentiator_config(&self) -> DiffConfig {
        self.differentiator.config()
    }

    /// Number of non-zero coefficients.
    pub fn complexity(&self) -> usize {
        self.coef.iter().filter(|c| c.abs() > ZERO_TOL).count()
    }

    fn library_input(
        &self,
        x: ArrayView2<'_, f64>,
        u: Option<ArrayView2<'_, f64>>,
    ) -> Result<Array2<f64>> {
        let d = self.state_names.len();
        let m = self.control_names.len();
        if x.ncols() != d {
            return Err(Error::shape(
                "Sindy",
                format!("(n_samples, {d})"),
                format!("{:?}", x.dim()),
            ));
        }
        check_finite("x", x)?;
        match (u, m) {
            (None, 0) => Ok(x.to_owned()),
            (Some(u), m) if m > 0 => {
                if u.dim() != (x.nrows(), m) {
                    return Err(Error::shape(
                        "Sindy control input",
                        format!("({}, {m})", x.nrows()),
                        format!("{:?}", u.dim()),
                    ));
                }
                check_finite("u", u)?;
                Ok(concatenate![Axis(1), x, u])
            }
            _ => Err(Error::shape(
                "Sindy control input",
                format!("{m} control columns"),
                format!("{}", u.map_or(0, |u| u.ncols())),
            )),
        }
    }

    /// Model right-hand side `Θ(x, u) Ξ` (derivatives, or next states in discrete time).
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_vars)`, `u`: `(n_samples, n_controls)` → `(n_samples, n_vars)`.
    ///
    /// # Errors
    /// [`Error::Shape`] / [`Error::NonFinite`] on bad input.
    pub fn predict(
        &self,
        x: ArrayView2<'_, f64>,
        u: Option<ArrayView2<'_, f64>>,
    ) -> Result<Array2<f64>> {
        let input = self.library_input(x, u)?;
        let theta = self.library.transform(input.view())?;
        Ok(theta.dot(&self.coef))
    }

    /// R² (uniform average over variables) of the model's right-hand side against the
    /// derivatives the model's differentiator computes from the trajectories (next states in
    /// discrete time), as PySINDy's `score`.
    ///
    /// # Errors
    /// As [`Sindy::predict`] and the differentiator.
    pub fn score(&self, trajectories: &[Trajectory]) -> Result<f64> {
        if trajectories.is_empty() {
            return Err(Error::Empty {
                what: "trajectory list",
                why: "nothing to score".into(),
            });
        }
        let mut truth = Vec::new();
        let mut pred = Vec::new();
        for tr in trajectories {
            if self.discrete_time {
                let n = tr.n_samples();
                if n < 2 {
                    return Err(Error::TooFewSamples {
                        op: "discrete score".into(),
                        needed: 2,
                        got: n,
                    });
                }
                let x = tr.x();
                let u = tr.u();
                pred.push(self.predict(
                    x.slice(ndarray::s![..n - 1, ..]),
                    u.map(|u| u.slice_move(ndarray::s![..n - 1, ..])),
                )?);
                truth.push(x.slice(ndarray::s![1.., ..]).to_owned());
            } else {
                let dx = self.differentiator.differentiate(tr.x(), tr.t())?;
                let xs = self.differentiator.smooth(tr.x(), tr.t())?;
                let x = xs.as_ref().map_or(tr.x(), |a| a.view());
                let p = self.predict(x, tr.u())?;
                match self.differentiator.test_function(tr.t())? {
                    // Weak form: compare ∫φ ẋ with ∫φ Θ(x)Ξ on the rows with a full window.
                    Some(_) => {
                        let r = self.differentiator.radius();
                        let n = dx.nrows();
                        let pw = self.differentiator.weak_integrate(p.view(), tr.t())?;
                        pred.push(pw.slice(ndarray::s![r..n - r, ..]).to_owned());
                        truth.push(dx.slice(ndarray::s![r..n - r, ..]).to_owned());
                    }
                    None => {
                        pred.push(p);
                        truth.push(dx);
                    }
                }
            }
        }
        let views_t: Vec<_> = truth.iter().map(|a| a.view()).collect();
        let views_p: Vec<_> = pred.iter().map(|a| a.view()).collect();
        let t = concatenate(Axis(0), &views_t).map_err(|e| Error::Unsupported(e.to_string()))?;
        let p = concatenate(Axis(0), &views_p).map_err(|e| Error::Unsupported(e.to_string()))?;
        Ok(r2_uniform(t.view(), p.view()))
    }

    /// Simulates the identified continuous-time model from `x0` on grid `t` with
    /// `ode_solvers` (Dopri5 by default). Controls, if the model has any, are given as samples
    /// `u` on the same grid and interpolated linearly in time.
    ///
    /// # Shapes
    /// `x0`: `n_vars`; `u`: `(t.len(), n_controls)`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for discrete-time models (use [`Sindy::simulate_discrete`]),
    /// [`Error::Shape`] on mismatched inputs, [`Error::Integration`] if integration fails or
    /// blows up.
    pub fn simulate(
        &self,
        x0: &[f64],
        t: &TimeGrid,
        u: Option<ArrayView2<'_, f64>>,
        solver: &SolverConfig,
    ) -> Result<Trajectory> {
        if self.discrete_time {
            return Err(Error::Unsupported(
                "simulate() integrates continuous-time models; use simulate_discrete()".into(),
            ));
        }
        let d = self.state_names.len();
        let m = self.control_names.len();
        if x0.len() != d {
            return Err(Error::shape(
                "Sindy::simulate",
                format!("x0 of length {d}"),
                format!("{}", x0.len()),
            ));
        }
        let times = t.to_vec();
        let u = match (u, m) {
            (None, 0) => None,
            (Some(u), m) if m > 0 && u.dim() == (t.len(), m) => {
                check_finite("u", u)?;
                Some(u.to_owned())
            }
            (u, _) => {
                return Err(Error::shape(
                    "Sindy::simulate controls",
                    format!("({}, {m})", t.len()),
                    format!("{:?}", u.map(|u| u.dim())),
                ))
            }
        };
        let terms = self.sparse_terms();
        let eval = self.library.row_evaluator(d + m);
        let p = self.feature_names.len();
        let scratch = RefCell::new((vec![0.0; d + m], vec![0.0; p]));
        let rhs = |tt: f64, x: &[f64], dx: &mut [f64]| {
            let mut guard = scratch.borrow_mut();
            let (input, theta) = &mut *guard;
            input[..d].copy_from_slice(x);
            if let Some(u) = &u {
                interpolate_row(&times, u, tt, &mut input[d..]);
            }
            eval(input, theta);
            dx.iter_mut().for_each(|v| *v = 0.0);
            for &(f, j, c) in &terms {
                dx[j] += c * theta[f];
            }
        };
        let x = integrate(&rhs, x0, t, solver)?;
        let tr = Trajectory::with_names(x, t.clone(), self.state_names.clone())?;
        match u {
            Some(u) => tr.with_control(u, Some(self.control_names.clone())),
            None => Ok(tr),
        }
    }

    /// Iterates a discrete-time model `n_steps` times from `x0` (controls: one row per step).
    ///
    /// # Shapes
    /// `x0`: `n_vars`; `u`: `(n_steps, n_controls)` → `(n_steps, n_vars)` including `x0`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for continuous-time models, [`Error::Shape`] on bad inputs,
    /// [`Error::Integration`] if the map produces non-finite values.
    pub fn simulate_discrete(
        &self,
        x0: &[f64],
        n_steps: usize,
        u: Option<ArrayView2<'_, f64>>,
    ) -> Result<Array2<f64>> {
        if !self.discrete_time {
            return Err(Error::Unsupported(
                "simulate_discrete() needs a discrete-time model".into(),
            ));
        }
        let d = self.state_names.len();
        let m = self.control_names.len();
        if x0.len() != d {
            return Err(Error::shape(
                "Sindy::simulate_discrete",
                format!("x0 of length {d}"),
                format!("{}", x0.len()),
            ));
        }
        if m > 0 && u.map(|u| u.dim()) != Some((n_steps, m)) {
            return Err(Error::shape(
                "Sindy::simulate_discrete controls",
                format!("({n_steps}, {m})"),
                format!("{:?}", u.map(|u| u.dim())),
            ));
        }
        let terms = self.sparse_terms();
        let eval = self.library.row_evaluator(d + m);
        let mut out = Array2::zeros((n_steps, d));
        let mut input = vec![0.0; d + m];
        let mut theta = vec![0.0; self.feature_names.len()];
        let mut x = x0.to_vec();
        for k in 0..n_steps {
            for j in 0..d {
                out[(k, j)] = x[j];
            }
            if k + 1 == n_steps {
                break;
            }
            input[..d].copy_from_slice(&x);
            if let Some(u) = u {
                for c in 0..m {
                    input[d + c] = u[(k, c)];
                }
            }
            eval(&input, &mut theta);
            x.iter_mut().for_each(|v| *v = 0.0);
            for &(f, j, c) in &terms {
                x[j] += c * theta[f];
            }
            if x.iter().any(|v| !v.is_finite()) {
                return Err(Error::Integration(format!(
                    "discrete map is not finite at step {}",
                    k + 1
                )));
            }
        }
        Ok(out)
    }

    /// Non-zero coefficients as `(feature, target, value)`.
    pub(crate) fn sparse_terms(&self) -> Vec<(usize, usize, f64)> {
        let mut v = Vec::new();
        for ((f, j), &c) in self.coef.indexed_iter() {
            if c.abs() > ZERO_TOL {
                v.push((f, j, c));
            }
        }
        v
    }

    /// Saves the model as JSON (written to a temporary file, then renamed).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for libraries built from closures and optimizers defined outside
    /// the crate, [`Error::Io`] on write errors.
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let library = self.library.config().ok_or_else(|| {
            Error::Unsupported("a model with a custom (closure) library cannot be saved".into())
        })?;
        let optimizer = self.optimizer.clone().ok_or_else(|| {
            Error::Unsupported(
                "a model fitted with an optimizer defined outside cellsindy cannot be saved".into(),
            )
        })?;
        let saved = SavedModel {
            format_version: 1,
            library,
            differentiator: self.differentiator.config(),
            optimizer,
            discrete_time: self.discrete_time,
            state_names: self.state_names.clone(),
            control_names: self.control_names.clone(),
            feature_names: self.feature_names.clone(),
            coefficients: self.coef.outer_iter().map(|r| r.to_vec()).collect(),
            equations: self.equations_pretty(),
            info: self.info.clone(),
        };
        let text = serde_json::to_string_pretty(&saved)?;
        crate::io::write_atomic(path.as_ref(), text.as_bytes())
    }

    /// Loads a model saved by [`Sindy::save_json`].
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Json`] on unreadable files, [`Error::Parse`] when the content is
    /// inconsistent (unknown version, coefficient shape or feature names not matching the
    /// library).
    pub fn load_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::io::input::read_text(path)?;
        let saved: SavedModel = serde_json::from_str(&text)?;
        let bad = |msg: String| Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            msg,
        };
        if saved.format_version != 1 {
            return Err(bad(format!(
                "unknown format_version {}",
                saved.format_version
            )));
        }
        let library: Arc<dyn FeatureLibrary> = Arc::from(saved.library.build()?);
        let inputs: Vec<String> = saved
            .state_names
            .iter()
            .chain(&saved.control_names)
            .cloned()
            .collect();
        let names = library.feature_names(&inputs);
        if names != saved.feature_names {
            return Err(bad("feature names do not match the saved library".into()));
        }
        let (p, d) = (names.len(), saved.state_names.len());
        if saved.coefficients.len() != p || saved.coefficients.iter().any(|r| r.len() != d) {
            return Err(bad(format!("coefficients must be {p} rows of {d}")));
        }
        let coef = Array2::from_shape_fn((p, d), |(i, j)| saved.coefficients[i][j]);
        if coef.iter().any(|v| !v.is_finite()) {
            return Err(bad("coefficients contain non-finite values".into()));
        }
        saved.optimizer.build()?;
        Ok(Self {
            library,
            differentiator: Arc::from(saved.differentiator.build()?),
            optimizer: Some(saved.optimizer),
            coef,
            feature_names: names,
            state_names: saved.state_names,
            control_names: saved.control_names,
            discrete_time: saved.discrete_time,
            info: saved.info,
        })
    }
}

/// Linear interpolation of `u` (rows at `times`) at time `t`, clamped at the ends.
fn interpolate_row(times: &[f64], u: &Array2<f64>, t: f64, out: &mut [f64]) {
    let n = times.len();
    let i = times.partition_point(|&x| x <= t);
    if i == 0 || n == 1 {
        out.iter_mut().zip(u.row(0)).for_each(|(o, v)| *o = *v);
    } else if i >= n {
        out.iter_mut().zip(u.row(n - 1)).for_each(|(o, v)| *o = *v);
    } else {
        let (t0, t1) = (times[i - 1], times[i]);
        let w = (t - t0) / (t1 - t0);
        for (c, o) in out.iter_mut().enumerate() {
            *o = (1.0 - w) * u[(i - 1, c)] + w * u[(i, c)];
        }
    }
}

/// R² averaged uniformly over columns (scikit-learn's `r2_score(multioutput="uniform_average")`).
pub(crate) fn r2_uniform(truth: ArrayView2<'_, f64>, pred: ArrayView2<'_, f64>) -> f64 {
    let mut total = 0.0;
    let d = truth.ncols();
    for j in 0..d {
        let t = truth.column(j);
        let p = pred.column(j);
        let mean = t.mean().unwrap_or(0.0);
        let ss_res: f64 = t.iter().zip(p.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
        let ss_tot: f64 = t.iter().map(|a| (a - mean) * (a - mean)).sum();
        total += if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else if ss_res == 0.0 {
            1.0
        } else {
            0.0
        };
    }
    total / d.max(1) as f64
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Sindy>();
    is::<Array1<f64>>();
}
