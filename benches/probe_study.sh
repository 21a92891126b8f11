#!/usr/bin/env bash
# The replicated probe study (README, "Probes"): several training seeds of the probe model on
# the 30,000-cell synthetic brain and three negative controls, every model probed twice with
# every baseline beside it, then one table per probing of mean ± sd (and range) over seeds:
#   - "own": the held-out split of the training brain; the baselines are fitted on the cells
#     the model trained on (the same data for every method);
#   - "test": the held-out split of a *second* brain drawn with another seed (no setting was
#     chosen on it; its background genes differ, the network and markers do not). The
#     baselines are fitted on that brain's training split, so they are refitted in
#     distribution while the model is not: a transfer test that favours the baselines.
#
#   bash benches/probe_study.sh                        # seeds 0-4, 30,000 steps, controls
#   SEEDS="0 1 2" bash benches/probe_study.sh          # fewer seeds
#   STEPS=2000 SEEDS="0 1" CONTROLS=0 bash benches/probe_study.sh   # a quick look
#   PLAIN=1 bash benches/probe_study.sh                # the default brain (target/probe_study)
#   RECIPE=my.toml bash benches/probe_study.sh         # another training recipe (train --config)
#
# The brains are drawn with the options that make the probes discriminate (BRAIN_OPTS, by
# default: 10 % transitional cells co-expressing RBFOX3 and GFAP, gate inputs ON with
# probability 0.35 and read through a weak signal, 5 % of gate outputs flipped, the gate active
# in neurons only), and the markers are called at the cut between their modes (the 0.6
# quantile means "is a neuron / an astrocyte" only at 40 % of each). Every table carries the
# Bayes ceiling of each XOR probe (from the latent states `data synth` writes to `obs`) and a
# bootstrap interval on every ρ. PLAIN=1 uses the default brain and probe settings.
#
# Controls (trained like seed 0): `shuffled`, every gene permuted across cells independently
# (`data permute --all-genes`: no gene-gene structure left); `gate-permuted`, TGXOR alone
# permuted (`data permute --genes TGXOR`: the gate's inputs no longer predict it);
# `untrained`, one optimizer step from the initialisation. Each should fail the probes that
# read the structure it removed.
#
# Brains drawn with `--parity N` and/or `--simpson` in BRAIN_OPTS (for example
#   BRAIN_OPTS="--transitional 0.1 ... --parity 3 --simpson" OUT=target/probe_study_ps SEEDS=0 \
#     CONTROLS=0 bash benches/probe_study.sh)
# train the models with those genes too, and every model gets a third probing on each brain
# (probe_extra_own_*, probe_extra_*): the gate probe on the parity gate TGPARITY, the covariance
# probe on the Simpson module with every ρ taken within cell types (`--covariance-within`).
#
# Writes target/probe_study/{brain,test_brain}.h5ad, ckpt_*/, probe_*/, probe_own_*/, table.md. Reuses
# finished probes unless FRESH=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SEEDS=${SEEDS:-"0 1 2 3 4"}
STEPS=${STEPS:-30000}
# The recipe the README's study numbers were measured with (the CLI default before issue 21).
RECIPE=${RECIPE:-benches/recipes/baseline.toml}
CONTROLS=${CONTROLS:-1}
TRAIN_SEED=${TRAIN_SEED:-0}   # the brain the models are trained on
TEST_SEED=${TEST_SEED:-101}   # the brain they are probed on
if [ -n "${PLAIN:-}" ]; then
  BRAIN_OPTS=${BRAIN_OPTS:-""}; PROBE_OPTS=${PROBE_OPTS:-""}; OUT=${OUT:-target/probe_study}
else
  BRAIN_OPTS=${BRAIN_OPTS:-"--transitional 0.1 --gate-p-on 0.35 --gate-input-amplitude 10 --gate-flip 0.05 --gate-cell-type neuron"}
  PROBE_OPTS=${PROBE_OPTS:-"--marker-two-means"}
  OUT=${OUT:-target/probe_study_hard}
fi
GENES=SYN1,SYP,SNAP25,SYT1,DLG4,SYN2,STX1A,VAMP2,SYNGR1,CPLX1,MT-ND1,MT-CYB,MT-CO1,MT-ATP6,RBFOX3,GFAP,TGXOR
mkdir -p "$OUT"

# BIN=/path/to/cellsindy runs a copied binary, so a rebuild during a long study changes nothing.
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/cellsindy
fi
# shellcheck disable=SC2086 # the options are words
[ -s "$OUT/brain.h5ad" ] || $BIN data synth --cells 30000 --seed "$TRAIN_SEED" $BRAIN_OPTS --out "$OUT/brain.h5ad" > /dev/null
# shellcheck disable=SC2086
[ -s "$OUT/test_brain.h5ad" ] || $BIN data synth --cells 30000 --seed "$TEST_SEED" $BRAIN_OPTS --out "$OUT/test_brain.h5ad" > /dev/null
# The brain's optional parity gate and Simpson module (old truth files have neither).
read -r PARITY SIMPSON <<< "$(python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))["params"]
print(p.get("parity_inputs", 0), int(p.get("simpson", False)))' "$OUT/brain.truth.json")"
EXTRA=()
if [ "$PARITY" -gt 0 ]; then
  GENES="$GENES,TGPARITY,$(seq -s, -f 'TFP%g' 1 "$PARITY")"
  EXTRA+=(--gate TGPARITY)
