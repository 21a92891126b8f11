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

/// Bytes per block when reading a whole file (each block is parsed by all threads).
const READ_BLOCK: usize = 32 << 20;
/// Bytes per block when streaming (bounded memory matters more than speed).
const STREAM_BLOCK: usize = 4 << 20;
/// Smallest possible entry line (`1 1\n`), to bound allocations by the file size.
const MIN_ENTRY_BYTES: u64 = 4;
/// gzip level of written files: fast (level 6 is 3–4× slower for ~10% smaller files).
const GZ_LEVEL: u32 = 3;

/// The numbers a Matrix Market file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtxField {
    /// `integer` (counts).
    Integer,
    /// `real` or `double`.
    Real,
    /// `pattern`: positions only, every entry is 1.
    Pattern,
}

/// The header of a Matrix Market coordinate file: banner and size line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtxHeader {
    /// Matrix rows (genes, in 10x files).
    pub n_rows: usize,
    /// Matrix columns (cells, in 10x files).
    pub n_cols: usize,
    /// Number of entries the file says it holds.
    pub nnz: usize,
    /// Declared field.
    pub field: MtxField,
    /// 1-based line of the size line (the body starts on the next line).
    pub size_line: usize,
}

impl MtxHeader {
    /// Reads the banner, comments and size line from the start of `src`, leaving `src` at the
    /// first entry. `path` only names the file in errors.
    ///
    /// # Errors
    /// [`Error::Parse`] (with the line) for a missing or malformed banner or size line;
    /// [`Error::Unsupported`] for formats other than `coordinate ... general`.
    pub fn read(src: &mut impl BufRead, path: &Path) -> Result<Self> {
        let info = SourceInfo {
            path: path.to_path_buf(),
            gz: false,
            max_text_bytes: u64::MAX,
        };
        read_header(src, &info)
    }

    /// The header at the start of in-memory bytes.
    ///
    /// # Errors
    /// As [`MtxHeader::read`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut src = bytes;
        MtxHeader::read(&mut src, Path::new(MEMORY))
    }
}

/// Path shown in errors about in-memory input.
const MEMORY: &str = "<memory>";

