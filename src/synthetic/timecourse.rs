//! Time-course mode: the synthetic brain's regulatory network as Hill-kinetics ODEs, simulated
//! from random starts.

use ndarray::Array2;
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::network::{brain_network, DynamicTruth, NodeRule};
use super::sampling::{normal, stream, DOMAIN_TIMECOURSE};
use crate::data::{TimeGrid, Trajectory};
use crate::error::{Error, Result};
use crate::simulate::{integrate, SolverConfig};

/// Parameters of [`simulate_timecourse`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `n_trajectories` | 8 | trajectories, each with its own inputs and start | ≥ 1 |
/// | `n_samples` | 201 | samples per trajectory (uniform grid from t = 0) | ≥ 2 |
/// | `dt` | 0.1 | sampling step (time unit = 1 / decay rate of the inputs) | > 0 |
/// | `noise` | 0 | Gaussian measurement noise, sd as a fraction of each gene's ON level | ≥ 0 |
/// | `hill_n` | 4 | Hill coefficient of the gate inputs | ≥ 1 |
/// | `seed` | 0 | inputs, starts and noise | any |
/// | `solver` | Dopri5, 1e-10 | integrator settings | see [`SolverConfig`] |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeCourseParams {
    /// Number of trajectories.
    pub n_trajectories: usize,
    /// Samples per trajectory.
    pub n_samples: usize,
    /// Sampling step.
    pub dt: f64,
    /// Measurement noise: standard deviation as a fraction of each gene's ON level
    /// (`baseline + amplitude`); 0 for exact states.
    pub noise: f64,
    /// Hill coefficient `n` of `H(x) = x^n / (K^n + x^n)`.
    pub hill_n: f64,
    /// Seed of inputs, initial states and noise.
    pub seed: u64,
    /// ODE solver settings.
    pub solver: SolverConfig,
}

impl Default for TimeCourseParams {
    fn default() -> Self {
        TimeCourseParams {
            n_trajectories: 8,
            n_samples: 201,
            dt: 0.1,
            noise: 0.0,
            hill_n: 4.0,
            seed: 0,
            solver: SolverConfig::default(),
        }
    }
}

impl TimeCourseParams {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        crate::data::check_sampling(self.n_trajectories, self.n_samples)?;
        if !(self.dt.is_finite() && self.dt > 0.0) {
            return Err(Error::param("dt", self.dt, "must be finite and > 0"));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(Error::param("noise", self.noise, "must be finite and >= 0"));
        }
        if !(self.hill_n.is_finite() && self.hill_n >= 1.0) {
            return Err(Error::param(
                "hill_n",
                self.hill_n,
                "must be finite and >= 1",
            ));
        }
        Ok(())
    }
}

/// Simulated trajectories of the network with their inputs and true equations.
#[derive(Debug, Clone)]
pub struct TimeCourse {
    /// One trajectory per input setting: states named by gene symbol, controls `u_<input>`
    /// (constant along the trajectory).
    pub trajectories: Vec<Trajectory>,
    /// The controls of each trajectory (order of [`DynamicTruth::controls`]): 0/1 for switches,
    /// [0, 1] for levels.
    pub inputs: Vec<Vec<f64>>,
    /// The initial state of each trajectory (before measurement noise).
    pub initial: Vec<Vec<f64>>,
    /// The equations the trajectories follow.
    pub truth: DynamicTruth,
}

/// Simulates the network's dynamics (see [`DynamicTruth`]): each trajectory draws its input
/// switches (ON with the switch's probability) and levels (uniform on [0, 1]), starts every
/// gene uniformly in [0, its ON level], and is sampled on `t = 0, dt, ..`; optional Gaussian
/// measurement noise is added afterwards. Deterministic by seed (one stream per trajectory).
///
/// # Errors
/// [`Error::InvalidParam`] from [`TimeCourseParams::validate`]; [`Error::Integration`] if the
/// solver fails.
pub fn simulate_timecourse(p: &TimeCourseParams) -> Result<TimeCourse> {
    p.validate()?;
    let nodes = brain_network();
    // Every trajectory is kept, with its controls, then differentiated and fitted by the
    // caller: a few copies of trajectories × samples × nodes.
    crate::memory::ensure_fits(
        || {
            format!(
                "{} simulated trajectories of {} samples × {} genes",
                p.n_trajectories,
                p.n_samples,
                nodes.len()
            )
        },
        crate::memory::array_bytes(&[p.n_trajectories, p.n_samples, nodes.len(), 4], 8),
    )?;
    let truth = DynamicTruth::from_network(&nodes, p.hill_n)?;
    let compiled = truth.compile()?;
    let grid = TimeGrid::uniform(0.0, p.dt, p.n_samples)?;
    type Run = (Trajectory, Vec<f64>, Vec<f64>);
    let runs: Vec<Result<Run>> = (0..p.n_trajectories)
        .into_par_iter()
        .map(|k| {
            let mut rng = stream(p.seed, DOMAIN_TIMECOURSE, k as u64);
            let mut u = Vec::with_capacity(truth.controls.len());
            for n in &nodes {
                match n.rule {
                    NodeRule::Switch { p_on } => {
                        u.push(if rng.random::<f64>() < p_on { 1.0 } else { 0.0 })
                    }
                    NodeRule::Level => u.push(rng.random::<f64>()),
                    _ => {}
                }
            }
            let x0: Vec<f64> = nodes
                .iter()
                .map(|n| rng.random::<f64>() * (n.baseline + n.amplitude))
                .collect();
            let f = |_t: f64, x: &[f64], dx: &mut [f64]| compiled.rhs(x, &u, dx);
            let mut x = integrate(&f, &x0, &grid, &p.solver)?;
            if p.noise > 0.0 {
                for mut row in x.rows_mut() {
                    for (v, n) in row.iter_mut().zip(&nodes) {
                        *v += p.noise * (n.baseline + n.amplitude) * normal(&mut rng);
                    }
                }
            }
            let uu = Array2::from_shape_fn((p.n_samples, u.len()), |(_, j)| u[j]);
            let tr = Trajectory::with_names(x, grid.clone(), truth.variables.clone())?
                .with_control(uu, Some(truth.controls.clone()))?;
            Ok((tr, u, x0))
        })
        .collect();
    let mut trajectories = Vec::with_capacity(runs.len());
    let mut inputs = Vec::with_capacity(runs.len());
    let mut initial = Vec::with_capacity(runs.len());
    for r in runs {
        let (t, u, x0) = r?;
        trajectories.push(t);
        inputs.push(u);
        initial.push(x0);
    }
    Ok(TimeCourse {
        trajectories,
        inputs,
        initial,
        truth,
    })
}
