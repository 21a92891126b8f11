//! The gene transformer: one training step (forward, loss, backward, AdamW) and one forward
//! pass, at the CLI's default architecture and at the reference one (d 128, 4 layers).
//! `bash benches/compare_torch.sh` compares the reference configuration with PyTorch.

use candle_core::Device;
use cellsindy::nn::data::{collate, step_masks, tokenize_training_cell, Collated};
use cellsindy::nn::optim::AdamW;
use cellsindy::nn::train::masked_loss;
use cellsindy::nn::{Architecture, TokenizerConfig, TrainConfig, TrainData, Trainer};
use cellsindy::synthetic::{generate, BrainParams};
use cellsindy::tokenize::fit_tokenizer;
use criterion::{criterion_group, Criterion, Throughput};

fn setup(arch: Architecture, batch: usize) -> (Trainer, Collated, TrainConfig) {
    let brain = generate(
        &BrainParams::default()
            .n_cells(500)
            .n_background_genes(500)
            .seed(2),
    )
    .unwrap();
    let tc = TokenizerConfig {
        n_top_genes: 256,
        ..TokenizerConfig::default()
    };
    let (tok, sub) = fit_tokenizer(&brain.matrix, &tc).unwrap();
    let cfg = TrainConfig {
        batch_size: batch,
        ..TrainConfig::default()
    };
    let data = TrainData::memory(tok.prepare(&sub).unwrap(), &cfg).unwrap();
    let mut reader = data.reader(&cfg, 0, 0).unwrap();
    let cells: Vec<_> = (0..batch)
        .map(|_| {
            let pos = reader.position();
            tokenize_training_cell(&tok, 0, pos, &reader.next_row().unwrap(), 0.0).unwrap()
        })
        .collect();
    let masks = step_masks(&cells, cfg.mask, 0, 0);
    let batch = collate(&cells, Some(&masks), tok.binning.n_bins, 0, &Device::Cpu).unwrap();
    (
        Trainer::new(tok, &arch, cfg.clone(), &Device::Cpu).unwrap(),
        batch,
        cfg,
    )
}

fn transformer(c: &mut Criterion) {
    for (name, arch) in [
        ("default", Architecture::default()),
        ("reference", Architecture::reference()),
    ] {
        let (t, b, cfg) = setup(arch, 32);
        let mut opt = AdamW::new(&t.params);
        let mut g = c.benchmark_group(format!("transformer_{name}_batch32x256"));
        g.throughput(Throughput::Elements(b.n_tokens as u64));
        g.bench_function("train_step", |bench| {
            bench.iter(|| {
                let logits = t.model().forward(&b.input).unwrap();
                let loss = masked_loss(&logits, &b.targets, &b.weights, b.n_tokens as f64).unwrap();
                let grads = loss.backward().unwrap();
                opt.step(&t.params, &grads, &cfg, 1e-4).unwrap();
            })
        });
        g.bench_function("forward", |bench| {
            bench.iter(|| t.model().forward(&b.input).unwrap())
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = transformer
}
