//! Parsing entry lines: hand-written number parsing, no allocation per line.

use super::*;

/// Entries parsed from a piece of the body, cell (column) first.
#[derive(Default)]
pub(super) struct Parsed {
    pub(super) cells: Vec<u32>,
    pub(super) genes: Vec<u32>,
    pub(super) vals: Vec<f32>,
    /// Line ends consumed.
    pub(super) lines: usize,
}

/// A bad line inside a piece: 0-based line within the piece and what is wrong.
pub(super) struct BadLine {
    pub(super) line: usize,
    pub(super) msg: String,
}

/// The token at `b[i..]`, for messages.
pub(super) fn token_at(b: &[u8], i: usize) -> String {
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
pub(super) fn skip_blank(b: &[u8], i: &mut usize) {
    while let Some(&c) = b.get(*i) {
        if c == b' ' || c == b'\t' || c == b'\r' {
            *i += 1;
        } else {
            break;
        }
    }
}

#[inline]
pub(super) fn is_sep(c: Option<&u8>) -> bool {
    matches!(c, Some(b' ' | b'\t'))
}

/// Parses every entry line of `b` (whole lines).
pub(super) fn parse_piece(b: &[u8], h: &MtxHeader) -> std::result::Result<Parsed, BadLine> {
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
pub(super) fn entry_line(b: &[u8], k: usize) -> usize {
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
