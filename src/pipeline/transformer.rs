//! The gene-transformer workflow: choose the vocabulary, tokenize, train, and score the model
//! against the synthetic brain's ground truth.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::expression::io::{read_expression, stream_cells, ReadOptions};
use crate::expression::normalize::{highly_variable_genes, log1p, normalize_total};
use crate::expression::{CsrMatrix, ExpressionMatrix, Values};
use crate::io::output::Output;
use crate::nn::checkpoint;
use crate::nn::data::{
    collate, is_validation, tokenize_fixed_cell, validation_masks, withhold_masked, CellRow,
};
use crate::nn::infer::{generate, impute, Context, GenerateParams, InferenceModel};
use crate::nn::train::ValRecord;
use crate::nn::{MaskSchedule, RunConfig, TokenizerConfig, TrainData, TrainEvent, Trainer};
use crate::tokenize::{
    BinLevel, BinSchemeKind, Binning, GeneSampling, GeneTokenizer, PreparedCells, N_SPECIAL,
};

/// Genes kept for the vocabulary, in the data's order: the `cfg.n_top_genes` most variable
/// (`cfg.hvg_flavor`, on `normalize_total` + `log1p` values, as scGPT's preprocessing; all
/// genes when it is 0 or at least the number of genes) and every `cfg.include_genes` gene
/// (matched by symbol, then by id).
///
/// # Errors
/// [`Error::InvalidParam`] naming the `include_genes` the data lack; the normalisation's
/// errors (e.g. zero cells).
pub fn select_vocabulary(m: &ExpressionMatrix, cfg: &TokenizerConfig) -> Result<Vec<usize>> {
    let genes = m.genes();
    let mut missing = Vec::new();
    let mut include = Vec::with_capacity(cfg.include_genes.len());
    for name in &cfg.include_genes {
        match genes
            .position(name)
            .or_else(|| genes.ids.as_ref()?.iter().position(|id| id == name))
        {
            Some(g) => include.push(g),
            None => missing.push(name.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(Error::param(
            "include_genes",
            missing.join(", "),
            format!("not among the data's {} genes", m.n_genes()),
        ));
    }
    let n_top = cfg.n_top_genes;
    let mut keep = if n_top == 0 || n_top >= m.n_genes() {
        (0..m.n_genes()).collect()
    } else {
        let mut norm = m.clone();
        normalize_total(&mut norm, None)?;
        log1p(&mut norm);
        highly_variable_genes(&norm, n_top, cfg.hvg_flavor)?.0
    };
    keep.extend(include);
    keep.sort_unstable();
    keep.dedup();
    Ok(keep)
}

/// A tokenizer fitted to `m` per `cfg` (vocabulary = [`select_vocabulary`]), and `m`
/// restricted to that vocabulary.
///
/// # Errors
/// Tokenizer and selection errors.
pub fn fit_tokenizer(
    m: &ExpressionMatrix,
    cfg: &TokenizerConfig,
) -> Result<(GeneTokenizer, ExpressionMatrix)> {
    let keep = select_vocabulary(m, cfg)?;
    let sub = if keep.len() == m.n_genes() {
        m.clone()
    } else {
        m.select_genes(&keep)?
    };
    let mut tok = GeneTokenizer::fit(
        &sub,
        Binning::per_cell(cfg.n_bins),
        GeneSampling {
            max_genes: cfg.max_genes,
            zero_share: cfg.zero_share,
        },
        &cfg.conditions,
    )?;
    let fit: Option<fn(u32, &CsrMatrix) -> Result<Binning>> = match cfg.binning {
        BinSchemeKind::PerCell => None,
        BinSchemeKind::PerGene => Some(Binning::fit_per_gene),
        BinSchemeKind::LogRatio => Some(Binning::fit_log_ratio),
    };
    if let Some(fit) = fit {
        // Fitted on `m` itself: normalisation needs every gene's counts, not the vocabulary's.
        let prepared = tok.prepare(m)?;
        tok.binning = fit(cfg.n_bins, &prepared.values)?;
    }
    Ok((tok, sub))
}

/// A training job: where the data and checkpoint are, and the settings.
#[derive(Debug, Clone)]
pub struct TrainJob {
    /// Expression file (counts).
    pub data: PathBuf,
    /// Checkpoint directory to write.
    pub out: PathBuf,
    /// Model, tokenizer and training settings.
    pub config: RunConfig,
    /// Reader options.
    pub read: ReadOptions,
    /// Stream batches from disk instead of loading the data (`.h5ad`, 10x).
    pub stream: bool,
    /// Continue the run saved in `out` (with its own settings: `config` is not used).
    pub resume: bool,
    /// With `resume`: the run's new total of steps (default: the saved run's own total); it
    /// must exceed the steps already done. Must be `None` for a fresh run (set
    /// `config.train.steps` instead).
    pub resume_steps: Option<usize>,
    /// Stop after this many steps (the schedule still follows `train.steps`).
    pub stop_after: Option<usize>,
}

/// What a training job did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// Cells in the file.
    pub n_cells: usize,
    /// Training cells.
    pub n_train: usize,
    /// Vocabulary genes.
    pub n_genes: usize,
    /// Vocabulary genes missing from the data (none when the vocabulary was built from it).
    pub missing_genes: Vec<String>,
    /// Trainable parameters.
    pub n_parameters: usize,
    /// Steps done (in total, over resumes).
    pub steps: usize,
    /// Mean training loss over the last 50 steps.
    pub final_train_loss: f32,
    /// Last validation (`None` when no cell was held out; see `n_validation`).
    pub validation: Option<ValRecord>,
    /// Held-out cells validation used (0: none was held out, so masked-gene accuracy was
    /// not measured).
    pub n_validation: usize,
    /// The run's share of held-out cells.
    pub val_fraction: f64,
    /// Wall time of this job (seconds).
    pub seconds: f64,
    /// Gene tokens per second over this job's steps.
    pub tokens_per_sec: f64,
}

/// The saved run in `job.out`, with its total of steps set by `job.resume_steps`.
fn resume_trainer(job: &TrainJob, device: &Device) -> Result<Trainer> {
    let mut t = Trainer::resume(checkpoint::load(&job.out, device)?)?;
    let total = job.resume_steps.unwrap_or(t.train.steps);
    if total <= t.step {
        let why = match job.resume_steps {
            Some(s) => format!(
                "the run saved in {} has done {} steps; a total of {s} would train nothing: give more steps",
                job.out.display(),
                t.step
            ),
            None => format!(
                "the run saved in {} is complete ({} of {} steps): give a larger total of steps to continue it",
                job.out.display(),
                t.step,
                t.train.steps
            ),
        };
        return Err(Error::param("steps", total, why));
    }
    t.train.steps = total;
    Ok(t)
}

/// Reads the data, builds the tokenizer (or takes the checkpoint's when resuming), trains and
/// writes the checkpoint.
///
/// # Errors
/// [`Error::OutputRefused`] (before any work) when `out` is not ours to replace or is the
/// data; [`Error::Empty`] for data whose values are all zero; [`Error::InvalidParam`] for a
/// resume that would train nothing; read, tokenizer, training ([`Trainer::new`]: a vocabulary
/// of fewer than 2 genes, a model too large for memory) and checkpoint errors.
pub fn train(
    job: &TrainJob,
    device: &Device,
    on_event: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<TrainSummary> {
    let start = Instant::now();
    job.config.train.validate()?;
    if job.resume_steps.is_some() && !job.resume {
        return Err(Error::param(
            "resume_steps",
            format!("{:?}", job.resume_steps),
            "is for resuming a run; a fresh run takes its steps from config.train.steps",
        ));
    }
    // The checkpoint's place is checked (ours to replace, not the data, writable) before the
    // data are read or a step is trained.
    drop(Output::dir(&job.out, &[&job.data])?);
    let resumed = if job.resume {
        Some(resume_trainer(job, device)?)
    } else {
        None
    };
    // In memory, the file is read once: for the vocabulary (a fresh run) and for training.
    let matrix = if job.stream {
        None
    } else {
        let m = read_expression(&job.data, &job.read)?;
        if m.values().nnz() == 0 {
            return Err(Error::Empty {
                what: "expression data",
                why: format!(
                    "every value in {} is zero: there is nothing to learn",
                    job.data.display()
                ),
            });
        }
        Some(m)
    };
    let mut trainer = if let Some(t) = resumed {
        t
    } else {
        let tok = match &matrix {
            Some(m) => fit_tokenizer(m, &job.config.tokenizer)?.0,
            None => {
                // The vocabulary from the first chunk of cells (highly variable genes need
                // values).
                let mut chunks = stream_cells(&job.data, job.config.train.stream_chunk, &job.read)?;
                let genes = chunks.genes().clone();
                let first = chunks.next().ok_or_else(|| Error::Empty {
                    what: "expression file",
                    why: format!("{} has zero cells", job.data.display()),
                })??;
                let m = ExpressionMatrix::new(Values::Sparse(first.values), genes, first.cells)?;
                fit_tokenizer(&m, &job.config.tokenizer)?.0
            }
        };
        Trainer::new(tok, &job.config.model, job.config.train.clone(), device)?
    };
    let (data, n_cells, missing) = match matrix {
        Some(m) => {
            let prepared = trainer.tokenizer.prepare(&m)?;
            drop(m);
            let missing = prepared.coverage.missing.clone();
            let n = prepared.n_cells();
            (TrainData::memory(prepared, &trainer.train)?, n, missing)
        }
        None => {
            let d = TrainData::stream(&job.data, &job.read, &trainer.tokenizer, &trainer.train)?;
            let n = match &d {
                TrainData::Stream { n_cells, .. } => *n_cells,
                TrainData::Memory { .. } => 0,
            };
            (d, n, Vec::new())
        }
    };
    let n_train = data.n_train(&trainer.train);
    let n_validation = data.n_validation().min(trainer.train.val_cells);
    let first_step = trainer.step;
    let mut tokens = 0usize;
    let t0 = Instant::now();
    trainer.run(&data, job.stop_after, Some(&job.out), &mut |e| {
        if let TrainEvent::Step { record, .. } = e {
            tokens += record.tokens;
        }
        on_event(e)
    })?;
    let train_secs = t0.elapsed().as_secs_f64();
    let tail: Vec<f32> = trainer
        .history
        .steps
        .iter()
        .rev()
        .take(50)
        .map(|r| r.loss)
        .collect();
    Ok(TrainSummary {
        n_cells,
        n_train,
        n_genes: trainer.tokenizer.vocab.n_genes(),
        missing_genes: missing,
        n_parameters: trainer.params.n_scalars(),
        steps: trainer.step,
        final_train_loss: tail.iter().sum::<f32>() / tail.len().max(1) as f32,
        validation: trainer.history.validation.last().copied(),
        n_validation,
        val_fraction: trainer.train.val_fraction,
        seconds: start.elapsed().as_secs_f64(),
        tokens_per_sec: if trainer.step > first_step {
            tokens as f64 / train_secs
        } else {
            0.0
        },
    })
}

impl std::fmt::Display for TrainSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "trained {} steps on {} of {} cells, {} genes, {} parameters",
            self.steps, self.n_train, self.n_cells, self.n_genes, self.n_parameters
        )?;
        if !self.missing_genes.is_empty() {
            writeln!(
                f,
                "  {} vocabulary genes missing from the data: {}",
                self.missing_genes.len(),
                self.missing_genes
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        writeln!(
            f,
            "  train loss (last 50 steps) {:.4}",
            self.final_train_loss
        )?;
        match &self.validation {
            Some(v) => writeln!(
                f,
                "  validation loss {:.4}, masked-gene accuracy {:.3} ({} masked genes, {} held-out cells)",
                v.loss, v.accuracy, v.n_masked, self.n_validation
            )?,
            None => writeln!(
                f,
                "  no validation: no cell was held out ({} cells, val_fraction {}), so masked-gene accuracy was not measured",
                self.n_cells, self.val_fraction
            )?,
        }
        writeln!(
            f,
            "  {:.1} s, {:.0} gene tokens/s",
            self.seconds, self.tokens_per_sec
        )
    }
}

/// Settings of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct EvalConfig {
    /// Held-out cells scored (at most).
    pub n_cells: usize,
    /// Share of each held-out cell's context masked for the accuracy test.
    pub mask_ratio: f32,
    /// XOR test: `(target, regulator a, regulator b)`; skipped if any is not in the vocabulary.
    pub xor: (String, String, String),
    /// Marker pair whose exclusivity generated cells must keep.
    pub markers: (String, String),
    /// Cells to generate.
    pub n_generate: usize,
    /// Unmasking steps of generation.
    pub generate_steps: usize,
    /// Seed of masks, contexts and draws.
    pub seed: u64,
    /// Cells per forward pass.
    pub batch_size: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            n_cells: 2000,
            mask_ratio: 0.15,
            xor: ("TGXOR".into(), "TFA".into(), "TFB".into()),
            markers: ("RBFOX3".into(), "GFAP".into()),
            n_generate: 500,
            generate_steps: 16,
            seed: 0,
            batch_size: 64,
        }
    }
}

