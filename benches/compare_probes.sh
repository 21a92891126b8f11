#!/usr/bin/env bash
# Compare cellsindy's probe kernels with their Python peers on the same data:
# mean pairwise Spearman (30,000 cells x 100 genes) vs scipy.stats.spearmanr, and top-50 PCA
# (50,000 cells x 2,000 genes) vs scanpy.pp.pca (its default: scikit-learn PCA, arpack).
#
# Usage (from the repository root):
#   bash benches/compare_probes.sh            # the sizes above
#   bash benches/compare_probes.sh --quick    # PCA on 10,000 x 500
#
# 1. creates .venv-bench/ (python3 -m venv) with scipy, scanpy and anndata if missing
#    (VENV=path overrides the location),
# 2. runs the Rust driver (cargo bench --bench probes_vs_scanpy), which writes the matrices
#    (synthetic-brain expression, normalize_total + log1p, dense float64 .npy) into
#    target/probes-compare/ once and times cellsindy on them (rust.json),
# 3. times the peers on the same files (benches/compare_probes.py) and prints the ratios; it
#    fails if the explained variance ratios differ by more than 1e-4 or the mean rho by 1e-9.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV="${VENV:-.venv-bench}"
OUT=target/probes-compare
PY="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV"
    "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import scipy, scanpy, anndata" 2>/dev/null; then
    echo "==> installing scipy, scanpy and anndata into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet scipy scanpy anndata
fi

mkdir -p "$OUT"
echo "==> cellsindy: cargo bench --bench probes_vs_scanpy -- --out $OUT $*"
cargo bench --bench probes_vs_scanpy -- --out "$OUT" "$@"

echo "==> peers: $VENV/bin/python benches/compare_probes.py --dir $OUT"
"$VENV/bin/python" benches/compare_probes.py --dir "$OUT"
