//! Writing an [`ExpressionMatrix`] as AnnData (anndata ≥ 0.8 layout).

use std::path::Path;

use hdf5_pure::{AttrValue, DatasetBuilder, FileBuilder, FinishedGroup, GroupBuilder};

use super::{H5adCompression, H5adWriteOptions};
use crate::error::{Error, Result};
use ndarray::Array2;

use crate::expression::{CsrMatrix, ExpressionMatrix, GeneTable, ObsColumn, Values};

/// Elements per chunk of a compressed 1-D dataset (compression needs chunked storage).
const CHUNK_ELEMS: u64 = 1 << 16;

/// Writes an AnnData file that `anndata.read_h5ad` and scanpy open (layout in the
/// [module docs](super)); atomically: a temporary file beside `path`, then a rename.
///
/// # Errors
/// [`Error::Unsupported`] for an `obs` column name HDF5 or anndata cannot store (empty, with
/// `/`, or `_index`); [`Error::InvalidParam`] for a categorical code outside its categories;
/// [`Error::Format`] if the HDF5 encoder fails; [`Error::Io`] if the file cannot be written or
/// renamed.
pub fn write_h5ad(m: &ExpressionMatrix, path: &Path, opts: &H5adWriteOptions) -> Result<()> {
    write_h5ad_with(m, &AnnDataExtras::default(), path, opts)
}

/// What an `.h5ad` holds beside `X`, `obs`, `var` and `raw`: results written back for
/// scanpy (imputed values as layers, activations in `obsm`, the model's settings in `uns`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnDataExtras {
    /// `layers[NAME]`: cells × genes, the shape of `X`.
    pub layers: Vec<(String, Values)>,
    /// `obsm[NAME]`: cells × d, one row per cell.
    pub obsm: Vec<(String, Array2<f32>)>,
    /// `uns[NAME]`.
    pub uns: Vec<(String, UnsValue)>,
}

/// A value in `uns` (what anndata reads back as a Python `str`, `float`, numpy array or
/// `dict`).
#[derive(Debug, Clone, PartialEq)]
pub enum UnsValue {
    /// A string (anndata's `string` scalar).
    Text(String),
    /// A number (anndata's `numeric-scalar`).
    Number(f64),
    /// An array of strings.
    Texts(Vec<String>),
    /// An array of numbers.
    Numbers(Vec<f64>),
    /// A nested dictionary.
    Dict(Vec<(String, UnsValue)>),
}

/// [`write_h5ad`] with layers, `obsm` and `uns` (atomically, like it).
///
/// # Errors
/// As [`write_h5ad`]; [`Error::Shape`] for a layer whose shape is not `X`'s or an `obsm`
/// entry whose rows are not the cells; [`Error::Unsupported`] for an element name HDF5 cannot
/// store (empty or with `/`).
pub fn write_h5ad_with(
    m: &ExpressionMatrix,
    extras: &AnnDataExtras,
    path: &Path,
    opts: &H5adWriteOptions,
) -> Result<()> {
    let bad_name = |n: &str| n.is_empty() || n.contains('/') || n == ".";
    let names = extras.layers.iter().map(|(n, _)| n.as_str());
    let names = names.chain(extras.obsm.iter().map(|(n, _)| n.as_str()));
    for n in names.chain(extras.uns.iter().map(|(n, _)| n.as_str())) {
        if bad_name(n) {
            return Err(Error::Unsupported(format!(
                "{}: element name {n:?} cannot be stored in .h5ad (empty or contains '/')",
                path.display()
            )));
        }
    }
    for (n, v) in &extras.layers {
        if v.dim() != m.values().dim() {
            return Err(Error::Shape {
                op: "write_h5ad_with",
                expected: format!("layer `{n}` of X's shape {:?}", m.values().dim()),
                got: format!("{:?}", v.dim()),
            });
        }
    }
    for (n, v) in &extras.obsm {
        if v.nrows() != m.n_cells() {
            return Err(Error::Shape {
                op: "write_h5ad_with",
                expected: format!("obsm `{n}` with one row per cell ({})", m.n_cells()),
                got: format!("{} rows", v.nrows()),
            });
        }
    }
    for (name, column) in m.obs() {
        if name.is_empty() || name.contains('/') || name == "_index" || name == "." {
            return Err(Error::Unsupported(format!(
                "{}: obs column name {name:?} cannot be stored in .h5ad (empty, contains '/', or is `_index`)",
                path.display()
            )));
        }
        if let ObsColumn::Categorical { categories, codes } = column {
            let n = categories.len() as i64;
            if let Some(c) = codes.iter().find(|&&c| c < -1 || i64::from(c) >= n) {
                return Err(Error::param(
                    "obs categorical code",
                    format!("{c} in `{name}`"),
                    format!("must be -1 (missing) or index one of the {n} categories"),
                ));
            }
        }
    }
    let comp = opts.compression;
    let mut b = FileBuilder::new();
    b.set_attr("encoding-type", vstr("anndata"));
    b.set_attr("encoding-version", vstr("0.1.0"));

    write_matrix(&mut b, "X", m.values(), comp);
    let obs = frame(
        &mut b,
        "obs",
        m.cells(),
        m.obs().iter().map(|(n, c)| (n.as_str(), c)).collect(),
        comp,
    );
    b.add_group(obs);
    let var = var_frame(&mut b, "var", m.genes(), comp);
    b.add_group(var);
    if let Some(raw) = m.raw() {
        let mut g = b.create_group("raw");
        set_encoding(&mut g, "raw", "0.1.0");
        write_matrix(&mut g, "X", &raw.values, comp);
        let var = var_frame(&mut g, "var", &raw.genes, comp);
        g.add_group(var);
        let varm = empty_dict(&mut g, "varm");
        g.add_group(varm);
        b.add_group(g.finish());
    }
    let mut layers = dict(&mut b, "layers");
    for (name, values) in &extras.layers {
        write_matrix(&mut layers, name, values, comp);
    }
    b.add_group(layers.finish());
    let mut obsm = dict(&mut b, "obsm");
    for (name, x) in &extras.obsm {
        write_matrix(&mut obsm, name, &Values::Dense(x.clone()), comp);
    }
    b.add_group(obsm.finish());
    let mut uns = dict(&mut b, "uns");
    for (name, v) in &extras.uns {
        write_uns(&mut uns, name, v);
    }
    b.add_group(uns.finish());
    for name in ["obsp", "varm", "varp"] {
        let g = empty_dict(&mut b, name);
        b.add_group(g);
    }

    let tmp = crate::io::temp_path_for(path)?;
    let written = b
        .write(&tmp)
        .map_err(|e| match e {
            hdf5_pure::Error::Io(io) => Error::io(&tmp, io),
            other => Error::format(path, format!("writing HDF5: {other}")),
        })
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// What can hold datasets and groups: the file root or a group.
trait Parent {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder;
    fn group(&mut self, name: &str) -> GroupBuilder;
    fn add(&mut self, g: FinishedGroup);
}

impl Parent for FileBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn add(&mut self, g: FinishedGroup) {
        self.add_group(g);
    }
}

