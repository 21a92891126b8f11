//! Scoring a trained model on the held-out cells of its own split, against what the synthetic
//! brain makes knowable: masked-gene accuracy beside the per-gene marginal, imputation of the
//! XOR gate from its regulators, and marker exclusivity of generated cells.

use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::nn::data::{
    collate, split_cells, tokenize_fixed_cell, validation_masks, withhold_masked, CellRow,
};
use crate::nn::infer::{generate, impute, Context, GenerateParams, InferenceModel};
use crate::nn::MaskSchedule;
use crate::tokenize::{BinLevel, PreparedCells, N_SPECIAL};

/// Settings of [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct EvalConfig {
    /// Held-out cells scored (at most).
    pub n_cells: usize,
    /// Share of each held-out cell's context masked for the accuracy test.
    pub mask_ratio: f32,
    /// XOR test: `(target, regulator a, regulator b)`; skipped if any is not in the vocabulary.
    pub xor: (String, String, String),
    /// Marker pair whose exclusivity generated cells must keep.
    pub markers: (String, String),
    /// Cells to generate.
    pub n_generate: usize,
    /// Unmasking steps of generation.
    pub generate_steps: usize,
    /// Seed of masks, contexts and draws.
    pub seed: u64,
    /// Cells per forward pass.
    pub batch_size: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            n_cells: 2000,
            mask_ratio: 0.15,
            xor: ("TGXOR".into(), "TFA".into(), "TFB".into()),
            markers: ("RBFOX3".into(), "GFAP".into()),
            n_generate: 500,
            generate_steps: 16,
            seed: 0,
            batch_size: 64,
        }
    }
}

/// Masked-gene accuracy of the model and of the per-gene marginal baseline on the same masks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MaskedAccuracy {
    /// Held-out cells.
    pub n_cells: usize,
    /// Masked genes scored.
    pub n_masked: usize,
    /// Model: most probable bin = true bin.
    pub model: f64,
    /// Baseline: each gene's most frequent bin in the training cells.
    pub marginal: f64,
    /// Model: mean |predicted − true| bin.
    pub model_mae: f64,
    /// Baseline: mean |mode − true| bin.
    pub marginal_mae: f64,
}

/// Balanced accuracy of calling a target HIGH from the model's `p(HIGH) > 0.5`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct XorImputation {
    /// Cells scored.
    pub n_cells: usize,
    /// Context: the usual sampled context with both regulators visible.
    pub balanced_accuracy: f64,
    /// `[[true neg, false pos], [false neg, true pos]]` for the sampled context.
    pub confusion: [[usize; 2]; 2],
    /// Context: only the two regulators visible, every other gene masked.
    pub balanced_accuracy_regulators_only: f64,
    /// Baseline: the XOR of the regulators' observed HIGH calls (what a perfect model of the
    /// gate would get from the same measurements).
    pub balanced_accuracy_observed_xor: f64,
}

/// Marker exclusivity of generated vs real cells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Exclusivity {
    /// Cells generated.
    pub n_generated: usize,
    /// Held-out real cells.
    pub n_data: usize,
    /// Generated cells with both markers HIGH.
    pub generated_both_high: f64,
    /// Real cells with both markers HIGH.
    pub data_both_high: f64,
    /// Generated cells with marker a / b HIGH.
    pub generated_high: (f64, f64),
    /// Real cells with marker a / b HIGH.
    pub data_high: (f64, f64),
    /// `P(a HIGH)·P(b HIGH)` in the data: what independent markers would give.
    pub independent_both_high: f64,
}

/// Everything [`evaluate`] measures.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Masked-gene accuracy vs the marginal baseline.
    pub masked: MaskedAccuracy,
    /// XOR-gate imputation (absent if its genes are not in the vocabulary).
    pub xor: Option<XorImputation>,
    /// Generated cells' marker exclusivity (absent if a marker is not in the vocabulary).
    pub generation: Option<Exclusivity>,
    /// Seconds spent.
    pub seconds: f64,
}

