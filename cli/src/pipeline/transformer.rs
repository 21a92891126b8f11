//! The gene-transformer workflow: choose the vocabulary, tokenize, train, and score the model
//! against the synthetic brain's ground truth.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use cellsindy::error::{Error, Result};
use cellsindy::expression::io::{read_expression, stream_cells, ReadOptions};
use cellsindy::expression::kind::{check_model_kind, to_model_scale};
use cellsindy::expression::{ExpressionMatrix, Values};
use cellsindy::io::output::Output;
use cellsindy::nn::checkpoint;
use cellsindy::nn::history::ValRecord;
use cellsindy::nn::{RunConfig, TrainData, TrainEvent, Trainer};
use cellsindy::tokenize::fit_tokenizer;

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
        let mut m = read_expression(&job.data, &job.read)?;
        let kind = to_model_scale(&mut m)?;
        if m.values().nnz() == 0 {
            return Err(Error::Empty {
                what: "expression data",
                why: format!(
                    "every value in {} is zero: there is nothing to learn",
                    job.data.display()
                ),
            });
        }
        Some((m, kind.kind))
    };
    let mut trainer = if let Some(t) = resumed {
        if let Some((_, kind)) = &matrix {
            check_model_kind(t.tokenizer.input_kind, *kind, job.read.any_kind)?;
        }
        t
    } else {
        let tok = match &matrix {
            Some((m, kind)) => {
                let mut tok = fit_tokenizer(m, &job.config.tokenizer)?.0;
                tok.input_kind = Some(*kind);
                tok
            }
            None => {
                // The vocabulary and the kind from the first chunk of cells (highly variable
                // genes need values).
                let mut chunks = stream_cells(&job.data, job.config.train.stream_chunk, &job.read)?;
                let genes = chunks.genes().clone();
                let first = chunks.next().ok_or_else(|| Error::Empty {
                    what: "expression file",
                    why: format!("{} has zero cells", job.data.display()),
                })??;
                let mut m =
                    ExpressionMatrix::new(Values::Sparse(first.values), genes, first.cells)?;
                let kind = to_model_scale(&mut m)?;
                let mut tok = fit_tokenizer(&m, &job.config.tokenizer)?.0;
                tok.input_kind = Some(kind.kind);
                tok
            }
        };
        Trainer::new(tok, &job.config.model, job.config.train.clone(), device)?
    };
    let matrix = matrix.map(|(m, _)| m);
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
