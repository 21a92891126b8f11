//! Choosing a differentiator from the data: [`DiffChoice`] (`auto` or a fixed method, as the
//! CLI's `--diff` spells it) and [`auto_diff`], the rule `auto` follows.

use crate::data::Trajectory;
use crate::error::{Error, Result};

use super::{DiffConfig, SPLINE_BOXES};

/// Weak-form test-function order of `weak:WINDOW` ([`super::WeakForm`]).
pub const WEAK_ORDER: u32 = 4;
/// The automatic weak form's test function spans this many half-periods of the data's fastest
/// oscillation (see [`time_scale`]): wide enough to average noise over many samples, narrow
/// enough that every oscillation still gives rows that differ.
pub const WINDOW_PER_HALF_PERIOD: f64 = 1.0;
/// Fewest samples the shortest trajectory must have, in test-function widths, for the weak
/// form (below that, 4th-order finite differences).
pub const MIN_WINDOWS_PER_TRAJECTORY: usize = 4;
/// Lag-1 autocorrelation below which a variable counts as noise, not signal, when reading
/// the time scale.
const NOISE_AUTOCORRELATION: f64 = 0.5;

/// How to differentiate.
#[derive(Debug, Clone, PartialEq)]
pub enum DiffChoice {
    /// Pick from the data, see [`auto_diff`].
    Auto,
    /// A fixed differentiator.
    Fixed(DiffConfig),
}

impl DiffChoice {
    /// The differentiator for `trajectories`: [`auto_diff`] for [`DiffChoice::Auto`].
    pub fn resolve(&self, trajectories: &[Trajectory]) -> DiffConfig {
        match self {
            DiffChoice::Auto => auto_diff(trajectories),
            DiffChoice::Fixed(c) => c.clone(),
        }
    }

    /// Parses `auto`, `fd2`, `fd4`, `sg:WINDOW,POLYORDER`, `weak:WINDOW` (test-function
    /// order [`WEAK_ORDER`]) or `spline:WIDTH` ([`super::WeakSpline`] of [`SPLINE_BOXES`]
    /// boxes).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for anything else, or settings the differentiator rejects.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::param(
                "diff",
                text,
                format!(
                    "{why}; expected auto, fd2, fd4, sg:WINDOW,POLYORDER, weak:WINDOW or spline:WIDTH"
                ),
            )
        };
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| bad("not a whole number"))
        };
        let t = text.trim().to_ascii_lowercase();
        let cfg = match t.as_str() {
            "auto" => return Ok(DiffChoice::Auto),
            "fd2" => DiffConfig::FiniteDifference { order: 2 },
            "fd4" => DiffConfig::FiniteDifference { order: 4 },
            _ => match t.split_once(':') {
                Some(("sg", rest)) => {
                    let (w, p) = rest
                        .split_once(',')
                        .ok_or_else(|| bad("sg needs WINDOW,POLYORDER"))?;
                    DiffConfig::SavitzkyGolay {
                        window: num(w)?,
                        polyorder: num(p)?,
                        smooth_x: true,
                    }
                }
                Some(("weak", w)) => DiffConfig::Weak {
                    window: num(w)?,
                    order: WEAK_ORDER,
                },
                Some(("spline", w)) => DiffConfig::WeakSpline {
                    width: num(w)?,
                    boxes: SPLINE_BOXES,
                },
                _ => return Err(bad("unknown differentiator")),
            },
        };
        cfg.build()?;
        Ok(DiffChoice::Fixed(cfg))
    }
}

/// The data's fastest time scale, in samples: the half-period of the fastest oscillating
/// variable, read as the number of samples per alternation between "above mean + σ/2" and
/// "below mean − σ/2" (hysteresis, so measurement noise does not add crossings). Variables
/// that look like noise (lag-1 autocorrelation under 0.5) are skipped; a variable that never
/// alternates counts as one half-period over its whole record. At most the first 65,536
/// samples of each trajectory are read. `None` when no trajectory has a signal variable with
/// at least 3 samples.
///
/// Reading the scale in samples, from standardised values, makes it independent of the units
/// of every variable and of time.
pub fn time_scale(trajectories: &[Trajectory]) -> Option<f64> {
    let mut best: Option<f64> = None;
    for tr in trajectories {
        // The scale needs a few oscillations, not every sample of a long record.
        let x = tr.x();
        let x = x.slice(ndarray::s![..x.nrows().min(PROBE_SAMPLES), ..]);
        let n = x.nrows();
        if n < 3 {
            continue;
        }
        for col in x.columns() {
            let mean = col.sum() / n as f64;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            if !(var > 0.0 && var.is_finite()) {
                continue;
            }
            let lag1 = col
                .iter()
                .zip(col.iter().skip(1))
                .map(|(a, b)| (a - mean) * (b - mean))
                .sum::<f64>()
                / ((n - 1) as f64 * var);
            if lag1 < NOISE_AUTOCORRELATION {
                continue;
            }
            let band = 0.5 * var.sqrt();
            let mut side = 0i8;
            let mut alternations = 0usize;
            for v in col.iter() {
                let now = if *v > mean + band {
                    1
                } else if *v < mean - band {
                    -1
                } else {
                    0
                };
                if now != 0 && now != side {
                    if side != 0 {
                        alternations += 1;
                    }
                    side = now;
                }
            }
            let scale = n as f64 / alternations.max(1) as f64;
            best = Some(best.map_or(scale, |b: f64| b.min(scale)));
        }
    }
    best
}

