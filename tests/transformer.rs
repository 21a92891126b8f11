//! The gene transformer: tokenizer, training (resume, determinism), inference, capture,
//! checkpoints and bad input.

use std::path::Path;

use candle_core::Device;
use cellsindy::expression::{CsrMatrix, ExpressionMatrix, GeneTable, Values};
use cellsindy::nn::checkpoint;
use cellsindy::nn::data::{tokenize_fixed_cell, CellRow};
use cellsindy::nn::infer::{
    capture, generate, impute, ActivationSet, Context, GenerateParams, InferenceModel,
};
use cellsindy::nn::{
    Architecture, CaptureSpec, MaskSchedule, ModelConfig, RunConfig, TokenizerConfig, TrainConfig,
    TrainData, Trainer, ValueEmbedding,
};
use cellsindy::synthetic::{generate as synth, BrainParams};
use cellsindy::tokenize::fit_tokenizer;
use cellsindy::tokenize::{BinLevel, Binning, GeneTokenizer, N_SPECIAL};
use cellsindy::Error;
use rand::SeedableRng;

fn brain(cells: usize) -> ExpressionMatrix {
    synth(
        &BrainParams::default()
            .n_cells(cells)
            .n_background_genes(60)
            .seed(3),
    )
    .unwrap()
    .matrix
}

fn tiny_arch() -> Architecture {
    Architecture {
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        d_ff: 64,
        ..Architecture::default()
    }
}

fn tiny_train(steps: usize) -> TrainConfig {
    TrainConfig {
        steps,
        batch_size: 16,
        warmup_steps: 5,
        val_cells: 64,
        val_every: 1000,
        seed: 11,
        ..TrainConfig::default()
    }
}

fn tok_cfg() -> TokenizerConfig {
    TokenizerConfig {
        n_top_genes: 0,
        max_genes: 48,
        ..TokenizerConfig::default()
    }
}

/// A tokenizer over all genes of `m` (contexts of 48 genes, so sampling is exercised).
fn setup(cells: usize) -> (GeneTokenizer, ExpressionMatrix) {
    fit_tokenizer(&brain(cells), &tok_cfg()).unwrap()
}

#[test]
fn binning_is_per_cell_quantiles_with_a_zero_bin_and_high_low_levels() {
    let b = Binning::default();
    let values: Vec<f32> = (0..100)
        .map(|i| if i % 4 == 0 { 0.0 } else { i as f32 })
        .collect();
    let cols: Vec<u32> = (0..100).collect();
    let bins = b.bin_cell(&cols, &values).unwrap();
    assert!(values
        .iter()
        .zip(&bins)
        .all(|(&v, &k)| (v == 0.0) == (k == 0)));
    // Monotone in the value, using the whole range 1..=50.
    let nz: Vec<u32> = bins.iter().copied().filter(|&k| k > 0).collect();
    assert!(nz.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!((nz[0], *nz.last().unwrap()), (1, 50));
    assert_eq!(b.level(0), BinLevel::Zero);
    assert_eq!(b.level(50), BinLevel::High);
    assert_eq!(b.level(1), BinLevel::Low);
    assert!(matches!(
        b.bin_cell(&[0, 1], &[1.0, f32::NAN]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        b.bin_cell(&[0, 1], &[1.0, -1.0]),
        Err(Error::Negative { .. })
    ));
}

#[test]
fn sampling_keeps_forced_genes_takes_expressed_first_and_is_seeded() {
    let (tok, m) = setup(50);
    let p = tok.prepare(&m).unwrap();
    let row = CellRow::from_prepared(&p, 0, 0);
    assert!(
        row.columns.len() > 48,
        "the test needs more expressed genes than the context"
    );
    let forced = [0u32, 1, 2];
    let a = tokenize_fixed_cell(&tok, 5, &row, &forced).unwrap();
    let b = tokenize_fixed_cell(&tok, 5, &row, &forced).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.genes.len(), 48);
    for f in forced {
        assert!(a.genes.contains(&(f + N_SPECIAL)));
    }
    // 45 free slots: ceil(0.25 * 45) = 12 reserved for zeros, 33 expressed (plus forced).
    let zeros = a.bins.iter().filter(|&&b| b == 0).count();
    assert!((12..=15).contains(&zeros), "{zeros} zeros");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let c = tok
        .tokenize(&row.columns, &row.values, &[], &forced, &mut rng)
        .unwrap();
    assert_ne!(a.genes, c.genes, "another stream draws another context");
    // Bins come from the whole row, so a gene's bin does not depend on the draw.
    for (g, bin) in a.genes.iter().zip(&a.bins) {
        if let Some(k) = c.genes.iter().position(|x| x == g) {
            assert_eq!(c.bins[k], *bin);
        }
    }
}

#[test]
fn unknown_genes_are_reported_and_no_overlap_is_an_error() {
    let (tok, m) = setup(20);
    let half: Vec<usize> = (0..m.n_genes() / 2).collect();
    let p = tok.prepare(&m.select_genes(&half).unwrap()).unwrap();
    assert_eq!(p.coverage.missing.len(), m.n_genes() - half.len());
    let other = ExpressionMatrix::new(
        Values::Sparse(CsrMatrix::from_triplets(2, 2, &[0], &[0], &[1.0]).unwrap()),
        GeneTable::from_symbols(vec!["NOPE1".into(), "NOPE2".into()]),
        vec!["c1".into(), "c2".into()],
    )
    .unwrap();
    let err = tok.prepare(&other).unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err}");
    assert!(err.to_string().contains("none of the model's"), "{err}");
    let empty = m.select_cells(&[]).unwrap();
    assert!(matches!(tok.prepare(&empty), Err(Error::Empty { .. })));
}

