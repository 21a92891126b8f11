#!/usr/bin/env python3
"""Regenerate ``pysindy_golden.json``: reference outputs from PySINDy 2.1.0.

The Rust test suite compares cellsindy's finite differences, STLSQ and
polynomial library against these numbers. The inputs are built here
deterministically (closed-form grids and ``numpy.random.default_rng(0)``), so
re-running the script reproduces the file up to floating-point noise in the
last digits.

Run by hand from the repository root, with the benchmark venv (see
``benches/compare_pysindy.sh``, which creates ``.venv-bench/`` with
``pysindy==2.1.0``):

    .venv-bench/bin/python tests/data/golden/make_golden.py

JSON conventions: arrays are nested lists, row-major (``[row][col]``); NaN is
written as ``null``. ``coef`` arrays are ``(n_targets, n_features)``, like
PySINDy's ``coef_``.
"""

import json
import math
import os
import sys
import warnings

import numpy as np

try:
    import pysindy as ps
except ImportError:  # pragma: no cover - only hit without the venv
    sys.exit(
        "pysindy is not installed; run with .venv-bench/bin/python "
        "(created by benches/compare_pysindy.sh)"
    )

EXPECTED_PYSINDY = "2.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pysindy_golden.json")


def to_json(a):
    """Nested lists of floats; NaN/inf -> None (JSON null)."""
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 0:
        v = float(arr)
        return v if math.isfinite(v) else None
    return [to_json(row) for row in arr]


# --------------------------------------------------------------------------
# Finite differences
# --------------------------------------------------------------------------


def finite_difference_cases():
    n = 21
    i = np.arange(n, dtype=float)
    t_nonuni = i * 0.05 + 0.01 * np.sin(i)
    assert np.all(np.diff(t_nonuni) > 0)
    dt = 0.05
    t_uni = i * dt

    def signal(t):
        return np.column_stack([np.sin(t), np.cos(2.0 * t)])

    def exact(t):
        return np.column_stack([np.cos(t), -2.0 * np.sin(2.0 * t)])

    cases = []

    def add(name, t_grid, t_arg, order, drop_endpoints=False):
        x = signal(t_grid)
        fd = ps.FiniteDifference(order=order, drop_endpoints=drop_endpoints)
        # FiniteDifference.__call__(x, t) == _differentiate(x, t) in 2.1.0.
        dx = np.asarray(fd(x, t_arg))
        half = (fd.n_stencil - 1) // 2
        interior = list(range(half, n - half))
        cases.append(
            {
                "name": name,
                "order": order,
                "uniform": bool(np.isscalar(t_arg)),
                "dt": float(t_arg) if np.isscalar(t_arg) else None,
                "drop_endpoints": drop_endpoints,
                "n_stencil_centered": int(fd.n_stencil),
                "n_stencil_boundary": int(fd.n_stencil_forward),
                "interior_rows": [interior[0], interior[-1]],
                "t": to_json(t_grid),
                "x": to_json(x),
                "dx": to_json(dx),
                "dx_exact": to_json(exact(t_grid)),
            }
        )

    add("nonuniform_order2", t_nonuni, t_nonuni, 2)
    add("nonuniform_order4", t_nonuni, t_nonuni, 4)
    add("uniform_order2", t_uni, dt, 2)
    add("uniform_order4", t_uni, dt, 4)
    add("nonuniform_order2_drop_endpoints", t_nonuni, t_nonuni, 2, True)

    notes = (
        "x = [sin t, cos 2t] (n x 2); dx = ps.FiniteDifference(order=k)(x, t). "
        "Nonuniform grid: t_i = 0.05 i + 0.01 sin(i), i = 0..20, t passed as an "
        "array (general Vandermonde stencils). Uniform grid: t_i = 0.05 i, t "
        "passed as the scalar dt=0.05 (constant stencil). "
        "interior_rows = [first, last] (inclusive) rows computed with the "
        "centered stencil of n_stencil_centered = order+1 points: rows 1..19 "
        "for order 2, rows 2..18 for order 4. With drop_endpoints=False (the "
        "default, and what SINDy.fit uses) the remaining rows are NOT NaN: "
        "each of the first (resp. last) half=(n_stencil_centered-1)/2 rows uses "
        "one shared one-sided stencil on the first (resp. last) "
        "n_stencil_boundary = order+1 samples (t[0..order], resp. "
        "t[n-1-order..n-1]), evaluated at that row's own time. "
        "With drop_endpoints=True those rows are NaN, stored as null. "
        "dx_exact is the analytic derivative, for orientation only."
    )
    return {"notes": notes, "cases": cases}


# --------------------------------------------------------------------------
# STLSQ
# --------------------------------------------------------------------------


