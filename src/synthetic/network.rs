//! The embedded regulatory network: nodes, their rules, the snapshot (per-cell) model and the
//! dynamic (Hill-kinetics) model built from the same description.
//!
//! The rules are tabulated in the [`crate::synthetic`] module docs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a node's activity (in [0, 1]) is set in a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeRule {
    /// An input switch: activity 1 (ON) with probability `p_on`, else 0.
    Switch {
        /// Probability of being ON, independently per cell.
        p_on: f64,
    },
    /// An input level: activity uniform on [0, 1], independently per cell.
    Level,
    /// ON when exactly one of `a`, `b` is ON.
    Xor {
        /// First input.
        a: String,
        /// Second input.
        b: String,
    },
    /// ON when both `a` and `b` are ON.
    And {
        /// First input.
        a: String,
        /// Second input.
        b: String,
    },
    /// ON when `on` is ON and `off` is OFF (activation with repression).
    AndNot {
        /// The activator.
        on: String,
        /// The repressor.
        off: String,
    },
    /// ON when an odd number of `inputs` are ON (parity; with two inputs, XOR). No pair of
    /// inputs says anything about the target when there are three or more: only the full
    /// interaction does.
    Parity {
        /// The inputs (at least two).
        inputs: Vec<String>,
    },
    /// Activity `intercept + Σ weight · activity(regulator)`, kept inside [0, 1] by design.
    Linear {
        /// Activity when every regulator is at 0.
        intercept: f64,
        /// `(regulator, weight)` pairs; a negative weight is repression.
        terms: Vec<(String, f64)>,
    },
}

/// Kind of a gate, as in [`Production::Gate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// `h1 + h2 − 2 h1 h2`.
    Xor,
    /// `h1 h2`.
    And,
    /// `h1 (1 − h2)`.
    AndNot,
    /// `(1 − Π (1 − 2 h_i)) / 2` over any number of inputs (odd parity).
    Parity,
}

impl GateKind {
    /// The gate on two inputs in [0, 1] (exact logic on 0/1, its multilinear extension
    /// between); a two-input parity is an XOR.
    pub fn eval(self, h1: f64, h2: f64) -> f64 {
        match self {
            GateKind::Xor | GateKind::Parity => h1 + h2 - 2.0 * h1 * h2,
            GateKind::And => h1 * h2,
            GateKind::AndNot => h1 * (1.0 - h2),
        }
    }

    /// The gate on `n` inputs `h(0)…h(n − 1)`: parity over all of them, the two-input gates
    /// over the first two (callers check the arity, [`GateKind::arity_ok`]).
    pub fn eval_n(self, n: usize, h: impl Fn(usize) -> f64) -> f64 {
        match self {
            GateKind::Parity => 0.5 * (1.0 - (0..n).map(|i| 1.0 - 2.0 * h(i)).product::<f64>()),
            _ => self.eval(h(0), h(1)),
        }
    }

    /// Whether a gate of this kind can have `n` inputs (parity: at least two; the others:
    /// exactly two).
    pub fn arity_ok(self, n: usize) -> bool {
        match self {
            GateKind::Parity => n >= 2,
            _ => n == 2,
        }
    }

    /// The gate's multilinear polynomial in its inputs as `(coefficient, input positions)`:
    /// parity is `Σ_{S ≠ ∅} (−2)^{|S|−1} Π_{i∈S} h_i`, the sum over every non-empty subset.
    pub fn monomials(self, n: usize) -> Vec<(f64, Vec<usize>)> {
        match self {
            GateKind::Xor => vec![(1.0, vec![0]), (1.0, vec![1]), (-2.0, vec![0, 1])],
            GateKind::And => vec![(1.0, vec![0, 1])],
            GateKind::AndNot => vec![(1.0, vec![0]), (-1.0, vec![0, 1])],
            GateKind::Parity => {
                let mut out: Vec<(f64, Vec<usize>)> = (1u64..(1u64 << n.min(20)))
                    .map(|mask| {
                        let vars: Vec<usize> = (0..n).filter(|i| mask >> i & 1 == 1).collect();
                        let k = vars.len() as i32;
                        ((-2.0f64).powi(k - 1), vars)
                    })
                    .collect();
                out.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.1.cmp(&b.1)));
                out
            }
        }
    }
}

/// Inputs allowed in a parity gate: its polynomial has `2^n − 1` terms.
pub const MAX_PARITY_INPUTS: usize = 8;

