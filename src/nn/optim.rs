//! AdamW with global-norm gradient clipping, and the warm-up + cosine learning-rate schedule.
//!
//! Written here rather than using `candle_nn::AdamW` because a resumable run must save and
//! restore the moment estimates, which candle's optimizer keeps private. The update is
//! PyTorch's `torch.optim.AdamW` (decoupled decay `θ ← θ − lr·wd·θ`, bias-corrected moments),
//! on host `f32` vectors in parameter-name order: a few MB per step, negligible next to the
//! forward and backward passes, and bit-reproducible.

use candle_core::backprop::GradStore;
use candle_core::Tensor;

use super::config::TrainConfig;
use super::init::Params;
use crate::error::{Error, Result};

/// Learning rate at `step` (0-based): linear warm-up to `lr` over `warmup_steps`, then cosine
/// decay to `min_lr_ratio · lr` at `steps`.
pub fn learning_rate(cfg: &TrainConfig, step: usize) -> f64 {
    let warm = cfg.warmup_steps.min(cfg.steps.saturating_sub(1));
    if step < warm {
        return cfg.lr * (step + 1) as f64 / warm as f64;
    }
    let span = (cfg.steps - warm).max(1) as f64;
    let progress = ((step - warm) as f64 / span).min(1.0);
    let min = cfg.lr * cfg.min_lr_ratio;
    min + (cfg.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// Moment estimates (one pair of vectors per parameter, in name order) and the step count.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamW {
    /// First moments.
    pub m: Vec<Vec<f32>>,
    /// Second moments.
    pub v: Vec<Vec<f32>>,
    /// Updates applied so far.
    pub t: u64,
}

/// What one optimizer step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate used.
    pub lr: f64,
}

impl AdamW {
    /// Zero moments for `params`.
    pub fn new(params: &Params) -> Self {
        let m: Vec<Vec<f32>> = params
            .iter()
            .map(|(_, v)| vec![0.0; v.elem_count()])
            .collect();
        Self {
            v: m.clone(),
            m,
            t: 0,
        }
    }

    /// One update of every parameter from `grads`, at learning rate `lr`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if the gradient norm is NaN or infinite (the step is skipped and
    /// the parameters are unchanged), [`Error::Tensor`] for device errors.
    pub fn step(
        &mut self,
        params: &Params,
        grads: &GradStore,
        cfg: &TrainConfig,
        lr: f64,
    ) -> Result<StepStats> {
        let mut gs: Vec<Option<Vec<f32>>> = Vec::with_capacity(self.m.len());
        let mut sq = 0f64;
        for (_, var) in params.iter() {
            match grads.get(var.as_tensor()) {
                Some(g) => {
                    let g = g.flatten_all()?.to_vec1::<f32>()?;
                    sq += g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>();
                    gs.push(Some(g));
                }
                None => gs.push(None),
            }
        }
        let grad_norm = sq.sqrt();
        if !grad_norm.is_finite() {
            return Err(Error::NonFinite {
                what: "gradient norm",
                row: self.t as usize,
                col: 0,
                value: grad_norm,
            });
        }
        let scale = if cfg.grad_clip > 0.0 && grad_norm > cfg.grad_clip {
            (cfg.grad_clip / grad_norm) as f32
        } else {
            1.0
        };
        self.t += 1;
        let (b1, b2) = (cfg.beta1 as f32, cfg.beta2 as f32);
        let bc1 = 1.0 - cfg.beta1.powi(self.t as i32);
        let bc2 = 1.0 - cfg.beta2.powi(self.t as i32);
        let step_size = (lr / bc1) as f32;
        let bc2_sqrt = bc2.sqrt() as f32;
        let eps = cfg.eps as f32;
        for (k, ((name, var), g)) in params.iter().zip(gs).enumerate() {
            let Some(g) = g else { continue };
            let mut theta = var.flatten_all()?.to_vec1::<f32>()?;
            let decay = if params.decays(name) {
                (1.0 - lr * cfg.weight_decay) as f32
            } else {
                1.0
            };
            let (m, v) = (&mut self.m[k], &mut self.v[k]);
            for i in 0..theta.len() {
                let gi = g[i] * scale;
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                theta[i] = theta[i] * decay - step_size * m[i] / (v[i].sqrt() / bc2_sqrt + eps);
            }
            var.set(&Tensor::from_vec(theta, var.shape(), var.device())?)?;
        }
        Ok(StepStats { grad_norm, lr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        let cfg = TrainConfig {
            steps: 110,
            warmup_steps: 10,
            lr: 1.0,
            min_lr_ratio: 0.1,
            ..TrainConfig::default()
        };
        assert!((learning_rate(&cfg, 0) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&cfg, 9) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 10) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&cfg, 60) - 0.55).abs() < 1e-12);
        assert!((learning_rate(&cfg, 110) - 0.1).abs() < 1e-12);
    }
}