fn trainer(tok: &GeneTokenizer, steps: usize) -> Trainer {
    Trainer::new(tok.clone(), &tiny_arch(), tiny_train(steps), &Device::Cpu).unwrap()
}

#[test]
fn training_lowers_the_loss_and_beats_the_marginal_baseline_on_held_out_cells() {
    let (tok, m) = setup(2000);
    let p = tok.prepare(&m).unwrap();
    let mut cfg = tiny_train(1000);
    cfg.batch_size = 32;
    cfg.val_fraction = 0.2;
    let mut t = Trainer::new(tok.clone(), &tiny_arch(), cfg, &Device::Cpu).unwrap();
    let data = TrainData::memory(p.clone(), &t.train).unwrap();
    t.run(&data, None, None, &mut |_| {}).unwrap();
    let h = &t.history.steps;
    let first: f32 = h[..10].iter().map(|r| r.loss).sum::<f32>() / 10.0;
    let last: f32 = h[h.len() - 10..].iter().map(|r| r.loss).sum::<f32>() / 10.0;
    assert!(last < 0.8 * first, "loss {first} → {last}");
    let model = t.inference_model().unwrap();
    let cfg = cellsindy::nn::evaluate::EvalConfig {
        n_cells: 200,
        n_generate: 0,
        ..Default::default()
    };
    let r = cellsindy::nn::evaluate::evaluate(&model, &p, t.train.seed, t.train.val_fraction, &cfg)
        .unwrap();
    // Bins of a tiny synthetic vocabulary are mostly Poisson noise, so the margins are small
    // here; the README's full-size run shows the real gap.
    assert!(r.masked.model > r.masked.marginal, "{:?}", r.masked);
    assert!(
        r.masked.model_mae < 0.95 * r.masked.marginal_mae,
        "{:?}",
        r.masked
    );
}

fn losses(t: &Trainer) -> Vec<f32> {
    t.history.steps.iter().map(|r| r.loss).collect()
}

