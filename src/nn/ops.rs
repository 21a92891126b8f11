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
                    *o = dy * gelu_grad(x);
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar kernels: branch-free, so loops over them vectorize (AVX2 with the crate's target CPU).
// ---------------------------------------------------------------------------------------------

/// `e^x` in `f32` (Cephes `expf`: range reduction by `ln 2`, degree-7 polynomial), within
/// 2 ulp of the true value. Inputs below −87 (including `-inf`) give exactly 0; NaN stays NaN.
#[inline(always)]
#[allow(clippy::excessive_precision)]
fn exp_f32(x: f32) -> f32 {
    const SHIFTER: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_375;
    const LN2_LO: f32 = -2.121_944_40e-4;
    let xc = x.clamp(-87.0, 88.0); // NaN stays NaN
    let t = xc * std::f32::consts::LOG2_E + SHIFTER;
    let n = t - SHIFTER;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_150e-4 * r + 1.398_199_951e-3) * r + 8.333_451_907e-3) * r
        + 4.166_579_589e-2)
        * r
        + 1.666_666_546e-1)
        * r
        + 5.000_000_120e-1;
    let p = p * r * r + r + 1.0;
    // `t`'s low mantissa bits hold n (|n| ≤ 127): build 2^n from them.
    let n_bits = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let y = p * f32::from_bits(((n_bits + 127) << 23) as u32);
    if x < -87.0 {
        0.0
    } else {
        y
    }
}

/// The standard normal CDF and density, `(Φ(x), φ(x))`, sharing one [`exp_f32`]:
/// `Φ(x) = ½ erfc(−x / √2)` with `erfc(z) ≈ (a₁t + … + a₅t⁵) e^{−z²}`, `t = 1 / (1 + p z)`
/// (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7; the error shrinks with `e^{−z²}` in the tails,
/// which are computed directly, not as `1 − Φ(−x)`), and `φ(x) = e^{−x²/2} / √(2π)` from the
/// same exponential. Checked against a double-precision `erf` in the tests (|error| < 1e-6).
#[inline(always)]
#[allow(clippy::excessive_precision)]
fn normal_cdf_pdf(x: f32) -> (f32, f32) {
    let z = x.abs() * FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let e = exp_f32(-z * z);
    let half_erfc = 0.5 * poly * e;
    let cdf = if x >= 0.0 { 1.0 - half_erfc } else { half_erfc };
    (cdf, FRAC_1_SQRT_2PI * e)
}

/// `Φ(x)` (see [`normal_cdf_pdf`]).
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    normal_cdf_pdf(x).0
}

/// `d/dx [x Φ(x)] = Φ(x) + x φ(x)`.
#[inline(always)]
fn gelu_grad(x: f32) -> f32 {
    let (cdf, pdf) = normal_cdf_pdf(x);
    cdf + x * pdf
}

/// Lanes of the vectorizable reductions below (fixed, so results do not depend on the CPU).
const LANES: usize = 8;

/// Maximum of a slice (`-inf` when empty), over [`LANES`] independent accumulators.
#[inline]
fn max_f32(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = v.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &x in acc.iter().chain(chunks.remainder()) {
        m = if x > m { x } else { m };
    }
    m
}

/// Sum of a slice, over [`LANES`] accumulators reduced in a fixed order.
#[inline]
fn sum_f32(v: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = v.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().chain(chunks.remainder()).sum()
}

