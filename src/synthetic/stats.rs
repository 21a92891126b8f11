//! [`module_spearman`]: the mean pairwise Spearman correlation within and between two gene
//! groups, the figure the synaptic/mitochondrial modules are calibrated to.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::expression::ExpressionMatrix;

/// Mean pairwise Spearman correlations of two gene groups (see [`module_spearman`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModuleCorrelations {
    /// Mean over the distinct pairs of genes of group A.
    pub within_a: f64,
    /// Mean over the distinct pairs of genes of group B.
    pub within_b: f64,
    /// Mean over all pairs (gene of A, gene of B).
    pub between: f64,
}

/// Mean pairwise Spearman correlations within `group_a`, within `group_b` and between them,
/// over all cells of `m`.
///
/// The measurement, precisely:
/// 1. each cell's values are divided by the cell's total over **all** genes of `m` (library-size
///    normalisation; a cell with total 0 keeps zeros). Since `log1p(c · x / total)` is
///    increasing in `x / total`, the ranks, hence the result, equal those after scanpy's
///    `normalize_total` + `log1p` (any target sum);
/// 2. each gene's normalised values are ranked over cells, ties sharing their average rank;
/// 3. Spearman's ρ of two genes is the Pearson correlation of their ranks;
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
    let totals = m.library_sizes();
    let mut cols = vec![vec![0.0f64; n]; genes.len()];
    m.values().for_each_nonzero(|r, c, v| {
        if let Some(&k) = slot.get(c) {
            if k != usize::MAX {
                let t = totals[r];
                cols[k][r] = if t > 0.0 { f64::from(v) / t } else { 0.0 };
            }
        }
    });
    // Centred, unit-norm ranks.
    let ranks: Vec<Option<Vec<f64>>> = cols.par_iter().map(|c| unit_ranks(c)).collect();
    let mut z = Vec::with_capacity(ranks.len());
    for (g, r) in genes.iter().zip(ranks) {
        z.push(r.ok_or_else(|| {
            Error::param(
                "genes",
                g,
                "is constant over all cells: its correlation is undefined",
            )
        })?);
    }
    let (za, zb) = z.split_at(group_a.len());
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let within = |zs: &[Vec<f64>]| {
        let mut s = 0.0;
        let mut k = 0usize;
        for i in 0..zs.len() {
            for j in i + 1..zs.len() {
                s += dot(&zs[i], &zs[j]);
                k += 1;
            }
        }
        s / k as f64
    };
    let mut between = 0.0;
    for x in za {
        for y in zb {
            between += dot(x, y);
        }
    }
    Ok(ModuleCorrelations {
        within_a: within(za),
        within_b: within(zb),
        between: between / (za.len() * zb.len()) as f64,
    })
}

/// Average ranks (1-based, ties share their mean rank), centred and scaled to unit norm;
/// `None` for a constant vector.
fn unit_ranks(x: &[f64]) -> Option<Vec<f64>> {
    let n = x.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && x[order[j]] == x[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share rank mean(i+1 ..= j).
        let r = (i + j + 1) as f64 / 2.0;
        for &o in &order[i..j] {
            ranks[o] = r;
        }
        i = j;
    }
    let mean = (n + 1) as f64 / 2.0;
    ranks.iter_mut().for_each(|r| *r -= mean);
    let norm = ranks.iter().map(|r| r * r).sum::<f64>().sqrt();
    if norm <= 1e-12 {
        return None;
    }
    ranks.iter_mut().for_each(|r| *r /= norm);
    Some(ranks)
}

#[cfg(test)]
mod tests {
    use super::unit_ranks;

    #[test]
    fn ranks_average_ties() {
        let r = unit_ranks(&[3.0, 1.0, 3.0, 2.0]).unwrap();
        // Raw ranks 3.5, 1, 3.5, 2 → centred 1, -1.5, 1, -0.5.
        let raw = [1.0, -1.5, 1.0, -0.5];
        let norm = raw.iter().map(|v: &f64| v * v).sum::<f64>().sqrt();
        for (a, b) in r.iter().zip(raw) {
            assert!((a - b / norm).abs() < 1e-12);
        }
        assert!(unit_ranks(&[2.0, 2.0, 2.0]).is_none());
    }
}