/// Masked-gene accuracy of the model and of the per-gene marginal baseline on the same masks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MaskedAccuracy {
    /// Held-out cells.
    pub n_cells: usize,
    /// Masked genes scored.
    pub n_masked: usize,
    /// Model: most probable bin = true bin.
    pub model: f64,
    /// Baseline: each gene's most frequent bin in the training cells.
    pub marginal: f64,
    /// Model: mean |predicted − true| bin.
    pub model_mae: f64,
    /// Baseline: mean |mode − true| bin.
    pub marginal_mae: f64,
}

/// Balanced accuracy of calling a target HIGH from the model's `p(HIGH) > 0.5`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct XorImputation {
    /// Cells scored.
    pub n_cells: usize,
    /// Context: the usual sampled context with both regulators visible.
    pub balanced_accuracy: f64,
    /// `[[true neg, false pos], [false neg, true pos]]` for the sampled context.
    pub confusion: [[usize; 2]; 2],
    /// Context: only the two regulators visible, every other gene masked.
    pub balanced_accuracy_regulators_only: f64,
    /// Baseline: the XOR of the regulators' observed HIGH calls (what a perfect model of the
    /// gate would get from the same measurements).
    pub balanced_accuracy_observed_xor: f64,
}

/// Marker exclusivity of generated vs real cells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Exclusivity {
    /// Cells generated.
    pub n_generated: usize,
    /// Held-out real cells.
    pub n_data: usize,
    /// Generated cells with both markers HIGH.
    pub generated_both_high: f64,
    /// Real cells with both markers HIGH.
    pub data_both_high: f64,
    /// Generated cells with marker a / b HIGH.
    pub generated_high: (f64, f64),
    /// Real cells with marker a / b HIGH.
    pub data_high: (f64, f64),
    /// `P(a HIGH)·P(b HIGH)` in the data: what independent markers would give.
    pub independent_both_high: f64,
}

