//! Decoding numeric datasets: the reader's hot path.
//!
//! Three routes, fastest first:
//!
//! 1. **Direct.** An unfiltered (uncompressed) dataset, contiguous or chunked by whole rows,
//!    whose stored type has the target's in-memory bytes (float32 values into `f32`, int32 or
//!    uint32 indices into `u32`, on a little-endian machine) is read with positioned reads
//!    straight into the final vector (one copy, page cache to result), then checked in place.
//! 2. **Raw windows.** Other standard little-endian integer or float types (what numpy and h5py
//!    write on every common platform), and compressed datasets, are read a window of stored
//!    bytes at a time and decoded once into the final vector.
//! 3. **Fallback.** Anything else (big-endian, odd bit layouts, enums) goes through
//!    `hdf5-pure`'s own `f64` conversion, window by window: slower, exact below 2^53.
//!
//! Windows of about a million elements are read and decoded in parallel (rayon), so the two
//! datasets of a sparse matrix and the windows of each are spread over all cores.

use std::path::Path;
use std::sync::Arc;

use hdf5_pure::{Dataset, Datatype, File, FixedPointLayout, Layout};
use rayon::prelude::*;

use super::source::FileSource;
use crate::error::{Error, Result};

/// Elements per read window: large enough that per-call overhead vanishes, small enough that
/// several windows are in flight per core and temporary buffers stay small.
const WINDOW_ELEMS: usize = 1 << 20;

/// A standard little-endian numeric storage type, decoded here from raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Num {
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
}

impl Num {
    /// The kind of `dt`, when it is one decoded here.
    pub(super) fn of(dt: &Datatype) -> Option<Num> {
        [
            (hdf5_pure::make_f32_type(), Num::F32),
            (hdf5_pure::make_f64_type(), Num::F64),
            (hdf5_pure::make_i8_type(), Num::I8),
            (hdf5_pure::make_i16_type(), Num::I16),
            (hdf5_pure::make_i32_type(), Num::I32),
            (hdf5_pure::make_i64_type(), Num::I64),
            (hdf5_pure::make_u8_type(), Num::U8),
            (hdf5_pure::make_u16_type(), Num::U16),
            (hdf5_pure::make_u32_type(), Num::U32),
            (hdf5_pure::make_u64_type(), Num::U64),
        ]
        .into_iter()
        .find(|(t, _)| t == dt)
        .map(|(_, n)| n)
    }

    /// Bytes per element.
    pub(super) fn size(self) -> usize {
        match self {
            Num::I8 | Num::U8 => 1,
            Num::I16 | Num::U16 => 2,
            Num::F32 | Num::I32 | Num::U32 => 4,
            Num::F64 | Num::I64 | Num::U64 => 8,
        }
    }
}

/// True for integer, float and enum (numpy `bool`) datatypes: what can become a number.
pub(super) fn is_numeric(dt: &Datatype) -> bool {
    matches!(
        dt,
        Datatype::FixedPoint { .. } | Datatype::FloatingPoint { .. }
    ) || enum_base(dt).is_some()
}

/// The integer base of an enumeration (h5py stores numpy `bool` as an int8 enum).
fn enum_base(dt: &Datatype) -> Option<(u32, bool)> {
    match dt {
        Datatype::Enumeration { base_type, .. } => match base_type.as_ref() {
            Datatype::FixedPoint {
                size,
                byte_order: hdf5_pure::DatatypeByteOrder::LittleEndian,
                layout: FixedPointLayout { signed, .. },
            } if matches!(size, 1 | 2 | 4 | 8) => Some((*size, *signed)),
            _ => None,
        },
        _ => None,
    }
}

/// Decodes little-endian `$n`-byte values of type `$t` from `$b`.
macro_rules! le {
    ($b:expr, $t:ty, $n:literal) => {
        $b.chunks_exact($n).map(|c| {
            let mut a = [0u8; $n];
            a.copy_from_slice(c);
            <$t>::from_le_bytes(a)
        })
    };
}

