//! Model and training configuration: plain serde structs with defaults and `validate()`.
//!
//! A config file (`--config model.toml`) has up to three tables, each optional and each field
//! optional (defaults fill the rest):
//!
//! ```toml
//! [model]
//! d_model = 128
//! n_layers = 4
//! n_heads = 4
//! d_ff = 512
//! value_embedding = "ordinal"   # or "table" (the default), "gene_level"
//!
//! [tokenizer]
//! n_bins = 51
//! max_genes = 256
//! zero_share = 0.25
//! n_top_genes = 512      # highly variable genes kept as the vocabulary (0 = all genes)
//! hvg_flavor = "cell_ranger"   # or { seurat = { n_bins = 20 } }
//! include_genes = ["SYN1", "MT-CO1"]   # always in the vocabulary
//! conditions = ["cell_type"]
//!
//! [train]
//! steps = 2000
//! batch_size = 32
//! lr = 1e-3
//! mask = { kind = "diffusion", min_ratio = 0.05, max_ratio = 0.5 }   # or { kind = "fixed", ratio = 0.15 }
//! ```
//!
//! Unknown keys are errors (a typo must not silently train the default model).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Architecture of a [`super::GeneTransformer`]. The table sizes (`n_gene_tokens`, `n_bins`,
/// `n_condition_tokens`, `n_condition_fields`) come from the tokenizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Gene-embedding rows: vocabulary genes plus special tokens.
    pub n_gene_tokens: usize,
    /// Value bins (the output classes); the input table has one more row, the mask.
    pub n_bins: usize,
    /// Condition-embedding rows (0 for an unconditional model).
    pub n_condition_tokens: usize,
    /// Condition tokens per cell (one per field).
    pub n_condition_fields: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Attention heads (must divide `d_model`).
    pub n_heads: usize,
    /// Hidden units of each MLP.
    pub d_ff: usize,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f64,
    /// How a bin becomes its input vector. Checkpoints written before the field existed read
    /// as [`ValueEmbedding::Table`], the only kind there was.
    #[serde(default = "ValueEmbedding::table")]
    pub value_embedding: ValueEmbedding,
}

/// How a value bin becomes the vector added to its gene's embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueEmbedding {
    /// One free row per bin (scGPT): the bins are unordered categories until training has
    /// seen each of them often enough to order them.
    Table,
    /// A thermometer code: the row of non-zero bin `k` is the sum of learned increments
    /// `1..=k`, while the zero bin and the mask keep rows of their own. Neighbouring bins
    /// start alike and "above bin `j`" is one direction from the first step, so a threshold
    /// on a gene's level (what a regulatory gate reads) is linear in the input, and each
    /// bin's example also trains the bins below it.
    Ordinal,
    /// [`ValueEmbedding::Ordinal`] plus the bin's level (0 for not expressed and for the
    /// mask, `k / (n_bins - 1)` for non-zero bin `k`) times a learned direction of the gene's
    /// own. With a shared value table, attention that averages a cell's tokens adds every
    /// gene's level along the same directions, so which gene was high is lost in the sum
    /// until training has made the value encodings gene-specific; with a direction per gene,
    /// each gene's level stays linearly readable after averaging, as each input of an MLP has
    /// its own coordinate.
    GeneLevel,
}

impl ValueEmbedding {
    /// [`ValueEmbedding::Table`] (serde's default for old checkpoints).
    pub fn table() -> Self {
        ValueEmbedding::Table
    }
}

/// The architecture fields a user sets (the table sizes come from the data).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Architecture {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Attention heads.
    pub n_heads: usize,
    /// Hidden units of each MLP.
    pub d_ff: usize,
    /// How a bin becomes its input vector.
    pub value_embedding: ValueEmbedding,
}

