//! Probe kernels: mean pairwise Spearman and PCA on synthetic-brain expression. The peer
//! comparison (scipy, scanpy) at full size is `benches/compare_probes.sh`.

use cellsindy::baselines::{MlpImputer, MlpParams, Pca, PcaSolver};
use cellsindy::expression::normalize::{log1p, normalize_total};
use cellsindy::probes::spearman;
use cellsindy::synthetic::{generate, BrainParams};
use criterion::{criterion_group, Criterion};
use ndarray::{s, Array2};

fn probes(c: &mut Criterion) {
    let brain = generate(
        &BrainParams::default()
            .n_cells(5_000)
            .n_background_genes(500),
    )
    .unwrap();
    let mut m = brain.matrix;
    normalize_total(&mut m, None).unwrap();
    log1p(&mut m);
    let x: Array2<f64> = m.values().to_dense().mapv(f64::from);
    let x100 = x.slice(s![.., ..100]).to_owned();
    let mut g = c.benchmark_group("probes");
    g.bench_function("spearman_5k_cells_100_genes", |b| {
        b.iter(|| spearman(x100.view()).unwrap())
    });
    g.bench_function("pca_randomized_top20_5k_cells_500_genes", |b| {
        b.iter(|| Pca::params(20).fit(x.slice(s![.., ..500])).unwrap())
    });
    g.bench_function("pca_exact_top20_5k_cells_500_genes", |b| {
        b.iter(|| {
            Pca::params(20)
                .solver(PcaSolver::Exact)
                .fit(x.slice(s![.., ..500]))
                .unwrap()
        })
    });
    g.finish();
    // The MLP baseline's fit at the probe's default size (the probe fits one on every
    // training cell and two more on alternate halves for its calibration, per XOR probe).
    let x78 = x.slice(s![.., ..78]).to_owned();
    let mut q = c.benchmark_group("baselines");
    q.sample_size(10);
    q.bench_function("mlp_fit_1500_steps_5k_cells_78_genes_2_masked", |b| {
        b.iter(|| MlpImputer::fit(x78.view(), &[0, 1], &MlpParams::default()).unwrap())
    });
    q.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = probes
}
