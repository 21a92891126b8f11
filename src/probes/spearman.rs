//! Spearman rank correlation of many columns at once, and the mean pairwise figures the
//! covariance probe compares.
//!
//! Spearman's ρ of two columns is the Pearson correlation of their ranks (ties share their
//! average rank, as `scipy.stats.spearmanr`). Each column is ranked once (in parallel), its
//! ranks are centred and scaled to unit norm, and all correlations come from one matrix
//! product `Zᵀ Z`. Because ρ only sees ranks, it is the same on raw counts, normalised values
//! or the model's value bins of the same cells, whenever those are monotone in one another.
//!
//! Ranking is [`crate::stats`]'s one average-rank kernel (a radix sort that counts zeros
//! rather than sorting them).

use ndarray::{Array2, ArrayView2, ShapeBuilder};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{check_finite, Error, Result};
use crate::linalg::gram;
use crate::stats::ranks::{centred_ranks, unit_ranks, RankScratch};

/// Spearman correlation matrix of the columns of `x`.
///
/// A constant column has no ranks to correlate; its correlation with every other column is
/// reported as 0 (scipy returns NaN) and its diagonal entry as 1, and it is listed in
/// [`SpearmanMatrix::constant`], so callers can tell "uncorrelated" from "undefined".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpearmanMatrix {
    /// `(n_columns, n_columns)` correlations.
    pub rho: Array2<f64>,
    /// Columns that are constant over the rows.
    pub constant: Vec<usize>,
}

/// Spearman correlations of all pairs of columns of `x` (rows are samples, e.g. cells).
///
/// # Shapes
/// `x`: `(n_samples, n_columns)` → `rho`: `(n_columns, n_columns)`.
///
/// # Errors
/// [`Error::TooFewSamples`] with fewer than two rows, [`Error::Empty`] with no column,
/// [`Error::NonFinite`] for NaN/∞.
///
/// # Example
/// ```
/// use cellsindy::probes::spearman;
/// use ndarray::array;
/// let x = array![[1.0, 10.0, 3.0], [2.0, 20.0, 2.0], [3.0, 25.0, 1.0], [4.0, 90.0, 0.0]];
/// let r = spearman(x.view())?;
/// assert!((r.rho[(0, 1)] - 1.0).abs() < 1e-12); // monotone increasing
/// assert!((r.rho[(0, 2)] + 1.0).abs() < 1e-12); // monotone decreasing
/// # Ok::<(), cellsindy::Error>(())
/// ```
pub fn spearman(x: ArrayView2<'_, f64>) -> Result<SpearmanMatrix> {
    let (n, p) = x.dim();
    if n < 2 {
        return Err(Error::TooFewSamples {
            op: "Spearman correlation".into(),
            needed: 2,
            got: n,
        });
    }
    if p == 0 {
        return Err(Error::Empty {
            what: "Spearman input",
            why: "no columns to correlate".into(),
        });
    }
    check_finite("Spearman input", x)?;
    let (z, constant) = unit_rank_columns(x);
    let z = Array2::from_shape_vec((n, p).f(), z).map_err(|e| Error::Linalg(e.to_string()))?;
    let mut rho = gram(z.view());
    let constant: Vec<usize> = (0..p).filter(|&j| constant[j]).collect();
    for &j in &constant {
        rho[(j, j)] = 1.0;
    }
    // Rounding can push |ρ| a hair past 1.
    rho.mapv_inplace(|v| v.clamp(-1.0, 1.0));
    Ok(SpearmanMatrix { rho, constant })
}

