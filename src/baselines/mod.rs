//! Linear baselines the gene transformer is measured against: PCA (exact or randomized SVD,
//! explained variance, transform, imputation of masked genes) and ordinary least squares of
//! the masked genes on the visible ones. Both work on `f64` cells × genes arrays (rows are
//! cells), typically `normalize_total` + `log1p` values.
//!
//! | type | method |
//! |---|---|
//! | [`Pca`] | `Pca::params(k).fit(x)`; [`Pca::impute`]: least squares of the visible genes on the loadings, then reconstruct the masked ones |
//! | [`LinearImputer`] | OLS of every masked gene on the visible ones, one solve for all (faer) |

mod linear;
mod pca;

pub use linear::LinearImputer;
pub use pca::{Pca, PcaParams, PcaSolver, PcaValidParams};

/// `flags[j]` = feature `j` is in `masked` (of `p` features).
///
/// # Errors
/// [`crate::Error::InvalidParam`] for an index out of range or listed twice.
fn masked_flags(masked: &[usize], p: usize) -> crate::Result<Vec<bool>> {
    let mut is_masked = vec![false; p];
    for &m in masked {
        if m >= p {
            return Err(crate::Error::param(
                "masked",
                m,
                format!("only {p} features"),
            ));
        }
        if is_masked[m] {
            return Err(crate::Error::param("masked", m, "listed twice"));
        }
        is_masked[m] = true;
    }
    Ok(is_masked)
}
