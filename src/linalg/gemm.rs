//! Single-precision GEMM on row-major slices, for the gene transformer's fused CPU kernels
//! (`crate::nn::ops`). faer does the work; this is the safe, slice-based doorway to it, so
//! faer's types stay inside `linalg`.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

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

/// Products with fewer multiply-adds than this run on one thread even when `parallel`.
const PAR_MIN_MNK: usize = 1 << 20;
/// Row blocks of a parallel product: fixed (not the thread count), so results are the same on
/// any pool.
const PAR_BLOCKS: usize = 8;
/// Row blocks are multiples of this (the microkernels' row tile).
const BLOCK_ROW_QUANTUM: usize = 16;

impl<'a> Operand<'a> {
    /// Rows `r0..r0 + r` of the operand as used (after the transpose flag).
    fn op_rows(self, r0: usize, r: usize) -> Self {
        if self.trans {
            Self {
                data: &self.data[r0..],
                cols: r,
                ..self
            }
        } else {
            Self {
                data: &self.data[r0 * self.ld..],
                rows: r,
                ..self
            }
        }
    }
}

/// `C ← alpha · op(A) · op(B) + (C if accumulate else 0)`, with `C` the row-major
/// `m × n` matrix `c[i * ldc + j]` (`m`, `n` from `op(A)` rows and `op(B)` columns).
///
/// With `parallel` (for big products called from outside any rayon task), the output is
/// split into a fixed number of row blocks (of `C`, or of `Cᵀ` when `C` is wide) run as rayon
/// tasks, each a single-threaded faer GEMM; otherwise single-threaded (for many small products
/// inside rayon tasks). Each output element is computed the same way whatever the scheduling,
/// so results are deterministic. (faer's own parallel GEMM runs on a separate spinning thread
/// pool, which costs more than it gains next to rayon and candle's pools on a small machine.)
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
    check_fits("gemm_f32 operand", a.data.len(), a.rows, a.cols, a.ld)?;
    check_fits("gemm_f32 operand", b.data.len(), b.rows, b.cols, b.ld)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    let big = m.saturating_mul(n).saturating_mul(k) >= PAR_MIN_MNK;
    if !parallel || !big || m.max(n) < 2 * BLOCK_ROW_QUANTUM {
        return gemm_seq(c, ldc, a, b, alpha, accumulate);
    }
    let c = &mut c[..(m - 1) * ldc + n];
    if m >= n {
        return gemm_row_blocks(c, ldc, m, a, b, alpha, accumulate);
    }
    // Wide output: Cᵀ = op(B)ᵀ op(A)ᵀ has more rows to split; computed aside, copied back.
    let mut ct = vec![0f32; n * m];
    if accumulate {
        for (i, row) in c.chunks(ldc).enumerate() {
            for (j, &v) in row[..n].iter().enumerate() {
                ct[j * m + i] = v;
            }
        }
    }
    gemm_row_blocks(&mut ct, m, n, b.t(), a.t(), alpha, accumulate)?;
    for (i, row) in c.chunks_mut(ldc).enumerate() {
        for (j, v) in row[..n].iter_mut().enumerate() {
            *v = ct[j * m + i];
        }
    }
    Ok(())
}

/// [`gemm_f32`] over [`PAR_BLOCKS`] row blocks of `C` in parallel (`c` holds exactly the
/// `m` rows).
fn gemm_row_blocks(
    c: &mut [f32],
    ldc: usize,
    m: usize,
    a: Operand<'_>,
    b: Operand<'_>,
    alpha: f32,
    accumulate: bool,
) -> Result<()> {
    let rows = m.div_ceil(PAR_BLOCKS).next_multiple_of(BLOCK_ROW_QUANTUM);
    c.par_chunks_mut(rows * ldc)
        .enumerate()
        .try_for_each(|(i, cb)| {
            let r0 = i * rows;
            let r = rows.min(m - r0);
            gemm_seq(cb, ldc, a.op_rows(r0, r), b, alpha, accumulate)
        })
}

/// Single-threaded [`gemm_f32`] (shapes already checked).
fn gemm_seq(
    c: &mut [f32],
    ldc: usize,
    a: Operand<'_>,
    b: Operand<'_>,
    alpha: f32,
    accumulate: bool,
) -> Result<()> {
    let (m, _) = a.dims();
    let (_, n) = b.dims();
    let (a, b) = (a.view()?, b.view()?);
    // Built as the transpose of a column-major view: faer 0.24's
    // `MatMut::from_row_major_slice_with_stride_mut` swaps the two strides (it builds a
    // column-major view and writes out of place), while the column-major constructor is right.
    check_fits("gemm_f32 output", c.len(), m, n, ldc)?;
    let dst = MatMut::from_column_major_slice_with_stride_mut(c, n, m, ldc).transpose_mut();
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    matmul(dst, accum, a, b, alpha, Par::Seq);
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
        // Parallel row blocks, tall and wide outputs, against the single-threaded product.
        let big: Vec<f32> = (0..600_000)
            .map(|i| ((i * 13 % 97) as f32 - 48.0) / 50.0)
            .collect();
        for &(m, n, k, ta) in &[(700, 90, 300, false), (90, 700, 300, true)] {
            let a = Operand {
                data: &big,
                rows: if ta { k } else { m },
                cols: if ta { m } else { k },
                ld: if ta { m } else { k },
                trans: ta,
            };
            let b = Operand::dense(&big[1000..], k, n);
            let mut c1 = vec![0.5f32; m * n];
            let mut c2 = c1.clone();
            gemm_f32(&mut c1, n, a, b, 1.5, true, true).unwrap();
            gemm_f32(&mut c2, n, a, b, 1.5, true, false).unwrap();
            let err = c1
                .iter()
                .zip(&c2)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-3, "{err}");
        }
        let mut c = vec![0f32; 10];
        let a = Operand::dense(&data[..12], 3, 4);
        assert!(gemm_f32(&mut c, 4, a, a, 1.0, false, false).is_err());
    }
}
