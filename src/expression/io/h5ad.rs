//! AnnData `.h5ad` reader and writer (pure Rust, through `hdf5-pure`).
//!
//! STUB: to be written (issue 3).

use std::path::Path;

use super::{CellChunk, CellChunks, ReadOptions};
use crate::error::{Error, Result};
use crate::expression::{ExpressionMatrix, GeneTable};

/// How `.h5ad` files are written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct H5adWriteOptions {}

/// Reads an AnnData file.
///
/// # Errors
/// Not yet implemented.
pub fn read_h5ad(path: &Path, _opts: &ReadOptions) -> Result<ExpressionMatrix> {
    Err(Error::Unsupported(format!(
        "{}: .h5ad reading",
        path.display()
    )))
}

/// Writes an AnnData file.
///
/// # Errors
/// Not yet implemented.
pub fn write_h5ad(_m: &ExpressionMatrix, path: &Path, _opts: &H5adWriteOptions) -> Result<()> {
    Err(Error::Unsupported(format!(
        "{}: .h5ad writing",
        path.display()
    )))
}

/// Streams an `.h5ad` file in chunks of cells.
#[derive(Debug)]
pub struct H5adChunks {
    genes: GeneTable,
}

impl H5adChunks {
    /// Opens the file.
    ///
    /// # Errors
    /// Not yet implemented.
    pub fn open(path: &Path, _chunk_cells: usize, _opts: &ReadOptions) -> Result<Self> {
        Err(Error::Unsupported(format!(
            "{}: .h5ad streaming",
            path.display()
        )))
    }
}

impl Iterator for H5adChunks {
    type Item = Result<CellChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}

impl CellChunks for H5adChunks {
    fn genes(&self) -> &GeneTable {
        &self.genes
    }
    fn n_cells(&self) -> Option<usize> {
        None
    }
}
