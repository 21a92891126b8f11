//! Reading and writing expression matrices: AnnData `.h5ad`, 10x Matrix Market directories and
//! CSV/TSV, chosen by [`ExpressionFormat::detect`]; and streaming a file in chunks of cells.
//!
//! Every reader validates what it reads ([`ExpressionMatrix::new`]): malformed, truncated or
//! inconsistent files, duplicate gene names, negative or non-finite values are errors that say
//! where the problem is, never panics.

pub mod delimited;
pub mod h5ad;
mod memory;
pub mod mtx;
mod text;

use std::path::{Path, PathBuf};

use super::{CsrMatrix, ExpressionMatrix, GeneTable};
use crate::error::{Error, Result};

/// File formats the readers know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionFormat {
    /// AnnData HDF5 (`.h5ad`).
    H5ad,
    /// A 10x directory: `matrix.mtx[.gz]`, `features.tsv[.gz]` or `genes.tsv[.gz]`,
    /// `barcodes.tsv[.gz]`.
    TenX,
    /// A lone Matrix Market file (`.mtx[.gz]`), genes × cells as 10x writes it.
    Mtx,
    /// Comma-separated text.
    Csv,
    /// Tab-separated text.
    Tsv,
}

impl ExpressionFormat {
    /// From the path: a directory is 10x; otherwise by extension (ignoring a trailing `.gz`).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an unknown extension.
    pub fn detect(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Ok(ExpressionFormat::TenX);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit('.').next().unwrap_or("");
        match ext {
            "h5ad" => Ok(ExpressionFormat::H5ad),
            "mtx" => Ok(ExpressionFormat::Mtx),
            "csv" => Ok(ExpressionFormat::Csv),
            "tsv" | "txt" | "tab" => Ok(ExpressionFormat::Tsv),
            _ => Err(Error::Unsupported(format!(
                "{}: unknown expression format (expected .h5ad, .mtx[.gz], .csv, .tsv or a 10x directory)",
                path.display()
            ))),
        }
    }
}

/// Options shared by the readers (default: scanpy's `gex_only`, everything else off,
/// orientation guessed).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// Repeated gene symbols get `-1`, `-2`, ... suffixes (scanpy's `var_names_make_unique`)
    /// instead of being an error.
    pub make_unique: bool,
    /// CSV/TSV orientation: `Some(true)` cells are rows, `Some(false)` cells are columns,
    /// `None` guesses (genes are the longer axis).
    pub cells_as_rows: Option<bool>,
    /// Keep sparse storage (CSR) even when the file is dense; `false` keeps the file's layout.
    pub force_sparse: bool,
    /// 10x: keep only `Gene Expression` features, dropping antibody capture, CRISPR guides or
    /// peaks of multi-modal runs (scanpy's `read_10x_mtx(gex_only=True)`, its default). Files
    /// without a feature-type column are unaffected.
    pub gex_only: bool,
    /// Which matrix of an `.h5ad` to read (`X`, `.raw` or a layer); other formats hold one
    /// matrix and take only [`MatrixChoice::X`].
    pub matrix: MatrixChoice,
    /// Run a model on data whose kind ([`crate::expression::kind`]) differs from the one it was
    /// trained on (`--any-kind`). Not used by the readers: the steps that load a model check it.
    pub any_kind: bool,
}

/// Which of an AnnData file's matrices to read.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatrixChoice {
    /// `X`, with genes from `var` (and `.raw` attached when present).
    #[default]
    X,
    /// `.raw.X`, with genes from `.raw.var` (where processed files keep log-normalised or
    /// count values of all genes).
    Raw,
    /// `layers[NAME]`, with genes from `var` (scanpy tutorials keep counts in
    /// `layers["counts"]`).
    Layer(String),
}

impl std::fmt::Display for MatrixChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatrixChoice::X => f.write_str("X"),
            MatrixChoice::Raw => f.write_str("raw"),
            MatrixChoice::Layer(n) => write!(f, "layers/{n}"),
        }
    }
}

impl MatrixChoice {
    /// The command-line flag that selects it (`--raw`, `--layer NAME`, nothing for `X`).
    pub fn flag(&self) -> String {
        match self {
            MatrixChoice::X => "(default X)".into(),
            MatrixChoice::Raw => "--raw".into(),
            MatrixChoice::Layer(n) => format!("--layer {n}"),
        }
    }

    /// An error for formats with a single matrix, when something else was asked for.
    fn only_x(&self, path: &Path) -> Result<()> {
        if *self == MatrixChoice::X {
            return Ok(());
        }
        Err(Error::Unsupported(format!(
            "{}: `{}` asks for a matrix other than X, but only .h5ad files hold layers or .raw",
            path.display(),
            self.flag()
        )))
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            make_unique: false,
            cells_as_rows: None,
            force_sparse: false,
            gex_only: true,
            matrix: MatrixChoice::X,
            any_kind: false,
        }
    }
}

