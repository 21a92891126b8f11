//! The parameter list of a [`ModelConfig`] and its seeded initialisation.
//!
//! candle's CPU random generator cannot be seeded, so weights are drawn here from the crate's
//! ChaCha streams (the crate-private `rng` module): parameter `k` (in name order) uses stream `k` of the
//! initialisation domain, so the same seed gives bit-identical weights on any machine.
//!
//! Scheme (GPT-2's): embeddings and weight matrices `N(0, 0.02²)`, the two projections that
//! write into the residual stream (`attn.out`, `mlp.fc2`) scaled by `1/√(2·n_layers)`, biases
//! zero, layer-norm gains one.

use std::collections::BTreeMap;

use candle_core::{Device, Tensor, Var};
use rand_distr::{Distribution, Normal};

use super::config::{ModelConfig, ValueEmbedding};
use crate::error::{Error, Result};
use crate::rng::stream;

/// Domain of the initialisation streams.
const DOMAIN_INIT: u64 = 0x696e6974_00000011;
/// Standard deviation of embeddings and weight matrices.
const INIT_STD: f64 = 0.02;

/// How a parameter starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// `N(0, std²)`.
    Normal(f64),
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
}

/// One named parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// safetensors key, e.g. `blocks.0.attn.qkv.weight`.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Initialisation.
    pub init: Init,
    /// Whether AdamW's weight decay applies (weight matrices only).
    pub decay: bool,
}

/// Sizes that follow from a config's parameter table ([`param_specs`]).
impl ModelConfig {
    /// An upper estimate of the bytes one training step holds, `None` on overflow: the
    /// weights with their gradients and AdamW moments (`4 ×` the parameters, `f32`), plus the
    /// activations kept for the backward pass of a batch of `batch` contexts of `context`
    /// tokens (the residual stream and its per-block intermediates, the MLP's hidden units,
    /// the attention scores, the output logits). Checked before a run starts, so that a
    /// vocabulary, width or context too large for the machine is an error, not an abort.
    pub fn training_bytes(&self, batch: usize, context: usize) -> Option<u128> {
        use crate::memory::array_bytes;
        let params = self.n_parameters_checked()?;
        let weights = array_bytes(&[params, 6], 4)?;
        let per_token = (self.d_model as u128)
            .checked_mul(12)?
            .checked_add((self.d_ff as u128).checked_mul(3)?)?
            .checked_mul(self.n_layers as u128)?
            .checked_add((self.n_bins as u128).checked_mul(3)?)?;
        let tokens = array_bytes(&[batch, context], 4)?.checked_mul(per_token)?;
        let scores = array_bytes(
            &[batch, self.n_heads, context, context, self.n_layers, 3],
            4,
        )?;
        weights.checked_add(tokens)?.checked_add(scores)
    }

    /// [`ModelConfig::n_parameters`], `None` when it overflows. Counted as the parameters
    /// outside the blocks plus `n_layers` times one block's, so an absurd depth costs nothing
    /// to count.
    pub fn n_parameters_checked(&self) -> Option<usize> {
        let count = |layers: usize| {
            let cfg = ModelConfig {
                n_layers: layers,
                ..self.clone()
            };
            param_specs(&cfg).iter().try_fold(0usize, |acc, p| {
                acc.checked_add(p.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?)
            })
        };
        let outside = count(0)?;
        let block = count(1)?.checked_sub(outside)?;
        outside.checked_add(block.checked_mul(self.n_layers)?)
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        param_specs(self)
            .iter()
            .map(|p| p.shape.iter().product::<usize>())
            .sum()
    }
}

