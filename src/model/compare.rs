//! A fitted model against a known system, term by term: exact support and coefficient error.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::optimize::ZERO_TOL;
use crate::systems::{true_coefficients, OdeSystem};

use super::Sindy;

/// One true term of a known system against the fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermComparison {
    /// Equation, e.g. `y'`.
    pub equation: String,
    /// Library feature, e.g. `x z`.
    pub feature: String,
    /// True coefficient.
    pub truth: f64,
    /// Identified coefficient (0 when missed).
    pub fitted: f64,
    /// `|fitted − truth| / |truth|`.
    pub rel_err: f64,
}

/// How a fit compares with the known system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    /// The non-zero pattern equals the true one.
    pub exact_support: bool,
    /// Largest relative error over the true terms (1 for a missed term).
    pub max_rel_err: f64,
    /// Identified terms that are not in the true model, as `equation: feature`.
    pub spurious: Vec<String>,
    /// True terms the fit missed, as `equation: feature`.
    pub missing: Vec<String>,
    /// Every true term.
    pub terms: Vec<TermComparison>,
}

/// Compares a fitted model with a known polynomial system, term by term.
///
/// # Errors
/// [`Error::Unsupported`] if the model's library is not polynomial or lacks a true term
/// (degree too low).
pub fn compare_with_truth(model: &Sindy, system: &dyn OdeSystem) -> Result<Accuracy> {
    let n_inputs = model.state_names().len() + model.control_names().len();
    let exponents = model.library().exponents(n_inputs).ok_or_else(|| {
        Error::Unsupported(
            "the model's library is not polynomial: no term-by-term comparison".into(),
        )
    })?;
    let truth = true_coefficients(system, &exponents)?;
    let coef = model.coefficients();
    if truth.dim() != coef.dim() {
        return Err(Error::shape(
            "compare_with_truth",
            format!("{:?}", coef.dim()),
            format!("{:?}", truth.dim()),
        ));
    }
    let label =
        |f: usize, j: usize| format!("{}': {}", model.state_names()[j], model.feature_names()[f]);
    let mut acc = Accuracy {
        exact_support: true,
        max_rel_err: 0.0,
        spurious: Vec::new(),
        missing: Vec::new(),
        terms: Vec::new(),
    };
    for ((f, j), &t) in truth.indexed_iter() {
        let c = coef[(f, j)];
        let (is_true, is_fit) = (t != 0.0, c.abs() > ZERO_TOL);
        if is_true != is_fit {
            acc.exact_support = false;
            if is_true {
                acc.missing.push(label(f, j));
            } else {
                acc.spurious.push(label(f, j));
            }
        }
        if is_true {
            let rel = (c - t).abs() / t.abs();
            acc.max_rel_err = acc.max_rel_err.max(rel);
            acc.terms.push(TermComparison {
                equation: format!("{}'", model.state_names()[j]),
                feature: model.feature_names()[f].clone(),
                truth: t,
                fitted: c,
                rel_err: rel,
            });
        }
    }
    Ok(acc)
}
