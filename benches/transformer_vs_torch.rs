#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Driver for `benches/compare_torch.sh`: trains the reference gene transformer (2,000-gene
//! vocabulary, 51 bins, 256 genes per cell, d_model 128, 4 layers, 4 heads, FFN 512, batch 32,
//! AdamW) on batches from the synthetic brain, writes those very batches for
//! `compare_torch.py`, and reports training and inference throughput, peak memory and where
//! the time of a training step goes.
//!
//! `cargo bench --bench transformer_vs_torch -- --out DIR [--steps N] [--quick]`

use std::path::PathBuf;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use candle_core::Device;
use cellsindy::io::write_npy;
use cellsindy::memory::peak_rss_kb;
use cellsindy::nn::data::{collate, step_masks, tokenize_training_cell, Collated};
use cellsindy::nn::optim::{learning_rate, AdamW};
use cellsindy::nn::train::masked_loss;
use cellsindy::nn::{Architecture, MaskSchedule, TokenizerConfig, TrainConfig, TrainData, Trainer};
use cellsindy::synthetic::{generate, BrainParams};
use cellsindy::tokenize::fit_tokenizer;
use ndarray::Array2;
use serde_json::json;

/// Distinct batches both frameworks cycle through.
const N_BATCHES: usize = 8;

fn to_f64(t: &candle_core::Tensor) -> Array2<f64> {
    let (b, l) = t.dims2().unwrap();
    let v: Vec<f64> = match t.dtype() {
        candle_core::DType::U32 => t
            .flatten_all()
            .unwrap()
            .to_vec1::<u32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        _ => t
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
    };
    Array2::from_shape_vec((b, l), v).unwrap()
}

fn main() {
    // As the CLI does (see src/bin/cellsindy/main.rs): candle's elementwise ops inline.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let quick = args.iter().any(|a| a == "--quick");
    let out = PathBuf::from(arg("--out").unwrap_or_else(|| "target/torch-compare".into()));
    let steps: usize = arg("--steps")
        .map(|s| s.parse().unwrap())
        .unwrap_or(if quick { 10 } else { 30 });
    std::fs::create_dir_all(&out).unwrap();

    // Data: the synthetic brain, 2,000 highly variable genes, 256 genes per cell.
    let brain = generate(&BrainParams::default().n_cells(4000).seed(1)).unwrap();
    let tc = TokenizerConfig {
        n_top_genes: 2000,
        max_genes: 256,
        ..TokenizerConfig::default()
    };
    let (tok, sub) = fit_tokenizer(&brain.matrix, &tc).unwrap();
    assert_eq!(tok.vocab.n_genes(), 2000);
    // The reference run's own settings (not the CLI's defaults, which may move): MDLM masking,
    // batch 32, lr 2e-3, as compare_torch.py reproduces them.
    let cfg = TrainConfig {
        steps: 1_000_000,
        batch_size: 32,
        lr: 2e-3,
        warmup_steps: 10,
        mask: MaskSchedule::Diffusion {
            min_ratio: 0.05,
            max_ratio: 1.0,
        },
        ..TrainConfig::default()
    };
    let data = TrainData::memory(tok.prepare(&sub).unwrap(), &cfg).unwrap();
    let mut reader = data.reader(&cfg, 0, 0).unwrap();
    let t_data = Instant::now();
    let mut batches: Vec<Collated> = Vec::new();
    for s in 0..N_BATCHES {
        let cells: Vec<_> = (0..cfg.batch_size)
            .map(|_| {
                let pos = reader.position();
                let row = reader.next_row().unwrap();
                tokenize_training_cell(&tok, cfg.seed, pos, &row, 0.0).unwrap()
            })
            .collect();
        let masks = step_masks(&cells, cfg.mask, cfg.seed, s as u64);
        batches.push(collate(&cells, Some(&masks), tok.binning.n_bins, 0, &Device::Cpu).unwrap());
    }
    let data_secs_per_batch = t_data.elapsed().as_secs_f64() / N_BATCHES as f64;
    for (i, b) in batches.iter().enumerate() {
        write_npy(&out.join(format!("genes_{i}.npy")), &to_f64(&b.input.genes)).unwrap();
        write_npy(&out.join(format!("bins_{i}.npy")), &to_f64(&b.input.bins)).unwrap();
        write_npy(&out.join(format!("targets_{i}.npy")), &to_f64(&b.targets)).unwrap();
        write_npy(&out.join(format!("weights_{i}.npy")), &to_f64(&b.weights)).unwrap();
    }
    let arch = Architecture::reference();
    let trainer = Trainer::new(tok.clone(), &arch, cfg.clone(), &Device::Cpu).unwrap();
    let model = trainer.model();
    let mut opt = AdamW::new(&trainer.params);
    let tokens_per_step = batches[0].n_tokens;

    // Training: forward, loss, backward, AdamW (one warm-up step first).
    let (mut t_fwd, mut t_bwd, mut t_opt) = (0f64, 0f64, 0f64);
    let mut losses = Vec::new();
    for s in 0..=steps {
        let b = &batches[s % N_BATCHES];
        let t0 = Instant::now();
        let logits = model.forward(&b.input).unwrap();
        let loss = masked_loss(&logits, &b.targets, &b.weights, b.n_tokens as f64).unwrap();
        let lv: f32 = loss.to_scalar().unwrap();
        let t1 = Instant::now();
        let grads = loss.backward().unwrap();
        let t2 = Instant::now();
        opt.step(&trainer.params, &grads, &cfg, learning_rate(&cfg, s))
            .unwrap();
        let t3 = Instant::now();
        if s > 0 {
            t_fwd += (t1 - t0).as_secs_f64();
            t_bwd += (t2 - t1).as_secs_f64();
            t_opt += (t3 - t2).as_secs_f64();
        }
        losses.push(lv);
    }
    let train_secs = t_fwd + t_bwd + t_opt;
    let train_tps = (steps * tokens_per_step) as f64 / train_secs;

    // Inference: forward only (no autograd graph is kept: the loss is not built).
    let inf_reps = steps.min(20);
    let t0 = Instant::now();
    for s in 0..inf_reps {
        let logits = model.forward(&batches[s % N_BATCHES].input).unwrap();
        let _ = logits.sum_all().unwrap().to_scalar::<f32>().unwrap();
    }
    let infer_tps = (inf_reps * tokens_per_step) as f64 / t0.elapsed().as_secs_f64();

    let report = json!({
        "framework": "cellsindy (candle 0.11, CPU)",
        "threads": rayon::current_num_threads(),
        "config": {"vocab": 2000, "n_bins": 51, "genes_per_cell": 256, "d_model": 128, "n_layers": 4, "n_heads": 4, "d_ff": 512, "batch": 32},
        "parameters": trainer.params.n_scalars(),
        "steps": steps,
        "tokens_per_step": tokens_per_step,
        "train_tokens_per_sec": train_tps,
        "inference_tokens_per_sec": infer_tps,
        "seconds_per_step": {"forward_and_loss": t_fwd / steps as f64, "backward": t_bwd / steps as f64, "optimizer": t_opt / steps as f64, "tokenize_and_collate": data_secs_per_batch},
        "first_losses": &losses[..losses.len().min(5)],
        "peak_rss_mb": peak_rss_kb().map(|k| k as f64 / 1024.0),
    });
    std::fs::write(
        out.join("rust.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