/// Spearman correlations within strata of the rows (e.g. cell types), pooled: each stratum's
/// matrix ([`spearman`]) weighted by its number of rows. A correlation that only comes from
/// the strata's different levels (Simpson's paradox) is absent here, while [`spearman`] on all
/// rows shows it. A stratum of fewer than three rows is left out; a column is listed as
/// constant when it is constant in every stratum used.
///
/// # Shapes
/// `x`: `(n_samples, n_columns)`, `strata`: one label per row.
///
/// # Errors
/// [`Error::Shape`] if `strata` does not label the rows; [`Error::TooFewSamples`] if no
/// stratum has three rows; [`spearman`]'s errors.
pub fn spearman_within<S: Ord>(x: ArrayView2<'_, f64>, strata: &[S]) -> Result<SpearmanMatrix> {
    let (n, p) = x.dim();
    if strata.len() != n {
        return Err(Error::shape(
            "Spearman within strata",
            format!("{n} stratum labels"),
            strata.len().to_string(),
        ));
    }
    let mut groups: std::collections::BTreeMap<&S, Vec<usize>> = Default::default();
    for (r, s) in strata.iter().enumerate() {
        groups.entry(s).or_default().push(r);
    }
    let mut rho = Array2::<f64>::zeros((p, p));
    let mut constant_in = vec![0usize; p];
    let (mut weight, mut used) = (0.0, 0usize);
    for rows in groups.values().filter(|r| r.len() >= 3) {
        let m = spearman(x.select(ndarray::Axis(0), rows).view())?;
        rho.scaled_add(rows.len() as f64, &m.rho);
        weight += rows.len() as f64;
        used += 1;
        for &j in &m.constant {
            constant_in[j] += 1;
        }
    }
    if used == 0 {
        return Err(Error::TooFewSamples {
            op: "Spearman correlation within strata".into(),
            needed: 3,
            got: groups.values().map(Vec::len).max().unwrap_or(0),
        });
    }
    rho /= weight;
    let constant = (0..p).filter(|&j| constant_in[j] == used).collect();
    Ok(SpearmanMatrix { rho, constant })
}

/// [`spearman`] over all rows (`strata: None`) or [`spearman_within`] the strata.
///
/// # Errors
/// Those of the function it calls.
pub fn spearman_in<S: Ord>(x: ArrayView2<'_, f64>, strata: Option<&[S]>) -> Result<SpearmanMatrix> {
    match strata {
        None => spearman(x),
        Some(s) => spearman_within(x, s),
    }
}

/// Mean pairwise correlations within two groups of columns and between them (the covariance
/// probe's three "aspects").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupCorrelations {
    /// Mean over the distinct pairs of group A.
    pub within_a: f64,
    /// Mean over the distinct pairs of group B.
    pub within_b: f64,
    /// Mean over all pairs (A, B).
    pub between: f64,
}

impl GroupCorrelations {
    /// The three figures in the order within A, within B, between.
    pub fn as_array(&self) -> [f64; 3] {
        [self.within_a, self.within_b, self.between]
    }
}

/// Mean pairwise entries of a correlation matrix within `a`, within `b` and between them
/// (indices into `rho`).
///
/// # Errors
/// [`Error::InvalidParam`] for a group with fewer than two columns, an index out of range or
/// in both groups.
pub fn group_means(
    rho: ArrayView2<'_, f64>,
    a: &[usize],
    b: &[usize],
) -> Result<GroupCorrelations> {
    check_groups(a, b, rho.nrows())?;
    let within = |g: &[usize]| {
        let mut s = 0.0;
        let mut k = 0usize;
        for (i, &x) in g.iter().enumerate() {
            for &y in &g[i + 1..] {
                s += rho[(x, y)];
                k += 1;
            }
        }
        s / k as f64
    };
    let mut between = 0.0;
    for &x in a {
        for &y in b {
            between += rho[(x, y)];
        }
    }
    Ok(GroupCorrelations {
        within_a: within(a),
        within_b: within(b),
        between: between / (a.len() * b.len()) as f64,
    })
}

/// Two disjoint groups of at least two of `p` columns each.
fn check_groups(a: &[usize], b: &[usize], p: usize) -> Result<()> {
    for (name, g) in [("group_a", a), ("group_b", b)] {
        if g.len() < 2 {
            return Err(Error::param(
                name,
                format!("{} column(s)", g.len()),
                "needs at least two for a within-group correlation",
            ));
        }
        if let Some(&bad) = g.iter().find(|&&j| j >= p) {
            return Err(Error::param(name, bad, format!("only {p} columns")));
        }
    }
    if let Some(&both) = a.iter().find(|j| b.contains(j)) {
        return Err(Error::param("group_b", both, "column is in both groups"));
    }
    Ok(())
}

