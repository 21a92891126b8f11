use ndarray::{Array2, ArrayView2};

use super::{check_input, DiffConfig, Differentiator};
use crate::data::TimeGrid;
use crate::error::{Error, Result};

/// The weak form with a B-spline test function, computed by running sums: `O(n)` per column
/// whatever the window, where [`super::WeakForm`]'s explicit integral costs `O(n · window)`.
///
/// The test function `φ` is `boxes` box filters of `width` samples convolved together (a
/// discrete B-spline of degree `boxes − 1`, unit sum, `boxes·(width − 1) + 1` samples wide).
/// Convolving with a box is a running sum, so both sides of `φ * ẋ = (φ * Θ(x)) Ξ` cost a few
/// additions per sample and feature. The left side is taken as the 8th-order central
/// difference of the smoothed signal `φ * x`: convolution commutes with differentiation, and
/// `φ * x` is smooth, so the only error is the difference's truncation error on a smooth
/// signal (`O(dt⁸)`), while noise is averaged over the window. As with every weak form, the
/// library is integrated against the same `φ` (no smoothing bias enters a nonlinear term).
///
/// Rows are the samples with a full window (the first and last [`Differentiator::radius`]
/// samples of a trajectory give none). Uniform grids only.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `width` | — | samples per box | odd, `>= 3` |
/// | `boxes` | 4 | boxes convolved (smoothness of `φ`) | `>= 2` |
#[derive(Debug, Clone, PartialEq)]
pub struct WeakSpline {
    width: usize,
    boxes: usize,
}

/// Boxes of the test function [`super::DiffChoice::Auto`] uses.
pub const SPLINE_BOXES: usize = 4;

/// Central first-derivative weights of order 8, for offsets `1..=4` (antisymmetric).
pub(crate) const D8: [f64; 4] = [4.0 / 5.0, -1.0 / 5.0, 4.0 / 105.0, -1.0 / 280.0];

/// Outputs between exact re-summations of a running sum (bounds the rounding drift).
const RESUM: usize = 1024;

impl WeakSpline {
    /// A B-spline weak form of `boxes` boxes of `width` samples.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an even or too small width, or fewer than 2 boxes.
    pub fn new(width: usize, boxes: usize) -> Result<Self> {
        if width.is_multiple_of(2) || width < 3 {
            return Err(Error::param("width", width, "must be odd and >= 3"));
        }
        if boxes < 2 {
            return Err(Error::param(
                "boxes",
                boxes,
                "must be >= 2 (the test function must vanish at its ends)",
            ));
        }
        Ok(Self { width, boxes })
    }

    /// Half-width of the test function itself (without the difference stencil).
    fn phi_radius(&self) -> usize {
        self.boxes * (self.width - 1) / 2
    }

    fn uniform_dt(t: &TimeGrid) -> Result<f64> {
        t.uniform_dt()
            .ok_or_else(|| Error::Unsupported("the weak form needs a uniform time grid".into()))
    }

    /// `φ * x` for every column; rows without a full window are zero.
    fn smooth_columns(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let (n, d) = x.dim();
        let mut out = Array2::zeros((n, d));
        let r = self.phi_radius();
        if n < 2 * r + 1 || d == 0 {
            return out;
        }
        // Row-major running sums: each step adds and subtracts whole rows, which vectorises
        // over the columns (a library has tens of them) and reads memory in order.
        let mut a = x
            .as_standard_layout()
            .into_owned()
            .into_raw_vec_and_offset()
            .0;
        let mut b = Vec::with_capacity(a.len());
        for _ in 0..self.boxes {
            box_mean_rows(&a, d, self.width, &mut b);
            std::mem::swap(&mut a, &mut b);
        }
        if let Some(dst) = out.as_slice_mut() {
            dst[r * d..r * d + a.len()].copy_from_slice(&a);
        }
        out
    }
}