/// Scores a model on the held-out cells of `cells` (the same split as its training run:
/// `split_seed`, `val_fraction`): masked-gene accuracy against the per-gene marginal baseline,
/// imputation of an XOR-gate gene from its regulators, and marker exclusivity of generated
/// cells against the data.
///
/// # Errors
/// [`Error::Empty`] if no cell is held out; inference errors.
pub fn evaluate(
    model: &InferenceModel,
    cells: &PreparedCells,
    split_seed: u64,
    val_fraction: f64,
    cfg: &EvalConfig,
) -> Result<EvalReport> {
    let start = Instant::now();
    let tok = &model.tokenizer;
    let n_fields = tok.conditions.len();
    let (held, train) = split_cells(cells.n_cells(), split_seed, val_fraction);
    let held: Vec<usize> = held.into_iter().take(cfg.n_cells).collect();
    if held.is_empty() || train.is_empty() {
        return Err(Error::Empty {
            what: "held-out split",
            why: format!(
                "{} held-out and {} training cells (val_fraction {val_fraction})",
                held.len(),
                train.len()
            ),
        });
    }
    let n_vocab = tok.vocab.n_genes();
    let n_bins = tok.binning.n_bins as usize;
    // Per-gene marginal bin counts over the training cells.
    let mut counts = vec![0u32; n_vocab * n_bins];
    let mut expressed = vec![0u32; n_vocab];
    for &i in &train {
        let (cols, vals) = cells.values.row(i);
        let bins = tok.binning.bin_cell(cols, vals)?;
        for (&c, &b) in cols.iter().zip(&bins) {
            counts[c as usize * n_bins + b as usize] += 1;
            expressed[c as usize] += 1;
        }
    }
    let mode: Vec<u32> = (0..n_vocab)
        .map(|g| {
            let row = &mut counts[g * n_bins..(g + 1) * n_bins];
            row[0] = train.len() as u32 - expressed[g];
            let mut best = 0;
            for b in 1..n_bins {
                if row[b] > row[best] {
                    best = b;
                }
            }
            best as u32
        })
        .collect();

    // 1. Masked-gene accuracy.
    let schedule = MaskSchedule::Fixed {
        ratio: cfg.mask_ratio,
    };
    let (mut n_masked, mut hit_model, mut hit_marg, mut err_model, mut err_marg) =
        (0usize, 0usize, 0usize, 0f64, 0f64);
    for (k, chunk) in held.chunks(cfg.batch_size.max(1)).enumerate() {
        let rows: Vec<CellRow> = chunk
            .iter()
            .map(|&i| CellRow::from_prepared(cells, i, n_fields))
            .collect();
        let mut toks = rows
            .iter()
            .map(|r| tokenize_fixed_cell(tok, cfg.seed, r, &[]))
            .collect::<Result<Vec<_>>>()?;
        let masking = validation_masks(&toks, schedule, cfg.seed, k as u64);
        withhold_masked(tok, &rows, &mut toks, &masking)?;
        let batch = collate(
            &toks,
            Some(&masking),
            tok.binning.n_bins,
            n_fields,
            model.model.device(),
        )?;
        let pred = model
            .model
            .forward(&batch.input)?
            .argmax(candle_core::D::Minus1)?
            .to_vec2::<u32>()?;
        for (i, t) in toks.iter().enumerate() {
            for j in 0..t.genes.len() {
                if masking.masked[i][j] {
                    let truth = t.bins[j];
                    let m = mode[(t.genes[j] - N_SPECIAL) as usize];
                    n_masked += 1;
                    hit_model += usize::from(pred[i][j] == truth);
                    hit_marg += usize::from(m == truth);
                    err_model += (pred[i][j] as f64 - truth as f64).abs();
                    err_marg += (m as f64 - truth as f64).abs();
                }
            }
        }
    }
    let nm = n_masked.max(1) as f64;
    let masked = MaskedAccuracy {
        n_cells: held.len(),
        n_masked,
        model: hit_model as f64 / nm,
        marginal: hit_marg as f64 / nm,
        model_mae: err_model / nm,
        marginal_mae: err_marg / nm,
    };

    // 2. XOR-gate imputation.
    let (target, ra, rb) = &cfg.xor;
    let xor = match model.positions(&[target, ra, rb]) {
        Err(_) => None,
        Ok(pos) => {
            let (t, a, b) = (pos[0], pos[1], pos[2]);
            let full = impute(
                model,
                cells,
                &held,
                &[t, a, b],
                &Context::sampled(),
                cfg.seed,
                cfg.batch_size,
            )?;
            let with_regs = impute(
                model,
                cells,
                &held,
                &[t],
                &Context::Sampled {
                    include: vec![a, b],
                },
                cfg.seed,
                cfg.batch_size,
            )?;
            // Only the regulators visible: every other gene of the context is masked, which
            // asks the absorbing-diffusion model for p(target | regulators) in distribution
            // (a context of three tokens never occurs in training).
            let mut hidden: Vec<u32> = vec![t];
            hidden.extend(
                (0..n_vocab as u32)
                    .filter(|g| ![t, a, b].contains(g))
                    .take(tok.sampling.max_genes.saturating_sub(3)),
            );
            let only = impute(
                model,
                cells,
                &held,
                &hidden,
                &Context::Only(vec![a, b]),
                cfg.seed,
                cfg.batch_size,
            )?;
            let high = |bin: u32| tok.binning.level(bin) == BinLevel::High;
            let truth: Vec<bool> = (0..held.len())
                .map(|c| high(full.observed[[c, 0]]))
                .collect();
            let pred: Vec<bool> = (0..held.len())
                .map(|c| with_regs.p_high[[c, 0]] > 0.5)
                .collect();
            let pred_only: Vec<bool> = (0..held.len()).map(|c| only.p_high[[c, 0]] > 0.5).collect();
            let observed_xor: Vec<bool> = (0..held.len())
                .map(|c| high(full.observed[[c, 1]]) != high(full.observed[[c, 2]]))
                .collect();
            let (ba, confusion) = crate::stats::balanced_accuracy(&pred, &truth)?;
            Some(XorImputation {
                n_cells: held.len(),
                balanced_accuracy: ba,
                confusion,
                balanced_accuracy_regulators_only: crate::stats::balanced_accuracy(
                    &pred_only, &truth,
                )?
                .0,
                balanced_accuracy_observed_xor: crate::stats::balanced_accuracy(
                    &observed_xor,
                    &truth,
                )?
                .0,
            })
        }
    };

    // 3. Generation: marker exclusivity.
    let (ma, mb) = &cfg.markers;
    let generation = match model.positions(&[ma, mb]) {
        Err(_) => None,
        Ok(pos) if cfg.n_generate > 0 => {
            let max = tok.sampling.max_genes;
            let panel: Option<Vec<u32>> = if n_vocab <= max {
                None
            } else {
                let mut p: Vec<u32> = pos.clone();
                p.extend(
                    (0..n_vocab as u32)
                        .filter(|g| !pos.contains(g))
                        .take(max - 2),
                );
                Some(p)
            };
            let gen = generate(
                model,
                &GenerateParams {
                    n_cells: cfg.n_generate,
                    genes: panel,
                    conditions: None,
                    steps: cfg.generate_steps,
                    temperature: 1.0,
                    seed: cfg.seed,
                    batch_size: cfg.batch_size,
                },
            )?;
            let col = |name: &str| gen.genes.iter().position(|g| g == name);
            let (Some(ca), Some(cb)) = (col(ma), col(mb)) else {
                return Err(Error::UnknownGenes {
                    genes: vec![ma.clone(), mb.clone()],
                });
            };
            let high = |bin: u32| tok.binning.level(bin) == BinLevel::High;
            let n = gen.bins.nrows() as f64;
            let g_a = (0..gen.bins.nrows())
                .filter(|&i| high(gen.bins[[i, ca]]))
                .count() as f64
                / n;
            let g_b = (0..gen.bins.nrows())
                .filter(|&i| high(gen.bins[[i, cb]]))
                .count() as f64
                / n;
            let g_ab = (0..gen.bins.nrows())
                .filter(|&i| high(gen.bins[[i, ca]]) && high(gen.bins[[i, cb]]))
                .count() as f64
                / n;
            let mut d = (0usize, 0usize, 0usize);
            for &i in &held {
                let (cols, vals) = cells.values.row(i);
                let bins = tok.binning.bin_cell(cols, vals)?;
                let bin_of = |g: u32| cols.binary_search(&g).map_or(0, |k| bins[k]);
                let (ha, hb) = (high(bin_of(pos[0])), high(bin_of(pos[1])));
                d.0 += usize::from(ha);
                d.1 += usize::from(hb);
                d.2 += usize::from(ha && hb);
            }
            let nd = held.len() as f64;
            Some(Exclusivity {
                n_generated: gen.bins.nrows(),
                n_data: held.len(),
                generated_both_high: g_ab,
                data_both_high: d.2 as f64 / nd,
                generated_high: (g_a, g_b),
                data_high: (d.0 as f64 / nd, d.1 as f64 / nd),
                independent_both_high: (d.0 as f64 / nd) * (d.1 as f64 / nd),
            })
        }
        Ok(_) => None,
    };
    Ok(EvalReport {
        masked,
        xor,
        generation,
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl std::fmt::Display for EvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.masked;
        writeln!(
            f,
            "held-out masked-gene accuracy ({} cells, {} masked genes):",
            m.n_cells, m.n_masked
        )?;
        writeln!(
            f,
            "  model     {:.3}  (mean |bin error| {:.2})",
            m.model, m.model_mae
        )?;
        writeln!(
            f,
            "  marginal  {:.3}  (mean |bin error| {:.2})  per-gene most frequent bin",
            m.marginal, m.marginal_mae
        )?;
        if let Some(x) = &self.xor {
            writeln!(
                f,
                "XOR-gate gene imputed from its regulators ({} cells, HIGH vs not):",
                x.n_cells
            )?;
            writeln!(
                f,
                "  balanced accuracy {:.3} (sampled context incl. both regulators)",
                x.balanced_accuracy
            )?;
            writeln!(
                f,
                "  balanced accuracy {:.3} (only the two regulators visible, all else masked)",
                x.balanced_accuracy_regulators_only
            )?;
            writeln!(
                f,
                "  balanced accuracy {:.3} (XOR of the regulators' observed HIGH calls)",
                x.balanced_accuracy_observed_xor
            )?;
            writeln!(f, "  confusion [[TN, FP], [FN, TP]] = {:?}", x.confusion)?;
        }
        if let Some(g) = &self.generation {
            writeln!(
                f,
                "generated cells ({}), marker exclusivity vs {} held-out cells:",
                g.n_generated, g.n_data
            )?;
            writeln!(f, "  both markers HIGH: generated {:.3}, data {:.3} (independent markers would give {:.3})", g.generated_both_high, g.data_both_high, g.independent_both_high)?;
            writeln!(
                f,
                "  marker HIGH rates: generated {:.3} / {:.3}, data {:.3} / {:.3}",
                g.generated_high.0, g.generated_high.1, g.data_high.0, g.data_high.1
            )?;
        }
        writeln!(f, "  evaluated in {:.1} s", self.seconds)
    }
}
