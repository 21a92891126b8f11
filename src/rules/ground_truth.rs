//! Ground-truth networks: from the synthetic generator, Boolean update rules, or a signed
//! coupling list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::synthetic::{DynamicTruth, GroundTruth, PolyTerm, Production};

use super::extract::edge_sign;

/// A true signed edge `regulator → target`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TruthEdge {
    /// Regulator gene.
    pub regulator: String,
    /// Target gene.
    pub target: String,
    /// +1 activation, −1 repression (see the module docs of [`crate::rules`]).
    pub sign: i8,
}

/// A known regulatory network: signed edges and, where known, each target's rule as a
/// polynomial (multilinear for Boolean rules), against which fitted rules are compared term by
/// term.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TruthNetwork {
    /// Signed edges (self-loops allowed; evaluation reports them apart).
    pub edges: Vec<TruthEdge>,
    /// Polynomial rule of each target whose rule is known (variables sorted in each term).
    pub rules: BTreeMap<String, Vec<PolyTerm>>,
}

impl TruthNetwork {
    /// The synthetic brain's regulatory network (marker edges left out): gate rules in
    /// binarised states, linear rules in activities.
    pub fn from_ground_truth(truth: &GroundTruth) -> Self {
        let edges = truth
            .regulatory_edges()
            .map(|e| TruthEdge {
                regulator: e.source.clone(),
                target: e.target.clone(),
                sign: e.sign,
            })
            .collect();
        let rules = truth
            .rules
            .iter()
            .map(|r| (r.target.clone(), sorted_terms(&r.terms)))
            .collect();
        TruthNetwork { edges, rules }
    }

    /// The time-course network: each equation's production term (decay and controls left
    /// out) with gates written in Hill terms of their regulators (XOR:
    /// `vmax·(h_a + h_b − 2 h_a h_b)`), so its terms compare with a Hill-library fit.
    pub fn from_dynamic_truth(truth: &DynamicTruth) -> Self {
        let mut edges = Vec::new();
        let mut rules = BTreeMap::new();
        for eq in &truth.equations {
            let t = &eq.target;
            let mut terms = Vec::new();
            match &eq.production {
                Production::Input { basal, .. } => terms.push(term(*basal, &[])),
                Production::Gate {
                    gate,
                    regulators,
                    basal,
                    vmax,
                    ..
                } => {
                    if !gate.arity_ok(regulators.len()) {
                        continue;
                    }
                    terms.push(term(*basal, &[]));
                    for (c, vars) in gate.monomials(regulators.len()) {
                        let v: Vec<&str> = vars.iter().map(|&i| regulators[i].as_str()).collect();
                        terms.push(term(c * vmax, &v));
                    }
                }
                Production::Linear { basal, terms: lin } => {
                    terms.push(term(*basal, &[]));
                    for (r, c) in lin {
                        terms.push(term(*c, &[r]));
                    }
                }
            }
            let terms = sorted_terms(&terms);
            edges.extend(edges_of(t, &terms));
            rules.insert(t.clone(), terms);
        }
        TruthNetwork { edges, rules }
    }

