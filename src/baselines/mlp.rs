//! A small multilayer perceptron in candle that imputes the masked genes from the visible
//! ones: standardised inputs → `hidden` ReLU units × `layers` → the standardised masked genes,
//! trained by Adam on the mean squared error. A universal approximator with no attention, no
//! tokens and no masking schedule: if it matches the transformer on a probe, the probe does
//! not show anything the transformer's architecture adds.
//!
//! Adam is written out (as in [`crate::nn::sae`]) and the weights come from the crate's seeded
//! streams, because candle's CPU generator cannot be seeded; batches follow a seeded
//! permutation per epoch, so a fit depends only on its seed.

use candle_core::{Device, Tensor, Var};
use ndarray::{Array2, ArrayView2, Axis};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{check_finite, Error, Result};
use crate::rng::stream;

const DOMAIN_MLP_INIT: u64 = 0x6d6c_705f_696e_6974;
const DOMAIN_MLP_BATCH: u64 = 0x6d6c_705f_6261_7463;

/// Parameters of [`MlpImputer`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `hidden` | 128 | units per hidden layer | ≥ 1 |
/// | `layers` | 2 | hidden layers | ≥ 1 |
/// | `steps` | 1500 | Adam steps | ≥ 1 |
/// | `batch_size` | 256 | rows per step (capped at the rows) | ≥ 1 |
/// | `lr` | 1e-3 | Adam learning rate | > 0 |
/// | `weight_decay` | 1e-4 | decoupled weight decay (AdamW) | ≥ 0 |
/// | `seed` | 0 | initialisation and batches | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpParams {
    /// Units per hidden layer.
    pub hidden: usize,
    /// Hidden layers.
    pub layers: usize,
    /// Optimizer steps.
    pub steps: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        Self {
            hidden: 128,
            layers: 2,
            steps: 1500,
            batch_size: 256,
            lr: 1e-3,
            weight_decay: 1e-4,
            seed: 0,
        }
    }
}

impl MlpParams {
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("hidden", self.hidden),
            ("layers", self.layers),
            ("steps", self.steps),
            ("batch_size", self.batch_size),
        ] {
            if v == 0 {
                return Err(Error::param(name, 0, "must be at least 1"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::param("lr", self.lr, "must be finite and > 0"));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::param(
                "weight_decay",
                self.weight_decay,
                "must be finite and >= 0",
            ));
        }
        Ok(())
    }
}

/// A fitted MLP imputer (weights on the host device, CPU).
#[derive(Debug, Clone)]
pub struct MlpImputer {
    n_features: usize,
    visible: Vec<usize>,
    in_center: Vec<f32>,
    in_scale: Vec<f32>,
    out_center: Vec<f32>,
    out_scale: Vec<f32>,
    /// `(weight [out, in], bias [out])` per layer, the last one linear.
    weights: Vec<(Tensor, Tensor)>,
    /// Training loss (standardised MSE) at the last step.
    pub final_loss: f64,
}

fn moments(x: &Array2<f32>) -> (Vec<f32>, Vec<f32>) {
    let n = x.nrows().max(1) as f64;
    x.columns()
        .into_iter()
        .map(|c| {
            let m = c.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let sd = (c.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n).sqrt();
            (m as f32, if sd > 1e-8 { sd as f32 } else { 1.0 })
        })
        .unzip()
}

fn to_tensor(x: &Array2<f32>, center: &[f32], scale: &[f32]) -> Result<Tensor> {
    let (n, d) = x.dim();
    let mut v = Vec::with_capacity(n * d);
    for r in x.rows() {
        v.extend(
            r.iter()
                .zip(center.iter().zip(scale))
                .map(|(a, (m, s))| (a - m) / s),
        );
    }
    Ok(Tensor::from_vec(v, (n, d), &Device::Cpu)?)
}

fn forward(x: &Tensor, weights: &[(Tensor, Tensor)]) -> Result<Tensor> {
    let mut h = x.clone();
    for (k, (w, b)) in weights.iter().enumerate() {
        h = h.matmul(&w.t()?)?.broadcast_add(b)?;
        if k + 1 < weights.len() {
            h = h.relu()?;
        }
    }
    Ok(h)
}

