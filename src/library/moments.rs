//! Normal equations of a polynomial library from moments.
//!
//! Every entry of `ΘᵀΘ` for monomial features is a *moment* `Σ_i m(x_i)` of the product
//! monomial, and different pairs share products (`x · xy = x² · y`). A cubic library on three
//! variables has 210 distinct Gram entries but only 84 distinct moments (286 vs 1596 at degree
//! 5), so summing each moment once, with every monomial built as one vectorised column
//! product, does far less work than forming Θ and multiplying it out.

use std::collections::HashMap;

use ndarray::{ArrayView2, Axis};

use crate::error::Result;
use crate::linalg::NormalEquations;

/// Rows per pass: all monomial columns of a pass stay in cache.
const ROWS: usize = 256;

/// Whether [`polynomial_normal`] can key the products of these monomials.
pub(crate) fn fits_keys(exponents: &[Vec<u32>], n_inputs: usize) -> bool {
    n_inputs <= 12 && exponents.iter().all(|e| e.iter().all(|&v| 2 * v < 32))
}

/// Builds the normal equations of the monomials `exponents` (one exponent vector per feature)
/// on inputs `x` against targets `y`.
///
/// # Shapes
/// `x`: `(n_samples, n_inputs)`, `y`: `(n_samples, n_targets)`.
pub(crate) fn polynomial_normal(
    exponents: &[Vec<u32>],
    x: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
) -> Result<NormalEquations> {
    let d = x.ncols();
    let p = exponents.len();
    let t = y.ncols();
    // Monomials are keyed by their exponents packed into base-32 digits (the caller checks
    // that every exponent of a product fits: 2 × degree < 32, at most 12 inputs).
    let key = |e: &[u32]| e.iter().rev().fold(0u64, |k, &v| k * 32 + u64::from(v));
    let feature_keys: Vec<u64> = exponents.iter().map(|e| key(e)).collect();
    let digit = |k: u64, v: usize| (k >> (5 * v)) & 31;
    // Every monomial needed: the features, all pairwise products, and their parents (a
    // monomial is built as its parent times its highest-index variable).
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut monomials: Vec<u64> = Vec::new();
    let mut wanted: Vec<u64> = feature_keys.clone();
    for a in 0..p {
        for b in a..p {
            wanted.push(feature_keys[a] + feature_keys[b]);
        }
    }
    let parent_of = |k: u64| {
        (0..d)
            .rev()
            .find(|&v| digit(k, v) > 0)
            .map(|v| (k - (1u64 << (5 * v)), v))
    };
    while let Some(k) = wanted.pop() {
        if index.contains_key(&k) {
            continue;
        }
        index.insert(k, monomials.len());
        if let Some((parent, _)) = parent_of(k) {
            wanted.push(parent);
        }
        monomials.push(k);
    }
    let degree = |k: u64| (0..d).map(|v| digit(k, v)).sum::<u64>();
    // Build order: by total degree, so that parents come first.
    let mut order: Vec<usize> = (0..monomials.len()).collect();
    order.sort_by_key(|&i| (degree(monomials[i]), i));
    let mut slot = vec![0usize; monomials.len()];
    for (s, &i) in order.iter().enumerate() {
        slot[i] = s;
    }
    // plan[s] = (slot of parent, variable) for the monomial in slot s; None = the constant.
    let plan: Vec<Option<(usize, usize)>> = order
        .iter()
        .map(|&i| parent_of(monomials[i]).map(|(parent, v)| (slot[index[&parent]], v)))
        .collect();
    let feature_slot: Vec<usize> = feature_keys.iter().map(|k| slot[index[k]]).collect();
    let m = plan.len();
    let mut sums = vec![0.0; m];
    let mut xty = vec![0.0; p * t];
    let mut yty = vec![0.0; t];
    // Columns are LD apart, not a power of two: with a 2 KiB stride, a column and the parent
    // it is built from can sit a multiple of 4 KiB apart, and the loads then stall on the
    // stores (4K aliasing); seen as a 2x slowdown that came and went with heap layout.
    const LD: usize = ROWS + 8;
    let mut cols = vec![0.0; m * LD];
    let mut xc = vec![0.0; d * LD];
    let mut yc = vec![0.0; t * LD];
    let n = x.nrows();
    let mut start = 0;
    while start < n {
        let k = ROWS.min(n - start);
        let xs = x.slice(ndarray::s![start..start + k, ..]);
        let ys = y.slice(ndarray::s![start..start + k, ..]);
        for (v, col) in xs.axis_iter(Axis(1)).enumerate() {
            xc[v * LD..v * LD + k]
                .iter_mut()
                .zip(col)
                .for_each(|(a, b)| *a = *b);
        }
        for (j, col) in ys.axis_iter(Axis(1)).enumerate() {
            yc[j * LD..j * LD + k]
                .iter_mut()
                .zip(col)
                .for_each(|(a, b)| *a = *b);
        }
        for (s, step) in plan.iter().enumerate() {
            let (before, rest) = cols.split_at_mut(s * LD);
            let col = &mut rest[..k];
            match *step {
                None => col.fill(1.0),
                Some((ps, v)) => {
                    let parent = &before[ps * LD..ps * LD + k];
                    let xv = &xc[v * LD..v * LD + k];
                    for ((o, a), b) in col.iter_mut().zip(parent).zip(xv) {
                        *o = a * b;
                    }
                }
            }
            sums[s] += lane_sum(col);
        }
        for (a, &fs) in feature_slot.iter().enumerate() {
            let fcol = &cols[fs * LD..fs * LD + k];
            for j in 0..t {
                xty[a * t + j] += lane_dot(fcol, &yc[j * LD..j * LD + k]);
            }
        }
        for j in 0..t {
            let c = &yc[j * LD..j * LD + k];
            yty[j] += lane_dot(c, c);
        }
        start += k;
    }
    let mut ne = NormalEquations::zeros(p, t);
    for a in 0..p {
        for b in a..p {
            let g = sums[slot[index[&(feature_keys[a] + feature_keys[b])]]];
            ne.gram[(a, b)] = g;
            ne.gram[(b, a)] = g;
        }
        for j in 0..t {
            ne.xty[(a, j)] = xty[a * t + j];
        }
    }
    ne.yty = ndarray::Array1::from(yty);
    ne.n_samples = n;
    Ok(ne)
}

/// Sum with eight independent accumulators (vectorises; plain `sum` cannot reorder adds).
fn lane_sum(a: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = a.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// Dot product with eight independent accumulators.
fn lane_dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f64>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::{FeatureLibrary, PolynomialLibrary};
    use ndarray::Array2;

    #[test]
    fn moments_match_the_explicit_product() {
        let x = Array2::from_shape_fn((1000, 3), |(i, j)| {
            ((i * (j + 2)) as f64 * 0.013).sin() * 3.0
        });
        let y = Array2::from_shape_fn((1000, 2), |(i, j)| ((i + j) as f64 * 0.007).cos());
        for degree in [1, 2, 3, 5] {
            for bias in [true, false] {
                let lib = PolynomialLibrary::new(degree).unwrap().include_bias(bias);
                let th = lib.transform(x.view()).unwrap();
                let want = NormalEquations::from_data(th.view(), y.view()).unwrap();
                let got =
                    polynomial_normal(&lib.exponents(3).unwrap(), x.view(), y.view()).unwrap();
                for (a, b) in got.gram.iter().zip(want.gram.iter()) {
                    assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{a} vs {b}");
                }
                for (a, b) in got.xty.iter().zip(want.xty.iter()) {
                    assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0));
                }
                assert_eq!(got.n_samples, 1000);
            }
        }
    }
}
