//! [`module_spearman`]: the mean pairwise Spearman correlation within and between two gene
//! groups, the figure the synaptic/mitochondrial modules are calibrated to.

use std::collections::HashMap;

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::expression::ExpressionMatrix;
use crate::probes::{mean_pairwise_spearman, GroupCorrelations};

/// Mean pairwise Spearman correlations of two gene groups (see [`module_spearman`]): the
/// probes' [`GroupCorrelations`].
pub type ModuleCorrelations = GroupCorrelations;

/// Mean pairwise Spearman correlations within `group_a`, within `group_b` and between them,
/// over all cells of `m`.
///
/// The measurement, precisely:
/// 1. each cell's values are divided by the cell's total over **all** genes of `m` (library-size
///    normalisation; a cell with total 0 keeps zeros). Since `log1p(c · x / total)` is
///    increasing in `x / total`, the ranks, hence the result, equal those after scanpy's
///    `normalize_total` + `log1p` (any target sum);
/// 2. each gene's normalised values are ranked over cells, ties sharing their average rank;
/// 3. Spearman's ρ of two genes is the Pearson correlation of their ranks
///    ([`mean_pairwise_spearman`], the covariance probe's measurement);
/// 4. `within_a` is the mean of ρ over the `k(k−1)/2` distinct pairs of A, `within_b` likewise,
///    and `between` the mean over the `|A|·|B|` pairs across the groups.
///
/// Note that a correlation matrix is positive semi-definite, which bounds what these three
/// means can be together: `|A|·|B|·between² ≤ (1 + (|A|−1)·within_a)(1 + (|B|−1)·within_b)`.
///
/// # Errors
/// [`Error::UnknownGenes`] listing every name not in `m`; [`Error::InvalidParam`] if a group
/// has fewer than two genes, a gene is listed twice, or a gene is constant over cells (its
/// correlation is undefined); [`Error::Empty`] with fewer than two cells.
pub fn module_spearman(
    m: &ExpressionMatrix,
    group_a: &[&str],
    group_b: &[&str],
) -> Result<ModuleCorrelations> {
    module_spearman_with_totals(m, &m.library_sizes(), group_a, group_b)
}

/// [`module_spearman`] with each cell's library size given (`totals`, one per cell), for a
/// matrix that holds only some of the genes (a file summarised chunk by chunk keeps the group
/// genes' columns and the libraries, not the whole matrix).
///
/// # Errors
/// As [`module_spearman`]; [`Error::Shape`] if `totals` is not one per cell.
pub fn module_spearman_with_totals(
    m: &ExpressionMatrix,
    totals: &[f64],
    group_a: &[&str],
    group_b: &[&str],
) -> Result<ModuleCorrelations> {
    if totals.len() != m.n_cells() {
        return Err(Error::shape(
            "module_spearman_with_totals",
            format!("{} library sizes (one per cell)", m.n_cells()),
            totals.len().to_string(),
        ));
    }
    let index: HashMap<&str, usize> = m
        .genes()
        .symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let missing: Vec<String> = group_a
        .iter()
        .chain(group_b)
        .filter(|g| !index.contains_key(**g))
        .map(|g| g.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::UnknownGenes { genes: missing });
    }
    for (name, g) in [("group_a", group_a), ("group_b", group_b)] {
        if g.len() < 2 {
            return Err(Error::param(
                name,
                format!("{} gene(s)", g.len()),
                "needs at least two genes for a within-group correlation",
            ));
        }
    }
    let genes: Vec<&str> = group_a.iter().chain(group_b).copied().collect();
    for (i, g) in genes.iter().enumerate() {
        if genes[..i].contains(g) {
            return Err(Error::param(
                "genes",
                g,
                "listed twice (within or across the groups)",
            ));
        }
    }
    let n = m.n_cells();
    if n < 2 {
        return Err(Error::Empty {
            what: "expression matrix",
            why: format!("Spearman correlation needs at least two cells, got {n}"),
        });
    }
    // Columns of the selected genes, normalised by each cell's total.
    let mut slot = vec![usize::MAX; m.n_genes()];
    for (k, g) in genes.iter().enumerate() {
        if let Some(&c) = index.get(g) {
            slot[c] = k;
        }
    }
    let mut cols = vec![vec![0.0f64; n]; genes.len()];
    m.values().for_each_nonzero(|r, c, v| {
        if let Some(&k) = slot.get(c) {
            if k != usize::MAX {
                let t = totals[r];
                cols[k][r] = if t > 0.0 { f64::from(v) / t } else { 0.0 };
            }
        }
    });
    if let Some(k) = cols.iter().position(|c| c.iter().all(|&v| v == c[0])) {
        return Err(Error::param(
            "genes",
            genes[k],
            "is constant over all cells: its correlation is undefined",
        ));
    }
    let x = Array2::from_shape_fn((n, genes.len()), |(r, k)| cols[k][r]);
    let a: Vec<usize> = (0..group_a.len()).collect();
    let b: Vec<usize> = (group_a.len()..genes.len()).collect();
    mean_pairwise_spearman(x.view(), &a, &b)
}