/// Everything [`evaluate`] measures.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Masked-gene accuracy vs the marginal baseline.
    pub masked: MaskedAccuracy,
    /// XOR-gate imputation (absent if its genes are not in the vocabulary).
    pub xor: Option<XorImputation>,
    /// Generated cells' marker exclusivity (absent if a marker is not in the vocabulary).
    pub generation: Option<Exclusivity>,
    /// Seconds spent.
    pub seconds: f64,
}

fn balanced_accuracy(pred: &[bool], truth: &[bool]) -> (f64, [[usize; 2]; 2]) {
    let mut c = [[0usize; 2]; 2];
    for (&p, &t) in pred.iter().zip(truth) {
        c[usize::from(t)][usize::from(p)] += 1;
    }
    let tpr = c[1][1] as f64 / (c[1][0] + c[1][1]).max(1) as f64;
    let tnr = c[0][0] as f64 / (c[0][0] + c[0][1]).max(1) as f64;
    (0.5 * (tpr + tnr), c)
}

/// Scores a model on the held-out cells of `cells` (the same split as its training run:
/// `split_seed`, `val_fraction`): masked-gene accuracy against the per-gene marginal baseline,
/// imputation of an XOR-gate gene from its regulators, and marker exclusivity of generated
/// cells against the data.
///
/// # Errors
/// [`Error::Empty`] if no cell is held out; inference errors.
pub fn evaluate(
    model: &InferenceModel,
    cells: &PreparedCells,
    split_seed: u64,
    val_fraction: f64,
    cfg: &EvalConfig,
) -> Result<EvalReport> {
    let start = Instant::now();
    let tok = &model.tokenizer;
    let n_fields = tok.conditions.len();
    let (held, train): (Vec<usize>, Vec<usize>) =
        (0..cells.n_cells()).partition(|&i| is_validation(split_seed, i, val_fraction));
    let held: Vec<usize> = held.into_iter().take(cfg.n_cells).collect();
    if held.is_empty() || train.is_empty() {
        return Err(Error::Empty {
            what: "held-out split",
            why: format!(
                "{} held-out and {} training cells (val_fraction {val_fraction})",
                held.len(),
                train.len()
            ),
        });
    }
    let n_vocab = tok.vocab.n_genes();
    let n_bins = tok.binning.n_bins as usize;
    // Per-gene marginal bin counts over the training cells.
    let mut counts = vec![0u32; n_vocab * n_bins];
    let mut expressed = vec![0u32; n_vocab];
    for &i in &train {
        let (cols, vals) = cells.values.row(i);
        let bins = tok.binning.bin_cell(cols, vals)?;
        for (&c, &b) in cols.iter().zip(&bins) {
            counts[c as usize * n_bins + b as usize] += 1;
            expressed[c as usize] += 1;
        }
    }
    let mode: Vec<u32> = (0..n_vocab)
        .map(|g| {
            let row = &mut counts[g * n_bins..(g + 1) * n_bins];
            row[0] = train.len() as u32 - expressed[g];
            let mut best = 0;
            for b in 1..n_bins {
                if row[b] > row[best] {
                    best = b;
                }
            }
            best as u32
        })
        .collect();

    // 1. Masked-gene accuracy.
    let schedule = MaskSchedule::Fixed {
        ratio: cfg.mask_ratio,
    };
    let (mut n_masked, mut hit_model, mut hit_marg, mut err_model, mut err_marg) =
        (0usize, 0usize, 0usize, 0f64, 0f64);
    for (k, chunk) in held.chunks(cfg.batch_size.max(1)).enumerate() {
        let rows: Vec<CellRow> = chunk
            .iter()
            .map(|&i| CellRow::from_prepared(cells, i, n_fields))
            .collect();
        let mut toks = rows
            .iter()
            .map(|r| tokenize_fixed_cell(tok, cfg.seed, r, &[]))
            .collect::<Result<Vec<_>>>()?;
        let masking = validation_masks(&toks, schedule, cfg.seed, k as u64);
        withhold_masked(tok, &rows, &mut toks, &masking)?;
        let batch = collate(
            &toks,
            Some(&masking),
            tok.binning.n_bins,
            n_fields,
            model.model.device(),
        )?;
        let pred = model
            .model
            .forward(&batch.input)?
            .argmax(candle_core::D::Minus1)?
            .to_vec2::<u32>()?;
        for (i, t) in toks.iter().enumerate() {
            for j in 0..t.genes.len() {
                if masking.masked[i][j] {
                    let truth = t.bins[j];
                    let m = mode[(t.genes[j] - N_SPECIAL) as usize];
                    n_masked += 1;
                    hit_model += usize::from(pred[i][j] == truth);
                    hit_marg += usize::from(m == truth);
                    err_model += (pred[i][j] as f64 - truth as f64).abs();
                    err_marg += (m as f64 - truth as f64).abs();
                }
            }
        }
    }
    let nm = n_masked.max(1) as f64;
    let masked = MaskedAccuracy {
        n_cells: held.len(),
        n_masked,
        model: hit_model as f64 / nm,
        marginal: hit_marg as f64 / nm,
        model_mae: err_model / nm,
        marginal_mae: err_marg / nm,
    };

    // 2. XOR-gate imputation.
    let (target, ra, rb) = &cfg.xor;
    let xor = match model.positions(&[target, ra, rb]) {
        Err(_) => None,
        Ok(pos) => {
            let (t, a, b) = (pos[0], pos[1], pos[2]);
            let full = impute(
                model,
                cells,
                &held,
                &[t, a, b],
                &Context::sampled(),
                cfg.seed,
                cfg.batch_size,
            )?;
            let with_regs = impute(
                model,
                cells,
                &held,
                &[t],
                &Context::Sampled {
                    include: vec![a, b],
                },
                cfg.seed,
                cfg.batch_size,
            )?;
            // Only the regulators visible: every other gene of the context is masked, which
            // asks the absorbing-diffusion model for p(target | regulators) in distribution
            // (a context of three tokens never occurs in training).
            let mut hidden: Vec<u32> = vec![t];
            hidden.extend(
                (0..n_vocab as u32)
                    .filter(|g| ![t, a, b].contains(g))
                    .take(tok.sampling.max_genes.saturating_sub(3)),
            );
            let only = impute(
                model,
                cells,
                &held,
                &hidden,
                &Context::Only(vec![a, b]),
                cfg.seed,
                cfg.batch_size,
            )?;
            let high = |bin: u32| tok.binning.level(bin) == BinLevel::High;
            let truth: Vec<bool> = (0..held.len())
                .map(|c| high(full.observed[[c, 0]]))
                .collect();
            let pred: Vec<bool> = (0..held.len())
                .map(|c| with_regs.p_high[[c, 0]] > 0.5)
                .collect();
            let pred_only: Vec<bool> = (0..held.len()).map(|c| only.p_high[[c, 0]] > 0.5).collect();
            let observed_xor: Vec<bool> = (0..held.len())
                .map(|c| high(full.observed[[c, 1]]) != high(full.observed[[c, 2]]))
                .collect();
            let (ba, confusion) = balanced_accuracy(&pred, &truth);
            Some(XorImputation {
                n_cells: held.len(),
                balanced_accuracy: ba,
                confusion,
                balanced_accuracy_regulators_only: balanced_accuracy(&pred_only, &truth).0,
                balanced_accuracy_observed_xor: balanced_accuracy(&observed_xor, &truth).0,
            })
        }
    };

    // 3. Generation: marker exclusivity.
    let (ma, mb) = &cfg.markers;
    let generation = match model.positions(&[ma, mb]) {
        Err(_) => None,
        Ok(pos) if cfg.n_generate > 0 => {
            let max = tok.sampling.max_genes;
            let panel: Option<Vec<u32>> = if n_vocab <= max {
                None
            } else {
                let mut p: Vec<u32> = pos.clone();
                p.extend(
                    (0..n_vocab as u32)
                        .filter(|g| !pos.contains(g))
                        .take(max - 2),
                );
                Some(p)
            };
            let gen = generate(
                model,
                &GenerateParams {
                    n_cells: cfg.n_generate,
                    genes: panel,
                    conditions: None,
                    steps: cfg.generate_steps,
                    temperature: 1.0,
                    seed: cfg.seed,
                    batch_size: cfg.batch_size,
                },
            )?;
            let col = |name: &str| gen.genes.iter().position(|g| g == name);
            let (Some(ca), Some(cb)) = (col(ma), col(mb)) else {
                return Err(Error::UnknownGenes {
                    genes: vec![ma.clone(), mb.clone()],
                });
            };
            let high = |bin: u32| tok.binning.level(bin) == BinLevel::High;
            let n = gen.bins.nrows() as f64;
            let g_a = (0..gen.bins.nrows())
                .filter(|&i| high(gen.bins[[i, ca]]))
                .count() as f64
                / n;
            let g_b = (0..gen.bins.nrows())
                .filter(|&i| high(gen.bins[[i, cb]]))
                .count() as f64
                / n;
            let g_ab = (0..gen.bins.nrows())
                .filter(|&i| high(gen.bins[[i, ca]]) && high(gen.bins[[i, cb]]))
                .count() as f64
                / n;
            let mut d = (0usize, 0usize, 0usize);
            for &i in &held {
                let (cols, vals) = cells.values.row(i);
                let bins = tok.binning.bin_cell(cols, vals)?;
                let bin_of = |g: u32| cols.binary_search(&g).map_or(0, |k| bins[k]);
                let (ha, hb) = (high(bin_of(pos[0])), high(bin_of(pos[1])));
                d.0 += usize::from(ha);
                d.1 += usize::from(hb);
                d.2 += usize::from(ha && hb);
            }
            let nd = held.len() as f64;
            Some(Exclusivity {
                n_generated: gen.bins.nrows(),
                n_data: held.len(),
                generated_both_high: g_ab,
                data_both_high: d.2 as f64 / nd,
                generated_high: (g_a, g_b),
                data_high: (d.0 as f64 / nd, d.1 as f64 / nd),
                independent_both_high: (d.0 as f64 / nd) * (d.1 as f64 / nd),
            })
        }
        Ok(_) => None,
    };
    Ok(EvalReport {
        masked,
        xor,
        generation,
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl std::fmt::Display for EvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.masked;
        writeln!(
            f,
            "held-out masked-gene accuracy ({} cells, {} masked genes):",
            m.n_cells, m.n_masked
        )?;
        writeln!(
            f,
            "  model     {:.3}  (mean |bin error| {:.2})",
            m.model, m.model_mae
        )?;
        writeln!(
            f,
            "  marginal  {:.3}  (mean |bin error| {:.2})  per-gene most frequent bin",
            m.marginal, m.marginal_mae
        )?;
        if let Some(x) = &self.xor {
            writeln!(
                f,
                "XOR-gate gene imputed from its regulators ({} cells, HIGH vs not):",
                x.n_cells
            )?;
            writeln!(
                f,
                "  balanced accuracy {:.3} (sampled context incl. both regulators)",
                x.balanced_accuracy
            )?;
            writeln!(
                f,
                "  balanced accuracy {:.3} (only the two regulators visible, all else masked)",
                x.balanced_accuracy_regulators_only
            )?;
            writeln!(
                f,
                "  balanced accuracy {:.3} (XOR of the regulators' observed HIGH calls)",
                x.balanced_accuracy_observed_xor
            )?;
            writeln!(f, "  confusion [[TN, FP], [FN, TP]] = {:?}", x.confusion)?;
        }
        if let Some(g) = &self.generation {
            writeln!(
                f,
                "generated cells ({}), marker exclusivity vs {} held-out cells:",
                g.n_generated, g.n_data
            )?;
            writeln!(f, "  both markers HIGH: generated {:.3}, data {:.3} (independent markers would give {:.3})", g.generated_both_high, g.data_both_high, g.independent_both_high)?;
            writeln!(
                f,
                "  marker HIGH rates: generated {:.3} / {:.3}, data {:.3} / {:.3}",
                g.generated_high.0, g.generated_high.1, g.data_high.0, g.data_high.1
            )?;
        }
        writeln!(f, "  evaluated in {:.1} s", self.seconds)
    }
}
