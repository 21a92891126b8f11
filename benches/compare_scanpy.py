"""Times cellsindy's expression readers against scanpy.read_10x_mtx and anndata.read_h5ad.

Run through benches/compare_scanpy.sh, which installs the peers. Each reader runs in a fresh
process per repeat; the time is the read alone (imports and interpreter start excluded for
Python, process start excluded for Rust, whose `data inspect --json` reports `read_seconds`),
and memory is the process's peak RSS (Python's includes the interpreter and the imported
packages, reported separately as the baseline).
"""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import scipy.io
import scipy.sparse as sp

OUT = "target/expr-bench"

# Peak RSS from /proc/self/status (VmHWM), not getrusage: Linux carries ru_maxrss over fork and
# exec, so a child of this (large) process would report the parent's peak.
HWM_DEF = (
    "def HWM():\n"
    "    for l in open('/proc/self/status'):\n"
    "        if l.startswith('VmHWM:'):\n"
    "            return int(l.split()[1])\n"
)

PY_READERS = {
    "scanpy.read_10x_mtx": (
        "import scanpy as sc, time, json, sys\n" + HWM_DEF +
        "t = time.perf_counter()\n"
        "a = sc.read_10x_mtx(sys.argv[1], var_names='gene_symbols', cache=False)\n"
        "dt = time.perf_counter() - t\n"
        "print(json.dumps({'seconds': dt, 'nnz': int(a.X.nnz), 'shape': list(a.shape),"
        " 'peak_rss_kb': HWM()}))\n"
    ),
    "anndata.read_h5ad": (
        "import anndata as ad, time, json, sys\n" + HWM_DEF +
        "t = time.perf_counter()\n"
        "a = ad.read_h5ad(sys.argv[1])\n"
        "dt = time.perf_counter() - t\n"
        "print(json.dumps({'seconds': dt, 'nnz': int(a.X.nnz), 'shape': list(a.shape),"
        " 'peak_rss_kb': HWM()}))\n"
    ),
}
BASELINE = (
    "import {mod}, json\n" + HWM_DEF.replace("{", "{{").replace("}", "}}") +
    "print(json.dumps({{'peak_rss_kb': HWM()}}))\n"
)


