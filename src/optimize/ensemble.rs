use std::sync::Arc;

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{
    check_normal, unbias, OptimizerConfig, SparseFit, SparseRegressor, StlsqParams, ZERO_TOL,
};
use crate::error::{Error, Result};
use crate::linalg::BlockedNormalEquations;

/// How the ensemble's final coefficients are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Keep terms with inclusion probability `>= inclusion_threshold`, then refit them by least
    /// squares on all the data (default: unbiased, and exactly sparse).
    Refit,
    /// Median of the members' coefficients (PySINDy's `EnsembleOptimizer` default), zeroed
    /// below the inclusion threshold.
    Median,
    /// Mean of the members' coefficients, zeroed below the inclusion threshold.
    Mean,
}

/// Hyper-parameters of the ensemble (unchecked).
///
/// Each of `n_models` members fits the inner optimizer on a bootstrap of row blocks (when
/// `bagging`) and/or with `n_drop` randomly chosen library terms removed (library bagging;
/// Fasel et al. 2022, ≈ `pysindy.EnsembleOptimizer(bagging=True, library_ensemble=True)`).
/// The inclusion probability of a term is the fraction of members that keep it.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `inner` | STLSQ defaults | optimizer of each member | STLSQ or lasso |
/// | `n_models` | 40 | members | `>= 1` |
/// | `bagging` | `true` | bootstrap row blocks | needs `>= 2` blocks |
/// | `n_drop` | 0 | library terms dropped per member | `< n_features` |
/// | `inclusion_threshold` | 0.5 | inclusion probability that keeps a term | `[0, 1]` |
/// | `aggregate` | `refit` | final coefficients | |
/// | `seed` | 0 | random generator seed | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleParams {
    /// Inner optimizer.
    pub inner: Box<OptimizerConfig>,
    /// Number of members.
    pub n_models: usize,
    /// Bootstrap row blocks.
    pub bagging: bool,
    /// Library terms dropped per member.
    pub n_drop: usize,
    /// Inclusion probability needed to keep a term.
    pub inclusion_threshold: f64,
    /// Final coefficients.
    pub aggregate: Aggregate,
    /// Seed.
    pub seed: u64,
}

impl Default for EnsembleParams {
    fn default() -> Self {
        Self {
            inner: Box::new(OptimizerConfig::Stlsq(StlsqParams::default())),
            n_models: 40,
            bagging: true,
            n_drop: 0,
            inclusion_threshold: 0.5,
            aggregate: Aggregate::Refit,
            seed: 0,
        }
    }
}

impl EnsembleParams {
    /// Sets the inner optimizer.
    #[must_use]
    pub fn inner(mut self, v: OptimizerConfig) -> Self {
        self.inner = Box::new(v);
        self
    }
    /// Sets `n_models`.
    #[must_use]
    pub fn n_models(mut self, v: usize) -> Self {
        self.n_models = v;
        self
    }
    /// Sets `bagging`.
    #[must_use]
    pub fn bagging(mut self, v: bool) -> Self {
        self.bagging = v;
        self
    }
    /// Sets `n_drop`.
    #[must_use]
    pub fn n_drop(mut self, v: usize) -> Self {
        self.n_drop = v;
        self
    }
    /// Sets `inclusion_threshold`.
    #[must_use]
    pub fn inclusion_threshold(mut self, v: f64) -> Self {
        self.inclusion_threshold = v;
        self
    }
    /// Sets `aggregate`.
    #[must_use]
    pub fn aggregate(mut self, v: Aggregate) -> Self {
        self.aggregate = v;
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
    /// [`Error::InvalidParam`] naming the offending parameter (a nested ensemble is refused).
    pub fn check(self) -> Result<Ensemble> {
        let inner = self.inner.build()?;
        Ensemble::with_inner(self, Arc::from(inner))
    }
}

/// Bagging / library-bagging ensemble, validated.
#[derive(Debug)]
pub struct Ensemble {
    p: EnsembleParams,
    inner: Arc<dyn SparseRegressor>,
}

impl Ensemble {
    /// Default (unchecked) parameters.
    pub fn params() -> EnsembleParams {
        EnsembleParams::default()
    }

