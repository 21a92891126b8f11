//! The SINDy model (≈ `pysindy.SINDy`): feature library × differentiator × optimizer.
//!
//! [`SindyParams`] (from [`Sindy::params`]) holds the three parts; [`SindyParams::fit`] returns
//! a fitted, immutable [`Sindy`]. Fitting never mutates the params (typestate instead of
//! PySINDy's `check_is_fitted`).
//!
//! All fitting goes through [`SindyStream`]: trajectories are differentiated and turned into
//! normal equations chunk by chunk, so an in-memory fit and a fit streamed over 10^8 samples
//! are the same code and give the same result.

mod compare;
mod equations;
mod selection;
mod sindy;
mod stream;

pub use compare::{compare_with_truth, Accuracy, TermComparison};
pub use equations::EquationStyle;
pub use selection::{Criterion, SelectionPoint, SelectionReport};
pub use sindy::{DroppedFeature, FitInfo, Sindy};
pub use stream::SindyStream;

use std::sync::Arc;

use ndarray::ArrayView2;

use crate::data::{TimeGrid, Trajectory};
use crate::differentiate::{auto_diff, DiffConfig, Differentiator, FiniteDifference};
use crate::error::{Error, Result};
use crate::library::{FeatureLibrary, LibraryConfig, PolynomialLibrary};
use crate::optimize::{AutoStlsq, OptimizerConfig, SparseRegressor, DEFAULT_BLOCKS};

/// The three parts of a SINDy model plus its time convention (unfitted).
///
/// | Part | Default |
/// |---|---|
/// | library | polynomial, degree 2, with bias |
/// | optimizer | [`AutoStlsq`]: sparsity chosen per equation from the data |
/// | differentiator | chosen from the data ([`auto_diff`]) when the fit starts |
/// | discrete time | `false` |
#[derive(Debug, Clone)]
pub struct SindyParams {
    pub(crate) library: Arc<dyn FeatureLibrary>,
    pub(crate) optimizer: Arc<dyn SparseRegressor>,
    pub(crate) differentiator: Arc<dyn Differentiator>,
    /// The differentiator is to be chosen from the data ([`auto_diff`]) when the fit starts.
    pub(crate) auto_differentiator: bool,
    pub(crate) discrete_time: bool,
}

impl Default for SindyParams {
    fn default() -> Self {
        Self {
            library: Arc::new(PolynomialLibrary::default()),
            optimizer: Arc::new(AutoStlsq::default()),
            differentiator: Arc::new(FiniteDifference::default()),
            auto_differentiator: true,
            discrete_time: false,
        }
    }
}

impl SindyParams {
    /// Sets the feature library.
    #[must_use]
    pub fn library(mut self, lib: impl FeatureLibrary + 'static) -> Self {
        self.library = Arc::new(lib);
        self
    }

    /// Sets the feature library from a boxed trait object (e.g. [`LibraryConfig::build`]).
    #[must_use]
    pub fn library_boxed(mut self, lib: Box<dyn FeatureLibrary>) -> Self {
        self.library = Arc::from(lib);
        self
    }

    /// Sets the optimizer.
    #[must_use]
    pub fn optimizer(mut self, opt: impl SparseRegressor + 'static) -> Self {
        self.optimizer = Arc::new(opt);
        self
    }

    /// Sets the optimizer from a boxed trait object (e.g. [`OptimizerConfig::build`]).
    #[must_use]
    pub fn optimizer_boxed(mut self, opt: Box<dyn SparseRegressor>) -> Self {
        self.optimizer = Arc::from(opt);
        self
    }

    /// Sets the differentiator.
    #[must_use]
    pub fn differentiator(mut self, d: impl Differentiator + 'static) -> Self {
        self.differentiator = Arc::new(d);
        self.auto_differentiator = false;
        self
    }

    /// Sets the differentiator from a boxed trait object (e.g. [`DiffConfig::build`]).
    #[must_use]
    pub fn differentiator_boxed(mut self, d: Box<dyn Differentiator>) -> Self {
        self.differentiator = Arc::from(d);
        self.auto_differentiator = false;
        self
    }

