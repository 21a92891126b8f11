//! Imputation of masked genes, each gene's marginal prediction.

use super::*;

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
