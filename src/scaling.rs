//! Transfer scaling laws (Hernandez et al. 2021, "Scaling Laws for Transfer"): how much data a
//! pre-trained model is worth when fine-tuned on a target distribution.
//!
//! The **effective data transferred** `D_t` is the extra target data a model trained from
//! scratch would need to match the fine-tuned model's loss. It follows a power law in the
//! fine-tuning data `D_f` and the model size `N`:
//!
//! ```text
//! D_t = k · D_f^α · N^β
//! ```
//!
//! Holding `D_t` fixed, multiplying the model by `model_c` is worth multiplying the fine-tuning
//! data by `data_c = model_c^(β/α)` (and conversely `model_c = data_c^(α/β)`).
//!
//! | item | what |
//! |---|---|
//! | [`TransferLaw`] | the law, its prediction and the data/compute trade |
//! | [`fit`] | `(k, α, β)` by least squares in log space, with bootstrap confidence intervals |
//! | [`archive_year`] | when a growing cell archive passes a size |
//!
//! The worked example: with `α = 0.38` and `β/α ≈ 1/α` (so `β ≈ 1`), a million-fold data
//! factor is matched by a model `10^(6 · 0.38) = 10^2.28 ≈ 191` times larger:
//!
//! ```
//! use cellsindy::scaling::TransferLaw;
//! let law = TransferLaw { k: 1.0, alpha: 0.38, beta: 1.0 };
//! let model_c = law.model_for_data(1e6).unwrap();
//! assert!((model_c.log10() - 2.28).abs() < 1e-12);
//! assert_eq!(model_c.round(), 191.0);
//! // And back.
//! assert!((law.data_for_model(model_c).unwrap() / 1e6 - 1.0).abs() < 1e-9);
//! ```

use nalgebra::{Matrix3, Vector3};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::stream;

const DOMAIN_BOOTSTRAP: u64 = 0x7363_616c_6500_0041;

/// `D_t = k · D_f^α · N^β`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TransferLaw {
    /// Prefactor `k` (> 0).
    pub k: f64,
    /// Exponent of the fine-tuning data `α` (≠ 0 for the trade).
    pub alpha: f64,
    /// Exponent of the model size `β` (≠ 0 for the trade).
    pub beta: f64,
}

impl TransferLaw {
    /// Effective data transferred for fine-tuning data `d_f` and model size `n`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `d_f` and `n` are positive and finite.
    pub fn effective_data(&self, d_f: f64, n: f64) -> Result<f64> {
        positive("d_f", d_f)?;
        positive("n", n)?;
        Ok(self.k * d_f.powf(self.alpha) * n.powf(self.beta))
    }

    /// The data factor equivalent to a model factor: `data_c = model_c^(β/α)`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a non-positive factor or `α = 0`.
    pub fn data_for_model(&self, model_c: f64) -> Result<f64> {
        positive("model_c", model_c)?;
        nonzero("alpha", self.alpha)?;
        Ok(model_c.powf(self.beta / self.alpha))
    }

    /// The model factor equivalent to a data factor: `model_c = data_c^(α/β)`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a non-positive factor or `β = 0`.
    pub fn model_for_data(&self, data_c: f64) -> Result<f64> {
        positive("data_c", data_c)?;
        nonzero("beta", self.beta)?;
        Ok(data_c.powf(self.alpha / self.beta))
    }
}

/// One measurement: fine-tuning data, model size, effective data transferred.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TransferPoint {
    /// Fine-tuning data `D_f` (cells, tokens, ...).
    pub d_f: f64,
    /// Model size `N` (parameters).
    pub n: f64,
    /// Effective data transferred `D_t` (same unit as `d_f`).
    pub d_t: f64,
}

/// A percentile confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

/// The result of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferFit {
    /// The least-squares law.
    pub law: TransferLaw,
    /// R² of `ln D_t` explained.
    pub r2: f64,
    /// Measurements used.
    pub n_points: usize,
    /// Confidence level of the intervals (e.g. 0.95).
    pub level: f64,
    /// Bootstrap resamples (0: no intervals).
    pub n_bootstrap: usize,
    /// Percentile intervals of `k`, `α`, `β`, `β/α` (`None` without bootstrap).
    pub k_ci: Option<Interval>,
    /// Interval of `α`.
    pub alpha_ci: Option<Interval>,
    /// Interval of `β`.
    pub beta_ci: Option<Interval>,
    /// Interval of the trade exponent `β/α`.
    pub ratio_ci: Option<Interval>,
}