/// Reads an expression matrix in any known format (see [`ExpressionFormat::detect`]).
///
/// # Errors
/// As the format's reader.
pub fn read_expression(path: &Path, opts: &ReadOptions) -> Result<ExpressionMatrix> {
    let format = ExpressionFormat::detect(path)?;
    if format != ExpressionFormat::H5ad {
        opts.matrix.only_x(path)?;
    }
    match format {
        ExpressionFormat::H5ad => h5ad::read_h5ad(path, opts),
        ExpressionFormat::TenX => mtx::read_10x(path, opts),
        ExpressionFormat::Mtx => mtx::read_10x_mtx_file(path, opts),
        ExpressionFormat::Csv | ExpressionFormat::Tsv => delimited::read_delimited(path, opts),
    }
}

/// Writes an expression matrix by the path's form: `.h5ad` (AnnData), `.csv`/`.tsv` (cells as
/// rows), anything else a 10x directory (`matrix.mtx.gz`, `features.tsv.gz`,
/// `barcodes.tsv.gz`). Writes are atomic per file; for a whole output that replaces only what
/// is ours, write into [`expression_output`]'s path.
///
/// # Errors
/// [`Error::Io`] and format errors.
pub fn write_expression(m: &ExpressionMatrix, path: &Path) -> Result<()> {
    let name = lower_name(path);
    if name.ends_with(".h5ad") {
        h5ad::write_h5ad(m, path, &h5ad::H5adWriteOptions::default())
    } else if name.ends_with(".csv") || name.ends_with(".tsv") {
        delimited::write_delimited(m, path)
    } else {
        mtx::write_10x(m, path)
    }
}

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The staged output [`write_expression`] should write to for `dest`: a file for `.h5ad`,
/// `.csv` and `.tsv`, a directory (10x) otherwise (see [`crate::io::output::Output`]).
///
/// # Errors
/// As [`crate::io::output::Output::file`] / [`crate::io::output::Output::dir`].
pub fn expression_output(dest: &Path, inputs: &[&Path]) -> Result<crate::io::output::Output> {
    let name = lower_name(dest);
    if name.ends_with(".h5ad") || name.ends_with(".csv") || name.ends_with(".tsv") {
        crate::io::output::Output::file(dest, inputs)
    } else {
        crate::io::output::Output::dir(dest, inputs)
    }
}

/// A block of consecutive cells from a streamed file.
#[derive(Debug, Clone, PartialEq)]
pub struct CellChunk {
    /// Index of the chunk's first cell in the file.
    pub start: usize,
    /// The chunk's cell ids.
    pub cells: Vec<String>,
    /// chunk cells × all genes.
    pub values: CsrMatrix,
}

/// Iterates over a file in chunks of at most `chunk_cells` cells, holding one chunk (plus the
/// format's index) in memory. Genes are known before the first chunk.
pub trait CellChunks: Iterator<Item = Result<CellChunk>> + Send {
    /// The file's genes (every chunk has these columns).
    fn genes(&self) -> &GeneTable;
    /// Total number of cells, when the format says so up front.
    fn n_cells(&self) -> Option<usize>;
}

/// Opens a file for streaming (`.h5ad`, 10x directory or `.mtx[.gz]`).
///
/// # Errors
/// [`Error::Unsupported`] for CSV/TSV (read them whole), [`Error::InvalidParam`] for
/// `chunk_cells == 0`, and the format's errors.
pub fn stream_cells(
    path: &Path,
    chunk_cells: usize,
    opts: &ReadOptions,
) -> Result<Box<dyn CellChunks>> {
    if chunk_cells == 0 {
        return Err(Error::param("chunk_cells", 0, "must be at least 1"));
    }
    let format = ExpressionFormat::detect(path)?;
    if format != ExpressionFormat::H5ad {
        opts.matrix.only_x(path)?;
    }
    match format {
        ExpressionFormat::H5ad => Ok(Box::new(h5ad::H5adChunks::open(path, chunk_cells, opts)?)),
        ExpressionFormat::TenX | ExpressionFormat::Mtx => {
            Ok(Box::new(mtx::MtxChunks::open(path, chunk_cells, opts)?))
        }
        ExpressionFormat::Csv | ExpressionFormat::Tsv => Err(Error::Unsupported(format!(
            "{}: CSV/TSV cannot be streamed; read it whole or convert it to .h5ad",
            path.display()
        ))),
    }
}

