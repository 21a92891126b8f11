use cellsindy::library::{FeatureLibrary, PolynomialLibrary};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

fn transform(c: &mut Criterion) {
    let tr = super::lorenz(10_000);
    let mut g = c.benchmark_group("polynomial_transform");
    g.throughput(Throughput::Elements(10_000));
    for degree in [2u32, 3, 5] {
        let lib = PolynomialLibrary::new(degree).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(degree), &lib, |b, lib| {
            b.iter(|| lib.transform(tr.x()).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, transform);
