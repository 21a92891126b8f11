#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Driver for `benches/compare_pysindy.sh`: writes the Lorenz data sets, times cellsindy on
//! them, and writes `manifest.json` + `rust.json` for `compare_pysindy.py` to time PySINDy on
//! the very same files.
//!
//! `cargo bench --bench sindy_vs_pysindy -- --out DIR [--quick]`

use std::path::{Path, PathBuf};

use cellsindy::io::write_npy;
use cellsindy::linalg::NormalEquations;
use cellsindy::prelude::*;
use cellsindy::simulate::SolverConfig;
use cellsindy::systems::{simulate_system, true_coefficients, SystemKind};
use ndarray::{s, Array2};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde_json::json;

const DT: f64 = 0.002;

#[path = "common/timing.rs"]
mod timing;
use timing::median_time;

/// The bare cost: build Θ once (in cache-sized chunks) and accumulate ΘᵀΘ, ΘᵀẊ.
fn theta_gram(x: &Array2<f64>, degree: u32) {
    let lib = PolynomialLibrary::new(degree).unwrap();
    let p = lib.n_output_features(3);
    let mut ne = NormalEquations::zeros(p, 3);
    let n = x.nrows();
    let mut i = 0;
    let mut buf = Array2::zeros((4096, p));
    while i < n {
        let k = 4096.min(n - i);
        if k != buf.nrows() {
            buf = Array2::zeros((k, p));
        }
        lib.transform_into(x.slice(s![i..i + k, ..]), buf.view_mut())
            .unwrap();
        ne.accumulate(buf.view(), x.slice(s![i..i + k, ..]))
            .unwrap();
        i += k;
    }
    std::hint::black_box(ne);
}

fn accuracy(model: &Sindy) -> (bool, f64, usize) {
    let sys = SystemKind::Lorenz.build();
    let truth = true_coefficients(&sys, &model.library().exponents(3).unwrap()).unwrap();
    let c = model.coefficients();
    let mut exact = true;
    let mut err: f64 = 0.0;
    for ((i, j), &v) in truth.indexed_iter() {
        if (v != 0.0) != (c[(i, j)] != 0.0) {
            exact = false;
        }
        if v != 0.0 {
            err = err.max(((c[(i, j)] - v) / v).abs());
        }
    }
    (exact, err, model.complexity())
}

