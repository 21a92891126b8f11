//! CSV/TSV expression tables (cells as rows or as columns), plain or gzip.
//!
//! The layout read is what pandas' `DataFrame.to_csv` and R's `write.table` produce: a header
//! row of names, then one row per cell or per gene whose first field is the row's name.
//!
//! - **Orientation.** [`ReadOptions::cells_as_rows`]: `Some(true)` means rows are cells (the
//!   header names genes), `Some(false)` rows are genes (the header names cells). `None`
//!   guesses that **genes are the longer axis**: more data rows than header names means rows
//!   are genes; otherwise (ties included) rows are cells.
//! - **The header's first field** names the row-name column (`""`, `cell`, `gene`, ...). A
//!   header with one field fewer than the data rows (R's `write.table` default) has no such
//!   field: every header field is then a column name.
//! - **Separator.** `,` for `.csv`, tab for `.tsv`/`.tab`; for `.txt`, a tab if the header has
//!   one, else a comma. A trailing `.gz` is ignored (gzip is detected from the content).
//! - **Quotes.** Fields may be quoted (`"a,b"`, with `""` for a quote inside); a quoted field
//!   cannot span lines. Spaces around fields are ignored. Blank lines are skipped.
//! - **Values** are numbers (missing values such as `NA` or an empty field are errors), finite
//!   and non-negative. They are kept dense ([`Values::Dense`]) unless
//!   [`ReadOptions::force_sparse`].

use std::borrow::Cow;
use std::path::Path;

use ndarray::Array2;
use rayon::prelude::*;

use super::text;
use super::{make_unique, ReadOptions};
use crate::error::{Error, Result};
use crate::expression::{check_unique, CsrMatrix, ExpressionMatrix, GeneTable, Values};

/// The separator a file name implies (`.csv` → comma, otherwise tab; see the module docs for
/// `.txt`).
fn separator_for(path: &Path, first_line: &[u8]) -> u8 {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let txt_with_commas =
        name.ends_with(".txt") && !first_line.contains(&b'\t') && first_line.contains(&b',');
    if name.ends_with(".csv") || txt_with_commas {
        b','
    } else {
        b'\t'
    }
}

/// Reads a CSV/TSV expression table (see the [module docs](self) for the layout and options).
///
/// # Errors
/// [`Error::Empty`] for an empty file or a header without data rows; [`Error::Parse`] naming
/// the 1-based line (and field) for ragged rows, values that are not numbers, NaN/infinite or
/// negative values and unterminated quotes; [`Error::Duplicate`] for repeated gene names
/// (unless `opts.make_unique`) or cell ids; [`Error::Format`] for corrupt gzip.
pub fn read_delimited(path: &Path, opts: &ReadOptions) -> Result<ExpressionMatrix> {
    let (mut src, info) = text::open_text(path)?;
    let bytes =
        crate::io::input::read_to_end_capped(&mut src, path, &|e| text::read_error(&info, e))?;
    let first = bytes.split(|&c| c == b'\n').next().unwrap_or(&[]);
    let sep = separator_for(path, first);
    parse(&bytes, sep, opts, path)
}

/// Parses an in-memory table with separator `sep` (for tests and fuzzing; files go through
/// [`read_delimited`]).
///
/// # Errors
/// As [`read_delimited`] (paths in messages read `<memory>`).
pub fn parse_delimited_bytes(
    bytes: &[u8],
    sep: u8,
    opts: &ReadOptions,
) -> Result<ExpressionMatrix> {
    parse(bytes, sep, opts, Path::new("<memory>"))
}

