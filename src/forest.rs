//! Regression random forests with impurity (variance-reduction) importances: the learner of
//! GENIE3, the network-inference baseline of [`crate::rules::genie3`], and of the forest
//! imputation baseline [`crate::baselines::ForestImputer`] (predictions, out-of-bag predictions).
//!
//! Written here rather than taken from a crate: linfa has single decision trees but no forest,
//! and smartcore's forest exposes no feature importances, which are all GENIE3 reads. The
//! forest is Breiman's: bootstrap rows per tree, `max_features` candidate features drawn per
//! split, splits at midpoints minimising the children's summed squared error, grown until
//! leaves hold `min_samples_leaf` rows or are pure. Every tree has its own seeded stream, so a
//! fit is the same for any thread count.

use ndarray::{ArrayView1, ArrayView2};
use rand::Rng;
use rayon::prelude::*;

use crate::error::{check_finite, Error, Result};

/// Domain of the forest's random streams.
const DOMAIN_FOREST: u64 = 0x666f7265_73740001;

/// Parameters of [`feature_importances`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `n_trees` | 300 | trees | ≥ 1 |
/// | `max_features` | `None` = ⌈√p⌉ (GENIE3's "sqrt") | features tried per split | ≥ 1 |
/// | `min_samples_leaf` | 1 | smallest leaf | ≥ 1 |
/// | `bootstrap` | `true` | resample rows per tree | |
/// | `seed` | 0 | bootstrap and feature draws | any |
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Features tried at each split (`None`: the square root of the number of features).
    pub max_features: Option<usize>,
    /// Fewest rows in a leaf.
    pub min_samples_leaf: usize,
    /// Draw each tree's rows with replacement (otherwise every tree sees every row).
    pub bootstrap: bool,
    /// Seed.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_trees: 300,
            max_features: None,
            min_samples_leaf: 1,
            bootstrap: true,
            seed: 0,
        }
    }
}

