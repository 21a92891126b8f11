//! Shared fixtures.
#![allow(dead_code)]

pub mod gene;

use cellsindy::prelude::*;
use cellsindy::simulate::SolverConfig;
use cellsindy::systems::{simulate_system, true_coefficients, SystemKind};
use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// Lorenz from (-8, 8, 27), reference accuracy.
pub fn lorenz(n: usize, dt: f64) -> Trajectory {
    let sys = SystemKind::Lorenz.build();
    let t = TimeGrid::uniform(0.0, dt, n).unwrap();
    simulate_system(&sys, &sys.default_x0(), &t, &SolverConfig::reference()).unwrap()
}

/// Adds Gaussian noise of `level` × each column's standard deviation.
pub fn with_noise(tr: &Trajectory, level: f64, seed: u64) -> Trajectory {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x: Array2<f64> = tr.x().to_owned();
    for j in 0..x.ncols() {
        let sd = x.column(j).std(0.0) * level;
        let d = Normal::new(0.0, sd).unwrap();
        for v in x.column_mut(j) {
            *v += d.sample(&mut rng);
        }
    }
    Trajectory::with_names(x, tr.t().clone(), tr.names().to_vec()).unwrap()
}

/// (exact support, max relative error over true terms, spurious count) of a polynomial fit.
pub fn score_against(model: &Sindy, sys: &dyn OdeSystem) -> (bool, f64, usize) {
    let ex = model.library().exponents(sys.dim()).unwrap();
    let truth = true_coefficients(sys, &ex).unwrap();
    let c = model.coefficients();
    let mut exact = true;
    let mut err: f64 = 0.0;
    let mut spurious = 0;
    for ((i, j), &v) in truth.indexed_iter() {
        let f = c[(i, j)];
        if (v != 0.0) != (f != 0.0) {
            exact = false;
            if v == 0.0 {
                spurious += 1;
            }
        }
        if v != 0.0 {
            err = err.max(((f - v) / v).abs());
        }
    }
    (exact, err, spurious)
}

/// A Python that imports `module` (e.g. `"anndata"`): `CELLSINDY_PYTHON` if set, else `python3`
/// if it has the module. `None` means "skip the interoperability test", unless
/// `CELLSINDY_REQUIRE_PYTHON=1` (CI sets it), which makes a missing Python a failure.
pub fn python_with(module: &str) -> Option<String> {
    let has = |py: &str| {
        std::process::Command::new(py)
            .args(["-c", &format!("import {module}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let candidate = std::env::var("CELLSINDY_PYTHON").unwrap_or_else(|_| "python3".into());
    if has(&candidate) {
        return Some(candidate);
    }
    if std::env::var("CELLSINDY_REQUIRE_PYTHON").as_deref() == Ok("1") {
        panic!("CELLSINDY_REQUIRE_PYTHON=1 but `{candidate}` cannot import {module}: set CELLSINDY_PYTHON");
    }
    println!("skipped: no python with {module} (set CELLSINDY_PYTHON to run this test)");
    None
}
