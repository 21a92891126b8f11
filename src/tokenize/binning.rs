//! Expression → value bins. Bin 0 is "not expressed"; bins `1..n_bins` order the non-zero
//! values. Three schemes ([`BinScheme`]):
//!
//! - **Per cell** (scGPT; the default): a cell's non-zero values are cut at quantile edges of
//!   the non-zero values of *that cell's visible genes*, so bins rank genes within the cell;
//!   invariant to library size and any monotone transform. The price is that bins are
//!   relative: a masked gene's bin is its rank among the genes the model sees, so the bins of
//!   several masked genes share the cell's scale ([`BinDecoder`] reads them back through the
//!   cell's edges), and values above every visible value all take the top bin.
//! - **Per gene**: each gene's non-zero values, normalised to counts per 10,000
//!   ([`LIBRARY_TARGET`]), are cut at `n_bins − 1` quantile edges of *that gene's* non-zero
//!   values over the cells the tokenizer was fitted on. A gene's bin is then monotone in its
//!   normalised expression across cells, so correlations between genes across cells survive
//!   tokenisation; use it when covariances across cells are the question.
//! - **Log ratio** (`--binning log-ratio`): a value's bin is `log2(x / m)` cut into equal
//!   widths, `m` the median of the cell's *visible* non-zero values and the range fitted as the
//!   0.1 %–99.9 % quantiles of those ratios over the fitting cells. Like per-cell ranks it is
//!   invariant to library size and relative to the genes the model sees (masked genes are
//!   withheld from `m`); like per-gene bins it keeps the cell's scale, with no ceiling at the
//!   largest visible value.
//!
//! **Masked genes are withheld from the edges** ([`Binning::bin_cell_withholding`]). scGPT
//! computes a cell's edges over all of its genes, masked ones included, so the visible genes'
//! bins leave a gap where a masked gene ranks, and a model learns to read the gap instead of
//! the regulation. Every masked path (training, validation, imputation, joint draws,
//! distillation, probes) computes the edges from the genes the model sees and digitizes the
//! masked genes' values against them.
//!
//! Quantiles use numpy's linear interpolation ([`crate::stats::quantile_sorted`]). What each
//! scheme learns on the synthetic brain, and why per cell stays the default, is measured in
//! `docs/transformer.md`.

use crate::error::{Error, Result};
use crate::expression::CsrMatrix;
use crate::stats::quantile_sorted;
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
    /// Equal-width bins of `log2(x / m)`, `m` the median of the cell's visible non-zero values:
    /// bin `b ≥ 1` covers `[lo + (b − 1)·width, lo + b·width)`, the first and last bins open
    /// below and above.
    LogRatio {
        /// Lower end of bin 1's interval (log2 ratio to the cell's median).
        lo: f64,
        /// Width of every bin (log2 units, > 0).
        width: f64,
    },
}

impl BinScheme {
    /// Whether a value's bin depends on the other genes of its cell (then masked genes must be
    /// withheld from the cell's reference: see [`Binning::bin_cell_withholding`]).
    pub fn depends_on_cell(&self) -> bool {
        !matches!(self, BinScheme::PerGene { .. })
    }
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
    /// [`BinScheme::LogRatio`], fitted by [`Binning::fit_log_ratio`].
    LogRatio,
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