impl ForestParams {
    fn validate(&self) -> Result<()> {
        if self.n_trees == 0 {
            return Err(Error::param("n_trees", 0, "must be at least 1"));
        }
        if self.min_samples_leaf == 0 {
            return Err(Error::param("min_samples_leaf", 0, "must be at least 1"));
        }
        if self.max_features == Some(0) {
            return Err(Error::param("max_features", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// Fits a regression forest of `y` on the columns of `x` and returns each feature's importance:
/// the variance reduction of the splits on it, summed over the trees and divided by the
/// number of trees and of rows (scikit-learn's unnormalised mean decrease in impurity, the
/// quantity GENIE3 ranks). `stream` keys the random streams (GENIE3 passes the target's index,
/// so targets do not share draws).
///
/// # Errors
/// As [`Forest::fit`].
pub fn feature_importances(
    x: ArrayView2<'_, f64>,
    y: ArrayView1<'_, f64>,
    p: &ForestParams,
    stream: u64,
) -> Result<Vec<f64>> {
    Ok(Forest::fit(x, y, p, stream)?.importances)
}

/// One node of a fitted tree: a split (`feature`, `cut`, children) or a leaf (`feature` is
/// `None`); `value` is the mean target of the node's rows.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    feature: Option<usize>,
    cut: f64,
    left: usize,
    right: usize,
    value: f64,
}

/// A fitted regression forest: predictions (the mean of the trees' leaf means), out-of-bag
/// predictions of the training rows, and impurity importances.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    n_features: usize,
    trees: Vec<Vec<Node>>,
    /// Mean decrease in impurity per feature (see [`feature_importances`]).
    importances: Vec<f64>,
    /// Each training row's mean prediction over the trees whose bootstrap left it out
    /// (`NaN` for a row every tree drew, and for every row without bootstrap).
    oob: Vec<f64>,
}

impl Forest {
    /// Fits a regression forest of `y` on the columns of `x` (rows are samples). `stream`
    /// keys the random streams, so that several forests on the same data (one per target) do
    /// not share draws.
    ///
    /// # Errors
    /// [`Error::Shape`] if `y` and `x` disagree in rows; [`Error::TooFewSamples`] under 2 rows;
    /// [`Error::Empty`] without features; [`Error::NonFinite`] on NaN/Inf; [`Error::InvalidParam`].
    pub fn fit(
        x: ArrayView2<'_, f64>,
        y: ArrayView1<'_, f64>,
        p: &ForestParams,
        stream: u64,
    ) -> Result<Self> {
        p.validate()?;
        let (n, d) = x.dim();
        if y.len() != n {
            return Err(Error::shape(
                "forest",
                format!("{n} targets (one per row)"),
                format!("{}", y.len()),
            ));
        }
        if n < 2 {
            return Err(Error::TooFewSamples {
                op: "random forest".into(),
                needed: 2,
                got: n,
            });
        }
        if d == 0 {
            return Err(Error::Empty {
                what: "feature matrix",
                why: "a forest needs at least one feature".into(),
            });
        }
        check_finite("forest features", x)?;
        check_finite("forest target", y.insert_axis(ndarray::Axis(1)))?;
        // Column-major copies: a split scans one feature over the node's rows.
        let cols: Vec<Vec<f64>> = x.columns().into_iter().map(|c| c.to_vec()).collect();
        let y: Vec<f64> = y.to_vec();
        let m = p
            .max_features
            .unwrap_or_else(|| (d as f64).sqrt().ceil() as usize)
            .min(d);
        let grown: Vec<(Vec<Node>, Vec<f64>, Vec<bool>)> = (0..p.n_trees)
            .into_par_iter()
            .map(|t| {
                let mut rng =
                    crate::rng::stream(p.seed ^ stream.rotate_left(17), DOMAIN_FOREST, t as u64);
                let rows: Vec<usize> = if p.bootstrap {
                    (0..n).map(|_| rng.random_range(0..n)).collect()
                } else {
                    (0..n).collect()
                };
                let mut in_bag = vec![false; n];
                for &r in &rows {
                    in_bag[r] = true;
                }
                let mut imp = vec![0.0; d];
                let tree = grow(&cols, &y, rows, m, p.min_samples_leaf, &mut rng, &mut imp);
                (tree, imp, in_bag)
            })
            .collect();
        let mut total = vec![0.0; d];
        let (mut oob_sum, mut oob_n) = (vec![0.0; n], vec![0usize; n]);
        let mut trees = Vec::with_capacity(grown.len());
        for (tree, imp, in_bag) in grown {
            for (t, v) in total.iter_mut().zip(&imp) {
                *t += v;
            }
            for i in (0..n).filter(|&i| !in_bag[i]) {
                oob_sum[i] += leaf_value(&tree, |f| cols[f][i]);
                oob_n[i] += 1;
            }
            trees.push(tree);
        }
        let scale = 1.0 / (p.n_trees as f64 * n as f64);
        Ok(Self {
            n_features: d,
            trees,
            importances: total.into_iter().map(|v| v * scale).collect(),
            oob: oob_sum
                .iter()
                .zip(&oob_n)
                .map(|(&s, &k)| if k > 0 { s / k as f64 } else { f64::NAN })
                .collect(),
        })
    }

    /// The mean of the trees' predictions for every row of `x`.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of features, [`Error::NonFinite`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        if x.ncols() != self.n_features {
            return Err(Error::shape(
                "Forest::predict",
                format!("(n_samples, {})", self.n_features),
                format!("{:?}", x.dim()),
            ));
        }
        check_finite("forest features", x)?;
        let k = self.trees.len() as f64;
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                self.trees
                    .iter()
                    .map(|t| leaf_value(t, |f| r[f]))
                    .sum::<f64>()
                    / k
            })
            .collect())
    }

    /// Impurity importances (see [`feature_importances`]).
    pub fn importances(&self) -> &[f64] {
        &self.importances
    }

    /// Out-of-bag predictions of the training rows (`NaN` where no tree left the row out).
    pub fn oob_predictions(&self) -> &[f64] {
        &self.oob
    }
}

/// The leaf value a tree gives the sample whose feature `f` is `value(f)`.
fn leaf_value(tree: &[Node], value: impl Fn(usize) -> f64) -> f64 {
    let mut k = 0;
    while let Some(f) = tree[k].feature {
        k = if value(f) <= tree[k].cut {
            tree[k].left
        } else {
            tree[k].right
        };
    }
    tree[k].value
}

