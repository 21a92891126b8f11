//! A simulated model against a reference trajectory: RMSE, final difference and how long the
//! two agree (the horizon over which an identified model is trustworthy).

use serde::Serialize;

use super::measurement_noise_sigmas;
use crate::data::Trajectory;

/// How a model's simulation compares with a reference trajectory (see [`summarize_simulation`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationSummary {
    /// Samples compared.
    pub n_samples: usize,
    /// First time.
    pub t_start: f64,
    /// Last time.
    pub t_end: f64,
    /// Whether the simulation succeeded.
    pub ok: bool,
    /// The solver's error when it did not (e.g. blow-up).
    pub error: Option<String>,
    /// Root-mean-square difference per variable over the span.
    pub rmse: Option<Vec<f64>>,
    /// `model − reference` at the last sample.
    pub final_state_diff: Option<Vec<f64>>,
    /// First time at which the model is farther from the reference than 20% of the
    /// reference's spread (`0.2 √Σ var`); `None` if it never is.
    pub agreement_until: Option<f64>,
}

/// Compares `simulation` (the identified model run from the reference's initial state, or the
/// solver's error) with `reference`, sample by sample: RMSE per variable, the difference at the
/// end, and how long the two agree within 20 % of the reference's spread.
pub fn summarize_simulation(
    reference: &Trajectory,
    simulation: &std::result::Result<Trajectory, String>,
) -> SimulationSummary {
    let n = reference.n_samples();
    let mut out = SimulationSummary {
        n_samples: n,
        t_start: reference.t().at(0),
        t_end: reference.t().at(n.saturating_sub(1)),
        ok: simulation.is_ok(),
        error: simulation.as_ref().err().cloned(),
        rmse: None,
        final_state_diff: None,
        agreement_until: None,
    };
    let Ok(sim) = simulation else {
        return out;
    };
    if sim.n_samples() != n || n == 0 {
        return out;
    }
    let (xr, xs) = (reference.x(), sim.x());
    let diff = &xs - &xr;
    let nf = n as f64;
    out.rmse = Some(
        diff.columns()
            .into_iter()
            .map(|c| (c.iter().map(|v| v * v).sum::<f64>() / nf).sqrt())
            .collect(),
    );
    out.final_state_diff = Some(diff.row(n - 1).to_vec());
    let spread: f64 = measurement_noise_sigmas(&xr.to_owned(), 1.0)
        .iter()
        .map(|s| s * s)
        .sum::<f64>()
        .sqrt();
    let tol = 0.2 * spread;
    out.agreement_until = diff
        .rows()
        .into_iter()
        .position(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt() > tol)
        .map(|i| reference.t().at(i));
    out
}
