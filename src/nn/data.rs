//! Cells for training: the train/validation split, the batch of every step (from memory or
//! streamed from disk), masking, and collation into tensors.
//!
//! **Everything is a function of `(seed, step)`.** Training reads an endless sequence of
//! training cells (epoch after epoch, each in its own seeded order); batch `s` is positions
//! `s·B .. (s+1)·B` of that sequence, cell position `p` is tokenized with stream `p` and step
//! `s` is masked with stream `s`. A resumed run therefore sees exactly the batches an
//! uninterrupted run would.
//!
//! **Split.** Cell `i` is held out iff a hash of `(seed, i)` falls below `val_fraction`: the
//! same rule in memory and when streaming, with no pass over the data.
//!
//! **Streaming** ([`TrainData::Stream`]) reads the file in chunks with
//! [`crate::expression::io::stream_cells`] and shuffles through a buffer of
//! `shuffle_buffer` cells (seeded per epoch), so memory is bounded by the buffer, whatever the
//! file's size. Resuming a streamed run re-reads the file up to the resume point.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;

use super::config::{MaskSchedule, TrainConfig};
use super::model::{pad_mask, ModelInput};
use crate::error::{Error, Result};
use crate::expression::genes::match_genes;
use crate::expression::io::{stream_cells, CellChunks, ReadOptions};
use crate::expression::kind::{to_linear_scale_sparse, MatrixKind};
use crate::expression::CsrMatrix;
use crate::rng::{splitmix64, stream};
use crate::tokenize::{GeneTokenizer, PreparedCells, TokenizedCell, LIBRARY_TARGET};

const DOMAIN_SPLIT: u64 = 0x73706c69_74000021;
const DOMAIN_EPOCH: u64 = 0x65706f63_68000022;
const DOMAIN_SAMPLE: u64 = 0x73616d70_6c000023;
const DOMAIN_MASK: u64 = 0x6d61736b_00000024;
const DOMAIN_VAL: u64 = 0x76616c00_00000025;
const DOMAIN_SHUFFLE: u64 = 0x73687566_66000026;
const DOMAIN_SAMPLE_ROWS: u64 = 0x726f7773_00000027;

/// Whether cell `i` is held out for validation.
pub fn is_validation(seed: u64, i: usize, val_fraction: f64) -> bool {
    let h = splitmix64(splitmix64(seed ^ DOMAIN_SPLIT) ^ i as u64);
    ((h >> 11) as f64 / (1u64 << 53) as f64) < val_fraction
}

/// The cells `0..n` split by [`is_validation`]: `(held_out, training)`, each in data order.
/// Every workflow that scores a model on "its held-out cells" uses this one split.
pub fn split_cells(n: usize, seed: u64, val_fraction: f64) -> (Vec<usize>, Vec<usize>) {
    (0..n).partition(|&i| is_validation(seed, i, val_fraction))
}

/// At most `cap` of `rows` (all of them when `cap` is 0 or not smaller), a uniform choice by
/// `(seed, stream_id)` returned in data order: a sample of cells that does not depend on how the
/// file is sorted (atlases are often sorted by donor or cell type), and that is known from the
/// number of cells alone, before any value is read. `stream_id` keeps two samples drawn with one
/// seed independent.
pub fn sample_rows(mut rows: Vec<usize>, cap: usize, seed: u64, stream_id: u64) -> Vec<usize> {
    if cap == 0 || rows.len() <= cap {
        return rows;
    }
    rows.shuffle(&mut stream(seed, DOMAIN_SAMPLE_ROWS, stream_id));
    rows.truncate(cap);
    rows.sort_unstable();
    rows
}

/// One cell's sparse row in vocabulary order plus its condition ids.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRow {
    /// Index of the cell in its dataset.
    pub index: usize,
    /// Vocabulary positions of expressed genes, ascending.
    pub columns: Vec<u32>,
    /// Their values, normalised over the cell's whole library (see [`PreparedCells::values`]).
    pub values: Vec<f32>,
    /// Their un-normalised values, for normalising a masked cell over its visible genes.
    pub raw: Vec<f32>,
    /// The cell's library outside the vocabulary.
    pub outside: f64,
    /// Condition ids.
    pub conditions: Vec<u32>,
}