    /// Log-ratio binning with `n_bins` bins: bins 1..n_bins−1 cut `[lo, hi]` into equal widths,
    /// `lo` and `hi` the 0.1 % and 99.9 % quantiles of `log2(x / m)` over the non-zero values
    /// `x` of `values` (cells × vocabulary genes, normalised as
    /// [`super::PreparedCells::values`]), `m` each cell's median non-zero value.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a bad `n_bins`, or for data without two different ratios
    /// (no cell with two different non-zero values); [`Error::NonFinite`] /
    /// [`Error::Negative`] for bad values.
    pub fn fit_log_ratio(n_bins: u32, values: &CsrMatrix) -> Result<Self> {
        Self::per_cell(n_bins).validate()?;
        let mut ratios: Vec<f32> = Vec::with_capacity(values.nnz());
        for r in 0..values.n_rows() {
            let (cols, vals) = values.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                check_value(v, r, c as usize)?;
            }
            let Some(m) = visible_median(vals, &[]) else {
                continue;
            };
            ratios.extend(
                vals.iter()
                    .filter(|&&v| v > 0.0)
                    .map(|&v| (f64::from(v) / m).log2() as f32),
            );
        }
        ratios.sort_unstable_by(f32::total_cmp);
        let (lo, hi) = (
            quantile_sorted(&ratios, 0.001),
            quantile_sorted(&ratios, 0.999),
        );
        if ratios.is_empty() || hi <= lo {
            return Err(Error::param(
                "values",
                format!("{} non-zero values", ratios.len()),
                "log-ratio bins need cells with different non-zero values to set their range",
            ));
        }
        Ok(Self {
            n_bins,
            scheme: BinScheme::LogRatio {
                lo,
                width: (hi - lo) / f64::from(n_bins - 1),
            },
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
        self.bin_cell_withholding(columns, values, &[])
    }

    /// As [`Binning::bin_cell`], but the values with `withheld[j]` set take no part in the
    /// per-cell edges (they are still binned, against the edges of the others). This is how a
    /// masked gene's target bin is computed: from the genes the model sees, so that their bins
    /// carry no trace of the hidden value (see the module docs). An empty `withheld` withholds
    /// nothing; per-gene bins ignore it (their edges do not depend on the cell).
    ///
    /// # Errors
    /// As [`Binning::bin_cell`]; [`Error::Shape`] if `withheld` is neither empty nor one flag
    /// per value.
    pub fn bin_cell_withholding(
        &self,
        columns: &[u32],
        values: &[f32],
        withheld: &[bool],
    ) -> Result<Vec<u32>> {
        check_cell(columns, values, withheld)?;
        let top = self.n_bins - 1;
        let digitize = |edges: &[f64], v: f32| -> u32 {
            if v == 0.0 {
                return 0;
            }
            let left = edges.partition_point(|&e| e <= f64::from(v)) as u32;
            let right = edges.partition_point(|&e| e < f64::from(v)) as u32;
            (left + right).div_ceil(2).clamp(1, top)
        };
        // Nothing visible to bin against (cell-relative schemes): a non-zero value takes the
        // bin of a cell's only expressed gene (every per-cell edge equal to it), the middle one.
        let lone = || -> Vec<u32> {
            let middle = top.div_ceil(2).max(1);
            values
                .iter()
                .map(|&v| if v > 0.0 { middle } else { 0 })
                .collect()
        };
        match &self.scheme {
            BinScheme::PerCell => {
                let Some(edges) = self.visible_edges(values, withheld) else {
                    return Ok(lone());
                };
                Ok(values.iter().map(|&v| digitize(&edges, v)).collect())
            }
            &BinScheme::LogRatio { lo, width } => {
                let Some(m) = visible_median(values, withheld) else {
                    return Ok(lone());
                };
                Ok(values
                    .iter()
                    .map(|&v| {
                        if v == 0.0 {
                            return 0;
                        }
                        let k = ((f64::from(v) / m).log2() - lo) / width;
                        // NaN cannot occur (v > 0, m > 0); `as` saturates the infinities.
                        (k.floor() as i64 + 1).clamp(1, i64::from(top)) as u32
                    })
                    .collect())
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

impl Binning {
    /// The bin vocabulary position `g` takes as a masked target in the cell `columns`/`values`
    /// (ascending columns): its value digitized against the edges of the cell's other genes
    /// (0 when `g` is not expressed). This is the label a model is trained and scored on.
    ///
    /// # Errors
    /// As [`Binning::bin_cell`].
    pub fn masked_bin(&self, columns: &[u32], values: &[f32], g: u32) -> Result<u32> {
        let Ok(k) = columns.binary_search(&g) else {
            return Ok(0);
        };
        let mut withheld = vec![false; columns.len()];
        withheld[k] = true;
        Ok(self.bin_cell_withholding(columns, values, &withheld)?[k])
    }

    /// [`Self::masked_bin`] of vocabulary position `g` in each cell `rows` of `cells`, with the
    /// cell normalised over its visible genes as a masked cell is
    /// ([`super::normalize_visible`]): the bins a model's prediction for `g` is read against.
    ///
    /// # Errors
    /// As [`Binning::bin_cell`].
    pub fn masked_bins(
        &self,
        cells: &super::PreparedCells,
        rows: &[usize],
        g: u32,
    ) -> Result<Vec<u32>> {
        rows.iter()
            .map(|&r| {
                let (cols, _) = cells.values.row(r);
                self.masked_bin(cols, &cells.visible_values(r, &[g]), g)
            })
            .collect()
    }
}

/// Reads a cell's bins back as values on the normalised scale of
/// [`super::PreparedCells::values`] (counts per [`LIBRARY_TARGET`]), through the edges the
/// bins were cut at: a bin stands for the interval between its two edges and is read as the
/// interval's midpoint (the top bin, above every edge, as the top edge; bin 0 as 0).
///
/// **Why.** A per-cell bin is a rank among the genes the model sees, so imputed bins of
/// several masked genes share the visible genes' scale, which inflates their correlations
/// (`docs/transformer.md` has the measurement). Read back through each cell's edges, the bins
/// are expression again, and a model's imputations are compared with the data in the data's
/// own units.
#[derive(Debug, Clone, PartialEq)]
pub enum BinDecoder<'a> {
    /// One cell's edges (empty when nothing was visible: bins are then read as their index).
    PerCell(Vec<f64>),
    /// Every gene's own edges.
    PerGene(&'a [Vec<f64>]),
    /// Log-ratio bins around the cell's visible median (`None` when nothing was visible: bins
    /// are then read as their index). A bin reads as its interval's midpoint in log2 ratio.
    LogRatio {
        /// The cell's visible median.
        median: Option<f64>,
        /// As [`BinScheme::LogRatio`].
        lo: f64,
        /// As [`BinScheme::LogRatio`].
        width: f64,
    },
}

impl Binning {
    /// The decoder of one cell (`columns`/`values`/`withheld` as
    /// [`Binning::bin_cell_withholding`]).
    ///
    /// # Errors
    /// As [`Binning::bin_cell_withholding`].
    pub fn decoder(
        &self,
        columns: &[u32],
        values: &[f32],
        withheld: &[bool],
    ) -> Result<BinDecoder<'_>> {
        check_cell(columns, values, withheld)?;
        Ok(match &self.scheme {
            BinScheme::PerGene { edges } => BinDecoder::PerGene(edges),
            BinScheme::PerCell => {
                BinDecoder::PerCell(self.visible_edges(values, withheld).unwrap_or_default())
            }
            &BinScheme::LogRatio { lo, width } => BinDecoder::LogRatio {
                median: visible_median(values, withheld),
                lo,
                width,
            },
        })
    }

    /// Per-cell edges: the quantile edges of the non-zero values not `withheld` (`None` when
    /// there are none).
    fn visible_edges(&self, values: &[f32], withheld: &[bool]) -> Option<Vec<f64>> {
        visible_sorted(values, withheld).map(|v| quantile_edges(&v, self.n_bins as usize - 1))
    }
}

impl BinDecoder<'_> {
    /// The value bin `bin` of vocabulary position `gene` stands for.
    pub fn value(&self, gene: u32, bin: u32) -> f64 {
        if bin == 0 {
            return 0.0;
        }
        let edges: &[f64] = match self {
            BinDecoder::PerCell(e) => e,
            BinDecoder::PerGene(all) => all.get(gene as usize).map_or(&[], Vec::as_slice),
            &BinDecoder::LogRatio { median, lo, width } => {
                return median.map_or(f64::from(bin), |m| {
                    m * (lo + (f64::from(bin) - 0.5) * width).exp2()
                });
            }
        };
        let Some(&top) = edges.last() else {
            return f64::from(bin);
        };
        let i = bin as usize;
        if i >= edges.len() {
            top
        } else {
            0.5 * (edges[i - 1] + edges[i])
        }
    }

    /// The expected value under per-bin probabilities `probs` (indexed by bin).
    pub fn expected(&self, gene: u32, probs: &[f32]) -> f64 {
        probs
            .iter()
            .enumerate()
            .map(|(b, &p)| f64::from(p) * self.value(gene, b as u32))
            .sum()
    }
}

/// The checks of [`Binning::bin_cell_withholding`]: one value per column, one flag per value
/// (or none), every value finite and non-negative.
fn check_cell(columns: &[u32], values: &[f32], withheld: &[bool]) -> Result<()> {
    if columns.len() != values.len() {
        return Err(Error::shape(
            "Binning::bin_cell",
            format!("{} values (one per column)", columns.len()),
            format!("{}", values.len()),
        ));
    }
    if !withheld.is_empty() && withheld.len() != values.len() {
        return Err(Error::shape(
            "Binning::bin_cell_withholding",
            format!("{} withheld flags (one per value, or none)", values.len()),
            format!("{}", withheld.len()),
        ));
    }
    for (j, &v) in values.iter().enumerate() {
        check_value(v, 0, j)?;
    }
    Ok(())
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

/// The non-zero values not `withheld`, sorted (`None` when there are none).
fn visible_sorted(values: &[f32], withheld: &[bool]) -> Option<Vec<f32>> {
    let mut sorted: Vec<f32> = values
        .iter()
        .enumerate()
        .filter(|&(j, &v)| v > 0.0 && !withheld.get(j).copied().unwrap_or(false))
        .map(|(_, &v)| v)
        .collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_unstable_by(f32::total_cmp);
    Some(sorted)
}

/// The median (numpy's) of the non-zero values not `withheld` (`None` when there are none).
fn visible_median(values: &[f32], withheld: &[bool]) -> Option<f64> {
    visible_sorted(values, withheld).map(|v| quantile_sorted(&v, 0.5))
}

/// `k` quantiles of sorted `x` at `linspace(0, 1, k)` (numpy's rule, [`quantile_sorted`]).
fn quantile_edges(x: &[f32], k: usize) -> Vec<f64> {
    (0..k)
        .map(|i| {
            let p = if k == 1 {
                0.0
            } else {
                i as f64 / (k - 1) as f64
            };
            quantile_sorted(x, p)
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
    fn a_withheld_value_leaves_no_trace_in_the_other_bins() {
        let b = Binning::per_cell(11);
        let cols: Vec<u32> = (0..8).collect();
        let mut vals = vec![3.0, 0.0, 1.0, 7.0, 2.0, 5.0, 4.0, 6.0];
        let withheld = [false, false, false, true, false, false, false, false];
        let before = b.bin_cell_withholding(&cols, &vals, &withheld).unwrap();
        // Whatever the hidden gene's value, the visible genes' bins are the same ...
        for v in [0.0, 0.5, 3.5, 100.0] {
            vals[3] = v;
            let after = b.bin_cell_withholding(&cols, &vals, &withheld).unwrap();
            let visible = |x: &[u32]| -> Vec<u32> {
                x.iter()
                    .enumerate()
                    .filter(|&(j, _)| j != 3)
                    .map(|(_, &v)| v)
                    .collect()
            };
            assert_eq!(visible(&before), visible(&after), "value {v}");
        }
        // ... whereas over the whole row they move (the leak this prevents).
        vals[3] = 3.5;
        let a = b.bin_cell(&cols, &vals).unwrap();
        vals[3] = 100.0;
        assert_ne!(a, b.bin_cell(&cols, &vals).unwrap());
        // The hidden value is digitized against the visible edges: above them all → top bin;
        // zero → bin 0; masked_bin agrees with the full call.
        assert_eq!(b.masked_bin(&cols, &vals, 3).unwrap(), 10);
        vals[3] = 0.0;
        assert_eq!(b.masked_bin(&cols, &vals, 3).unwrap(), 0);
        assert_eq!(b.masked_bin(&cols, &vals, 1).unwrap(), 0);
        // Nothing visible: a non-zero hidden value takes the lone value's (middle) bin.
        let lone = b.bin_cell(&[0], &[2.0]).unwrap()[0];
        assert_eq!(b.masked_bin(&[0, 1], &[0.0, 9.0], 1).unwrap(), lone);
        assert!(b.bin_cell_withholding(&cols, &vals, &[true]).is_err());
    }

    #[test]
    fn decoded_bins_fall_back_inside_their_interval() {
        let b = Binning::per_cell(11);
        let cols: Vec<u32> = (0..12).collect();
        let vals: Vec<f32> = (0..12).map(|i| (i * i) as f32).collect();
        let bins = b.bin_cell(&cols, &vals).unwrap();
        let d = b.decoder(&cols, &vals, &[]).unwrap();
        let decoded: Vec<f64> = cols
            .iter()
            .zip(&bins)
            .map(|(&g, &k)| d.value(g, k))
            .collect();
        assert_eq!(decoded[0], 0.0);
        // Monotone, and within the value range of the cell.
        for w in decoded.windows(2) {
            assert!(w[0] <= w[1], "{decoded:?}");
        }
        assert!(decoded[1] >= 1.0 && decoded[11] <= 121.0);
        // The expected value of a point mass is the decoded bin.
        let mut p = vec![0.0f32; 11];
        p[bins[5] as usize] = 1.0;
        assert!((d.expected(5, &p) - decoded[5]).abs() < 1e-12);
        // Nothing visible: bins are read as their index.
        let none = b.decoder(&[0], &[3.0], &[true]).unwrap();
        assert_eq!(none.value(0, 5), 5.0);
    }

    #[test]
    fn log_ratio_bins_follow_the_cells_median_and_read_back_within_a_bin() {
        // Cells 1, 2, 4 × (1, 2, 4, 8): ratios to the median (3×scale) are the same in each.
        let rows: Vec<u32> = (0..3).flat_map(|i| [i; 4]).collect();
        let cols: Vec<u32> = (0..3).flat_map(|_| 0..4).collect();
        let vals: Vec<f32> = [1.0f32, 2.0, 4.0]
            .iter()
            .flat_map(|&s| [s, 2.0 * s, 4.0 * s, 8.0 * s])
            .collect();
        let x = CsrMatrix::from_triplets(3, 4, &rows, &cols, &vals).unwrap();
        let b = Binning::fit_log_ratio(11, &x).unwrap();
        let BinScheme::LogRatio { lo, width } = b.scheme else {
            panic!("{b:?}")
        };
        assert!((lo - (1.0f64 / 3.0).log2()).abs() < 0.01, "{lo}");
        assert!((lo + 10.0 * width - (8.0f64 / 3.0).log2()).abs() < 0.01);
        let cols = [0, 1, 2, 3, 4];
        let small = b.bin_cell(&cols, &[1.0, 2.0, 4.0, 8.0, 0.0]).unwrap();
        // Library size does not move the bins; order is kept; zero is bin 0.
        assert_eq!(
            small,
            b.bin_cell(&cols, &[5.0, 10.0, 20.0, 40.0, 0.0]).unwrap()
        );
        assert!(small.windows(2).take(3).all(|w| w[0] < w[1]), "{small:?}");
        assert_eq!((small[0], small[3], small[4]), (1, 10, 0));
        // Far outside the fitted range: the end bins.
        let wide = b.bin_cell(&[0, 1, 2], &[1e-6, 1.0, 1e6]).unwrap();
        assert_eq!((wide[0], wide[2]), (1, 10));
        // A withheld value does not move the median the others are binned against.
        let mut v = vec![1.0f32, 2.0, 4.0, 8.0, 3.0];
        let withheld = [false, false, false, false, true];
        let before = b.bin_cell_withholding(&cols, &v, &withheld).unwrap();
        v[4] = 1000.0;
        let after = b.bin_cell_withholding(&cols, &v, &withheld).unwrap();
        assert_eq!(before[..4], after[..4]);
        assert_eq!(after[4], 10);
        // Decoded, a bin reads as a value inside its interval, on the cell's scale (the end
        // bins, open outward, a little further: 1 and 8 are just outside the 0.1 % and 99.9 %
        // quantiles).
        let d = b
            .decoder(&cols, &[5.0, 10.0, 20.0, 40.0, 0.0], &[])
            .unwrap();
        for (g, (&k, want)) in small.iter().zip([5.0, 10.0, 20.0, 40.0]).enumerate() {
            let got = d.value(g as u32, k);
            let slack = if g == 1 || g == 2 { 0.5 } else { 0.6 };
            assert!(
                (got / want).log2().abs() <= slack * width,
                "{got} vs {want}"
            );
        }
        assert_eq!(d.value(4, 0), 0.0);
        // Values above every visible one: per-cell ranks put them all in the top bin, log
        // ratios keep them apart (the ceiling that hides the mitochondrial split).
        let vals = [1.0f32, 1.2, 1.4, 2.0, 3.0];
        let hide = [false, false, false, true, true];
        let ranks = Binning::per_cell(11)
            .bin_cell_withholding(&cols, &vals, &hide)
            .unwrap();
        assert_eq!(ranks[3..], [10, 10]);
        let logs = b.bin_cell_withholding(&cols, &vals, &hide).unwrap();
        assert!(logs[3] < logs[4] && logs[4] <= 10, "{logs:?}");
        // Data without two different ratios cannot set a range.
        let flat = CsrMatrix::from_triplets(1, 2, &[0, 0], &[0, 1], &[3.0, 3.0]).unwrap();
        assert!(Binning::fit_log_ratio(11, &flat).is_err());
        assert!(Binning::fit_log_ratio(2, &x).is_err());
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Binning>(&json).unwrap(), b);
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
