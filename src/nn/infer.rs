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

/// Per-bin probabilities, expected bin and a sampled bin for each (cell, asked gene).
#[derive(Debug, Clone, PartialEq)]
pub struct Imputation {
    /// The asked genes.
    pub genes: Vec<String>,
    /// The cells (ids).
    pub cells: Vec<String>,
    /// `[cells, genes, n_bins]` probabilities.
    pub probs: Array3<f32>,
    /// `[cells, genes]` expected bin `Σ_b b·p(b)`.
    pub expected: Array2<f32>,
    /// `[cells, genes]` a bin drawn from `probs` (seeded).
    pub sampled: Array2<u32>,
    /// `[cells, genes]` probability of a [`BinLevel::High`] bin.
    pub p_high: Array2<f32>,
    /// `[cells, genes]` the bin observed in the data (hidden from the model).
    pub observed: Array2<u32>,
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
    m.tokenizer
        .withhold(&r.columns, &r.values, &mut cell, asked)?;
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

/// Imputes the vocabulary positions `genes` in cells `rows`: each is masked, and the model
/// predicts it from the context (see [`Context`]).
///
/// # Errors
/// [`Error::Empty`] for no cells or genes, [`Error::InvalidParam`] for bad indices, tensor
/// errors.
pub fn impute(
    m: &InferenceModel,
    cells: &PreparedCells,
    rows: &[usize],
    genes: &[u32],
    context: &Context,
    seed: u64,
    batch_size: usize,
) -> Result<Imputation> {
    check_rows(cells, rows)?;
    check_asked(genes)?;
    let k = m.config.n_bins;
    let g = genes.len();
    let n = rows.len();
    let mut probs = Array3::<f32>::zeros((n, g, k));
    let mut observed = Array2::<u32>::zeros((n, g));
    for (chunk_no, chunk) in rows.chunks(batch_size.max(1)).enumerate() {
        let (tokens, batch, positions) = masked_batch(m, cells, chunk, genes, context, seed)?;
        let logits = m.model.forward(&batch.input)?;
        let p = softmax_last_dim(&logits)?.to_vec3::<f32>()?;
        for (i, pos) in positions.iter().enumerate() {
            let c = chunk_no * batch_size.max(1) + i;
            // `pos[j]` is the context position of `genes[j]`.
            for (j, &kpos) in pos.iter().enumerate() {
                observed[[c, j]] = tokens[i].bins[kpos];
                for b in 0..k {
                    probs[[c, j, b]] = p[i][kpos][b];
                }
            }
        }
    }
    let mut rng = stream(seed, DOMAIN_IMPUTE, 0);
    let mut expected = Array2::<f32>::zeros((n, g));
    let mut sampled = Array2::<u32>::zeros((n, g));
    let mut p_high = Array2::<f32>::zeros((n, g));
    for c in 0..n {
        for j in 0..g {
            let row: Vec<f32> = (0..k).map(|b| probs[[c, j, b]]).collect();
            expected[[c, j]] = row.iter().enumerate().map(|(b, p)| b as f32 * p).sum();
            p_high[[c, j]] = row
                .iter()
                .enumerate()
                .filter(|(b, _)| m.tokenizer.binning.level(*b as u32) == BinLevel::High)
                .map(|(_, p)| p)
                .sum();
            sampled[[c, j]] = sample_bin(&row, rng.random::<f32>());
        }
    }
    Ok(Imputation {
        genes: symbols(m, genes),
        cells: rows.iter().map(|&r| cells.cells[r].clone()).collect(),
        probs,
        expected,
        sampled,
        p_high,
        observed,
    })
}

/// The symbols of vocabulary positions `genes`.
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

/// Inverse-CDF draw from `p` with uniform `u`.
fn sample_bin(p: &[f32], u: f32) -> u32 {
    let total: f32 = p.iter().sum();
    let mut acc = 0f32;
    for (b, &x) in p.iter().enumerate() {
        acc += x / total.max(f32::MIN_POSITIVE);
        if u < acc {
            return b as u32;
        }
    }
    p.len().saturating_sub(1) as u32
}

/// Settings of [`impute_joint`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JointParams {
    /// Unmasking rounds (each a forward pass over the cells); the number of asked genes (or
    /// more) reveals one gene per round, an exact joint draw.
    pub steps: usize,
    /// Seed of the contexts (as [`impute`]) and of the draws.
    pub seed: u64,
    /// Cells per forward pass.
    pub batch_size: usize,
}