impl CellRow {
    /// Row `i` of prepared cells.
    pub fn from_prepared(p: &PreparedCells, i: usize, n_fields: usize) -> Self {
        let (c, v) = p.values.row(i);
        let (_, raw, outside) = p.raw_row(i);
        Self {
            index: p.dataset_index(i),
            columns: c.to_vec(),
            values: v.to_vec(),
            raw: raw.to_vec(),
            outside,
            conditions: p.conditions_of(i, n_fields).to_vec(),
        }
    }

    /// Re-bins `cell`, tokenized from this row, with the vocabulary positions `hidden` masked
    /// ([`GeneTokenizer::withhold`]).
    ///
    /// # Errors
    /// As [`GeneTokenizer::withhold`].
    pub fn withhold(
        &self,
        tok: &GeneTokenizer,
        cell: &mut TokenizedCell,
        hidden: &[u32],
    ) -> Result<()> {
        tok.withhold(&self.columns, &self.raw, self.outside, cell, hidden)
    }
}

/// Where training cells come from.
pub enum TrainData {
    /// A dataset in memory, split into training and validation cells.
    Memory {
        /// The prepared dataset (boxed: it is large next to the streaming variant).
        cells: Box<PreparedCells>,
        /// Training cell indices.
        train: Vec<usize>,
        /// Validation cell indices.
        val: Vec<usize>,
    },
    /// A file read in chunks (`.h5ad`, 10x).
    Stream {
        /// The file.
        path: PathBuf,
        /// Read options.
        opts: ReadOptions,
        /// Vocabulary position of each file gene (`None`: not in the vocabulary).
        column_map: Vec<Option<u32>>,
        /// What the file holds (the tokenizer's `input_kind`): log-normalised chunks are
        /// brought to a linear scale as they are read.
        kind: Option<MatrixKind>,
        /// Cells in the file.
        n_cells: usize,
        /// Validation rows (read once up front, at most `val_cells`).
        val: Vec<CellRow>,
    },
}

impl std::fmt::Debug for TrainData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainData::Memory { train, val, .. } => write!(
                f,
                "TrainData::Memory({} train, {} val)",
                train.len(),
                val.len()
            ),
            TrainData::Stream { path, n_cells, .. } => {
                write!(f, "TrainData::Stream({}, {n_cells} cells)", path.display())
            }
        }
    }
}

impl TrainData {
    /// In-memory data, split by `cfg.seed` and `cfg.val_fraction`.
    ///
    /// # Errors
    /// [`Error::Empty`] if no training cell is left.
    pub fn memory(cells: PreparedCells, cfg: &TrainConfig) -> Result<Self> {
        let (val, train): (Vec<usize>, Vec<usize>) =
            (0..cells.n_cells()).partition(|&i| is_validation(cfg.seed, i, cfg.val_fraction));
        if train.is_empty() {
            return Err(Error::Empty {
                what: "training split",
                why: format!("all {} cells were held out for validation", cells.n_cells()),
            });
        }
        Ok(TrainData::Memory {
            cells: Box::new(cells),
            train,
            val,
        })
    }

    /// Streams `path` in chunks of `cfg.stream_chunk` cells.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a tokenizer with condition fields (streamed chunks carry no
    /// `obs`) or a format that cannot be streamed; [`Error::Empty`] for a file with no cells,
    /// none of the vocabulary's genes, or no expressed vocabulary gene.
    pub fn stream(
        path: &Path,
        opts: &ReadOptions,
        tokenizer: &GeneTokenizer,
        cfg: &TrainConfig,
    ) -> Result<Self> {
        if !tokenizer.conditions.is_empty() {
            return Err(Error::Unsupported(
                "condition tokens with streamed training (chunks carry no obs); load the data in memory".into(),
            ));
        }
        let chunks = stream_cells(path, cfg.stream_chunk, opts)?;
        let matched = match_genes(chunks.genes(), tokenizer.vocab.genes())?;
        if matched.report.n_found == 0 {
            return Err(Error::Empty {
                what: "gene overlap between data and model",
                why: format!("none of the vocabulary's genes is in {}", path.display()),
            });
        }
        let mut column_map = vec![None; chunks.genes().len()];
        for (v, c) in matched.columns.iter().enumerate() {
            if let Some(c) = c {
                column_map[*c] = Some(v as u32);
            }
        }
        let mut data = TrainData::Stream {
            path: path.to_path_buf(),
            opts: opts.clone(),
            column_map,
            kind: tokenizer.input_kind,
            n_cells: 0,
            val: Vec::new(),
        };
        // One pass to count cells and collect the validation rows.
        let mut n = 0;
        let mut expressed = false;
        let mut val = Vec::new();
        for row in data.stream_rows()? {
            let row = row?;
            expressed |= !row.values.is_empty();
            if is_validation(cfg.seed, row.index, cfg.val_fraction) && val.len() < cfg.val_cells {
                val.push(row);
            }
            n += 1;
        }
        if n == 0 {
            return Err(Error::Empty {
                what: "expression file",
                why: format!("{} has zero cells", path.display()),
            });
        }
        if !expressed {
            return Err(Error::Empty {
                what: "expression data",
                why: format!(
                    "no vocabulary gene is expressed in any cell of {}: there is nothing to learn",
                    path.display()
                ),
            });
        }
        if let TrainData::Stream {
            n_cells, val: v, ..
        } = &mut data
        {
            *n_cells = n;
            *v = val;
        }
        Ok(data)
    }

