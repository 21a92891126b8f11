//! (issue 3) expression tests.