impl Default for JointParams {
    fn default() -> Self {
        Self {
            steps: 16,
            seed: 0,
            batch_size: 64,
        }
    }
}

/// A joint draw of masked genes (see [`impute_joint`]).
#[derive(Debug, Clone, PartialEq)]
pub struct JointImputation {
    /// The asked genes (columns).
    pub genes: Vec<String>,
    /// The cells (ids, rows).
    pub cells: Vec<String>,
    /// `[cells, genes]` sampled bins.
    pub sampled: Array2<u32>,
    /// `[cells, genes]` the bins observed in the data (hidden from the model).
    pub observed: Array2<u32>,
}

/// Draws the vocabulary positions `genes` of cells `rows` **jointly** from the model's
/// predictive distribution given the context, by iterative unmasking (the reverse of the
/// absorbing diffusion, as [`generate`] does for whole cells): all asked genes start masked
/// and are revealed in a random order over `steps` rounds of equal size, each bin drawn from
/// the model's prediction given the context *and the genes revealed so far*. So each gene is
/// conditioned on the ones before, and their dependence (not only each gene's marginal, as
/// [`Imputation::sampled`]) is the model's. With `steps` at least the number of asked genes
/// the draw is exact (one gene per round); with `steps = 1` all genes are drawn at once from
/// their marginals.
///
/// Draws come from a stream fixed by `(seed, cell index)`, so a cell's draw does not depend
/// on the batch size or on the other cells; the context follows [`Context`] with the same
/// seed as [`impute`]. The visible genes' bins are computed once, with every asked gene
/// withheld from the edges, and the drawn bins are on that scale (a revealed gene adds its
/// bin, not a value, so the edges do not move as genes are revealed).
///
/// # Errors
/// [`Error::Empty`] for no cells or genes, [`Error::InvalidParam`] for bad indices, a gene
/// asked twice or `steps == 0`; tensor errors.
pub fn impute_joint(
    m: &InferenceModel,
    cells: &PreparedCells,
    rows: &[usize],
    genes: &[u32],
    context: &Context,
    p: &JointParams,
) -> Result<JointImputation> {
    let JointParams {
        steps,
        seed,
        batch_size,
    } = *p;
    check_rows(cells, rows)?;
    check_asked(genes)?;
    if steps == 0 {
        return Err(Error::param("steps", 0, "must be at least 1"));
    }
    let g = genes.len();
    let n = rows.len();
    let bs = batch_size.max(1);
    let mut sampled = Array2::<u32>::zeros((n, g));
    let mut observed = Array2::<u32>::zeros((n, g));
    for (chunk_no, chunk) in rows.chunks(bs).enumerate() {
        let mut tokens = chunk
            .iter()
            .map(|&r| inference_cell(m, cells, r, genes, context, seed))
            .collect::<Result<Vec<_>>>()?;
        let (mut masking, positions) = mask_asked(&tokens, genes)?;
        for (i, pos) in positions.iter().enumerate() {
            for (j, &kpos) in pos.iter().enumerate() {
                observed[[chunk_no * bs + i, j]] = tokens[i].bins[kpos];
                // The observed bin must not leak: masked tokens' bins are replaced by the
                // mask token in `collate`, and overwritten below as genes are revealed.
                tokens[i].bins[kpos] = 0;
            }
        }
        let mut rngs: Vec<_> = chunk
            .iter()
            .map(|&r| stream(seed, DOMAIN_JOINT, r as u64))
            .collect();
        unmask(
            m,
            &mut tokens,
            &mut masking.masked,
            &positions,
            steps,
            1.0,
            &mut rngs,
        )?;
        for (i, pos) in positions.iter().enumerate() {
            for (j, &kpos) in pos.iter().enumerate() {
                sampled[[chunk_no * bs + i, j]] = tokens[i].bins[kpos];
            }
        }
    }
    Ok(JointImputation {
        genes: symbols(m, genes),
        cells: rows.iter().map(|&r| cells.cells[r].clone()).collect(),
        sampled,
        observed,
    })
}

