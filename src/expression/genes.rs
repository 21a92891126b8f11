//! Matching a dataset's genes to a vocabulary.
//!
//! STUB: to be written (issue 3).
