#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Driver for `benches/sindy_suite.sh`: simulates every case of
//! [`cellsindy::systems::suite`] at noise 0/1/5/10 % (several seeds), fits each with
//! cellsindy's defaults and with the alternative sparsity rules they were chosen over, and
//! writes the data (`.npy`), `manifest.json` and `rust.json` for `sindy_suite.py`, which fits
//! PySINDy on the very same files and prints the table.
//!
//! `cargo bench --bench sindy_suite -- --out DIR [--case NAME] [--seeds N]`

use std::path::PathBuf;
use std::time::Instant;

use cellsindy::data::Trajectory;
use cellsindy::differentiate::{DiffChoice, DiffConfig};
use cellsindy::io::write_npy;
use cellsindy::model::{Criterion, Sindy};
use cellsindy::optimize::{AutoParams, AutoRule, SparseRegressor, StlsqParams};
use cellsindy::systems::suite::{cases, SuiteCase};
use serde_json::json;

const NOISES: [f64; 4] = [0.0, 0.01, 0.05, 0.1];

/// The rule `--diff auto` followed before automatic sparsity: a weak form of 201 samples
/// (n/4 for shorter records, finite differences below 21).
fn old_auto_diff(trajs: &[Trajectory]) -> DiffConfig {
    let shortest = trajs.iter().map(Trajectory::n_samples).min().unwrap_or(0);
    let mut w = (shortest / 4).min(201);
    if w % 2 == 0 {
        w = w.saturating_sub(1);
    }
    if w >= 21 {
        DiffConfig::Weak {
            window: w,
            order: 4,
        }
    } else {
        DiffConfig::FiniteDifference { order: 4 }
    }
}

fn fit(case: &SuiteCase, trajs: &[Trajectory], method: &str) -> cellsindy::Result<Sindy> {
    let lib = case.library.build()?;
    let auto = match std::env::var("SUITE_SNR") {
        Ok(v) => cellsindy::differentiate::auto_diff_snr(trajs, v.parse().unwrap()),
        Err(_) => DiffChoice::Auto.resolve(trajs),
    };
    let old = old_auto_diff(trajs);
    let stlsq = |t: f64| StlsqParams::default().threshold(t).continuation(10).check();
    let rule = |r: AutoRule| AutoParams::default().rule(r).check();
    let (diff, optimizer): (DiffConfig, Box<dyn SparseRegressor>) = match method {
        "cv" => (auto, Box::new(rule(AutoRule::CrossValidation)?)),
        "bic" => (auto, Box::new(rule(AutoRule::Bic)?)),
        "knee" => (auto, Box::new(rule(AutoRule::Knee)?)),
        "cv_weak201" => (old, Box::new(rule(AutoRule::CrossValidation)?)),
        "old_default" | "old_heldout" => (old, Box::new(stlsq(0.2)?)),
        _ => panic!("unknown method {method}"),
    };
    let params = Sindy::params()
        .library_boxed(lib)
        .differentiator_boxed(diff.build()?)
        .optimizer_boxed(optimizer);
    match method {
        "old_heldout" => Ok(params.select_threshold(trajs, None, Criterion::HeldOut)?.0),
        _ => params.fit(trajs),
    }
}

