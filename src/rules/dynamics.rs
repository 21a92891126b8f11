//! Route 3: SINDy on expression time courses with regulation-shaped libraries.

use ndarray::{concatenate, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::data::Trajectory;
use crate::differentiate::DiffConfig;
use crate::error::{Error, Result};
use crate::library::{FeatureLibrary, PolynomialLibrary};
use crate::optimize::{EnsembleParams, OptimizerConfig, SparseFit, StlsqParams};

use super::extract::{extract_rules, FeatureTerms};
use super::libraries::HillLibrary;
use super::RuleSet;

/// Parameters of [`fit_dynamics`].
///
/// The library of every gene's `dx/dt` is `[1, x_g / s_g, u_c, H(x_g), H(x_a) H(x_b)]`:
/// a constant (basal production), every gene's level (decay of the target itself; linear
/// activation or repression by the others), every control input, and Hill activations with
/// their pairwise products (gates). Linear columns are divided by the gene's largest observed
/// magnitude `s_g` while fitting, so every column is of order one and one threshold fits all;
/// the reported coefficients are converted back to the gene's own units.
///
/// The threshold (1, in units of `dx/dt` per unit feature) and the advice to smooth noisy data
/// (Savitzky–Golay) were chosen on simulated trajectories of the synthetic network; the
/// measurements are in `docs/rules.md` (the ignored `rules_dynamics_sweep` test prints them).
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `hill_n` | 4 | Hill coefficient of the library | `>= 1` |
/// | `hill_k` | midpoint of each gene's observed range | half-activation constants | `> 0`, one per gene |
/// | `linear` | `true` | linear gene terms beside the Hill terms | |
/// | `interactions` | `true` | products of two Hill terms | |
/// | `differentiator` | finite differences of order 2 | `dx/dt` (and, for a smoothing one, the levels the library is built from) | any [`DiffConfig`] |
/// | `optimizer` | ensemble of 40 STLSQ fits (threshold 1, row bagging, seed 0) | sparse regression | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicsParams {
    /// Hill coefficient.
    pub hill_n: f64,
    /// Half-activation constants, one per gene (`None`: midpoint of the gene's observed
    /// minimum and maximum over all trajectories, which for a switch-like gene lies between its
    /// OFF and ON levels).
    pub hill_k: Option<Vec<f64>>,
    /// Include linear gene terms.
    pub linear: bool,
    /// Include pairwise products of Hill terms.
    pub interactions: bool,
    /// How `dx/dt` is estimated. Noisy time courses need a smoothing one (Savitzky–Golay,
    /// whose smoothed levels then also feed the library, or the weak form).
    pub differentiator: DiffConfig,
    /// Sparse regression (an ensemble gives inclusion probabilities, the edge scores).
    pub optimizer: OptimizerConfig,
}

impl Default for DynamicsParams {
    fn default() -> Self {
        DynamicsParams {
            hill_n: 4.0,
            hill_k: None,
            linear: true,
            interactions: true,
            differentiator: DiffConfig::FiniteDifference { order: 2 },
            optimizer: OptimizerConfig::Ensemble(EnsembleParams::default().inner(
                OptimizerConfig::Stlsq(StlsqParams::default().threshold(1.0)),
            )),
        }
    }
}

impl DynamicsParams {
    /// Sets the seed of an ensemble optimizer (no effect on a single fit).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        if let OptimizerConfig::Ensemble(e) = &mut self.optimizer {
            e.seed = seed;
        }
        self
    }
}

/// The result of [`fit_dynamics`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicsFit {
    /// One rule `dg/dt = …` per gene, and every gene pair's scored edge.
    pub rules: RuleSet,
    /// Gene names (state variables), in trajectory column order.
    pub genes: Vec<String>,
    /// Feature names of the library.
    pub features: Vec<String>,
    /// Half-activation constants used.
    pub hill_k: Vec<f64>,
    /// The regression result (coefficients in the genes' own units).
    pub fit: SparseFit,
    /// Samples regressed (all trajectories).
    pub n_samples: usize,
}

