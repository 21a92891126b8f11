//! The byte source the reader gives `hdf5-pure`: positioned reads (`pread`), so rayon threads
//! read `data` and `indices` at the same time, plus a small block cache for the many tiny reads
//! of metadata and variable-length strings.
//!
//! `hdf5-pure`'s own `File::open_streaming` wraps the file in a mutex and seeks before each
//! read: correct, but it serialises parallel reads and costs two system calls per string of a
//! names column (about ten times slower than reading them from memory). This source keeps the
//! streaming open's bounded memory and removes both costs.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use hdf5_pure::{FormatError, Source};

use crate::error::Result;

/// Reads at most this long go through the block cache.
const SMALL_READ: usize = 8 << 10;
/// Cache block size (aligned file ranges).
const BLOCK: u64 = 64 << 10;
/// Cached blocks kept (about 1 MiB).
const BLOCKS: usize = 16;

/// A file read by position, with a small cache of aligned blocks for small reads.
pub(super) struct FileSource {
    file: std::fs::File,
    len: u64,
    cache: Mutex<VecDeque<(u64, Vec<u8>)>>,
    /// Serialises seek + read on platforms without positioned reads.
    #[cfg_attr(any(unix, windows), allow(dead_code))]
    seek_lock: Mutex<()>,
}

impl FileSource {
    /// Opens `path` for reading.
    pub(super) fn open(path: &Path) -> Result<Self> {
        let (file, len) = crate::io::input::open_regular(path)?;
        Ok(FileSource {
            file,
            len,
            cache: Mutex::new(VecDeque::with_capacity(BLOCKS)),
            seek_lock: Mutex::new(()),
        })
    }

    /// Fills `buf` from `offset` (already bounds-checked against `len`).
    fn pread(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            let mut done = 0;
            while done < buf.len() {
                let n = std::os::windows::fs::FileExt::seek_read(
                    &self.file,
                    &mut buf[done..],
                    offset + done as u64,
                )?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                done += n;
            }
            Ok(())
        }
        #[cfg(not(any(unix, windows)))]
        {
            use std::io::{Read, Seek, SeekFrom};
            let _guard = self
                .seek_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut f = &self.file;
            f.seek(SeekFrom::Start(offset))?;
            f.read_exact(buf)
        }
    }
}

fn io_err(e: &std::io::Error) -> FormatError {
    FormatError::Source(e.to_string())
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), FormatError> {
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or(FormatError::OffsetOverflow {
                offset,
                length: buf.len() as u64,
            })?;
        if end > self.len {
            return Err(FormatError::UnexpectedEof {
                expected: usize::try_from(end).unwrap_or(usize::MAX),
                available: usize::try_from(self.len).unwrap_or(usize::MAX),
            });
        }
        let start = offset - offset % BLOCK;
        if buf.len() > SMALL_READ || end > start + BLOCK {
            return self.pread(offset, buf).map_err(|e| io_err(&e));
        }
        let at = (offset - start) as usize;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, block)) = cache.iter().find(|(s, _)| *s == start) {
            if let Some(src) = block.get(at..at + buf.len()) {
                buf.copy_from_slice(src);
                return Ok(());
            }
        }
        let block_len = (self.len - start).min(BLOCK) as usize;
        let mut block = vec![0u8; block_len];
        self.pread(start, &mut block).map_err(|e| io_err(&e))?;
        match block.get(at..at + buf.len()) {
            Some(src) => buf.copy_from_slice(src),
            None => return self.pread(offset, buf).map_err(|e| io_err(&e)),
        }
        if cache.len() == BLOCKS {
            cache.pop_front();
        }
        cache.push_back((start, block));
        Ok(())
    }
}

/// A shared [`FileSource`]: one handle for `hdf5-pure`, one for the reader's direct reads.
pub(super) struct Shared(pub Arc<FileSource>);

impl Source for Shared {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), FormatError> {
        self.0.read_at(offset, buf)
    }
}
