//! Logistic regression with screened pairwise interactions: `P(y) = σ(b + Σ w_j z_j +
//! Σ v_ij z_i z_j)` over standardised visible genes. A full pairwise model of a 2,000-gene
//! vocabulary has two million terms, so the terms are screened first, model-free: the main
//! effects with the largest |corr(z_j, y)| and the pairs with the largest |corr(z_i z_j, y)|
//! over *all* visible pairs (three Gram matrices, so a pure XOR, whose inputs have no
//! marginal signal, is still found). This is the cheapest method that can represent a
//! two-input gate exactly; the transformer has to beat it to claim more than pairwise logic.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{check_finite, Error, Result};
use crate::linalg::solve_spd;

/// Parameters of [`PairwiseLogistic`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `n_main` | 20 | main effects kept by the screen | ≥ 0 |
/// | `n_pairs` | 20 | pairwise products kept by the screen | ≥ 0 |
/// | `screen_rows` | 2000 | rows (evenly spaced) the pair screen reads: its cost is rows × genes² | ≥ 2 |
/// | `screen_genes` | 2000 | genes (the most variable) whose pairs are screened: its memory is 3 × genes² × 8 bytes, 96 MB at 2,000 | ≥ 2 |
/// | `ridge` | 1e-3 | L2 penalty per row on the standardised coefficients (keeps separable fits finite) | > 0 |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairwiseParams {
    /// Main effects kept.
    pub n_main: usize,
    /// Pairwise products kept.
    pub n_pairs: usize,
    /// Rows read by the pair screen.
    pub screen_rows: usize,
    /// Genes whose pairs are screened (the most variable).
    pub screen_genes: usize,
    /// L2 penalty per row.
    pub ridge: f64,
}

impl Default for PairwiseParams {
    fn default() -> Self {
        Self {
            n_main: 20,
            n_pairs: 20,
            screen_rows: 2000,
            screen_genes: 2000,
            ridge: 1e-3,
        }
    }
}

impl PairwiseParams {
    /// # Errors
    /// [`Error::InvalidParam`] for no terms, `screen_rows < 2`, or a ridge that is not positive.
    pub fn validate(&self) -> Result<()> {
        if self.n_main + self.n_pairs == 0 {
            return Err(Error::param(
                "n_main + n_pairs",
                0,
                "must keep at least one term",
            ));
        }
        if self.screen_genes < 2 {
            return Err(Error::param(
                "screen_genes",
                self.screen_genes,
                "must be at least 2",
            ));
        }
        if self.screen_rows < 2 {
            return Err(Error::param(
                "screen_rows",
                self.screen_rows,
                "must be at least 2",
            ));
        }
        if !(self.ridge.is_finite() && self.ridge > 0.0) {
            return Err(Error::param("ridge", self.ridge, "must be finite and > 0"));
        }
        Ok(())
    }
}

/// A fitted logistic regression on screened main effects and pairwise products.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairwiseLogistic {
    n_features: usize,
    /// Features standardised (column `c` of the design's inputs is feature `features[c]`).
    features: Vec<usize>,
    center: Vec<f64>,
    scale: Vec<f64>,
    /// Main effects, as indices into `features`.
    main: Vec<usize>,
    /// Pairs, as indices into `features`.
    pairs: Vec<(usize, usize)>,
    /// Mean and sd of each design column (main effects, then products) on the training rows.
    term_center: Vec<f64>,
    term_scale: Vec<f64>,
    /// Intercept first, then one coefficient per term.
    coef: Vec<f64>,
}