    /// An ensemble of `inner`, which may be an optimizer defined outside this crate
    /// (`p.inner` is ignored).
    ///
    /// # Errors
    /// As [`EnsembleParams::check`]; [`Error::InvalidParam`] if `inner` is itself an ensemble
    /// (it resamples rows: ensembles cannot be nested).
    pub fn with_inner(p: EnsembleParams, inner: Arc<dyn SparseRegressor>) -> Result<Self> {
        if p.n_models == 0 {
            return Err(Error::param("n_models", p.n_models, "must be >= 1"));
        }
        if !(0.0..=1.0).contains(&p.inclusion_threshold) {
            return Err(Error::param(
                "inclusion_threshold",
                p.inclusion_threshold,
                "must be in [0, 1]",
            ));
        }
        if !p.bagging && p.n_drop == 0 {
            return Err(Error::param(
                "bagging/n_drop",
                "false/0",
                "an ensemble needs row bagging or library bagging (n_drop > 0)",
            ));
        }
        if inner.resamples_rows() {
            return Err(Error::param(
                "inner",
                "ensemble",
                "ensembles cannot be nested",
            ));
        }
        Ok(Ensemble { p, inner })
    }
}

impl SparseRegressor for Ensemble {
    fn fit_normal(&self, ne: &BlockedNormalEquations) -> Result<SparseFit> {
        let total = ne.total();
        check_normal(total)?;
        let (p, t) = (total.n_features(), total.n_targets());
        let nb = ne.blocks().len();
        if self.p.bagging && nb < 2 {
            return Err(Error::TooFewSamples {
                op: "ensemble row bagging (blocks of samples)".into(),
                needed: 2,
                got: nb,
            });
        }
        if self.p.n_drop >= p {
            return Err(Error::param(
                "n_drop",
                self.p.n_drop,
                format!("must be smaller than the number of features ({p})"),
            ));
        }
        let mut rng = StdRng::seed_from_u64(self.p.seed);
        let mut members: Vec<Array2<f64>> = Vec::with_capacity(self.p.n_models);
        for _ in 0..self.p.n_models {
            let stats = if self.p.bagging {
                let mut w = vec![0.0; nb];
                for _ in 0..nb {
                    w[rng.random_range(0..nb)] += 1.0;
                }
                ne.weighted(&w)
            } else {
                total.clone()
            };
            let mut keep: Vec<usize> = (0..p).collect();
            for _ in 0..self.p.n_drop {
                let k = rng.random_range(0..keep.len());
                keep.remove(k);
            }
            let sub = stats.select_features(&keep);
            let fit = self
                .inner
                .fit_normal(&BlockedNormalEquations::from_total(sub))?;
            let mut full = Array2::zeros((p, t));
            for (r, &f) in keep.iter().enumerate() {
                for j in 0..t {
                    full[(f, j)] = fit.coef[(r, j)];
                }
            }
            members.push(full);
        }
        let m = members.len() as f64;
        let inclusion = Array2::from_shape_fn((p, t), |(i, j)| {
            members
                .iter()
                .filter(|c| c[(i, j)].abs() > ZERO_TOL)
                .count() as f64
                / m
        });
        let keep = |i: usize, j: usize| {
            inclusion[(i, j)] >= self.p.inclusion_threshold && inclusion[(i, j)] > 0.0
        };
        let mut coef = Array2::zeros((p, t));
        match self.p.aggregate {
            Aggregate::Refit => {
                for i in 0..p {
                    for j in 0..t {
                        if keep(i, j) {
                            coef[(i, j)] = 1.0;
                        }
                    }
                }
                unbias(total, &mut coef)?;
            }
            Aggregate::Median | Aggregate::Mean => {
                for i in 0..p {
                    for j in 0..t {
                        if !keep(i, j) {
                            continue;
                        }
                        let mut v: Vec<f64> = members.iter().map(|c| c[(i, j)]).collect();
                        coef[(i, j)] = if self.p.aggregate == Aggregate::Mean {
                            v.iter().sum::<f64>() / m
                        } else {
                            v.sort_by(f64::total_cmp);
                            crate::stats::median_sorted(&v)
                        };
                    }
                }
            }
        }
        Ok(SparseFit {
            coef,
            n_iter: self.p.n_models,
            converged: true,
            inclusion: Some(inclusion),
            selection: None,
        })
    }

    fn config(&self) -> Option<OptimizerConfig> {
        let inner = self.inner.config()?;
        Some(OptimizerConfig::Ensemble(self.p.clone().inner(inner)))
    }

    fn with_threshold(&self, threshold: f64) -> Result<Box<dyn SparseRegressor>> {
        Ok(Box::new(Ensemble {
            p: self.p.clone(),
            inner: Arc::from(self.inner.with_threshold(threshold)?),
        }))
    }

    fn resamples_rows(&self) -> bool {
        true
    }
}
