#!/usr/bin/env bash
# The worked real-data example (README, "Real data"): 559 human PBMCs, the count matrix that
# ships in the `celltypist` wheel on PyPI, trained and probed with immune gene sets given on
# the command line, PCA and linear regression beside the model, on several training seeds.
#
#   bash benches/real_pbmc.sh            # seeds 0 1 2, 1500 steps each
#   SEEDS="0 1 2 3 4" STEPS=6000 bash benches/real_pbmc.sh
#   NOTEBOOK=0 bash benches/real_pbmc.sh # skip the notebook
#
# Needs python3 with pip. Writes target/real_pbmc/{sample.csv, ckpt_S/, probe_S/, table.md},
# then executes notebooks/python/real_pbmc.ipynb (scanpy reads the results back) in a venv
# under target/real_pbmc/venv, writing the executed copy over the committed one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SEEDS=${SEEDS:-"0 1 2"}
STEPS=${STEPS:-1500}
OUT=target/real_pbmc
mkdir -p "$OUT"

if [ ! -s "$OUT/sample.csv" ]; then
  python3 -m pip download --no-deps -q 'celltypist==1.7.1' -d "$OUT/wheel"
  python3 - "$OUT" <<'PY'
import glob, sys, zipfile
out = sys.argv[1]
whl = glob.glob(out + "/wheel/celltypist-*.whl")[0]
with zipfile.ZipFile(whl) as z, open(out + "/sample.csv", "wb") as f:
    f.write(z.read("celltypist/data/samples/sample_cell_by_gene.csv"))
PY
fi

# HLA class II (antigen presentation: B cells, monocytes, DCs) against cytotoxic genes (NK
# and CD8 T cells) for the covariance probe; CD3E (T cells) xor CD14 (monocytes) for the
# marker XOR; MS4A1 (B cells) masked alone as the "gate".
GROUP_A=HLA-DRA,HLA-DPA1,HLA-DQA1,CD74
GROUP_B=GZMB,PRF1,NKG7,GNLY
MARKERS=CD3E,CD14
GATE=MS4A1
cat > "$OUT/model.toml" <<TOML
[model]
d_model = 64
n_layers = 2
n_heads = 4
d_ff = 128
value_embedding = "table"
[tokenizer]
n_top_genes = 300
max_genes = 256
include_genes = ["HLA-DRA", "HLA-DPA1", "HLA-DQA1", "CD74", "GZMB", "PRF1", "NKG7", "GNLY", "CD3E", "CD14", "MS4A1"]
[train]
steps = $STEPS
val_fraction = 0.25
val_cells = 256
batch_size = 32
lr = 2e-3
warmup_steps = 100
mask = { kind = "diffusion", min_ratio = 0.05, max_ratio = 1.0 }
TOML

cargo build --release -q
BIN=target/release/cellsindy
$BIN data inspect "$OUT/sample.csv" --cells-as-rows | tee "$OUT/inspect.txt"
for s in $SEEDS; do
  if [ -s "$OUT/probe_$s/report.json" ] && [ -z "${FRESH:-}" ]; then
    echo "seed $s: reusing $OUT/probe_$s (FRESH=1 retrains)"
    continue
  fi
  rm -rf "$OUT/ckpt_$s" "$OUT/probe_$s"
  start=$SECONDS
  $BIN train --data "$OUT/sample.csv" --cells-as-rows --config "$OUT/model.toml" --seed "$s" \
    --out "$OUT/ckpt_$s" --json > "$OUT/train_$s.json"
  t_train=$((SECONDS - start))
  $BIN probe --model "$OUT/ckpt_$s" --data "$OUT/sample.csv" --cells-as-rows --seed "$s" \
    --group-a "$GROUP_A" --group-b "$GROUP_B" --markers "$MARKERS" --gate "$GATE" \
    --out "$OUT/probe_$s" > /dev/null
  echo "seed $s: trained in ${t_train} s, probed in $((SECONDS - start - t_train)) s"
done

python3 - "$OUT" $SEEDS <<'PY' | tee "$OUT/table.md"
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
reports = [json.load(open(f"{out}/probe_{s}/report.json")) for s in seeds]

def mean_sd(v):
    v = [x for x in v if x is not None]
    if not v:
        return "n/a"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.3f} ± {sd:.3f}"

print(f"seeds: {' '.join(seeds)}; held-out cells per seed: {[r['n_scored'] for r in reports]}")
print()
for probe in ["xor_markers", "xor_gate"]:
    r0 = reports[0][probe]
    print(f"**{r0['target']}** ({r0['n_positive']} of {r0['n_cells']} positive on seed {seeds[0]})")
    print()
    print("| method | balanced accuracy | AUROC |")
    print("|---|---|---|")
    for k, m in enumerate(r0["methods"]):
        ba = [r[probe]["methods"][k]["scores"]["balanced_accuracy"] for r in reports]
        au = [r[probe]["methods"][k]["scores"].get("auroc") for r in reports]
        print(f"| {m['method']} | {mean_sd(ba)} | {mean_sd(au)} |")
    print()
cov = reports[0]["covariance"]
print("**covariance probe**: mean pairwise Spearman within HLA class II (A), within cytotoxic (B),")
print("between; and the share of the three signs that match the real cells'")
print()
print("| method | within A | within B | between | signs matching real |")
print("|---|---|---|---|---|")
for j, m in enumerate([cov["real"]] + cov["methods"]):
    get = (lambda r: r["covariance"]["real"]) if j == 0 else (lambda r, j=j: r["covariance"]["methods"][j - 1])
    cells = [mean_sd([get(r)["rho"][k] for r in reports]) for k in ["within_a", "within_b", "between"]]
    score = mean_sd([get(r)["score"] for r in reports])
    print(f"| {m['method']} | " + " | ".join(cells) + f" | {score} |")
PY

if [ "${NOTEBOOK:-1}" != 0 ]; then
  VENV="$OUT/venv"
  if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
  "$VENV/bin/pip" install -q --disable-pip-version-check 'anndata>=0.10' 'scanpy>=1.10' \
    'nbconvert>=7' 'nbclient>=0.10' ipykernel
  "$VENV/bin/jupyter" nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --ExecutePreprocessor.kernel_name=python3 --output-dir "$OUT" notebooks/python/real_pbmc.ipynb
  cp "$OUT/real_pbmc.ipynb" notebooks/python/real_pbmc.ipynb
  echo "executed notebooks/python/real_pbmc.ipynb"
fi
