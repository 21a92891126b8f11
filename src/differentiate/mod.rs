//! Numerical differentiation of sampled trajectories (≈ `pysindy.differentiation`).
//!
//! Unlike PySINDy, no differentiator ever returns NaN: the ends of a trajectory use one-sided
//! stencils of the same order (finite differences) or the polynomial fitted to the first/last
//! window (Savitzky–Golay), and too-short inputs are an [`Error::TooFewSamples`].
//!
//! Every differentiator here is *local*: the derivative at sample `i` depends only on samples
//! within [`Differentiator::radius`] of it (away from the ends). That is what lets
//! [`crate::model::SindyStream`] differentiate a trajectory chunk by chunk and get exactly the
//! in-memory result.

mod auto;
mod finite_difference;
mod savitzky_golay;
mod spline;
mod weak;
mod weights;

pub use auto::{
    auto_diff, auto_diff_snr, time_scale, DiffChoice, MIN_WINDOWS_PER_TRAJECTORY, WEAK_ORDER,
    WEAK_SNR, WINDOW_PER_HALF_PERIOD,
};
pub use finite_difference::FiniteDifference;
pub use savitzky_golay::SavitzkyGolay;
pub use spline::{WeakSpline, SPLINE_BOXES};
pub(crate) use weak::convolve_rows;
pub use weak::WeakForm;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::data::TimeGrid;
use crate::error::{check_finite, Error, Result};

/// Computes `dx/dt` from samples.
pub trait Differentiator: std::fmt::Debug + Send + Sync {
    /// Derivative of every column of `x` with respect to time.
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_vars)` → `(n_samples, n_vars)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `t` does not have `n_samples` points, [`Error::TooFewSamples`] when
    /// the stencil does not fit, [`Error::NonFinite`] on NaN/Inf input.
    fn differentiate(&self, x: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Array2<f64>>;

    /// The smoothed signal, for differentiators that smooth (`None` otherwise). SINDy builds its
    /// library from it when present, as PySINDy's `SmoothedFiniteDifference(save_smooth=True)`.
    ///
    /// # Errors
    /// As [`Differentiator::differentiate`].
    fn smooth(&self, x: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Option<Array2<f64>>> {
        let _ = (x, t);
        Ok(None)
    }

    /// For weak formulations: the test-function weights (centred, `2 radius + 1` of them)
    /// that the library must be integrated against, so that rows are
    /// `(∫ φ Θ(x) dt, ∫ φ ẋ dt)`. Only the rows with a full window are used. `None` (the
    /// default) for pointwise differentiators.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the grid does not suit the formulation.
    fn test_function(&self, t: &TimeGrid) -> Result<Option<Vec<f64>>> {
        let _ = t;
        Ok(None)
    }

    /// For weak formulations: `∫ φ θ dt` centred on every row of `theta` (library columns),
    /// zero on the rows without a full window. The default convolves with
    /// [`Differentiator::test_function`]'s weights; a formulation with a faster route (running
    /// sums) overrides it.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for pointwise differentiators or a grid the formulation refuses.
    fn weak_integrate(&self, theta: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Array2<f64>> {
        match self.test_function(t)? {
            Some(phi) => Ok(convolve_rows(theta, &phi)),
            None => Err(Error::Unsupported(format!(
                "{:?} is not a weak formulation",
                self.config()
            ))),
        }
    }

    /// Half-width of the interior stencil: away from the ends, the result at `i` depends only
    /// on samples `i - radius ..= i + radius`.
    fn radius(&self) -> usize;

    /// Fewest samples the differentiator accepts.
    fn min_samples(&self) -> usize;

    /// The serialisable description of this differentiator.
    fn config(&self) -> DiffConfig;
}

/// Serialisable choice of differentiator (config files, CLI, saved models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiffConfig {
    /// [`FiniteDifference`].
    FiniteDifference {
        /// Accuracy order: 2 or 4.
        order: usize,
    },
    /// [`SavitzkyGolay`].
    SavitzkyGolay {
        /// Window length in samples (odd).
        window: usize,
        /// Degree of the local polynomial.
        polyorder: usize,
        /// Build the library from the smoothed signal.
        smooth_x: bool,
    },
    /// [`WeakForm`].
    Weak {
        /// Samples under each test function (odd).
        window: usize,
        /// Test-function order.
        order: u32,
    },
    /// [`WeakSpline`].
    WeakSpline {
        /// Samples per box (odd).
        width: usize,
        /// Boxes convolved.
        boxes: usize,
    },
}

impl Default for DiffConfig {
    fn default() -> Self {
        DiffConfig::FiniteDifference { order: 4 }
    }
}

impl DiffConfig {
    /// Builds the differentiator.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] on invalid settings.
    pub fn build(&self) -> Result<Box<dyn Differentiator>> {
        Ok(match *self {
            DiffConfig::FiniteDifference { order } => Box::new(FiniteDifference::new(order)?),
            DiffConfig::SavitzkyGolay {
                window,
                polyorder,
                smooth_x,
            } => Box::new(SavitzkyGolay::new(window, polyorder)?.smooth_x(smooth_x)),
            DiffConfig::Weak { window, order } => Box::new(WeakForm::new(window, order)?),
            DiffConfig::WeakSpline { width, boxes } => Box::new(WeakSpline::new(width, boxes)?),
        })
    }
}

/// Common input checks.
pub(crate) fn check_input(
    op: &str,
    x: ArrayView2<'_, f64>,
    t: &TimeGrid,
    min_samples: usize,
) -> Result<()> {
    t.validate()?;
    if t.len() != x.nrows() {
        return Err(Error::shape(
            "differentiate",
            format!("{} time points", x.nrows()),
            format!("{} time points", t.len()),
        ));
    }
    if x.nrows() < min_samples {
        return Err(Error::TooFewSamples {
            op: op.to_string(),
            needed: min_samples,
            got: x.nrows(),
        });
    }
    check_finite("x", x)
}

/// First index of the `m`-point window used for sample `i` of `n`: centred where possible,
/// shifted inwards (one-sided) at the ends.
pub(crate) fn window_start(i: usize, n: usize, m: usize) -> usize {
    let half = m / 2;
    i.saturating_sub(half).min(n - m)
}