    /// Chooses the differentiator from the data when the fit starts ([`auto_diff`]: a weak form
    /// whose test function suits the data's noise and time scale; the default). A stream
    /// chooses from the first piece pushed.
    #[must_use]
    pub fn auto_differentiator(mut self) -> Self {
        self.auto_differentiator = true;
        self
    }

    /// These params with the differentiator chosen for `trajectories` when it is automatic.
    ///
    /// # Errors
    /// As [`DiffConfig::build`].
    pub(crate) fn resolved(&self, trajectories: &[Trajectory]) -> Result<Self> {
        if !self.auto_differentiator {
            return Ok(self.clone());
        }
        let mut p = self.clone();
        p.differentiator = Arc::from(auto_diff(trajectories).build()?);
        p.auto_differentiator = false;
        Ok(p)
    }

    /// Fits one trajectory sampled every `dt` (PySINDy's `model.fit(x, t=dt)`): rows of `x` are
    /// samples, columns variables (named `x`, `y`, `z`, or `x0`, `x1`, ... beyond three).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a non-positive or non-finite `dt`, [`Error::NonFinite`] on
    /// NaN/Inf, and as [`SindyParams::fit`].
    pub fn fit_uniform(&self, x: ArrayView2<'_, f64>, dt: f64) -> Result<Sindy> {
        crate::error::check_finite("x", x)?;
        let t = TimeGrid::uniform(0.0, dt, x.nrows())?;
        self.fit(&[Trajectory::new(x.to_owned(), t)?])
    }

    /// Discrete-time SINDy: `x_{k+1} = Θ(x_k) Ξ` instead of `ẋ = Θ(x) Ξ`.
    #[must_use]
    pub fn discrete_time(mut self, yes: bool) -> Self {
        self.discrete_time = yes;
        self
    }

    /// Builds params from serialisable configs.
    ///
    /// # Errors
    /// As the configs' `build` methods.
    pub fn from_configs(
        library: &LibraryConfig,
        optimizer: &OptimizerConfig,
        differentiator: &DiffConfig,
        discrete_time: bool,
    ) -> Result<Self> {
        Ok(Self::default()
            .library_boxed(library.build()?)
            .optimizer_boxed(optimizer.build()?)
            .differentiator_boxed(differentiator.build()?)
            .discrete_time(discrete_time))
    }

    /// Fits on one or more trajectories (all with the same variables and controls).
    ///
    /// # Errors
    /// [`Error::Empty`] for no trajectories, [`Error::Shape`] / [`Error::InvalidParam`] if
    /// trajectories disagree on variables or controls, [`Error::TooFewSamples`] when a
    /// trajectory is shorter than the differentiator's stencil, [`Error::ZeroColumn`] when every
    /// library column vanishes on all samples, and optimizer errors. Columns that are zero or
    /// a multiple of an earlier column are left out of the fit and listed in
    /// [`FitInfo::dropped`].
    pub fn fit(&self, trajectories: &[Trajectory]) -> Result<Sindy> {
        let first = trajectories.first().ok_or_else(|| Error::Empty {
            what: "trajectory list",
            why: "SINDy needs at least one trajectory".into(),
        })?;
        let params = self.resolved(trajectories)?;
        let total: usize = trajectories.iter().map(|t| t.n_samples()).sum();
        // Ensembles bag row blocks, so they get DEFAULT_BLOCKS of them; other optimizers only
        // need the total, and one block lets the rows be split evenly over the cores.
        let block_rows = if self.optimizer.resamples_rows() {
            total.div_ceil(DEFAULT_BLOCKS).max(16)
        } else {
            total.max(1)
        };
        let mut stream = SindyStream::new(
            params,
            first.names().to_vec(),
            first.control_names().to_vec(),
            block_rows,
        )?;
        for tr in trajectories {
            stream.push_whole(tr)?;
        }
        stream.finish()
    }
}
