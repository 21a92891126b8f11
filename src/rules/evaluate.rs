//! Scoring rules and edge rankings against a known network, and correlation baselines.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stats::{auroc, average_precision};

use super::{RuleSet, ScoredEdge, TruthNetwork};
use crate::escape::markdown;

/// BEELINE's early-precision ratio: the precision among the top `k = n_positives` edges divided
/// by the precision of a random ranking, `n_positives / n_candidates`. **Ties**: the top set is
/// every edge scoring at least the `k`-th highest score (so tied edges are not ordered
/// arbitrarily), and edges scoring 0 (no support at all) are never in it. 0 when the top set
/// is empty; `None` when there are no positives.
///
/// # Errors
/// As [`crate::stats::average_precision`].
pub fn early_precision_ratio(
    scores: &[f64],
    labels: &[bool],
    n_positives: usize,
) -> Result<Option<f64>> {
    crate::stats::check_scores("early_precision_ratio", scores, labels)?;
    if n_positives == 0 || scores.is_empty() {
        return Ok(None);
    }
    let order = crate::stats::descending(scores);
    let k = n_positives.min(order.len());
    let kth = scores[order[k - 1]];
    let top: Vec<usize> = order
        .into_iter()
        .filter(|&i| scores[i] >= kth && scores[i] > 0.0)
        .collect();
    if top.is_empty() {
        return Ok(Some(0.0));
    }
    let hits = top.iter().filter(|&&i| labels[i]).count();
    let precision = hits as f64 / top.len() as f64;
    let random = n_positives as f64 / scores.len() as f64;
    Ok(Some(precision / random))
}

/// Ranking metrics of one method's edges (self-loops excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeMetrics {
    /// Candidate edges ranked (regulator ≠ target).
    pub n_candidates: usize,
    /// True edges among genes of the candidate set (the positives).
    pub n_true: usize,
    /// True edges naming a gene outside the candidate set (not counted anywhere).
    pub n_true_outside: usize,
    /// Precision of a random ranking, `n_true / n_candidates`.
    pub random_precision: f64,
    /// Average precision, edge direction only.
    pub auprc: Option<f64>,
    /// ROC AUC, edge direction only.
    pub auroc: Option<f64>,
    /// Early-precision ratio, edge direction only.
    pub epr: Option<f64>,
    /// Average precision counting an edge as found only with the right sign.
    pub auprc_signed: Option<f64>,
    /// ROC AUC with signed labels (a wrong-sign true edge is a negative).
    pub auroc_signed: Option<f64>,
    /// Early-precision ratio with signed labels.
    pub epr_signed: Option<f64>,
}

/// Self-loops, reported apart from the main scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfLoopReport {
    /// True self-loops (gene names).
    pub truth: Vec<String>,
    /// Predicted self-loops with a non-zero score.
    pub predicted: Vec<ScoredEdge>,
}

/// How one target's fitted rule compares with its true rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRecovery {
    /// Target gene.
    pub target: String,
    /// The true rule's terms as gene sets (constant left out).
    pub truth_terms: Vec<Vec<String>>,
    /// The fitted rule's terms as gene sets (constants and controls left out).
    pub fitted_terms: Vec<Vec<String>>,
    /// Term sets equal.
    pub exact: bool,
    /// Exact, and every term's coefficient has the true sign (XOR: `+a +b −ab`).
    pub exact_with_signs: bool,
    /// The fitted rule as text.
    pub fitted: String,
}

/// The evaluation of one method against a truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Method name (`"dynamics"`, `"|pearson|"`, ...).
    pub method: String,
    /// Edge ranking metrics.
    pub edges: EdgeMetrics,
    /// Fraction of true edges with a non-zero predicted sign whose sign is right (`None` if
    /// none has a sign).
    pub sign_accuracy: Option<f64>,
    /// True edges with a non-zero predicted sign (the denominator of `sign_accuracy`).
    pub n_signed: usize,
    /// Self-loops.
    pub self_loops: SelfLoopReport,
    /// Per-target term recovery (targets with a known rule and a fitted one).
    pub targets: Vec<TargetRecovery>,
}

impl Evaluation {
    /// Targets recovered exactly, out of those compared.
    pub fn exact_count(&self) -> (usize, usize) {
        (
            self.targets.iter().filter(|t| t.exact).count(),
            self.targets.len(),
        )
    }