/// Mean pairwise Spearman correlations within and between two column groups of `x`, without
/// forming the correlation matrix.
///
/// With `zⱼ` the centred, unit-norm ranks of column `j`, ρᵢⱼ = zᵢᵀzⱼ, so the sum of ρ over
/// the pairs of a group is `(‖Σⱼ zⱼ‖² − Σⱼ ‖zⱼ‖²) / 2` and over the pairs between two groups
/// `(Σ_A zᵢ)ᵀ(Σ_B zⱼ)`: after ranking, the means cost `O(n·p)` instead of the `O(n·p²)` of
/// all pairs. Constant columns (`zⱼ = 0`) count as correlation 0, as in [`spearman`].
///
/// # Shapes
/// `x`: `(n_samples, n_columns)`; `a`, `b` index its columns.
///
/// # Errors
/// As [`spearman`] and [`group_means`].
pub fn mean_pairwise_spearman(
    x: ArrayView2<'_, f64>,
    a: &[usize],
    b: &[usize],
) -> Result<GroupCorrelations> {
    check_groups(a, b, x.ncols())?;
    let cols: Vec<usize> = a.iter().chain(b).copied().collect();
    let sub = x.select(ndarray::Axis(1), &cols);
    let [sa, sb] = group_rank_sums(sub.view(), &[0..a.len(), a.len()..cols.len()])?;
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(x, y)| x * y).sum::<f64>();
    let within =
        |(sum, norms): &(Vec<f64>, f64), k: usize| (dot(sum, sum) - norms) / (k * (k - 1)) as f64;
    Ok(GroupCorrelations {
        within_a: within(&sa, a.len()),
        within_b: within(&sb, b.len()),
        between: dot(&sa.0, &sb.0) / (a.len() * b.len()) as f64,
    })
}

/// Mean Spearman correlation over all distinct pairs of columns of `x` (the mean of the
/// off-diagonal of [`spearman`]'s matrix), in `O(n·p)` after ranking (see
/// [`mean_pairwise_spearman`]).
///
/// # Errors
/// As [`spearman`]; [`Error::InvalidParam`] for fewer than two columns.
pub fn mean_spearman(x: ArrayView2<'_, f64>) -> Result<f64> {
    let p = x.ncols();
    if p < 2 {
        return Err(Error::param(
            "columns",
            p,
            "needs at least two for a pairwise correlation",
        ));
    }
    // One group: every column.
    #[allow(clippy::single_range_in_vec_init)]
    let [(sum, norms)] = group_rank_sums(x, &[0..p])?;
    let total = sum.iter().map(|v| v * v).sum::<f64>();
    Ok((total - norms) / (p * (p - 1)) as f64)
}

/// For each group of columns (ranges into `x`'s columns): the sum of their centred, unit-norm
/// rank vectors and the sum of their squared norms (1 per non-constant column).
fn group_rank_sums<const G: usize>(
    x: ArrayView2<'_, f64>,
    groups: &[std::ops::Range<usize>; G],
) -> Result<[(Vec<f64>, f64); G]> {
    let n = x.nrows();
    if n < 2 {
        return Err(Error::TooFewSamples {
            op: "Spearman correlation".into(),
            needed: 2,
            got: n,
        });
    }
    check_finite("Spearman input", x)?;
    let cols = columns(x);
    let p = x.ncols();
    let group_of: Vec<Option<usize>> = (0..p)
        .map(|j| groups.iter().position(|g| g.contains(&j)))
        .collect();
    // Fixed blocks of columns (not rayon's adaptive splits), each with its scratch, rank
    // buffer and per-group partial sums, added up in block order: the floating-point sums
    // are the same whatever the thread count.
    type Partial = Vec<(Vec<f64>, f64)>;
    const BLOCK: usize = 8;
    let blocks: Vec<Partial> = (0..p.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut s = RankScratch::default();
            let mut buf = vec![0.0f64; n];
            let mut acc: Partial = vec![(vec![0.0f64; n], 0.0); G];
            for j in b * BLOCK..((b + 1) * BLOCK).min(p) {
                if let Some(g) = group_of[j] {
                    if let Some(inv) = centred_ranks(&cols[j * n..(j + 1) * n], &mut buf, &mut s) {
                        for (a, r) in acc[g].0.iter_mut().zip(&buf) {
                            *a += r * inv;
                        }
                        acc[g].1 += 1.0;
                    }
                }
            }
            acc
        })
        .collect();
    let mut partial: Partial = vec![(vec![0.0f64; n], 0.0); G];
    for b in blocks {
        for ((sa, na), (sb, nb)) in partial.iter_mut().zip(b) {
            sa.iter_mut().zip(&sb).for_each(|(x, y)| *x += y);
            *na += nb;
        }
    }
    let mut it = partial.into_iter();
    let mut out: [(Vec<f64>, f64); G] = std::array::from_fn(|_| (Vec::new(), 0.0));
    for o in out.iter_mut() {
        if let Some(v) = it.next() {
            *o = v;
        }
    }
    Ok(out)
}