#[test]
fn resuming_from_a_checkpoint_continues_the_same_loss_curve() {
    let (tok, m) = setup(300);
    let p = tok.prepare(&m).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");

    let mut straight = trainer(&tok, 8);
    let data = TrainData::memory(p, &straight.train).unwrap();
    straight.run(&data, None, None, &mut |_| {}).unwrap();

    let mut first = trainer(&tok, 8);
    first.run(&data, Some(4), Some(&ckpt), &mut |_| {}).unwrap();
    assert_eq!(first.step, 4);
    drop(first);
    let mut resumed = Trainer::resume(checkpoint::load(&ckpt, &Device::Cpu).unwrap()).unwrap();
    assert_eq!(resumed.step, 4);
    resumed.run(&data, None, Some(&ckpt), &mut |_| {}).unwrap();
    assert_eq!(
        losses(&resumed),
        losses(&straight),
        "bit-identical loss curve after resume"
    );
    let a = straight
        .params
        .get("head.weight")
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = resumed
        .params
        .get("head.weight")
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(a, b);
    // The checkpoint directory holds the final state and no temporary leftovers.
    assert_eq!(
        checkpoint::load(&ckpt, &Device::Cpu)
            .unwrap()
            .train
            .unwrap()
            .0
            .step,
        8
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names, vec!["ckpt".to_string()]);
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let (tok, m) = setup(200);
    let p = tok.prepare(&m).unwrap();
    let run = |seed: u64| {
        let mut cfg = tiny_train(3);
        cfg.seed = seed;
        let mut t = Trainer::new(tok.clone(), &tiny_arch(), cfg, &Device::Cpu).unwrap();
        let data = TrainData::memory(p.clone(), &t.train).unwrap();
        t.run(&data, None, None, &mut |_| {}).unwrap();
        losses(&t)
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

fn trained_model(
    tok: &GeneTokenizer,
    p: &cellsindy::tokenize::PreparedCells,
    steps: usize,
) -> InferenceModel {
    let mut t = trainer(tok, steps);
    let data = TrainData::memory(p.clone(), &t.train).unwrap();
    t.run(&data, None, None, &mut |_| {}).unwrap();
    t.inference_model().unwrap()
}

#[test]
fn capture_does_not_change_outputs_and_round_trips_through_safetensors() {
    let (tok, m) = setup(100);
    let p = tok.prepare(&m).unwrap();
    let model = trained_model(&tok, &p, 3);
    let rows: Vec<usize> = (0..10).collect();
    let cells: Vec<_> = rows
        .iter()
        .map(|&r| tokenize_fixed_cell(&tok, 0, &CellRow::from_prepared(&p, r, 0), &[]).unwrap())
        .collect();
    let batch =
        cellsindy::nn::data::collate(&cells, None, tok.binning.n_bins, 0, &Device::Cpu).unwrap();
    let plain = model
        .model
        .forward(&batch.input)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let (logits, captured) = model
        .model
        .forward_with_capture(&batch.input, CaptureSpec::all())
        .unwrap();
    assert_eq!(
        plain,
        logits.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
    let names: Vec<&str> = captured.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"embed")
            && names.contains(&"blocks.1.resid")
            && names.contains(&"blocks.0.attn.out")
            && names.contains(&"blocks.1.mlp.hidden")
    );
    let hidden = &captured
        .iter()
        .find(|(n, _)| n == "blocks.0.mlp.hidden")
        .unwrap()
        .1;
    assert_eq!(hidden.dims(), &[10, 48, 64]);

    // An ablation holds the chosen units at their value at every token and changes the
    // output; removing it restores the model exactly; names and ranges are checked.
    let mut ablated = trained_model(&tok, &p, 3);
    let abl = cellsindy::nn::Ablation {
        units: vec![(0, 5, 0.25), (1, 7, 0.0)],
    };
    ablated.model.set_ablation(&abl).unwrap();
    let (a_logits, a_captured) = ablated
        .model
        .forward_with_capture(&batch.input, CaptureSpec::all())
        .unwrap();
    let h0 = &a_captured
        .iter()
        .find(|(n, _)| n == "blocks.0.mlp.hidden")
        .unwrap()
        .1;
    let unit5: Vec<f32> = h0
        .narrow(2, 5, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(unit5.iter().all(|&v| v == 0.25));
    let other: Vec<f32> = h0
        .narrow(2, 6, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let other_plain: Vec<f32> = hidden
        .narrow(2, 6, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(other, other_plain, "block 0's other units are untouched");
    assert_ne!(
        plain,
        a_logits.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
    ablated
        .model
        .set_ablation(&cellsindy::nn::Ablation::default())
        .unwrap();
    let restored = ablated.model.forward(&batch.input).unwrap();
    assert_eq!(
        plain,
        restored.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
    for bad in [(2, 0, 0.0), (0, 64, 0.0), (0, 1, f32::NAN)] {
        let a = cellsindy::nn::Ablation { units: vec![bad] };
        assert!(ablated.model.set_ablation(&a).is_err(), "{bad:?}");
    }
    assert_eq!(
        cellsindy::nn::Ablation::parse_unit("blocks.1.mlp.hidden[37]").unwrap(),
        (1, 37)
    );
    for bad in [
        "blocks.1.resid[3]",
        "blocks.x.mlp.hidden[1]",
        "blocks.1.mlp.hidden[2",
    ] {
        assert!(cellsindy::nn::Ablation::parse_unit(bad).is_err(), "{bad}");
    }

    // Imputation is the same whether or not activations were captured in between.
    let genes = model.positions(&["TGXOR"]).unwrap();
    let before = impute(&model, &p, &rows, &genes, &Context::sampled(), 0, 4).unwrap();
    let set = capture(&model, &p, &rows, CaptureSpec::all(), true, 0, 4).unwrap();
    let after = impute(&model, &p, &rows, &genes, &Context::sampled(), 0, 4).unwrap();
    assert_eq!(before, after);
    assert_eq!(set.pooled["blocks.1.resid"].dim(), (10, 32));
    assert_eq!(set.per_token["blocks.0.mlp.hidden"].dim(), (10, 48, 64));
    assert!(set.gene_index.iter().all(|&g| g >= N_SPECIAL as i64));
    // Pooled = mean of the per-token rows.
    let tok_mean: f32 = (0..48)
        .map(|j| set.per_token["blocks.1.resid"][[3, j, 5]])
        .sum::<f32>()
        / 48.0;
    assert!((tok_mean - set.pooled["blocks.1.resid"][[3, 5]]).abs() < 1e-4);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acts.safetensors");
    set.save(&path).unwrap();
    assert_eq!(ActivationSet::load(&path).unwrap(), set);
    // Probabilities are distributions; the observed bin is the data's.
    for c in 0..rows.len() {
        let s: f32 = (0..tok.binning.n_bins as usize)
            .map(|b| before.probs[[c, 0, b]])
            .sum();
        assert!((s - 1.0).abs() < 1e-4);
    }
}

#[test]
fn generation_is_seeded_and_checks_its_inputs() {
    let (tok, m) = setup(100);
    let p = tok.prepare(&m).unwrap();
    let model = trained_model(&tok, &p, 2);
    let genes = Some((0..20).collect::<Vec<u32>>());
    let params = GenerateParams {
        n_cells: 5,
        genes: genes.clone(),
        steps: 4,
        ..GenerateParams::default()
    };
    let a = generate(&model, &params).unwrap();
    assert_eq!(a.bins.dim(), (5, 20));
    assert!(a.bins.iter().all(|&b| b < tok.binning.n_bins));
    assert_eq!(a, generate(&model, &params).unwrap());
    assert_ne!(
        a,
        generate(
            &model,
            &GenerateParams {
                seed: 1,
                ..params.clone()
            }
        )
        .unwrap()
    );
    // The whole vocabulary does not fit in a 48-gene context.
    assert!(matches!(
        generate(
            &model,
            &GenerateParams {
                genes: None,
                ..params.clone()
            }
        ),
        Err(Error::InvalidParam { .. })
    ));
    assert!(matches!(
        generate(
            &model,
            &GenerateParams {
                n_cells: 0,
                ..params.clone()
            }
        ),
        Err(Error::InvalidParam { .. })
    ));
    assert!(matches!(
        generate(
            &model,
            &GenerateParams {
                conditions: Some(vec![1]),
                ..params
            }
        ),
        Err(Error::InvalidParam { .. })
    ));
    assert!(matches!(
        model.positions(&["NOT_A_GENE"]),
        Err(Error::UnknownGenes { .. })
    ));
}

#[test]
fn condition_tokens_are_learned_inputs() {
    let mut cfg = tok_cfg();
    cfg.conditions = vec!["cell_type".into()];
    let (tok, m) = fit_tokenizer(&brain(100), &cfg).unwrap();
    assert_eq!(tok.conditions.len(), 1);
    let astro = tok.condition_id("cell_type", Some("astrocyte")).unwrap();
    assert!(tok.condition_id("cell_type", Some("unicorn")).is_err());
    let p = tok.prepare(&m).unwrap();
    let model = trained_model(&tok, &p, 2);
    assert_eq!(model.config.n_condition_fields, 1);
    let rows: Vec<CellRow> = (0..4).map(|i| CellRow::from_prepared(&p, i, 1)).collect();
    let logits = |cond: u32| {
        let cells: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut t = tokenize_fixed_cell(&tok, 0, r, &[]).unwrap();
                t.conditions = vec![cond];
                t
            })
            .collect();
        let b = cellsindy::nn::data::collate(&cells, None, tok.binning.n_bins, 1, &Device::Cpu)
            .unwrap();
        model
            .model
            .forward(&b.input)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_ne!(
        logits(astro),
        logits(tok.no_conditions()[0]),
        "the condition token changes the model's output"
    );
    let g = GenerateParams {
        n_cells: 3,
        genes: Some((0..10).collect()),
        conditions: Some(vec![astro]),
        steps: 2,
        ..Default::default()
    };
    assert_eq!(generate(&model, &g).unwrap().bins.dim(), (3, 10));
}

fn save_tiny_checkpoint(dir: &Path) -> (GeneTokenizer, ExpressionMatrix) {
    let (tok, m) = setup(60);
    let p = tok.prepare(&m).unwrap();
    let mut t = trainer(&tok, 2);
    let data = TrainData::memory(p, &t.train).unwrap();
    t.run(&data, None, Some(dir), &mut |_| {}).unwrap();
    (tok, m)
}

#[test]
fn damaged_checkpoints_and_mismatched_configs_are_clear_errors() {
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("good");
    save_tiny_checkpoint(&good);
    assert!(checkpoint::load(&good, &Device::Cpu).is_ok());
    let copy = |name: &str| {
        let d = root.path().join(name);
        std::fs::create_dir(&d).unwrap();
        for e in std::fs::read_dir(&good).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), d.join(e.file_name())).unwrap();
        }
        d
    };
    let err = |d: &Path| checkpoint::load(d, &Device::Cpu).unwrap_err().to_string();

    let truncated = copy("truncated");
    let w = std::fs::read(truncated.join("model.safetensors")).unwrap();
    std::fs::write(truncated.join("model.safetensors"), &w[..w.len() / 2]).unwrap();
    assert!(
        err(&truncated).contains("safetensors"),
        "{}",
        err(&truncated)
    );

    let missing = copy("missing");
    std::fs::remove_file(missing.join("model.safetensors")).unwrap();
    assert!(
        err(&missing).contains("model.safetensors"),
        "{}",
        err(&missing)
    );

    let mismatch = copy("mismatch");
    let cfg = std::fs::read_to_string(mismatch.join("config.json")).unwrap();
    std::fs::write(
        mismatch.join("config.json"),
        cfg.replace("\"d_ff\": 64", "\"d_ff\": 96"),
    )
    .unwrap();
    let e = err(&mismatch);
    assert!(
        e.contains("do not match the model config") && e.contains("mlp.fc1.weight"),
        "{e}"
    );

    let wrong_tok = copy("wrong_tok");
    let cfg = std::fs::read_to_string(wrong_tok.join("config.json")).unwrap();
    std::fs::write(
        wrong_tok.join("config.json"),
        cfg.replace("\"n_bins\": 51", "\"n_bins\": 21"),
    )
    .unwrap();
    assert!(err(&wrong_tok).contains("n_bins"), "{}", err(&wrong_tok));

    let garbage = copy("garbage");
    std::fs::write(garbage.join("config.json"), "{ not json").unwrap();
    assert!(err(&garbage).contains("config.json"), "{}", err(&garbage));

    let no_opt = copy("no_opt");
    std::fs::remove_file(no_opt.join("optimizer.safetensors")).unwrap();
    assert!(err(&no_opt).contains("optimizer.safetensors"));

    assert!(err(&root.path().join("absent")).contains("not a checkpoint directory"));
}

#[test]
fn every_value_embedding_trains_round_trips_and_old_configs_read_as_a_table() {
    let (tok, m) = setup(300);
    let p = tok.prepare(&m).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for kind in [
        ValueEmbedding::Table,
        ValueEmbedding::Ordinal,
        ValueEmbedding::GeneLevel,
    ] {
        let arch = Architecture {
            value_embedding: kind,
            ..tiny_arch()
        };
        let mut t = Trainer::new(tok.clone(), &arch, tiny_train(6), &Device::Cpu).unwrap();
        assert_eq!(t.config.value_embedding, kind);
        let data = TrainData::memory(p.clone(), &t.train).unwrap();
        let ckpt = dir.path().join(format!("{kind:?}"));
        t.run(&data, None, Some(&ckpt), &mut |_| {}).unwrap();
        let rows = data.validation_rows(64, 0);
        let before = t.validate(&rows).unwrap();
        let loaded = Trainer::resume(checkpoint::load(&ckpt, &Device::Cpu).unwrap()).unwrap();
        assert_eq!(loaded.config.value_embedding, kind);
        assert_eq!(loaded.validate(&rows).unwrap(), before, "{kind:?}");

        // The input rows: a table is the parameter; an ordinal row k of the non-zero bins is
        // the sum of increments 1..=k, the zero bin and the mask their own increment.
        let raw = t
            .params
            .get("embed.value")
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let rows_in = t.model().value_table().unwrap().to_vec2::<f32>().unwrap();
        let n = raw.len();
        for k in 0..n {
            let want: Vec<f32> = match kind {
                ValueEmbedding::Table => raw[k].clone(),
                _ if k == 0 || k == n - 1 => raw[k].clone(),
                _ => (0..raw[0].len())
                    .map(|j| (1..=k).map(|i| raw[i][j]).sum())
                    .collect(),
            };
            for (a, b) in rows_in[k].iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{kind:?} row {k}: {a} vs {b}");
            }
        }
        assert_eq!(
            t.params.get("embed.gene_level").is_ok(),
            kind == ValueEmbedding::GeneLevel
        );
    }
    // A model config written before the field existed is a table.
    let mut json = serde_json::to_value(
        Trainer::new(tok, &tiny_arch(), tiny_train(1), &Device::Cpu)
            .unwrap()
            .config,
    )
    .unwrap();
    json.as_object_mut().unwrap().remove("value_embedding");
    let old: ModelConfig = serde_json::from_value(json).unwrap();
    assert_eq!(old.value_embedding, ValueEmbedding::Table);
}

#[test]
fn diffusion_masking_ratios_are_bounded_and_checked() {
    let cfg = RunConfig::from_toml(
        "[train]\nmask = { kind = \"diffusion\", min_ratio = 0.1, max_ratio = 0.4 }\n",
    )
    .unwrap();
    assert_eq!(
        cfg.train.mask,
        MaskSchedule::Diffusion {
            min_ratio: 0.1,
            max_ratio: 0.4
        }
    );
    // Without max_ratio: MDLM's upper bound, 1.
    let cfg = RunConfig::from_toml("[train]\nmask = { kind = \"diffusion\", min_ratio = 0.2 }\n")
        .unwrap();
    assert!(matches!(
        cfg.train.mask,
        MaskSchedule::Diffusion { max_ratio, .. } if max_ratio == 1.0
    ));
    for bad in [
        "min_ratio = 0.5, max_ratio = 0.4",
        "min_ratio = 0.1, max_ratio = 1.5",
    ] {
        let e = RunConfig::from_toml(&format!(
            "[train]\nmask = {{ kind = \"diffusion\", {bad} }}\n"
        ))
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidParam {
                    name: "mask.max_ratio",
                    ..
                }
            ),
            "{e}"
        );
    }
    // Every drawn ratio lies within the bounds: the share of masked genes does.
    let (tok, m) = setup(200);
    let p = tok.prepare(&m).unwrap();
    let mut train = tiny_train(1);
    train.mask = MaskSchedule::Diffusion {
        min_ratio: 0.05,
        max_ratio: 0.3,
    };
    let data = TrainData::memory(p, &train).unwrap();
    let rows = data.validation_rows(200, 0);
    let cells: Vec<_> = rows
        .iter()
        .map(|r| tokenize_fixed_cell(&tok, 0, r, &[]).unwrap())
        .collect();
    let masking = cellsindy::nn::data::step_masks(&cells, train.mask, 0, 0);
    let masked: usize = masking.masked.iter().flatten().filter(|&&b| b).count();
    let total: usize = masking.masked.iter().map(Vec::len).sum();
    let share = masked as f64 / total as f64;
    assert!(share > 0.05 && share < 0.3, "{share}");
}

