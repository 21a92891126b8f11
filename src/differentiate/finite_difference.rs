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
                let mut col = vec![0.0; n];
                let mut res = vec![0.0; n];
                for j in 0..d {
                    col.iter_mut().zip(x.column(j)).for_each(|(a, b)| *a = *b);
                    match m {
                        3 => interior::<3>(&col, centre, &mut res[half..]),
                        _ => interior::<5>(&col, centre, &mut res[half..]),
                    }
                    for i in (0..half).chain(n - half..n) {
                        let s = window_start(i, n, m);
                        let w = &table[i - s];
                        res[i] = w.iter().zip(&col[s..s + m]).map(|(a, b)| a * b).sum();
                    }
                    out.column_mut(j)
                        .iter_mut()
                        .zip(&res)
                        .for_each(|(a, b)| *a = *b);
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

/// The centred stencil over the interior, with the width known at compile time so the loop
/// unrolls and vectorises.
fn interior<const M: usize>(col: &[f64], w: &[f64], out: &mut [f64]) {
    let mut wk = [0.0; M];
    wk.copy_from_slice(&w[..M]);
    for (o, win) in out.iter_mut().zip(col.windows(M)) {
        let mut acc = 0.0;
        for k in 0..M {
            acc += wk[k] * win[k];
        }
        *o = acc;
    }
}
