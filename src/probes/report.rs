//! The probe report: the tables the project started from, as serde types and as Markdown.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::covariance::{MethodCovariance, Role};
use super::xor::BinaryScores;
use super::ProbeConfig;
use crate::escape::{markdown, markdown_code};

/// The covariance probe on one set of cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CovarianceReport {
    /// Cells scored.
    pub n_cells: usize,
    /// Genes, group A first (the order of every matrix).
    pub genes: Vec<String>,
    /// Genes in group A.
    pub n_a: usize,
    /// Sign dead zone.
    pub dead_zone: f64,
    /// The real values (normalised expression of the held-out cells).
    pub real: MethodCovariance,
    /// Each method's imputation, in report order.
    pub methods: Vec<MethodCovariance>,
}

/// One method on one XOR probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XorMethod {
    /// Method name.
    pub method: String,
    /// Model, baseline or reference.
    #[serde(default)]
    pub role: Role,
    /// How its probability was obtained.
    pub probability: String,
    /// Balanced accuracy, AUROC, confusion matrix.
    pub scores: BinaryScores,
    /// ROC curve `(fpr, tpr)`.
    pub roc: Vec<(f64, f64)>,
}

/// One XOR probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XorReport {
    /// What is predicted, e.g. `RBFOX3 xor GFAP`.
    pub target: String,
    /// Genes masked.
    pub masked: Vec<String>,
    /// How the truth was read from the data.
    pub truth_rule: String,
    /// Expression thresholds (log1p of normalised values; HIGH ⇔ value > threshold), one per
    /// binarised gene.
    pub thresholds: Vec<f64>,
    /// The model's bin thresholds (HIGH ⇔ bin ≥ this), one per binarised gene.
    pub bin_thresholds: Vec<u32>,
    /// Cells scored.
    pub n_cells: usize,
    /// Cells whose truth is positive.
    pub n_positive: usize,
    /// Each method.
    pub methods: Vec<XorMethod>,
}

/// The model's best readout against the best baseline on one probe: the margin the project's
/// claim rests on (positive: the model is ahead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The model's best-scoring row.
    pub model: String,
    /// Its score.
    pub model_score: f64,
    /// The best baseline.
    pub baseline: String,
    /// Its score.
    pub baseline_score: f64,
    /// `model_score − baseline_score`.
    pub margin: f64,
    /// What the score is.
    pub metric: String,
    /// The Bayes ceiling's row and score, where the data carried the latent states.
    #[serde(default)]
    pub ceiling: Option<(String, f64)>,
}

/// The best row of `role` by `key` (larger is better; ties keep the first).
fn best<T>(
    rows: &[T],
    role: impl Fn(&T) -> Role,
    want: Role,
    key: impl Fn(&T) -> f64,
) -> Option<&T> {
    rows.iter()
        .filter(|r| role(r) == want)
        .fold(None, |b: Option<&T>, r| match b {
            Some(x) if key(x) >= key(r) => Some(x),
            _ => Some(r),
        })
}

/// Everything `cellsindy probe` measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// The settings.
    pub config: ProbeConfig,
    /// Checkpoint directory (as given).
    pub model: String,
    /// Data file (as given).
    pub data: String,
    /// Training cells (the baselines are fitted on them).
    pub n_train: usize,
    /// Held-out cells scored.
    pub n_scored: usize,
    /// Genes the baselines see (the model's vocabulary).
    pub n_genes: usize,
    /// Share of the training cells' variance the PCA components explain.
    pub pca_explained_variance: f64,
    /// Covariance probe.
    pub covariance: CovarianceReport,
    /// XOR probe on the markers.
    pub xor_markers: XorReport,
    /// XOR probe on the gate gene.
    pub xor_gate: XorReport,
    /// Seconds spent.
    pub seconds: f64,
}

/// Names as escaped Markdown, comma-separated.
fn markdown_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| markdown(n).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

fn signed(v: f64) -> String {
    format!("{v:+.2}")
}

/// ` [lo, hi]` of a method's `i`-th ρ interval, or nothing.
fn interval(m: &MethodCovariance, i: usize) -> String {
    m.rho_intervals
        .map(|iv| format!(" [{}, {}]", signed(iv[i].lo), signed(iv[i].hi)))
        .unwrap_or_default()
}