impl PairwiseLogistic {
    /// Fits `y` on the columns of `x` other than `exclude` (the masked genes), rows are cells.
    ///
    /// # Errors
    /// [`Error::Shape`] if `y` and `x` disagree; [`Error::TooFewSamples`] under 2 rows;
    /// [`Error::InvalidParam`] for bad parameters or excluded indices, or when no feature
    /// varies; [`Error::NonFinite`]; [`Error::Linalg`] if a Newton step fails.
    pub fn fit(
        x: ArrayView2<'_, f64>,
        y: &[bool],
        exclude: &[usize],
        p: &PairwiseParams,
    ) -> Result<Self> {
        p.validate()?;
        let (n, d) = x.dim();
        if y.len() != n {
            return Err(Error::shape(
                "PairwiseLogistic",
                format!("{n} labels"),
                y.len().to_string(),
            ));
        }
        if n < 2 {
            return Err(Error::TooFewSamples {
                op: "pairwise logistic regression".into(),
                needed: 2,
                got: n,
            });
        }
        check_finite("pairwise logistic input", x)?;
        let visible = if exclude.is_empty() {
            (0..d).collect()
        } else {
            super::visible_features(exclude, d)?
        };
        let mut features = Vec::new();
        let (mut center, mut scale) = (Vec::new(), Vec::new());
        for &j in &visible {
            let c = x.column(j);
            let m = c.sum() / n as f64;
            let sd = (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64).sqrt();
            if sd > 1e-12 * (m.abs() + 1.0) {
                features.push(j);
                center.push(m);
                scale.push(sd);
            }
        }
        if features.is_empty() {
            return Err(Error::param(
                "x",
                d,
                "no visible feature varies on the training rows",
            ));
        }
        let z = standardise(x, &features, &center, &scale);
        let yv: Vec<f64> = y.iter().map(|&t| f64::from(u8::from(t))).collect();
        let ym = yv.iter().sum::<f64>() / n as f64;
        let yc = Array1::from_iter(yv.iter().map(|v| v - ym));

        // Pairs on evenly spaced rows (the screen costs rows × genes²).
        let ns = p.screen_rows.min(n);
        let rows: Vec<usize> = (0..ns).map(|i| i * n / ns).collect();
        // With a large vocabulary, only the most variable genes' pairs (memory is genes²).
        let mut pool: Vec<usize> = (0..features.len()).collect();
        if pool.len() > p.screen_genes {
            pool.sort_by(|&a, &b| scale[b].total_cmp(&scale[a]).then(a.cmp(&b)));
            pool.truncate(p.screen_genes);
            pool.sort_unstable();
        }
        let screen = interaction_screen(
            z.select(Axis(0), &rows).select(Axis(1), &pool).view(),
            &yc.select(Axis(0), &rows).to_vec(),
            p.n_pairs,
        )?;
        // Main effects on every row: |corr(z_j, y)| (z has unit variance, so the covariance
        // ranks them).
        let cov_main = z.t().dot(&yc);
        let main = top_k(
            cov_main
                .iter()
                .map(|v| v.abs())
                .enumerate()
                .map(|(j, s)| (s, j)),
            p.n_main,
        );
        let pairs: Vec<(usize, usize)> = screen
            .pairs
            .iter()
            .map(|&(i, j, _)| (pool[i], pool[j]))
            .collect();

        let raw = terms(&z, &main, &pairs);
        let q = raw.ncols();
        let mut term_center = vec![0.0; q];
        let mut term_scale = vec![1.0; q];
        for (t, c) in raw.columns().into_iter().enumerate() {
            let m = c.sum() / n as f64;
            let sd = (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64).sqrt();
            term_center[t] = m;
            term_scale[t] = if sd > 1e-12 { sd } else { 1.0 };
        }
        let design = design(&raw, &term_center, &term_scale);
        let coef = newton(&design, &yv, p.ridge * n as f64)?;
        Ok(Self {
            n_features: d,
            features,
            center,
            scale,
            main,
            pairs,
            term_center,
            term_scale,
            coef,
        })
    }

    /// `P(y = 1)` for every row of `x`.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of features, [`Error::NonFinite`].
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        super::check_features("PairwiseLogistic::predict_proba", x, self.n_features)?;
        check_finite("pairwise logistic input", x)?;
        let z = standardise(x, &self.features, &self.center, &self.scale);
        let dm = design(
            &terms(&z, &self.main, &self.pairs),
            &self.term_center,
            &self.term_scale,
        );
        Ok(dm
            .dot(&Array1::from(self.coef.clone()))
            .iter()
            .map(|&t| crate::stats::sigmoid(t))
            .collect())
    }

    /// The screened pairs, as feature indices of the input matrix.
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        self.pairs
            .iter()
            .map(|&(i, j)| (self.features[i], self.features[j]))
            .collect()
    }
}