const METHODS: [&str; 6] = [
    "cv",
    "bic",
    "knee",
    "cv_weak201",
    "old_default",
    "old_heldout",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let out = PathBuf::from(get("--out").unwrap_or_else(|| "target/sindy-suite".into()));
    let only = get("--case");
    let seeds: u64 = get("--seeds").map_or(3, |s| s.parse().unwrap());
    std::fs::create_dir_all(&out).unwrap();
    let mut manifest = Vec::new();
    let mut results = Vec::new();
    let design_only = std::env::var("SUITE_DESIGN_ONLY").is_ok();
    let cases: Vec<SuiteCase> = cases()
        .into_iter()
        .filter(|c| !(design_only && c.held_out))
        .filter(|c| only.as_ref().is_none_or(|o| *o == c.name))
        .collect();
    for case in cases.clone() {
        for &noise in &NOISES {
            let n_seeds = if noise == 0.0 { 1 } else { seeds };
            for seed in 0..n_seeds {
                let trajs = case.simulate(noise, seed).unwrap();
                let mut files = Vec::new();
                for (k, tr) in trajs.iter().enumerate() {
                    let f = format!(
                        "{}_n{}_s{}_t{}.npy",
                        case.name,
                        (noise * 100.0).round(),
                        seed,
                        k
                    );
                    write_npy(&out.join(&f), &tr.x().to_owned()).unwrap();
                    files.push(f);
                }
                manifest.push(json!({
                    "case": case.name, "held_out": case.held_out, "noise": noise, "seed": seed,
                    "dt": case.dt, "names": case.names, "library": case.library,
                    "truth": case.truth, "files": files,
                }));
                for method in METHODS {
                    let tic = Instant::now();
                    let res = fit(&case, &trajs, method);
                    let secs = tic.elapsed().as_secs_f64();
                    let row = match res {
                        Ok(m) => {
                            let s = case.score(&m);
                            if std::env::var("SUITE_TRACE").is_ok()
                                && method == "cv"
                                && !s.exact_support
                            {
                                for (j, eq) in m.info().selection.iter().flatten().enumerate() {
                                    eprintln!(
                                        "{} noise {noise} seed {seed} eq {j} chosen {}",
                                        case.name, eq.chosen
                                    );
                                    for (k, p) in eq.path.iter().enumerate() {
                                        if p.support.len() <= 6 {
                                            let names: Vec<&str> = p
                                                .support
                                                .iter()
                                                .map(|&i| m.feature_names()[i].as_str())
                                                .collect();
                                            eprintln!(
                                                "  {k:3} cv {:.4e} se {:.2e} thr {:.2e} {:?}",
                                                p.cv.unwrap_or(f64::NAN),
                                                p.cv_se.unwrap_or(f64::NAN),
                                                p.threshold.unwrap_or(f64::NAN),
                                                names
                                            );
                                        }
                                    }
                                }
                            }
                            json!({"case": case.name, "held_out": case.held_out, "noise": noise, "seed": seed,
                                   "method": method, "exact": s.exact_support, "max_rel_err": s.max_rel_err,
                                   "spurious": s.spurious, "missing": s.missing, "seconds": secs})
                        }
                        Err(e) => {
                            json!({"case": case.name, "held_out": case.held_out, "noise": noise, "seed": seed,
                                         "method": method, "exact": false, "max_rel_err": 1.0, "error": e.to_string(), "seconds": secs})
                        }
                    };
                    results.push(row);
                }
            }
            eprint!(".");
        }
        eprintln!(" {}", case.name);
    }
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    std::fs::write(
        out.join("rust.json"),
        serde_json::to_string_pretty(&results).unwrap(),
    )
    .unwrap();
    // Table: exact-support rate per case and noise for each method.
    println!(
        "{:<18} {:>5} {}",
        "case",
        "noise",
        METHODS.map(|m| format!("{m:>12}")).join("")
    );
    for case in &cases {
        for &noise in &NOISES {
            let cells: Vec<String> = METHODS
                .iter()
                .map(|m| {
                    let rows: Vec<&serde_json::Value> = results
                        .iter()
                        .filter(|r| {
                            r["case"] == case.name.as_str()
                                && r["noise"] == noise
                                && r["method"] == *m
                        })
                        .collect();
                    let ok = rows.iter().filter(|r| r["exact"] == true).count();
                    let err = rows
                        .iter()
                        .map(|r| r["max_rel_err"].as_f64().unwrap())
                        .fold(0.0f64, f64::max);
                    format!("{:>5}/{} {:>5.0e}", ok, rows.len(), err)
                })
                .collect();
            println!("{:<18} {:>5} {}", case.name, noise, cells.join(""));
        }
    }
    for held in [false, true] {
        let part = if held { "held-out" } else { "design" };
        let cells: Vec<String> = METHODS
            .iter()
            .map(|m| {
                let rows: Vec<&serde_json::Value> = results
                    .iter()
                    .filter(|r| r["held_out"] == held && r["method"] == *m)
                    .collect();
                let ok = rows.iter().filter(|r| r["exact"] == true).count();
                format!("{:>7}/{:<4}", ok, rows.len())
            })
            .collect();
        println!("{:<24} {}", part, cells.join(""));
    }
}