/// Settings of [`fit`].
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `n_bootstrap` | 1000 | resamples of the measurements (with replacement) for the intervals; 0 skips them |
/// | `level` | 0.95 | two-sided confidence level |
/// | `seed` | 0 | seed of the resampling |
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitParams {
    /// Bootstrap resamples.
    pub n_bootstrap: usize,
    /// Confidence level in (0, 1).
    pub level: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for FitParams {
    fn default() -> Self {
        Self {
            n_bootstrap: 1000,
            level: 0.95,
            seed: 0,
        }
    }
}

/// Fits `ln D_t = ln k + α ln D_f + β ln N` by ordinary least squares, with percentile
/// bootstrap intervals (resampling measurements; a resample whose design is singular, e.g. one
/// model size only, is drawn again, up to 10 times the requested number).
///
/// # Errors
/// [`Error::Empty`] for fewer than 4 points; [`Error::InvalidParam`] for a non-positive or
/// non-finite value or a bad level; [`Error::Linalg`] when `D_f` and `N` do not both vary
/// independently (the exponents are not identifiable).
pub fn fit(points: &[TransferPoint], p: &FitParams) -> Result<TransferFit> {
    if points.len() < 4 {
        return Err(Error::Empty {
            what: "scaling measurements",
            why: format!(
                "{} points; fitting k, alpha, beta needs at least 4",
                points.len()
            ),
        });
    }
    if !(p.level > 0.0 && p.level < 1.0) {
        return Err(Error::param("level", p.level, "must be in (0, 1)"));
    }
    let logs = points
        .iter()
        .map(|q| {
            positive("d_f", q.d_f)?;
            positive("n", q.n)?;
            positive("d_t", q.d_t)?;
            Ok([q.d_f.ln(), q.n.ln(), q.d_t.ln()])
        })
        .collect::<Result<Vec<_>>>()?;
    let all: Vec<usize> = (0..logs.len()).collect();
    let (coef, r2) = ols(&logs, &all).ok_or_else(|| {
        Error::Linalg(
            "fine-tuning data and model size must both vary, and not in proportion, to fit alpha and beta"
                .into(),
        )
    })?;
    let law = TransferLaw {
        k: coef[0].exp(),
        alpha: coef[1],
        beta: coef[2],
    };
    let mut fit = TransferFit {
        law,
        r2,
        n_points: points.len(),
        level: p.level,
        n_bootstrap: p.n_bootstrap,
        k_ci: None,
        alpha_ci: None,
        beta_ci: None,
        ratio_ci: None,
    };
    if p.n_bootstrap == 0 {
        return Ok(fit);
    }
    let mut rng = stream(p.seed, DOMAIN_BOOTSTRAP, 0);
    let mut draws: [Vec<f64>; 4] = Default::default();
    let mut tries = 0;
    while draws[0].len() < p.n_bootstrap && tries < 10 * p.n_bootstrap {
        tries += 1;
        let rows: Vec<usize> = (0..logs.len())
            .map(|_| rng.random_range(0..logs.len()))
            .collect();
        if let Some((c, _)) = ols(&logs, &rows) {
            draws[0].push(c[0].exp());
            draws[1].push(c[1]);
            draws[2].push(c[2]);
            draws[3].push(c[2] / c[1]);
        }
    }
    if draws[0].is_empty() {
        return Err(Error::Linalg(
            "every bootstrap resample was singular; measure more distinct (D_f, N) pairs".into(),
        ));
    }
    let tail = (1.0 - p.level) / 2.0;
    let ci = |v: &mut Vec<f64>| {
        v.sort_unstable_by(f64::total_cmp);
        Interval {
            lo: crate::stats::quantile_sorted(v, tail),
            hi: crate::stats::quantile_sorted(v, 1.0 - tail),
        }
    };
    let [k, a, b, r] = &mut draws;
    fit.k_ci = Some(ci(k));
    fit.alpha_ci = Some(ci(a));
    fit.beta_ci = Some(ci(b));
    fit.ratio_ci = Some(ci(r));
    Ok(fit)
}

/// OLS of `y = c0 + c1 x1 + c2 x2` over `rows` of `[x1, x2, y]`; `None` if singular.
fn ols(data: &[[f64; 3]], rows: &[usize]) -> Option<([f64; 3], f64)> {
    let mut xtx = Matrix3::<f64>::zeros();
    let mut xty = Vector3::<f64>::zeros();
    for &r in rows {
        let [x1, x2, y] = data[r];
        let v = Vector3::new(1.0, x1, x2);
        xtx += v * v.transpose();
        xty += v * y;
    }
    // Relative conditioning check: a design with one distinct D_f or N, or with N ∝ D_f, is
    // singular up to rounding.
    let eig = xtx.symmetric_eigenvalues();
    let (lo, hi) = eig
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(l, h), &e| (l.min(e), h.max(e)));
    if lo.is_nan() || lo <= 1e-10 * hi {
        return None;
    }
    let c = xtx.cholesky()?.solve(&xty);
    let mean = rows.iter().map(|&r| data[r][2]).sum::<f64>() / rows.len() as f64;
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    for &r in rows {
        let [x1, x2, y] = data[r];
        let e = y - (c[0] + c[1] * x1 + c[2] * x2);
        ss_res += e * e;
        ss_tot += (y - mean) * (y - mean);
    }
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        1.0
    };
    Some(([c[0], c[1], c[2]], r2))
}

