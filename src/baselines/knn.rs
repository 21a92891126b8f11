//! k-nearest-neighbour imputation in PCA space: a masked gene is the mean of its value in the
//! `k` training cells closest to the query cell in the principal components of the visible
//! genes (scanpy's neighbour graph is built the same way, on the top PCs of log values), or,
//! as a sampler, the values of one of those neighbours drawn at random, which keeps the masked
//! genes' joint structure within the neighbourhood.

use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Pca;
use crate::error::{check_finite, Error, Result};

const DOMAIN_KNN_DRAW: u64 = 0x6b6e_6e5f_6472_6177;

/// Parameters of [`KnnImputer`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `k` | 15 | neighbours (scanpy's `n_neighbors` default) | ≥ 1 |
/// | `n_components` | 20 | PCs of the visible genes the distance is measured in | ≥ 1 |
/// | `seed` | 0 | randomized SVD | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnnParams {
    /// Neighbours.
    pub k: usize,
    /// Principal components of the visible genes.
    pub n_components: usize,
    /// Seed of the PCA.
    pub seed: u64,
}

impl Default for KnnParams {
    fn default() -> Self {
        Self {
            k: 15,
            n_components: 20,
            seed: 0,
        }
    }
}

impl KnnParams {
    /// # Errors
    /// [`Error::InvalidParam`] for `k` or `n_components` of 0.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::param("k", 0, "must be at least 1"));
        }
        if self.n_components == 0 {
            return Err(Error::param("n_components", 0, "must be at least 1"));
        }
        Ok(())
    }
}

/// Masked features imputed from the nearest training rows in the PCA space of the visible
/// features.
#[derive(Debug, Clone)]
pub struct KnnImputer {
    n_features: usize,
    visible: Vec<usize>,
    pca: Pca,
    k: usize,
    /// Training rows' scores, `(n_train, n_components)`.
    scores: Array2<f64>,
    /// Training rows' masked values, `(n_train, masked.len())`.
    values: Array2<f64>,
}

impl KnnImputer {
    /// Fits on the rows of `x` (training cells; its masked columns are the values to impute).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for bad parameters or masked indices (out of range, repeated,
    /// empty, all features); [`Error::TooFewSamples`] under 2 rows; [`Error::NonFinite`]; PCA
    /// errors.
    pub fn fit(x: ArrayView2<'_, f64>, masked: &[usize], p: &KnnParams) -> Result<Self> {
        p.validate()?;
        let (n, d) = x.dim();
        let visible = super::visible_features(masked, d)?;
        if n < 2 {
            return Err(Error::TooFewSamples {
                op: "kNN imputation".into(),
                needed: 2,
                got: n,
            });
        }
        check_finite("kNN input", x)?;
        let xo = x.select(Axis(1), &visible);
        let k_pc = p.n_components.min(n).min(visible.len());
        let pca = Pca::params(k_pc).seed(p.seed).fit(xo.view())?;
        let scores = pca.transform(xo.view())?;
        Ok(Self {
            n_features: d,
            visible,
            pca,
            k: p.k.min(n - 1).max(1),
            scores,
            values: x.select(Axis(1), masked),
        })
    }

    fn query_scores(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        super::check_features("KnnImputer", x, self.n_features)?;
        self.pca.transform(x.select(Axis(1), &self.visible).view())
    }