/// The differentiator [`DiffChoice::Auto`] picks: [`auto_diff_snr`] at [`WEAK_SNR`].
pub fn auto_diff(trajectories: &[Trajectory]) -> DiffConfig {
    auto_diff_snr(trajectories, WEAK_SNR)
}

/// Signal-to-noise ratio of the weak-form derivative that [`auto_diff`] asks for.
pub const WEAK_SNR: f64 = 10.0;

/// Samples per trajectory read when choosing the test function (the choice needs the
/// spectrum's shape, not every sample).
const PROBE_SAMPLES: usize = 1 << 16;

/// The noise standard deviation of a sampled signal, from its 4th differences: for white
/// noise `Δ⁴ε` has variance `70σ²`, while a well-sampled smooth signal's 4th difference is
/// `O(dt⁴)`. The median absolute value makes it robust to the signal's fast stretches.
fn noise_sigma(col: &[f64]) -> f64 {
    if col.len() < 5 {
        return 0.0;
    }
    let mut d: Vec<f64> = col
        .windows(5)
        .map(|w| (w[0] - 4.0 * w[1] + 6.0 * w[2] - 4.0 * w[3] + w[4]).abs())
        .collect();
    d.sort_by(f64::total_cmp);
    1.4826 * crate::stats::median_sorted(&d) / 70f64.sqrt()
}

/// The B-spline weak form ([`super::WeakSpline`], [`SPLINE_BOXES`] boxes) with the narrowest
/// test function whose weak derivative has a signal-to-noise ratio of at least `snr` on every
/// signal variable: the noise level is read from the median of the data's 4th differences,
/// the noise's share of the weak derivative from the test function's weights, the signal's
/// from the weak derivative itself. Clean data get a narrow test
/// function (many independent rows, tiny quadrature error); noisy data a wider one, up to
/// [`WINDOW_PER_HALF_PERIOD`] × [`time_scale`] samples and a [`MIN_WINDOWS_PER_TRAJECTORY`]th
/// of the shortest trajectory. 4th-order finite differences when a grid is not uniform or
/// the shortest trajectory is under [`MIN_WINDOWS_PER_TRAJECTORY`] narrowest test functions.
///
/// Everything is read in samples and in ratios of each variable to itself, so rescaling a
/// variable or the time axis picks the same differentiator.
pub fn auto_diff_snr(trajectories: &[Trajectory], snr: f64) -> DiffConfig {
    let fd = DiffConfig::FiniteDifference { order: 4 };
    let uniform = trajectories.iter().all(|t| t.t().uniform_dt().is_some());
    let shortest = trajectories
        .iter()
        .map(Trajectory::n_samples)
        .min()
        .unwrap_or(0);
    let boxes = SPLINE_BOXES;
    // Support of a spline weak form of box width w: boxes·(w − 1) + 1, plus the 8 samples of
    // the difference stencil.
    let support = |w: usize| boxes * (w - 1) + 9;
    if !uniform || trajectories.is_empty() || shortest < MIN_WINDOWS_PER_TRAJECTORY * support(3) {
        return fd;
    }
    let scale = time_scale(trajectories).unwrap_or(shortest as f64);
    let widest =
        (WINDOW_PER_HALF_PERIOD * scale).min(shortest as f64 / MIN_WINDOWS_PER_TRAJECTORY as f64);
    let config = |width: usize| DiffConfig::WeakSpline { width, boxes };
    let mut width = 3;
    loop {
        let next = {
            let w = ((width as f64 * 1.25).ceil() as usize).max(width + 2);
            w + (1 - w % 2)
        };
        if support(next) as f64 > widest || weak_snr(trajectories, width) >= snr {
            return config(width);
        }
        width = next;
    }
}

