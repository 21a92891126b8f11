use ndarray::{ArrayView2, ArrayViewMut2};

use super::{check_out, FeatureLibrary, LibraryConfig};
use crate::error::{Error, Result};

/// `sin(k x)` and `cos(k x)` of every input for `k = 1..=n_frequencies`
/// (≈ `pysindy.FourierLibrary`, same order: per frequency, per input, sine then cosine).
#[derive(Debug, Clone, PartialEq)]
pub struct FourierLibrary {
    n_frequencies: u32,
    include_sin: bool,
    include_cos: bool,
}

impl FourierLibrary {
    /// A Fourier library.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] if `n_frequencies == 0` or both sine and cosine are excluded.
    pub fn new(n_frequencies: u32, include_sin: bool, include_cos: bool) -> Result<Self> {
        if n_frequencies == 0 {
            return Err(Error::param("n_frequencies", n_frequencies, "must be >= 1"));
        }
        if !include_sin && !include_cos {
            return Err(Error::param(
                "include_sin/include_cos",
                "false/false",
                "at least one of sine and cosine is needed",
            ));
        }
        Ok(Self {
            n_frequencies,
            include_sin,
            include_cos,
        })
    }

    fn per_input(&self) -> usize {
        usize::from(self.include_sin) + usize::from(self.include_cos)
    }
}

impl FeatureLibrary for FourierLibrary {
    fn n_output_features(&self, n_inputs: usize) -> usize {
        self.n_frequencies as usize * n_inputs * self.per_input()
    }

    fn count_features(&self, n_inputs: usize) -> Option<usize> {
        (self.n_frequencies as usize)
            .checked_mul(n_inputs)?
            .checked_mul(self.per_input())
    }

    fn feature_names(&self, input_names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for k in 1..=self.n_frequencies {
            for name in input_names {
                if self.include_sin {
                    out.push(format!("sin({k} {name})"));
                }
                if self.include_cos {
                    out.push(format!("cos({k} {name})"));
                }
            }
        }
        out
    }

    fn transform_into(
        &self,
        x: ArrayView2<'_, f64>,
        mut out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        check_out(self, x, &out)?;
        for (xr, mut or) in x.outer_iter().zip(out.outer_iter_mut()) {
            let mut c = 0;
            for k in 1..=self.n_frequencies {
                for &v in xr.iter() {
                    let a = f64::from(k) * v;
                    if self.include_sin {
                        or[c] = a.sin();
                        c += 1;
                    }
                    if self.include_cos {
                        or[c] = a.cos();
                        c += 1;
                    }
                }
            }
        }
        Ok(())
    }

    fn config(&self) -> Option<LibraryConfig> {
        Some(LibraryConfig::Fourier {
            n_frequencies: self.n_frequencies,
            include_sin: self.include_sin,
            include_cos: self.include_cos,
        })
    }
}
