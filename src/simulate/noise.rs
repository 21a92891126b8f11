//! Measurement noise for simulated data: Gaussian noise scaled to each variable's spread (the
//! convention of the SINDy literature and of PySINDy's examples).

use ndarray::Array2;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

use crate::error::{Error, Result};

/// `noise` times the population standard deviation of each column of `x`: the noise level
/// relative to each variable's spread.
pub fn measurement_noise_sigmas(x: &Array2<f64>, noise: f64) -> Vec<f64> {
    let n = x.nrows().max(1) as f64;
    x.columns()
        .into_iter()
        .map(|c| {
            let mean = c.sum() / n;
            noise * (c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
        })
        .collect()
}

/// Adds `N(0, sigma_j²)` to column `j`, column after column (the order the integration
/// tests' `with_noise` uses, so a seed gives the same data here and there).
///
/// # Errors
/// [`Error::InvalidParam`] for a negative or non-finite `sigma`.
pub fn add_measurement_noise(x: &mut Array2<f64>, sigma: &[f64], rng: &mut StdRng) -> Result<()> {
    if sigma.iter().all(|s| *s == 0.0) {
        return Ok(());
    }
    for (mut col, &sd) in x.columns_mut().into_iter().zip(sigma) {
        let normal = Normal::new(0.0, sd).map_err(|e| Error::param("noise", sd, e.to_string()))?;
        for v in col.iter_mut() {
            *v += normal.sample(rng);
        }
    }
    Ok(())
}
