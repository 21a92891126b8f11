use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, MatMut};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::with_faer;
use crate::error::{Error, Result};

/// Sufficient statistics of the least-squares problem `Θ Ξ ≈ Y`.
///
/// # Shapes
/// - `gram = ΘᵀΘ`: `(n_features, n_features)`
/// - `xty = ΘᵀY`: `(n_features, n_targets)`
/// - `yty = diag(YᵀY)`: `(n_targets)`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalEquations {
    /// `ΘᵀΘ`.
    pub gram: Array2<f64>,
    /// `ΘᵀY`.
    pub xty: Array2<f64>,
    /// `diag(YᵀY)`, the per-target sum of squares (for residuals without the data).
    pub yty: Array1<f64>,
    /// Number of samples summed.
    pub n_samples: usize,
}

impl NormalEquations {
    /// Zero statistics for `n_features` features and `n_targets` targets.
    pub fn zeros(n_features: usize, n_targets: usize) -> Self {
        Self {
            gram: Array2::zeros((n_features, n_features)),
            xty: Array2::zeros((n_features, n_targets)),
            yty: Array1::zeros(n_targets),
            n_samples: 0,
        }
    }

    /// Statistics of one data set.
    ///
    /// # Shapes
    /// `theta`: `(n_samples, n_features)`, `y`: `(n_samples, n_targets)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if the row counts differ.
    pub fn from_data(theta: ArrayView2<'_, f64>, y: ArrayView2<'_, f64>) -> Result<Self> {
        let mut ne = Self::zeros(theta.ncols(), y.ncols());
        ne.accumulate(theta, y)?;
        Ok(ne)
    }

    /// Number of features `p`.
    pub fn n_features(&self) -> usize {
        self.gram.nrows()
    }

    /// Number of targets.
    pub fn n_targets(&self) -> usize {
        self.xty.ncols()
    }

    /// Adds a chunk of rows: `gram += ΘᵀΘ`, `xty += ΘᵀY`, `yty += diag(YᵀY)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if the chunk's columns or rows do not match.
    pub fn accumulate(&mut self, theta: ArrayView2<'_, f64>, y: ArrayView2<'_, f64>) -> Result<()> {
        // Sequential: the callers that need threads split the rows over rayon themselves
        // (see `model::SindyStream`), with less overhead than threading each chunk's product.
        self.accumulate_par(theta, y, faer::Par::Seq)
    }

    /// [`NormalEquations::accumulate`] with explicit parallelism, e.g. faer's thread pool for
    /// one very large product.
    ///
    /// # Errors
    /// As [`NormalEquations::accumulate`].
    pub fn accumulate_par(
        &mut self,
        theta: ArrayView2<'_, f64>,
        y: ArrayView2<'_, f64>,
        par: faer::Par,
    ) -> Result<()> {
        let (p, t) = (self.n_features(), self.n_targets());
        if theta.ncols() != p || y.ncols() != t || theta.nrows() != y.nrows() {
            return Err(Error::shape(
                "NormalEquations::accumulate",
                format!("theta (n, {p}) and y (n, {t})"),
                format!("theta {:?}, y {:?}", theta.dim(), y.dim()),
            ));
        }
        if theta.nrows() == 0 {
            return Ok(());
        }
        with_faer(theta, |th| {
            if let Some(g) = self.gram.as_slice_mut() {
                let g = MatMut::from_row_major_slice_mut(g, p, p);
                if p >= 32 {
                    // ΘᵀΘ is symmetric: for wide libraries accumulate the lower triangle only
                    // (half the work), then mirror it.
                    triangular::matmul(
                        g,
                        BlockStructure::TriangularLower,
                        Accum::Add,
                        th.transpose(),
                        BlockStructure::Rectangular,
                        th,
                        BlockStructure::Rectangular,
                        1.0,
                        par,
                    );
                    mirror_lower(self.gram.as_slice_mut(), p);
                } else {
                    matmul(g, Accum::Add, th.transpose(), th, 1.0, par);
                }
            }
            with_faer(y, |yy| {
                if let Some(b) = self.xty.as_slice_mut() {
                    matmul(
                        MatMut::from_row_major_slice_mut(b, p, t),
                        Accum::Add,
                        th.transpose(),
                        yy,
                        1.0,
                        par,
                    );
                }
            });
        });
        // diag(YᵀY) through a small product (a scalar loop would serialise on the adds).
        let mut yy = faer::Mat::<f64>::zeros(t, t);
        with_faer(y, |yv| {
            matmul(yy.as_mut(), Accum::Replace, yv.transpose(), yv, 1.0, par)
        });
        for j in 0..t {
            self.yty[j] += yy[(j, j)];
        }
        self.n_samples += theta.nrows();
        Ok(())
    }

    /// Adds another set of statistics (same shapes) with weight `w`.
    pub(crate) fn add_scaled(&mut self, other: &NormalEquations, w: f64) {
        self.gram.scaled_add(w, &other.gram);
        self.xty.scaled_add(w, &other.xty);
        self.yty.scaled_add(w, &other.yty);
        self.n_samples += (w.round().max(0.0) as usize) * other.n_samples;
    }

    /// The statistics of a subset of features (library bagging, refits on a support).
    pub fn select_features(&self, features: &[usize]) -> NormalEquations {
        let k = features.len();
        NormalEquations {
            gram: Array2::from_shape_fn((k, k), |(i, j)| self.gram[(features[i], features[j])]),
            xty: Array2::from_shape_fn((k, self.n_targets()), |(i, j)| self.xty[(features[i], j)]),
            yty: self.yty.clone(),
            n_samples: self.n_samples,
        }
    }

