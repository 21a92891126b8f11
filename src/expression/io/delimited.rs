//! CSV/TSV expression tables (cells as rows or as columns).
//!
//! STUB: to be written (issue 3).

use std::path::Path;

use super::ReadOptions;
use crate::error::{Error, Result};
use crate::expression::ExpressionMatrix;

/// Reads a CSV/TSV expression table.
///
/// # Errors
/// Not yet implemented.
pub fn read_delimited(path: &Path, _opts: &ReadOptions) -> Result<ExpressionMatrix> {
    Err(Error::Unsupported(format!(
        "{}: CSV/TSV reading",
        path.display()
    )))
}

/// Writes a CSV/TSV expression table, cells as rows.
///
/// # Errors
/// Not yet implemented.
pub fn write_delimited(_m: &ExpressionMatrix, path: &Path) -> Result<()> {
    Err(Error::Unsupported(format!(
        "{}: CSV/TSV writing",
        path.display()
    )))
}
