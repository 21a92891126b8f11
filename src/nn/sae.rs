//! A sparse autoencoder (a learned, overcomplete sparse dictionary) over captured activations.
//!
//! ```text
//! x̃ = s · x                                  (s: one input scale, so that the mean per-dimension variance is 1)
//! f = ReLU(W_e (x̃ − b_d) + b_e)              [n, K]   codes, K dictionary features
//! x̂ = W_dᵀ f + b_d                           [n, d]   reconstruction (rows of W_d have unit norm)
//! L = mean_i ‖x̃_i − x̂_i‖² / d + λ · mean_i Σ_k f_ik
//! ```
//!
//! **Why.** A network can store more features than it has units by giving each feature a
//! direction and relying on sparsity (superposition, Elhage et al. 2022), so a single unit often
//! mixes several features. An L1-penalised ReLU autoencoder with more features than dimensions
//! separates them again (Bricken et al. 2023, "Towards Monosemanticity"; the architecture and
//! the subtraction of the decoder bias before encoding are theirs). The decoder rows are kept
//! at unit norm after every step, so the penalty cannot be dodged by shrinking codes while
//! growing the decoder.
//!
//! The optimizer is Adam on the four tensors, written out here (as the crate's transformer
//! optimizer is) so every step is deterministic; initialisation comes from the crate's seeded
//! streams (candle's CPU generator cannot be seeded): decoder rows are random unit vectors,
//! the encoder starts as the decoder's transpose, the decoder bias as the data mean. Training
//! batches are drawn from a seeded permutation per epoch.
//!
//! Weights are saved as safetensors (`encoder.weight` `[K, d]`, `encoder.bias` `[K]`,
//! `decoder.weight` `[K, d]`, `decoder.bias` `[d]`), written atomically, with the parameters,
//! the input scale and the fit metrics as JSON metadata.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor, Var};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::store::{self, HostTensor};
use crate::error::{Error, Result};
use crate::rng::stream;

const DOMAIN_SAE_INIT: u64 = 0x7361_6569_6e69_7441;
const DOMAIN_SAE_BATCH: u64 = 0x7361_6562_6174_6342;
/// File format tag in the safetensors metadata.
const FORMAT: &str = "cellsindy-sae";

/// Hyper-parameters of a [`SparseAutoencoder`] (unchecked; [`SaeParams::check`] validates).
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `n_features` | 256 | dictionary size `K` | `≥ 1` |
/// | `l1` | 0.01 | L1 weight `λ` on the codes (inputs are scaled to unit mean variance) | `≥ 0` |
/// | `lr` | 1e-3 | Adam learning rate | `> 0` |
/// | `steps` | 3000 | optimizer steps | `≥ 1` |
/// | `batch_size` | 256 | rows per step (capped at the number of rows) | `≥ 1` |
/// | `beta1`, `beta2`, `eps` | 0.9, 0.999, 1e-8 | Adam | `[0, 1)`, `[0, 1)`, `> 0` |
/// | `seed` | 0 | initialisation and batches | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaeParams {
    /// Dictionary size.
    pub n_features: usize,
    /// L1 weight.
    pub l1: f64,
    /// Learning rate.
    pub lr: f64,
    /// Optimizer steps.
    pub steps: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Adam ε.
    pub eps: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for SaeParams {
    fn default() -> Self {
        Self {
            n_features: 256,
            l1: 0.01,
            lr: 1e-3,
            steps: 3000,
            batch_size: 256,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            seed: 0,
        }
    }
}

/// Validated [`SaeParams`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaeValidParams(SaeParams);

impl SaeValidParams {
    /// The parameters.
    pub fn get(&self) -> &SaeParams {
        &self.0
    }

    /// Trains on `x` (see [`SaeParams::fit`]).
    ///
    /// # Errors
    /// As [`SaeParams::fit`].
    pub fn fit(&self, x: ArrayView2<'_, f32>, device: &Device) -> Result<SparseAutoencoder> {
        train(&self.0, x, device)
    }
}

impl SaeParams {
    /// Sets the dictionary size.
    #[must_use]
    pub fn n_features(mut self, v: usize) -> Self {
        self.n_features = v;
        self
    }

