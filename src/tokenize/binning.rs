//! Expression → value bins. Bin 0 is "not expressed"; bins `1..n_bins` order the non-zero
//! values. Two schemes ([`BinScheme`]):
//!
//! - **Per cell** (scGPT; the default): a cell's non-zero values are cut at quantile edges of
//!   *that cell's* non-zero values, so bins rank genes within the cell; invariant to library
//!   size and any monotone transform. The price is that bins are compositional: genes of one
//!   cell compete for ranks. Measured on the synthetic brain (30,000 cells, 78-gene
//!   vocabulary, 1,541 held-out cells): the mean pairwise Spearman ρ within the four
//!   mitochondrial genes is +0.01 on normalised expression but −0.16 on per-cell bins
//!   (synaptic: +0.30 vs +0.17; between the groups: +0.26 vs +0.12), and a model trained on
//!   them reproduces the bins' figures (its joint draws: −0.12, +0.20, +0.12), not the
//!   expression's.
//! - **Per gene**: each gene's non-zero values, normalised to counts per 10,000
//!   ([`LIBRARY_TARGET`]), are cut at `n_bins − 1` quantile edges of *that gene's* non-zero
//!   values over the cells the tokenizer was fitted on. A gene's bin is then monotone in its
//!   normalised expression across cells, so correlations between genes across cells survive
//!   tokenisation (bins: +0.30 / +0.01 / +0.26, as the expression), and a model trained on them
//!   draws +0.23 / −0.04 / +0.21.
//!
//! **Why per cell stays the default.** With per-gene bins the default budget does not learn
//! the synthetic XOR gate: 0.50 balanced accuracy with the 64-gene default after 20,000 steps
//! (per cell: 0.99), 0.51 with 78 genes after 30,000 (per cell: 0.98); cutting at quantiles of
//! all values, zeros included (a bin then reads as the cell's percentile for the gene), did
//! not help (0.52). Use `--binning per-gene` when covariances between genes across cells are
//! the question.
//!
//! Quantiles use numpy's linear interpolation (as `np.quantile`).
//!
//! **Ties.** scGPT digitises each value from both sides (`left = #edges ≤ x`,
//! `right = #edges < x`) and draws uniformly between them, so equal values (common: many genes
//! at 1 UMI) get random bins. We take the midpoint, `ceil((left + right) / 2)`, clamped to
//! `1..n_bins`: the same bin for the same value, every time, which keeps tokenisation a pure
//! function of the data (no seed needed) and keeps equal values equal.

use crate::error::{Error, Result};
use crate::expression::CsrMatrix;
use serde::{Deserialize, Serialize};

/// The default number of bins (scGPT's 51: the zero bin and 50 expression bins).
pub const DEFAULT_N_BINS: u32 = 51;

/// A bin read as a level, for probes: not expressed, low (lower half of the non-zero bins) or
/// high (upper half).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinLevel {
    /// Bin 0.
    Zero,
    /// Bins `1..=high_from - 1`.
    Low,
    /// Bins `high_from..n_bins`.
    High,
}

/// Counts per cell that values are normalised to before binning (counts per 10,000, as
/// Seurat's `scale.factor` and scanpy's usual `target_sum`); see
/// [`super::PreparedCells::values`].
pub const LIBRARY_TARGET: f64 = 10_000.0;

/// How non-zero values are cut into bins (see the module docs).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BinScheme {
    /// Quantiles of each cell's own non-zero values (scGPT).
    #[default]
    PerCell,
    /// Quantiles of each gene's non-zero values over the fitting cells.
    PerGene {
        /// `edges[g]`: the `n_bins − 1` quantile edges of vocabulary gene `g` (empty for a gene
        /// never expressed in the fitting cells: its non-zero values all take bin 1).
        edges: Vec<Vec<f64>>,
    },
}

/// Which binning to fit (the data-free half of [`BinScheme`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinSchemeKind {
    /// [`BinScheme::PerCell`].
    #[default]
    PerCell,
    /// [`BinScheme::PerGene`], fitted by [`Binning::fit_per_gene`].
    PerGene,
}

/// Value binning: the number of bins and the scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binning {
    /// Number of bins including the zero bin (≥ 3).
    pub n_bins: u32,
    /// How values are cut (absent in checkpoints written before per-gene bins: per cell).
    #[serde(default)]
    pub scheme: BinScheme,
}