/// Splits one line into raw fields (quotes kept), honouring quoted separators.
fn split_fields<'a>(
    line: &'a [u8],
    sep: u8,
    out: &mut Vec<&'a [u8]>,
) -> std::result::Result<(), String> {
    out.clear();
    let mut i = 0;
    loop {
        // Leading spaces before a quote are allowed.
        let mut j = i;
        while matches!(line.get(j), Some(b' ')) && sep != b' ' {
            j += 1;
        }
        if line.get(j) == Some(&b'"') {
            let mut k = j + 1;
            loop {
                match memchr::memchr(b'"', line.get(k..).unwrap_or(&[])) {
                    None => {
                        return Err(format!(
                        "unterminated quote in field {} (a quoted field must end on the same line)",
                        out.len() + 1
                    ))
                    }
                    Some(p) => {
                        k += p + 1;
                        if line.get(k) == Some(&b'"') {
                            k += 1; // "" inside a quoted field
                        } else {
                            break;
                        }
                    }
                }
            }
            let mut e = k;
            while matches!(line.get(e), Some(b' ' | b'\t')) && line.get(e) != Some(&sep) {
                e += 1;
            }
            match line.get(e) {
                None => {
                    out.push(line.get(i..k).unwrap_or(&[]));
                    return Ok(());
                }
                Some(&c) if c == sep => {
                    out.push(line.get(i..k).unwrap_or(&[]));
                    i = e + 1;
                }
                Some(_) => {
                    return Err(format!(
                        "text after the closing quote of field {}",
                        out.len() + 1
                    ))
                }
            }
        } else {
            match memchr::memchr(sep, line.get(i..).unwrap_or(&[])) {
                Some(p) => {
                    out.push(line.get(i..i + p).unwrap_or(&[]));
                    i += p + 1;
                }
                None => {
                    out.push(line.get(i..).unwrap_or(&[]));
                    return Ok(());
                }
            }
        }
    }
}

/// A field without surrounding spaces and quotes (`""` inside quotes becomes `"`).
fn unquote(field: &[u8]) -> Cow<'_, [u8]> {
    let t = field.trim_ascii();
    match t.strip_prefix(b"\"").and_then(|t| t.strip_suffix(b"\"")) {
        Some(inner) if inner.windows(2).any(|w| w == b"\"\"") => {
            let mut v = Vec::with_capacity(inner.len());
            let mut k = 0;
            while let Some(&c) = inner.get(k) {
                v.push(c);
                k += if c == b'"' && inner.get(k + 1) == Some(&b'"') {
                    2
                } else {
                    1
                };
            }
            Cow::Owned(v)
        }
        Some(inner) => Cow::Borrowed(inner),
        None => Cow::Borrowed(t),
    }
}

/// A field as a name (UTF-8).
fn name_of(field: &[u8]) -> std::result::Result<String, String> {
    let u = unquote(field);
    std::str::from_utf8(&u)
        .map(str::to_string)
        .map_err(|_| "a name is not valid UTF-8 text".to_string())
}

/// A problem on one line.
struct BadLine {
    line: usize,
    msg: String,
}

