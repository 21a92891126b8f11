//! Feature libraries that suit regulation: Boolean monomials and Hill terms.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::error::{Error, Result};
use crate::library::{FeatureLibrary, LibraryConfig, PolynomialLibrary};

/// The Boolean-monomial library of 0/1 inputs up to `degree` factors: `1, a, b, …, ab, …`.
///
/// It is the polynomial library with `interaction_only` (no powers), because on 0/1 inputs
/// `a² = a`: a library with squares would hold duplicate columns and its coefficients would not
/// be identifiable. Every Boolean function of `d` inputs is exactly one multilinear polynomial
/// in this library (degree `d`), so a sparse fit reads the gate off directly: XOR is
/// `a + b − 2ab`, AND `ab`, AND-NOT `a − ab`.
///
/// # Errors
/// [`Error::InvalidParam`] if `degree == 0`.
///
/// # Example
/// ```
/// use cellsindy::library::FeatureLibrary;
/// let lib = cellsindy::rules::boolean_library(2)?;
/// assert_eq!(lib.feature_names(&["a".into(), "b".into()]), ["1", "a", "b", "a b"]);
/// # Ok::<(), cellsindy::Error>(())
/// ```
pub fn boolean_library(degree: u32) -> Result<PolynomialLibrary> {
    Ok(PolynomialLibrary::new(degree)?
        .include_bias(true)
        .interaction_only(true))
}

/// Binarises each column: 1 where `x > threshold[column]`, else 0.
///
/// # Shapes
/// `x`: `(n_samples, n_genes)`, `thresholds`: `n_genes` → `(n_samples, n_genes)`.
///
/// # Errors
/// [`Error::Shape`] if the lengths disagree, [`Error::NonFinite`] on NaN/Inf input.
pub fn binarize(x: ArrayView2<'_, f64>, thresholds: &[f64]) -> Result<Array2<f64>> {
    if thresholds.len() != x.ncols() {
        return Err(Error::shape(
            "binarize",
            format!("{} thresholds", x.ncols()),
            format!("{}", thresholds.len()),
        ));
    }
    crate::error::check_finite("expression to binarise", x)?;
    Ok(Array2::from_shape_fn(x.dim(), |(i, j)| {
        if x[(i, j)] > thresholds[j] {
            1.0
        } else {
            0.0
        }
    }))
}

/// Which single-gene Hill terms a [`HillLibrary`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HillMode {
    /// `H(x) = xⁿ / (Kⁿ + xⁿ)` only. Repression `R = 1 − H` is then `bias − H`, so with a
    /// constant in the regression this already covers repression (its sign is the
    /// coefficient's); the default for regression for that reason.
    Activation,
    /// `R(x) = Kⁿ / (Kⁿ + xⁿ)` only.
    Repression,
    /// Both `H` and `R` (collinear with a constant: `H + R = 1`; use without a bias column
    /// or with a ridge penalty).
    Both,
}

/// Hill activation/repression terms of each input, `H(x) = xⁿ/(Kⁿ + xⁿ)` and
/// `R(x) = Kⁿ/(Kⁿ + xⁿ)`, and optionally the products of two terms of different genes (gates:
/// AND is `H(a) H(b)`, XOR `H(a) + H(b) − 2 H(a) H(b)`, AND-NOT `H(a) − H(a) H(b)`).
///
/// Feature order: the single terms gene by gene (`H(g)` before `R(g)` in [`HillMode::Both`]),
/// then the products of pairs of single terms of genes `i < j` in lexicographic order. Names are
/// `H(g)`, `R(g)` and `H(a) H(b)`.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `k` | — | half-activation constant of each input | `> 0`, one per input |
/// | `n` | 4 | Hill coefficient | `>= 1` |
/// | `mode` | activation | which single terms | |
/// | `interactions` | `true` | pairwise products of different genes | |
///
/// # Example
/// ```
/// use cellsindy::library::FeatureLibrary;
/// use cellsindy::rules::{HillLibrary, HillMode};
/// let lib = HillLibrary::new(vec![1.0, 2.0], 2.0)?;
/// assert_eq!(lib.feature_names(&["a".into(), "b".into()]), ["H(a)", "H(b)", "H(a) H(b)"]);
/// let th = lib.transform(ndarray::array![[1.0, 2.0]].view())?;
/// assert_eq!(th.row(0).to_vec(), [0.5, 0.5, 0.25]);
/// # Ok::<(), cellsindy::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HillLibrary {
    k: Vec<f64>,
    n: f64,
    mode: HillMode,
    interactions: bool,
}