/// One window of a dataset, as stored or (fallback) as `f64`.
pub(super) enum Src<'a> {
    /// Raw little-endian bytes of the given kind.
    Raw(Num, &'a [u8]),
    /// Values converted by `hdf5-pure`.
    F64(&'a [f64]),
}

/// What a dataset is read into, and how values are converted and checked.
pub(super) trait Decode: Sync {
    /// Element type of the result.
    type T: bytemuck::Pod + Default + Send + Sync;
    /// True when `kind`'s little-endian bytes are `T`'s bytes (then reads go straight into the
    /// result and only [`check`](Self::check) runs).
    fn same_bytes(&self, kind: Num) -> bool;
    /// Validates values read directly; `first` is the dataset index of `out[0]`.
    fn check(&self, kind: Num, out: &[Self::T], first: usize) -> std::result::Result<(), String>;
    /// Converts (and validates) one window.
    fn decode(
        &self,
        src: Src<'_>,
        out: &mut [Self::T],
        first: usize,
    ) -> std::result::Result<(), String>;
}

/// Matrix values as `f32` (lossy above 2^24, documented in the module docs).
pub(super) struct ValuesF32;

impl Decode for ValuesF32 {
    type T = f32;
    fn same_bytes(&self, kind: Num) -> bool {
        kind == Num::F32
    }
    fn check(&self, _: Num, _: &[f32], _: usize) -> std::result::Result<(), String> {
        Ok(())
    }
    fn decode(&self, src: Src<'_>, out: &mut [f32], _: usize) -> std::result::Result<(), String> {
        fn put<I: Iterator<Item = f32>>(out: &mut [f32], it: I) {
            for (o, v) in out.iter_mut().zip(it) {
                *o = v;
            }
        }
        match src {
            Src::Raw(kind, b) => match kind {
                Num::F32 => put(out, le!(b, f32, 4)),
                Num::F64 => put(out, le!(b, f64, 8).map(|v| v as f32)),
                Num::I8 => put(out, b.iter().map(|&v| f32::from(v as i8))),
                Num::U8 => put(out, b.iter().map(|&v| f32::from(v))),
                Num::I16 => put(out, le!(b, i16, 2).map(f32::from)),
                Num::U16 => put(out, le!(b, u16, 2).map(f32::from)),
                Num::I32 => put(out, le!(b, i32, 4).map(|v| v as f32)),
                Num::U32 => put(out, le!(b, u32, 4).map(|v| v as f32)),
                Num::I64 => put(out, le!(b, i64, 8).map(|v| v as f32)),
                Num::U64 => put(out, le!(b, u64, 8).map(|v| v as f32)),
            },
            Src::F64(v) => put(out, v.iter().map(|&x| x as f32)),
        }
        Ok(())
    }
}

/// Small columns (obs/var numbers, categorical codes) as `f64`.
pub(super) struct ValuesF64;

impl Decode for ValuesF64 {
    type T = f64;
    fn same_bytes(&self, kind: Num) -> bool {
        kind == Num::F64
    }
    fn check(&self, _: Num, _: &[f64], _: usize) -> std::result::Result<(), String> {
        Ok(())
    }
    fn decode(&self, src: Src<'_>, out: &mut [f64], _: usize) -> std::result::Result<(), String> {
        let vals: Vec<f64> = match src {
            Src::Raw(kind, b) => match kind {
                Num::F32 => le!(b, f32, 4).map(f64::from).collect(),
                Num::F64 => le!(b, f64, 8).collect(),
                Num::I8 => ints_from_le(b, 1, true),
                Num::U8 => ints_from_le(b, 1, false),
                Num::I16 => ints_from_le(b, 2, true),
                Num::U16 => ints_from_le(b, 2, false),
                Num::I32 => ints_from_le(b, 4, true),
                Num::U32 => ints_from_le(b, 4, false),
                Num::I64 => ints_from_le(b, 8, true),
                Num::U64 => ints_from_le(b, 8, false),
            },
            Src::F64(v) => v.to_vec(),
        };
        if vals.len() != out.len() {
            return Err(format!(
                "{} values decoded for {} slots",
                vals.len(),
                out.len()
            ));
        }
        out.copy_from_slice(&vals);
        Ok(())
    }
}

/// Sparse indices: integers in `0..bound` as `u32`; anything else is an error naming the
/// first bad entry.
pub(super) struct Indices {
    /// Length of the indexed axis.
    pub bound: usize,
}

impl Indices {
    fn bad(&self, pos: usize, v: impl std::fmt::Display) -> std::result::Result<(), String> {
        Err(format!(
            "entry {pos} is {v}, outside 0..{} (the other axis's length)",
            self.bound
        ))
    }
}

impl Decode for Indices {
    type T = u32;
    fn same_bytes(&self, kind: Num) -> bool {
        matches!(kind, Num::I32 | Num::U32)
    }
    fn check(&self, kind: Num, out: &[u32], first: usize) -> std::result::Result<(), String> {
        // int32 storage: a negative value has its top bit set, so it fails `< 2^31`.
        let limit = match kind {
            Num::I32 => self.bound.min(1 << 31),
            _ => self.bound,
        };
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        // Branch-free scan (vectorises), then locate a failure.
        let ok = out.iter().fold(true, |ok, &v| ok & (v < limit));
        if ok {
            return Ok(());
        }
        match out.iter().position(|&v| v >= limit) {
            Some(pos) if kind == Num::I32 => self.bad(first + pos, out[pos] as i32),
            Some(pos) => self.bad(first + pos, out[pos]),
            None => Ok(()),
        }
    }
    fn decode(
        &self,
        src: Src<'_>,
        out: &mut [u32],
        first: usize,
    ) -> std::result::Result<(), String> {
        let b32 = u32::try_from(self.bound).unwrap_or(u32::MAX);
        match src {
            Src::Raw(kind, b) => {
                let vals: Box<dyn Iterator<Item = i128>> = match kind {
                    Num::I8 => Box::new(b.iter().map(|&v| i128::from(v as i8))),
                    Num::U8 => Box::new(b.iter().map(|&v| i128::from(v))),
                    Num::I16 => Box::new(le!(b, i16, 2).map(i128::from)),
                    Num::U16 => Box::new(le!(b, u16, 2).map(i128::from)),
                    Num::I32 => Box::new(le!(b, i32, 4).map(i128::from)),
                    Num::U32 => Box::new(le!(b, u32, 4).map(i128::from)),
                    Num::I64 => Box::new(le!(b, i64, 8).map(i128::from)),
                    Num::U64 => Box::new(le!(b, u64, 8).map(i128::from)),
                    Num::F32 | Num::F64 => {
                        return Err("indices are stored as floating point; expected integers".into())
                    }
                };
                for (pos, (o, v)) in out.iter_mut().zip(vals).enumerate() {
                    match u32::try_from(v) {
                        Ok(u) if u < b32 => *o = u,
                        _ => return self.bad(first + pos, v),
                    }
                }
                Ok(())
            }
            Src::F64(vals) => {
                for (pos, (o, &v)) in out.iter_mut().zip(vals).enumerate() {
                    if v.fract() == 0.0 && v >= 0.0 && v < f64::from(b32) {
                        *o = v as u32;
                    } else {
                        return self.bad(first + pos, v);
                    }
                }
                Ok(())
            }
        }
    }
}

/// Little-endian integers of `size` bytes as `f64`.
fn ints_from_le(raw: &[u8], size: u32, signed: bool) -> Vec<f64> {
    match (size, signed) {
        (1, true) => raw.iter().map(|&b| f64::from(b as i8)).collect(),
        (1, false) => raw.iter().map(|&b| f64::from(b)).collect(),
        (2, true) => le!(raw, i16, 2).map(f64::from).collect(),
        (2, false) => le!(raw, u16, 2).map(f64::from).collect(),
        (4, true) => le!(raw, i32, 4).map(f64::from).collect(),
        (4, false) => le!(raw, u32, 4).map(f64::from).collect(),
        (8, true) => le!(raw, i64, 8).map(|v| v as f64).collect(),
        _ => le!(raw, u64, 8).map(|v| v as f64).collect(),
    }
}

/// Refuses sizes no file of `file_len` bytes can hold, before anything is allocated: corrupt
/// metadata must give an error, not an allocation failure (which aborts). Deflate expands at
/// most about 1032:1, so decoded data above 1100 times the file size (plus 1 MiB) is corrupt.
pub(super) fn check_alloc(path: &Path, what: &str, n: u64, elem: u64, file_len: u64) -> Result<()> {
    let limit = file_len.saturating_mul(1100).saturating_add(1 << 20);
    match n.checked_mul(elem) {
        Some(bytes) if bytes <= limit && usize::try_from(bytes).is_ok() => Ok(()),
        _ => Err(Error::format(
            path,
            format!("{what}: {n} elements of {elem} bytes cannot come from a {file_len}-byte file (corrupt shape?)"),
        )),
    }
}

/// Refuses what a whole read of `ds` (`n` elements, each materialised with `extra` more bytes
/// by the caller) would allocate from the file's claims rather than its bytes: the element
/// size (a fixed-length type may claim billions of bytes), the chunk shape (`hdf5-pure`
/// allocates a whole chunk), and each stored chunk's extent (a chunk claiming bytes past the
/// end of the file is read into a buffer of that size first).
pub(super) fn check_dataset(
    ds: &Dataset,
    path: &Path,
    what: &str,
    n: u64,
    extra: u64,
    file_len: u64,
) -> Result<()> {
    let stored = ds.element_size().map_err(|e| h5err(path, what, e))?;
    check_alloc(path, what, n, stored.saturating_add(extra), file_len)?;
    if let Ok(Some(chunk)) = ds.chunk_shape() {
        let elems = chunk.iter().fold(1u64, |a, &d| a.saturating_mul(d));
        check_alloc(
            path,
            &format!("{what} (one chunk)"),
            elems,
            stored,
            file_len,
        )?;
        if let Ok(chunks) = ds.chunks() {
            if let Some(c) = chunks
                .iter()
                .find(|c| c.address.saturating_add(c.storage_size) > file_len)
            {
                return Err(Error::format(
                    path,
                    format!(
                        "{what}: a chunk at byte {} claims {} bytes, past the end of the {file_len}-byte file (truncated or corrupt)",
                        c.address, c.storage_size
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Maps an `hdf5-pure` error to a format error naming the file and the element.
pub(super) fn h5err(path: &Path, what: &str, e: hdf5_pure::Error) -> Error {
    Error::format(path, format!("{what}: {e}"))
}

/// A run of elements stored uncompressed at one file offset.
#[derive(Debug, Clone, Copy)]
struct Extent {
    /// First element (row-major index into the dataset).
    first: u64,
    /// Elements in the run.
    len: u64,
    /// Absolute file offset of the first element.
    addr: u64,
}

/// Where an uncompressed dataset's bytes are, for positioned reads that bypass `hdf5-pure`.
struct Direct {
    src: Arc<FileSource>,
    /// Sorted, covering the dataset without gaps or overlaps.
    extents: Vec<Extent>,
}

impl Direct {
    /// The extents of `ds` when it is unfiltered, contiguous or chunked by whole rows, and
    /// completely stored inside the file; `None` otherwise (then `hdf5-pure` reads it).
    fn plan(
        ds: &Dataset,
        src: &Arc<FileSource>,
        total: u64,
        row_len: u64,
        esize: u64,
    ) -> Option<Self> {
        use hdf5_pure::Source;
        if !ds.filters().is_empty() || total == 0 {
            return None;
        }
        let mut extents = match ds.layout().ok()? {
            Layout::Contiguous {
                address: Some(addr),
                size,
            } if size == total.checked_mul(esize)? => vec![Extent {
                first: 0,
                len: total,
                addr,
            }],
            Layout::Chunked { chunk_shape, .. } => {
                let per_chunk = match chunk_shape.as_slice() {
                    [l] if row_len == 1 => *l,
                    [l, c] if *c == row_len => l.checked_mul(*c)?,
                    _ => return None,
                };
                let mut ex = Vec::new();
                for ch in ds.chunks().ok()? {
                    let first = match ch.offset.as_slice() {
                        [r] => *r,
                        [r, 0] => r.checked_mul(row_len)?,
                        _ => return None,
                    };
                    if ch.storage_size != per_chunk.checked_mul(esize)? || first >= total {
                        return None;
                    }
                    ex.push(Extent {
                        first,
                        len: per_chunk.min(total - first),
                        addr: ch.address,
                    });
                }
                ex
            }
            _ => return None,
        };
        extents.sort_by_key(|e| e.first);
        let mut next = 0;
        for e in &extents {
            let end = e.addr.checked_add(e.len.checked_mul(esize)?)?;
            if e.first != next || end > src.len() {
                return None;
            }
            next += e.len;
        }
        (next == total).then(|| Direct {
            src: Arc::clone(src),
            extents,
        })
    }

    /// Fills `out` with the stored bytes of elements `first ..`.
    fn fill(&self, first: u64, out: &mut [u8], esize: usize) -> std::result::Result<(), String> {
        use hdf5_pure::Source;
        let mut i = self.extents.partition_point(|e| e.first + e.len <= first);
        let mut cur = first;
        let mut pos = 0;
        while pos < out.len() {
            let e = self
                .extents
                .get(i)
                .ok_or_else(|| format!("element {cur} is past the stored data"))?;
            let skip = cur - e.first;
            let want = ((out.len() - pos) / esize) as u64;
            let take = (e.len - skip).min(want);
            let bytes = take as usize * esize;
            self.src
                .read_at(e.addr + skip * esize as u64, &mut out[pos..pos + bytes])
                .map_err(|e| e.to_string())?;
            pos += bytes;
            cur += take;
            i += 1;
        }
        Ok(())
    }
}

/// A numeric dataset (1-D, or 2-D read by rows), ready to be read in parallel windows.
pub(super) struct Column {
    ds: Dataset,
    what: String,
    dt: Datatype,
    kind: Option<Num>,
    n_rows: usize,
    row_len: usize,
    direct: Option<Direct>,
}

impl Column {
    /// Checks that `ds` is numeric and 1-D or 2-D; with `src`, plans direct reads.
    pub(super) fn new(
        ds: Dataset,
        file: &File,
        src: Option<&Arc<FileSource>>,
        path: &Path,
        what: &str,
    ) -> Result<Self> {
        let dt = ds.datatype().map_err(|e| h5err(path, what, e))?;
        let kind = Num::of(&dt);
        if kind.is_none() && !is_numeric(&dt) {
            return Err(Error::format(
                path,
                format!("{what}: expected a numeric dataset, found datatype {dt:?}"),
            ));
        }
        let shape = ds.shape().map_err(|e| h5err(path, what, e))?;
        let too_big = || Error::format(path, format!("{what}: shape {shape:?} too large"));
        let (n_rows, row_len) = match shape.as_slice() {
            [n] => (usize::try_from(*n).map_err(|_| too_big())?, 1),
            [n, g] => (
                usize::try_from(*n).map_err(|_| too_big())?,
                usize::try_from(*g).map_err(|_| too_big())?,
            ),
            other => {
                return Err(Error::format(
                    path,
                    format!("{what}: expected a 1-D or 2-D dataset, found shape {other:?}"),
                ))
            }
        };
        let total = (n_rows as u64).saturating_mul(row_len as u64);
        // A read through `hdf5-pure` materialises the stored elements and their f64
        // conversion.
        check_dataset(&ds, path, what, total, 8, file.file_size())?;
        let direct = match (src, kind) {
            (Some(src), Some(kind)) => {
                Direct::plan(&ds, src, total, row_len as u64, kind.size() as u64)
            }
            _ => None,
        };
        Ok(Column {
            ds,
            what: what.to_string(),
            dt,
            kind,
            n_rows,
            row_len,
            direct,
        })
    }

    /// Rows (elements of a 1-D dataset).
    pub(super) fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Elements per row (1 for a 1-D dataset).
    pub(super) fn row_len(&self) -> usize {
        self.row_len
    }

    /// Reads rows `row0 .. row0 + n_rows`, decoded by `dec`, windows in parallel.
    pub(super) fn read_rows<D: Decode>(
        &self,
        path: &Path,
        row0: usize,
        n_rows: usize,
        dec: &D,
    ) -> Result<Vec<D::T>> {
        let what = self.what.as_str();
        if row0.saturating_add(n_rows) > self.n_rows {
            return Err(Error::format(
                path,
                format!(
                    "{what}: rows {row0}..{} asked of a dataset with {} rows",
                    row0.saturating_add(n_rows),
                    self.n_rows
                ),
            ));
        }
        let row_len = self.row_len.max(1);
        let total = n_rows * self.row_len;
        let mut out = vec![D::T::default(); total];
        crate::expression::io::memory::advise_huge_pages(&mut out);
        if total == 0 {
            return Ok(out);
        }
        let win_rows = (WINDOW_ELEMS / row_len).max(1);
        let win_elems = win_rows * row_len;
        let base = row0 * row_len;
        let direct_ok = cfg!(target_endian = "little");
        out.par_chunks_mut(win_elems)
            .enumerate()
            .try_for_each(|(k, piece)| -> Result<()> {
                let first = base + k * win_elems;
                let start = (row0 + k * win_rows) as u64;
                let rows = (piece.len() / row_len) as u64;
                let done = match (&self.direct, self.kind) {
                    (Some(d), Some(kind)) if direct_ok && dec.same_bytes(kind) => d
                        .fill(first as u64, bytemuck::cast_slice_mut(piece), kind.size())
                        .and_then(|()| dec.check(kind, piece, first)),
                    (Some(d), Some(kind)) => {
                        let mut raw = vec![0u8; piece.len() * kind.size()];
                        d.fill(first as u64, &mut raw, kind.size())
                            .and_then(|()| dec.decode(Src::Raw(kind, &raw), piece, first))
                    }
                    (None, Some(kind)) => {
                        let raw = self
                            .ds
                            .read_raw_rows(start, rows)
                            .map_err(|e| h5err(path, what, e))?;
                        if raw.len() != piece.len() * kind.size() {
                            return Err(short_read(path, what, start, rows));
                        }
                        dec.decode(Src::Raw(kind, &raw), piece, first)
                    }
                    (_, None) => {
                        let vals = read_f64_window(&self.ds, &self.dt, start, rows)
                            .map_err(|e| h5err(path, what, e))?;
                        if vals.len() != piece.len() {
                            return Err(short_read(path, what, start, rows));
                        }
                        dec.decode(Src::F64(&vals), piece, first)
                    }
                };
                done.map_err(|msg| Error::format(path, format!("{what}: {msg}")))
            })?;
        Ok(out)
    }
}

fn short_read(path: &Path, what: &str, start: u64, rows: u64) -> Error {
    Error::format(
        path,
        format!(
            "{what}: rows {start}..{} hold fewer values than the shape says (truncated or inconsistent dataset)",
            start + rows
        ),
    )
}

/// A window as `f64`: through `hdf5-pure` for integers and floats, by hand for enums.
fn read_f64_window(
    ds: &Dataset,
    dt: &Datatype,
    start: u64,
    rows: u64,
) -> std::result::Result<Vec<f64>, hdf5_pure::Error> {
    match enum_base(dt) {
        Some((size, signed)) => {
            let raw = ds.read_raw_rows(start, rows)?;
            Ok(ints_from_le(&raw, size, signed))
        }
        None => ds.read_f64_rows(start, rows),
    }
}

/// Reads a whole small 1-D numeric dataset as `f64` (obs/var columns, categorical codes).
pub(super) fn read_f64_all(ds: &Dataset, file: &File, path: &Path, what: &str) -> Result<Vec<f64>> {
    let col = Column::new(ds.clone(), file, None, path, what)?;
    if col.row_len() != 1 {
        return Err(Error::format(
            path,
            format!("{what}: expected a 1-D dataset"),
        ));
    }
    col.read_rows(path, 0, col.n_rows(), &ValuesF64)
}

/// Reads a row pointer (`indptr`) as `usize`: `n_rows + 1` entries, starting at 0,
/// non-decreasing, ending at `nnz`.
pub(super) fn read_indptr(
    ds: &Dataset,
    file_len: u64,
    path: &Path,
    what: &str,
    n_rows: usize,
    nnz: usize,
) -> Result<Vec<usize>> {
    let n = len_1d(ds, path, what)?;
    if n != n_rows.saturating_add(1) {
        return Err(Error::format(
            path,
            format!(
                "{what} has {n} entries, expected {} (one more than the {n_rows} rows of the shape attribute)",
                n_rows.saturating_add(1)
            ),
        ));
    }
    check_dataset(ds, path, what, n as u64, 8, file_len)?;
    let raw = ds.read_i64().map_err(|e| h5err(path, what, e))?;
    if raw.len() != n {
        return Err(Error::format(
            path,
            format!("{what}: {} entries read of {n}", raw.len()),
        ));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut prev = 0usize;
    for (i, &v) in raw.iter().enumerate() {
        let u = usize::try_from(v)
            .map_err(|_| Error::format(path, format!("{what}[{i}] = {v} is negative")))?;
        if i == 0 && u != 0 {
            return Err(Error::format(path, format!("{what}[0] = {u}, expected 0")));
        }
        if u < prev {
            return Err(Error::format(
                path,
                format!(
                    "{what} decreases at entry {i} ({prev} then {u}); it must be non-decreasing"
                ),
            ));
        }
        prev = u;
        out.push(u);
    }
    if prev != nnz {
        return Err(Error::format(
            path,
            format!("{what} ends at {prev}, but data/indices hold {nnz} entries"),
        ));
    }
    Ok(out)
}

/// Length of a 1-D dataset.
pub(super) fn len_1d(ds: &Dataset, path: &Path, what: &str) -> Result<usize> {
    let shape = ds.shape().map_err(|e| h5err(path, what, e))?;
    match shape.as_slice() {
        [n] => usize::try_from(*n)
            .map_err(|_| Error::format(path, format!("{what}: length {n} too large"))),
        other => Err(Error::format(
            path,
            format!("{what}: expected a 1-D dataset, found shape {other:?}"),
        )),
    }
}
