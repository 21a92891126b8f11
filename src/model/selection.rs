//! Model selection over the sparsity threshold: sweep, Pareto front, and a stated criterion.
//!
//! PySINDy leaves this to its users; here the sweep is nearly free because every threshold
//! reuses the same normal equations (one pass over the data for the whole sweep).

use serde::{Deserialize, Serialize};

use super::stream::StreamParts;
use super::{Sindy, SindyParams};
use crate::data::Trajectory;
use crate::error::{Error, Result};
use crate::linalg::BlockedNormalEquations;
use crate::optimize::DEFAULT_BLOCKS;

/// How to pick a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Akaike: `Σ_j n ln(RSS_j/n) + 2k`.
    Aic,
    /// Bayesian: `Σ_j n ln(RSS_j/n) + k ln n`.
    Bic,
    /// Residual sum of squares on held-out sample blocks (every fifth block); ties go to the
    /// sparser model.
    HeldOut,
}

/// One threshold of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionPoint {
    /// The threshold.
    pub threshold: f64,
    /// Non-zero coefficients.
    pub complexity: usize,
    /// Training RSS (all targets).
    pub train_rss: f64,
    /// Held-out RSS (all targets), for [`Criterion::HeldOut`].
    pub heldout_rss: Option<f64>,
    /// AIC on the training data.
    pub aic: f64,
    /// BIC on the training data.
    pub bic: f64,
    /// On the Pareto front of (complexity, error).
    pub pareto: bool,
}

/// A threshold sweep and the chosen point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionReport {
    /// The criterion used.
    pub criterion: Criterion,
    /// All points, by increasing threshold.
    pub points: Vec<SelectionPoint>,
    /// Index of the chosen point.
    pub chosen: usize,
}

impl SelectionReport {
    /// The chosen point.
    pub fn chosen_point(&self) -> Option<&SelectionPoint> {
        self.points.get(self.chosen)
    }
}

fn information(rss: &[f64], n: usize, k: usize, per_param: f64) -> f64 {
    let nf = n as f64;
    rss.iter()
        .map(|r| nf * (r.max(1e-300) / nf).ln())
        .sum::<f64>()
        + per_param * k as f64
}

impl SindyParams {
    /// Sweeps the optimizer's threshold over `thresholds` (default: 25 values log-spaced from
    /// 1e-4 to 1 times the largest least-squares coefficient), marks the Pareto front of
    /// (complexity, error), picks a point by `criterion`, and returns the model refitted on all
    /// data at the chosen threshold.
    ///
    /// # Errors
    /// As [`SindyParams::fit`]; [`Error::InvalidParam`] for a negative threshold;
    /// [`Error::TooFewSamples`] when held-out selection has fewer than 5 blocks.
    pub fn select_threshold(
        &self,
        trajectories: &[Trajectory],
        thresholds: Option<&[f64]>,
        criterion: Criterion,
    ) -> Result<(Sindy, SelectionReport)> {
        let first = trajectories.first().ok_or_else(|| Error::Empty {
            what: "trajectory list",
            why: "model selection needs data".into(),
        })?;
        let total: usize = trajectories.iter().map(|t| t.n_samples()).sum();
        let params = self.resolved(trajectories)?;
        let mut stream = params.stream(
            first.names().to_vec(),
            first.control_names().to_vec(),
            total.div_ceil(DEFAULT_BLOCKS).max(16),
        )?;
        for tr in trajectories {
            stream.push_whole(tr)?;
        }
        let parts = stream.into_normal()?;
        let grid: Vec<f64> = match thresholds {
            Some(t) => t.to_vec(),
            None => {
                let lstsq = params
                    .optimizer
                    .with_threshold(0.0)?
                    .fit_normal(&parts.normal)?;
                let cmax = lstsq
                    .coef
                    .iter()
                    .fold(0.0f64, |a, c| a.max(c.abs()))
                    .max(1e-12);
                (0..25)
                    .map(|i| cmax * 10f64.powf(-4.0 + 4.0 * i as f64 / 24.0))
                    .collect()
            }
        };
        if let Some(&bad) = grid.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err(Error::param("threshold", bad, "must be finite and >= 0"));
        }
        let mut grid = grid;
        grid.sort_by(f64::total_cmp);
        let blocks = parts.normal.blocks();
        let split = if criterion == Criterion::HeldOut {
            if blocks.len() < 5 {
                return Err(Error::TooFewSamples {
                    op: "held-out model selection (sample blocks)".into(),
                    needed: 5,
                    got: blocks.len(),
                });
            }
            let w_train: Vec<f64> = (0..blocks.len())
                .map(|i| if i % 5 == 4 { 0.0 } else { 1.0 })
                .collect();
            let w_test: Vec<f64> = w_train.iter().map(|w| 1.0 - w).collect();
            let mut train =
                BlockedNormalEquations::new(parts.feature_names.len(), parts.state_names.len());
            for (b, w) in blocks.iter().zip(&w_train) {
                if *w > 0.0 {
                    train.push(b.clone())?;
                }
            }
            Some((train, parts.normal.weighted(&w_test)))
        } else {
            None
        };
        let total_ne = parts.normal.total();
        let n = total_ne.n_samples;
        let mut points = Vec::with_capacity(grid.len());
        for &thr in &grid {
            let opt = self.optimizer.with_threshold(thr)?;
            let fit = opt.fit_normal(&parts.normal)?;
            let k = fit.complexity();
            let rss = total_ne.rss(fit.coef.view()).to_vec();
            let heldout_rss = match &split {
                Some((train, test)) => {
                    let f = opt.fit_normal(train)?;
                    Some(test.rss(f.coef.view()).sum())
                }
                None => None,
            };
            points.push(SelectionPoint {
                threshold: thr,
                complexity: k,
                train_rss: rss.iter().sum(),
                heldout_rss,
                aic: information(&rss, n, k, 2.0),
                bic: information(&rss, n, k, (n as f64).ln()),
                pareto: false,
            });
        }
        let err = |p: &SelectionPoint| p.heldout_rss.unwrap_or(p.train_rss);
        for i in 0..points.len() {
            let dominated = points.iter().any(|q| {
                (q.complexity <= points[i].complexity && err(q) < err(&points[i]))
                    || (q.complexity < points[i].complexity && err(q) <= err(&points[i]))
            });
            points[i].pareto = !dominated;
        }
        let score = |p: &SelectionPoint| match criterion {
            Criterion::Aic => p.aic,
            Criterion::Bic => p.bic,
            Criterion::HeldOut => err(p),
        };
        let chosen = (0..points.len())
            .min_by(|&a, &b| {
                score(&points[a])
                    .total_cmp(&score(&points[b]))
                    .then(points[a].complexity.cmp(&points[b].complexity))
            })
            .ok_or_else(|| Error::Empty {
                what: "threshold grid",
                why: "no thresholds to try".into(),
            })?;
        let opt = self.optimizer.with_threshold(points[chosen].threshold)?;
        let fit = opt.fit_normal(&parts.normal)?;
        let parts = StreamParts {
            params: params.clone().optimizer_boxed(opt),
            ..parts
        };
        let model = Sindy::from_fit(parts, fit)?;
        Ok((
            model,
            SelectionReport {
                criterion,
                points,
                chosen,
            },
        ))
    }
}
