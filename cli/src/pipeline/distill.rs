//! Route 1 of `rules`: a trained gene transformer's predictions distilled into sparse gene
//! rules ([`cellsindy::rules::distill_model`]: occlusion screen, candidates, distillation pass,
//! regression), scored against a known network beside model-free baselines (the same rules
//! fitted to the observed states with a pair screen, |Pearson|, |Spearman|), and written as the
//! rules report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;

use cellsindy::error::{Error, Result};
use cellsindy::expression::io::ReadOptions;
use cellsindy::expression::ExpressionMatrix;
use cellsindy::nn::infer::InferenceModel;
use cellsindy::rules::{
    correlation_edges, distill_cells, distill_rows, evaluate, fit_observed, CorrelationKind,
    DistillConfig, DistillRun, DistillStage, Distillation, ScoredEdge, TruthNetwork,
};
use cellsindy::tokenize::PreparedCells;

use super::rules::RulesReport;

/// A distillation job: checkpoint, data, optional truth, settings.
#[derive(Debug, Clone)]
pub struct DistillJob {
    /// Checkpoint directory.
    pub model: PathBuf,
    /// The expression file (raw counts) the model was trained on.
    pub data: PathBuf,
    /// Truth file ([`TruthNetwork::load`]) to score against.
    pub truth: Option<PathBuf>,
    /// Settings.
    pub config: DistillConfig,
    /// Reader options.
    pub read: ReadOptions,
}

/// Loads the checkpoint and the truth, reads the cells the distillation uses
/// ([`distill_rows`], streamed from an `.h5ad`/10x file so that memory does not grow with the
/// file) and runs [`run_distill_on`].
///
/// # Errors
/// Read, checkpoint, truth and [`run_distill_on`] errors.
pub fn distill(
    job: &DistillJob,
    device: &Device,
    progress: &mut dyn FnMut(DistillStage, usize, usize),
) -> Result<(RulesReport, Distillation)> {
    job.config.validate()?;
    let (model, split) = super::load_model(&job.model, device)?;
    let truth = match &job.truth {
        Some(p) => Some((TruthNetwork::load(p)?, p.display().to_string())),
        None => None,
    };
    let (cells, _) =
        super::read_cells_for_model(&job.data, &job.read, &model.tokenizer, &mut |n| {
            distill_rows(n, split, &job.config)
        })?;
    let (mut report, d) = run_distill_on(
        &model,
        &cells,
        split.is_some(),
        truth.as_ref().map(|(t, s)| (t, s.as_str())),
        &job.config,
        progress,
    )?;
    if let serde_json::Value::Object(m) = &mut report.settings {
        m.insert("model".into(), job.model.display().to_string().into());
        m.insert("data".into(), job.data.display().to_string().into());
    }
    Ok((report, d))
}

/// Distils `model`'s predictions on `matrix` (on the model's scale) into rules: the cells of
/// [`distill_rows`] (the held-out cells of `split`, the checkpoint's `(seed, val_fraction)`,
/// when given), then [`run_distill_on`].
///
/// # Errors
/// As [`run_distill_on`].
pub fn run_distill(
    model: &InferenceModel,
    matrix: &ExpressionMatrix,
    split: Option<(u64, f64)>,
    truth: Option<(&TruthNetwork, &str)>,
    cfg: &DistillConfig,
    progress: &mut dyn FnMut(DistillStage, usize, usize),
) -> Result<(RulesReport, Distillation)> {
    cfg.validate()?;
    let rows = distill_rows(matrix.n_cells(), split, cfg)?;
    let cells = model.tokenizer.prepare_rows(matrix, &rows)?;
    run_distill_on(model, &cells, split.is_some(), truth, cfg, progress)
}