    /// Sets the L1 weight.
    #[must_use]
    pub fn l1(mut self, v: f64) -> Self {
        self.l1 = v;
        self
    }

    /// Sets the learning rate.
    #[must_use]
    pub fn lr(mut self, v: f64) -> Self {
        self.lr = v;
        self
    }

    /// Sets the number of steps.
    #[must_use]
    pub fn steps(mut self, v: usize) -> Self {
        self.steps = v;
        self
    }

    /// Sets the batch size.
    #[must_use]
    pub fn batch_size(mut self, v: usize) -> Self {
        self.batch_size = v;
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }

    /// Validates.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad field.
    pub fn check(self) -> Result<SaeValidParams> {
        if self.n_features == 0 {
            return Err(Error::param("n_features", 0, "must be at least 1"));
        }
        if !(self.l1 >= 0.0 && self.l1.is_finite()) {
            return Err(Error::param("l1", self.l1, "must be finite and >= 0"));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::param("lr", self.lr, "must be finite and > 0"));
        }
        if self.steps == 0 {
            return Err(Error::param("steps", 0, "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", 0, "must be at least 1"));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::param(name, b, "must be in [0, 1)"));
            }
        }
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(Error::param("eps", self.eps, "must be finite and > 0"));
        }
        Ok(SaeValidParams(self))
    }

    /// Validates, then trains on the rows of `x` on `device`.
    ///
    /// # Shapes
    /// `x`: `(n_samples, d)`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for bad parameters, [`Error::Empty`] for fewer than two rows or
    /// zero columns, [`Error::NonFinite`] for NaN/∞ input or a diverging loss, tensor errors.
    pub fn fit(self, x: ArrayView2<'_, f32>, device: &Device) -> Result<SparseAutoencoder> {
        self.check()?.fit(x, device)
    }
}

/// How well a dictionary fits its training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaeMetrics {
    /// Fraction of the (scaled, centred) variance the reconstruction leaves unexplained.
    pub fvu: f64,
    /// Mean number of active features per row (L0).
    pub mean_l0: f64,
    /// Features never active on the training rows.
    pub n_dead: usize,
    /// Per feature: fraction of rows where it is active.
    pub frequency: Vec<f64>,
    /// Final training loss (last step's batch).
    pub final_loss: f64,
    /// Loss every `steps / 20` steps.
    pub loss_curve: Vec<(usize, f64)>,
}

/// A trained sparse autoencoder (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseAutoencoder {
    /// `[K, d]` encoder.
    pub encoder: Array2<f32>,
    /// `[K]` encoder bias.
    pub encoder_bias: Array1<f32>,
    /// `[K, d]` decoder: row `k` is feature `k`'s direction (unit norm), in scaled units.
    pub decoder: Array2<f32>,
    /// `[d]` decoder bias (scaled units).
    pub decoder_bias: Array1<f32>,
    /// Input scale `s` (`x̃ = s·x`).
    pub scale: f32,
    /// The parameters it was trained with.
    pub params: SaeParams,
    /// Fit quality on the training rows.
    pub metrics: SaeMetrics,
}

impl SparseAutoencoder {
    /// Starts a builder with default parameters ([`SaeParams::default`]).
    pub fn params() -> SaeParams {
        SaeParams::default()
    }

    /// Input dimension `d`.
    pub fn d_input(&self) -> usize {
        self.encoder.ncols()
    }

    /// Dictionary size `K`.
    pub fn n_features(&self) -> usize {
        self.encoder.nrows()
    }

    /// Codes of the rows of `x` (in the input's own units; scaling is applied here).
    ///
    /// # Shapes
    /// `x`: `(n_samples, d)` → `(n_samples, K)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `x` has the wrong width.
    pub fn encode(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if x.ncols() != self.d_input() {
            return Err(Error::shape(
                "SparseAutoencoder::encode",
                format!("{} columns", self.d_input()),
                format!("{}", x.ncols()),
            ));
        }
        let xc = (&x * self.scale) - self.decoder_bias.view().insert_axis(Axis(0));
        let mut f = xc.dot(&self.encoder.t()) + self.encoder_bias.view().insert_axis(Axis(0));
        f.mapv_inplace(|v| v.max(0.0));
        Ok(f)
    }

