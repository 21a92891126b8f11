//! 10x Matrix Market directories and `.mtx` files.
//!
//! A 10x directory (Cell Ranger's `filtered_feature_bc_matrix/`) holds
//!
//! - `matrix.mtx[.gz]`: a Matrix Market `coordinate` file, **genes × cells**, 1-based;
//! - `features.tsv[.gz]` (Cell Ranger ≥ 3: `id<TAB>symbol<TAB>feature type`) or `genes.tsv[.gz]`
//!   (Cell Ranger 2: `id<TAB>symbol`), one line per matrix row;
//! - `barcodes.tsv[.gz]`, one cell barcode per matrix column.
//!
//! [`read_10x`] returns the transposed, **cells × genes** [`ExpressionMatrix`] with sparse (CSR)
//! values, gene symbols as [`GeneTable::symbols`] and the stable ids (Ensembl) as
//! [`GeneTable::ids`], like `scanpy.read_10x_mtx(dir, var_names="gene_symbols")`. As scanpy
//! does by default, only `Gene Expression` features are kept when the file has a feature-type
//! column ([`ReadOptions::gex_only`](super::ReadOptions), on by default: antibody capture,
//! CRISPR guides and peaks are dropped, in whole reads and in streams alike); the feature-type
//! column itself is not kept, as the matrix has no per-gene metadata.
//!
//! # Reading speed and memory
//!
//! The body is read in blocks of whole lines; each block is split between rayon's threads and
//! parsed with hand-written number parsing (no allocation per line) while the next block is
//! read. Entries sorted by cell (what 10x writes) go straight into CSR order, so the peak
//! memory is about 8 bytes per entry (`u32` gene index and `f32` value) plus two blocks;
//! unsorted files take a counting sort by cell (about 20 bytes per entry at the peak).
//! Duplicate entries are summed and explicit zeros dropped, as scipy's `coo -> csr` sums
//! duplicates. `.gz` files are decompressed on one thread while the other threads parse.
//!
//! # What is accepted
//!
//! `%%MatrixMarket matrix coordinate <integer|real|double|pattern> general` (keywords in any
//! case); `%` comment lines and blank lines; spaces or tabs between fields; CRLF line ends.
//! Values are read as numbers whatever the declared field (an `integer` file holding `2.5` is
//! read as 2.5), `pattern` entries are 1. Other formats (`array`), fields (`complex`) and
//! symmetries (`symmetric`, ...) are [`Error::Unsupported`]. Every problem in the body is an
//! [`Error::Parse`] naming the 1-based line: an index of 0 or beyond the header's dimensions,
//! a token that is not a number, NaN/infinite or negative values, more or fewer entries than
//! the header's count (a truncated file), extra fields on a line.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::text::{self, BlockReader, DynRead, SourceInfo};
use super::{make_unique, with_optional_gz, CellChunk, CellChunks, ReadOptions};
use crate::error::{Error, Result};
use crate::expression::{check_unique, CsrMatrix, ExpressionMatrix, GeneTable, Values};

mod header;
pub use header::*;
mod parse;
use parse::*;
mod assemble;
use assemble::*;
mod body;
pub use body::*;
mod write;
pub use write::*;
mod stream;
pub use stream::*;

/// Bytes per block when reading a whole file (each block is parsed by all threads).
const READ_BLOCK: usize = 32 << 20;
/// Bytes per block when streaming (bounded memory matters more than speed).
const STREAM_BLOCK: usize = 4 << 20;
/// Smallest possible entry line (`1 1\n`), to bound allocations by the file size.
const MIN_ENTRY_BYTES: u64 = 4;
/// gzip level of written files: fast (level 6 is 3–4× slower for ~10% smaller files).
const GZ_LEVEL: u32 = 3;
/// The files of a 10x matrix.
struct TenxFiles {
    matrix: PathBuf,
    features: Option<PathBuf>,
    barcodes: Option<PathBuf>,
}

