use ndarray::{Array2, ArrayView2};

use super::TimeGrid;
use crate::error::{check_finite, Error, Result};

/// Default variable names: `x, y, z` for up to three variables, `x0 .. x{n-1}` beyond.
pub fn default_names(n_vars: usize) -> Vec<String> {
    match n_vars {
        1 => vec!["x".into()],
        2 => vec!["x".into(), "y".into()],
        3 => vec!["x".into(), "y".into(), "z".into()],
        _ => (0..n_vars).map(|i| format!("x{i}")).collect(),
    }
}

/// One sampled trajectory of a dynamical system, with optional control inputs (SINDYc).
///
/// # Shapes
/// - `x`: `(n_samples, n_vars)`, rows are time points.
/// - `u`: `(n_samples, n_controls)` when present.
/// - `t`: `n_samples` times.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    x: Array2<f64>,
    t: TimeGrid,
    names: Vec<String>,
    u: Option<Array2<f64>>,
    u_names: Vec<String>,
}

impl Trajectory {
    /// A trajectory with default variable names.
    ///
    /// # Errors
    /// [`Error::Shape`] if `t` and `x` disagree on `n_samples`, [`Error::NonFinite`] on NaN/Inf,
    /// [`Error::TimeGrid`] on a bad grid, [`Error::Empty`] if `x` has no columns.
    pub fn new(x: Array2<f64>, t: TimeGrid) -> Result<Self> {
        let names = default_names(x.ncols());
        Self::with_names(x, t, names)
    }

    /// A trajectory with explicit variable names.
    ///
    /// # Errors
    /// As [`Trajectory::new`], plus [`Error::Shape`] if `names.len() != n_vars` and
    /// [`Error::InvalidParam`] on duplicate names.
    pub fn with_names(x: Array2<f64>, t: TimeGrid, names: Vec<String>) -> Result<Self> {
        t.validate()?;
        if x.ncols() == 0 {
            return Err(Error::Empty {
                what: "trajectory",
                why: "it has no variables (columns)".into(),
            });
        }
        if t.len() != x.nrows() {
            return Err(Error::shape(
                "Trajectory::new",
                format!("{} time points (one per row of x)", x.nrows()),
                format!("{} time points", t.len()),
            ));
        }
        check_names("variable", &names, x.ncols())?;
        check_finite("trajectory x", x.view())?;
        Ok(Self {
            x,
            t,
            names,
            u: None,
            u_names: Vec::new(),
        })
    }

    /// Attaches control inputs `u` (`(n_samples, n_controls)`), named `u0 .. u{m-1}` unless
    /// names are given.
    ///
    /// # Errors
    /// [`Error::Shape`] if `u` has a different number of rows, [`Error::NonFinite`] on NaN/Inf.
    pub fn with_control(mut self, u: Array2<f64>, names: Option<Vec<String>>) -> Result<Self> {
        if u.nrows() != self.x.nrows() {
            return Err(Error::shape(
                "Trajectory::with_control",
                format!("({}, n_controls)", self.x.nrows()),
                format!("({}, {})", u.nrows(), u.ncols()),
            ));
        }
        let names = names.unwrap_or_else(|| (0..u.ncols()).map(|i| format!("u{i}")).collect());
        check_names("control", &names, u.ncols())?;
        if names.iter().any(|n| self.names.contains(n)) {
            return Err(Error::param(
                "control names",
                names.join(","),
                "control names must differ from state names",
            ));
        }
        check_finite("trajectory u", u.view())?;
        self.u = Some(u);
        self.u_names = names;
        Ok(self)
    }

    /// One-step increments: the levels `x(i)` of every sample but the last, and
    /// `(x(i+1) − x(i)) / Δtᵢ` beside them (a discrete-time step, no derivative estimate).
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] with fewer than two samples.
    pub fn one_step(&self) -> Result<(ArrayView2<'_, f64>, Array2<f64>)> {
        let x = self.x();
        let n = x.nrows();
        if n < 2 {
            return Err(Error::TooFewSamples {
                op: "one-step increments".into(),
                needed: 2,
                got: n,
            });
        }
        let t = self.t().to_vec();
        let dx = Array2::from_shape_fn((n - 1, x.ncols()), |(i, j)| {
            (x[(i + 1, j)] - x[(i, j)]) / (t[i + 1] - t[i])
        });
        Ok((x.slice_move(ndarray::s![..n - 1, ..]), dx))
    }

    /// States, `(n_samples, n_vars)`.
    pub fn x(&self) -> ArrayView2<'_, f64> {
        self.x.view()
    }
    /// Control inputs, `(n_samples, n_controls)`, if any.
    pub fn u(&self) -> Option<ArrayView2<'_, f64>> {
        self.u.as_ref().map(|u| u.view())
    }
    /// Sample times.
    pub fn t(&self) -> &TimeGrid {
        &self.t
    }
    /// State names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Control names (empty without controls).
    pub fn control_names(&self) -> &[String] {
        &self.u_names
    }
    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }
    /// Number of state variables.
    pub fn n_vars(&self) -> usize {
        self.x.ncols()
    }
    /// Number of control inputs.
    pub fn n_controls(&self) -> usize {
        self.u.as_ref().map_or(0, |u| u.ncols())
    }

    /// Samples `start..end` as a new trajectory (controls included).
    pub fn slice(&self, start: usize, end: usize) -> Trajectory {
        let end = end.min(self.n_samples());
        let start = start.min(end);
        Trajectory {
            x: self.x.slice(ndarray::s![start..end, ..]).to_owned(),
            t: self.t.slice(start, end),
            names: self.names.clone(),
            u: self
                .u
                .as_ref()
                .map(|u| u.slice(ndarray::s![start..end, ..]).to_owned()),
            u_names: self.u_names.clone(),
        }
    }

    /// Consumes the trajectory, returning `(x, t, names)`.
    pub fn into_parts(self) -> (Array2<f64>, TimeGrid, Vec<String>) {
        (self.x, self.t, self.names)
    }
}

fn check_names(kind: &'static str, names: &[String], n: usize) -> Result<()> {
    if names.len() != n {
        return Err(Error::shape(
            "Trajectory names",
            format!("{n} {kind} names"),
            format!("{} names", names.len()),
        ));
    }
    for (i, a) in names.iter().enumerate() {
        if a.is_empty() {
            return Err(Error::param(kind, "\"\"", "names must be non-empty"));
        }
        if names[..i].contains(a) {
            return Err(Error::param(kind, a, "duplicate name"));
        }
    }
    Ok(())
}