    /// A Markdown table of several evaluations (one row per method), then per-target recovery.
    pub fn markdown(evals: &[Evaluation]) -> String {
        let f = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.3}"));
        let mut s = String::from(
            "| method | AUPRC | AUROC | EPR | signed AUPRC | signed EPR | sign accuracy | exact rules |\n|---|---|---|---|---|---|---|---|\n",
        );
        for e in evals {
            let (k, n) = e.exact_count();
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} ({} edges) | {} |\n",
                markdown(&e.method),
                f(e.edges.auprc),
                f(e.edges.auroc),
                f(e.edges.epr),
                f(e.edges.auprc_signed),
                f(e.edges.epr_signed),
                f(e.sign_accuracy),
                e.n_signed,
                if n > 0 {
                    format!("{k}/{n}")
                } else {
                    "–".into()
                },
            ));
        }
        if let Some(e) = evals.first() {
            s.push_str(&format!(
                "\n{} candidate edges, {} true (random precision {:.4}); {} true edge(s) outside the candidates; {} true self-loop(s), {} predicted.\n",
                e.edges.n_candidates,
                e.edges.n_true,
                e.edges.random_precision,
                e.edges.n_true_outside,
                e.self_loops.truth.len(),
                e.self_loops.predicted.len()
            ));
        }
        for e in evals.iter().filter(|e| !e.targets.is_empty()) {
            s.push_str(&format!(
                "\n## {}: rules\n\n| target | exact | signs | fitted |\n|---|---|---|---|\n",
                markdown(&e.method)
            ));
            for t in &e.targets {
                s.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    markdown(&t.target),
                    if t.exact { "yes" } else { "no" },
                    if t.exact_with_signs { "yes" } else { "no" },
                    markdown(&t.fitted)
                ));
            }
        }
        s
    }
}

/// Scores `edges` (one method's ranking of candidate pairs) and, when `rules` is given, each
/// fitted rule's terms against `truth`.
///
/// The candidates are the non-self pairs in `edges`; a true edge whose regulator is not among the
/// candidates' regulators or whose target is not among their targets is counted in
/// `n_true_outside` only. A listed true pair missing from `edges` still counts as a positive
/// (never recalled). With `skip_self_terms`, a target's own single-gene terms are left out of
/// its fitted terms (the dynamics route's decay).
///
/// # Errors
/// [`Error::NonFinite`] for a NaN score.
pub fn evaluate(
    method: &str,
    edges: &[ScoredEdge],
    rules: Option<&RuleSet>,
    truth: &TruthNetwork,
    skip_self_terms: bool,
) -> Result<Evaluation> {
    let truth_map: BTreeMap<(&str, &str), i8> = truth
        .edges
        .iter()
        .map(|e| ((e.regulator.as_str(), e.target.as_str()), e.sign))
        .collect();
    let regs: BTreeSet<&str> = edges.iter().map(|e| e.regulator.as_str()).collect();
    let tgts: BTreeSet<&str> = edges.iter().map(|e| e.target.as_str()).collect();
    let non_self: Vec<&ScoredEdge> = edges.iter().filter(|e| e.regulator != e.target).collect();
    let true_non_self: Vec<_> = truth
        .edges
        .iter()
        .filter(|e| e.regulator != e.target)
        .collect();
    let inside = |e: &&&super::TruthEdge| {
        regs.contains(e.regulator.as_str()) && tgts.contains(e.target.as_str())
    };
    let n_true = true_non_self.iter().filter(inside).count();
    let n_true_outside = true_non_self.len() - n_true;
    let scores: Vec<f64> = non_self.iter().map(|e| e.score).collect();
    let truth_sign = |e: &ScoredEdge| -> Option<i8> {
        truth_map
            .get(&(e.regulator.as_str(), e.target.as_str()))
            .copied()
    };
    let labels: Vec<bool> = non_self.iter().map(|e| truth_sign(e).is_some()).collect();
    let signed: Vec<bool> = non_self
        .iter()
        .map(|e| truth_sign(e) == Some(e.sign))
        .collect();
    let metrics = EdgeMetrics {
        n_candidates: non_self.len(),
        n_true,
        n_true_outside,
        random_precision: if non_self.is_empty() {
            0.0
        } else {
            n_true as f64 / non_self.len() as f64
        },
        auprc: average_precision(&scores, &labels, n_true)?,
        auroc: auroc(&scores, &labels)?,
        epr: early_precision_ratio(&scores, &labels, n_true)?,
        auprc_signed: average_precision(&scores, &signed, n_true)?,
        auroc_signed: auroc(&scores, &signed)?,
        epr_signed: early_precision_ratio(&scores, &signed, n_true)?,
    };
    let with_sign: Vec<&&ScoredEdge> = non_self
        .iter()
        .filter(|e| e.sign != 0 && truth_sign(e).is_some())
        .collect();
    let right = with_sign
        .iter()
        .filter(|e| truth_sign(e) == Some(e.sign))
        .count();
    let sign_accuracy = (!with_sign.is_empty()).then(|| right as f64 / with_sign.len() as f64);
    let self_loops = SelfLoopReport {
        truth: truth
            .edges
            .iter()
            .filter(|e| e.regulator == e.target)
            .map(|e| e.regulator.clone())
            .collect(),
        predicted: edges
            .iter()
            .filter(|e| e.regulator == e.target && e.score > 0.0)
            .cloned()
            .collect(),
    };
    let mut targets = Vec::new();
    if let Some(rs) = rules {
        for rule in &rs.rules {
            let Some(true_terms) = truth.rules.get(&rule.target) else {
                continue;
            };
            let skip = if skip_self_terms {
                vec![rule.target.clone()]
            } else {
                Vec::new()
            };
            let fitted = rule.gene_terms(&skip);
            let truth_set: BTreeSet<Vec<String>> = true_terms
                .iter()
                .filter(|t| !t.vars.is_empty() && t.coef != 0.0)
                .map(|t| t.vars.clone())
                .collect();
            let exact = fitted == truth_set;
            let signs_ok = exact
                && true_terms
                    .iter()
                    .filter(|t| !t.vars.is_empty() && t.coef != 0.0)
                    .all(|t| {
                        let c: f64 = rule
                            .terms
                            .iter()
                            .filter(|r| r.genes == t.vars)
                            .map(|r| r.coef)
                            .sum();
                        c.signum() == t.coef.signum()
                    });
            targets.push(TargetRecovery {
                target: rule.target.clone(),
                truth_terms: truth_set.into_iter().collect(),
                fitted_terms: fitted.into_iter().collect(),
                exact,
                exact_with_signs: signs_ok,
                fitted: rule.text(3),
            });
        }
    }
    Ok(Evaluation {
        method: method.to_string(),
        edges: metrics,
        sign_accuracy,
        n_signed: with_sign.len(),
        self_loops,
        targets,
    })
}