/// One gene of the network.
///
/// In a cell its expected count at the median library size is
/// `baseline + amplitude · activity`; counts are negative binomial with dispersion
/// [`NETWORK_DISPERSION`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkNode {
    /// Gene symbol.
    pub symbol: String,
    /// How its activity is set.
    pub rule: NodeRule,
    /// Expected count when the activity is 0.
    pub baseline: f64,
    /// Added expected count at activity 1.
    pub amplitude: f64,
    /// First-order decay rate in the dynamic model (per unit time).
    pub decay: f64,
}

/// The XOR gate's target, the gene the gate probe reads.
pub const XOR_GATE: &str = "TGXOR";
/// The XOR gate's inputs.
pub const XOR_INPUTS: [&str; 2] = ["TFA", "TFB"];

/// The parity gate's target ([`crate::synthetic::BrainParams::parity_inputs`]).
pub const PARITY_GATE: &str = "TGPARITY";

/// The parity gate's inputs `TFP1`…`TFPn` (switches like `TFA`) and its target, appended to a
/// network (empty for `n = 0`).
pub fn parity_nodes(n: usize) -> Vec<NetworkNode> {
    if n == 0 {
        return Vec::new();
    }
    let inputs: Vec<String> = (1..=n).map(|i| format!("TFP{i}")).collect();
    let mut nodes: Vec<NetworkNode> = inputs
        .iter()
        .map(|s| NetworkNode {
            symbol: s.clone(),
            rule: NodeRule::Switch { p_on: 0.5 },
            baseline: 0.5,
            amplitude: 30.0,
            decay: 1.0,
        })
        .collect();
    nodes.push(NetworkNode {
        symbol: PARITY_GATE.into(),
        rule: NodeRule::Parity { inputs },
        baseline: 0.5,
        amplitude: 30.0,
        decay: 0.5,
    });
    nodes
}

/// NB dispersion of the network genes: low enough that ON (≈ 30 counts) and OFF (≈ 0.5) never
/// overlap after library-size normalisation.
pub const NETWORK_DISPERSION: f64 = 0.1;

/// The network of the synthetic brain (see the module docs for the table).
pub fn brain_network() -> Vec<NetworkNode> {
    let switch = |s: &str| NetworkNode {
        symbol: s.into(),
        rule: NodeRule::Switch { p_on: 0.5 },
        baseline: 0.5,
        amplitude: 30.0,
        decay: 1.0,
    };
    let level = |s: &str| NetworkNode {
        symbol: s.into(),
        rule: NodeRule::Level,
        baseline: 1.0,
        amplitude: 30.0,
        decay: 1.0,
    };
    let target = |s: &str, rule: NodeRule, baseline: f64| NetworkNode {
        symbol: s.into(),
        rule,
        baseline,
        amplitude: 30.0,
        decay: 0.5,
    };
    vec![
        switch("TFA"),
        switch("TFB"),
        switch("TFC"),
        switch("TFD"),
        switch("TFE"),
        switch("TFF"),
        level("TFG"),
        level("TFH"),
        level("TFI"),
        target(
            "TGXOR",
            NodeRule::Xor {
                a: "TFA".into(),
                b: "TFB".into(),
            },
            0.5,
        ),
        target(
            "TGAND",
            NodeRule::And {
                a: "TFC".into(),
                b: "TFD".into(),
            },
            0.5,
        ),
        target(
            "TGANDNOT",
            NodeRule::AndNot {
                on: "TFE".into(),
                off: "TFF".into(),
            },
            0.5,
        ),
        target(
            "TGLIN1",
            NodeRule::Linear {
                intercept: 0.0,
                terms: vec![("TFG".into(), 1.0)],
            },
            1.0,
        ),
        target(
            "TGLIN2",
            NodeRule::Linear {
                intercept: 0.4,
                terms: vec![("TFH".into(), 0.6), ("TFI".into(), -0.4)],
            },
            1.0,
        ),
    ]
}

/// A node's rule with regulators resolved to node indices.
#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    Switch(f64),
    Level,
    /// A gate of any kind over its inputs (two, or a parity's 2 to 8).
    Gate(GateKind, Vec<usize>),
    Linear(f64, Vec<(usize, f64)>),
}

