"""Tables of benches/recipe_curves.sh: each recipe's learning curve, mean ± sd over seeds.

Usage: python3 benches/recipe_curves.py OUT RECIPE...

Per recipe and evaluation step: the XOR gate's balanced accuracy (`evaluate`, inputs
visible), masked-gene accuracy minus the per-gene marginal's, the covariance probe's sign
matches for the joint draw and its within-mitochondrial rho minus the cells', the exact rules
of the distillation (XOR / AND / AND-NOT, counted over seeds), and the seeds meeting issue 21's
goal (gate >= 0.95, AND and AND-NOT exact, covariance 3/3 with the mito rho within 0.03,
accuracy above the marginal). Cells seen are steps times the batch; seconds are 2-core
wall-clock estimated from the recipe's timing run (speed.json) times the steps, when it ran.
"""

import json
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def seconds_per_step(rdir):
    """Training seconds per step on 2 threads, from the recipe's timing run."""
    speed, state = os.path.join(rdir, "speed.json"), os.path.join(rdir, "speed_state.json")
    if not (os.path.exists(speed) and os.path.exists(state)):
        return None
    tps = load(speed)["tokens_per_sec"]
    steps = load(state)["history"]["steps"]
    return sum(s["tokens"] for s in steps) / tps / len(steps)


def batch_size(rdir, seeds):
    """Cells per step of the recipe's runs (from a checkpoint's training state)."""
    for s in seeds:
        state = os.path.join(rdir, s, "ckpt", "train_state.json")
        if os.path.exists(state):
            return load(state)["train"]["batch_size"]
    return None


def point(sdir, step):
    """The scores of one seed at one step, or None when not measured."""
    ev_path = os.path.join(sdir, f"eval_{step}.json")
    pr_path = os.path.join(sdir, f"probe_{step}", "report.json")
    di_path = os.path.join(sdir, f"distill_{step}", "evaluation.json")
    if not all(os.path.exists(p) for p in (ev_path, pr_path, di_path)):
        return None
    # The point counts only if the training run that led to it reached its step.
    tr_path = os.path.join(sdir, f"train_{step}.json")
    try:
        if load(tr_path)["steps"] != step:
            return None
    except (OSError, ValueError, KeyError):
        return None
    ev = load(ev_path)
    pr = load(pr_path)
    di = load(di_path)
    cov = pr["covariance"]
    real = cov["real"]["rho"]["within_b"]
    joint = next(m for m in cov["methods"] if m["method"] == "model (joint sample)")
    distill = next(e for e in di["evaluations"] if e["method"] == "distill")
    exact = {t["target"]: t["exact_with_signs"] for t in distill["targets"]}
    gate = next(m for m in pr["xor_gate"]["methods"] if m["method"] == "model")
    p = {
        "gate": ev["xor"]["balanced_accuracy"],
        "gate_probe": gate["scores"]["balanced_accuracy"],
        "acc_gain": ev["masked"]["model"] - ev["masked"]["marginal"],
        "cov_signs": round(joint["score"] * 3),
        "mito_gap": joint["rho"]["within_b"] - real,
        "xor_rule": exact.get("TGXOR", False),
        "and_rule": exact.get("TGAND", False),
        "andnot_rule": exact.get("TGANDNOT", False),
    }
    p["goal"] = (
        p["gate"] >= 0.95
        and p["and_rule"]
        and p["andnot_rule"]
        and p["cov_signs"] == 3
        and abs(p["mito_gap"]) <= 0.03
        and p["acc_gain"] > 0.0
    )
    return p


def ms(xs, fmt="{:.3f}"):
    if not xs:
        return "–"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return (fmt + " ± " + fmt).format(statistics.mean(xs), statistics.stdev(xs))


def main():
    out, recipes = sys.argv[1], sys.argv[2:]
    print("| recipe | step | cells seen | 2-core s | seeds | gate BA | acc − marginal | cov signs (joint) | mito ρ − cells' | XOR / AND / AND-NOT exact | goal met |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in recipes:
        rdir = os.path.join(out, r)
        if not os.path.isdir(rdir):
            continue
        sps = seconds_per_step(rdir)
        seeds = sorted(d for d in os.listdir(rdir) if d.startswith("seed"))
        batch = batch_size(rdir, seeds)
        steps = sorted(
            {
                int(f[5:-5])
                for s in seeds
                for f in os.listdir(os.path.join(rdir, s))
                if f.startswith("eval_") and f.endswith(".json")
            }
        )
        for step in steps:
            pts = [p for s in seeds if (p := point(os.path.join(rdir, s), step))]
            n = len(pts)
            print(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {}/{} |".format(
                    r,
                    step,
                    "–" if batch is None else f"{step * batch:,}",
                    "–" if sps is None else f"{sps * step:.0f}",
                    n,
                    ms([p["gate"] for p in pts]),
                    ms([p["acc_gain"] for p in pts], "{:+.3f}"),
                    ms([p["cov_signs"] for p in pts], "{:.1f}"),
                    ms([p["mito_gap"] for p in pts], "{:+.3f}"),
                    sum(p["xor_rule"] for p in pts),
                    sum(p["and_rule"] for p in pts),
                    sum(p["andnot_rule"] for p in pts),
                    sum(p["goal"] for p in pts),
                    n,
                )
            )
    print()
    print("Per seed, last step: gate BA (mito ρ − cells')")
    for r in recipes:
        rdir = os.path.join(out, r)
        if not os.path.isdir(rdir):
            continue
        cells = []
        for s in sorted(d for d in os.listdir(rdir) if d.startswith("seed")):
            sdir = os.path.join(rdir, s)
            done = sorted(int(f[5:-5]) for f in os.listdir(sdir) if f.startswith("eval_") and f.endswith(".json"))
            if done and (p := point(sdir, done[-1])):
                cells.append(f"{s} {p['gate']:.3f} ({p['mito_gap']:+.3f})")
        print(f"- {r}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