/// What [`interaction_screen`] finds.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionScreen {
    /// `|corr(x_j, y)|` per column (0 for a constant column).
    pub main: Vec<f64>,
    /// The best pairs `(i, j, |corr(z_i z_j, y)|)`, `i < j`, best first (`z` the standardised
    /// columns).
    pub pairs: Vec<(usize, usize, f64)>,
}

/// A model-free screen for main effects and two-way interactions of the columns of `x` on
/// `y`: `|corr(x_j, y)|` for every column and `|corr(z_i z_j, y)|` for every pair, keeping the
/// `n_pairs` best pairs. The product of two standardised inputs carries an XOR or an AND even
/// when neither input has a marginal correlation with `y`, which is why a gate's inputs can be
/// found without a model. Three Gram matrices: the cost is rows × columns²
/// ([`InteractionScreener`] keeps the two that do not depend on `y` for screening many targets).
///
/// # Errors
/// [`Error::Shape`] if `y` does not have one value per row; [`Error::NonFinite`].
pub fn interaction_screen(
    x: ArrayView2<'_, f64>,
    y: &[f64],
    n_pairs: usize,
) -> Result<InteractionScreen> {
    InteractionScreener::new(x)?.screen(y, n_pairs, &[])
}

/// [`interaction_screen`] for many targets on the same columns: the standardised columns and
/// the two target-independent Gram matrices (`zᵀz`, `(z²)ᵀz²`) are computed once, leaving one
/// Gram matrix per target.
#[derive(Debug, Clone)]
pub struct InteractionScreener {
    z: Array2<f64>,
    live: Vec<bool>,
    c: Array2<f64>,
    q: Array2<f64>,
}

impl InteractionScreener {
    /// Standardises the columns of `x` and computes the target-independent Gram matrices.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for NaN/∞ in `x`.
    pub fn new(x: ArrayView2<'_, f64>) -> Result<Self> {
        check_finite("interaction screen input", x)?;
        let (n, _) = x.dim();
        let nf = n.max(1) as f64;
        let mut z = x.to_owned();
        let mut live = vec![false; x.ncols()];
        for (j, mut c) in z.columns_mut().into_iter().enumerate() {
            let m = c.sum() / nf;
            let sd = (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / nf).sqrt();
            live[j] = sd > 1e-12 * (m.abs() + 1.0);
            c.mapv_inplace(|v| if live[j] { (v - m) / sd } else { 0.0 });
        }
        let c = z.t().dot(&z) / nf;
        let z2 = z.mapv(|v| v * v);
        let q = z2.t().dot(&z2) / nf;
        Ok(InteractionScreener { z, live, c, q })
    }

