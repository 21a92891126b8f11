//! Reading a whole `.h5ad` into an [`ExpressionMatrix`].

use std::path::Path;
use std::sync::Arc;

use hdf5_pure::{Dataset, File};
use ndarray::Array2;

use super::dataframe::read_frame;
use super::decode::{check_alloc, h5err, len_1d, read_indptr, Column, Indices, ValuesF32};
use super::frame::{attr_str, encoding, gene_table, Frame};
use super::source::{FileSource, Shared};
use crate::error::{Error, Result};
use crate::expression::io::{make_unique, MatrixChoice, ReadOptions};
use crate::expression::{check_unique, CsrMatrix, ExpressionMatrix, GeneTable, RawValues, Values};

/// Reads an AnnData file: `X`, cell ids and `obs` columns, genes from `var`, and `raw` when
/// present (what is read, and in which layouts, is in the [module docs](super)).
///
/// # Errors
/// - [`Error::Io`] if the file cannot be opened;
/// - [`Error::Format`] naming the file and the HDF5 element when it is not HDF5, truncated,
///   has no `X`, or is inconsistent (an `indptr` that does not match the shape, indices out of
///   range or unsorted, names that do not match the matrix);
/// - [`Error::Unsupported`] for an `X` encoding other than dense, CSR or CSC;
/// - [`Error::Duplicate`] for repeated gene symbols (unless `opts.make_unique`) or cell ids;
/// - [`Error::NonFinite`] / [`Error::Negative`] for NaN, infinite or negative values.
pub fn read_h5ad(path: &Path, opts: &ReadOptions) -> Result<ExpressionMatrix> {
    let (file, src) = open(path)?;
    let (xname, varname) = chosen(&file, path, &opts.matrix)?;
    let x = Matrix::locate(&file, &src, path, &xname)?;
    let (values, frames) = rayon::join(
        || x.read(path, opts.force_sparse),
        || -> Result<(Frame, Frame)> {
            Ok((
                read_frame(&file, path, "obs")?,
                read_frame(&file, path, &varname)?,
            ))
        },
    );
    let values = values?;
    if let Err(Error::Negative {
        cell, gene, value, ..
    }) = values.check_counts("expression values")
    {
        let what = scaled_matrix(path, &opts.matrix);
        return Err(Error::Negative {
            what,
            cell,
            gene,
            value,
        });
    }
    let (obs, var) = frames?;
    let genes = genes_of(path, &xname, &x, obs.index.len(), var, &varname, opts)?;
    let mut m = ExpressionMatrix::new(values, genes, obs.index)?;
    for (name, column) in obs.columns {
        m = m.with_obs(name, column)?;
    }
    if opts.matrix != MatrixChoice::Raw {
        if let Some(raw) = read_raw(&file, &src, path, opts, m.n_cells())? {
            m = m.with_raw(raw)?;
        }
    }
    Ok(m)
}

/// The matrix element and its gene frame for `choice`: `X` + `var`, `raw/X` + `raw/var` (or
/// the ≤ 0.6 `raw.X` + `raw.var`), `layers/NAME` + `var`.
///
/// # Errors
/// [`Error::Format`] naming what the file has when the chosen matrix is absent.
pub(super) fn chosen(file: &File, path: &Path, choice: &MatrixChoice) -> Result<(String, String)> {
    match choice {
        MatrixChoice::X => Ok(("X".into(), "var".into())),
        MatrixChoice::Raw => {
            if exists(file, "raw/X") {
                Ok(("raw/X".into(), "raw/var".into()))
            } else if exists(file, "raw.X") {
                Ok(("raw.X".into(), "raw.var".into()))
            } else {
                Err(Error::format(
                    path,
                    format!("`--raw`: the file has no .raw ({})", matrices_line(file)),
                ))
            }
        }
        MatrixChoice::Layer(name) => {
            let element = format!("layers/{name}");
            if exists(file, &element) {
                Ok((element, "var".into()))
            } else {
                Err(Error::format(
                    path,
                    format!("`--layer {name}`: no such layer ({})", matrices_line(file)),
                ))
            }
        }
    }
}