#[test]
fn config_files_reject_unknown_keys_and_bad_values() {
    let ok = RunConfig::from_toml("[model]\nd_model = 32\n[train]\nsteps = 5\n").unwrap();
    assert_eq!(
        (ok.model.d_model, ok.train.steps, ok.model.n_layers),
        (32, 5, Architecture::default().n_layers)
    );
    let e = RunConfig::from_toml("[model]\nd_modle = 32\n").unwrap_err();
    assert!(matches!(e, Error::Parse { line: 2, .. }), "{e}");
    assert!(RunConfig::from_toml("[train]\nlr = -1.0\n").is_err());
    assert!(RunConfig::from_toml("[train]\nmask = { kind = \"fixed\", ratio = 0.15 }\n").is_ok());
    let tok = setup(20).0;
    let bad_heads = Trainer::new(
        tok,
        &Architecture {
            n_heads: 5,
            ..tiny_arch()
        },
        tiny_train(1),
        &Device::Cpu,
    );
    assert!(matches!(
        bad_heads,
        Err(Error::InvalidParam {
            name: "n_heads",
            ..
        })
    ));
}

#[test]
fn streamed_training_reads_batches_from_disk() {
    let (tok, m) = setup(300);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cells.h5ad");
    cellsindy::expression::io::write_expression(&m, &path).unwrap();
    let mut cfg = tiny_train(6);
    cfg.stream_chunk = 64;
    let data = TrainData::stream(&path, &Default::default(), &tok, &cfg).unwrap();
    assert_eq!(
        data.n_train(&cfg) + data.validation_rows(usize::MAX, 0).len(),
        300
    );
    let run = |stop: Option<usize>| {
        let mut t = Trainer::new(tok.clone(), &tiny_arch(), cfg.clone(), &Device::Cpu).unwrap();
        t.run(&data, stop, None, &mut |_| {}).unwrap();
        t
    };
    let a = run(None);
    assert_eq!(losses(&a), losses(&run(None)));
    // Resume mid-stream: the reader skips to the step's position.
    let ckpt = dir.path().join("ckpt");
    let half = run(Some(3));
    half.save(&ckpt).unwrap();
    drop(half);
    let mut resumed = Trainer::resume(checkpoint::load(&ckpt, &Device::Cpu).unwrap()).unwrap();
    resumed.run(&data, None, None, &mut |_| {}).unwrap();
    assert_eq!(losses(&resumed), losses(&a));
}