/// Cells of a file picked by index ([`read_picked_cells`]).
#[derive(Debug, Clone)]
pub struct PickedCells {
    /// The picked cells, in file order, with all of the file's genes (no `obs`: chunks carry
    /// none).
    pub matrix: ExpressionMatrix,
    /// Their indices in the file (ascending).
    pub index: Vec<usize>,
    /// The file's first [`crate::expression::kind::KIND_SAMPLE_CELLS`] cells, whichever were
    /// picked: the sample [`crate::expression::kind::detect_kind`] reads, so that a streamed
    /// read tells what the matrix holds from the same cells as a whole read.
    pub kind_sample: CsrMatrix,
    /// Number of cells in the file.
    pub n_cells: usize,
}

/// Streams `path` once, holding one chunk of `chunk_cells` cells at a time, and keeps the cells
/// whose indices `pick(n_cells)` returns: a workflow that runs a model on a sample of cells
/// (the probes, distillation) reads an atlas-size file in the memory of that sample.
///
/// # Errors
/// As [`stream_cells`]; [`Error::InvalidParam`] when `pick` returns an index out of range or
/// out of order; `pick`'s own errors.
pub fn read_picked_cells(
    path: &Path,
    opts: &ReadOptions,
    chunk_cells: usize,
    pick: &mut dyn FnMut(usize) -> Result<Vec<usize>>,
) -> Result<PickedCells> {
    let mut chunks = stream_cells(path, chunk_cells, opts)?;
    let n_cells = match chunks.n_cells() {
        Some(n) => n,
        None => {
            // A format that does not say up front: count in a first pass.
            let mut n = 0;
            for c in stream_cells(path, chunk_cells, opts)? {
                n += c?.values.n_rows();
            }
            n
        }
    };
    let index = pick(n_cells)?;
    if let Some(w) = index.windows(2).find(|w| w[0] >= w[1]) {
        return Err(Error::param(
            "picked cells",
            format!("{} then {}", w[0], w[1]),
            "must be ascending without repeats",
        ));
    }
    if let Some(&last) = index.last().filter(|&&l| l >= n_cells) {
        return Err(Error::param(
            "picked cells",
            last,
            format!("the file has {n_cells} cells"),
        ));
    }
    let genes = chunks.genes().clone();
    let sample_len = n_cells.min(crate::expression::kind::KIND_SAMPLE_CELLS);
    let (mut parts, mut cells, mut sample) = (Vec::new(), Vec::new(), Vec::new());
    let mut next = 0; // position in `index` of the next cell to keep
    let mut seen = 0;
    while next < index.len() || seen < sample_len {
        let Some(chunk) = chunks.next() else { break };
        let chunk = chunk?;
        let (start, rows) = (chunk.start, chunk.values.n_rows());
        let kept: Vec<usize> = index[next..]
            .iter()
            .take_while(|&&i| i < start + rows)
            .map(|&i| i - start)
            .collect();
        next += kept.len();
        if !kept.is_empty() {
            parts.push(chunk.values.select_rows(&kept)?);
            cells.extend(kept.iter().map(|&r| chunk.cells[r].clone()));
        }
        if start < sample_len {
            let upto: Vec<usize> = (0..rows.min(sample_len - start)).collect();
            sample.push(chunk.values.select_rows(&upto)?);
        }
        seen = start + rows;
    }
    if next < index.len() {
        return Err(Error::Empty {
            what: "picked cells",
            why: format!(
                "{} ended after {seen} of the {n_cells} cells its header announces",
                path.display()
            ),
        });
    }
    let n_genes = genes.len();
    let stack = |parts: &[CsrMatrix]| -> Result<CsrMatrix> {
        if parts.is_empty() {
            CsrMatrix::new(0, n_genes, vec![0], Vec::new(), Vec::new())
        } else {
            CsrMatrix::vstack(parts)
        }
    };
    let matrix = ExpressionMatrix::new(super::Values::Sparse(stack(&parts)?), genes, cells)?;
    Ok(PickedCells {
        matrix,
        index,
        kind_sample: stack(&sample)?,
        n_cells,
    })
}

/// Appends `-1`, `-2`, ... to repeated names, in place (scanpy's `make_unique` convention: the
/// first occurrence keeps its name).
pub fn make_unique(names: &mut [String]) {
    let mut count: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for n in names.iter_mut() {
        let c = count.entry(n.clone()).or_insert(0);
        if *c > 0 {
            let suffix = *c;
            *c += 1;
            *n = format!("{n}-{suffix}");
        } else {
            *c = 1;
        }
    }
}

/// `path` with `.gz` appended, when that file exists and the plain one does not.
pub(crate) fn with_optional_gz(path: PathBuf) -> PathBuf {
    if path.exists() {
        return path;
    }
    let mut gz = path.clone().into_os_string();
    gz.push(".gz");
    let gz = PathBuf::from(gz);
    if gz.exists() {
        gz
    } else {
        path
    }
}
