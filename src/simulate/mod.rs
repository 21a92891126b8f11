//! ODE integration through `ode_solvers` (nalgebra appears only here).
//!
//! [`integrate`] runs any right-hand side `f(t, x, dx)` on a [`TimeGrid`] with Dormand–Prince
//! 5(4) or 8(5,3). Systems of up to 8 variables use stack-allocated vectors (no allocation per
//! step, which is most of the cost of a small sparse model); larger ones use `DVector`.
//!
//! Uniform grids use the solver's dense output (one integration, interpolated samples);
//! explicit grids integrate from sample to sample. Integration always starts at `t = 0`
//! internally (ode_solvers compares times by absolute value) and the right-hand side sees the
//! caller's time.
#![allow(clippy::disallowed_types)] // the numerical backend is used only here (ARCHITECTURE.md: kernels)

mod compare;
mod noise;
pub use compare::{summarize_simulation, SimulationSummary};
pub use noise::{add_measurement_noise, measurement_noise_sigmas};

use std::marker::PhantomData;

use nalgebra::{allocator::Allocator, DefaultAllocator, Dim, OVector};
use ndarray::Array2;
use ode_solvers::{Dop853, Dopri5, OutputType, System};
use serde::{Deserialize, Serialize};

use crate::data::TimeGrid;
use crate::error::{Error, Result};

/// Integration method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Dormand–Prince 5(4), dense output of order 4.
    Dopri5,
    /// Dormand–Prince 8(5,3), dense output of order 7 (for reference data). For autonomous
    /// systems only: with ode_solvers 0.6.2 an explicitly time-dependent right-hand side makes
    /// it take tiny steps (seen on `x' = -x + sin 3t`); use [`Method::Dopri5`] there. Its
    /// stiffness heuristic is disabled for the same reason (false positives).
    Dop853,
}

/// Solver settings.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `method` | `dopri5` | integrator |
/// | `rtol`, `atol` | 1e-10 | step-size control tolerances |
/// | `max_steps` | 10^8 | steps before giving up |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SolverConfig {
    /// Integration method.
    pub method: Method,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Maximum number of steps.
    pub max_steps: u32,
}

impl Default for SolverConfig {
    fn default() -> Self {
        Self {
            method: Method::Dopri5,
            rtol: 1e-10,
            atol: 1e-10,
            max_steps: 100_000_000,
        }
    }
}

impl SolverConfig {
    /// High-accuracy settings for reference trajectories (Dop853, tolerances 1e-12).
    pub fn reference() -> Self {
        Self {
            method: Method::Dop853,
            rtol: 1e-12,
            atol: 1e-12,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        if !(self.rtol > 0.0 && self.rtol.is_finite()) {
            return Err(Error::param("rtol", self.rtol, "must be finite and > 0"));
        }
        if !(self.atol > 0.0 && self.atol.is_finite()) {
            return Err(Error::param("atol", self.atol, "must be finite and > 0"));
        }
        Ok(())
    }
}

/// A right-hand side `f(t, x, dx)`.
pub type Rhs<'a> = &'a dyn Fn(f64, &[f64], &mut [f64]);

struct Adapter<'a, D> {
    f: Rhs<'a>,
    t0: f64,
    _d: PhantomData<D>,
}

impl<D: Dim> System<f64, OVector<f64, D>> for Adapter<'_, D>
where
    DefaultAllocator: Allocator<D>,
{
    fn system(&self, t: f64, y: &OVector<f64, D>, dy: &mut OVector<f64, D>) {
        (self.f)(t + self.t0, y.as_slice(), dy.as_mut_slice());
    }
}

/// Integrates `f` from `x0` at `t.at(0)` and returns the states at every time of `t`.
///
/// # Shapes
/// `x0`: `n_vars` → `(t.len(), n_vars)`.
///
/// # Errors
/// [`Error::NonFinite`] / [`Error::Empty`] on bad `x0` or an empty grid,
/// [`Error::Integration`] if the solver fails or the solution stops being finite (blow-up).
pub fn integrate(f: Rhs<'_>, x0: &[f64], t: &TimeGrid, cfg: &SolverConfig) -> Result<Array2<f64>> {
    cfg.validate()?;
    t.validate()?;
    if x0.is_empty() {
        return Err(Error::Empty {
            what: "initial condition",
            why: "no variables".into(),
        });
    }
    if let Some((i, &v)) = x0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "initial condition",
            row: 0,
            col: i,
            value: v,
        });
    }
    if t.is_empty() {
        return Err(Error::Empty {
            what: "time grid",
            why: "nothing to simulate".into(),
        });
    }
    // The result, plus the solver's dense output of the same size.
    crate::memory::ensure_fits(
        || format!("simulating {} samples of {} variables", t.len(), x0.len()),
        crate::memory::array_bytes(&[t.len(), x0.len(), 2], 8),
    )?;
    macro_rules! dispatch {
        ($($n:literal),*) => {
            match x0.len() {
                $($n => run::<nalgebra::Const<$n>>(f, OVector::<f64, nalgebra::Const<$n>>::from_column_slice(x0), t, cfg),)*
                _ => run::<nalgebra::Dyn>(f, OVector::<f64, nalgebra::Dyn>::from_column_slice(x0), t, cfg),
            }
        };
    }
    let out = dispatch!(1, 2, 3, 4, 5, 6, 7, 8)?;
    if let Some(((row, _), v)) = out.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::Integration(format!(
            "solution is not finite ({v}) at t = {}: the system blows up",
            t.at(row)
        )));
    }
    Ok(out)
}