/// Dot product, over [`LANES`] accumulators reduced in a fixed order.
#[inline]
fn dot_f32(u: &[f32], v: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut cu = u.chunks_exact(LANES);
    let mut cv = v.chunks_exact(LANES);
    for (a8, b8) in (&mut cu).zip(&mut cv) {
        for ((a, &x), &y) in acc.iter_mut().zip(a8).zip(b8) {
            *a += x * y;
        }
    }
    let tail: f32 = cu
        .remainder()
        .iter()
        .zip(cv.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// In-place softmax of `row + mask` (`mask` additive, may hold `-inf`); a row with no finite
/// score becomes zeros.
#[inline]
fn softmax_row(row: &mut [f32], mask: Option<&[f32]>) {
    if let Some(m) = mask {
        for (r, &m) in row.iter_mut().zip(m) {
            *r += m;
        }
    }
    let max = max_f32(row);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    for r in row.iter_mut() {
        *r = exp_f32(*r - max);
    }
    let inv = 1.0 / sum_f32(row);
    for r in row.iter_mut() {
        *r *= inv;
    }
}

// ---------------------------------------------------------------------------------------------
// Linear layer.
// ---------------------------------------------------------------------------------------------

/// Output rows per task of the bias broadcast and of the bias-gradient partial sums.
const BIAS_ROWS_PER_TASK: usize = 256;

/// `(rows, in, out)` of a linear layer's `x`, `w`, `b`, checked.
fn linear_dims(
    lx: &Layout,
    lw: &Layout,
    n_bias: usize,
    what: &str,
) -> candle_core::Result<(usize, usize, usize)> {
    let &[out, inp] = lw.shape().dims() else {
        candle_core::bail!("{what}: weight must be [out, in], got {:?}", lw.shape())
    };
    let xd = lx.shape().dims();
    if xd.last() != Some(&inp) || n_bias != out {
        candle_core::bail!(
            "{what}: x {:?}, weight [{out}, {inp}], bias of {n_bias}",
            lx.shape()
        )
    }
    Ok((leading(xd), inp, out))
}

/// `y = x · Wᵀ + b` (see [`linear`]): the output starts as the broadcast bias and the GEMM
/// accumulates into it (one pass over `y`). With `gelu`, the output is `gelu(y)` and `y` is
/// kept in `pre` for the backward pass ([`linear_gelu`]).
struct LinearOp {
    gelu: bool,
    pre: Mutex<Option<Arc<Vec<f32>>>>,
}

impl LinearOp {
    fn plain() -> Self {
        Self {
            gelu: false,
            pre: Mutex::new(None),
        }
    }

    fn with_gelu() -> Self {
        Self {
            gelu: true,
            pre: Mutex::new(None),
        }
    }
}

fn poisoned<T>(_: T) -> candle_core::Error {
    candle_core::Error::Msg("linear: poisoned pre-activation lock".into())
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "cellsindy-linear"
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
        let x = f32_slice(s1, l1, "linear x")?;
        let w = f32_slice(s2, l2, "linear weight")?;
        let bias = f32_slice(s3, l3, "linear bias")?;
        let (n, inp, out) = linear_dims(l1, l2, bias.len(), "linear")?;
        let mut y = vec![0f32; n * out];
        if out > 0 {
            y.par_chunks_mut(out * BIAS_ROWS_PER_TASK).for_each(|c| {
                for row in c.chunks_exact_mut(out) {
                    row.copy_from_slice(bias);
                }
            });
        }
        gemm_f32(
            &mut y,
            out,
            Operand::dense(x, n, inp),
            Operand::dense(w, out, inp).t(),
            1.0,
            true,
            true,
        )
        .map_err(ce)?;
        let mut dims = l1.shape().dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = out;
        }
        if !self.gelu {
            return Ok((CpuStorage::F32(y), Shape::from_dims(&dims)));
        }
        let mut h = vec![0f32; y.len()];
        h.par_chunks_mut(ELEMS_PER_TASK)
            .zip(y.par_chunks(ELEMS_PER_TASK))
            .for_each(|(h, y)| {
                for (h, &y) in h.iter_mut().zip(y) {
                    *h = y * normal_cdf(y);
                }
            });
        *self.pre.lock().map_err(poisoned)? = Some(Arc::new(y));
        Ok((CpuStorage::F32(h), Shape::from_dims(&dims)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (out, inp) = w.dims2()?;
        let nx = x.elem_count();
        let gelu_pre = if self.gelu {
            match self.pre.lock().map_err(poisoned)?.clone() {
                Some(p) => Some(p),
                None => candle_core::bail!("linear_gelu: backward before forward"),
            }
        } else {
            None
        };
        let packed = x.contiguous()?.apply_op3_no_bwd(
            &w.contiguous()?,
            &grad.contiguous()?,
            &LinearBackward { gelu_pre },
        )?;
        let dx = packed.narrow(0, 0, nx)?.reshape(x.shape())?;
        let dw = packed.narrow(0, nx, out * inp)?.reshape((out, inp))?;
        let db = packed.narrow(0, nx + out * inp, out)?.reshape(b.shape())?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// Backward of [`LinearOp`] from `(x, W, dy)`: one flat output holding `dx = dy · W`, then
/// `dW = dyᵀ · x`, then `db = Σ_rows dy`. With `gelu_pre` (the pre-activation `u` of
/// [`linear_gelu`]), `dy` is first replaced by `dy ⊙ gelu'(u)`.
struct LinearBackward {
    gelu_pre: Option<Arc<Vec<f32>>>,
}

impl CustomOp3 for LinearBackward {
    fn name(&self) -> &'static str {
        "cellsindy-linear-backward"
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
        let x = f32_slice(s1, l1, "linear_bwd x")?;
        let w = f32_slice(s2, l2, "linear_bwd weight")?;
        let dy = f32_slice(s3, l3, "linear_bwd grad")?;
        let out = l2.shape().dims().first().copied().unwrap_or(0);
        let (n, inp, out) = linear_dims(l1, l2, out, "linear_bwd")?;
        if dy.len() != n * out {
            candle_core::bail!("linear_bwd: grad has {} values, want {n} × {out}", dy.len())
        }
        let through_gelu: Vec<f32>;
        let dy = match &self.gelu_pre {
            None => dy,
            Some(u) => {
                if u.len() != dy.len() {
                    candle_core::bail!("linear_bwd: pre-activation of {} values", u.len())
                }
                let mut g = vec![0f32; dy.len()];
                g.par_chunks_mut(ELEMS_PER_TASK)
                    .zip(
                        u.par_chunks(ELEMS_PER_TASK)
                            .zip(dy.par_chunks(ELEMS_PER_TASK)),
                    )
                    .for_each(|(g, (u, dy))| {
                        for (g, (&u, &dy)) in g.iter_mut().zip(u.iter().zip(dy)) {
                            *g = dy * gelu_grad(u);
                        }
                    });
                through_gelu = g;
                &through_gelu
            }
        };
        let mut buf = vec![0f32; n * inp + out * inp + out];
        let (dx, rest) = buf.split_at_mut(n * inp);
        let (dw, db) = rest.split_at_mut(out * inp);
        let dy_m = Operand::dense(dy, n, out);
        gemm_f32(dx, inp, dy_m, Operand::dense(w, out, inp), 1.0, false, true).map_err(ce)?;
        gemm_f32(
            dw,
            inp,
            dy_m.t(),
            Operand::dense(x, n, inp),
            1.0,
            false,
            true,
        )
        .map_err(ce)?;
        if out > 0 {
            // Fixed-size row blocks, partial sums reduced in block order: deterministic.
            let partials: Vec<Vec<f32>> = dy
                .par_chunks(out * BIAS_ROWS_PER_TASK)
                .map(|c| {
                    let mut acc = vec![0f32; out];
                    for row in c.chunks_exact(out) {
                        for (a, &v) in acc.iter_mut().zip(row) {
                            *a += v;
                        }
                    }
                    acc
                })
                .collect();
            for p in &partials {
                for (o, &v) in db.iter_mut().zip(p) {
                    *o += v;
                }
            }
        }
        let len = buf.len();
        Ok((CpuStorage::F32(buf), Shape::from_dims(&[len])))
    }
}

// ---------------------------------------------------------------------------------------------
// Multi-head attention.
// ---------------------------------------------------------------------------------------------

/// Fused multi-head self-attention (see [`attention`]), parallel over `(batch, head)` pairs,
/// each with single-threaded GEMMs on a per-task `[T, T]` scratch buffer.
///
/// **The backward pass recomputes the attention probabilities** (as flash attention does)
/// rather than storing them. Stored, they would be `B·H·T²` floats per layer (32 MiB per layer
/// for the reference configuration, growing with `T²`), written once and read back from main
/// memory in the backward pass; recomputed, they cost one extra `[T, dh] × [dh, T]` GEMM and a
/// softmax per pair (about an eighth of the layer's attention FLOPs) on data that stays in
/// the core's cache, and nothing has to outlive the forward pass. The recomputation runs the
/// same code on the same inputs, so it reproduces the forward probabilities bit for bit.
struct Attention {
    n_heads: usize,
}

/// `(B, T, d)` of a `[B, T, 3d]` `qkv`, checked against the head count and the mask.
fn attention_dims(
    l: &Layout,
    n_heads: usize,
    mask_len: Option<usize>,
) -> candle_core::Result<(usize, usize, usize)> {
    let &[b, t, three_d] = l.shape().dims() else {
        candle_core::bail!("attention: qkv must be [B, T, 3d], got {:?}", l.shape())
    };
    let d = three_d / 3;
    if n_heads == 0 || d * 3 != three_d || d % n_heads != 0 {
        candle_core::bail!("attention: qkv width {three_d} does not split into 3 × {n_heads} heads")
    }
    if let Some(m) = mask_len {
        if m != b * t {
            candle_core::bail!("attention: mask has {m} values, want [{b}, 1, 1, {t}]")
        }
    }
    Ok((b, t, d))
}

/// Geometry of one attention call.
#[derive(Clone, Copy)]
struct AttnGeom {
    t: usize,
    d: usize,
    dh: usize,
    scale: f32,
}

impl AttnGeom {
    fn new(t: usize, d: usize, h: usize) -> Self {
        let dh = d / h;
        Self {
            t,
            d,
            dh,
            scale: 1.0 / (dh as f32).sqrt(),
        }
    }

    /// Part `part` (0 = q, 1 = k, 2 = v) of head `head` in one cell's `[T, 3d]` rows.
    fn head<'a>(&self, x: &'a [f32], part: usize, head: usize) -> Operand<'a> {
        Operand {
            data: &x[part * self.d + head * self.dh..],
            rows: self.t,
            cols: self.dh,
            ld: 3 * self.d,
            trans: false,
        }
    }

    /// `p ← softmax(q kᵀ · scale + mask)` for one head of one cell (`p`: `[T, T]`).
    fn probs(
        &self,
        p: &mut [f32],
        x: &[f32],
        mask: Option<&[f32]>,
        head: usize,
    ) -> candle_core::Result<()> {
        let t = self.t;
        gemm_f32(
            p,
            t,
            self.head(x, 0, head),
            self.head(x, 1, head).t(),
            self.scale,
            false,
            false,
        )
        .map_err(ce)?;
        for row in p.chunks_exact_mut(t) {
            softmax_row(row, mask);
        }
        Ok(())
    }
}

/// Batches of at least this many cells run attention as one rayon task per cell (all heads,
/// written straight into the output); smaller ones as one task per (cell, head) pair with a
/// merge pass. Fixed, so the path depends only on the shape.
const PER_CELL_MIN_BATCH: usize = 8;

impl AttnGeom {
    /// One head of one cell, forward: `o` (row stride `ldo`) ← `P V`, `P` left in `p`.
    fn head_fwd(
        &self,
        p: &mut [f32],
        x: &[f32],
        mask: Option<&[f32]>,
        head: usize,
        o: &mut [f32],
        ldo: usize,
    ) -> candle_core::Result<()> {
        let t = self.t;
        self.probs(p, x, mask, head)?;
        gemm_f32(
            o,
            ldo,
            Operand::dense(p, t, t),
            self.head(x, 2, head),
            1.0,
            false,
            false,
        )
        .map_err(ce)
    }

    /// One head of one cell, backward: writes `dQ`, `dK`, `dV` at `dst[offs[i]..]` (row stride
    /// `ld`), from `d out` of the cell at `dout[head · dh..]` (row stride `d`).
    #[allow(clippy::too_many_arguments)]
    fn head_bwd(
        &self,
        (p, dp): (&mut [f32], &mut [f32]),
        x: &[f32],
        mask: Option<&[f32]>,
        dout: &[f32],
        head: usize,
        dst: &mut [f32],
        (ld, offs): (usize, [usize; 3]),
    ) -> candle_core::Result<()> {
        let (t, dh) = (self.t, self.dh);
        let d_o = Operand {
            data: &dout[head * dh..],
            rows: t,
            cols: dh,
            ld: self.d,
            trans: false,
        };
        self.probs(p, x, mask, head)?;
        let pm = Operand::dense(p, t, t);
        gemm_f32(&mut dst[offs[2]..], ld, pm.t(), d_o, 1.0, false, false).map_err(ce)?;
        gemm_f32(dp, t, d_o, self.head(x, 2, head).t(), 1.0, false, false).map_err(ce)?;
        for (ds, pr) in dp.chunks_exact_mut(t).zip(p.chunks_exact(t)) {
            let dot = dot_f32(ds, pr);
            for (a, &pv) in ds.iter_mut().zip(pr) {
                *a = pv * (*a - dot);
            }
        }
        let ds = Operand::dense(dp, t, t);
        let (k, q) = (self.head(x, 1, head), self.head(x, 0, head));
        gemm_f32(&mut dst[offs[0]..], ld, ds, k, self.scale, false, false).map_err(ce)?;
        gemm_f32(&mut dst[offs[1]..], ld, ds.t(), q, self.scale, false, false).map_err(ce)
    }
}

fn attention_fwd(
    qkv: &[f32],
    mask: Option<&[f32]>,
    (b, t, d): (usize, usize, usize),
    h: usize,
) -> candle_core::Result<Vec<f32>> {
    let g = AttnGeom::new(t, d, h);
    let dh = g.dh;
    let mut out = vec![0f32; b * t * d];
    if out.is_empty() || dh == 0 {
        return Ok(out);
    }
    let cell = |bi: usize| {
        (
            &qkv[bi * t * 3 * d..(bi + 1) * t * 3 * d],
            mask.map(|m| &m[bi * t..(bi + 1) * t]),
        )
    };
    if b >= PER_CELL_MIN_BATCH {
        out.par_chunks_mut(t * d).enumerate().try_for_each_init(
            || vec![0f32; t * t],
            |p, (bi, o)| -> candle_core::Result<()> {
                let (x, m) = cell(bi);
                for hi in 0..h {
                    g.head_fwd(p, x, m, hi, &mut o[hi * dh..], d)?;
                }
                Ok(())
            },
        )?;
        return Ok(out);
    }
    // Per (cell, head): [T, dh], contiguous; merged into [B, T, d] below.
    let mut heads = vec![0f32; b * h * t * dh];
    heads.par_chunks_mut(t * dh).enumerate().try_for_each_init(
        || vec![0f32; t * t],
        |p, (bh, o)| -> candle_core::Result<()> {
            let (x, m) = cell(bh / h);
            g.head_fwd(p, x, m, bh % h, o, dh)
        },
    )?;
    out.par_chunks_mut(t * d)
        .zip(heads.par_chunks(h * t * dh))
        .for_each(|(o, hs)| {
            for (hi, hs) in hs.chunks_exact(t * dh).enumerate() {
                for (orow, hrow) in o.chunks_exact_mut(d).zip(hs.chunks_exact(dh)) {
                    orow[hi * dh..(hi + 1) * dh].copy_from_slice(hrow);
                }
            }
        });
    Ok(out)
}

/// `d qkv` (`[B, T, 3d]`) from `d out` (`[B, T, d]`), per (cell, head):
/// `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dQ = scale · dS K`,
/// `dK = scale · dSᵀ Q`.
fn attention_bwd(
    qkv: &[f32],
    mask: Option<&[f32]>,
    dout: &[f32],
    (b, t, d): (usize, usize, usize),
    h: usize,
) -> candle_core::Result<Vec<f32>> {
    let g = AttnGeom::new(t, d, h);
    let dh = g.dh;
    let mut dqkv = vec![0f32; b * t * 3 * d];
    if dqkv.is_empty() || dh == 0 {
        return Ok(dqkv);
    }
    if dout.len() != b * t * d {
        candle_core::bail!(
            "attention_bwd: grad has {} values, want {b} × {t} × {d}",
            dout.len()
        )
    }
    let cell = |bi: usize| {
        (
            &qkv[bi * t * 3 * d..(bi + 1) * t * 3 * d],
            mask.map(|m| &m[bi * t..(bi + 1) * t]),
            &dout[bi * t * d..(bi + 1) * t * d],
        )
    };
    let scratch = || (vec![0f32; t * t], vec![0f32; t * t]);
    if b >= PER_CELL_MIN_BATCH {
        dqkv.par_chunks_mut(t * 3 * d)
            .enumerate()
            .try_for_each_init(scratch, |(p, dp), (bi, o)| -> candle_core::Result<()> {
                let (x, m, dy) = cell(bi);
                for hi in 0..h {
                    let offs = [hi * dh, d + hi * dh, 2 * d + hi * dh];
                    g.head_bwd((p, dp), x, m, dy, hi, o, (3 * d, offs))?;
                }
                Ok(())
            })?;
        return Ok(dqkv);
    }
    // Per (cell, head): [3, T, dh] (dq, dk, dv), contiguous; scattered into [B, T, 3d] below.
    let mut parts = vec![0f32; b * h * 3 * t * dh];
    parts
        .par_chunks_mut(3 * t * dh)
        .enumerate()
        .try_for_each_init(scratch, |(p, dp), (bh, gr)| -> candle_core::Result<()> {
            let (x, m, dy) = cell(bh / h);
            let offs = [0, t * dh, 2 * t * dh];
            g.head_bwd((p, dp), x, m, dy, bh % h, gr, (dh, offs))
        })?;
    dqkv.par_chunks_mut(t * 3 * d)
        .zip(parts.par_chunks(h * 3 * t * dh))
        .for_each(|(o, gs)| {
            for (hi, gh) in gs.chunks_exact(3 * t * dh).enumerate() {
                for (part, gp) in gh.chunks_exact(t * dh).enumerate() {
                    let off = part * d + hi * dh;
                    for (orow, grow) in o.chunks_exact_mut(3 * d).zip(gp.chunks_exact(dh)) {
                        orow[off..off + dh].copy_from_slice(grow);
                    }
                }
            }
        });
    Ok(dqkv)
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "cellsindy-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = f32_slice(s, l, "attention qkv")?;
        let (b, t, d) = attention_dims(l, self.n_heads, None)?;
        let out = attention_fwd(qkv, None, (b, t, d), self.n_heads)?;
        Ok((CpuStorage::F32(out), Shape::from_dims(&[b, t, d])))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let op = AttentionBackward {
            n_heads: self.n_heads,
        };
        Ok(Some(arg.apply_op2_no_bwd(&grad.contiguous()?, &op)?))
    }
}

