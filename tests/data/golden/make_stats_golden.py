#!/usr/bin/env python3
"""Regenerate ``stats_golden.json``: reference values for ``cellsindy::stats``.

Every case is computed by numpy / scipy / scikit-learn themselves; the Rust test
(`tests/stats.rs`) recomputes each with the crate's one implementation and compares.
Inputs are fixed lists and ``numpy.random.default_rng(0)`` draws (with ties and
negative values on purpose), so re-running reproduces the file.

Run from the repository root in any venv with numpy, scipy and scikit-learn:

    python tests/data/golden/make_stats_golden.py
"""

import json
import os

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn import metrics

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)

vectors = [
    [3.0, 1.0, 3.0, 2.0],
    [5.0],
    [0.0, 0.0, 1.5, -2.0, 7.25, 1.5, 1.5],
    list(np.round(rng.normal(size=50), 1)),  # many ties
    list(rng.lognormal(size=101)),
    list(rng.integers(0, 4, size=64).astype(float)),
]
qs = [0.0, 0.001, 0.1, 0.25, 0.5, 0.6, 0.75, 0.999, 1.0]

cases = {"quantile": [], "median": [], "ranks": [], "corr": [], "binary": []}
for v in vectors:
    a = np.array(v)
    cases["quantile"].append({"x": v, "q": qs, "numpy": [float(np.quantile(a, q)) for q in qs]})
    cases["median"].append({"x": v, "numpy": float(np.median(a))})
    cases["ranks"].append({"x": v, "scipy": list(map(float, stats.rankdata(a, method="average")))})

pairs = [
    ([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 7.0]),
    ([0.0, 0.0, 1.0, 1.0, 2.0, 5.0], [1.0, 0.0, 0.0, 2.0, 2.0, 9.0]),
]
for _ in range(3):
    x = rng.normal(size=80)
    y = 0.6 * x + rng.normal(size=80)
    pairs.append((list(np.round(x, 1)), list(y)))
for x, y in pairs:
    cases["corr"].append({
        "x": x, "y": y,
        "pearson": float(stats.pearsonr(x, y).statistic),
        "spearman": float(stats.spearmanr(x, y).statistic),
    })

for k in range(4):
    n = 40 + 17 * k
    truth = rng.random(n) < (0.3 + 0.1 * k)
    score = np.round(rng.normal(size=n) + 1.2 * truth, 1)  # ties across classes
    pred = score > 0.5
    cases["binary"].append({
        "truth": list(map(bool, truth)), "score": list(map(float, score)), "pred": list(map(bool, pred)),
        "auroc": float(metrics.roc_auc_score(truth, score)),
        "average_precision": float(metrics.average_precision_score(truth, score)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(truth, pred)),
        "confusion": metrics.confusion_matrix(truth, pred, labels=[False, True]).tolist(),
    })

# The percentile interval of given resampled values, as scipy.stats.bootstrap's percentile
# method cuts it (numpy's quantile of the resampled statistics).
boot = list(rng.normal(size=999))
cases["percentile_interval"] = {
    "values": boot,
    "level": 0.9,
    "lo": float(np.percentile(boot, 5.0)),
    "hi": float(np.percentile(boot, 95.0)),
}
cases["versions"] = {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}

with open(os.path.join(HERE, "stats_golden.json"), "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
