//! Opening input files so that memory stays bounded by what a file really holds.
//!
//! Every reader opens its files here. A regular file can only produce as many bytes as its
//! size, so reading it whole is bounded; a device, FIFO or socket can produce bytes forever
//! (`/dev/zero`) and is refused with an error that says so. Text lines have a cap,
//! [`MAX_LINE_BYTES`]: a compressed file can hold a line far longer than itself.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// The longest line a text reader accepts (64 MiB). A dense CSV row of a million cells with
/// five-digit counts is about 6 MB, so real files stay far below it; a longer line is a damaged
/// or hostile file, and reading it would take memory the file does not back.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Opens `path` for reading and returns it with its size; anything but a regular file (a
/// directory, device, FIFO or socket) is an error.
///
/// # Errors
/// [`Error::Io`] if it cannot be opened; [`Error::Format`] if it is not a regular file.
pub fn open_regular(path: &Path) -> Result<(File, u64)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "a device, FIFO or socket, which can produce data without end"
        };
        return Err(Error::format(
            path,
            format!("not a regular file ({kind}); save the data to a file and give that"),
        ));
    }
    Ok((file, meta.len()))
}

/// Reads a whole regular file (bounded by its size; see [`open_regular`]).
///
/// # Errors
/// As [`open_regular`], and [`Error::Io`] on a failed read.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let (file, len) = open_regular(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // `take`: a file that grows while it is read still stops at the size it had.
    file.take(len)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// Reads a whole regular UTF-8 text file, without a leading byte-order mark.
///
/// # Errors
/// As [`read_bytes`], and [`Error::Parse`] for text that is not UTF-8.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = read_bytes(path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::parse(
            path,
            line_of(e.as_bytes(), e.utf8_error().valid_up_to()),
            "not valid UTF-8 text",
        )
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Reads `src` to its end, failing as soon as a line exceeds [`MAX_LINE_BYTES`]; `what`
/// names the source in the error.
///
/// # Errors
/// [`Error::Format`] for an over-long line; the read error of `src`, mapped by `on_err`.
pub fn read_to_end_capped(
    src: &mut dyn Read,
    path: &Path,
    on_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    // Bytes since the last line end.
    let mut run = 0usize;
    let mut line = 1usize;
    loop {
        let n = match src.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(on_err(e)),
        };
        let piece = &chunk[..n];
        match memchr::memrchr(b'\n', piece) {
            Some(last) => {
                line += memchr::memchr_iter(b'\n', piece).count();
                run = n - last - 1;
            }
            None => run += n,
        }
        if run > MAX_LINE_BYTES {
            return Err(long_line(path, line));
        }
        out.extend_from_slice(piece);
    }
    Ok(out)
}

/// The error for a line longer than [`MAX_LINE_BYTES`] starting at 1-based `line` (0: not
/// counted).
pub fn long_line(path: &Path, line: usize) -> Error {
    let which = if line > 0 {
        format!("line {line}")
    } else {
        "a line".to_string()
    };
    Error::format(
        path,
        format!(
            "{which} is longer than {} MiB: not a text table this reader accepts (a damaged or wrongly named file?)",
            MAX_LINE_BYTES >> 20
        ),
    )
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', bytes.get(..offset).unwrap_or(bytes)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_bytes(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a regular file (a directory"), "{e}");
        if cfg!(unix) {
            let e = read_bytes(Path::new("/dev/zero")).unwrap_err().to_string();
            assert!(e.contains("device, FIFO or socket"), "{e}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, "\u{feff}t,x\n0,1\n").unwrap();
        assert_eq!(read_text(&p).unwrap(), "t,x\n0,1\n");
    }

    #[test]
    fn lines_longer_than_the_cap_are_an_error() {
        let mut ok = std::io::repeat(b'a').take(1000);
        let bytes = read_to_end_capped(&mut ok, Path::new("x"), &|e| Error::io("x", e)).unwrap();
        assert_eq!(bytes.len(), 1000);
        let mut long = std::io::repeat(b'a').take(MAX_LINE_BYTES as u64 + 10);
        let e = read_to_end_capped(&mut long, Path::new("x"), &|e| Error::io("x", e))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1 is longer than 64 MiB"), "{e}");
    }
}
