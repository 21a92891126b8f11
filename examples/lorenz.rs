//! Lorenz end to end: simulate, fit SINDy (cubic library, 4th-order finite differences,
//! STLSQ with PySINDy's defaults), print the equations and their accuracy, then simulate the
//! identified model and compare it with the truth.
//!
//! ```text
//! cargo run --release --example lorenz
//! ```

use cellsindy::model::compare_with_truth;
use cellsindy::prelude::*;
use cellsindy::simulate::SolverConfig;
use cellsindy::systems::{simulate_system, SystemKind};

fn main() -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let lorenz = SystemKind::Lorenz.build();
    let x0 = lorenz.default_x0();
    let grid = TimeGrid::uniform(0.0, 0.002, 10_000)?;
    let truth = simulate_system(&lorenz, &x0, &grid, &SolverConfig::reference())?;

    let model = Sindy::params()
        .library(PolynomialLibrary::new(3)?)
        .differentiator(FiniteDifference::new(4)?)
        .fit(std::slice::from_ref(&truth))?;
    print!("{model}");

    let accuracy = compare_with_truth(&model, &lorenz)?;
    println!(
        "exact support: {}, max relative coefficient error: {:.2e}",
        accuracy.exact_support, accuracy.max_rel_err
    );

    // Lorenz is chaotic: any coefficient error eventually grows to the attractor's size, so
    // compare over a short horizon (t = 0..2, 1000 samples).
    let horizon = grid.slice(0, 1000);
    let sim = model.simulate(&x0, &horizon, None, &SolverConfig::default())?;
    let last = horizon.len() - 1;
    let diff: Vec<f64> = (0..3)
        .map(|j| sim.x()[(last, j)] - truth.x()[(last, j)])
        .collect();
    println!(
        "model vs truth at t = {}: difference [{:.2e}, {:.2e}, {:.2e}]",
        horizon.at(last),
        diff[0],
        diff[1],
        diff[2]
    );
    println!("({:.3} s)", start.elapsed().as_secs_f64());
    Ok(())
}
