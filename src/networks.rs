//! Gene-network generators for benchmarking network inference from time courses: Boolean
//! models (BEELINE's synthetic topologies, published models, random networks) turned into
//! continuous dynamics in two ways that differ from any fitted library.
//!
//! - [`Kinetics::BoolOde`], in the style of BoolODE (Pratapa et al. 2020): mRNA `x` and protein
//!   `p` per gene; production `m · (b + (1 − b) · F(h(p)))` where `F` is the rule's truth table
//!   interpolated multilinearly in Hill terms `h_ij(p) = pⁿ/(Kⁿ + pⁿ)` of the regulators'
//!   *proteins* (the Shea–Ackers form BoolODE writes), with `n` and `K` drawn per interaction,
//!   rates per gene, and chemical-Langevin intrinsic noise `s (√production + √decay) dW`.
//! - [`Kinetics::HillCube`], Odefy's normalised HillCubes (Wittmann et al. 2009), the way
//!   published Boolean models (myeloid differentiation, hematopoiesis) are simulated:
//!   `dxᵢ/dt = (F(ĥ(x)) − xᵢ)/τᵢ` with normalised Hill functions `ĥ(x) = h(x)/h(1)`, `n`, `K`
//!   drawn per interaction and `τ` per gene.
//!
//! Both are integrated by Euler–Maruyama on a fine step and sampled on a uniform grid with
//! Gaussian measurement noise (a fraction of each gene's observed range). Every draw is keyed
//! by the seed, so a simulation is the same for any thread count.

use ndarray::Array2;
use rand::Rng;
use rayon::prelude::*;

use crate::data::{TimeGrid, Trajectory};
use crate::error::{Error, Result};
use crate::rules::{parse_boolean_rule, BoolExpr, TruthNetwork};

const DOMAIN_PARAMS: u64 = 0x6e657477_6f726b01;
const DOMAIN_TRAJ: u64 = 0x6e657477_6f726b02;
const DOMAIN_RANDOM: u64 = 0x6e657477_6f726b03;

/// BEELINE's six synthetic topologies (Pratapa et al. 2020, Fig. 2), by their short names.
pub const BEELINE_TOPOLOGIES: [&str; 6] = ["LI", "CY", "BF", "TF", "BFC", "LL"];

/// Published Boolean models: mCAD (cortical area development, 5 genes), VSC (ventral spinal
/// cord, 8 genes), HSC (myeloid differentiation, Krumsiek et al. 2011, 11 genes).
pub const PUBLISHED_MODELS: [&str; 3] = ["mCAD", "VSC", "HSC"];

/// A Boolean network: one update rule per gene.
#[derive(Debug, Clone, PartialEq)]
pub struct BooleanModel {
    /// The model's name.
    pub name: String,
    /// Genes, in rule order.
    pub genes: Vec<String>,
    /// The rules as text, one `gene = expression` per line (what [`TruthNetwork`] parses).
    pub text: String,
    rules: Vec<CompiledRule>,
}

/// A rule as its multilinear polynomial over regulator indices.
#[derive(Debug, Clone, PartialEq)]
struct CompiledRule {
    /// Distinct regulators (gene indices) the polynomial depends on.
    regulators: Vec<usize>,
    /// `(coef, positions in `regulators`)`.
    terms: Vec<(f64, Vec<usize>)>,
}

