//! Tokenizer settings (the `[tokenizer]` table of a run config) and fitting a tokenizer to
//! data: the vocabulary (highly variable genes plus the genes asked for) and the bin edges.
//! Configurable without the `nn` feature: tokenizing needs no candle.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::expression::normalize::{highly_variable_genes, log1p, normalize_total, HvgFlavor};
use crate::expression::{CsrMatrix, ExpressionMatrix};

use super::{BinSchemeKind, Binning, GeneSampling, GeneTokenizer, DEFAULT_N_BINS};

/// Default vocabulary size: the 64 most variable genes (plus `include_genes`).
///
/// Why so few: the default model must learn gene–gene interactions such as an XOR gate within
/// the main job's budget. Learning a 2-input interaction among `V` candidate genes takes
/// samples roughly in proportion to `V`, and each training cell costs `O(V)`, so the cost grows
/// like `V²` (the measurements behind the choice: `docs/transformer.md`). On a GPU, raise it
/// (scGPT uses 1,200).
pub const DEFAULT_N_TOP_GENES: usize = 64;

/// Tokenizer settings of a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenizerConfig {
    /// Value bins including the zero bin.
    pub n_bins: u32,
    /// How values are cut into bins: `per_cell` (default; scGPT's within-cell ranks),
    /// `per_gene` (bins monotone in each gene's normalised expression across cells) or
    /// `log_ratio` (log2 ratio to the cell's median visible value); see
    /// [`super::BinScheme`] for the trade-off.
    pub binning: BinSchemeKind,
    /// Gene tokens per cell.
    pub max_genes: usize,
    /// Share of sampled slots for non-expressed genes.
    pub zero_share: f32,
    /// Keep this many highly variable genes (on log-normalised data) as the vocabulary; 0 keeps
    /// every gene.
    pub n_top_genes: usize,
    /// How highly variable genes are ranked.
    pub hvg_flavor: HvgFlavor,
    /// Genes (symbols or ids) always in the vocabulary besides the highly variable ones, e.g.
    /// the genes a probe will ask about. A gene the data lack is an error.
    pub include_genes: Vec<String>,
    /// `obs` columns given to the model as condition tokens.
    pub conditions: Vec<String>,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        let s = GeneSampling::default();
        Self {
            n_bins: DEFAULT_N_BINS,
            binning: BinSchemeKind::PerCell,
            max_genes: s.max_genes,
            zero_share: s.zero_share,
            n_top_genes: DEFAULT_N_TOP_GENES,
            hvg_flavor: HvgFlavor::CellRanger,
            include_genes: Vec::new(),
            conditions: Vec::new(),
        }
    }
}

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
