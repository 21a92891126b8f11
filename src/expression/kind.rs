//! What a matrix holds: integer counts, normalised values, log-normalised values or scaled
//! values, told apart from the values themselves (a processed `.h5ad` rarely says).
//!
//! The gene transformer bins values on a linear scale (counts, or counts normalised per cell),
//! so a log-normalised matrix is brought back with `expm1` ([`to_linear_scale`]), which undoes
//! scanpy's `log1p` exactly and keeps zeros at zero. Scaled or centred values (`sc.pp.scale`,
//! any negative value) have lost the zero of "not expressed" and cannot be binned; callers turn
//! them into an error that names the matrices of the file that would work.
//!
//! # How the kind is decided
//!
//! On the rows given (readers pass a sample of the first cells):
//! 1. any negative value → [`MatrixKind::Scaled`];
//! 2. every value an integer (within [`INTEGER_TOL`]) → [`MatrixKind::Counts`] (an empty matrix counts as counts: nothing
//!    contradicts it);
//! 3. per-cell sums of `expm1(x)` equal across cells (relative spread below
//!    [`EQUAL_SUMS`]) → [`MatrixKind::LogNormalized`] with that sum as its target (log1p of
//!    counts per 10,000 sums to 10,000 after `expm1`);
//! 4. per-cell sums of `x` equal → [`MatrixKind::Normalized`] with that target;
//! 5. neither (the genes were subset after normalising, e.g. to highly variable genes):
//!    log-normalised when the largest value is below [`LOG_CEILING`] (`log1p` of a million),
//!    normalised otherwise; the report says the sums did not decide it.

use serde::{Deserialize, Serialize};

use super::{CsrMatrix, ExpressionMatrix, Values};
use crate::error::{Error, Result};

/// Cells read to decide a matrix's kind: the first this many (enough to see negatives,
/// non-integers and per-cell sums, and cheap on an atlas).
pub const KIND_SAMPLE_CELLS: usize = 2000;

/// Distance from the nearest integer below which a value counts as an integer: counts that
/// went through float64 arithmetic (`2.9999999999`) are still counts; normalised values are
/// almost never all this close to integers.
pub const INTEGER_TOL: f64 = 1e-3;

/// Relative spread (standard deviation over mean) of per-cell sums below which the sums count
/// as one normalisation target. Normalisation in float32 leaves spreads near 1e-7; real
/// libraries spread by tens of percent.
pub const EQUAL_SUMS: f64 = 1e-3;

/// No log1p-transformed expression reaches this (`ln(1 + 10^6)` ≈ 13.8: a gene holding a whole
/// library of a million counts); normalised linear values of real cells do.
pub const LOG_CEILING: f64 = 15.0;

/// What a matrix holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatrixKind {
    /// Non-negative integers (UMI or read counts).
    Counts,
    /// Non-negative non-integer values on a linear scale (counts per cell normalised to a
    /// target, ambient-corrected counts).
    Normalized,
    /// `log1p` of normalised values (scanpy's `normalize_total` then `log1p`).
    LogNormalized,
    /// Scaled or centred values: negatives present (`sc.pp.scale`, z-scores, Pearson
    /// residuals).
    Scaled,
}

impl MatrixKind {
    /// True when the gene transformer and the baselines can take it (all but scaled).
    pub fn is_usable(self) -> bool {
        !matches!(self, MatrixKind::Scaled)
    }

    /// A short name for reports.
    pub fn label(self) -> &'static str {
        match self {
            MatrixKind::Counts => "counts",
            MatrixKind::Normalized => "normalised",
            MatrixKind::LogNormalized => "log-normalised",
            MatrixKind::Scaled => "scaled",
        }
    }
}

impl std::fmt::Display for MatrixKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The decided kind and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindReport {
    /// The kind.
    pub kind: MatrixKind,
    /// The per-cell target sum (on the linear scale) when the sums were equal.
    pub target_sum: Option<f64>,
    /// Cells the decision looked at.
    pub cells_checked: usize,
    /// Largest value seen.
    pub max_value: f64,
    /// One sentence of evidence, for reports.
    pub evidence: String,
}

