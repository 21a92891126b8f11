//! Network-inference baselines that rank edges from expression without a dynamical model:
//! GENIE3 (random-forest importances; BEELINE's strongest general method) and lagged ridge
//! regression (each gene's next step regressed on every gene's current level). The
//! correlation baselines are [`super::correlation_edges`].

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::data::Trajectory;
use crate::error::{Error, Result};
use crate::forest::{feature_importances, ForestParams};

use super::ScoredEdge;

fn sign_of(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

fn check_genes(x: ArrayView2<'_, f64>, genes: &[String], op: &'static str) -> Result<()> {
    if genes.len() != x.ncols() {
        return Err(Error::shape(
            op,
            format!("{} gene names", x.ncols()),
            format!("{}", genes.len()),
        ));
    }
    if genes.len() < 2 {
        return Err(Error::Empty {
            what: "gene list",
            why: format!("{op} needs at least two genes"),
        });
    }
    if x.nrows() < 3 {
        return Err(Error::TooFewSamples {
            op: op.into(),
            needed: 3,
            got: x.nrows(),
        });
    }
    crate::error::check_finite("expression", x)
}

/// GENIE3 (Huynh-Thu et al. 2010): for every target, a random forest of the target's
/// standardised level on every other gene's level (`max_features` = √(genes − 1)); the
/// importance of regulator `r` is the score of `r → target`. Signs are those of the Pearson
/// correlation (GENIE3 itself is unsigned).
///
/// # Shapes
/// `x`: `(n_samples, n_genes)` pooled samples.
///
/// # Errors
/// [`Error::Shape`] if `genes` does not name every column; [`Error::TooFewSamples`] under 3
/// samples; [`Error::NonFinite`].
pub fn genie3(
    x: ArrayView2<'_, f64>,
    genes: &[String],
    forest: &ForestParams,
) -> Result<Vec<ScoredEdge>> {
    check_genes(x, genes, "GENIE3")?;
    let d = genes.len();
    // Signs are those of the Pearson correlation (the |Pearson| baseline's edges).
    let index: std::collections::HashMap<&str, usize> = genes
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let mut signs = Array2::<i8>::zeros((d, d));
    for e in super::correlation_edges(x, genes, super::CorrelationKind::Pearson)? {
        if let (Some(&r), Some(&t)) = (
            index.get(e.regulator.as_str()),
            index.get(e.target.as_str()),
        ) {
            signs[(r, t)] = e.sign;
        }
    }
    let sign = |r: usize, t: usize| signs[(r, t)];
    let per_target: Vec<Vec<f64>> = (0..d)
        .into_par_iter()
        .map(|t| {
            let others: Vec<usize> = (0..d).filter(|&j| j != t).collect();
            let xs = x.select(Axis(1), &others);
            let y = x.column(t);
            let mean = y.mean().unwrap_or(0.0);
            let sd = y.std(0.0);
            let y: Array1<f64> = if sd > 0.0 {
                y.mapv(|v| (v - mean) / sd)
            } else {
                Array1::zeros(y.len())
            };
            let imp = feature_importances(xs.view(), y.view(), forest, t as u64)?;
            let mut full = vec![0.0; d];
            for (k, &j) in others.iter().enumerate() {
                full[j] = imp[k];
            }
            Ok(full)
        })
        .collect::<Result<_>>()?;
    Ok(edges_from(genes, |r, t| (per_target[t][r], sign(r, t))))
}

/// Lagged ridge regression: within every trajectory, each gene's change over one sample,
/// `x_t(i + 1) − x_t(i)`, regressed on every gene's standardised level `x(i)` with a ridge
/// penalty of `1e-3` of the Gram matrix's mean diagonal; the score of `r → t` is `|β_r|` and
/// its sign that of `β_r`. A linear, discrete-time Granger-style baseline.
///
/// # Errors
/// [`Error::Empty`] without trajectories or with fewer than two genes; [`Error::Shape`] if
/// the trajectories disagree in genes; [`Error::TooFewSamples`] under 3 transitions.
pub fn lagged_regression(trajectories: &[Trajectory]) -> Result<Vec<ScoredEdge>> {
    let first = trajectories.first().ok_or_else(|| Error::Empty {
        what: "trajectory list",
        why: "lagged regression needs at least one time course".into(),
    })?;
    let genes = first.names().to_vec();
    let d = genes.len();
    let mut now = Vec::new();
    let mut step = Vec::new();
    for t in trajectories {
        if t.names() != genes.as_slice() {
            return Err(Error::shape(
                "lagged_regression",
                format!("genes {genes:?}"),
                format!("{:?}", t.names()),
            ));
        }
        let x = t.x();
        for i in 0..x.nrows().saturating_sub(1) {
            now.push(x.row(i).to_owned());
            step.push(&x.row(i + 1) - &x.row(i));
        }
    }
    let n = now.len();
    let x = Array2::from_shape_fn((n, d), |(i, j)| now.get(i).map_or(0.0, |r| r[j]));
    let dy = Array2::from_shape_fn((n, d), |(i, j)| step.get(i).map_or(0.0, |r| r[j]));
    check_genes(x.view(), &genes, "lagged regression")?;
    let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
    let sd = x
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    let mut z = Array2::ones((n, d + 1));
    for j in 0..d {
        for i in 0..n {
            z[(i, j + 1)] = (x[(i, j)] - mean[j]) / sd[j];
        }
    }
    let gram = z.t().dot(&z);
    let ridge = 1e-3 * (0..=d).map(|i| gram[(i, i)]).sum::<f64>() / (d + 1) as f64;
    let beta = crate::linalg::solve_spd(gram.view(), z.t().dot(&dy).view(), ridge)?;
    Ok(edges_from(&genes, |r, t| {
        (beta[(r + 1, t)].abs(), sign_of(beta[(r + 1, t)]))
    }))
}

/// Every ordered pair `r → t` (`r ≠ t`) with `score_sign(r, t)`.
fn edges_from(genes: &[String], score_sign: impl Fn(usize, usize) -> (f64, i8)) -> Vec<ScoredEdge> {
    let mut out = Vec::with_capacity(genes.len() * genes.len());
    for (t, tg) in genes.iter().enumerate() {
        for (r, rg) in genes.iter().enumerate() {
            if r == t {
                continue;
            }
            let (score, sign) = score_sign(r, t);
            out.push(ScoredEdge {
                regulator: rg.clone(),
                target: tg.clone(),
                sign,
                score,
                max_abs_coef: score,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TimeGrid;

    #[test]
    fn genie3_and_lagged_regression_find_a_driver() {
        // b follows a with a lag; c is independent.
        let n = 200;
        let a: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.21).sin()).collect();
        let c: Vec<f64> = (0..n).map(|i| ((i as f64) * 1.37 + 0.5).cos()).collect();
        let mut b = vec![0.0; n];
        for i in 1..n {
            b[i] = b[i - 1] + 0.3 * (a[i - 1] - b[i - 1]);
        }
        let x = Array2::from_shape_fn((n, 3), |(i, j)| [a[i], b[i], c[i]][j]);
        let genes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let score = |edges: &[ScoredEdge], r: &str, t: &str| {
            edges
                .iter()
                .find(|e| e.regulator == r && e.target == t)
                .unwrap()
                .score
        };
        let g = genie3(
            x.view(),
            &genes,
            &ForestParams {
                n_trees: 50,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(score(&g, "a", "b") > score(&g, "c", "b"));
        let tr = Trajectory::with_names(x, TimeGrid::uniform(0.0, 1.0, n).unwrap(), genes).unwrap();
        let l = lagged_regression(&[tr]).unwrap();
        assert!(score(&l, "a", "b") > 10.0 * score(&l, "c", "b"));
        assert_eq!(
            l.iter()
                .find(|e| e.regulator == "a" && e.target == "b")
                .unwrap()
                .sign,
            1
        );
        assert!(genie3(
            Array2::zeros((2, 3)).view(),
            &["a".into(), "b".into(), "c".into()],
            &ForestParams::default()
        )
        .is_err());
    }
}
