//! `rules benchmark`: network inference from time courses on generators that differ from
//! the fitted library, cellsindy's defaults beside the baselines, several seeds each.
//!
//! Families (see [`cellsindy::networks`]):
//! - `boolode`: BEELINE's six synthetic topologies under BoolODE-style stochastic kinetics
//!   (mRNA + protein, per-interaction Hill `n` and `K`, intrinsic noise);
//! - `hillcube`: random Boolean networks (design) and published models (held out: no
//!   setting was chosen on them) as Odefy normalised HillCubes;
//! - `brain`: the synthetic brain's network (its own Hill kinetics, controls as inputs).
//!
//! Every case gets measurement noise; every method sees the same samples.

use serde::Serialize;

use cellsindy::data::Trajectory;
use cellsindy::error::{Error, Result};
use cellsindy::forest::ForestParams;
use cellsindy::networks::{
    beeline_topology, published_model, random_boolean_model, simulate_model, BooleanModel,
    Kinetics, NetworkSimParams, BEELINE_TOPOLOGIES, PUBLISHED_MODELS,
};
use cellsindy::rules::{evaluate, fit_dynamics, DynamicsParams, TruthNetwork};
use cellsindy::synthetic::{simulate_timecourse, TimeCourseParams};

use super::rules::baseline_edges;

/// The methods of the table, cellsindy first.
pub const METHODS: [&str; 5] = ["cellsindy", "genie3", "|spearman|", "|pearson|", "lagged"];

/// One network of the harness.
#[derive(Debug, Clone)]
pub struct BenchCase {
    /// Generator family: `boolode`, `hillcube` or `brain`.
    pub family: &'static str,
    /// Network name.
    pub name: String,
    /// Held out: reported, never used to choose a setting.
    pub held_out: bool,
    kind: CaseKind,
}

#[derive(Debug, Clone)]
enum CaseKind {
    Model(BooleanModel, Kinetics),
    /// A random Boolean network of this many genes (a new one per seed).
    Random(usize),
    Brain,
}

/// Every case of the harness.
pub fn cases() -> Vec<BenchCase> {
    let mut out = Vec::new();
    for name in BEELINE_TOPOLOGIES {
        if let Some(m) = beeline_topology(name) {
            out.push(BenchCase {
                family: "boolode",
                name: name.to_string(),
                held_out: false,
                kind: CaseKind::Model(m, Kinetics::BoolOde),
            });
        }
    }
    for n in [8, 12, 16] {
        out.push(BenchCase {
            family: "hillcube",
            name: format!("random{n}"),
            held_out: false,
            kind: CaseKind::Random(n),
        });
    }
    for name in PUBLISHED_MODELS {
        if let Some(m) = published_model(name) {
            out.push(BenchCase {
                family: "hillcube",
                name: name.to_string(),
                held_out: true,
                kind: CaseKind::Model(m, Kinetics::HillCube),
            });
        }
    }
    out.push(BenchCase {
        family: "brain",
        name: "synthetic brain".into(),
        held_out: false,
        kind: CaseKind::Brain,
    });
    out
}

/// Settings of one harness run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchConfig {
    /// Seeds per case (0, 1, ...).
    pub seeds: u64,
    /// Measurement noise (sd as a fraction of each gene's range; the brain's: of its ON level).
    pub noise: f64,
    /// Trajectories per case (the brain: twice as many, one per input combination and more).
    pub trajectories: usize,
    /// Samples per trajectory (Boolean models).
    pub samples: usize,
    /// Only cases whose name contains this.
    pub only: Option<String>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            seeds: 3,
            noise: 0.05,
            trajectories: 6,
            samples: 100,
            only: None,
        }
    }
}

/// A case's time courses and truth for one seed.
///
/// # Errors
/// Errors of the generators.
pub fn simulate_case(
    case: &BenchCase,
    cfg: &BenchConfig,
    seed: u64,
) -> Result<(Vec<Trajectory>, TruthNetwork)> {
    let sim =
        |model: &BooleanModel, kinetics: Kinetics| -> Result<(Vec<Trajectory>, TruthNetwork)> {
            let p = NetworkSimParams {
                kinetics,
                n_trajectories: cfg.trajectories,
                n_samples: cfg.samples,
                measurement_noise: cfg.noise,
                seed,
                ..NetworkSimParams::default()
            };
            Ok((simulate_model(model, &p)?, model.truth()?))
        };
    match &case.kind {
        CaseKind::Model(m, k) => sim(m, *k),
        CaseKind::Random(n) => sim(&random_boolean_model(*n, seed)?, Kinetics::HillCube),
        CaseKind::Brain => {
            let tc = simulate_timecourse(&TimeCourseParams {
                n_trajectories: 2 * cfg.trajectories,
                noise: cfg.noise,
                seed,
                ..TimeCourseParams::default()
            })?;
            Ok((tc.trajectories, TruthNetwork::from_dynamic_truth(&tc.truth)))
        }
    }
}

/// One method's scores on one case and seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchScore {
    /// Case name.
    pub case: String,
    /// Family.
    pub family: String,
    /// Held out.
    pub held_out: bool,
    /// Seed.
    pub seed: u64,
    /// Method.
    pub method: String,
    /// AUPRC.
    pub auprc: f64,
    /// AUROC.
    pub auroc: f64,
    /// Early-precision ratio.
    pub epr: f64,
    /// Signed early-precision ratio.
    pub epr_signed: f64,
    /// Random AUPRC (the share of true edges).
    pub random: f64,
}

