//! The benchmark suite SINDy's defaults are judged on: ODE systems with known coefficients
//! from the SINDy literature, with their own time steps, record lengths, numbers of
//! trajectories and libraries (polynomial, polynomial + Fourier, polynomial + rational).
//!
//! The cases marked [`SuiteCase::held_out`] were added after the defaults were designed and are
//! reported separately: they measure how the defaults generalise.

use std::sync::Arc;

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use crate::data::{TimeGrid, Trajectory};
use crate::error::{Error, Result};
use crate::library::{
    concat, CustomFunction, CustomLibrary, FeatureLibrary, FourierLibrary, LibraryConfig,
    PolynomialLibrary,
};
use crate::model::Sindy;
use crate::optimize::ZERO_TOL;
use crate::simulate::{add_measurement_noise, integrate, measurement_noise_sigmas, SolverConfig};

type Rhs = Arc<dyn Fn(&[f64], &mut [f64]) + Send + Sync>;

/// The library a case is fitted with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SuiteLibrary {
    /// Polynomials up to `degree`, with bias.
    Polynomial {
        /// Maximum total degree.
        degree: u32,
    },
    /// Polynomials up to `degree` plus `sin(k x)`, `cos(k x)` for `k = 1..=frequencies`.
    PolynomialFourier {
        /// Maximum total degree.
        degree: u32,
        /// Number of frequencies.
        frequencies: u32,
    },
    /// Polynomials up to `degree` plus Michaelis–Menten terms `x/(K + x)` for each `K`
    /// (named `x/(K+x)`).
    PolynomialRational {
        /// Maximum total degree.
        degree: u32,
        /// Half-saturation constants.
        ks: Vec<f64>,
    },
}

impl SuiteLibrary {
    /// Builds the library.
    ///
    /// # Errors
    /// As the libraries' constructors.
    pub fn build(&self) -> Result<Box<dyn FeatureLibrary>> {
        Ok(match self {
            SuiteLibrary::Polynomial { degree } => LibraryConfig::polynomial(*degree).build()?,
            SuiteLibrary::PolynomialFourier {
                degree,
                frequencies,
            } => Box::new(concat(
                Box::new(PolynomialLibrary::new(*degree)?),
                Box::new(FourierLibrary::new(*frequencies, true, true)?),
            )?),
            SuiteLibrary::PolynomialRational { degree, ks } => {
                let functions = ks
                    .iter()
                    .map(|&k| {
                        CustomFunction::unary(
                            move |x| x / (k + x),
                            move |n| format!("{n}/({k}+{n})"),
                        )
                    })
                    .collect();
                Box::new(concat(
                    Box::new(PolynomialLibrary::new(*degree)?),
                    Box::new(CustomLibrary::new(functions)?),
                )?)
            }
        })
    }
}

/// One benchmark system.
#[derive(Clone, Serialize)]
pub struct SuiteCase {
    /// Name.
    pub name: String,
    /// Added after the defaults were designed (reported separately).
    pub held_out: bool,
    /// State names.
    pub names: Vec<String>,
    /// The library the case is fitted with.
    pub library: SuiteLibrary,
    /// True terms: `(target, feature name, coefficient)`.
    pub truth: Vec<(usize, String, f64)>,
    /// Initial conditions, one trajectory each.
    pub x0s: Vec<Vec<f64>>,
    /// Sampling step.
    pub dt: f64,
    /// Samples per trajectory.
    pub samples: usize,
    #[serde(skip)]
    rhs: Rhs,
}

impl std::fmt::Debug for SuiteCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuiteCase")
            .field("name", &self.name)
            .field("held_out", &self.held_out)
            .finish_non_exhaustive()
    }
}

/// How a fit compares with a case's truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteScore {
    /// The non-zero pattern equals the true one.
    pub exact_support: bool,
    /// Largest `|fitted − true| / |true|` over the true terms (1 for a missed term).
    pub max_rel_err: f64,
    /// Spurious terms, as `equation: feature`.
    pub spurious: Vec<String>,
    /// Missed terms, as `equation: feature`.
    pub missing: Vec<String>,
}