    /// Rows of the file in order (streaming only).
    fn stream_rows(&self) -> Result<Box<dyn Iterator<Item = Result<CellRow>>>> {
        let TrainData::Stream {
            path,
            opts,
            column_map,
            kind,
            ..
        } = self
        else {
            return Err(Error::Unsupported("stream_rows on in-memory data".into()));
        };
        let chunks: Box<dyn CellChunks> = stream_cells(path, 1024, opts)?;
        let map = column_map.clone();
        let kind = *kind;
        Ok(Box::new(chunks.flat_map(
            move |chunk| -> Vec<Result<CellRow>> {
                match chunk {
                    Err(e) => vec![Err(e)],
                    Ok(mut c) => {
                        if let Some(k) = kind {
                            to_linear_scale_sparse(&mut c.values, k);
                        }
                        (0..c.values.n_rows())
                            .map(|r| Ok(remap_row(&c.values, r, c.start + r, &map)))
                            .collect()
                    }
                }
            },
        )))
    }

    /// Validation rows (at most `limit`).
    pub fn validation_rows(&self, limit: usize, n_fields: usize) -> Vec<CellRow> {
        match self {
            TrainData::Memory { cells, val, .. } => val
                .iter()
                .take(limit)
                .map(|&i| CellRow::from_prepared(cells, i, n_fields))
                .collect(),
            TrainData::Stream { val, .. } => val.iter().take(limit).cloned().collect(),
        }
    }

    /// Number of held-out cells validation can use (streaming: those read up front).
    pub fn n_validation(&self) -> usize {
        match self {
            TrainData::Memory { val, .. } => val.len(),
            TrainData::Stream { val, .. } => val.len(),
        }
    }

    /// Number of training cells (streaming: cells not held out).
    pub fn n_train(&self, cfg: &TrainConfig) -> usize {
        match self {
            TrainData::Memory { train, .. } => train.len(),
            TrainData::Stream { n_cells, .. } => (0..*n_cells)
                .filter(|&i| !is_validation(cfg.seed, i, cfg.val_fraction))
                .count(),
        }
    }

    /// A reader of the endless training sequence, positioned at `start` (a cell position,
    /// `step · batch_size`).
    ///
    /// # Errors
    /// Streaming read errors.
    pub fn reader(
        &self,
        cfg: &TrainConfig,
        n_fields: usize,
        start: u64,
    ) -> Result<TrainReader<'_>> {
        let mut r = TrainReader {
            data: self,
            seed: cfg.seed,
            val_fraction: cfg.val_fraction,
            n_fields,
            position: 0,
            stream: None,
            shuffle_buffer: cfg.stream_chunk.max(1),
            n_train: 0,
            perm: None,
        };
        match self {
            TrainData::Memory { train, .. } => {
                r.n_train = train.len();
                r.position = start;
            }
            TrainData::Stream { .. } => {
                for _ in 0..start {
                    r.next_row()?;
                }
            }
        }
        Ok(r)
    }
}

