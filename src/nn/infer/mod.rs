//! Inference with a trained model: imputation of masked genes (each gene's marginal
//! prediction, [`impute`], or a joint draw of all of them, [`impute_joint`]), generation of
//! whole cells by iterative unmasking, and activation capture.
//!
//! **Context rule at inference** (the same as training, see [`crate::tokenize`]): the genes
//! asked about are always in the context (masked), and the rest of the context is sampled by
//! the tokenizer's rule with a stream fixed by `(seed, cell index)`, so repeated calls give the
//! same answer. [`Context::Only`] instead shows the model exactly the genes you name.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};
use ndarray::{Array2, Array3};
use rand::seq::SliceRandom;
use rand::Rng;

use super::checkpoint::{self, Checkpoint};
use super::config::ModelConfig;
use super::data::{collate, tokenize_fixed_cell, CellRow, Collated, Masking};
use super::model::{CaptureSpec, GeneTransformer};
use super::ops::softmax_last_dim;
use super::store::{self, HostTensor};
use crate::error::{Error, Result};
use crate::rng::stream;
use crate::tokenize::{BinLevel, GeneTokenizer, PreparedCells, TokenizedCell, N_SPECIAL};

mod impute;
pub use impute::*;
mod joint;
pub use joint::*;
mod generate;
pub use generate::*;
mod capture;
pub use capture::*;
mod capture_masked;
pub use capture_masked::*;

const DOMAIN_IMPUTE: u64 = 0x696d7075_74000031;
const DOMAIN_GENERATE: u64 = 0x67656e65_72000032;
const DOMAIN_JOINT: u64 = 0x6a6f696e_74000033;

/// A model ready for inference, with its tokenizer.
pub struct InferenceModel {
    /// The model.
    pub model: GeneTransformer,
    /// Its tokenizer.
    pub tokenizer: GeneTokenizer,
    /// Its architecture.
    pub config: ModelConfig,
}

impl std::fmt::Debug for InferenceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceModel")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl InferenceModel {
    /// Loads a checkpoint directory.
    ///
    /// # Errors
    /// As [`checkpoint::load`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Self::from_checkpoint(checkpoint::load(dir, device)?)
    }

    /// From a loaded checkpoint.
    ///
    /// # Errors
    /// [`Error::Format`] if the weights do not fit the config.
    pub fn from_checkpoint(c: Checkpoint) -> Result<Self> {
        let model = GeneTransformer::load(&c.params, &c.config)?;
        Ok(Self {
            model,
            tokenizer: c.tokenizer,
            config: c.config,
        })
    }

    /// Vocabulary positions of `genes`.
    ///
    /// # Errors
    /// [`Error::UnknownGenes`] listing the genes not in the vocabulary.
    pub fn positions(&self, genes: &[&str]) -> Result<Vec<u32>> {
        Ok(self
            .tokenizer
            .vocab
            .ids(genes)?
            .into_iter()
            .map(|id| id - N_SPECIAL)
            .collect())
    }
}

/// Which genes the model sees besides the ones asked about.
#[derive(Debug, Clone, PartialEq)]
pub enum Context {
    /// The tokenizer's sampling rule (training's rule), always including `include`
    /// (vocabulary positions, visible).
    Sampled {
        /// Genes that must be visible.
        include: Vec<u32>,
    },
    /// Exactly these vocabulary positions.
    Only(Vec<u32>),
}

impl Context {
    /// The plain sampling rule.
    pub fn sampled() -> Self {
        Context::Sampled {
            include: Vec::new(),
        }
    }
}

pub(super) fn check_rows(cells: &PreparedCells, rows: &[usize]) -> Result<()> {
    if rows.is_empty() {
        return Err(Error::Empty {
            what: "cell selection",
            why: "no cells to run the model on".into(),
        });
    }
    if let Some(&bad) = rows.iter().find(|&&r| r >= cells.n_cells()) {
        return Err(Error::param(
            "cell",
            bad,
            format!("the data have {} cells", cells.n_cells()),
        ));
    }
    Ok(())
}