/// Iterative unmasking, the reverse of the absorbing diffusion: the positions `order[i]` of
/// cell `i` are put in a random order and revealed in `steps` rounds of (as nearly as
/// possible) equal size, each by a draw from the model's predictive distribution (logits
/// divided by `temperature`) given everything revealed so far. With `steps` at least the
/// number of positions this is exact ancestral sampling, one position per round; fewer rounds
/// draw the positions of a round independently of each other (the usual speed/fidelity
/// trade). A fixed round size, rather than revealing each position with probability `1/s`,
/// keeps positions from colliding in one round by chance. Rounds beyond the number of
/// positions would reveal nothing and are skipped. Cell `i` draws from `rngs[i]`, or every
/// cell from `rngs[0]` when only one is given.
fn unmask<R: Rng>(
    m: &InferenceModel,
    tokens: &mut [TokenizedCell],
    masked: &mut [Vec<bool>],
    order: &[Vec<usize>],
    steps: usize,
    temperature: f64,
    rngs: &mut [R],
) -> Result<()> {
    let k = m.config.n_bins;
    let n_fields = m.tokenizer.conditions.len();
    let shared = rngs.len() == 1;
    let mut schedule: Vec<Vec<usize>> = Vec::with_capacity(order.len());
    for (i, positions) in order.iter().enumerate() {
        let rng = rngs
            .get_mut(if shared { 0 } else { i })
            .ok_or_else(|| Error::param("rngs", i, "one generator per cell, or one for all"))?;
        let mut shuffled = positions.clone();
        shuffled.shuffle(rng);
        schedule.push(shuffled);
    }
    let rounds = steps.min(order.iter().map(Vec::len).max().unwrap_or(0));
    for round in 0..rounds {
        let masking = Masking {
            masked: masked.to_vec(),
            weight: vec![1.0; tokens.len()],
        };
        let batch = collate(
            tokens,
            Some(&masking),
            m.tokenizer.binning.n_bins,
            n_fields,
            m.model.device(),
        )?;
        let logits = (m.model.forward(&batch.input)? / temperature)?;
        let probs = softmax_last_dim(&logits)?.to_vec3::<f32>()?;
        for (i, positions) in schedule.iter().enumerate() {
            let rng = rngs
                .get_mut(if shared { 0 } else { i })
                .ok_or_else(|| Error::param("rngs", i, "one generator per cell, or one for all"))?;
            let n = positions.len();
            let (from, to) = (round * n / rounds, (round + 1) * n / rounds);
            for &j in &positions[from..to] {
                if masked[i][j] {
                    tokens[i].bins[j] = sample_bin(&probs[i][j][..k], rng.random::<f32>());
                    masked[i][j] = false;
                }
            }
        }
    }
    Ok(())
}

/// Settings of [`generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    /// Cells to generate.
    pub n_cells: usize,
    /// Vocabulary positions to generate (default: the whole vocabulary, which must then fit in
    /// the context).
    pub genes: Option<Vec<u32>>,
    /// Global condition ids (one per field; default: every field's "none").
    pub conditions: Option<Vec<u32>>,
    /// Unmasking steps (each a forward pass over all cells).
    pub steps: usize,
    /// Softmax temperature of the draws.
    pub temperature: f32,
    /// Seed of the draws.
    pub seed: u64,
    /// Cells per forward pass.
    pub batch_size: usize,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self {
            n_cells: 100,
            genes: None,
            conditions: None,
            steps: 16,
            temperature: 1.0,
            seed: 0,
            batch_size: 64,
        }
    }
}

/// Generated cells: one bin per (cell, gene).
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Gene symbols (columns).
    pub genes: Vec<String>,
    /// `[cells, genes]` bins.
    pub bins: Array2<u32>,
}

