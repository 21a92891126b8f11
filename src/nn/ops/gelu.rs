//! GELU (the exact, erf form), forward and backward.

use super::*;

/// Chunk of elements per rayon task for elementwise kernels.
pub(super) const ELEMS_PER_TASK: usize = 16_384;

pub(super) struct Gelu;

pub(super) const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2π).
pub(super) const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "cellsindy-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "gelu")?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(ELEMS_PER_TASK)
            .zip(x.par_chunks(ELEMS_PER_TASK))
            .for_each(|(o, x)| {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = x * normal_cdf(x);
                }
            });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(
            arg.apply_op2_no_bwd(&grad.contiguous()?, &GeluBackward)?,
        ))
    }
}

/// `dx = dy · (Φ(x) + x φ(x))`.
pub(super) struct GeluBackward;

impl CustomOp2 for GeluBackward {
    fn name(&self) -> &'static str {
        "cellsindy-gelu-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "gelu_bwd x")?;
        let dy = f32_slice(s2, l2, "gelu_bwd grad")?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(ELEMS_PER_TASK)
            .zip(
                x.par_chunks(ELEMS_PER_TASK)
                    .zip(dy.par_chunks(ELEMS_PER_TASK)),
            )
            .for_each(|(o, (x, dy))| {
                for (o, (&x, &dy)) in o.iter_mut().zip(x.iter().zip(dy)) {
                    *o = dy * gelu_grad(x);
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}