#[test]
fn default_vocabulary_keeps_the_network_switches_and_the_included_genes() {
    use cellsindy::tokenize::select_vocabulary;
    let m = synth(
        &BrainParams::default()
            .n_cells(3000)
            .n_background_genes(400)
            .seed(5),
    )
    .unwrap()
    .matrix;
    let names = |keep: &[usize]| -> Vec<String> {
        keep.iter().map(|&g| m.genes().symbols[g].clone()).collect()
    };
    let cfg = TokenizerConfig::default();
    let vocab = names(&select_vocabulary(&m, &cfg).unwrap());
    assert!(vocab.len() >= cfg.n_top_genes && vocab.len() < cfg.n_top_genes + 5);
    // Cell Ranger's robust score ranks the on/off network genes among the most variable.
    for g in ["TFA", "TFB", "TGXOR"] {
        assert!(vocab.iter().any(|v| v == g), "{g} missing from {vocab:?}");
    }
    let outside: Vec<String> = m
        .genes()
        .symbols
        .iter()
        .filter(|s| !vocab.contains(s))
        .take(2)
        .cloned()
        .collect();
    let with = TokenizerConfig {
        include_genes: outside.clone(),
        ..cfg.clone()
    };
    let vocab2 = names(&select_vocabulary(&m, &with).unwrap());
    assert!(outside.iter().all(|g| vocab2.contains(g)));
    assert_eq!(vocab2.len(), vocab.len() + 2);
    let bad = TokenizerConfig {
        include_genes: vec![outside[0].clone(), "NOT_A_GENE".into()],
        ..cfg
    };
    let err = select_vocabulary(&m, &bad).unwrap_err().to_string();
    assert!(
        err.contains("NOT_A_GENE") && !err.contains(&outside[0]),
        "{err}"
    );
}