/// Generates cells by iterative unmasking (the reverse of the absorbing diffusion): all genes
/// start masked and are revealed in a random order over `steps` rounds of equal size, each
/// bin drawn from the model's prediction given the genes revealed so far (and the
/// conditions).
///
/// Per-cell bins rank a gene among the genes the model sees (masked genes are withheld from
/// the edges, see [`crate::tokenize::Binning::bin_cell_withholding`]), so with nothing visible
/// the first rounds draw bins on a coarse scale; generation is therefore closer to the data
/// with per-gene bins, whose scale does not depend on the other genes.
///
/// # Errors
/// [`Error::InvalidParam`] for zero cells or steps, a gene set larger than the context, or
/// conditions that do not fit the model; tensor errors.
pub fn generate(m: &InferenceModel, p: &GenerateParams) -> Result<Generated> {
    if p.n_cells == 0 {
        return Err(Error::param("n_cells", 0, "must be at least 1"));
    }
    if p.steps == 0 {
        return Err(Error::param("steps", 0, "must be at least 1"));
    }
    if !(p.temperature > 0.0 && p.temperature.is_finite()) {
        return Err(Error::param(
            "temperature",
            p.temperature,
            "must be positive",
        ));
    }
    let n_vocab = m.tokenizer.vocab.n_genes() as u32;
    let mut genes: Vec<u32> = p.genes.clone().unwrap_or_else(|| (0..n_vocab).collect());
    genes.sort_unstable();
    genes.dedup();
    if let Some(&bad) = genes.iter().find(|&&g| g >= n_vocab) {
        return Err(Error::param(
            "genes",
            bad,
            format!("vocabulary has {n_vocab} genes"),
        ));
    }
    let max = m.tokenizer.sampling.max_genes;
    if genes.is_empty() || genes.len() > max {
        return Err(Error::param(
            "genes",
            genes.len(),
            format!("must be 1..={max} genes (the context length); choose a gene panel"),
        ));
    }
    let n_fields = m.tokenizer.conditions.len();
    let conditions = p
        .conditions
        .clone()
        .unwrap_or_else(|| m.tokenizer.no_conditions());
    if conditions.len() != n_fields {
        return Err(Error::param(
            "conditions",
            conditions.len(),
            format!("the model has {n_fields} condition field(s)"),
        ));
    }
    let l = genes.len();
    // The bins (u32), and what a caller turns them into (values, a sparse matrix, names).
    crate::memory::ensure_fits(
        || format!("generating {} cells of {l} genes", p.n_cells),
        crate::memory::array_bytes(&[p.n_cells, l + 4], 16),
    )?;
    let mut bins = Array2::<u32>::zeros((p.n_cells, l));
    for (chunk_no, start) in (0..p.n_cells).step_by(p.batch_size.max(1)).enumerate() {
        let nb = p.batch_size.max(1).min(p.n_cells - start);
        let mut rng = stream(p.seed, DOMAIN_GENERATE, chunk_no as u64);
        let mut tokens: Vec<TokenizedCell> = (0..nb)
            .map(|_| TokenizedCell {
                genes: genes.iter().map(|g| g + N_SPECIAL).collect(),
                bins: vec![0; l],
                conditions: conditions.clone(),
            })
            .collect();
        let mut masked = vec![vec![true; l]; nb];
        let order = vec![(0..l).collect::<Vec<_>>(); nb];
        unmask(
            m,
            &mut tokens,
            &mut masked,
            &order,
            p.steps,
            f64::from(p.temperature),
            std::slice::from_mut(&mut rng),
        )?;
        for (i, t) in tokens.iter().enumerate() {
            for j in 0..l {
                bins[[start + i, j]] = t.bins[j];
            }
        }
    }
    Ok(Generated {
        genes: symbols(m, &genes),
        bins,
    })
}

/// Captured activations of cells, per gene token and pooled per cell.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationSet {
    /// Cell ids.
    pub cells: Vec<String>,
    /// Index of each cell in the data it was read from.
    pub cell_index: Vec<i64>,
    /// `[cells, L]` vocabulary token id at each gene position (`-1` for padding); symbols via
    /// `genes[id - 1]`.
    pub gene_index: Array2<i64>,
    /// Vocabulary symbols (token id `i + 1` is `genes[i]`).
    pub genes: Vec<String>,
    /// `name → [cells, d]`: mean over the cell's gene tokens.
    pub pooled: BTreeMap<String, Array2<f32>>,
    /// `name → [cells, L, d]`: per gene token (zeros at padding), when asked for.
    pub per_token: BTreeMap<String, Array3<f32>>,
    /// `[cells, L]` the observed bin of each gene token (0 at padding).
    pub bins: Array2<i64>,
}