    /// The screen of `y` over the columns, leaving out the columns in `exclude` (e.g. the
    /// target's own column): their main effect is reported as 0 and no pair contains them.
    /// Indices are the columns of the `x` the screener was built on.
    ///
    /// # Errors
    /// [`Error::Shape`] if `y` does not have one value per row; [`Error::NonFinite`] for NaN/∞
    /// in `y`.
    pub fn screen(
        &self,
        y: &[f64],
        n_pairs: usize,
        exclude: &[usize],
    ) -> Result<InteractionScreen> {
        let (n, d) = self.z.dim();
        if y.len() != n {
            return Err(Error::shape(
                "interaction_screen",
                format!("{n} targets"),
                y.len().to_string(),
            ));
        }
        if let Some((i, &v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "interaction screen target",
                row: i,
                col: 0,
                value: v,
            });
        }
        let nf = n.max(1) as f64;
        let ym = y.iter().sum::<f64>() / nf;
        let ysd = (y.iter().map(|v| (v - ym) * (v - ym)).sum::<f64>() / nf).sqrt();
        if ysd == 0.0 {
            return Ok(InteractionScreen {
                main: vec![0.0; d],
                pairs: Vec::new(),
            });
        }
        let use_col = |j: usize| self.live[j] && !exclude.contains(&j);
        let yc = Array1::from_iter(y.iter().map(|v| (v - ym) / ysd));
        let main: Vec<f64> = self
            .z
            .t()
            .dot(&yc)
            .iter()
            .enumerate()
            .map(|(j, v)| {
                if exclude.contains(&j) {
                    0.0
                } else {
                    (v / nf).abs()
                }
            })
            .collect();
        let zy = &self.z * &yc.view().insert_axis(Axis(1));
        let s = zy.t().dot(&self.z) / nf;
        let cand = (0..d)
            .flat_map(|i| (i + 1..d).map(move |j| (i, j)))
            .filter(|&(i, j)| use_col(i) && use_col(j))
            .filter_map(|(i, j)| {
                let var = self.q[[i, j]] - self.c[[i, j]] * self.c[[i, j]];
                (var > 1e-12).then(|| (s[[i, j]].abs() / var.sqrt(), i * d + j))
            });
        let mut scored: Vec<(f64, usize)> = cand.filter(|s| s.0.is_finite()).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(n_pairs);
        Ok(InteractionScreen {
            main,
            pairs: scored
                .into_iter()
                .map(|(v, ij)| (ij / d, ij % d, v))
                .collect(),
        })
    }
}

fn standardise(
    x: ArrayView2<'_, f64>,
    features: &[usize],
    center: &[f64],
    scale: &[f64],
) -> Array2<f64> {
    let mut z = x.select(Axis(1), features);
    for (mut c, (&m, &s)) in z.columns_mut().into_iter().zip(center.iter().zip(scale)) {
        c.mapv_inplace(|v| (v - m) / s);
    }
    z
}

/// Main-effect columns, then pairwise products (unstandardised).
fn terms(z: &Array2<f64>, main: &[usize], pairs: &[(usize, usize)]) -> Array2<f64> {
    let n = z.nrows();
    let mut t = Array2::zeros((n, main.len() + pairs.len()));
    for (c, &j) in main.iter().enumerate() {
        t.column_mut(c).assign(&z.column(j));
    }
    for (c, &(i, j)) in pairs.iter().enumerate() {
        let prod = &z.column(i) * &z.column(j);
        t.column_mut(main.len() + c).assign(&prod);
    }
    t
}

/// `[1, standardised terms]`.
fn design(raw: &Array2<f64>, center: &[f64], scale: &[f64]) -> Array2<f64> {
    let (n, q) = raw.dim();
    Array2::from_shape_fn((n, q + 1), |(i, c)| {
        if c == 0 {
            1.0
        } else {
            (raw[[i, c - 1]] - center[c - 1]) / scale[c - 1]
        }
    })
}

/// The `k` largest scores' indices (ties by index), best first.
fn top_k(scores: impl Iterator<Item = (f64, usize)>, k: usize) -> Vec<usize> {
    let mut v: Vec<(f64, usize)> = scores.filter(|s| s.0.is_finite()).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    v.truncate(k);
    v.into_iter().map(|(_, j)| j).collect()
}

