//! safetensors files: written atomically, read with every problem reported as
//! [`Error::Format`] (truncated file, bad header, wrong dtype), never a panic.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::io::write_atomic;

/// A host tensor to store.
#[derive(Debug, Clone, PartialEq)]
pub enum HostData {
    /// `f32` values.
    F32(Vec<f32>),
    /// `i64` values (indices).
    I64(Vec<i64>),
}

/// A named host tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: HostData,
}

impl HostTensor {
    /// An `f32` tensor.
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self {
            shape,
            data: HostData::F32(data),
        }
    }

    /// An `i64` tensor.
    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Self {
        Self {
            shape,
            data: HostData::I64(data),
        }
    }

    /// The `f32` values.
    ///
    /// # Errors
    /// [`Error::Format`] for another dtype.
    pub fn as_f32(&self) -> Result<&[f32]> {
        match &self.data {
            HostData::F32(v) => Ok(v),
            HostData::I64(_) => Err(Error::format("", "expected an f32 tensor, found i64")),
        }
    }
}

/// Writes `tensors` (and string `metadata`) to `path` atomically.
///
/// # Errors
/// [`Error::Format`] for a shape that does not match its data, [`Error::Io`] on write failure.
pub fn write(
    path: &Path,
    tensors: &BTreeMap<String, HostTensor>,
    metadata: HashMap<String, String>,
) -> Result<()> {
    let mut bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let n: usize = t.shape.iter().product();
        let (dtype, raw, len) = match &t.data {
            HostData::F32(v) => (
                Dtype::F32,
                v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
                v.len(),
            ),
            HostData::I64(v) => (
                Dtype::I64,
                v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
                v.len(),
            ),
        };
        if n != len {
            return Err(Error::format(
                path,
                format!(
                    "tensor `{name}`: shape {:?} needs {n} values, has {len}",
                    t.shape
                ),
            ));
        }
        bytes.push((name.clone(), dtype, t.shape.clone(), raw));
    }
    let views = bytes
        .iter()
        .map(|(n, d, s, b)| {
            TensorView::new(*d, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::format(path, format!("tensor `{n}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = if metadata.is_empty() {
        None
    } else {
        Some(metadata)
    };
    let out =
        safetensors::serialize(views, meta).map_err(|e| Error::format(path, e.to_string()))?;
    write_atomic(path, &out)
}

/// Reads every tensor of `path` (`f32` and `i64`) and the metadata.
///
/// # Errors
/// [`Error::Io`] if unreadable; [`Error::Format`] for a truncated or malformed file or a dtype
/// other than `f32`/`i64`.
pub fn read(path: &Path) -> Result<(BTreeMap<String, HostTensor>, HashMap<String, String>)> {
    let bytes = crate::io::input::read_bytes(path)?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::format(
            path,
            format!("not a valid safetensors file (truncated or corrupt?): {e}"),
        )
    })?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| Error::format(path, e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let data = view.data();
        let t = match view.dtype() {
            Dtype::F32 => HostTensor::f32(
                view.shape().to_vec(),
                data.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Dtype::I64 => HostTensor::i64(
                view.shape().to_vec(),
                data.chunks_exact(8)
                    .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect(),
            ),
            other => {
                return Err(Error::format(
                    path,
                    format!("tensor `{name}` has dtype {other:?}; expected F32 or I64"),
                ))
            }
        };
        out.insert(name, t);
    }
    Ok((out, header.metadata().clone().unwrap_or_default()))
}
