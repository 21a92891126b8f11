//! Expression → tokens: the gene vocabulary, per-cell value bins, per-cell gene sampling and
//! condition tokens. This is everything the gene transformer ([`crate::nn`]) knows about the
//! data; it is saved beside every checkpoint as `tokenizer.json`.
//!
//! A cell becomes a *set* of gene tokens `(gene id, value bin)` plus one token per condition
//! field (cell type, perturbation, ...). There is no position: genes have no order, so the
//! model is permutation-equivariant over them (as scGPT).
//!
//! # Gene sampling (training and inference use the same rule)
//!
//! A context holds at most [`GeneSampling::max_genes`] gene tokens. If a cell has more
//! vocabulary genes than that, [`GeneTokenizer::tokenize`] keeps, in order:
//! 1. the *forced* genes (the genes an imputation asks about), always;
//! 2. of the remaining `R` slots, up to `R − ⌈zero_share · R⌉` **expressed** genes, drawn
//!    uniformly without replacement (all of them if they fit);
//! 3. **zeros** (vocabulary genes not expressed in the cell) fill the rest, drawn uniformly,
//!    so the model also learns which genes are off; if there are too few zeros, expressed genes
//!    take their slots, and vice versa.
//!
//! Draws come from a stream seeded by the caller (in training: `(seed, cell position)`), so a
//! cell's context is reproducible. Bins are computed on the cell's *whole* vocabulary row
//! before sampling, so a gene's bin does not depend on which other genes were drawn; once the
//! masked genes are known, [`GeneTokenizer::withhold`] recomputes them with the masked genes
//! left out of the edges, so the visible bins carry no trace of a hidden value.

mod binning;
mod config;
mod vocab;

pub use binning::{
    BinDecoder, BinLevel, BinScheme, BinSchemeKind, Binning, DEFAULT_N_BINS, LIBRARY_TARGET,
};
pub use config::{fit_tokenizer, select_vocabulary, TokenizerConfig, DEFAULT_N_TOP_GENES};
pub use vocab::{GeneVocab, N_SPECIAL, PAD_ID};

use rand::seq::index::sample;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::expression::genes::{match_genes, CoverageReport};
use crate::expression::{CsrMatrix, ExpressionMatrix, ObsColumn};

/// How many genes a context holds and how it is filled (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneSampling {
    /// Gene tokens per cell (the context length, not counting condition tokens).
    pub max_genes: usize,
    /// Share of the sampled slots reserved for non-expressed genes, in [0, 1).
    pub zero_share: f32,
}

impl Default for GeneSampling {
    fn default() -> Self {
        Self {
            max_genes: 256,
            zero_share: 0.25,
        }
    }
}

impl GeneSampling {
    /// Checks the fields.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `max_genes == 0` or `zero_share` outside [0, 1).
    pub fn validate(&self) -> Result<()> {
        if self.max_genes == 0 {
            return Err(Error::param("max_genes", 0, "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.zero_share) {
            return Err(Error::param(
                "zero_share",
                self.zero_share,
                "must be in [0, 1)",
            ));
        }
        Ok(())
    }
}

/// A categorical covariate given to the model as a token (cell type, perturbation, batch).
///
/// Within a field, index 0 is "none" (unknown, or dropped for classifier-free training), and
/// category `k` has index `k + 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionField {
    /// The `obs` column it is read from.
    pub name: String,
    /// Its categories, in token order.
    pub categories: Vec<String>,
}

/// The tokenizer: vocabulary, binning, sampling and condition fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneTokenizer {
    /// Gene vocabulary.
    pub vocab: GeneVocab,
    /// Value binning.
    pub binning: Binning,
    /// Gene sampling.
    pub sampling: GeneSampling,
    /// Condition fields (may be empty).
    pub conditions: Vec<ConditionField>,
    /// What the training data held (counts, normalised, log-normalised; see
    /// [`crate::expression::kind`]); inference refuses data of another kind unless told.
    /// `None` for a tokenizer saved before kinds were recorded.
    #[serde(default)]
    pub input_kind: Option<crate::expression::kind::MatrixKind>,
}

