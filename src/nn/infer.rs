//! Inference: imputation, generation and activation capture.