impl SuiteCase {
    // One argument per column of the suite's table of cases.
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: &str,
        held_out: bool,
        names: &[&str],
        library: SuiteLibrary,
        truth: &[(usize, &str, f64)],
        x0s: Vec<Vec<f64>>,
        dt: f64,
        samples: usize,
    ) -> Self {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let truth: Vec<(usize, String, f64)> = truth
            .iter()
            .map(|(t, f, c)| (*t, f.to_string(), *c))
            .collect();
        let lib = library.build();
        let terms = truth.clone();
        let inputs = names.clone();
        // The right-hand side is the truth itself, evaluated through the case's own library:
        // the data can only contain what the library can express.
        let rhs: Rhs = match lib {
            Ok(lib) => {
                let feats = lib.feature_names(&inputs);
                let idx: Vec<(usize, usize, f64)> = terms
                    .iter()
                    .filter_map(|(t, f, c)| feats.iter().position(|x| x == f).map(|i| (*t, i, *c)))
                    .collect();
                let eval = Arc::new(lib);
                let p = feats.len();
                Arc::new(move |x: &[f64], dx: &mut [f64]| {
                    let row = ndarray::ArrayView2::from_shape((1, x.len()), x);
                    let mut out = Array2::zeros((1, p));
                    if let Ok(row) = row {
                        let _ = eval.transform_into(row, out.view_mut());
                    }
                    dx.iter_mut().for_each(|v| *v = 0.0);
                    for &(t, i, c) in &idx {
                        dx[t] += c * out[(0, i)];
                    }
                })
            }
            Err(_) => Arc::new(|_: &[f64], dx: &mut [f64]| dx.iter_mut().for_each(|v| *v = 0.0)),
        };
        Self {
            name: name.into(),
            held_out,
            names,
            library,
            truth,
            x0s,
            dt,
            samples,
            rhs,
        }
    }

    /// The trajectories, with Gaussian measurement noise of `noise` times each variable's
    /// standard deviation (per trajectory), drawn from `seed`.
    ///
    /// # Errors
    /// [`Error::Integration`] if the simulation fails; [`Error::Unsupported`] if a true term is
    /// not in the case's library.
    pub fn simulate(&self, noise: f64, seed: u64) -> Result<Vec<Trajectory>> {
        self.check_truth()?;
        let grid = TimeGrid::uniform(0.0, self.dt, self.samples)?;
        let f = |_t: f64, x: &[f64], dx: &mut [f64]| (self.rhs)(x, dx);
        let mut rng = StdRng::seed_from_u64(seed);
        self.x0s
            .iter()
            .map(|x0| {
                let mut x = integrate(&f, x0, &grid, &SolverConfig::reference())?;
                let sigma = measurement_noise_sigmas(&x, noise);
                add_measurement_noise(&mut x, &sigma, &mut rng)?;
                Trajectory::with_names(x, grid.clone(), self.names.clone())
            })
            .collect()
    }

    fn check_truth(&self) -> Result<()> {
        let feats = self.library.build()?.feature_names(&self.names);
        for (_, f, _) in &self.truth {
            if !feats.contains(f) {
                return Err(Error::Unsupported(format!(
                    "case {}: true term `{f}` is not in its library",
                    self.name
                )));
            }
        }
        Ok(())
    }

    /// Compares a fitted model with the truth, by feature name.
    pub fn score(&self, model: &Sindy) -> SuiteScore {
        let feats = model.feature_names();
        let coef = model.coefficients();
        let mut out = SuiteScore {
            exact_support: true,
            max_rel_err: 0.0,
            spurious: Vec::new(),
            missing: Vec::new(),
        };
        for t in 0..self.names.len() {
            for (i, f) in feats.iter().enumerate() {
                let fitted = coef.get((i, t)).copied().unwrap_or(0.0);
                let truth = self
                    .truth
                    .iter()
                    .find(|(tt, ff, _)| *tt == t && ff == f)
                    .map(|x| x.2);
                let label = format!("{}': {f}", self.names[t]);
                match truth {
                    Some(c) => {
                        if fitted.abs() <= ZERO_TOL {
                            out.exact_support = false;
                            out.missing.push(label);
                            out.max_rel_err = out.max_rel_err.max(1.0);
                        } else {
                            out.max_rel_err = out.max_rel_err.max((fitted - c).abs() / c.abs());
                        }
                    }
                    None if fitted.abs() > ZERO_TOL => {
                        out.exact_support = false;
                        out.spurious.push(label);
                    }
                    None => {}
                }
            }
        }
        out
    }
}

fn poly(degree: u32) -> SuiteLibrary {
    SuiteLibrary::Polynomial { degree }
}

