//! The training loop: masked (absorbing-state) diffusion over gene tokens with AdamW.
//!
//! Per step: the batch's cells (see [`super::data`]) are tokenized, each cell draws a masking
//! ratio `t` and masks each gene with probability `t`, the model predicts the masked bins, and
//! the loss is `Σ_masked CE / t` divided by the batch's gene tokens (the diffusion ELBO of
//! MDLM / LLaDA), or the plain mean CE over masked genes for [`MaskSchedule::Fixed`].
//! Validation uses the same objective on held-out cells with masks fixed once, so its curve is
//! comparable across evaluations, and reports masked-gene accuracy.
//!
//! The loop reports through a callback ([`TrainEvent`]) so the library draws no progress bar;
//! the CLI draws one with indicatif.

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor, D};

use super::checkpoint::{self, Checkpoint, TrainState};
use super::config::{Architecture, MaskSchedule, ModelConfig, TrainConfig};
use super::data::{
    collate, step_masks, tokenize_fixed_cell, tokenize_training_cell, validation_masks,
    withhold_masked, Collated, TrainData,
};
use super::history::{History, StepRecord, ValRecord};
use super::init::Params;
use super::model::GeneTransformer;
use super::optim::{learning_rate, AdamW};
use crate::error::{Error, Result};
use crate::tokenize::GeneTokenizer;