    /// Residual sum of squares per target of coefficients `coef` (`(n_features, n_targets)`),
    /// `‖y − Θξ‖² = yᵀy − 2ξᵀΘᵀy + ξᵀΘᵀΘξ`, computed without the samples.
    pub fn rss(&self, coef: ArrayView2<'_, f64>) -> Array1<f64> {
        let gc = self.gram.dot(&coef);
        Array1::from_shape_fn(self.n_targets(), |j| {
            let c = coef.column(j);
            let v = self.yty[j] - 2.0 * c.dot(&self.xty.column(j)) + c.dot(&gc.column(j));
            v.max(0.0)
        })
    }

    /// Columns of Θ that carry nothing an earlier column does not: `(i, None)` for a column
    /// that is zero on every sample, `(i, Some(j))` for one that is a multiple of the earlier
    /// kept column `j` (a constant column beside the bias, `x·c` beside `x` when `c` is
    /// constant). Read from the Gram matrix: columns `i` and `j` are parallel exactly when
    /// `G_ij² = G_ii·G_jj` (Cauchy–Schwarz); they count as parallel when
    /// `1 − G_ij²/(G_ii·G_jj) <= REDUNDANT_TOL`, i.e. when one differs from a multiple of the
    /// other by less than about one part in a million.
    ///
    /// Left in, such columns make the normal equations singular: the minimum-norm solution
    /// spreads each coefficient over the copies, which can fall under the threshold together
    /// and wipe out a true term.
    pub fn redundant_columns(&self) -> Vec<(usize, Option<usize>)> {
        let p = self.n_features();
        let mut kept: Vec<usize> = Vec::with_capacity(p);
        let mut out = Vec::new();
        for i in 0..p {
            let gii = self.gram[(i, i)];
            if gii <= 0.0 {
                out.push((i, None));
                continue;
            }
            let dup = kept.iter().copied().find(|&j| {
                let gij = self.gram[(i, j)];
                let cos2 = gij * gij / (gii * self.gram[(j, j)]);
                1.0 - cos2 <= REDUNDANT_TOL
            });
            match dup {
                Some(j) => out.push((i, Some(j))),
                None => kept.push(i),
            }
        }
        out
    }

    /// Zeroes the rows and columns of `features` (their coefficients are then forced to
    /// zero by every optimizer, which skips zero columns).
    pub fn exclude_features(&mut self, features: &[usize]) {
        for &f in features {
            if f < self.n_features() {
                self.gram.row_mut(f).fill(0.0);
                self.gram.column_mut(f).fill(0.0);
                self.xty.row_mut(f).fill(0.0);
            }
        }
    }

    /// Root-mean-square norm of each feature column, `sqrt(diag(ΘᵀΘ)/n)`.
    pub fn column_rms(&self) -> Array1<f64> {
        let n = self.n_samples.max(1) as f64;
        self.gram.diag().mapv(|g| (g / n).max(0.0).sqrt())
    }
}

/// See [`NormalEquations::redundant_columns`]: `1 − cos²` below which two library columns
/// count as parallel. Rounding in a Gram sum over millions of samples stays near `1e-13`.
pub const REDUNDANT_TOL: f64 = 1e-12;

/// Copies the lower triangle of a row-major `p × p` matrix onto its upper triangle.
fn mirror_lower(g: Option<&mut [f64]>, p: usize) {
    if let Some(g) = g {
        for i in 0..p {
            for j in 0..i {
                g[j * p + i] = g[i * p + j];
            }
        }
    }
}

/// Normal equations kept per block of consecutive samples, plus their total.
///
/// Blocks let the ensemble bag *rows* without another pass over the data: a bootstrap of blocks
/// (a moving-block bootstrap, which also respects the autocorrelation of time series) is a
/// weighted sum of block statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedNormalEquations {
    total: NormalEquations,
    blocks: Vec<NormalEquations>,
}

impl BlockedNormalEquations {
    /// An empty set for `n_features` and `n_targets`.
    pub fn new(n_features: usize, n_targets: usize) -> Self {
        Self {
            total: NormalEquations::zeros(n_features, n_targets),
            blocks: Vec::new(),
        }
    }

    /// A single block (no row bagging possible beyond it).
    pub fn from_total(total: NormalEquations) -> Self {
        Self {
            blocks: vec![total.clone()],
            total,
        }
    }

    /// Appends a block and adds it to the total.
    ///
    /// # Errors
    /// [`Error::Shape`] if the block's shapes differ.
    pub fn push(&mut self, block: NormalEquations) -> Result<()> {
        if block.gram.dim() != self.total.gram.dim() || block.xty.dim() != self.total.xty.dim() {
            return Err(Error::shape(
                "BlockedNormalEquations::push",
                format!("{:?} / {:?}", self.total.gram.dim(), self.total.xty.dim()),
                format!("{:?} / {:?}", block.gram.dim(), block.xty.dim()),
            ));
        }
        self.total.add_scaled(&block, 1.0);
        self.blocks.push(block);
        Ok(())
    }

    /// The totals over all blocks.
    pub fn total(&self) -> &NormalEquations {
        &self.total
    }

    /// The blocks.
    pub fn blocks(&self) -> &[NormalEquations] {
        &self.blocks
    }

    /// [`NormalEquations::exclude_features`] on the total and every block.
    pub fn exclude_features(&mut self, features: &[usize]) {
        self.total.exclude_features(features);
        for b in &mut self.blocks {
            b.exclude_features(features);
        }
    }

    /// Weighted sum of blocks (`weights.len() == blocks().len()`), e.g. bootstrap counts.
    pub fn weighted(&self, weights: &[f64]) -> NormalEquations {
        let mut out = NormalEquations::zeros(self.total.n_features(), self.total.n_targets());
        for (b, &w) in self.blocks.iter().zip(weights) {
            if w != 0.0 {
                out.add_scaled(b, w);
            }
        }
        out
    }
}
