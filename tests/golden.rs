//! Agreement with PySINDy 2.1.0 on fixtures written by `tests/data/golden/make_golden.py`.

use cellsindy::data::TimeGrid;
use cellsindy::differentiate::{Differentiator, FiniteDifference};
use cellsindy::library::{FeatureLibrary, PolynomialLibrary};
use cellsindy::optimize::{SparseRegressor, Stlsq};
use ndarray::Array2;
use serde_json::Value;

fn golden() -> Value {
    let text = include_str!("data/golden/pysindy_golden.json");
    serde_json::from_str(text).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
}

#[test]
fn finite_differences_match_pysindy_on_every_row() {
    let g = golden();
    let cases = g["finite_difference"]["cases"].as_array().unwrap();
    let mut checked = 0;
    for case in cases {
        if case["drop_endpoints"].as_bool().unwrap() {
            continue; // we never produce NaN endpoints
        }
        let order = case["order"].as_u64().unwrap() as usize;
        let x = matrix(&case["x"]);
        let t: Vec<f64> = case["t"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let grid = if case["uniform"].as_bool().unwrap() {
            TimeGrid::uniform(t[0], case["dt"].as_f64().unwrap(), t.len()).unwrap()
        } else {
            TimeGrid::samples(t).unwrap()
        };
        let dx = FiniteDifference::new(order)
            .unwrap()
            .differentiate(x.view(), &grid)
            .unwrap();
        let want = matrix(&case["dx"]);
        for ((i, j), w) in want.indexed_iter() {
            assert!(
                (dx[(i, j)] - w).abs() < 1e-9 * (1.0 + w.abs()),
                "{}: row {i} col {j}: {} vs {w}",
                case["name"],
                dx[(i, j)]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn stlsq_matches_pysindy() {
    let g = golden();
    let st = &g["stlsq"];
    let theta = matrix(&st["theta"]);
    let y = matrix(&st["y"]);
    for fit in st["fits"].as_array().unwrap() {
        let p = &fit["params"];
        let model = Stlsq::params()
            .threshold(p["threshold"].as_f64().unwrap())
            .alpha(p["alpha"].as_f64().unwrap())
            .max_iter(p["max_iter"].as_u64().unwrap() as usize)
            .normalize_columns(p["normalize_columns"].as_bool().unwrap())
            .unbias(p["unbias"].as_bool().unwrap())
            .check()
            .unwrap();
        let ours = model.fit(theta.view(), y.view()).unwrap();
        let want = matrix(&fit["coef"]); // (n_targets, n_features)
        for ((j, i), w) in want.indexed_iter() {
            let c = ours.coef[(i, j)];
            assert_eq!(
                c != 0.0,
                *w != 0.0,
                "{}: support differs at feature {i}, target {j}",
                fit["name"]
            );
            assert!(
                (c - w).abs() < 1e-8 * (1.0 + w.abs()),
                "{}: {c} vs {w}",
                fit["name"]
            );
        }
    }
}

#[test]
fn polynomial_library_matches_pysindy() {
    let g = golden();
    let pl = &g["polynomial_library"];
    let x = matrix(&pl["x"]);
    for lib in pl["libraries"].as_array().unwrap() {
        let p = &lib["params"];
        let ours = PolynomialLibrary::new(p["degree"].as_u64().unwrap() as u32)
            .unwrap()
            .interaction_only(p["interaction_only"].as_bool().unwrap_or(false))
            .include_bias(p["include_bias"].as_bool().unwrap_or(true));
        let inputs: Vec<String> = ["x0", "x1", "x2"].iter().map(|s| s.to_string()).collect();
        let names: Vec<String> = lib["feature_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ours.feature_names(&inputs), names, "{}", lib["name"]);
        let out = ours.transform(x.view()).unwrap();
        let want = matrix(&lib["transform"]);
        assert_eq!(out.dim(), want.dim());
        for (a, b) in out.iter().zip(want.iter()) {
            assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()));
        }
    }
}
