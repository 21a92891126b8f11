#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The CLI crate's one integration-test binary: the `cellsindy` binary and the workflows behind
//! it (the library's own tests are in the root `tests/`).

#[path = "../../tests/common/mod.rs"]
mod common;

mod cli;
mod demo;
mod probes;
mod rules;
mod safety;
mod scaling;
