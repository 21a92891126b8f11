//! Feature libraries Θ(X) with named features (≈ `pysindy.feature_library`).
//!
//! A library maps `(n_samples, n_inputs)` to `(n_samples, n_features)` and names each feature
//! from the input names. Libraries are stateless (their output size depends only on
//! `n_inputs`), so PySINDy's `fit` step disappears; composition is [`ConcatLibrary`]
//! (PySINDy's `+`) and [`TensoredLibrary`] (PySINDy's `*`), also reachable through
//! [`concat()`] and [`tensor()`].

mod compose;
mod custom;
mod fourier;
mod moments;
mod polynomial;

pub use compose::{concat, tensor, ConcatLibrary, TensoredLibrary};
pub use custom::{CustomFunction, CustomLibrary};
pub use fourier::FourierLibrary;
pub use polynomial::PolynomialLibrary;

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The binomial coefficient `C(n, k)`, `None` when it overflows `usize`.
pub(crate) fn binomial(n: usize, k: usize) -> Option<usize> {
    if k > n {
        return Some(0);
    }
    let k = k.min(n - k);
    let mut acc: u128 = 1;
    for i in 0..k {
        // acc · (n - i) / (i + 1) is exact at every step (a product of i + 1 consecutive
        // integers is divisible by (i + 1)!).
        acc = acc.checked_mul((n - i) as u128)? / (i as u128 + 1);
        if acc > usize::MAX as u128 {
            return None;
        }
    }
    usize::try_from(acc).ok()
}

/// A set of candidate functions evaluated on every sample.
pub trait FeatureLibrary: std::fmt::Debug + Send + Sync {
    /// Number of features for `n_inputs` input variables.
    fn n_output_features(&self, n_inputs: usize) -> usize;

    /// [`FeatureLibrary::n_output_features`] counted without building the features, `None`
    /// when the count overflows `usize`: what a fit checks against its memory before anything
    /// of that size is allocated (a degree-50 library, or degree 3 of 200 variables, is a
    /// size to refuse, not to enumerate).
    fn count_features(&self, n_inputs: usize) -> Option<usize> {
        Some(self.n_output_features(n_inputs))
    }

    /// Feature names built from the input names (`"x y"`, `"z^2"`, `"sin(1 x)"`).
    fn feature_names(&self, input_names: &[String]) -> Vec<String>;

