//! The gene transformer: a pre-LayerNorm encoder over a cell's gene tokens.
//!
//! ```text
//! token  = embed.gene[gene] + value[bin or MASK]              (one per sampled gene)
//! value  = embed.value (Table) or cumsum over non-zero bins (Ordinal), plus
//!          level(bin) · embed.gene_level[gene] (GeneLevel; see ValueEmbedding)
//! cond   = embed.condition[c]                                  (one per condition field, first)
//! x      = [cond; tokens]                                      [B, F + L, d]
//! block  : x += attn(ln1(x));  x += mlp(ln2(x))                (× n_layers, GELU MLP)
//! logits = head(ln_f(x))[gene positions]                       [B, L, n_bins]
//! ```
//!
//! There are no position embeddings: a cell is a *set* of genes, and the model is equivariant
//! to their order. Padding positions (cells with fewer genes than the batch's longest) are
//! excluded as attention keys by an additive `-inf` mask.
//!
//! **Why a fused `qkv` matrix** (the team's style notes propose separate `q`, `k`, `v`): one `[3d, d]` GEMM
//! is faster on CPU than three `[d, d]` ones, and the checkpoint still names the pieces
//! (`blocks.{i}.attn.qkv.weight` rows `0..d` are q, then k, then v, as PyTorch's
//! `in_proj_weight`).

use candle_core::{DType, Device, Tensor};

use super::config::{ModelConfig, ValueEmbedding};
use super::init::Params;
use super::ops::{attention, layer_norm, linear, linear_gelu};
use crate::error::{Error, Result};

/// A batch of tokenized cells on the model's device.
///
/// # Shapes
/// - `genes`, `bins`: `[B, L]` `u32` (bins of masked genes are `n_bins`, the mask token);
/// - `conditions`: `[B, F]` `u32` (absent when `F = 0`);
/// - `pad_mask`: `[B, 1, 1, F + L]` `f32`, 0 for real tokens and `-inf` for padding (absent
///   when nothing is padded).
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// Gene token ids.
    pub genes: Tensor,
    /// Value bins (input side).
    pub bins: Tensor,
    /// Condition token ids.
    pub conditions: Option<Tensor>,
    /// Additive key mask.
    pub pad_mask: Option<Tensor>,
}

/// Which intermediate tensors [`GeneTransformer::forward_with_capture`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureSpec {
    /// Residual stream after each block (`blocks.{i}.resid`, `[B, T, d]`), and the embedding
    /// (`embed`).
    pub residual: bool,
    /// Attention output before it is added to the residual (`blocks.{i}.attn.out`, `[B, T, d]`).
    pub attention: bool,
    /// MLP hidden units after GELU (`blocks.{i}.mlp.hidden`, `[B, T, d_ff]`).
    pub mlp: bool,
}

impl CaptureSpec {
    /// Everything.
    pub fn all() -> Self {
        Self {
            residual: true,
            attention: true,
            mlp: true,
        }
    }
}

struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn load(p: &Params, prefix: &str) -> Result<Self> {
        Ok(Self {
            weight: p.get(&format!("{prefix}.weight"))?,
            bias: p.get(&format!("{prefix}.bias"))?,
        })
    }

    /// `[N, in] → [N, out]` (one fused op on CPU).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        linear(x, &self.weight, &self.bias)
    }

    /// `gelu(forward(x))`, one fused op on CPU.
    fn forward_gelu(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        linear_gelu(x, &self.weight, &self.bias)
    }
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn load(p: &Params, prefix: &str, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: p.get(&format!("{prefix}.weight"))?,
            bias: p.get(&format!("{prefix}.bias"))?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

struct Block {
    ln1: Norm,
    qkv: Linear,
    out: Linear,
    ln2: Norm,
    fc1: Linear,
    fc2: Linear,
    n_heads: usize,
    /// `(keep, value)`, each `[d_ff]`: the MLP hidden units become `hidden · keep + value`
    /// ([`Ablation`]).
    ablation: Option<(Tensor, Tensor)>,
}

/// A causal intervention: chosen MLP hidden units held at a fixed value at every token
/// (`0`: zero ablation; the unit's mean activation: mean patching). A unit that carries a
/// computation the model needs changes its predictions when held fixed; one that only
/// correlates with it does not.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ablation {
    /// `(block, unit, value)`.
    pub units: Vec<(usize, usize, f32)>,
}

