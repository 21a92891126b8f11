//! What a training run records: every step and every validation. Kept apart from the trainer
//! so that checkpoints (which store it) need not depend on training.

use serde::{Deserialize, Serialize};

/// One optimizer step's record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// 1-based step number.
    pub step: usize,
    /// Training loss.
    pub loss: f32,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Gene tokens in the batch.
    pub tokens: usize,
}

/// One validation record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValRecord {
    /// Step after which it was measured.
    pub step: usize,
    /// Validation loss (same objective, fixed masks).
    pub loss: f32,
    /// Fraction of masked genes whose most probable bin is the true bin.
    pub accuracy: f32,
    /// Masked genes scored.
    pub n_masked: usize,
}

/// Loss curves of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// Every validation.
    pub validation: Vec<ValRecord>,
}
