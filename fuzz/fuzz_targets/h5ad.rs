//! Arbitrary bytes as an `.h5ad` file: the reader must return `Ok` or `Err`, never panic, and
//! never allocate for more than the file holds (the run's `-rss_limit_mb` catches that).
//!
//! The reader works on files (positioned reads), so each input is written to one scratch file
//! per fuzzing process first.
#![no_main]

use cellsindy::expression::io::h5ad::read_h5ad;
use cellsindy::expression::io::ReadOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("cellsindy-fuzz-{}.h5ad", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for opts in [
        ReadOptions::default(),
        ReadOptions {
            force_sparse: true,
            make_unique: true,
            ..ReadOptions::default()
        },
    ] {
        if let Ok(m) = read_h5ad(&path, &opts) {
            assert_eq!(m.genes().symbols.len(), m.n_genes());
            assert_eq!(m.cells().len(), m.n_cells());
        }
    }
});
