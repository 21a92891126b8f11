"""Times scipy.stats.spearmanr and scanpy.pp.pca on the matrices cellsindy's driver wrote.

Run through benches/compare_probes.sh. Both sides run in this one invocation on the same
.npy files (dense float64, synthetic-brain expression after normalize_total + log1p); times
are medians of repeated calls, data loading excluded. Prints the table with ratios and checks
that scanpy's explained variance ratios equal cellsindy's to 1e-4.
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np


def median_time(reps, f):
    f()  # warm-up
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--pca-reps", type=int, default=1)
    a = ap.parse_args()
    rust = json.load(open(os.path.join(a.dir, "rust.json")))

    import scipy
    import scipy.stats
    import scanpy as sc
    import anndata as ad
    from importlib.metadata import version

    xs = np.load(rust["spearman"]["file"])
    out = {}
    res = {}

    def sp():
        r = scipy.stats.spearmanr(xs).statistic
        p = r.shape[0]
        res["rho"] = (r.sum() - np.trace(r)) / (p * (p - 1))

    t_sp = median_time(7, sp)
    out["spearman"] = {"seconds": t_sp, "mean_rho": float(res["rho"])}

    xp = np.load(rust["pca"]["file"])
    k = rust["pca"]["n_components"]

    def pca():
        adata = ad.AnnData(xp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.pp.pca(adata, n_comps=k)
        res["ratio"] = np.asarray(adata.uns["pca"]["variance_ratio"], dtype=np.float64)

    t_pca = median_time(a.pca_reps, pca)
    out["pca"] = {"seconds": t_pca, "variance_ratio": res["ratio"].tolist(), "solver": "scanpy default (sklearn PCA, arpack)"}
    out["versions"] = {"scipy": scipy.__version__, "scanpy": version("scanpy"), "numpy": np.__version__, "scikit-learn": version("scikit-learn")}
    json.dump(out, open(os.path.join(a.dir, "python.json"), "w"), indent=2)

    rr = np.asarray(rust["pca"]["variance_ratio"])
    re = np.asarray(rust["pca"]["exact_variance_ratio"])
    pr = res["ratio"]
    d_rand = float(np.max(np.abs(rr - pr)))
    d_exact = float(np.max(np.abs(re - pr)))
    n_sp = "x".join(map(str, rust["spearman"]["shape"]))
    n_pca = "x".join(map(str, rust["pca"]["shape"]))
    print()
    print(f"| task | cellsindy (s) | peer (s) | peer / cellsindy |")
    print(f"|---|---|---|---|")
    print(f"| mean pairwise Spearman, {n_sp} | {rust['spearman']['seconds']:.4f} | scipy.stats.spearmanr {t_sp:.4f} | **{t_sp / rust['spearman']['seconds']:.1f}x** |")
    print(f"| top-{k} PCA, {n_pca} (randomized) | {rust['pca']['seconds']:.3f} | scanpy.pp.pca {t_pca:.3f} | **{t_pca / rust['pca']['seconds']:.1f}x** |")
    print(f"| top-{k} PCA, {n_pca} (exact thin SVD) | {rust['pca']['exact_seconds']:.3f} | scanpy.pp.pca {t_pca:.3f} | {t_pca / rust['pca']['exact_seconds']:.1f}x |")
    print()
    print(f"mean rho: cellsindy {rust['spearman']['mean_rho']:.10f}, scipy {res['rho']:.10f} (|diff| {abs(rust['spearman']['mean_rho'] - res['rho']):.2e})")
    print(f"explained variance ratio, max |diff| vs scanpy over {k} components: randomized {d_rand:.2e}, exact {d_exact:.2e} (sum: cellsindy {rr.sum():.6f}, scanpy {pr.sum():.6f})")
    print(f"threads: cellsindy {rust['threads']} (rayon); versions {out['versions']}")
    ok = d_rand <= 1e-4 and abs(rust["spearman"]["mean_rho"] - res["rho"]) < 1e-9
    if not ok:
        print("MISMATCH: results differ beyond tolerance", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