fn run<D: Dim>(
    f: Rhs<'_>,
    y0: OVector<f64, D>,
    t: &TimeGrid,
    cfg: &SolverConfig,
) -> Result<Array2<f64>>
where
    DefaultAllocator: Allocator<D>,
    OVector<f64, D>: std::ops::Mul<f64, Output = OVector<f64, D>>,
{
    let n = t.len();
    let d = y0.len();
    let t0 = t.at(0);
    let mut out = Array2::zeros((n, d));
    for (j, v) in y0.iter().enumerate() {
        out[(0, j)] = *v;
    }
    if n == 1 {
        return Ok(out);
    }
    let sys = || Adapter::<D> {
        f,
        t0,
        _d: PhantomData,
    };
    match t {
        TimeGrid::Uniform { dt, .. } => {
            // Integrate half a step past the end so the last dense sample is never lost to
            // rounding in the solver's output clock.
            let t_end = (n as f64 - 0.5) * dt;
            let ys = solve(sys(), y0, 0.0, t_end, *dt, cfg, OutputType::Dense)?;
            if ys.len() < n {
                return Err(Error::Integration(format!(
                    "solver returned {} of {n} samples",
                    ys.len()
                )));
            }
            for (i, y) in ys.iter().take(n).enumerate() {
                for j in 0..d {
                    out[(i, j)] = y[j];
                }
            }
        }
        TimeGrid::Samples(ts) => {
            let mut y = y0;
            for i in 1..n {
                let (a, b) = (ts[i - 1] - t0, ts[i] - t0);
                let sys = Adapter::<D> {
                    f,
                    t0,
                    _d: PhantomData,
                };
                y = solve(sys, y, a, b, b - a, cfg, OutputType::Sparse)?
                    .pop()
                    .ok_or_else(|| Error::Integration("solver produced no output".into()))?;
                for j in 0..d {
                    out[(i, j)] = y[j];
                }
            }
        }
    }
    Ok(out)
}

/// Runs the configured solver from `a` to `b`: dense output every `dx` (`OutputType::Dense`)
/// or the accepted steps (`OutputType::Sparse`).
#[allow(clippy::too_many_arguments)]
fn solve<D: Dim>(
    sys: Adapter<'_, D>,
    y0: OVector<f64, D>,
    a: f64,
    b: f64,
    dx: f64,
    cfg: &SolverConfig,
    out: OutputType,
) -> Result<Vec<OVector<f64, D>>>
where
    DefaultAllocator: Allocator<D>,
    OVector<f64, D>: std::ops::Mul<f64, Output = OVector<f64, D>>,
{
    let err = |e: ode_solvers::dop_shared::IntegrationError| Error::Integration(e.to_string());
    let h_max = b - a;
    // Solver defaults from ode_solvers (safety, beta, fac_min, fac_max), with our step limit.
    match cfg.method {
        Method::Dopri5 => {
            let mut s = Dopri5::from_param(
                sys,
                a,
                b,
                dx,
                y0,
                cfg.rtol,
                cfg.atol,
                0.9,
                0.04,
                0.2,
                10.0,
                h_max,
                0.0,
                cfg.max_steps,
                1000,
                out,
            );
            s.integrate().map_err(err)?;
            Ok(s.y_out().clone())
        }
        Method::Dop853 => {
            let mut s = Dop853::from_param(
                sys,
                a,
                b,
                dx,
                y0,
                cfg.rtol,
                cfg.atol,
                0.9,
                0.0,
                0.333,
                6.0,
                h_max,
                0.0,
                cfg.max_steps,
                u32::MAX,
                out,
            );
            s.integrate().map_err(err)?;
            Ok(s.y_out().clone())
        }
    }
}