/// Resolves regulator names; every regulator must come earlier in `nodes` (so one pass in order
/// evaluates the network).
pub(crate) fn compile(nodes: &[NetworkNode]) -> Result<Vec<Compiled>> {
    let find = |name: &str, before: usize| -> Result<usize> {
        nodes[..before]
            .iter()
            .position(|n| n.symbol == name)
            .ok_or_else(|| {
                Error::param(
                    "network",
                    name,
                    format!(
                        "regulator of `{}` must be a node listed before it",
                        nodes[before].symbol
                    ),
                )
            })
    };
    let mut out = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        out.push(match &n.rule {
            NodeRule::Switch { p_on } => Compiled::Switch(*p_on),
            NodeRule::Level => Compiled::Level,
            NodeRule::Xor { a, b } => Compiled::Gate(GateKind::Xor, vec![find(a, i)?, find(b, i)?]),
            NodeRule::And { a, b } => Compiled::Gate(GateKind::And, vec![find(a, i)?, find(b, i)?]),
            NodeRule::AndNot { on, off } => {
                Compiled::Gate(GateKind::AndNot, vec![find(on, i)?, find(off, i)?])
            }
            NodeRule::Parity { inputs } => {
                if !(2..=MAX_PARITY_INPUTS).contains(&inputs.len()) {
                    return Err(Error::param(
                        "network",
                        &n.symbol,
                        format!("a parity gate has 2 to {MAX_PARITY_INPUTS} inputs"),
                    ));
                }
                let r = inputs.iter().map(|r| find(r, i)).collect::<Result<_>>()?;
                Compiled::Gate(GateKind::Parity, r)
            }
            NodeRule::Linear { intercept, terms } => Compiled::Linear(
                *intercept,
                terms
                    .iter()
                    .map(|(r, w)| Ok((find(r, i)?, *w)))
                    .collect::<Result<_>>()?,
            ),
        });
    }
    Ok(out)
}

/// Draws the inputs and evaluates the gates of one cell into `activity` (one per node).
pub(crate) fn draw_activities<R: rand::Rng + ?Sized>(
    compiled: &[Compiled],
    rng: &mut R,
    activity: &mut [f64],
) {
    for (i, c) in compiled.iter().enumerate() {
        let v = match c {
            Compiled::Switch(p) => {
                let u: f64 = rng.random();
                if u < *p {
                    1.0
                } else {
                    0.0
                }
            }
            Compiled::Level => rng.random::<f64>(),
            Compiled::Gate(kind, r) => kind.eval_n(r.len(), |k| activity[r[k]]),
            Compiled::Linear(c0, terms) => {
                let v = c0 + terms.iter().map(|(r, w)| w * activity[*r]).sum::<f64>();
                v.clamp(0.0, 1.0)
            }
        };
        activity[i] = v;
    }
}

/// Sign and kind of a regulatory (or marker) relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Input of an XOR gate (its sign is that of the first-order term, +1; the effect flips when
    /// the other input is ON).
    Xor,
    /// Input of an AND gate.
    And,
    /// Input of an AND-NOT gate: the activator (+1) or the repressor (−1).
    AndNot,
    /// Input of a parity gate (+1, the sign of its first-order term).
    Parity,
    /// Linear activation (+1) or repression (−1).
    Linear,
    /// A cell type's programme switching on its marker gene (source `cell_type:<name>`).
    Marker,
}

/// A signed, typed edge `source → target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedEdge {
    /// Regulator (a gene symbol, or `cell_type:<name>` for marker edges).
    pub source: String,
    /// Regulated gene.
    pub target: String,
    /// +1 activation, −1 repression.
    pub sign: i8,
    /// What kind of relation.
    pub kind: EdgeKind,
}

/// A monomial `coef · Π vars` of a polynomial rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolyTerm {
    /// Coefficient.
    pub coef: f64,
    /// Variables multiplied (empty for the constant).
    pub vars: Vec<String>,
}

/// The true rule of one network target.
///
/// For gates the variables are the binarised ON/OFF (1/0) states of the regulators; for linear
/// targets they are the regulators' activities in [0, 1] (expression ≈ baseline + amplitude ·
/// activity). The target's own value is its activity in the same sense.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRule {
    /// Target gene.
    pub target: String,
    /// Kind of rule (xor, and, and_not, linear).
    pub kind: EdgeKind,
    /// Regulators, in the rule's order.
    pub regulators: Vec<String>,
    /// Boolean rule in plain text (`T = (A and not B) or (B and not A)`; operators `and`, `or`,
    /// `not`, parentheses), for gates.
    pub boolean: Option<String>,
    /// Polynomial form in plain text (`T = A + B - 2*A*B`).
    pub polynomial: String,
    /// The polynomial's monomials.
    pub terms: Vec<PolyTerm>,
    /// Expected count at activity 0 (median library size).
    pub baseline: f64,
    /// Added expected count at activity 1.
    pub amplitude: f64,
}

