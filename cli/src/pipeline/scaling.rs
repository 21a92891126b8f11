//! `cellsindy scaling experiment`: *measures* transfer scaling (Hernandez et al. 2021,
//! "Scaling Laws for Transfer") on synthetic brains, then fits `D_t = k · D_f^α · N^β` with
//! [`cellsindy::scaling::fit`].
//!
//! # Design
//!
//! - **Two distributions.** The *target* ("in vivo") is the default synthetic brain
//!   ([`BrainParams::default`] with the preset's gene count) seeded by `seed`. The *lab*
//!   distribution is a shifted brain: other cell-type proportions (microglia- and
//!   oligodendrocyte-rich instead of neuron-rich), fewer stimulated cells, a smaller library
//!   size and another seed. Same genes, so one vocabulary serves both.
//! - **One tokenizer**, fitted on the target cells (all genes kept; bins are per cell, so the
//!   tokenizer carries no distribution-specific statistics beyond the vocabulary). Lab cells are
//!   prepared with it.
//! - **Fixed target splits.** Target cells are split once into an *evaluation* set (the loss
//!   every number in the report is about), a *selection* set (early stopping only) and a
//!   training pool; a run on `D` cells uses the first `D` cells of the pool (nested subsets,
//!   so a larger `D` contains a smaller one). Every run shares the training seed, so the
//!   evaluation masks, the sampled gene contexts and a size's initial weights are the same for
//!   every run: differences between runs are differences of data and initialisation only.
//! - **Training budget: epochs clamped to a step range, early-stopped.** A scratch or
//!   fine-tune run on `D` cells takes `clamp(⌈epochs · D / batch⌉, min_steps, max_steps)`
//!   optimizer steps (cosine schedule over them) and is scored `n_scores` times (and at step 0)
//!   on the selection and the evaluation sets; the run's loss is the evaluation loss at the
//!   step with the lowest *selection* loss. A single fixed step count for every `D` makes the
//!   scratch curve flat (a large `D` is never even seen once; measured on the tiny preset: the
//!   fine-tuned losses fell below the whole curve), and a fixed number of epochs alone gives
//!   the smallest `D` a handful of steps; small-`D` scratch runs then overfit within
//!   `min_steps`, which early stopping handles. `min_steps` must be large enough that the
//!   smallest runs are data-limited, not compute-limited: with 120 (small preset, measured)
//!   every scratch run on 16–128 cells was still improving at its last step and the scratch
//!   curve was flat over that range, which inflates `D_t`; the small preset uses 500. Selecting on a separate set (never on the
//!   evaluation set) gives each run its best-achievable loss without peeking. The selection set is target data that no run trains on and that every run
//!   uses the same way, so it does not favour scratch or fine-tuning. A split of each run's own
//!   training cells would leave 2–4 cells for selection at the smallest `D`.
//! - **Fine-tuning** starts from the pre-trained weights with a fresh AdamW state and the same
//!   schedule as the scratch runs. Pre-training runs `pretrain_steps` on the lab cells and keeps
//!   its final weights (the lab pool is large, so it does not overfit in the budget).
//! - **Effective data transferred.** For each size, the scratch curve `L(D)` is made monotone
//!   (running minimum over increasing `D`: with early stopping, more data can always reproduce
//!   a smaller run's loss), and the fine-tuned loss `L_ft` is located on it by linear
//!   interpolation in `ln D`; `D_t = D − D_f`. See [`cellsindy::scaling::EffectiveStatus`] for the censored
//!   cases: above the whole curve (the pre-training did not help at this `D_f`), and below
//!   it, extrapolated along the last segment's log-slope up to [`ExperimentConfig::max_extrapolation`]
//!   times the largest `D`. Only interpolated and extrapolated points with `D_t > 0` enter the
//!   fit.
//! - **Model size `N`** is the total number of trainable parameters
//!   ([`cellsindy::nn::ModelConfig::n_parameters`]), gene-embedding table included (the vocabulary
//!   is fixed, so this is a per-width constant); the report lists both.