/// Reads measurements from a CSV or TSV file: a header naming the columns `d_f`, `n` and
/// `d_t` (any order, any case; other columns ignored), then one measurement per line; blank
/// lines and lines starting with `#` are skipped. The delimiter is a tab if the header has one,
/// else a comma. A `fitted` column (as `scaling experiment` writes) drops the rows marked
/// `false`: censored measurements whose `D_t` was not read off the curve.
///
/// # Errors
/// [`Error::Io`] if unreadable; [`Error::Parse`] (with the line) for a missing column, a
/// short row or a value that is not a number.
pub fn read_points(path: &std::path::Path) -> Result<Vec<TransferPoint>> {
    let text = crate::io::input::read_text(path)?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| Error::parse(path, 0, "empty file: expected a header with d_f, n, d_t"))?;
    let delim = if header.contains('\t') { '\t' } else { ',' };
    let names: Vec<String> = header
        .split(delim)
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |want: &str| {
        names.iter().position(|n| n == want).ok_or_else(|| {
            Error::parse(
                path,
                header_line,
                format!("no `{want}` column (header: {header}); expected d_f, n, d_t"),
            )
        })
    };
    let (cf, cn, ct) = (col("d_f")?, col("n")?, col("d_t")?);
    let fitted = names.iter().position(|n| n == "fitted");
    lines
        .filter(|(_, l)| {
            fitted.is_none_or(|c| {
                l.split(delim)
                    .nth(c)
                    .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"))
            })
        })
        .map(|(line, l)| {
            let fields: Vec<&str> = l.split(delim).map(str::trim).collect();
            let get = |c: usize, name: &str| -> Result<f64> {
                let f = fields.get(c).ok_or_else(|| {
                    Error::parse(path, line, format!("{} fields, no `{name}`", fields.len()))
                })?;
                f.parse::<f64>().map_err(|_| {
                    Error::parse(path, line, format!("`{name}` = {f:?} is not a number"))
                })
            };
            Ok(TransferPoint {
                d_f: get(cf, "d_f")?,
                n: get(cn, "n")?,
                d_t: get(ct, "d_t")?,
            })
        })
        .collect()
}