/// Decides what the rows of `x` hold (see the module docs). Non-finite values are skipped:
/// the readers reject them with their position.
pub fn detect_kind(x: &CsrMatrix) -> KindReport {
    let mut min = f64::INFINITY;
    let mut max = 0.0f64;
    let mut integer = true;
    for &v in x.data() {
        if !v.is_finite() {
            continue;
        }
        let v = f64::from(v);
        min = min.min(v);
        max = max.max(v);
        integer &= (v - v.round()).abs() <= INTEGER_TOL;
    }
    let report = |kind, target_sum, evidence: String| KindReport {
        kind,
        target_sum,
        cells_checked: x.n_rows(),
        max_value: max,
        evidence,
    };
    if min < 0.0 {
        return report(
            MatrixKind::Scaled,
            None,
            format!("negative values (down to {min:.3}): scaled or centred, not expression"),
        );
    }
    if integer {
        let why = if x.nnz() == 0 {
            "no non-zero values".to_string()
        } else {
            format!("non-negative integers up to {max}")
        };
        return report(MatrixKind::Counts, None, why);
    }
    let (exp_mean, exp_spread) = row_sum_spread(x, f64::exp_m1);
    let (lin_mean, lin_spread) = row_sum_spread(x, |v| v);
    if max < LOG_CEILING && exp_spread < EQUAL_SUMS {
        return report(
            MatrixKind::LogNormalized,
            Some(exp_mean),
            format!(
                "non-integer, largest {max:.3}; per-cell sums of expm1 are all {exp_mean:.4} \
                 (spread {exp_spread:.1e}): log1p of counts normalised to {exp_mean:.0}"
            ),
        );
    }
    if lin_spread < EQUAL_SUMS {
        return report(
            MatrixKind::Normalized,
            Some(lin_mean),
            format!(
                "non-integer; per-cell sums are all {lin_mean:.4} (spread {lin_spread:.1e}): \
                 counts normalised to {lin_mean:.0}"
            ),
        );
    }
    if max < LOG_CEILING {
        report(
            MatrixKind::LogNormalized,
            None,
            format!(
                "non-integer, largest {max:.3} (below log1p of a million); per-cell sums differ \
                 (genes subset after normalising?), so taken as log-normalised"
            ),
        )
    } else {
        report(
            MatrixKind::Normalized,
            None,
            format!(
                "non-integer, largest {max:.1} (too large for log1p values); per-cell sums \
                 differ, so taken as normalised on a linear scale"
            ),
        )
    }
}

/// Mean and relative spread (sd / mean) of the per-row sums of `f(x)` over rows with a
/// non-zero sum; `(0, inf)` when there are none, so that no target is claimed.
fn row_sum_spread(x: &CsrMatrix, f: impl Fn(f64) -> f64) -> (f64, f64) {
    let sums: Vec<f64> = (0..x.n_rows())
        .map(|r| {
            x.row(r)
                .1
                .iter()
                .filter(|v| v.is_finite())
                .map(|&v| f(f64::from(v)))
                .sum::<f64>()
        })
        .filter(|&s| s > 0.0)
        .collect();
    if sums.is_empty() {
        return (0.0, f64::INFINITY);
    }
    let sums = ndarray::Array1::from(sums);
    let mean = sums.mean().unwrap_or(0.0);
    let sd = sums.std(0.0);
    (mean, if mean > 0.0 { sd / mean } else { f64::INFINITY })
}

/// Brings `values` of `kind` to a linear scale in place: `expm1` of every stored value for
/// [`MatrixKind::LogNormalized`] (zeros stay zero, so sparsity is kept); nothing for counts and
/// normalised values. Scaled values are left as they are: callers refuse them first.
pub fn to_linear_scale(values: &mut Values, kind: MatrixKind) {
    match values {
        Values::Dense(x) => {
            if let Some(s) = x.as_slice_memory_order_mut() {
                undo_log1p(s, kind);
            } else {
                x.iter_mut()
                    .for_each(|v| undo_log1p(std::slice::from_mut(v), kind));
            }
        }
        Values::Sparse(x) => to_linear_scale_sparse(x, kind),
    }
}

/// [`to_linear_scale`] of a sparse matrix (a streamed chunk).
pub fn to_linear_scale_sparse(x: &mut CsrMatrix, kind: MatrixKind) {
    undo_log1p(x.data_mut(), kind);
}

fn undo_log1p(values: &mut [f32], kind: MatrixKind) {
    if kind == MatrixKind::LogNormalized {
        for v in values {
            *v = f64::from(*v).exp_m1() as f32;
        }
    }
}

/// The first [`KIND_SAMPLE_CELLS`] cells of `values`, sparse.
fn sample_rows(values: &Values) -> CsrMatrix {
    let k = values.dim().0.min(KIND_SAMPLE_CELLS);
    match values {
        Values::Dense(x) => CsrMatrix::from_dense(x.slice(ndarray::s![..k, ..])),
        Values::Sparse(x) => {
            let rows: Vec<usize> = (0..k).collect();
            // Rows 0..k of a valid matrix always exist; an error would mean an empty sample.
            x.select_rows(&rows)
                .unwrap_or_else(|_| CsrMatrix::from_dense(ndarray::Array2::zeros((0, 0)).view()))
        }
    }
}

/// [`detect_kind`] of the first [`KIND_SAMPLE_CELLS`] cells of `values`.
pub fn detect_values_kind(values: &Values) -> KindReport {
    detect_kind(&sample_rows(values))
}

/// Decides what `m` holds (from its first [`KIND_SAMPLE_CELLS`] cells) and brings it to the
/// scale the gene transformer and its baselines bin: log-normalised values are `expm1`-ed,
/// counts and normalised values are kept as they are (binning normalises each cell itself).
///
/// # Errors
/// [`Error::Unsupported`] for scaled values (negatives), which cannot be binned.
pub fn to_model_scale(m: &mut ExpressionMatrix) -> Result<KindReport> {
    let report = detect_values_kind(m.values());
    apply_model_scale(m, report)
}