/// The file's layer names, sorted (none when there is no `layers` group).
pub(super) fn layer_names(file: &File) -> Vec<String> {
    let Ok(g) = file.group("layers") else {
        return Vec::new();
    };
    let mut names: Vec<String> = g.groups().unwrap_or_default();
    names.extend(g.datasets().unwrap_or_default());
    names.sort();
    names.dedup();
    names
}

/// "matrices: X, raw, layers counts, spliced" for messages.
fn matrices_line(file: &File) -> String {
    let mut have = Vec::new();
    if exists(file, "X") {
        have.push("X".to_string());
    }
    if exists(file, "raw/X") || exists(file, "raw.X") {
        have.push("raw (--raw)".to_string());
    }
    for l in layer_names(file) {
        have.push(format!("--layer {l}"));
    }
    if have.is_empty() {
        "it has no matrices".into()
    } else {
        format!("it has: {}", have.join(", "))
    }
}

/// What [`Error::Negative`] says of a matrix with negative values: it holds scaled values, and
/// these matrices of the file would work (their kinds read from a sample of cells).
pub(super) fn scaled_matrix(path: &Path, choice: &MatrixChoice) -> String {
    let usable: Vec<String> = super::inventory::h5ad_matrices(path)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.choice != *choice && s.kind.as_ref().is_some_and(|k| k.kind.is_usable()))
        .map(|s| {
            format!(
                "{} ({}, {} x {})",
                s.choice.flag(),
                s.kind.as_ref().map_or("?", |k| k.kind.label()),
                s.n_cells,
                s.n_genes
            )
        })
        .collect();
    let alternatives = if usable.is_empty() {
        "no other matrix of this file holds counts or (log-)normalised values".to_string()
    } else {
        format!(
            "matrices of this file that would work: {}",
            usable.join(", ")
        )
    };
    format!(
        "{}: `{choice}`, which holds scaled or centred values (they have lost the zero of 'not \
         expressed' and cannot be binned; {alternatives}),",
        path.display()
    )
}

/// Opens an `.h5ad` for reading with clear errors for a missing, non-HDF5 or truncated file.
/// Returns the `hdf5-pure` file and the byte source it reads through (for direct reads).
pub(super) fn open(path: &Path) -> Result<(File, Arc<FileSource>)> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    match hdf5_pure::is_hdf5(path) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::format(
                path,
                "not an HDF5 file (no HDF5 signature in the first bytes); an .h5ad file is HDF5",
            ))
        }
        Err(e) => return Err(Error::io(path, e)),
    }
    let src = Arc::new(FileSource::open(path)?);
    let file = File::from_source(Shared(Arc::clone(&src)))
        .map_err(|e| Error::format(path, format!("cannot open as HDF5: {e}")))?;
    let sb = file.superblock();
    let end = sb.base_address.get().saturating_add(sb.eof_address);
    if sb.eof_address != u64::MAX && end > len {
        return Err(Error::format(
            path,
            format!("truncated: the HDF5 superblock says the file is {end} bytes long, but it has {len}"),
        ));
    }
    Ok((file, src))
}

/// Checks that `obs` (`n_obs` cells) and `var` (named `var_name` in messages) match the shape
/// of `x` (named `what`), and makes the gene table of `var`, with `opts.make_unique` applied.
pub(super) fn genes_of(
    path: &Path,
    what: &str,
    x: &Matrix,
    n_obs: usize,
    var: Frame,
    var_name: &str,
    opts: &ReadOptions,
) -> Result<GeneTable> {
    let n_var = var.index.len();
    if x.n_rows != n_obs || x.n_cols != n_var {
        return Err(Error::format(
            path,
            format!(
                "{what} is {} x {}, but `obs` has {n_obs} rows and `{var_name}` has {n_var}",
                x.n_rows, x.n_cols
            ),
        ));
    }
    let mut genes = gene_table(var);
    if opts.make_unique {
        make_unique(&mut genes.symbols);
    }
    Ok(genes)
}

/// True when `p` names a group or dataset.
pub(super) fn exists(file: &File, p: &str) -> bool {
    file.group(p).is_ok() || file.dataset(p).is_ok()
}

