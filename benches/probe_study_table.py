"""Tabulates benches/probe_study.sh: per probe, every method's score over the training seeds
(mean ± sd, range) and the controls' scores, the model against the best baseline.

Usage: python3 probe_study_table.py OUT PREFIX NAME... (PREFIX: probe_ or probe_own_; NAME: seedK,
shuffled, gate-permuted, untrained)
"""
import json
import statistics
import sys

out, prefix, names = sys.argv[1], sys.argv[2], sys.argv[3:]
reports = {n: json.load(open(f"{out}/{prefix}{n}/report.json")) for n in names}
seeds = [n for n in names if n.startswith("seed")]
controls = [n for n in names if not n.startswith("seed")]


def summary(v):
    if not v:
        return "–"
    if len(v) == 1:
        return f"{v[0]:.3f}"
    return f"{statistics.mean(v):.3f} ± {statistics.stdev(v):.3f} ({min(v):.3f}–{max(v):.3f})"


def probes(r):
    """(probe name, {method: (score, role)}, higher is better) for the three probes."""
    cov = {m["method"]: (m["matrix_error"], m.get("role", "baseline")) for m in r["covariance"]["methods"]}
    signs = {m["method"]: (m["score"] * 3, m.get("role", "baseline")) for m in r["covariance"]["methods"]}
    yield "covariance: Spearman-matrix error (lower is better)", cov, False
    yield "covariance: signs matching the real cells' (of 3)", signs, True
    for key in ("xor_markers", "xor_gate"):
        x = r[key]
        ba = {m["method"]: (m["scores"]["balanced_accuracy"], m.get("role", "baseline")) for m in x["methods"]}
        yield f"{x['target']}: balanced accuracy", ba, True


first = reports[names[0]]
print(f"Models trained on `{out}/brain.h5ad`, probed on the held-out split of `{first['data']}`: "
      f"{first['n_scored']} cells scored, baselines fitted on {first['n_train']} training cells of "
      f"that file. Seeds: {', '.join(s[4:] for s in seeds)}. Mean ± sd (range) over seeds; "
      f"controls trained once.\n")
per_probe = {}
for n in names:
    for title, scores, higher in probes(reports[n]):
        per_probe.setdefault(title, (higher, {}))[1][n] = scores
for title, (higher, by_run) in per_probe.items():
    methods = list(next(iter(by_run.values())).keys())
    print(f"#### {title}\n")
    print("| " + " | ".join(["method", "role", "seeds"] + controls) + " |")
    print("|---|---|---|" + "---|" * len(controls))
    for m in methods:
        role = by_run[names[0]][m][1]
        vals = [by_run[s][m][0] for s in seeds if m in by_run[s]]
        # A control changes the model's training data only: its baselines are the seeds'.
        ctrl = [f"{by_run[c][m][0]:.3f}" if m in by_run[c] and role != "baseline" else "–" for c in controls]
        print("| " + " | ".join([m, role, summary(vals)] + ctrl) + " |")
    # Model's best readout vs the best baseline, per seed.
    margins = []
    for s in seeds:
        sc = by_run[s]
        pick = max if higher else min
        model = pick(v for v, r in sc.values() if r == "model")
        base = pick(v for v, r in sc.values() if r == "baseline")
        margins.append(model - base if higher else base - model)
    best = {}
    for s in seeds:
        sc = by_run[s]
        key = (lambda kv: kv[1][0]) if higher else (lambda kv: -kv[1][0])
        name = max(((k, v) for k, v in sc.items() if v[1] == "baseline"), key=key)[0]
        best[name] = best.get(name, 0) + 1
    print(f"\nModel (best readout) minus best baseline: {summary(margins)}; "
          f"best baseline per seed: {', '.join(f'{k} ×{v}' for k, v in best.items())}.\n")