/// One tokenized cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedCell {
    /// Gene token ids (vocabulary ids, ≥ [`N_SPECIAL`]), ascending.
    pub genes: Vec<u32>,
    /// Value bin of each gene (0 = not expressed).
    pub bins: Vec<u32>,
    /// Global condition token id per field (see [`GeneTokenizer::condition_id`]).
    pub conditions: Vec<u32>,
}

/// A dataset laid out for a tokenizer: values in vocabulary order and condition ids.
#[derive(Debug, Clone)]
pub struct PreparedCells {
    /// cells × vocabulary genes (CSR; missing genes are empty columns), normalised to
    /// [`LIBRARY_TARGET`] counts per cell: each cell's values are divided by its library size
    /// over **all** of the dataset's genes (not only the vocabulary's, which would make them
    /// compositional) and multiplied by the target. Value bins of unmasked cells are computed
    /// from these.
    pub values: CsrMatrix,
    /// The un-normalised values (as read, on the linear scale), aligned with
    /// `values.data()`: a masked cell is normalised over its visible genes only
    /// ([`normalize_visible`]), so that no hidden value reaches the model through the library
    /// size.
    pub raw: Vec<f32>,
    /// Per cell, the sum of the dataset's genes outside the vocabulary (never masked; part of
    /// every visible library).
    pub outside: Vec<f64>,
    /// Global condition ids, `n_cells × n_fields`, row-major.
    pub conditions: Vec<u32>,
    /// Cell ids.
    pub cells: Vec<String>,
    /// Each cell's index in its dataset: `0..n` from [`GeneTokenizer::prepare`], the file's
    /// indices for cells picked from a larger file ([`PreparedCells::with_index`]). A cell's
    /// random context is keyed by this index, so it does not depend on which other cells were
    /// read with it.
    pub index: Vec<usize>,
    /// How the dataset's genes matched the vocabulary (missing genes are listed, never
    /// silently dropped).
    pub coverage: CoverageReport,
    /// Cells per field whose category is not in the tokenizer (given the "none" token).
    pub unknown_conditions: Vec<(String, usize)>,
}

impl PreparedCells {
    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.values.n_rows()
    }

    /// These cells with their indices in a larger dataset (`index[i]` for row `i`).
    ///
    /// # Errors
    /// [`Error::Shape`] when `index` does not have one entry per cell.
    pub fn with_index(mut self, index: Vec<usize>) -> Result<Self> {
        if index.len() != self.n_cells() {
            return Err(Error::shape(
                "PreparedCells::with_index",
                format!("{} indices", self.n_cells()),
                format!("{}", index.len()),
            ));
        }
        self.index = index;
        Ok(self)
    }

    /// Row `i`'s index in its dataset (`i` itself when [`Self::index`] does not say).
    pub fn dataset_index(&self, i: usize) -> usize {
        self.index.get(i).copied().unwrap_or(i)
    }

    /// Cell `i`'s vocabulary positions, un-normalised values and library outside the
    /// vocabulary: what [`GeneTokenizer::withhold`] and [`normalize_visible`] take.
    pub fn raw_row(&self, i: usize) -> (&[u32], &[f32], f64) {
        let (cols, _) = self.values.row(i);
        let start = self.values.indptr().get(i).copied().unwrap_or(0);
        // A `raw` that does not match `values` (fields set by hand) gives an empty slice, which
        // `withhold` reports as a shape error instead of panicking here.
        let raw = self.raw.get(start..start + cols.len()).unwrap_or(&[]);
        (cols, raw, self.outside.get(i).copied().unwrap_or(0.0))
    }

    /// Cell `i`'s values normalised over its visible genes ([`normalize_visible`]).
    pub fn visible_values(&self, i: usize, hidden: &[u32]) -> Vec<f32> {
        let (cols, raw, outside) = self.raw_row(i);
        normalize_visible(cols, raw, outside, hidden)
    }

    /// The baselines' input when the vocabulary positions `hidden` are masked in every cell:
    /// `log1p` of each cell's values normalised over its **visible** library (as a masked cell
    /// is for the model, [`normalize_visible`]) to the median visible library of all cells
    /// (scanpy's default target), dense `(rows.len(), n_vocab)`. Hidden columns are on the same
    /// scale (the truth a baseline is scored against); no visible entry depends on a hidden
    /// value, in any cell.
    pub fn log_normalized_visible(&self, rows: &[usize], hidden: &[u32]) -> ndarray::Array2<f64> {
        let mut sorted = hidden.to_vec();
        sorted.sort_unstable();
        let target = median_library((0..self.n_cells()).map(|i| {
            let (cols, raw, outside) = self.raw_row(i);
            visible_library(cols, raw, outside, &sorted)
        }));
        let scale = target / LIBRARY_TARGET;
        let mut x = ndarray::Array2::zeros((rows.len(), self.values.n_cols()));
        for (&i, mut row) in rows.iter().zip(x.axis_iter_mut(ndarray::Axis(0))) {
            let (cols, _, _) = self.raw_row(i);
            for (&c, &v) in cols.iter().zip(&self.visible_values(i, hidden)) {
                row[c as usize] = (f64::from(v) * scale).ln_1p();
            }
        }
        x
    }

    /// Condition ids of cell `i`.
    pub fn conditions_of(&self, i: usize, n_fields: usize) -> &[u32] {
        &self.conditions[i * n_fields..(i + 1) * n_fields]
    }
}

