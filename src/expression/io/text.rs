//! Shared plumbing of the text readers and writers (Matrix Market, CSV/TSV):
//!
//! - [`open_text`]: a file, decompressed when it starts with the gzip magic bytes (whatever its
//!   name says), with decompression errors reported as [`Error::Format`] rather than panics;
//! - [`BlockReader`]: reads in large blocks cut at line ends, so a parser can split a block
//!   between threads without seeing half a line;
//! - [`parse_f64`] and [`parse_uint`]: hand-written number parsing without allocation (a fast,
//!   exactly rounded path for plain decimals, `str::parse` otherwise);
//! - [`AtomicFile`]: a streaming write to a temporary file renamed over the target at the end;
//! - [`push_value`]: number formatting that our reader (and scipy, which parses `f64` and casts
//!   to `f32`) reads back to the same `f32`.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// First two bytes of every gzip member.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Largest expansion of deflate data (a run of one byte costs about 1 bit per 1032 bytes),
/// used to bound allocations by what a compressed file can possibly hold.
pub(crate) const MAX_GZIP_RATIO: u64 = 1032;

/// A readable text source: the file's bytes, decompressed when gzip.
pub(crate) type DynRead = Box<dyn Read + Send>;

/// What [`open_text`] learnt about a file.
#[derive(Debug, Clone)]
pub(crate) struct SourceInfo {
    /// The file.
    pub path: PathBuf,
    /// True when the content is gzip.
    pub gz: bool,
    /// Upper bound on the number of text bytes the source can produce (file size, times the
    /// largest deflate ratio for gzip).
    pub max_text_bytes: u64,
}

/// Opens a plain or gzip file (gzip detected by its magic bytes).
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened; [`Error::Format`] if it is not a regular file
/// (see [`crate::io::input::open_regular`]) or if the name ends in `.gz` but the content is
/// not gzip.
pub(crate) fn open_text(path: &Path) -> Result<(DynRead, SourceInfo)> {
    let (mut file, size) = crate::io::input::open_regular(path)?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    let gz = got == 2 && magic == GZIP_MAGIC;
    let named_gz = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".gz"));
    if named_gz && !gz {
        return Err(Error::format(
            path,
            "the name ends in .gz but the file is not gzip (no gzip magic bytes 1f 8b)",
        ));
    }
    let head = std::io::Cursor::new(magic[..got].to_vec());
    let plain = head.chain(file);
    let info = SourceInfo {
        path: path.to_path_buf(),
        gz,
        max_text_bytes: if gz {
            size.saturating_mul(MAX_GZIP_RATIO)
        } else {
            size
        },
    };
    let reader: DynRead = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(
            std::io::BufReader::with_capacity(1 << 20, plain),
        ))
    } else {
        Box::new(plain)
    };
    Ok((reader, info))
}

/// Turns a read error into the crate error: damaged compressed data is a format problem,
/// anything else an I/O problem.
pub(crate) fn read_error(info: &SourceInfo, e: std::io::Error) -> Error {
    use std::io::ErrorKind;
    if info.gz
        && matches!(
            e.kind(),
            ErrorKind::InvalidInput | ErrorKind::InvalidData | ErrorKind::UnexpectedEof
        )
    {
        Error::format(
            &info.path,
            format!("corrupt or truncated gzip data ({e}); re-download or re-compress the file"),
        )
    } else {
        Error::io(&info.path, e)
    }
}

/// Reads a source in blocks of about `block` bytes that end at a line end (the last block may
/// end without one). A line longer than a block makes that block longer, up to
/// [`MAX_LINE_BYTES`](crate::io::input::MAX_LINE_BYTES).
pub(crate) struct BlockReader<R> {
    src: R,
    carry: Vec<u8>,
    eof: bool,
    block: usize,
    info: SourceInfo,
}

impl<R: Read> BlockReader<R> {
    /// Wraps `src`.
    pub(crate) fn new(src: R, block: usize, info: SourceInfo) -> Self {
        BlockReader {
            src,
            carry: Vec::new(),
            eof: false,
            block: block.max(1),
            info,
        }
    }

