//! Route 2: explain units of a network (neurons, residual-stream dimensions, sparse-dictionary
//! features) by sparse Boolean rules over binarised genes.
//!
//! Each unit `u` (one column of activations over cells, standardised to mean 0 and unit
//! variance) is regressed on the Boolean library (degree 2 by default: `1, a, b, ab, …`) of the 0/1
//! states of a few candidate genes, with the crate's sparse regression (an STLSQ ensemble by
//! default, whose inclusion probabilities say how stable each term is). The rule reads like
//! the synthetic network's: `z(u) = c (TFA + TFB − 2 TFA·TFB)` is a unit that computes XOR.
//!
//! **Candidate genes by a pair screen.** A unit that computes XOR of two genes is uncorrelated
//! with each of them when they are balanced, so ranking genes by correlation misses exactly
//! the interactions route 2 looks for. Instead every gene pair `(i, j)` is scored by the
//! saturated two-gene model: on two 0/1 genes, `[1, a, b, ab]` spans every function, and its
//! least-squares fit is the mean of `u` in each of the four groups `(a, b) ∈ {0,1}²`, so its R²
//! is the between-group share of the variance, read from group sums (`Bᵀ Y` and
//! `(B_i ∘ B_j)ᵀ Y`, two matrix products for all units at once). A gene's score is its best pair's
//! R², and the `n_candidates` best genes (ties: single-gene R²) form the unit's library.
//!
//! **Kind.** A rule with R² below `min_r2` is *unexplained*; otherwise it is *single-gene*
//! (all its terms involve one gene), *interaction* (it holds a product term) or *additive*.
//! An interaction's strongest product `ab` is also read as a **gate**: the rule's terms over
//! `a` and `b` alone, evaluated at the four corners and cut at the midpoint of their range,
//! give a truth table and its name (`AND`, `XOR`, `a AND NOT b`, …).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::library::FeatureLibrary;
use crate::optimize::{EnsembleParams, OptimizerConfig, StlsqParams, ZERO_TOL};

use super::extract::{extract_rules, FeatureTerms};
use super::libraries::boolean_library;
use super::Rule;

/// Parameters of [`explain_units`].
///
/// The threshold 0.1 is in standard deviations of the unit per unit change of a 0/1 term:
/// terms that move the unit by less than a tenth of its spread are dropped.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `n_candidates` | 4 | genes in each unit's library (from the pair screen) | `≥ 1` |
/// | `candidates` | `None` | fixed candidate genes for every unit (skips the screen) | names among the genes |
/// | `degree` | 2 | Boolean library degree | `≥ 1` |
/// | `optimizer` | ensemble of 20 STLSQ fits (threshold 0.1, row bagging, seed 0) | sparse regression | |
/// | `min_r2` | 0.3 | below this a unit is *unexplained* | `[0, 1]` |
/// | `min_frequency` | 0.02 | genes ON (or OFF) in fewer cells than this share are not screened | `[0, 0.5)` |
/// | `min_cells` | 20 | units away from their median in fewer cells are *rare* (not fitted: a rule over a handful of cells is noise) | |
/// | `holdout` | 0.3 | share of the cells (every k-th, no seed needed) left out of the screen and the fit; each rule's R² is also reported on them, since the best of hundreds of in-sample R² flatters | `[0, 0.9]` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExplainParams {
    /// Genes per unit library.
    pub n_candidates: usize,
    /// Fixed candidate genes.
    pub candidates: Option<Vec<String>>,
    /// Boolean library degree.
    pub degree: u32,
    /// Sparse regression.
    pub optimizer: OptimizerConfig,
    /// R² needed to call a unit explained.
    pub min_r2: f64,
    /// Minimum ON and OFF share of a screened gene.
    pub min_frequency: f64,
    /// Cells a unit must vary in.
    pub min_cells: usize,
    /// Share of the cells held out of the screen and fit, for the held-out R².
    pub holdout: f64,
}