impl HillLibrary {
    /// Activation terms with pairwise products, half-activation constants `k` (one per
    /// input) and Hill coefficient `n`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if a `k` is not finite and positive, or `n` is not finite and
    /// `>= 1`; [`Error::Empty`] if `k` is empty.
    pub fn new(k: Vec<f64>, n: f64) -> Result<Self> {
        if k.is_empty() {
            return Err(Error::Empty {
                what: "Hill constants",
                why: "one half-activation constant per input is needed".into(),
            });
        }
        if let Some(bad) = k.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(Error::param("k", bad, "must be finite and > 0"));
        }
        if !(n.is_finite() && n >= 1.0) {
            return Err(Error::param("n", n, "must be finite and >= 1"));
        }
        Ok(Self {
            k,
            n,
            mode: HillMode::Activation,
            interactions: true,
        })
    }

    /// Which single terms (default [`HillMode::Activation`]).
    #[must_use]
    pub fn mode(mut self, mode: HillMode) -> Self {
        self.mode = mode;
        self
    }

    /// Include pairwise products (default `true`).
    #[must_use]
    pub fn interactions(mut self, yes: bool) -> Self {
        self.interactions = yes;
        self
    }

    /// Single terms: `(gene, repression?)` in output order.
    fn singles(&self, n_inputs: usize) -> Vec<(usize, bool)> {
        let kinds: &[bool] = match self.mode {
            HillMode::Activation => &[false],
            HillMode::Repression => &[true],
            HillMode::Both => &[false, true],
        };
        (0..n_inputs)
            .flat_map(|g| kinds.iter().map(move |&r| (g, r)))
            .collect()
    }

    /// Every feature as the list of single terms it multiplies (indices into
    /// [`HillLibrary::singles`]).
    fn plan(&self, n_inputs: usize) -> Vec<Vec<usize>> {
        let singles = self.singles(n_inputs);
        let mut out: Vec<Vec<usize>> = (0..singles.len()).map(|s| vec![s]).collect();
        if self.interactions {
            for a in 0..singles.len() {
                for b in a + 1..singles.len() {
                    if singles[a].0 != singles[b].0 {
                        out.push(vec![a, b]);
                    }
                }
            }
        }
        out
    }

    /// The input (gene) indices each feature depends on, in output order (sorted, distinct).
    pub fn feature_inputs(&self, n_inputs: usize) -> Vec<Vec<usize>> {
        let singles = self.singles(n_inputs);
        self.plan(n_inputs)
            .iter()
            .map(|f| {
                let mut g: Vec<usize> = f.iter().map(|&s| singles[s].0).collect();
                g.sort_unstable();
                g.dedup();
                g
            })
            .collect()
    }
}

impl FeatureLibrary for HillLibrary {
    fn n_output_features(&self, n_inputs: usize) -> usize {
        self.plan(n_inputs).len()
    }

    fn feature_names(&self, input_names: &[String]) -> Vec<String> {
        let singles = self.singles(input_names.len());
        let name = |s: usize| {
            let (g, r) = singles[s];
            format!("{}({})", if r { "R" } else { "H" }, input_names[g])
        };
        self.plan(input_names.len())
            .iter()
            .map(|f| f.iter().map(|&s| name(s)).collect::<Vec<_>>().join(" "))
            .collect()
    }

    fn transform_into(
        &self,
        x: ArrayView2<'_, f64>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        crate::library::check_out(self, x, &out)?;
        if x.ncols() != self.k.len() {
            return Err(Error::shape(
                "HillLibrary::transform",
                format!("{} inputs (one per half-activation constant)", self.k.len()),
                format!("{} inputs", x.ncols()),
            ));
        }
        let singles = self.singles(x.ncols());
        let plan = self.plan(x.ncols());
        let kn: Vec<f64> = self.k.iter().map(|k| k.powf(self.n)).collect();
        let mut s = vec![0.0; singles.len()];
        for (xr, mut or) in x.outer_iter().zip(out.outer_iter_mut()) {
            for (v, &(g, rep)) in s.iter_mut().zip(&singles) {
                // Negative expression (noise) is treated as 0: H is defined on x >= 0.
                let xn = xr[g].max(0.0).powf(self.n);
                let h = xn / (kn[g] + xn);
                *v = if rep { 1.0 - h } else { h };
            }
            for (o, f) in or.iter_mut().zip(&plan) {
                *o = f.iter().map(|&i| s[i]).product();
            }
        }
        Ok(())
    }

    fn config(&self) -> Option<LibraryConfig> {
        None
    }
}