use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use cellsindy::error::{Error, Result};
use cellsindy::expression::ExpressionMatrix;
use cellsindy::io::write_atomic;
use cellsindy::nn::data::CellRow;
use cellsindy::nn::{
    Architecture, MaskSchedule, Params, TokenizerConfig, TrainConfig, TrainData, Trainer,
    ValueEmbedding,
};
use cellsindy::scaling::{equivalent_data, loss_at, CurvePoint, Measurement, RunKind, RunRecord};
use cellsindy::scaling::{fit, FitParams, TransferFit, TransferPoint};
use cellsindy::synthetic::{generate, BrainParams, PerType};
use cellsindy::tokenize::fit_tokenizer;
use cellsindy::tokenize::{GeneTokenizer, PreparedCells};

/// Size presets of the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalingPreset {
    /// Seconds: two very small models, for tests.
    Tiny,
    /// A few minutes on 2 CPU cores: three sizes, six scratch and three fine-tuning amounts.
    Small,
    /// Tens of minutes on CPU, minutes on a GPU.
    Medium,
    /// For a GPU.
    Large,
}

/// Settings of [`run_experiment`]; build one with [`ExperimentConfig::preset`].
///
/// | Name | Purpose |
/// |---|---|
/// | `sizes` | architectures (model sizes `N`) |
/// | `scratch_data` | target cells `D` of the from-scratch runs (the reference curve) |
/// | `finetune_data` | target cells `D_f` of the fine-tuning runs |
/// | `lab_cells` | lab cells for pre-training |
/// | `pretrain_steps` | optimizer steps of pre-training |
/// | `epochs`, `min_steps`, `max_steps` | budget of a scratch/fine-tune run on `D` cells: `clamp(⌈epochs · D / batch⌉, min_steps, max_steps)` steps |
/// | `n_scores` | scorings of each run (early stopping picks among them) |
/// | `eval_cells`, `select_cells` | target cells of the evaluation and early-stopping sets |
/// | `n_background_genes` | genes of the synthetic brains beyond the planted modules |
/// | `max_extrapolation` | how far beyond the largest scratch `D` a `D_t` may be extrapolated |
/// | `tokenizer`, `train` | tokenizer and optimizer settings shared by every run |
/// | `n_bootstrap` | bootstrap resamples of the fit's intervals |
/// | `seed` | every random draw (data, splits, weights, batches, masks, bootstrap) |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Preset it was built from.
    pub preset: ScalingPreset,
    /// Architectures.
    pub sizes: Vec<Architecture>,
    /// Scratch data amounts (cells), increasing.
    pub scratch_data: Vec<usize>,
    /// Fine-tuning data amounts (cells), increasing.
    pub finetune_data: Vec<usize>,
    /// Lab cells.
    pub lab_cells: usize,
    /// Pre-training steps.
    pub pretrain_steps: usize,
    /// Passes over the run's cells (scratch and fine-tune runs), before clamping.
    pub epochs: usize,
    /// Fewest steps of a scratch or fine-tune run.
    pub min_steps: usize,
    /// Most steps of a scratch or fine-tune run.
    pub max_steps: usize,
    /// Scorings per run (evenly spaced, plus step 0).
    pub n_scores: usize,
    /// Evaluation cells.
    pub eval_cells: usize,
    /// Early-stopping cells.
    pub select_cells: usize,
    /// Background genes.
    pub n_background_genes: usize,
    /// Extrapolation limit (multiple of the largest scratch `D`).
    pub max_extrapolation: f64,
    /// Tokenizer.
    pub tokenizer: TokenizerConfig,
    /// Optimizer settings (`steps` and `seed` are overridden per run).
    pub train: TrainConfig,
    /// Bootstrap resamples.
    pub n_bootstrap: usize,
    /// Seed.
    pub seed: u64,
}

