//! The gene-transformer workflow: choose the vocabulary, tokenize, train, and score the model
//! against the synthetic brain's ground truth.

use crate::error::Result;
use crate::expression::normalize::{highly_variable_genes, log1p, normalize_total};
use crate::expression::ExpressionMatrix;
use crate::nn::TokenizerConfig;
use crate::tokenize::{Binning, GeneSampling, GeneTokenizer};

/// Genes kept for the vocabulary: the `n_top` most variable (Seurat flavour, 20 mean bins, on
/// `normalize_total` + `log1p` values, as scGPT's preprocessing), in the data's order;
/// all genes when `n_top` is 0 or at least the number of genes.
///
/// # Errors
/// The normalisation's errors (e.g. zero cells).
pub fn select_vocabulary(m: &ExpressionMatrix, n_top: usize) -> Result<Vec<usize>> {
    if n_top == 0 || n_top >= m.n_genes() {
        return Ok((0..m.n_genes()).collect());
    }
    let mut norm = m.clone();
    normalize_total(&mut norm, None)?;
    log1p(&mut norm);
    let (mut keep, _) = highly_variable_genes(&norm, n_top, 20)?;
    keep.sort_unstable();
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
    let keep = select_vocabulary(m, cfg.n_top_genes)?;
    let sub = if keep.len() == m.n_genes() {
        m.clone()
    } else {
        m.select_genes(&keep)?
    };
    let tok = GeneTokenizer::fit(
        &sub,
        Binning { n_bins: cfg.n_bins },
        GeneSampling {
            max_genes: cfg.max_genes,
            zero_share: cfg.zero_share,
        },
        &cfg.conditions,
    )?;
    Ok((tok, sub))
}
