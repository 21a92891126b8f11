//! NumPy `.npy` (format versions 1–3) for 1-D and 2-D numeric arrays.

use std::path::Path;

use ndarray::Array2;

use crate::error::{Error, Result};

fn parse_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line: 0,
        msg: msg.into(),
    }
}

/// Reads a `.npy` file holding a 1-D (as one column) or 2-D array of `f8`, `f4`, `i8` or `i4`
/// (little or big endian, C or Fortran order) as `f64`.
///
/// # Errors
/// [`Error::Parse`] for a bad magic string, header, dtype, shape, or a truncated body.
pub fn read_npy(path: &Path) -> Result<Array2<f64>> {
    let bytes = super::input::read_bytes(path)?;
    parse_npy(&bytes).map_err(|m| parse_err(path, m))
}

/// [`read_npy`] on bytes in memory (tests and fuzzing; errors name `<memory>`).
///
/// # Errors
/// As [`read_npy`].
pub fn read_npy_bytes(bytes: &[u8]) -> Result<Array2<f64>> {
    parse_npy(bytes).map_err(|m| parse_err(Path::new("<memory>"), m))
}

fn parse_npy(b: &[u8]) -> std::result::Result<Array2<f64>, String> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic string)".into());
    }
    let major = b[6];
    let (hlen, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 => {
            if b.len() < 12 {
                return Err("truncated header".into());
            }
            (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = start
        .checked_add(hlen)
        .and_then(|end| b.get(start..end))
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let field = |key: &str| -> Option<String> {
        let k = header.find(&format!("'{key}'"))?;
        let rest = &header[k + key.len() + 2..];
        let rest = rest.trim_start().strip_prefix(':')?.trim_start();
        Some(rest.to_string())
    };
    let descr = field("descr").ok_or("header has no 'descr'")?;
    let descr = descr.trim_start_matches('\'');
    let descr = &descr[..descr.find('\'').ok_or("bad 'descr'")?];
    let fortran = field("fortran_order")
        .ok_or("header has no 'fortran_order'")?
        .starts_with("True");
    let shape_s = field("shape").ok_or("header has no 'shape'")?;
    let shape_s = shape_s
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("bad 'shape'")?;
    let dims: Vec<usize> = shape_s
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension '{s}'"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let (n, m) = match dims.as_slice() {
        [n] => (*n, 1),
        [n, m] => (*n, *m),
        _ => return Err(format!("expected a 1-D or 2-D array, got shape {dims:?}")),
    };
    let (little, kind, size) = {
        let mut c = descr.chars();
        let order = c.next().ok_or("empty dtype")?;
        let rest: String = c.collect();
        let little = match order {
            '<' | '|' | '=' => true,
            '>' => false,
            _ => return Err(format!("unsupported dtype '{descr}'")),
        };
        match rest.as_str() {
            "f8" => (little, 'f', 8),
            "f4" => (little, 'f', 4),
            "i8" => (little, 'i', 8),
            "i4" => (little, 'i', 4),
            _ => {
                return Err(format!(
                    "unsupported dtype '{descr}' (use float64/float32/int64/int32)"
                ))
            }
        }
    };
    let count = n.checked_mul(m).ok_or("shape overflows")?;
    let body = b.get(start + hlen..).unwrap_or(&[]);
    // The header's shape is only a claim: the body must hold every value before anything is
    // allocated for them.
    let need = count
        .checked_mul(size)
        .ok_or_else(|| format!("shape {dims:?} overflows"))?;
    if body.len() < need {
        return Err(format!(
            "truncated data: {} bytes for the {count} values of {size} bytes the header's shape {dims:?} announces",
            body.len()
        ));
    }
    let mut vals = Vec::with_capacity(count);
    if kind == 'f' && size == 8 && little {
        // The common case (numpy's default float64 on every little-endian machine) in one
        // vectorisable pass.
        vals.extend(body[..need].chunks_exact(8).map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            f64::from_le_bytes(a)
        }));
    }
    for k in vals.len()..count {
        let c = body.get(k * size..(k + 1) * size).ok_or("truncated data")?;
        let v = match (kind, size) {
            ('f', 8) => {
                let a: [u8; 8] = c.try_into().map_err(|_| "bad chunk")?;
                if little {
                    f64::from_le_bytes(a)
                } else {
                    f64::from_be_bytes(a)
                }
            }
            ('f', 4) => {
                let a: [u8; 4] = c.try_into().map_err(|_| "bad chunk")?;
                f64::from(if little {
                    f32::from_le_bytes(a)
                } else {
                    f32::from_be_bytes(a)
                })
            }
            ('i', 8) => {
                let a: [u8; 8] = c.try_into().map_err(|_| "bad chunk")?;
                (if little {
                    i64::from_le_bytes(a)
                } else {
                    i64::from_be_bytes(a)
                }) as f64
            }
            _ => {
                let a: [u8; 4] = c.try_into().map_err(|_| "bad chunk")?;
                f64::from(if little {
                    i32::from_le_bytes(a)
                } else {
                    i32::from_be_bytes(a)
                })
            }
        };
        vals.push(v);
    }
    let arr = if fortran {
        Array2::from_shape_fn((n, m), |(i, j)| vals[j * n + i])
    } else {
        Array2::from_shape_vec((n, m), vals).map_err(|e| e.to_string())?
    };
    Ok(arr)
}

/// Writes a 2-D `f64` array as a version-1 `.npy` file (C order), atomically.
///
/// # Errors
/// [`Error::Io`] on write failure.
pub fn write_npy(path: &Path, a: &Array2<f64>) -> Result<()> {
    let (n, m) = a.dim();
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {m}), }}");
    // Pad so that magic + version + length + header is a multiple of 64, ending in '\n'.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + n * m * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in a.iter() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    super::write_atomic(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let a = Array2::from_shape_fn((5, 3), |(i, j)| i as f64 * 10.0 + j as f64);
        write_npy(&p, &a).unwrap();
        assert_eq!(read_npy(&p).unwrap(), a);
        let bytes = std::fs::read(&p).unwrap();
        assert!(parse_npy(&bytes[..bytes.len() - 3])
            .unwrap_err()
            .contains("truncated"));
        assert!(parse_npy(b"hello world").unwrap_err().contains("magic"));
    }
}