/// The genes asked of an imputation: at least one, none twice.
pub(super) fn check_asked(genes: &[u32]) -> Result<()> {
    if genes.is_empty() {
        return Err(Error::Empty {
            what: "gene selection",
            why: "no genes to impute".into(),
        });
    }
    let mut asked = genes.to_vec();
    asked.sort_unstable();
    asked.dedup();
    if asked.len() != genes.len() {
        return Err(Error::param(
            "genes",
            genes.len(),
            "a gene is asked for twice",
        ));
    }
    Ok(())
}

/// The tokens of one cell for an inference call: forced `asked` genes plus the context, binned
/// with the asked genes withheld from the edges ([`GeneTokenizer::withhold`]).
pub(super) fn inference_cell(
    m: &InferenceModel,
    cells: &PreparedCells,
    row: usize,
    asked: &[u32],
    context: &Context,
    seed: u64,
) -> Result<TokenizedCell> {
    let n_fields = m.tokenizer.conditions.len();
    let r = CellRow::from_prepared(cells, row, n_fields);
    let mut cell = match context {
        Context::Sampled { include } => {
            let mut forced = include.clone();
            forced.extend_from_slice(asked);
            tokenize_fixed_cell(&m.tokenizer, seed, &r, &forced)?
        }
        Context::Only(genes) => {
            let mut all = genes.clone();
            all.extend_from_slice(asked);
            m.tokenizer
                .tokenize_genes(&r.columns, &r.values, &r.conditions, &all)?
        }
    };
    // The asked genes are masked: their values take no part in the bin edges.
    r.withhold(&m.tokenizer, &mut cell, asked)?;
    Ok(cell)
}

/// Masks the `asked` genes of each cell (weight 1).
pub(super) fn mask_asked(
    tokens: &[TokenizedCell],
    asked: &[u32],
) -> Result<(Masking, Vec<Vec<usize>>)> {
    let mut masked = Vec::with_capacity(tokens.len());
    let mut where_ = Vec::with_capacity(tokens.len());
    for t in tokens {
        let mut m = vec![false; t.genes.len()];
        let mut idx = Vec::with_capacity(asked.len());
        for &g in asked {
            let k = t.genes.binary_search(&(g + N_SPECIAL)).map_err(|_| {
                Error::param(
                    "gene",
                    g,
                    "asked gene missing from its context (tokenizer bug)",
                )
            })?;
            m[k] = true;
            idx.push(k);
        }
        masked.push(m);
        where_.push(idx);
    }
    Ok((
        Masking {
            weight: vec![1.0; tokens.len()],
            masked,
        },
        where_,
    ))
}

/// Cells `chunk` tokenized with `genes` forced into their contexts and masked, as one batch:
/// the tokens (with the observed bins), the batch, and each cell's context positions of
/// `genes` (in `genes` order).
pub(super) fn masked_batch(
    m: &InferenceModel,
    cells: &PreparedCells,
    chunk: &[usize],
    genes: &[u32],
    context: &Context,
    seed: u64,
) -> Result<(Vec<TokenizedCell>, Collated, Vec<Vec<usize>>)> {
    let tokens = chunk
        .iter()
        .map(|&r| inference_cell(m, cells, r, genes, context, seed))
        .collect::<Result<Vec<_>>>()?;
    let (masking, positions) = mask_asked(&tokens, genes)?;
    let batch = collate(
        &tokens,
        Some(&masking),
        m.tokenizer.binning.n_bins,
        m.tokenizer.conditions.len(),
        m.model.device(),
    )?;
    Ok((tokens, batch, positions))
}

/// Vocabulary symbols of positions `genes`.
/// The symbols of vocabulary positions `genes`.
pub(super) fn symbols(m: &InferenceModel, genes: &[u32]) -> Vec<String> {
    genes
        .iter()
        .map(|&g| {
            m.tokenizer
                .vocab
                .gene(g + N_SPECIAL)
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}
