//! Baselines the gene transformer is measured against, linear and non-linear: each imputes
//! masked genes from the visible ones (or, for the classifier, calls a masked gene's state),
//! fitted on training cells. All work on `f64` cells × genes arrays (rows are cells),
//! typically `normalize_total` + `log1p` values. The non-linear ones are there so that a
//! probe can say whether the model beats the *best* cheap method, not just PCA.
//!
//! | type | method |
//! |---|---|
//! | [`Pca`] | `Pca::params(k).fit(x)`; [`Pca::impute`]: least squares of the visible genes on the loadings, then reconstruct the masked ones |
//! | [`LinearImputer`] | OLS of every masked gene on the visible ones, one solve for all (faer) |
//! | [`ConditionalGaussian`] | joint Gaussian draws of the masked genes given the visible ones |
//! | [`KnnImputer`] | mean (or one random draw) of the `k` nearest training cells in PCA space |
//! | [`ForestImputer`] | one random forest per masked gene |
//! | [`MlpImputer`] | a small multilayer perceptron in candle (feature `nn`) |
//! | [`PairwiseLogistic`] | classifier: logistic regression on screened main effects and pairwise products |

mod gaussian;
mod knn;
mod linear;
#[cfg(feature = "nn")]
mod mlp;
mod pairwise;
mod pca;
mod trees;

pub use gaussian::ConditionalGaussian;
pub use knn::{KnnImputer, KnnParams};
pub use linear::LinearImputer;
#[cfg(feature = "nn")]
pub use mlp::{MlpImputer, MlpParams};
pub use pairwise::{
    interaction_screen, InteractionScreen, InteractionScreener, PairwiseLogistic, PairwiseParams,
};
pub use pca::{Pca, PcaParams, PcaSolver, PcaValidParams};
pub use trees::ForestImputer;

/// The features not in `masked` (of `p`).
///
/// # Errors
/// As [`masked_flags`]; [`crate::Error::InvalidParam`] if nothing is masked or every feature is.
fn visible_features(masked: &[usize], p: usize) -> crate::Result<Vec<usize>> {
    let is_masked = masked_flags(masked, p)?;
    if masked.is_empty() {
        return Err(crate::Error::param("masked", 0, "no feature to impute"));
    }
    let visible: Vec<usize> = (0..p).filter(|&j| !is_masked[j]).collect();
    if visible.is_empty() {
        return Err(crate::Error::param(
            "masked",
            masked.len(),
            "every feature is masked: nothing to impute from",
        ));
    }
    Ok(visible)
}

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

/// [`crate::Error::Shape`] unless `x` has `n_features` columns (`op` names the caller).
fn check_features(
    op: &'static str,
    x: ndarray::ArrayView2<'_, f64>,
    n_features: usize,
) -> crate::Result<()> {
    if x.ncols() != n_features {
        return Err(crate::Error::shape(
            op,
            format!("(n_samples, {n_features})"),
            format!("{:?}", x.dim()),
        ));
    }
    Ok(())
}

/// Test data shared by the imputers' tests: gene 2 is 3 when exactly one of genes 0 and 1 is
/// high (with a little jitter), else 0, and the four corner queries.
#[cfg(test)]
fn gate_data(n: usize) -> (ndarray::Array2<f64>, ndarray::Array2<f64>) {
    let x = ndarray::Array2::from_shape_fn((n, 3), |(i, j)| {
        let (a, b) = ((i % 2) as f64, ((i / 2) % 2) as f64);
        let jitter = ((i * 7919) % 97) as f64 / 970.0;
        match j {
            0 => a + jitter,
            1 => b + jitter,
            _ => 3.0 * f64::from(u8::from(a != b)),
        }
    });
    let q = ndarray::array![
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [1.0, 1.0, 0.0]
    ];
    (x, q)
}
