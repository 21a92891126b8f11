//! (issue 3) h5ad tests.