fn term(coef: f64, vars: &[&str]) -> PolyTerm {
    PolyTerm {
        coef,
        vars: vars.iter().map(|s| s.to_string()).collect(),
    }
}

/// Plain-text polynomial `target = t1 + t2 - ...`.
pub(crate) fn poly_text(target: &str, terms: &[PolyTerm]) -> String {
    let mut s = format!("{target} =");
    for (i, t) in terms.iter().enumerate() {
        let mag = t.coef.abs();
        let sign = if t.coef < 0.0 { "-" } else { "+" };
        if i == 0 {
            s.push(' ');
            if t.coef < 0.0 {
                s.push('-');
            }
        } else {
            s.push_str(&format!(" {sign} "));
        }
        let vars = t.vars.join("*");
        if vars.is_empty() {
            s.push_str(&fmt_num(mag));
        } else if (mag - 1.0).abs() < 1e-12 {
            s.push_str(&vars);
        } else {
            s.push_str(&format!("{}*{vars}", fmt_num(mag)));
        }
    }
    s
}

/// Shortest round-tripping text of a number (`0.4`, `15`, `0.0625`).
pub(crate) fn fmt_num(v: f64) -> String {
    format!("{v}")
}

/// Edges and rules of `nodes`.
pub(crate) fn edges_and_rules(nodes: &[NetworkNode]) -> (Vec<SignedEdge>, Vec<TargetRule>) {
    let mut edges = Vec::new();
    let mut rules = Vec::new();
    for n in nodes {
        let t = n.symbol.as_str();
        let edge = |s: &str, sign: i8, kind: EdgeKind| SignedEdge {
            source: s.into(),
            target: t.into(),
            sign,
            kind,
        };
        let (kind, regulators, boolean, terms) = match &n.rule {
            NodeRule::Switch { .. } | NodeRule::Level => continue,
            NodeRule::Xor { a, b } => {
                edges.push(edge(a, 1, EdgeKind::Xor));
                edges.push(edge(b, 1, EdgeKind::Xor));
                (
                    EdgeKind::Xor,
                    vec![a.clone(), b.clone()],
                    Some(format!("{t} = ({a} and not {b}) or ({b} and not {a})")),
                    vec![term(1.0, &[a]), term(1.0, &[b]), term(-2.0, &[a, b])],
                )
            }
            NodeRule::And { a, b } => {
                edges.push(edge(a, 1, EdgeKind::And));
                edges.push(edge(b, 1, EdgeKind::And));
                (
                    EdgeKind::And,
                    vec![a.clone(), b.clone()],
                    Some(format!("{t} = {a} and {b}")),
                    vec![term(1.0, &[a, b])],
                )
            }
            NodeRule::AndNot { on, off } => {
                edges.push(edge(on, 1, EdgeKind::AndNot));
                edges.push(edge(off, -1, EdgeKind::AndNot));
                (
                    EdgeKind::AndNot,
                    vec![on.clone(), off.clone()],
                    Some(format!("{t} = {on} and not {off}")),
                    vec![term(1.0, &[on]), term(-1.0, &[on, off])],
                )
            }
            NodeRule::Parity { inputs } => {
                for r in inputs {
                    edges.push(edge(r, 1, EdgeKind::Parity));
                }
                let names: Vec<&str> = inputs.iter().map(String::as_str).collect();
                let terms = GateKind::Parity
                    .monomials(inputs.len())
                    .into_iter()
                    .map(|(c, vars)| {
                        let v: Vec<&str> = vars.iter().map(|&i| names[i]).collect();
                        term(c, &v)
                    })
                    .collect();
                (
                    EdgeKind::Parity,
                    inputs.clone(),
                    Some(format!("{t} = {}", parity_dnf(&names))),
                    terms,
                )
            }
            NodeRule::Linear { intercept, terms } => {
                let mut poly = Vec::new();
                if *intercept != 0.0 {
                    poly.push(term(*intercept, &[]));
                }
                for (r, w) in terms {
                    edges.push(edge(r, if *w < 0.0 { -1 } else { 1 }, EdgeKind::Linear));
                    poly.push(term(*w, &[r]));
                }
                (
                    EdgeKind::Linear,
                    terms.iter().map(|(r, _)| r.clone()).collect(),
                    None,
                    poly,
                )
            }
        };
        rules.push(TargetRule {
            target: t.into(),
            kind,
            regulators,
            boolean,
            polynomial: poly_text(t, &terms),
            terms,
            baseline: n.baseline,
            amplitude: n.amplitude,
        });
    }
    (edges, rules)
}