/// Row `r` of a chunk of the file in vocabulary order, normalised over the file's whole row as
/// [`PreparedCells::values`], with its raw values and the library outside the vocabulary.
fn remap_row(x: &CsrMatrix, r: usize, index: usize, map: &[Option<u32>]) -> CellRow {
    let (c, v) = x.row(r);
    let size: f64 = v.iter().map(|&v| f64::from(v)).sum();
    let scale = if size > 0.0 {
        LIBRARY_TARGET / size
    } else {
        0.0
    };
    let mut outside = 0.0f64;
    let mut pairs: Vec<(u32, f32)> = Vec::with_capacity(c.len());
    for (&c, &v) in c.iter().zip(v) {
        match map.get(c as usize).copied().flatten() {
            Some(p) if v != 0.0 => pairs.push((p, v)),
            Some(_) => {}
            None => outside += f64::from(v),
        }
    }
    pairs.sort_unstable_by_key(|p| p.0);
    CellRow {
        index,
        columns: pairs.iter().map(|p| p.0).collect(),
        values: pairs
            .iter()
            .map(|p| (f64::from(p.1) * scale) as f32)
            .collect(),
        raw: pairs.iter().map(|p| p.1).collect(),
        outside,
        conditions: Vec::new(),
    }
}

/// State of a streamed epoch: the file's rows, a shuffle buffer, and the epoch's RNG.
struct StreamState {
    rows: Box<dyn Iterator<Item = Result<CellRow>>>,
    buffer: Vec<CellRow>,
    rng: crate::rng::Stream,
    epoch: u64,
    exhausted: bool,
}

/// Reads the endless training sequence (see the module docs).
pub struct TrainReader<'a> {
    data: &'a TrainData,
    seed: u64,
    val_fraction: f64,
    n_fields: usize,
    position: u64,
    stream: Option<StreamState>,
    shuffle_buffer: usize,
    n_train: usize,
    perm: Option<(u64, Vec<usize>)>,
}

impl TrainReader<'_> {
    /// Position of the next cell in the training sequence.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next training cell.
    ///
    /// # Errors
    /// Streaming read errors; [`Error::Empty`] if a streamed file has no training cells.
    pub fn next_row(&mut self) -> Result<CellRow> {
        let row = match self.data {
            TrainData::Memory { cells, train, .. } => {
                let n = self.n_train as u64;
                let epoch = self.position / n;
                let k = (self.position % n) as usize;
                // The epoch's order is a seeded shuffle of the training indices, computed once
                // per epoch.
                if self.perm.as_ref().is_none_or(|(e, _)| *e != epoch) {
                    let mut p = train.clone();
                    p.shuffle(&mut stream(self.seed, DOMAIN_EPOCH, epoch));
                    self.perm = Some((epoch, p));
                }
                let i = self.perm.as_ref().map_or(train[k], |(_, p)| p[k]);
                CellRow::from_prepared(cells, i, self.n_fields)
            }
            TrainData::Stream { .. } => self.next_streamed()?,
        };
        self.position += 1;
        Ok(row)
    }

    /// Epoch `epoch` of the streamed file: the file's rows from the start, an empty shuffle
    /// buffer and the epoch's own RNG.
    fn start_epoch(&self, epoch: u64) -> Result<StreamState> {
        Ok(StreamState {
            rows: self.data.stream_rows()?,
            buffer: Vec::with_capacity(self.shuffle_buffer),
            rng: stream(self.seed, DOMAIN_SHUFFLE, epoch),
            epoch,
            exhausted: false,
        })
    }

    fn next_streamed(&mut self) -> Result<CellRow> {
        let mut st = match self.stream.take() {
            Some(st) => st,
            None => self.start_epoch(0)?,
        };
        let mut restarts = 0;
        loop {
            while !st.exhausted && st.buffer.len() < self.shuffle_buffer {
                match st.rows.next() {
                    Some(row) => {
                        let row = row?;
                        if !is_validation(self.seed, row.index, self.val_fraction) {
                            st.buffer.push(row);
                        }
                    }
                    None => st.exhausted = true,
                }
            }
            if !st.buffer.is_empty() {
                let k = st.rng.random_range(0..st.buffer.len());
                let row = st.buffer.swap_remove(k);
                self.stream = Some(st);
                return Ok(row);
            }
            // Epoch over: start the next one (twice in a row means no training cells at all).
            restarts += 1;
            if restarts > 1 {
                return Err(Error::Empty {
                    what: "training split",
                    why: "the streamed file has no training cells".into(),
                });
            }
            st = self.start_epoch(st.epoch + 1)?;
        }
    }
}