impl Parent for GroupBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn add(&mut self, g: FinishedGroup) {
        self.add_group(g);
    }
}

/// A variable-length UTF-8 string attribute, as h5py writes Python `str`.
fn vstr(s: &str) -> AttrValue {
    AttrValue::VarLenString(s.to_string())
}

fn set_encoding(g: &mut GroupBuilder, kind: &str, version: &str) {
    g.set_attr("encoding-type", vstr(kind));
    g.set_attr("encoding-version", vstr(version));
}

fn encoded(d: &mut DatasetBuilder, kind: &str, version: &str) {
    d.set_attr("encoding-type", vstr(kind));
    d.set_attr("encoding-version", vstr(version));
}

/// Chunking and the filter, for a non-empty dataset of `shape` when compression is asked for.
fn compress(d: &mut DatasetBuilder, shape: &[u64], comp: Option<H5adCompression>) {
    let Some(comp) = comp else { return };
    if shape.iter().product::<u64>() == 0 {
        return;
    }
    let chunks: Vec<u64> = match shape {
        [n] => vec![(*n).min(CHUNK_ELEMS)],
        [n, g] => vec![(CHUNK_ELEMS / (*g).max(1)).clamp(1, *n), *g],
        other => other.to_vec(),
    };
    d.with_chunks(&chunks);
    match comp {
        H5adCompression::Gzip(level) => d.with_deflate(u32::from(level.min(9))),
        H5adCompression::Lzf => d.with_lzf(),
    };
}

fn empty_dict<P: Parent>(p: &mut P, name: &str) -> FinishedGroup {
    dict(p, name).finish()
}

/// An open anndata `dict` group.
fn dict<P: Parent>(p: &mut P, name: &str) -> GroupBuilder {
    let mut g = p.group(name);
    set_encoding(&mut g, "dict", "0.1.0");
    g
}

/// One `uns` entry, in anndata's encodings (scalars are 0-d datasets).
fn write_uns<P: Parent>(p: &mut P, name: &str, v: &UnsValue) {
    match v {
        UnsValue::Text(t) => {
            let d = p.dataset(name);
            d.with_vlen_strings(&[t.as_str()]).with_shape(&[]);
            encoded(d, "string", "0.2.0");
        }
        UnsValue::Number(x) => {
            let d = p.dataset(name);
            d.with_f64_data(&[*x]).with_shape(&[]);
            encoded(d, "numeric-scalar", "0.2.0");
        }
        UnsValue::Texts(t) => strings(p, name, t),
        UnsValue::Numbers(x) => {
            let d = p.dataset(name);
            d.with_f64_data(x);
            encoded(d, "array", "0.2.0");
        }
        UnsValue::Dict(entries) => {
            let mut g = dict(p, name);
            for (k, v) in entries {
                write_uns(&mut g, k, v);
            }
            p.add(g.finish());
        }
    }
}

