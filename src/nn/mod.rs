//! The gene transformer, hosted in candle: model, masked-diffusion training, checkpoints,
//! imputation, generation and activation capture. candle is used only inside this module.
//!
//! Pipeline: [`crate::tokenize`] turns cells into gene tokens; [`Trainer`] fits a
//! [`GeneTransformer`] with the masked (absorbing-state) diffusion objective; [`checkpoint`]
//! saves and loads it; [`infer`] imputes masked genes, generates cells by iterative unmasking
//! and captures activations ([`infer::capture_masked`] at masked genes); [`sae`] learns a sparse dictionary
//! over captured activations; [`masked`] runs many differently-masked variants of cells (the
//! occlusion and distillation queries of [`crate::rules::distill_model`]).

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod evaluate;
pub mod history;
pub mod infer;
pub mod init;
pub mod masked;
pub mod model;
pub mod ops;
pub mod optim;
pub mod sae;
pub mod store;
pub mod train;

pub use checkpoint::Checkpoint;
pub use config::{
    Architecture, MaskSchedule, ModelConfig, RunConfig, TokenizerConfig, TrainConfig,
    ValueEmbedding,
};
pub use data::TrainData;
pub use history::History;
pub use init::Params;
pub use model::{Ablation, CaptureSpec, GeneTransformer, ModelInput};
pub use sae::{SaeParams, SparseAutoencoder};
pub use train::{TrainEvent, Trainer};
