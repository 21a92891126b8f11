use std::fmt;
use std::sync::Arc;

use ndarray::{ArrayView2, ArrayViewMut2};

use super::{check_out, FeatureLibrary, LibraryConfig};
use crate::error::{Error, Result};

type Func = Arc<dyn Fn(&[f64]) -> f64 + Send + Sync>;
type Namer = Arc<dyn Fn(&[&str]) -> String + Send + Sync>;

/// One user function of `arity` inputs with a naming rule.
#[derive(Clone)]
pub struct CustomFunction {
    arity: usize,
    func: Func,
    namer: Namer,
}

impl fmt::Debug for CustomFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomFunction(arity {})", self.arity)
    }
}

impl CustomFunction {
    /// A function of one input, named by `namer` from the input's name.
    pub fn unary(
        func: impl Fn(f64) -> f64 + Send + Sync + 'static,
        namer: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        Self {
            arity: 1,
            func: Arc::new(move |a| func(a[0])),
            namer: Arc::new(move |n| namer(n[0])),
        }
    }

    /// A function of `arity` inputs.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if `arity == 0`.
    pub fn new(
        arity: usize,
        func: impl Fn(&[f64]) -> f64 + Send + Sync + 'static,
        namer: impl Fn(&[&str]) -> String + Send + Sync + 'static,
    ) -> Result<Self> {
        if arity == 0 {
            return Err(Error::param("arity", arity, "must be >= 1"));
        }
        Ok(Self {
            arity,
            func: Arc::new(func),
            namer: Arc::new(namer),
        })
    }
}

/// User-defined functions applied to every combination (without repetition) of inputs of the
/// function's arity (≈ `pysindy.CustomLibrary`). Not serialisable: a model with a custom
/// library cannot be saved as JSON.
///
/// # Example
/// ```
/// use cellsindy::library::{CustomFunction, CustomLibrary, FeatureLibrary};
/// let lib = CustomLibrary::new(vec![CustomFunction::unary(f64::exp, |n| format!("exp({n})"))])?;
/// assert_eq!(lib.feature_names(&["x".into(), "y".into()]), ["exp(x)", "exp(y)"]);
/// # Ok::<(), cellsindy::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CustomLibrary {
    functions: Vec<CustomFunction>,
}

impl CustomLibrary {
    /// A library of the given functions.
    ///
    /// # Errors
    /// [`Error::Empty`] if there are no functions.
    pub fn new(functions: Vec<CustomFunction>) -> Result<Self> {
        if functions.is_empty() {
            return Err(Error::Empty {
                what: "custom library",
                why: "at least one function is needed".into(),
            });
        }
        Ok(Self { functions })
    }

    fn combos(&self, n_inputs: usize) -> Vec<(usize, Vec<usize>)> {
        let mut out = Vec::new();
        for (fi, f) in self.functions.iter().enumerate() {
            for c in combinations(n_inputs, f.arity) {
                out.push((fi, c));
            }
        }
        out
    }
}

/// All `k`-subsets of `0..n` in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if k > n {
        return out;
    }
    let mut c: Vec<usize> = (0..k).collect();
    loop {
        out.push(c.clone());
        let mut i = k;
        while i > 0 && c[i - 1] == n - k + i - 1 {
            i -= 1;
        }
        if i == 0 {
            return out;
        }
        c[i - 1] += 1;
        for j in i..k {
            c[j] = c[j - 1] + 1;
        }
    }
}

impl FeatureLibrary for CustomLibrary {
    fn n_output_features(&self, n_inputs: usize) -> usize {
        self.combos(n_inputs).len()
    }

    fn count_features(&self, n_inputs: usize) -> Option<usize> {
        self.functions.iter().try_fold(0usize, |acc, f| {
            acc.checked_add(super::binomial(n_inputs, f.arity)?)
        })
    }

    fn feature_names(&self, input_names: &[String]) -> Vec<String> {
        self.combos(input_names.len())
            .iter()
            .map(|(fi, c)| {
                let names: Vec<&str> = c.iter().map(|&i| input_names[i].as_str()).collect();
                (self.functions[*fi].namer)(&names)
            })
            .collect()
    }

    fn transform_into(
        &self,
        x: ArrayView2<'_, f64>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        check_out(self, x, &out)?;
        let combos = self.combos(x.ncols());
        let mut args = Vec::new();
        for (xr, mut or) in x.outer_iter().zip(out.outer_iter_mut()) {
            for (k, (fi, c)) in combos.iter().enumerate() {
                args.clear();
                args.extend(c.iter().map(|&i| xr[i]));
                or[k] = (self.functions[*fi].func)(&args);
            }
        }
        Ok(())
    }

    fn config(&self) -> Option<LibraryConfig> {
        None
    }
}
