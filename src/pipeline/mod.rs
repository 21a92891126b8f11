//! Orchestration shared by the CLI and examples (no algorithms here).
