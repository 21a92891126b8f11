#!/usr/bin/env bash
# Compare cellsindy with PySINDy 2.1.0 on the same Lorenz data.
#
# Usage (from the repository root):
#   bash benches/compare_pysindy.sh            # full run (n up to 1e6, ~minutes)
#   bash benches/compare_pysindy.sh --quick    # small cases only
#
# 1. creates .venv-bench/ (python3 -m venv) with pysindy==2.1.0 if missing,
# 2. runs the Rust driver, which writes the data, manifest.json and rust.json
#    into target/pysindy-compare/ (all script arguments are passed on to it),
# 3. times PySINDy on the same files (benches/compare_pysindy.py), writes
#    pysindy.json there and prints the comparison table; at n = 1e6 it also times the whole
#    `cellsindy sindy --data FILE.npy` process (defaults) against PySINDy's fit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=target/pysindy-compare

EXTRA=("$@")
PY_ARGS=()
for a in "$@"; do
    if [[ "$a" == "--quick" ]]; then
        PY_ARGS+=(--quick)
    fi
done

source benches/common/pysindy_venv.sh

echo "==> cellsindy: cargo bench --bench sindy_vs_pysindy -- --out $OUT ${EXTRA[*]:-}"
mkdir -p "$OUT"
cargo bench --bench sindy_vs_pysindy -- --out "$OUT" ${EXTRA[@]+"${EXTRA[@]}"}

echo "==> cellsindy binary (the whole-process timing): cargo build --release --bin cellsindy"
cargo build --release --bin cellsindy

echo "==> pysindy: $VENV/bin/python benches/compare_pysindy.py --dir $OUT ${PY_ARGS[*]:-}"
"$VENV/bin/python" benches/compare_pysindy.py --dir "$OUT" ${PY_ARGS[@]+"${PY_ARGS[@]}"}
