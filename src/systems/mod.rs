//! Benchmark dynamical systems with known equations (≈ `pysindy.utils.odes`): the ground truth
//! SINDy is validated against.
//!
//! Every system here is polynomial, so its true coefficients can be laid out over any
//! polynomial library ([`true_coefficients`]) and compared term by term with a fit.

pub mod suite;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::data::{TimeGrid, Trajectory};
use crate::error::{Error, Result};
use crate::simulate::{integrate, SolverConfig};

/// A known ODE system `ẋ = f(t, x)`.
pub trait OdeSystem: std::fmt::Debug + Send + Sync {
    /// Number of state variables.
    fn dim(&self) -> usize;
    /// State names.
    fn names(&self) -> Vec<String>;
    /// Right-hand side.
    fn rhs(&self, t: f64, x: &[f64], dx: &mut [f64]);
    /// True polynomial terms: `(target, exponents, coefficient)`.
    fn true_terms(&self) -> Vec<(usize, Vec<u32>, f64)>;
    /// A standard initial condition.
    fn default_x0(&self) -> Vec<f64>;
    /// A sensible sampling step.
    fn default_dt(&self) -> f64;
    /// Smallest polynomial degree that contains the true model.
    fn degree(&self) -> u32 {
        self.true_terms()
            .iter()
            .map(|(_, e, _)| e.iter().sum::<u32>())
            .max()
            .unwrap_or(1)
    }
}

/// The benchmark systems, by name (serde / CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemKind {
    /// Lorenz (1963), σ = 10, ρ = 28, β = 8/3.
    Lorenz,
    /// Rössler (1976), a = b = 0.2, c = 5.7.
    Rossler,
    /// Van der Pol oscillator, μ = 1.
    VanDerPol,
    /// Duffing oscillator, δ = 0.2, α = −1, β = 1 (double well, damped).
    Duffing,
    /// Lotka–Volterra predator–prey: ẋ = x − 0.5xy, ẏ = −1.5y + 0.75xy.
    LotkaVolterra,
    /// Hopf normal form, μ = 0.5, ω = 1.
    Hopf,
}

impl SystemKind {
    /// All systems.
    pub const ALL: [SystemKind; 6] = [
        SystemKind::Lorenz,
        SystemKind::Rossler,
        SystemKind::VanDerPol,
        SystemKind::Duffing,
        SystemKind::LotkaVolterra,
        SystemKind::Hopf,
    ];

    /// Parses a name (`lorenz`, `rossler`, `van_der_pol`, `duffing`, `lotka_volterra`, `hopf`).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] listing the known names.
    pub fn parse(name: &str) -> Result<Self> {
        let n = name.to_ascii_lowercase().replace(['-', ' '], "_");
        Ok(match n.as_str() {
            "lorenz" => SystemKind::Lorenz,
            "rossler" | "roessler" => SystemKind::Rossler,
            "van_der_pol" | "vanderpol" | "vdp" => SystemKind::VanDerPol,
            "duffing" => SystemKind::Duffing,
            "lotka_volterra" | "lotkavolterra" | "lv" => SystemKind::LotkaVolterra,
            "hopf" => SystemKind::Hopf,
            _ => {
                return Err(Error::param(
                    "system",
                    name,
                    "known systems: lorenz, rossler, van_der_pol, duffing, lotka_volterra, hopf",
                ))
            }
        })
    }