/// Rows of `out` (row-major, `d` columns) are the means of `w` consecutive rows of `src`, by
/// a running sum re-summed exactly every [`RESUM`] rows so rounding cannot drift over millions
/// of samples.
fn box_mean_rows(src: &[f64], d: usize, w: usize, out: &mut Vec<f64>) {
    out.clear();
    let rows = src.len() / d;
    if rows < w {
        return;
    }
    let m = rows - w + 1;
    out.resize(m * d, 0.0);
    let inv = 1.0 / w as f64;
    let mut sum = vec![0.0; d];
    for (i, dst) in out.chunks_exact_mut(d).enumerate() {
        if i % RESUM == 0 {
            sum.iter_mut().for_each(|s| *s = 0.0);
            for row in src[i * d..(i + w) * d].chunks_exact(d) {
                sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        } else {
            let add = &src[(i + w - 1) * d..(i + w) * d];
            let sub = &src[(i - 1) * d..i * d];
            for ((s, a), b) in sum.iter_mut().zip(add).zip(sub) {
                *s += a - b;
            }
        }
        for (o, s) in dst.iter_mut().zip(&sum) {
            *o = s * inv;
        }
    }
}

impl Differentiator for WeakSpline {
    /// `(φ * x)'` by the 8th-order central difference (zero on rows without a full window).
    fn differentiate(&self, x: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Array2<f64>> {
        check_input("weak form (B-spline)", x, t, self.min_samples())?;
        let dt = Self::uniform_dt(t)?;
        let smooth = self.smooth_columns(x);
        let (n, d) = x.dim();
        let r = self.radius();
        let mut out = Array2::zeros((n, d));
        for i in r..n - r {
            for j in 0..d {
                let mut v = 0.0;
                for (k, c) in D8.iter().enumerate() {
                    v += c * (smooth[(i + k + 1, j)] - smooth[(i - k - 1, j)]);
                }
                out[(i, j)] = v / dt;
            }
        }
        Ok(out)
    }

    fn radius(&self) -> usize {
        self.phi_radius() + D8.len()
    }

    fn min_samples(&self) -> usize {
        2 * self.radius() + 1
    }

    fn config(&self) -> DiffConfig {
        DiffConfig::WeakSpline {
            width: self.width,
            boxes: self.boxes,
        }
    }

    /// `φ`'s weights, padded with zeros to `2·radius + 1` (the difference stencil's margin).
    fn test_function(&self, t: &TimeGrid) -> Result<Option<Vec<f64>>> {
        Self::uniform_dt(t)?;
        let mut phi = vec![1.0];
        let inv = 1.0 / self.width as f64;
        for _ in 0..self.boxes {
            let mut next = vec![0.0; phi.len() + self.width - 1];
            for (i, v) in phi.iter().enumerate() {
                for slot in &mut next[i..i + self.width] {
                    *slot += v * inv;
                }
            }
            phi = next;
        }
        let pad = vec![0.0; D8.len()];
        Ok(Some([pad.clone(), phi, pad].concat()))
    }

    fn weak_integrate(&self, theta: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Array2<f64>> {
        Self::uniform_dt(t)?;
        Ok(self.smooth_columns(theta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::differentiate::convolve_rows;

    #[test]
    fn running_sums_match_the_explicit_convolution() -> Result<()> {
        let n = 3000;
        let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i as f64) * 0.013 * (j + 1) as f64).sin());
        let t = TimeGrid::uniform(0.0, 0.01, n)?;
        let w = WeakSpline::new(9, 4)?;
        let phi = w
            .test_function(&t)?
            .ok_or(Error::Unsupported("phi".into()))?;
        let fast = w.weak_integrate(x.view(), &t)?;
        let slow = convolve_rows(x.view(), &phi);
        let r = w.radius();
        for i in r..n - r {
            for j in 0..2 {
                assert!((fast[(i, j)] - slow[(i, j)]).abs() < 1e-12);
            }
        }
        // The derivative side matches φ * ẋ for a smooth signal.
        let dx = w.differentiate(x.view(), &t)?;
        let exact = Array2::from_shape_fn((n, 2), |(i, j)| {
            let f = 0.013 * (j + 1) as f64 / 0.01;
            f * ((i as f64) * 0.013 * (j + 1) as f64).cos()
        });
        let conv = convolve_rows(exact.view(), &phi);
        for i in r..n - r {
            for j in 0..2 {
                assert!((dx[(i, j)] - conv[(i, j)]).abs() < 1e-9, "{i} {j}");
            }
        }
        Ok(())
    }
}
