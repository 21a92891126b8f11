//! Library-size normalisation, `log1p` and highly-variable genes, as scanpy does them
//! (`pp.normalize_total`, `pp.log1p`, `pp.highly_variable_genes(flavor="seurat")`), so results
//! computed here can be compared with a scanpy notebook number for number.

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

/// Per-gene mean and dispersion (variance / mean) computed as scanpy's `seurat` flavour does:
/// on `expm1` of log-normalised values.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneDispersion {
    /// `log1p` of the mean of `expm1(x)`.
    pub log_mean: Vec<f64>,
    /// `ln` of variance / mean of `expm1(x)` (NaN for genes with zero mean).
    pub log_dispersion: Vec<f64>,
    /// Dispersion z-scored within bins of mean expression.
    pub normalized_dispersion: Vec<f64>,
}

/// Highly-variable genes, Seurat flavour (scanpy's default): genes are binned into `n_bins`
/// equal-width bins of mean expression, dispersions z-scored within bins, and the
/// `n_top_genes` with the highest normalised dispersion are returned (sorted by column; genes
/// tied with the last one are kept too, as in scanpy).
/// Expects log-normalised values ([`normalize_total`] then [`log1p`]).
///
/// # Errors
/// [`Error::InvalidParam`] for `n_top_genes == 0`, more than the genes there are, or
/// `n_bins == 0`; [`Error::Empty`] for a matrix without cells.
pub fn highly_variable_genes(
    m: &ExpressionMatrix,
    n_top_genes: usize,
    n_bins: usize,
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
    if n_bins == 0 {
        return Err(Error::param("n_bins", 0, "must be at least 1"));
    }
    let mut sum = vec![0.0f64; n_genes];
    let mut sum_sq = vec![0.0f64; n_genes];
    m.values().for_each_nonzero(|_, g, v| {
        let e = f64::from(v).exp_m1();
        sum[g] += e;
        sum_sq[g] += e * e;
    });
    let n = n_cells as f64;
    let ddof = if n_cells > 1 { n - 1.0 } else { 1.0 };
    let mut log_mean = Vec::with_capacity(n_genes);
    let mut log_dispersion = Vec::with_capacity(n_genes);
    for g in 0..n_genes {
        let mean = sum[g] / n;
        // Unbiased variance, as scanpy's `_get_mean_var`.
        let var = ((sum_sq[g] - n * mean * mean) / ddof).max(0.0);
        let mean = if mean == 0.0 { 1e-12 } else { mean };
        let disp = var / mean;
        let disp = if disp == 0.0 { f64::NAN } else { disp };
        log_dispersion.push(disp.ln());
        log_mean.push(mean.ln_1p());
    }
    let normalized_dispersion = bin_zscore(&log_mean, &log_dispersion, n_bins);
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
            log_mean,
            log_dispersion,
            normalized_dispersion,
        },
    ))
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
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
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
