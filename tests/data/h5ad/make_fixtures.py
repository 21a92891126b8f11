#!/usr/bin/env python3
"""Writes the .h5ad fixtures read by tests/h5ad.rs, with the real `anndata` package.

Each fixture NAME.h5ad gets NAME.json beside it: what the Rust reader must return (dense X,
cell ids, gene symbols and ids, obs columns, raw), taken from the AnnData object that was
written and checked by reading the file back with the same anndata.

Run it once per anndata generation; it writes the fixtures of the generation it finds:

  anndata >= 0.8 (current layout; made with 0.12.19, h5py 3.16, numpy 2.4, pandas 2.3):
      /work/venv-ad/bin/python make_fixtures.py
    -> csr, dense_gzip, csc_lzf, ensembl, the bad-input files (see below), and the processed
       files of a scanpy workflow: processed_scaled (scaled X, log-normalised raw),
       processed_layers (log-normalised X, counts layer), processed_csc_chunked (CSC X, chunked
       and compressed layers)

  anndata 0.7 (categoricals as codes + `__categories`, made with anndata 0.7.8):
      python3 -m venv /tmp/venv-old07
      /tmp/venv-old07/bin/pip install --only-binary=:all: anndata==0.7.8 numpy==1.23.5 \
          pandas==1.5.3 h5py==3.8.0 scipy==1.10.1
      /tmp/venv-old07/bin/python make_fixtures.py
    -> v07_csr

  anndata 0.6 (compound obs/var, h5sparse X, raw.X/raw.var; made with anndata 0.6.22.post1):
      python3 -m venv /tmp/venv-old06
      /tmp/venv-old06/bin/pip install --only-binary=:all: anndata==0.6.22.post1 numpy==1.23.5 \
          pandas==1.5.3 h5py==3.8.0 scipy==1.10.1
      /tmp/venv-old06/bin/python make_fixtures.py
    -> v06_csr

All fixtures, the legacy ones included, are written by anndata itself. The current-layout ones
are written with `anndata.io.write_elem` into an `h5py.File(..., libver=("v110", "v110"))`
(same elements and attributes as `write_h5ad`, HDF5 1.10 object format, about a third of the
file size), except `csr.h5ad`, which goes through plain `AnnData.write_h5ad` so that one
fixture is exactly what users have. (Not `libver="latest"`: with HDF5 2.0, as bundled by
h5py 3.16, that writes data-layout messages of version 5, which hdf5-pure 0.47 cannot read.)

Bad inputs: `nan`, `negative` and `dup_var` are valid AnnData written by anndata (anndata
allows NaN, negative values and repeated var names). `bad_indptr`, `bad_indices` and `no_x`
start as anndata files and are then damaged with h5py (an indptr that disagrees with the shape,
a column index past the number of genes, X deleted), since anndata refuses to write them.
"""

import importlib.metadata
import json
import os
import sys

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
AD_VERSION = importlib.metadata.version("anndata")
VERSION = tuple(int(p) for p in AD_VERSION.split(".")[:2])


def path(name):
    return os.path.join(HERE, name + ".h5ad")


def counts(n_cells, n_genes, seed):
    """Small sparse-ish integer counts, deterministic."""
    rng = np.random.default_rng(seed)
    x = rng.poisson(1.2, size=(n_cells, n_genes)).astype(np.float32)
    x[rng.random((n_cells, n_genes)) < 0.4] = 0
    return x


def obs_frame(n_cells, ordered=False):
    types = np.array(["T cell", "B cell", "NK", "T cell", "B cell", "T cell", "NK", "B cell"])
    cell_type = pd.Categorical(
        list(types[:n_cells]), categories=["B cell", "NK", "T cell"], ordered=ordered
    )
    cell_type[1] = np.nan  # code -1
    return pd.DataFrame(
        {
            "cell_type": cell_type,
            "n_counts": np.arange(n_cells, dtype=np.float64) * 1.5 + 0.25,
            "batch": ["b%d" % (i % 2) for i in range(n_cells)],
        },
        index=["cell_%d" % i for i in range(n_cells)],
    )


