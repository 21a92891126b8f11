//! (issue 3) synthetic tests.
