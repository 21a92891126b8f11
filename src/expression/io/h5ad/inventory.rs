//! Every matrix of an `.h5ad` (X, raw, each layer) with its shape, storage and kind, read from a
//! sample of cells so that an atlas-sized file is listed in the time of a few thousand rows.

use std::path::Path;

use super::chunks::RowSource;
use super::read::{exists, layer_names, open, Matrix, Storage};
use crate::error::Result;
use crate::expression::io::MatrixChoice;
use crate::expression::kind::{detect_kind, KindReport, KIND_SAMPLE_CELLS};

/// One matrix of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSummary {
    /// How to ask for it ([`crate::expression::io::ReadOptions::matrix`]).
    pub choice: MatrixChoice,
    /// Its HDF5 element (`X`, `raw/X`, `layers/counts`).
    pub element: String,
    /// Rows (cells).
    pub n_cells: usize,
    /// Columns (genes).
    pub n_genes: usize,
    /// `csr`, `csc` or `dense`.
    pub storage: &'static str,
    /// Stored entries (non-zeros of a sparse matrix; every entry of a dense one).
    pub stored: u64,
    /// What it holds, from the first [`KIND_SAMPLE_CELLS`] cells (a CSC matrix is read whole:
    /// it cannot be sliced by cells); `None` when they could not be read (see `problem`).
    pub kind: Option<KindReport>,
    /// Why the matrix or its sample could not be read, if so.
    pub problem: Option<String>,
}

impl MatrixSummary {
    /// Stored entries over all entries (1 for dense; 0 for an empty matrix).
    pub fn density(&self) -> f64 {
        let all = self.n_cells as f64 * self.n_genes as f64;
        if all > 0.0 {
            self.stored as f64 / all
        } else {
            0.0
        }
    }
}

/// Lists the matrices of an AnnData file: `X`, `.raw` and every layer, in that order. A matrix
/// that cannot be read (an unsupported encoding, a damaged dataset) is listed with its problem
/// instead of failing the listing.
///
/// # Errors
/// Only for a file that cannot be opened as HDF5 at all.
pub fn h5ad_matrices(path: &Path) -> Result<Vec<MatrixSummary>> {
    let (file, src) = open(path)?;
    let mut candidates = Vec::new();
    if exists(&file, "X") {
        candidates.push((MatrixChoice::X, "X".to_string()));
    }
    if exists(&file, "raw/X") {
        candidates.push((MatrixChoice::Raw, "raw/X".to_string()));
    } else if exists(&file, "raw.X") {
        candidates.push((MatrixChoice::Raw, "raw.X".to_string()));
    }
    for name in layer_names(&file) {
        let element = format!("layers/{name}");
        candidates.push((MatrixChoice::Layer(name), element));
    }
    let mut out = Vec::with_capacity(candidates.len());
    for (choice, element) in candidates {
        let located = Matrix::locate(&file, &src, path, &element);
        let summary = match located {
            Err(e) => MatrixSummary {
                choice,
                element,
                n_cells: 0,
                n_genes: 0,
                storage: "unknown",
                stored: 0,
                kind: None,
                problem: Some(e.to_string()),
            },
            Ok(x) => {
                let (n_cells, n_genes) = (x.n_rows, x.n_cols);
                let (storage, stored) = match &x.storage {
                    Storage::Dense(_) => ("dense", n_cells as u64 * n_genes as u64),
                    Storage::Sparse { csc, nnz, .. } => {
                        (if *csc { "csc" } else { "csr" }, *nnz as u64)
                    }
                };
                let sample = RowSource::new(x, path)
                    .and_then(|s| s.rows(path, 0, n_cells.min(KIND_SAMPLE_CELLS)));
                let (kind, problem) = match sample {
                    Ok(rows) => (Some(detect_kind(&rows)), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                MatrixSummary {
                    choice,
                    element,
                    n_cells,
                    n_genes,
                    storage,
                    stored,
                    kind,
                    problem,
                }
            }
        };
        out.push(summary);
    }
    Ok(out)
}

/// The `obs` columns of an AnnData file (cell metadata), without reading any matrix: what a
/// summary of a streamed file lists beside its chunks.
///
/// # Errors
/// As [`super::read_h5ad`] for `obs`.
pub fn h5ad_obs_columns(path: &Path) -> Result<Vec<(String, crate::expression::ObsColumn)>> {
    let (file, _) = open(path)?;
    Ok(super::dataframe::read_frame(&file, path, "obs")?.columns)
}

/// The `obs` columns of an AnnData file named in `names` (those it has, in file order),
/// reading no other column: on an atlas with a wide `obs`, what a caller that needs two
/// columns should use.
///
/// # Errors
/// As [`h5ad_obs_columns`].
pub fn h5ad_obs_named(
    path: &Path,
    names: &[String],
) -> Result<Vec<(String, crate::expression::ObsColumn)>> {
    let (file, _) = open(path)?;
    Ok(super::dataframe::read_frame_columns(&file, path, "obs", Some(names))?.columns)
}