    /// The system with its standard parameters.
    pub fn build(self) -> Poly {
        let e = |v: &[u32]| v.to_vec();
        match self {
            SystemKind::Lorenz => Poly::new(
                "lorenz",
                &["x", "y", "z"],
                vec![
                    (0, e(&[1, 0, 0]), -10.0),
                    (0, e(&[0, 1, 0]), 10.0),
                    (1, e(&[1, 0, 0]), 28.0),
                    (1, e(&[0, 1, 0]), -1.0),
                    (1, e(&[1, 0, 1]), -1.0),
                    (2, e(&[1, 1, 0]), 1.0),
                    (2, e(&[0, 0, 1]), -8.0 / 3.0),
                ],
                vec![-8.0, 8.0, 27.0],
                0.002,
            ),
            SystemKind::Rossler => Poly::new(
                "rossler",
                &["x", "y", "z"],
                vec![
                    (0, e(&[0, 1, 0]), -1.0),
                    (0, e(&[0, 0, 1]), -1.0),
                    (1, e(&[1, 0, 0]), 1.0),
                    (1, e(&[0, 1, 0]), 0.2),
                    (2, e(&[0, 0, 0]), 0.2),
                    (2, e(&[1, 0, 1]), 1.0),
                    (2, e(&[0, 0, 1]), -5.7),
                ],
                vec![1.0, 1.0, 0.0],
                0.01,
            ),
            SystemKind::VanDerPol => Poly::new(
                "van_der_pol",
                &["x", "y"],
                vec![
                    (0, e(&[0, 1]), 1.0),
                    (1, e(&[1, 0]), -1.0),
                    (1, e(&[0, 1]), 1.0),
                    (1, e(&[2, 1]), -1.0),
                ],
                vec![2.0, 0.0],
                0.01,
            ),
            SystemKind::Duffing => Poly::new(
                "duffing",
                &["x", "y"],
                vec![
                    (0, e(&[0, 1]), 1.0),
                    (1, e(&[0, 1]), -0.2),
                    (1, e(&[1, 0]), 1.0),
                    (1, e(&[3, 0]), -1.0),
                ],
                vec![1.8, 0.0],
                0.01,
            ),
            SystemKind::LotkaVolterra => Poly::new(
                "lotka_volterra",
                &["x", "y"],
                vec![
                    (0, e(&[1, 0]), 1.0),
                    (0, e(&[1, 1]), -0.5),
                    (1, e(&[0, 1]), -1.5),
                    (1, e(&[1, 1]), 0.75),
                ],
                vec![3.0, 1.0],
                0.01,
            ),
            SystemKind::Hopf => Poly::new(
                "hopf",
                &["x", "y"],
                vec![
                    (0, e(&[1, 0]), 0.5),
                    (0, e(&[0, 1]), -1.0),
                    (0, e(&[3, 0]), -1.0),
                    (0, e(&[1, 2]), -1.0),
                    (1, e(&[1, 0]), 1.0),
                    (1, e(&[0, 1]), 0.5),
                    (1, e(&[2, 1]), -1.0),
                    (1, e(&[0, 3]), -1.0),
                ],
                vec![1.5, 0.0],
                0.01,
            ),
        }
    }
}

/// A polynomial ODE system given by its terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Poly {
    name: String,
    names: Vec<String>,
    terms: Vec<(usize, Vec<u32>, f64)>,
    x0: Vec<f64>,
    dt: f64,
}

impl Poly {
    /// A polynomial system: `terms` are `(target, exponents, coefficient)`.
    pub fn new(
        name: &str,
        names: &[&str],
        terms: Vec<(usize, Vec<u32>, f64)>,
        x0: Vec<f64>,
        dt: f64,
    ) -> Self {
        Self {
            name: name.into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            terms,
            x0,
            dt,
        }
    }

    /// The system's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl OdeSystem for Poly {
    fn dim(&self) -> usize {
        self.names.len()
    }
    fn names(&self) -> Vec<String> {
        self.names.clone()
    }
    fn rhs(&self, _t: f64, x: &[f64], dx: &mut [f64]) {
        dx.iter_mut().for_each(|v| *v = 0.0);
        for (target, e, c) in &self.terms {
            let mut m = *c;
            for (xi, &p) in x.iter().zip(e) {
                for _ in 0..p {
                    m *= xi;
                }
            }
            dx[*target] += m;
        }
    }
    fn true_terms(&self) -> Vec<(usize, Vec<u32>, f64)> {
        self.terms.clone()
    }
    fn default_x0(&self) -> Vec<f64> {
        self.x0.clone()
    }
    fn default_dt(&self) -> f64 {
        self.dt
    }
}

/// Simulates `system` from `x0` on grid `t` (reference accuracy by default: Dop853, 1e-12).
///
/// # Errors
/// [`Error::Shape`] if `x0` has the wrong length, and as [`integrate`].
pub fn simulate_system(
    system: &dyn OdeSystem,
    x0: &[f64],
    t: &TimeGrid,
    solver: &SolverConfig,
) -> Result<Trajectory> {
    if x0.len() != system.dim() {
        return Err(Error::shape(
            "simulate_system",
            format!("x0 of length {}", system.dim()),
            format!("length {}", x0.len()),
        ));
    }
    let f = |t: f64, x: &[f64], dx: &mut [f64]| system.rhs(t, x, dx);
    let x = integrate(&f, x0, t, solver)?;
    Trajectory::with_names(x, t.clone(), system.names())
}

/// True coefficients laid over a library's monomials, `(n_features, n_targets)`.
///
/// # Errors
/// [`Error::Unsupported`] if the library is not polynomial or lacks a true term.
pub fn true_coefficients(system: &dyn OdeSystem, exponents: &[Vec<u32>]) -> Result<Array2<f64>> {
    let mut c = Array2::zeros((exponents.len(), system.dim()));
    for (target, e, v) in system.true_terms() {
        let row = exponents.iter().position(|x| *x == e).ok_or_else(|| {
            Error::Unsupported(format!(
                "the library has no monomial with exponents {e:?}, needed by the true model"
            ))
        })?;
        c[(row, target)] = v;
    }
    Ok(c)
}
