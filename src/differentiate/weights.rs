//! Fornberg's algorithm for finite-difference weights on arbitrary nodes
//! (B. Fornberg, "Generation of finite difference formulas on arbitrarily spaced grids",
//! Math. Comp. 51, 1988).

/// Weights `w` such that `f'(z) ≈ Σ w_j f(nodes_j)`, exact for polynomials of degree
/// `nodes.len() - 1`.
pub(crate) fn first_derivative_weights(z: f64, nodes: &[f64]) -> Vec<f64> {
    let n = nodes.len();
    // c[j][k]: weight of node j for derivative k (k = 0, 1).
    let mut c = vec![[0.0f64; 2]; n];
    if n == 0 {
        return Vec::new();
    }
    let mut c1 = 1.0;
    let mut c4 = nodes[0] - z;
    c[0][0] = 1.0;
    for i in 1..n {
        let mn = i.min(1);
        let mut c2 = 1.0;
        let c5 = c4;
        c4 = nodes[i] - z;
        for j in 0..i {
            let c3 = nodes[i] - nodes[j];
            c2 *= c3;
            if j == i - 1 {
                for k in (1..=mn).rev() {
                    c[i][k] = c1 * (k as f64 * c[i - 1][k - 1] - c5 * c[i - 1][k]) / c2;
                }
                c[i][0] = -c1 * c5 * c[i - 1][0] / c2;
            }
            for k in (1..=mn).rev() {
                c[j][k] = (c4 * c[j][k] - k as f64 * c[j][k - 1]) / c3;
            }
            c[j][0] = c4 * c[j][0] / c3;
        }
        c1 = c2;
    }
    c.iter().map(|w| w[1]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn central_and_one_sided() {
        let w = first_derivative_weights(0.0, &[-1.0, 0.0, 1.0]);
        assert!((w[0] + 0.5).abs() < 1e-14 && w[1].abs() < 1e-14 && (w[2] - 0.5).abs() < 1e-14);
        let w = first_derivative_weights(0.0, &[0.0, 1.0, 2.0]);
        assert!(
            (w[0] + 1.5).abs() < 1e-14 && (w[1] - 2.0).abs() < 1e-14 && (w[2] + 0.5).abs() < 1e-14
        );
        let w = first_derivative_weights(0.0, &[-2.0, -1.0, 0.0, 1.0, 2.0]);
        let expect = [1.0 / 12.0, -2.0 / 3.0, 0.0, 2.0 / 3.0, -1.0 / 12.0];
        for (a, b) in w.iter().zip(expect) {
            assert!((a - b).abs() < 1e-14);
        }
    }
}
