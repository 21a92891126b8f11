use cellsindy::prelude::*;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

fn fit(c: &mut Criterion) {
    let mut g = c.benchmark_group("sindy_fit");
    for n in [10_000usize, 100_000] {
        let tr = super::lorenz(n);
        g.throughput(Throughput::Elements(n as u64));
        for degree in [2u32, 3, 5] {
            let params = Sindy::params().library(PolynomialLibrary::new(degree).unwrap());
            g.bench_with_input(
                BenchmarkId::new(format!("n{n}"), degree),
                &params,
                |b, p| b.iter(|| p.fit(std::slice::from_ref(&tr)).unwrap()),
            );
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = fit
}