/// A masked gene's own count must not reach the model or the baselines (issue 19): bin edges
/// come from the visible genes only, and a masked cell is normalised over its visible library,
/// so changing the hidden count (0 -> non-zero, non-zero -> 0, scaled) leaves every prediction
/// bit-for-bit the same, for every binning scheme. The vocabulary is a subset of the genes, so
/// the library outside it takes part too.
#[test]
fn a_masked_genes_count_does_not_reach_the_model_or_the_baselines() {
    let m = brain(200);
    let tok = tok_for(&m, 40);
    assert!(tok.vocab.n_genes() < m.n_genes());
    let p = tok.prepare(&m).unwrap();
    assert!(p.outside.iter().any(|&o| o > 0.0));
    let n_bins = tok.binning.n_bins;
    let mut per_gene = tok.clone();
    per_gene.binning = Binning::fit_per_gene(n_bins, &p.values).unwrap();
    let mut log_ratio = tok.clone();
    log_ratio.binning = Binning::fit_log_ratio(n_bins, &p.values).unwrap();

    // A vocabulary gene expressed in about half the cells (both switches happen), and its
    // column in the data.
    let mut counts = vec![0usize; p.values.n_cols()];
    for r in 0..p.n_cells() {
        for &c in p.values.row(r).0 {
            counts[c as usize] += 1;
        }
    }
    let half = p.n_cells() / 2;
    let g = (0..counts.len())
        .min_by_key(|&c| counts[c].abs_diff(half))
        .unwrap() as u32;
    let col = m.genes().position(&tok.vocab.genes()[g as usize]).unwrap();
    // The scored cells; the others are the baselines' training cells.
    let rows: Vec<usize> = (0..64).collect();
    let train: Vec<usize> = (64..200).collect();
    let mut x = m.values().to_dense();
    let mut switched = [0usize; 2];
    for &r in &rows {
        let v = &mut x[[r, col]];
        *v = if *v == 0.0 {
            switched[0] += 1;
            5.0
        } else if r % 2 == 0 {
            switched[1] += 1;
            0.0
        } else {
            *v * (1.0 + (r % 7) as f32 * 3.0)
        };
    }
    assert!(switched[0] > 0 && switched[1] > 0, "{switched:?}");
    let changed =
        ExpressionMatrix::new(Values::Dense(x), m.genes().clone(), m.cells().to_vec()).unwrap();

    for tok in [tok.clone(), per_gene, log_ratio] {
        let p = tok.prepare(&m).unwrap();
        let q = tok.prepare(&changed).unwrap();
        let model = trained_model(&tok, &p, 20);
        let ask = |cells: &cellsindy::tokenize::PreparedCells| {
            impute(&model, cells, &rows, &[g], &Context::sampled(), 5, 16).unwrap()
        };
        let (before, after) = (ask(&p), ask(&q));
        let scheme = format!("{:?}", tok.binning.scheme)
            .chars()
            .take(12)
            .collect::<String>();
        assert_eq!(before.probs, after.probs, "{scheme}");
        assert_eq!(before.expected, after.expected, "{scheme}");
        assert_eq!(before.p_high, after.p_high, "{scheme}");
        // The targets did change (the comparison is not vacuous).
        assert_ne!(before.observed, after.observed, "{scheme}");
    }

    // The baselines: fitted on the training cells, their input for the scored cells is the
    // same bit for bit, and so are their predictions.
    let q = tok.prepare(&changed).unwrap();
    let (xb, xa) = (
        p.log_normalized_visible(&rows, &[g]),
        q.log_normalized_visible(&rows, &[g]),
    );
    let x_train = p.log_normalized_visible(&train, &[g]);
    assert_eq!(x_train, q.log_normalized_visible(&train, &[g]));
    let visible: Vec<usize> = (0..xb.ncols()).filter(|&c| c != g as usize).collect();
    assert_eq!(
        xb.select(ndarray::Axis(1), &visible),
        xa.select(ndarray::Axis(1), &visible)
    );
    assert_ne!(xb.column(g as usize), xa.column(g as usize));
    let masked = [g as usize];
    let pca = cellsindy::baselines::Pca::params(5)
        .seed(0)
        .fit(x_train.view())
        .unwrap();
    assert_eq!(
        pca.impute(xb.view(), &masked).unwrap(),
        pca.impute(xa.view(), &masked).unwrap()
    );
    let lin = cellsindy::baselines::LinearImputer::fit(x_train.view(), &masked).unwrap();
    assert_eq!(
        lin.predict(xb.view()).unwrap(),
        lin.predict(xa.view()).unwrap()
    );
}