impl Default for Binning {
    fn default() -> Self {
        Self::per_cell(DEFAULT_N_BINS)
    }
}

impl Binning {
    /// Checks `n_bins` (3..=65535).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] outside that range.
    pub fn validate(&self) -> Result<()> {
        if !(3..=65_535).contains(&self.n_bins) {
            return Err(Error::param("n_bins", self.n_bins, "must be in 3..=65535"));
        }
        Ok(())
    }

    /// First bin read as [`BinLevel::High`]: the upper half of the non-zero bins
    /// (`1 + (n_bins − 1) / 2`; 26 of 1..=50 for 51 bins).
    pub fn high_from(&self) -> u32 {
        1 + (self.n_bins - 1) / 2
    }

    /// The level of `bin`.
    pub fn level(&self, bin: u32) -> BinLevel {
        if bin == 0 {
            BinLevel::Zero
        } else if bin >= self.high_from() {
            BinLevel::High
        } else {
            BinLevel::Low
        }
    }

    /// Per-cell binning with `n_bins` bins.
    pub fn per_cell(n_bins: u32) -> Self {
        Self {
            n_bins,
            scheme: BinScheme::PerCell,
        }
    }

    /// Per-gene binning with `n_bins` bins, its edges fitted on `values` (cells × vocabulary
    /// genes, normalised as [`super::PreparedCells::values`]).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a bad `n_bins`; [`Error::NonFinite`] / [`Error::Negative`]
    /// for bad values.
    pub fn fit_per_gene(n_bins: u32, values: &CsrMatrix) -> Result<Self> {
        Self::per_cell(n_bins).validate()?;
        let mut per_gene: Vec<Vec<f32>> = vec![Vec::new(); values.n_cols()];
        for r in 0..values.n_rows() {
            let (cols, vals) = values.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                check_value(v, r, c as usize)?;
                if v > 0.0 {
                    if let Some(g) = per_gene.get_mut(c as usize) {
                        g.push(v);
                    }
                }
            }
        }
        let edges = per_gene
            .into_iter()
            .map(|mut g| {
                if g.is_empty() {
                    return Vec::new();
                }
                g.sort_unstable_by(f32::total_cmp);
                quantile_edges(&g, n_bins as usize - 1)
            })
            .collect();
        Ok(Self {
            n_bins,
            scheme: BinScheme::PerGene { edges },
        })
    }

    /// Bins of one cell's values: `columns` are vocabulary positions (any order), `values`
    /// their values (zeros → bin 0), finite and non-negative.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::Negative`] for such a value (`row` is 0: the caller
    /// knows the cell); [`Error::Shape`] if the lengths differ; [`Error::InvalidParam`] for a
    /// column past the per-gene edges.
    pub fn bin_cell(&self, columns: &[u32], values: &[f32]) -> Result<Vec<u32>> {
        if columns.len() != values.len() {
            return Err(Error::shape(
                "Binning::bin_cell",
                format!("{} values (one per column)", columns.len()),
                format!("{}", values.len()),
            ));
        }
        for (j, &v) in values.iter().enumerate() {
            check_value(v, 0, j)?;
        }
        let top = self.n_bins - 1;
        let digitize = |edges: &[f64], v: f32| -> u32 {
            if v == 0.0 {
                return 0;
            }
            let left = edges.partition_point(|&e| e <= f64::from(v)) as u32;
            let right = edges.partition_point(|&e| e < f64::from(v)) as u32;
            (left + right).div_ceil(2).clamp(1, top)
        };
        match &self.scheme {
            BinScheme::PerCell => {
                let mut sorted: Vec<f32> = values.iter().copied().filter(|&v| v > 0.0).collect();
                if sorted.is_empty() {
                    return Ok(vec![0; values.len()]);
                }
                sorted.sort_unstable_by(f32::total_cmp);
                let edges = quantile_edges(&sorted, self.n_bins as usize - 1);
                Ok(values.iter().map(|&v| digitize(&edges, v)).collect())
            }
            BinScheme::PerGene { edges } => columns
                .iter()
                .zip(values)
                .map(|(&c, &v)| {
                    let e = edges.get(c as usize).ok_or_else(|| {
                        Error::param(
                            "column",
                            c,
                            format!("the binning has edges for {} genes", edges.len()),
                        )
                    })?;
                    Ok(digitize(e, v))
                })
                .collect(),
        }
    }
}