impl Default for Architecture {
    /// The CLI default, chosen by the learning curves of `benches/recipe_curves.sh`: one block
    /// (a regulatory rule between two genes is one attention hop and one MLP), whose
    /// two-gene gates emerged in fewer steps than two blocks' at any width tried, and
    /// gene-level value directions. The measurements are in docs/transformer.md.
    fn default() -> Self {
        Self {
            d_model: 64,
            n_layers: 1,
            n_heads: 4,
            d_ff: 256,
            value_embedding: ValueEmbedding::GeneLevel,
        }
    }
}

impl Architecture {
    /// The issue's reference configuration (d 128, 4 layers, 4 heads, FFN 512), used by the
    /// benchmarks.
    pub fn reference() -> Self {
        Self {
            d_model: 128,
            n_layers: 4,
            n_heads: 4,
            d_ff: 512,
            value_embedding: ValueEmbedding::Table,
        }
    }
}

impl ModelConfig {
    /// Checks sizes: all positive, `n_heads` divides `d_model`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the field.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("n_gene_tokens", self.n_gene_tokens),
            ("n_bins", self.n_bins),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
        ] {
            if v == 0 {
                return Err(Error::param(name, 0, "must be at least 1"));
            }
        }
        if self.n_bins < 3 {
            return Err(Error::param("n_bins", self.n_bins, "must be at least 3"));
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(Error::param(
                "n_heads",
                self.n_heads,
                format!("must divide d_model = {}", self.d_model),
            ));
        }
        if (self.n_condition_fields == 0) != (self.n_condition_tokens == 0) {
            return Err(Error::param(
                "n_condition_tokens",
                self.n_condition_tokens,
                format!(
                    "inconsistent with n_condition_fields = {}",
                    self.n_condition_fields
                ),
            ));
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps < 1.0) {
            return Err(Error::param(
                "layer_norm_eps",
                self.layer_norm_eps,
                "must be in (0, 1)",
            ));
        }
        Ok(())
    }

    /// Head width.
    pub fn d_head(&self) -> usize {
        self.d_model / self.n_heads
    }
}

/// How the masking ratio of each cell is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MaskSchedule {
    /// Masked (absorbing-state) diffusion: `t ~ U(min_ratio, max_ratio)` per cell, each gene masked
    /// with probability `t`, loss weighted by `1/t` (the ELBO weight of MDLM/LLaDA), summed
    /// over masked genes and divided by the number of gene tokens.
    Diffusion {
        /// Lower bound of `t` (keeps the `1/t` weight finite).
        min_ratio: f32,
        /// Upper bound of `t` (1 in MDLM). Below 1 the schedule spends its cells on partly
        /// masked contexts, where a masked gene has visible regulators to be read from, at the
        /// price of never training on (nearly) empty contexts, which generation from nothing
        /// starts from. The default schedule uses 0.5; a config or checkpoint that omits the
        /// field reads as 1, the only schedule there was before the field existed.
        #[serde(default = "one")]
        max_ratio: f32,
    },
    /// BERT-style masked modelling: a fixed ratio, unweighted mean over masked genes (the
    /// special case `t = ratio`).
    Fixed {
        /// The masking ratio (0.15 in BERT).
        ratio: f32,
    },
}

impl Default for MaskSchedule {
    fn default() -> Self {
        MaskSchedule::Diffusion {
            min_ratio: 0.05,
            max_ratio: 0.5,
        }
    }
}

fn one() -> f32 {
    1.0
}