impl Default for ExplainParams {
    fn default() -> Self {
        Self {
            n_candidates: 4,
            candidates: None,
            degree: 2,
            optimizer: OptimizerConfig::Ensemble(EnsembleParams::default().n_models(20).inner(
                OptimizerConfig::Stlsq(StlsqParams::default().threshold(0.1)),
            )),
            min_r2: 0.3,
            min_frequency: 0.02,
            min_cells: 20,
            holdout: 0.3,
        }
    }
}

impl ExplainParams {
    /// Sets the seed of an ensemble optimizer (no effect on a single fit).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        if let OptimizerConfig::Ensemble(e) = &mut self.optimizer {
            e.seed = seed;
        }
        self
    }

    fn validate(&self) -> Result<()> {
        if self.n_candidates == 0 {
            return Err(Error::param("n_candidates", 0, "must be at least 1"));
        }
        if self.degree == 0 {
            return Err(Error::param("degree", 0, "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.min_r2) {
            return Err(Error::param("min_r2", self.min_r2, "must be in [0, 1]"));
        }
        if !(0.0..=0.9).contains(&self.holdout) {
            return Err(Error::param("holdout", self.holdout, "must be in [0, 0.9]"));
        }
        if !(0.0..0.5).contains(&self.min_frequency) {
            return Err(Error::param(
                "min_frequency",
                self.min_frequency,
                "must be in [0, 0.5)",
            ));
        }
        Ok(())
    }
}

/// What a unit's rule says (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// Constant over the cells (nothing to explain).
    Dead,
    /// Away from its median in fewer than `min_cells` cells (a sparse feature that almost
    /// never fires).
    Rare,
    /// R² below `min_r2`, or no gene term.
    Unexplained,
    /// Every term involves the same single gene.
    SingleGene,
    /// Several genes, no product term.
    Additive,
    /// Holds a product term.
    Interaction,
}

impl UnitKind {
    /// Lower-case name (`single_gene`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Dead => "dead",
            UnitKind::Rare => "rare",
            UnitKind::Unexplained => "unexplained",
            UnitKind::SingleGene => "single_gene",
            UnitKind::Additive => "additive",
            UnitKind::Interaction => "interaction",
        }
    }
}

/// The two-input Boolean function an interaction computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// The inputs `a`, `b`.
    pub inputs: [String; 2],
    /// The rule's terms over `a`, `b` alone at `(a, b) = (0,0), (0,1), (1,0), (1,1)`.
    pub corners: [f64; 4],
    /// The corners above the midpoint of their range.
    pub truth_table: [bool; 4],
    /// Its name (`"TFA XOR TFB"`, `"TFE AND NOT TFF"`).
    pub name: String,
    /// The bare operator (`"XOR"`, `"AND"`, `"a AND NOT b"`, ...), for matching.
    pub op: String,
}

/// A unit's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRule {
    /// The unit's name (`blocks.1.mlp.hidden[37]`, `sae[12]`).
    pub unit: String,
    /// Mean over the cells.
    pub mean: f64,
    /// Standard deviation over the cells (the rule's unit).
    pub sd: f64,
    /// The genes of its library.
    pub candidates: Vec<String>,
    /// Best pair's saturated-model R² in the screen (`None` with fixed candidates).
    pub screen_r2: Option<f64>,
    /// The sparse rule of the standardised unit.
    pub rule: Rule,
    /// R² of the rule over the cells it was fitted on.
    pub r2: f64,
    /// R² on the held-out cells (`holdout`; `None` without any, or for a unit constant there),
    /// with the fit's standardisation: what the rule predicts of cells it has not seen.
    #[serde(default)]
    pub heldout_r2: Option<f64>,
    /// What it says.
    pub kind: UnitKind,
    /// For an interaction: the gate of its strongest product term.
    pub gate: Option<Gate>,
}

