use ndarray::{Array2, ArrayView2};

use super::{check_input, DiffConfig, Differentiator};
use crate::data::TimeGrid;
use crate::error::{Error, Result};

/// The weak (integral) formulation of SINDy (Messenger & Bortz 2021; ≈ PySINDy's weak
/// library): instead of differentiating noisy samples, both sides of `ẋ = Θ(x) Ξ` are
/// integrated against a smooth bump `φ` centred on each sample,
/// `∫ φ ẋ dt = −∫ φ' x dt = (∫ φ Θ(x) dt) Ξ`.
///
/// No derivative of data is ever taken, and no smoothing bias enters the library (the
/// identity is exact; only quadrature error remains, tiny because `φ` vanishes smoothly at its
/// ends). Noise is averaged over the `window` samples of `φ`. Rows are the samples whose window
/// lies inside the trajectory (the first and last `window / 2` samples give no row).
///
/// `φ(s) = (1 − s²)^order` on `s ∈ [−1, 1]`, normalised to unit integral. Uniform grids only.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `window` | — | samples under each test function | odd, `>= 5` |
/// | `order` | 4 | smoothness of the test function | `>= 2` |
#[derive(Debug, Clone, PartialEq)]
pub struct WeakForm {
    window: usize,
    order: u32,
}

impl WeakForm {
    /// A weak formulation with test functions spanning `window` samples.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an even or too small window, or `order < 2`.
    pub fn new(window: usize, order: u32) -> Result<Self> {
        if window.is_multiple_of(2) || window < 5 {
            return Err(Error::param("window", window, "must be odd and >= 5"));
        }
        if order < 2 {
            return Err(Error::param(
                "order",
                order,
                "must be >= 2 (φ' must vanish at the ends)",
            ));
        }
        Ok(Self { window, order })
    }

    /// `(φ_k dt, −φ'_k dt)` for the window's samples, `k = 0..window`.
    fn kernels(&self, dt: f64) -> (Vec<f64>, Vec<f64>) {
        let r = (self.window / 2) as f64;
        let q = f64::from(self.order);
        let s: Vec<f64> = (0..self.window).map(|k| (k as f64 - r) / r).collect();
        let raw: Vec<f64> = s.iter().map(|s| (1.0 - s * s).max(0.0).powf(q)).collect();
        let norm: f64 = raw.iter().sum();
        let phi: Vec<f64> = raw.iter().map(|v| v / norm).collect();
        // dφ/dt = dφ/ds / (r dt); the dt of the quadrature cancels it.
        let dphi: Vec<f64> = s
            .iter()
            .map(|s| {
                let d = -2.0 * q * s * (1.0 - s * s).max(0.0).powf(q - 1.0) / norm;
                -d / (r * dt)
            })
            .collect();
        (phi, dphi)
    }

    fn uniform_dt(&self, t: &TimeGrid) -> Result<f64> {
        t.uniform_dt()
            .ok_or_else(|| Error::Unsupported("the weak form needs a uniform time grid".into()))
    }
}

/// Applies a centred kernel along rows; rows without a full window are zero.
pub(crate) fn convolve_rows(x: ArrayView2<'_, f64>, kernel: &[f64]) -> Array2<f64> {
    let (n, d) = x.dim();
    let m = kernel.len();
    let r = m / 2;
    let mut out = Array2::zeros((n, d));
    if n < m {
        return out;
    }
    for i in r..n - r {
        let mut row = out.row_mut(i);
        for (k, &w) in kernel.iter().enumerate() {
            if w == 0.0 {
                continue;
            }
            let src = x.row(i + k - r);
            row.scaled_add(w, &src);
        }
    }
    out
}

impl Differentiator for WeakForm {
    /// `∫ φ ẋ dt` centred on each sample (zero on the rows without a full window).
    fn differentiate(&self, x: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Array2<f64>> {
        check_input("weak form", x, t, self.window)?;
        let (_, dphi) = self.kernels(self.uniform_dt(t)?);
        Ok(convolve_rows(x, &dphi))
    }

    fn radius(&self) -> usize {
        self.window / 2
    }

    fn min_samples(&self) -> usize {
        self.window
    }

    fn config(&self) -> DiffConfig {
        DiffConfig::Weak {
            window: self.window,
            order: self.order,
        }
    }

    fn test_function(&self, t: &TimeGrid) -> Result<Option<Vec<f64>>> {
        Ok(Some(self.kernels(self.uniform_dt(t)?).0))
    }
}
