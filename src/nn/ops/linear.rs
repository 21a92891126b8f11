//! The linear layer `x Wᵀ + b` on faer GEMMs, forward and backward.

use super::*;

// ---------------------------------------------------------------------------------------------
// Linear layer.
// ---------------------------------------------------------------------------------------------

/// Output rows per task of the bias broadcast and of the bias-gradient partial sums.
pub(super) const BIAS_ROWS_PER_TASK: usize = 256;

/// `(rows, in, out)` of a linear layer's `x`, `w`, `b`, checked.
pub(super) fn linear_dims(
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
pub(super) struct LinearOp {
    pub(super) gelu: bool,
    pub(super) pre: Mutex<Option<Arc<Vec<f32>>>>,
}

impl LinearOp {
    pub(super) fn plain() -> Self {
        Self {
            gelu: false,
            pre: Mutex::new(None),
        }
    }

    pub(super) fn with_gelu() -> Self {
        Self {
            gelu: true,
            pre: Mutex::new(None),
        }
    }
}

pub(super) fn poisoned<T>(_: T) -> candle_core::Error {
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
pub(super) struct LinearBackward {
    pub(super) gelu_pre: Option<Arc<Vec<f32>>>,
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
