//! (issue 3) text_formats tests.
