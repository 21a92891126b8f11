//! Route 1 of `rules`: distil a trained gene transformer's predictions into sparse gene rules.
//!
//! For each target gene the model is asked, over many cells, what it expects of the target when
//! the target is hidden; [`crate::rules::fit_distilled`] then reads that answer as a sparse
//! Boolean rule of a few candidate regulators (`TGXOR = TFA + TFB − 2 TFA·TFB`) and as an
//! expression polynomial. Three steps:
//!
//! 1. **Screen: occlusion attribution.** For a few cells (`screen_cells`), the target is masked
//!    in its sampled context (the training rule), and then each other gene of the context is
//!    masked *in addition*, one at a time; the attribution of gene `g` to target `t` is the
//!    mean `|ΔP(HIGH of t)|` over the screened cells whose context holds `g`. **Why occlusion**:
//!    a single gene's correlation or mutual information with an XOR output is about 0 (with
//!    P(on) = 0.5, `cov(a + b − 2ab, a) = 0`), so marginal statistics cannot preselect the inputs
//!    of a gate; occlusion asks the model itself, in each cell, and hiding either XOR input
//!    takes the prediction from near-certain to a coin flip. It is exact (not the first-order
//!    approximation of gradient × input, which saturates where the model is sure, exactly the
//!    cells that matter for a gate) and needs forward passes only; attention weights say where
//!    the model looks, not what changes its answer.
//! 2. **Candidates**: the `candidates` genes of highest attribution for each target.
//! 3. **Distillation pass**: over `cells` cells, the target is masked with its candidates
//!    forced into the context (the rest sampled by the training rule), and the model's
//!    `P(HIGH)` and expected bin are regressed on the candidates' observed states and levels.
//!
//! **Cost and batching.** Several targets are masked in the same context (`targets_per_pass`,
//! default `clamp(n_targets / 32, 1, 32)`): each target then also does not see the others of its
//! group. In the screen the groups are redrawn in every cell, so two given genes share a group
//! in a fraction `(m − 1)/(n_targets − 1)` (about 3 %) of the cells; in the distillation pass the
//! groups are built so that no target's candidate is masked beside it. One screened cell costs
//! `⌈n_targets/m⌉ × (context + 1)` contexts, one distilled cell `⌈n_targets/m⌉`; every context is
//! one row of a batched forward pass ([`crate::nn::masked::query_masked`]).
//!
//! **Cells**: the checkpoint's held-out split when it has a training state (the model has not
//! been fitted to them), otherwise all cells; a seeded subset of `cells` of them.
//!
//! **Binarisation**: every vocabulary gene is called ON above the midpoint of its two-means
//! clusters over the distilled cells (a cut between the modes of an on/off gene, as the probes'
//! gate rule); a target's `P(HIGH)` is the model's `P(bin ≥ b*)` with `b*` the bin threshold
//! that best reproduces its ON calls (as the probes do).

use std::collections::BTreeSet;
use std::time::Instant;

use ndarray::Array2;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::expression::ExpressionMatrix;
use crate::nn::data::{sample_rows, split_cells, tokenize_fixed_cell, CellRow};
use crate::nn::infer::InferenceModel;
use crate::nn::masked::{query_masked, MaskedQuery};
use crate::probes::{bin_threshold, Binarize};
use crate::rng::stream;
use crate::tokenize::{PreparedCells, TokenizedCell, N_SPECIAL};

use super::{fit_distilled, DistillFit, DistillParams, DistilledTarget, ScoredEdge, TruthNetwork};

const DOMAIN_CELLS: u64 = 0x64697374_696c6c01;
const DOMAIN_GROUPS: u64 = 0x64697374_696c6c02;

