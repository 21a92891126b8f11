//! Numerical kernels on faer. Signatures take and return ndarray; faer types never leave this
//! module (ndarray is the crate's one public matrix type, faer its one solver).
//!
//! The central object is [`NormalEquations`]: the sufficient statistics `ΘᵀΘ`, `ΘᵀY`, `diag(YᵀY)`
//! and `n` of a least-squares problem. Building them is the only pass over the samples; every
//! sparse-regression iteration, every threshold of a sweep and every ensemble member then
//! works on `p × p` matrices. This is what makes fits fast and lets them stream over data that
//! does not fit in memory.
#![allow(clippy::disallowed_types)] // the numerical backend is used only here (ARCHITECTURE.md: kernels)

#[cfg(feature = "nn")]
pub(crate) mod gemm;
mod normal;
mod solve;
mod svd;

pub use normal::{BlockedNormalEquations, NormalEquations, REDUNDANT_TOL};
pub use solve::{lstsq, solve_spd};
pub use svd::{randomized_svd, thin_svd, ThinSvd};

use faer::{Mat, MatRef};
use ndarray::{Array2, ArrayView2};

/// Runs `f` on a faer view of `a`: zero-copy when `a` is row- or column-contiguous, a copy
/// otherwise (e.g. a strided slice).
pub(crate) fn with_faer<R>(a: ArrayView2<'_, f64>, f: impl FnOnce(MatRef<'_, f64>) -> R) -> R {
    let (n, m) = a.dim();
    if let Some(s) = a.as_slice() {
        return f(MatRef::from_row_major_slice(s, n, m));
    }
    if let Some(s) = a.t().as_slice() {
        return f(MatRef::from_column_major_slice(s, n, m));
    }
    let copy = Mat::from_fn(n, m, |i, j| a[(i, j)]);
    f(copy.as_ref())
}

/// Copies a faer matrix into an ndarray.
pub(crate) fn to_array(m: MatRef<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// `aᵀ a` through faer's (parallel) matrix product.
///
/// # Shapes
/// `a`: `(n, p)` → `(p, p)`.
pub fn gram(a: ArrayView2<'_, f64>) -> Array2<f64> {
    with_faer(a, |m| to_array((m.transpose() * m).as_ref()))
}
