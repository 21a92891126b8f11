//! Batched masked queries: many variants of tokenized cells, each with its own set of masked
//! genes, through the model in few forward passes, reading back only the asked positions.
//!
//! [`super::infer::impute`] masks the same genes in every cell. Distillation and occlusion
//! attribution ([`crate::rules::distill_model`]) need something else: the *same* context seen with
//! different genes masked (a baseline and one variant per occluded gene), and different targets
//! masked in different variants. A [`MaskedQuery`] is one such variant; [`query_masked`] runs
//! any number of them and returns, for each asked position, the model's probability of a bin
//! at or above a threshold and its expected bin, computed from the logits of that position
//! only (the softmax of the other positions is never needed).

use super::data::{collate, Masking};
use super::infer::InferenceModel;
use crate::error::{Error, Result};
use crate::tokenize::TokenizedCell;

/// One variant of a tokenized cell: which of its positions are masked and which are read.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskedQuery<'a> {
    /// The context (its bins are the observed ones; masked positions are hidden by
    /// [`collate`]).
    pub cell: &'a TokenizedCell,
    /// Positions of `cell.genes` to mask.
    pub masked: Vec<usize>,
    /// Positions to read, each with the bin threshold `b*` of [`Readout::p_high`].
    pub read: Vec<(usize, u32)>,
}

/// The model's prediction at one read position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Readout {
    /// `P(bin ≥ b*)`.
    pub p_high: f32,
    /// Expected bin `Σ_b b·p(b)`.
    pub expected: f32,
}

/// Runs `queries` through the model, `batch_size` per forward pass (in the order given, so
/// queries of equal length next to each other pad least), and returns one [`Readout`] per
/// read position of each query.
///
/// # Errors
/// [`Error::InvalidParam`] for a masked or read position past its cell, or a bin threshold
/// past the model's bins; tensor errors.
pub fn query_masked(
    m: &InferenceModel,
    queries: &[MaskedQuery<'_>],
    batch_size: usize,
) -> Result<Vec<Vec<Readout>>> {
    let k = m.config.n_bins;
    for q in queries {
        let n = q.cell.genes.len();
        if let Some(&p) = q
            .masked
            .iter()
            .chain(q.read.iter().map(|(p, _)| p))
            .find(|&&p| p >= n)
        {
            return Err(Error::param(
                "masked query position",
                p,
                format!("the context has {n} genes"),
            ));
        }
        if let Some(&(_, b)) = q.read.iter().find(|(_, b)| *b as usize > k) {
            return Err(Error::param(
                "bin threshold",
                b,
                format!("the model has {k} bins"),
            ));
        }
    }
    let n_fields = m.tokenizer.conditions.len();
    let mut out = Vec::with_capacity(queries.len());
    for chunk in queries.chunks(batch_size.max(1)) {
        let tokens: Vec<TokenizedCell> = chunk.iter().map(|q| q.cell.clone()).collect();
        let masked = chunk
            .iter()
            .map(|q| {
                let mut v = vec![false; q.cell.genes.len()];
                q.masked.iter().for_each(|&p| v[p] = true);
                v
            })
            .collect();
        let masking = Masking {
            masked,
            weight: vec![1.0; chunk.len()],
        };
        let batch = collate(
            &tokens,
            Some(&masking),
            m.tokenizer.binning.n_bins,
            n_fields,
            m.model.device(),
        )?;
        let logits = m.model.forward(&batch.input)?;
        let (_, l, _) = logits.dims3()?;
        let flat = logits.flatten_all()?.to_vec1::<f32>()?;
        for (i, q) in chunk.iter().enumerate() {
            out.push(
                q.read
                    .iter()
                    .map(|&(pos, thr)| {
                        let start = (i * l + pos) * k;
                        readout(&flat[start..start + k], thr as usize)
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// Softmax of one position's logits, read as `P(bin ≥ thr)` and the expected bin.
fn readout(logits: &[f32], thr: usize) -> Readout {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|&z| (z - max).exp()).collect();
    let total: f32 = e.iter().sum();
    let p_high = e[thr.min(e.len())..].iter().sum::<f32>() / total;
    let expected = e
        .iter()
        .enumerate()
        .map(|(b, &v)| b as f32 * v)
        .sum::<f32>()
        / total;
    Readout { p_high, expected }
}

#[cfg(test)]
mod tests {
    use super::readout;

    #[test]
    fn readout_is_a_softmax_tail_and_mean() {
        let r = readout(&[0.0, 0.0, 0.0, 0.0], 2);
        assert!((r.p_high - 0.5).abs() < 1e-6);
        assert!((r.expected - 1.5).abs() < 1e-6);
        let r = readout(&[0.0, 100.0], 1);
        assert!((r.p_high - 1.0).abs() < 1e-6);
    }
}
