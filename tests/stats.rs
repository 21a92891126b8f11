//! `cellsindy::stats` against numpy / scipy / scikit-learn on the fixtures written by
//! `tests/data/golden/make_stats_golden.py`.

use cellsindy::stats;
use serde_json::Value;

fn golden() -> Value {
    serde_json::from_str(include_str!("data/golden/stats_golden.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn bools(v: &Value) -> Vec<bool> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_bool().unwrap())
        .collect()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn quantile_median_and_ranks_match_numpy_and_scipy() {
    let g = golden();
    for c in g["quantile"].as_array().unwrap() {
        let x = floats(&c["x"]);
        for (q, want) in floats(&c["q"]).into_iter().zip(floats(&c["numpy"])) {
            close(
                stats::quantile(&x, q),
                want,
                &format!("quantile {q} of {x:?}"),
            );
        }
    }
    for c in g["median"].as_array().unwrap() {
        let x = floats(&c["x"]);
        close(stats::median(&x), c["numpy"].as_f64().unwrap(), "median");
    }
    for c in g["ranks"].as_array().unwrap() {
        let got = stats::average_ranks(&floats(&c["x"]));
        for (a, b) in got.iter().zip(floats(&c["scipy"])) {
            close(*a, b, "rank");
        }
    }
}

#[test]
fn correlations_match_scipy() {
    for c in golden()["corr"].as_array().unwrap() {
        let (x, y) = (floats(&c["x"]), floats(&c["y"]));
        close(
            stats::pearson(&x, &y).unwrap(),
            c["pearson"].as_f64().unwrap(),
            "pearson",
        );
        close(
            stats::spearman(&x, &y).unwrap(),
            c["spearman"].as_f64().unwrap(),
            "spearman",
        );
    }
}

#[test]
fn binary_metrics_match_sklearn() {
    for c in golden()["binary"].as_array().unwrap() {
        let (truth, score, pred) = (bools(&c["truth"]), floats(&c["score"]), bools(&c["pred"]));
        let n_pos = truth.iter().filter(|t| **t).count();
        close(
            stats::auroc(&score, &truth).unwrap().unwrap(),
            c["auroc"].as_f64().unwrap(),
            "auroc",
        );
        close(
            stats::average_precision(&score, &truth, n_pos)
                .unwrap()
                .unwrap(),
            c["average_precision"].as_f64().unwrap(),
            "average precision",
        );
        let (ba, confusion) = stats::balanced_accuracy(&pred, &truth).unwrap();
        close(
            ba,
            c["balanced_accuracy"].as_f64().unwrap(),
            "balanced accuracy",
        );
        let want: Vec<Vec<usize>> = serde_json::from_value(c["confusion"].clone()).unwrap();
        assert_eq!(
            confusion.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            want
        );
    }
}

#[test]
fn bootstrap_cuts_its_interval_as_scipys_percentile_method() {
    let g = golden();
    let p = &g["percentile_interval"];
    let values = floats(&p["values"]);
    // The statistic replays the given resampled values (after the estimate on the data).
    let mut calls = 0usize;
    let r = stats::bootstrap(10, values.len(), p["level"].as_f64().unwrap(), 0, |_| {
        calls += 1;
        if calls == 1 {
            0.0
        } else {
            values[calls - 2]
        }
    })
    .unwrap();
    close(r.lo, p["lo"].as_f64().unwrap(), "lower end");
    close(r.hi, p["hi"].as_f64().unwrap(), "upper end");
}
