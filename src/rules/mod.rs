//! Sparse regulatory rules: gene rules read out of sparse regressions, scored against a known
//! network.
//!
//! The same sparse-regression core that recovers the Lorenz equations ([`crate::library`],
//! [`crate::optimize`]) is applied to gene data; this module adds what is gene-specific:
//!
//! | module part | what |
//! |---|---|
//! | [`boolean_library`], [`binarize`], [`HillLibrary`] | libraries that suit regulation: Boolean monomials of 0/1 states (XOR reads as `a + b − 2ab`), Hill activation/repression terms and their products |
//! | [`extract_rules`] | a [`crate::optimize::SparseFit`] + what each feature multiplies → [`RuleSet`] (terms, coefficients, inclusion probabilities) and signed, scored edges |
//! | [`TruthNetwork`] | ground truth from the synthetic generator's JSON/TSV, Boolean update rules (`C = (A and not B) or (B and not A)`) or a signed coupling list (`target regulator weight`) |
//! | [`evaluate`] | signed-edge AUPRC, AUROC, BEELINE early-precision ratio, exact term recovery, sign accuracy; self-loops apart; the same for \|Pearson\| and \|Spearman\| baselines |
//! | [`fit_distilled`] | route 1: a model's predictions of a masked target (`P(HIGH)`, expected expression) regressed on Boolean monomials / polynomials of its candidate regulators; the model side is [`distill_model`] (feature `nn`) |
//! | [`explain_units`] | route 2: each unit of a network (neuron, residual dimension, sparse-dictionary feature) regressed on the Boolean library of binarised genes chosen by a pair screen → a rule, its R², single-gene / interaction, and the gate it computes |
//! | [`fit_dynamics`] | route 3: SINDy with Hill terms on expression time courses, edges scored by ensemble inclusion probability |
//!
//! # Sign convention
//!
//! An edge's sign is the sign of the coefficient of the **lowest-degree term that contains the
//! regulator** (ties: the largest magnitude), the convention of the synthetic generator's
//! [`crate::synthetic::SignedEdge`]: XOR `a + b − 2ab` gives `a → +`, `b → +`; AND `ab` gives
//! `+, +`; AND-NOT `a − ab` gives `a → +`, `b → −`; `1 − a` (NOT) gives `a → −`. The sign is
//! what the regulator does when the other regulators of the rule are off.

mod activations;
mod distill;
mod dynamics;
mod evaluate;
mod extract;
mod ground_truth;
mod libraries;
#[cfg(feature = "nn")]
mod model_distill;
mod network_baselines;

pub use activations::{explain_units, gate_op, ExplainParams, Gate, UnitKind, UnitRule};
pub use distill::{fit_distilled, fit_observed, DistillFit, DistillParams, DistilledTarget};
pub use dynamics::{fit_dynamics, DynamicsFit, DynamicsParams, TargetTrace};
pub use evaluate::{
    correlation_edges, evaluate, CorrelationKind, EdgeMetrics, Evaluation, SelfLoopReport,
    TargetRecovery,
};
pub use extract::{edge_sign, extract_rules, FeatureTerms};
pub use ground_truth::{parse_boolean_rule, BoolExpr, TruthEdge, TruthNetwork};
pub use libraries::{binarize, boolean_library, HillLibrary, HillMode};
#[cfg(feature = "nn")]
pub use model_distill::{
    distill_cells, distill_model, distill_rows, DistillConfig, DistillRun, DistillStage,
    Distillation,
};
pub use network_baselines::{genie3, lagged_regression};

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// One term of a rule: `coef · Π factors`, with the genes it involves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTerm {
    /// The library feature's name (`"TFA TFB"`, `"H(TFA) H(TFB)"`, `"1"`).
    pub feature: String,
    /// Genes the feature depends on (sorted, distinct; empty for the constant and controls).
    pub genes: Vec<String>,
    /// Coefficient.
    pub coef: f64,
    /// Fraction of ensemble members that kept the term (`None` for a single fit).
    pub inclusion: Option<f64>,
}

/// The sparse rule of one target: `target = Σ terms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Target gene.
    pub target: String,
    /// Left-hand side as written (`"TGXOR"`, `"dTGXOR/dt"`).
    pub lhs: String,
    /// Non-zero terms, in library order.
    pub terms: Vec<RuleTerm>,
}

impl Rule {
    /// The set of gene sets of the terms that involve genes other than the ones in `skip`
    /// (the target's own decay term is skipped in the dynamics route). Constants and controls
    /// involve no gene and are left out. This is what exact term recovery compares.
    pub fn gene_terms(&self, skip: &[String]) -> BTreeSet<Vec<String>> {
        self.terms
            .iter()
            .filter(|t| {
                let own = matches!(t.genes.as_slice(), [g] if skip.contains(g));
                !t.genes.is_empty() && !own
            })
            .map(|t| t.genes.clone())
            .collect()
    }