/// The operator of a two-input truth table over `(0,0), (0,1), (1,0), (1,1)`.
pub fn gate_op(t: [bool; 4]) -> &'static str {
    match t {
        [false, false, false, false] => "FALSE",
        [true, true, true, true] => "TRUE",
        [false, false, false, true] => "AND",
        [false, true, true, true] => "OR",
        [false, true, true, false] => "XOR",
        [true, false, false, true] => "XNOR",
        [true, true, true, false] => "NAND",
        [true, false, false, false] => "NOR",
        [false, false, true, true] => "a",
        [false, true, false, true] => "b",
        [true, true, false, false] => "NOT a",
        [true, false, true, false] => "NOT b",
        [false, false, true, false] => "a AND NOT b",
        [false, true, false, false] => "b AND NOT a",
        [true, false, true, true] => "a OR NOT b",
        [true, true, false, true] => "b OR NOT a",
    }
}

/// The saturated two-gene screen of [`explain_units`]: for each unit, each gene's best pair
/// R² and its single-gene R².
///
/// # Shapes
/// `states`: `(n_cells, n_genes)` 0/1, `y`: `(n_cells, n_units)` standardised (mean 0,
/// variance 1) → both outputs `(n_units, n_genes)`.
fn screen(states: ArrayView2<'_, f64>, y: ArrayView2<'_, f64>) -> (Array2<f64>, Array2<f64>) {
    let (n, g) = states.dim();
    let u = y.ncols();
    let nf = n as f64;
    let n1: Vec<f64> = states.sum_axis(Axis(0)).to_vec();
    let s1 = states.t().dot(&y); // (g, u)
    let pairs: Vec<(usize, usize)> = (0..g)
        .flat_map(|i| (i + 1..g).map(move |j| (i, j)))
        .collect();
    let mut prod = Array2::<f64>::zeros((n, pairs.len()));
    for (p, &(i, j)) in pairs.iter().enumerate() {
        let col = &states.column(i) * &states.column(j);
        prod.column_mut(p).assign(&col);
    }
    let n11 = prod.sum_axis(Axis(0));
    let s11 = prod.t().dot(&y); // (pairs, u)
    let term = |s: f64, c: f64| if c > 0.5 { s * s / c } else { 0.0 };
    let mut best = Array2::<f64>::zeros((u, g));
    let mut single = Array2::<f64>::zeros((u, g));
    for k in 0..u {
        for i in 0..g {
            single[(k, i)] = (term(s1[(i, k)], n1[i]) + term(s1[(i, k)], nf - n1[i])) / nf;
        }
        for (p, &(i, j)) in pairs.iter().enumerate() {
            let (a, b, ab) = (s1[(i, k)], s1[(j, k)], s11[(p, k)]);
            let c11 = n11[p];
            let between = term(ab, c11)
                + term(a - ab, n1[i] - c11)
                + term(b - ab, n1[j] - c11)
                + term(-a - b + ab, nf - n1[i] - n1[j] + c11);
            let r2 = between / nf;
            if r2 > best[(k, i)] {
                best[(k, i)] = r2;
            }
            if r2 > best[(k, j)] {
                best[(k, j)] = r2;
            }
        }
    }
    (best, single)
}