/// Every parameter of a model with `cfg`, in name order.
pub fn param_specs(cfg: &ModelConfig) -> Vec<ParamSpec> {
    let d = cfg.d_model;
    let resid_std = INIT_STD / (2.0 * cfg.n_layers as f64).sqrt();
    let mut out = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, init: Init, decay: bool| {
        out.push(ParamSpec {
            name,
            shape,
            init,
            decay,
        })
    };
    push(
        "embed.gene".into(),
        vec![cfg.n_gene_tokens, d],
        Init::Normal(INIT_STD),
        false,
    );
    // An ordinal row is a sum of up to `n_bins - 1` increments: scaled so the top bin's row
    // starts at the table's spread.
    let value_std = match cfg.value_embedding {
        ValueEmbedding::Table => INIT_STD,
        ValueEmbedding::Ordinal | ValueEmbedding::GeneLevel => {
            INIT_STD / ((cfg.n_bins - 1).max(1) as f64).sqrt()
        }
    };
    if cfg.value_embedding == ValueEmbedding::GeneLevel {
        push(
            "embed.gene_level".into(),
            vec![cfg.n_gene_tokens, d],
            Init::Normal(INIT_STD),
            false,
        );
    }
    push(
        "embed.value".into(),
        vec![cfg.n_bins + 1, d],
        Init::Normal(value_std),
        false,
    );
    if cfg.n_condition_tokens > 0 {
        push(
            "embed.condition".into(),
            vec![cfg.n_condition_tokens, d],
            Init::Normal(INIT_STD),
            false,
        );
    }
    let linear = |push: &mut dyn FnMut(String, Vec<usize>, Init, bool),
                  p: &str,
                  o: usize,
                  i: usize,
                  std: f64| {
        push(format!("{p}.weight"), vec![o, i], Init::Normal(std), true);
        push(format!("{p}.bias"), vec![o], Init::Zeros, false);
    };
    let norm = |push: &mut dyn FnMut(String, Vec<usize>, Init, bool), p: &str| {
        push(format!("{p}.weight"), vec![d], Init::Ones, false);
        push(format!("{p}.bias"), vec![d], Init::Zeros, false);
    };
    for l in 0..cfg.n_layers {
        let b = format!("blocks.{l}");
        norm(&mut push, &format!("{b}.ln1"));
        linear(&mut push, &format!("{b}.attn.qkv"), 3 * d, d, INIT_STD);
        linear(&mut push, &format!("{b}.attn.out"), d, d, resid_std);
        norm(&mut push, &format!("{b}.ln2"));
        linear(&mut push, &format!("{b}.mlp.fc1"), cfg.d_ff, d, INIT_STD);
        linear(&mut push, &format!("{b}.mlp.fc2"), d, cfg.d_ff, resid_std);
    }
    norm(&mut push, "ln_f");
    linear(&mut push, "head", cfg.n_bins, d, INIT_STD);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A model's trainable parameters by name (name order is the canonical order everywhere:
/// initialisation streams, optimizer state, files).
#[derive(Debug, Clone)]
pub struct Params {
    vars: BTreeMap<String, Var>,
    decay: BTreeMap<String, bool>,
}

impl Params {
    /// Fresh parameters for `cfg`, drawn from `seed`.
    ///
    /// # Errors
    /// The config's validation errors, or a device error.
    pub fn init(cfg: &ModelConfig, seed: u64, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let mut vars = BTreeMap::new();
        let mut decay = BTreeMap::new();
        for (k, spec) in param_specs(cfg).into_iter().enumerate() {
            let n: usize = spec.shape.iter().product();
            let values: Vec<f32> = match spec.init {
                Init::Zeros => vec![0.0; n],
                Init::Ones => vec![1.0; n],
                Init::Normal(std) => {
                    let mut rng = stream(seed, DOMAIN_INIT, k as u64);
                    let dist = Normal::new(0.0, std)
                        .map_err(|e| Error::param("init std", std, e.to_string()))?;
                    (0..n).map(|_| dist.sample(&mut rng) as f32).collect()
                }
            };
            let t = Tensor::from_vec(values, spec.shape.as_slice(), device)?;
            decay.insert(spec.name.clone(), spec.decay);
            vars.insert(spec.name, Var::from_tensor(&t)?);
        }
        Ok(Self { vars, decay })
    }

    /// Parameters from tensors (a checkpoint), checked against `cfg`: every expected name
    /// present with its shape, nothing extra.
    ///
    /// # Errors
    /// [`Error::Format`] (with `path`) listing missing, unexpected and mis-shaped tensors.
    pub fn from_tensors(
        cfg: &ModelConfig,
        mut tensors: BTreeMap<String, Tensor>,
        path: &std::path::Path,
    ) -> Result<Self> {
        cfg.validate()?;
        let mut vars = BTreeMap::new();
        let mut decay = BTreeMap::new();
        let mut problems = Vec::new();
        for spec in param_specs(cfg) {
            match tensors.remove(&spec.name) {
                None => problems.push(format!("missing `{}` {:?}", spec.name, spec.shape)),
                Some(t) if t.dims() != spec.shape.as_slice() => problems.push(format!(
                    "`{}` has shape {:?}, the config implies {:?}",
                    spec.name,
                    t.dims(),
                    spec.shape
                )),
                Some(t) => {
                    decay.insert(spec.name.clone(), spec.decay);
                    vars.insert(spec.name, Var::from_tensor(&t)?);
                }
            }
        }
        for name in tensors.keys() {
            problems.push(format!("unexpected tensor `{name}`"));
        }
        if !problems.is_empty() {
            let n = problems.len();
            problems.truncate(8);
            return Err(Error::format(
                path,
                format!(
                    "weights do not match the model config ({n} problem(s)): {}",
                    problems.join("; ")
                ),
            ));
        }
        Ok(Self { vars, decay })
    }

    /// The tensor `name`.
    ///
    /// # Errors
    /// [`Error::Format`] if there is no such parameter (a bug in the caller's config).
    pub fn get(&self, name: &str) -> Result<Tensor> {
        self.vars
            .get(name)
            .map(|v| v.as_tensor().clone())
            .ok_or_else(|| Error::format("", format!("no parameter `{name}`")))
    }

    /// `(name, var)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Var)> {
        self.vars.iter()
    }

    /// Whether weight decay applies to `name`.
    pub fn decays(&self, name: &str) -> bool {
        self.decay.get(name).copied().unwrap_or(false)
    }

    /// Number of scalars.
    pub fn n_scalars(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }
}