def var_frame(n_genes, with_ids=True):
    df = pd.DataFrame(index=["Gene%d" % i for i in range(n_genes)])
    if with_ids:
        df["gene_ids"] = ["ENSG%011d" % (i + 1) for i in range(n_genes)]
    return df


def column_json(col):
    if isinstance(col.dtype, pd.CategoricalDtype):
        return {
            "kind": "categorical",
            "categories": [str(c) for c in col.cat.categories],
            "codes": [int(c) for c in col.cat.codes],
        }
    if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
        return {"kind": "text", "values": ["" if pd.isna(v) else str(v) for v in col]}
    vals = col.astype("float64").to_numpy(na_value=np.nan) if hasattr(col, "to_numpy") else col
    return {"kind": "numeric", "values": [None if np.isnan(v) else float(v) for v in vals]}


def dense(x):
    return np.asarray(x.todense() if sp.issparse(x) else x, dtype=np.float64).tolist()


def expected(a, symbols=None, ids=None, columns=None):
    var = a.var
    if ids is None and "gene_ids" in var.columns:
        ids = [str(v) for v in var["gene_ids"]]
    out = {
        "anndata": AD_VERSION,
        "shape": list(a.shape),
        "X": dense(a.X),
        "obs_names": [str(v) for v in a.obs_names],
        "gene_symbols": symbols if symbols is not None else [str(v) for v in a.var_names],
        "gene_ids": ids,
        "obs": [
            dict(name=str(c), **column_json(a.obs[c]))
            for c in (columns if columns is not None else a.obs.columns)
        ],
        "raw": None,
    }
    if a.raw is not None:
        rv = a.raw.var
        out["raw"] = {
            "X": dense(a.raw.X),
            "gene_symbols": [str(v) for v in a.raw.var_names],
            "gene_ids": [str(v) for v in rv["gene_ids"]] if "gene_ids" in rv.columns else None,
        }
    return out


def save(name, a, exp=expected, compression=None, plain=False):
    """Writes `a` and NAME.json from `exp(a)`, computed after writing: anndata's writer may
    turn string columns into categoricals in place, and the JSON must describe the file."""
    p = path(name)
    if os.path.exists(p):
        os.remove(p)
    if VERSION < (0, 8) or plain:
        a.write_h5ad(p) if VERSION >= (0, 7) else a.write(p)
    else:
        with h5py.File(p, "w", libver=("v110", "v110")) as f:
            kw = {"dataset_kwargs": {"compression": compression}} if compression else {}
            ad.io.write_elem(f, "/", a, **kw)
    back = ad.read_h5ad(p)
    assert back.shape == a.shape and np.allclose(dense(back.X), dense(a.X), equal_nan=True), name
    assert list(back.obs_names) == list(a.obs_names), name
    if exp is not None:
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            json.dump(exp(a), f, indent=1)
            f.write("\n")
    print("wrote", p, os.path.getsize(p), "bytes")


def with_raw(x, obs, var_all, n_keep):
    """AnnData whose raw has all genes and whose X keeps the first n_keep."""
    full = ad.AnnData(x, obs=obs, var=var_all)
    full.raw = full
    a = full[:, :n_keep].copy()
    return a