/// [`explain_units`] on all the cells given (no held-out share).
fn explain_fit(
    states: ArrayView2<'_, f64>,
    genes: &[String],
    units: ArrayView2<'_, f64>,
    unit_names: &[String],
    p: &ExplainParams,
) -> Result<Vec<UnitRule>> {
    p.validate()?;
    let (n, g) = states.dim();
    if genes.len() != g || units.nrows() != n || unit_names.len() != units.ncols() {
        return Err(Error::shape(
            "explain_units",
            format!(
                "{g} gene names, {n} rows of units, {} unit names",
                units.ncols()
            ),
            format!(
                "{} gene names, {} rows of units, {} unit names",
                genes.len(),
                units.nrows(),
                unit_names.len()
            ),
        ));
    }
    if n < 2 {
        return Err(Error::Empty {
            what: "cells for unit rules",
            why: format!("{n} cell(s); need at least 2"),
        });
    }
    crate::error::check_finite("gene states", states)?;
    crate::error::check_finite("unit activations", units)?;
    if let Some(v) = states.iter().find(|&&v| v != 0.0 && v != 1.0) {
        return Err(Error::param("states", v, "must be 0 or 1 (binarise first)"));
    }
    let nf = n as f64;
    // Standardise the units.
    let mean = units
        .mean_axis(Axis(0))
        .unwrap_or_else(|| Array1::zeros(units.ncols()));
    let sd: Vec<f64> = units
        .columns()
        .into_iter()
        .zip(&mean)
        .map(|(c, m)| (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / nf).sqrt())
        .collect();
    let kinds: Vec<Option<UnitKind>> = units
        .columns()
        .into_iter()
        .enumerate()
        .map(|(k, c)| {
            if sd[k] <= 1e-8 * (1.0 + mean[k].abs()) {
                return Some(UnitKind::Dead);
            }
            let mut v = c.to_vec();
            v.sort_unstable_by(f64::total_cmp);
            let med = v[v.len() / 2];
            let tol = 1e-6 * (1.0 + med.abs());
            let away = c.iter().filter(|x| (*x - med).abs() > tol).count();
            (away < p.min_cells).then_some(UnitKind::Rare)
        })
        .collect();
    let live: Vec<usize> = (0..units.ncols()).filter(|&k| kinds[k].is_none()).collect();
    let z = Array2::from_shape_fn((n, live.len()), |(i, c)| {
        let k = live[c];
        (units[(i, k)] - mean[k]) / sd[k]
    });

    // Candidates: fixed, or from the screen over genes that vary enough.
    let fixed: Option<Vec<usize>> = match &p.candidates {
        Some(names) => {
            let missing: Vec<String> = names
                .iter()
                .filter(|x| !genes.contains(x))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(Error::UnknownGenes { genes: missing });
            }
            Some(
                names
                    .iter()
                    .filter_map(|x| genes.iter().position(|y| y == x))
                    .collect(),
            )
        }
        None => None,
    };
    let screened: Vec<usize> = (0..g)
        .filter(|&j| {
            let on = states.column(j).sum() / nf;
            on >= p.min_frequency && on <= 1.0 - p.min_frequency
        })
        .collect();
    let scores = if fixed.is_none() {
        if screened.is_empty() {
            return Err(Error::Empty {
                what: "genes to screen",
                why: format!(
                    "no gene is ON in between {} and {} of the cells",
                    p.min_frequency,
                    1.0 - p.min_frequency
                ),
            });
        }
        let sub = states.select(Axis(1), &screened);
        Some(screen(sub.view(), z.view()))
    } else {
        None
    };

    let lib = boolean_library(p.degree)?;
    let opt = p.optimizer.build()?;
    let mut out = Vec::with_capacity(units.ncols());
    let mut live_col = 0usize;
    for k in 0..units.ncols() {
        let name = &unit_names[k];
        if live.get(live_col) != Some(&k) {
            out.push(UnitRule {
                unit: name.clone(),
                mean: mean[k],
                sd: sd[k],
                candidates: Vec::new(),
                screen_r2: None,
                rule: Rule {
                    target: name.clone(),
                    lhs: format!("z({name})"),
                    terms: Vec::new(),
                },
                r2: 0.0,
                heldout_r2: None,
                kind: kinds[k].unwrap_or(UnitKind::Dead),
                gate: None,
            });
            continue;
        }
        let c = live_col;
        live_col += 1;
        let (cand, screen_r2): (Vec<usize>, Option<f64>) = match (&fixed, &scores) {
            (Some(f), _) => (f.clone(), None),
            (None, Some((best, single))) => {
                let mut order: Vec<usize> = (0..screened.len()).collect();
                order.sort_by(|&a, &b| {
                    best[(c, b)]
                        .total_cmp(&best[(c, a)])
                        .then(single[(c, b)].total_cmp(&single[(c, a)]))
                        .then(a.cmp(&b))
                });
                order.truncate(p.n_candidates);
                let top = order.first().map(|&i| best[(c, i)]);
                let mut genes_idx: Vec<usize> = order.iter().map(|&i| screened[i]).collect();
                genes_idx.sort_unstable();
                (genes_idx, top)
            }
            (None, None) => (Vec::new(), None),
        };
        let cand_names: Vec<String> = cand.iter().map(|&j| genes[j].clone()).collect();
        let x = states.select(Axis(1), &cand);
        let theta = lib.transform(x.view())?;
        let y = z.column(c).insert_axis(Axis(1));
        let fit = opt.fit(theta.view(), y)?;
        let terms = FeatureTerms::from_polynomial(&lib, &cand_names)?;
        let lhs = |_: &str| format!("z({name})");
        let set = extract_rules(
            &fit,
            &terms,
            std::slice::from_ref(name),
            &cand_names,
            &lhs,
            false,
        )?;
        let rule = set
            .rules
            .into_iter()
            .next()
            .ok_or_else(|| Error::shape("explain_units", "one rule", "none".to_string()))?;
        let pred = theta.dot(&fit.coef.column(0));
        let ssr: f64 = pred
            .iter()
            .zip(y.column(0))
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        let r2 = 1.0 - ssr / nf;
        let (kind, gate) = classify(&rule, r2, p.min_r2);
        out.push(UnitRule {
            unit: name.clone(),
            mean: mean[k],
            sd: sd[k],
            candidates: cand_names,
            screen_r2,
            rule,
            r2,
            heldout_r2: None,
            kind,
            gate,
        });
    }
    Ok(out)
}

