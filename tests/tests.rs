//! The one integration-test binary (ripgrep style: one link, topic modules).

mod common;

mod bad_input;
mod golden;
mod lorenz;
mod model;
mod systems;