/// Progress reported by [`Trainer::run`].
#[derive(Debug, Clone, Copy)]
pub enum TrainEvent<'a> {
    /// A step finished; `tokens_per_sec` is this step's throughput.
    Step {
        /// The record.
        record: &'a StepRecord,
        /// Total steps of the run.
        total: usize,
        /// Gene tokens per second of wall time, this step.
        tokens_per_sec: f64,
    },
    /// A validation finished.
    Validation(&'a ValRecord),
    /// A checkpoint was written.
    Checkpoint(&'a Path),
}

/// A model under training with its optimizer and history.
pub struct Trainer {
    /// Tokenizer (saved with every checkpoint).
    pub tokenizer: GeneTokenizer,
    /// Architecture.
    pub config: ModelConfig,
    /// Settings.
    pub train: TrainConfig,
    /// Weights.
    pub params: Params,
    /// Steps done.
    pub step: usize,
    /// Curves.
    pub history: History,
    model: GeneTransformer,
    opt: AdamW,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// The model config for a tokenizer and an architecture.
pub fn model_config(tokenizer: &GeneTokenizer, arch: &Architecture) -> ModelConfig {
    ModelConfig {
        n_gene_tokens: tokenizer.vocab.n_tokens(),
        n_bins: tokenizer.binning.n_bins as usize,
        n_condition_tokens: tokenizer.n_condition_tokens(),
        n_condition_fields: tokenizer.conditions.len(),
        d_model: arch.d_model,
        n_layers: arch.n_layers,
        n_heads: arch.n_heads,
        d_ff: arch.d_ff,
        layer_norm_eps: 1e-5,
        value_embedding: arch.value_embedding,
    }
}

/// The masked-gene loss: `Σ weights · CE(logits, targets) / denom`.
///
/// # Shapes
/// - `logits`: `[B, L, K]`; `targets`: `[B, L]` `u32`; `weights`: `[B, L]` `f32`.
///
/// # Errors
/// [`Error::Tensor`] for shape or device errors.
pub fn masked_loss(
    logits: &Tensor,
    targets: &Tensor,
    weights: &Tensor,
    denom: f64,
) -> Result<Tensor> {
    let (b, l, k) = logits.dims3()?;
    let logp = candle_nn::ops::log_softmax(&logits.reshape((b * l, k))?, D::Minus1)?;
    let nll = logp
        .gather(&targets.reshape((b * l, 1))?, 1)?
        .squeeze(1)?
        .neg()?;
    Ok(((nll * weights.reshape(b * l)?)?.sum_all()? / denom)?)
}

fn loss_denominator(schedule: MaskSchedule, c: &Collated) -> f64 {
    match schedule {
        MaskSchedule::Diffusion { .. } => c.n_tokens.max(1) as f64,
        MaskSchedule::Fixed { .. } => c.n_masked.max(1) as f64,
    }
}

impl Trainer {
    /// A fresh run: weights from `train.seed`, zero optimizer state.
    ///
    /// # Errors
    /// Validation errors of the configs; [`Error::Empty`] for a vocabulary of fewer than 2
    /// genes; [`Error::TooLarge`] when a training step would not fit in memory; device errors.
    pub fn new(
        tokenizer: GeneTokenizer,
        arch: &Architecture,
        train: TrainConfig,
        device: &Device,
    ) -> Result<Self> {
        train.validate()?;
        if tokenizer.vocab.n_genes() < 2 {
            return Err(Error::Empty {
                what: "vocabulary",
                why: format!(
                    "it has {} gene(s): masked-gene training predicts a gene from the others, so it needs at least 2",
                    tokenizer.vocab.n_genes()
                ),
            });
        }
        let config = model_config(&tokenizer, arch);
        config.validate()?;
        let context = tokenizer.sampling.max_genes + tokenizer.conditions.len() + 1;
        crate::memory::ensure_fits(
            || {
                format!(
                    "training a model of {} genes (d_model {}, {} layers, d_ff {}) on batches of {} contexts of {context} tokens",
                    tokenizer.vocab.n_genes(),
                    config.d_model,
                    config.n_layers,
                    config.d_ff,
                    train.batch_size
                )
            },
            config.training_bytes(train.batch_size, context),
        )?;
        let params = Params::init(&config, train.seed, device)?;
        let model = GeneTransformer::load(&params, &config)?;
        let opt = AdamW::new(&params);
        Ok(Self {
            tokenizer,
            config,
            train,
            params,
            step: 0,
            history: History::default(),
            model,
            opt,
        })
    }

    /// Continues the run saved in `ckpt` (it must be a training checkpoint).
    ///
    /// # Errors
    /// [`Error::Format`] if `ckpt` has no training state.
    pub fn resume(ckpt: Checkpoint) -> Result<Self> {
        let Some((state, opt)) = ckpt.train else {
            return Err(Error::format("", "checkpoint has no training state (train_state.json, optimizer.safetensors); it can be used for inference only"));
        };
        let model = GeneTransformer::load(&ckpt.params, &ckpt.config)?;
        Ok(Self {
            tokenizer: ckpt.tokenizer,
            config: ckpt.config,
            train: state.train,
            params: ckpt.params,
            step: state.step,
            history: state.history,
            model,
            opt,
        })
    }

    /// The model (sharing the trainer's weights).
    pub fn model(&self) -> &GeneTransformer {
        &self.model
    }

    /// The model and tokenizer for inference, sharing the trainer's weights (no copy).
    ///
    /// # Errors
    /// [`Error::Format`] only on an internal inconsistency.
    pub fn inference_model(&self) -> Result<super::infer::InferenceModel> {
        Ok(super::infer::InferenceModel {
            model: GeneTransformer::load(&self.params, &self.config)?,
            tokenizer: self.tokenizer.clone(),
            config: self.config.clone(),
        })
    }

    /// Writes a training checkpoint (weights, tokenizer, config, optimizer, history).
    ///
    /// # Errors
    /// As [`checkpoint::save`].
    pub fn save(&self, dir: &Path) -> Result<()> {
        let state = TrainState {
            step: self.step,
            train: self.train.clone(),
            history: self.history.clone(),
        };
        checkpoint::save(
            dir,
            &self.config,
            &self.tokenizer,
            &self.params,
            Some((&state, &self.opt)),
        )
    }

    /// Trains until `self.train.steps` (or `stop_after`, if smaller), validating every
    /// `val_every` steps and at the end, checkpointing to `checkpoint_dir` every
    /// `checkpoint_every` steps and at the end.
    ///
    /// # Errors
    /// Data, tensor and I/O errors; [`Error::NonFinite`] if the loss diverges.
    pub fn run(
        &mut self,
        data: &TrainData,
        stop_after: Option<usize>,
        checkpoint_dir: Option<&Path>,
        on_event: &mut dyn FnMut(TrainEvent<'_>),
    ) -> Result<()> {
        let end = stop_after.map_or(self.train.steps, |s| s.min(self.train.steps));
        let n_fields = self.tokenizer.conditions.len();
        let b = self.train.batch_size as u64;
        let mut reader = data.reader(&self.train, n_fields, self.step as u64 * b)?;
        let val_rows = data.validation_rows(self.train.val_cells, n_fields);
        while self.step < end {
            let t0 = Instant::now();
            let mut cells = Vec::with_capacity(b as usize);
            let mut rows = Vec::with_capacity(b as usize);
            for _ in 0..b {
                let pos = reader.position();
                let row = reader.next_row()?;
                cells.push(tokenize_training_cell(
                    &self.tokenizer,
                    self.train.seed,
                    pos,
                    &row,
                    self.train.condition_dropout,
                )?);
                rows.push(row);
            }
            let masking = step_masks(&cells, self.train.mask, self.train.seed, self.step as u64);
            withhold_masked(&self.tokenizer, &rows, &mut cells, &masking)?;
            let (batch, _, loss, _) = self.batch_loss(&cells, &masking)?;
            let loss_value: f32 = loss.to_scalar()?;
            if !loss_value.is_finite() {
                return Err(Error::NonFinite {
                    what: "training loss",
                    row: self.step,
                    col: 0,
                    value: loss_value as f64,
                });
            }
            let grads = loss.backward()?;
            let lr = learning_rate(&self.train, self.step);
            let stats = self.opt.step(&self.params, &grads, &self.train, lr)?;
            self.step += 1;
            let record = StepRecord {
                step: self.step,
                loss: loss_value,
                lr,
                grad_norm: stats.grad_norm,
                tokens: batch.n_tokens,
            };
            self.history.steps.push(record);
            let secs = t0.elapsed().as_secs_f64().max(1e-9);
            on_event(TrainEvent::Step {
                record: &record,
                total: self.train.steps,
                tokens_per_sec: batch.n_tokens as f64 / secs,
            });
            let last = self.step == end;
            if !val_rows.is_empty() && (self.step.is_multiple_of(self.train.val_every) || last) {
                let v = self.validate(&val_rows)?;
                self.history.validation.push(v);
                on_event(TrainEvent::Validation(&v));
            }
            if let Some(dir) = checkpoint_dir {
                if last
                    || (self.train.checkpoint_every > 0
                        && self.step.is_multiple_of(self.train.checkpoint_every))
                {
                    self.save(dir)?;
                    on_event(TrainEvent::Checkpoint(dir));
                }
            }
        }
        Ok(())
    }

    /// Collates `cells` with `masking`, runs the model and returns the batch, the logits, the
    /// loss and its denominator (training and validation share this).
    fn batch_loss(
        &self,
        cells: &[crate::tokenize::TokenizedCell],
        masking: &super::data::Masking,
    ) -> Result<(Collated, Tensor, Tensor, f64)> {
        let batch = collate(
            cells,
            Some(masking),
            self.tokenizer.binning.n_bins,
            self.tokenizer.conditions.len(),
            self.model.device(),
        )?;
        let logits = self.model.forward(&batch.input)?;
        let denom = loss_denominator(self.train.mask, &batch);
        let loss = masked_loss(&logits, &batch.targets, &batch.weights, denom)?;
        Ok((batch, logits, loss, denom))
    }

    /// Loss and masked-gene accuracy on `rows` with fixed masks.
    ///
    /// # Errors
    /// Tensor errors.
    pub fn validate(&self, rows: &[super::data::CellRow]) -> Result<ValRecord> {
        let mut loss_sum = 0f64;
        let mut denom_sum = 0f64;
        let mut correct = 0usize;
        let mut n_masked = 0usize;
        for (k, chunk) in rows.chunks(self.train.batch_size).enumerate() {
            let mut cells = chunk
                .iter()
                .map(|r| tokenize_fixed_cell(&self.tokenizer, self.train.seed, r, &[]))
                .collect::<Result<Vec<_>>>()?;
            let masking = validation_masks(&cells, self.train.mask, self.train.seed, k as u64);
            withhold_masked(&self.tokenizer, chunk, &mut cells, &masking)?;
            let (batch, logits, loss, denom) = self.batch_loss(&cells, &masking)?;
            let loss: f32 = loss.to_scalar()?;
            loss_sum += loss as f64 * denom;
            denom_sum += denom;
            let pred = logits.argmax(D::Minus1)?.flatten_all()?.to_vec1::<u32>()?;
            let truth = batch.targets.flatten_all()?.to_vec1::<u32>()?;
            let w = batch.weights.flatten_all()?.to_vec1::<f32>()?;
            for i in 0..pred.len() {
                if w[i] > 0.0 {
                    n_masked += 1;
                    correct += usize::from(pred[i] == truth[i]);
                }
            }
        }
        Ok(ValRecord {
            step: self.step,
            loss: (loss_sum / denom_sum.max(1.0)) as f32,
            accuracy: correct as f32 / n_masked.max(1) as f32,
            n_masked,
        })
    }
}
