#!/usr/bin/env python3
"""Fit PySINDy on the suite the Rust driver wrote and print the comparison table.

Usually run by ``benches/sindy_suite.sh``; by hand:

    .venv-bench/bin/python benches/sindy_suite.py --dir target/sindy-suite

Reads DIR/manifest.json (one entry per case, noise level and seed: the files, dt, state
names, library and true terms) and DIR/rust.json (cellsindy's results, method "cv" being
its defaults). For every entry, PySINDy 2.1 is fitted
  - with its defaults: the case's library, STLSQ(threshold=0.1), FiniteDifference();
  - at every threshold of THRESHOLDS (same library and differentiation).
The "best single threshold" is the one with the most exact supports over the whole suite.
Writes DIR/pysindy.json and DIR/table.md, and prints the table.
"""

import argparse
import json
import math
import os
import statistics
import sys
import warnings

import numpy as np

try:
    import pysindy as ps
except ImportError:
    sys.exit("sindy_suite.py: pysindy is not installed; run benches/sindy_suite.sh")

THRESHOLDS = [0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
NOISES = [0.0, 0.01, 0.05, 0.1]


def library(spec):
    kind = spec["kind"]
    if kind == "polynomial":
        return ps.PolynomialLibrary(degree=spec["degree"])
    if kind == "polynomial_fourier":
        return ps.PolynomialLibrary(degree=spec["degree"]) + ps.FourierLibrary(
            n_frequencies=spec["frequencies"]
        )
    if kind == "polynomial_rational":
        # Factories, not default arguments: PySINDy reads a function's arity from its
        # signature.
        def fn(k):
            return lambda a: a / (k + a)

        def name(k):
            return lambda a: f"{a}/({k:g}+{a})"

        ks = spec["ks"]
        return ps.PolynomialLibrary(degree=spec["degree"]) + ps.CustomLibrary(
            library_functions=[fn(k) for k in ks], function_names=[name(k) for k in ks]
        )
    raise ValueError(f"unknown library {kind}")


def score(coef, feature_names, truth, n_targets):
    """(exact support, max relative error over the true terms; 1 for a missed term)."""
    true = {(t, f): c for t, f, c in truth}
    exact = True
    err = 0.0
    for t in range(n_targets):
        for i, f in enumerate(feature_names):
            fitted = coef[t, i]
            c = true.get((t, f))
            if c is None:
                if abs(fitted) > 1e-14:
                    exact = False
            elif abs(fitted) <= 1e-14:
                exact = False
                err = max(err, 1.0)
            else:
                err = max(err, abs(fitted - c) / abs(c))
    missing = [f for (t, f) in true if f not in feature_names]
    if missing:
        raise ValueError(f"true terms {missing} are not in PySINDy's library")
    return exact, err


def fit_one(entry, data, threshold):
    model = ps.SINDy(
        feature_library=library(entry["library"]),
        optimizer=ps.STLSQ(threshold=threshold),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = data if len(data) > 1 else data[0]
        model.fit(x, t=entry["dt"], feature_names=entry["names"])
    return score(model.coefficients(), model.get_feature_names(), entry["truth"], len(entry["names"]))


def cell(rows):
    """'k/n err' with the median of the coefficient errors."""
    if not rows:
        return "-"
    ok = sum(1 for r in rows if r["exact"])
    err = statistics.median(r["max_rel_err"] for r in rows)
    return f"{ok}/{len(rows)} {err:.0e}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="target/sindy-suite")
    args = ap.parse_args()
    manifest = json.load(open(os.path.join(args.dir, "manifest.json")))
    rust = json.load(open(os.path.join(args.dir, "rust.json")))
    rows = []
    for entry in manifest:
        data = [np.load(os.path.join(args.dir, f)) for f in entry["files"]]
        for thr in THRESHOLDS:
            try:
                exact, err = fit_one(entry, data, thr)
                rows.append(dict(case=entry["case"], held_out=entry["held_out"], noise=entry["noise"],
                                 seed=entry["seed"], threshold=thr, exact=exact, max_rel_err=err))
            except Exception as e:  # a failed fit counts as a miss
                rows.append(dict(case=entry["case"], held_out=entry["held_out"], noise=entry["noise"],
                                 seed=entry["seed"], threshold=thr, exact=False, max_rel_err=1.0,
                                 error=str(e)))
        print(".", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)
    json.dump(rows, open(os.path.join(args.dir, "pysindy.json"), "w"), indent=1)
    totals = {t: sum(r["exact"] for r in rows if r["threshold"] == t) for t in THRESHOLDS}
    best = max(THRESHOLDS, key=lambda t: (totals[t], -abs(math.log(t / 0.1))))
    print("PySINDy exact supports over the whole suite, per threshold: "
          + ", ".join(f"{t:g}: {totals[t]}" for t in THRESHOLDS) + f"  -> best {best:g}")

    def select(src, **kw):
        return [r for r in src if all(r[k] == v for k, v in kw.items())]

    ours = [r for r in rust if r["method"] == "cv"]
    cases = []
    for e in manifest:
        if (e["case"], e["held_out"]) not in cases:
            cases.append((e["case"], e["held_out"]))
    head = ("| part | system | noise | cellsindy defaults | PySINDy defaults (0.1) | "
            f"PySINDy best single threshold ({best:g}) |")
    lines = [head, "|---|---|---|---|---|---|"]
    for name, held in cases:
        for noise in NOISES:
            a = select(ours, case=name, noise=noise)
            b = select(rows, case=name, noise=noise, threshold=0.1)
            c = select(rows, case=name, noise=noise, threshold=best)
            lines.append(f"| {'held-out' if held else 'design'} | {name} | {noise:g} | {cell(a)} | {cell(b)} | {cell(c)} |")
    lines.append("")
    lines.append("| part | noise | cellsindy defaults | PySINDy defaults (0.1) | "
                 f"PySINDy best single threshold ({best:g}) |")
    lines.append("|---|---|---|---|---|")
    for part in [False, True, None]:
        for noise in NOISES + [None]:
            def pick(src, **kw):
                out = select(src, **kw)
                if part is not None:
                    out = [r for r in out if r["held_out"] == part]
                if noise is not None:
                    out = [r for r in out if r["noise"] == noise]
                return out
            a, b, c = pick(ours), pick(rows, threshold=0.1), pick(rows, threshold=best)
            label = {False: "design", True: "held-out", None: "all"}[part]
            nl = "all" if noise is None else f"{noise:g}"
            lines.append(f"| {label} | {nl} | {cell(a)} | {cell(b)} | {cell(c)} |")
    table = "\n".join(lines)
    open(os.path.join(args.dir, "table.md"), "w").write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
