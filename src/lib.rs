#![doc = include_str!("../README.md")]
// `deny`, not `forbid`: ndarray's `s!` macro expands to an inner `allow(unsafe_code)`.
#![deny(unsafe_code)]
#![warn(missing_docs, rustdoc::broken_intra_doc_links)]

//! # Map of the crate (pipeline order)
//!
//! ```text
//! data ──► differentiate ──► library ──► linalg (normal equations) ──► optimize ──► model
//!  Trajectory   Ẋ (FD, SG)      Θ(X)         ΘᵀΘ, ΘᵀẊ per block          STLSQ, L1,     Sindy: equations,
//!  TimeGrid                                                               ensemble       simulate, select
//! systems (known ODEs) + simulate (ode_solvers) provide ground truth; io reads CSV/TSV/.npy;
//! plot draws figures; pipeline ties it together for the CLI.
//! ```
//!
//! Shared by every reader and writer: [`io::input`] (regular files only, capped lines),
//! [`io::output`] (outputs staged and renamed, never over what is not ours), [`memory`]
//! (sizes checked against what the process may use before allocating) and [`escape`] (names
//! made safe for TSV, Markdown, HTML, SVG, LaTeX and the terminal).
//!
//! | module | mirrors |
//! |---|---|
//! | [`differentiate`] | `pysindy.differentiation` |
//! | [`library`] | `pysindy.feature_library` |
//! | [`optimize`] | `pysindy.optimizers` |
//! | [`model`] | `pysindy.SINDy` |
//! | [`systems`] | `pysindy.utils.odes` |

pub mod error;

pub mod baselines;
pub mod data;
pub mod differentiate;
pub mod escape;
pub mod expression;
pub mod io;
pub mod library;
pub mod linalg;
pub mod memory;
pub mod model;
#[cfg(feature = "nn")]
pub mod nn;
pub mod optimize;
pub mod pipeline;
#[cfg(feature = "plot")]
pub mod plot;
pub mod probes;
mod rng;
pub mod rules;
pub mod scaling;
pub mod simulate;
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
    pub use crate::optimize::{Ensemble, Lasso, SparseRegressor, Stlsq};
    pub use crate::systems::OdeSystem;
}
