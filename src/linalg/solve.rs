use faer::prelude::SolveLstsq;
use faer::{Mat, Side};
use ndarray::{Array2, ArrayView2};

use super::{to_array, with_faer};
use crate::error::{Error, Result};

/// Solves `(A + ridge·I) X = B` for symmetric positive semi-definite `A`.
///
/// The system is first equilibrated (`D A D` with `D = diag(A)^{-1/2}`), which is exact in
/// arithmetic and makes monomial libraries (columns spanning many orders of magnitude) solvable
/// by Cholesky. If Cholesky still fails, a pseudo-inverse through the symmetric eigensolver
/// (eigenvalues below `1e-13·λ_max` dropped) is used, so rank-deficient supports give the
/// minimum-norm solution instead of an error.
///
/// # Shapes
/// `a`: `(p, p)`, `b`: `(p, t)` → `(p, t)`.
///
/// # Errors
/// [`Error::Shape`] on mismatched shapes, [`Error::Linalg`] if `A` has a non-finite entry, a
/// negative diagonal or the eigensolver fails.
pub fn solve_spd(
    a: ArrayView2<'_, f64>,
    b: ArrayView2<'_, f64>,
    ridge: f64,
) -> Result<Array2<f64>> {
    let p = a.nrows();
    if a.ncols() != p || b.nrows() != p {
        return Err(Error::shape(
            "solve_spd",
            format!("a ({p}, {p}) and b ({p}, t)"),
            format!("a {:?}, b {:?}", a.dim(), b.dim()),
        ));
    }
    if p == 0 {
        return Ok(Array2::zeros((0, b.ncols())));
    }
    let mut d = vec![0.0; p];
    for i in 0..p {
        let aii = a[(i, i)] + ridge;
        if !aii.is_finite() || aii < 0.0 {
            return Err(Error::Linalg(format!(
                "normal matrix has invalid diagonal entry {aii} at {i}"
            )));
        }
        d[i] = if aii > 0.0 { 1.0 / aii.sqrt() } else { 1.0 };
    }
    let scaled = Mat::from_fn(p, p, |i, j| {
        let v = if i == j { a[(i, j)] + ridge } else { a[(i, j)] };
        d[i] * v * d[j]
    });
    let rhs = Mat::from_fn(p, b.ncols(), |i, j| d[i] * b[(i, j)]);
    let sol = cholesky_solve(&scaled, &rhs);
    let sol = match sol {
        Some(s) => s,
        None => pseudo_solve(&scaled, &rhs)?,
    };
    Ok(Array2::from_shape_fn((p, b.ncols()), |(i, j)| {
        d[i] * sol[(i, j)]
    }))
}

/// Cholesky solve with explicit parallelism: these systems are `p × p` with `p` at most a few
/// hundred, where dispatching to a thread pool costs more than the factorisation.
fn cholesky_solve(a: &Mat<f64>, b: &Mat<f64>) -> Option<Mat<f64>> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::{factor, solve};
    let p = a.nrows();
    let par = if p >= 256 {
        faer::get_global_parallelism()
    } else {
        faer::Par::Seq
    };
    let mut l = a.clone();
    let mut buf = MemBuffer::new(factor::cholesky_in_place_scratch::<f64>(
        p,
        par,
        Default::default(),
    ));
    factor::cholesky_in_place(
        l.as_mut(),
        Default::default(),
        par,
        MemStack::new(&mut buf),
        Default::default(),
    )
    .ok()?;
    let mut x = b.clone();
    let mut buf = MemBuffer::new(solve::solve_in_place_scratch::<f64>(p, b.ncols(), par));
    solve::solve_in_place(l.as_ref(), x.as_mut(), par, MemStack::new(&mut buf));
    let finite = x.col_iter().all(|c| c.iter().all(|v| v.is_finite()));
    finite.then_some(x)
}

fn pseudo_solve(a: &Mat<f64>, b: &Mat<f64>) -> Result<Mat<f64>> {
    let eig = a
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::Linalg(format!("symmetric eigensolver failed: {e:?}")))?;
    let u = eig.U();
    let s = eig.S().column_vector();
    let p = a.nrows();
    let smax = (0..p).map(|i| s[i].abs()).fold(0.0, f64::max);
    let cut = smax * 1e-13;
    // x = U diag(1/s) Uᵀ b over the kept eigenpairs.
    let utb = u.transpose() * b;
    let mut scaled = utb;
    for i in 0..p {
        let inv = if s[i] > cut { 1.0 / s[i] } else { 0.0 };
        for j in 0..scaled.ncols() {
            scaled[(i, j)] *= inv;
        }
    }
    Ok(u * scaled)
}

/// Least squares `min ‖A X − B‖` by column-pivoted QR (for tall `A`).
///
/// # Shapes
/// `a`: `(n, p)` with `n >= p`, `b`: `(n, t)` → `(p, t)`.
///
/// # Errors
/// [`Error::Shape`] if shapes disagree or `n < p`, [`Error::Linalg`] if the result is not finite
/// (rank-deficient `A`).
pub fn lstsq(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
    let (n, p) = a.dim();
    if b.nrows() != n || n < p {
        return Err(Error::shape(
            "lstsq",
            format!("a (n, p) with n >= p and b ({n}, t)"),
            format!("a {:?}, b {:?}", a.dim(), b.dim()),
        ));
    }
    let x = with_faer(a, |a| {
        with_faer(b, |b| {
            let qr = a.col_piv_qr();
            to_array(qr.solve_lstsq(b).as_ref())
        })
    });
    if x.iter().all(|v| v.is_finite()) {
        Ok(x)
    } else {
        Err(Error::Linalg(
            "least squares: matrix is rank deficient".into(),
        ))
    }
}