/// The (fractional) year at which an archive of `start` cells in `start_year`, growing by
/// `growth` a year (0.2 = 20 %), reaches `target` cells: `start_year + ln(target/start) /
/// ln(1 + growth)`.
///
/// The seed's projection: 330 million 10x cells in early 2025 pass one billion in 2031.1 at
/// 20 % a year, and in 2029.2 at 30 %:
///
/// ```
/// use cellsindy::scaling::archive_year;
/// let at20 = archive_year(330e6, 2025.0, 0.20, 1e9).unwrap();
/// let at30 = archive_year(330e6, 2025.0, 0.30, 1e9).unwrap();
/// assert!((at20 - 2031.08).abs() < 0.01 && (at30 - 2029.23).abs() < 0.01);
/// ```
///
/// # Errors
/// [`Error::InvalidParam`] for non-positive sizes or growth, or a year that is not finite.
pub fn archive_year(start: f64, start_year: f64, growth: f64, target: f64) -> Result<f64> {
    positive("start", start)?;
    positive("target", target)?;
    positive("growth", growth)?;
    if !start_year.is_finite() {
        return Err(Error::param("start_year", start_year, "must be finite"));
    }
    Ok(start_year + (target / start).ln() / growth.ln_1p())
}

fn positive(name: &'static str, v: f64) -> Result<()> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be positive and finite"))
    }
}

fn nonzero(name: &'static str, v: f64) -> Result<()> {
    if v != 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be non-zero and finite"))
    }
}

/// What a run of a transfer-scaling experiment trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// Lab pre-training.
    Pretrain,
    /// Target from random initialisation.
    Scratch,
    /// Target from the pre-trained weights.
    Finetune,
}

/// One scoring of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Steps done.
    pub step: usize,
    /// Early-stopping (selection) loss (reported, not used, for pre-training).
    pub select_loss: f64,
    /// Evaluation loss.
    pub eval_loss: f64,
}

/// One training run of a transfer-scaling experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Kind.
    pub kind: RunKind,
    /// Index of the model size (into the experiment's list of sizes).
    pub size: usize,
    /// Parameters `N`.
    pub n_params: usize,
    /// Cells trained on (`D` or `D_f`; lab cells for pre-training).
    pub d: usize,
    /// Step chosen by early stopping (the last step for pre-training).
    pub best_step: usize,
    /// Evaluation loss at `best_step` (target cells).
    pub loss: f64,
    /// Every scoring.
    pub curve: Vec<CurvePoint>,
}

/// One `(N, D_f)` measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Fine-tuning cells.
    pub d_f: f64,
    /// Parameters.
    pub n: f64,
    /// Effective data transferred `D − D_f` (`NaN` when censored above).
    pub d_t: f64,
    /// Scratch-equivalent data `D`.
    pub d_equivalent: f64,
    /// Fine-tuned evaluation loss.
    pub loss_finetune: f64,
    /// Scratch evaluation loss at `D = D_f` (interpolated on the monotone curve when `D_f` is
    /// not a scratch amount; `NaN` outside it).
    pub loss_scratch_same_d: f64,
    /// Evaluation loss of the pre-trained model before fine-tuning (zero-shot).
    pub loss_pretrained: f64,
    /// How `d_t` was obtained.
    pub status: EffectiveStatus,
}

impl Measurement {
    /// Whether the fit uses it.
    pub fn fitted(&self) -> bool {
        matches!(
            self.status,
            EffectiveStatus::Interpolated | EffectiveStatus::Extrapolated
        ) && self.d_t > 0.0
            && self.d_t.is_finite()
    }
}

// Measuring `D_t`: where a fine-tuned loss falls on the from-scratch curve.

/// How `D_t` was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EffectiveStatus {
    /// The fine-tuned loss lies on the scratch curve (interpolated in `ln D`).
    Interpolated,
    /// Below the whole curve; extrapolated along the last segment, within the limit.
    Extrapolated,
    /// Above the whole curve: fine-tuning did no better than scratch on the fewest cells
    /// (`D_t` is at most `D_min − D_f`, possibly negative); not fitted.
    Above,
    /// Below the curve beyond the extrapolation limit (or the curve is flat at its end);
    /// `D_t` is a lower bound; not fitted.
    Beyond,
}

