#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Criterion benchmarks (candle layout: one file per topic under `benchmarks/`).
//! CI only builds them (`cargo bench --no-run`); run with `cargo bench --bench bench_main`.

mod benchmarks;

criterion::criterion_main!(
    benchmarks::library::benches,
    benchmarks::differentiate::benches,
    benchmarks::expression::benches,
    benchmarks::fit::benches,
    benchmarks::probes::benches,
    benchmarks::simulate::benches,
    benchmarks::transformer::benches,
);
