//! `rules`: read sparse regulatory rules and score them against a known network.
//!
//! Three routes share the sparse-regression core ([`cellsindy::rules`]); this module runs
//! [`dynamics`] (route 3: SINDy on simulated time courses of the synthetic network). The model
//! routes (distillation of a trained transformer's predictions, activations) take a checkpoint
//! and an expression file and are added beside it, writing the same files through
//! [`write_report`].

use std::path::{Path, PathBuf};

use ndarray::{concatenate, Axis};
use serde::Serialize;

use cellsindy::error::{Error, Result};
use cellsindy::rules::{
    correlation_edges, evaluate, fit_dynamics, CorrelationKind, DynamicsFit, DynamicsParams,
    Evaluation, RuleSet, TruthNetwork,
};
use cellsindy::synthetic::{simulate_timecourse, TimeCourseParams};

/// Default number of simulated trajectories of `rules dynamics` (each with its own input
/// switches and levels; 24 cover every combination of each gate's two inputs several times).
pub const DEFAULT_TRAJECTORIES: usize = 24;

/// What [`dynamics`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicsRunConfig {
    /// The simulated time courses of the synthetic network.
    pub timecourse: TimeCourseParams,
    /// The regression.
    pub params: DynamicsParams,
    /// A truth file ([`TruthNetwork::load`]); `None` scores against the simulated network.
    pub truth: Option<PathBuf>,
}

impl DynamicsRunConfig {
    /// `n_trajectories` trajectories and every seed set to `seed`, other settings default.
    pub fn new(n_trajectories: usize, seed: u64) -> Self {
        DynamicsRunConfig {
            timecourse: TimeCourseParams {
                n_trajectories,
                seed,
                ..TimeCourseParams::default()
            },
            params: DynamicsParams::default().seed(seed),
            truth: None,
        }
    }
}

/// Rules, edges and their evaluation, ready to print or write.
#[derive(Debug, Clone, Serialize)]
pub struct RulesReport {
    /// Which route made the rules (`"dynamics"`).
    pub route: String,
    /// The rules and scored edges.
    pub rules: RuleSet,
    /// The route's evaluation first, then the |Pearson| and |Spearman| baselines (empty
    /// without a truth).
    pub evaluations: Vec<Evaluation>,
    /// Where the truth came from.
    pub truth_source: Option<String>,
    /// The truth the evaluations used (drawn in the network figure).
    #[serde(skip)]
    pub truth: Option<TruthNetwork>,
    /// Settings, as JSON, for the record.
    pub settings: serde_json::Value,
    /// Seconds spent fitting.
    pub fit_seconds: f64,
}

impl RulesReport {
    /// A human-readable summary: the rules, then the evaluation table.
    pub fn summary(&self) -> String {
        let mut s = format!("rules ({} route):\n", self.route);
        s.push_str(&self.rules.text(3));
        if let Some(src) = &self.truth_source {
            s.push_str(&format!("\nevaluation against {src}:\n"));
            s.push_str(&Evaluation::markdown(&self.evaluations));
        }
        s.push_str(&format!("\nfit in {:.2} s\n", self.fit_seconds));
        s
    }
}

/// Route 3 end to end: simulate the time courses, [`fit_dynamics`], and score the edges and
/// rules (with [`evaluate`]) against the truth, beside the correlation baselines computed on the
/// same samples.
///
/// # Errors
/// Errors of the simulation, the fit, and of reading the truth file.
pub fn dynamics(cfg: &DynamicsRunConfig) -> Result<(RulesReport, DynamicsFit)> {
    let tc = simulate_timecourse(&cfg.timecourse)?;
    let start = std::time::Instant::now();
    let fit = fit_dynamics(&tc.trajectories, &cfg.params)?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let (truth, source) = match &cfg.truth {
        Some(p) => (TruthNetwork::load(p)?, p.display().to_string()),
        None => (
            TruthNetwork::from_dynamic_truth(&tc.truth),
            "the simulated network (synthetic::DynamicTruth)".to_string(),
        ),
    };
    let views: Vec<_> = tc.trajectories.iter().map(|t| t.x()).collect();
    let x = concatenate(Axis(0), &views).map_err(|e| Error::Linalg(e.to_string()))?;
    let mut evaluations = vec![evaluate(
        "dynamics",
        &fit.rules.edges,
        Some(&fit.rules),
        &truth,
        true,
    )?];
    for (name, kind) in [
        ("|pearson|", CorrelationKind::Pearson),
        ("|spearman|", CorrelationKind::Spearman),
    ] {
        let edges = correlation_edges(x.view(), &fit.genes, kind)?;
        evaluations.push(evaluate(name, &edges, None, &truth, true)?);
    }
    let settings = serde_json::json!({
        "timecourse": cfg.timecourse,
        "dynamics": cfg.params,
        "hill_k": fit.hill_k,
        "n_samples": fit.n_samples,
        "n_features": fit.features.len(),
    });
    Ok((
        RulesReport {
            route: "dynamics".into(),
            rules: fit.rules.clone(),
            evaluations,
            truth_source: Some(source),
            truth: Some(truth),
            settings,
            fit_seconds,
        },
        fit,
    ))
}

/// Writes a report into `dir` (created if needed), each file atomically: `rules.txt`,
/// `rules.tex`, `rules.json`, `edges.tsv`, `network.svg` (edges with score >= 0.5; with the
/// `plot` feature), and with a truth `evaluation.json` and `evaluation.md`. Returns the paths
/// written.
///
/// # Errors
/// [`Error::Io`] naming the path; [`Error::Json`].
pub fn write_report(report: &RulesReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (dir.join("rules.txt"), report.rules.text(4).into_bytes()),
        (dir.join("rules.tex"), report.rules.latex(4).into_bytes()),
        (
            dir.join("rules.json"),
            serde_json::to_vec_pretty(&serde_json::json!({
                "route": report.route,
                "rules": report.rules.rules,
                "settings": report.settings,
            }))?,
        ),
        (dir.join("edges.tsv"), report.rules.edges_tsv().into_bytes()),
    ];
    files.push((
        dir.join("network.svg"),
        cellsindy::plot::network_svg(
            &report.rules.edges,
            report.truth.as_ref(),
            0.5,
            &format!("gene network ({} route)", report.route),
        )?
        .into_bytes(),
    ));
    if report.truth_source.is_some() {
        files.push((
            dir.join("evaluation.json"),
            serde_json::to_vec_pretty(&serde_json::json!({
                "truth": report.truth_source,
                "evaluations": report.evaluations,
            }))?,
        ));
        files.push((
            dir.join("evaluation.md"),
            format!(
                "# Rules ({} route) against {}\n\n{}",
                report.route,
                report.truth_source.as_deref().unwrap_or(""),
                Evaluation::markdown(&report.evaluations)
            )
            .into_bytes(),
        ));
    }
    let mut written = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        cellsindy::io::write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}
