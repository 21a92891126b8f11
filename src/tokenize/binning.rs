//! Expression → value bins: scGPT's per-cell quantile binning with a deterministic tie rule.
//!
//! Bin 0 is "not expressed". A cell's non-zero values are cut at `n_bins − 1` quantile edges
//! of *that cell's* non-zero values (numpy's linear interpolation, as `np.quantile`), so bins
//! `1..n_bins` rank genes within the cell and are invariant to library size, normalisation and
//! `log1p` (all monotone within a cell).
//!
//! **Ties.** scGPT digitises each value from both sides (`left = #edges ≤ x`,
//! `right = #edges < x`) and draws uniformly between them, so equal counts (common: many genes
//! at 1 UMI) get random bins. We take the midpoint, `ceil((left + right) / 2)`, clamped to
//! `1..n_bins`: the same bin for the same value in the same cell, every time, which keeps
//! tokenisation a pure function of the data (no seed needed) and keeps equal values equal.

use crate::error::{Error, Result};
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

/// Per-cell quantile binning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binning {
    /// Number of bins including the zero bin (≥ 3).
    pub n_bins: u32,
}

impl Default for Binning {
    fn default() -> Self {
        Self {
            n_bins: DEFAULT_N_BINS,
        }
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

    /// Bins of one cell's values (any order; zeros → bin 0). Values must be finite and
    /// non-negative.
    ///
    /// # Errors
    /// [`Error::NonFinite`] / [`Error::Negative`] for such a value (`row` is 0: the caller
    /// knows the cell).
    pub fn bin_cell(&self, values: &[f32]) -> Result<Vec<u32>> {
        let mut sorted: Vec<f32> = Vec::with_capacity(values.len());
        for (j, &v) in values.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what: "expression value",
                    row: 0,
                    col: j,
                    value: v as f64,
                });
            }
            if v < 0.0 {
                return Err(Error::Negative {
                    what: "expression value".into(),
                    cell: 0,
                    gene: j,
                    value: v as f64,
                });
            }
            if v > 0.0 {
                sorted.push(v);
            }
        }
        if sorted.is_empty() {
            return Ok(vec![0; values.len()]);
        }
        sorted.sort_unstable_by(f32::total_cmp);
        let edges = quantile_edges(&sorted, self.n_bins as usize - 1);
        let top = self.n_bins - 1;
        Ok(values
            .iter()
            .map(|&v| {
                if v == 0.0 {
                    return 0;
                }
                let left = edges.partition_point(|&e| e <= v as f64) as u32;
                let right = edges.partition_point(|&e| e < v as f64) as u32;
                (left + right).div_ceil(2).clamp(1, top)
            })
            .collect())
    }
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
        let b = Binning { n_bins: 5 };
        // Non-zero values 1, 1, 2, 8 → edges at quantiles 0, 1/3, 2/3, 1 of [1, 1, 2, 8].
        let bins = b.bin_cell(&[0.0, 1.0, 8.0, 1.0, 2.0]).unwrap();
        assert_eq!(bins[0], 0);
        assert_eq!(bins[1], bins[3]);
        assert!(bins[1] < bins[4] && bins[4] < bins[2]);
        assert_eq!(bins[2], 4);
        // Scaling the cell does not change its bins.
        let scaled = b.bin_cell(&[0.0, 3.0, 24.0, 3.0, 6.0]).unwrap();
        assert_eq!(bins, scaled);
    }

    #[test]
    fn all_equal_values_take_the_middle_bin() {
        let b = Binning::default();
        let bins = b.bin_cell(&[1.0, 1.0, 1.0, 0.0]).unwrap();
        assert_eq!(&bins[..3], &[25, 25, 25]);
        assert_eq!(b.level(25), BinLevel::Low);
        assert_eq!(b.level(26), BinLevel::High);
    }
}