impl BooleanModel {
    /// Parses `gene = expression` lines (`and`, `or`, `not`, parentheses; `#` comments). Every
    /// gene a rule names must have a rule of its own.
    ///
    /// # Errors
    /// [`Error::Parse`] for a malformed rule or a repeated target; [`Error::InvalidParam`] for
    /// a regulator without a rule.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let mut exprs: Vec<(String, BoolExpr)> = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (g, e) = parse_boolean_rule(line)?;
            if exprs.iter().any(|(h, _)| *h == g) {
                return Err(Error::parse(
                    std::path::Path::new(name),
                    0,
                    format!("gene `{g}` has two rules"),
                ));
            }
            exprs.push((g, e));
        }
        let genes: Vec<String> = exprs.iter().map(|(g, _)| g.clone()).collect();
        let index = |v: &str| genes.iter().position(|g| g == v);
        let mut rules = Vec::with_capacity(exprs.len());
        for (g, e) in &exprs {
            let poly = e.polynomial();
            let mut regulators: Vec<usize> = Vec::new();
            for t in &poly {
                for v in &t.vars {
                    let i = index(v).ok_or_else(|| {
                        Error::param(
                            "model",
                            name,
                            format!("`{v}` regulates `{g}` but has no rule"),
                        )
                    })?;
                    if !regulators.contains(&i) {
                        regulators.push(i);
                    }
                }
            }
            regulators.sort_unstable();
            let terms = poly
                .iter()
                .map(|t| {
                    let pos = t
                        .vars
                        .iter()
                        .filter_map(|v| index(v))
                        .filter_map(|i| regulators.iter().position(|&r| r == i))
                        .collect();
                    (t.coef, pos)
                })
                .collect();
            rules.push(CompiledRule { regulators, terms });
        }
        if genes.is_empty() {
            return Err(Error::Empty {
                what: "Boolean model",
                why: format!("{name} has no rules"),
            });
        }
        Ok(BooleanModel {
            name: name.to_string(),
            genes,
            text: text.to_string(),
            rules,
        })
    }

    /// The signed network the rules define.
    ///
    /// # Errors
    /// As [`TruthNetwork::parse_boolean_rules`].
    pub fn truth(&self) -> Result<TruthNetwork> {
        TruthNetwork::parse_boolean_rules(&self.text, std::path::Path::new(&self.name))
    }

    /// Number of regulator → target edges between different genes.
    pub fn n_edges(&self) -> usize {
        self.rules
            .iter()
            .enumerate()
            .map(|(g, r)| r.regulators.iter().filter(|&&j| j != g).count())
            .sum()
    }
}

/// One of [`BEELINE_TOPOLOGIES`], rebuilt from the BEELINE paper's figure: LI linear, CY
/// cycle, BF bifurcating, TF trifurcating, BFC bifurcating-converging, LL linear-long.
pub fn beeline_topology(name: &str) -> Option<BooleanModel> {
    let text = match name {
        "LI" => {
            "g1 = not g7\ng2 = g1\ng3 = g2\ng4 = g3\ng5 = g4\ng6 = g5\ng7 = g6 or g7\n".to_string()
        }
        "CY" => "g1 = not g5\ng2 = not g1\ng3 = not g2\ng4 = g3\ng5 = g4\ng6 = g1\n".to_string(),
        "BF" => "g1 = not (g4 or g6)\ng2 = g1\ng3 = g2\ng4 = (g3 or g4) and not g6\n\
                 g6 = (g6 or g3) and not g4\ng7 = g4\ng8 = not g4\n"
            .to_string(),
        "TF" => "g1 = not (g4 or g5 or g6)\ng2 = g1\ng3 = g2\ng4 = (g3 or g4) and not (g5 or g6)\n\
                 g5 = (g5 or g3) and not (g4 or g6)\ng6 = (g3 or g6 or g7) and not (g5 or g4)\n\
                 g7 = g6\ng8 = not g4\n"
            .to_string(),
        "BFC" => "g1 = not g9\ng2 = g1\ng3 = g2\ng4 = (g3 or g4) and not (g5 or g8)\n\
                  g5 = (g3 or g5) and not (g4 or g8)\ng6 = g4\ng7 = g5\ng8 = g7 or g6 or g8\n\
                  g9 = g8\ng10 = g9\n"
            .to_string(),
        "LL" => {
            let mut s = String::from("g1 = not g18\n");
            for i in 2..18 {
                s.push_str(&format!("g{i} = g{}\n", i - 1));
            }
            s.push_str("g18 = g17 or g18\n");
            s
        }
        _ => return None,
    };
    BooleanModel::parse(name, &text).ok()
}