fn parse(bytes: &[u8], sep: u8, opts: &ReadOptions, path: &Path) -> Result<ExpressionMatrix> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // Non-blank lines with their 1-based line numbers.
    let mut lines: Vec<(usize, &[u8])> = Vec::new();
    for (k, l) in bytes.split(|&c| c == b'\n').enumerate() {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if !l.trim_ascii().is_empty() {
            lines.push((k + 1, l));
        }
    }
    let Some((&(hline, header), rows)) = lines.split_first() else {
        return Err(Error::Empty {
            what: "expression table",
            why: format!(
                "{}: the file has no text (expected a header row of names, then one row per cell or gene)",
                path.display()
            ),
        });
    };
    let perr = |line: usize, msg: String| Error::parse(path, line, msg);
    let mut fields = Vec::new();
    split_fields(header, sep, &mut fields).map_err(|m| perr(hline, m))?;
    let header_names: Vec<String> = fields
        .iter()
        .map(|f| name_of(f))
        .collect::<std::result::Result<_, _>>()
        .map_err(|m| perr(hline, m))?;
    let Some(&(first_line, first_row)) = rows.first() else {
        return Err(Error::Empty {
            what: "expression table",
            why: format!(
                "{}: only a header row (line {hline}), no data rows",
                path.display()
            ),
        });
    };
    split_fields(first_row, sep, &mut fields).map_err(|m| perr(first_line, m))?;
    let width = fields.len();
    let col_names: Vec<String> = if width == header_names.len() {
        header_names.into_iter().skip(1).collect()
    } else if width == header_names.len() + 1 {
        header_names
    } else {
        return Err(perr(
            first_line,
            format!(
                "{width} fields, but the header (line {hline}) has {} (expected the same number, or one more for the row names)",
                header_names.len()
            ),
        ));
    };
    let n_cols = width - 1;
    if n_cols == 0 {
        return Err(Error::Empty {
            what: "expression table",
            why: format!(
                "{}: no value columns (only row names; is the separator right? `{}` was used)",
                path.display(),
                char::from(sep).escape_default()
            ),
        });
    }
    let n_rows = rows.len();
    let mut data = vec![0f32; n_rows * n_cols];
    let parsed: Vec<std::result::Result<String, BadLine>> = data
        .par_chunks_mut(n_cols)
        .zip(rows.par_iter())
        .with_min_len(16)
        .map_init(Vec::new, |fields, (out, &(line, row))| {
            let bad = |msg: String| BadLine { line, msg };
            split_fields(row, sep, fields).map_err(bad)?;
            if fields.len() != width {
                return Err(bad(format!(
                    "{} fields, expected {width} like line {first_line} (ragged row)",
                    fields.len()
                )));
            }
            let mut it = fields.iter();
            let name = it.next().map(|f| name_of(f)).unwrap_or(Ok(String::new()));
            let name = name.map_err(bad)?;
            for (k, (f, slot)) in it.zip(out.iter_mut()).enumerate() {
                let tok = unquote(f);
                let show = || String::from_utf8_lossy(&tok).chars().take(40).collect::<String>();
                if tok.is_empty() {
                    return Err(bad(format!(
                        "field {} (column `{}`) is empty; missing values are not supported",
                        k + 2,
                        col_names.get(k).map(String::as_str).unwrap_or("")
                    )));
                }
                let Some(v) = text::parse_f64(&tok) else {
                    return Err(bad(format!(
                        "field {} (column `{}`): `{}` is not a number",
                        k + 2,
                        col_names.get(k).map(String::as_str).unwrap_or(""),
                        show()
                    )));
                };
                let v32 = v as f32;
                if !v32.is_finite() {
                    return Err(bad(format!(
                        "field {} (column `{}`): `{}` is not finite (expression values must be finite)",
                        k + 2,
                        col_names.get(k).map(String::as_str).unwrap_or(""),
                        show()
                    )));
                }
                if v32 < 0.0 {
                    return Err(bad(format!(
                        "field {} (column `{}`): negative value `{}` (counts and expression must be >= 0)",
                        k + 2,
                        col_names.get(k).map(String::as_str).unwrap_or(""),
                        show()
                    )));
                }
                *slot = v32;
            }
            Ok(name)
        })
        .collect();
    let mut row_names = Vec::with_capacity(n_rows);
    for r in parsed {
        row_names.push(r.map_err(|b| perr(b.line, b.msg))?);
    }
    let x = Array2::from_shape_vec((n_rows, n_cols), data)
        .map_err(|e| Error::shape("table", format!("{n_rows} x {n_cols}"), e.to_string()))?;
    let cells_as_rows = opts.cells_as_rows.unwrap_or(n_rows <= n_cols);
    let (x, mut genes, cells, gene_place) = if cells_as_rows {
        (
            x,
            col_names,
            row_names,
            format!("the header (line {hline})"),
        )
    } else {
        let t = x.t().as_standard_layout().into_owned();
        (t, row_names, col_names, "the first column".to_string())
    };
    if opts.make_unique {
        make_unique(&mut genes);
    } else {
        check_unique(
            "gene",
            &genes,
            &format!(
                "; gene names in {gene_place} of {} must be unique: read with `make_unique` to suffix repeats with -1, -2, ...",
                path.display()
            ),
        )?;
    }
    let values = if opts.force_sparse {
        Values::Sparse(CsrMatrix::from_dense(x.view()))
    } else {
        Values::Dense(x)
    };
    ExpressionMatrix::new(values, GeneTable::from_symbols(genes), cells)
}

