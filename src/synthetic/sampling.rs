//! Seeded random streams and the count samplers the generator uses.
//!
//! Every random draw comes from a ChaCha8 stream keyed by the user's seed and a *domain*
//! (cells, gene parameters, time courses, ...) and numbered by a stream id (the cell index, the
//! trajectory index). ChaCha's 64-bit stream ids make the streams of two cells disjoint by
//! construction, so a cell's values depend only on `(seed, cell index)`: the same for any
//! number of rayon threads and any chunking. `rand_chacha` is named explicitly (rather than
//! `StdRng`) because its output is stable across `rand` releases.

use rand::Rng;
use rand_distr::{Distribution, Gamma, Poisson};

pub(crate) use crate::rng::stream;

/// Domain of the per-cell streams of [`super::generate`].
pub(crate) const DOMAIN_CELLS: u64 = 0x63656c6c_73000001;
/// Domain of the per-dataset draws (gene parameters, the cell-type shuffle).
pub(crate) const DOMAIN_DATASET: u64 = 0x64617461_73657402;
/// Domain of the time-course streams (one per trajectory).
pub(crate) const DOMAIN_TIMECOURSE: u64 = 0x74696d65_636f7503;

/// A standard normal draw (Box–Muller is not used: `rand_distr`'s ziggurat is faster).
pub(crate) fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    rng.sample(rand_distr::StandardNormal)
}

/// Poisson(`lambda`) by inversion for small means (one uniform), `rand_distr` above.
pub(crate) fn poisson<R: Rng + ?Sized>(rng: &mut R, lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0.0;
    }
    if lambda < 30.0 {
        let u: f64 = rng.random();
        // Exact shortcut: exp(-lambda) >= 1 - lambda + lambda²/2 - lambda³/6.
        if u <= 1.0 - lambda * (1.0 - lambda * (0.5 - lambda / 6.0)) {
            return 0.0;
        }
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let mut k = 0.0;
        while u > cdf {
            k += 1.0;
            p *= lambda / k;
            cdf += p;
            if p == 0.0 {
                break;
            }
        }
        return k;
    }
    match Poisson::new(lambda) {
        Ok(d) => d.sample(rng),
        // Unreachable for the finite means used here (the limit is ~1.8e19); the mean is the
        // least surprising stand-in.
        Err(_) => lambda.round(),
    }
}

/// Negative binomial with mean `mu` and dispersion `alpha` (variance `mu + alpha mu²`;
/// `alpha = 0` is Poisson).
///
/// Small means use inversion of the probability mass function (one uniform, exact); larger
/// means the Poisson–Gamma mixture.
pub(crate) fn neg_binomial<R: Rng + ?Sized>(rng: &mut R, mu: f64, alpha: f64) -> f64 {
    if mu.is_nan() || mu <= 0.0 {
        return 0.0;
    }
    if alpha <= 0.0 {
        return poisson(rng, mu);
    }
    let r = 1.0 / alpha;
    if mu < 10.0 {
        let u: f64 = rng.random();
        // Exact shortcut: P(0) = (1 + mu/r)^(-r) >= exp(-mu) >= 1 - mu + mu²/2 - mu³/6, so a
        // uniform below that bound is a zero without evaluating P(0) (most background draws).
        if u <= 1.0 - mu * (1.0 - mu * (0.5 - mu / 6.0)) {
            return 0.0;
        }
        // P(0) = (r / (r + mu))^r, P(k+1) = P(k) (k + r) / (k + 1) * mu / (r + mu).
        let q = mu / (r + mu);
        let mut p = (-r * (mu / r).ln_1p()).exp();
        let mut cdf = p;
        let mut k = 0.0;
        while u > cdf {
            p *= q * (k + r) / (k + 1.0);
            k += 1.0;
            cdf += p;
            if p == 0.0 {
                break;
            }
        }
        return k;
    }
    let lambda = match Gamma::new(r, mu / r) {
        Ok(g) => g.sample(rng),
        Err(_) => mu,
    };
    poisson(rng, lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, v)
    }

    #[test]
    fn negative_binomial_moments() {
        let mut rng = stream(1, DOMAIN_CELLS, 0);
        for &(mu, alpha) in &[
            (0.3, 0.3),
            (4.0, 0.3),
            (25.0, 0.1),
            (200.0, 0.02),
            (5.0, 0.0),
        ] {
            let xs: Vec<f64> = (0..200_000)
                .map(|_| neg_binomial(&mut rng, mu, alpha))
                .collect();
            let (m, v) = moments(&xs);
            let v_true = mu + alpha * mu * mu;
            assert!((m - mu).abs() < 0.02 * mu + 0.01, "mean {m} vs {mu}");
            assert!((v - v_true).abs() < 0.05 * v_true, "var {v} vs {v_true}");
        }
    }

    #[test]
    fn streams_differ_by_id_and_seed() {
        let a: u64 = stream(1, DOMAIN_CELLS, 0).random();
        let b: u64 = stream(1, DOMAIN_CELLS, 1).random();
        let c: u64 = stream(2, DOMAIN_CELLS, 0).random();
        let a2: u64 = stream(1, DOMAIN_CELLS, 0).random();
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