def stlsq_cases():
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((200, 6))
    coef_true = np.array(
        [
            [1.5, 0.0, -0.8, 0.0, 0.05, 2.0],
            [0.0, -1.2, 0.0, 0.3, 0.0, 0.08],
        ]
    )
    noise = rng.standard_normal((200, 2))
    y = theta @ coef_true.T + 0.01 * noise

    variants = [
        ("default", {}),
        ("normalize_columns", {"normalize_columns": True}),
        ("threshold0.5_alpha0", {"threshold": 0.5, "alpha": 0.0}),
        ("no_unbias", {"unbias": False}),
    ]
    fits = []
    for name, kw in variants:
        opt = ps.STLSQ(**kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt.fit(theta, y)
        params = opt.get_params()
        fits.append(
            {
                "name": name,
                "params": {
                    "threshold": float(params["threshold"]),
                    "alpha": float(params["alpha"]),
                    "max_iter": int(params["max_iter"]),
                    "normalize_columns": bool(params["normalize_columns"]),
                    "unbias": bool(params["unbias"]),
                },
                "coef": to_json(opt.coef_),
                "support": np.asarray(opt.ind_, dtype=bool).tolist(),
                "n_history": len(opt.history_),
            }
        )

    notes = (
        "theta = default_rng(0).standard_normal((200, 6)); noise = the same "
        "generator's next standard_normal((200, 2)); y = theta @ coef_true.T + "
        "0.01 * noise (200 x 2). coef = ps.STLSQ(**params).fit(theta, y).coef_, "
        "shape (2, 6). STLSQ: initial guess = plain least squares "
        "(np.linalg.lstsq); then up to max_iter rounds of ridge regression "
        "(||y - Xw||^2 + alpha ||w||^2, sklearn ridge_regression, no intercept) "
        "on the active columns and zeroing |w| < threshold, per target, "
        "stopping when the support stops changing; finally (unbias=True) an "
        "unregularized least-squares refit on the support. With "
        "normalize_columns=True the columns are divided by their L2 norms "
        "before all of that (so the threshold applies to the scaled "
        "coefficients) and the result is divided by the norms afterwards. "
        "n_history = len(history_) = 1 (initial guess) + iterations run."
    )
    return {
        "notes": notes,
        "theta": to_json(theta),
        "y": to_json(y),
        "coef_true": to_json(coef_true),
        "fits": fits,
    }


# --------------------------------------------------------------------------
# Polynomial library
# --------------------------------------------------------------------------


def polynomial_library_cases():
    x = np.array(
        [
            [1.0, 2.0, 3.0],
            [0.5, -1.0, 2.0],
            [-2.0, 0.25, 1.5],
            [3.0, -0.5, -1.0],
        ]
    )
    libs = [
        ("degree3", {"degree": 3}),
        (
            "degree2_interaction_only_no_bias",
            {"degree": 2, "interaction_only": True, "include_bias": False},
        ),
        ("degree2", {"degree": 2}),
    ]
    out = []
    for name, kw in libs:
        lib = ps.PolynomialLibrary(**kw)
        lib.fit(x)
        theta = np.asarray(lib.transform(x))
        out.append(
            {
                "name": name,
                "params": kw,
                "feature_names": lib.get_feature_names(),
                "feature_names_xyz": lib.get_feature_names(["x", "y", "z"]),
                "powers": np.asarray(lib.powers_).astype(int).tolist(),
                "transform": to_json(theta),
            }
        )
    notes = (
        "Inputs named x0, x1, x2 by default. Feature name format: '1' for the "
        "bias; variables in input order joined by a single space; exponent "
        "written as '^k' only when k > 1 (e.g. 'x0 x2', 'x0^2', 'x0^2 x1'). "
        "Column order is sklearn PolynomialFeatures order: by total degree, "
        "then lexicographic in combinations_with_replacement of the input "
        "indices (degree 2: x0^2, x0 x1, x0 x2, x1^2, x1 x2, x2^2). "
        "powers[i][j] = exponent of input j in feature i. transform is "
        "lib.fit(x).transform(x) on the 4 x 3 input x."
    )
    return {"notes": notes, "x": to_json(x), "libraries": out}


def main():
    if ps.__version__ != EXPECTED_PYSINDY:
        print(
            f"warning: pysindy {ps.__version__} != {EXPECTED_PYSINDY}; "
            "the golden file is meant to come from 2.1.0",
            file=sys.stderr,
        )
    import scipy
    import sklearn

    golden = {
        "generator": "tests/data/golden/make_golden.py",
        "versions": {
            "pysindy": ps.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "conventions": "arrays row-major nested lists; NaN stored as null",
        "finite_difference": finite_difference_cases(),
        "stlsq": stlsq_cases(),
        "polynomial_library": polynomial_library_cases(),
    }
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
