//! The synthetic brain: a deterministic, seeded generator of single-cell expression with a known
//! regulatory network (the ground truth every gene-side result is scored against).
//!
//! STUB: to be written (issue 3).
