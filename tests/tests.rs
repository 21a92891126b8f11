#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The one integration-test binary (ripgrep style: one link, topic modules).

mod common;

mod auto_sparsity;
mod bad_input;
mod expression;
mod golden;
mod h5ad;
mod lorenz;
mod model;
mod probes;
mod rules;
mod scaling;
mod stats;
mod synthetic;
mod systems;
mod text_formats;
mod transformer;
