#!/usr/bin/env python3
"""Time PySINDy on the data the Rust driver wrote and compare with cellsindy.

Usually run by ``benches/compare_pysindy.sh``; by hand:

    .venv-bench/bin/python benches/compare_pysindy.py --dir target/pysindy-compare [--quick]

Reads from DIR (written by ``cargo bench --bench sindy_vs_pysindy``):
  manifest.json  the cases (fit_cases, noise_cases, clean_cases, simulate, dt)
  *.npy          Lorenz trajectories, float64 (n, 3), columns x, y, z
  rust.json      cellsindy's timings and accuracy (optional; missing keys are
                 shown as "-")
Writes DIR/pysindy.json (same layout as rust.json) and prints a comparison
table. Ratios are PySINDy time / cellsindy time (> 1: cellsindy is faster).

PySINDy is used with its defaults: PolynomialLibrary(degree=d), STLSQ()
(threshold 0.1, alpha 0.05, unbias), FiniteDifference(order=2), t=dt.
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

try:
    import pysindy as ps
except ImportError:
    sys.exit(
        "compare_pysindy.py: pysindy is not installed; run it with "
        ".venv-bench/bin/python (benches/compare_pysindy.sh creates it)"
    )

# True Lorenz system (sigma=10, rho=28, beta=8/3) in PySINDy 2.1.0's feature
# names for inputs x0=x, x1=y, x2=z: '1', 'x0', 'x0 x2', 'x0^2', ...
LORENZ_TRUE = [
    {"x0": -10.0, "x1": 10.0},  # x' = -10 x + 10 y
    {"x0": 28.0, "x1": -1.0, "x0 x2": -1.0},  # y' = 28 x - y - x z
    {"x0 x1": 1.0, "x2": -8.0 / 3.0},  # z' = x y - 8/3 z
]
N_TRUE_TERMS = sum(len(eq) for eq in LORENZ_TRUE)


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        print(f"warning: could not read {path}: {e}", file=sys.stderr)
        return None


def load_traj(dirname, fname):
    """Load an (n, 3) float64 trajectory, or None (with a warning)."""
    if not fname:
        return None
    path = os.path.join(dirname, fname)
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        print(f"warning: skipping {fname}: {e}", file=sys.stderr)
        return None
    if x.ndim != 2 or x.shape[1] != 3:
        print(f"warning: skipping {fname}: shape {x.shape}, want (n, 3)", file=sys.stderr)
        return None
    return np.ascontiguousarray(x, dtype=np.float64)


def new_model(degree, fd_order=2):
    kw = {}
    if fd_order != 2:
        kw["differentiation_method"] = ps.FiniteDifference(order=fd_order, axis=-2)
    return ps.SINDy(
        feature_library=ps.PolynomialLibrary(degree=degree),
        optimizer=ps.STLSQ(),
        **kw,
    )


def fit_model(x, dt, degree, fd_order=2):
    model = new_model(degree, fd_order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, t=dt)
    return model


def time_fit(x, dt, degree, repeats, fd_order=2):
    """Wall times (s) of `repeats` fresh fits; returns (times, last model)."""
    times, model = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = fit_model(x, dt, degree, fd_order)
        times.append(time.perf_counter() - t0)
    return times, model


def accuracy(model):
    """n_terms, exact_support and max_rel_err of a fitted model vs Lorenz."""
    names = list(model.get_feature_names())
    coef = np.asarray(model.coefficients())  # (n_targets, n_features)
    exact = coef.shape[0] == 3
    max_rel = 0.0
    for i, true_eq in enumerate(LORENZ_TRUE):
        if i >= coef.shape[0]:
            max_rel = math.inf
            break
        row = dict(zip(names, coef[i]))
        support = {nm for nm, c in row.items() if c != 0.0}
        if support != set(true_eq):
            exact = False
        for nm, c_true in true_eq.items():
            c = row.get(nm, 0.0)
            max_rel = max(max_rel, abs(c - c_true) / abs(c_true))
    return {
        "n_terms": int(np.count_nonzero(coef)),
        "exact_support": bool(exact),
        "max_rel_err": float(max_rel),
        "feature_names": names,
        "coefficients": coef.tolist(),
    }


def fmt_time(s):
    if s is None or not isinstance(s, (int, float)) or not math.isfinite(s):
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1.0:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_ratio(num, den):
    if not isinstance(num, (int, float)) or not isinstance(den, (int, float)):
        return "-"
    if not (math.isfinite(num) and math.isfinite(den)) or den <= 0:
        return "-"
    return f"{num / den:.1f}x"


def fmt_n(n):
    if not isinstance(n, (int, float)) or n <= 0:
        return "?"
    e = math.log10(n)
    if abs(e - round(e)) < 1e-9:
        return f"1e{int(round(e))}"
    return str(int(n))


def fmt_err(e):
    if not isinstance(e, (int, float)):
        return "-"
    if not math.isfinite(e):
        return "inf"
    return f"{e:.2e}"


def fmt_bool(b):
    if b is None:
        return "-"
    return "yes" if b else "no"


def num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def same_float(a, b):
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _match(have, want):
    if isinstance(want, float) or isinstance(have, float):
        return same_float(num(have), num(want))
    return have == want


def find_rust(entries, required, optional=None):
    """First entry of a rust.json list whose `required` keys are present and
    equal and whose `optional` keys are equal where present."""
    if not isinstance(entries, list):
        return {}
    for e in entries:
        if not isinstance(e, dict):
            continue
        if any(k not in e or not _match(e[k], v) for k, v in required.items()):
            continue
        if any(k in e and v is not None and not _match(e[k], v) for k, v in (optional or {}).items()):
            continue
        return e
    return {}


def print_table(header, rows):
    widths = [len(h) for h in header]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="target/pysindy-compare", help="directory the Rust driver wrote")
    ap.add_argument("--quick", action="store_true", help="skip cases with n >= 1e6 and the FD order-4 variant")
    ap.add_argument("--repeats", type=int, default=3, help="timed fits per case for n <= 1e5, after one untimed warm-up "
                    "(median is reported); n > 1e5: one run")
    ap.add_argument("--no-simulate", action="store_true", help="skip the (slow, ~20 s) simulate timing")
    ap.add_argument("--no-fd4", action="store_true", help="skip the FiniteDifference(order=4) variant")
    args = ap.parse_args(argv)

    d = args.dir
    manifest = load_json(os.path.join(d, "manifest.json"))
    if not isinstance(manifest, dict):
        print(f"compare_pysindy.py: no readable {os.path.join(d, 'manifest.json')}; "
              "run `cargo bench --bench sindy_vs_pysindy -- --out DIR` first", file=sys.stderr)
        return 1
    rust = load_json(os.path.join(d, "rust.json"))
    if not isinstance(rust, dict):
        print(f"note: no readable {os.path.join(d, 'rust.json')}; showing PySINDy only")
        rust = {}

    dt = num(manifest.get("dt"))
    if dt is None:
        dt = 0.002
        print(f"warning: manifest has no dt; assuming {dt}", file=sys.stderr)

    try:
        import threadpoolctl
        blas = [
            {k: p.get(k) for k in ("internal_api", "num_threads", "version")}
            for p in threadpoolctl.threadpool_info()
        ]
    except Exception:  # threadpoolctl comes with scikit-learn, but be lenient
        blas = None
    import scipy
    import sklearn

    out = {
        "tool": "pysindy",
        "versions": {
            "pysindy": ps.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "blas": blas},
        "settings": {
            "dt": dt,
            "library": "PolynomialLibrary(degree=d)",
            "optimizer": "STLSQ() threshold=0.1 alpha=0.05 unbias=True",
            "differentiation": "FiniteDifference(order=2)",
            "repeats": args.repeats,
            "quick": args.quick,
        },
        "fit": [],
        "simulate": None,
        "clean": [],
        "noise": [],
    }
    cache = {}

    def traj(fname):
        if fname not in cache:
            cache[fname] = load_traj(d, fname)
        return cache[fname]

    # ---------------------------------------------------------------- fit ---
    print(f"PySINDy {ps.__version__}, numpy {np.__version__}, dt={dt}")
    for case in manifest.get("fit_cases") or []:
        fname, deg = case.get("file"), case.get("degree", 2)
        n = num(case.get("n"))
        if args.quick and n is not None and n >= 1_000_000:
            print(f"  fit n={fmt_n(n)} deg={deg}: skipped (--quick)")
            continue
        x = traj(fname)
        if x is None:
            continue
        n = int(n or x.shape[0])
        if args.quick and n >= 1_000_000:
            print(f"  fit n={fmt_n(n)} deg={deg}: skipped (--quick)")
            continue
        reps = max(1, args.repeats) if n <= 100_000 else 1
        print(f"  timing fit n={fmt_n(n)} deg={deg} ({reps} run{'s' if reps > 1 else ''}) ...", flush=True)
        if n <= 100_000:
            fit_model(x, dt, deg)  # untimed warm-up (lazy imports, caches)
        times, model = time_fit(x, dt, deg, reps)
        entry = {"file": fname, "n": n, "degree": deg, "seconds": statistics.median(times),
                 "min_seconds": min(times), "runs": times, **{k: v for k, v in accuracy(model).items() if k != "feature_names"}}
        if not args.quick and not args.no_fd4 and n <= 100_000:
            t4, _ = time_fit(x, dt, deg, reps, fd_order=4)
            entry["fd4_seconds"] = statistics.median(t4)
        out["fit"].append(entry)

    # ------------------------------------------------------------ process ---
    # The whole `cellsindy sindy --data FILE.npy --dt DT --degree D` process (defaults: the
    # automatic differentiator and sparsity), against PySINDy's fit on the same file.
    out["process"] = []
    binary = os.environ.get("CELLSINDY_BIN", os.path.join("target", "release", "cellsindy"))
    if not args.quick and os.path.exists(binary):
        for e in out["fit"]:
            if e["n"] < 1_000_000 or e["degree"] not in (2, 5):
                continue
            cmd = [binary, "sindy", "--data", os.path.join(d, e["file"]), "--dt", str(dt),
                   "--degree", str(e["degree"])]
            times = []
            for _ in range(max(3, args.repeats)):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times.append(time.perf_counter() - t0)
            out["process"].append({"file": e["file"], "n": e["n"], "degree": e["degree"],
                                   "command": " ".join(cmd), "seconds": statistics.median(times),
                                   "runs": times, "pysindy_fit_seconds": e["seconds"]})

    # ----------------------------------------------------------- simulate ---
    sim = manifest.get("simulate")
    if isinstance(sim, dict) and not args.no_simulate:
        x = traj(sim.get("model_file"))
        steps = int(sim.get("steps") or 0)
        x0 = sim.get("x0") or [-8.0, 8.0, 27.0]
        deg = sim.get("degree", 2)
        if x is not None and steps > 1:
            model = fit_model(x, dt, deg)
            tgrid = np.arange(steps) * dt
            print(f"  timing simulate steps={steps} (one run, slow) ...", flush=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                xs = model.simulate(np.asarray(x0, dtype=float), t=tgrid)
                secs = time.perf_counter() - t0
            m = min(len(xs), len(x))
            out["simulate"] = {
                "model_file": sim.get("model_file"),
                "degree": deg,
                "steps": steps,
                "seconds": secs,
                "integrator": "solve_ivp LSODA rtol=atol=1e-12 (PySINDy default)",
                "final_state": np.asarray(xs[-1]).tolist(),
                "rows_returned": int(len(xs)),
                "max_abs_dev_first_1000": float(np.max(np.abs(xs[: min(m, 1000)] - x[: min(m, 1000)]))),
            }

    # ----------------------------------------------------------- accuracy ---
    for case in manifest.get("clean_cases") or []:
        x = traj(case.get("file"))
        if x is None:
            continue
        deg = case.get("degree", 2)
        acc = accuracy(fit_model(x, dt, deg))
        out["clean"].append({"file": case.get("file"), "n": int(x.shape[0]), "degree": deg, **acc})
    for case in manifest.get("noise_cases") or []:
        if args.quick and (num(case.get("n")) or 0) >= 1_000_000:
            continue
        x = traj(case.get("file"))
        if x is None:
            continue
        n = int(case.get("n") or x.shape[0])
        if args.quick and n >= 1_000_000:
            continue
        deg = case.get("degree", 3)
        acc = accuracy(fit_model(x, dt, deg))
        out["noise"].append({"file": case.get("file"), "noise": case.get("noise"), "n": n, "degree": deg, **acc})

    out_path = os.path.join(d, "pysindy.json")
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1, allow_nan=True)
        f.write("\n")

    # -------------------------------------------------------------- report ---
    print()
    print("== fit time (median wall clock; ratio = pysindy / cellsindy) ==")
    rows = []
    for e in out["fit"]:
        r = find_rust(rust.get("fit"), {"file": e["file"], "degree": e["degree"]}, {"n": e["n"]}) or find_rust(
            rust.get("fit"), {"n": e["n"], "degree": e["degree"]})
        rs = num(r.get("seconds"))
        rows.append([
            f"fit n={fmt_n(e['n'])} deg={e['degree']}",
            fmt_time(rs),
            fmt_time(num(r.get("theta_gram_seconds"))),
            fmt_time(e["seconds"]),
            fmt_ratio(e["seconds"], rs),
            fmt_time(e.get("fd4_seconds")),
        ])
    if rows:
        print_table(["case", "cellsindy", "(theta+gram)", "pysindy", "ratio", "pysindy FD4"], rows)
        for e, row in zip(out["fit"], rows):
            print(f"{row[0]}: cellsindy {row[1]}, pysindy {row[3]}, ratio {row[4]}")
    else:
        print("(no fit cases)")

    print()
    print("== whole process: `cellsindy sindy --data FILE.npy` (defaults) vs PySINDy's fit ==")
    if out["process"]:
        for e in out["process"]:
            print(f"process n={fmt_n(e['n'])} deg={e['degree']}: cellsindy {fmt_time(e['seconds'])} "
                  f"(runs {', '.join(fmt_time(t) for t in e['runs'])}), pysindy fit "
                  f"{fmt_time(e['pysindy_fit_seconds'])}, ratio {fmt_ratio(e['pysindy_fit_seconds'], e['seconds'])}")
    else:
        print(f"(skipped: --quick, or no binary at {binary})")

    print()
    print("== simulate ==")
    ps_sim = out["simulate"]
    rs_sim = rust.get("simulate") if isinstance(rust.get("simulate"), dict) else {}
    if ps_sim or rs_sim:
        steps = (ps_sim or {}).get("steps") or rs_sim.get("steps")
        pss, rss = (ps_sim or {}).get("seconds"), num(rs_sim.get("seconds"))
        print(f"simulate steps={steps}: cellsindy {fmt_time(rss)}, pysindy {fmt_time(pss)}, "
              f"ratio {fmt_ratio(pss, rss)}")
    else:
        print("(skipped)")

    print()
    print(f"== accuracy vs true Lorenz ({N_TRUE_TERMS} terms; err = max |c - c_true| / |c_true|) ==")
    rows = []
    for e in out["clean"]:
        r = find_rust(rust.get("clean"), {"degree": e["degree"]}, {"file": e["file"], "n": e["n"]})
        rows.append([f"clean n={fmt_n(e['n'])} deg={e['degree']}",
                     str(r.get("n_terms", "-")), fmt_bool(r.get("exact_support")), fmt_err(num(r.get("max_rel_err"))),
                     str(e["n_terms"]), fmt_bool(e["exact_support"]), fmt_err(e["max_rel_err"])])
    for e in out["noise"]:
        r = find_rust(rust.get("noise"), {"noise": num(e.get("noise"))}, {"degree": e["degree"], "n": e["n"]})
        lvl = num(e.get("noise"))
        lbl = f"{lvl * 100:g}%" if lvl is not None else "?"
        rows.append([f"noise {lbl} n={fmt_n(e['n'])} deg={e['degree']}",
                     str(r.get("n_terms", "-")), fmt_bool(r.get("exact_support")), fmt_err(num(r.get("max_rel_err"))),
                     str(e["n_terms"]), fmt_bool(e["exact_support"]), fmt_err(e["max_rel_err"])])
    if rows:
        print_table(["case", "cs terms", "cs exact", "cs err", "ps terms", "ps exact", "ps err"], rows)
    else:
        print("(no accuracy cases)")
    print()
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
