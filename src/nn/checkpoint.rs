//! Checkpoints are directories:
//!
//! | file | contents |
//! |---|---|
//! | `config.json` | format name, schema version, [`ModelConfig`] |
//! | `tokenizer.json` | [`GeneTokenizer`] (vocabulary, binning, sampling, conditions) |
//! | `model.safetensors` | weights, keys as in [`super::init::param_specs`] |
//! | `train_state.json` | (training checkpoints) step, [`TrainConfig`], loss history |
//! | `optimizer.safetensors` | (training checkpoints) AdamW moments `m.<param>`, `v.<param>` |
//!
//! **Atomic, and only over its own.** The directory is written through
//! [`crate::io::output::Output`]: in full under a temporary name beside the target, then
//! renamed into place, so a crash leaves either the old checkpoint or the new one, never a
//! mixture; an existing directory that holds anything but a checkpoint of ours is refused,
//! never replaced.
//!
//! **Loading checks everything**: schema version, config validity, tokenizer sizes against
//! the config, every weight's presence, shape and finiteness against the config, and the
//! optimizer state against the weights, each with an [`Error::Format`] naming the file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::config::{ModelConfig, TrainConfig};
use super::history::History;
use super::init::Params;
use super::optim::AdamW;
use super::store::{self, HostTensor};
use crate::error::{Error, Result};
use crate::io::output::Output;
use crate::io::write_atomic;
use crate::tokenize::GeneTokenizer;

/// Name in `config.json`.
pub const FORMAT_NAME: &str = "cellsindy-gene-transformer";
/// Schema version written and accepted.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    format: String,
    version: u32,
    model: ModelConfig,
}

/// Where a training run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: usize,
    /// The run's settings (a resume continues to `train.steps`).
    pub train: TrainConfig,
    /// Loss and validation history.
    pub history: History,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// Architecture.
    pub config: ModelConfig,
    /// Tokenizer.
    pub tokenizer: GeneTokenizer,
    /// Weights.
    pub params: Params,
    /// Training state and optimizer, when the checkpoint has them.
    pub train: Option<(TrainState, AdamW)>,
}

/// Writes a checkpoint directory at `dir` (atomically, and never over a directory that is not
/// ours; see the module docs).
///
/// # Errors
/// [`Error::OutputRefused`] when `dir` is not ours to replace; [`Error::Io`] on any
/// file-system failure (the target is left as it was).
pub fn save(
    dir: &Path,
    config: &ModelConfig,
    tokenizer: &GeneTokenizer,
    params: &Params,
    train: Option<(&TrainState, &AdamW)>,
) -> Result<()> {
    let out = Output::dir(dir, &[])?;
    write_contents(out.path(), config, tokenizer, params, train)?;
    out.commit()?;
    Ok(())
}

fn write_contents(
    dir: &Path,
    config: &ModelConfig,
    tokenizer: &GeneTokenizer,
    params: &Params,
    train: Option<(&TrainState, &AdamW)>,
) -> Result<()> {
    let cfg = ConfigFile {
        format: FORMAT_NAME.into(),
        version: SCHEMA_VERSION,
        model: config.clone(),
    };
    write_atomic(
        &dir.join("config.json"),
        serde_json::to_string_pretty(&cfg)?.as_bytes(),
    )?;
    write_atomic(
        &dir.join("tokenizer.json"),
        serde_json::to_string(tokenizer)?.as_bytes(),
    )?;
    let mut weights = BTreeMap::new();
    for (name, var) in params.iter() {
        weights.insert(
            name.clone(),
            HostTensor::f32(var.dims().to_vec(), var.flatten_all()?.to_vec1::<f32>()?),
        );
    }
    store::write(&dir.join("model.safetensors"), &weights, HashMap::new())?;
    if let Some((state, opt)) = train {
        write_atomic(
            &dir.join("train_state.json"),
            serde_json::to_string_pretty(state)?.as_bytes(),
        )?;
        let mut moments = BTreeMap::new();
        for (k, (name, var)) in params.iter().enumerate() {
            let shape = var.dims().to_vec();
            moments.insert(
                format!("m.{name}"),
                HostTensor::f32(shape.clone(), opt.m[k].clone()),
            );
            moments.insert(
                format!("v.{name}"),
                HostTensor::f32(shape, opt.v[k].clone()),
            );
        }
        let meta = HashMap::from([("t".to_string(), opt.t.to_string())]);
        store::write(&dir.join("optimizer.safetensors"), &moments, meta)?;
    }
    Ok(())
}

