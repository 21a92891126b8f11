//! Fused CPU kernels with backward passes: layer norm, softmax over the last axis, and GELU.
//!
//! candle-nn's fused `layer_norm` and `softmax_last_dim` have no backward pass (training
//! through them fails), and the composed versions allocate five to eight intermediate tensors
//! per call. These are one pass forward and one pass backward each, parallel over rows with
//! rayon, for `f32` (the model's dtype). On other devices they fall back to candle's composed
//! ops (see [`layer_norm`], [`softmax_last_dim`], [`gelu`]), so the `cuda` feature still works.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Shape, Tensor, D};
use rayon::prelude::*;

/// Rows per rayon task (keeps task overhead small for short rows).
const ROWS_PER_TASK: usize = 64;

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("{what}: only f32 is supported")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{what}: input must be contiguous"),
    }
}

fn last_dim(l: &Layout) -> usize {
    l.shape().dims().last().copied().unwrap_or(1)
}

/// Layer norm over the last axis: `(x − mean) / sqrt(var + eps) · gamma + beta`.
///
/// # Shapes
/// - `x`: `[..., d]`, `gamma`, `beta`: `[d]`; output like `x`.
pub fn layer_norm(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() {
        x.contiguous()?.apply_op3(gamma, beta, LayerNorm { eps })
    } else {
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        let xn = xc.broadcast_div(&(var + eps as f64)?.sqrt()?)?;
        xn.broadcast_mul(gamma)?.broadcast_add(beta)
    }
}

/// Softmax over the last axis.
pub fn softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() {
        x.contiguous()?.apply_op1(Softmax)
    } else {
        candle_nn::ops::softmax(x, D::Minus1)
    }
}

/// GELU, exact (erf) form, as PyTorch's `nn.GELU()` default.
pub fn gelu(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() {
        x.contiguous()?.apply_op1(Gelu)
    } else {
        x.gelu_erf()
    }
}

struct LayerNorm {
    eps: f32,
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
fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let d = x.len() as f32;
    let mean = x.iter().sum::<f32>() / d;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d;
    (mean, 1.0 / (var + eps).sqrt())
}

/// Backward of [`LayerNorm`]: output `[n + 2, d]` = dx rows, then dgamma, then dbeta.
struct LayerNormBackward {
    eps: f32,
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

struct Softmax;

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
                    let mut sum = 0f32;
                    for (o, &x) in o.iter_mut().zip(x) {
                        *o = (x - max).exp();
                        sum += *o;
                    }
                    let inv = 1.0 / sum;
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
struct SoftmaxBackward;

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

/// Chunk of elements per rayon task for elementwise kernels.
const ELEMS_PER_TASK: usize = 16_384;

struct Gelu;

#[inline]
fn erf(x: f32) -> f32 {
    erf_f64(x as f64) as f32
}

/// erf via the complementary error function's Chebyshev-fitted form (Numerical Recipes `erfc`),
/// relative error < 1.2e-7 everywhere: below f32 resolution.
#[inline]
fn erf_f64(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - r
    } else {
        r - 1.0
    }
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2π).
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

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
                    *o = 0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2));
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
struct GeluBackward;

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
                    let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
                    let pdf = FRAC_1_SQRT_2PI * (-0.5 * x * x).exp();
                    *o = dy * (cdf + x * pdf);
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn close(a: &Tensor, b: &Tensor, tol: f32) {
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap();
        let d: f32 = d.to_scalar().unwrap();
        assert!(d < tol, "max abs diff {d}");
    }

    /// The fused kernels match candle's composed ops, forward and backward.
    #[test]
    fn fused_ops_match_composed_ops() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (70, 33), &dev).unwrap()).unwrap();
        let g = Var::from_tensor(&Tensor::randn(1f32, 0.3, 33, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, 33, &dev).unwrap()).unwrap();
        let w = Tensor::randn(0f32, 1.0, (70, 33), &dev).unwrap();
        let run = |fused: bool| {
            let ln = if fused {
                layer_norm(&x, &g, &b, 1e-5).unwrap()
            } else {
                let mean = x.mean_keepdim(D::Minus1).unwrap();
                let xc = x.broadcast_sub(&mean).unwrap();
                let var = xc.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
                let xn = xc
                    .broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
                    .unwrap();
                xn.broadcast_mul(&g).unwrap().broadcast_add(&b).unwrap()
            };
            let sm = if fused {
                softmax_last_dim(&ln).unwrap()
            } else {
                candle_nn::ops::softmax(&ln, D::Minus1).unwrap()
            };
            let ge = if fused {
                gelu(&sm).unwrap()
            } else {
                sm.gelu_erf().unwrap()
            };
            let y = (ge * &w).unwrap().sum_all().unwrap();
            let grads = y.backward().unwrap();
            (
                ge,
                grads.get(&x).unwrap().clone(),
                grads.get(&g).unwrap().clone(),
                grads.get(&b).unwrap().clone(),
            )
        };
        let (a0, a1, a2, a3) = run(true);
        let (b0, b1, b2, b3) = run(false);
        close(&a0, &b0, 1e-5);
        close(&a1, &b1, 1e-4);
        close(&a2, &b2, 1e-4);
        close(&a3, &b3, 1e-4);
    }
}
