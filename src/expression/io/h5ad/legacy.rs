//! The anndata ≤ 0.6 dataframe layout: `obs`/`var` as compound (structured) datasets, one
//! record per row, the row name in an `index` field, categorical labels in
//! `uns/<column>_categories`.
//!
//! Variable-length strings inside compound records point into the file's global heap, which
//! `hdf5-pure` resolves only for whole string datasets; [`GlobalHeap`] reads the few heap
//! collections such a frame uses, straight from the file, with every offset bounds-checked.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use hdf5_pure::{Dataset, Datatype, DatatypeByteOrder, File, StringPadding};

use super::decode::{check_dataset, h5err, len_1d};
use super::frame::{codes_from, read_labels, Frame};
use crate::error::{Error, Result};
use crate::expression::ObsColumn;

/// How one compound member decodes.
enum Member {
    Number,
    FixedString(u32, bool),
    VlenString,
}

/// Reads a compound-dataset dataframe (`obs`, `var`, `raw.var` of anndata ≤ 0.6).
pub(super) fn read_compound_frame(
    file: &File,
    path: &Path,
    name: &str,
    ds: &Dataset,
) -> Result<Frame> {
    let dt = ds.datatype().map_err(|e| h5err(path, name, e))?;
    let Datatype::Compound { size, members } = &dt else {
        return Err(Error::format(
            path,
            format!("`{name}` is a dataset but not a compound (structured) one: {dt:?}"),
        ));
    };
    let rec = *size as usize;
    let n = len_1d(ds, path, name)?;
    check_dataset(ds, path, name, n as u64, 0, file.file_size())?;
    let raw = ds.read_raw().map_err(|e| h5err(path, name, e))?;
    if rec == 0 || raw.len() != n * rec {
        return Err(Error::format(
            path,
            format!(
                "`{name}`: {} bytes for {n} records of {rec} bytes",
                raw.len()
            ),
        ));
    }
    let mut heap: Option<GlobalHeap> = None;
    let mut index: Option<Vec<String>> = None;
    let mut columns = Vec::new();
    for m in members {
        let kind = match &m.datatype {
            Datatype::String { size, padding, .. } => {
                Member::FixedString(*size, matches!(padding, StringPadding::SpacePad))
            }
            Datatype::VariableLength {
                is_string: true, ..
            } => Member::VlenString,
            Datatype::FixedPoint { .. }
            | Datatype::FloatingPoint { .. }
            | Datatype::Enumeration { .. } => Member::Number,
            _ => continue,
        };
        let off = usize::try_from(m.byte_offset).unwrap_or(usize::MAX);
        let field = |i: usize, width: usize| -> Result<&[u8]> {
            let start = i * rec + off;
            raw.get(start..start.saturating_add(width)).ok_or_else(|| {
                Error::format(
                    path,
                    format!("`{name}` field `{}` lies outside its record", m.name),
                )
            })
        };
        let column = match kind {
            Member::Number => {
                let width = scalar_width(&m.datatype);
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    let x = decode_scalar(&m.datatype, field(i, width)?).ok_or_else(|| {
                        Error::format(
                            path,
                            format!("`{name}` field `{}`: unsupported number type", m.name),
                        )
                    })?;
                    v.push(x);
                }
                let cats = format!("uns/{}_categories", m.name);
                match file.dataset(&cats) {
                    Ok(c) if matches!(name, "obs" | "var") => {
                        let categories = read_labels(&c, file, path, &cats)?.unwrap_or_default();
                        let what = format!("{name}.{}", m.name);
                        ObsColumn::Categorical {
                            codes: codes_from(&v, categories.len(), path, &what)?,
                            categories,
                        }
                    }
                    _ => ObsColumn::Numeric(v),
                }
            }
            Member::FixedString(width, space_pad) => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(fixed_string(field(i, width as usize)?, space_pad));
                }
                ObsColumn::Text(v)
            }
            Member::VlenString => {
                if heap.is_none() {
                    heap = Some(GlobalHeap::open(file, path)?);
                }
                let Some(h) = heap.as_mut() else {
                    continue;
                };
                let width = 8 + h.offset_size;
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(h.string(field(i, width)?)?);
                }
                ObsColumn::Text(v)
            }
        };
        if m.name == "index" && index.is_none() {
            if let ObsColumn::Text(v) = column {
                index = Some(v);
                continue;
            }
        }
        columns.push((m.name.clone(), column));
    }
    let index = index
        .ok_or_else(|| Error::format(path, format!("`{name}` has no string `index` field")))?;
    Ok(Frame { index, columns })
}

/// Bytes a scalar member occupies.
fn scalar_width(dt: &Datatype) -> usize {
    match dt {
        Datatype::FixedPoint { size, .. }
        | Datatype::FloatingPoint { size, .. }
        | Datatype::Enumeration { size, .. } => *size as usize,
        _ => 0,
    }
}

/// An unsigned integer from `b` in the given byte order.
fn uint(b: &[u8], order: DatatypeByteOrder) -> u64 {
    let mut v = 0u64;
    let mut push = |x: u8| v = (v << 8) | u64::from(x);
    match order {
        DatatypeByteOrder::BigEndian => b.iter().copied().for_each(&mut push),
        _ => b.iter().rev().copied().for_each(&mut push),
    }
    v
}