impl UnitRule {
    /// The rule's prediction of the standardised unit from 0/1 `states` of `genes`: each term
    /// is its coefficient times the product of its genes' states (the Boolean library is
    /// multilinear, so a feature is the product of the genes it names).
    ///
    /// # Errors
    /// [`Error::UnknownGenes`] for a rule gene not among `genes`; [`Error::Shape`] if `genes`
    /// does not name the columns.
    pub fn predict(&self, states: ArrayView2<'_, f64>, genes: &[String]) -> Result<Vec<f64>> {
        if genes.len() != states.ncols() {
            return Err(Error::shape(
                "UnitRule::predict",
                format!("{} gene names", states.ncols()),
                genes.len().to_string(),
            ));
        }
        let mut cols = Vec::with_capacity(self.rule.terms.len());
        let mut missing = Vec::new();
        for t in &self.rule.terms {
            let idx: Vec<usize> = t
                .genes
                .iter()
                .filter_map(|g| {
                    let j = genes.iter().position(|x| x == g);
                    if j.is_none() {
                        missing.push(g.clone());
                    }
                    j
                })
                .collect();
            cols.push((t.coef, idx));
        }
        if !missing.is_empty() {
            return Err(Error::UnknownGenes { genes: missing });
        }
        Ok(states
            .rows()
            .into_iter()
            .map(|row| {
                cols.iter()
                    .map(|(c, idx)| c * idx.iter().map(|&j| row[j]).product::<f64>())
                    .sum()
            })
            .collect())
    }
}