impl CovarianceReport {
    /// The model's best readout against the best baseline, by the continuous error of the
    /// Spearman matrix (the score is its negative, so a positive margin means a smaller error);
    /// `None` without a model or a baseline row.
    pub fn comparison(&self) -> Option<Comparison> {
        let key = |m: &MethodCovariance| -m.matrix_error;
        let model = best(&self.methods, |m| m.role, Role::Model, key)?;
        let base = best(&self.methods, |m| m.role, Role::Baseline, key)?;
        Some(Comparison {
            model: model.method.clone(),
            model_score: model.matrix_error,
            baseline: base.method.clone(),
            baseline_score: base.matrix_error,
            margin: base.matrix_error - model.matrix_error,
            metric: "Spearman-matrix error (lower is better; margin = baseline − model)".into(),
            ceiling: None,
        })
    }

    /// The Markdown table: Aspect / Real ρ / each method's ρ (sign match ✓/✗), final score.
    pub fn markdown(&self, a_name: &str, b_name: &str) -> String {
        let mut s = String::new();
        let (a_name, b_name) = (markdown(a_name), markdown(b_name));
        let aspects = [
            format!("within {a_name}"),
            format!("within {b_name}"),
            format!("{a_name} × {b_name}"),
        ];
        let _ = write!(s, "| Aspect | Real ρ |");
        for m in &self.methods {
            let _ = write!(s, " {} ρ |", m.method);
        }
        let _ = write!(s, "\n|---|---|");
        for _ in &self.methods {
            let _ = write!(s, "---|");
        }
        s.push('\n');
        let real = self.real.rho.as_array();
        for (i, aspect) in aspects.iter().enumerate() {
            let _ = write!(
                s,
                "| {aspect} | {}{} ({}) |",
                signed(real[i]),
                interval(&self.real, i),
                self.real.signs[i].symbol()
            );
            for m in &self.methods {
                let r = m.rho.as_array()[i];
                let _ = write!(
                    s,
                    " {}{} ({}) {} |",
                    signed(r),
                    interval(m, i),
                    m.signs[i].symbol(),
                    if m.matches[i] { "✓" } else { "✗" }
                );
            }
            s.push('\n');
        }
        let _ = write!(s, "| **sign match** | |");
        for m in &self.methods {
            let k = m.matches.iter().filter(|&&x| x).count();
            let _ = write!(s, " **{k}/3** |");
        }
        let _ = write!(s, "\n| Spearman-matrix error | 0 |");
        for m in &self.methods {
            let _ = write!(s, " {:.3} |", m.matrix_error);
        }
        s.push('\n');
        if let Some(c) = self.comparison() {
            s.push('\n');
            s.push_str(&c.markdown());
        }
        s
    }
}

impl XorReport {
    /// The model against the best baseline by balanced accuracy (ties: AUROC); `None` without
    /// a model or a baseline row.
    pub fn comparison(&self) -> Option<Comparison> {
        let key = |m: &XorMethod| m.scores.balanced_accuracy + 1e-9 * m.scores.auroc;
        let model = best(&self.methods, |m| m.role, Role::Model, key)?;
        let base = best(&self.methods, |m| m.role, Role::Baseline, key)?;
        let ceiling = best(&self.methods, |m| m.role, Role::Reference, key)
            .map(|c| (c.method.clone(), c.scores.balanced_accuracy));
        Some(Comparison {
            model: model.method.clone(),
            model_score: model.scores.balanced_accuracy,
            baseline: base.method.clone(),
            baseline_score: base.scores.balanced_accuracy,
            margin: model.scores.balanced_accuracy - base.scores.balanced_accuracy,
            metric: "balanced accuracy".into(),
            ceiling,
        })
    }