    /// Reads a truth file, choosing the format from its content:
    ///
    /// - `.json`: a synthetic-brain ground truth ([`GroundTruth::save_json`]);
    /// - lines with `=`: Boolean update rules, one per line (`C = (A and not B) or (B and not A)`;
    ///   operators `and`/`&`, `or`/`|`, `not`/`!`/`~`, parentheses, constants `0`/`1`/`true`/
    ///   `false`; precedence not > and > or; `#` starts a comment);
    /// - otherwise a signed coupling list, `target regulator weight` per line (tabs or spaces;
    ///   an optional header line starting with `target`, as `cellsindy data synth` writes it).
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable; [`Error::Parse`] naming the file and 1-based line of the
    /// first malformed entry.
    pub fn load(path: &Path) -> Result<Self> {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            return Ok(Self::from_ground_truth(&GroundTruth::load_json(path)?));
        }
        let text = crate::io::input::read_text(path)?;
        let boolean = text.lines().map(strip_comment).any(|l| l.contains('='));
        if boolean {
            Self::parse_boolean_rules(&text, path)
        } else {
            Self::parse_coupling_list(&text, path)
        }
    }

    /// Parses Boolean update rules (see [`TruthNetwork::load`]); `path` names the source in
    /// errors. Each rule's edges and signs come from its multilinear polynomial (a variable that
    /// cancels out, as in `A or not A`, regulates nothing).
    ///
    /// # Errors
    /// [`Error::Parse`] with the 1-based line and column of the first error, or naming a
    /// target defined twice.
    pub fn parse_boolean_rules(text: &str, path: &Path) -> Result<Self> {
        let mut net = TruthNetwork::default();
        let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = strip_comment(raw);
            if line.trim().is_empty() {
                continue;
            }
            let (target, expr) = parse_line(line).map_err(|m| Error::parse(path, i + 1, m))?;
            if let Some(prev) = first_line.insert(target.clone(), i + 1) {
                return Err(Error::parse(
                    path,
                    i + 1,
                    format!("target `{target}` already has a rule (line {prev})"),
                ));
            }
            let terms = expr.polynomial();
            net.edges.extend(edges_of(&target, &terms));
            net.rules.insert(target, terms);
        }
        if first_line.is_empty() {
            return Err(Error::parse(path, 0, "no rules found"));
        }
        Ok(net)
    }

    /// Parses a signed coupling list (see [`TruthNetwork::load`]); each target's rule is the
    /// linear sum of its couplings.
    ///
    /// # Errors
    /// [`Error::Parse`] with the 1-based line for a line without three fields, a weight that
    /// is not a finite non-zero number, or a repeated pair.
    pub fn parse_coupling_list(text: &str, path: &Path) -> Result<Self> {
        let mut net = TruthNetwork::default();
        let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut first = true;
        for (i, raw) in text.lines().enumerate() {
            let line = strip_comment(raw);
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            let header = first && fields[0].eq_ignore_ascii_case("target");
            first = false;
            if header {
                continue;
            }
            let [target, regulator, weight] = fields.as_slice() else {
                return Err(Error::parse(
                    path,
                    i + 1,
                    format!(
                        "expected 3 fields `target regulator weight`, found {}",
                        fields.len()
                    ),
                ));
            };
            let w: f64 = weight.parse().map_err(|_| {
                Error::parse(path, i + 1, format!("weight `{weight}` is not a number"))
            })?;
            if !w.is_finite() || w == 0.0 {
                return Err(Error::parse(
                    path,
                    i + 1,
                    format!("weight {w} must be finite and non-zero (its sign is the edge's)"),
                ));
            }
            let key = (target.to_string(), regulator.to_string());
            if let Some(prev) = seen.insert(key, i + 1) {
                return Err(Error::parse(
                    path,
                    i + 1,
                    format!("edge {regulator} → {target} already listed on line {prev}"),
                ));
            }
            net.edges.push(TruthEdge {
                regulator: regulator.to_string(),
                target: target.to_string(),
                sign: if w > 0.0 { 1 } else { -1 },
            });
            net.rules
                .entry(target.to_string())
                .or_default()
                .push(term(w, &[regulator]));
        }
        if seen.is_empty() {
            return Err(Error::parse(path, 0, "no edges found"));
        }
        Ok(net)
    }

    /// Every gene named in the network (regulators and targets), sorted.
    pub fn genes(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self
            .edges
            .iter()
            .flat_map(|e| [&e.regulator, &e.target])
            .chain(self.rules.keys())
            .collect();
        set.into_iter().cloned().collect()
    }
}

fn term(coef: f64, vars: &[&str]) -> PolyTerm {
    PolyTerm {
        coef,
        vars: vars.iter().map(|s| s.to_string()).collect(),
    }
}

fn sorted_terms(terms: &[PolyTerm]) -> Vec<PolyTerm> {
    terms
        .iter()
        .map(|t| {
            let mut vars = t.vars.clone();
            vars.sort();
            vars.dedup();
            PolyTerm { coef: t.coef, vars }
        })
        .collect()
}

