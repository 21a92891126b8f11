#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The one integration-test binary (ripgrep style: one link, topic modules).

mod common;

mod bad_input;
mod cli;
mod golden;
mod lorenz;
mod model;
mod systems;
