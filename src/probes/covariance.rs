//! The covariance probe's scoring: mean pairwise Spearman ρ within two gene groups and between
//! them, read as signs with a dead zone, on real and on imputed values.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::spearman::{group_means, spearman_in, GroupCorrelations};
use crate::error::{Error, Result};
use crate::stats::Interval;

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
    /// Percentile-bootstrap intervals of `rho` over the scored cells (within A, within B,
    /// between), when asked for ([`CovarianceScoring::rho_intervals`]).
    #[serde(default)]
    pub rho_intervals: Option<[Interval; 3]>,
}

/// How the covariance probe scores a method's values: the probe's genes (group A's first, then
/// B's), the size of group A, the strata every correlation is taken within (one label per
/// scored cell; `None`: over all cells) and the dead zone of a sign.
#[derive(Debug, Clone, Copy)]
pub struct CovarianceScoring<'a> {
    /// The probe's genes, group A's first.
    pub genes: &'a [String],
    /// How many of `genes` are group A.
    pub n_a: usize,
    /// One stratum label per scored cell ([`super::spearman_within`]), or `None`.
    pub strata: Option<&'a [String]>,
    /// `|ρ|` below this is sign zero.
    pub dead_zone: f64,
}

impl CovarianceScoring<'_> {
    /// Correlations of `x` (cells × the probe's genes), the sign comparison with `truth` and
    /// the error of the Spearman matrix against the truth's (`None`: `x` *is* the truth, every
    /// sign matches). The truth must have been scored with the same settings.
    ///
    /// # Shapes
    /// `x`: `(n_cells, genes.len())`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `genes` does not name the columns, [`Error::InvalidParam`] for a
    /// negative or non-finite dead zone, and [`super::spearman()`]'s errors.
    pub fn score(
        &self,
        method: &str,
        role: Role,
        x: ArrayView2<'_, f64>,
        truth: Option<&MethodCovariance>,
    ) -> Result<MethodCovariance> {
        let (genes, n_a, dead_zone) = (self.genes, self.n_a, self.dead_zone);
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
        let s = spearman_in(x, self.strata)?;
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
            rho_intervals: None,
        })
    }

    /// 95 % percentile-bootstrap intervals, over the cells (rows of `x`), of the three group
    /// means of `x`'s Spearman matrix (within A, within B, between), all three from the same
    /// `reps` resamples ([`crate::stats::bootstrap_many`]), within the strata when given (a
    /// resampled cell keeps its stratum). A resample on which the correlations are undefined
    /// is dropped.
    ///
    /// # Errors
    /// [`Error::Shape`] if group A or B has fewer than two genes or the strata do not label
    /// the rows; the bootstrap's errors.
    pub fn rho_intervals(
        &self,
        x: ArrayView2<'_, f64>,
        reps: usize,
        seed: u64,
    ) -> Result<[Interval; 3]> {
        let (g, n_a) = (x.ncols(), self.n_a);
        if n_a < 2 || g < n_a + 2 {
            return Err(Error::shape(
                "rho_intervals",
                "two groups of at least two genes",
                format!("{n_a} + {} genes", g.saturating_sub(n_a)),
            ));
        }
        let a: Vec<usize> = (0..n_a).collect();
        let b: Vec<usize> = (n_a..g).collect();
        if let Some(s) = self.strata.filter(|s| s.len() != x.nrows()) {
            return Err(Error::shape(
                "rho_intervals",
                format!("{} stratum labels", x.nrows()),
                s.len().to_string(),
            ));
        }
        // Labels as their ranks, once, so a resample copies integers, not strings (ranks keep
        // the strata in the order `score` visits them).
        let codes: Option<Vec<usize>> = self.strata.map(|s| {
            let labels: std::collections::BTreeSet<&str> = s.iter().map(String::as_str).collect();
            let rank: std::collections::HashMap<&str, usize> = labels
                .into_iter()
                .enumerate()
                .map(|(i, l)| (l, i))
                .collect();
            s.iter().map(|l| rank[l.as_str()]).collect()
        });
        let stat = |rows: &[usize]| -> Vec<f64> {
            let sub: Option<Vec<usize>> =
                codes.as_ref().map(|c| rows.iter().map(|&r| c[r]).collect());
            let r = spearman_in(x.select(ndarray::Axis(0), rows).view(), sub.as_deref())
                .and_then(|s| group_means(s.rho.view(), &a, &b));
            match r {
                Ok(m) => m.as_array().to_vec(),
                Err(_) => vec![f64::NAN; 3],
            }
        };
        let v = crate::stats::bootstrap_many(x.nrows(), reps, 0.95, seed, 3, stat)?;
        match v[..] {
            [w_a, w_b, between] => Ok([w_a, w_b, between]),
            _ => Err(Error::shape(
                "rho_intervals",
                "3 intervals",
                v.len().to_string(),
            )),
        }
    }
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

    #[test]
    fn rho_intervals_bracket_the_estimates_and_narrow_with_cells() {
        use rand::{Rng, SeedableRng};
        // Group A shares a factor (ρ ≈ 0.5), group B is independent noise (ρ ≈ 0).
        let draw = |n: usize| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            Array2::from_shape_fn((n, 5), |_| rng.random::<f64>())
        };
        let with_factor = |x: &mut Array2<f64>| {
            for mut row in x.rows_mut() {
                let f = row[4];
                row[0] += f;
                row[1] += f;
            }
        };
        let (mut small, mut large) = (draw(100), draw(1600));
        with_factor(&mut small);
        with_factor(&mut large);
        let genes: Vec<String> = ["a1", "a2", "b1", "b2", "b3"].map(String::from).to_vec();
        let scoring = |n_a| CovarianceScoring {
            genes: &genes,
            n_a,
            strata: None,
            dead_zone: 0.05,
        };
        let s = scoring(2).rho_intervals(small.view(), 200, 1).unwrap();
        let l = scoring(2).rho_intervals(large.view(), 200, 1).unwrap();
        for iv in s.iter().chain(&l) {
            assert!(iv.lo <= iv.estimate && iv.estimate <= iv.hi, "{iv:?}");
        }
        assert!(l[0].lo > 0.3, "{:?}", l[0]);
        assert!(l[1].lo < 0.0 && l[1].hi > 0.0, "{:?}", l[1]);
        assert!(l[0].hi - l[0].lo < 0.5 * (s[0].hi - s[0].lo));
        assert_eq!(scoring(2).rho_intervals(small.view(), 200, 1).unwrap(), s);
        assert!(scoring(4).rho_intervals(small.view(), 200, 1).is_err());
    }
}
