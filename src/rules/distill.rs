//! Route 1: distillation of a model's predictions into sparse gene rules.
//!
//! The model (any predictor; in practice the gene transformer through
//! [`super::distill_model`]) is asked, over many cells, what it expects of a masked target
//! gene given everything else. Its answers are a function of the visible genes; this module
//! reads that function off as a sparse polynomial of a few **candidate regulators**, with the
//! same sparse-regression core as every other route:
//!
//! - **Boolean rule**: the model's `P(HIGH)` of the target regressed on the Boolean monomials
//!   ([`super::boolean_library`]) of the candidates' binarised observed states. Every Boolean
//!   function of `d` inputs is one multilinear polynomial of degree `d`, so the gate reads off
//!   the coefficients: XOR `a + b − 2ab`, AND `ab`, AND-NOT `a − ab`.
//! - **Expression rule**: the model's expected expression (expected bin, scaled to [0, 1]) on a
//!   polynomial of the candidates' levels (each divided by its largest value), for graded
//!   regulation that a 0/1 cut would lose.
//!
//! The ensemble's inclusion probabilities score the edges (see [`super::extract_rules`]); a
//! regulator that was not a candidate of a target gets an edge of score 0, so every route and
//! baseline ranks the same pairs.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::library::{FeatureLibrary, PolynomialLibrary};
use crate::optimize::{EnsembleParams, OptimizerConfig, StlsqParams};

use super::extract::{extract_rules, FeatureTerms};
use super::libraries::boolean_library;
use super::{RuleSet, ScoredEdge};

/// Parameters of [`fit_distilled`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `degree` | 2 | most factors in a Boolean monomial / degree of the expression polynomial | `>= 1` |
/// | `optimizer` | ensemble of 40 STLSQ fits (threshold 0.1, row bagging, seed 0) | sparse regression | |
///
/// Why threshold 0.1: the responses are probabilities (or expected bins scaled to [0, 1]) and
/// the features are 0/1 states, so a real term of a gate moves the response by a sizeable
/// fraction of 1 (XOR: ±1, −2), while a non-regulator's coefficient is the model's noise,
/// a few hundredths; 0.1 is pysindy's default and lies between the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillParams {
    /// Degree of the libraries.
    pub degree: u32,
    /// Sparse regression (an ensemble gives inclusion probabilities, the edge scores).
    pub optimizer: OptimizerConfig,
}

impl Default for DistillParams {
    fn default() -> Self {
        DistillParams {
            degree: 2,
            optimizer: OptimizerConfig::Ensemble(EnsembleParams::default().inner(
                OptimizerConfig::Stlsq(StlsqParams::default().threshold(0.1)),
            )),
        }
    }
}

impl DistillParams {
    /// Sets the seed of an ensemble optimizer (no effect on a single fit).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        if let OptimizerConfig::Ensemble(e) = &mut self.optimizer {
            e.seed = seed;
        }
        self
    }
}

/// What the model said about one target, over the same cells for every array.
#[derive(Debug, Clone, PartialEq)]
pub struct DistilledTarget {
    /// Target gene.
    pub target: String,
    /// Its candidate regulators (the library's inputs), at least one.
    pub candidates: Vec<String>,
    /// `(n_cells, n_candidates)` binarised observed states of the candidates (0/1).
    pub states: Array2<f64>,
    /// `(n_cells, n_candidates)` observed levels of the candidates (any non-negative scale).
    pub levels: Array2<f64>,
    /// `n_cells`: the model's `P(HIGH)` of the masked target.
    pub p_high: Vec<f64>,
    /// `n_cells`: the model's expected expression of the masked target, in [0, 1].
    pub expected: Vec<f64>,
}

/// Distilled rules of several targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillFit {
    /// Boolean rules (`TGXOR = TFA + TFB − 2 TFA·TFB`) and the scored edges of every
    /// `regulator → target` pair.
    pub rules: RuleSet,
    /// Expression rules (`E[TGXOR] = …` in scaled levels), edges scored the same way.
    pub expression: RuleSet,
}