/// Which correlation a baseline ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationKind {
    /// Pearson's r.
    Pearson,
    /// Spearman's ρ (Pearson on average ranks).
    Spearman,
}

/// The correlation baseline: every ordered pair `regulator → target` (regulator ≠ target) of
/// the columns of `x`, scored by the absolute correlation and signed by its sign (a constant
/// column gives score 0 and sign 0). Correlation is symmetric, so both directions of a pair get
/// the same score: the baseline cannot tell direction, as in BEELINE.
///
/// # Shapes
/// `x`: `(n_samples, n_genes)`, `genes`: `n_genes`.
///
/// # Errors
/// [`Error::Shape`] if `genes` does not name every column, [`Error::NonFinite`] on NaN/Inf,
/// [`Error::TooFewSamples`] with fewer than 3 samples.
pub fn correlation_edges(
    x: ArrayView2<'_, f64>,
    genes: &[String],
    kind: CorrelationKind,
) -> Result<Vec<ScoredEdge>> {
    if genes.len() != x.ncols() {
        return Err(Error::shape(
            "correlation_edges",
            format!("{} gene names", x.ncols()),
            format!("{}", genes.len()),
        ));
    }
    if x.nrows() < 3 {
        return Err(Error::TooFewSamples {
            op: "correlation baseline".into(),
            needed: 3,
            got: x.nrows(),
        });
    }
    crate::error::check_finite("expression", x)?;
    let rho = match kind {
        // The probes' Spearman (average ranks, constant columns at 0).
        CorrelationKind::Spearman => crate::probes::spearman(x)?.rho,
        CorrelationKind::Pearson => {
            let cols: Vec<Vec<f64>> = x
                .columns()
                .into_iter()
                .map(|c| crate::stats::centred_unit(&c.to_vec()))
                .collect();
            ndarray::Array2::from_shape_fn((cols.len(), cols.len()), |(a, b)| {
                cols[a].iter().zip(&cols[b]).map(|(u, v)| u * v).sum()
            })
        }
    };
    let mut out = Vec::with_capacity(genes.len() * genes.len().saturating_sub(1));
    for (t, tg) in genes.iter().enumerate() {
        for (r, rg) in genes.iter().enumerate() {
            if r == t {
                continue;
            }
            let c = rho[(r, t)];
            out.push(ScoredEdge {
                regulator: rg.clone(),
                target: tg.clone(),
                sign: if c > 0.0 {
                    1
                } else if c < 0.0 {
                    -1
                } else {
                    0
                },
                score: c.abs(),
                max_abs_coef: 0.0,
            });
        }
    }
    Ok(out)
}