fn check_value(v: f32, row: usize, col: usize) -> Result<()> {
    if !v.is_finite() {
        return Err(Error::NonFinite {
            what: "expression value",
            row,
            col,
            value: f64::from(v),
        });
    }
    if v < 0.0 {
        return Err(Error::Negative {
            what: "expression value".into(),
            cell: row,
            gene: col,
            value: f64::from(v),
        });
    }
    Ok(())
}

/// `k` quantiles of sorted `x` at `linspace(0, 1, k)` with linear interpolation (numpy's
/// default method).
fn quantile_edges(x: &[f32], k: usize) -> Vec<f64> {
    let n = x.len();
    (0..k)
        .map(|i| {
            let q = if k == 1 {
                0.0
            } else {
                i as f64 / (k - 1) as f64
            };
            let pos = q * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let frac = pos - lo as f64;
            x[lo] as f64 + (x[hi] as f64 - x[lo] as f64) * frac
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_within_cell_and_ties_share_a_bin() {
        let b = Binning::per_cell(5);
        let cols = [0, 1, 2, 3, 4];
        // Non-zero values 1, 1, 2, 8 → edges at quantiles 0, 1/3, 2/3, 1 of [1, 1, 2, 8].
        let bins = b.bin_cell(&cols, &[0.0, 1.0, 8.0, 1.0, 2.0]).unwrap();
        assert_eq!(bins[0], 0);
        assert_eq!(bins[1], bins[3]);
        assert!(bins[1] < bins[4] && bins[4] < bins[2]);
        assert_eq!(bins[2], 4);
        // Scaling the cell does not change its bins.
        let scaled = b.bin_cell(&cols, &[0.0, 3.0, 24.0, 3.0, 6.0]).unwrap();
        assert_eq!(bins, scaled);
    }

    #[test]
    fn all_equal_values_take_the_middle_bin() {
        let b = Binning::default();
        let bins = b.bin_cell(&[0, 1, 2, 3], &[1.0, 1.0, 1.0, 0.0]).unwrap();
        assert_eq!(&bins[..3], &[25, 25, 25]);
        assert_eq!(b.level(25), BinLevel::Low);
        assert_eq!(b.level(26), BinLevel::High);
    }

    #[test]
    fn per_gene_bins_are_monotone_in_each_gene_across_cells() {
        // Gene 0 takes 1..=100 over 100 cells, gene 1 takes 1000 × that: the same bins.
        let n = 100;
        let rows: Vec<u32> = (0..n as u32).flat_map(|i| [i, i]).collect();
        let cols: Vec<u32> = (0..n).flat_map(|_| [0, 1]).collect();
        let vals: Vec<f32> = (0..n)
            .flat_map(|i| [(i + 1) as f32, 1000.0 * (i + 1) as f32])
            .collect();
        let x = CsrMatrix::from_triplets(n, 3, &rows, &cols, &vals).unwrap();
        let b = Binning::fit_per_gene(11, &x).unwrap();
        let mut last = 0;
        for i in 0..n {
            let bins = b
                .bin_cell(&[0, 1], &[(i + 1) as f32, 1000.0 * (i + 1) as f32])
                .unwrap();
            assert_eq!(bins[0], bins[1]);
            assert!(bins[0] >= last && (1..=10).contains(&bins[0]));
            last = bins[0];
        }
        assert_eq!(last, 10);
        // Gene 2 was never expressed: any value is bin 1; zeros are bin 0; unknown columns err.
        assert_eq!(b.bin_cell(&[2, 0], &[5.0, 0.0]).unwrap(), vec![1, 0]);
        assert!(b.bin_cell(&[3], &[1.0]).is_err());
        assert!(b.bin_cell(&[0], &[f32::NAN]).is_err());
        // Serialised and read back, including a checkpoint without a scheme (per cell).
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Binning>(&json).unwrap(), b);
        let old: Binning = serde_json::from_str(r#"{"n_bins": 51}"#).unwrap();
        assert_eq!(old, Binning::default());
    }
}
