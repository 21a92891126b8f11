//! `rules ablate`: the causal check of route 2. The MLP units that `rules activations` reads as
//! XOR gates, or those whose rule holds the product of the gate's two inputs (best held-out R²
//! first), are held at their mean activation at every token (mean patching) and the probes are
//! run again; as a control, as many random units of the same
//! layers are patched the same way, several times. A unit that carries the gate's computation
//! costs gate accuracy when patched, more than random units do; a unit that only correlates
//! with the gate costs no more than they do. The marker XOR is reported beside it, so a
//! patch that breaks the whole model is not read as a gate-specific effect.

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::{Deserialize, Serialize};

use cellsindy::error::{Error, Result};
use cellsindy::escape::{markdown, markdown_code};
use cellsindy::nn::data::sample_rows;
use cellsindy::nn::Ablation;
use cellsindy::probes::{ProbeConfig, ProbeReport, Role, XorReport};
use cellsindy::rules::{UnitKind, UnitRule};

use super::probe::{probe_inputs, ProbeJob};

/// An ablation job: the probe's inputs and the activation report whose units are patched.
#[derive(Debug, Clone)]
pub struct AblationJob {
    /// The probe job (checkpoint, data, settings; its baselines are not needed and are
    /// switched off).
    pub probe: ProbeJob,
    /// `units.json` written by `rules activations` for the same checkpoint.
    pub units: PathBuf,
    /// How many of the best selected units to patch.
    pub top: usize,
    /// `None`: the units read as XOR/XNOR gates; `Some([a, b])`: the interaction units whose
    /// rule holds the product `a·b` (those that compute with both inputs jointly, whatever
    /// gate their rule reads as).
    pub inputs: Option<[String; 2]>,
    /// How many random sets of as many units are patched as the control.
    pub random_sets: usize,
    /// Seed of the random sets.
    pub seed: u64,
}

/// The model's scores under one intervention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationRow {
    /// `none`, the selected units, each random set.
    pub condition: String,
    /// The patched units.
    pub units: Vec<String>,
    /// The model's balanced accuracy on the gate.
    pub gate_balanced_accuracy: f64,
    /// The model's AUROC on the gate.
    pub gate_auroc: f64,
    /// The model's balanced accuracy on the marker XOR.
    pub markers_balanced_accuracy: f64,
}

/// Everything `rules ablate` measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationReport {
    /// Checkpoint (as given).
    pub model: String,
    /// Data (as given).
    pub data: String,
    /// The activation report read.
    pub units_report: String,
    /// Held-out cells scored.
    pub n_scored: usize,
    /// How the units were selected.
    pub selection: String,
    /// The unpatched model, the selected units, then each random set.
    pub rows: Vec<AblationRow>,
}

impl AblationReport {
    /// Gate balanced accuracy lost by patching the selected units, and the mean loss over the
    /// random sets.
    pub fn drops(&self) -> Option<(f64, f64)> {
        let base = self.rows.first()?.gate_balanced_accuracy;
        let top = base - self.rows.get(1)?.gate_balanced_accuracy;
        let random: Vec<f64> = self.rows[2..]
            .iter()
            .map(|r| base - r.gate_balanced_accuracy)
            .collect();
        let mean = if random.is_empty() {
            f64::NAN
        } else {
            random.iter().sum::<f64>() / random.len() as f64
        };
        Some((top, mean))
    }

    /// The table and the verdict as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# Ablation of selected units\n\nModel {} on {}, {} held-out cells; the best {} (held-out R²) from {}, each held at its mean activation at the masked target's token, at every token.\n\n| condition | gate balanced accuracy | gate AUROC | marker XOR balanced accuracy | units |\n|---|---|---|---|---|\n",
            markdown_code(&self.model),
            markdown_code(&self.data),
            self.n_scored,
            markdown(&self.selection),
            markdown_code(&self.units_report)
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {:.3} | {:.3} | {:.3} | {} |\n",
                r.condition,
                r.gate_balanced_accuracy,
                r.gate_auroc,
                r.markers_balanced_accuracy,
                markdown(&r.units.join(", "))
            ));
        }
        if let Some((top, random)) = self.drops() {
            s.push_str(&format!(
                "\nPatching the selected units costs the gate {top:+.3} balanced accuracy; random units of the same layers cost {random:+.3} on average.\n"
            ));
        }
        s
    }
}