/// Odd parity of `inputs` as a disjunction of its ON assignments, in the grammar of
/// [`TargetRule::boolean`] (`(A and not B and not C) or …`, `2^(n−1)` clauses).
fn parity_dnf(inputs: &[&str]) -> String {
    let n = inputs.len();
    (0u64..(1u64 << n))
        .filter(|mask| mask.count_ones() % 2 == 1)
        .map(|mask| {
            let lits: Vec<String> = (0..n)
                .map(|i| {
                    if mask >> i & 1 == 1 {
                        inputs[i].to_string()
                    } else {
                        format!("not {}", inputs[i])
                    }
                })
                .collect();
            format!("({})", lits.join(" and "))
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Production term of one equation of the dynamic model, `dx/dt = production − decay · x`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Production {
    /// `basal + gain · u` with `u` the control input (a switch 0/1 or a level in [0, 1]),
    /// constant along a trajectory.
    Input {
        /// Control name (`u_<gene>`).
        control: String,
        /// Production at `u = 0`.
        basal: f64,
        /// Added production at `u = 1`.
        gain: f64,
    },
    /// `basal + vmax · gate(H(x_1), H(x_2))` with Hill activations
    /// `H(x) = x^n / (K^n + x^n)` and the gate's multilinear form ([`GateKind::eval`]).
    Gate {
        /// Which gate.
        gate: GateKind,
        /// The regulators (two; any number for a parity).
        regulators: Vec<String>,
        /// Half-activation constant `K` of each regulator.
        hill_k: Vec<f64>,
        /// Hill coefficient `n`.
        hill_n: f64,
        /// Production with the gate OFF.
        basal: f64,
        /// Added production with the gate ON.
        vmax: f64,
    },
    /// `basal + Σ coef · x_regulator` (linear, mass-action-like activation or repression).
    Linear {
        /// Constant production.
        basal: f64,
        /// `(regulator, coefficient)` pairs.
        terms: Vec<(String, f64)>,
    },
}

/// One equation of the dynamic model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicEquation {
    /// The gene whose rate of change this is.
    pub target: String,
    /// Production term.
    pub production: Production,
    /// First-order decay rate.
    pub decay: f64,
    /// The equation in plain text.
    pub text: String,
}

/// The true dynamic equations of the network (the time-course mode's ground truth).
///
/// Steady states reproduce the snapshot model: an input settles at
/// `baseline + amplitude · u`, a gate target at `baseline + amplitude · gate(...)` (with sharp
/// Hill functions), a linear target at `baseline + amplitude · (intercept + Σ w · level)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicTruth {
    /// State variables (gene symbols), in trajectory column order.
    pub variables: Vec<String>,
    /// Control inputs (`u_<gene>` of each input gene), in trajectory control order.
    pub controls: Vec<String>,
    /// One equation per variable, in the same order.
    pub equations: Vec<DynamicEquation>,
}

impl DynamicTruth {
    /// The dynamic model of `nodes` with Hill coefficient `hill_n`. Each regulator's
    /// half-activation constant is the midpoint of its OFF and ON levels.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if a regulator is unknown or listed after its target.
    pub fn from_network(nodes: &[NetworkNode], hill_n: f64) -> Result<Self> {
        compile(nodes)?;
        let node = |name: &str| nodes.iter().find(|n| n.symbol == name);
        let mut equations = Vec::with_capacity(nodes.len());
        let mut controls = Vec::new();
        for n in nodes {
            let t = &n.symbol;
            let d = n.decay;
            let decay_txt = format!("{}*{t}", fmt_num(d));
            let (production, text) = match &n.rule {
                NodeRule::Switch { .. } | NodeRule::Level => {
                    let control = format!("u_{t}");
                    controls.push(control.clone());
                    let basal = d * n.baseline;
                    let gain = d * n.amplitude;
                    let text = format!(
                        "d{t}/dt = {} + {}*{control} - {decay_txt}",
                        fmt_num(basal),
                        fmt_num(gain)
                    );
                    (
                        Production::Input {
                            control,
                            basal,
                            gain,
                        },
                        text,
                    )
                }
                NodeRule::Xor { a, b } | NodeRule::And { a, b } => {
                    let gate = if matches!(n.rule, NodeRule::Xor { .. }) {
                        GateKind::Xor
                    } else {
                        GateKind::And
                    };
                    gate_equation(n, gate, &[a, b], hill_n, &node)
                }
                NodeRule::AndNot { on, off } => {
                    gate_equation(n, GateKind::AndNot, &[on, off], hill_n, &node)
                }
                NodeRule::Parity { inputs } => {
                    let r: Vec<&str> = inputs.iter().map(String::as_str).collect();
                    gate_equation(n, GateKind::Parity, &r, hill_n, &node)
                }
                NodeRule::Linear { intercept, terms } => {
                    // activity(r) = (x_r - baseline_r) / amplitude_r.
                    let mut basal = n.baseline + n.amplitude * intercept;
                    let mut lin = Vec::new();
                    for (r, w) in terms {
                        let (rb, ra) = node(r).map_or((0.0, 1.0), |m| (m.baseline, m.amplitude));
                        basal -= n.amplitude * w * rb / ra;
                        lin.push((r.clone(), d * n.amplitude * w / ra));
                    }
                    let basal = d * basal;
                    let mut text = format!("d{t}/dt = {}", fmt_num(basal));
                    for (r, c) in &lin {
                        let sign = if *c < 0.0 { "-" } else { "+" };
                        text.push_str(&format!(" {sign} {}*{r}", fmt_num(c.abs())));
                    }
                    text.push_str(&format!(" - {decay_txt}"));
                    (Production::Linear { basal, terms: lin }, text)
                }
            };
            equations.push(DynamicEquation {
                target: t.clone(),
                production,
                decay: d,
                text,
            });
        }
        Ok(DynamicTruth {
            variables: nodes.iter().map(|n| n.symbol.clone()).collect(),
            controls,
            equations,
        })
    }

    /// `dx/dt` at state `x` (one value per variable) and controls `u` (one per control).
    ///
    /// # Errors
    /// [`Error::Shape`] for wrong lengths, [`Error::InvalidParam`] for an equation naming an
    /// unknown variable or control.
    pub fn derivative(&self, x: &[f64], u: &[f64]) -> Result<Vec<f64>> {
        let c = self.compile()?;
        if x.len() != self.variables.len() || u.len() != self.controls.len() {
            return Err(Error::shape(
                "DynamicTruth::derivative",
                format!(
                    "{} states and {} controls",
                    self.variables.len(),
                    self.controls.len()
                ),
                format!("{} and {}", x.len(), u.len()),
            ));
        }
        let mut dx = vec![0.0; x.len()];
        c.rhs(x, u, &mut dx);
        Ok(dx)
    }

    pub(crate) fn compile(&self) -> Result<CompiledDynamics> {
        let var = |name: &str| {
            self.variables
                .iter()
                .position(|v| v == name)
                .ok_or_else(|| Error::param("dynamics", name, "unknown variable in an equation"))
        };
        let mut eqs = Vec::with_capacity(self.equations.len());
        for (i, e) in self.equations.iter().enumerate() {
            if var(&e.target)? != i {
                return Err(Error::param(
                    "dynamics",
                    &e.target,
                    "equations must follow the order of the variables",
                ));
            }
            let p = match &e.production {
                Production::Input {
                    control,
                    basal,
                    gain,
                } => CompiledProduction::Input(
                    self.controls
                        .iter()
                        .position(|c| c == control)
                        .ok_or_else(|| Error::param("dynamics", control, "unknown control"))?,
                    *basal,
                    *gain,
                ),
                Production::Gate {
                    gate,
                    regulators,
                    hill_k,
                    hill_n,
                    basal,
                    vmax,
                } => {
                    if !gate.arity_ok(regulators.len())
                        || hill_k.len() != regulators.len()
                        || regulators.len() > MAX_PARITY_INPUTS
                    {
                        return Err(Error::param(
                            "dynamics",
                            &e.target,
                            "a gate has two regulators (a parity 2 to 8) and one Hill constant each",
                        ));
                    }
                    CompiledProduction::Gate {
                        gate: *gate,
                        r: regulators.iter().map(|r| var(r)).collect::<Result<_>>()?,
                        k: hill_k.clone(),
                        n: *hill_n,
                        basal: *basal,
                        vmax: *vmax,
                    }
                }
                Production::Linear { basal, terms } => CompiledProduction::Linear(
                    *basal,
                    terms
                        .iter()
                        .map(|(r, c)| Ok((var(r)?, *c)))
                        .collect::<Result<_>>()?,
                ),
            };
            eqs.push((p, e.decay));
        }
        Ok(CompiledDynamics { eqs })
    }
}

fn gate_equation<'a>(
    n: &NetworkNode,
    gate: GateKind,
    regulators: &[&str],
    hill_n: f64,
    node: &dyn Fn(&str) -> Option<&'a NetworkNode>,
) -> (Production, String) {
    let half = |r: &str| node(r).map_or(1.0, |m| m.baseline + 0.5 * m.amplitude);
    let k: Vec<f64> = regulators.iter().map(|r| half(r)).collect();
    let d = n.decay;
    let basal = d * n.baseline;
    let vmax = d * n.amplitude;
    let t = &n.symbol;
    let g = match (gate, regulators) {
        (GateKind::Xor, [a, b]) => format!("h{a} + h{b} - 2*h{a}*h{b}"),
        (GateKind::And, [a, b]) => format!("h{a}*h{b}"),
        (GateKind::AndNot, [a, b]) => format!("h{a}*(1 - h{b})"),
        _ => {
            let f: Vec<String> = regulators.iter().map(|r| format!("(1 - 2*h{r})")).collect();
            format!("(1 - {})/2", f.join("*"))
        }
    };
    let hills: Vec<String> = regulators
        .iter()
        .zip(&k)
        .map(|(r, k)| {
            format!(
                "h{r} = {r}^{n}/({k}^{n} + {r}^{n})",
                n = fmt_num(hill_n),
                k = fmt_num(*k)
            )
        })
        .collect();
    let text = format!(
        "d{t}/dt = {} + {}*({g}) - {}*{t}, where {}",
        fmt_num(basal),
        fmt_num(vmax),
        fmt_num(d),
        hills.join(", ")
    );
    (
        Production::Gate {
            gate,
            regulators: regulators.iter().map(|r| r.to_string()).collect(),
            hill_k: k,
            hill_n,
            basal,
            vmax,
        },
        text,
    )
}