/// SINDy on gene time courses: `dx/dt` by finite differences on each trajectory, the library
/// of [`DynamicsParams`], one sparse regression for all genes, then [`extract_rules`] with each
/// gene's own linear term read as decay. Edges are scored by ensemble inclusion probability.
///
/// # Errors
/// [`Error::Empty`] without trajectories; [`Error::Shape`] if the trajectories disagree in
/// genes or controls, or `hill_k` has the wrong length; [`Error::InvalidParam`] for bad
/// parameters; errors of the differentiator and the optimizer.
pub fn fit_dynamics(trajectories: &[Trajectory], p: &DynamicsParams) -> Result<DynamicsFit> {
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
    }
    let diff = p.differentiator.build()?;
    let mut xs = Vec::new();
    let mut dxs = Vec::new();
    let mut us = Vec::new();
    for t in trajectories {
        dxs.push(diff.differentiate(t.x(), t.t())?);
        xs.push(match diff.smooth(t.x(), t.t())? {
            Some(smoothed) => smoothed,
            None => t.x().to_owned(),
        });
        us.push(match t.u() {
            Some(u) => u.to_owned(),
            None => Array2::zeros((t.n_samples(), 0)),
        });
    }
    let x = concatenate(Axis(0), &views(&xs)).map_err(|e| Error::Linalg(e.to_string()))?;
    let dx = concatenate(Axis(0), &views(&dxs)).map_err(|e| Error::Linalg(e.to_string()))?;
    let u = concatenate(Axis(0), &views(&us)).map_err(|e| Error::Linalg(e.to_string()))?;
    crate::error::check_finite("time-course states", x.view())?;

    let hill_k = match &p.hill_k {
        Some(k) if k.len() != genes.len() => {
            return Err(Error::shape(
                "fit_dynamics hill_k",
                format!("{} constants (one per gene)", genes.len()),
                format!("{}", k.len()),
            ))
        }
        Some(k) => k.clone(),
        None => x
            .columns()
            .into_iter()
            .map(|c| {
                let lo = c.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mid = 0.5 * (lo.max(0.0) + hi);
                if mid > 0.0 {
                    mid
                } else {
                    1.0
                }
            })
            .collect(),
    };
    let hill = HillLibrary::new(hill_k.clone(), p.hill_n)?.interactions(p.interactions);

    // [1, x/s]: the degree-1 polynomial library on scaled levels (or the constant alone).
    let scale: Vec<f64> = x
        .columns()
        .into_iter()
        .map(|c| {
            let m = c.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            if m > 0.0 {
                m
            } else {
                1.0
            }
        })
        .collect();
    let xs_scaled = Array2::from_shape_fn(x.dim(), |(i, j)| x[(i, j)] / scale[j]);
    let (lin_theta, lin_terms) = if p.linear {
        let lib = PolynomialLibrary::new(1)?;
        (
            lib.transform(xs_scaled.view())?,
            FeatureTerms::from_polynomial(&lib, &genes)?,
        )
    } else {
        (
            Array2::ones((x.nrows(), 1)),
            FeatureTerms::gene_free(vec!["1".into()]),
        )
    };
    let hill_theta = hill.transform(x.view())?;
    let hill_names = hill.feature_names(&genes);
    let hill_genes: Vec<Vec<String>> = hill
        .feature_inputs(genes.len())
        .into_iter()
        .map(|g| g.into_iter().map(|i| genes[i].clone()).collect())
        .collect();
    let n_hill = hill_names.len();
    let features = lin_terms
        .concat(FeatureTerms::gene_free(controls.clone()))
        .concat(FeatureTerms::new(
            hill_names,
            hill_genes,
            vec![false; n_hill],
        )?);
    let theta = concatenate(Axis(1), &[lin_theta.view(), u.view(), hill_theta.view()])
        .map_err(|e| Error::Linalg(e.to_string()))?;

    let opt = p.optimizer.build()?;
    let mut fit = opt.fit(theta.view(), dx.view())?;
    if p.linear {
        // Back to the genes' own units: feature 1 + j is x_j / s_j.
        for (j, s) in scale.iter().enumerate() {
            fit.coef.row_mut(1 + j).mapv_inplace(|c| c / s);
        }
    }
    let lhs = |g: &str| format!("d{g}/dt");
    let rules = extract_rules(&fit, &features, &genes, &genes, &lhs, true)?;
    Ok(DynamicsFit {
        rules,
        genes,
        features: features.names().to_vec(),
        hill_k,
        fit,
        n_samples: x.nrows(),
    })
}

fn views(v: &[Array2<f64>]) -> Vec<ndarray::ArrayView2<'_, f64>> {
    v.iter().map(|a| a.view()).collect()
}
