#!/usr/bin/env bash
# The SINDy benchmark suite: cellsindy's defaults against PySINDy 2.1's defaults and against
# PySINDy at the one threshold that is best over the whole suite, on the same files.
#
# Usage (from the repository root):
#   bash benches/sindy_suite.sh [--seeds N]     # default 3 seeds per noise level
#
# 1. creates .venv-bench/ with pysindy==2.1.0 if missing,
# 2. runs the Rust driver (benches/sindy_suite.rs), which simulates every case of
#    cellsindy::systems::suite at noise 0/1/5/10 %, fits cellsindy (defaults and the
#    alternative sparsity rules) and writes the data, manifest.json and rust.json into
#    target/sindy-suite/,
# 3. fits PySINDy on the same files (benches/sindy_suite.py) and prints the table
#    (also written to target/sindy-suite/table.md).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=target/sindy-suite

source benches/common/pysindy_venv.sh

echo "==> cellsindy: cargo bench --bench sindy_suite -- --out $OUT $*"
mkdir -p "$OUT"
cargo bench --bench sindy_suite -- --out "$OUT" "$@"

echo "==> pysindy: $VENV/bin/python benches/sindy_suite.py --dir $OUT"
"$VENV/bin/python" benches/sindy_suite.py --dir "$OUT"
