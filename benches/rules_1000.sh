#!/usr/bin/env bash
# Speed of `cellsindy rules distill` on 1,000 target genes (issue 6, route 1): "rules for 1,000
# target genes finish in under 10 minutes on 2 cores". Not a test: run by hand, prints times.
#
# The default model has 64 genes, so this makes a model with a 1,000-gene vocabulary: synthetic
# data with 2,000 background genes (≈ 2,050 genes in all), a model trained briefly on its 1,000
# most variable genes (speed does not depend on the model's quality, only on its shape: the
# default architecture and 256-gene contexts), then distillation over all 1,000 vocabulary genes.
#
# 20,000 cells so the model's held-out split (5 %) holds the 1,000 distillation cells.
# Usage: benches/rules_1000.sh [WORKDIR]   (env: CELLS=20000 STEPS=300 SCREEN=32 DISTILL_CELLS=1000)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/rules_1000}
cells=${CELLS:-20000}
steps=${STEPS:-300}
screen=${SCREEN:-32}
distill_cells=${DISTILL_CELLS:-1000}
mkdir -p "$work"
cargo build --release --bin cellsindy
bin=${CARGO_TARGET_DIR:-target}/release/cellsindy
if [ ! -f "$work/data.h5ad" ]; then
  "$bin" data synth --cells "$cells" --genes 2000 --seed 1 --out "$work/data.h5ad"
fi
if [ ! -f "$work/model/model.safetensors" ]; then
  "$bin" train --data "$work/data.h5ad" --out "$work/model" --config benches/recipes/baseline.toml --top-genes 1000 --steps "$steps"
fi
echo "distilling 1000 targets: --screen-cells $screen --cells $distill_cells on $(nproc) cores"
start=$(date +%s.%N)
"$bin" rules distill --model "$work/model" --data "$work/data.h5ad" --out "$work/rules" \
  --screen-cells "$screen" --cells "$distill_cells" > "$work/rules.log"
end=$(date +%s.%N)
python3 - "$work/rules/rules.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["settings"]
print(f"targets: {len(s['candidates'])}, targets per pass: {s['targets_per_pass']}, "
      f"queries: screen {s['n_queries']['screen']}, distill {s['n_queries']['distill']}")
print("seconds: screen {screen:.1f}, distill {distill:.1f}, regression {regression:.1f}".format(**s["seconds"]))
PY
echo "rules distill wall time: $(python3 -c "print(f'{$end - $start:.1f}')") s"