/// Tokenizes training cell `position` (its own sampling stream).
pub fn tokenize_training_cell(
    tok: &GeneTokenizer,
    seed: u64,
    position: u64,
    row: &CellRow,
    condition_dropout: f32,
) -> Result<TokenizedCell> {
    let mut rng = stream(seed, DOMAIN_SAMPLE, position);
    let mut conds = row.conditions.clone();
    if !conds.is_empty() && condition_dropout > 0.0 && rng.random::<f32>() < condition_dropout {
        conds = tok.no_conditions();
    }
    tok.tokenize(&row.columns, &row.values, &conds, &[], &mut rng)
}

/// Tokenizes a validation (or inference) cell with a stream fixed by its index.
pub fn tokenize_fixed_cell(
    tok: &GeneTokenizer,
    seed: u64,
    row: &CellRow,
    forced: &[u32],
) -> Result<TokenizedCell> {
    let mut rng = stream(seed, DOMAIN_VAL, row.index as u64);
    tok.tokenize(&row.columns, &row.values, &row.conditions, forced, &mut rng)
}

/// Which genes of each cell are masked and how each masked gene's loss is weighted.
#[derive(Debug, Clone, PartialEq)]
pub struct Masking {
    /// Per cell, per gene: masked?
    pub masked: Vec<Vec<bool>>,
    /// Per cell: loss weight of its masked genes.
    pub weight: Vec<f32>,
}

/// Draws masks for `cells` per `schedule` from `rng` (at least one gene per cell is masked).
pub fn draw_masks<R: Rng + ?Sized>(
    cells: &[TokenizedCell],
    schedule: MaskSchedule,
    rng: &mut R,
) -> Masking {
    let mut masked = Vec::with_capacity(cells.len());
    let mut weight = Vec::with_capacity(cells.len());
    for c in cells {
        let (t, w) = match schedule {
            MaskSchedule::Diffusion {
                min_ratio,
                max_ratio,
            } => {
                let t = min_ratio + (max_ratio - min_ratio) * rng.random::<f32>();
                (t, 1.0 / t)
            }
            MaskSchedule::Fixed { ratio } => (ratio, 1.0),
        };
        let mut m: Vec<bool> = (0..c.genes.len())
            .map(|_| rng.random::<f32>() < t)
            .collect();
        if !m.is_empty() && !m.iter().any(|&b| b) {
            let k = rng.random_range(0..m.len());
            m[k] = true;
        }
        masked.push(m);
        weight.push(w);
    }
    Masking { masked, weight }
}

/// The masks of training step `step`.
pub fn step_masks(
    cells: &[TokenizedCell],
    schedule: MaskSchedule,
    seed: u64,
    step: u64,
) -> Masking {
    draw_masks(cells, schedule, &mut stream(seed, DOMAIN_MASK, step))
}

/// The masks of validation cell batch `batch` (fixed across evaluations).
pub fn validation_masks(
    cells: &[TokenizedCell],
    schedule: MaskSchedule,
    seed: u64,
    batch: u64,
) -> Masking {
    draw_masks(
        cells,
        schedule,
        &mut stream(seed, DOMAIN_VAL ^ DOMAIN_MASK, batch),
    )
}

/// Re-bins each of `cells` (tokenized from `rows`, in order) with its masked genes withheld
/// from its bin edges ([`GeneTokenizer::withhold`]): the model's input and its targets then
/// come from the visible genes' edges only. Training, validation and evaluation call it
/// between drawing the masks and collating.
///
/// # Errors
/// [`Error::Shape`] if the lengths differ; the tokenizer's errors.
pub fn withhold_masked(
    tok: &GeneTokenizer,
    rows: &[CellRow],
    cells: &mut [TokenizedCell],
    masking: &Masking,
) -> Result<()> {
    if rows.len() != cells.len() || masking.masked.len() != cells.len() {
        return Err(Error::shape(
            "withhold_masked",
            format!("{} rows and masks (one per cell)", cells.len()),
            format!("{} rows, {} masks", rows.len(), masking.masked.len()),
        ));
    }
    for ((row, cell), masked) in rows.iter().zip(cells.iter_mut()).zip(&masking.masked) {
        let hidden: Vec<u32> = cell
            .genes
            .iter()
            .zip(masked)
            .filter(|(_, &m)| m)
            .map(|(&g, _)| g.saturating_sub(crate::tokenize::N_SPECIAL))
            .collect();
        row.withhold(tok, cell, &hidden)?;
    }
    Ok(())
}

