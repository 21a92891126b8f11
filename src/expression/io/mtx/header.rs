//! The Matrix Market banner and size line.

use super::*;

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
pub(super) const MEMORY: &str = "<memory>";

/// Reads one line (without the line end) into `buf`; `false` at the end of the input.
pub(super) fn read_line(
    src: &mut impl BufRead,
    info: &SourceInfo,
    buf: &mut Vec<u8>,
) -> Result<bool> {
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

pub(super) const BANNER_HELP: &str =
    "expected a Matrix Market banner `%%MatrixMarket matrix coordinate <integer|real|pattern> general`";

pub(super) fn read_header(src: &mut impl BufRead, info: &SourceInfo) -> Result<MtxHeader> {
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