/// Reads one line (without the line end) into `buf`; `false` at the end of the input.
fn read_line(src: &mut impl BufRead, info: &SourceInfo, buf: &mut Vec<u8>) -> Result<bool> {
    buf.clear();
    let cap = crate::io::input::MAX_LINE_BYTES;
    let n = src
        .take(cap as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(|e| text::read_error(info, e))?;
    if n > cap {
        return Err(crate::io::input::long_line(&info.path, 0));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(n > 0)
}

const BANNER_HELP: &str =
    "expected a Matrix Market banner `%%MatrixMarket matrix coordinate <integer|real|pattern> general`";

fn read_header(src: &mut impl BufRead, info: &SourceInfo) -> Result<MtxHeader> {
    let path = &info.path;
    let mut buf = Vec::new();
    if !read_line(src, info, &mut buf)? {
        return Err(Error::parse(path, 1, format!("empty file: {BANNER_HELP}")));
    }
    let banner = String::from_utf8_lossy(&buf).to_string();
    let tokens: Vec<String> = banner
        .split_ascii_whitespace()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    let shown: String = banner.chars().take(80).collect();
    if tokens.first().map(String::as_str) != Some("%%matrixmarket") {
        return Err(Error::parse(
            path,
            1,
            format!("{BANNER_HELP}, found `{shown}`"),
        ));
    }
    if tokens.len() != 5 {
        return Err(Error::parse(
            path,
            1,
            format!("the banner needs 4 words after %%MatrixMarket (object, format, field, symmetry), found `{shown}`"),
        ));
    }
    let word = |k: usize| tokens.get(k).map(String::as_str).unwrap_or("");
    if word(1) != "matrix" {
        return Err(Error::Unsupported(format!(
            "{}: Matrix Market object `{}` (only `matrix`)",
            path.display(),
            word(1)
        )));
    }
    match word(2) {
        "coordinate" => {}
        "array" => {
            return Err(Error::Unsupported(format!(
            "{}: dense `array` Matrix Market files (only sparse `coordinate` files, as 10x writes)",
            path.display()
        )))
        }
        other => {
            return Err(Error::parse(
                path,
                1,
                format!("unknown Matrix Market format `{other}` (expected `coordinate`)"),
            ))
        }
    }
    let field = match word(3) {
        "integer" => MtxField::Integer,
        "real" | "double" => MtxField::Real,
        "pattern" => MtxField::Pattern,
        "complex" => {
            return Err(Error::Unsupported(format!(
                "{}: complex Matrix Market values",
                path.display()
            )))
        }
        other => {
            return Err(Error::parse(
                path,
                1,
                format!(
                    "unknown Matrix Market field `{other}` (expected integer, real or pattern)"
                ),
            ))
        }
    };
    match word(4) {
        "general" => {}
        s @ ("symmetric" | "skew-symmetric" | "hermitian") => {
            return Err(Error::Unsupported(format!(
                "{}: `{s}` Matrix Market files (only `general`, as expression matrices are)",
                path.display()
            )))
        }
        other => {
            return Err(Error::parse(
                path,
                1,
                format!("unknown Matrix Market symmetry `{other}` (expected `general`)"),
            ))
        }
    }
    // Comments and blank lines, then the size line.
    let mut line = 1;
    loop {
        line += 1;
        if !read_line(src, info, &mut buf)? {
            return Err(Error::parse(
                path,
                line,
                "truncated header: the file ends before the size line `<rows> <columns> <entries>`",
            ));
        }
        let t = buf.trim_ascii();
        if t.is_empty() || t.first() == Some(&b'%') {
            continue;
        }
        break;
    }
    let size = String::from_utf8_lossy(&buf).to_string();
    let nums: Vec<&str> = size.split_ascii_whitespace().collect();
    let shown: String = size.chars().take(80).collect();
    let parsed: Option<Vec<usize>> = nums.iter().map(|s| s.parse::<usize>().ok()).collect();
    let (n_rows, n_cols, nnz) = match parsed.as_deref() {
        Some(&[r, c, n]) => (r, c, n),
        _ => {
            return Err(Error::parse(
                path,
                line,
                format!("expected the size line `<rows> <columns> <entries>` (three non-negative integers), found `{shown}`"),
            ))
        }
    };
    if n_rows > u32::MAX as usize || n_cols > u32::MAX as usize {
        return Err(Error::Unsupported(format!(
            "{}: line {line}: {n_rows} x {n_cols} matrix (at most 2^32 - 1 rows and columns)",
            path.display()
        )));
    }
    Ok(MtxHeader {
        n_rows,
        n_cols,
        nnz,
        field,
        size_line: line,
    })
}

/// Entries parsed from a piece of the body, cell (column) first.
#[derive(Default)]
struct Parsed {
    cells: Vec<u32>,
    genes: Vec<u32>,
    vals: Vec<f32>,
    /// Line ends consumed.
    lines: usize,
}

/// A bad line inside a piece: 0-based line within the piece and what is wrong.
struct BadLine {
    line: usize,
    msg: String,
}

/// The token at `b[i..]`, for messages.
fn token_at(b: &[u8], i: usize) -> String {
    let rest = b.get(i..).unwrap_or(&[]);
    let end = rest
        .iter()
        .position(|c| c.is_ascii_whitespace())
        .unwrap_or(rest.len());
    if end == 0 {
        return "the end of the line".into();
    }
    let tok = rest.get(..end.min(40)).unwrap_or(&[]);
    format!("`{}`", String::from_utf8_lossy(tok))
}

#[inline]
fn skip_blank(b: &[u8], i: &mut usize) {
    while let Some(&c) = b.get(*i) {
        if c == b' ' || c == b'\t' || c == b'\r' {
            *i += 1;
        } else {
            break;
        }
    }
}

#[inline]
fn is_sep(c: Option<&u8>) -> bool {
    matches!(c, Some(b' ' | b'\t'))
}

/// Parses every entry line of `b` (whole lines).
fn parse_piece(b: &[u8], h: &MtxHeader) -> std::result::Result<Parsed, BadLine> {
    let guess = b.len() / 12 + 1;
    let mut out = Parsed {
        cells: Vec::with_capacity(guess),
        genes: Vec::with_capacity(guess),
        vals: Vec::with_capacity(guess),
        lines: 0,
    };
    let pattern = h.field == MtxField::Pattern;
    let (n_rows, n_cols) = (h.n_rows as u64, h.n_cols as u64);
    let mut i = 0;
    let mut line = 0;
    let bad = |line: usize, msg: String| BadLine { line, msg };
    while i < b.len() {
        skip_blank(b, &mut i);
        match b.get(i) {
            None => break,
            Some(b'\n') => {
                i += 1;
                line += 1;
                continue;
            }
            Some(b'%') => {
                match memchr::memchr(b'\n', b.get(i..).unwrap_or(&[])) {
                    Some(p) => i += p + 1,
                    None => i = b.len(),
                }
                line += 1;
                continue;
            }
            _ => {}
        }
        let Some(row) = text::parse_uint(b, &mut i) else {
            return Err(bad(
                line,
                format!(
                    "expected a gene (row) index, a positive integer, found {}",
                    token_at(b, i)
                ),
            ));
        };
        if !is_sep(b.get(i)) {
            return Err(bad(
                line,
                format!(
                    "expected a space after the row index, found {}",
                    token_at(b, i)
                ),
            ));
        }
        skip_blank(b, &mut i);
        let Some(col) = text::parse_uint(b, &mut i) else {
            return Err(bad(
                line,
                format!(
                    "expected a cell (column) index, a positive integer, found {}",
                    token_at(b, i)
                ),
            ));
        };
        let v = if pattern {
            1.0f32
        } else {
            if !is_sep(b.get(i)) {
                return Err(bad(
                    line,
                    format!(
                        "expected a space and a value after the column index, found {}",
                        token_at(b, i)
                    ),
                ));
            }
            skip_blank(b, &mut i);
            let start = i;
            while let Some(&c) = b.get(i) {
                if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
                    break;
                }
                i += 1;
            }
            let tok = b.get(start..i).unwrap_or(&[]);
            if tok.is_empty() {
                return Err(bad(
                    line,
                    "missing value (expected 3 fields: row column value)".into(),
                ));
            }
            let Some(v) = text::parse_f64(tok) else {
                return Err(bad(
                    line,
                    format!("value {} is not a number", token_at(b, start)),
                ));
            };
            let v32 = v as f32;
            if !v32.is_finite() {
                return Err(bad(
                    line,
                    format!(
                        "value {} is not finite{} (expression values must be finite)",
                        token_at(b, start),
                        if v.is_finite() {
                            " as a 32-bit float"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            if v32 < 0.0 {
                return Err(bad(
                    line,
                    format!(
                        "negative value {} at gene {row}, cell {col} (counts and expression must be >= 0)",
                        token_at(b, start)
                    ),
                ));
            }
            v32
        };
        skip_blank(b, &mut i);
        match b.get(i) {
            None => {}
            Some(b'\n') => i += 1,
            Some(_) => {
                return Err(bad(
                    line,
                    format!(
                        "unexpected {} after the entry (expected {} fields)",
                        token_at(b, i),
                        if pattern { 2 } else { 3 }
                    ),
                ))
            }
        }
        if row == 0 || row > n_rows {
            return Err(bad(
                line,
                format!(
                    "gene (row) index {row} is out of range 1..={n_rows} (indices are 1-based)"
                ),
            ));
        }
        if col == 0 || col > n_cols {
            return Err(bad(
                line,
                format!(
                    "cell (column) index {col} is out of range 1..={n_cols} (indices are 1-based)"
                ),
            ));
        }
        out.cells.push((col - 1) as u32);
        out.genes.push((row - 1) as u32);
        out.vals.push(v);
        line += 1;
    }
    out.lines = line;
    Ok(out)
}

/// 0-based line, within `b`, of the `k`-th (0-based) entry line.
fn entry_line(b: &[u8], k: usize) -> usize {
    let mut seen = 0;
    for (line, l) in b.split(|&c| c == b'\n').enumerate() {
        let t = l.trim_ascii();
        if t.is_empty() || t.first() == Some(&b'%') {
            continue;
        }
        if seen == k {
            return line;
        }
        seen += 1;
    }
    0
}

/// Collects parsed pieces in file order into CSR (cells as rows), checking the entry count.
struct Assembler {
    n_cells: usize,
    /// Entries per cell.
    counts: Vec<usize>,
    genes: Vec<u32>,
    vals: Vec<f32>,
    /// Cell of each entry, only once an entry came out of cell order.
    cells: Option<Vec<u32>>,
    last: u32,
}

impl Assembler {
    fn new(n_cells: usize, reserve: usize) -> Self {
        Assembler {
            n_cells,
            counts: vec![0; n_cells],
            genes: Vec::with_capacity(reserve),
            vals: Vec::with_capacity(reserve),
            cells: None,
            last: 0,
        }
    }

    fn len(&self) -> usize {
        self.genes.len()
    }

    fn push(&mut self, p: &Parsed) {
        if self.cells.is_none() {
            let in_order = p.cells.first().is_none_or(|&c| c >= self.last)
                && p.cells.windows(2).all(|w| w[0] <= w[1]);
            if !in_order {
                // Everything so far was in cell order: the cell of each entry follows from
                // the counts.
                let mut cells = Vec::with_capacity(self.genes.capacity());
                for (c, &k) in self.counts.iter().enumerate() {
                    cells.extend(std::iter::repeat_n(c as u32, k));
                }
                self.cells = Some(cells);
            }
        }
        if let Some(cells) = self.cells.as_mut() {
            cells.extend_from_slice(&p.cells);
        }
        for &c in &p.cells {
            if let Some(k) = self.counts.get_mut(c as usize) {
                *k += 1;
            }
        }
        if let Some(&c) = p.cells.last() {
            self.last = c;
        }
        self.genes.extend_from_slice(&p.genes);
        self.vals.extend_from_slice(&p.vals);
    }

    fn finish(self, n_genes: usize) -> Result<CsrMatrix> {
        let Assembler {
            n_cells,
            counts,
            genes,
            vals,
            cells,
            ..
        } = self;
        let mut indptr = Vec::with_capacity(n_cells + 1);
        indptr.push(0usize);
        let mut acc = 0usize;
        for &k in &counts {
            acc += k;
            indptr.push(acc);
        }
        drop(counts);
        let (mut genes, mut vals) = match cells {
            None => (genes, vals),
            Some(cells) => {
                // Counting sort by cell (stable: duplicates are summed in file order).
                let mut next: Vec<usize> = indptr.clone();
                let mut g2 = vec![0u32; genes.len()];
                let mut v2 = vec![0f32; vals.len()];
                for ((&c, &g), &v) in cells.iter().zip(&genes).zip(&vals) {
                    if let Some(slot) = next.get_mut(c as usize) {
                        if let (Some(gs), Some(vs)) = (g2.get_mut(*slot), v2.get_mut(*slot)) {
                            *gs = g;
                            *vs = v;
                        }
                        *slot += 1;
                    }
                }
                (g2, v2)
            }
        };
        normalize_rows(&mut indptr, &mut genes, &mut vals);
        CsrMatrix::new(n_cells, n_genes, indptr, genes, vals)
    }
}

/// Sorts each row by column, sums duplicate columns and drops zeros, in place.
fn normalize_rows(indptr: &mut [usize], idx: &mut Vec<u32>, val: &mut Vec<f32>) {
    let n = indptr.len().saturating_sub(1);
    fn clean(idx: &[u32], val: &[f32], a: usize, b: usize) -> bool {
        match (idx.get(a..b), val.get(a..b)) {
            (Some(i), Some(v)) => i.windows(2).all(|w| w[0] < w[1]) && !v.contains(&0.0),
            _ => true,
        }
    }
    let ptr: &[usize] = indptr;
    let (ix, vx): (&[u32], &[f32]) = (idx, val);
    let all_clean =
        (0..n)
            .into_par_iter()
            .with_min_len(1024)
            .all(|r| match (ptr.get(r), ptr.get(r + 1)) {
                (Some(&a), Some(&b)) => clean(ix, vx, a, b),
                _ => true,
            });
    if all_clean {
        return;
    }
    let mut w = 0usize;
    let mut pairs: Vec<(u32, f32)> = Vec::new();
    let mut start = 0usize;
    for r in 0..n {
        let end = indptr.get(r + 1).copied().unwrap_or(start);
        if let Some(p) = indptr.get_mut(r) {
            *p = w;
        }
        if clean(idx, val, start, end) {
            idx.copy_within(start..end, w);
            val.copy_within(start..end, w);
            w += end - start;
        } else {
            pairs.clear();
            if let (Some(i), Some(v)) = (idx.get(start..end), val.get(start..end)) {
                pairs.extend(i.iter().copied().zip(v.iter().copied()));
            }
            pairs.sort_by_key(|p| p.0);
            let mut k = 0;
            while k < pairs.len() {
                let (c, mut s) = pairs[k];
                k += 1;
                while k < pairs.len() && pairs[k].0 == c {
                    s += pairs[k].1;
                    k += 1;
                }
                if s != 0.0 {
                    if let (Some(i), Some(v)) = (idx.get_mut(w), val.get_mut(w)) {
                        *i = c;
                        *v = s;
                    }
                    w += 1;
                }
            }
        }
        start = end;
    }
    if let Some(p) = indptr.get_mut(n) {
        *p = w;
    }
    idx.truncate(w);
    val.truncate(w);
}

/// How many entries to reserve: the header's count, bounded by what the file can hold.
fn reserve_for(h: &MtxHeader, info: &SourceInfo) -> usize {
    let max = info.max_text_bytes / MIN_ENTRY_BYTES + 1;
    h.nnz.min(usize::try_from(max).unwrap_or(usize::MAX))
}

/// `block` bytes, or fewer when the whole source is smaller (no 32 MB buffer for a small file).
fn block_size(block: usize, info: &SourceInfo) -> usize {
    usize::try_from(info.max_text_bytes.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(block)
}

/// Parses one block on all threads and feeds it to `sink` in order. Returns the line number
/// of the line after the block.
fn parse_block(
    block: &[u8],
    h: &MtxHeader,
    path: &Path,
    first_line: usize,
    seen: &mut usize,
    mut sink: impl FnMut(&Parsed, &[u8], usize) -> Result<()>,
) -> Result<usize> {
    let threads = rayon::current_num_threads();
    let parts = if threads > 1 && block.len() > (1 << 16) {
        text::split_lines(block, threads * 4)
    } else {
        vec![block]
    };
    let parsed: Vec<std::result::Result<Parsed, BadLine>> =
        parts.par_iter().map(|p| parse_piece(p, h)).collect();
    let mut line = first_line;
    for (part, res) in parts.iter().zip(parsed) {
        let p = res.map_err(|b| Error::parse(path, line + b.line, b.msg))?;
        let n = p.genes.len();
        if *seen + n > h.nnz {
            let k = h.nnz - *seen;
            return Err(Error::parse(
                path,
                line + entry_line(part, k),
                format!(
                    "more entries than the {} the size line (line {}) announces",
                    h.nnz, h.size_line
                ),
            ));
        }
        sink(&p, part, line)?;
        *seen += n;
        line += p.lines;
    }
    Ok(line)
}

/// Reads the body after the header into CSR (cells × genes).
fn read_body<R: Read + Send>(src: R, h: &MtxHeader, info: &SourceInfo) -> Result<CsrMatrix> {
    let path = info.path.clone();
    let mut blocks = BlockReader::new(src, block_size(READ_BLOCK, info), info.clone());
    let mut asm = Assembler::new(h.n_cols, reserve_for(h, info));
    let mut cur = Vec::new();
    let mut next = Vec::new();
    let mut more = blocks.fill(&mut cur)?;
    let mut line = h.size_line + 1;
    let mut seen = 0usize;
    while more {
        // Read the next block while this one is parsed.
        let (read, parsed) = rayon::join(
            || blocks.fill(&mut next),
            || {
                parse_block(&cur, h, &path, line, &mut seen, |p, _, _| {
                    asm.push(p);
                    Ok(())
                })
            },
        );
        line = parsed?;
        more = read?;
        std::mem::swap(&mut cur, &mut next);
    }
    drop((cur, next));
    if asm.len() < h.nnz {
        return Err(truncated(&path, line, h, asm.len()));
    }
    asm.finish(h.n_rows)
}

fn truncated(path: &Path, line: usize, h: &MtxHeader, got: usize) -> Error {
    Error::parse(
        path,
        line,
        format!(
            "truncated file: the size line (line {}) announces {} entries but the file ends after {got}",
            h.size_line, h.nnz
        ),
    )
}

/// Parses a whole Matrix Market coordinate file held in memory (genes × cells, as 10x writes
/// it) into cells × genes CSR. For tests and fuzzing; files go through [`read_10x`] and
/// [`read_10x_mtx_file`].
///
/// # Errors
/// As [`read_10x_mtx_file`] (paths in messages read `<memory>`).
pub fn parse_mtx_bytes(bytes: &[u8]) -> Result<CsrMatrix> {
    let info = SourceInfo {
        path: PathBuf::from(MEMORY),
        gz: false,
        max_text_bytes: bytes.len() as u64,
    };
    let mut src = bytes;
    let h = read_header(&mut src, &info)?;
    check_backed(h.n_cols, "cells (columns)", &h, &info)?;
    read_body(src, &h, &info)
}

/// Rows or columns a size line may announce with nothing else to back them: each costs a
/// name and a counter (tens of bytes), so a count beyond the file's text bytes (or 2^20,
/// whichever is larger) is a claim the file cannot back. With a features or barcodes file,
/// that file's lines back the count instead.
fn check_backed(n: usize, what: &str, h: &MtxHeader, info: &SourceInfo) -> Result<()> {
    let allowed = info.max_text_bytes.max(1 << 20);
    if n as u64 <= allowed {
        return Ok(());
    }
    Err(Error::parse(
        &info.path,
        h.size_line,
        format!(
            "the size line announces {n} {what}, more than a file of this size can describe ({allowed} at most); the header is damaged, or the matrix needs its features.tsv / barcodes.tsv beside it"
        ),
    ))
}

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

/// Writes a 10x directory that `scanpy.read_10x_mtx` and Cell Ranger tools read:
/// `matrix.mtx.gz` (genes × cells, `integer` when every value is a whole number, else `real`),
/// `features.tsv.gz` (`id<TAB>symbol<TAB>Gene Expression`; the symbol stands in for a missing
/// id) and `barcodes.tsv.gz`. The directory is created if needed; each file is written
/// atomically. The matrix is compressed in parallel as a multi-member gzip file (read by every
/// gzip reader).
///
/// # Errors
/// [`Error::Io`] for write failures, or when the directory already holds uncompressed 10x files
/// (`matrix.mtx`, `features.tsv`, `genes.tsv`, `barcodes.tsv`) or `genes.tsv.gz`, which readers
/// would pick instead of the new files; [`Error::InvalidParam`] for a name with a tab or line
/// end (TSV cannot hold it).
pub fn write_10x(m: &ExpressionMatrix, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for stale in [
        "matrix.mtx",
        "features.tsv",
        "genes.tsv",
        "genes.tsv.gz",
        "barcodes.tsv",
    ] {
        let p = dir.join(stale);
        if p.exists() {
            return Err(Error::io(
                &p,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "this file would be read instead of the new matrix.mtx.gz/features.tsv.gz/barcodes.tsv.gz; remove it or write to another directory",
                ),
            ));
        }
    }
    let check_name = |what: &'static str, s: &str| {
        if s.contains(['\t', '\n', '\r']) || s.is_empty() {
            Err(Error::param(
                what,
                format!("{s:?}"),
                "must be non-empty without tabs or line ends to be written to a 10x TSV file",
            ))
        } else {
            Ok(())
        }
    };
    let genes = m.genes();
    let mut features = Vec::new();
    for (k, sym) in genes.symbols.iter().enumerate() {
        let id = genes.ids.as_ref().and_then(|ids| ids.get(k)).unwrap_or(sym);
        check_name("gene symbol", sym)?;
        check_name("gene id", id)?;
        features.extend_from_slice(id.as_bytes());
        features.push(b'\t');
        features.extend_from_slice(sym.as_bytes());
        features.extend_from_slice(b"\tGene Expression\n");
    }
    let mut barcodes = Vec::new();
    for c in m.cells() {
        check_name("cell id", c)?;
        barcodes.extend_from_slice(c.as_bytes());
        barcodes.push(b'\n');
    }
    let gz =
        |path: &Path, bytes: &[u8]| text::gzip_member(bytes, 6).map_err(|e| Error::io(path, e));
    let p = dir.join("features.tsv.gz");
    crate::io::write_atomic(&p, &gz(&p, &features)?)?;
    let p = dir.join("barcodes.tsv.gz");
    crate::io::write_atomic(&p, &gz(&p, &barcodes)?)?;
    write_matrix_gz(m.values(), &dir.join("matrix.mtx.gz"))
}

/// Entries per parallel piece when writing.
const WRITE_PIECE: usize = 1 << 20;

fn write_matrix_gz(values: &Values, path: &Path) -> Result<()> {
    let (n_cells, n_genes) = values.dim();
    let integral = match values {
        Values::Sparse(x) => text::all_integral(x.data()),
        Values::Dense(x) => match x.as_slice() {
            Some(s) => text::all_integral(s),
            None => x
                .iter()
                .all(|v| text::all_integral(std::slice::from_ref(v))),
        },
    };
    let nnz = values.nnz();
    let mut out = text::AtomicFile::create(path)?;
    let mut head = format!(
        "%%MatrixMarket matrix coordinate {} general\n%written by cellsindy {}: genes x cells\n",
        if integral { "integer" } else { "real" },
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes();
    text::push_uint(&mut head, n_genes as u64);
    head.push(b' ');
    text::push_uint(&mut head, n_cells as u64);
    head.push(b' ');
    text::push_uint(&mut head, nnz as u64);
    head.push(b'\n');
    out.write_all(&text::gzip_member(&head, GZ_LEVEL).map_err(|e| Error::io(path, e))?)?;
    // Pieces of consecutive cells, about WRITE_PIECE entries each.
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let mut acc = 0;
    for r in 0..n_cells {
        acc += match values {
            Values::Sparse(x) => x.row(r).0.len(),
            Values::Dense(_) => n_genes,
        };
        if acc >= WRITE_PIECE {
            pieces.push((start, r + 1));
            start = r + 1;
            acc = 0;
        }
    }
    if start < n_cells {
        pieces.push((start, n_cells));
    }
    let group = rayon::current_num_threads().max(1) * 2;
    for batch in pieces.chunks(group) {
        let members: Vec<std::io::Result<Vec<u8>>> = batch
            .par_iter()
            .map(|&(a, b)| {
                let mut t = Vec::with_capacity(WRITE_PIECE * 12);
                for r in a..b {
                    let mut put = |g: usize, v: f32| {
                        text::push_uint(&mut t, g as u64 + 1);
                        t.push(b' ');
                        text::push_uint(&mut t, r as u64 + 1);
                        t.push(b' ');
                        text::push_value(&mut t, v, integral);
                        t.push(b'\n');
                    };
                    match values {
                        Values::Sparse(x) => {
                            let (i, v) = x.row(r);
                            for (&g, &v) in i.iter().zip(v) {
                                put(g as usize, v);
                            }
                        }
                        Values::Dense(x) => {
                            for (g, &v) in x.row(r).iter().enumerate() {
                                if v != 0.0 {
                                    put(g, v);
                                }
                            }
                        }
                    }
                }
                text::gzip_member(&t, GZ_LEVEL)
            })
            .collect();
        for m in members {
            out.write_all(&m.map_err(|e| Error::io(path, e))?)?;
        }
    }
    out.commit()
}

/// Streams a 10x directory or `.mtx[.gz]` file in chunks of consecutive cells with bounded
/// memory (one block of text, one chunk, and the gene and cell names), without loading the
/// file. The entries must be sorted by cell (non-decreasing column index), as 10x writes them;
/// a file that is not is an error that says so.
pub struct MtxChunks {
    genes: GeneTable,
    /// Feature rows kept (`gex_only`), applied to every chunk.
    keep: Option<Vec<usize>>,
    cells: Vec<String>,
    header: MtxHeader,
    chunk_cells: usize,
    blocks: BlockReader<BufReader<DynRead>>,
    buf: Vec<u8>,
    /// Parsed entries of the current block, and the next one to use.
    pending: Parsed,
    pos: usize,
    /// Line number of the next block's first line.
    line: usize,
    /// Entries read so far.
    seen: usize,
    /// Cell of the last entry read.
    last_cell: u32,
    /// First cell of the next chunk.
    next_cell: usize,
    eof: bool,
    done: bool,
}

impl std::fmt::Debug for MtxChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtxChunks")
            .field("path", &self.blocks.info().path)
            .field("header", &self.header)
            .field("chunk_cells", &self.chunk_cells)
            .field("next_cell", &self.next_cell)
            .finish_non_exhaustive()
    }
}

impl MtxChunks {
    /// Opens a 10x directory or a `.mtx[.gz]` file (names as [`read_10x`] and
    /// [`read_10x_mtx_file`]) and reads its header and names.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `chunk_cells == 0`, and what [`read_10x`] reports about the
    /// header and names.
    pub fn open(path: &Path, chunk_cells: usize, opts: &ReadOptions) -> Result<Self> {
        if chunk_cells == 0 {
            return Err(Error::param("chunk_cells", 0, "must be at least 1"));
        }
        let files = if path.is_dir() {
            TenxFiles::of_dir(path)?
        } else {
            TenxFiles::beside_mtx(path)
        };
        let o = open_files(&files, opts)?;
        let line = o.header.size_line + 1;
        Ok(MtxChunks {
            genes: o.genes,
            keep: o.keep,
            cells: o.cells,
            chunk_cells,
            blocks: BlockReader::new(o.body, block_size(STREAM_BLOCK, &o.info), o.info),
            header: o.header,
            buf: Vec::new(),
            pending: Parsed::default(),
            pos: 0,
            line,
            seen: 0,
            last_cell: 0,
            next_cell: 0,
            eof: false,
            done: false,
        })
    }

    /// Reads and parses the next block into `pending`; `false` at the end of the file.
    fn load_block(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if !self.blocks.fill(&mut self.buf)? {
            self.eof = true;
            if self.seen < self.header.nnz {
                return Err(truncated(
                    &self.blocks.info().path,
                    self.line,
                    &self.header,
                    self.seen,
                ));
            }
            return Ok(false);
        }
        let path = self.blocks.info().path.clone();
        let mut pending = Parsed::default();
        let mut last = self.last_cell;
        let h = &self.header;
        self.line = parse_block(
            &self.buf,
            h,
            &path,
            self.line,
            &mut self.seen,
            |p, part, line| {
                let first_bad = p
                    .cells
                    .iter()
                    .enumerate()
                    .find(|&(_, &c)| {
                        let ok = c >= last;
                        last = c;
                        !ok
                    })
                    .map(|(k, _)| k);
                if let Some(k) = first_bad {
                    return Err(Error::parse(
                        &path,
                        line + entry_line(part, k),
                        "entries are not sorted by cell (column index decreases), so the file cannot be streamed; read it whole or convert it to .h5ad first",
                    ));
                }
                pending.cells.extend_from_slice(&p.cells);
                pending.genes.extend_from_slice(&p.genes);
                pending.vals.extend_from_slice(&p.vals);
                Ok(())
            },
        )?;
        self.last_cell = last;
        self.pending = pending;
        self.pos = 0;
        Ok(true)
    }

    fn next_chunk(&mut self) -> Result<Option<CellChunk>> {
        let n_cells = self.header.n_cols;
        let start = self.next_cell;
        if start >= n_cells {
            // No cells left: make sure nothing is missing (entries would all be in earlier
            // chunks, as they are sorted by cell).
            while self.load_block()? {}
            return Ok(None);
        }
        let end = start.saturating_add(self.chunk_cells).min(n_cells);
        let mut counts = vec![0usize; end - start];
        let mut genes = Vec::new();
        let mut vals = Vec::new();
        'fill: loop {
            while let (Some(&c), Some(&g), Some(&v)) = (
                self.pending.cells.get(self.pos),
                self.pending.genes.get(self.pos),
                self.pending.vals.get(self.pos),
            ) {
                let c = c as usize;
                if c >= end {
                    break 'fill;
                }
                if let Some(k) = counts.get_mut(c - start) {
                    *k += 1;
                }
                genes.push(g);
                vals.push(v);
                self.pos += 1;
            }
            if !self.load_block()? {
                break;
            }
        }
        let mut indptr = Vec::with_capacity(counts.len() + 1);
        indptr.push(0);
        let mut acc = 0;
        for k in counts {
            acc += k;
            indptr.push(acc);
        }
        normalize_rows(&mut indptr, &mut genes, &mut vals);
        let mut values = CsrMatrix::new(end - start, self.header.n_rows, indptr, genes, vals)?;
        if let Some(k) = &self.keep {
            values = values.select_cols(k)?;
        }
        self.next_cell = end;
        Ok(Some(CellChunk {
            start,
            cells: self.cells.get(start..end).unwrap_or(&[]).to_vec(),
            values,
        }))
    }
}

impl Iterator for MtxChunks {
    type Item = Result<CellChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(c)) => Some(Ok(c)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl CellChunks for MtxChunks {
    fn genes(&self) -> &GeneTable {
        &self.genes
    }
    fn n_cells(&self) -> Option<usize> {
        Some(self.header.n_cols)
    }
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