    /// The `k` training rows nearest to `q` (squared Euclidean distance; ties by row index),
    /// leaving out row `exclude`.
    fn neighbours(&self, q: ndarray::ArrayView1<'_, f64>, exclude: Option<usize>) -> Vec<usize> {
        let mut d: Vec<(f64, usize)> = self
            .scores
            .rows()
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != exclude)
            .map(|(i, r)| (r.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(), i))
            .collect();
        let k = self.k.min(d.len());
        let cmp = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if k < d.len() {
            d.select_nth_unstable_by(k - 1, cmp);
            d.truncate(k);
        }
        d.sort_by(cmp);
        d.into_iter().map(|(_, i)| i).collect()
    }

    fn mean_of(&self, rows: &[usize]) -> Vec<f64> {
        let m = self.values.ncols();
        let mut out = vec![0.0; m];
        for &r in rows {
            for (o, v) in out.iter_mut().zip(self.values.row(r)) {
                *o += v;
            }
        }
        out.iter_mut().for_each(|o| *o /= rows.len().max(1) as f64);
        out
    }

    fn collect(&self, rows: Vec<Vec<f64>>) -> Result<Array2<f64>> {
        let m = self.values.ncols();
        Array2::from_shape_vec((rows.len(), m), rows.concat())
            .map_err(|e| Error::shape("KnnImputer", "rows × masked", e.to_string()))
    }

    /// The mean masked values of each row's `k` nearest training rows.
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)` → `(n_samples, masked.len())`.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of features, [`Error::NonFinite`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let q = self.query_scores(x)?;
        let rows: Vec<Vec<f64>> = (0..q.nrows())
            .into_par_iter()
            .map(|i| self.mean_of(&self.neighbours(q.row(i), None)))
            .collect();
        self.collect(rows)
    }

    /// Leave-one-out predictions of the training rows (each row's neighbours exclude itself):
    /// an honest in-sample imputation to calibrate a threshold on.
    ///
    /// # Errors
    /// Only on an internal shape mismatch.
    pub fn predict_training(&self) -> Result<Array2<f64>> {
        let rows: Vec<Vec<f64>> = (0..self.scores.nrows())
            .into_par_iter()
            .map(|i| self.mean_of(&self.neighbours(self.scores.row(i), Some(i))))
            .collect();
        self.collect(rows)
    }

    /// One draw per row: the masked values of one of its `k` nearest training rows, chosen
    /// uniformly (row `i` uses stream `i` of `seed`, so the draw does not depend on threads).
    ///
    /// # Errors
    /// As [`Self::predict`].
    pub fn sample(&self, x: ArrayView2<'_, f64>, seed: u64) -> Result<Array2<f64>> {
        let q = self.query_scores(x)?;
        let rows: Vec<Vec<f64>> = (0..q.nrows())
            .into_par_iter()
            .map(|i| {
                let nb = self.neighbours(q.row(i), None);
                let pick =
                    crate::rng::stream(seed, DOMAIN_KNN_DRAW, i as u64).random_range(0..nb.len());
                self.values.row(nb[pick]).to_vec()
            })
            .collect();
        self.collect(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_reads_a_masked_gene_from_its_neighbours() {
        // Two clusters; gene 2 is 1 in cluster A and 5 in cluster B.
        let x = Array2::from_shape_fn((40, 3), |(i, j)| {
            let b = i >= 20;
            match j {
                0 => (if b { 3.0 } else { 0.0 }) + (i % 5) as f64 * 0.01,
                1 => (if b { -2.0 } else { 1.0 }) + (i % 3) as f64 * 0.01,
                _ => {
                    if b {
                        5.0
                    } else {
                        1.0
                    }
                }
            }
        });
        let p = KnnParams {
            k: 5,
            n_components: 2,
            seed: 0,
        };
        let knn = KnnImputer::fit(x.view(), &[2], &p).unwrap();
        let q = ndarray::array![[0.0, 1.0, 99.0], [3.0, -2.0, -99.0]];
        let pred = knn.predict(q.view()).unwrap();
        assert!((pred[[0, 0]] - 1.0).abs() < 1e-12 && (pred[[1, 0]] - 5.0).abs() < 1e-12);
        let draw = knn.sample(q.view(), 3).unwrap();
        assert_eq!(draw, pred);
        let loo = knn.predict_training().unwrap();
        assert_eq!(loo.column(0), x.column(2));
        assert!(knn.predict(Array2::<f64>::zeros((1, 2)).view()).is_err());
        assert!(KnnImputer::fit(x.view(), &[0, 1, 2], &p).is_err());
        assert!(KnnImputer::fit(x.view(), &[2], &KnnParams { k: 0, ..p }).is_err());
    }
}