    /// Reconstructions of codes `f`, in the input's own units.
    ///
    /// # Shapes
    /// `f`: `(n_samples, K)` → `(n_samples, d)`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `f` has the wrong width.
    pub fn decode(&self, f: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if f.ncols() != self.n_features() {
            return Err(Error::shape(
                "SparseAutoencoder::decode",
                format!("{} columns", self.n_features()),
                format!("{}", f.ncols()),
            ));
        }
        let x = f.dot(&self.decoder) + self.decoder_bias.view().insert_axis(Axis(0));
        Ok(x / self.scale)
    }

    /// Writes the weights (safetensors, atomically) with the parameters, scale and metrics as
    /// metadata.
    ///
    /// # Errors
    /// I/O and JSON errors.
    pub fn save(&self, path: &Path) -> Result<()> {
        let h2 = |a: &Array2<f32>| HostTensor::f32(a.shape().to_vec(), a.iter().copied().collect());
        let h1 = |a: &Array1<f32>| HostTensor::f32(vec![a.len()], a.to_vec());
        let t = BTreeMap::from([
            ("encoder.weight".to_string(), h2(&self.encoder)),
            ("encoder.bias".to_string(), h1(&self.encoder_bias)),
            ("decoder.weight".to_string(), h2(&self.decoder)),
            ("decoder.bias".to_string(), h1(&self.decoder_bias)),
        ]);
        let meta = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("version".to_string(), "1".to_string()),
            ("scale".to_string(), serde_json::to_string(&self.scale)?),
            ("params".to_string(), serde_json::to_string(&self.params)?),
            ("metrics".to_string(), serde_json::to_string(&self.metrics)?),
        ]);
        store::write(path, &t, meta)
    }

    /// Reads a file written by [`SparseAutoencoder::save`].
    ///
    /// # Errors
    /// [`Error::Io`], or [`Error::Format`] for a file that is not one (wrong tag or version,
    /// missing or mis-shaped tensors).
    pub fn load(path: &Path) -> Result<Self> {
        let (mut t, meta) = store::read(path)?;
        let get_meta = |k: &str| {
            meta.get(k)
                .ok_or_else(|| Error::format(path, format!("missing metadata `{k}`")))
        };
        if get_meta("format")? != FORMAT || get_meta("version")? != "1" {
            return Err(Error::format(
                path,
                "not a cellsindy sparse autoencoder (v1)",
            ));
        }
        let json_err = |k: &str, e: serde_json::Error| Error::format(path, format!("`{k}`: {e}"));
        let scale: f32 =
            serde_json::from_str(get_meta("scale")?).map_err(|e| json_err("scale", e))?;
        let params: SaeParams =
            serde_json::from_str(get_meta("params")?).map_err(|e| json_err("params", e))?;
        let metrics: SaeMetrics =
            serde_json::from_str(get_meta("metrics")?).map_err(|e| json_err("metrics", e))?;
        let mut take = |k: &str| -> Result<(Vec<usize>, Vec<f32>)> {
            let h = t
                .remove(k)
                .ok_or_else(|| Error::format(path, format!("missing tensor `{k}`")))?;
            let v = h
                .as_f32()
                .map_err(|_| Error::format(path, format!("`{k}` is not f32")))?
                .to_vec();
            Ok((h.shape, v))
        };
        let a2 = |(s, v): (Vec<usize>, Vec<f32>), k: &str| -> Result<Array2<f32>> {
            match s.as_slice() {
                [a, b] => Array2::from_shape_vec((*a, *b), v)
                    .map_err(|e| Error::format(path, format!("`{k}`: {e}"))),
                _ => Err(Error::format(path, format!("`{k}` is not 2-d"))),
            }
        };
        let encoder = a2(take("encoder.weight")?, "encoder.weight")?;
        let decoder = a2(take("decoder.weight")?, "decoder.weight")?;
        let encoder_bias = Array1::from(take("encoder.bias")?.1);
        let decoder_bias = Array1::from(take("decoder.bias")?.1);
        let (k, d) = encoder.dim();
        if decoder.dim() != (k, d) || encoder_bias.len() != k || decoder_bias.len() != d {
            return Err(Error::format(
                path,
                format!(
                    "inconsistent shapes: encoder {:?}, decoder {:?}, biases {} and {}",
                    encoder.dim(),
                    decoder.dim(),
                    encoder_bias.len(),
                    decoder_bias.len()
                ),
            ));
        }
        Ok(Self {
            encoder,
            encoder_bias,
            decoder,
            decoder_bias,
            scale,
            params,
            metrics,
        })
    }
}

