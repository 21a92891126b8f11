//! # Map of the crate
//!
//! Two flows share one sparse regression:
//!
//! ```text
//! SINDy: trajectories → equations
//!   data::Trajectory ─► differentiate ─► library ─► linalg ─────────► optimize ─► model::Sindy
//!   (io: CSV/TSV/.npy;   Ẋ: FD, SG,      Θ(X), named  ΘᵀΘ, ΘᵀẊ        STLSQ, L1,   equations, predict,
//!    systems+simulate:   weak form;      features     per block       ensemble,    simulate, save,
//!    known ODEs)         auto choice                                  your own     sweep, compare
//!
//! Genes: cells → model → what it learned
//!   expression ─► tokenize ─► nn ─┬─► probes   covariance and XOR, beside baselines (PCA, linear)
//!   (h5ad, 10x,   vocabulary,  train, │
//!    CSV; HVG,    value bins   infer, └─► rules    the model distilled, dynamics, activations
//!    normalize)                evaluate             └─► the same library × optimize as SINDy
//!   synthetic: a brain with a known network (ground truth for both flows)
//!   scaling: transfer laws D_t = k·D_f^α·N^β fitted to training runs
//! ```
//!
//! Layers, each using only those below it: **kernels** ([`stats`], [`linalg`], [`escape`],
//! [`memory`], [`io::input`], [`io::output`], [`error`]) → **algorithms** (every other module
//! here) → **orchestration** (the `cellsindy-cli` crate: one workflow per command, config in,
//! report out). `ARCHITECTURE.md` says where a new baseline, optimizer, reader or probe goes.
//!
//! | module | mirrors |
//! |---|---|
//! | [`differentiate`] | `pysindy.differentiation` |
//! | [`library`] | `pysindy.feature_library` |
//! | [`optimize`] | `pysindy.optimizers` |
//! | [`model`] | `pysindy.SINDy` |
//! | [`systems`] | `pysindy.utils.odes` |
//! | [`expression`] | `anndata` / `scanpy.read_*`, `scanpy.pp` |
//! | [`stats`] | `numpy.quantile`, `scipy.stats`, `sklearn.metrics` |
//!
// `deny`, not `forbid`: ndarray's `s!` macro expands to an inner `allow(unsafe_code)`.
#![deny(unsafe_code)]
#![warn(missing_docs, rustdoc::broken_intra_doc_links)]
#![doc = include_str!("../README.md")]

pub mod error;

pub mod baselines;
pub mod data;
pub mod differentiate;
pub mod escape;
pub mod expression;
pub mod forest;
pub mod io;
pub mod library;
pub mod linalg;
pub mod memory;
pub mod model;
pub mod networks;
#[cfg(feature = "nn")]
pub mod nn;
pub mod optimize;
#[cfg(feature = "plot")]
pub mod plot;
pub mod probes;
mod rng;
pub mod rules;
pub mod scaling;
pub mod simulate;
pub mod stats;
pub mod synthetic;
pub mod systems;
pub mod tokenize;

pub use error::{Error, Result};
pub use model::{Sindy, SindyParams};

/// The names most programs need.
pub mod prelude {
    pub use crate::data::{TimeGrid, Trajectory};
    pub use crate::differentiate::{Differentiator, FiniteDifference, SavitzkyGolay};
    pub use crate::error::{Error, Result};
    pub use crate::expression::io::{read_expression, write_expression, ReadOptions};
    pub use crate::expression::{ExpressionMatrix, GeneTable, Values};
    pub use crate::library::{FeatureLibrary, FourierLibrary, PolynomialLibrary};
    pub use crate::model::{Criterion, Sindy, SindyParams};
    pub use crate::optimize::{AutoStlsq, Ensemble, Lasso, SparseRegressor, Stlsq};
    pub use crate::systems::OdeSystem;
}

/// The guide's code blocks run as doctests, so that `docs/` stays true.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../docs/sindy.md")]
    struct Sindy;
    #[doc = include_str!("../docs/expression.md")]
    struct Expression;
    #[doc = include_str!("../docs/transformer.md")]
    struct Transformer;
    #[doc = include_str!("../docs/probes.md")]
    struct Probes;
    #[doc = include_str!("../docs/rules.md")]
    struct Rules;
    #[doc = include_str!("../docs/scaling.md")]
    struct Scaling;
    #[doc = include_str!("../docs/cli.md")]
    struct Cli;
    #[doc = include_str!("../docs/benchmarks.md")]
    struct Benchmarks;
    #[doc = include_str!("../docs/demo.md")]
    struct Demo;
}
