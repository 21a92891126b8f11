#!/usr/bin/env bash
# Atlas-size AnnData through the gene side (issue 19): a sparse .h5ad of 100,000 cells x 30,000
# genes with counts in layers["counts"] and log-normalised X, written by the real anndata, then
# `data inspect`, `train --stream` (highly variable genes from the first chunk), `probe`,
# `rules distill` and `rules activations`, each timed with its peak RSS (/usr/bin/time -v).
#
#   bash benches/atlas.sh                    # 100,000 x 30,000, ~800 non-zeros per cell
#   CELLS=20000 GENES=30000 NNZ=800 STEPS=100 bash benches/atlas.sh
#   GENERATE_ONLY=1 bash benches/atlas.sh    # write the file and stop (time the steps alone)
#   STEP_TIMEOUT=300 bash benches/atlas.sh   # stop any step after 300 s (default 900)
#
# Creates .venv-bench/ with anndata and scipy if missing; writes target/atlas/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CELLS=${CELLS:-100000}
GENES=${GENES:-30000}
NNZ=${NNZ:-800}
STEPS=${STEPS:-200}
OUT=target/atlas
VENV=.venv-bench
mkdir -p "$OUT"
if [[ ! -x "$VENV/bin/python" ]]; then python3 -m venv "$VENV"; fi
if ! "$VENV/bin/python" -c "import anndata, scipy" 2>/dev/null; then
  "$VENV/bin/python" -m pip install --quiet anndata scipy
fi
FILE="$OUT/atlas_${CELLS}x${GENES}.h5ad"
if [[ ! -s "$FILE" ]]; then
  "$VENV/bin/python" - "$FILE" "$CELLS" "$GENES" "$NNZ" <<'PY'
import sys, time
import numpy as np, scipy.sparse as sp, anndata as ad, pandas as pd
path, n, g, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
t0 = time.time()
# Each cell draws about k gene slots from a Zipf-like gene popularity (a few genes in every
# cell, most rare), with geometric counts; repeated draws of a gene add up.
pop = 1.0 / np.arange(1, g + 1) ** 0.9
pop /= pop.sum()
per = rng.poisson(k, size=n).clip(50, None)
rows = np.repeat(np.arange(n, dtype=np.int32), per)
cols = rng.choice(g, size=rows.size, p=pop).astype(np.int32)
vals = rng.geometric(0.6, size=rows.size).astype(np.float32)
counts = sp.csr_matrix((vals, (rows, cols)), shape=(n, g), dtype=np.float32)
counts.sum_duplicates()
del rows, cols, vals
lib = np.asarray(counts.sum(axis=1)).ravel()
x = counts.copy()
x.data = np.log1p(x.data / np.repeat(lib, np.diff(x.indptr)) * 1e4).astype(np.float32)
# The probes' default genes get real names so that `probe` runs at its defaults.
named = ["SYN1", "SYP", "SNAP25", "SYT1", "DLG4", "SYN2", "STX1A", "VAMP2", "SYNGR1", "CPLX1",
         "MT-ND1", "MT-CYB", "MT-CO1", "MT-ATP6", "RBFOX3", "GFAP", "TGXOR"]
genes = named + ["G%d" % i for i in range(len(named), g)]
a = ad.AnnData(x, obs=pd.DataFrame(index=["c%d" % i for i in range(n)]),
               var=pd.DataFrame(index=genes))
a.layers["counts"] = counts
a.write_h5ad(path)
print(f"wrote {path}: {n} x {g}, {counts.nnz} non-zeros, {time.time() - t0:.0f} s")
PY
fi
if [[ -n "${GENERATE_ONLY:-}" ]]; then exit 0; fi

cargo build --release -q
BIN=target/release/cellsindy
cat > "$OUT/model.toml" <<TOML
[model]
d_model = 64
n_layers = 2
n_heads = 4
d_ff = 128
value_embedding = "table"
[tokenizer]
n_top_genes = 2000
max_genes = 256
include_genes = ["SYN1", "SYP", "SNAP25", "SYT1", "DLG4", "SYN2", "STX1A", "VAMP2", "SYNGR1", "CPLX1", "MT-ND1", "MT-CYB", "MT-CO1", "MT-ATP6", "RBFOX3", "GFAP", "TGXOR"]
[train]
steps = $STEPS
stream_chunk = 4096
batch_size = 32
lr = 2e-3
warmup_steps = 100
mask = { kind = "diffusion", min_ratio = 0.05, max_ratio = 1.0 }
TOML

: > "$OUT/steps.tsv"
run() {
  local name=$1; shift
  local start=$SECONDS
  # A step that runs past STEP_TIMEOUT seconds (default 900) is stopped and reported as such.
  local rc=0
  /usr/bin/time -v timeout "${STEP_TIMEOUT:-900}" "$@" > "$OUT/$name.out" 2> "$OUT/$name.time" || rc=$?
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/$name.time")
  if [[ $rc -ne 0 ]]; then name="$name (exit $rc: stopped or failed)"; fi
  printf '%s\t%d\t%.0f\n' "$name" $((SECONDS - start)) "$((rss / 1024))" | tee -a "$OUT/steps.tsv"
}
rm -rf "$OUT/ckpt" "$OUT/probe" "$OUT/rules" "$OUT/activations"
run inspect $BIN data inspect "$FILE"
run inspect_counts $BIN data inspect "$FILE" --layer counts
run train_stream $BIN train --data "$FILE" --layer counts --stream --config "$OUT/model.toml" --out "$OUT/ckpt"
run probe $BIN probe --model "$OUT/ckpt" --data "$FILE" --layer counts --cells 2000 --out "$OUT/probe"
run rules_distill $BIN rules distill --model "$OUT/ckpt" --data "$FILE" --layer counts --targets TGXOR --out "$OUT/rules"
run rules_activations $BIN rules activations --model "$OUT/ckpt" --data "$FILE" --layer counts --target TGXOR --out "$OUT/activations"
echo
echo "| step | seconds | peak RSS (MB) |"
echo "|---|---|---|"
awk -F'\t' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$OUT/steps.tsv"