/// One of [`PUBLISHED_MODELS`], written from the papers' rules.
pub fn published_model(name: &str) -> Option<BooleanModel> {
    let text = match name {
        "mCAD" => {
            "Fgf8 = Fgf8 and Sp8 and not Emx2\nEmx2 = Coup and not Fgf8 and not Pax6 and not Sp8\n\
             Pax6 = Sp8 and not Emx2 and not Coup\nCoup = not Fgf8 and not Sp8\nSp8 = Fgf8 and not Emx2\n"
        }
        "VSC" => {
            "Nkx61 = not Dbx2\nNkx62 = not (Nkx61 or Dbx1)\nNkx22 = not (Pax6 or Dbx2)\n\
             Pax6 = not Nkx22\nDbx1 = not (Nkx62 or Nkx61)\nDbx2 = not (Nkx61 or Olig2 or Nkx22)\n\
             Olig2 = not (Irx3 or Nkx22)\nIrx3 = not (Olig2 or Nkx22)\n"
        }
        "HSC" => {
            "Gata2 = Gata2 and not (Pu1 or (Gata1 and Fog1))\nGata1 = (Gata1 or Gata2 or Fli1) and not Pu1\n\
             Fog1 = Gata1\nEklf = Gata1 and not Fli1\nFli1 = Gata1 and not Eklf\nScl = Gata1 and not Pu1\n\
             Cebpa = Cebpa and not (Scl or (Fog1 and Gata1))\nPu1 = (Cebpa or Pu1) and not (Gata1 or Gata2)\n\
             cJun = Pu1 and not Gfi1\nEgrNab = Pu1 and cJun and not Gfi1\nGfi1 = Cebpa and not EgrNab\n"
        }
        _ => return None,
    };
    BooleanModel::parse(name, text).ok()
}

/// A random Boolean network of `n_genes` genes (`G01`, ...), each with 1–3 regulators drawn
/// from the other genes and a canalising rule: the regulators' literals (each negated with
/// probability 0.35) joined left to right by `and` / `or` drawn at random.
///
/// # Errors
/// [`Error::InvalidParam`] under 3 genes.
pub fn random_boolean_model(n_genes: usize, seed: u64) -> Result<BooleanModel> {
    if n_genes < 3 {
        return Err(Error::param("n_genes", n_genes, "must be at least 3"));
    }
    let mut rng = crate::rng::stream(seed, DOMAIN_RANDOM, n_genes as u64);
    let name = |i: usize| format!("G{:02}", i + 1);
    let mut text = String::new();
    for g in 0..n_genes {
        let k = rng.random_range(1..=3usize);
        let mut regs: Vec<usize> = Vec::new();
        while regs.len() < k {
            let r = rng.random_range(0..n_genes);
            if r != g && !regs.contains(&r) {
                regs.push(r);
            }
        }
        let mut expr = String::new();
        for (i, r) in regs.iter().enumerate() {
            let lit = if rng.random::<f64>() < 0.35 {
                format!("not {}", name(*r))
            } else {
                name(*r)
            };
            expr = if i == 0 {
                lit
            } else {
                let op = if rng.random::<bool>() { "and" } else { "or" };
                format!("({expr}) {op} {lit}")
            };
        }
        text.push_str(&format!("{} = {expr}\n", name(g)));
    }
    BooleanModel::parse(&format!("random{n_genes}-{seed}"), &text)
}

/// How a Boolean model becomes continuous dynamics (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kinetics {
    /// mRNA + protein, Shea–Ackers Hill kinetics, chemical-Langevin noise.
    BoolOde,
    /// Odefy's normalised HillCubes.
    HillCube,
}

/// Parameters of [`simulate_model`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `kinetics` | BoolODE-style | how rules become rates | |
/// | `n_trajectories` | 6 | trajectories, each from a random start | ≥ 1 |
/// | `n_samples` | 100 | samples per trajectory | ≥ 2 |
/// | `t_end` | 10 | duration (time unit: a typical decay time) | > 0 |
/// | `hill_n` | `(1.5, 6)` | range of the per-interaction Hill coefficient | 1 ≤ lo ≤ hi |
/// | `hill_k` | `(0.3, 0.7)` | range of the per-interaction threshold (levels are in [0, 1]) | 0 < lo ≤ hi |
/// | `intrinsic_noise` | 0.05 | `s` of the Langevin term | ≥ 0 |
/// | `measurement_noise` | 0.05 | sd as a fraction of each gene's observed range | ≥ 0 |
/// | `seed` | 0 | every draw | any |
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSimParams {
    /// Kinetics.
    pub kinetics: Kinetics,
    /// Trajectories.
    pub n_trajectories: usize,
    /// Samples per trajectory.
    pub n_samples: usize,
    /// Duration.
    pub t_end: f64,
    /// Range of Hill coefficients.
    pub hill_n: (f64, f64),
    /// Range of Hill thresholds.
    pub hill_k: (f64, f64),
    /// Intrinsic noise strength.
    pub intrinsic_noise: f64,
    /// Measurement noise.
    pub measurement_noise: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for NetworkSimParams {
    fn default() -> Self {
        NetworkSimParams {
            kinetics: Kinetics::BoolOde,
            n_trajectories: 6,
            n_samples: 100,
            t_end: 10.0,
            hill_n: (1.5, 6.0),
            hill_k: (0.3, 0.7),
            intrinsic_noise: 0.05,
            measurement_noise: 0.05,
            seed: 0,
        }
    }
}

impl NetworkSimParams {
    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        crate::data::check_sampling(self.n_trajectories, self.n_samples)?;
        if !(self.t_end.is_finite() && self.t_end > 0.0) {
            return Err(Error::param("t_end", self.t_end, "must be finite and > 0"));
        }
        let (nlo, nhi) = self.hill_n;
        if !(nlo.is_finite() && nhi.is_finite() && 1.0 <= nlo && nlo <= nhi) {
            return Err(Error::param(
                "hill_n",
                format!("{nlo}..{nhi}"),
                "must satisfy 1 <= lo <= hi",
            ));
        }
        let (klo, khi) = self.hill_k;
        if !(klo.is_finite() && khi.is_finite() && 0.0 < klo && klo <= khi) {
            return Err(Error::param(
                "hill_k",
                format!("{klo}..{khi}"),
                "must satisfy 0 < lo <= hi",
            ));
        }
        for (name, v) in [
            ("intrinsic_noise", self.intrinsic_noise),
            ("measurement_noise", self.measurement_noise),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(name, v, "must be finite and >= 0"));
            }
        }
        Ok(())
    }
}

