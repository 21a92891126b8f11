//! From a sparse fit to rules and signed, scored edges.

use crate::error::{Error, Result};
use crate::library::FeatureLibrary;
use crate::optimize::{SparseFit, ZERO_TOL};

use super::{Rule, RuleSet, RuleTerm, ScoredEdge};

/// What each library feature is: its name, the genes it depends on, and whether it is the plain
/// linear value of one gene (the dynamics route reads the target's own linear term as decay,
/// not as a self-loop).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureTerms {
    names: Vec<String>,
    genes: Vec<Vec<String>>,
    linear: Vec<bool>,
}

impl FeatureTerms {
    /// Features from explicit lists (one entry per feature in each).
    ///
    /// # Errors
    /// [`Error::Shape`] if the lists differ in length.
    pub fn new(names: Vec<String>, genes: Vec<Vec<String>>, linear: Vec<bool>) -> Result<Self> {
        if genes.len() != names.len() || linear.len() != names.len() {
            return Err(Error::shape(
                "FeatureTerms::new",
                format!("{} gene lists and linear flags", names.len()),
                format!("{} and {}", genes.len(), linear.len()),
            ));
        }
        Ok(Self {
            names,
            genes,
            linear,
        })
    }

    /// Features of a polynomial-type library (one that reports
    /// [`FeatureLibrary::exponents`], e.g. [`super::boolean_library`]) on inputs named
    /// `genes`: a feature depends on the genes with a non-zero exponent.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if the library does not report exponents.
    pub fn from_polynomial(lib: &dyn FeatureLibrary, genes: &[String]) -> Result<Self> {
        let exps = lib.exponents(genes.len()).ok_or_else(|| {
            Error::Unsupported("feature terms of a library without exponents".into())
        })?;
        let names = lib.feature_names(genes);
        let g: Vec<Vec<String>> = exps
            .iter()
            .map(|e| {
                e.iter()
                    .zip(genes)
                    .filter(|(p, _)| **p > 0)
                    .map(|(_, n)| n.clone())
                    .collect::<Vec<_>>()
            })
            .map(|mut g| {
                // `RuleTerm::genes` is sorted: term recovery compares gene sets.
                g.sort();
                g
            })
            .collect();
        let linear = exps.iter().map(|e| e.iter().sum::<u32>() == 1).collect();
        Self::new(names, g, linear)
    }

    /// Features that depend on no gene (constant, control inputs), named `names`.
    pub fn gene_free(names: Vec<String>) -> Self {
        let n = names.len();
        Self {
            names,
            genes: vec![Vec::new(); n],
            linear: vec![false; n],
        }
    }

    /// The features of `self` followed by those of `other` (a concatenated library).
    #[must_use]
    pub fn concat(mut self, other: FeatureTerms) -> Self {
        self.names.extend(other.names);
        self.genes.extend(other.genes);
        self.linear.extend(other.linear);
        self
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no features.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Feature names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Genes of each feature.
    pub fn genes(&self) -> &[Vec<String>] {
        &self.genes
    }
}

/// Sign of `regulator`'s effect in a rule given as `(coef, genes)` terms: the sign of the
/// lowest-degree term containing it (ties: the largest magnitude); 0 if no term contains it.
/// See the module docs for why this matches the synthetic generator's convention.
pub fn edge_sign<'a>(terms: impl IntoIterator<Item = (f64, &'a [String])>, regulator: &str) -> i8 {
    let mut best: Option<(usize, f64)> = None;
    for (c, genes) in terms {
        if c.abs() <= ZERO_TOL || !genes.iter().any(|g| g == regulator) {
            continue;
        }
        let d = genes.len();
        best = match best {
            Some((bd, bc)) if bd < d || (bd == d && bc.abs() >= c.abs()) => Some((bd, bc)),
            _ => Some((d, c)),
        };
    }
    match best {
        Some((_, c)) if c > 0.0 => 1,
        Some(_) => -1,
        None => 0,
    }
}

/// Reads a sparse fit as one rule per target and scores every candidate edge.
///
/// `fit.coef` is `(n_features, n_targets)` over the features described by `features`;
/// `targets` names the columns and `lhs(target)` writes each rule's left-hand side. Every pair
/// `regulator → target` with the regulator in `regulators` becomes a [`ScoredEdge`]
/// (including `target → target`, which [`super::evaluate`] reports apart as a self-loop):
///
/// - **score**: with an ensemble, the largest inclusion probability of a feature containing the
///   regulator (how often the data support *some* dependence on it, the quantity the ensemble
///   estimates); without one, the largest coefficient magnitude of such a feature in the fit;
/// - **sign**: [`edge_sign`] of the fitted rule (0 when the fitted rule has no such term).
///
/// With `linear_self_is_decay`, a target's own linear term (`-d·x`) is read as decay and does not
/// make a self-loop.
///
/// # Errors
/// [`Error::Shape`] if the fit, the features and the targets disagree in size.
pub fn extract_rules(
    fit: &SparseFit,
    features: &FeatureTerms,
    targets: &[String],
    regulators: &[String],
    lhs: &dyn Fn(&str) -> String,
    linear_self_is_decay: bool,
) -> Result<RuleSet> {
    let (nf, nt) = fit.coef.dim();
    if nf != features.len() || nt != targets.len() {
        return Err(Error::shape(
            "extract_rules",
            format!("coefficients ({}, {})", features.len(), targets.len()),
            format!("({nf}, {nt})"),
        ));
    }
    if let Some(inc) = &fit.inclusion {
        if inc.dim() != fit.coef.dim() {
            return Err(Error::shape(
                "extract_rules inclusion",
                format!("({nf}, {nt})"),
                format!("{:?}", inc.dim()),
            ));
        }
    }
    let mut rules = Vec::with_capacity(nt);
    let mut edges = Vec::with_capacity(nt * regulators.len());
    for (j, target) in targets.iter().enumerate() {
        let is_decay = |f: usize| {
            linear_self_is_decay && features.linear[f] && features.genes[f] == [target.clone()]
        };
        let terms: Vec<RuleTerm> = (0..nf)
            .filter(|&f| fit.coef[(f, j)].abs() > ZERO_TOL)
            .map(|f| RuleTerm {
                feature: features.names[f].clone(),
                genes: features.genes[f].clone(),
                coef: fit.coef[(f, j)],
                inclusion: fit.inclusion.as_ref().map(|inc| inc[(f, j)]),
            })
            .collect();
        for reg in regulators {
            let mut score: f64 = 0.0;
            let mut max_abs: f64 = 0.0;
            for f in 0..nf {
                if is_decay(f) || !features.genes[f].contains(reg) {
                    continue;
                }
                let c = fit.coef[(f, j)].abs();
                max_abs = max_abs.max(c);
                score = score.max(match &fit.inclusion {
                    Some(inc) => inc[(f, j)],
                    None => c,
                });
            }
            let sign = edge_sign(
                (0..nf)
                    .filter(|&f| !is_decay(f))
                    .map(|f| (fit.coef[(f, j)], features.genes[f].as_slice())),
                reg,
            );
            edges.push(ScoredEdge {
                regulator: reg.clone(),
                target: target.clone(),
                sign,
                score,
                max_abs_coef: max_abs,
            });
        }
        rules.push(Rule {
            target: target.clone(),
            lhs: lhs(target),
            terms,
        });
    }
    Ok(RuleSet { rules, edges })
}