impl TenxFiles {
    /// The three files of a 10x directory, all required.
    fn of_dir(dir: &Path) -> Result<Self> {
        let missing = |what: &str| {
            Error::io(
                dir.join(what),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("a 10x directory needs {what} (plain or .gz)"),
                ),
            )
        };
        Ok(TenxFiles {
            matrix: existing(dir, "matrix.mtx").ok_or_else(|| missing("matrix.mtx"))?,
            features: Some(gene_file(dir, "").ok_or_else(|| missing("features.tsv or genes.tsv"))?),
            barcodes: Some(existing(dir, "barcodes.tsv").ok_or_else(|| missing("barcodes.tsv"))?),
        })
    }

    /// A lone `.mtx[.gz]` and the name files beside it with the same prefix, if any.
    fn beside_mtx(path: &Path) -> Self {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let lower = name.to_ascii_lowercase();
        let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
        let prefix = stem
            .strip_suffix("matrix.mtx")
            .map(|p| name.get(..p.len()).unwrap_or(""))
            .unwrap_or("");
        TenxFiles {
            matrix: path.to_path_buf(),
            features: gene_file(dir, prefix),
            barcodes: existing(dir, &format!("{prefix}barcodes.tsv")),
        }
    }
}

/// `dir/name` or `dir/name.gz`, when one exists.
fn existing(dir: &Path, name: &str) -> Option<PathBuf> {
    let p = with_optional_gz(dir.join(name));
    p.is_file().then_some(p)
}

/// The gene table file (`features.tsv` preferred over the older `genes.tsv`).
fn gene_file(dir: &Path, prefix: &str) -> Option<PathBuf> {
    existing(dir, &format!("{prefix}features.tsv"))
        .or_else(|| existing(dir, &format!("{prefix}genes.tsv")))
}

/// Reads a 10x directory (Cell Ranger's `filtered_feature_bc_matrix/` or
/// `raw_feature_bc_matrix/`, v2 or v3 layout, plain or gzip) into a cells × genes sparse
/// matrix; see the [module docs](self).
///
/// With `opts.make_unique`, repeated gene symbols get `-1`, `-2`, ... suffixes (scanpy does
/// this by default); without it they are an error.
///
/// # Errors
/// [`Error::Io`] for a missing directory or file (naming what is expected);
/// [`Error::Parse`] with the 1-based line for malformed content, and for a matrix whose size
/// line disagrees with the number of features or barcodes; [`Error::Format`] for corrupt
/// gzip; [`Error::Duplicate`] for repeated gene symbols or barcodes.
pub fn read_10x(dir: &Path, opts: &ReadOptions) -> Result<ExpressionMatrix> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not a directory (expected a 10x directory holding matrix.mtx[.gz], features.tsv[.gz] and barcodes.tsv[.gz])",
            ),
        ));
    }
    let files = TenxFiles::of_dir(dir)?;
    read_files(&files, opts)
}

/// Reads a lone `.mtx[.gz]` (genes × cells, as 10x writes it). Gene and cell names come from
/// the 10x files beside it when they exist (`features.tsv[.gz]` or `genes.tsv[.gz]`, and
/// `barcodes.tsv[.gz]`, with the same prefix as the matrix: `s1_matrix.mtx` pairs with
/// `s1_features.tsv`); otherwise genes are named `gene0`, `gene1`, ... and cells `cell0`,
/// `cell1`, ....
///
/// # Errors
/// As [`read_10x`].
pub fn read_10x_mtx_file(path: &Path, opts: &ReadOptions) -> Result<ExpressionMatrix> {
    let files = TenxFiles::beside_mtx(path);
    read_files(&files, opts)
}

/// Everything but the matrix values: genes, cells and the opened matrix body.
struct Opened {
    /// Genes kept (all, or the `Gene Expression` ones with `gex_only`).
    genes: GeneTable,
    cells: Vec<String>,
    header: MtxHeader,
    body: BufReader<DynRead>,
    info: SourceInfo,
    /// File rows (features) kept, when `gex_only` dropped some.
    keep: Option<Vec<usize>>,
}

