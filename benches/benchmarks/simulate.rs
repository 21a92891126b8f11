use cellsindy::prelude::*;
use cellsindy::simulate::SolverConfig;
use criterion::{criterion_group, Criterion};

fn simulate(c: &mut Criterion) {
    let model = Sindy::params().fit(&[super::lorenz(10_000)]).unwrap();
    let grid = TimeGrid::uniform(0.0, 0.002, 10_000).unwrap();
    let tight = SolverConfig {
        rtol: 1e-12,
        atol: 1e-12,
        ..SolverConfig::default()
    };
    c.bench_function("simulate_lorenz_10k_steps_rtol1e-12", |b| {
        b.iter(|| {
            model
                .simulate(&[-8.0, 8.0, 27.0], &grid, None, &tight)
                .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = simulate
}