    /// The source description.
    pub(crate) fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Replaces `dst` with the next block. Returns `false` (and an empty `dst`) at the end.
    ///
    /// # Errors
    /// As [`read_error`].
    pub(crate) fn fill(&mut self, dst: &mut Vec<u8>) -> Result<bool> {
        dst.clear();
        dst.extend_from_slice(&self.carry);
        self.carry.clear();
        let mut target = self.block.max(dst.len() + 1);
        let mut search_from = 0;
        loop {
            // Read until the block is full or the source ends (one resize per round, so the
            // zeroing cost is linear even when the source returns small pieces).
            let mut filled = dst.len();
            if !self.eof && filled < target {
                dst.resize(target, 0);
                while filled < target {
                    match self.src.read(&mut dst[filled..]) {
                        Ok(0) => {
                            self.eof = true;
                            break;
                        }
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            dst.truncate(filled);
                            return Err(read_error(&self.info, e));
                        }
                    }
                }
                dst.truncate(filled);
            }
            if self.eof {
                return Ok(!dst.is_empty());
            }
            let tail = dst.get(search_from..).unwrap_or(&[]);
            match memchr::memrchr(b'\n', tail) {
                Some(p) => {
                    let cut = search_from + p + 1;
                    self.carry.extend_from_slice(dst.get(cut..).unwrap_or(&[]));
                    dst.truncate(cut);
                    return Ok(true);
                }
                None => {
                    // A line longer than the block: keep reading, up to the line cap.
                    if dst.len() > crate::io::input::MAX_LINE_BYTES {
                        return Err(crate::io::input::long_line(&self.info.path, 0));
                    }
                    search_from = dst.len();
                    target = dst.len().saturating_mul(2).max(self.block);
                }
            }
        }
    }
}

/// Splits `block` into at most `parts` pieces of about equal size, each ending at a line end
/// (except possibly the last).
pub(crate) fn split_lines(block: &[u8], parts: usize) -> Vec<&[u8]> {
    let parts = parts.max(1);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    let step = block.len() / parts + 1;
    while start < block.len() {
        let want = (start + step).min(block.len());
        let end = if want >= block.len() {
            block.len()
        } else {
            match memchr::memchr(b'\n', block.get(want..).unwrap_or(&[])) {
                Some(p) => want + p + 1,
                None => block.len(),
            }
        };
        out.push(block.get(start..end).unwrap_or(&[]));
        start = end;
    }
    out
}

/// Parses the decimal digits at `b[*i..]` as an unsigned integer and advances `*i` past them.
/// `None` if there is no digit or the number overflows `u64`.
#[inline]
pub(crate) fn parse_uint(b: &[u8], i: &mut usize) -> Option<u64> {
    let start = *i;
    let mut v: u64 = 0;
    while let Some(&c) = b.get(*i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
        *i += 1;
    }
    if *i == start {
        None
    } else {
        Some(v)
    }
}

/// Exact powers of ten in `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a whole token as a number, correctly rounded to `f64` (so `as f32` afterwards gives
/// what scipy gives). Plain decimals (`12`, `-0.25`, `3.5e-2`) with at most 19 significant
/// digits and small exponents take an exact fast path (Clinger's); everything else goes
/// through `str::parse::<f64>`, which also accepts `inf` and `nan` (callers check finiteness).
/// `None` for anything that is not a number.
#[inline]
pub(crate) fn parse_f64(tok: &[u8]) -> Option<f64> {
    fast_f64(tok).or_else(|| std::str::from_utf8(tok).ok()?.parse::<f64>().ok())
}

/// Appends the decimal digits at `tok[*i..]` to `mant` (wrapping; callers bound the count of
/// significant digits, `digits`), advancing `i`; returns how many digits were read.
#[inline]
fn take_digits(tok: &[u8], i: &mut usize, mant: &mut u64, digits: &mut u32) -> usize {
    let start = *i;
    while let Some(&c) = tok.get(*i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if *mant != 0 || d != 0 {
            *digits += 1;
        }
        *mant = mant.wrapping_mul(10).wrapping_add(u64::from(d));
        *i += 1;
    }
    *i - start
}