/// Settings of the distillation route (see the module docs).
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `targets` | the truth's targets in the vocabulary, or every vocabulary gene | genes to read rules of | vocabulary genes |
/// | `candidates` | 6 | candidate regulators per target (the library's inputs) | `>= 1` |
/// | `cells` | 1000 | cells of the distillation pass | `>= 8` |
/// | `screen_cells` | 256 | cells of the occlusion screen (the cost grows with the context: use fewer on large vocabularies) | `>= 1` |
/// | `targets_per_pass` | 0 (auto: `clamp(n_targets/32, 1, 32)`) | targets masked together in one context | |
/// | `batch_size` | 64 | contexts per forward pass | `>= 1` |
/// | `seed` | 0 | cell subset, contexts, screen groups | |
/// | `regression` | [`DistillParams::default`] | libraries and sparse regression | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillConfig {
    /// Target genes (`None`: see the table).
    pub targets: Option<Vec<String>>,
    /// Candidate regulators per target.
    pub candidates: usize,
    /// Cells of the distillation pass.
    pub cells: usize,
    /// Cells of the occlusion screen (the first of the distillation cells).
    pub screen_cells: usize,
    /// Targets masked together in one context (0: automatic).
    pub targets_per_pass: usize,
    /// Contexts per forward pass.
    pub batch_size: usize,
    /// Seed of the cell subset, the contexts and the screen's groups.
    pub seed: u64,
    /// Libraries and regression.
    pub regression: DistillParams,
}

impl Default for DistillConfig {
    fn default() -> Self {
        DistillConfig {
            targets: None,
            candidates: 6,
            cells: 1000,
            screen_cells: 256,
            targets_per_pass: 0,
            batch_size: 64,
            seed: 0,
            regression: DistillParams::default(),
        }
    }
}

