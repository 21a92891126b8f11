//! Streaming an `.h5ad` in blocks of cells.

use std::path::{Path, PathBuf};

use hdf5_pure::File;
use ndarray::Array2;

use super::dataframe::read_frame;
use super::decode::{read_indptr, Column, Indices, ValuesF32};
use super::read::{chosen, genes_of, open, scaled_matrix, Matrix, Storage};
use crate::error::{Error, Result};
use crate::expression::io::{CellChunk, CellChunks, MatrixChoice, ReadOptions};
use crate::expression::{check_unique, CsrMatrix, GeneTable, Values};

/// Iterates over an `.h5ad` file in blocks of at most `chunk_cells` cells.
///
/// [`open`](Self::open) reads the chosen matrix's row pointer ([`ReadOptions::matrix`]: `X`,
/// `.raw` or a layer), the cell ids and the genes; each chunk then reads only its rows' slices
/// of `data` and `indices` (or its rows of a dense matrix), so memory stays at one chunk plus
/// the index. A CSC matrix is the exception: it cannot be sliced by cells and is read whole
/// (and converted to CSR) at `open`. `obs` columns and `raw` are not streamed.
///
/// After an error the iterator ends.
pub struct H5adChunks {
    path: PathBuf,
    genes: GeneTable,
    cells: Vec<String>,
    chunk_cells: usize,
    next: usize,
    source: RowSource,
    /// The matrix read (for messages).
    matrix: MatrixChoice,
    /// Keeps the file open for the datasets' lifetime.
    _file: File,
}

/// Where a matrix's rows come from (one per reader: size does not matter).
#[allow(clippy::large_enum_variant)]
pub(super) enum RowSource {
    /// CSR: the row pointer is in memory, values and indices are read per chunk.
    Sparse {
        data: Column,
        indices: Column,
        indptr: Vec<usize>,
        n_cols: usize,
    },
    /// A dense 2-D dataset, read by rows.
    Dense { col: Column, n_cols: usize },
    /// A CSC matrix, read whole and converted.
    Memory(CsrMatrix),
}

impl std::fmt::Debug for H5adChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H5adChunks")
            .field("path", &self.path)
            .field("n_cells", &self.cells.len())
            .field("n_genes", &self.genes.len())
            .field("chunk_cells", &self.chunk_cells)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl H5adChunks {
    /// Opens the file and reads its index: `X/indptr`, cell ids and genes.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `chunk_cells == 0`; otherwise as
    /// [`read_h5ad`](super::read_h5ad) for the parts read here (a bad value inside a chunk is
    /// reported by that chunk).
    pub fn open(path: &Path, chunk_cells: usize, opts: &ReadOptions) -> Result<Self> {
        if chunk_cells == 0 {
            return Err(Error::param("chunk_cells", 0, "must be at least 1"));
        }
        let (file, src) = open(path)?;
        let (xname, varname) = chosen(&file, path, &opts.matrix)?;
        let x = Matrix::locate(&file, &src, path, &xname)?;
        let obs = read_frame(&file, path, "obs")?;
        let var = read_frame(&file, path, &varname)?;
        let genes = genes_of(path, &xname, &x, obs.index.len(), var, &varname, opts)?;
        check_unique(
            "gene",
            &genes.symbols,
            "; gene symbols must be unique (read with make_unique)",
        )?;
        check_unique("cell", &obs.index, "")?;
        let source = match RowSource::new(x, path)? {
            // Read whole already: checked once here, not per chunk.
            RowSource::Memory(m) => {
                let values = Values::Sparse(m);
                values
                    .check_counts("expression values")
                    .map_err(|e| explain_negative(e, path, &opts.matrix))?;
                RowSource::Memory(values.to_sparse_owned())
            }
            other => other,
        };
        Ok(H5adChunks {
            path: path.to_path_buf(),
            genes,
            cells: obs.index,
            chunk_cells,
            next: 0,
            source,
            matrix: opts.matrix.clone(),
            _file: file,
        })
    }

    /// Cells `start..end` as CSR, checked.
    fn read_chunk(&self, start: usize, end: usize) -> Result<CsrMatrix> {
        let m = self.source.rows(&self.path, start, end)?;
        if matches!(self.source, RowSource::Memory(_)) {
            return Ok(m);
        }
        let values = Values::Sparse(m);
        values
            .check_counts("expression values")
            .map_err(|e| explain_negative(shift_rows(e, start), &self.path, &self.matrix))?;
        Ok(values.to_sparse_owned())
    }
}

