//! Random-forest imputation: one regression forest ([`crate::forest::Forest`]) per masked gene
//! on the visible genes, the per-target non-parametric learner of missForest (Stekhoven &
//! Bühlmann 2012) and of GENIE3. Trees find interactions a linear map cannot, but only among
//! the features a split draws, so they are a baseline that *could* win on a gate, not one
//! that must.

use ndarray::{Array2, ArrayView2, Axis};

use crate::error::{Error, Result};
use crate::forest::{Forest, ForestParams};

/// One forest per masked feature.
#[derive(Debug, Clone)]
pub struct ForestImputer {
    n_features: usize,
    visible: Vec<usize>,
    forests: Vec<Forest>,
}

impl ForestImputer {
    /// Fits one forest per masked feature on the visible columns of `x`'s rows (forest `t`
    /// uses random stream `t`).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for masked indices out of range, repeated, empty or covering
    /// every feature; [`Forest::fit`]'s errors.
    pub fn fit(x: ArrayView2<'_, f64>, masked: &[usize], p: &ForestParams) -> Result<Self> {
        let d = x.ncols();
        let visible = super::visible_features(masked, d)?;
        let xo = x.select(Axis(1), &visible);
        let forests = masked
            .iter()
            .enumerate()
            .map(|(t, &m)| Forest::fit(xo.view(), x.column(m), p, t as u64))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            n_features: d,
            visible,
            forests,
        })
    }

    /// Predicted masked features of every row of `x` (its masked columns are ignored).
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)` → `(n_samples, masked.len())`.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of features, [`Error::NonFinite`].
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        super::check_features("ForestImputer::predict", x, self.n_features)?;
        let xo = x.select(Axis(1), &self.visible);
        let mut out = Array2::zeros((x.nrows(), self.forests.len()));
        for (t, f) in self.forests.iter().enumerate() {
            let p = f.predict(xo.view())?;
            out.column_mut(t).assign(&ndarray::Array1::from(p));
        }
        Ok(out)
    }

    /// Out-of-bag predictions of the training rows (a row no tree left out gets its in-sample
    /// prediction): an honest in-sample imputation to calibrate a threshold on.
    ///
    /// # Errors
    /// [`Error::Shape`] if `x` is not the training matrix's shape.
    pub fn predict_training(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let mut out = self.predict(x)?;
        for (t, f) in self.forests.iter().enumerate() {
            let oob = f.oob_predictions();
            if oob.len() != x.nrows() {
                return Err(Error::shape(
                    "ForestImputer::predict_training",
                    format!("the {} training rows", oob.len()),
                    format!("{} rows", x.nrows()),
                ));
            }
            for (o, &v) in out.column_mut(t).iter_mut().zip(oob) {
                if v.is_finite() {
                    *o = v;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forest_imputes_a_gate_a_line_cannot() {
        let n = 300;
        let (x, q) = super::super::gate_data(n);
        let p = ForestParams {
            n_trees: 40,
            max_features: Some(2),
            ..ForestParams::default()
        };
        let f = ForestImputer::fit(x.view(), &[2], &p).unwrap();
        let pred = f.predict(q.view()).unwrap();
        assert!(pred[[0, 0]] < 0.5 && pred[[3, 0]] < 0.5, "{pred}");
        assert!(pred[[1, 0]] > 2.5 && pred[[2, 0]] > 2.5, "{pred}");
        let lin = super::super::LinearImputer::fit(x.view(), &[2])
            .unwrap()
            .predict(q.view())
            .unwrap();
        assert!((lin[[1, 0]] - lin[[0, 0]]).abs() < 0.5, "{lin}");
        let oob = f.predict_training(x.view()).unwrap();
        assert_eq!(oob.dim(), (n, 1));
        assert!(f.predict_training(q.view()).is_err());
    }
}