    /// Plain text with `precision` significant digits: `TGXOR = TFA + TFB - 2 TFA·TFB`.
    /// Products are joined with `·`; a coefficient of ±1 is not written.
    pub fn text(&self, precision: usize) -> String {
        render(self, precision, false)
    }

    /// LaTeX (no surrounding `$`): `\mathrm{TGXOR} = \mathrm{TFA} + \mathrm{TFB} - 2\,\mathrm{TFA}\,\mathrm{TFB}`.
    pub fn latex(&self, precision: usize) -> String {
        render(self, precision, true)
    }
}

/// Rules for several targets, with the feature names they were read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSet {
    /// One rule per target.
    pub rules: Vec<Rule>,
    /// Signed, scored edges (regulator → target) over every candidate pair.
    pub edges: Vec<ScoredEdge>,
}

impl RuleSet {
    /// The rule of `target`.
    pub fn rule(&self, target: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.target == target)
    }

    /// The rules as text, one per line.
    pub fn text(&self, precision: usize) -> String {
        self.rules
            .iter()
            .map(|r| r.text(precision) + "\n")
            .collect()
    }

    /// The rules as a LaTeX `align*` block.
    pub fn latex(&self, precision: usize) -> String {
        let mut s = String::from("\\begin{align*}\n");
        for (i, r) in self.rules.iter().enumerate() {
            let l = r.latex(precision).replacen(" = ", " &= ", 1);
            s.push_str(&l);
            s.push_str(if i + 1 < self.rules.len() {
                " \\\\\n"
            } else {
                "\n"
            });
        }
        s.push_str("\\end{align*}\n");
        s
    }

    /// Edge table as TSV with a header: `regulator target sign score max_abs_coef`, sorted by
    /// decreasing score.
    pub fn edges_tsv(&self) -> String {
        let mut edges: Vec<&ScoredEdge> = self.edges.iter().collect();
        edges.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut s = String::from("regulator\ttarget\tsign\tscore\tmax_abs_coef\n");
        for e in edges {
            s.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\n",
                crate::escape::tsv(&e.regulator),
                crate::escape::tsv(&e.target),
                e.sign,
                e.score,
                e.max_abs_coef
            ));
        }
        s
    }
}

/// A candidate edge `regulator → target` with a score (higher = more confident) and a sign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredEdge {
    /// Regulator gene.
    pub regulator: String,
    /// Target gene.
    pub target: String,
    /// +1 activation, −1 repression, 0 unknown (no term).
    pub sign: i8,
    /// Ranking score (see [`extract_rules`] for the rules route, [`correlation_edges`] for
    /// baselines).
    pub score: f64,
    /// Largest coefficient magnitude of a term containing the regulator (0 if none).
    pub max_abs_coef: f64,
}

fn latex_factor(f: &str) -> String {
    // "H(TFA)" → \mathrm{H}(\mathrm{TFA}); "x^2" → \mathrm{x}^{2}.
    let esc = |s: &str| crate::escape::latex(s).into_owned();
    if let Some(inner) = f.strip_prefix("H(").and_then(|r| r.strip_suffix(')')) {
        return format!("H(\\mathrm{{{}}})", esc(inner));
    }
    if let Some(inner) = f.strip_prefix("R(").and_then(|r| r.strip_suffix(')')) {
        return format!("R(\\mathrm{{{}}})", esc(inner));
    }
    match f.split_once('^') {
        Some((b, p)) => format!("\\mathrm{{{}}}^{{{p}}}", esc(b)),
        None => format!("\\mathrm{{{}}}", esc(f)),
    }
}

fn render(rule: &Rule, precision: usize, latex: bool) -> String {
    let lhs = if latex {
        match rule
            .lhs
            .strip_prefix('d')
            .and_then(|r| r.strip_suffix("/dt"))
        {
            Some(g) => format!("\\dot{{\\mathrm{{{}}}}}", crate::escape::latex(g)),
            None => latex_factor(&rule.lhs),
        }
    } else {
        rule.lhs.clone()
    };
    let mut s = format!("{lhs} =");
    if rule.terms.is_empty() {
        s.push_str(" 0");
        return s;
    }
    for (i, t) in rule.terms.iter().enumerate() {
        let neg = t.coef < 0.0;
        let mag = t.coef.abs();
        if i == 0 {
            s.push_str(if neg { " -" } else { " " });
        } else {
            s.push_str(if neg { " - " } else { " + " });
        }
        let factors: Vec<&str> = t.feature.split(' ').filter(|f| !f.is_empty()).collect();
        let is_const = t.feature == "1" || factors.is_empty();
        let body = if latex {
            factors
                .iter()
                .map(|f| latex_factor(f))
                .collect::<Vec<_>>()
                .join("\\,")
        } else {
            factors.join("·")
        };
        let num = crate::stats::format_significant(mag, precision);
        if is_const {
            s.push_str(&num);
        } else if num == "1" {
            s.push_str(&body);
        } else if latex {
            s.push_str(&format!("{num}\\,{body}"));
        } else {
            s.push_str(&format!("{num} {body}"));
        }
    }
    s
}