/// The suite: 16 systems, 10 used while designing the defaults and 6 held out.
pub fn cases() -> Vec<SuiteCase> {
    let mut v = vec![
        // ---- design part ----
        SuiteCase::new(
            "lorenz",
            false,
            &["x", "y", "z"],
            poly(2),
            &[
                (0, "x", -10.0),
                (0, "y", 10.0),
                (1, "x", 28.0),
                (1, "y", -1.0),
                (1, "x z", -1.0),
                (2, "x y", 1.0),
                (2, "z", -8.0 / 3.0),
            ],
            vec![vec![-8.0, 8.0, 27.0]],
            0.002,
            10_000,
        ),
        SuiteCase::new(
            "rossler",
            false,
            &["x", "y", "z"],
            poly(2),
            &[
                (0, "y", -1.0),
                (0, "z", -1.0),
                (1, "x", 1.0),
                (1, "y", 0.2),
                (2, "1", 0.2),
                (2, "x z", 1.0),
                (2, "z", -5.7),
            ],
            vec![vec![1.0, 1.0, 0.0]],
            0.01,
            10_000,
        ),
        SuiteCase::new(
            "van_der_pol",
            false,
            &["x", "y"],
            poly(3),
            &[
                (0, "y", 1.0),
                (1, "x", -1.0),
                (1, "y", 2.0),
                (1, "x^2 y", -2.0),
            ],
            vec![vec![2.0, 0.0]],
            0.01,
            2_000,
        ),
        SuiteCase::new(
            "duffing",
            false,
            &["x", "y"],
            poly(3),
            &[
                (0, "y", 1.0),
                (1, "y", -0.2),
                (1, "x", 1.0),
                (1, "x^3", -1.0),
            ],
            vec![vec![1.8, 0.0]],
            0.01,
            5_000,
        ),
        SuiteCase::new(
            "lotka_volterra",
            false,
            &["x", "y"],
            poly(2),
            &[
                (0, "x", 1.0),
                (0, "x y", -0.5),
                (1, "y", -1.5),
                (1, "x y", 0.75),
            ],
            vec![vec![3.0, 1.0], vec![1.0, 2.5], vec![4.0, 3.0]],
            0.01,
            1_500,
        ),
        SuiteCase::new(
            "hopf",
            false,
            &["x", "y"],
            poly(3),
            &[
                (0, "x", 0.5),
                (0, "y", -1.0),
                (0, "x^3", -1.0),
                (0, "x y^2", -1.0),
                (1, "x", 1.0),
                (1, "y", 0.5),
                (1, "x^2 y", -1.0),
                (1, "y^3", -1.0),
            ],
            vec![vec![1.5, 0.0], vec![0.05, 0.05]],
            0.01,
            2_500,
        ),
        SuiteCase::new(
            "cubic_oscillator",
            false,
            &["x", "y"],
            poly(3),
            &[
                (0, "x^3", -0.1),
                (0, "y^3", 2.0),
                (1, "x^3", -2.0),
                (1, "y^3", -0.1),
            ],
            vec![vec![2.0, 0.0]],
            0.01,
            2_500,
        ),
        SuiteCase::new(
            "pendulum",
            false,
            &["q", "p"],
            SuiteLibrary::PolynomialFourier {
                degree: 1,
                frequencies: 1,
            },
            &[(0, "p", 1.0), (1, "sin(1 q)", -4.0), (1, "p", -0.1)],
            vec![vec![2.5, 0.0], vec![1.0, 1.5], vec![-2.0, -1.0]],
            0.01,
            2_000,
        ),
        SuiteCase::new(
            "michaelis_menten",
            false,
            &["s"],
            SuiteLibrary::PolynomialRational {
                degree: 2,
                ks: vec![0.1, 0.3, 1.0],
            },
            &[(0, "1", 0.6), (0, "s/(0.3+s)", -1.5)],
            vec![vec![0.01], vec![1.0], vec![3.0], vec![6.0]],
            0.01,
            800,
        ),
    ];
    // Lorenz-96, 10 variables, F = 8: x_i' = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F.
    let d = 10;
    let names: Vec<String> = (0..d).map(|i| format!("x{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mono = |a: usize, b: usize| {
        let (a, b) = (a.min(b), a.max(b));
        format!("{} {}", names[a], names[b])
    };
    let mut l96: Vec<(usize, String, f64)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        l96.push((i, mono((i + 1) % d, (i + d - 1) % d), 1.0));
        l96.push((i, mono((i + d - 2) % d, (i + d - 1) % d), -1.0));
        l96.push((i, name.clone(), -1.0));
        l96.push((i, "1".into(), 8.0));
    }
    let l96_refs: Vec<(usize, &str, f64)> =
        l96.iter().map(|(t, f, c)| (*t, f.as_str(), *c)).collect();
    let x0: Vec<f64> = (0..d)
        .map(|i| 8.0 + if i == 0 { 0.5 } else { 0.01 * i as f64 })
        .collect();
    v.push(SuiteCase::new(
        "lorenz96",
        false,
        &name_refs,
        poly(2),
        &l96_refs,
        vec![x0],
        0.01,
        10_000,
    ));
    // ---- held-out part ----
    v.extend([
        SuiteCase::new(
            "chen",
            true,
            &["x", "y", "z"],
            poly(2),
            &[
                (0, "x", -35.0),
                (0, "y", 35.0),
                (1, "x", -7.0),
                (1, "x z", -1.0),
                (1, "y", 28.0),
                (2, "x y", 1.0),
                (2, "z", -3.0),
            ],
            vec![vec![-10.0, 0.0, 37.0]],
            0.001,
            10_000,
        ),
        SuiteCase::new(
            "lorenz_rho100",
            true,
            &["x", "y", "z"],
            poly(2),
            &[
                (0, "x", -10.0),
                (0, "y", 10.0),
                (1, "x", 99.96),
                (1, "y", -1.0),
                (1, "x z", -1.0),
                (2, "x y", 1.0),
                (2, "z", -8.0 / 3.0),
            ],
            vec![vec![1.0, 1.0, 90.0]],
            0.001,
            8_000,
        ),
        SuiteCase::new(
            "mean_field",
            true,
            &["x", "y", "z"],
            poly(2),
            &[
                (0, "x", 0.1),
                (0, "y", -1.0),
                (0, "x z", -1.0),
                (1, "x", 1.0),
                (1, "y", 0.1),
                (1, "y z", -1.0),
                (2, "z", -1.0),
                (2, "x^2", 1.0),
                (2, "y^2", 1.0),
            ],
            vec![vec![0.01, 0.0, 0.0], vec![0.5, 0.0, 0.5]],
            0.02,
            3_000,
        ),
        SuiteCase::new(
            "brusselator",
            true,
            &["x", "y"],
            poly(3),
            &[
                (0, "1", 1.0),
                (0, "x", -4.0),
                (0, "x^2 y", 1.0),
                (1, "x", 3.0),
                (1, "x^2 y", -1.0),
            ],
            vec![vec![1.0, 1.0], vec![3.0, 4.0]],
            0.01,
            3_000,
        ),
        SuiteCase::new(
            "fitzhugh_nagumo",
            true,
            &["v", "w"],
            poly(3),
            &[
                (0, "1", 0.5),
                (0, "v", 1.0),
                (0, "v^3", -1.0 / 3.0),
                (0, "w", -1.0),
                (1, "1", 0.056),
                (1, "v", 0.08),
                (1, "w", -0.064),
            ],
            vec![vec![-1.0, 1.0]],
            0.05,
            6_000,
        ),
        SuiteCase::new(
            "linear_3d",
            true,
            &["x", "y", "z"],
            poly(2),
            &[
                (0, "x", -0.1),
                (0, "y", 2.0),
                (1, "x", -2.0),
                (1, "y", -0.1),
                (2, "z", -0.3),
            ],
            vec![vec![2.0, 0.0, 1.0], vec![0.0, 1.0, -1.0]],
            0.01,
            2_500,
        ),
        SuiteCase::new(
            "sprott_b",
            true,
            &["x", "y", "z"],
            poly(2),
            &[
                (0, "y z", 1.0),
                (1, "x", 1.0),
                (1, "y", -1.0),
                (2, "1", 1.0),
                (2, "x y", -1.0),
            ],
            vec![vec![0.1, 0.1, 0.1]],
            0.02,
            10_000,
        ),
    ]);
    v
}

/// The case called `name`.
///
/// # Errors
/// [`Error::InvalidParam`] listing the known names.
pub fn case(name: &str) -> Result<SuiteCase> {
    let all = cases();
    let names: Vec<String> = all.iter().map(|c| c.name.clone()).collect();
    all.into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| Error::param("case", name, format!("known cases: {}", names.join(", "))))
}
