//! A small synthetic brain and a tiny trained model, shared by the library's probe tests and
//! the CLI crate's workflow tests.

use candle_core::Device;
use cellsindy::expression::ExpressionMatrix;
use cellsindy::nn::infer::InferenceModel;
use cellsindy::nn::{Architecture, TokenizerConfig, TrainConfig, TrainData, Trainer};
use cellsindy::synthetic::{generate, BrainParams};
use cellsindy::tokenize::{fit_tokenizer, BinSchemeKind};

pub fn brain(cells: usize, seed: u64) -> ExpressionMatrix {
    generate(
        &BrainParams::default()
            .n_cells(cells)
            .n_background_genes(60)
            .seed(seed),
    )
    .unwrap()
    .matrix
}
pub fn tiny_model(m: &ExpressionMatrix, steps: usize) -> (InferenceModel, TrainConfig) {
    tiny_model_binned(m, steps, BinSchemeKind::PerGene)
}
pub fn tiny_model_binned(
    m: &ExpressionMatrix,
    steps: usize,
    binning: BinSchemeKind,
) -> (InferenceModel, TrainConfig) {
    let (t, cfg) = tiny_trainer(m, steps, binning);
    (t.inference_model().unwrap(), cfg)
}
/// The tiny model written as a checkpoint directory (what the file-based workflows load).
pub fn tiny_checkpoint(m: &ExpressionMatrix, steps: usize, dir: &std::path::Path) -> TrainConfig {
    let (t, cfg) = tiny_trainer(m, steps, BinSchemeKind::PerGene);
    t.save(dir).unwrap();
    cfg
}
fn tiny_trainer(
    m: &ExpressionMatrix,
    steps: usize,
    binning: BinSchemeKind,
) -> (Trainer, TrainConfig) {
    let (tok, sub) = fit_tokenizer(
        m,
        &TokenizerConfig {
            n_top_genes: 0,
            max_genes: 48,
            binning,
            ..TokenizerConfig::default()
        },
    )
    .unwrap();
    let cfg = TrainConfig {
        steps,
        batch_size: 16,
        warmup_steps: 2,
        val_fraction: 0.25,
        val_cells: 32,
        val_every: 1000,
        seed: 7,
        ..TrainConfig::default()
    };
    let arch = Architecture {
        d_model: 32,
        n_layers: 1,
        n_heads: 4,
        d_ff: 64,
        ..Architecture::default()
    };
    let mut t = Trainer::new(tok.clone(), &arch, cfg.clone(), &Device::Cpu).unwrap();
    let p = tok.prepare(&sub).unwrap();
    let data = TrainData::memory(p, &t.train).unwrap();
    t.run(&data, None, None, &mut |_| {}).unwrap();
    (t, cfg)
}
