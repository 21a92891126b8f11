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

use cellsindy::data::Trajectory;
use cellsindy::error::{Error, Result};
use cellsindy::expression::io::{read_expression, ReadOptions};
use cellsindy::forest::ForestParams;
use cellsindy::rules::{
    correlation_edges, evaluate, fit_dynamics, genie3, lagged_regression, CorrelationKind,
    DynamicsFit, DynamicsParams, Evaluation, RuleSet, ScoredEdge, TruthNetwork,
};

use super::sindy::{read_files, FileSource};
use cellsindy::synthetic::{simulate_timecourse, TimeCourseParams};

/// Default number of simulated trajectories of `rules dynamics` (each with its own input
/// switches and levels; 24 cover every combination of each gate's two inputs several times).
pub const DEFAULT_TRAJECTORIES: usize = 24;

/// Where the time courses of [`dynamics`] come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimeCourseSource {
    /// Simulate the synthetic brain's network.
    Simulate(TimeCourseParams),
    /// CSV/TSV files, one trajectory each (the `sindy --data` conventions).
    Files(FileSource),
    /// A time-resolved `.h5ad`: one trajectory per value of `trajectory` (all cells in one
    /// without it), ordered by `time`.
    H5ad {
        /// The file.
        path: PathBuf,
        /// `obs` column of sampling times or pseudotime.
        time: String,
        /// `obs` column of trajectory / lineage labels.
        trajectory: Option<String>,
        /// Which of its matrices (X, raw, a layer).
        matrix: cellsindy::expression::io::MatrixChoice,
    },
}

/// What [`dynamics`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicsRunConfig {
    /// The time courses.
    pub source: TimeCourseSource,
    /// The regression.
    pub params: DynamicsParams,
    /// A truth file ([`TruthNetwork::load`]); `None` scores a simulation against its own
    /// network and user data against nothing.
    pub truth: Option<PathBuf>,
    /// Trees of the GENIE3 baseline (a cost paid only when there is a truth to score).
    pub genie3_trees: usize,
}

impl DynamicsRunConfig {
    /// `n_trajectories` simulated trajectories and every seed set to `seed`, other settings
    /// default.
    pub fn new(n_trajectories: usize, seed: u64) -> Self {
        DynamicsRunConfig {
            source: TimeCourseSource::Simulate(TimeCourseParams {
                n_trajectories,
                seed,
                ..TimeCourseParams::default()
            }),
            params: DynamicsParams::default().seed(seed),
            truth: None,
            genie3_trees: ForestParams::default().n_trees,
        }
    }