fn open_files(files: &TenxFiles, opts: &ReadOptions) -> Result<Opened> {
    let (genes, types) = match files.features.as_deref().map(read_features).transpose()? {
        Some((g, t)) => (Some(g), t),
        None => (None, None),
    };
    let cells = files.barcodes.as_deref().map(read_barcodes).transpose()?;
    let (src, info) = text::open_text(&files.matrix)?;
    let mut body = BufReader::with_capacity(1 << 16, src);
    let header = read_header(&mut body, &info)?;
    let dims = |n_file: usize, n_mtx: usize, what: &str, axis: &str, file: &Path| {
        if n_file == n_mtx {
            Ok(())
        } else {
            Err(Error::parse(
                &files.matrix,
                header.size_line,
                format!(
                    "the size line says {n_mtx} {what} ({axis}) but {} lists {n_file}; the matrix and its {} do not belong together",
                    file.display(),
                    if what == "genes" { "features" } else { "barcodes" }
                ),
            ))
        }
    };
    let mut genes = match (genes, &files.features) {
        (Some(g), Some(f)) => {
            dims(g.len(), header.n_rows, "genes", "rows", f)?;
            g
        }
        _ => {
            check_backed(header.n_rows, "genes (rows)", &header, &info)?;
            GeneTable::from_symbols((0..header.n_rows).map(|i| format!("gene{i}")).collect())
        }
    };
    let cells = match (cells, &files.barcodes) {
        (Some(c), Some(f)) => {
            dims(c.len(), header.n_cols, "cells", "columns", f)?;
            c
        }
        _ => {
            check_backed(header.n_cols, "cells (columns)", &header, &info)?;
            (0..header.n_cols).map(|i| format!("cell{i}")).collect()
        }
    };
    // scanpy's gex_only: antibody, CRISPR or peak features of multi-modal runs are dropped
    // (before the uniqueness check: an antibody is often named like its gene).
    let keep = match &types {
        Some(t) if opts.gex_only && t.iter().any(|t| t != GENE_EXPRESSION) => Some(
            t.iter()
                .enumerate()
                .filter(|(_, t)| *t == GENE_EXPRESSION)
                .map(|(i, _)| i)
                .collect::<Vec<usize>>(),
        ),
        _ => None,
    };
    if let Some(k) = &keep {
        genes = GeneTable {
            symbols: k.iter().map(|&i| genes.symbols[i].clone()).collect(),
            ids: genes
                .ids
                .as_ref()
                .map(|ids| k.iter().map(|&i| ids[i].clone()).collect()),
        };
    }
    if opts.make_unique {
        make_unique(&mut genes.symbols);
    } else if let Some(f) = &files.features {
        check_unique(
            "gene",
            &genes.symbols,
            &format!(
                "; gene symbols in {} must be unique: read with `make_unique` (what scanpy's read_10x_mtx does by default) to suffix repeats with -1, -2, ...",
                f.display()
            ),
        )?;
    }
    if let Some(f) = &files.barcodes {
        check_unique(
            "cell",
            &cells,
            &format!("; barcodes in {} must be unique", f.display()),
        )?;
    }
    Ok(Opened {
        genes,
        cells,
        header,
        body,
        info,
        keep,
    })
}

fn read_files(files: &TenxFiles, opts: &ReadOptions) -> Result<ExpressionMatrix> {
    let o = open_files(files, opts)?;
    let mut csr = read_body(o.body, &o.header, &o.info)?;
    if let Some(k) = &o.keep {
        csr = csr.select_cols(k)?;
    }
    ExpressionMatrix::new(Values::Sparse(csr), o.genes, o.cells)
}