def current():
    # csr: the everyday file, through plain write_h5ad (default options, no compression).
    x = counts(6, 7, seed=1)
    obs = obs_frame(6)
    obs["is_doublet"] = [False, True, False, False, True, False]
    obs["n_genes_nullable"] = pd.array([3, None, 5, 4, None, 2], dtype="Int64")
    a = with_raw(sp.csr_matrix(x), obs, var_frame(7), 5)
    save("csr", a, plain=True)

    # dense big-endian float64 X, gzip, an ordered categorical, var without columns.
    x = (counts(5, 4, seed=2).astype(np.float64) / 3.0).astype(">f8")
    a = ad.AnnData(x, obs=obs_frame(5, ordered=True), var=var_frame(4, with_ids=False))
    save("dense_gzip", a, compression="gzip")

    # CSC with int64 counts, lzf.
    x = counts(4, 6, seed=3).astype(np.int64)
    a = ad.AnnData(sp.csc_matrix(x), obs=obs_frame(4), var=var_frame(6))
    save("csc_lzf", a, compression="lzf")

    # CELLxGENE style: Ensembl ids as the var index, symbols in a categorical `feature_name`;
    # uncompressed float64 data with int64 indices and indptr.
    x = sp.csr_matrix(counts(3, 4, seed=4).astype(np.float64))
    x.indices = x.indices.astype(np.int64)
    x.indptr = x.indptr.astype(np.int64)
    var = pd.DataFrame(
        {"feature_name": pd.Categorical(["CD3E", "MS4A1", "NKG7", "CD3E-AS1"])},
        index=["ENSG00000198851", "ENSG00000156738", "ENSG00000105374", "ENSG00000229086"],
    )
    a = ad.AnnData(x, obs=obs_frame(3), var=var)
    save(
        "ensembl",
        a,
        lambda a: expected(a, symbols=list(var["feature_name"].astype(str)), ids=list(var.index)),
    )

    # Bad values, still valid AnnData.
    # (No obs columns, no gene ids: the smallest files anndata writes.)
    cells = pd.DataFrame(index=["cell_%d" % i for i in range(3)])
    x = counts(3, 3, seed=5)
    x[1, 2] = np.nan
    save("nan", ad.AnnData(sp.csr_matrix(x), obs=cells, var=var_frame(3, False)), None)
    x = counts(3, 3, seed=5)
    x[2, 0] = -1.0
    save("negative", ad.AnnData(sp.csr_matrix(x), obs=cells, var=var_frame(3, False)), None)
    var = var_frame(3, False)
    var.index = ["Actb", "Gapdh", "Actb"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = ad.AnnData(sp.csr_matrix(counts(3, 3, seed=5)), obs=cells, var=var)
        save("dup_var", a)

    # Structurally broken files: written by anndata, then damaged with h5py.
    base = ad.AnnData(sp.csr_matrix(counts(3, 3, seed=6) + 1), obs=cells, var=var_frame(3, False))
    save("bad_indptr", base, None)
    with h5py.File(path("bad_indptr"), "r+") as f:
        ptr = f["X/indptr"][:]
        del f["X/indptr"]
        f["X/indptr"] = ptr[:-1]  # 3 entries for 3 rows: one short of the shape
    save("bad_indices", base, None)
    with h5py.File(path("bad_indices"), "r+") as f:
        idx = f["X/indices"][:]
        idx[-1] = 7  # only 3 genes
        f["X/indices"][:] = idx
    save("no_x", base, None)
    with h5py.File(path("no_x"), "r+") as f:
        del f["X"]


def log_cp10k(x):
    """scanpy's normalize_total(target_sum=1e4) then log1p, in float32 as scanpy computes."""
    x = np.asarray(x, dtype=np.float32)
    sums = x.sum(axis=1, keepdims=True)
    return np.log1p(x / np.where(sums > 0, sums, 1) * np.float32(1e4)).astype(np.float32)


def processed_counts():
    """12 cells x 10 genes of counts with a spread of library sizes (every cell expressed)."""
    rng = np.random.default_rng(11)
    depth = rng.uniform(0.5, 6.0, size=(12, 1))
    x = rng.poisson(depth * rng.uniform(0.2, 3.0, size=(1, 10))).astype(np.float32)
    x[:, 0] += 1  # no empty cell
    return x


def processed_expected(a, layers):
    """What the reader must return for each matrix, and the kind each one holds."""
    out = {
        "anndata": AD_VERSION,
        "obs_names": [str(v) for v in a.obs_names],
        "var_names": [str(v) for v in a.var_names],
        "X": dense(a.X),
        "kinds": dict(layers),
        "layers": {k: dense(v) for k, v in a.layers.items()},
        "raw": None,
    }
    if a.raw is not None:
        out["raw"] = {"X": dense(a.raw.X), "var_names": [str(v) for v in a.raw.var_names]}
    return out


def processed():
    """Files as users have them after a scanpy workflow (issue 19)."""
    counts = processed_counts()
    obs = pd.DataFrame(index=["cell_%d" % i for i in range(12)])
    var = pd.DataFrame(index=["Gene%d" % i for i in range(10)])
    logn = log_cp10k(counts)

    # The PBMC tutorial shape: log-normalised values of all genes in .raw, X subset to "highly
    # variable" genes and scaled (negatives), as after sc.pp.scale.
    full = ad.AnnData(sp.csr_matrix(logn), obs=obs.copy(), var=var.copy())
    full.uns["log1p"] = {"base": None}
    full.raw = full
    a = full[:, :6].copy()
    x = np.asarray(a.X.todense())
    a.X = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    save(
        "processed_scaled",
        a,
        lambda a: processed_expected(a, {"X": "scaled", "raw": "log_normalized"}),
        plain=True,
    )

    # The scanpy-tutorial shape: counts kept in layers["counts"], log-normalised X.
    a = ad.AnnData(sp.csr_matrix(logn), obs=obs.copy(), var=var.copy())
    a.layers["counts"] = sp.csr_matrix(counts)
    save(
        "processed_layers",
        a,
        lambda a: processed_expected(a, {"X": "log_normalized", "layers/counts": "counts"}),
        plain=True,
    )

    # CSC X, and layers in chunked, compressed datasets (as h5py/anndata write with chunks=,
    # the layout of files written for backed access): a CSR layer in chunks of 16 entries, a
    # dense layer in chunks of 5 cells.
    a = ad.AnnData(sp.csc_matrix(logn), obs=obs.copy(), var=var.copy())
    a.layers["counts"] = sp.csr_matrix(counts)
    a.layers["dense_counts"] = counts.copy()
    p = path("processed_csc_chunked")
    if os.path.exists(p):
        os.remove(p)
    plain = a.copy()
    del plain.layers["counts"], plain.layers["dense_counts"]
    with h5py.File(p, "w", libver=("v110", "v110")) as f:
        ad.io.write_elem(f, "/", plain)
        ad.io.write_elem(
            f, "layers/counts", a.layers["counts"],
            dataset_kwargs={"chunks": (16,), "compression": "gzip"},
        )
        ad.io.write_elem(
            f, "layers/dense_counts", a.layers["dense_counts"],
            dataset_kwargs={"chunks": (5, 10), "compression": "gzip"},
        )
    back = ad.read_h5ad(p)
    for k in ["counts", "dense_counts"]:
        assert np.array_equal(dense(back.layers[k]), dense(a.layers[k])), k
    with h5py.File(p, "r") as f:
        assert f["layers/counts/data"].chunks == (16,)
        assert f["layers/dense_counts"].chunks == (5, 10)
        assert f["X"].attrs["encoding-type"] == "csc_matrix"
    with open(os.path.join(HERE, "processed_csc_chunked.json"), "w") as f:
        exp = processed_expected(
            a,
            {"X": "log_normalized", "layers/counts": "counts", "layers/dense_counts": "counts"},
        )
        json.dump(exp, f, indent=1)
        f.write("\n")
    print("wrote", p, os.path.getsize(p), "bytes")


def legacy(tag):
    x = counts(5, 6, seed=7)
    obs = obs_frame(5)
    a = with_raw(sp.csr_matrix(x), obs, var_frame(6), 4)
    save(tag + "_csr", a)


if __name__ == "__main__":
    print("anndata", AD_VERSION, "h5py", h5py.__version__, file=sys.stderr)
    if VERSION >= (0, 8):
        current()
        processed()
    elif VERSION >= (0, 7):
        legacy("v07")
    else:
        legacy("v06")