#[inline]
fn fast_f64(tok: &[u8]) -> Option<f64> {
    let mut i = 0;
    let neg = match tok.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut mant: u64 = 0;
    let mut digits = 0u32;
    let mut n_read = take_digits(tok, &mut i, &mut mant, &mut digits);
    let mut exp: i32 = 0;
    if tok.get(i) == Some(&b'.') {
        i += 1;
        let frac = take_digits(tok, &mut i, &mut mant, &mut digits);
        exp = -i32::try_from(frac).ok()?;
        n_read += frac;
    }
    let any = n_read > 0;
    if !any || digits > 19 {
        return None;
    }
    if matches!(tok.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match tok.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i32 = 0;
        while let Some(&c) = tok.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if e < 10_000 {
                e = e * 10 + i32::from(d);
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != tok.len() || mant > (1u64 << 53) {
        return None;
    }
    let m = mant as f64;
    let v = if exp == 0 {
        m
    } else if (1..=22).contains(&exp) {
        m * POW10[exp as usize]
    } else if (-22..0).contains(&exp) {
        m / POW10[(-exp) as usize]
    } else if mant == 0 {
        0.0
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Appends `v`: without a decimal point when `integral` (the caller checked every value is a
/// whole number below 2^53), otherwise the shortest text that reads back (as `f64`, then cast)
/// to exactly `v`.
pub(crate) fn push_value(out: &mut Vec<u8>, v: f32, integral: bool) {
    if integral {
        push_int(out, v as i64);
        return;
    }
    let start = out.len();
    // `{}` of f32 is the shortest text that parses to the same f32; check it also survives
    // the f64-then-f32 route, else write the exact f64 value.
    let _ = write!(out, "{v}");
    let back = out
        .get(start..)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<f64>().ok())
        .map(|x| x as f32);
    if back.map(f32::to_bits) != Some(v.to_bits()) {
        out.truncate(start);
        let _ = write!(out, "{}", f64::from(v));
    }
}

/// Appends a decimal integer.
pub(crate) fn push_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_uint(out, v.unsigned_abs());
}

/// Appends a decimal unsigned integer.
pub(crate) fn push_uint(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut k = buf.len();
    loop {
        k -= 1;
        buf[k] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(k..).unwrap_or(&[]));
}

/// True when every value is a whole number of magnitude below 2^53 (counts), so it can be
/// written as an integer.
pub(crate) fn all_integral(values: &[f32]) -> bool {
    values
        .iter()
        .all(|v| v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0)
}

/// A file written through a temporary name in the same directory and renamed over the target
/// by [`AtomicFile::commit`]; dropped without commit, the temporary file is removed.
pub(crate) struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file beside `dest`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub(crate) fn create(dest: &Path) -> Result<Self> {
        let tmp = crate::io::temp_path_for(dest)?;
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile {
            tmp,
            dest: dest.to_path_buf(),
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Appends bytes.
    ///
    /// # Errors
    /// [`Error::Io`] naming the target.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        match self.file.as_mut() {
            Some(f) => f.write_all(bytes).map_err(|e| Error::io(&self.dest, e)),
            None => Ok(()),
        }
    }

    /// Flushes, syncs and renames the temporary file over the target.
    ///
    /// # Errors
    /// [`Error::Io`] naming the target.
    pub(crate) fn commit(mut self) -> Result<()> {
        let Some(f) = self.file.take() else {
            return Ok(());
        };
        let finish = || -> std::io::Result<()> {
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&self.tmp, &self.dest)
        };
        finish().map_err(|e| Error::io(&self.dest, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Still holding the file means no successful commit: remove the partial output.
        if self.file.take().is_some() || self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A gzip member of `text` at a fast compression level (the readers decompress every member of
/// a multi-member file, as do `gzip`, Python and R).
pub(crate) fn gzip_member(text: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 3 + 64),
        flate2::Compression::new(level),
    );
    enc.write_all(text)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_parse_exactly() {
        for s in [
            "0",
            "1",
            "12",
            "-3.5",
            "0.1",
            "1e3",
            "2.5E-3",
            "123456789012345678",
            "+7",
            ".5",
            "5.",
            "1e300",
            "4.9e-324",
            "0.30000000000000004",
        ] {
            let want: f64 = s.parse().unwrap();
            assert_eq!(parse_f64(s.as_bytes()), Some(want), "{s}");
        }
        for s in ["", "-", "e5", "1e", "1.2.3", "abc", "1x", "--1"] {
            assert_eq!(parse_f64(s.as_bytes()), None, "{s}");
        }
        assert!(parse_f64(b"nan").unwrap().is_nan());
        assert!(parse_f64(b"inf").unwrap().is_infinite());
    }

    #[test]
    fn values_read_back_exactly() {
        for v in [0.1f32, 1.0 / 3.0, 1e-30, 3.4e38, 7.0, 16_777_217.0, 0.2] {
            let mut out = Vec::new();
            push_value(&mut out, v, false);
            let back = parse_f64(&out).unwrap() as f32;
            assert_eq!(back.to_bits(), v.to_bits());
        }
        let mut out = Vec::new();
        push_value(&mut out, 42.0, true);
        push_int(&mut out, -7);
        assert_eq!(out, b"42-7");
    }

    #[test]
    fn blocks_end_at_line_ends() {
        let text = b"a b\nccc dd\ne\nffffffffffffffff\ng".to_vec();
        let info = SourceInfo {
            path: "x".into(),
            gz: false,
            max_text_bytes: 0,
        };
        let mut r = BlockReader::new(&text[..], 3, info);
        let mut blocks = Vec::new();
        let mut b = Vec::new();
        while r.fill(&mut b).unwrap() {
            blocks.push(b.clone());
        }
        assert!(blocks.len() >= 3);
        let (last, rest) = blocks.split_last().unwrap();
        assert!(rest.iter().all(|b| b.ends_with(b"\n")));
        assert!(last.ends_with(b"g"));
        assert_eq!(blocks.concat(), text);
        let parts = split_lines(&text, 3);
        assert_eq!(parts.concat(), text);
    }
}