    /// The simulation settings, when the source is a simulation.
    pub fn timecourse_mut(&mut self) -> Option<&mut TimeCourseParams> {
        match &mut self.source {
            TimeCourseSource::Simulate(p) => Some(p),
            _ => None,
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
    /// The route's evaluation first, then the baselines (empty without a truth).
    pub evaluations: Vec<Evaluation>,
    /// Where the truth came from.
    pub truth_source: Option<String>,
    /// The truth the evaluations used (drawn in the network figure).
    #[serde(skip)]
    pub truth: Option<TruthNetwork>,
    /// Settings, as JSON, for the record.
    pub settings: serde_json::Value,
    /// How each rule was chosen (written as `selection.json`; `null` for routes without one).
    pub selection: serde_json::Value,
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

/// Reads or simulates the time courses of `source`; with a simulation, also its network.
///
/// # Errors
/// Errors of the simulation and of reading the files (ragged rows, non-increasing time,
/// genes that differ between files, a missing `obs` column, ...).
pub fn time_courses(source: &TimeCourseSource) -> Result<(Vec<Trajectory>, Option<TruthNetwork>)> {
    match source {
        TimeCourseSource::Simulate(p) => {
            let tc = simulate_timecourse(p)?;
            Ok((
                tc.trajectories,
                Some(TruthNetwork::from_dynamic_truth(&tc.truth)),
            ))
        }
        TimeCourseSource::Files(f) => Ok((read_files(f)?, None)),
        TimeCourseSource::H5ad {
            path,
            time,
            trajectory,
            matrix,
        } => {
            let read = ReadOptions {
                matrix: matrix.clone(),
                ..ReadOptions::default()
            };
            let m = read_expression(path, &read)?;
            Ok((
                cellsindy::data::time_courses(&m, time, trajectory.as_deref())?,
                None,
            ))
        }
    }
}

/// The network baselines on the same time courses: |Pearson| and |Spearman| of the pooled
/// levels, GENIE3 and lagged ridge regression (`(name, edges)`).
///
/// # Errors
/// Errors of the baselines (too few samples, non-finite values).
pub fn baseline_edges(
    trajectories: &[Trajectory],
    genes: &[String],
    forest: &ForestParams,
) -> Result<Vec<(&'static str, Vec<ScoredEdge>)>> {
    let views: Vec<_> = trajectories.iter().map(|t| t.x()).collect();
    let x = concatenate(Axis(0), &views).map_err(|e| Error::Linalg(e.to_string()))?;
    Ok(vec![
        (
            "|pearson|",
            correlation_edges(x.view(), genes, CorrelationKind::Pearson)?,
        ),
        (
            "|spearman|",
            correlation_edges(x.view(), genes, CorrelationKind::Spearman)?,
        ),
        ("genie3", genie3(x.view(), genes, forest)?),
        ("lagged", lagged_regression(trajectories)?),
    ])
}

/// Route 3 end to end: read or simulate the time courses, [`fit_dynamics`], and with a truth
/// score the edges and rules (with [`evaluate`]) beside the network baselines computed on the
/// same samples ([`baseline_edges`]).
///
/// # Errors
/// Errors of reading or simulating, of the fit, and of reading the truth file.
pub fn dynamics(cfg: &DynamicsRunConfig) -> Result<(RulesReport, DynamicsFit)> {
    let (trajectories, simulated_truth) = time_courses(&cfg.source)?;
    let start = std::time::Instant::now();
    let fit = fit_dynamics(&trajectories, &cfg.params)?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let truth = match (&cfg.truth, simulated_truth) {
        (Some(p), _) => Some((TruthNetwork::load(p)?, p.display().to_string())),
        (None, Some(t)) => Some((
            t,
            "the simulated network (synthetic::DynamicTruth)".to_string(),
        )),
        (None, None) => None,
    };
    let mut evaluations = Vec::new();
    if let Some((truth, _)) = &truth {
        evaluations.push(evaluate(
            "dynamics",
            &fit.rules.edges,
            Some(&fit.rules),
            truth,
            true,
        )?);
        let forest = ForestParams {
            n_trees: cfg.genie3_trees,
            seed: cfg.params.seed,
            ..ForestParams::default()
        };
        for (name, edges) in baseline_edges(&trajectories, &fit.genes, &forest)? {
            evaluations.push(evaluate(name, &edges, None, truth, true)?);
        }
    }
    let settings = serde_json::json!({
        "source": cfg.source,
        "dynamics": cfg.params,
        "genie3_trees": cfg.genie3_trees,
        "differentiator": fit.differentiator,
        "hill_k": fit.hill_k,
        "n_trajectories": trajectories.len(),
        "n_rows": fit.n_samples,
    });
    let (truth, truth_source) = match truth {
        Some((t, s)) => (Some(t), Some(s)),
        None => (None, None),
    };
    Ok((
        RulesReport {
            route: "dynamics".into(),
            rules: fit.rules.clone(),
            evaluations,
            truth_source,
            truth,
            settings,
            selection: serde_json::to_value(&fit.targets)?,
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
    if !report.selection.is_null() {
        files.push((
            dir.join("selection.json"),
            serde_json::to_vec_pretty(&report.selection)?,
        ));
    }
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
