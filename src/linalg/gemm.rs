//! Single-precision GEMM on row-major slices, for the gene transformer's fused CPU kernels
//! (`crate::nn::ops`). faer does the work; this is the safe, slice-based doorway to it, so
//! faer's types stay inside `linalg`.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::error::{Error, Result};

/// A read-only row-major matrix inside a slice: element `(i, j)` of the *stored* matrix is
/// `data[i * ld + j]`, for `i < rows`, `j < cols`. With `trans`, the GEMM uses its transpose
/// (`cols × rows`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operand<'a> {
    /// The values (the matrix starts at `data[0]`).
    pub data: &'a [f32],
    /// Stored rows.
    pub rows: usize,
    /// Stored columns.
    pub cols: usize,
    /// Distance between the starts of two stored rows (`≥ cols`).
    pub ld: usize,
    /// Use the transpose.
    pub trans: bool,
}

impl<'a> Operand<'a> {
    /// A dense row-major `rows × cols` matrix (`ld = cols`), not transposed.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            ld: cols,
            trans: false,
        }
    }

    /// The same matrix, transposed.
    pub fn t(self) -> Self {
        Self {
            trans: !self.trans,
            ..self
        }
    }

    /// Rows and columns of the operand as used (after the transpose flag).
    fn dims(&self) -> (usize, usize) {
        if self.trans {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    fn view(&self) -> Result<MatRef<'a, f32>> {
        check_fits(
            "gemm_f32 operand",
            self.data.len(),
            self.rows,
            self.cols,
            self.ld,
        )?;
        // (The transpose of a column-major view, as for the output in `gemm_f32`.)
        let m =
            MatRef::from_column_major_slice_with_stride(self.data, self.cols, self.rows, self.ld)
                .transpose();
        Ok(if self.trans { m.transpose() } else { m })
    }
}

/// `rows × cols` with row stride `ld` fits in `len` values without rows overlapping.
fn check_fits(what: &'static str, len: usize, rows: usize, cols: usize, ld: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let need = (rows - 1).checked_mul(ld).and_then(|v| v.checked_add(cols));
    match need {
        Some(need) if need <= len && (rows == 1 || ld >= cols) => Ok(()),
        _ => Err(Error::shape(
            what,
            format!("{rows} × {cols} with row stride {ld}"),
            format!("{len} values"),
        )),
    }
}

/// `C ← alpha · op(A) · op(B) + (C if accumulate else 0)`, with `C` the row-major
/// `m × n` matrix `c[i * ldc + j]` (`m`, `n` from `op(A)` rows and `op(B)` columns).
///
/// `parallel` runs faer on the rayon pool (for big products called from outside any rayon
/// task); otherwise single-threaded (for many small products inside rayon tasks). Results do
/// not depend on scheduling: faer splits the output, never the inner dimension, across threads.
///
/// # Errors
/// [`Error::Shape`] if the inner dimensions differ or a matrix does not fit its slice.
pub(crate) fn gemm_f32(
    c: &mut [f32],
    ldc: usize,
    a: Operand<'_>,
    b: Operand<'_>,
    alpha: f32,
    accumulate: bool,
    parallel: bool,
) -> Result<()> {
    let (m, k) = a.dims();
    let (k2, n) = b.dims();
    if k != k2 {
        return Err(Error::shape(
            "gemm_f32",
            format!("op(B) with {k} rows"),
            format!("{k2} rows"),
        ));
    }
    check_fits("gemm_f32 output", c.len(), m, n, ldc)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    let (a, b) = (a.view()?, b.view()?);
    // Built as the transpose of a column-major view: faer 0.24's
    // `MatMut::from_row_major_slice_with_stride_mut` swaps the two strides (it builds a
    // column-major view and writes out of place), while the column-major constructor is right.
    let dst = MatMut::from_column_major_slice_with_stride_mut(c, n, m, ldc).transpose_mut();
    let par = if parallel { Par::rayon(0) } else { Par::Seq };
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    matmul(dst, accum, a, b, alpha, par);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: Operand<'_>, b: Operand<'_>) -> Vec<f32> {
        let (m, k) = a.dims();
        let (_, n) = b.dims();
        let at = |o: &Operand<'_>, i: usize, j: usize| {
            if o.trans {
                o.data[j * o.ld + i]
            } else {
                o.data[i * o.ld + j]
            }
        };
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(&a, i, p) * at(&b, p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn gemm_matches_naive_with_strides_and_transposes() {
        let data: Vec<f32> = (0..4000)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        for &(ta, tb) in &[(false, false), (true, false), (false, true), (true, true)] {
            let (m, k, n) = (33, 21, 40);
            let a = Operand {
                data: &data[5..],
                rows: if ta { k } else { m },
                cols: if ta { m } else { k },
                ld: 50,
                trans: ta,
            };
            let b = Operand {
                data: &data[7..],
                rows: if tb { n } else { k },
                cols: if tb { k } else { n },
                ld: 60,
                trans: tb,
            };
            let want = naive(a, b);
            let mut c = vec![1f32; m * 45];
            gemm_f32(&mut c, 45, a, b, 2.0, true, true).unwrap();
            for i in 0..m {
                for j in 0..n {
                    let w = 1.0 + 2.0 * want[i * n + j];
                    assert!((c[i * 45 + j] - w).abs() < 1e-3 * (1.0 + w.abs()));
                }
            }
            gemm_f32(&mut c, 45, a, b, 1.0, false, false).unwrap();
            assert!((c[3 * 45 + 4] - want[3 * n + 4]).abs() < 1e-3);
        }
        let mut c = vec![0f32; 10];
        let a = Operand::dense(&data[..12], 3, 4);
        assert!(gemm_f32(&mut c, 4, a, a, 1.0, false, false).is_err());
    }
}
