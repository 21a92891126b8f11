//! Expression data: the cells × genes matrix every gene-side step reads (the gene flow of ARCHITECTURE.md).
//!
//! - [`ExpressionMatrix`]: values ([`Values`]: dense or [`CsrMatrix`]) with gene symbols/ids,
//!   cell ids, cell metadata and optional `.raw`; subsetting by cells and genes.
//! - [`normalize`]: library-size normalisation, `log1p`, highly-variable genes (scanpy's
//!   `normalize_total`, `log1p`, `highly_variable_genes(flavor="seurat" | "cell_ranger")`).
//! - [`kind`]: what a matrix holds (counts, normalised, log-normalised, scaled), and undoing
//!   `log1p`.
//! - [`genes`]: matching a dataset's genes to a vocabulary, with a coverage report.
//! - [`io`]: AnnData `.h5ad`, 10x Matrix Market and CSV/TSV readers and writers, and streaming
//!   in chunks of cells.
//!
//! The embedded default data, with a known regulatory network, is [`crate::synthetic`].
//!
//! Values are `f32` and gene indices `u32` (scanpy's and scipy's layout): counts are exact up
//! to 2^24, and a 10^8-entry matrix takes 0.8 GB. Numerical work downstream converts to `f64`
//! at its own edge.

pub mod genes;
pub mod io;
pub mod kind;
mod matrix;
pub mod normalize;
mod sparse;

pub use matrix::{check_unique, ExpressionMatrix, GeneTable, ObsColumn, RawValues, Values};
pub use sparse::CsrMatrix;
