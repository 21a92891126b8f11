#!/usr/bin/env bash
# Learning curves of training recipes on the demo's synthetic brain (issue 21): for each recipe
# (a `cellsindy train --config` file in benches/recipes/) and training seed, the model is
# trained with the probe genes in its vocabulary and, at each evaluation step, scored by
#   - `cellsindy evaluate`: masked-gene accuracy against the per-gene marginal, the XOR gate
#     imputed with its inputs visible (balanced accuracy);
#   - `cellsindy probe --linear-baselines-only`: the covariance probe (sign matches of the
#     joint draw, its within-mitochondrial rho against the cells');
#   - `cellsindy rules distill --truth`: which of the XOR, AND and AND-NOT rules the
#     distillation reads back exactly.
# The cosine schedule runs to STEPS; the evaluations are points along one run (train
# --stop-after, then --resume), so the last point is the budget's result.
#
#   bash benches/recipe_curves.sh                                    # every recipe, seeds 0 1
#   RECIPES="default ordinal" SEEDS="0 1 2 3 4" bash benches/recipe_curves.sh
#   BRAIN_SEED=7 OUT=target/recipe_curves_b7 bash benches/recipe_curves.sh   # another brain
#
# Runs JOBS trainings at once with THREADS threads each (default 2 x 1 on a 2-core machine:
# the curves are in steps, which the thread count does not change, the project being
# deterministic by seed whatever the thread count). Wall-clock on 2 cores comes from a separate
# timing run per recipe (CALIBRATE=1, the default: 1,000 steps alone with 2 threads), so keep
# the machine otherwise idle while it runs. The table (benches/recipe_curves.py) gives each
# recipe's curve as mean ± sd over seeds against steps and estimated 2-core seconds.
#
# Writes $OUT/brain.h5ad, $OUT/<recipe>/seed<k>/{ckpt,eval_<step>.json,probe_<step>/,
# distill_<step>/}, $OUT/<recipe>/speed.json and $OUT/table.md. Finished points are reused.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-target/recipe_curves}
RECIPES=${RECIPES:-$(ls benches/recipes | sed 's/\.toml$//' | tr '\n' ' ')}
SEEDS=${SEEDS:-"0 1"}
STEPS=${STEPS:-10000}
EVAL=${EVAL:-"2500 5000 7500 10000"}
JOBS=${JOBS:-2}
THREADS=${THREADS:-1}
BRAIN_SEED=${BRAIN_SEED:-0}
CALIBRATE=${CALIBRATE:-1}
GENES=SYN1,SYP,SNAP25,SYT1,DLG4,SYN2,STX1A,VAMP2,SYNGR1,CPLX1,MT-ND1,MT-CYB,MT-CO1,MT-ATP6,RBFOX3,GFAP,TGXOR
mkdir -p "$OUT"
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/cellsindy
fi
BRAIN=$OUT/brain.h5ad
[ -s "$BRAIN" ] || $BIN data synth --cells 30000 --genes 2000 --seed "$BRAIN_SEED" --out "$BRAIN" > /dev/null

one() {
  set -euo pipefail   # a failed or killed step must not score the previous checkpoint
  local recipe=$1 seed=$2 dir="$OUT/$1/seed$2" first=1
  mkdir -p "$dir"
  for e in $EVAL; do
    if [ ! -s "$dir/eval_$e.json" ]; then
      local done_steps=0
      [ -s "$dir/ckpt/train_state.json" ] && \
        done_steps=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["step"])' "$dir/ckpt/train_state.json")
      if [ "$done_steps" -gt "$e" ]; then
        echo "$dir: the checkpoint is past step $e; that point is not scored" >&2
        first=0
        continue
      elif [ "$done_steps" -eq "$e" ]; then
        # Trained to e, scoring interrupted: record the step the run stopped at.
        [ -s "$dir/train_$e.json" ] || python3 -c 'import json, sys; print(json.dumps({"steps": int(sys.argv[1])}))' "$e" > "$dir/train_$e.json"
      elif [ -s "$dir/ckpt/train_state.json" ]; then
        RAYON_NUM_THREADS=$THREADS $BIN train --data "$BRAIN" --out "$dir/ckpt" --resume --stop-after "$e" --json > "$dir/train_$e.json"
      else
        [ "$first" = 1 ] || { echo "missing checkpoint in $dir" >&2; return 1; }
        RAYON_NUM_THREADS=$THREADS $BIN train --data "$BRAIN" --out "$dir/ckpt" --config "benches/recipes/$recipe.toml" \
          --seed "$seed" --steps "$STEPS" --include-genes "$GENES" --stop-after "$e" --json > "$dir/train_$e.json"
      fi
      RAYON_NUM_THREADS=$THREADS $BIN evaluate --ckpt "$dir/ckpt" --data "$BRAIN" --cells 1500 --generate 0 --json > "$dir/eval_$e.tmp"
      RAYON_NUM_THREADS=$THREADS $BIN probe --model "$dir/ckpt" --data "$BRAIN" --out "$dir/probe_$e" --linear-baselines-only \
        --cells 1500 --bootstrap-reps 50 > /dev/null
      RAYON_NUM_THREADS=$THREADS $BIN rules distill --model "$dir/ckpt" --data "$BRAIN" --truth "${BRAIN%.h5ad}.truth.json" \
        --out "$dir/distill_$e" > /dev/null
      mv "$dir/eval_$e.tmp" "$dir/eval_$e.json"
    fi
    first=0
  done
  echo "done $recipe seed $seed"
}
export -f one
export OUT BIN BRAIN EVAL STEPS THREADS GENES

for r in $RECIPES; do for s in $SEEDS; do echo "$r $s"; done; done | xargs -P "$JOBS" -n 2 bash -c 'one "$0" "$1"'

if [ "$CALIBRATE" = 1 ]; then
  for r in $RECIPES; do
    [ -s "$OUT/$r/speed.json" ] && continue
    RAYON_NUM_THREADS=2 $BIN train --data "$BRAIN" --out "$OUT/$r/speed_ckpt" --config "benches/recipes/$r.toml" \
      --steps 1000 --include-genes "$GENES" --json > "$OUT/$r/speed.tmp"
    cp "$OUT/$r/speed_ckpt/train_state.json" "$OUT/$r/speed_state.json"
    rm -rf "$OUT/$r/speed_ckpt"
    mv "$OUT/$r/speed.tmp" "$OUT/$r/speed.json"
  done
fi
python3 benches/recipe_curves.py "$OUT" $RECIPES | tee "$OUT/table.md"
