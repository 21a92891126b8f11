//! Fused CPU kernels with backward passes: layer norm, softmax over the last axis, GELU, a
//! linear layer and multi-head self-attention.
//!
//! candle-nn's fused `layer_norm` and `softmax_last_dim` have no backward pass (training
//! through them fails), and the composed versions allocate five to eight intermediate tensors
//! per call; every autograd node also costs a zero-filled gradient buffer and an add in
//! candle's backward pass. These are one pass forward and one pass backward each, parallel
//! with rayon, for `f32` (the model's dtype); the GEMMs inside [`linear`] and [`attention`]
//! run on faer through the crate-private `linalg::gemm`. On other devices every op falls back to
//! candle's composed ops, so the `cuda` feature still works.
//!
//! All kernels are deterministic: parallel work is split into pieces of a fixed size
//! (independent of the thread count and of scheduling), and partial sums are reduced in a
//! fixed order, so the same inputs give bit-identical outputs and gradients run to run.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Shape, Tensor, D};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

use crate::linalg::gemm::{gemm_f32, Operand};

mod norm;
use norm::*;
mod softmax;
use softmax::*;
mod gelu;
use gelu::*;
mod kernels;
use kernels::*;
mod linear;
use linear::*;
mod attention;
use attention::*;

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

/// The crate's error as a candle error (inside custom ops).
fn ce(e: crate::error::Error) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
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

/// A linear layer, `y = x · Wᵀ + b`, as one autograd node (its backward gives `dx`, `dW` and
/// `db` in one pass).
///
/// # Shapes
/// - `x`: `[..., in]`, `w`: `[out, in]`, `b`: `[out]`; output `[..., out]`.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() {
        x.contiguous()?
            .apply_op3(&w.contiguous()?, &b.contiguous()?, LinearOp::plain())
    } else {
        linear_composed(x, w, b)
    }
}

/// `gelu(x · Wᵀ + b)` (exact GELU, as [`gelu`]) as one autograd node: the MLP's first layer.
/// The pre-activation is kept inside the node for the backward pass, so neither it nor its
/// gradient becomes a tensor of its own.
///
/// # Shapes
/// As [`linear`].
pub fn linear_gelu(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() {
        x.contiguous()?
            .apply_op3(&w.contiguous()?, &b.contiguous()?, LinearOp::with_gelu())
    } else {
        linear_composed(x, w, b)?.gelu_erf()
    }
}

/// [`linear`] from candle ops (the non-CPU path, and the reference in tests).
fn linear_composed(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (out, inp) = w.dims2()?;
    let mut dims = x.dims().to_vec();
    let n = leading(&dims);
    if let Some(last) = dims.last_mut() {
        *last = out;
    }
    x.reshape((n, inp))?
        .matmul(&w.t()?)?
        .broadcast_add(b)?
        .reshape(dims)
}

/// Product of all dimensions but the last (rows of a `[..., k]` tensor).
fn leading(dims: &[usize]) -> usize {
    dims.iter().take(dims.len().saturating_sub(1)).product()
}

/// Multi-head self-attention over packed projections, heads merged in the output.
///
/// `qkv` is `[B, T, 3d]`: columns `0..d` are the queries, `d..2d` the keys, `2d..3d` the
/// values, and head `i` is the slice `i·dh..(i+1)·dh` of each (`dh = d / n_heads`). The output
/// is `[B, T, d]`, `out[b, t, i·dh + j] = (softmax(q kᵀ / sqrt(dh) + mask) v)[t, j]` for head
/// `i`. `mask` (`[B, 1, 1, T]`) is added to every query's scores (`-inf` excludes a key); a
/// query whose keys are all excluded gets zeros, not NaN.
///
/// On CPU this is one autograd node: no `[B, H, T, T]` tensor is ever materialised (the
/// private `Attention` op's docs explain the backward's recomputation).
pub fn attention(
    qkv: &Tensor,
    mask: Option<&Tensor>,
    n_heads: usize,
) -> candle_core::Result<Tensor> {
    if qkv.device().is_cpu() {
        let qkv = qkv.contiguous()?;
        let op = Attention { n_heads };
        match mask {
            Some(m) => qkv.apply_op2(&m.contiguous()?, op),
            None => qkv.apply_op1(op),
        }
    } else {
        attention_composed(qkv, mask, n_heads)
    }
}