#[derive(Debug, Clone)]
enum CompiledProduction {
    Input(usize, f64, f64),
    Gate {
        gate: GateKind,
        r: Vec<usize>,
        k: Vec<f64>,
        n: f64,
        basal: f64,
        vmax: f64,
    },
    Linear(f64, Vec<(usize, f64)>),
}

/// [`DynamicTruth`] with names resolved, for fast right-hand-side evaluation.
#[derive(Debug, Clone)]
pub(crate) struct CompiledDynamics {
    eqs: Vec<(CompiledProduction, f64)>,
}

fn hill(x: f64, k: f64, n: f64) -> f64 {
    let x = x.max(0.0);
    let xn = x.powf(n);
    let kn = k.powf(n);
    if xn + kn > 0.0 {
        xn / (xn + kn)
    } else {
        0.0
    }
}

impl CompiledDynamics {
    /// `dx = f(x, u)`; lengths are the caller's responsibility (checked by the callers).
    pub(crate) fn rhs(&self, x: &[f64], u: &[f64], dx: &mut [f64]) {
        for (i, ((p, decay), out)) in self.eqs.iter().zip(dx.iter_mut()).enumerate() {
            let at = |j: usize| x.get(j).copied().unwrap_or(0.0);
            let prod = match p {
                CompiledProduction::Input(c, basal, gain) => {
                    basal + gain * u.get(*c).copied().unwrap_or(0.0)
                }
                CompiledProduction::Gate {
                    gate,
                    r,
                    k,
                    n,
                    basal,
                    vmax,
                } => basal + vmax * gate.eval_n(r.len(), |i| hill(at(r[i]), k[i], *n)),
                CompiledProduction::Linear(basal, terms) => {
                    basal + terms.iter().map(|(j, c)| c * at(*j)).sum::<f64>()
                }
            };
            *out = prod - decay * at(i);
        }
    }
}