/// The selected MLP units of an activation report (see [`AblationJob::inputs`]), best held-out
/// R² first (in-sample R² without one), and every MLP unit with its mean (the pool of the
/// random sets).
///
/// # Errors
/// [`Error::Io`]/[`Error::Json`] reading `path`; [`Error::Empty`] if no MLP unit is selected.
pub fn selected_units(
    path: &Path,
    inputs: Option<&[String; 2]>,
) -> Result<(Vec<UnitRule>, Vec<UnitRule>)> {
    #[derive(Deserialize)]
    struct Units {
        units: Vec<UnitRule>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let all: Units = serde_json::from_str(&text)?;
    let mlp: Vec<UnitRule> = all
        .units
        .into_iter()
        .filter(|u| Ablation::parse_unit(&u.unit).is_ok())
        .collect();
    let mut xor: Vec<UnitRule> = mlp
        .iter()
        .filter(|u| match inputs {
            None => u
                .gate
                .as_ref()
                .is_some_and(|g| g.op == "XOR" || g.op == "XNOR"),
            Some(ab) => {
                let mut want = ab.to_vec();
                want.sort();
                u.kind == UnitKind::Interaction && u.rule.terms.iter().any(|t| t.genes == want)
            }
        })
        .cloned()
        .collect();
    let key = |u: &UnitRule| u.heldout_r2.unwrap_or(u.r2);
    xor.sort_by(|a, b| key(b).total_cmp(&key(a)));
    if xor.is_empty() {
        let what = match inputs {
            None => "as an XOR or XNOR gate".to_string(),
            Some([a, b]) => format!("as an interaction with a {a}·{b} term"),
        };
        return Err(Error::Empty {
            what: "units to ablate",
            why: format!(
                "{} reads no MLP unit {what}: nothing to ablate",
                path.display()
            ),
        });
    }
    Ok((xor, mlp))
}

/// The mean-patching intervention on `units`.
fn patch(units: &[&UnitRule]) -> Result<Ablation> {
    Ok(Ablation {
        units: units
            .iter()
            .map(|u| {
                let (b, k) = Ablation::parse_unit(&u.unit)?;
                Ok((b, k, u.mean as f32))
            })
            .collect::<Result<_>>()?,
    })
}

fn model_ba(x: &XorReport) -> Result<(f64, f64)> {
    x.methods
        .iter()
        .find(|m| m.role == Role::Model)
        .map(|m| (m.scores.balanced_accuracy, m.scores.auroc))
        .ok_or_else(|| Error::Empty {
            what: "probe report",
            why: "no model row".into(),
        })
}

/// Runs the probes on the unpatched model, with the `top` best XOR units mean-patched, and
/// with `random_sets` random sets of as many MLP units.
///
/// # Errors
/// [`Error::InvalidParam`] for `top = 0`; the activation report's and the probe's errors.
pub fn ablate(job: &AblationJob, device: &Device) -> Result<AblationReport> {
    if job.top == 0 {
        return Err(Error::param("top", 0, "must be at least 1"));
    }
    let (xor, pool) = selected_units(&job.units, job.inputs.as_ref())?;
    let chosen: Vec<&UnitRule> = xor.iter().take(job.top).collect();
    let n = chosen.len();
    let others: Vec<&UnitRule> = pool
        .iter()
        .filter(|u| u.sd > 0.0 && !chosen.iter().any(|c| c.unit == u.unit))
        .collect();
    // Only the model's XOR rows are read: no non-linear baselines, no intervals, and one
    // unmasking round for the covariance probe's joint draw (64 forward passes otherwise).
    let cfg = ProbeConfig {
        nonlinear_baselines: false,
        bootstrap_reps: 0,
        joint_steps: 1,
        ..job.probe.config.clone()
    };
    let mut inputs = probe_inputs(
        &ProbeJob {
            config: cfg.clone(),
            ..job.probe.clone()
        },
        device,
    )?;
    let mut conditions: Vec<(String, Vec<&UnitRule>)> = vec![
        ("none".into(), Vec::new()),
        (format!("selected units ({n})"), chosen.clone()),
    ];
    for k in 0..job.random_sets {
        let pick = sample_rows((0..others.len()).collect(), n, job.seed, 100 + k as u64);
        let pick: Vec<&UnitRule> = pick.into_iter().map(|i| others[i]).collect();
        conditions.push((format!("random units ({n}), set {}", k + 1), pick));
    }
    let mut rows = Vec::with_capacity(conditions.len());
    let mut n_scored = 0;
    for (condition, units) in conditions {
        inputs.model.model.set_ablation(&patch(&units)?)?;
        let r: ProbeReport = inputs.run(&cfg)?;
        n_scored = r.n_scored;
        let (gate_ba, gate_auroc) = model_ba(&r.xor_gate)?;
        rows.push(AblationRow {
            condition,
            units: units.iter().map(|u| u.unit.clone()).collect(),
            gate_balanced_accuracy: gate_ba,
            gate_auroc,
            markers_balanced_accuracy: model_ba(&r.xor_markers)?.0,
        });
    }
    inputs.model.model.set_ablation(&Ablation::default())?;
    Ok(AblationReport {
        model: job.probe.model.display().to_string(),
        data: job.probe.data.display().to_string(),
        units_report: job.units.display().to_string(),
        selection: match &job.inputs {
            None => "units read as XOR or XNOR gates".into(),
            Some([a, b]) => format!("interaction units with a {a}·{b} term"),
        },
        n_scored,
        rows,
    })
}
