//! Arbitrary bytes into the CSV/TSV parser (the first byte picks the separator and options):
//! it must return `Ok` or `Err`, never panic, and what it accepts must be consistent.
#![no_main]

use cellsindy::expression::io::delimited::parse_delimited_bytes;
use cellsindy::expression::io::ReadOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, text)) = data.split_first() else {
        return;
    };
    let sep = if flags & 1 == 0 { b',' } else { b'\t' };
    let opts = ReadOptions {
        make_unique: flags & 2 != 0,
        cells_as_rows: match (flags >> 2) & 3 {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        },
        force_sparse: flags & 16 != 0,
        gex_only: true,
    };
    let Ok(m) = parse_delimited_bytes(text, sep, &opts) else {
        return;
    };
    let (n, g) = m.values().dim();
    assert_eq!((n, g), (m.n_cells(), m.n_genes()));
    assert!(n > 0 && g > 0);
    // Non-blank lines: one header and one per row of the file.
    let body = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let lines = body
        .split(|&c| c == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count();
    let file_rows = if m.cells().len() + 1 == lines { n } else { g };
    assert_eq!(file_rows + 1, lines);
    assert!(m
        .values()
        .to_dense()
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0));
});
