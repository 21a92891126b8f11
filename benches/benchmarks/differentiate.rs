use cellsindy::differentiate::{Differentiator, FiniteDifference, SavitzkyGolay, WeakForm};
use criterion::{criterion_group, Criterion, Throughput};

fn differentiate(c: &mut Criterion) {
    let tr = super::lorenz(100_000);
    let mut g = c.benchmark_group("differentiate_1e5");
    g.throughput(Throughput::Elements(100_000));
    let fd2 = FiniteDifference::new(2).unwrap();
    let fd4 = FiniteDifference::new(4).unwrap();
    let sg = SavitzkyGolay::new(21, 3).unwrap();
    let weak = WeakForm::new(201, 4).unwrap();
    g.bench_function("fd2", |b| {
        b.iter(|| fd2.differentiate(tr.x(), tr.t()).unwrap())
    });
    g.bench_function("fd4", |b| {
        b.iter(|| fd4.differentiate(tr.x(), tr.t()).unwrap())
    });
    g.bench_function("savitzky_golay_21_3", |b| {
        b.iter(|| sg.differentiate(tr.x(), tr.t()).unwrap())
    });
    g.bench_function("weak_201", |b| {
        b.iter(|| weak.differentiate(tr.x(), tr.t()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, differentiate);
