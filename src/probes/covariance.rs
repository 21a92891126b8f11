//! The covariance probe's scoring: mean pairwise Spearman ρ within two gene groups and between
//! them, read as signs with a dead zone, on real and on imputed values.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::spearman::{group_means, spearman, GroupCorrelations};
use crate::error::{Error, Result};

/// The sign of a correlation, with "no correlation" as a sign of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sign {
    /// ρ ≤ −dead zone.
    Negative,
    /// |ρ| < dead zone.
    Zero,
    /// ρ ≥ dead zone.
    Positive,
}

impl Sign {
    /// The sign of `rho` with dead zone `dead_zone`: `|rho| < dead_zone` is [`Sign::Zero`], so
    /// predicting +0.56 where the truth is +0.00 is a mismatch.
    pub fn of(rho: f64, dead_zone: f64) -> Self {
        if rho.abs() < dead_zone {
            Sign::Zero
        } else if rho > 0.0 {
            Sign::Positive
        } else {
            Sign::Negative
        }
    }

    /// `+`, `0` or `−`.
    pub fn symbol(&self) -> &'static str {
        match self {
            Sign::Negative => "−",
            Sign::Zero => "0",
            Sign::Positive => "+",
        }
    }
}

/// What a row of a probe table is: the model under test, a baseline it must beat, or a
/// reference (the observed data, a ceiling) that bounds what any method can score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The transformer (any of its readouts).
    Model,
    /// A method the model is compared against.
    #[default]
    Baseline,
    /// Not a competitor: the observed values or a ceiling.
    Reference,
}

/// One method's correlations on a probe's genes and how their signs compare with the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodCovariance {
    /// Method name ("model (expected value)", "PCA", ...).
    pub method: String,
    /// Model, baseline or reference.
    #[serde(default)]
    pub role: Role,
    /// Mean pairwise ρ within A, within B, between.
    pub rho: GroupCorrelations,
    /// Signs of `rho` (dead zone applied), in the order within A, within B, between.
    pub signs: [Sign; 3],
    /// Whether each sign equals the truth's.
    pub matches: [bool; 3],
    /// Fraction of the three signs that match.
    pub score: f64,
    /// Root mean square difference between this method's Spearman matrix and the truth's, over
    /// the gene pairs (a continuous error beside the 3-sign score; 0 for the truth itself).
    #[serde(default)]
    pub matrix_error: f64,
    /// Genes (names) whose imputed values are constant over the cells: their correlations are
    /// undefined and counted as 0.
    pub constant_genes: Vec<String>,
    /// `(genes, genes)` Spearman matrix (for the heat maps).
    pub matrix: Array2<f64>,
}

/// Correlations of `x` (cells × the probe's genes, group A's columns first, then B's), the
/// sign comparison with `truth` and the error of the Spearman matrix against the truth's
/// (`None`: `x` *is* the truth, every sign matches).
///
/// # Shapes
/// `x`: `(n_cells, n_a + n_b)`; `genes`: `n_a + n_b` names.
///
/// # Errors
/// [`Error::Shape`] if `genes` does not name the columns, and [`super::spearman()`]'s errors.
pub fn score_method(
    method: &str,
    role: Role,
    x: ArrayView2<'_, f64>,
    genes: &[String],
    n_a: usize,
    truth: Option<&MethodCovariance>,
    dead_zone: f64,
) -> Result<MethodCovariance> {
    if genes.len() != x.ncols() || n_a > genes.len() {
        return Err(Error::shape(
            "covariance probe",
            format!("{} gene names, group A first", x.ncols()),
            format!("{} names, {n_a} in group A", genes.len()),
        ));
    }
    if !(dead_zone.is_finite() && dead_zone >= 0.0) {
        return Err(Error::param(
            "dead_zone",
            dead_zone,
            "must be finite and >= 0",
        ));
    }
    let s = spearman(x)?;
    let a: Vec<usize> = (0..n_a).collect();
    let b: Vec<usize> = (n_a..genes.len()).collect();
    let rho = group_means(s.rho.view(), &a, &b)?;
    let signs = rho.as_array().map(|r| Sign::of(r, dead_zone));
    let want = truth.map_or(signs, |t| t.rho.as_array().map(|r| Sign::of(r, dead_zone)));
    let matrix_error = match truth {
        Some(t) => matrix_error(s.rho.view(), t.matrix.view())?,
        None => 0.0,
    };
    let matches = [0, 1, 2].map(|i| signs[i] == want[i]);
    Ok(MethodCovariance {
        method: method.to_string(),
        role,
        rho,
        signs,
        matches,
        score: matches.iter().filter(|&&m| m).count() as f64 / 3.0,
        matrix_error,
        constant_genes: s.constant.iter().map(|&j| genes[j].clone()).collect(),
        matrix: s.rho,
    })
}

/// Root mean square of `a − b` over the pairs `i < j` of two square correlation matrices (0
/// for a single gene).
///
/// # Errors
/// [`Error::Shape`] if the matrices are not square of the same size.
pub fn matrix_error(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Result<f64> {
    let g = a.nrows();
    if a.dim() != (g, g) || b.dim() != (g, g) {
        return Err(Error::shape(
            "matrix_error",
            format!("two ({g}, {g}) matrices"),
            format!("{:?} and {:?}", a.dim(), b.dim()),
        ));
    }
    let pairs = g * g.saturating_sub(1) / 2;
    if pairs == 0 {
        return Ok(0.0);
    }
    let sum: f64 = (0..g)
        .flat_map(|i| (i + 1..g).map(move |j| (i, j)))
        .map(|(i, j)| (a[[i, j]] - b[[i, j]]).powi(2))
        .sum();
    Ok((sum / pairs as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_zone_makes_zero_a_sign() {
        assert_eq!(Sign::of(0.04, 0.05), Sign::Zero);
        assert_eq!(Sign::of(-0.04, 0.05), Sign::Zero);
        assert_eq!(Sign::of(0.56, 0.05), Sign::Positive);
        assert_eq!(Sign::of(-0.2, 0.05), Sign::Negative);
        assert_ne!(Sign::of(0.56, 0.05), Sign::of(0.0, 0.05));
    }
}
