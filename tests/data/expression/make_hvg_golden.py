"""Writes hvg_golden.json: a small count matrix and what scanpy computes from it.

Run with a Python that has scanpy (e.g. `.venv-bench/bin/python`): the Rust test
`expression::hvg_matches_scanpy` compares normalize_total + log1p + highly_variable_genes
(flavor="seurat" and flavor="cell_ranger") with these numbers.
"""
import json

import numpy as np
import scanpy as sc
import anndata as ad

rng = np.random.default_rng(7)
n_cells, n_genes = 300, 60
means = rng.lognormal(0.0, 1.2, n_genes)
disp = rng.uniform(0.05, 2.0, n_genes)
lib = rng.lognormal(0.0, 0.4, n_cells)
mu = np.outer(lib, means)
counts = rng.negative_binomial(1.0 / disp, 1.0 / (1.0 + mu * disp)).astype(np.float32)
counts[:, 5] = 0.0  # an all-zero gene
a = ad.AnnData(counts.copy())  # scanpy normalises in place
sc.pp.normalize_total(a, target_sum=1e4)
normalized = a.X.copy()
sc.pp.log1p(a)
sc.pp.highly_variable_genes(a, n_top_genes=12, n_bins=20, flavor="seurat")
var = a.var
# Cell Ranger's robust score needs bins of more than a few genes (with three genes a bin, most
# scores are exactly +-0.6745 and the top-n cut falls inside a rounding-level tie), so its case
# has more genes.
n_genes_cr = 400
means_cr = rng.lognormal(0.0, 1.2, n_genes_cr)
disp_cr = rng.uniform(0.05, 2.0, n_genes_cr)
mu_cr = np.outer(lib, means_cr)
counts_cr = rng.negative_binomial(1.0 / disp_cr, 1.0 / (1.0 + mu_cr * disp_cr)).astype(np.float32)
b = ad.AnnData(counts_cr.copy())
sc.pp.normalize_total(b, target_sum=1e4)
sc.pp.log1p(b)
sc.pp.highly_variable_genes(b, n_top_genes=40, flavor="cell_ranger")
cr = b.var
out = {
    "scanpy": sc.__version__,
    "counts": counts.tolist(),
    "normalized_row0": normalized[0].tolist(),
    "means": var["means"].tolist(),
    "dispersions": [None if np.isnan(v) else float(v) for v in var["dispersions"]],
    "dispersions_norm": [None if np.isnan(v) else float(v) for v in var["dispersions_norm"]],
    "highly_variable": np.flatnonzero(var["highly_variable"].to_numpy()).tolist(),
    "cell_ranger": {
        "counts": counts_cr.tolist(),
        "means": cr["means"].tolist(),
        "dispersions": cr["dispersions"].tolist(),
        "dispersions_norm": [
            None if np.isnan(v) else float(v) for v in cr["dispersions_norm"]
        ],
        "highly_variable": np.flatnonzero(cr["highly_variable"].to_numpy()).tolist(),
    },
}
with open("hvg_golden.json", "w") as f:
    json.dump(out, f)