/// Per-gene and per-interaction constants drawn for one simulation.
struct Drawn {
    /// `(n, K)` per regulator of each gene's rule.
    hill: Vec<Vec<(f64, f64)>>,
    /// Production/decay rate (BoolODE) or `1/τ` (HillCube).
    rate: Vec<f64>,
    /// Protein rate (BoolODE).
    protein_rate: Vec<f64>,
    /// Basal share of production (BoolODE).
    basal: Vec<f64>,
}

/// Euler–Maruyama step (the fine integration step).
const STEP: f64 = 0.005;

/// Simulates `model` as continuous dynamics: `n_trajectories` time courses of every gene's
/// (mRNA) level on a uniform grid from 0 to `t_end`, with measurement noise.
///
/// # Errors
/// [`Error::InvalidParam`] for bad parameters.
pub fn simulate_model(model: &BooleanModel, p: &NetworkSimParams) -> Result<Vec<Trajectory>> {
    p.validate()?;
    let d = model.genes.len();
    let mut rng = crate::rng::stream(p.seed, DOMAIN_PARAMS, 0);
    let uni = |lo: f64, hi: f64, rng: &mut crate::rng::Stream| {
        if hi > lo {
            rng.random_range(lo..hi)
        } else {
            lo
        }
    };
    let drawn = Drawn {
        hill: model
            .rules
            .iter()
            .map(|r| {
                r.regulators
                    .iter()
                    .map(|_| {
                        (
                            uni(p.hill_n.0, p.hill_n.1, &mut rng),
                            uni(p.hill_k.0, p.hill_k.1, &mut rng),
                        )
                    })
                    .collect()
            })
            .collect(),
        rate: (0..d).map(|_| uni(0.5, 2.0, &mut rng)).collect(),
        protein_rate: (0..d).map(|_| uni(1.0, 4.0, &mut rng)).collect(),
        basal: (0..d).map(|_| uni(0.0, 0.1, &mut rng)).collect(),
    };
    let dt_out = p.t_end / (p.n_samples - 1) as f64;
    let sub = (dt_out / STEP).ceil().max(1.0) as usize;
    let h = dt_out / sub as f64;
    let mut xs: Vec<Array2<f64>> = (0..p.n_trajectories)
        .into_par_iter()
        .map(|k| simulate_one(model, &drawn, p, k as u64, sub, h))
        .collect();
    // Measurement noise: a fraction of each gene's range over every trajectory.
    if p.measurement_noise > 0.0 {
        let mut range = vec![0.0f64; d];
        for (j, r) in range.iter_mut().enumerate() {
            let (lo, hi) = xs
                .iter()
                .flat_map(|x| x.column(j).to_vec())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                });
            *r = (hi - lo).max(1e-3);
        }
        for (k, x) in xs.iter_mut().enumerate() {
            let mut rng = crate::rng::stream(p.seed, DOMAIN_TRAJ, 1_000_000 + k as u64);
            for mut row in x.rows_mut() {
                for (v, r) in row.iter_mut().zip(&range) {
                    *v +=
                        p.measurement_noise * r * rng.sample::<f64, _>(rand_distr::StandardNormal);
                }
            }
        }
    }
    xs.into_iter()
        .map(|x| {
            Trajectory::with_names(
                x,
                TimeGrid::uniform(0.0, dt_out, p.n_samples)?,
                model.genes.clone(),
            )
        })
        .collect()
}