/// `raw/X` + `raw/var` (or the ≤ 0.6 `raw.X` + `raw.var`), checked like `X`.
fn read_raw(
    file: &File,
    src: &Arc<FileSource>,
    path: &Path,
    opts: &ReadOptions,
    n_cells: usize,
) -> Result<Option<RawValues>> {
    let (xname, varname) = if exists(file, "raw/X") {
        ("raw/X", "raw/var")
    } else if exists(file, "raw.X") {
        ("raw.X", "raw.var")
    } else {
        return Ok(None);
    };
    let x = Matrix::locate(file, src, path, xname)?;
    let values = x.read(path, opts.force_sparse)?;
    let var = read_frame(file, path, varname)?;
    let genes = genes_of(path, xname, &x, n_cells, var, varname, opts)?;
    check_unique(
        "raw gene",
        &genes.symbols,
        "; raw gene symbols must be unique (read with make_unique)",
    )?;
    values.check_counts("raw values")?;
    Ok(Some(RawValues { values, genes }))
}

/// How a matrix is stored (one per matrix: size does not matter).
#[allow(clippy::large_enum_variant)]
pub(super) enum Storage {
    /// A 2-D dataset.
    Dense(Column),
    /// A sparse group; `csc` when compressed by columns.
    Sparse {
        csc: bool,
        data: Column,
        indices: Column,
        indptr: Dataset,
        nnz: usize,
    },
}

/// A located matrix (`X`, `raw/X`): its storage and shape, nothing read yet.
pub(super) struct Matrix {
    /// Element name, for messages.
    pub name: String,
    /// Rows (cells).
    pub n_rows: usize,
    /// Columns (genes).
    pub n_cols: usize,
    /// Where the values are.
    pub storage: Storage,
    /// Size of the file, for plausibility checks before allocating.
    pub file_len: u64,
}

impl Matrix {
    /// Finds the matrix `name` and checks its shape and parts.
    pub(super) fn locate(
        file: &File,
        src: &Arc<FileSource>,
        path: &Path,
        name: &str,
    ) -> Result<Self> {
        if let Ok(g) = file.group(name) {
            let attrs = g.attrs().map_err(|e| h5err(path, name, e))?;
            let format = encoding(&attrs)
                .or_else(|| attr_str(&attrs, "h5sparse_format").map(|f| format!("{f}_matrix")));
            let csc = match format.as_deref() {
                Some("csr_matrix") => false,
                Some("csc_matrix") => true,
                other => {
                    return Err(Error::Unsupported(format!(
                        "{}: `{name}` is a group with encoding {other:?}; only dense arrays, csr_matrix and csc_matrix are read",
                        path.display()
                    )))
                }
            };
            let shape = attrs
                .get("shape")
                .or_else(|| attrs.get("h5sparse_shape"))
                .and_then(|a| a.to_i64s())
                .ok_or_else(|| {
                    Error::format(path, format!("`{name}` has no integer `shape` attribute"))
                })?;
            let (n_rows, n_cols) = match shape.as_slice() {
                [r, c] => (
                    usize::try_from(*r).map_err(|_| bad_shape(path, name, &shape))?,
                    usize::try_from(*c).map_err(|_| bad_shape(path, name, &shape))?,
                ),
                _ => return Err(bad_shape(path, name, &shape)),
            };
            // Row pointers (and a CSC conversion) allocate from these.
            check_alloc(
                path,
                name,
                n_rows.max(n_cols) as u64 + 1,
                8,
                file.file_size(),
            )?;
            let part = |p: &str| {
                let full = format!("{name}/{p}");
                file.dataset(&full)
                    .map_err(|e| Error::format(path, format!("`{full}` missing: {e}")))
            };
            let (data, indices, indptr) = (part("data")?, part("indices")?, part("indptr")?);
            let (data_name, idx_name) = (format!("{name}/data"), format!("{name}/indices"));
            let nnz = len_1d(&data, path, &data_name)?;
            let n_idx = len_1d(&indices, path, &idx_name)?;
            if n_idx != nnz {
                return Err(Error::format(
                    path,
                    format!("{name}: data has {nnz} entries but indices has {n_idx}"),
                ));
            }
            return Ok(Matrix {
                name: name.to_string(),
                n_rows,
                n_cols,
                file_len: file.file_size(),
                storage: Storage::Sparse {
                    csc,
                    data: Column::new(data, file, Some(src), path, &data_name)?,
                    indices: Column::new(indices, file, Some(src), path, &idx_name)?,
                    indptr,
                    nnz,
                },
            });
        }
        let ds = file.dataset(name).map_err(|_| {
            Error::format(
                path,
                format!(
                    "no `{name}` matrix in the file (an AnnData saved with X=None, or not AnnData)"
                ),
            )
        })?;
        let shape = ds.shape().map_err(|e| h5err(path, name, e))?;
        match shape.as_slice() {
            [r, c] => Ok(Matrix {
                name: name.to_string(),
                n_rows: usize::try_from(*r).map_err(|_| Error::format(path, "shape too large"))?,
                n_cols: usize::try_from(*c).map_err(|_| Error::format(path, "shape too large"))?,
                storage: Storage::Dense(Column::new(ds, file, Some(src), path, name)?),
                file_len: file.file_size(),
            }),
            other => Err(Error::format(
                path,
                format!("`{name}` is a dataset of shape {other:?}; expected 2-D (cells x genes)"),
            )),
        }
    }

