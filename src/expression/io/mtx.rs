//! 10x Matrix Market directories and `.mtx` files.
//!
//! STUB: to be written (issue 3).

use std::path::Path;

use super::{CellChunk, CellChunks, ReadOptions};
use crate::error::{Error, Result};
use crate::expression::{ExpressionMatrix, GeneTable};

/// Reads a 10x directory.
///
/// # Errors
/// Not yet implemented.
pub fn read_10x(dir: &Path, _opts: &ReadOptions) -> Result<ExpressionMatrix> {
    Err(Error::Unsupported(format!(
        "{}: 10x reading",
        dir.display()
    )))
}

/// Reads a lone `matrix.mtx[.gz]`, with `features.tsv`/`barcodes.tsv` beside it when present.
///
/// # Errors
/// Not yet implemented.
pub fn read_10x_mtx_file(path: &Path, _opts: &ReadOptions) -> Result<ExpressionMatrix> {
    Err(Error::Unsupported(format!(
        "{}: .mtx reading",
        path.display()
    )))
}

/// Writes a 10x directory.
///
/// # Errors
/// Not yet implemented.
pub fn write_10x(_m: &ExpressionMatrix, dir: &Path) -> Result<()> {
    Err(Error::Unsupported(format!(
        "{}: 10x writing",
        dir.display()
    )))
}

/// Streams a 10x directory or `.mtx` file in chunks of cells.
#[derive(Debug)]
pub struct MtxChunks {
    genes: GeneTable,
}

impl MtxChunks {
    /// Opens the file.
    ///
    /// # Errors
    /// Not yet implemented.
    pub fn open(path: &Path, _chunk_cells: usize, _opts: &ReadOptions) -> Result<Self> {
        Err(Error::Unsupported(format!(
            "{}: .mtx streaming",
            path.display()
        )))
    }
}

impl Iterator for MtxChunks {
    type Item = Result<CellChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}

impl CellChunks for MtxChunks {
    fn genes(&self) -> &GeneTable {
        &self.genes
    }
    fn n_cells(&self) -> Option<usize> {
        None
    }
}
