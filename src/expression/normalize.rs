//! Library-size normalisation, `log1p` and highly-variable genes, as scanpy does them
//! (`pp.normalize_total`, `pp.log1p`, `pp.highly_variable_genes(flavor="seurat" |
//! "cell_ranger")`), so results computed here can be compared with a scanpy notebook number for
//! number.

use serde::{Deserialize, Serialize};

use super::{ExpressionMatrix, Values};
use crate::error::{Error, Result};

/// Scales each cell so its values sum to `target_sum` (scanpy's `normalize_total`). With
/// `None` the target is the median library size over cells with a non-zero total, scanpy's
/// default. Cells whose total is zero are left at zero.
///
/// # Errors
/// [`Error::InvalidParam`] for a target that is not positive and finite.
pub fn normalize_total(m: &mut ExpressionMatrix, target_sum: Option<f64>) -> Result<()> {
    let sizes = m.library_sizes();
    let target = match target_sum {
        Some(t) if t.is_finite() && t > 0.0 => t,
        Some(t) => return Err(Error::param("target_sum", t, "must be positive and finite")),
        None => median_nonzero(&sizes),
    };
    let scale: Vec<f64> = sizes
        .iter()
        .map(|&s| if s > 0.0 { target / s } else { 0.0 })
        .collect();
    scale_rows(m.values_mut(), &scale);
    Ok(())
}

/// `x ← ln(1 + x)` on every value (zeros stay zero, so sparsity is kept).
pub fn log1p(m: &mut ExpressionMatrix) {
    match m.values_mut() {
        Values::Dense(x) => x.mapv_inplace(f32::ln_1p),
        Values::Sparse(x) => x.data_mut().iter_mut().for_each(|v| *v = v.ln_1p()),
    }
}

/// How [`highly_variable_genes`] scores genes (scanpy's `flavor`).
///
/// Both compute a per-gene dispersion (variance / mean) and normalise it within bins of mean
/// expression, so that a gene is "variable" relative to genes of similar abundance; they
/// differ in what they normalise against:
/// - `Seurat`: mean and dispersion of `expm1(x)` (log-scaled), `n_bins` equal-width bins, z-score
///   (mean and standard deviation) within a bin. scanpy's default.
/// - `CellRanger` (Zheng et al. 2017, 10x Genomics' pipeline): mean and dispersion of the log
///   values themselves, bins at the 10th, 15th, …, 100th percentiles of the means, and a
///   *robust* score (median and MAD) within a bin. The robust score matters when a bin holds a
///   few genes with very large dispersion (cell-type markers, on/off switches): under the
///   z-score they inflate the bin's standard deviation and hide each other; under the MAD they
///   do not. On the synthetic brain, the on/off network genes rank 227–248 of 2,048 under
///   `Seurat` and 24–46 under `CellRanger` (scanpy agrees on both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HvgFlavor {
    /// Seurat's dispersion z-score in `n_bins` equal-width bins of log mean (scanpy default 20).
    Seurat {
        /// Bins of mean expression.
        n_bins: usize,
    },
    /// Cell Ranger's median/MAD-normalised dispersion in 20 percentile bins of mean.
    CellRanger,
}

impl Default for HvgFlavor {
    fn default() -> Self {
        HvgFlavor::Seurat { n_bins: 20 }
    }
}

/// Per-gene mean and dispersion as the [`HvgFlavor`] defines them, and the normalised
/// dispersion genes are ranked by.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneDispersion {
    /// Seurat: `log1p` of the mean of `expm1(x)`; Cell Ranger: the mean of `x`.
    pub mean: Vec<f64>,
    /// Seurat: `ln` of variance / mean of `expm1(x)` (NaN for genes with zero mean);
    /// Cell Ranger: variance / mean of `x`.
    pub dispersion: Vec<f64>,
    /// Dispersion normalised within bins of mean expression (NaN ranks last).
    pub normalized_dispersion: Vec<f64>,
}