fn simulate_one(
    model: &BooleanModel,
    drawn: &Drawn,
    p: &NetworkSimParams,
    k: u64,
    sub: usize,
    h: f64,
) -> Array2<f64> {
    let d = model.genes.len();
    let mut rng = crate::rng::stream(p.seed, DOMAIN_TRAJ, k);
    let mut x: Vec<f64> = (0..d).map(|_| rng.random::<f64>()).collect();
    let mut prot = x.clone();
    let mut out = Array2::zeros((p.n_samples, d));
    let sq = h.sqrt();
    let mut prod = vec![0.0; d];
    let mut hv: Vec<f64> = Vec::new();
    for i in 0..p.n_samples {
        for (o, v) in out.row_mut(i).iter_mut().zip(&x) {
            *o = *v;
        }
        if i + 1 == p.n_samples {
            break;
        }
        for _ in 0..sub {
            let reg = match p.kinetics {
                Kinetics::BoolOde => &prot,
                Kinetics::HillCube => &x,
            };
            for (g, rule) in model.rules.iter().enumerate() {
                hv.clear();
                for (&j, &(n, kk)) in rule.regulators.iter().zip(&drawn.hill[g]) {
                    let u = reg[j].max(0.0);
                    let un = u.powf(n);
                    let kn = kk.powf(n);
                    let hill = un / (kn + un);
                    hv.push(match p.kinetics {
                        Kinetics::BoolOde => hill,
                        // Normalised: ĥ(1) = 1, capped at 1 above the unit level.
                        Kinetics::HillCube => (hill * (1.0 + kn)).min(1.0),
                    });
                }
                let f: f64 = rule
                    .terms
                    .iter()
                    .map(|(c, pos)| c * pos.iter().map(|&q| hv[q]).product::<f64>())
                    .sum();
                prod[g] = f.clamp(0.0, 1.0);
            }
            for g in 0..d {
                let rate = drawn.rate[g];
                match p.kinetics {
                    Kinetics::BoolOde => {
                        let make = rate * (drawn.basal[g] + (1.0 - drawn.basal[g]) * prod[g]);
                        let decay = rate * x[g];
                        let noise = p.intrinsic_noise * (make.sqrt() + decay.max(0.0).sqrt());
                        x[g] = (x[g]
                            + (make - decay) * h
                            + noise * sq * rng.sample::<f64, _>(rand_distr::StandardNormal))
                        .max(0.0);
                        let pr = drawn.protein_rate[g];
                        prot[g] += pr * (x[g] - prot[g]) * h;
                    }
                    Kinetics::HillCube => {
                        x[g] = (x[g]
                            + rate * (prod[g] - x[g]) * h
                            + p.intrinsic_noise
                                * sq
                                * rng.sample::<f64, _>(rand_distr::StandardNormal))
                        .max(0.0);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topologies_parse_with_their_edge_counts() {
        let edges: Vec<usize> = BEELINE_TOPOLOGIES
            .iter()
            .map(|n| beeline_topology(n).unwrap().n_edges())
            .collect();
        assert_eq!(edges, [7, 6, 10, 17, 15, 18]);
        for n in PUBLISHED_MODELS {
            assert!(published_model(n).is_some(), "{n}");
        }
        assert_eq!(published_model("HSC").unwrap().genes.len(), 11);
    }

    #[test]
    fn simulation_is_seeded_and_bounded() {
        let m = beeline_topology("BF").unwrap();
        for kinetics in [Kinetics::BoolOde, Kinetics::HillCube] {
            let p = NetworkSimParams {
                kinetics,
                n_trajectories: 2,
                n_samples: 20,
                ..NetworkSimParams::default()
            };
            let a = simulate_model(&m, &p).unwrap();
            let b = simulate_model(&m, &p).unwrap();
            assert_eq!(a[1].x(), b[1].x());
            assert!(a
                .iter()
                .all(|t| t.x().iter().all(|v| v.is_finite() && *v > -0.5 && *v < 1.5)));
        }
        assert!(random_boolean_model(2, 0).is_err());
        assert!(BooleanModel::parse("x", "a = b\n").is_err());
    }
}
