"""The activation rules of trained models against null models (`rules activations` on each).

    python3 benches/activation_nulls.py DIR NAME...

reads DIR/activations_NAME/units.json for every NAME (a trained model first, then the
untrained and permuted controls) and prints, per model, the held-out R² of its best rules
(`heldout_r2`: fitted on 70 % of the cells, scored on the other 30 %): the best XOR/XNOR gate,
the best interaction rule with a TFA·TFB term, the best interaction rule of any kind, and how
many interaction rules reach 0.3 held out. A rule that a null model matches is not evidence
of a mechanism.
"""
import json
import sys


def best(units, keep):
    vals = [u["heldout_r2"] for u in units if u.get("heldout_r2") is not None and keep(u)]
    return (max(vals), len(vals)) if vals else (float("nan"), 0)


def main():
    root, names = sys.argv[1], sys.argv[2:]
    print("| model | best XOR/XNOR gate (n) | best rule with TFA·TFB (n) | best interaction (n) | interactions ≥ 0.3 held out |")
    print("|---|---|---|---|---|")
    for name in names:
        with open(f"{root}/activations_{name}/units.json") as f:
            units = json.load(f)["units"]
        inter = lambda u: u["kind"] == "interaction"
        xor = lambda u: inter(u) and u.get("gate") and u["gate"]["op"] in ("XOR", "XNOR")
        ab = lambda u: inter(u) and any(t["genes"] == ["TFA", "TFB"] for t in u["rule"]["terms"])
        cells = []
        for keep in (xor, ab, inter):
            v, n = best(units, keep)
            cells.append(f"{v:.3f} ({n})")
        strong = sum(1 for u in units if inter(u) and (u.get("heldout_r2") or 0) >= 0.3)
        print(f"| {name} | {' | '.join(cells)} | {strong} |")


if __name__ == "__main__":
    main()