/// Reads a whole small text file (plain or gzip) as lines, without line ends; trailing blank
/// lines are dropped.
fn read_lines(path: &Path) -> Result<Vec<String>> {
    let (mut src, info) = text::open_text(path)?;
    let bytes =
        crate::io::input::read_to_end_capped(&mut src, path, &|e| text::read_error(&info, e))?;
    let mut lines = Vec::new();
    for (k, l) in bytes.split(|&c| c == b'\n').enumerate() {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let s = std::str::from_utf8(l)
            .map_err(|_| Error::parse(path, k + 1, "not valid UTF-8 text"))?;
        lines.push(s.to_string());
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    Ok(lines)
}

/// `features.tsv` (id, symbol, type) or `genes.tsv` (id, symbol); a file with one column
/// gives symbols only.
fn read_features(path: &Path) -> Result<(GeneTable, Option<Vec<String>>)> {
    let lines = read_lines(path)?;
    let mut types = Vec::with_capacity(lines.len());
    let mut ids = Vec::with_capacity(lines.len());
    let mut symbols = Vec::with_capacity(lines.len());
    let mut two_cols: Option<bool> = None;
    for (k, l) in lines.iter().enumerate() {
        let mut f = l.split('\t');
        let first = f.next().unwrap_or("").trim();
        let second = f.next().map(str::trim);
        if let Some(t) = f.next() {
            types.push(t.trim().to_string());
        }
        if first.is_empty() {
            return Err(Error::parse(
                path,
                k + 1,
                "empty gene id (expected `id<TAB>symbol[<TAB>type]`)",
            ));
        }
        let has2 = second.is_some();
        if *two_cols.get_or_insert(has2) != has2 {
            return Err(Error::parse(
                path,
                k + 1,
                "a line with another number of columns than the first line (expected `id<TAB>symbol[<TAB>type]` on every line)",
            ));
        }
        match second {
            Some("") => {
                return Err(Error::parse(path, k + 1, "empty gene symbol"));
            }
            Some(s) => {
                ids.push(first.to_string());
                symbols.push(s.to_string());
            }
            None => symbols.push(first.to_string()),
        }
    }
    let n = symbols.len();
    Ok((
        GeneTable {
            symbols,
            ids: (two_cols == Some(true)).then_some(ids),
        },
        (types.len() == n && n > 0).then_some(types),
    ))
}

/// The feature type scanpy's `gex_only` keeps.
const GENE_EXPRESSION: &str = "Gene Expression";

/// `barcodes.tsv`: the first column of each line.
fn read_barcodes(path: &Path) -> Result<Vec<String>> {
    let lines = read_lines(path)?;
    let mut out = Vec::with_capacity(lines.len());
    for (k, l) in lines.iter().enumerate() {
        let b = l.split('\t').next().unwrap_or("").trim();
        if b.is_empty() {
            return Err(Error::parse(path, k + 1, "empty barcode"));
        }
        out.push(b.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_transposes() {
        let m = parse_mtx_bytes(
            b"%%MatrixMarket matrix coordinate real general\n% c\n3 2 4\n1 1 1.5\n3 1 2\n2 2 4\n2 2 1\n\n",
        )
        .unwrap();
        assert_eq!((m.n_rows(), m.n_cols()), (2, 3));
        assert_eq!(m.row(0), (&[0u32, 2][..], &[1.5f32, 2.0][..]));
        // Duplicates are summed.
        assert_eq!(m.row(1), (&[1u32][..], &[5.0f32][..]));
    }

    #[test]
    fn unsorted_input_is_sorted() {
        let m = parse_mtx_bytes(
            b"%%MatrixMarket matrix coordinate integer general\n3 3 4\n3 3 1\n1 1 2\n2 3 3\n1 3 4\n",
        )
        .unwrap();
        assert_eq!(m.row(2), (&[0u32, 1, 2][..], &[4.0f32, 3.0, 1.0][..]));
        assert_eq!(m.row(0), (&[0u32][..], &[2.0f32][..]));
        assert_eq!(m.nnz(), 4);
    }

    #[test]
    fn counts_lines_across_pieces() {
        let mut s =
            b"%%MatrixMarket matrix coordinate integer general\n%\n10 100000 100000\n".to_vec();
        for c in 0..100_000 {
            s.extend_from_slice(format!("{} {} 1\n", c % 10 + 1, c + 1).as_bytes());
        }
        s.extend_from_slice(b"1 1 1\n");
        match parse_mtx_bytes(&s) {
            Err(Error::Parse { line, msg, .. }) => {
                assert_eq!(line, 100_004, "{msg}");
                assert!(msg.contains("more entries"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }
}