impl MlpImputer {
    /// Fits on the rows of `x` (training cells), predicting the columns `masked` from the rest.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for bad parameters or masked indices; [`Error::TooFewSamples`]
    /// under 2 rows; [`Error::NonFinite`] for NaN/∞ input or a diverging loss; candle errors.
    pub fn fit(x: ArrayView2<'_, f64>, masked: &[usize], p: &MlpParams) -> Result<Self> {
        p.validate()?;
        let (n, d) = x.dim();
        let visible = super::visible_features(masked, d)?;
        if n < 2 {
            return Err(Error::TooFewSamples {
                op: "MLP imputation".into(),
                needed: 2,
                got: n,
            });
        }
        check_finite("MLP input", x)?;
        let xo = x.select(Axis(1), &visible).mapv(|v| v as f32);
        let y = x.select(Axis(1), masked).mapv(|v| v as f32);
        let (in_center, in_scale) = moments(&xo);
        let (out_center, out_scale) = moments(&y);
        let xt = to_tensor(&xo, &in_center, &in_scale)?;
        let yt = to_tensor(&y, &out_center, &out_scale)?;

        // He-normal weights from the seeded stream, zero biases.
        let mut dims = vec![visible.len()];
        dims.extend(std::iter::repeat_n(p.hidden, p.layers));
        dims.push(masked.len());
        let mut rng = stream(p.seed, DOMAIN_MLP_INIT, 0);
        let mut vars = Vec::new();
        for w in dims.windows(2) {
            let (fan_in, fan_out) = (w[0], w[1]);
            let sd = (2.0 / fan_in as f64).sqrt() as f32;
            let wv: Vec<f32> = (0..fan_in * fan_out)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    sd * z as f32
                })
                .collect();
            vars.push(Var::from_tensor(&Tensor::from_vec(
                wv,
                (fan_out, fan_in),
                &Device::Cpu,
            )?)?);
            vars.push(Var::from_tensor(&Tensor::zeros(
                fan_out,
                candle_core::DType::F32,
                &Device::Cpu,
            )?)?);
        }
        let mut m1: Vec<Tensor> = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<candle_core::Result<_>>()?;
        let mut m2 = m1.clone();
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        let bs = p.batch_size.min(n);
        let mut batches = crate::nn::data::EpochBatches::new(n, p.seed, DOMAIN_MLP_BATCH);
        let mut final_loss = f64::NAN;
        for step in 0..p.steps {
            let idx = Tensor::from_vec(batches.next_batch(bs).to_vec(), bs, &Device::Cpu)?;
            let weights: Vec<(Tensor, Tensor)> = vars
                .chunks(2)
                .map(|c| (c[0].as_tensor().clone(), c[1].as_tensor().clone()))
                .collect();
            let pred = forward(&xt.index_select(&idx, 0)?, &weights)?;
            let loss = (pred - yt.index_select(&idx, 0)?)?.sqr()?.mean_all()?;
            final_loss = f64::from(loss.to_scalar::<f32>()?);
            if !final_loss.is_finite() {
                return Err(Error::NonFinite {
                    what: "MLP loss",
                    row: step,
                    col: 0,
                    value: final_loss,
                });
            }
            let grads = loss.backward()?;
            let t = (step + 1) as i32;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            for (k, var) in vars.iter().enumerate() {
                let Some(g) = grads.get(var.as_tensor()) else {
                    continue;
                };
                m1[k] = ((&m1[k] * b1)? + (g * (1.0 - b1))?)?;
                m2[k] = ((&m2[k] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                let update = ((&m1[k] / c1)? / ((&m2[k] / c2)?.sqrt()? + eps)?)?;
                let decayed = (var.as_tensor() * (1.0 - p.lr * p.weight_decay))?;
                var.set(&(decayed - (update * p.lr)?)?)?;
            }
        }
        let weights = vars
            .chunks(2)
            .map(|c| (c[0].as_tensor().detach(), c[1].as_tensor().detach()))
            .collect();
        Ok(Self {
            n_features: d,
            visible,
            in_center,
            in_scale,
            out_center,
            out_scale,
            weights,
            final_loss,
        })
    }

    /// Predicted masked features of every row of `x` (its masked columns are ignored).
    ///
    /// # Shapes
    /// `x`: `(n_samples, n_features)` → `(n_samples, masked.len())`.
    ///
    /// # Errors
    /// [`Error::Shape`] for the wrong number of features, [`Error::NonFinite`]; candle errors.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        super::check_features("MlpImputer::predict", x, self.n_features)?;
        check_finite("MLP input", x)?;
        let xo = x.select(Axis(1), &self.visible).mapv(|v| v as f32);
        let m = self.out_center.len();
        let mut out = Array2::zeros((x.nrows(), m));
        // Blocks of rows bound the hidden activations' memory.
        for (b, chunk) in xo.axis_chunks_iter(Axis(0), 4096).enumerate() {
            let t = to_tensor(&chunk.to_owned(), &self.in_center, &self.in_scale)?;
            let pred = forward(&t, &self.weights)?.to_vec2::<f32>()?;
            for (i, row) in pred.iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    out[[b * 4096 + i, j]] = f64::from(v * self.out_scale[j] + self.out_center[j]);
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
    fn an_mlp_learns_a_gate_a_line_cannot() {
        let n = 400;
        let (x, q) = super::super::gate_data(n);
        let p = MlpParams {
            hidden: 16,
            steps: 600,
            batch_size: 64,
            lr: 1e-2,
            ..MlpParams::default()
        };
        let m = MlpImputer::fit(x.view(), &[2], &p).unwrap();
        let pred = m.predict(q.view()).unwrap();
        assert!(pred[[0, 0]] < 1.0 && pred[[3, 0]] < 1.0, "{pred}");
        assert!(pred[[1, 0]] > 2.0 && pred[[2, 0]] > 2.0, "{pred}");
        let again = MlpImputer::fit(x.view(), &[2], &p)
            .unwrap()
            .predict(q.view())
            .unwrap();
        assert_eq!(pred, again);
        assert!(MlpImputer::fit(x.view(), &[2], &MlpParams { steps: 0, ..p }).is_err());
    }
}