/// Grows one tree from `rows` (iteratively, so deep trees cannot overflow the stack), adds
/// each split's decrease in summed squared error to `imp[feature]`, and returns its nodes
/// (the root first).
fn grow(
    cols: &[Vec<f64>],
    y: &[f64],
    rows: Vec<usize>,
    m: usize,
    min_leaf: usize,
    rng: &mut crate::rng::Stream,
    imp: &mut [f64],
) -> Vec<Node> {
    let d = cols.len();
    let leaf = |value: f64| Node {
        feature: None,
        cut: 0.0,
        left: 0,
        right: 0,
        value,
    };
    let mut nodes = vec![leaf(0.0)];
    let mut stack = vec![(0usize, rows)];
    let mut order: Vec<usize> = (0..d).collect();
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    while let Some((id, node)) = stack.pop() {
        let (sum, sum2) = node
            .iter()
            .fold((0.0, 0.0), |(s, s2), &i| (s + y[i], s2 + y[i] * y[i]));
        let nn = node.len() as f64;
        nodes[id].value = if node.is_empty() { 0.0 } else { sum / nn };
        if node.len() < 2 * min_leaf {
            continue;
        }
        let sse = sum2 - sum * sum / nn;
        if sse <= 1e-12 * sum2.max(1e-300) {
            continue;
        }
        // Partial Fisher–Yates: the first m entries of `order` are this split's features.
        for k in 0..m {
            let j = rng.random_range(k..d);
            order.swap(k, j);
        }
        let mut best: Option<(f64, usize, f64)> = None;
        for &f in &order[..m] {
            pairs.clear();
            pairs.extend(node.iter().map(|&i| (cols[f][i], y[i])));
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut ls = 0.0;
            for k in 0..pairs.len() - 1 {
                ls += pairs[k].1;
                let nl = (k + 1) as f64;
                if k + 1 < min_leaf || pairs.len() - k - 1 < min_leaf {
                    continue;
                }
                if pairs[k].0 >= pairs[k + 1].0 {
                    continue;
                }
                let rs = sum - ls;
                let nr = nn - nl;
                // Decrease in SSE = ls²/nl + rs²/nr − sum²/nn.
                let gain = ls * ls / nl + rs * rs / nr - sum * sum / nn;
                if best.is_none_or(|b| gain > b.0) {
                    best = Some((gain, f, 0.5 * (pairs[k].0 + pairs[k + 1].0)));
                }
            }
        }
        let Some((gain, f, cut)) = best else { continue };
        if gain <= 0.0 {
            continue;
        }
        imp[f] += gain;
        let (left, right): (Vec<usize>, Vec<usize>) =
            node.iter().partition(|&&i| cols[f][i] <= cut);
        let (l, r) = (nodes.len(), nodes.len() + 1);
        nodes.push(leaf(0.0));
        nodes.push(leaf(0.0));
        nodes[id] = Node {
            feature: Some(f),
            cut,
            left: l,
            right: r,
            value: nodes[id].value,
        };
        stack.push((l, left));
        stack.push((r, right));
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn the_feature_that_drives_the_target_is_the_most_important() {
        let n = 300;
        let x = Array2::from_shape_fn((n, 4), |(i, j)| ((i * (j + 3) * 7919) % 101) as f64 / 101.0);
        let y = x.column(2).mapv(|v| if v > 0.5 { 1.0 } else { 0.0 });
        let imp = feature_importances(x.view(), y.view(), &ForestParams::default(), 0).unwrap();
        let top = (0..4).max_by(|&a, &b| imp[a].total_cmp(&imp[b])).unwrap();
        assert_eq!(top, 2, "{imp:?}");
        // A pure step: the splits on x2 explain the whole variance (0.25 for a balanced step).
        let again = feature_importances(x.view(), y.view(), &ForestParams::default(), 0).unwrap();
        assert_eq!(imp, again);
    }

    #[test]
    fn a_forest_predicts_an_interaction_and_its_out_of_bag_error_is_honest() {
        // y = XOR of the signs of x0 and x1 (no marginal signal), x2 noise.
        let n = 400;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            (((i * (j + 5) * 7919 + j * 131) % 199) as f64 / 199.0) - 0.5
        });
        let y = x.map_axis(ndarray::Axis(1), |r| {
            if (r[0] > 0.0) != (r[1] > 0.0) {
                1.0
            } else {
                0.0
            }
        });
        let p = ForestParams {
            n_trees: 50,
            max_features: Some(3),
            ..ForestParams::default()
        };
        let f = Forest::fit(x.view(), y.view(), &p, 0).unwrap();
        let test = ndarray::array![
            [0.3, 0.3, 0.0],
            [0.3, -0.3, 0.1],
            [-0.3, 0.3, -0.2],
            [-0.3, -0.3, 0.2]
        ];
        let pred = f.predict(test.view()).unwrap();
        assert!(
            pred[0] < 0.2 && pred[3] < 0.2 && pred[1] > 0.8 && pred[2] > 0.8,
            "{pred:?}"
        );
        // Out-of-bag predictions are close to the truth but not the in-sample fit.
        let oob = f.oob_predictions();
        let err = oob
            .iter()
            .zip(&y)
            .filter(|(o, _)| o.is_finite())
            .map(|(o, t)| (o - t).abs())
            .sum::<f64>()
            / n as f64;
        assert!(err > 0.0 && err < 0.2, "{err}");
        assert!(f.predict(Array2::<f64>::zeros((1, 2)).view()).is_err());
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = Array2::<f64>::zeros((1, 2));
        let y = ndarray::Array1::<f64>::zeros(1);
        assert!(feature_importances(x.view(), y.view(), &ForestParams::default(), 0).is_err());
        let x = Array2::<f64>::from_elem((3, 2), f64::NAN);
        let y = ndarray::Array1::<f64>::zeros(3);
        assert!(feature_importances(x.view(), y.view(), &ForestParams::default(), 0).is_err());
    }
}