/// Highly-variable genes (scanpy's `pp.highly_variable_genes` with `n_top_genes`): per-gene
/// dispersions normalised within bins of mean expression as `flavor` says, and the
/// `n_top_genes` with the highest normalised dispersion returned, sorted by column (genes tied
/// with the last one are kept too, as in scanpy).
/// Expects log-normalised values ([`normalize_total`] then [`log1p`]).
///
/// # Errors
/// [`Error::InvalidParam`] for `n_top_genes == 0`, more than the genes there are, or
/// `n_bins == 0`; [`Error::Empty`] for a matrix without cells.
pub fn highly_variable_genes(
    m: &ExpressionMatrix,
    n_top_genes: usize,
    flavor: HvgFlavor,
) -> Result<(Vec<usize>, GeneDispersion)> {
    let (n_cells, n_genes) = m.values().dim();
    if n_cells == 0 {
        return Err(Error::Empty {
            what: "expression matrix",
            why: "highly-variable genes need cells".into(),
        });
    }
    if n_top_genes == 0 || n_top_genes > n_genes {
        return Err(Error::param(
            "n_top_genes",
            n_top_genes,
            format!("must be in 1..={n_genes}"),
        ));
    }
    if let HvgFlavor::Seurat { n_bins: 0 } = flavor {
        return Err(Error::param("n_bins", 0, "must be at least 1"));
    }
    let seurat = matches!(flavor, HvgFlavor::Seurat { .. });
    let mut sum = vec![0.0f64; n_genes];
    let mut sum_sq = vec![0.0f64; n_genes];
    m.values().for_each_nonzero(|_, g, v| {
        let e = if seurat {
            f64::from(v).exp_m1()
        } else {
            f64::from(v)
        };
        sum[g] += e;
        sum_sq[g] += e * e;
    });
    let n = n_cells as f64;
    let ddof = if n_cells > 1 { n - 1.0 } else { 1.0 };
    let mut mean = Vec::with_capacity(n_genes);
    let mut dispersion = Vec::with_capacity(n_genes);
    for g in 0..n_genes {
        let mu = sum[g] / n;
        // Unbiased variance, as scanpy's `_get_mean_var`.
        let var = ((sum_sq[g] - n * mu * mu) / ddof).max(0.0);
        let mu = if mu == 0.0 { 1e-12 } else { mu };
        let disp = var / mu;
        if seurat {
            let disp = if disp == 0.0 { f64::NAN } else { disp };
            dispersion.push(disp.ln());
            mean.push(mu.ln_1p());
        } else {
            dispersion.push(disp);
            mean.push(mu);
        }
    }
    let normalized_dispersion = match flavor {
        HvgFlavor::Seurat { n_bins } => bin_zscore(&mean, &dispersion, n_bins),
        HvgFlavor::CellRanger => bin_robust_score(&mean, &dispersion),
    };
    let mut order: Vec<usize> = (0..n_genes).collect();
    // NaN (constant genes) sort last.
    order.sort_by(|&a, &b| {
        let (x, y) = (normalized_dispersion[a], normalized_dispersion[b]);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => a.cmp(&b),
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => y.total_cmp(&x).then(a.cmp(&b)),
        }
    });
    // Ties at the cut-off are all kept, as scanpy does (`dispersions_norm >= cutoff`).
    let cutoff = order
        .get(n_top_genes - 1)
        .map_or(f64::NAN, |&g| normalized_dispersion[g]);
    let mut top: Vec<usize> = order
        .into_iter()
        .enumerate()
        .take_while(|&(rank, g)| rank < n_top_genes || normalized_dispersion[g] >= cutoff)
        .map(|(_, g)| g)
        .collect();
    top.sort_unstable();
    Ok((
        top,
        GeneDispersion {
            mean,
            dispersion,
            normalized_dispersion,
        },
    ))
}