    /// Reads all values.
    pub(super) fn read(&self, path: &Path, force_sparse: bool) -> Result<Values> {
        match &self.storage {
            Storage::Dense(col) => {
                let v = col.read_rows(path, 0, self.n_rows, &ValuesF32)?;
                let x = Array2::from_shape_vec((self.n_rows, self.n_cols), v)
                    .map_err(|e| Error::format(path, format!("{}: {e}", self.name)))?;
                Ok(if force_sparse {
                    Values::Sparse(CsrMatrix::from_dense(x.view()))
                } else {
                    Values::Dense(x)
                })
            }
            Storage::Sparse {
                csc,
                data,
                indices,
                indptr,
                nnz,
            } => {
                let (major, minor) = if *csc {
                    (self.n_cols, self.n_rows)
                } else {
                    (self.n_rows, self.n_cols)
                };
                let what = format!("{}/indptr", self.name);
                let ptr = read_indptr(indptr, self.file_len, path, &what, major, *nnz)?;
                let (vals, idx) = rayon::join(
                    || data.read_rows(path, 0, *nnz, &ValuesF32),
                    || indices.read_rows(path, 0, *nnz, &Indices { bound: minor }),
                );
                let (vals, idx) = (vals?, idx?);
                let (ptr, idx, vals) = if *csc {
                    csc_to_csr(self.n_rows, &ptr, &idx, &vals)
                } else {
                    (ptr, idx, vals)
                };
                let m = CsrMatrix::new(self.n_rows, self.n_cols, ptr, idx, vals)
                    .map_err(|e| Error::format(path, format!("{}: {e}", self.name)))?;
                Ok(Values::Sparse(m))
            }
        }
    }
}

fn bad_shape(path: &Path, name: &str, shape: &[i64]) -> Error {
    Error::format(
        path,
        format!("`{name}` has shape attribute {shape:?}; expected two non-negative integers"),
    )
}

/// CSC (column pointer, row indices, values) to CSR by one counting sort. Row indices must
/// already be checked to be `< n_rows` and `colptr` to be valid (both done by the reader).
pub(super) fn csc_to_csr(
    n_rows: usize,
    colptr: &[usize],
    rows: &[u32],
    vals: &[f32],
) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
    let nnz = rows.len();
    let mut indptr = vec![0usize; n_rows + 1];
    for &r in rows {
        if let Some(c) = indptr.get_mut(r as usize + 1) {
            *c += 1;
        }
    }
    for r in 0..n_rows {
        indptr[r + 1] += indptr[r];
    }
    let mut next = indptr.clone();
    let mut indices = vec![0u32; nnz];
    let mut data = vec![0f32; nnz];
    for (c, w) in colptr.windows(2).enumerate() {
        for k in w[0]..w[1].min(nnz) {
            let r = rows[k] as usize;
            if let Some(slot) = next.get_mut(r) {
                let dst = *slot;
                if let (Some(i), Some(d)) = (indices.get_mut(dst), data.get_mut(dst)) {
                    *i = c as u32;
                    *d = vals[k];
                }
                *slot += 1;
            }
        }
    }
    (indptr, indices, data)
}