impl GeneTokenizer {
    /// A tokenizer for `m`: its genes (in order) as the vocabulary and the categories of the
    /// `obs` columns named in `condition_columns`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for bad `binning`/`sampling` or a condition column that is not
    /// categorical, [`Error::UnknownGenes`] for a missing column, and the vocabulary's errors.
    pub fn fit(
        m: &ExpressionMatrix,
        binning: Binning,
        sampling: GeneSampling,
        condition_columns: &[String],
    ) -> Result<Self> {
        binning.validate()?;
        sampling.validate()?;
        let vocab = GeneVocab::new(m.genes().symbols.clone())?;
        let mut conditions = Vec::new();
        for name in condition_columns {
            let col = m.obs_column(name).ok_or_else(|| {
                Error::param(
                    "conditions",
                    name,
                    format!(
                        "no such obs column (have: {})",
                        m.obs()
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            let ObsColumn::Categorical { categories, .. } = col else {
                return Err(Error::param(
                    "conditions",
                    name,
                    "condition columns must be categorical",
                ));
            };
            conditions.push(ConditionField {
                name: name.clone(),
                categories: categories.clone(),
            });
        }
        Ok(Self {
            vocab,
            binning,
            sampling,
            conditions,
            input_kind: None,
        })
    }

    /// Total number of condition tokens (every field's categories plus its "none").
    pub fn n_condition_tokens(&self) -> usize {
        self.conditions.iter().map(|f| f.categories.len() + 1).sum()
    }

    /// Global token id of `category` in field `field` (`None` → the field's "none" token).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an unknown field or category.
    pub fn condition_id(&self, field: &str, category: Option<&str>) -> Result<u32> {
        let mut offset = 0u32;
        for f in &self.conditions {
            if f.name == field {
                let Some(c) = category else { return Ok(offset) };
                let k = f.categories.iter().position(|x| x == c).ok_or_else(|| {
                    Error::param(
                        "condition",
                        format!("{field}={c}"),
                        format!("unknown category (known: {})", f.categories.join(", ")),
                    )
                })?;
                return Ok(offset + 1 + k as u32);
            }
            offset += f.categories.len() as u32 + 1;
        }
        Err(Error::param(
            "condition",
            field,
            format!(
                "the model has no such condition field (has: {})",
                self.conditions
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    /// The "none" token of every field (unconditional).
    pub fn no_conditions(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.conditions.len());
        let mut offset = 0u32;
        for f in &self.conditions {
            out.push(offset);
            offset += f.categories.len() as u32 + 1;
        }
        out
    }

    /// Lays `m` out in vocabulary order and reads its condition columns.
    ///
    /// # Errors
    /// [`Error::Empty`] for zero cells, [`Error::UnknownGenes`] when *none* of the vocabulary's
    /// genes is in `m` (a partial match is allowed and reported in
    /// [`PreparedCells::coverage`]), [`Error::InvalidParam`] for a missing condition column,
    /// and [`Error::NonFinite`]/[`Error::Negative`] for bad values.
    pub fn prepare(&self, m: &ExpressionMatrix) -> Result<PreparedCells> {
        if m.n_cells() == 0 {
            return Err(Error::Empty {
                what: "expression matrix",
                why: "zero cells to tokenize".into(),
            });
        }
        let matched = match_genes(m.genes(), self.vocab.genes())?;
        if matched.report.n_found == 0 {
            return Err(Error::Empty {
                what: "gene overlap between data and model",
                why: format!(
                    "none of the model's {} vocabulary genes is among the data's {} genes \
                     (data genes start: {}; model genes start: {})",
                    self.vocab.n_genes(),
                    m.n_genes(),
                    m.genes()
                        .symbols
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.vocab
                        .genes()
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let mut values = matched.reindex(m)?;
        check_values(&values)?;
        let raw = values.data().to_vec();
        let mut in_vocab = vec![false; m.n_genes()];
        for c in matched.columns.iter().flatten() {
            in_vocab[*c] = true;
        }
        let mut outside = vec![0.0f64; m.n_cells()];
        m.values().for_each_nonzero(|r, c, v| {
            if !in_vocab[c] {
                outside[r] += f64::from(v);
            }
        });
        normalize_rows(&mut values, &m.library_sizes());
        let n_fields = self.conditions.len();
        let mut conditions = Vec::with_capacity(m.n_cells() * n_fields);
        let mut unknown = Vec::new();
        let offsets = self.no_conditions();
        let mut per_field: Vec<Vec<u32>> = Vec::with_capacity(n_fields);
        for (f, field) in self.conditions.iter().enumerate() {
            let col = m.obs_column(&field.name).ok_or_else(|| {
                Error::param(
                    "data",
                    &field.name,
                    "the model is conditioned on this obs column, which the data lack",
                )
            })?;
            let mut ids = Vec::with_capacity(m.n_cells());
            let mut n_unknown = 0;
            for i in 0..m.n_cells() {
                let label = col.label(i);
                match field.categories.iter().position(|c| *c == label) {
                    Some(k) => ids.push(offsets[f] + 1 + k as u32),
                    None => {
                        n_unknown += 1;
                        ids.push(offsets[f]);
                    }
                }
            }
            if n_unknown > 0 {
                unknown.push((field.name.clone(), n_unknown));
            }
            per_field.push(ids);
        }
        for i in 0..m.n_cells() {
            for ids in &per_field {
                conditions.push(ids[i]);
            }
        }
        Ok(PreparedCells {
            values,
            raw,
            outside,
            conditions,
            cells: m.cells().to_vec(),
            index: (0..m.n_cells()).collect(),
            coverage: matched.report,
            unknown_conditions: unknown,
        })
    }

    /// Cells `rows` of `m` laid out for this tokenizer ([`Self::prepare`]), each keeping its
    /// index in `m` ([`PreparedCells::index`]), so that its random context is the one it has
    /// when all of `m` is prepared.
    ///
    /// # Errors
    /// As [`ExpressionMatrix::select_cells`] and [`Self::prepare`].
    pub fn prepare_rows(&self, m: &ExpressionMatrix, rows: &[usize]) -> Result<PreparedCells> {
        self.prepare(&m.select_cells(rows)?)?
            .with_index(rows.to_vec())
    }

    /// Tokenizes one cell given its vocabulary-ordered sparse row (`columns` are vocabulary
    /// positions `0..n_genes`, ascending; `values` non-zero). `forced` are vocabulary positions
    /// always kept (see the module docs for the sampling rule).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a forced position past the vocabulary, and the binning's
    /// errors for bad values.
    pub fn tokenize<R: Rng + ?Sized>(
        &self,
        columns: &[u32],
        values: &[f32],
        conditions: &[u32],
        forced: &[u32],
        rng: &mut R,
    ) -> Result<TokenizedCell> {
        let n_vocab = self.vocab.n_genes();
        self.check_positions("forced gene", forced)?;
        let bins = self.binning.bin_cell(columns, values)?;
        // Dense lookup: bin of every vocabulary position (0 where not expressed).
        let mut bin_of = vec![0u32; n_vocab];
        for (&c, &b) in columns.iter().zip(&bins) {
            bin_of[c as usize] = b;
        }
        let mut chosen = vec![false; n_vocab];
        let mut n_chosen = 0;
        for &f in forced {
            if !chosen[f as usize] {
                chosen[f as usize] = true;
                n_chosen += 1;
            }
        }
        let max = self.sampling.max_genes.max(n_chosen);
        let slots = max - n_chosen;
        let expressed: Vec<u32> = columns
            .iter()
            .copied()
            .filter(|&c| !chosen[c as usize])
            .collect();
        let n_zero_avail = n_vocab - n_chosen - expressed.len();
        if expressed.len() + n_zero_avail <= slots {
            chosen.iter_mut().for_each(|c| *c = true);
        } else {
            let zero_target =
                ((self.sampling.zero_share * slots as f32).ceil() as usize).min(n_zero_avail);
            let n_expr = expressed.len().min(slots - zero_target);
            let n_zero = (slots - n_expr).min(n_zero_avail);
            if n_expr == expressed.len() {
                expressed.iter().for_each(|&c| chosen[c as usize] = true);
            } else {
                for k in sample(rng, expressed.len(), n_expr) {
                    chosen[expressed[k] as usize] = true;
                }
            }
            if n_zero > 0 {
                // The k-th zero is the k-th unchosen, unexpressed position.
                let zeros: Vec<u32> = (0..n_vocab as u32)
                    .filter(|&g| !chosen[g as usize] && bin_of[g as usize] == 0)
                    .collect();
                let mut picks: Vec<usize> = if n_zero == zeros.len() {
                    (0..zeros.len()).collect()
                } else {
                    sample(rng, zeros.len(), n_zero).into_vec()
                };
                picks.sort_unstable();
                for k in picks {
                    chosen[zeros[k] as usize] = true;
                }
            }
        }
        let mut genes = Vec::with_capacity(max);
        let mut out_bins = Vec::with_capacity(max);
        for (g, &c) in chosen.iter().enumerate() {
            if c {
                genes.push(g as u32 + N_SPECIAL);
                out_bins.push(bin_of[g]);
            }
        }
        Ok(TokenizedCell {
            genes,
            bins: out_bins,
            conditions: conditions.to_vec(),
        })
    }
}

impl GeneTokenizer {
    /// Every vocabulary position in `positions` must exist.
    fn check_positions(&self, what: &'static str, positions: &[u32]) -> Result<()> {
        let n_vocab = self.vocab.n_genes();
        match positions.iter().find(|&&g| g as usize >= n_vocab) {
            Some(&bad) => Err(Error::param(
                what,
                bad,
                format!("vocabulary has {n_vocab} genes"),
            )),
            None => Ok(()),
        }
    }

    /// Tokenizes exactly the vocabulary positions `genes` of one cell (no sampling), with bins
    /// computed on the cell's whole row as in [`GeneTokenizer::tokenize`]. Used to ask the
    /// model about a chosen context (e.g. only a target gene's regulators).
    ///
    /// # Errors
    /// As [`GeneTokenizer::tokenize`].
    pub fn tokenize_genes(
        &self,
        columns: &[u32],
        values: &[f32],
        conditions: &[u32],
        genes: &[u32],
    ) -> Result<TokenizedCell> {
        self.check_positions("gene", genes)?;
        let bins = self.binning.bin_cell(columns, values)?;
        let mut wanted: Vec<u32> = genes.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let out_bins = wanted
            .iter()
            .map(|g| match columns.binary_search(g) {
                Ok(k) => bins[k],
                Err(_) => 0,
            })
            .collect();
        Ok(TokenizedCell {
            genes: wanted.iter().map(|g| g + N_SPECIAL).collect(),
            bins: out_bins,
            conditions: conditions.to_vec(),
        })
    }
}

impl GeneTokenizer {
    /// Re-bins `cell` (tokenized from the sparse row `columns`, as [`GeneTokenizer::tokenize`]
    /// takes it) once the genes at vocabulary positions `hidden` are masked: the row is
    /// normalised over the visible genes only ([`normalize_visible`] of the un-normalised
    /// `raw` values and the library `outside` the vocabulary), and every token's bin, hidden or
    /// not, is computed from that row with the hidden genes withheld from the cell's edges
    /// (see [`Binning::bin_cell_withholding`]). The visible tokens' bins then depend on the
    /// visible values alone, bit for bit. Call it before collation; a no-op for an empty
    /// `hidden`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a hidden position past the vocabulary; [`Error::Shape`] for
    /// `raw` and `columns` of different lengths; the binning's errors for bad values.
    pub fn withhold(
        &self,
        columns: &[u32],
        raw: &[f32],
        outside: f64,
        cell: &mut TokenizedCell,
        hidden: &[u32],
    ) -> Result<()> {
        self.check_positions("hidden gene", hidden)?;
        if hidden.is_empty() {
            return Ok(());
        }
        if raw.len() != columns.len() {
            return Err(Error::shape(
                "withhold",
                format!("{} values (one per column)", columns.len()),
                raw.len().to_string(),
            ));
        }
        let values = normalize_visible(columns, raw, outside, hidden);
        let mut withheld = vec![false; columns.len()];
        for g in hidden {
            if let Ok(k) = columns.binary_search(g) {
                withheld[k] = true;
            }
        }
        let bins = self
            .binning
            .bin_cell_withholding(columns, &values, &withheld)?;
        for (token, bin) in cell.genes.iter().zip(cell.bins.iter_mut()) {
            let g = token.saturating_sub(N_SPECIAL);
            *bin = match columns.binary_search(&g) {
                Ok(k) => bins[k],
                Err(_) => 0,
            };
        }
        Ok(())
    }
}

/// A cell's row normalised to [`LIBRARY_TARGET`] over its **visible** library: `outside` (the
/// genes beyond the vocabulary, never masked) plus the `raw` values of the columns not in
/// `hidden`, summed in column order. Hidden values are scaled by the same factor, so a masked
/// gene's target is on the scale of what the model sees; no visible value depends on a hidden
/// one. A cell with nothing visible keeps its raw values.
pub fn normalize_visible(columns: &[u32], raw: &[f32], outside: f64, hidden: &[u32]) -> Vec<f32> {
    let mut sorted = hidden.to_vec();
    sorted.sort_unstable();
    let visible = visible_library(columns, raw, outside, &sorted);
    let scale = if visible > 0.0 {
        LIBRARY_TARGET / visible
    } else {
        1.0
    };
    raw.iter().map(|&v| (f64::from(v) * scale) as f32).collect()
}

/// `outside` plus the `raw` values of the columns not in `sorted_hidden` (ascending), summed in
/// column order: a cell's visible library.
fn visible_library(columns: &[u32], raw: &[f32], outside: f64, sorted_hidden: &[u32]) -> f64 {
    outside
        + columns
            .iter()
            .zip(raw)
            .filter(|(c, _)| sorted_hidden.binary_search(c).is_err())
            .fold(0.0, |a, (_, &v)| a + f64::from(v))
}

/// The median of the non-zero libraries (scanpy's default `target_sum`); [`LIBRARY_TARGET`]
/// when every library is zero.
fn median_library(libraries: impl Iterator<Item = f64>) -> f64 {
    let mut nz: Vec<f64> = libraries.filter(|&s| s > 0.0).collect();
    nz.sort_unstable_by(f64::total_cmp);
    if nz.is_empty() {
        LIBRARY_TARGET
    } else {
        crate::stats::median_sorted(&nz)
    }
}

/// Scales each row `r` of `x` to [`LIBRARY_TARGET`] over `library_sizes[r]` (rows of size 0
/// are empty and stay so).
pub(crate) fn normalize_rows(x: &mut CsrMatrix, library_sizes: &[f64]) {
    let indptr = x.indptr().to_vec();
    let data = x.data_mut();
    for (r, w) in indptr.windows(2).enumerate() {
        let size = library_sizes.get(r).copied().unwrap_or(0.0);
        if size > 0.0 {
            let scale = LIBRARY_TARGET / size;
            for v in &mut data[w[0]..w[1]] {
                *v = (f64::from(*v) * scale) as f32;
            }
        }
    }
}

/// Rejects NaN, ±∞ and negative values, naming the cell and gene.
fn check_values(x: &CsrMatrix) -> Result<()> {
    for r in 0..x.n_rows() {
        let (cols, vals) = x.row(r);
        for (&c, &v) in cols.iter().zip(vals) {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what: "expression value",
                    row: r,
                    col: c as usize,
                    value: v as f64,
                });
            }
            if v < 0.0 {
                return Err(Error::Negative {
                    what: "expression value".into(),
                    cell: r,
                    gene: c as usize,
                    value: v as f64,
                });
            }
        }
    }
    Ok(())
}