fn lorenz(n: usize) -> Trajectory {
    let sys = SystemKind::Lorenz.build();
    let t = TimeGrid::uniform(0.0, DT, n).unwrap();
    simulate_system(&sys, &sys.default_x0(), &t, &SolverConfig::reference()).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/pysindy-compare"));
    std::fs::create_dir_all(&out).unwrap();
    let sizes: Vec<usize> = if quick {
        vec![10_000]
    } else {
        vec![10_000, 100_000, 1_000_000]
    };
    let write = |name: &str, x: &Array2<f64>| write_npy(&out.join(name), x).unwrap();

    let mut fit_cases = Vec::new();
    let mut fit_results = Vec::new();
    for &n in &sizes {
        let tr = lorenz(n);
        let file = format!("lorenz_n{n}.npy");
        write(&file, &tr.x().to_owned());
        let reps = match n {
            0..=10_000 => 100,
            10_001..=100_000 => 30,
            _ => 5,
        };
        for degree in [2u32, 3, 5] {
            fit_cases.push(json!({"file": file, "n": n, "degree": degree}));
            // Like for like with PySINDy's fit: a fixed differentiator and STLSQ at PySINDy's
            // defaults (the automatic choices are timed by the whole-process comparison).
            let fd4 = Sindy::params()
                .library(PolynomialLibrary::new(degree).unwrap())
                .differentiator(FiniteDifference::new(4).unwrap())
                .optimizer(Stlsq::default());
            let fd2 = fd4
                .clone()
                .differentiator(FiniteDifference::new(2).unwrap());
            let one = std::slice::from_ref(&tr);
            let t4 = median_time(reps, || {
                std::hint::black_box(fd4.fit(one).unwrap());
            });
            let t2 = median_time(reps, || {
                std::hint::black_box(fd2.fit(one).unwrap());
            });
            let x = tr.x().to_owned();
            let tg = median_time(reps, || theta_gram(&x, degree));
            println!(
                "fit n={n:>8} degree={degree}: {:>9.3} ms (FD4), {:>9.3} ms (FD2), bare Θ+Gram {:>9.3} ms, fit/bare {:.2}",
                t4 * 1e3,
                t2 * 1e3,
                tg * 1e3,
                t4 / tg
            );
            fit_results.push(
                json!({"file": file, "n": n, "degree": degree, "seconds": t4,
                "seconds_fd2": t2, "theta_gram_seconds": tg}),
            );
        }
    }

    // Accuracy on clean data (criterion 1) with 4th-order differences and STLSQ's defaults.
    let clean_tr = lorenz(10_000);
    let mut clean = Vec::new();
    let mut clean_cases = Vec::new();
    for degree in [2u32, 3, 5] {
        let m = Sindy::params()
            .library(PolynomialLibrary::new(degree).unwrap())
            .differentiator(FiniteDifference::new(4).unwrap())
            .optimizer(Stlsq::default())
            .fit(std::slice::from_ref(&clean_tr))
            .unwrap();
        let (exact, err, k) = accuracy(&m);
        println!("clean degree={degree}: exact support {exact}, max rel err {err:.3e}, {k} terms");
        clean.push(
            json!({"degree": degree, "n_terms": k, "exact_support": exact, "max_rel_err": err}),
        );
        clean_cases.push(json!({"file": "lorenz_n10000.npy", "degree": degree}));
    }

    // Noise (criterion 2) with the defaults: differentiator and sparsity chosen from the data.
    let base = lorenz(100_000);
    let x0 = base.x().to_owned();
    let std: Vec<f64> = (0..3).map(|j| x0.column(j).std(0.0)).collect();
    let mut noise = Vec::new();
    let mut noise_cases = Vec::new();
    for level in [0.01, 0.05, 0.10] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut x = x0.clone();
        for (j, sd) in std.iter().enumerate() {
            let d = Normal::new(0.0, level * sd).unwrap();
            for v in x.column_mut(j) {
                *v += d.sample(&mut rng);
            }
        }
        let file = format!("lorenz_noise{}.npy", (level * 100.0).round() as u32);
        write(&file, &x);
        let tr = Trajectory::new(x, base.t().clone()).unwrap();
        let m = Sindy::params()
            .library(PolynomialLibrary::new(3).unwrap())
            .fit(&[tr])
            .unwrap();
        let (exact, err, k) = accuracy(&m);
        println!(
            "noise {:>4.0}%: exact support {exact}, max rel err {err:.3e}, {k} terms",
            level * 100.0
        );
        noise.push(
            json!({"noise": level, "exact_support": exact, "max_rel_err": err, "n_terms": k}),
        );
        noise_cases.push(json!({"file": file, "noise": level, "n": 100_000, "degree": 3}));
    }

    // Simulation of the identified degree-2 model, 10k steps, PySINDy's tolerances (1e-12).
    let model = Sindy::params()
        .fit(std::slice::from_ref(&clean_tr))
        .unwrap();
    let grid = TimeGrid::uniform(0.0, DT, 10_000).unwrap();
    let tight = SolverConfig {
        rtol: 1e-12,
        atol: 1e-12,
        ..SolverConfig::default()
    };
    let x0v = [-8.0, 8.0, 27.0];
    let ts = median_time(10, || {
        std::hint::black_box(model.simulate(&x0v, &grid, None, &tight).unwrap());
    });
    let ts_default = median_time(10, || {
        std::hint::black_box(
            model
                .simulate(&x0v, &grid, None, &SolverConfig::default())
                .unwrap(),
        );
    });
    println!(
        "simulate 10k steps: {:.3} ms (rtol 1e-12), {:.3} ms (default rtol 1e-10)",
        ts * 1e3,
        ts_default * 1e3
    );

    let manifest = json!({
        "dt": DT,
        "fit_cases": fit_cases,
        "noise_cases": noise_cases,
        "clean_cases": clean_cases,
        "simulate": {"model_file": "lorenz_n10000.npy", "degree": 2, "steps": 10_000, "x0": x0v},
    });
    let rust = json!({
        "fit": fit_results,
        "simulate": {"steps": 10_000, "seconds": ts, "seconds_default_tol": ts_default},
        "clean": clean,
        "noise": noise,
    });
    save(&out.join("manifest.json"), &manifest);
    save(&out.join("rust.json"), &rust);
    println!("wrote {}", out.display());
}

fn save(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}