/// Distils `model`'s predictions on every cell of `cells` into rules
/// ([`cellsindy::rules::distill_cells`]) and scores them against `truth` (with its source's
/// name) beside the occlusion screen's own ranking and the |Pearson| and |Spearman| baselines
/// on the same cells and pairs. `held_out` says whether the cells are the checkpoint's
/// held-out cells (for the report). `progress(stage, done, total)` is called after every cell.
///
/// # Errors
/// As [`cellsindy::rules::distill_cells`]; evaluation errors.
pub fn run_distill_on(
    model: &InferenceModel,
    cells: &PreparedCells,
    held_out: bool,
    truth: Option<(&TruthNetwork, &str)>,
    cfg: &DistillConfig,
    progress: &mut dyn FnMut(DistillStage, usize, usize),
) -> Result<(RulesReport, Distillation)> {
    let start = Instant::now();
    let DistillRun {
        distillation: d,
        levels: x,
        bin_thresholds: bstar,
        candidate_positions: cand,
    } = distill_cells(model, cells, truth.map(|t| t.0), cfg, progress)?;
    let (targets, genes, m) = (&d.targets, &d.genes, d.targets_per_pass);
    let n_t = targets.len();
    let mut evaluations = Vec::new();
    // The model-free counterpart, scored against the truth: the same rules fitted to the
    // observed states, candidates from a pair screen instead of the model's occlusion. Its
    // screen costs cells × genes² per target, so it is fitted only when there is a truth to
    // score it against.
    let mut observed_rules = None;
    if let Some((truth, _)) = truth {
        let observed = fit_observed(x.view(), genes, targets, cfg.candidates, &cfg.regression)?;
        evaluations.push(evaluate(
            "distill",
            &d.fit.rules.edges,
            Some(&d.fit.rules),
            truth,
            false,
        )?);
        evaluations.push(evaluate(
            "distill (expression)",
            &d.fit.expression.edges,
            Some(&d.fit.expression),
            truth,
            false,
        )?);
        evaluations.push(evaluate(
            "observed states (pair screen, no model)",
            &observed.rules.edges,
            Some(&observed.rules),
            truth,
            false,
        )?);
        observed_rules = Some(
            observed
                .rules
                .rules
                .iter()
                .map(|r| r.text(4))
                .collect::<Vec<_>>(),
        );
        evaluations.push(evaluate(
            "occlusion screen",
            &d.occlusion_edges(),
            None,
            truth,
            false,
        )?);
        let tset: BTreeSet<&str> = targets.iter().map(String::as_str).collect();
        for (name, kind) in [
            ("|pearson|", CorrelationKind::Pearson),
            ("|spearman|", CorrelationKind::Spearman),
        ] {
            let edges: Vec<ScoredEdge> = correlation_edges(x.view(), genes, kind)?
                .into_iter()
                .filter(|e| tset.contains(e.target.as_str()))
                .collect();
            evaluations.push(evaluate(name, &edges, None, truth, false)?);
        }
    }
    let candidates: BTreeMap<&str, Vec<(String, f64)>> = (0..n_t)
        .map(|j| {
            (
                targets[j].as_str(),
                cand[j]
                    .iter()
                    .map(|&v| (genes[v].clone(), d.attribution[[j, v]]))
                    .collect(),
            )
        })
        .collect();
    let settings = serde_json::json!({
        "distill": cfg,
        "n_cells": d.n_cells,
        "n_screen_cells": d.n_screen_cells,
        "cells_from": if held_out { "held-out split of the checkpoint" } else { "all cells" },
        "targets_per_pass": m,
        "n_queries": { "screen": d.n_queries.0, "distill": d.n_queries.1 },
        "seconds": { "screen": d.seconds.0, "distill": d.seconds.1, "regression": d.seconds.2 },
        "candidates": candidates,
        "bin_thresholds": targets.iter().cloned().zip(bstar.iter().copied()).collect::<BTreeMap<_, _>>(),
        "expression_rules": d.fit.expression.rules.iter().map(|r| r.text(4)).collect::<Vec<_>>(),
        "observed_state_rules": observed_rules,
    });
    let report = RulesReport {
        route: "distill".into(),
        rules: d.fit.rules.clone(),
        evaluations,
        truth_source: truth.map(|t| t.1.to_string()),
        truth: truth.map(|t| t.0.clone()),
        settings,
        selection: serde_json::Value::Null,
        fit_seconds: start.elapsed().as_secs_f64(),
    };
    Ok((report, d))
}

/// Writes the distillation's extras into `dir` beside [`super::rules::write_report`]'s files:
/// `expression_rules.txt` and `attribution.tsv` (target, gene, attribution; non-zero only).
///
/// # Errors
/// [`Error::Io`] naming the path.
pub fn write_extras(d: &Distillation, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut att = String::from("target\tgene\tattribution\n");
    for (j, t) in d.targets.iter().enumerate() {
        for (v, g) in d.genes.iter().enumerate() {
            let a = d.attribution[[j, v]];
            if a > 0.0 {
                att.push_str(&format!(
                    "{}\t{}\t{a}\n",
                    cellsindy::escape::tsv(t),
                    cellsindy::escape::tsv(g)
                ));
            }
        }
    }
    let files = [
        (dir.join("expression_rules.txt"), d.fit.expression.text(4)),
        (dir.join("attribution.tsv"), att),
    ];
    let mut written = Vec::new();
    for (p, s) in files {
        cellsindy::io::write_atomic(&p, s.as_bytes())?;
        written.push(p);
    }
    Ok(written)
}