/// Runs cells `rows` through the model (nothing masked) and captures `spec`'s activations.
/// Condition tokens are excluded from `per_token` and from the pooled means.
///
/// # Errors
/// As [`impute`].
pub fn capture(
    m: &InferenceModel,
    cells: &PreparedCells,
    rows: &[usize],
    spec: CaptureSpec,
    per_token: bool,
    seed: u64,
    batch_size: usize,
) -> Result<ActivationSet> {
    check_rows(cells, rows)?;
    let n_fields = m.tokenizer.conditions.len();
    let n = rows.len();
    if per_token {
        // One value per cell, token, unit and captured tensor (at most residual, attention
        // and MLP per block), kept until the file is written.
        let c = &m.config;
        let units = (3 * c.d_model + c.d_ff).saturating_mul(c.n_layers);
        crate::memory::ensure_fits(
            || format!("per-token activations of {n} cells"),
            crate::memory::array_bytes(
                &[n, m.tokenizer.sampling.max_genes + n_fields, units, 2],
                4,
            ),
        )?;
    }
    let all_tokens = rows
        .iter()
        .map(|&r| inference_cell(m, cells, r, &[], &Context::sampled(), seed))
        .collect::<Result<Vec<_>>>()?;
    let l = all_tokens.iter().map(|t| t.genes.len()).max().unwrap_or(1);
    let mut gene_index = Array2::<i64>::from_elem((n, l), -1);
    let mut bins = Array2::<i64>::zeros((n, l));
    for (i, t) in all_tokens.iter().enumerate() {
        for j in 0..t.genes.len() {
            gene_index[[i, j]] = t.genes[j] as i64;
            bins[[i, j]] = t.bins[j] as i64;
        }
    }
    let mut pooled: BTreeMap<String, Array2<f32>> = BTreeMap::new();
    let mut tokens_out: BTreeMap<String, Array3<f32>> = BTreeMap::new();
    let bs = batch_size.max(1);
    for (chunk_no, chunk) in all_tokens.chunks(bs).enumerate() {
        let batch = collate(
            chunk,
            None,
            m.tokenizer.binning.n_bins,
            n_fields,
            m.model.device(),
        )?;
        let (_, captured) = m.model.forward_with_capture(&batch.input, spec)?;
        for (name, t) in captured {
            let (b, tt, d) = t.dims3()?;
            let genes_part = t.narrow(1, n_fields, tt - n_fields)?;
            let lb = tt - n_fields;
            // Pooled mean over real gene tokens.
            let mask: Vec<f32> = chunk
                .iter()
                .flat_map(|c| (0..lb).map(move |j| if j < c.genes.len() { 1.0 } else { 0.0 }))
                .collect();
            let mask = Tensor::from_vec(mask, (b, lb, 1), m.model.device())?;
            let counts: Vec<f32> = chunk.iter().map(|c| c.genes.len().max(1) as f32).collect();
            let counts = Tensor::from_vec(counts, (b, 1), m.model.device())?;
            let mean = genes_part
                .broadcast_mul(&mask)?
                .sum(1)?
                .broadcast_div(&counts)?
                .to_vec2::<f32>()?;
            let pooled_arr = pooled
                .entry(name.clone())
                .or_insert_with(|| Array2::zeros((n, d)));
            for (i, row) in mean.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    pooled_arr[[chunk_no * bs + i, j]] = *v;
                }
            }
            if per_token {
                let vals = genes_part.broadcast_mul(&mask)?.to_vec3::<f32>()?;
                let arr = tokens_out
                    .entry(name)
                    .or_insert_with(|| Array3::zeros((n, l, d)));
                for (i, cell) in vals.iter().enumerate() {
                    for (j, tok) in cell.iter().enumerate().take(l) {
                        for (k, v) in tok.iter().enumerate() {
                            arr[[chunk_no * bs + i, j, k]] = *v;
                        }
                    }
                }
            }
        }
    }
    Ok(ActivationSet {
        cells: rows.iter().map(|&r| cells.cells[r].clone()).collect(),
        cell_index: rows.iter().map(|&r| r as i64).collect(),
        gene_index,
        genes: m.tokenizer.vocab.genes().to_vec(),
        pooled,
        per_token: tokens_out,
        bins,
    })
}