/// Optimisation and data settings of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of every random draw (initialisation, split, batches, masks, sampling).
    pub seed: u64,
    /// Optimiser steps.
    pub steps: usize,
    /// Cells per batch.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate as a fraction of `lr` (cosine decay target).
    pub min_lr_ratio: f64,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// AdamW decoupled weight decay (weight matrices only; not biases, norms, embeddings).
    pub weight_decay: f64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// Global gradient-norm clipping threshold (0 = off).
    pub grad_clip: f64,
    /// Masking schedule.
    pub mask: MaskSchedule,
    /// Fraction of cells held out for validation.
    pub val_fraction: f64,
    /// Validation cells actually scored (the first of the held-out cells).
    pub val_cells: usize,
    /// Validate every this many steps (and at the end).
    pub val_every: usize,
    /// Probability of replacing a cell's condition tokens by "none" (so the same model also
    /// generates unconditionally).
    pub condition_dropout: f32,
    /// Write a checkpoint every this many steps (0 = only at the end).
    pub checkpoint_every: usize,
    /// Cells per chunk when streaming from disk.
    pub stream_chunk: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            steps: 8_000,
            batch_size: 64,
            lr: 6e-3,
            min_lr_ratio: 0.05,
            warmup_steps: 300,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            grad_clip: 1.0,
            mask: MaskSchedule::default(),
            val_fraction: 0.05,
            val_cells: 512,
            val_every: 1000,
            condition_dropout: 0.1,
            checkpoint_every: 0,
            stream_chunk: 4096,
        }
    }
}

impl TrainConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::param("steps", 0, "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", 0, "must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::param("lr", self.lr, "must be positive and finite"));
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return Err(Error::param(
                "min_lr_ratio",
                self.min_lr_ratio,
                "must be in [0, 1]",
            ));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(Error::param(
                "weight_decay",
                self.weight_decay,
                "must be ≥ 0",
            ));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::param(name, b, "must be in [0, 1)"));
            }
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(Error::param("eps", self.eps, "must be positive"));
        }
        if !(self.grad_clip >= 0.0 && self.grad_clip.is_finite()) {
            return Err(Error::param(
                "grad_clip",
                self.grad_clip,
                "must be ≥ 0 (0 = off)",
            ));
        }
        match self.mask {
            MaskSchedule::Diffusion { min_ratio, .. } if !(min_ratio > 0.0 && min_ratio < 1.0) => {
                return Err(Error::param(
                    "mask.min_ratio",
                    min_ratio,
                    "must be in (0, 1)",
                ));
            }
            MaskSchedule::Diffusion {
                min_ratio,
                max_ratio,
            } if !(max_ratio > min_ratio && max_ratio <= 1.0) => {
                return Err(Error::param(
                    "mask.max_ratio",
                    max_ratio,
                    format!("must be in (min_ratio = {min_ratio}, 1]"),
                ));
            }
            MaskSchedule::Fixed { ratio } if !(ratio > 0.0 && ratio <= 1.0) => {
                return Err(Error::param("mask.ratio", ratio, "must be in (0, 1]"));
            }
            _ => {}
        }
        if !(self.val_fraction >= 0.0 && self.val_fraction < 1.0) {
            return Err(Error::param(
                "val_fraction",
                self.val_fraction,
                "must be in [0, 1)",
            ));
        }
        if self.val_every == 0 {
            return Err(Error::param("val_every", 0, "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.condition_dropout) {
            return Err(Error::param(
                "condition_dropout",
                self.condition_dropout,
                "must be in [0, 1]",
            ));
        }
        if self.stream_chunk == 0 {
            return Err(Error::param("stream_chunk", 0, "must be at least 1"));
        }
        Ok(())
    }
}

pub use crate::tokenize::{TokenizerConfig, DEFAULT_N_TOP_GENES};

/// A whole config file: `[model]`, `[tokenizer]`, `[train]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Architecture.
    pub model: Architecture,
    /// Tokenizer.
    pub tokenizer: TokenizerConfig,
    /// Training.
    pub train: TrainConfig,
}

impl RunConfig {
    /// Parses a TOML config file.
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable, [`Error::Parse`] for invalid TOML or unknown keys, and the
    /// validation errors of the training settings.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = crate::io::input::read_text(path)?;
        Self::from_toml(&text).map_err(|e| match e {
            Error::Parse { line, msg, .. } => Error::parse(path, line, msg),
            other => other,
        })
    }

    /// Parses TOML text (errors carry an empty path).
    ///
    /// # Errors
    /// As [`RunConfig::load`].
    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: RunConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            Error::parse("", line, e.message().to_string())
        })?;
        cfg.train.validate()?;
        Ok(cfg)
    }
}