/// [`attention`] from candle ops (the non-CPU path, and the reference in tests).
fn attention_composed(
    qkv: &Tensor,
    mask: Option<&Tensor>,
    n_heads: usize,
) -> candle_core::Result<Tensor> {
    let (b, t, three_d) = qkv.dims3()?;
    let d = three_d / 3;
    if n_heads == 0 || d * 3 != three_d || d % n_heads != 0 {
        candle_core::bail!("attention: qkv width {three_d} does not split into 3 × {n_heads} heads")
    }
    let dh = d / n_heads;
    let qkv = qkv.reshape((b, t, 3, n_heads, dh))?;
    let head = |i: usize| -> candle_core::Result<Tensor> {
        qkv.narrow(2, i, 1)?
            .squeeze(2)?
            .transpose(1, 2)?
            .contiguous()
    };
    let q = (head(0)? * (1.0 / (dh as f64).sqrt()))?;
    let k = head(1)?;
    let v = head(2)?;
    let mut scores = q.matmul(&k.t()?)?; // [B, H, T, T]
    if let Some(m) = mask {
        scores = scores.broadcast_add(m)?;
    }
    softmax_last_dim(&scores)?
        .matmul(&v)? // [B, H, T, dh]
        .transpose(1, 2)?
        .contiguous()?
        .reshape((b, t, d))
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
            let y = (&ge * &w).unwrap().sum_all().unwrap();
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

    /// Checks `f(fused)` against `f(composed)`: the outputs and every listed gradient.
    fn check_grads(vars: &[&Var], run: impl Fn(bool) -> Tensor, tol: f32) {
        let w_seed = |t: &Tensor| {
            let n = t.elem_count();
            let v: Vec<f32> = (0..n)
                .map(|i| ((i * 7919 % 1013) as f32 / 506.0) - 1.0)
                .collect();
            Tensor::from_vec(v, t.shape(), t.device()).unwrap()
        };
        let mut results = Vec::new();
        for fused in [true, false] {
            let y = run(fused);
            let loss = (&y * w_seed(&y)).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let gs: Vec<Tensor> = vars.iter().map(|v| grads.get(v).unwrap().clone()).collect();
            results.push((y, gs));
        }
        close(&results[0].0, &results[1].0, tol);
        for (a, b) in results[0].1.iter().zip(&results[1].1) {
            assert_eq!(a.dims(), b.dims());
            close(a, b, tol);
        }
    }

    #[test]
    fn fused_linear_matches_composed() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (300, 37), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(0f32, 0.3, (23, 37), &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, 23, &dev).unwrap()).unwrap();
        check_grads(
            &[&x, &w, &b],
            |fused| {
                if fused {
                    linear(&x, &w, &b).unwrap()
                } else {
                    linear_composed(&x, &w, &b).unwrap()
                }
            },
            1e-4,
        );
        check_grads(
            &[&x, &w, &b],
            |fused| {
                if fused {
                    linear_gelu(&x, &w, &b).unwrap()
                } else {
                    linear_composed(&x, &w, &b).unwrap().gelu_erf().unwrap()
                }
            },
            1e-4,
        );
        // Leading dimensions are kept.
        let x3 = x.reshape((3, 100, 37)).unwrap();
        assert_eq!(linear(&x3, &w, &b).unwrap().dims(), [3, 100, 23]);
    }

    fn qkv_and_mask(b: usize, t: usize, d: usize, lens: &[usize]) -> (Var, Tensor) {
        let dev = Device::Cpu;
        let qkv =
            Var::from_tensor(&Tensor::randn(0f32, 1.0, (b, t, 3 * d), &dev).unwrap()).unwrap();
        let mut m = vec![0f32; b * t];
        for (i, &n) in lens.iter().enumerate() {
            for j in n..t {
                m[i * t + j] = f32::NEG_INFINITY;
            }
        }
        (qkv, Tensor::from_vec(m, (b, 1, 1, t), &dev).unwrap())
    }

    #[test]
    fn fused_attention_matches_composed() {
        let (b, t, d, h) = (3, 21, 24, 4);
        let (qkv, mask) = qkv_and_mask(b, t, d, &[21, 17, 5]);
        // Also a batch big enough for one task per cell.
        let (qkv9, mask9) = qkv_and_mask(9, 13, 12, &[13, 1, 7, 13, 13, 2, 13, 9, 13]);
        for mask in [None, Some(&mask9)] {
            check_grads(
                &[&qkv9],
                |fused| {
                    if fused {
                        attention(&qkv9, mask, 3).unwrap()
                    } else {
                        attention_composed(&qkv9, mask, 3).unwrap()
                    }
                },
                1e-4,
            );
        }
        for mask in [None, Some(&mask)] {
            check_grads(
                &[&qkv],
                |fused| {
                    if fused {
                        attention(&qkv, mask, h).unwrap()
                    } else {
                        attention_composed(&qkv, mask, h).unwrap()
                    }
                },
                1e-4,
            );
        }
        // Against candle-nn's softmax too (no fully masked rows here).
        let reference = {
            let q5 = qkv.reshape((b, t, 3, h, d / h)).unwrap();
            let head = |i: usize| {
                q5.narrow(2, i, 1)
                    .unwrap()
                    .squeeze(2)
                    .unwrap()
                    .transpose(1, 2)
                    .unwrap()
                    .contiguous()
                    .unwrap()
            };
            let s = (head(0).matmul(&head(1).t().unwrap()).unwrap() / ((d / h) as f64).sqrt())
                .unwrap()
                .broadcast_add(&mask)
                .unwrap();
            candle_nn::ops::softmax(&s, D::Minus1)
                .unwrap()
                .matmul(&head(2))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
                .reshape((b, t, d))
                .unwrap()
        };
        close(&attention(&qkv, Some(&mask), h).unwrap(), &reference, 1e-5);
    }

    /// A cell whose keys are all masked gets zero output and zero gradient, not NaN.
    #[test]
    fn fully_masked_attention_is_zero() {
        let (b, t, d, h) = (2, 9, 8, 2);
        let (qkv, mask) = qkv_and_mask(b, t, d, &[9, 0]);
        let y = attention(&qkv, Some(&mask), h).unwrap();
        let loss = y.sum_all().unwrap();
        let g = loss.backward().unwrap().get(&qkv).unwrap().clone();
        let y1: Vec<f32> = y.get(1).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let g1: Vec<f32> = g.get(1).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert!(y1.iter().chain(&g1).all(|&v| v == 0.0));
        let all: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
        assert!(all.iter().all(|v| v.is_finite()));
    }

    /// Same inputs, bit-identical outputs and gradients (sizes large enough to run in parallel).
    #[test]
    fn fused_ops_are_deterministic() {
        let dev = Device::Cpu;
        // Nine cells: one rayon task per cell in attention (the pair path is covered by
        // the small-batch tests).
        let (b, t, d, h) = (9, 64, 64, 4);
        let (qkv_in, mask) = qkv_and_mask(b, t, d, &[64, 60, 33, 64, 1, 64, 64, 17, 64]);
        let w = Var::from_tensor(&Tensor::randn(0f32, 0.1, (3 * d, 3 * d), &dev).unwrap()).unwrap();
        let bias = Var::from_tensor(&Tensor::randn(0f32, 0.1, 3 * d, &dev).unwrap()).unwrap();
        let g = Var::from_tensor(&Tensor::ones(d, candle_core::DType::F32, &dev).unwrap()).unwrap();
        let run = || {
            let x = linear(&qkv_in.reshape((b * t, 3 * d)).unwrap(), &w, &bias).unwrap();
            let a = attention(&x.reshape((b, t, 3 * d)).unwrap(), Some(&mask), h).unwrap();
            let a = layer_norm(&a, &g, &g, 1e-5).unwrap();
            let y = gelu(&softmax_last_dim(&a).unwrap()).unwrap();
            let loss = (y.sqr().unwrap().sum_all().unwrap() + a.sum_all().unwrap()).unwrap();
            let grads = loss.backward().unwrap();
            let mut out: Vec<Vec<f32>> = vec![y.flatten_all().unwrap().to_vec1().unwrap()];
            for v in [&qkv_in, &w, &bias, &g] {
                out.push(
                    grads
                        .get(v)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap(),
                );
            }
            out
        };
        let first = run();
        for _ in 0..3 {
            let again = run();
            for (a, b) in first.iter().zip(&again) {
                assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
        }
    }

    /// The f32 exp and normal CDF behind softmax, attention and GELU.
    #[test]
    fn fast_exp_and_gelu_are_accurate() {
        let mut worst = 0f64;
        for i in 0..200_000 {
            let x = -87.0 + 175.0 * i as f32 / 200_000.0;
            let want = (x as f64).exp();
            worst = worst.max(((exp_f32(x) as f64) - want).abs() / want);
        }
        assert!(worst < 3e-7, "exp rel err {worst}");
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-100.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        // GELU against candle's exact erf GELU.
        let xs: Vec<f32> = (0..40_001).map(|i| -20.0 + i as f32 / 1000.0).collect();
        let x = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
        let diff = (gelu(&x).unwrap() - x.gelu_erf().unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-6, "gelu abs err {diff}");
        for &x in &xs {
            let phi = 0.5 * (1.0 + erf_ref(x as f64 * std::f64::consts::FRAC_1_SQRT_2));
            assert!((normal_cdf(x) as f64 - phi).abs() < 1e-6, "Phi({x})");
        }
    }

    /// erf to double precision (Abramowitz–Stegun 7.1.5 series / continued fraction), for tests.
    fn erf_ref(x: f64) -> f64 {
        let z = x.abs();
        let v = if z < 3.0 {
            // Maclaurin series.
            let mut term = z;
            let mut sum = z;
            for n in 1..200 {
                term *= -z * z / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc continued fraction.
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (z + f);
            }
            1.0 - (-z * z).exp() / (std::f64::consts::PI.sqrt() * (z + f))
        };
        v.copysign(x)
    }
}