impl DistillConfig {
    /// Checks the ranges of the table.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        if self.candidates == 0 {
            return Err(Error::param("candidates", 0, "must be at least 1"));
        }
        if self.cells < 8 {
            return Err(Error::param("cells", self.cells, "must be at least 8"));
        }
        if self.screen_cells == 0 {
            return Err(Error::param("screen_cells", 0, "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", 0, "must be at least 1"));
        }
        if self.regression.degree == 0 {
            return Err(Error::param("degree", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// Which step a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistillStage {
    /// The occlusion screen (counted in cells).
    Screen,
    /// The distillation pass (counted in cells).
    Distill,
}

/// What the model said: attributions, candidates, and the fitted rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distillation {
    /// Target genes.
    pub targets: Vec<String>,
    /// Vocabulary genes (the columns of `attribution`).
    pub genes: Vec<String>,
    /// `(n_targets, n_genes)` occlusion attribution (mean `|ΔP(HIGH)|`; 0 for the target itself
    /// and for genes never in a screened context).
    pub attribution: Array2<f64>,
    /// Candidate regulators of each target, best first.
    pub candidates: Vec<Vec<String>>,
    /// The rules.
    pub fit: DistillFit,
    /// Cells of the distillation pass / of the screen.
    pub n_cells: usize,
    /// Cells of the screen.
    pub n_screen_cells: usize,
    /// Targets masked together.
    pub targets_per_pass: usize,
    /// Model queries (contexts) of the screen and of the distillation pass.
    pub n_queries: (usize, usize),
    /// Seconds: screen, distillation pass, regression.
    pub seconds: (f64, f64, f64),
}

/// What [`distill_model`] returns: the distillation and what it was read from.
#[derive(Debug, Clone)]
pub struct DistillRun {
    /// Attributions, candidates and rules.
    pub distillation: Distillation,
    /// `log1p(normalize_total)` values of the vocabulary genes in the distilled cells,
    /// `(n_cells, n_vocab)`: the data the candidates' states were called on (and what
    /// model-free baselines should be scored on).
    pub levels: Array2<f64>,
    /// Per target, the bin threshold `b*` whose `P(bin ≥ b*)` is the model's `P(HIGH)`.
    pub bin_thresholds: Vec<u32>,
    /// Per target, the vocabulary positions of its candidates (as
    /// [`Distillation::candidates`]).
    pub candidate_positions: Vec<Vec<usize>>,
}

/// Distils `model`'s predictions on `matrix` (on the model's scale) into rules (see the module
/// docs): the cells of [`distill_rows`], then [`distill_cells`].
/// `split` is the checkpoint's `(seed, val_fraction)`: its held-out cells are used when given.
/// `truth` chooses the default targets (see [`DistillConfig::targets`]).
/// `progress(stage, done, total)` is called after every cell.
///
/// # Errors
/// [`Error::InvalidParam`] for bad settings; [`Error::UnknownGenes`] for targets outside the
/// vocabulary; [`Error::Empty`] without targets or cells; inference and regression errors.
pub fn distill_model(
    model: &InferenceModel,
    matrix: &ExpressionMatrix,
    split: Option<(u64, f64)>,
    truth: Option<&TruthNetwork>,
    cfg: &DistillConfig,
    progress: &mut dyn FnMut(DistillStage, usize, usize),
) -> Result<DistillRun> {
    cfg.validate()?;
    let rows = distill_rows(matrix.n_cells(), split, cfg)?;
    let cells = model.tokenizer.prepare_rows(matrix, &rows)?;
    distill_cells(model, &cells, truth, cfg, progress)
}

/// The cells a distillation reads among `n_cells`, ascending: the held-out cells of `split`
/// (all cells without one), a seeded uniform sample of at most `cfg.cells` of them, known
/// before any value is read (so a file can be streamed for just these cells).
///
/// # Errors
/// [`Error::Empty`] with fewer than 8 cells.
pub fn distill_rows(
    n_cells: usize,
    split: Option<(u64, f64)>,
    cfg: &DistillConfig,
) -> Result<Vec<usize>> {
    let rows: Vec<usize> = match split {
        Some((s, f)) => split_cells(n_cells, s, f).0,
        None => (0..n_cells).collect(),
    };
    let rows = sample_rows(rows, cfg.cells, cfg.seed, DOMAIN_CELLS);
    if rows.len() < 8 {
        return Err(Error::Empty {
            what: "cells to distil",
            why: format!("{} cells (at least 8 are needed)", rows.len()),
        });
    }
    Ok(rows)
}

/// Distils `model`'s predictions on every cell of `cells` (e.g. those of [`distill_rows`],
/// prepared with their file indices) into rules; see [`distill_model`].
///
/// # Errors
/// As [`distill_model`].
pub fn distill_cells(
    model: &InferenceModel,
    cells: &PreparedCells,
    truth: Option<&TruthNetwork>,
    cfg: &DistillConfig,
    progress: &mut dyn FnMut(DistillStage, usize, usize),
) -> Result<DistillRun> {
    cfg.validate()?;
    let genes: Vec<String> = model.tokenizer.vocab.genes().to_vec();
    let n_vocab = genes.len();
    let n_bins = model.tokenizer.binning.n_bins;
    let targets = choose_targets(cfg, truth, &genes)?;
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    let tpos = model.positions(&refs)?;
    let n_t = targets.len();
    let rows: Vec<usize> = (0..cells.n_cells()).collect();
    if rows.len() < 8 {
        return Err(Error::Empty {
            what: "cells to distil",
            why: format!("{} cells (at least 8 are needed)", rows.len()),
        });
    }
    let x = cells.log_normalized_visible(&rows, &[]);
    let thresholds = x
        .columns()
        .into_iter()
        .map(|c| Binarize::TwoMeans.threshold(&c.to_vec()))
        .collect::<Result<Vec<_>>>()?;
    let bstar: Vec<u32> = tpos
        .iter()
        .map(|&p| {
            let c = p as usize;
            let labels: Vec<bool> = x.column(c).iter().map(|&v| v > thresholds[c]).collect();
            let b = model.tokenizer.binning.masked_bins(cells, &rows, p)?;
            Ok(bin_threshold(&b, &labels, thresholds[c], n_bins))
        })
        .collect::<Result<_>>()?;
    let m = match cfg.targets_per_pass {
        0 => (n_t / 32).clamp(1, 32),
        k => k.min(n_t),
    };

    // 1. Occlusion screen.
    let t0 = Instant::now();
    let screen = &rows[..cfg.screen_cells.min(rows.len())];
    let mut sum = Array2::<f64>::zeros((n_t, n_vocab));
    let mut count = Array2::<u32>::zeros((n_t, n_vocab));
    let n_fields = model.tokenizer.conditions.len();
    let mut n_screen_queries = 0;
    for (done, &r) in screen.iter().enumerate() {
        let mut order: Vec<usize> = (0..n_t).collect();
        order.shuffle(&mut stream(
            cfg.seed,
            DOMAIN_GROUPS,
            cells.dataset_index(r) as u64,
        ));
        let groups: Vec<&[usize]> = order.chunks(m).collect();
        let row = CellRow::from_prepared(cells, r, n_fields);
        // Each variant is re-binned with its masked genes (the group's targets, and the
        // occluded gene) withheld from the cell's bin edges, as in training.
        let mut variants: Vec<(TokenizedCell, Vec<usize>)> = Vec::new();
        let mut reads: Vec<Vec<(usize, u32)>> = Vec::new(); // per group
                                                            // (group, occluded vocabulary position; None for the group's baseline)
        let mut meta: Vec<(usize, Option<usize>)> = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            let forced: Vec<u32> = g.iter().map(|&j| tpos[j]).collect();
            let ctx = tokenize_fixed_cell(&model.tokenizer, cfg.seed, &row, &forced)?;
            let gpos = g
                .iter()
                .map(|&j| position_in(&ctx, tpos[j]))
                .collect::<Result<Vec<_>>>()?;
            let read: Vec<(usize, u32)> = gpos
                .iter()
                .zip(g.iter())
                .map(|(&p, &j)| (p, bstar[j]))
                .collect();
            for occluded in std::iter::once(None)
                .chain((0..ctx.genes.len()).filter(|p| !gpos.contains(p)).map(Some))
            {
                let mut masked = gpos.clone();
                masked.extend(occluded);
                let mut cell = ctx.clone();
                let hidden: Vec<u32> = masked.iter().map(|&p| ctx.genes[p] - N_SPECIAL).collect();
                row.withhold(&model.tokenizer, &mut cell, &hidden)?;
                variants.push((cell, masked));
                meta.push((gi, occluded.map(|p| (ctx.genes[p] - N_SPECIAL) as usize)));
            }
            reads.push(read);
        }
        let queries: Vec<MaskedQuery<'_>> = variants
            .iter()
            .zip(&meta)
            .map(|((cell, masked), &(gi, _))| MaskedQuery {
                cell,
                masked: masked.clone(),
                read: reads[gi].clone(),
            })
            .collect();
        n_screen_queries += queries.len();
        let out = query_masked(model, &queries, cfg.batch_size)?;
        let mut base = vec![Vec::new(); groups.len()];
        for (o, &(gi, occ)) in out.iter().zip(&meta) {
            if occ.is_none() {
                base[gi].clone_from(o);
            }
        }
        for (o, &(gi, occ)) in out.iter().zip(&meta) {
            if let Some(v) = occ {
                for (k, &j) in groups[gi].iter().enumerate() {
                    sum[[j, v]] += f64::from((o[k].p_high - base[gi][k].p_high).abs());
                    count[[j, v]] += 1;
                }
            }
        }
        progress(DistillStage::Screen, done + 1, screen.len());
    }
    let attribution = Array2::from_shape_fn((n_t, n_vocab), |(j, v)| {
        if count[[j, v]] == 0 || v == tpos[j] as usize {
            0.0
        } else {
            sum[[j, v]] / f64::from(count[[j, v]])
        }
    });
    let screen_seconds = t0.elapsed().as_secs_f64();

    // 2. Candidates.
    let cand: Vec<Vec<usize>> = (0..n_t)
        .map(|j| {
            let mut v: Vec<usize> = (0..n_vocab)
                .filter(|&v| v != tpos[j] as usize && attribution[[j, v]] > 0.0)
                .collect();
            v.sort_by(|&a, &b| attribution[[j, b]].total_cmp(&attribution[[j, a]]));
            v.truncate(cfg.candidates);
            v
        })
        .collect();
    if let Some(j) = cand.iter().position(Vec::is_empty) {
        return Err(Error::Empty {
            what: "candidate regulators",
            why: format!(
                "masking no other gene changed the model's prediction of {} in the screened cells",
                targets[j]
            ),
        });
    }

    // 3. Distillation pass: conflict-free groups, candidates forced into the context.
    let t1 = Instant::now();
    let groups = conflict_free_groups(&cand, &tpos, m);
    let mut p_high = Array2::<f64>::zeros((n_t, rows.len()));
    let mut expected = Array2::<f64>::zeros((n_t, rows.len()));
    let rows_per_call = (4 * cfg.batch_size).div_ceil(groups.len()).max(1);
    let mut n_distill_queries = 0;
    for (chunk_no, chunk) in rows.chunks(rows_per_call).enumerate() {
        let mut ctxs: Vec<TokenizedCell> = Vec::new();
        let mut meta: Vec<(usize, usize, Vec<usize>)> = Vec::new(); // (cell, group, positions)
        for (i, &r) in chunk.iter().enumerate() {
            let row = CellRow::from_prepared(cells, r, n_fields);
            for (gi, g) in groups.iter().enumerate() {
                let mut forced: Vec<u32> = g.iter().map(|&j| tpos[j]).collect();
                forced.extend(g.iter().flat_map(|&j| cand[j].iter().map(|&v| v as u32)));
                forced.sort_unstable();
                forced.dedup();
                let mut ctx = tokenize_fixed_cell(&model.tokenizer, cfg.seed, &row, &forced)?;
                let gpos = g
                    .iter()
                    .map(|&j| position_in(&ctx, tpos[j]))
                    .collect::<Result<Vec<_>>>()?;
                let hidden: Vec<u32> = g.iter().map(|&j| tpos[j]).collect();
                row.withhold(&model.tokenizer, &mut ctx, &hidden)?;
                ctxs.push(ctx);
                meta.push((chunk_no * rows_per_call + i, gi, gpos));
            }
        }
        let queries: Vec<MaskedQuery<'_>> = ctxs
            .iter()
            .zip(&meta)
            .map(|(ctx, (_, gi, gpos))| MaskedQuery {
                cell: ctx,
                masked: gpos.clone(),
                read: gpos
                    .iter()
                    .zip(&groups[*gi])
                    .map(|(&p, &j)| (p, bstar[j]))
                    .collect(),
            })
            .collect();
        n_distill_queries += queries.len();
        let out = query_masked(model, &queries, cfg.batch_size)?;
        for (o, (c, gi, _)) in out.iter().zip(&meta) {
            for (k, &j) in groups[*gi].iter().enumerate() {
                p_high[[j, *c]] = f64::from(o[k].p_high);
                expected[[j, *c]] = f64::from(o[k].expected) / f64::from(n_bins.max(2) - 1);
            }
        }
        progress(
            DistillStage::Distill,
            (chunk_no * rows_per_call + chunk.len()).min(rows.len()),
            rows.len(),
        );
    }
    let distill_seconds = t1.elapsed().as_secs_f64();

    // 4. Regression.
    let t2 = Instant::now();
    let data: Vec<DistilledTarget> = (0..n_t)
        .map(|j| {
            let c = &cand[j];
            DistilledTarget {
                target: targets[j].clone(),
                candidates: c.iter().map(|&v| genes[v].clone()).collect(),
                states: Array2::from_shape_fn((rows.len(), c.len()), |(i, k)| {
                    f64::from(u8::from(x[[i, c[k]]] > thresholds[c[k]]))
                }),
                levels: Array2::from_shape_fn((rows.len(), c.len()), |(i, k)| x[[i, c[k]]]),
                p_high: p_high.row(j).to_vec(),
                expected: expected.row(j).to_vec(),
            }
        })
        .collect();
    let fit = fit_distilled(&data, &genes, &cfg.regression)?;
    let regression_seconds = t2.elapsed().as_secs_f64();

    let d = Distillation {
        targets: targets.clone(),
        genes: genes.clone(),
        candidates: cand
            .iter()
            .map(|c| c.iter().map(|&v| genes[v].clone()).collect())
            .collect(),
        attribution,
        fit,
        n_cells: rows.len(),
        n_screen_cells: screen.len(),
        targets_per_pass: m,
        n_queries: (n_screen_queries, n_distill_queries),
        seconds: (screen_seconds, distill_seconds, regression_seconds),
    };
    Ok(DistillRun {
        distillation: d,
        levels: x,
        bin_thresholds: bstar,
        candidate_positions: cand,
    })
}

