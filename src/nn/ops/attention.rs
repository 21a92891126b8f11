//! Fused multi-head self-attention, forward and backward (the backward pass recomputes the
//! probabilities).

use super::*;

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
pub(super) struct Attention {
    pub(super) n_heads: usize,
}

/// `(B, T, d)` of a `[B, T, 3d]` `qkv`, checked against the head count and the mask.
pub(super) fn attention_dims(
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
pub(super) struct AttnGeom {
    pub(super) t: usize,
    pub(super) d: usize,
    pub(super) dh: usize,
    pub(super) scale: f32,
}

impl AttnGeom {
    pub(super) fn new(t: usize, d: usize, h: usize) -> Self {
        let dh = d / h;
        Self {
            t,
            d,
            dh,
            scale: 1.0 / (dh as f32).sqrt(),
        }
    }

    /// Part `part` (0 = q, 1 = k, 2 = v) of head `head` in one cell's `[T, 3d]` rows.
    pub(super) fn head<'a>(&self, x: &'a [f32], part: usize, head: usize) -> Operand<'a> {
        Operand {
            data: &x[part * self.d + head * self.dh..],
            rows: self.t,
            cols: self.dh,
            ld: 3 * self.d,
            trans: false,
        }
    }

    /// `p ← softmax(q kᵀ · scale + mask)` for one head of one cell (`p`: `[T, T]`).
    pub(super) fn probs(
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
pub(super) const PER_CELL_MIN_BATCH: usize = 8;

impl AttnGeom {
    /// One head of one cell, forward: `o` (row stride `ldo`) ← `P V`, `P` left in `p`.
    pub(super) fn head_fwd(
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
    pub(super) fn head_bwd(
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

pub(super) fn attention_fwd(
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
pub(super) fn attention_bwd(
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
pub(super) struct AttentionBackward {
    pub(super) n_heads: usize,
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