/// Column-major (`p` slices of `n`) centred, unit-norm average ranks of the columns of `x`,
/// and which columns are constant (their slice is all zeros). `x` must be finite.
fn unit_rank_columns(x: ArrayView2<'_, f64>) -> (Vec<f64>, Vec<bool>) {
    let n = x.nrows();
    // Columns as contiguous slices (cells × genes data is usually row-major: a strided column
    // walk would load every cache line once per column).
    let cols = columns(x);
    let mut z = vec![0.0f64; cols.len()];
    let constant: Vec<bool> = z
        .par_chunks_mut(n.max(1))
        .enumerate()
        .map_init(RankScratch::default, |s, (j, out)| {
            !unit_ranks(&cols[j * n..(j + 1) * n], out, s)
        })
        .collect();
    (z, constant)
}

/// The columns of `x` one after another (`p` slices of `n`), transposed in blocks of rows so
/// that reads and writes both stay in cache.
fn columns(x: ArrayView2<'_, f64>) -> Vec<f64> {
    let (n, p) = x.dim();
    if let Some(s) = x.t().as_slice() {
        return s.to_vec();
    }
    let mut out = vec![0.0f64; n * p];
    const BLOCK: usize = 64;
    for r0 in (0..n).step_by(BLOCK) {
        let r1 = (r0 + BLOCK).min(n);
        for (i, row) in x.slice(ndarray::s![r0..r1, ..]).outer_iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                out[j * n + r0 + i] = v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn within_strata_removes_the_correlation_the_strata_levels_make() {
        // Two strata at different levels of both columns, anti-correlated inside each.
        let strata: Vec<String> = (0..40)
            .map(|i| if i < 20 { "lo" } else { "hi" }.into())
            .collect();
        let x = Array2::from_shape_fn((40, 2), |(i, j)| {
            let level = if i < 20 { 0.0 } else { 10.0 };
            let within = (i % 20) as f64 * if j == 0 { 0.1 } else { -0.1 };
            level + within
        });
        assert!(spearman(x.view()).unwrap().rho[(0, 1)] > 0.4);
        let w = spearman_within(x.view(), &strata).unwrap();
        assert!((w.rho[(0, 1)] + 1.0).abs() < 1e-12, "{}", w.rho[(0, 1)]);
        assert_eq!(
            spearman_in::<String>(x.view(), None).unwrap(),
            spearman(x.view()).unwrap()
        );
        // Weighted by cells: one stratum of 2 rows is left out, a lone stratum of 3 counts.
        let mut few = strata.clone();
        few[0] = "pair".into();
        few[1] = "pair".into();
        assert!(spearman_within(x.view(), &few).is_ok());
        assert!(matches!(
            spearman_within(x.view(), &strata[..39]),
            Err(Error::Shape { .. })
        ));
        let singles: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        assert!(matches!(
            spearman_within(x.view(), &singles),
            Err(Error::TooFewSamples { .. })
        ));
    }

    /// Reference: average ranks by sorting, Pearson of ranks.
    fn naive(x: ArrayView2<'_, f64>) -> Array2<f64> {
        let (n, p) = x.dim();
        let ranks: Vec<Vec<f64>> = (0..p)
            .map(|j| {
                let c: Vec<f64> = x.column(j).to_vec();
                (0..n)
                    .map(|i| {
                        let less = c.iter().filter(|&&v| v < c[i]).count() as f64;
                        let eq = c.iter().filter(|&&v| v == c[i]).count() as f64;
                        less + (eq + 1.0) / 2.0
                    })
                    .collect()
            })
            .collect();
        Array2::from_shape_fn((p, p), |(a, b)| {
            let (ra, rb) = (&ranks[a], &ranks[b]);
            let ma = ra.iter().sum::<f64>() / n as f64;
            let mb = rb.iter().sum::<f64>() / n as f64;
            let cov: f64 = ra.iter().zip(rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
            let va: f64 = ra.iter().map(|x| (x - ma) * (x - ma)).sum();
            let vb: f64 = rb.iter().map(|y| (y - mb) * (y - mb)).sum();
            cov / (va * vb).sqrt()
        })
    }

    #[test]
    fn matches_the_definition_with_ties_zeros_and_negatives() {
        let x = Array2::from_shape_fn((57, 4), |(i, j)| {
            let v = ((i * (j + 3)) % 7) as f64 - 2.0;
            match j {
                0 => v,
                1 => {
                    if i % 3 == 0 {
                        0.0
                    } else {
                        v * 1e-3
                    }
                }
                2 => -(i as f64).sqrt() * 1e5,
                _ => ((i as f64) * 0.7).sin(),
            }
        });
        let r = spearman(x.view()).unwrap();
        let want = naive(x.view());
        for (a, b) in r.rho.iter().zip(want.iter()) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert!(r.constant.is_empty());
    }

    #[test]
    fn constant_columns_are_flagged_and_bad_input_rejected() {
        let mut x = Array2::from_shape_fn((10, 3), |(i, j)| (i * (j + 1)) as f64);
        x.column_mut(1).fill(0.0);
        let r = spearman(x.view()).unwrap();
        assert_eq!(r.constant, vec![1]);
        assert_eq!(r.rho[(0, 1)], 0.0);
        assert_eq!(r.rho[(1, 1)], 1.0);
        x[(2, 2)] = f64::INFINITY;
        assert!(spearman(x.view()).is_err());
        assert!(spearman(x.slice(ndarray::s![..1, ..]).view()).is_err());
        let g = group_means(r.rho.view(), &[0], &[1, 2]);
        assert!(g.is_err());
    }

    #[test]
    fn mean_pairwise_figures_equal_the_matrix_means() {
        let mut x = Array2::from_shape_fn((83, 9), |(i, j)| {
            let v = (((i * 7 + j * 13) % 11) as f64 - 3.0) * (1.0 + j as f64);
            if (i + j) % 4 == 0 {
                0.0
            } else {
                v + 0.3 * ((i * j) as f64).sin()
            }
        });
        x.column_mut(4).fill(2.5); // constant: correlation 0 with everything
        let r = spearman(x.view()).unwrap();
        let (a, b) = ([0, 2, 4, 7], [1, 3, 8]);
        let want = group_means(r.rho.view(), &a, &b).unwrap();
        let got = mean_pairwise_spearman(x.view(), &a, &b).unwrap();
        for (g, w) in got.as_array().iter().zip(want.as_array()) {
            assert!((g - w).abs() < 1e-12, "{g} vs {w}");
        }
        let p = x.ncols();
        let off: f64 = (r.rho.sum() - r.rho.diag().sum()) / (p * (p - 1)) as f64;
        assert!((mean_spearman(x.view()).unwrap() - off).abs() < 1e-12);
        assert!(mean_spearman(x.slice(ndarray::s![.., ..1]).view()).is_err());
        assert!(mean_pairwise_spearman(x.view(), &[0, 1], &[1, 2]).is_err());
    }

    #[test]
    fn mean_figures_do_not_depend_on_the_thread_count() {
        let x = Array2::from_shape_fn((500, 37), |(i, j)| {
            if (i * 3 + j) % 5 == 0 {
                0.0
            } else {
                ((i * 31 + j * 17) % 97) as f64 * 0.013 + (j as f64).ln_1p()
            }
        });
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    (
                        mean_spearman(x.view()).unwrap(),
                        mean_pairwise_spearman(x.view(), &[0, 5, 9, 30], &[1, 2, 36]).unwrap(),
                    )
                })
        };
        let one = run(1);
        for t in [2, 3, 5] {
            assert_eq!(run(t), one, "{t} threads");
        }
    }
}