/// `X` (or `raw/X`): a `csr_matrix` group or a dense float32 array.
fn write_matrix<P: Parent>(p: &mut P, name: &str, values: &Values, comp: Option<H5adCompression>) {
    match values {
        Values::Dense(x) => {
            let (n, g) = x.dim();
            let shape = [n as u64, g as u64];
            let owned;
            let data: &[f32] = match x.as_slice() {
                Some(s) => s,
                None => {
                    owned = x.iter().copied().collect::<Vec<f32>>();
                    &owned
                }
            };
            let d = p.dataset(name);
            d.with_f32_data(data).with_shape(&shape);
            encoded(d, "array", "0.2.0");
            compress(d, &shape, comp);
        }
        Values::Sparse(m) => {
            let g = csr_group(p, name, m, comp);
            p.add(g);
        }
    }
}

fn csr_group<P: Parent>(
    p: &mut P,
    name: &str,
    m: &CsrMatrix,
    comp: Option<H5adCompression>,
) -> FinishedGroup {
    let mut g = p.group(name);
    set_encoding(&mut g, "csr_matrix", "0.1.0");
    g.set_attr(
        "shape",
        AttrValue::I64Array(vec![m.n_rows() as i64, m.n_cols() as i64]),
    );
    let nnz = m.nnz() as u64;
    let d = g.create_dataset("data");
    d.with_f32_data(m.data());
    compress(d, &[nnz], comp);
    // scipy's index dtype: int32 while everything fits, else int64.
    let small = m.nnz() <= i32::MAX as usize && m.n_cols() <= i32::MAX as usize;
    let d = g.create_dataset("indices");
    if small {
        let idx: Vec<i32> = m.indices().iter().map(|&c| c as i32).collect();
        d.with_i32_data(&idx);
    } else {
        let idx: Vec<i64> = m.indices().iter().map(|&c| i64::from(c)).collect();
        d.with_i64_data(&idx);
    }
    compress(d, &[nnz], comp);
    let d = g.create_dataset("indptr");
    if small {
        let ptr: Vec<i32> = m.indptr().iter().map(|&c| c as i32).collect();
        d.with_i32_data(&ptr);
    } else {
        let ptr: Vec<i64> = m.indptr().iter().map(|&c| c as i64).collect();
        d.with_i64_data(&ptr);
    }
    g.finish()
}

/// A vlen string dataset with anndata's `string-array` encoding.
fn strings<P: Parent>(p: &mut P, name: &str, values: &[String]) {
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let d = p.dataset(name);
    d.with_vlen_strings(&refs);
    encoded(d, "string-array", "0.2.0");
}

/// A dataframe group: `_index`, `column-order` and one element per column.
fn frame<P: Parent>(
    p: &mut P,
    name: &str,
    index: &[String],
    columns: Vec<(&str, &ObsColumn)>,
    comp: Option<H5adCompression>,
) -> FinishedGroup {
    let mut g = p.group(name);
    g.set_attr("_index", vstr("_index"));
    let order: Vec<String> = columns.iter().map(|(n, _)| n.to_string()).collect();
    g.set_attr(
        "column-order",
        if order.is_empty() {
            // What anndata writes for no columns: an empty float64 array.
            AttrValue::F64Array(Vec::new())
        } else {
            AttrValue::VarLenStringArray(order)
        },
    );
    set_encoding(&mut g, "dataframe", "0.2.0");
    strings(&mut g, "_index", index);
    for (col, column) in columns {
        match column {
            ObsColumn::Text(v) => strings(&mut g, col, v),
            ObsColumn::Numeric(v) => {
                let d = g.create_dataset(col);
                d.with_f64_data(v);
                encoded(d, "array", "0.2.0");
                compress(d, &[v.len() as u64], comp);
            }
            ObsColumn::Categorical { categories, codes } => {
                let mut c = g.create_group(col);
                set_encoding(&mut c, "categorical", "0.2.0");
                c.set_attr("ordered", AttrValue::I8(0));
                strings(&mut c, "categories", categories);
                let d = c.create_dataset("codes");
                // pandas' code dtype: the narrowest signed integer that holds the categories.
                if categories.len() < i8::MAX as usize {
                    let v: Vec<i8> = codes.iter().map(|&x| x as i8).collect();
                    d.with_i8_data(&v);
                } else if categories.len() < i16::MAX as usize {
                    let v: Vec<i16> = codes.iter().map(|&x| x as i16).collect();
                    d.with_i16_data(&v);
                } else {
                    d.with_i32_data(codes);
                }
                encoded(d, "array", "0.2.0");
                g.add_group(c.finish());
            }
        }
    }
    g.finish()
}

/// The `var` frame: symbols as the index, `gene_ids` when ids are known.
fn var_frame<P: Parent>(
    p: &mut P,
    name: &str,
    genes: &GeneTable,
    comp: Option<H5adCompression>,
) -> FinishedGroup {
    let ids = genes.ids.clone().map(ObsColumn::Text);
    let columns = ids.iter().map(|c| ("gene_ids", c)).collect();
    frame(p, name, &genes.symbols, columns, comp)
}
