//! Arbitrary bytes into the Matrix Market parser: it must return `Ok` or `Err`, never panic,
//! and what it accepts must agree with a slow reference parser.
#![no_main]

use cellsindy::expression::io::mtx::{parse_mtx_bytes, MtxHeader};
use cellsindy::expression::CsrMatrix;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // No input is skipped: a size line announcing more cells than the bytes can back is an
    // error now, not an allocation (the run's -rss_limit_mb would catch one).
    let header = MtxHeader::from_bytes(data);
    let Ok(m) = parse_mtx_bytes(data) else {
        return;
    };
    let h = header.expect("accepted files have a header");
    assert_eq!((m.n_rows(), m.n_cols()), (h.n_cols, h.n_rows));
    assert!(m.nnz() <= h.nnz);
    assert!(m.data().iter().all(|v| v.is_finite() && *v > 0.0));
    // Reference: split on whitespace, std number parsing, scipy-like triplets -> CSR.
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n').skip(h.size_line);
    let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    for l in lines.by_ref() {
        let t: Vec<&str> = l.split_ascii_whitespace().collect();
        if t.is_empty() || t[0].starts_with('%') {
            continue;
        }
        let g: u32 = t[0].parse().expect("row");
        let c: u32 = t[1].parse().expect("col");
        let v: f32 = match t.get(2) {
            Some(v) => v.parse::<f64>().expect("value") as f32,
            None => 1.0,
        };
        rows.push(c - 1);
        cols.push(g - 1);
        vals.push(v);
    }
    assert_eq!(rows.len(), h.nnz);
    let r = CsrMatrix::from_triplets(h.n_cols, h.n_rows, &rows, &cols, &vals).expect("reference");
    assert_eq!(r.indptr(), m.indptr());
    assert_eq!(r.indices(), m.indices());
    for (a, b) in r.data().iter().zip(m.data()) {
        // Duplicates may be summed in another order.
        assert!((a - b).abs() <= 1e-5 * a.abs().max(b.abs()), "{a} vs {b}");
    }
});
