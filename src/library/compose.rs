use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};

use super::{check_out, FeatureLibrary, LibraryConfig};
use crate::error::{Error, Result};

/// Features of several libraries side by side (PySINDy's `lib_a + lib_b`).
#[derive(Debug)]
pub struct ConcatLibrary {
    parts: Vec<Box<dyn FeatureLibrary>>,
}

impl ConcatLibrary {
    /// Concatenation of `parts`.
    ///
    /// # Errors
    /// [`Error::Empty`] if `parts` is empty.
    pub fn new(parts: Vec<Box<dyn FeatureLibrary>>) -> Result<Self> {
        if parts.is_empty() {
            return Err(Error::Empty {
                what: "concatenated library",
                why: "at least one part is needed".into(),
            });
        }
        Ok(Self { parts })
    }
}

/// `a + b`: concatenation.
///
/// # Errors
/// Never in practice (two parts); kept fallible for uniformity.
pub fn concat(a: Box<dyn FeatureLibrary>, b: Box<dyn FeatureLibrary>) -> Result<ConcatLibrary> {
    ConcatLibrary::new(vec![a, b])
}

/// `a * b`: tensor product.
///
/// # Errors
/// Never in practice (two parts); kept fallible for uniformity.
pub fn tensor(a: Box<dyn FeatureLibrary>, b: Box<dyn FeatureLibrary>) -> Result<TensoredLibrary> {
    TensoredLibrary::new(vec![a, b])
}

impl FeatureLibrary for ConcatLibrary {
    fn n_output_features(&self, n_inputs: usize) -> usize {
        self.parts
            .iter()
            .map(|p| p.n_output_features(n_inputs))
            .sum()
    }

    fn count_features(&self, n_inputs: usize) -> Option<usize> {
        self.parts.iter().try_fold(0usize, |acc, p| {
            acc.checked_add(p.count_features(n_inputs)?)
        })
    }

    fn feature_names(&self, input_names: &[String]) -> Vec<String> {
        self.parts
            .iter()
            .flat_map(|p| p.feature_names(input_names))
            .collect()
    }

    fn transform_into(
        &self,
        x: ArrayView2<'_, f64>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        check_out(self, x, &out)?;
        let mut c = 0;
        for p in &self.parts {
            let k = p.n_output_features(x.ncols());
            p.transform_into(x, out.slice_mut(s![.., c..c + k]))?;
            c += k;
        }
        Ok(())
    }

    fn config(&self) -> Option<LibraryConfig> {
        self.parts
            .iter()
            .map(|p| p.config())
            .collect::<Option<Vec<_>>>()
            .map(LibraryConfig::Concat)
    }
}

/// All products of one feature from each part (PySINDy's `lib_a * lib_b`); names are joined
/// with a space (`"x sin(1 y)"`).
#[derive(Debug)]
pub struct TensoredLibrary {
    parts: Vec<Box<dyn FeatureLibrary>>,
}

impl TensoredLibrary {
    /// Tensor product of `parts`.
    ///
    /// # Errors
    /// [`Error::Empty`] if `parts` is empty.
    pub fn new(parts: Vec<Box<dyn FeatureLibrary>>) -> Result<Self> {
        if parts.is_empty() {
            return Err(Error::Empty {
                what: "tensored library",
                why: "at least one part is needed".into(),
            });
        }
        Ok(Self { parts })
    }
}

impl FeatureLibrary for TensoredLibrary {
    fn n_output_features(&self, n_inputs: usize) -> usize {
        self.parts
            .iter()
            .map(|p| p.n_output_features(n_inputs))
            .product()
    }

    fn count_features(&self, n_inputs: usize) -> Option<usize> {
        self.parts.iter().try_fold(1usize, |acc, p| {
            acc.checked_mul(p.count_features(n_inputs)?)
        })
    }

    fn feature_names(&self, input_names: &[String]) -> Vec<String> {
        let mut names = vec![String::new()];
        for p in &self.parts {
            let pn = p.feature_names(input_names);
            names = names
                .iter()
                .flat_map(|a| {
                    pn.iter().map(move |b| match (a.as_str(), b.as_str()) {
                        ("", b) => b.to_string(),
                        (a, "1") => a.to_string(),
                        ("1", b) => b.to_string(),
                        (a, b) => format!("{a} {b}"),
                    })
                })
                .collect();
        }
        names
    }

    fn transform_into(
        &self,
        x: ArrayView2<'_, f64>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        check_out(self, x, &out)?;
        let n = x.nrows();
        let mut acc = Array2::<f64>::ones((n, 1));
        for p in &self.parts {
            let f = p.transform(x)?;
            let (ka, kb) = (acc.ncols(), f.ncols());
            let mut next = Array2::zeros((n, ka * kb));
            for i in 0..n {
                for a in 0..ka {
                    for b in 0..kb {
                        next[(i, a * kb + b)] = acc[(i, a)] * f[(i, b)];
                    }
                }
            }
            acc = next;
        }
        out.assign(&acc);
        Ok(())
    }

    fn config(&self) -> Option<LibraryConfig> {
        self.parts
            .iter()
            .map(|p| p.config())
            .collect::<Option<Vec<_>>>()
            .map(LibraryConfig::Tensor)
    }
}
