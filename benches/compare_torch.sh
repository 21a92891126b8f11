#!/usr/bin/env bash
# Compare cellsindy's gene transformer with the same model in PyTorch (CPU), same batches.
#
# Usage (from the repository root):
#   bash benches/compare_torch.sh              # 30 timed training steps each
#   bash benches/compare_torch.sh --quick      # 10 steps
#   bash benches/compare_torch.sh --steps N
#
# 1. creates .venv-bench/ (python3 -m venv) with torch (CPU wheel) and numpy if missing,
# 2. runs the Rust driver (cargo bench --bench transformer_vs_torch), which builds the
#    reference configuration on the synthetic brain, writes its batches and rust.json into
#    target/torch-compare/,
# 3. trains the same model in PyTorch on those batches (benches/compare_torch.py), with
#    scaled_dot_product_attention and with explicit softmax attention, and prints the table
#    with ratios.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv-bench
OUT=target/torch-compare
PY="${PYTHON:-python3}"

STEPS=()
for ((i = 1; i <= $#; i++)); do
    case "${!i}" in
        --quick) STEPS=(--steps 10) ;;
        --steps) j=$((i + 1)); STEPS=(--steps "${!j}") ;;
    esac
done

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV"
    "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import torch, numpy" 2>/dev/null; then
    echo "==> installing torch (CPU) and numpy into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet numpy
    "$VENV/bin/python" -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu \
        || "$VENV/bin/python" -m pip install --quiet torch
fi

mkdir -p "$OUT"
echo "==> cellsindy: cargo bench --bench transformer_vs_torch -- --out $OUT ${STEPS[*]:-}"
cargo bench --bench transformer_vs_torch -- --out "$OUT" ${STEPS[@]+"${STEPS[@]}"}

echo "==> PyTorch: $VENV/bin/python benches/compare_torch.py --dir $OUT"
"$VENV/bin/python" benches/compare_torch.py --dir "$OUT"