/// A collated batch: model input plus targets and per-token loss weights.
#[derive(Debug, Clone)]
pub struct Collated {
    /// Input tensors.
    pub input: ModelInput,
    /// True bins `[B, L]` `u32` (0 at padding).
    pub targets: Tensor,
    /// Loss weight `[B, L]` `f32`: the cell's weight at masked genes, 0 elsewhere.
    pub weights: Tensor,
    /// Number of gene tokens (not padding) in the batch.
    pub n_tokens: usize,
    /// Number of masked gene tokens.
    pub n_masked: usize,
    /// Longest cell (the padded length `L`).
    pub len: usize,
}

/// Pads `cells` to the longest, replaces masked bins by the mask token `n_bins`, and builds
/// the tensors on `device`.
///
/// # Errors
/// [`Error::Empty`] for no cells, [`Error::Tensor`] for device errors.
pub fn collate(
    cells: &[TokenizedCell],
    masking: Option<&Masking>,
    n_bins: u32,
    n_fields: usize,
    device: &Device,
) -> Result<Collated> {
    if cells.is_empty() {
        return Err(Error::Empty {
            what: "batch",
            why: "no cells".into(),
        });
    }
    let b = cells.len();
    let l = cells
        .iter()
        .map(|c| c.genes.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut genes = vec![crate::tokenize::PAD_ID; b * l];
    let mut bins = vec![n_bins; b * l];
    let mut targets = vec![0u32; b * l];
    let mut weights = vec![0f32; b * l];
    let mut conds = Vec::with_capacity(b * n_fields);
    let mut lens = Vec::with_capacity(b);
    let mut n_masked = 0;
    for (i, c) in cells.iter().enumerate() {
        if c.conditions.len() != n_fields {
            return Err(Error::shape(
                "collate",
                format!("{n_fields} condition id(s) per cell"),
                format!("{}", c.conditions.len()),
            ));
        }
        conds.extend_from_slice(&c.conditions);
        lens.push(c.genes.len());
        for j in 0..c.genes.len() {
            let k = i * l + j;
            genes[k] = c.genes[j];
            targets[k] = c.bins[j];
            let is_masked = masking.is_some_and(|m| m.masked[i][j]);
            if is_masked {
                weights[k] = masking.map_or(0.0, |m| m.weight[i]);
                n_masked += 1;
            } else {
                bins[k] = c.bins[j];
            }
        }
    }
    let n_tokens = lens.iter().sum();
    Ok(Collated {
        input: ModelInput {
            genes: Tensor::from_vec(genes, (b, l), device)?,
            bins: Tensor::from_vec(bins, (b, l), device)?,
            conditions: if n_fields > 0 {
                Some(Tensor::from_vec(conds, (b, n_fields), device)?)
            } else {
                None
            },
            pad_mask: pad_mask(&lens, n_fields, l, device)?,
        },
        targets: Tensor::from_vec(targets, (b, l), device)?,
        weights: Tensor::from_vec(weights, (b, l), device)?,
        n_tokens,
        n_masked,
        len: l,
    })
}

/// Row indices in minibatches of a seeded permutation that is redrawn every epoch (stream
/// `epoch` of `(seed, domain)`), so a training run depends only on its seed. The small
/// learners trained on host arrays (the sparse autoencoder, the MLP baseline) share it.
pub(crate) struct EpochBatches {
    order: Vec<u32>,
    cursor: usize,
    epoch: u64,
    seed: u64,
    domain: u64,
}

impl EpochBatches {
    /// Batches over `n` rows.
    pub(crate) fn new(n: usize, seed: u64, domain: u64) -> Self {
        Self {
            order: (0..n as u32).collect(),
            cursor: n, // forces a shuffle on the first batch
            epoch: 0,
            seed,
            domain,
        }
    }

    /// The next `bs` rows (`bs` ≤ the number of rows): the rest of this epoch's permutation,
    /// or the start of a new one when fewer than `bs` are left.
    pub(crate) fn next_batch(&mut self, bs: usize) -> &[u32] {
        let n = self.order.len();
        if self.cursor + bs > n {
            self.order = (0..n as u32).collect();
            self.order
                .shuffle(&mut crate::rng::stream(self.seed, self.domain, self.epoch));
            self.epoch += 1;
            self.cursor = 0;
        }
        let b = &self.order[self.cursor..self.cursor + bs];
        self.cursor += bs;
        b
    }
}