fn tok_for(m: &ExpressionMatrix, n_top_genes: usize) -> GeneTokenizer {
    fit_tokenizer(
        m,
        &TokenizerConfig {
            n_top_genes,
            ..tok_cfg()
        },
    )
    .unwrap()
    .0
}

/// The learning-curve harness's recipes stay valid configs, and `baseline.toml` is still the
/// recipe the studies measured before the defaults moved (they reproduce with it).
#[test]
fn bench_recipes_parse_and_the_baseline_is_the_previous_default() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/recipes");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            RunConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 2, "{n} recipes");
    let base = RunConfig::load(&dir.join("baseline.toml")).unwrap();
    assert_eq!(
        (
            base.model.n_layers,
            base.model.value_embedding,
            base.train.batch_size,
            base.train.lr,
            base.train.mask
        ),
        (
            2,
            ValueEmbedding::Table,
            32,
            2e-3,
            MaskSchedule::Diffusion {
                min_ratio: 0.05,
                max_ratio: 1.0
            }
        )
    );
    // The defaults are a recipe of their own, not the baseline's, and `one_layer_64.toml`
    // (the curves' name for them) writes them out.
    let default = RunConfig::default();
    assert_ne!(default.model, base.model);
    let written = RunConfig::load(&dir.join("one_layer_64.toml")).unwrap();
    assert_eq!(written.model, default.model);
    assert_eq!(written.tokenizer, default.tokenizer);
    assert_eq!(
        (
            written.train.lr,
            written.train.batch_size,
            written.train.warmup_steps,
            written.train.mask
        ),
        (
            default.train.lr,
            default.train.batch_size,
            default.train.warmup_steps,
            default.train.mask
        )
    );
}
