//! Linear baselines the gene transformer is measured against: PCA (exact or randomized SVD,
//! explained variance, transform, imputation of masked genes) and ordinary least squares of
//! the masked genes on the visible ones. Both work on `f64` cells × genes arrays (rows are
//! cells), typically `normalize_total` + `log1p` values.
//!
//! | type | method |
//! |---|---|
//! | [`Pca`] | `Pca::params(k).fit(x)`; [`Pca::impute`]: least squares of the visible genes on the loadings, then reconstruct the masked ones |
//! | [`LinearImputer`] | one OLS regression per masked gene (linfa-linear) |

mod linear;
mod pca;

pub use linear::LinearImputer;
pub use pca::{Pca, PcaParams, PcaSolver, PcaValidParams};