/// Adam state of one parameter.
struct Moments {
    m: Tensor,
    v: Tensor,
}

fn train(p: &SaeParams, x: ArrayView2<'_, f32>, device: &Device) -> Result<SparseAutoencoder> {
    let (n, d) = x.dim();
    if n < 2 || d == 0 {
        return Err(Error::Empty {
            what: "activations for the sparse autoencoder",
            why: format!("{n} rows × {d} columns; need at least 2 rows and 1 column"),
        });
    }
    if let Some((i, v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "activations for the sparse autoencoder",
            row: i / d,
            col: i % d,
            value: f64::from(*v),
        });
    }
    let k = p.n_features;
    // Scale so that the mean per-dimension variance is 1: one λ suits any layer.
    let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
    let var: f64 = x
        .rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .zip(&mean)
                .map(|(a, m)| f64::from(a - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / (n * d) as f64;
    let scale = if var > 0.0 {
        (1.0 / var.sqrt()) as f32
    } else {
        1.0
    };
    let xs = x.mapv(|v| v * scale);
    let data = Tensor::from_vec(xs.iter().copied().collect::<Vec<f32>>(), (n, d), device)?;

    // Seeded initialisation.
    let mut rng = stream(p.seed, DOMAIN_SAE_INIT, 0);
    let mut dec = Array2::<f32>::zeros((k, d));
    for mut row in dec.rows_mut() {
        for v in row.iter_mut() {
            *v = StandardNormal.sample(&mut rng);
        }
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        row.mapv_inplace(|v| v / norm);
    }
    let to_var = |a: Vec<f32>, shape: &[usize]| -> Result<Var> {
        Ok(Var::from_tensor(&Tensor::from_vec(a, shape, device)?)?)
    };
    let w_dec = to_var(dec.iter().copied().collect(), &[k, d])?;
    let w_enc = to_var(dec.iter().copied().collect(), &[k, d])?;
    let b_enc = to_var(vec![0.0; k], &[k])?;
    let b_dec = to_var(mean.iter().map(|m| m * scale).collect(), &[d])?;
    let vars = [&w_enc, &b_enc, &w_dec, &b_dec];
    let mut moments = vars
        .iter()
        .map(|v| {
            Ok(Moments {
                m: v.zeros_like()?,
                v: v.zeros_like()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let bs = p.batch_size.min(n);
    let mut batches = super::data::EpochBatches::new(n, p.seed, DOMAIN_SAE_BATCH);
    let log_every = (p.steps / 20).max(1);
    let mut loss_curve = Vec::new();
    let mut final_loss = f64::NAN;
    for step in 0..p.steps {
        let idx = Tensor::from_vec(batches.next_batch(bs).to_vec(), bs, device)?;
        let xb = data.index_select(&idx, 0)?;
        let (loss, _, _) = sae_loss(&xb, &w_enc, &b_enc, &w_dec, &b_dec, p.l1, d)?;
        let lv = f64::from(loss.to_scalar::<f32>()?);
        if !lv.is_finite() {
            return Err(Error::NonFinite {
                what: "sparse autoencoder loss",
                row: step,
                col: 0,
                value: lv,
            });
        }
        final_loss = lv;
        if step % log_every == 0 || step + 1 == p.steps {
            loss_curve.push((step, lv));
        }
        let grads = loss.backward()?;
        let t = (step + 1) as i32;
        let bc1 = 1.0 - p.beta1.powi(t);
        let bc2 = 1.0 - p.beta2.powi(t);
        for (var, mo) in vars.iter().zip(moments.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Detached: a gradient carries the graph it was computed from (it depends on the
            // weights), and the moments keep it, so without this every step's graph stayed
            // reachable from the moments and memory grew by a step's graph per step.
            let g = g.detach();
            mo.m = ((&mo.m * p.beta1)? + (&g * (1.0 - p.beta1))?)?;
            mo.v = ((&mo.v * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
            let denom = ((&mo.v / bc2)?.sqrt()? + p.eps)?;
            let update = ((&mo.m / bc1)? / denom)?;
            var.set(&(var.as_tensor() - (update * p.lr)?)?)?;
        }
        // Unit-norm decoder rows.
        let w = w_dec.as_tensor();
        let norms = w.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12)?;
        w_dec.set(&w.broadcast_div(&norms)?)?;
    }

    let host2 = |v: &Var| -> Result<Array2<f32>> {
        let t = v.as_tensor();
        let (a, b) = t.dims2()?;
        Array2::from_shape_vec((a, b), t.flatten_all()?.to_vec1::<f32>()?)
            .map_err(|e| Error::Tensor(e.to_string()))
    };
    let host1 =
        |v: &Var| -> Result<Array1<f32>> { Ok(Array1::from(v.as_tensor().to_vec1::<f32>()?)) };
    let mut sae = SparseAutoencoder {
        encoder: host2(&w_enc)?,
        encoder_bias: host1(&b_enc)?,
        decoder: host2(&w_dec)?,
        decoder_bias: host1(&b_dec)?,
        scale,
        params: p.clone(),
        metrics: SaeMetrics {
            fvu: f64::NAN,
            mean_l0: 0.0,
            n_dead: 0,
            frequency: Vec::new(),
            final_loss,
            loss_curve,
        },
    };
    // Metrics on all training rows.
    let f = sae.encode(x)?;
    let xr = sae.decode(f.view())?;
    let mut sse = 0f64;
    let mut sst = 0f64;
    for ((a, b), j) in x.iter().zip(xr.iter()).zip((0..d).cycle()) {
        sse += f64::from((a - b) * scale).powi(2);
        sst += f64::from((a - mean[j]) * scale).powi(2);
    }
    let active = f.mapv(|v| if v > 0.0 { 1.0f64 } else { 0.0 });
    let frequency: Vec<f64> = active
        .mean_axis(Axis(0))
        .map_or(vec![0.0; k], |a| a.to_vec());
    sae.metrics.fvu = if sst > 0.0 { sse / sst } else { 0.0 };
    sae.metrics.mean_l0 = active.sum() / n as f64;
    sae.metrics.n_dead = frequency.iter().filter(|&&q| q == 0.0).count();
    sae.metrics.frequency = frequency;
    Ok(sae)
}

/// Loss, codes and reconstruction of a batch `x` `[B, d]` (scaled units).
fn sae_loss(
    x: &Tensor,
    w_enc: &Var,
    b_enc: &Var,
    w_dec: &Var,
    b_dec: &Var,
    l1: f64,
    d: usize,
) -> Result<(Tensor, Tensor, Tensor)> {
    let xc = x.broadcast_sub(b_dec.as_tensor())?;
    let f = xc
        .matmul(&w_enc.as_tensor().t()?)?
        .broadcast_add(b_enc.as_tensor())?
        .relu()?;
    let xr = f
        .matmul(w_dec.as_tensor())?
        .broadcast_add(b_dec.as_tensor())?;
    let mse = ((&xr - x)?.sqr()?.sum(1)?.mean(0)? / d as f64)?;
    let sparsity = (f.sum(1)?.mean(0)? * l1)?;
    Ok(((mse + sparsity)?, f, xr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_validated() {
        assert!(SaeParams::default().n_features(0).check().is_err());
        assert!(SaeParams::default().l1(-1.0).check().is_err());
        assert!(SaeParams::default().lr(0.0).check().is_err());
        assert!(SaeParams::default().steps(0).check().is_err());
        assert!(SaeParams::default().check().is_ok());
    }
}