/// Edges of one polynomial rule, signed by [`edge_sign`].
fn edges_of(target: &str, terms: &[PolyTerm]) -> Vec<TruthEdge> {
    let regs: BTreeSet<&String> = terms
        .iter()
        .filter(|t| t.coef != 0.0)
        .flat_map(|t| &t.vars)
        .collect();
    regs.into_iter()
        .map(|r| TruthEdge {
            regulator: r.clone(),
            target: target.to_string(),
            sign: edge_sign(terms.iter().map(|t| (t.coef, t.vars.as_slice())), r),
        })
        .collect()
}

fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

/// A Boolean expression over gene states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoolExpr {
    /// A gene's state.
    Var(String),
    /// `true` / `false`.
    Const(bool),
    /// Negation.
    Not(Box<BoolExpr>),
    /// Conjunction.
    And(Box<BoolExpr>, Box<BoolExpr>),
    /// Disjunction.
    Or(Box<BoolExpr>, Box<BoolExpr>),
}

/// A multilinear polynomial: variable set → coefficient.
type Poly = BTreeMap<BTreeSet<String>, f64>;

fn poly_mul(a: &Poly, b: &Poly) -> Poly {
    let mut out = Poly::new();
    for (ka, ca) in a {
        for (kb, cb) in b {
            // x² = x on 0/1 states: the product's variables are the union.
            let k: BTreeSet<String> = ka.union(kb).cloned().collect();
            *out.entry(k).or_insert(0.0) += ca * cb;
        }
    }
    out
}

fn poly_add(a: &Poly, b: &Poly, sb: f64) -> Poly {
    let mut out = a.clone();
    for (k, c) in b {
        *out.entry(k.clone()).or_insert(0.0) += sb * c;
    }
    out
}

impl BoolExpr {
    /// Evaluates with `state(gene)` giving each gene's state.
    pub fn eval(&self, state: &dyn Fn(&str) -> bool) -> bool {
        match self {
            BoolExpr::Var(v) => state(v),
            BoolExpr::Const(c) => *c,
            BoolExpr::Not(e) => !e.eval(state),
            BoolExpr::And(a, b) => a.eval(state) && b.eval(state),
            BoolExpr::Or(a, b) => a.eval(state) || b.eval(state),
        }
    }

    fn poly(&self) -> Poly {
        let one = || Poly::from([(BTreeSet::new(), 1.0)]);
        match self {
            BoolExpr::Var(v) => Poly::from([(BTreeSet::from([v.clone()]), 1.0)]),
            BoolExpr::Const(true) => one(),
            BoolExpr::Const(false) => Poly::new(),
            BoolExpr::Not(e) => poly_add(&one(), &e.poly(), -1.0),
            BoolExpr::And(a, b) => poly_mul(&a.poly(), &b.poly()),
            BoolExpr::Or(a, b) => {
                let (pa, pb) = (a.poly(), b.poly());
                poly_add(&poly_add(&pa, &pb, 1.0), &poly_mul(&pa, &pb), -1.0)
            }
        }
    }

    /// The unique multilinear polynomial equal to the expression on 0/1 states (`not p = 1 − p`,
    /// `p and q = pq`, `p or q = p + q − pq`, with `x² = x`): XOR `(A and not B) or (B and not
    /// A)` gives `A + B − 2AB`. Terms are ordered by degree, then by variables; zero
    /// coefficients are dropped.
    pub fn polynomial(&self) -> Vec<PolyTerm> {
        let mut terms: Vec<PolyTerm> = self
            .poly()
            .into_iter()
            .filter(|(_, c)| c.abs() > 1e-12)
            .map(|(k, c)| PolyTerm {
                coef: c,
                vars: k.into_iter().collect(),
            })
            .collect();
        terms.sort_by(|a, b| a.vars.len().cmp(&b.vars.len()).then(a.vars.cmp(&b.vars)));
        terms
    }
}

