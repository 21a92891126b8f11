use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Sample times of a trajectory: a uniform grid (`t0 + i dt`) or explicit, strictly increasing
/// times.
///
/// Uniform grids are kept symbolic so that differentiators can use fixed stencils; explicit
/// grids get per-point stencils (Fornberg weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeGrid {
    /// `t_i = t0 + i * dt`, `i = 0..n`.
    Uniform {
        /// First time.
        t0: f64,
        /// Time step (> 0).
        dt: f64,
        /// Number of samples.
        n: usize,
    },
    /// Explicit sample times, strictly increasing.
    Samples(Vec<f64>),
}

impl TimeGrid {
    /// A uniform grid, validated.
    ///
    /// # Errors
    /// [`Error::TimeGrid`] if `dt` is not finite and positive or `t0` is not finite.
    pub fn uniform(t0: f64, dt: f64, n: usize) -> Result<Self> {
        let g = TimeGrid::Uniform { t0, dt, n };
        g.validate()?;
        Ok(g)
    }

    /// An explicit grid, validated (uniformity is *not* detected: use [`TimeGrid::uniform`]).
    ///
    /// # Errors
    /// [`Error::TimeGrid`] if any time is non-finite or times do not strictly increase.
    pub fn samples(t: Vec<f64>) -> Result<Self> {
        let g = TimeGrid::Samples(t);
        g.validate()?;
        Ok(g)
    }

    /// Explicit times that are in fact uniform (to 1e-9 relative) become [`TimeGrid::Uniform`],
    /// so that file input with a time column gets the fast fixed stencils.
    ///
    /// # Errors
    /// As [`TimeGrid::samples`].
    pub fn from_times(t: Vec<f64>) -> Result<Self> {
        let g = TimeGrid::samples(t)?;
        if let TimeGrid::Samples(t) = &g {
            if t.len() >= 2 {
                let dt = (t[t.len() - 1] - t[0]) / (t.len() - 1) as f64;
                let uniform = t.iter().enumerate().all(|(i, &ti)| {
                    (ti - (t[0] + i as f64 * dt)).abs()
                        <= 1e-9 * dt.abs().max(1e-300) * (1.0 + i as f64).sqrt()
                });
                if uniform {
                    return TimeGrid::uniform(t[0], dt, t.len());
                }
            }
        }
        Ok(g)
    }

    /// Checks the grid.
    ///
    /// # Errors
    /// [`Error::TimeGrid`] describing the first problem.
    pub fn validate(&self) -> Result<()> {
        match self {
            TimeGrid::Uniform { t0, dt, .. } => {
                if !t0.is_finite() {
                    return Err(Error::TimeGrid(format!("t0 = {t0} is not finite")));
                }
                if !(dt.is_finite() && *dt > 0.0) {
                    return Err(Error::TimeGrid(format!(
                        "time step dt = {dt} must be finite and > 0"
                    )));
                }
            }
            TimeGrid::Samples(t) => {
                for (i, &ti) in t.iter().enumerate() {
                    if !ti.is_finite() {
                        return Err(Error::TimeGrid(format!("t[{i}] = {ti} is not finite")));
                    }
                    if i > 0 && ti <= t[i - 1] {
                        return Err(Error::TimeGrid(format!(
                            "t[{i}] = {ti} is not greater than t[{}] = {}",
                            i - 1,
                            t[i - 1]
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            TimeGrid::Uniform { n, .. } => *n,
            TimeGrid::Samples(t) => t.len(),
        }
    }

    /// True when the grid has no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Time of sample `i` (no bounds check on uniform grids).
    pub fn at(&self, i: usize) -> f64 {
        match self {
            TimeGrid::Uniform { t0, dt, .. } => t0 + i as f64 * dt,
            TimeGrid::Samples(t) => t.get(i).copied().unwrap_or(f64::NAN),
        }
    }

    /// The uniform step, if the grid is uniform.
    pub fn uniform_dt(&self) -> Option<f64> {
        match self {
            TimeGrid::Uniform { dt, .. } => Some(*dt),
            TimeGrid::Samples(_) => None,
        }
    }

    /// All times as a vector.
    pub fn to_vec(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.at(i)).collect()
    }

    /// The sub-grid of samples `start..end` (clamped).
    pub fn slice(&self, start: usize, end: usize) -> TimeGrid {
        let end = end.min(self.len());
        let start = start.min(end);
        match self {
            TimeGrid::Uniform { t0, dt, .. } => TimeGrid::Uniform {
                t0: t0 + start as f64 * dt,
                dt: *dt,
                n: end - start,
            },
            TimeGrid::Samples(t) => TimeGrid::Samples(t[start..end].to_vec()),
        }
    }
}
