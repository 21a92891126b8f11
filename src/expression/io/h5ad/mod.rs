//! AnnData `.h5ad` reader, writer and cell-chunk streamer, in pure Rust.
//!
//! # Why pure Rust
//!
//! The HDF5 layer is [`hdf5_pure`], not the C library: there is no `libhdf5` system dependency,
//! no build script and no version pinning of a shared library, so `cargo run` works on a fresh
//! machine and in CI. The price is that `hdf5-pure` is younger than `libhdf5`; CI therefore
//! checks this module against files written by the real `anndata` package (the committed
//! fixtures under `tests/data/h5ad/`, made by `tests/data/h5ad/make_fixtures.py`) and runs a
//! round trip through Python's `anndata.read_h5ad`/`write_h5ad` (`tests/h5ad.rs`).
//!
//! # What is read
//!
//! | Part | Read as |
//! | --- | --- |
//! | `X` dense (2-D dataset) | [`Values::Dense`](crate::expression::Values::Dense) (or CSR with [`ReadOptions::force_sparse`]) |
//! | `X` sparse group, `csr_matrix` | [`Values::Sparse`](crate::expression::Values::Sparse) |
//! | `X` sparse group, `csc_matrix` | converted to CSR (one counting-sort pass) |
//! | `obs` index | cell ids |
//! | `obs` columns | categoricals → [`ObsColumn::Categorical`](crate::expression::ObsColumn), numbers and booleans → `Numeric`, strings → `Text`, nullable integers/booleans → `Numeric` with NaN where masked, nullable strings → `Text` with `""` where masked; other encodings (2-D columns, awkward arrays, ...) are skipped without error |
//! | `var` index and columns | [`GeneTable`](crate::expression::GeneTable) (see below) |
//! | `raw/X` + `raw/var` | [`RawValues`](crate::expression::RawValues) |
//! | `layers/NAME` | read instead of `X` with [`ReadOptions::matrix`] (`--layer NAME`); `raw/X` likewise with `--raw`, genes from `raw/var` |
//! | `uns`, `obsm`, `varm`, `obsp`, `varp` | ignored |
//!
//! [`h5ad_matrices`] lists every matrix of a file (X, raw, each layer) with its shape, storage
//! and what it holds ([`crate::expression::kind`]) without reading any of them whole. A matrix
//! with negative values (scaled, as after `sc.pp.scale`) is refused with an error that names
//! the file's matrices that would work.
//!
//! Matrix values may be stored as float32, float64 or any signed or unsigned integer type and
//! become `f32`. Integers above 2^24 (and float64 values needing more than 24 bits of mantissa)
//! lose precision in that conversion; nothing warns about it. Gzip (`compression="gzip"`) and LZF
//! (`compression="lzf"`) compressed datasets read like uncompressed ones.
//!
//! **Gene names.** The `var` index becomes the gene symbols, and a `gene_ids` (or `gene_id`)
//! column, as scanpy's 10x import writes it, becomes [`GeneTable::ids`](crate::expression::GeneTable).
//! When the index itself looks like Ensembl ids (at least 90% of entries are `ENS…` followed by
//! digits, e.g. `ENSG00000167281`, `ENSMUSG00000000001.3`) and a symbol column exists
//! (`feature_name` as CELLxGENE writes it, `gene_symbols`, `gene_symbol`, `gene_name` or
//! `symbol`), that column gives the symbols and the index gives the ids; a gene whose symbol is
//! missing there keeps its id as its symbol. Repeated symbols are an [`Error::Duplicate`] unless
//! [`ReadOptions::make_unique`] asks for scanpy's `-1`, `-2`, ... suffixes.
//!
//! # Layouts
//!
//! - **anndata ≥ 0.8** (current): every element carries `encoding-type`/`encoding-version`
//!   attributes; dataframes are groups with an `_index` attribute naming the index dataset and a
//!   `column-order` attribute; categoricals are groups with `codes`, `categories` and an
//!   `ordered` attribute.
//! - **anndata 0.7**: dataframes as above, but a categorical column is an integer codes dataset
//!   whose `categories` attribute is an HDF5 object reference to `<frame>/__categories/<column>`;
//!   the reader looks the categories up at that path (checked against a file written by anndata
//!   0.7.8).
//! - **anndata ≤ 0.6**: `obs` and `var` are compound (structured) datasets with an `index` field;
//!   a categorical column is an integer codes field whose labels are in
//!   `uns/<column>_categories`; sparse `X` is a group with `h5sparse_format` (`"csr"` or `"csc"`)
//!   and `h5sparse_shape` attributes; `raw` is stored as `raw.X` and `raw.var`. Checked against a
//!   file written by anndata 0.6.22.post1. Variable-length strings inside compound records are
//!   resolved by a small global-heap reader in this module, because `hdf5-pure` does not expose
//!   one.
//!
//! # Speed and memory
//!
//! The file is read through a positioned-read byte source (`pread`, no shared file cursor), so
//! it is never held in memory whole and several threads read at once. Sparse `data` and
//! `indices` are read concurrently (rayon) in windows of about a million entries. An
//! uncompressed float32 `data` or int32 `indices` dataset (anndata's default) is read straight
//! into the final vector, one copy from the page cache, and checked in place (indices in
//! range); other types are decoded once per window from their stored bytes (int64 indices to
//! `u32` with a range check, `indptr` to `usize` with a monotonicity check). Compressed data is
//! decompressed by `hdf5-pure`, windows in parallel. Sizes claimed by the file are checked
//! against its length before anything is allocated, so a corrupt shape is an error, not an
//! allocation failure. Peak memory is the result plus a few windows. The result buffers ask
//! the kernel for transparent huge pages, as numpy does for anndata's arrays (see
//! `expression::io::memory`): filling fresh memory is most of what is left of an uncompressed
//! read.
//!
//! # What is written
//!
//! [`write_h5ad`] writes the current layout (anndata 0.8+ encoding attributes, as
//! variable-length UTF-8 string attributes like h5py writes them): `X` as a `csr_matrix` group
//! (sparse) or a 2-D dataset (dense), always float32 (scanpy's convention, also for integer
//! counts); `obs` and `var` dataframes with `_index` and `column-order`; categoricals as groups
//! with int8/int16/int32 `codes`, string `categories` and `ordered` = false (pandas' order of the
//! categories is kept, orderedness is not represented in [`ObsColumn`](crate::expression::ObsColumn));
//! numeric columns as float64; `var/gene_ids` when ids are known; `raw` when present; and the
//! empty `uns`, `obsm`, `varm`, `obsp`, `varp` and `layers` groups anndata itself writes. The
//! file is written to a temporary name beside the target and renamed, so a failed write never
//! leaves a half-written `.h5ad`. The HDF5 encoder holds a copy of the data until the file is
//! written, so writing needs about twice the matrix in memory.
//!
//! # Streaming
//!
//! [`H5adChunks`] reads `indptr`, the cell ids and the genes up front, then one block of cells at
//! a time, reading only those rows' slices of `data` and `indices` (or rows of a dense `X`).
//! A CSC `X` cannot be sliced by cells, so it is read whole and converted first.

mod chunks;
mod dataframe;
mod decode;
mod frame;
mod inventory;
mod legacy;
mod read;
mod source;
mod write;

pub use chunks::H5adChunks;
pub use inventory::{h5ad_matrices, h5ad_obs_columns, h5ad_obs_named, MatrixSummary};
pub use read::read_h5ad;
pub use write::{write_h5ad, write_h5ad_with, AnnDataExtras, UnsValue};

#[cfg(doc)]
use super::ReadOptions;
#[cfg(doc)]
use crate::error::Error;

/// Compression for the numeric datasets of a written `.h5ad` (anndata's `compression=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H5adCompression {
    /// Deflate at the given level (0–9; anndata/h5py's `"gzip"` uses 4).
    Gzip(u8),
    /// LZF: fast, modest ratio (h5py's `"lzf"`).
    Lzf,
}

/// How `.h5ad` files are written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct H5adWriteOptions {
    /// Compression of `X`, `raw/X` and numeric columns; `None` (the default, like anndata)
    /// writes them contiguous and uncompressed, which reads fastest.
    pub compression: Option<H5adCompression>,
}