/// Ridge-penalised logistic regression by Newton's method (intercept unpenalised).
fn newton(x: &Array2<f64>, y: &[f64], lambda: f64) -> Result<Vec<f64>> {
    let (n, q) = x.dim();
    let mut beta = Array1::<f64>::zeros(q);
    let ym = (y.iter().sum::<f64>() / n as f64).clamp(1e-6, 1.0 - 1e-6);
    beta[0] = (ym / (1.0 - ym)).ln();
    for _ in 0..50 {
        let eta = x.dot(&beta);
        let pr: Vec<f64> = eta.iter().map(|&t| crate::stats::sigmoid(t)).collect();
        let w = Array1::from_iter(pr.iter().map(|p| (p * (1.0 - p)).max(1e-10)));
        let r = Array1::from_iter(y.iter().zip(&pr).map(|(a, b)| a - b));
        let mut g = x.t().dot(&r);
        let xw = x * &w.view().insert_axis(Axis(1));
        let mut h = x.t().dot(&xw);
        for c in 1..q {
            g[c] -= lambda * beta[c];
            h[[c, c]] += lambda;
        }
        let step = solve_spd(h.view(), g.view().insert_axis(Axis(1)), 0.0)?;
        let step = step.column(0);
        beta += &step;
        if step.iter().map(|v| v.abs()).fold(0.0, f64::max) < 1e-8 {
            break;
        }
    }
    if beta.iter().any(|v| !v.is_finite()) {
        return Err(Error::Linalg(
            "pairwise logistic regression diverged".into(),
        ));
    }
    Ok(beta.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_screener_with_an_excluded_column_equals_the_screen_of_the_others() {
        let n = 300;
        let x = Array2::from_shape_fn((n, 8), |(i, j)| {
            (((i * 7919 + j * 104_729 + i * j * 31) % 1009) as f64 / 1009.0) - 0.5
        });
        let screener = InteractionScreener::new(x.view()).unwrap();
        for t in [0, 4, 7] {
            let y: Vec<f64> = (0..n)
                .map(|i| f64::from(u8::from((x[[i, 1]] > 0.0) != (x[[i, 5]] > 0.0))) + x[[i, t]])
                .collect();
            let others: Vec<usize> = (0..8).filter(|&j| j != t).collect();
            let alone = interaction_screen(x.select(Axis(1), &others).view(), &y, 6).unwrap();
            let shared = screener.screen(&y, 6, &[t]).unwrap();
            let mapped: Vec<(usize, usize)> = alone
                .pairs
                .iter()
                .map(|&(a, b, _)| (others[a], others[b]))
                .collect();
            let got: Vec<(usize, usize)> = shared.pairs.iter().map(|&(a, b, _)| (a, b)).collect();
            assert_eq!(got, mapped, "target column {t}");
            for (k, &j) in others.iter().enumerate() {
                assert!((shared.main[j] - alone.main[k]).abs() < 1e-12);
            }
            assert_eq!(shared.main[t], 0.0);
        }
        assert!(matches!(
            screener.screen(&[0.0; 3], 2, &[]),
            Err(Error::Shape { .. })
        ));
    }

    #[test]
    fn the_screen_finds_a_pure_xor_among_noise_genes() {
        // 30 genes; y = sign(x3) xor sign(x17), no marginal signal in either.
        let n = 800;
        let x = Array2::from_shape_fn((n, 30), |(i, j)| {
            (((i * 7919 + j * 104_729 + i * j * 31) % 1009) as f64 / 1009.0) - 0.5
        });
        let y: Vec<bool> = (0..n)
            .map(|i| (x[[i, 3]] > 0.0) != (x[[i, 17]] > 0.0))
            .collect();
        let p = PairwiseParams {
            n_main: 2,
            n_pairs: 3,
            ..PairwiseParams::default()
        };
        let m = PairwiseLogistic::fit(x.view(), &y, &[29], &p).unwrap();
        assert_eq!(m.pairs()[0], (3, 17), "{:?}", m.pairs());
        let pr = m.predict_proba(x.view()).unwrap();
        let acc = pr
            .iter()
            .zip(&y)
            .filter(|(p, t)| (**p >= 0.5) == **t)
            .count() as f64
            / n as f64;
        assert!(acc > 0.7, "{acc}");
        // With the pair screen limited to the 5 most variable genes (x3 and x17 scaled up to be
        // among them), the pair is still found, with the input's own indices.
        let mut wide = x.clone();
        wide.column_mut(3).mapv_inplace(|v| 10.0 * v);
        wide.column_mut(17).mapv_inplace(|v| 10.0 * v);
        let narrow = PairwiseParams {
            screen_genes: 5,
            ..p.clone()
        };
        let m5 = PairwiseLogistic::fit(wide.view(), &y, &[29], &narrow).unwrap();
        assert_eq!(m5.pairs()[0], (3, 17), "{:?}", m5.pairs());
        assert!(PairwiseLogistic::fit(x.view(), &y[..3], &[], &p).is_err());
        assert!(m
            .predict_proba(Array2::<f64>::zeros((1, 3)).view())
            .is_err());
    }
}