impl Ablation {
    /// Parses a unit name as the captures write it, `blocks.{i}.mlp.hidden[{k}]`, into
    /// `(block, unit)`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for any other name.
    pub fn parse_unit(name: &str) -> Result<(usize, usize)> {
        let bad = || {
            Error::param(
                "ablated unit",
                name,
                "must read blocks.<block>.mlp.hidden[<unit>]",
            )
        };
        let rest = name.strip_prefix("blocks.").ok_or_else(bad)?;
        let (block, rest) = rest.split_once(".mlp.hidden[").ok_or_else(bad)?;
        let unit = rest.strip_suffix(']').ok_or_else(bad)?;
        Ok((
            block.parse().map_err(|_| bad())?,
            unit.parse().map_err(|_| bad())?,
        ))
    }
}

impl Block {
    fn load(p: &Params, prefix: &str, cfg: &ModelConfig) -> Result<Self> {
        Ok(Self {
            ln1: Norm::load(p, &format!("{prefix}.ln1"), cfg.layer_norm_eps)?,
            qkv: Linear::load(p, &format!("{prefix}.attn.qkv"))?,
            out: Linear::load(p, &format!("{prefix}.attn.out"))?,
            ln2: Norm::load(p, &format!("{prefix}.ln2"), cfg.layer_norm_eps)?,
            fc1: Linear::load(p, &format!("{prefix}.mlp.fc1"))?,
            fc2: Linear::load(p, &format!("{prefix}.mlp.fc2"))?,
            n_heads: cfg.n_heads,
            ablation: None,
        })
    }

    /// `x`: `[B·T, d]` → same; `captures` receives `(attn out, mlp hidden)` when asked.
    fn forward(
        &self,
        x: &Tensor,
        b: usize,
        t: usize,
        pad_mask: Option<&Tensor>,
        capture: Option<&mut (Option<Tensor>, Option<Tensor>)>,
    ) -> candle_core::Result<Tensor> {
        let d = x.dim(1)?;
        let qkv = self
            .qkv
            .forward(&self.ln1.forward(x)?)?
            .reshape((b, t, 3 * d))?;
        // Fused on CPU: heads split, scores, softmax, weighted values and heads merged.
        let attn = attention(&qkv, pad_mask, self.n_heads)?.reshape((b * t, d))?;
        let attn_out = self.out.forward(&attn)?;
        let x = (x + &attn_out)?;
        let mut hidden = self.fc1.forward_gelu(&self.ln2.forward(&x)?)?;
        if let Some((keep, value)) = &self.ablation {
            hidden = hidden.broadcast_mul(keep)?.broadcast_add(value)?;
        }
        let x = (&x + self.fc2.forward(&hidden)?)?;
        if let Some(c) = capture {
            *c = (Some(attn_out), Some(hidden));
        }
        Ok(x)
    }
}

/// The model (see the module docs). Built over [`Params`]; its tensors share storage with
/// them, so an optimizer step on the params is seen by the next forward pass.
pub struct GeneTransformer {
    cfg: ModelConfig,
    gene_embed: Tensor,
    value_embed: Tensor,
    /// `[n_bins + 1, n_bins + 1]`, the 0/1 matrix that sums an ordinal embedding's increments
    /// into its rows (absent for a table).
    value_cumsum: Option<Tensor>,
    /// `([n_gene_tokens, d] directions, [n_bins + 1, 1] levels)` of a
    /// [`ValueEmbedding::GeneLevel`] embedding.
    gene_level: Option<(Tensor, Tensor)>,
    condition_embed: Option<Tensor>,
    blocks: Vec<Block>,
    ln_f: Norm,
    head: Linear,
}

