//! Softmax over the last axis (with an optional additive mask), forward and backward.

use super::*;

pub(super) struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "cellsindy-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "softmax")?;
        let d = last_dim(l);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d * ROWS_PER_TASK)
            .zip(x.par_chunks(d * ROWS_PER_TASK))
            .for_each(|(o, x)| {
                for (o, x) in o.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
                    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    if max == f32::NEG_INFINITY {
                        // A fully masked row: no attention anywhere (zeros, not NaN).
                        o.iter_mut().for_each(|v| *v = 0.0);
                        continue;
                    }
                    for (o, &x) in o.iter_mut().zip(x) {
                        *o = exp_f32(x - max);
                    }
                    let inv = 1.0 / sum_f32(o);
                    o.iter_mut().for_each(|v| *v *= inv);
                }
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(
            res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxBackward)?,
        ))
    }
}

/// `dx = y ⊙ (dy − Σ dy ⊙ y)` row by row.
pub(super) struct SoftmaxBackward;

impl CustomOp2 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "cellsindy-softmax-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = f32_slice(s1, l1, "softmax_bwd y")?;
        let dy = f32_slice(s2, l2, "softmax_bwd grad")?;
        let d = last_dim(l1);
        let mut out = vec![0f32; y.len()];
        out.par_chunks_mut(d * ROWS_PER_TASK)
            .zip(
                y.par_chunks(d * ROWS_PER_TASK)
                    .zip(dy.par_chunks(d * ROWS_PER_TASK)),
            )
            .for_each(|(o, (y, dy))| {
                for (o, (y, dy)) in o
                    .chunks_exact_mut(d)
                    .zip(y.chunks_exact(d).zip(dy.chunks_exact(d)))
                {
                    let dot: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
                    for i in 0..d {
                        o[i] = y[i] * (dy[i] - dot);
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}
