//! Equations as text and LaTeX.
//!
//! Two styles: [`EquationStyle::Decimal`] prints every coefficient with a fixed precision in
//! library order (PySINDy's `print()`), and [`EquationStyle::Pretty`] prints what a person
//! would write: coefficients that are simple fractions (denominator up to 12, within a relative
//! tolerance) as such, a common factor pulled out, positive terms first:
//! `x' = 10(y - x)`, `y' = 28x - xz - y`, `z' = xy - 8/3 z`.

use std::fmt;

use super::Sindy;

/// How equations are printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EquationStyle {
    /// Fixed precision, library order: `-10.000 x + 10.000 y`.
    Decimal {
        /// Digits after the decimal point.
        precision: usize,
    },
    /// Rational coefficients where they fit within `rel_tol`, common factors pulled out.
    Pretty {
        /// Relative tolerance for recognising a fraction `p/q`, `q <= 12`.
        rel_tol: f64,
    },
}

/// A coefficient as printed: an exact fraction `p/q` or a decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Coef {
    Frac(i64, i64),
    Dec(f64),
}

impl Coef {
    /// Integers of any size; proper fractions only for magnitudes below 10 (a noisy 27.909 is
    /// not "307/11", but 2.6667 is 8/3).
    fn recognise(c: f64, rel_tol: f64) -> Coef {
        for q in 1..=12i64 {
            if q > 1 && c.abs() >= 10.0 {
                break;
            }
            let p = (c * q as f64).round();
            if p != 0.0 && (c - p / q as f64).abs() <= rel_tol * c.abs() && p.abs() < 1e9 {
                return Coef::Frac(p as i64, q);
            }
        }
        Coef::Dec(c)
    }
    fn value(self) -> f64 {
        match self {
            Coef::Frac(p, q) => p as f64 / q as f64,
            Coef::Dec(v) => v,
        }
    }
    fn abs(self) -> Coef {
        match self {
            Coef::Frac(p, q) => Coef::Frac(p.abs(), q),
            Coef::Dec(v) => Coef::Dec(v.abs()),
        }
    }
    fn is_one(self) -> bool {
        matches!(self, Coef::Frac(1, 1))
    }
    fn text(self, latex: bool) -> String {
        match self {
            Coef::Frac(p, 1) => p.to_string(),
            Coef::Frac(p, q) if latex => format!("\\frac{{{p}}}{{{q}}}"),
            Coef::Frac(p, q) => format!("{p}/{q}"),
            Coef::Dec(v) => crate::stats::format_significant(v, 4),
        }
    }
}

/// A monomial as a person writes it: `x z` → `xz` when every factor is a single letter.
fn compact_name(name: &str, latex: bool) -> String {
    let parts: Vec<&str> = name.split(' ').collect();
    let single = parts
        .iter()
        .all(|p| p.chars().count() == 1 && p.chars().all(char::is_alphabetic));
    let parts: Vec<String> = parts
        .iter()
        .map(|p| {
            if latex {
                match p.split_once('^') {
                    Some((b, e)) => format!("{b}^{{{e}}}"),
                    None => p.to_string(),
                }
            } else {
                p.to_string()
            }
        })
        .collect();
    if single {
        parts.concat()
    } else {
        parts.join(" ")
    }
}

/// `coef × name` with the coefficient's magnitude (sign handled by the caller).
fn term_text(c: Coef, name: &str, latex: bool) -> String {
    let c = c.abs();
    if name == "1" {
        return c.text(latex);
    }
    let n = compact_name(name, latex);
    if c.is_one() {
        return n;
    }
    match c {
        Coef::Frac(_, 1) if !latex => format!("{}{n}", c.text(false)),
        _ => format!("{} {n}", c.text(latex)),
    }
}

/// Joins signed terms: `a - b + c`.
fn join(terms: &[(bool, String)]) -> String {
    let mut s = String::new();
    for (k, (neg, t)) in terms.iter().enumerate() {
        match (k, neg) {
            (0, true) => s.push_str(&format!("-{t}")),
            (0, false) => s.push_str(t),
            (_, true) => s.push_str(&format!(" - {t}")),
            (_, false) => s.push_str(&format!(" + {t}")),
        }
    }
    s
}

