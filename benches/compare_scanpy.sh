#!/usr/bin/env bash
# Compare cellsindy's expression readers with scanpy / anndata on the same files.
#
# Usage (from the repository root):
#   bash benches/compare_scanpy.sh            # 100,000 cells x 20,000 genes, ~1e8 non-zeros
#   bash benches/compare_scanpy.sh --quick    # 20,000 cells x 20,000 genes
#   bash benches/compare_scanpy.sh --cells N --genes G --nnz-per-cell K --repeats R
#
# 1. creates .venv-bench/ (python3 -m venv) with scanpy and anndata if missing,
# 2. builds the cellsindy binary (release),
# 3. benches/compare_scanpy.py writes the data once into target/expr-bench/ (a 10x directory
#    with an uncompressed matrix.mtx, the same with .gz files, and an .h5ad written by anndata
#    with its defaults, i.e. uncompressed, plus a gzip-compressed one), then times every reader
#    in a fresh process per run (wall time of the read only, imports excluded) and records the
#    process's peak RSS, and prints the table with ratios (results.json beside the data).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv-bench
PY="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV"
    "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import scanpy, anndata" 2>/dev/null; then
    echo "==> installing scanpy and anndata into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet scanpy anndata
fi

echo "==> cargo build --release"
cargo build --release --quiet

"$VENV/bin/python" benches/compare_scanpy.py --bin target/release/cellsindy "$@"