impl std::fmt::Debug for GeneTransformer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneTransformer")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl GeneTransformer {
    /// The model over `params` (which must match `cfg`: see [`Params::from_tensors`]).
    ///
    /// # Errors
    /// [`Error::Format`] for a missing parameter.
    pub fn load(params: &Params, cfg: &ModelConfig) -> Result<Self> {
        cfg.validate()?;
        let blocks = (0..cfg.n_layers)
            .map(|l| Block::load(params, &format!("blocks.{l}"), cfg))
            .collect::<Result<Vec<_>>>()?;
        let value_embed = params.get("embed.value")?;
        let device = value_embed.device().clone();
        let value_cumsum = match cfg.value_embedding {
            ValueEmbedding::Table => None,
            ValueEmbedding::Ordinal | ValueEmbedding::GeneLevel => {
                Some(ordinal_cumsum(cfg.n_bins, &device)?)
            }
        };
        let gene_level = match cfg.value_embedding {
            ValueEmbedding::GeneLevel => Some((
                params.get("embed.gene_level")?,
                bin_levels(cfg.n_bins, &device)?,
            )),
            _ => None,
        };
        Ok(Self {
            cfg: cfg.clone(),
            gene_embed: params.get("embed.gene")?,
            value_embed,
            value_cumsum,
            gene_level,
            condition_embed: if cfg.n_condition_tokens > 0 {
                Some(params.get("embed.condition")?)
            } else {
                None
            },
            blocks,
            ln_f: Norm::load(params, "ln_f", cfg.layer_norm_eps)?,
            head: Linear::load(params, "head")?,
        })
    }

    /// Applies `ablation` to every later forward pass (an empty one removes it).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a block or unit outside the model, or a non-finite value.
    pub fn set_ablation(&mut self, ablation: &Ablation) -> Result<()> {
        let d_ff = self.cfg.d_ff;
        let mut per_block = vec![None::<(Vec<f32>, Vec<f32>)>; self.blocks.len()];
        for &(block, unit, value) in &ablation.units {
            if block >= self.blocks.len() || unit >= d_ff || !value.is_finite() {
                return Err(Error::param(
                    "ablated unit",
                    format!("blocks.{block}.mlp.hidden[{unit}] = {value}"),
                    format!(
                        "{} blocks of {d_ff} hidden units; the value must be finite",
                        self.blocks.len()
                    ),
                ));
            }
            let (keep, add) =
                per_block[block].get_or_insert_with(|| (vec![1.0; d_ff], vec![0.0; d_ff]));
            keep[unit] = 0.0;
            add[unit] = value;
        }
        let (device, dtype) = (self.device().clone(), self.gene_embed.dtype());
        for (b, spec) in self.blocks.iter_mut().zip(per_block) {
            b.ablation = match spec {
                Some((keep, add)) => Some((
                    Tensor::from_vec(keep, d_ff, &device)?.to_dtype(dtype)?,
                    Tensor::from_vec(add, d_ff, &device)?.to_dtype(dtype)?,
                )),
                None => None,
            };
        }
        Ok(())
    }

    /// The input row of every bin, `[n_bins + 1, d]` (the last row is the mask): the
    /// parameter itself for a table, its cumulative rows for an ordinal embedding.
    ///
    /// # Errors
    /// Device errors.
    pub fn value_table(&self) -> Result<Tensor> {
        match &self.value_cumsum {
            None => Ok(self.value_embed.clone()),
            Some(c) => Ok(c.matmul(&self.value_embed)?),
        }
    }

    /// The config.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// The device of the weights.
    pub fn device(&self) -> &Device {
        self.gene_embed.device()
    }

    /// Logits over bins for every gene token.
    ///
    /// # Shapes
    /// - input: see [`ModelInput`]; output `[B, L, n_bins]`.
    ///
    /// # Errors
    /// [`Error::Shape`] for inconsistent inputs, [`Error::Tensor`] for device errors.
    pub fn forward(&self, input: &ModelInput) -> Result<Tensor> {
        Ok(self.run(input, None)?.0)
    }

    /// [`forward`](Self::forward) that also returns the tensors `spec` asks for, named as in
    /// [`CaptureSpec`], each `[B, F + L, ·]` (condition tokens first). The logits are the same
    /// tensors as `forward`'s: capture only keeps references.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn forward_with_capture(
        &self,
        input: &ModelInput,
        spec: CaptureSpec,
    ) -> Result<(Tensor, Vec<(String, Tensor)>)> {
        self.run(input, Some(spec))
    }

    fn run(
        &self,
        input: &ModelInput,
        spec: Option<CaptureSpec>,
    ) -> Result<(Tensor, Vec<(String, Tensor)>)> {
        let (b, l) = input.genes.dims2()?;
        if input.bins.dims() != [b, l] {
            return Err(Error::shape(
                "GeneTransformer::forward",
                format!("bins [{b}, {l}]"),
                format!("{:?}", input.bins.dims()),
            ));
        }
        let f = self.cfg.n_condition_fields;
        let d = self.cfg.d_model;
        let mut tokens = (self.gene_embed.embedding_rows(&input.genes)?
            + self.value_table()?.embedding_rows(&input.bins)?)?;
        if let Some((directions, levels)) = &self.gene_level {
            let level = levels.embedding_rows(&input.bins)?; // [B, L, 1]
            tokens = (tokens
                + directions
                    .embedding_rows(&input.genes)?
                    .broadcast_mul(&level)?)?;
        }
        let x = match (&self.condition_embed, &input.conditions) {
            (Some(table), Some(c)) => {
                if c.dims() != [b, f] {
                    return Err(Error::shape(
                        "GeneTransformer::forward",
                        format!("conditions [{b}, {f}]"),
                        format!("{:?}", c.dims()),
                    ));
                }
                Tensor::cat(&[table.embedding_rows(c)?, tokens], 1)?
            }
            (None, None) => tokens,
            (Some(_), None) => {
                return Err(Error::param(
                    "conditions",
                    "none",
                    format!("the model expects {f} condition token(s) per cell"),
                ))
            }
            (None, Some(_)) => {
                return Err(Error::param(
                    "conditions",
                    "given",
                    "the model has no condition tokens",
                ))
            }
        };
        let t = f + l;
        if let Some(m) = &input.pad_mask {
            if m.dims() != [b, 1, 1, t] {
                return Err(Error::shape(
                    "GeneTransformer::forward",
                    format!("pad_mask [{b}, 1, 1, {t}]"),
                    format!("{:?}", m.dims()),
                ));
            }
        }
        let mut captured = Vec::new();
        let mut x = x.reshape((b * t, d))?;
        if spec.is_some_and(|s| s.residual) {
            captured.push(("embed".to_string(), x.reshape((b, t, d))?));
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let mut slot = (None, None);
            let want = spec.is_some_and(|s| s.attention || s.mlp);
            x = block.forward(&x, b, t, input.pad_mask.as_ref(), want.then_some(&mut slot))?;
            if let Some(s) = spec {
                if s.residual {
                    captured.push((format!("blocks.{i}.resid"), x.reshape((b, t, d))?));
                }
                if let (true, Some(a)) = (s.attention, slot.0) {
                    captured.push((format!("blocks.{i}.attn.out"), a.reshape((b, t, d))?));
                }
                if let (true, Some(h)) = (s.mlp, slot.1) {
                    captured.push((
                        format!("blocks.{i}.mlp.hidden"),
                        h.reshape((b, t, self.cfg.d_ff))?,
                    ));
                }
            }
        }
        let x = x
            .reshape((b, t, d))?
            .narrow(1, f, l)?
            .contiguous()?
            .reshape((b * l, d))?;
        let logits =
            self.head
                .forward(&self.ln_f.forward(&x)?)?
                .reshape((b, l, self.cfg.n_bins))?;
        Ok((logits, captured))
    }
}