impl ActivationSet {
    /// Writes a safetensors file: `<name>.pooled` `[cells, d]`, `<name>.tokens`
    /// `[cells, L, d]`, `cell_index` `[cells]`, `gene_index` `[cells, L]`, `bins` `[cells, L]`;
    /// metadata `cells` and `genes` (JSON lists of ids and vocabulary symbols). Atomic.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut t = BTreeMap::new();
        for (name, a) in &self.pooled {
            t.insert(
                format!("{name}.pooled"),
                HostTensor::f32(a.shape().to_vec(), a.iter().copied().collect()),
            );
        }
        for (name, a) in &self.per_token {
            t.insert(
                format!("{name}.tokens"),
                HostTensor::f32(a.shape().to_vec(), a.iter().copied().collect()),
            );
        }
        t.insert(
            "cell_index".into(),
            HostTensor::i64(vec![self.cell_index.len()], self.cell_index.clone()),
        );
        t.insert(
            "gene_index".into(),
            HostTensor::i64(
                self.gene_index.shape().to_vec(),
                self.gene_index.iter().copied().collect(),
            ),
        );
        t.insert(
            "bins".into(),
            HostTensor::i64(
                self.bins.shape().to_vec(),
                self.bins.iter().copied().collect(),
            ),
        );
        let meta = HashMap::from([
            ("cells".to_string(), serde_json::to_string(&self.cells)?),
            ("genes".to_string(), serde_json::to_string(&self.genes)?),
        ]);
        store::write(path, &t, meta)
    }

    /// Reads a file written by [`ActivationSet::save`].
    ///
    /// # Errors
    /// [`Error::Format`] for a file that is not one.
    pub fn load(path: &Path) -> Result<Self> {
        let (mut t, meta) = store::read(path)?;
        let json = |k: &str| -> Result<Vec<String>> {
            let s = meta
                .get(k)
                .ok_or_else(|| Error::format(path, format!("missing metadata `{k}`")))?;
            serde_json::from_str(s).map_err(|e| Error::format(path, format!("metadata `{k}`: {e}")))
        };
        let cells = json("cells")?;
        let genes = json("genes")?;
        let take_i64 = |t: &mut BTreeMap<String, HostTensor>, k: &str| -> Result<HostTensor> {
            t.remove(k)
                .ok_or_else(|| Error::format(path, format!("missing tensor `{k}`")))
        };
        let ci = take_i64(&mut t, "cell_index")?;
        let gi = take_i64(&mut t, "gene_index")?;
        let bi = take_i64(&mut t, "bins")?;
        let as_i64 = |h: HostTensor| -> Result<(Vec<usize>, Vec<i64>)> {
            match h.data {
                store::HostData::I64(v) => Ok((h.shape, v)),
                store::HostData::F32(_) => Err(Error::format(path, "index tensor is not i64")),
            }
        };
        let (_, cell_index) = as_i64(ci)?;
        let (gs, gv) = as_i64(gi)?;
        let (bs, bv) = as_i64(bi)?;
        let shape2 = |s: &[usize]| -> Result<(usize, usize)> {
            match s {
                [a, b] => Ok((*a, *b)),
                _ => Err(Error::format(
                    path,
                    format!("expected a 2-d tensor, got {s:?}"),
                )),
            }
        };
        let gene_index = Array2::from_shape_vec(shape2(&gs)?, gv)
            .map_err(|e| Error::format(path, e.to_string()))?;
        let bins = Array2::from_shape_vec(shape2(&bs)?, bv)
            .map_err(|e| Error::format(path, e.to_string()))?;
        let mut pooled = BTreeMap::new();
        let mut per_token = BTreeMap::new();
        for (k, h) in t {
            let v = h
                .as_f32()
                .map_err(|_| Error::format(path, format!("`{k}` is not f32")))?
                .to_vec();
            if let Some(name) = k.strip_suffix(".pooled") {
                pooled.insert(
                    name.to_string(),
                    Array2::from_shape_vec(shape2(&h.shape)?, v)
                        .map_err(|e| Error::format(path, e.to_string()))?,
                );
            } else if let Some(name) = k.strip_suffix(".tokens") {
                let [a, b, c] = h.shape.as_slice() else {
                    return Err(Error::format(path, format!("`{k}` is not 3-d")));
                };
                per_token.insert(
                    name.to_string(),
                    Array3::from_shape_vec((*a, *b, *c), v)
                        .map_err(|e| Error::format(path, e.to_string()))?,
                );
            }
        }
        if cells.len() != cell_index.len() || gene_index.nrows() != cells.len() {
            return Err(Error::format(
                path,
                "cell metadata and index tensors disagree",
            ));
        }
        Ok(Self {
            cells,
            cell_index,
            gene_index,
            genes,
            pooled,
            per_token,
            bins,
        })
    }
}
