//! A joint draw of all masked genes by iterative unmasking (ancestral sampling).

use super::*;

/// Inverse-CDF draw from `p` with uniform `u`.
pub(super) fn sample_bin(p: &[f32], u: f32) -> u32 {
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
            .map(|&r| stream(seed, DOMAIN_JOINT, cells.dataset_index(r) as u64))
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
pub(super) fn unmask<R: Rng>(
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