/// Explains each column of `units` by a sparse Boolean rule over the 0/1 `states` of `genes`
/// (see the module docs), screening and fitting on all but the `holdout` share of the cells
/// and reporting each rule's R² on those too ([`UnitRule::heldout_r2`]).
///
/// # Shapes
/// `states`: `(n_cells, n_genes)` with values 0 or 1; `units`: `(n_cells, n_units)`; one
/// [`UnitRule`] per unit, in column order.
///
/// # Errors
/// [`Error::Shape`] if the sizes disagree; [`Error::InvalidParam`] for bad parameters or
/// states that are not 0/1; [`Error::UnknownGenes`] for fixed candidates not among `genes`;
/// [`Error::Empty`] for fewer than two cells (on either side of the split) or if no gene passes
/// `min_frequency`; [`Error::NonFinite`] on NaN/∞; regression errors.
pub fn explain_units(
    states: ArrayView2<'_, f64>,
    genes: &[String],
    units: ArrayView2<'_, f64>,
    unit_names: &[String],
    p: &ExplainParams,
) -> Result<Vec<UnitRule>> {
    p.validate()?;
    if states.nrows() != units.nrows() {
        return Err(Error::shape(
            "explain_units",
            format!("{} rows of units", states.nrows()),
            units.nrows().to_string(),
        ));
    }
    crate::error::check_finite("gene states", states)?;
    crate::error::check_finite("unit activations", units)?;
    let n = states.nrows();
    // Every k-th cell, spread evenly: cell i is held out when ⌊(i + 1)h⌋ > ⌊ih⌋.
    let held: Vec<usize> = (0..n)
        .filter(|&i| ((i + 1) as f64 * p.holdout).floor() > (i as f64 * p.holdout).floor())
        .collect();
    if held.is_empty() {
        return explain_fit(states, genes, units, unit_names, p);
    }
    let fit: Vec<usize> = (0..n).filter(|i| held.binary_search(i).is_err()).collect();
    if held.len() < 2 || fit.len() < 2 {
        return Err(Error::Empty {
            what: "cells for unit rules",
            why: format!(
                "{} to fit and {} held out; need at least 2 of each",
                fit.len(),
                held.len()
            ),
        });
    }
    let mut rules = explain_fit(
        states.select(Axis(0), &fit).view(),
        genes,
        units.select(Axis(0), &fit).view(),
        unit_names,
        p,
    )?;
    let held_states = states.select(Axis(0), &held);
    for (k, r) in rules.iter_mut().enumerate() {
        if matches!(r.kind, UnitKind::Dead | UnitKind::Rare) || r.sd <= 0.0 {
            continue;
        }
        let z: Vec<f64> = held
            .iter()
            .map(|&i| (units[(i, k)] - r.mean) / r.sd)
            .collect();
        let pred = r.predict(held_states.view(), genes)?;
        let m = z.iter().sum::<f64>() / z.len() as f64;
        let sst: f64 = z.iter().map(|v| (v - m).powi(2)).sum();
        let ssr: f64 = z.iter().zip(&pred).map(|(a, b)| (a - b).powi(2)).sum();
        r.heldout_r2 = (sst > 0.0).then(|| 1.0 - ssr / sst);
    }
    Ok(rules)
}

/// The kind of a rule and, for an interaction, its gate.
fn classify(rule: &Rule, r2: f64, min_r2: f64) -> (UnitKind, Option<Gate>) {
    let mut involved: Vec<&String> = rule.terms.iter().flat_map(|t| &t.genes).collect();
    involved.sort();
    involved.dedup();
    if r2 < min_r2 || involved.is_empty() {
        return (UnitKind::Unexplained, None);
    }
    if involved.len() == 1 {
        return (UnitKind::SingleGene, None);
    }
    let product = rule
        .terms
        .iter()
        .filter(|t| t.genes.len() == 2 && t.coef.abs() > ZERO_TOL)
        .max_by(|a, b| a.coef.abs().total_cmp(&b.coef.abs()));
    let Some(prod) = product else {
        let any_product = rule.terms.iter().any(|t| t.genes.len() > 1);
        return (
            if any_product {
                UnitKind::Interaction
            } else {
                UnitKind::Additive
            },
            None,
        );
    };
    let (a, b) = (prod.genes[0].clone(), prod.genes[1].clone());
    let mut corners = [0.0f64; 4];
    for (idx, (va, vb)) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]
        .into_iter()
        .enumerate()
    {
        for t in &rule.terms {
            if t.genes.iter().all(|x| *x == a || *x == b) {
                let v: f64 = t
                    .genes
                    .iter()
                    .map(|x| if *x == a { va } else { vb })
                    .product();
                corners[idx] += t.coef * v;
            }
        }
    }
    let lo = corners.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = corners.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mid = 0.5 * (lo + hi);
    let truth_table = corners.map(|v| v > mid);
    let op = gate_op(truth_table);
    let name = match op {
        "AND" | "OR" | "XOR" | "XNOR" | "NAND" | "NOR" => format!("{a} {op} {b}"),
        other => other
            .split(' ')
            .map(|w| match w {
                "a" => a.clone(),
                "b" => b.clone(),
                w => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
    };
    (
        UnitKind::Interaction,
        Some(Gate {
            inputs: [a, b],
            corners,
            truth_table,
            name,
            op: op.to_string(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_names() {
        assert_eq!(gate_op([false, true, true, false]), "XOR");
        assert_eq!(gate_op([false, false, true, false]), "a AND NOT b");
    }
}