/// The smallest signal-to-noise ratio over the signal variables of the weak derivative with
/// boxes of `width` samples (infinite without noise or without signal variables).
fn weak_snr(trajectories: &[Trajectory], width: usize) -> f64 {
    let Ok(diff) = super::WeakSpline::new(width, SPLINE_BOXES) else {
        return f64::INFINITY;
    };
    use super::Differentiator;
    let mut worst = f64::INFINITY;
    for tr in trajectories {
        let n = tr.n_samples().min(PROBE_SAMPLES);
        let piece = tr.slice(0, n);
        let unit = match crate::data::TimeGrid::uniform(0.0, 1.0, n) {
            Ok(g) => g,
            Err(_) => continue,
        };
        // On a unit time step: the ratio does not depend on dt.
        let Ok(dx) = diff.differentiate(piece.x(), &unit) else {
            continue;
        };
        let Ok(Some(phi)) = diff.test_function(&unit) else {
            continue;
        };
        // Weights of the derivative side: the 8th-order difference of φ.
        let gain = derivative_weights_norm(&phi);
        let r = diff.radius();
        for (j, col) in piece.x().columns().into_iter().enumerate() {
            let values: Vec<f64> = col.iter().copied().collect();
            let sigma = noise_sigma(&values);
            if sigma <= 0.0 {
                continue;
            }
            let rows = dx.column(j);
            let m = (n - 2 * r) as f64;
            let rms = (rows
                .iter()
                .skip(r)
                .take(n - 2 * r)
                .map(|v| v * v)
                .sum::<f64>()
                / m)
                .sqrt();
            worst = worst.min(rms / (sigma * gain));
        }
    }
    worst
}

/// `‖D₈ * φ‖₂` for the padded test-function weights `phi`.
fn derivative_weights_norm(phi: &[f64]) -> f64 {
    use super::spline::D8;
    let n = phi.len();
    let at = |i: isize| -> f64 {
        if i < 0 || i as usize >= n {
            0.0
        } else {
            phi[i as usize]
        }
    };
    let mut sum = 0.0;
    for i in -4..(n as isize + 4) {
        let mut v = 0.0;
        for (k, c) in D8.iter().enumerate() {
            let k = k as isize + 1;
            v += c * (at(i - k) - at(i + k));
        }
        sum += v * v;
    }
    sum.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TimeGrid;
    use ndarray::Array2;

    fn sine(n: usize, period: f64, dt: f64, scale: f64) -> Result<Trajectory> {
        let x = Array2::from_shape_fn((n, 1), |(i, _)| {
            scale * (2.0 * std::f64::consts::PI * i as f64 / period).sin()
        });
        Trajectory::new(x, TimeGrid::uniform(0.0, dt, n)?)
    }

    #[test]
    fn auto_diff_follows_the_time_scale_not_the_units() -> Result<()> {
        // 100 samples per period: half-period 50 samples.
        let a = sine(10_000, 100.0, 0.01, 1.0)?;
        let scale = time_scale(std::slice::from_ref(&a)).ok_or(Error::Unsupported("".into()))?;
        assert!((scale - 50.0).abs() < 1.0, "{scale}");
        let b = sine(10_000, 100.0, 1e-4, 1000.0)?;
        assert_eq!(auto_diff(std::slice::from_ref(&a)), auto_diff(&[b]));
        assert!(matches!(auto_diff(&[a]), DiffConfig::WeakSpline { .. }));
        // Too short for the weak form.
        let short = sine(40, 100.0, 0.01, 1.0)?;
        assert_eq!(
            auto_diff(&[short]),
            DiffConfig::FiniteDifference { order: 4 }
        );
        Ok(())
    }

    #[test]
    fn diff_choices_parse() -> Result<()> {
        assert_eq!(DiffChoice::parse("auto")?, DiffChoice::Auto);
        assert_eq!(
            DiffChoice::parse("sg:21,3")?,
            DiffChoice::Fixed(DiffConfig::SavitzkyGolay {
                window: 21,
                polyorder: 3,
                smooth_x: true
            })
        );
        assert_eq!(
            DiffChoice::parse("weak:101")?,
            DiffChoice::Fixed(DiffConfig::Weak {
                window: 101,
                order: 4
            })
        );
        assert_eq!(
            DiffChoice::parse("spline:11")?,
            DiffChoice::Fixed(DiffConfig::WeakSpline {
                width: 11,
                boxes: 4
            })
        );
        assert!(DiffChoice::parse("sg:20,3").is_err());
        assert!(DiffChoice::parse("spline").is_err());
        Ok(())
    }
}
