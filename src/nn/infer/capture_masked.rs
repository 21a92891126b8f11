//! Activations at **masked** gene tokens: what the model computes where it must predict a gene
//! it cannot see.
//!
//! [`super::capture`] runs cells with nothing masked, so a gene's token carries its own
//! observed value. To read how the model predicts a target from its regulators (TGXOR from TFA
//! and TFB), the target must be hidden: [`capture_masked`] masks the asked genes (the same
//! masking and context rule as [`super::impute`], so the activations are those behind
//! the imputation) and keeps each captured tensor at the masked positions only.

use std::collections::BTreeMap;

use ndarray::Array3;

use super::{check_asked, check_rows, masked_batch, symbols, Context, InferenceModel};
use crate::error::Result;
use crate::nn::model::CaptureSpec;
use crate::tokenize::PreparedCells;

/// Activations at the masked genes' tokens (see [`capture_masked`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskedActivations {
    /// Cell ids.
    pub cells: Vec<String>,
    /// Row of each cell in the prepared data.
    pub cell_index: Vec<usize>,
    /// The masked genes (symbols), in the order asked.
    pub masked: Vec<String>,
    /// `name → [cells, masked genes, width]` (names as in [`CaptureSpec`]).
    pub acts: BTreeMap<String, Array3<f32>>,
}

/// Runs cells `rows` with the vocabulary positions `genes` masked and the rest of the context
/// chosen by `context` (seeded as [`super::impute`]), and captures `spec`'s
/// activations at the masked tokens.
///
/// # Shapes
/// Each output is `[rows.len(), genes.len(), width]` (`d_model` or `d_ff`).
///
/// # Errors
/// [`crate::Error::Empty`] for no cells or genes, [`crate::Error::InvalidParam`] for bad
/// indices or a gene asked twice; tensor errors.
#[allow(clippy::too_many_arguments)]
pub fn capture_masked(
    m: &InferenceModel,
    cells: &PreparedCells,
    rows: &[usize],
    genes: &[u32],
    context: &Context,
    spec: CaptureSpec,
    seed: u64,
    batch_size: usize,
) -> Result<MaskedActivations> {
    check_rows(cells, rows)?;
    check_asked(genes)?;
    let n_fields = m.tokenizer.conditions.len();
    let n = rows.len();
    let g = genes.len();
    let bs = batch_size.max(1);
    let mut acts: BTreeMap<String, Array3<f32>> = BTreeMap::new();
    for (chunk_no, chunk) in rows.chunks(bs).enumerate() {
        let (_, batch, positions) = masked_batch(m, cells, chunk, genes, context, seed)?;
        let (_, captured) = m.model.forward_with_capture(&batch.input, spec)?;
        for (name, t) in captured {
            let w = t.dim(2)?;
            let v = t.to_vec3::<f32>()?;
            let arr = acts.entry(name).or_insert_with(|| Array3::zeros((n, g, w)));
            for (i, pos) in positions.iter().enumerate() {
                let c = chunk_no * bs + i;
                for (j, &k) in pos.iter().enumerate() {
                    for (u, &x) in v[i][n_fields + k].iter().enumerate() {
                        arr[[c, j, u]] = x;
                    }
                }
            }
        }
    }
    Ok(MaskedActivations {
        cells: rows.iter().map(|&r| cells.cells[r].clone()).collect(),
        cell_index: rows.to_vec(),
        masked: symbols(m, genes),
        acts,
    })
}