/// Runs every method on one case and seed.
///
/// # Errors
/// Errors of the generator, the fit and the baselines.
pub fn run_case(
    case: &BenchCase,
    cfg: &BenchConfig,
    seed: u64,
    params: &DynamicsParams,
) -> Result<Vec<BenchScore>> {
    let (trajectories, truth) = simulate_case(case, cfg, seed)?;
    let fit = fit_dynamics(&trajectories, &params.clone().seed(seed))?;
    let mut methods = vec![("cellsindy", fit.rules.edges.clone())];
    let forest = ForestParams {
        seed,
        ..ForestParams::default()
    };
    methods.extend(baseline_edges(&trajectories, &fit.genes, &forest)?);
    methods
        .into_iter()
        .map(|(name, edges)| {
            let ev = evaluate(name, &edges, None, &truth, true)?;
            let m = &ev.edges;
            let get = |v: Option<f64>| v.unwrap_or(f64::NAN);
            Ok(BenchScore {
                case: case.name.clone(),
                family: case.family.to_string(),
                held_out: case.held_out,
                seed,
                method: name.to_string(),
                auprc: get(m.auprc),
                auroc: get(m.auroc),
                epr: get(m.epr),
                epr_signed: get(m.epr_signed),
                random: m.random_precision,
            })
        })
        .collect()
}

/// Every case × seed × method, with `progress(done, total)` after each case and seed.
///
/// # Errors
/// As [`run_case`]; [`Error::Empty`] when `only` matches no case.
pub fn benchmark(
    cfg: &BenchConfig,
    params: &DynamicsParams,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<BenchScore>> {
    let chosen: Vec<BenchCase> = cases()
        .into_iter()
        .filter(|c| {
            cfg.only
                .as_ref()
                .is_none_or(|o| c.name.contains(o.as_str()) || c.family == o)
        })
        .collect();
    if chosen.is_empty() {
        return Err(Error::Empty {
            what: "benchmark cases",
            why: format!("no case matches {:?}", cfg.only),
        });
    }
    let total = chosen.len() * cfg.seeds as usize;
    let mut out = Vec::new();
    let mut done = 0;
    for case in &chosen {
        for seed in 0..cfg.seeds {
            out.extend(run_case(case, cfg, seed, params)?);
            done += 1;
            progress(done, total);
        }
    }
    Ok(out)
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

/// The Markdown table: one row per case and metric, mean ± sd over seeds per method; then the
/// mean AUPRC per family (design cases and held-out cases apart).
pub fn table(scores: &[BenchScore]) -> String {
    let mut cases: Vec<(String, String, bool)> = Vec::new();
    for s in scores {
        let k = (s.family.clone(), s.case.clone(), s.held_out);
        if !cases.contains(&k) {
            cases.push(k);
        }
    }
    let mut out = String::from("| family | network | metric | random |");
    for m in METHODS {
        out.push_str(&format!(" {} |", cellsindy::escape::markdown(m)));
    }
    out.push_str("\n|---|---|---|---|");
    out.push_str(&"---|".repeat(METHODS.len()));
    out.push('\n');
    type Metric = fn(&BenchScore) -> f64;
    let metrics: [(&str, Metric); 4] = [
        ("AUPRC", |s| s.auprc),
        ("AUROC", |s| s.auroc),
        ("EPR", |s| s.epr),
        ("EPR signed", |s| s.epr_signed),
    ];
    for (family, case, held) in &cases {
        for (mname, f) in metrics {
            let of = |method: &str| -> Vec<f64> {
                scores
                    .iter()
                    .filter(|s| &s.case == case && &s.family == family && s.method == method)
                    .map(f)
                    .collect()
            };
            let random: Vec<f64> = scores
                .iter()
                .filter(|s| &s.case == case && s.method == "cellsindy")
                .map(|s| {
                    if mname == "AUPRC" {
                        s.random
                    } else if mname == "AUROC" {
                        0.5
                    } else {
                        1.0
                    }
                })
                .collect();
            let label = if *held {
                format!("{case} (held out)")
            } else {
                case.clone()
            };
            out.push_str(&format!(
                "| {family} | {label} | {mname} | {:.3} |",
                mean_sd(&random).0
            ));
            let means: Vec<f64> = METHODS.iter().map(|m| mean_sd(&of(m)).0).collect();
            let best = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for m in METHODS {
                let (mu, sd) = mean_sd(&of(m));
                let cell = format!("{mu:.3} ± {sd:.3}");
                if mu == best {
                    out.push_str(&format!(" **{cell}** |"));
                } else {
                    out.push_str(&format!(" {cell} |"));
                }
            }
            out.push('\n');
        }
    }
    out.push_str("\nMean AUPRC per family (all seeds and networks):\n\n| family | networks |");
    for m in METHODS {
        out.push_str(&format!(" {} |", cellsindy::escape::markdown(m)));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(METHODS.len()));
    out.push('\n');
    let mut fams: Vec<(String, bool)> = Vec::new();
    for (f, _, h) in &cases {
        if !fams.contains(&(f.clone(), *h)) {
            fams.push((f.clone(), *h));
        }
    }
    for (fam, held) in fams {
        let label = if held { "held out" } else { "design" };
        out.push_str(&format!("| {fam} | {label} |"));
        for m in METHODS {
            let v: Vec<f64> = scores
                .iter()
                .filter(|s| s.family == fam && s.held_out == held && s.method == m)
                .map(|s| s.auprc)
                .collect();
            let (mu, sd) = mean_sd(&v);
            out.push_str(&format!(" {mu:.3} ± {sd:.3} |"));
        }
        out.push('\n');
    }
    out
}