/// Parses one Boolean update rule, `TARGET = expression`.
///
/// # Errors
/// [`Error::Parse`] (line 1 of `<rule>`) with the column of the error.
///
/// # Example
/// ```
/// use cellsindy::rules::parse_boolean_rule;
/// let (t, e) = parse_boolean_rule("C = (A and not B) or (B and not A)")?;
/// let p: Vec<(f64, String)> = e.polynomial().into_iter().map(|t| (t.coef, t.vars.join("*"))).collect();
/// assert_eq!(t, "C");
/// assert_eq!(p, [(1.0, "A".into()), (1.0, "B".into()), (-2.0, "A*B".into())]);
/// # Ok::<(), cellsindy::Error>(())
/// ```
pub fn parse_boolean_rule(rule: &str) -> Result<(String, BoolExpr)> {
    parse_line(rule).map_err(|m| Error::parse("<rule>", 1, m))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    And,
    Or,
    Not,
    LParen,
    RParen,
    Const(bool),
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '\'')
}

fn tokenize(s: &str, offset: usize) -> std::result::Result<Vec<(Tok, usize)>, String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let col = offset + pos + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, col));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, col));
                i += 1;
            }
            '&' | '|' => {
                // `&` and `&&`, `|` and `||`.
                out.push((if c == '&' { Tok::And } else { Tok::Or }, col));
                i += 1;
                if i < chars.len() && chars[i].1 == c {
                    i += 1;
                }
            }
            '!' | '~' => {
                out.push((Tok::Not, col));
                i += 1;
            }
            c if is_ident_char(c) => {
                let start = i;
                while i < chars.len() && is_ident_char(chars[i].1) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().map(|(_, c)| c).collect();
                let tok = match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "true" | "1" => Tok::Const(true),
                    "false" | "0" => Tok::Const(false),
                    _ => Tok::Ident(word),
                };
                out.push((tok, col));
            }
            other => return Err(format!("column {col}: unexpected character `{other}`")),
        }
    }
    Ok(out)
}

/// Recursive descent: `or := and ('or' and)*`, `and := not ('and' not)*`,
/// `not := 'not' not | atom`, `atom := IDENT | CONST | '(' or ')'`.
struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end_col: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end_col, |(_, c)| *c)
    }
    fn or(&mut self) -> std::result::Result<BoolExpr, String> {
        let mut e = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            e = BoolExpr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> std::result::Result<BoolExpr, String> {
        let mut e = self.not()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            e = BoolExpr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn not(&mut self) -> std::result::Result<BoolExpr, String> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(BoolExpr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }
    fn atom(&mut self) -> std::result::Result<BoolExpr, String> {
        let col = self.col();
        let tok = self.peek().cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Ident(v)) => Ok(BoolExpr::Var(v)),
            Some(Tok::Const(c)) => Ok(BoolExpr::Const(c)),
            Some(Tok::LParen) => {
                let e = self.or()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(format!(
                        "column {}: expected `)` to close the `(` at column {col}",
                        self.col()
                    ));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(t) => Err(format!(
                "column {col}: expected a gene, a constant, `not` or `(`, found {t:?}"
            )),
            None => Err(format!(
                "column {col}: expression ends where a gene, a constant, `not` or `(` was expected"
            )),
        }
    }
}

fn parse_line(line: &str) -> std::result::Result<(String, BoolExpr), String> {
    let (lhs, rhs) = line
        .split_once('=')
        .ok_or_else(|| "expected `TARGET = expression`".to_string())?;
    let target = lhs.trim();
    if target.is_empty() || !target.chars().all(is_ident_char) {
        return Err(format!(
            "column 1: `{target}` is not a gene name (letters, digits, `_ . - : '`)"
        ));
    }
    let offset = lhs.len() + 1;
    let toks = tokenize(rhs, offset)?;
    if toks.is_empty() {
        return Err(format!("column {}: empty expression", offset + 1));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end_col: line.len() + 1,
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!(
            "column {}: unexpected {:?} after a complete expression",
            p.col(),
            p.toks[p.pos].0
        ));
    }
    Ok((target.to_string(), e))
}