/// `D` at which the scratch curve reaches `loss`, with its status.
///
/// `curve` is `(D, loss)` with increasing `D` (at least 2 points); it is made monotone by a
/// running minimum before the search. Interpolation and extrapolation are linear in `ln D`.
pub fn equivalent_data(
    curve: &[(f64, f64)],
    loss: f64,
    max_extrapolation: f64,
) -> (f64, EffectiveStatus) {
    let mono = monotone(curve);
    let (Some(&first), Some(&last)) = (mono.first(), mono.last()) else {
        return (f64::NAN, EffectiveStatus::Above);
    };
    if loss >= first.1 {
        return (first.0, EffectiveStatus::Above);
    }
    for w in mono.windows(2) {
        let ((d0, l0), (d1, l1)) = (w[0], w[1]);
        if loss >= l1 && l0 > l1 {
            let t = (l0 - loss) / (l0 - l1);
            return (
                (d0.ln() + t * (d1.ln() - d0.ln())).exp(),
                EffectiveStatus::Interpolated,
            );
        }
    }
    // Below the whole curve: extrapolate along the last segment with a drop.
    let limit = last.0 * max_extrapolation;
    let seg = mono.windows(2).rev().find(|w| w[0].1 > w[1].1);
    if let Some(w) = seg {
        let ((d0, l0), (d1, l1)) = (w[0], w[1]);
        let slope = (l1 - l0) / (d1.ln() - d0.ln());
        let d = (last.0.ln() + (loss - last.1) / slope).exp();
        if d <= limit {
            return (d, EffectiveStatus::Extrapolated);
        }
    }
    (limit, EffectiveStatus::Beyond)
}

/// Loss of the monotone scratch curve at `d`, interpolated in `ln D` (`NaN` outside its
/// range).
pub fn loss_at(curve: &[(f64, f64)], d: f64) -> f64 {
    let mono = monotone(curve);
    for w in mono.windows(2) {
        let ((d0, l0), (d1, l1)) = (w[0], w[1]);
        if d >= d0 && d <= d1 {
            let t = (d.ln() - d0.ln()) / (d1.ln() - d0.ln());
            return l0 + t * (l1 - l0);
        }
    }
    f64::NAN
}

/// `curve` made non-increasing by a running minimum of the loss.
fn monotone(curve: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut mono: Vec<(f64, f64)> = Vec::with_capacity(curve.len());
    for &(d, l) in curve {
        let l = mono.last().map_or(l, |&(_, p): &(f64, f64)| p.min(l));
        mono.push((d, l));
    }
    mono
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ols_recovers_an_exact_plane_and_rejects_a_collinear_design() {
        let data: Vec<[f64; 3]> = [(1.0, 1.0), (2.0, 1.0), (1.0, 3.0), (4.0, 2.0)]
            .iter()
            .map(|&(a, b)| [a, b, 0.5 + 0.3 * a + 0.9 * b])
            .collect();
        let (c, r2) = ols(&data, &[0, 1, 2, 3]).unwrap();
        assert!((c[0] - 0.5).abs() < 1e-9 && (c[1] - 0.3).abs() < 1e-9);
        assert!((c[2] - 0.9).abs() < 1e-9 && (r2 - 1.0).abs() < 1e-12);
        assert!(ols(&data, &[0, 0, 1, 1]).is_none(), "one model size only");
    }

    #[test]
    fn equivalent_data_interpolates_in_log_d_and_censors() {
        let curve = [(10.0, 3.0), (100.0, 2.0), (1000.0, 1.0)];
        let (d, s) = equivalent_data(&curve, 1.5, 4.0);
        assert_eq!(s, EffectiveStatus::Interpolated);
        assert!((d - 316.227_766).abs() < 1e-3);
        assert_eq!(equivalent_data(&curve, 3.5, 4.0).1, EffectiveStatus::Above);
        let (d, s) = equivalent_data(&curve, 0.8, 4.0);
        assert_eq!(s, EffectiveStatus::Extrapolated);
        assert!((d - 1000.0 * 10f64.powf(0.2)).abs() < 1e-6);
        assert_eq!(equivalent_data(&curve, 0.0, 4.0).1, EffectiveStatus::Beyond);
        // A bump is flattened by the running minimum.
        let bumpy = [(10.0, 3.0), (100.0, 3.2), (1000.0, 1.0)];
        let (d, _) = equivalent_data(&bumpy, 2.0, 4.0);
        assert!((d - 10f64.powf(2.5)).abs() < 1e-6);
    }
}