/// Cell Ranger's score: `(d − median) / MAD` within bins cut at the 10th, 15th, …, 100th
/// percentiles of `mean` (numpy's linear interpolation; right-closed as `pandas.cut`), MAD
/// scaled by 1/Φ⁻¹(3/4) as statsmodels' `robust.mad`. Repeated percentile edges are merged
/// (pandas would refuse them). A bin whose MAD is 0 gives what numpy's division gives:
/// NaN for genes at the median, ±∞ for the others.
fn bin_robust_score(mean: &[f64], disp: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = mean.to_vec();
    sorted.sort_by(f64::total_cmp);
    let percentile = |q: f64| crate::stats::quantile_sorted(&sorted, q / 100.0);
    let mut edges: Vec<f64> = (2..=20).map(|k| percentile(5.0 * k as f64)).collect();
    edges.dedup();
    // Bin i holds (edges[i-1], edges[i]] with edges[-1] = -inf and a last bin above the top.
    let bin_of = |v: f64| edges.partition_point(|&e| e < v);
    let n_bins = edges.len() + 1;
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); n_bins];
    for (&m, &d) in mean.iter().zip(disp) {
        members[bin_of(m)].push(d);
    }
    let median = |v: &mut Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        crate::stats::median_sorted(v)
    };
    // Φ⁻¹(3/4), statsmodels' normalisation of the MAD.
    const MAD_SCALE: f64 = 0.674_489_750_196_081_7;
    let stats: Vec<(f64, f64)> = members
        .iter_mut()
        .map(|v| {
            let med = median(v);
            // statsmodels scales each deviation, then takes the median.
            let mut dev: Vec<f64> = v.iter().map(|d| (d - med).abs() / MAD_SCALE).collect();
            (med, median(&mut dev))
        })
        .collect();
    mean.iter()
        .zip(disp)
        .map(|(&m, &d)| {
            let (med, mad) = stats[bin_of(m)];
            (d - med) / mad
        })
        .collect()
}

/// z-scores `disp` within equal-width bins of `mean`. A gene alone in its bin gets 1 (scanpy's
/// rule); a bin of equal dispersions gives 0.
fn bin_zscore(mean: &[f64], disp: &[f64], n_bins: usize) -> Vec<f64> {
    // pandas.cut(mean, n_bins): equal-width, right-closed bins over [lo, hi], the first edge
    // moved left by 0.1% of the range so the minimum falls inside.
    let finite = mean.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let range = if hi > lo { hi - lo } else { 1.0 };
    let edges: Vec<f64> = (0..=n_bins)
        .map(|i| lo + range * i as f64 / n_bins as f64)
        .collect();
    let bin_of = |v: f64| {
        // First edge >= v, minus one: v lies in (edges[i], edges[i + 1]].
        let i = edges.partition_point(|&e| e < v);
        i.saturating_sub(1).min(n_bins - 1)
    };
    let mut s = vec![0.0f64; n_bins];
    let mut s2 = vec![0.0f64; n_bins];
    let mut c = vec![0usize; n_bins];
    for (&m, &d) in mean.iter().zip(disp) {
        if d.is_finite() {
            let b = bin_of(m);
            s[b] += d;
            s2[b] += d * d;
            c[b] += 1;
        }
    }
    mean.iter()
        .zip(disp)
        .map(|(&m, &d)| {
            if !d.is_finite() {
                return f64::NAN;
            }
            let b = bin_of(m);
            let k = c[b] as f64;
            if c[b] < 2 {
                // scanpy: a lone gene's bin has no spread; it is scored as its own mean (z = 1).
                return 1.0;
            }
            let mu = s[b] / k;
            let sd = ((s2[b] - k * mu * mu) / (k - 1.0)).max(0.0).sqrt();
            if sd > 0.0 {
                (d - mu) / sd
            } else {
                0.0
            }
        })
        .collect()
}

fn median_nonzero(sizes: &[f64]) -> f64 {
    let mut v: Vec<f64> = sizes.iter().copied().filter(|&s| s > 0.0).collect();
    if v.is_empty() {
        return 1.0;
    }
    v.sort_by(f64::total_cmp);
    crate::stats::median_sorted(&v)
}

fn scale_rows(values: &mut Values, scale: &[f64]) {
    match values {
        Values::Dense(x) => {
            for (mut row, &s) in x.rows_mut().into_iter().zip(scale) {
                row.mapv_inplace(|v| (f64::from(v) * s) as f32);
            }
        }
        Values::Sparse(x) => {
            let indptr = x.indptr().to_vec();
            let data = x.data_mut();
            for (r, &s) in scale.iter().enumerate() {
                for v in &mut data[indptr[r]..indptr[r + 1]] {
                    *v = (f64::from(*v) * s) as f32;
                }
            }
        }
    }
}