/// The `[n_bins + 1, n_bins + 1]` matrix of an ordinal embedding: row 0 (not expressed) and
/// row `n_bins` (the mask) pick their own increment; row `k` of the non-zero bins sums
/// increments `1..=k`.
fn ordinal_cumsum(n_bins: usize, device: &Device) -> Result<Tensor> {
    let n = n_bins + 1;
    let mut m = vec![0f32; n * n];
    m[0] = 1.0;
    for k in 1..n_bins {
        for j in 1..=k {
            m[k * n + j] = 1.0;
        }
    }
    m[n_bins * n + n_bins] = 1.0;
    Ok(Tensor::from_vec(m, (n, n), device)?)
}

/// `[n_bins + 1, 1]`: the level of each bin for [`ValueEmbedding::GeneLevel`], 0 for bin 0
/// (not expressed) and for the mask, `k / (n_bins - 1)` for non-zero bin `k`.
fn bin_levels(n_bins: usize, device: &Device) -> Result<Tensor> {
    let top = (n_bins - 1).max(1) as f32;
    let levels: Vec<f32> = (0..=n_bins)
        .map(|k| {
            if k == 0 || k == n_bins {
                0.0
            } else {
                k as f32 / top
            }
        })
        .collect();
    Ok(Tensor::from_vec(levels, (n_bins + 1, 1), device)?)
}

/// Row lookup `table[ids]` for `ids` of any shape (output `ids.shape + [d]`).
trait EmbeddingRows {
    fn embedding_rows(&self, ids: &Tensor) -> candle_core::Result<Tensor>;
}

impl EmbeddingRows for Tensor {
    fn embedding_rows(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let mut shape = ids.dims().to_vec();
        shape.push(self.dim(1)?);
        self.index_select(&ids.flatten_all()?, 0)?.reshape(shape)
    }
}

/// `[B, 1, 1, T]` additive key mask from per-cell valid lengths (`F` condition tokens are
/// always valid, then `len_i` genes of `l`).
pub(crate) fn pad_mask(
    lens: &[usize],
    f: usize,
    l: usize,
    device: &Device,
) -> Result<Option<Tensor>> {
    if lens.iter().all(|&n| n == l) {
        return Ok(None);
    }
    let t = f + l;
    let mut m = vec![0f32; lens.len() * t];
    for (i, &n) in lens.iter().enumerate() {
        for j in f + n..t {
            m[i * t + j] = f32::NEG_INFINITY;
        }
    }
    Ok(Some(
        Tensor::from_vec(m, (lens.len(), 1, 1, t), device)?.to_dtype(DType::F32)?,
    ))
}