impl RowSource {
    /// A row reader for `x`: CSR reads its row pointer now, dense nothing, and CSC (which
    /// cannot be sliced by cells) is read whole and converted.
    pub(super) fn new(x: Matrix, path: &Path) -> Result<Self> {
        let (n_rows, n_cols, file_len) = (x.n_rows, x.n_cols, x.file_len);
        Ok(match x.storage {
            Storage::Sparse { csc: true, .. } => {
                RowSource::Memory(x.read(path, true)?.to_sparse_owned())
            }
            Storage::Sparse {
                csc: false,
                data,
                indices,
                indptr,
                nnz,
            } => {
                let what = format!("{}/indptr", x.name);
                RowSource::Sparse {
                    indptr: read_indptr(&indptr, file_len, path, &what, n_rows, nnz)?,
                    data,
                    indices,
                    n_cols,
                }
            }
            Storage::Dense(col) => RowSource::Dense { col, n_cols },
        })
    }

    /// Rows `start..end` as CSR, values unchecked (structure is checked).
    pub(super) fn rows(&self, path: &Path, start: usize, end: usize) -> Result<CsrMatrix> {
        let what = || format!("rows {start}..{end}");
        Ok(match self {
            RowSource::Sparse {
                data,
                indices,
                indptr,
                n_cols,
            } => {
                let (a, b) = match (indptr.get(start), indptr.get(end)) {
                    (Some(&a), Some(&b)) => (a, b),
                    _ => return Err(Error::format(path, format!("{}: past the end", what()))),
                };
                let (vals, idx) = rayon::join(
                    || data.read_rows(path, a, b - a, &ValuesF32),
                    || indices.read_rows(path, a, b - a, &Indices { bound: *n_cols }),
                );
                let ptr: Vec<usize> = indptr[start..=end].iter().map(|p| p - a).collect();
                CsrMatrix::new(end - start, *n_cols, ptr, idx?, vals?)
                    .map_err(|e| Error::format(path, format!("{}: {e}", what())))?
            }
            RowSource::Dense { col, n_cols } => {
                let v = col.read_rows(path, start, end - start, &ValuesF32)?;
                let x = Array2::from_shape_vec((end - start, *n_cols), v)
                    .map_err(|e| Error::format(path, format!("{}: {e}", what())))?;
                CsrMatrix::from_dense(x.view())
            }
            RowSource::Memory(m) => {
                let rows: Vec<usize> = (start..end).collect();
                m.select_rows(&rows)?
            }
        })
    }
}

/// A negative value means a scaled matrix: the error says which matrices of the file would
/// work (as a whole read does).
fn explain_negative(e: Error, path: &Path, matrix: &MatrixChoice) -> Error {
    match e {
        Error::Negative {
            cell, gene, value, ..
        } => Error::Negative {
            what: scaled_matrix(path, matrix),
            cell,
            gene,
            value,
        },
        other => other,
    }
}

/// Moves the row of a value error from chunk-local to file position.
fn shift_rows(e: Error, start: usize) -> Error {
    match e {
        Error::NonFinite {
            what,
            row,
            col,
            value,
        } => Error::NonFinite {
            what,
            row: row + start,
            col,
            value,
        },
        Error::Negative {
            what,
            cell,
            gene,
            value,
        } => Error::Negative {
            what,
            cell: cell + start,
            gene,
            value,
        },
        other => other,
    }
}

/// Takes the CSR out of `Values::Sparse` without a copy.
pub(super) trait IntoSparse {
    fn to_sparse_owned(self) -> CsrMatrix;
}

impl IntoSparse for Values {
    fn to_sparse_owned(self) -> CsrMatrix {
        match self {
            Values::Sparse(m) => m,
            Values::Dense(x) => CsrMatrix::from_dense(x.view()),
        }
    }
}

impl Iterator for H5adChunks {
    type Item = Result<CellChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next;
        if start >= self.cells.len() {
            return None;
        }
        let end = (start + self.chunk_cells).min(self.cells.len());
        let chunk = self.read_chunk(start, end);
        // After an error, stop.
        self.next = if chunk.is_ok() { end } else { self.cells.len() };
        Some(chunk.map(|values| CellChunk {
            start,
            cells: self.cells[start..end].to_vec(),
            values,
        }))
    }
}

impl CellChunks for H5adChunks {
    fn genes(&self) -> &GeneTable {
        &self.genes
    }
    fn n_cells(&self) -> Option<usize> {
        Some(self.cells.len())
    }
}