    /// The Markdown table: Method / balanced accuracy / AUROC / confusion / probability rule.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| Method | Balanced accuracy | AUROC | Confusion [[TN, FP], [FN, TP]] | Probability |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        for m in &self.methods {
            let c = m.scores.confusion;
            let _ = writeln!(
                s,
                "| {} | {:.3} | {:.3} | [[{}, {}], [{}, {}]] | {} |",
                m.method,
                m.scores.balanced_accuracy,
                m.scores.auroc,
                c[0][0],
                c[0][1],
                c[1][0],
                c[1][1],
                m.probability
            );
        }
        if let Some(c) = self.comparison() {
            s.push('\n');
            s.push_str(&c.markdown());
        }
        s
    }
}

impl Comparison {
    /// One line: the model's best row, the best baseline, the margin and what it means.
    pub fn markdown(&self) -> String {
        let verdict = if self.margin > 0.0 {
            "the model is ahead"
        } else if self.margin == 0.0 {
            "a tie"
        } else {
            "**the model does not beat the best baseline**"
        };
        let ceiling = self
            .ceiling
            .as_ref()
            .map(|(name, v)| format!(" Ceiling: {name} {v:.3}."))
            .unwrap_or_default();
        format!(
            "Model vs best baseline ({}): {} {:.3}, {} {:.3}; margin {:+.3}: {}.{}\n",
            self.metric,
            self.model,
            self.model_score,
            self.baseline,
            self.baseline_score,
            self.margin,
            verdict,
            ceiling
        )
    }
}

impl ProbeReport {
    /// The whole report as Markdown.
    pub fn markdown(&self) -> String {
        let c = &self.config;
        let mut s = String::new();
        let _ = writeln!(s, "# Probe report\n");
        let _ = writeln!(
            s,
            "Model {} on {}: {} held-out cells scored (the model's validation split); the baselines (PCA with {} components, {:.1} % of the variance, and the others listed in each table) fitted on the {} training cells, on `normalize_total` + `log1p` values of the model's {} vocabulary genes. Each table ends with the model's margin over the best baseline.\n",
            markdown_code(&self.model),
            markdown_code(&self.data),
            self.n_scored,
            c.n_components,
            100.0 * self.pca_explained_variance,
            self.n_train,
            self.n_genes
        );
        let _ = writeln!(s, "## Covariance probe\n");
        let _ = writeln!(
            s,
            "Mean pairwise Spearman ρ; all {} genes masked and imputed; sign with dead zone |ρ| < {} → 0. The model's bins are read back as expression through each cell's bin edges (`tokenize::BinDecoder`: a per-cell bin is a rank among the visible genes, so undecoded bins of masked genes share the cell's scale); Spearman is rank-based, so these and the baselines' log values compare directly with the real normalised expression.\n",
            self.covariance.genes.len(),
            c.dead_zone
        );
        if let Some(col) = &c.covariance_within {
            let _ = writeln!(
                s,
                "Every ρ here is taken **within** the values of `obs` column `{col}` (each value's Spearman matrix, weighted by its cells), not over all cells.\n"
            );
        }
        s.push_str(&self.covariance.markdown(&c.group_a_name, &c.group_b_name));
        let _ = writeln!(s);
        for m in &self.covariance.methods {
            let _ = writeln!(
                s,
                "- {}: final score {:.2} ({} of 3 signs){}",
                m.method,
                m.score,
                m.matches.iter().filter(|&&x| x).count(),
                if m.constant_genes.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; constant imputations (ρ undefined, counted as 0): {}",
                        markdown_list(&m.constant_genes)
                    )
                }
            );
        }
        for x in [&self.xor_markers, &self.xor_gate] {
            let _ = writeln!(s, "\n## XOR probe: {}\n", markdown(&x.target));
            let _ = writeln!(
                s,
                "Masked: {}. Truth: {} ({} of {} cells positive). Expression thresholds (log1p normalised) {}; model HIGH ⇔ bin ≥ {}.\n",
                markdown_list(&x.masked),
                markdown(&x.truth_rule),
                x.n_positive,
                x.n_cells,
                x.thresholds
                    .iter()
                    .map(|t| format!("{t:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                x.bin_thresholds
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            s.push_str(&x.markdown());
        }
        let _ = writeln!(s, "\nFigures: `roc_markers.svg`, `roc_gate.svg`, `covariance_heatmaps.svg`. Computed in {:.1} s.", self.seconds);
        s
    }
}

impl std::fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.markdown())
    }
}