impl Distillation {
    /// The screen's own ranking: every `gene → target` pair scored by its attribution
    /// (unsigned).
    pub fn occlusion_edges(&self) -> Vec<ScoredEdge> {
        let d = self;
        let mut out = Vec::new();
        for (j, t) in d.targets.iter().enumerate() {
            for (v, g) in d.genes.iter().enumerate() {
                if g != t {
                    out.push(ScoredEdge {
                        regulator: g.clone(),
                        target: t.clone(),
                        sign: 0,
                        score: d.attribution[[j, v]],
                        max_abs_coef: 0.0,
                    });
                }
            }
        }
        out
    }
}

/// The configured targets; else the truth's targets that are in the vocabulary (the genes the
/// truth says something about: scoring every vocabulary gene as a target would count the
/// genuine co-expression of, e.g., two markers of one cell type as false edges); else the whole
/// vocabulary. In vocabulary order unless configured.
fn choose_targets(
    cfg: &DistillConfig,
    truth: Option<&TruthNetwork>,
    genes: &[String],
) -> Result<Vec<String>> {
    let t: Vec<String> = match (&cfg.targets, truth) {
        (Some(t), _) => t.clone(),
        (None, Some(truth)) => {
            let named: BTreeSet<&str> = truth
                .edges
                .iter()
                .map(|e| e.target.as_str())
                .chain(truth.rules.keys().map(String::as_str))
                .collect();
            genes
                .iter()
                .filter(|g| named.contains(g.as_str()))
                .cloned()
                .collect()
        }
        (None, None) => genes.to_vec(),
    };
    if t.is_empty() {
        return Err(Error::Empty {
            what: "targets",
            why: "no target gene (the truth names none in the model's vocabulary)".into(),
        });
    }
    let mut seen = BTreeSet::new();
    if let Some(g) = t.iter().find(|g| !seen.insert(g.as_str())) {
        return Err(Error::param("targets", g, "a target is named twice"));
    }
    Ok(t)
}

