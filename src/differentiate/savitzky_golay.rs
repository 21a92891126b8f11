use ndarray::{Array2, ArrayView2};

use super::{check_input, window_start, DiffConfig, Differentiator};
use crate::data::TimeGrid;
use crate::error::{Error, Result};
use crate::linalg::lstsq;

/// Savitzky–Golay smoothing and differentiation: a least-squares polynomial of degree
/// `polyorder` is fitted to the `window` samples around each point; its value is the smoothed
/// signal and its slope the derivative (Savitzky & Golay 1964; ≈ PySINDy's
/// `SmoothedFiniteDifference` with a Savitzky–Golay smoother, but differentiating the fitted
/// polynomial directly instead of finite-differencing the smoothed signal).
///
/// At the ends the polynomial of the first/last full window is used (SciPy's `mode="interp"`).
/// Non-uniform grids get a per-point fit in physical time.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `window` | — | samples per local fit | odd, `> polyorder` |
/// | `polyorder` | — | local polynomial degree | `>= 1` |
/// | `smooth_x` | `true` | SINDy builds its library from the smoothed signal | |
#[derive(Debug, Clone, PartialEq)]
pub struct SavitzkyGolay {
    window: usize,
    polyorder: usize,
    smooth_x: bool,
}

impl SavitzkyGolay {
    /// A Savitzky–Golay differentiator.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if `window` is even or not larger than `polyorder`, or
    /// `polyorder == 0`.
    pub fn new(window: usize, polyorder: usize) -> Result<Self> {
        if window.is_multiple_of(2) || window < 3 {
            return Err(Error::param("window", window, "must be odd and >= 3"));
        }
        if polyorder == 0 || polyorder >= window {
            return Err(Error::param(
                "polyorder",
                polyorder,
                format!("must be in 1..{window} (window)"),
            ));
        }
        Ok(Self {
            window,
            polyorder,
            smooth_x: true,
        })
    }

    /// Whether SINDy should build its library from the smoothed signal (default `true`).
    #[must_use]
    pub fn smooth_x(mut self, yes: bool) -> Self {
        self.smooth_x = yes;
        self
    }

    /// Window length.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Local polynomial degree.
    pub fn polyorder(&self) -> usize {
        self.polyorder
    }

    /// Rows 0 (value) and 1 (slope) of the local least-squares operator for nodes `s` (already
    /// centred on the evaluation point and scaled by `scale`).
    fn local_operator(&self, s: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
        let q = self.polyorder + 1;
        let w = s.len();
        let v = Array2::from_shape_fn((w, q), |(i, k)| s[i].powi(k as i32));
        let eye = Array2::from_shape_fn((w, w), |(i, j)| if i == j { 1.0 } else { 0.0 });
        let pinv = lstsq(v.view(), eye.view())?;
        Ok((pinv.row(0).to_vec(), pinv.row(1).to_vec()))
    }

    /// Value (`which = 0`) or derivative (`which = 1`) of the local fits.
    fn apply(&self, x: ArrayView2<'_, f64>, t: &TimeGrid, which: usize) -> Result<Array2<f64>> {
        check_input("Savitzky-Golay", x, t, self.window)?;
        let (n, d) = x.dim();
        let m = self.window;
        let half = (m / 2) as f64;
        let mut out = Array2::zeros((n, d));
        match t {
            TimeGrid::Uniform { dt, .. } => {
                let mut table = Vec::with_capacity(m);
                for pos in 0..m {
                    let s: Vec<f64> = (0..m).map(|k| (k as f64 - pos as f64) / half).collect();
                    let (v, dv) = self.local_operator(&s)?;
                    table.push(if which == 0 {
                        v
                    } else {
                        dv.into_iter().map(|c| c / (half * dt)).collect()
                    });
                }
                for i in 0..n {
                    let st = window_start(i, n, m);
                    let w = &table[i - st];
                    for j in 0..d {
                        let mut acc = 0.0;
                        for (k, wk) in w.iter().enumerate() {
                            acc += wk * x[(st + k, j)];
                        }
                        out[(i, j)] = acc;
                    }
                }
            }
            TimeGrid::Samples(ts) => {
                for i in 0..n {
                    let st = window_start(i, n, m);
                    let scale = (ts[st + m - 1] - ts[st]) / 2.0;
                    let s: Vec<f64> = ts[st..st + m]
                        .iter()
                        .map(|&tk| (tk - ts[i]) / scale)
                        .collect();
                    let (v, dv) = self.local_operator(&s)?;
                    let w = if which == 0 {
                        v
                    } else {
                        dv.into_iter().map(|c| c / scale).collect()
                    };
                    for j in 0..d {
                        out[(i, j)] = w
                            .iter()
                            .enumerate()
                            .map(|(k, wk)| wk * x[(st + k, j)])
                            .sum();
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Differentiator for SavitzkyGolay {
    fn differentiate(&self, x: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Array2<f64>> {
        self.apply(x, t, 1)
    }

    fn smooth(&self, x: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Option<Array2<f64>>> {
        if self.smooth_x {
            self.apply(x, t, 0).map(Some)
        } else {
            Ok(None)
        }
    }

    fn radius(&self) -> usize {
        self.window / 2
    }

    fn min_samples(&self) -> usize {
        self.window
    }

    fn config(&self) -> DiffConfig {
        DiffConfig::SavitzkyGolay {
            window: self.window,
            polyorder: self.polyorder,
            smooth_x: self.smooth_x,
        }
    }
}