/// Right-hand side of one equation, pretty style.
pub(crate) fn pretty_rhs(terms: &[(f64, String)], rel_tol: f64, latex: bool) -> String {
    if terms.is_empty() {
        return "0".into();
    }
    let mut ts: Vec<(Coef, String)> = terms
        .iter()
        .map(|(c, n)| (Coef::recognise(*c, rel_tol), n.clone()))
        .collect();
    // Positive terms first, each group in alphabetical order of the written monomial.
    ts.sort_by(|a, b| {
        let ka = (a.0.value() < 0.0, compact_name(&a.1, false));
        let kb = (b.0.value() < 0.0, compact_name(&b.1, false));
        ka.cmp(&kb)
    });
    // A common factor: all magnitudes the same fraction, not 1, at least two terms.
    let first = ts[0].0.abs();
    let common = ts.len() >= 2
        && matches!(first, Coef::Frac(..))
        && !first.is_one()
        && ts.iter().all(|(c, n)| c.abs() == first && n != "1");
    if common {
        let all_neg = ts.iter().all(|(c, _)| c.value() < 0.0);
        let inner: Vec<(bool, String)> = ts
            .iter()
            .map(|(c, n)| {
                (
                    (c.value() < 0.0) != all_neg,
                    term_text(Coef::Frac(1, 1), n, latex),
                )
            })
            .collect();
        let sign = if all_neg { "-" } else { "" };
        let f = first.text(latex);
        let space = if matches!(first, Coef::Frac(_, 1)) && !latex {
            ""
        } else {
            " "
        };
        let (l, r) = if latex {
            ("\\left(", "\\right)")
        } else {
            ("(", ")")
        };
        return format!("{sign}{f}{space}{l}{}{r}", join(&inner));
    }
    let parts: Vec<(bool, String)> = ts
        .iter()
        .map(|(c, n)| (c.value() < 0.0, term_text(*c, n, latex)))
        .collect();
    join(&parts)
}

impl Sindy {
    fn target_terms(&self, j: usize) -> Vec<(f64, String)> {
        self.sparse_terms()
            .into_iter()
            .filter(|&(_, t, _)| t == j)
            .map(|(f, _, c)| (c, self.feature_names()[f].clone()))
            .collect()
    }

    fn lhs(&self, j: usize, latex: bool) -> String {
        let n = &self.state_names()[j];
        match (self.is_discrete_time(), latex) {
            (false, false) => format!("{n}'"),
            (true, false) => format!("{n}[k+1]"),
            (false, true) => format!("\\dot{{{n}}}"),
            (true, true) => format!("{n}_{{k+1}}"),
        }
    }

    /// One equation per state variable in the given style.
    pub fn equations_with(&self, style: EquationStyle) -> Vec<String> {
        (0..self.state_names().len())
            .map(|j| {
                let terms = self.target_terms(j);
                let rhs = match style {
                    EquationStyle::Decimal { precision } => {
                        if terms.is_empty() {
                            "0".to_string()
                        } else {
                            terms
                                .iter()
                                .map(|(c, n)| {
                                    if n == "1" {
                                        format!("{c:.precision$}")
                                    } else {
                                        format!("{c:.precision$} {n}")
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(" + ")
                        }
                    }
                    EquationStyle::Pretty { rel_tol } => pretty_rhs(&terms, rel_tol, false),
                };
                format!("{} = {rhs}", self.lhs(j, false))
            })
            .collect()
    }

    /// PySINDy-style equations, `x' = -10.000 x + 10.000 y`.
    pub fn equations(&self, precision: usize) -> Vec<String> {
        self.equations_with(EquationStyle::Decimal { precision })
    }

    /// Equations as a person writes them (fractions within 1e-3 relative, common factors):
    /// `x' = 10(y - x)`.
    pub fn equations_pretty(&self) -> Vec<String> {
        self.equations_with(EquationStyle::Pretty { rel_tol: 1e-3 })
    }

    /// LaTeX, one `align`-ready line per equation: `\dot{x} &= 10 \left(y - x\right)`.
    pub fn to_latex(&self) -> Vec<String> {
        (0..self.state_names().len())
            .map(|j| {
                let rhs = pretty_rhs(&self.target_terms(j), 1e-3, true);
                format!("{} &= {rhs}", self.lhs(j, true))
            })
            .collect()
    }
}

impl fmt::Display for Sindy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.equations_pretty() {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[(f64, &str)]) -> Vec<(f64, String)> {
        v.iter().map(|(c, n)| (*c, n.to_string())).collect()
    }

    #[test]
    fn lorenz_reads_as_written_by_hand() {
        assert_eq!(
            pretty_rhs(&t(&[(-10.000001, "x"), (9.999999, "y")]), 1e-3, false),
            "10(y - x)"
        );
        assert_eq!(
            pretty_rhs(
                &t(&[(27.99999, "x"), (-1.0, "y"), (-1.0000001, "x z")]),
                1e-3,
                false
            ),
            "28x - xz - y"
        );
        assert_eq!(
            pretty_rhs(&t(&[(1.0, "x y"), (-2.666666, "z")]), 1e-3, false),
            "xy - 8/3 z"
        );
        assert_eq!(
            pretty_rhs(&t(&[(0.1234567, "x0 x1"), (-3.0, "1")]), 1e-3, false),
            "0.1235 x0 x1 - 3"
        );
        assert_eq!(pretty_rhs(&t(&[(27.909, "x")]), 1e-3, false), "27.91 x");
        assert_eq!(
            pretty_rhs(&t(&[(1.0, "x y"), (-2.666666, "z")]), 1e-3, true),
            "xy - \\frac{8}{3} z"
        );
    }
}