impl CustomOp2 for Attention {
    fn name(&self) -> &'static str {
        "cellsindy-attention-masked"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = f32_slice(s1, l1, "attention qkv")?;
        let mask = f32_slice(s2, l2, "attention mask")?;
        let (b, t, d) = attention_dims(l1, self.n_heads, Some(mask.len()))?;
        let out = attention_fwd(qkv, Some(mask), (b, t, d), self.n_heads)?;
        Ok((CpuStorage::F32(out), Shape::from_dims(&[b, t, d])))
    }

    fn bwd(
        &self,
        arg1: &Tensor,
        arg2: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let op = AttentionBackward {
            n_heads: self.n_heads,
        };
        let dqkv = arg1.apply_op3_no_bwd(arg2, &grad.contiguous()?, &op)?;
        // The mask is a constant (no gradient).
        Ok((Some(dqkv), None))
    }
}

/// Backward of [`Attention`]: `(qkv, grad)` or `(qkv, mask, grad)` → `d qkv`.
struct AttentionBackward {
    n_heads: usize,
}

impl CustomOp2 for AttentionBackward {
    fn name(&self) -> &'static str {
        "cellsindy-attention-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = f32_slice(s1, l1, "attention_bwd qkv")?;
        let dout = f32_slice(s2, l2, "attention_bwd grad")?;
        let (b, t, d) = attention_dims(l1, self.n_heads, None)?;
        let dqkv = attention_bwd(qkv, None, dout, (b, t, d), self.n_heads)?;
        Ok((CpuStorage::F32(dqkv), l1.shape().clone()))
    }
}

impl CustomOp3 for AttentionBackward {
    fn name(&self) -> &'static str {
        "cellsindy-attention-masked-backward"
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
        let qkv = f32_slice(s1, l1, "attention_bwd qkv")?;
        let mask = f32_slice(s2, l2, "attention_bwd mask")?;
        let dout = f32_slice(s3, l3, "attention_bwd grad")?;
        let (b, t, d) = attention_dims(l1, self.n_heads, Some(mask.len()))?;
        let dqkv = attention_bwd(qkv, Some(mask), dout, (b, t, d), self.n_heads)?;
        Ok((CpuStorage::F32(dqkv), l1.shape().clone()))
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