/// Fits one Boolean and one expression rule per target and scores every pair
/// `regulator → target` with `regulator` in `regulators` (the target itself left out):
/// candidates by their ensemble inclusion probability ([`super::extract_rules`]), every other
/// regulator 0 with sign 0.
///
/// # Errors
/// [`Error::Empty`] for a target without candidates; [`Error::Shape`] if a target's arrays
/// disagree; [`Error::InvalidParam`] for `degree == 0`; optimizer errors.
pub fn fit_distilled(
    targets: &[DistilledTarget],
    regulators: &[String],
    p: &DistillParams,
) -> Result<DistillFit> {
    let fits = targets
        .par_iter()
        .map(|t| fit_one(t, regulators, p))
        .collect::<Result<Vec<_>>>()?;
    let mut rules = RuleSet {
        rules: Vec::new(),
        edges: Vec::new(),
    };
    let mut expression = rules.clone();
    for (b, e) in fits {
        rules.rules.extend(b.rules);
        rules.edges.extend(b.edges);
        expression.rules.extend(e.rules);
        expression.edges.extend(e.edges);
    }
    Ok(DistillFit { rules, expression })
}

/// The model-free counterpart of distillation: the same Boolean and expression rules
/// ([`fit_distilled`]) fitted to each target's **observed** ON state and level instead of a
/// model's prediction, with candidates from a model-free screen instead of the model's
/// occlusion attribution: the genes of the best pairs of [`crate::baselines::interaction_screen`]
/// on the binarised states (a gate's inputs have no marginal signal, their product does), then
/// the best main effects, `n_candidates` in all. If the model's rules are no better than these,
/// reading them out of the model added nothing.
///
/// `levels` are `(cells, genes)` non-negative expression values (e.g. `log1p` normalised);
/// every gene is called ON above the midpoint of its two-means clusters over the cells (as the
/// distillation does).
///
/// # Errors
/// [`Error::UnknownGenes`] for a target not in `genes`; [`Error::Shape`] if `genes` does not
/// name the columns; [`Error::InvalidParam`] for `n_candidates == 0`; [`Error::Empty`] with
/// fewer than two other genes; screen and regression errors.
pub fn fit_observed(
    levels: ArrayView2<'_, f64>,
    genes: &[String],
    targets: &[String],
    n_candidates: usize,
    p: &DistillParams,
) -> Result<DistillFit> {
    let (n, g) = levels.dim();
    if genes.len() != g {
        return Err(Error::shape(
            "fit_observed",
            format!("{g} gene names"),
            genes.len().to_string(),
        ));
    }
    if n_candidates == 0 {
        return Err(Error::param("n_candidates", 0, "must be at least 1"));
    }
    if g < 3 {
        return Err(Error::Empty {
            what: "genes",
            why: format!("{g} genes: a target needs at least two others"),
        });
    }
    let missing: Vec<String> = targets
        .iter()
        .filter(|t| !genes.contains(t))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Error::UnknownGenes { genes: missing });
    }
    let thresholds = levels
        .columns()
        .into_iter()
        .map(|c| crate::probes::Binarize::TwoMeans.threshold(&c.to_vec()))
        .collect::<Result<Vec<_>>>()?;
    let states = Array2::from_shape_fn((n, g), |(i, j)| {
        f64::from(u8::from(levels[[i, j]] > thresholds[j]))
    });
    // The target-independent part of the screen, once for every target.
    let screener = crate::baselines::InteractionScreener::new(states.view())?;
    let data = targets
        .iter()
        .map(|t| {
            let tc = genes.iter().position(|x| x == t).unwrap_or(0);
            let y: Vec<f64> = states.column(tc).to_vec();
            let screen = screener.screen(&y, n_candidates, &[tc])?;
            let mut cand: Vec<usize> = Vec::new();
            for &(a, b, _) in &screen.pairs {
                for k in [a, b] {
                    if cand.len() < n_candidates && !cand.contains(&k) {
                        cand.push(k);
                    }
                }
            }
            let mut mains: Vec<usize> = (0..g).filter(|&j| j != tc).collect();
            mains.sort_by(|&a, &b| screen.main[b].total_cmp(&screen.main[a]).then(a.cmp(&b)));
            for k in mains {
                if cand.len() >= n_candidates {
                    break;
                }
                if !cand.contains(&k) {
                    cand.push(k);
                }
            }
            let top = levels.column(tc).iter().fold(0.0f64, |a, &v| a.max(v));
            Ok(DistilledTarget {
                target: t.clone(),
                candidates: cand.iter().map(|&c| genes[c].clone()).collect(),
                states: states.select(Axis(1), &cand),
                levels: levels.select(Axis(1), &cand),
                p_high: y,
                expected: levels
                    .column(tc)
                    .iter()
                    .map(|&v| if top > 0.0 { v / top } else { 0.0 })
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    fit_distilled(&data, genes, p)
}

fn fit_one(
    t: &DistilledTarget,
    regulators: &[String],
    p: &DistillParams,
) -> Result<(RuleSet, RuleSet)> {
    let (n, k) = t.states.dim();
    if k == 0 {
        return Err(Error::Empty {
            what: "candidate regulators",
            why: format!("target {} has none", t.target),
        });
    }
    if t.candidates.len() != k
        || t.levels.dim() != (n, k)
        || t.p_high.len() != n
        || t.expected.len() != n
    {
        return Err(Error::shape(
            "fit_distilled",
            format!("{k} candidates and {n} cells in every array"),
            format!(
                "{} candidates, levels {:?}, {} P(HIGH), {} expected",
                t.candidates.len(),
                t.levels.dim(),
                t.p_high.len(),
                t.expected.len()
            ),
        ));
    }
    let opt = p.optimizer.build()?;
    let target = std::slice::from_ref(&t.target);
    let regs: Vec<String> = regulators
        .iter()
        .filter(|r| **r != t.target)
        .cloned()
        .collect();

    let blib = boolean_library(p.degree)?;
    let theta = blib.transform(t.states.view())?;
    let y = column(&t.p_high);
    let fit = opt.fit(theta.view(), y.view())?;
    let features = FeatureTerms::from_polynomial(&blib, &t.candidates)?;
    let boolean = extract_rules(&fit, &features, target, &t.candidates, &|g| g.into(), false)?;

    let plib = PolynomialLibrary::new(p.degree)?;
    let levels = scaled(t.levels.view());
    let theta = plib.transform(levels.view())?;
    let fit = opt.fit(theta.view(), column(&t.expected).view())?;
    let features = FeatureTerms::from_polynomial(&plib, &t.candidates)?;
    let lhs = |g: &str| format!("E[{g}]");
    let expression = extract_rules(&fit, &features, target, &t.candidates, &lhs, false)?;

    Ok((
        all_pairs(boolean, &regs, &t.target),
        all_pairs(expression, &regs, &t.target),
    ))
}

fn column(v: &[f64]) -> Array2<f64> {
    Array2::from_shape_fn((v.len(), 1), |(i, _)| v[i])
}

/// Each column divided by its largest magnitude (1 where it is all zero), so one threshold
/// suits every gene.
fn scaled(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut out = x.to_owned();
    for mut c in out.axis_iter_mut(Axis(1)) {
        let m = c.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        if m > 0.0 {
            c.mapv_inplace(|v| v / m);
        }
    }
    out
}

/// The edges of `rs` (its candidates) plus a score-0 edge for every other regulator.
fn all_pairs(mut rs: RuleSet, regulators: &[String], target: &str) -> RuleSet {
    let have: std::collections::BTreeSet<String> =
        rs.edges.iter().map(|e| e.regulator.clone()).collect();
    for r in regulators.iter().filter(|r| !have.contains(*r)) {
        rs.edges.push(ScoredEdge {
            regulator: r.clone(),
            target: target.to_string(),
            sign: 0,
            score: 0.0,
            max_abs_coef: 0.0,
        });
    }
    rs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A predictor that is exactly XOR of two of four candidates reads back as
    /// `a + b − 2ab`, and only those two get edges.
    #[test]
    fn observed_states_and_a_pair_screen_find_an_xor_without_a_model() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let n = 600;
        // Levels of 8 genes: bimodal on/off with noise; t = a xor b; u = g2 and not g5.
        let mut on = Array2::from_shape_fn((n, 8), |_| f64::from(rng.random::<bool>()));
        for i in 0..n {
            on[[i, 6]] = f64::from((on[[i, 1]] != on[[i, 4]]) as u8);
            on[[i, 7]] = on[[i, 2]] * (1.0 - on[[i, 5]]);
        }
        let levels = on.mapv(|v| 2.0 * v + 0.3 * rng.random::<f64>());
        let names: Vec<String> = ["g0", "a", "g2", "g3", "b", "g5", "t", "u"]
            .map(String::from)
            .to_vec();
        let targets = vec!["t".to_string(), "u".to_string()];
        let fit = fit_observed(
            levels.view(),
            &names,
            &targets,
            4,
            &DistillParams::default(),
        )
        .unwrap();
        let terms = |name: &str| -> Vec<(String, i64)> {
            fit.rules
                .rule(name)
                .unwrap()
                .terms
                .iter()
                .map(|t| (t.feature.clone(), t.coef.round() as i64))
                .collect()
        };
        let want = |v: &[(&str, i64)]| {
            v.iter()
                .map(|(f, c)| (f.to_string(), *c))
                .collect::<Vec<_>>()
        };
        assert_eq!(terms("t"), want(&[("a", 1), ("b", 1), ("a b", -2)]));
        assert_eq!(terms("u"), want(&[("g2", 1), ("g2 g5", -1)]));
        assert!(fit_observed(
            levels.view(),
            &names,
            &["nope".to_string()],
            4,
            &DistillParams::default()
        )
        .is_err());
        assert!(fit_observed(
            levels.view(),
            &names[..3],
            &targets,
            4,
            &DistillParams::default()
        )
        .is_err());
    }

    #[test]
    fn an_exact_xor_predictor_distils_to_a_plus_b_minus_2ab() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let n = 400;
        let states = Array2::from_shape_fn((n, 4), |_| f64::from(rng.random::<bool>()));
        let p_high: Vec<f64> = states
            .rows()
            .into_iter()
            .map(|r| r[1] + r[2] - 2.0 * r[1] * r[2])
            .collect();
        let names: Vec<String> = ["g0", "a", "b", "g3"].map(String::from).to_vec();
        let t = DistilledTarget {
            target: "t".into(),
            candidates: names.clone(),
            levels: states.clone(),
            states,
            expected: p_high.clone(),
            p_high,
        };
        let mut regs = names.clone();
        regs.push("other".into());
        let fit = fit_distilled(&[t], &regs, &DistillParams::default()).unwrap();
        let rule = fit.rules.rule("t").unwrap();
        let terms: Vec<(&str, i64)> = rule
            .terms
            .iter()
            .map(|t| (t.feature.as_str(), t.coef.round() as i64))
            .collect();
        assert_eq!(terms, [("a", 1), ("b", 1), ("a b", -2)], "{}", rule.text(3));
        let score = |r: &str| {
            fit.rules
                .edges
                .iter()
                .find(|e| e.regulator == r)
                .unwrap()
                .score
        };
        assert_eq!(fit.rules.edges.len(), 5);
        assert!(score("a") > 0.9 && score("b") > 0.9);
        assert!(score("g0") < 0.5 && score("g3") < 0.5 && score("other") == 0.0);
    }
}