/// [`to_model_scale`] with the kind already decided (`report`, e.g. from the first cells of a
/// streamed file while `m` holds only some of its cells).
///
/// # Errors
/// As [`to_model_scale`].
pub fn apply_model_scale(m: &mut ExpressionMatrix, report: KindReport) -> Result<KindReport> {
    if !report.kind.is_usable() {
        return Err(Error::Unsupported(format!(
            "the matrix holds scaled values ({}); use counts or (log-)normalised values \
             (for an .h5ad, `cellsindy data inspect` lists its matrices; choose one with --raw \
             or --layer NAME)",
            report.evidence
        )));
    }
    to_linear_scale(m.values_mut(), report.kind);
    Ok(report)
}

/// Checks that data of kind `found` may go into a model trained on `trained` (`None`: a model
/// from before kinds were recorded, which accepts anything). `allow` accepts a mismatch.
///
/// # Errors
/// [`Error::InvalidParam`] naming both kinds when they differ and `allow` is false.
pub fn check_model_kind(trained: Option<MatrixKind>, found: MatrixKind, allow: bool) -> Result<()> {
    match trained {
        Some(t) if t != found && !allow => Err(Error::param(
            "data",
            found.label(),
            format!(
                "the model was trained on {t} values and these data hold {found} values; \
                 choose the matching matrix (--raw, --layer NAME) or pass --any-kind to run anyway"
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(rows: &[&[f32]]) -> CsrMatrix {
        let n = rows[0].len();
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        let x = ndarray::Array2::from_shape_vec((rows.len(), n), flat).unwrap();
        CsrMatrix::from_dense(x.view())
    }

    fn log_cp10k(counts: &[&[f32]]) -> Vec<Vec<f32>> {
        counts
            .iter()
            .map(|r| {
                let s: f32 = r.iter().sum();
                r.iter().map(|v| (v / s * 1e4).ln_1p()).collect()
            })
            .collect()
    }

    #[test]
    fn each_kind_is_recognised() {
        let counts: [&[f32]; 3] = [&[0., 3., 1., 7.], &[2., 0., 0., 1.], &[5., 5., 0., 40.]];
        let c = detect_kind(&csr(&counts));
        assert_eq!(c.kind, MatrixKind::Counts);
        // Counts that went through float arithmetic are still counts.
        let noisy: [&[f32]; 2] = [&[0., 2.9996, 1.0004], &[7.0, 0., 1.]];
        assert_eq!(detect_kind(&csr(&noisy)).kind, MatrixKind::Counts);

        let logn = log_cp10k(&counts);
        let rows: Vec<&[f32]> = logn.iter().map(|r| r.as_slice()).collect();
        let l = detect_kind(&csr(&rows));
        assert_eq!(l.kind, MatrixKind::LogNormalized, "{}", l.evidence);
        assert!((l.target_sum.unwrap() - 1e4).abs() < 5.0, "{l:?}");

        let norm: Vec<Vec<f32>> = logn
            .iter()
            .map(|r| r.iter().map(|v| v.exp_m1()).collect())
            .collect();
        let rows: Vec<&[f32]> = norm.iter().map(|r| r.as_slice()).collect();
        let n = detect_kind(&csr(&rows));
        assert_eq!(n.kind, MatrixKind::Normalized, "{}", n.evidence);

        let scaled: [&[f32]; 2] = [&[-0.3, 1.2, 0.0], &[0.3, -1.2, 0.5]];
        assert_eq!(detect_kind(&csr(&scaled)).kind, MatrixKind::Scaled);
    }

    #[test]
    fn a_gene_subset_of_log_values_is_still_log_normalised() {
        // Sums differ once genes are dropped after normalising; the size of the values decides.
        let rows: [&[f32]; 2] = [&[0.0, 2.5, 1.1], &[3.9, 0.0, 0.7]];
        let r = detect_kind(&csr(&rows));
        assert_eq!(r.kind, MatrixKind::LogNormalized);
        assert_eq!(r.target_sum, None);
        let rows: [&[f32]; 2] = [&[0.0, 250.5, 1.1], &[39.2, 0.0, 0.7]];
        assert_eq!(detect_kind(&csr(&rows)).kind, MatrixKind::Normalized);
    }

    #[test]
    fn linear_scale_undoes_log1p_and_keeps_zeros() {
        let mut v = Values::Sparse(csr(&[&[0.0, 1.0f32.ln_1p(), 9.0f32.ln_1p()]]));
        to_linear_scale(&mut v, MatrixKind::LogNormalized);
        let d = v.to_dense();
        assert_eq!(d[[0, 0]], 0.0);
        assert!((d[[0, 1]] - 1.0).abs() < 1e-6 && (d[[0, 2]] - 9.0).abs() < 1e-5);
        let before = v.clone();
        to_linear_scale(&mut v, MatrixKind::Counts);
        assert_eq!(v, before);
    }
}