fn arch(d_model: usize, n_layers: usize, n_heads: usize) -> Architecture {
    Architecture {
        d_model,
        n_layers,
        n_heads,
        d_ff: 2 * d_model,
        // The study's own recipe, fixed so that its measured exponents stay reproducible when
        // the CLI's training defaults move.
        value_embedding: ValueEmbedding::Table,
    }
}

impl ExperimentConfig {
    /// The settings of a preset.
    pub fn preset(preset: ScalingPreset, seed: u64) -> Self {
        // (sizes, scratch D, fine-tune D_f, lab cells, pre-training steps, epochs, min steps,
        //  max steps, eval cells, selection cells, background genes, context genes, batch)
        let (
            sizes,
            scratch,
            finetune,
            lab,
            pre,
            epochs,
            min_steps,
            max_steps,
            eval,
            select,
            bg,
            max_genes,
            batch,
        ) = match preset {
            ScalingPreset::Tiny => (
                vec![arch(8, 1, 2), arch(16, 1, 2)],
                vec![8, 16, 32, 64, 128, 256, 512],
                vec![8, 16],
                1024,
                600,
                20,
                40,
                600,
                32,
                32,
                20,
                16,
                8,
            ),
            ScalingPreset::Small => (
                vec![arch(16, 1, 2), arch(32, 2, 4), arch(64, 2, 4)],
                vec![16, 32, 64, 128, 256, 512, 1024, 2048],
                vec![16, 32, 64, 128],
                4096,
                1200,
                10,
                500,
                1200,
                256,
                128,
                60,
                32,
                16,
            ),
            ScalingPreset::Medium => (
                vec![
                    arch(32, 2, 4),
                    arch(64, 2, 4),
                    arch(128, 4, 8),
                    arch(192, 4, 8),
                ],
                vec![32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16_384],
                vec![32, 64, 128, 256, 512],
                32_768,
                8000,
                10,
                300,
                8000,
                512,
                256,
                200,
                64,
                32,
            ),
            ScalingPreset::Large => (
                vec![
                    arch(64, 2, 4),
                    arch(128, 4, 8),
                    arch(256, 4, 8),
                    arch(384, 6, 8),
                ],
                vec![
                    64, 128, 256, 512, 1024, 2048, 4096, 8192, 16_384, 32_768, 65_536,
                ],
                vec![64, 128, 256, 512, 1024, 2048],
                131_072,
                30_000,
                10,
                500,
                30_000,
                1024,
                512,
                1000,
                128,
                64,
            ),
        };
        ExperimentConfig {
            preset,
            sizes,
            scratch_data: scratch,
            finetune_data: finetune,
            lab_cells: lab,
            pretrain_steps: pre,
            epochs,
            min_steps,
            max_steps,
            n_scores: 12,
            eval_cells: eval,
            select_cells: select,
            n_background_genes: bg,
            max_extrapolation: 4.0,
            tokenizer: TokenizerConfig {
                n_top_genes: 0,
                max_genes,
                ..TokenizerConfig::default()
            },
            train: TrainConfig {
                batch_size: batch,
                warmup_steps: (min_steps / 10).max(1),
                val_fraction: 0.0,
                val_every: usize::MAX,
                condition_dropout: 0.0,
                lr: 2e-3,
                mask: MaskSchedule::Diffusion {
                    min_ratio: 0.05,
                    max_ratio: 1.0,
                },
                ..TrainConfig::default()
            },
            n_bootstrap: if preset == ScalingPreset::Tiny {
                100
            } else {
                1000
            },
            seed,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        if self.sizes.is_empty() {
            return Err(Error::param("sizes", 0, "at least one model size"));
        }
        for (name, v) in [
            ("scratch_data", &self.scratch_data),
            ("finetune_data", &self.finetune_data),
        ] {
            if v.is_empty() || v.contains(&0) || !v.windows(2).all(|w| w[0] < w[1]) {
                return Err(Error::param(
                    name,
                    format!("{v:?}"),
                    "non-empty, positive and strictly increasing",
                ));
            }
        }
        if self.scratch_data.len() < 2 {
            return Err(Error::param(
                "scratch_data",
                self.scratch_data.len(),
                "at least 2 amounts to interpolate",
            ));
        }
        for (name, v) in [
            ("lab_cells", self.lab_cells),
            ("pretrain_steps", self.pretrain_steps),
            ("epochs", self.epochs),
            ("min_steps", self.min_steps),
            ("max_steps", self.max_steps),
            ("n_scores", self.n_scores),
            ("eval_cells", self.eval_cells),
            ("select_cells", self.select_cells),
        ] {
            if v == 0 {
                return Err(Error::param(name, v, "must be positive"));
            }
        }
        if self.max_extrapolation.is_nan() || self.max_extrapolation < 1.0 {
            return Err(Error::param(
                "max_extrapolation",
                self.max_extrapolation,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn pool_cells(&self) -> usize {
        let d = self.scratch_data.last().copied().unwrap_or(0);
        d.max(self.finetune_data.last().copied().unwrap_or(0))
    }

    /// The target ("in vivo") brain.
    pub fn target_params(&self) -> BrainParams {
        BrainParams::default()
            .n_cells(self.eval_cells + self.select_cells + self.pool_cells())
            .n_background_genes(self.n_background_genes)
            .seed(self.seed)
    }

    /// The lab brain: shifted cell-type proportions, stimulation and library size, another
    /// seed.
    pub fn lab_params(&self) -> BrainParams {
        BrainParams::default()
            .n_cells(self.lab_cells)
            .n_background_genes(self.n_background_genes)
            .proportions(PerType {
                neuron: 0.10,
                astrocyte: 0.20,
                oligodendrocyte: 0.35,
                microglia: 0.35,
            })
            .stimulated_fraction(0.2)
            .library_size(3_000.0, 0.5)
            .seed(self.seed ^ 0x6c61_6200)
    }
}

/// Everything [`run_experiment`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// Settings.
    pub config: ExperimentConfig,
    /// Parameters of each size, total and without the gene-embedding table.
    pub n_params: Vec<(usize, usize)>,
    /// Every run.
    pub runs: Vec<RunRecord>,
    /// One per `(N, D_f)`.
    pub measurements: Vec<Measurement>,
    /// The fit over [`Measurement::fitted`] points, when there are enough.
    pub fit: Option<TransferFit>,
    /// Why there is no fit (or empty).
    pub fit_note: String,
    /// Wall time.
    pub seconds: f64,
}

/// Progress of [`run_experiment`].
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Runs finished.
    pub done: usize,
    /// Runs in all.
    pub total: usize,
    /// The run that just finished.
    pub run: &'a RunRecord,
}

struct Splits {
    target: PreparedCells,
    eval: Vec<CellRow>,
    select: Vec<CellRow>,
    pool: Vec<usize>,
    lab: PreparedCells,
}

fn brain(p: &BrainParams) -> Result<ExpressionMatrix> {
    Ok(generate(p)?.matrix)
}

fn prepare(cfg: &ExperimentConfig) -> Result<(GeneTokenizer, Splits)> {
    let target_m = brain(&cfg.target_params())?;
    let lab_m = brain(&cfg.lab_params())?;
    let (tok, target_sub) = fit_tokenizer(&target_m, &cfg.tokenizer)?;
    let target = tok.prepare(&target_sub)?;
    let lab = tok.prepare(&lab_m)?;
    let n_fields = tok.conditions.len();
    let (e, s) = (cfg.eval_cells, cfg.select_cells);
    let eval = (0..e)
        .map(|i| CellRow::from_prepared(&target, i, n_fields))
        .collect();
    let select = (e..e + s)
        .map(|i| CellRow::from_prepared(&target, i, n_fields))
        .collect();
    let pool = (e + s..target.n_cells()).collect();
    Ok((
        tok,
        Splits {
            target,
            eval,
            select,
            pool,
            lab,
        },
    ))
}

/// Trains one run and scores it; returns the record and the trainer (for pre-training).
#[allow(clippy::too_many_arguments)]
fn train_run(
    cfg: &ExperimentConfig,
    tok: &GeneTokenizer,
    size: usize,
    kind: RunKind,
    cells: &PreparedCells,
    train_idx: Vec<usize>,
    init: Option<&Params>,
    sp: &Splits,
) -> Result<(RunRecord, Trainer)> {
    let d = train_idx.len();
    let steps = if kind == RunKind::Pretrain {
        cfg.pretrain_steps
    } else {
        (cfg.epochs * d)
            .div_ceil(cfg.train.batch_size.max(1))
            .clamp(cfg.min_steps, cfg.max_steps.max(cfg.min_steps))
    };
    let eval_every = steps.div_ceil(cfg.n_scores).max(1);
    let train_cfg = TrainConfig {
        steps,
        seed: cfg.seed,
        warmup_steps: cfg.train.warmup_steps.min(steps),
        ..cfg.train.clone()
    };
    let data = TrainData::Memory {
        cells: Box::new(cells.clone()),
        train: train_idx,
        val: Vec::new(),
    };
    let mut trainer = Trainer::new(tok.clone(), &cfg.sizes[size], train_cfg, &Device::Cpu)?;
    if let Some(pre) = init {
        // Copy the pre-trained weights into the fresh trainer's variables (in place, so the
        // model shares them); the optimizer state stays zero.
        for (name, var) in trainer.params.iter() {
            var.set(&pre.get(name)?)?;
        }
    }
    let n_params = trainer.config.n_parameters();
    let score = |t: &Trainer| -> Result<CurvePoint> {
        Ok(CurvePoint {
            step: t.step,
            select_loss: t.validate(&sp.select)?.loss as f64,
            eval_loss: t.validate(&sp.eval)?.loss as f64,
        })
    };
    let mut curve = Vec::new();
    if kind == RunKind::Pretrain {
        trainer.run(&data, None, None, &mut |_| {})?;
        curve.push(score(&trainer)?);
    } else {
        curve.push(score(&trainer)?);
        while trainer.step < steps {
            let next = (trainer.step + eval_every).min(steps);
            trainer.run(&data, Some(next), None, &mut |_| {})?;
            curve.push(score(&trainer)?);
        }
    }
    let best = if kind == RunKind::Pretrain {
        curve.last().copied()
    } else {
        curve
            .iter()
            .copied()
            .min_by(|a, b| a.select_loss.total_cmp(&b.select_loss))
    }
    .ok_or_else(|| Error::Empty {
        what: "training curve",
        why: "no scoring".into(),
    })?;
    Ok((
        RunRecord {
            kind,
            size,
            n_params,
            d,
            best_step: best.step,
            loss: best.eval_loss,
            curve,
        },
        trainer,
    ))
}

/// Runs the experiment: per size, pre-training on lab cells, scratch runs on every
/// `scratch_data`, fine-tuning on every `finetune_data`; then `D_t` per `(N, D_f)` and the fit.
///
/// # Errors
/// [`ExperimentConfig::validate`] errors, data generation, tokenizer and training errors.
/// Too few usable measurements is not an error: the report then has no fit and says why.
pub fn run_experiment(
    cfg: &ExperimentConfig,
    on_progress: &mut dyn FnMut(Progress<'_>),
) -> Result<ExperimentReport> {
    cfg.validate()?;
    let t0 = Instant::now();
    let (tok, sp) = prepare(cfg)?;
    let total = cfg.sizes.len() * (1 + cfg.scratch_data.len() + cfg.finetune_data.len());
    let mut runs = Vec::with_capacity(total);
    let mut measurements = Vec::new();
    let mut n_params = Vec::new();
    let lab_idx: Vec<usize> = (0..sp.lab.n_cells()).collect();
    for size in 0..cfg.sizes.len() {
        let mut report = |runs: &mut Vec<RunRecord>, r: RunRecord| {
            runs.push(r);
            if let Some(run) = runs.last() {
                on_progress(Progress {
                    done: runs.len(),
                    total,
                    run,
                });
            }
        };
        let (pre, pre_trainer) = train_run(
            cfg,
            &tok,
            size,
            RunKind::Pretrain,
            &sp.lab,
            lab_idx.clone(),
            None,
            &sp,
        )?;
        let embed = pre_trainer.params.get("embed.gene")?.elem_count();
        n_params.push((pre.n_params, pre.n_params.saturating_sub(embed)));
        let pre_loss = pre.loss;
        let n = pre.n_params as f64;
        report(&mut runs, pre);
        let mut scratch = Vec::new();
        for &d in &cfg.scratch_data {
            let idx = sp.pool[..d.min(sp.pool.len())].to_vec();
            let (r, _) = train_run(
                cfg,
                &tok,
                size,
                RunKind::Scratch,
                &sp.target,
                idx,
                None,
                &sp,
            )?;
            scratch.push((d as f64, r.loss));
            report(&mut runs, r);
        }
        for &d_f in &cfg.finetune_data {
            let idx = sp.pool[..d_f.min(sp.pool.len())].to_vec();
            let (r, _) = train_run(
                cfg,
                &tok,
                size,
                RunKind::Finetune,
                &sp.target,
                idx,
                Some(&pre_trainer.params),
                &sp,
            )?;
            let (d_eq, status) = equivalent_data(&scratch, r.loss, cfg.max_extrapolation);
            let d_f = d_f as f64;
            measurements.push(Measurement {
                d_f,
                n,
                d_t: d_eq - d_f,
                d_equivalent: d_eq,
                loss_finetune: r.loss,
                loss_scratch_same_d: loss_at(&scratch, d_f),
                loss_pretrained: pre_loss,
                status,
            });
            report(&mut runs, r);
        }
    }
    let points: Vec<TransferPoint> = measurements
        .iter()
        .filter(|m| m.fitted())
        .map(|m| TransferPoint {
            d_f: m.d_f,
            n: m.n,
            d_t: m.d_t,
        })
        .collect();
    let (fit, fit_note) = match fit(
        &points,
        &FitParams {
            n_bootstrap: cfg.n_bootstrap,
            level: 0.95,
            seed: cfg.seed,
        },
    ) {
        Ok(f) => (Some(f), String::new()),
        Err(e) => (
            None,
            format!(
                "no fit: {} of {} measurements usable (interpolated or extrapolated with D_t > 0): {e}",
                points.len(),
                measurements.len()
            ),
        ),
    };
    Ok(ExperimentReport {
        config: cfg.clone(),
        n_params,
        runs,
        measurements,
        fit,
        fit_note,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// `measurements.csv`: one row per `(N, D_f)`.
pub fn measurements_csv(r: &ExperimentReport) -> String {
    let mut s = String::from(
        "d_f,n,d_t,d_equivalent,status,fitted,loss_finetune,loss_scratch_same_d,loss_pretrained\n",
    );
    for m in &r.measurements {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            m.d_f,
            m.n,
            m.d_t,
            m.d_equivalent,
            serde_json::to_value(m.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            m.fitted(),
            m.loss_finetune,
            m.loss_scratch_same_d,
            m.loss_pretrained
        ));
    }
    s
}

/// `report.md`.
pub fn report_markdown(r: &ExperimentReport) -> String {
    let c = &r.config;
    let mut s = format!(
        "# Transfer scaling experiment ({:?} preset, seed {})\n\n\
         Wall time {:.1} s. Target: default synthetic brain ({} background genes); lab: shifted \
         proportions (neuron 0.10, astrocyte 0.20, oligodendrocyte 0.35, microglia 0.35), 20 % \
         stimulated, library median 3000. Loss: masked-gene diffusion loss on {} fixed target \
         evaluation cells; early stopping on {} other target cells; training \
         per run: epochs {}, clamped to [{}, {}] steps, {} scorings; {} pre-training steps on {} lab cells.\n\n",
        c.preset,
        c.seed,
        r.seconds,
        c.n_background_genes,
        c.eval_cells,
        c.select_cells,
        c.epochs,
        c.min_steps,
        c.max_steps,
        c.n_scores,
        c.pretrain_steps,
        c.lab_cells
    );
    s.push_str("## Model sizes\n\n| size | d_model | layers | N | N without gene embedding |\n|---|---|---|---|---|\n");
    for (i, (a, (n, ne))) in c.sizes.iter().zip(&r.n_params).enumerate() {
        s.push_str(&format!(
            "| {i} | {} | {} | {n} | {ne} |\n",
            a.d_model, a.n_layers
        ));
    }
    s.push_str("\n## Runs (evaluation loss at the early-stopped step)\n\n| kind | N | D | best step | loss |\n|---|---|---|---|---|\n");
    for run in &r.runs {
        s.push_str(&format!(
            "| {:?} | {} | {} | {} | {:.4} |\n",
            run.kind, run.n_params, run.d, run.best_step, run.loss
        ));
    }
    s.push_str("\n## Measurements\n\n| N | D_f | loss fine-tuned | loss scratch at D_f | D equivalent | D_t | status |\n|---|---|---|---|---|---|---|\n");
    for m in &r.measurements {
        s.push_str(&format!(
            "| {} | {} | {:.4} | {:.4} | {:.1} | {:.1} | {:?} |\n",
            m.n, m.d_f, m.loss_finetune, m.loss_scratch_same_d, m.d_equivalent, m.d_t, m.status
        ));
    }
    s.push_str("\n## Fit D_t = k · D_f^α · N^β\n\n");
    match &r.fit {
        Some(f) => {
            let ci = |c: Option<cellsindy::scaling::Interval>| {
                c.map_or("—".to_string(), |c| format!("[{:.3}, {:.3}]", c.lo, c.hi))
            };
            s.push_str(&format!(
                "{} points, R² (ln D_t) = {:.3}, {} bootstrap resamples, {:.0} % intervals.\n\n\
                 | | estimate | interval |\n|---|---|---|\n\
                 | k | {:.4e} | {} |\n| α | {:.3} | {} |\n| β | {:.3} | {} |\n| β/α | {:.3} | {} |\n",
                f.n_points,
                f.r2,
                f.n_bootstrap,
                100.0 * f.level,
                f.law.k,
                ci(f.k_ci),
                f.law.alpha,
                ci(f.alpha_ci),
                f.law.beta,
                ci(f.beta_ci),
                f.law.beta / f.law.alpha,
                ci(f.ratio_ci)
            ));
        }
        None => s.push_str(&format!("{}\n", r.fit_note)),
    }
    s.push_str(
        "\nStatus: `interpolated` on the (running-minimum) scratch curve in ln D; `extrapolated` \
         below it along the last segment; `above`: fine-tuning no better than scratch on the \
         fewest cells (not fitted); `beyond`: below the curve past the extrapolation limit (not \
         fitted). Figure: `scaling.svg`.\n",
    );
    s
}

/// Writes `measurements.csv`, `fit.json` (the whole report, fit included), `report.md` and
/// `scaling.svg` (when the `plot` feature is on) into `dir`.
///
/// # Errors
/// I/O, serialisation and plot errors.
pub fn write_outputs(r: &ExperimentReport, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_atomic(
        &dir.join("measurements.csv"),
        measurements_csv(r).as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(r)
        .map_err(|e| Error::format(dir.join("fit.json"), e.to_string()))?;
    write_atomic(&dir.join("fit.json"), json.as_bytes())?;
    write_atomic(&dir.join("report.md"), report_markdown(r).as_bytes())?;
    write_atomic(
        &dir.join("scaling.svg"),
        cellsindy::plot::scaling::scaling_svg(
            &r.runs,
            &r.n_params,
            &r.measurements,
            r.fit.as_ref(),
        )?
        .as_bytes(),
    )?;
    Ok(())
}