/// A NaN or infinite weight makes every prediction garbage (all probabilities 0): refused at
/// load, naming the tensor and the first bad entry.
fn check_finite_tensor(path: &Path, name: &str, values: &[f32]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(k) => Err(Error::format(
            path,
            format!(
                "tensor `{name}` has a non-finite value ({}) at flat index {k} of {}: the checkpoint is damaged, or its training diverged",
                values[k],
                values.len()
            ),
        )),
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = crate::io::input::read_text(path)?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, format!("invalid JSON: {e}")))
}

/// Loads a checkpoint directory onto `device` (see the module docs for the checks).
///
/// # Errors
/// [`Error::Io`] for a missing file, [`Error::Format`] for anything inconsistent.
pub fn load(dir: &Path, device: &Device) -> Result<Checkpoint> {
    if !dir.is_dir() {
        return Err(Error::format(dir, "not a checkpoint directory (expected config.json, tokenizer.json, model.safetensors inside)"));
    }
    let cfg_path = dir.join("config.json");
    let cfg: ConfigFile = read_json(&cfg_path)?;
    if cfg.format != FORMAT_NAME {
        return Err(Error::format(
            &cfg_path,
            format!("format `{}`, expected `{FORMAT_NAME}`", cfg.format),
        ));
    }
    if cfg.version != SCHEMA_VERSION {
        return Err(Error::format(
            &cfg_path,
            format!(
                "schema version {} (this build reads {SCHEMA_VERSION})",
                cfg.version
            ),
        ));
    }
    let config = cfg.model;
    config
        .validate()
        .map_err(|e| Error::format(&cfg_path, e.to_string()))?;
    let tok_path = dir.join("tokenizer.json");
    let tokenizer: GeneTokenizer = read_json(&tok_path)?;
    let expect = [
        (
            "n_gene_tokens",
            tokenizer.vocab.n_tokens(),
            config.n_gene_tokens,
        ),
        ("n_bins", tokenizer.binning.n_bins as usize, config.n_bins),
        (
            "n_condition_tokens",
            tokenizer.n_condition_tokens(),
            config.n_condition_tokens,
        ),
        (
            "n_condition_fields",
            tokenizer.conditions.len(),
            config.n_condition_fields,
        ),
    ];
    for (what, tok, model) in expect {
        if tok != model {
            return Err(Error::format(
                &tok_path,
                format!("tokenizer implies {what} = {tok}, config.json says {model}"),
            ));
        }
    }
    let w_path = dir.join("model.safetensors");
    let (tensors, _) = store::read(&w_path)?;
    let mut on_device = BTreeMap::new();
    for (name, t) in tensors {
        let v = t
            .as_f32()
            .map_err(|_| Error::format(&w_path, format!("weight `{name}` is not f32")))?;
        check_finite_tensor(&w_path, &name, v)?;
        on_device.insert(
            name,
            Tensor::from_vec(v.to_vec(), t.shape.as_slice(), device)?,
        );
    }
    let params = Params::from_tensors(&config, on_device, &w_path)?;
    let state_path = dir.join("train_state.json");
    let train = if state_path.exists() {
        let state: TrainState = read_json(&state_path)?;
        state
            .train
            .validate()
            .map_err(|e| Error::format(&state_path, e.to_string()))?;
        let o_path = dir.join("optimizer.safetensors");
        let (mut moments, meta) = store::read(&o_path)?;
        let t: u64 = meta
            .get("t")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| Error::format(&o_path, "missing step count `t` in metadata"))?;
        let mut m = Vec::new();
        let mut v = Vec::new();
        for (name, var) in params.iter() {
            for (prefix, out) in [("m", &mut m), ("v", &mut v)] {
                let key = format!("{prefix}.{name}");
                let x = moments
                    .remove(&key)
                    .ok_or_else(|| Error::format(&o_path, format!("missing `{key}`")))?;
                if x.shape != var.dims() {
                    return Err(Error::format(
                        &o_path,
                        format!("`{key}` has shape {:?}, weights {:?}", x.shape, var.dims()),
                    ));
                }
                let values = x
                    .as_f32()
                    .map_err(|_| Error::format(&o_path, format!("`{key}` is not f32")))?;
                check_finite_tensor(&o_path, &key, values)?;
                out.push(values.to_vec());
            }
        }
        Some((state, AdamW { m, v, t }))
    } else {
        None
    };
    Ok(Checkpoint {
        config,
        tokenizer,
        params,
        train,
    })
}
