//! Scalar and row kernels shared by the ops: branch-free, so loops over them vectorize.

use super::*;

// ---------------------------------------------------------------------------------------------
// Scalar kernels: branch-free, so loops over them vectorize (AVX2 with the crate's target CPU).
// ---------------------------------------------------------------------------------------------

/// `e^x` in `f32` (Cephes `expf`: range reduction by `ln 2`, degree-7 polynomial), within
/// 2 ulp of the true value. Inputs below −87 (including `-inf`) give exactly 0; NaN stays NaN.
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub(super) fn exp_f32(x: f32) -> f32 {
    const SHIFTER: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_375;
    const LN2_LO: f32 = -2.121_944_40e-4;
    let xc = x.clamp(-87.0, 88.0); // NaN stays NaN
    let t = xc * std::f32::consts::LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_150e-4 * r + 1.398_199_951e-3) * r + 8.333_451_907e-3) * r
        + 4.166_579_589e-2)
        * r
        + 1.666_666_546e-1)
        * r
        + 5.000_000_120e-1;
    let p = p * r * r + r + 1.0;
    // `t`'s low mantissa bits hold n (|n| ≤ 127): build 2^n from them.
    let n_bits = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let y = p * f32::from_bits(((n_bits + 127) << 23) as u32);
    if x < -87.0 {
        0.0
    } else {
        y
    }
}

/// The standard normal CDF and density, `(Φ(x), φ(x))`, sharing one [`exp_f32`]:
/// `Φ(x) = ½ erfc(−x / √2)` with `erfc(z) ≈ (a₁t + … + a₅t⁵) e^{−z²}`, `t = 1 / (1 + p z)`
/// (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7; the error shrinks with `e^{−z²}` in the tails,
/// which are computed directly, not as `1 − Φ(−x)`), and `φ(x) = e^{−x²/2} / √(2π)` from the
/// same exponential. Checked against a double-precision `erf` in the tests (|error| < 1e-6).
#[inline(always)]
#[allow(clippy::excessive_precision)]
pub(super) fn normal_cdf_pdf(x: f32) -> (f32, f32) {
    let z = x.abs() * FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let e = exp_f32(-z * z);
    let half_erfc = 0.5 * poly * e;
    let cdf = if x >= 0.0 { 1.0 - half_erfc } else { half_erfc };
    (cdf, FRAC_1_SQRT_2PI * e)
}

/// `Φ(x)` (see [`normal_cdf_pdf`]).
#[inline(always)]
pub(super) fn normal_cdf(x: f32) -> f32 {
    normal_cdf_pdf(x).0
}

/// `d/dx [x Φ(x)] = Φ(x) + x φ(x)`.
#[inline(always)]
pub(super) fn gelu_grad(x: f32) -> f32 {
    let (cdf, pdf) = normal_cdf_pdf(x);
    cdf + x * pdf
}

/// Lanes of the vectorizable reductions below (fixed, so results do not depend on the CPU).
pub(super) const LANES: usize = 8;

/// Maximum of a slice (`-inf` when empty), over [`LANES`] independent accumulators.
#[inline]
pub(super) fn max_f32(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = v.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &x in acc.iter().chain(chunks.remainder()) {
        m = if x > m { x } else { m };
    }
    m
}

/// Sum of a slice, over [`LANES`] accumulators reduced in a fixed order.
#[inline]
pub(super) fn sum_f32(v: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = v.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().chain(chunks.remainder()).sum()
}

/// Dot product, over [`LANES`] accumulators reduced in a fixed order.
#[inline]
pub(super) fn dot_f32(u: &[f32], v: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut cu = u.chunks_exact(LANES);
    let mut cv = v.chunks_exact(LANES);
    for (a8, b8) in (&mut cu).zip(&mut cv) {
        for ((a, &x), &y) in acc.iter_mut().zip(a8).zip(b8) {
            *a += x * y;
        }
    }
    let tail: f32 = cu
        .remainder()
        .iter()
        .zip(cv.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// In-place softmax of `row + mask` (`mask` additive, may hold `-inf`); a row with no finite
/// score becomes zeros.
#[inline]
pub(super) fn softmax_row(row: &mut [f32], mask: Option<&[f32]>) {
    if let Some(m) = mask {
        for (r, &m) in row.iter_mut().zip(m) {
            *r += m;
        }
    }
    let max = max_f32(row);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    for r in row.iter_mut() {
        *r = exp_f32(*r - max);
    }
    let inv = 1.0 / sum_f32(row);
    for r in row.iter_mut() {
        *r *= inv;
    }
}
