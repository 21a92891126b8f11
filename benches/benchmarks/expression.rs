//! Expression data: generating the synthetic brain, reading it back (10x, h5ad), and the
//! preprocessing every gene-side run starts with. The peer comparison (scanpy, anndata) on a
//! 100k x 20k file is `benches/compare_scanpy.sh`.

use cellsindy::expression::io::{read_expression, write_expression, ReadOptions};
use cellsindy::expression::normalize::{highly_variable_genes, log1p, normalize_total, HvgFlavor};
use cellsindy::synthetic::{generate, module_spearman, BrainParams, MITO_GENES, SYNAPTIC_GENES};
use criterion::{criterion_group, Criterion, Throughput};

fn expression(c: &mut Criterion) {
    let params = BrainParams::default()
        .n_cells(5_000)
        .n_background_genes(2_000);
    let brain = generate(&params).unwrap();
    let m = brain.matrix;
    let dir = tempfile::tempdir().unwrap();
    let tenx = dir.path().join("tenx");
    let h5ad = dir.path().join("brain.h5ad");
    write_expression(&m, &tenx).unwrap();
    let have_h5ad = write_expression(&m, &h5ad).is_ok();

    let mut g = c.benchmark_group("expression");
    g.throughput(Throughput::Elements(m.values().nnz() as u64));
    g.bench_function("synth_5k_cells", |b| b.iter(|| generate(&params).unwrap()));
    g.bench_function("read_10x_gz_5k_cells", |b| {
        b.iter(|| read_expression(&tenx, &ReadOptions::default()).unwrap())
    });
    if have_h5ad {
        g.bench_function("read_h5ad_5k_cells", |b| {
            b.iter(|| read_expression(&h5ad, &ReadOptions::default()).unwrap())
        });
    }
    g.bench_function("normalize_log1p_hvg_5k_cells", |b| {
        b.iter(|| {
            let mut x = m.clone();
            normalize_total(&mut x, Some(1e4)).unwrap();
            log1p(&mut x);
            highly_variable_genes(&x, 500, HvgFlavor::Seurat { n_bins: 20 }).unwrap()
        })
    });
    g.bench_function("module_spearman_5k_cells", |b| {
        b.iter(|| module_spearman(&m, &SYNAPTIC_GENES, &MITO_GENES).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = expression
}