/// One integer, float or enum value as `f64`; `None` for layouts not handled.
fn decode_scalar(dt: &Datatype, b: &[u8]) -> Option<f64> {
    match dt {
        Datatype::FixedPoint {
            size,
            byte_order,
            layout,
        } if matches!(size, 1 | 2 | 4 | 8) && b.len() == *size as usize => {
            let u = uint(b, *byte_order);
            if layout.signed {
                let shift = 64 - 8 * size;
                Some((((u << shift) as i64) >> shift) as f64)
            } else {
                Some(u as f64)
            }
        }
        Datatype::FloatingPoint {
            size: 4,
            byte_order,
            ..
        } if b.len() == 4 => Some(f64::from(f32::from_bits(uint(b, *byte_order) as u32))),
        Datatype::FloatingPoint {
            size: 8,
            byte_order,
            ..
        } if b.len() == 8 => Some(f64::from_bits(uint(b, *byte_order))),
        Datatype::Enumeration { base_type, .. } => decode_scalar(base_type, b),
        _ => None,
    }
}

/// A fixed-length string: up to the first NUL, trailing spaces dropped for space padding.
fn fixed_string(b: &[u8], space_pad: bool) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]);
    if space_pad {
        s.trim_end_matches(' ').to_string()
    } else {
        s.into_owned()
    }
}

/// Reads variable-length string payloads from the file's global heap collections.
struct GlobalHeap {
    file: std::fs::File,
    path: std::path::PathBuf,
    file_len: u64,
    base: u64,
    offset_size: usize,
    length_size: usize,
    /// Collections read so far: address → (heap object index → payload).
    collections: HashMap<u64, HashMap<u16, Vec<u8>>>,
}

impl GlobalHeap {
    fn open(h5: &File, path: &Path) -> Result<Self> {
        let sb = h5.superblock();
        let (file, file_len) = crate::io::input::open_regular(path)?;
        Ok(GlobalHeap {
            file,
            path: path.to_path_buf(),
            file_len,
            base: sb.base_address.get(),
            offset_size: usize::from(sb.offset_size),
            length_size: usize::from(sb.length_size),
            collections: HashMap::new(),
        })
    }

    fn bad(&self, msg: impl Into<String>) -> Error {
        Error::format(&self.path, format!("global heap: {}", msg.into()))
    }

    /// The string a vlen reference (`u32` length, collection address, `u32` index) points at.
    fn string(&mut self, r: &[u8]) -> Result<String> {
        let os = self.offset_size;
        if r.len() < 8 + os {
            return Err(self.bad("short variable-length reference"));
        }
        let len = uint(&r[..4], DatatypeByteOrder::LittleEndian) as usize;
        let addr = uint(&r[4..4 + os], DatatypeByteOrder::LittleEndian);
        let index = uint(&r[4 + os..8 + os], DatatypeByteOrder::LittleEndian);
        if len == 0 {
            return Ok(String::new());
        }
        if !self.collections.contains_key(&addr) {
            let c = self.read_collection(addr)?;
            self.collections.insert(addr, c);
        }
        let payload = u16::try_from(index)
            .ok()
            .and_then(|i| self.collections.get(&addr).and_then(|c| c.get(&i)));
        match payload {
            Some(p) => Ok(String::from_utf8_lossy(p.get(..len).unwrap_or(p)).into_owned()),
            None => Err(self.bad(format!("no object {index} in the collection at {addr}"))),
        }
    }

    fn read_collection(&mut self, addr: u64) -> Result<HashMap<u16, Vec<u8>>> {
        let ls = self.length_size;
        let pos = self
            .base
            .checked_add(addr)
            .filter(|p| p.saturating_add(8 + ls as u64) <= self.file_len)
            .ok_or_else(|| self.bad(format!("collection address {addr} is outside the file")))?;
        let mut head = vec![0u8; 8 + ls];
        self.read_at(pos, &mut head)?;
        if &head[..4] != b"GCOL" {
            return Err(self.bad(format!("no GCOL signature at {addr}")));
        }
        let size = uint(&head[8..], DatatypeByteOrder::LittleEndian);
        if size < head.len() as u64 || pos.saturating_add(size) > self.file_len {
            return Err(self.bad(format!("collection at {addr} has impossible size {size}")));
        }
        let mut buf = vec![0u8; size as usize];
        self.read_at(pos, &mut buf)?;
        let mut objects = HashMap::new();
        let mut p = head.len();
        while p + 8 + ls <= buf.len() {
            let idx = uint(&buf[p..p + 2], DatatypeByteOrder::LittleEndian) as u16;
            let obj_size = uint(&buf[p + 8..p + 8 + ls], DatatypeByteOrder::LittleEndian);
            if idx == 0 {
                break; // free space: the rest of the collection
            }
            let start = p + 8 + ls;
            let end = usize::try_from(obj_size)
                .ok()
                .and_then(|s| start.checked_add(s))
                .filter(|&e| e <= buf.len())
                .ok_or_else(|| {
                    self.bad(format!("object {idx} at {addr} overruns its collection"))
                })?;
            objects.insert(idx, buf[start..end].to_vec());
            // Objects are padded to a multiple of 8 bytes.
            p = start + (end - start).div_ceil(8) * 8;
        }
        Ok(objects)
    }

    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<()> {
        let path = self.path.clone();
        self.file
            .seek(SeekFrom::Start(pos))
            .and_then(|_| self.file.read_exact(buf))
            .map_err(|e| Error::io(path, e))
    }
}