    /// Evaluates the library into `out`.
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_inputs)`, `out`: `(n_samples, n_output_features(n_inputs))`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `out` has the wrong shape.
    fn transform_into(&self, x: ArrayView2<'_, f64>, out: ArrayViewMut2<'_, f64>) -> Result<()>;

    /// Evaluates the library into a new array.
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_inputs)` → `(n_samples, n_output_features(n_inputs))`.
    ///
    /// # Errors
    /// As [`FeatureLibrary::transform_into`].
    fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let mut out = Array2::zeros((x.nrows(), self.n_output_features(x.ncols())));
        self.transform_into(x, out.view_mut())?;
        Ok(out)
    }

    /// The serialisable description, or `None` for libraries built from closures.
    fn config(&self) -> Option<LibraryConfig>;

    /// A fast evaluator of one sample, `f(x_row, out_row)`, for simulation (called at every
    /// right-hand-side evaluation). The default goes through [`FeatureLibrary::transform_into`];
    /// libraries with per-call set-up override it. A shape error writes NaN, which the
    /// integrator then reports.
    fn row_evaluator(&self, n_inputs: usize) -> RowEvaluator<'_> {
        let _ = n_inputs;
        Box::new(move |x: &[f64], out: &mut [f64]| {
            let xv = ndarray::ArrayView2::from_shape((1, x.len()), x);
            let ov = ndarray::ArrayViewMut2::from_shape((1, out.len()), out);
            let ok = match (xv, ov) {
                (Ok(xv), Ok(ov)) => self.transform_into(xv, ov).is_ok(),
                _ => false,
            };
            if !ok {
                out.iter_mut().for_each(|v| *v = f64::NAN);
            }
        })
    }

    /// The normal equations `(ΘᵀΘ, ΘᵀY)` of this library on `x`, when the library can form
    /// them faster than building Θ and multiplying it out (polynomials: from moments). `None`
    /// (the default) makes the caller build Θ.
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_inputs)`, `y`: `(n_samples, n_targets)`.
    fn normal_equations(
        &self,
        x: ArrayView2<'_, f64>,
        y: ArrayView2<'_, f64>,
    ) -> Option<Result<crate::linalg::NormalEquations>> {
        let _ = (x, y);
        None
    }

    /// For pure polynomial libraries: each feature's exponent vector (used to compare with
    /// known systems). `None` otherwise.
    fn exponents(&self, n_inputs: usize) -> Option<Vec<Vec<u32>>> {
        let _ = n_inputs;
        None
    }
}

/// Evaluates a library on one sample: `f(x_row, out_row)`.
pub type RowEvaluator<'a> = Box<dyn Fn(&[f64], &mut [f64]) + Send + Sync + 'a>;

/// Serialisable description of a library (config files, CLI, saved models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LibraryConfig {
    /// [`PolynomialLibrary`].
    Polynomial {
        /// Maximum total degree.
        degree: u32,
        /// Include the constant feature `1`.
        #[serde(default = "yes")]
        include_bias: bool,
        /// Only products of distinct inputs (no powers).
        #[serde(default)]
        interaction_only: bool,
        /// Include mixed products (false: powers of single inputs only).
        #[serde(default = "yes")]
        include_interaction: bool,
    },
    /// [`FourierLibrary`].
    Fourier {
        /// Frequencies `1..=n_frequencies`.
        n_frequencies: u32,
        /// Include `sin(k x)`.
        #[serde(default = "yes")]
        include_sin: bool,
        /// Include `cos(k x)`.
        #[serde(default = "yes")]
        include_cos: bool,
    },
    /// [`ConcatLibrary`] of the parts.
    Concat(Vec<LibraryConfig>),
    /// [`TensoredLibrary`] of the parts.
    Tensor(Vec<LibraryConfig>),
}

fn yes() -> bool {
    true
}

impl LibraryConfig {
    /// A polynomial library of `degree` with bias and interactions (PySINDy's defaults).
    pub fn polynomial(degree: u32) -> Self {
        LibraryConfig::Polynomial {
            degree,
            include_bias: true,
            interaction_only: false,
            include_interaction: true,
        }
    }

    /// Builds the library.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] on invalid settings (degree 0, no frequencies, empty parts).
    pub fn build(&self) -> Result<Box<dyn FeatureLibrary>> {
        Ok(match self {
            LibraryConfig::Polynomial {
                degree,
                include_bias,
                interaction_only,
                include_interaction,
            } => Box::new(
                PolynomialLibrary::new(*degree)?
                    .include_bias(*include_bias)
                    .interaction_only(*interaction_only)
                    .include_interaction(*include_interaction),
            ),
            LibraryConfig::Fourier {
                n_frequencies,
                include_sin,
                include_cos,
            } => Box::new(FourierLibrary::new(
                *n_frequencies,
                *include_sin,
                *include_cos,
            )?),
            LibraryConfig::Concat(parts) => Box::new(ConcatLibrary::new(
                parts
                    .iter()
                    .map(|p| p.build())
                    .collect::<Result<Vec<_>>>()?,
            )?),
            LibraryConfig::Tensor(parts) => Box::new(TensoredLibrary::new(
                parts
                    .iter()
                    .map(|p| p.build())
                    .collect::<Result<Vec<_>>>()?,
            )?),
        })
    }
}

/// Checks the output buffer shape of `transform_into`.
pub(crate) fn check_out(
    lib: &dyn FeatureLibrary,
    x: ArrayView2<'_, f64>,
    out: &ArrayViewMut2<'_, f64>,
) -> Result<()> {
    let want = (x.nrows(), lib.n_output_features(x.ncols()));
    if out.dim() != want {
        return Err(Error::shape(
            "FeatureLibrary::transform_into",
            format!("{want:?}"),
            format!("{:?}", out.dim()),
        ));
    }
    Ok(())
}