fi
if [ "$SIMPSON" = 1 ]; then
  GENES="$GENES,SMPA1,SMPA2,SMPA3,SMPB1,SMPB2,SMPB3"
  EXTRA+=(--group-a SMPA1,SMPA2,SMPA3 --group-b SMPB1,SMPB2,SMPB3 --covariance-within cell_type)
fi
if [ "$CONTROLS" = 1 ]; then
  [ -s "$OUT/shuffled.h5ad" ] || $BIN data permute --data "$OUT/brain.h5ad" --all-genes --seed 1 --out "$OUT/shuffled.h5ad"
  [ -s "$OUT/gate_permuted.h5ad" ] || $BIN data permute --data "$OUT/brain.h5ad" --genes TGXOR --seed 1 --out "$OUT/gate_permuted.h5ad"
fi

# name  data  seed  steps
RUNS=()
for s in $SEEDS; do RUNS+=("seed$s brain.h5ad $s $STEPS"); done
if [ "$CONTROLS" = 1 ]; then
  RUNS+=("untrained brain.h5ad 0 1" "gate-permuted gate_permuted.h5ad 0 $STEPS" "shuffled shuffled.h5ad 0 $STEPS")
fi
# The extra probing of one model on one brain (see the header).
extra_probe() {
  [ ${#EXTRA[@]} -gt 0 ] || return 0
  rm -rf "$OUT/$3"
  # shellcheck disable=SC2086
  $BIN probe --model "$OUT/ckpt_$1" --data "$OUT/$2" --seed "$4" $PROBE_OPTS "${EXTRA[@]}" \
    --out "$OUT/$3" > /dev/null
}
for run in "${RUNS[@]}"; do
  read -r name data seed steps <<< "$run"
  if [ -s "$OUT/probe_$name/report.json" ] && [ -z "${FRESH:-}" ]; then
    echo "$name: reusing $OUT/probe_$name (FRESH=1 redoes it)"
    if [ ${#EXTRA[@]} -gt 0 ] && [ ! -s "$OUT/probe_extra_$name/report.json" ]; then
      extra_probe "$name" test_brain.h5ad "probe_extra_$name" "$seed"
      extra_probe "$name" brain.h5ad "probe_extra_own_$name" "$seed"
    fi
    continue
  fi
  start=$SECONDS
  rm -rf "$OUT/ckpt_$name" "$OUT/probe_$name"
  $BIN train --data "$OUT/$data" --config "$RECIPE" --include-genes "$GENES" --steps "$steps" --seed "$seed" \
    --out "$OUT/ckpt_$name" --json > "$OUT/train_$name.json"
  t_train=$((SECONDS - start))
  # shellcheck disable=SC2086
  $BIN probe --model "$OUT/ckpt_$name" --data "$OUT/test_brain.h5ad" --seed "$seed" $PROBE_OPTS \
    --out "$OUT/probe_$name" > /dev/null
  rm -rf "$OUT/probe_own_$name"
  # shellcheck disable=SC2086
  $BIN probe --model "$OUT/ckpt_$name" --data "$OUT/brain.h5ad" --seed "$seed" $PROBE_OPTS \
    --out "$OUT/probe_own_$name" > /dev/null
  extra_probe "$name" test_brain.h5ad "probe_extra_$name" "$seed"
  extra_probe "$name" brain.h5ad "probe_extra_own_$name" "$seed"
  echo "$name: trained in ${t_train} s, probed in $((SECONDS - start - t_train)) s"
done

NAMES=()
for run in "${RUNS[@]}"; do read -r name _ <<< "$run"; NAMES+=("$name"); done
{
  echo "## Probed on the training brain's held-out cells"; echo
  python3 benches/probe_study_table.py "$OUT" probe_own_ "${NAMES[@]}"
  echo "## Probed on a brain drawn with another seed"; echo
  python3 benches/probe_study_table.py "$OUT" probe_ "${NAMES[@]}"
  if [ ${#EXTRA[@]} -gt 0 ]; then
    echo "## The parity gate and the Simpson module (within cell types), training brain"; echo
    python3 benches/probe_study_table.py "$OUT" probe_extra_own_ "${NAMES[@]}"
    echo "## The parity gate and the Simpson module (within cell types), brain of another seed"; echo
    python3 benches/probe_study_table.py "$OUT" probe_extra_ "${NAMES[@]}"
  fi
} | tee "$OUT/table.md"
