//! The `cellsindy` command line and the workflows behind it, over the [`cellsindy`] library.
//!
//! Two layers, each depending only on the one below and on the library:
//!
//! - [`args`]: the command line as clap parses it, and its conversion into workflow configs.
//!   The demo's report prints the command behind each of its steps from these same structs.
//! - [`pipeline`]: one workflow per command (config in, report out). No algorithm lives here:
//!   each step calls the library.
//!
//! The binary (`src/main.rs`) parses, dispatches and prints; nothing else. Without the default
//! feature `bin` the crate is the workflows alone (no clap): what the notebooks build.

// The argument docs are clap's help text, where `[model]` is a TOML table, not a link.
#[allow(rustdoc::broken_intra_doc_links)]
#[cfg(feature = "bin")]
pub mod args;
pub mod pipeline;