/// Position of vocabulary position `g` in a context.
fn position_in(ctx: &TokenizedCell, g: u32) -> Result<usize> {
    ctx.genes.binary_search(&(g + N_SPECIAL)).map_err(|_| {
        Error::param(
            "gene",
            g,
            "a forced gene is missing from its context (tokenizer bug)",
        )
    })
}

/// Targets in groups of at most `m`, greedily, such that no target of a group is a candidate
/// of another (each target then sees all its candidates).
fn conflict_free_groups(cand: &[Vec<usize>], tpos: &[u32], m: usize) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for j in 0..cand.len() {
        let fits = |g: &Vec<usize>| {
            g.len() < m
                && g.iter().all(|&i| {
                    !cand[i].contains(&(tpos[j] as usize)) && !cand[j].contains(&(tpos[i] as usize))
                })
        };
        match groups.iter_mut().find(|g| fits(g)) {
            Some(g) => g.push(j),
            None => groups.push(vec![j]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::conflict_free_groups;

    #[test]
    fn groups_never_mask_a_candidate_beside_its_target() {
        // Target 0 (gene 10) has candidate gene 11 = target 1; target 2 (gene 12) is free.
        let cand = vec![vec![11], vec![5], vec![6]];
        let g = conflict_free_groups(&cand, &[10, 11, 12], 2);
        assert_eq!(g, vec![vec![0, 2], vec![1]]);
    }
}
