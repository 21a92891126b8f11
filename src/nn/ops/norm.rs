//! Layer norm: the fused forward pass and its backward pass.

use super::*;

pub(super) struct LayerNorm {
    pub(super) eps: f32,
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "cellsindy-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "layer_norm x")?;
        let g = f32_slice(s2, l2, "layer_norm gamma")?;
        let b = f32_slice(s3, l3, "layer_norm beta")?;
        let d = last_dim(l1);
        if g.len() != d || b.len() != d {
            candle_core::bail!(
                "layer_norm: gamma/beta have {} / {} values, x rows {d}",
                g.len(),
                b.len()
            )
        }
        let mut out = vec![0f32; x.len()];
        let eps = self.eps;
        out.par_chunks_mut(d * ROWS_PER_TASK)
            .zip(x.par_chunks(d * ROWS_PER_TASK))
            .for_each(|(o, x)| {
                for (o, x) in o.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                    let (mean, rstd) = moments(x, eps);
                    for i in 0..d {
                        o[i] = (x[i] - mean) * rstd * g[i] + b[i];
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = gamma.dim(0)?;
        let n = x.elem_count() / d;
        let packed = x.contiguous()?.apply_op3_no_bwd(
            &gamma.contiguous()?,
            &grad.contiguous()?,
            &LayerNormBackward { eps: self.eps },
        )?;
        let dx = packed.narrow(0, 0, n)?.reshape(x.shape())?;
        let dgamma = packed.narrow(0, n, 1)?.reshape(d)?;
        let dbeta = packed.narrow(0, n + 1, 1)?.reshape(d)?;
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

/// Mean and 1/std of a row.
#[inline]
pub(super) fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let d = x.len() as f32;
    let mean = x.iter().sum::<f32>() / d;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d;
    (mean, 1.0 / (var + eps).sqrt())
}

/// Backward of [`LayerNorm`]: output `[n + 2, d]` = dx rows, then dgamma, then dbeta.
pub(super) struct LayerNormBackward {
    pub(super) eps: f32,
}

impl CustomOp3 for LayerNormBackward {
    fn name(&self) -> &'static str {
        "cellsindy-layer-norm-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "layer_norm_bwd x")?;
        let g = f32_slice(s2, l2, "layer_norm_bwd gamma")?;
        let dy = f32_slice(s3, l3, "layer_norm_bwd grad")?;
        let d = g.len();
        let n = x.len() / d;
        let mut out = vec![0f32; (n + 2) * d];
        let (dx, dparams) = out.split_at_mut(n * d);
        let eps = self.eps;
        // Per task: dx rows, plus partial dgamma/dbeta sums (reduced below in a fixed order so
        // the result does not depend on scheduling).
        let partials: Vec<Vec<f32>> = dx
            .par_chunks_mut(d * ROWS_PER_TASK)
            .zip(
                x.par_chunks(d * ROWS_PER_TASK)
                    .zip(dy.par_chunks(d * ROWS_PER_TASK)),
            )
            .map(|(dx, (x, dy))| {
                let mut acc = vec![0f32; 2 * d];
                let mut xhat = vec![0f32; d];
                let mut gdy = vec![0f32; d];
                for (dx, (x, dy)) in dx
                    .chunks_exact_mut(d)
                    .zip(x.chunks_exact(d).zip(dy.chunks_exact(d)))
                {
                    let (mean, rstd) = moments(x, eps);
                    let mut sum_gdy = 0f32;
                    let mut sum_gdy_xhat = 0f32;
                    for i in 0..d {
                        xhat[i] = (x[i] - mean) * rstd;
                        gdy[i] = g[i] * dy[i];
                        sum_gdy += gdy[i];
                        sum_gdy_xhat += gdy[i] * xhat[i];
                        acc[i] += dy[i] * xhat[i];
                        acc[d + i] += dy[i];
                    }
                    let inv_d = 1.0 / d as f32;
                    for i in 0..d {
                        dx[i] = rstd * (gdy[i] - inv_d * sum_gdy - xhat[i] * inv_d * sum_gdy_xhat);
                    }
                }
                acc
            })
            .collect();
        for p in &partials {
            for (o, v) in dparams.iter_mut().zip(p) {
                *o += v;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from_dims(&[n + 2, d])))
    }
}