/// Appends a name, quoted when it holds the separator, a quote, a line end or outer spaces.
fn push_name(out: &mut Vec<u8>, name: &str, sep: u8) {
    let needs = name
        .bytes()
        .any(|c| c == sep || c == b'"' || c == b'\n' || c == b'\r')
        || name.trim() != name;
    if needs {
        out.push(b'"');
        for c in name.bytes() {
            if c == b'"' {
                out.push(b'"');
            }
            out.push(c);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(name.as_bytes());
    }
}

/// Writes a CSV/TSV table, cells as rows: a header (an empty first field, then the gene
/// symbols), then one line per cell (its id, then its values; zeros included). Comma for
/// `.csv[.gz]`, tab otherwise; gzip when the name ends in `.gz`. Whole numbers are written
/// without a decimal point; other values with the fewest digits that read back exactly.
/// Names are quoted when needed. The write is atomic.
///
/// # Errors
/// [`Error::Io`]; [`Error::InvalidParam`] for a name with a line end (it cannot be read back
/// line by line).
pub fn write_delimited(m: &ExpressionMatrix, path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let gz = name.ends_with(".gz");
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let sep = if stem.ends_with(".csv") { b',' } else { b'\t' };
    for n in m.genes().symbols.iter().chain(m.cells()) {
        if n.contains(['\n', '\r']) {
            return Err(Error::param(
                "name",
                format!("{n:?}"),
                "a gene or cell name with a line end cannot be written to CSV/TSV",
            ));
        }
    }
    let integral = match m.values() {
        Values::Sparse(x) => text::all_integral(x.data()),
        Values::Dense(x) => x
            .iter()
            .all(|v| text::all_integral(std::slice::from_ref(v))),
    };
    let mut head = Vec::new();
    for g in &m.genes().symbols {
        head.push(sep);
        push_name(&mut head, g, sep);
    }
    head.push(b'\n');
    let n_genes = m.n_genes();
    let rows_per_piece = (1usize << 20).div_ceil(n_genes.max(1)).max(1);
    let n_cells = m.n_cells();
    let mut out = text::AtomicFile::create(path)?;
    let emit = |out: &mut text::AtomicFile, bytes: &[u8]| -> Result<()> {
        if gz {
            let z = text::gzip_member(bytes, 3).map_err(|e| Error::io(path, e))?;
            out.write_all(&z)
        } else {
            out.write_all(bytes)
        }
    };
    emit(&mut out, &head)?;
    let starts: Vec<usize> = (0..n_cells).step_by(rows_per_piece).collect();
    let group = rayon::current_num_threads().max(1) * 2;
    for batch in starts.chunks(group) {
        let pieces: Vec<Vec<u8>> = batch
            .par_iter()
            .map(|&a| {
                let b = (a + rows_per_piece).min(n_cells);
                let mut t = Vec::new();
                let mut row = vec![0f32; n_genes];
                for r in a..b {
                    match m.values() {
                        Values::Dense(x) => {
                            for (slot, &v) in row.iter_mut().zip(x.row(r)) {
                                *slot = v;
                            }
                        }
                        Values::Sparse(x) => {
                            row.iter_mut().for_each(|v| *v = 0.0);
                            let (i, v) = x.row(r);
                            for (&c, &v) in i.iter().zip(v) {
                                if let Some(slot) = row.get_mut(c as usize) {
                                    *slot = v;
                                }
                            }
                        }
                    }
                    push_name(
                        &mut t,
                        m.cells().get(r).map(String::as_str).unwrap_or(""),
                        sep,
                    );
                    for &v in &row {
                        t.push(sep);
                        text::push_value(&mut t, v, integral);
                    }
                    t.push(b'\n');
                }
                t
            })
            .collect();
        for p in pieces {
            emit(&mut out, &p)?;
        }
    }
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_with_quotes() {
        let mut f = Vec::new();
        split_fields(br#"a,"b,c", "d""e" ,f"#, b',', &mut f).unwrap();
        let names: Vec<String> = f.iter().map(|x| name_of(x).unwrap()).collect();
        assert_eq!(names, ["a", "b,c", "d\"e", "f"]);
        assert!(split_fields(br#"a,"b"#, b',', &mut f).is_err());
        assert!(split_fields(br#"a,"b"x,c"#, b',', &mut f).is_err());
        split_fields(b"a\t\tb", b'\t', &mut f).unwrap();
        assert_eq!(f.len(), 3);
    }
}