def make_data(d, n_cells, n_genes, nnz_per_cell, seed):
    """A 10x directory (plain and gz) and two .h5ad files of one random count matrix."""
    stamp = os.path.join(d, "done.json")
    want = {"cells": n_cells, "genes": n_genes, "nnz_per_cell": nnz_per_cell, "seed": seed}
    if os.path.exists(stamp) and json.load(open(stamp)) == want:
        return
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    print(f"==> writing {n_cells} x {n_genes} data into {d} (once)", flush=True)
    rng = np.random.default_rng(seed)
    # Detected genes per cell vary log-normally around nnz_per_cell, as in real droplets;
    # gene popularity is skewed (a few genes in most cells, most genes rare).
    per_cell = np.clip(rng.lognormal(np.log(nnz_per_cell), 0.4, n_cells), 10, n_genes // 2).astype(np.int64)
    weights = rng.pareto(1.2, n_genes) + 0.05
    weights /= weights.sum()
    indptr = np.concatenate([[0], np.cumsum(per_cell)])
    indices = np.empty(indptr[-1], dtype=np.int32)
    cdf = np.cumsum(weights)
    for c in range(n_cells):
        k = per_cell[c]
        cols = np.unique(np.searchsorted(cdf, rng.random(int(k * 1.3) + 8)))
        cols = cols[cols < n_genes][:k]
        indices[indptr[c]:indptr[c] + len(cols)] = cols
        per_cell[c] = len(cols)
    # Re-pack after unique() shortened some rows.
    new_ptr = np.concatenate([[0], np.cumsum(per_cell)])
    packed = np.empty(new_ptr[-1], dtype=np.int32)
    for c in range(n_cells):
        packed[new_ptr[c]:new_ptr[c + 1]] = indices[indptr[c]:indptr[c] + per_cell[c]]
    data = (rng.geometric(0.35, new_ptr[-1])).astype(np.float32)
    x = sp.csr_matrix((data, packed, new_ptr), shape=(n_cells, n_genes))
    genes = [f"ENSG{i:011d}" for i in range(n_genes)]
    symbols = [f"GENE{i}" for i in range(n_genes)]
    cells = [f"CELL{i:07d}-1" for i in range(n_cells)]
    tenx = os.path.join(d, "tenx")
    os.makedirs(tenx)
    scipy.io.mmwrite(os.path.join(tenx, "matrix.mtx"), x.T.tocoo(), field="integer")
    # scanpy reads uncompressed files only in the cellranger v2 layout (genes.tsv, two
    # columns) and the v3 layout (features.tsv, three columns) only gzipped: write each so.
    with open(os.path.join(tenx, "genes.tsv"), "w") as f:
        f.writelines(f"{g}\t{s}\n" for g, s in zip(genes, symbols))
    with open(os.path.join(tenx, "barcodes.tsv"), "w") as f:
        f.writelines(c + "\n" for c in cells)
    tenx_gz = os.path.join(d, "tenx_gz")
    os.makedirs(tenx_gz)
    with gzip.open(os.path.join(tenx_gz, "features.tsv.gz"), "wt", compresslevel=6) as f:
        f.writelines(f"{g}\t{s}\tGene Expression\n" for g, s in zip(genes, symbols))
    for name in ["matrix.mtx", "barcodes.tsv"]:
        with open(os.path.join(tenx, name), "rb") as src, gzip.open(os.path.join(tenx_gz, name + ".gz"), "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 24)
    import anndata as ad
    import pandas as pd
    a = ad.AnnData(x, obs=pd.DataFrame(index=cells), var=pd.DataFrame({"gene_ids": genes}, index=symbols))
    a.write_h5ad(os.path.join(d, "data.h5ad"))
    a.write_h5ad(os.path.join(d, "data_gzip.h5ad"), compression="gzip")
    json.dump(want, open(stamp, "w"))


def run_py(code, path):
    r = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_rust(bin_, path):
    r = subprocess.run([bin_, "data", "inspect", "--json", path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    j = json.loads(r.stdout)
    return {"seconds": j["read_seconds"], "nnz": j["nnz"], "shape": [j["n_cells"], j["n_genes"]], "peak_rss_kb": j["peak_rss_kb"]}


def best(runs):
    return min(runs, key=lambda r: r["seconds"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cells", type=int, default=100_000)
    p.add_argument("--genes", type=int, default=20_000)
    p.add_argument("--nnz-per-cell", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.quick:
        a.cells = 20_000
    d = os.path.join(OUT, f"{a.cells}x{a.genes}")
    make_data(d, a.cells, a.genes, a.nnz_per_cell, a.seed)
    cases = [
        ("10x mtx (plain)", "scanpy.read_10x_mtx", os.path.join(d, "tenx")),
        ("10x mtx (.gz)", "scanpy.read_10x_mtx", os.path.join(d, "tenx_gz")),
        (".h5ad (anndata default)", "anndata.read_h5ad", os.path.join(d, "data.h5ad")),
        (".h5ad (gzip)", "anndata.read_h5ad", os.path.join(d, "data_gzip.h5ad")),
    ]
    base = {m: run_py(BASELINE.format(mod=m.split(".")[0]), "")["peak_rss_kb"] for m in PY_READERS}
    results = []
    for label, peer, path in cases:
        peer_runs = [run_py(PY_READERS[peer], path) for _ in range(a.repeats)]
        ours_runs = [run_rust(a.bin, path) for _ in range(a.repeats)]
        pr, orr = best(peer_runs), best(ours_runs)
        if pr["nnz"] != orr["nnz"] or pr["shape"] != orr["shape"]:
            raise RuntimeError(f"{label}: peer read {pr['shape']} / {pr['nnz']}, cellsindy {orr['shape']} / {orr['nnz']}")
        results.append({"case": label, "peer": peer, "path": path, "peer_seconds": pr["seconds"],
                        "cellsindy_seconds": orr["seconds"], "speedup": pr["seconds"] / orr["seconds"],
                        "peer_peak_rss_mb": pr["peak_rss_kb"] / 1024, "peer_import_rss_mb": base[peer] / 1024,
                        "cellsindy_peak_rss_mb": orr["peak_rss_kb"] / 1024,
                        "nnz": orr["nnz"], "shape": orr["shape"],
                        "peer_all_seconds": [r["seconds"] for r in peer_runs],
                        "cellsindy_all_seconds": [r["seconds"] for r in ours_runs]})
        r = results[-1]
        print(f"{label:<26} {peer:<20} peer {r['peer_seconds']:7.2f} s  cellsindy {r['cellsindy_seconds']:7.2f} s"
              f"  speedup {r['speedup']:5.2f}x  peak RSS peer {r['peer_peak_rss_mb']:7.0f} MB"
              f" (imports {r['peer_import_rss_mb']:.0f})  cellsindy {r['cellsindy_peak_rss_mb']:7.0f} MB", flush=True)
    meta = {"cells": a.cells, "genes": a.genes, "nnz_per_cell": a.nnz_per_cell, "repeats": a.repeats,
            "python": sys.version.split()[0]}
    from importlib.metadata import version
    meta.update({p: version(p) for p in ["anndata", "scanpy", "scipy", "h5py"]})
    json.dump({"meta": meta, "results": results}, open(os.path.join(d, "results.json"), "w"), indent=1)
    print(f"results: {os.path.join(d, 'results.json')}")


if __name__ == "__main__":
    main()
