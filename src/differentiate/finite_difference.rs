use ndarray::{Array2, ArrayView2};

use super::weights::first_derivative_weights;
use super::{check_input, window_start, DiffConfig, Differentiator};
use crate::data::TimeGrid;
use crate::error::{Error, Result};

/// Finite differences of accuracy order 2 or 4 (≈ `pysindy.FiniteDifference(order=…)`).
///
/// Interior samples use the centred `order + 1`-point stencil; the first and last `order / 2`
/// samples use one-sided stencils of the same order (never NaN). Non-uniform grids get
/// per-point Fornberg weights, so the order holds on any grid.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `order` | 4 | accuracy order | 2 or 4 |
///
/// # Example
/// ```
/// use cellsindy::differentiate::{Differentiator, FiniteDifference};
/// use cellsindy::data::TimeGrid;
/// let t = TimeGrid::uniform(0.0, 0.1, 20)?;
/// let x = ndarray::Array2::from_shape_fn((20, 1), |(i, _)| (0.1 * i as f64).powi(3));
/// let dx = FiniteDifference::new(4)?.differentiate(x.view(), &t)?;
/// assert!((dx[(10, 0)] - 3.0).abs() < 1e-10); // exact on cubics
/// # Ok::<(), cellsindy::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FiniteDifference {
    order: usize,
}

impl Default for FiniteDifference {
    fn default() -> Self {
        Self { order: 4 }
    }
}

impl FiniteDifference {
    /// A finite-difference differentiator of the given accuracy order.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `order` is 2 or 4.
    pub fn new(order: usize) -> Result<Self> {
        if order != 2 && order != 4 {
            return Err(Error::param(
                "order",
                order,
                "finite differences support order 2 or 4",
            ));
        }
        Ok(Self { order })
    }

    /// The accuracy order.
    pub fn order(&self) -> usize {
        self.order
    }
}

impl Differentiator for FiniteDifference {
    fn differentiate(&self, x: ArrayView2<'_, f64>, t: &TimeGrid) -> Result<Array2<f64>> {
        let m = self.order + 1;
        check_input("finite difference", x, t, m)?;
        let (n, d) = x.dim();
        let mut out = Array2::zeros((n, d));
        match t {
            TimeGrid::Uniform { dt, .. } => {
                // One weight set per position of the sample inside its window.
                let nodes: Vec<f64> = (0..m).map(|k| k as f64).collect();
                let table: Vec<Vec<f64>> = (0..m)
                    .map(|pos| {
                        first_derivative_weights(pos as f64, &nodes)
                            .into_iter()
                            .map(|w| w / dt)
                            .collect()
                    })
                    .collect();
                // Column by column over contiguous copies: the interior loop is a fixed-width
                // stencil the compiler vectorises.
                let half = m / 2;
                let centre = &table[half];
                match (x.as_slice(), out.as_slice_mut()) {
                    // Row-major data: the interior stencil is `m` shifted axpys over the flat
                    // array (stride d), each a contiguous, vectorised pass.
                    (Some(xs), Some(os)) => {
                        let (lo, hi) = (half * d, (n - half) * d);
                        let interior = &mut os[lo..hi];
                        // Long inputs: two halves on two threads (disjoint outputs).
                        if interior.len() >= 200_000 {
                            let mid = interior.len() / 2;
                            let (a, b) = interior.split_at_mut(mid);
                            rayon::join(
                                || stencil_axpy(centre, d, xs, 0, a),
                                || stencil_axpy(centre, d, xs, mid, b),
                            );
                        } else {
                            stencil_axpy(centre, d, xs, 0, interior);
                        }
                    }
                    _ => {
                        for i in half..n - half {
                            for j in 0..d {
                                out[(i, j)] = centre
                                    .iter()
                                    .enumerate()
                                    .map(|(k, w)| w * x[(i + k - half, j)])
                                    .sum();
                            }
                        }
                    }
                }
                for i in (0..half).chain(n - half..n) {
                    let s = window_start(i, n, m);
                    let w = &table[i - s];
                    for j in 0..d {
                        out[(i, j)] = w.iter().enumerate().map(|(k, wk)| wk * x[(s + k, j)]).sum();
                    }
                }
            }
            TimeGrid::Samples(ts) => {
                for i in 0..n {
                    let s = window_start(i, n, m);
                    let w = first_derivative_weights(ts[i], &ts[s..s + m]);
                    for j in 0..d {
                        out[(i, j)] = w.iter().enumerate().map(|(k, wk)| wk * x[(s + k, j)]).sum();
                    }
                }
            }
        }
        Ok(out)
    }

    fn radius(&self) -> usize {
        self.order / 2
    }

    fn min_samples(&self) -> usize {
        self.order + 1
    }

    fn config(&self) -> DiffConfig {
        DiffConfig::FiniteDifference { order: self.order }
    }
}

/// `out[q] += Σ_k w_k · xs[offset + q + k·d]`: the centred stencil on a row-major array
/// (stride `d`) as one contiguous, vectorised pass per weight.
fn stencil_axpy(w: &[f64], d: usize, xs: &[f64], offset: usize, out: &mut [f64]) {
    let len = out.len();
    for (k, wk) in w.iter().enumerate() {
        let src = &xs[offset + k * d..offset + k * d + len];
        for (o, v) in out.iter_mut().zip(src) {
            *o += wk * v;
        }
    }
}
