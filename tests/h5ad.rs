//! AnnData `.h5ad`: fixtures written by anndata 0.12 / 0.7.8 / 0.6.22 (tests/data/h5ad, made by
//! `make_fixtures.py`), Rust round trips, streaming, bad inputs, and a round trip through
//! Python's anndata (skipped without a Python that has anndata, unless
//! `CELLSINDY_REQUIRE_PYTHON=1`).

use std::path::{Path, PathBuf};
use std::process::Command;

use cellsindy::expression::io::h5ad::{
    h5ad_matrices, read_h5ad, write_h5ad, H5adChunks, H5adCompression, H5adWriteOptions,
};
use cellsindy::expression::io::{
    read_expression, read_picked_cells, stream_cells, CellChunks, MatrixChoice, ReadOptions,
};
use cellsindy::expression::kind::{to_model_scale, MatrixKind};
use cellsindy::expression::{CsrMatrix, ExpressionMatrix, GeneTable, ObsColumn, RawValues, Values};
use cellsindy::Error;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/h5ad")
        .join(name)
}

fn opts() -> ReadOptions {
    ReadOptions::default()
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn dense_of(v: &Value) -> Array2<f64> {
    let rows = v.as_array().unwrap();
    let n = rows.len();
    let g = rows.first().map_or(0, |r| r.as_array().unwrap().len());
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    Array2::from_shape_vec((n, g), flat).unwrap()
}

fn assert_values(what: &str, got: &Values, want: &Value) {
    let want = dense_of(want);
    let got = got.to_dense();
    assert_eq!(got.dim(), want.dim(), "{what}: shape");
    for ((i, j), &w) in want.indexed_iter() {
        let g = f64::from(got[(i, j)]);
        assert!(
            (g - w).abs() <= 1e-6 * w.abs().max(1.0),
            "{what}[{i},{j}] = {g}, anndata wrote {w}"
        );
    }
}

fn assert_genes(what: &str, got: &GeneTable, symbols: &Value, ids: &Value) {
    assert_eq!(got.symbols, strings(symbols), "{what}: symbols");
    match ids {
        Value::Null => assert_eq!(got.ids, None, "{what}: ids"),
        ids => assert_eq!(got.ids.as_deref(), Some(&strings(ids)[..]), "{what}: ids"),
    }
}

/// Everything the JSON says anndata wrote, against what the reader returns.
fn assert_matches_fixture(name: &str) -> ExpressionMatrix {
    let m = read_h5ad(&fixture(&format!("{name}.h5ad")), &opts())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let e = expected(name);
    assert_values(name, m.values(), &e["X"]);
    assert_eq!(m.cells(), strings(&e["obs_names"]), "{name}: cells");
    assert_genes(name, m.genes(), &e["gene_symbols"], &e["gene_ids"]);
    let cols = e["obs"].as_array().unwrap();
    let names: Vec<&str> = m.obs().iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> = cols.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, want_names, "{name}: obs columns");
    for c in cols {
        let col_name = c["name"].as_str().unwrap();
        let got = m.obs_column(col_name).unwrap();
        match (c["kind"].as_str().unwrap(), got) {
            ("categorical", ObsColumn::Categorical { categories, codes }) => {
                assert_eq!(categories, &strings(&c["categories"]), "{name}.{col_name}");
                let want: Vec<i32> = c["codes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_i64().unwrap() as i32)
                    .collect();
                assert_eq!(codes, &want, "{name}.{col_name}");
            }
            ("text", ObsColumn::Text(v)) => assert_eq!(v, &strings(&c["values"])),
            ("numeric", ObsColumn::Numeric(v)) => {
                let want = c["values"].as_array().unwrap();
                assert_eq!(v.len(), want.len());
                for (g, w) in v.iter().zip(want) {
                    match w.as_f64() {
                        Some(w) => assert_eq!(*g, w, "{name}.{col_name}"),
                        None => assert!(g.is_nan(), "{name}.{col_name}: {g} should be missing"),
                    }
                }
            }
            (kind, got) => panic!("{name}.{col_name}: expected {kind}, read {got:?}"),
        }
    }
    match (&e["raw"], m.raw()) {
        (Value::Null, None) => {}
        (Value::Null, Some(_)) => panic!("{name}: raw read but anndata wrote none"),
        (_, None) => panic!("{name}: raw not read"),
        (raw, Some(r)) => {
            assert_values(&format!("{name} raw"), &r.values, &raw["X"]);
            assert_genes(
                &format!("{name} raw"),
                &r.genes,
                &raw["gene_symbols"],
                &raw["gene_ids"],
            );
        }
    }
    m
}

#[test]
fn current_layout_csr_with_raw_and_obs_types() {
    let m = assert_matches_fixture("csr");
    assert!(matches!(m.values(), Values::Sparse(_)));
    // Bool becomes 0/1, a nullable integer NaN where masked (checked against the JSON above).
    assert!(m.obs_column("is_doublet").is_some());
    let ObsColumn::Numeric(v) = m.obs_column("n_genes_nullable").unwrap() else {
        panic!("nullable int should be numeric")
    };
    assert!(v[1].is_nan() && v[0] == 3.0);
    // Missing categorical value is code -1.
    let ObsColumn::Categorical { codes, .. } = m.obs_column("cell_type").unwrap() else {
        panic!()
    };
    assert_eq!(codes[1], -1);
    assert_eq!(m.raw().unwrap().genes.len(), 7);
}

#[test]
fn current_layout_dense_gzip_and_force_sparse() {
    let m = assert_matches_fixture("dense_gzip");
    assert!(matches!(m.values(), Values::Dense(_)));
    let s = read_h5ad(
        &fixture("dense_gzip.h5ad"),
        &ReadOptions {
            force_sparse: true,
            ..opts()
        },
    )
    .unwrap();
    assert!(matches!(s.values(), Values::Sparse(_)));
    assert_eq!(s.values().to_dense(), m.values().to_dense());
}

#[test]
fn current_layout_csc_int64_lzf() {
    let m = assert_matches_fixture("csc_lzf");
    assert!(matches!(m.values(), Values::Sparse(_)));
}

#[test]
fn ensembl_index_with_feature_name_gives_symbols_and_ids() {
    let m = assert_matches_fixture("ensembl");
    assert_eq!(m.genes().symbols[0], "CD3E");
    assert_eq!(m.genes().ids.as_ref().unwrap()[0], "ENSG00000198851");
}

#[test]
fn anndata_07_layout() {
    assert_matches_fixture("v07_csr");
}

#[test]
fn anndata_06_layout() {
    let m = assert_matches_fixture("v06_csr");
    assert!(matches!(
        m.obs_column("cell_type"),
        Some(ObsColumn::Categorical { .. })
    ));
}

#[test]
fn read_expression_dispatches_to_h5ad() {
    let m = read_expression(&fixture("csr.h5ad"), &opts()).unwrap();
    assert_eq!((m.n_cells(), m.n_genes()), (6, 5));
}

/// A seeded matrix with everything the writer handles: sparse counts, categorical (with a
/// missing value), numeric and text obs columns, gene ids, raw over more genes.
fn synthetic(n_cells: usize, n_genes: usize, seed: u64) -> ExpressionMatrix {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n_raw = n_genes + 5;
    let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n_cells {
        for j in 0..n_raw {
            if rng.random::<f64>() < 0.3 {
                r.push(i as u32);
                c.push(j as u32);
                v.push(rng.random_range(1..20) as f32);
            }
        }
    }
    let counts = CsrMatrix::from_triplets(n_cells, n_raw, &r, &c, &v).unwrap();
    let raw_genes = GeneTable {
        symbols: (0..n_raw).map(|j| format!("Gene{j}")).collect(),
        ids: Some((0..n_raw).map(|j| format!("ENSG{:011}", j + 1)).collect()),
    };
    let keep: Vec<usize> = (0..n_genes).collect();
    let mut x = counts.select_cols(&keep).unwrap();
    for d in x.data_mut() {
        *d = d.ln_1p();
    }
    let genes = GeneTable {
        symbols: raw_genes.symbols[..n_genes].to_vec(),
        ids: raw_genes.ids.as_ref().map(|i| i[..n_genes].to_vec()),
    };
    let cells: Vec<String> = (0..n_cells).map(|i| format!("AAAC-{i}")).collect();
    let types = ["T cell", "B cell", "NK", "Mono"];
    let mut codes: Vec<i32> = (0..n_cells).map(|_| rng.random_range(0..4)).collect();
    codes[0] = -1;
    let lib = (0..n_cells)
        .map(|i| f64::from(counts.row(i).1.iter().sum::<f32>()))
        .collect();
    ExpressionMatrix::new(Values::Sparse(x), genes, cells.clone())
        .unwrap()
        .with_obs(
            "cell_type",
            ObsColumn::Categorical {
                categories: types.iter().map(|s| s.to_string()).collect(),
                codes,
            },
        )
        .unwrap()
        .with_obs("n_counts", ObsColumn::Numeric(lib))
        .unwrap()
        .with_obs(
            "barcode",
            ObsColumn::Text(cells.iter().map(|c| format!("{c}-bc")).collect()),
        )
        .unwrap()
        .with_raw(RawValues {
            values: Values::Sparse(counts),
            genes: raw_genes,
        })
        .unwrap()
}

#[test]
fn rust_round_trip_all_compressions() {
    let dir = tempfile::tempdir().unwrap();
    let m = synthetic(50, 30, 7);
    for (i, compression) in [
        None,
        Some(H5adCompression::Gzip(4)),
        Some(H5adCompression::Lzf),
    ]
    .into_iter()
    .enumerate()
    {
        let p = dir.path().join(format!("m{i}.h5ad"));
        write_h5ad(&m, &p, &H5adWriteOptions { compression }).unwrap();
        let back = read_h5ad(&p, &opts()).unwrap();
        assert_eq!(back, m, "compression {compression:?}");
    }
    // No temporary file is left beside the output.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn rust_round_trip_dense_and_empty() {
    let dir = tempfile::tempdir().unwrap();
    let x = Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f32 * 0.5);
    let genes = GeneTable::from_symbols(vec!["a".into(), "b".into(), "c".into()]);
    let cells: Vec<String> = (0..4).map(|i| format!("c{i}")).collect();
    let m = ExpressionMatrix::new(Values::Dense(x), genes.clone(), cells.clone()).unwrap();
    let p = dir.path().join("dense.h5ad");
    write_h5ad(&m, &p, &H5adWriteOptions::default()).unwrap();
    assert_eq!(read_h5ad(&p, &opts()).unwrap(), m);
    let p = dir.path().join("dense_gz.h5ad");
    let gz = H5adWriteOptions {
        compression: Some(H5adCompression::Gzip(6)),
    };
    write_h5ad(&m, &p, &gz).unwrap();
    assert_eq!(read_h5ad(&p, &opts()).unwrap(), m);
    // All-zero sparse matrix (nnz = 0).
    let z = CsrMatrix::from_triplets(4, 3, &[], &[], &[]).unwrap();
    let m = ExpressionMatrix::new(Values::Sparse(z), genes, cells).unwrap();
    let p = dir.path().join("zero.h5ad");
    write_h5ad(&m, &p, &gz).unwrap();
    assert_eq!(read_h5ad(&p, &opts()).unwrap(), m);
}

#[test]
fn write_rejects_unstorable_column_names_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let m = synthetic(5, 4, 1)
        .with_obs("_index", ObsColumn::Numeric(vec![0.0; 5]))
        .unwrap();
    let p = dir.path().join("x.h5ad");
    let err = write_h5ad(&m, &p, &H5adWriteOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("_index"), "{err}");
    assert!(!p.exists());
    // A categorical code past its categories.
    let m = synthetic(5, 4, 1)
        .with_obs(
            "bad",
            ObsColumn::Categorical {
                categories: vec!["a".into()],
                codes: vec![0, 1, 0, -1, 0],
            },
        )
        .unwrap();
    let err = write_h5ad(&m, &p, &H5adWriteOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidParam { .. }), "{err}");
    assert!(err.to_string().contains("`bad`"), "{err}");
    assert!(!p.exists());
    // Into a directory that does not exist: an I/O error, no stray file.
    let p = dir.path().join("missing/x.h5ad");
    let err = write_h5ad(&synthetic(5, 4, 1), &p, &H5adWriteOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

fn collect_chunks(chunks: &mut dyn CellChunks) -> (Vec<String>, CsrMatrix, Vec<usize>) {
    let mut cells = Vec::new();
    let mut parts = Vec::new();
    let mut sizes = Vec::new();
    for c in chunks {
        let c = c.unwrap();
        assert_eq!(c.start, cells.len());
        assert_eq!(c.cells.len(), c.values.n_rows());
        sizes.push(c.values.n_rows());
        cells.extend(c.cells);
        parts.push(c.values);
    }
    (cells, CsrMatrix::vstack(&parts).unwrap(), sizes)
}

#[test]
fn streaming_chunks_stack_to_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.h5ad");
    write_h5ad(&synthetic(203, 17, 3), &big, &H5adWriteOptions::default()).unwrap();
    let big_gz = dir.path().join("big_gz.h5ad");
    let gz = H5adWriteOptions {
        compression: Some(H5adCompression::Gzip(4)),
    };
    write_h5ad(&synthetic(203, 17, 3), &big_gz, &gz).unwrap();
    for (path, chunk) in [
        (big.clone(), 50),
        (big_gz, 64),
        (fixture("csr.h5ad"), 4),
        (fixture("dense_gzip.h5ad"), 2),
        (fixture("csc_lzf.h5ad"), 3),
        (fixture("v06_csr.h5ad"), 2),
    ] {
        let whole = read_h5ad(&path, &opts()).unwrap();
        let mut s = H5adChunks::open(&path, chunk, &opts()).unwrap();
        assert_eq!(s.n_cells(), Some(whole.n_cells()));
        assert_eq!(s.genes(), whole.genes());
        let (cells, stacked, sizes) = collect_chunks(&mut s);
        assert_eq!(cells, whole.cells(), "{}", path.display());
        assert_eq!(stacked, whole.values().to_sparse(), "{}", path.display());
        assert!(sizes.iter().all(|&n| n <= chunk && n > 0));
        assert_eq!(sizes.len(), whole.n_cells().div_ceil(chunk));
    }
    // Through the format-agnostic entry point.
    let mut s = stream_cells(&big, 1000, &opts()).unwrap();
    let (cells, _, sizes) = collect_chunks(s.as_mut());
    assert_eq!((cells.len(), sizes), (203, vec![203]));
    assert!(matches!(
        H5adChunks::open(&big, 0, &opts()),
        Err(Error::InvalidParam { .. })
    ));
}

#[test]
fn picked_cells_are_the_whole_reads_rows_at_any_chunk_size() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.h5ad");
    let m = synthetic(203, 17, 3);
    write_h5ad(&m, &big, &H5adWriteOptions::default()).unwrap();
    let picks: [&[usize]; 3] = [&[0, 1, 49, 50, 51, 150, 202], &[], &[202]];
    for chunk in [1, 7, 50, 1000] {
        for want in picks {
            let p = read_picked_cells(&big, &opts(), chunk, &mut |n| {
                assert_eq!(n, 203);
                Ok(want.to_vec())
            })
            .unwrap();
            assert_eq!(p.n_cells, 203);
            assert_eq!(p.index, want);
            let whole = m.select_cells(want).unwrap();
            assert_eq!(p.matrix.cells(), whole.cells(), "chunk {chunk}");
            assert_eq!(p.matrix.values().to_sparse(), whole.values().to_sparse());
            // The kind sample is the file's first cells, whatever was picked.
            let first: Vec<usize> = (0..203).collect();
            let sample = m.select_cells(&first).unwrap().values().to_sparse();
            assert_eq!(p.kind_sample, sample);
        }
    }
    // A layer, streamed.
    let layered = fixture("processed_layers.h5ad");
    let o = ReadOptions {
        matrix: MatrixChoice::Layer("counts".into()),
        ..opts()
    };
    let whole = read_h5ad(&layered, &o).unwrap();
    let last = whole.n_cells() - 1;
    let p = read_picked_cells(&layered, &o, 3, &mut |_| Ok(vec![1, last])).unwrap();
    assert_eq!(
        p.matrix.values().to_sparse(),
        whole.select_cells(&[1, last]).unwrap().values().to_sparse()
    );
    // Picks out of order or range are errors, as are the picker's own.
    for bad in [vec![5, 5], vec![9, 3], vec![203]] {
        let e = read_picked_cells(&big, &opts(), 50, &mut |_| Ok(bad.clone())).unwrap_err();
        assert!(matches!(e, Error::InvalidParam { .. }), "{e}");
    }
    let e = read_picked_cells(&big, &opts(), 50, &mut |_| {
        Err(Error::param("pick", 0, "no"))
    })
    .unwrap_err();
    assert!(matches!(e, Error::InvalidParam { .. }), "{e}");
}

// ---------- bad inputs: an error that says what is wrong, never a panic ----------

fn read_err(path: &Path) -> Error {
    match read_h5ad(path, &opts()) {
        Ok(_) => panic!("{} should not read", path.display()),
        Err(e) => e,
    }
}

fn assert_format_error(e: &Error, needles: &[&str]) {
    let msg = e.to_string();
    assert!(
        matches!(e, Error::Format { .. }),
        "not a format error: {msg}"
    );
    for n in needles {
        assert!(msg.contains(n), "`{msg}` should mention `{n}`");
    }
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("csr.h5ad")).unwrap();
    for keep in [bytes.len() / 2, 200, 2000, bytes.len() - 100] {
        let p = dir.path().join(format!("cut{keep}.h5ad"));
        std::fs::write(&p, &bytes[..keep]).unwrap();
        let e = read_err(&p);
        assert_format_error(&e, &["cut"]);
        assert!(H5adChunks::open(&p, 10, &opts()).is_err());
    }
    let p = dir.path().join("cut_half.h5ad");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert_format_error(&read_err(&p), &["truncated"]);
}

/// Found by the `h5ad` fuzz target (fuzz/README.md): claims a file cannot back made
/// `hdf5-pure` allocate gigabytes before reading: a dataset whose elements claim 436 MB each
/// (3.5 GB for a 32 kB file), and a chunk index entry claiming 4.2 GB past the end of a 45 kB
/// file. Both claims are now checked against the file's size first.
#[test]
fn size_claims_a_file_cannot_back_are_errors_not_allocations() {
    let e = read_err(&fixture("fuzz_huge_element.h5ad"));
    assert_format_error(&e, &["X/data", "cannot come from a 31981-byte file"]);
    let e = read_err(&fixture("fuzz_huge_chunk.h5ad"));
    assert_format_error(&e, &["X/indptr", "past the end of the 44856-byte file"]);
}

#[test]
fn not_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("table.h5ad");
    std::fs::write(&p, "gene,cell1\nActb,3\n").unwrap();
    assert_format_error(&read_err(&p), &["table.h5ad", "not an HDF5 file"]);
    let p = dir.path().join("empty.h5ad");
    std::fs::write(&p, "").unwrap();
    assert_format_error(&read_err(&p), &["not an HDF5 file"]);
    let e = read_err(&dir.path().join("absent.h5ad"));
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

#[test]
fn hdf5_without_x() {
    assert_format_error(
        &read_err(&fixture("no_x.h5ad")),
        &["no_x.h5ad", "no `X` matrix"],
    );
    assert!(H5adChunks::open(&fixture("no_x.h5ad"), 2, &opts()).is_err());
}

#[test]
fn indptr_inconsistent_with_shape() {
    assert_format_error(
        &read_err(&fixture("bad_indptr.h5ad")),
        &["X/indptr", "3 entries", "expected 4"],
    );
    assert!(H5adChunks::open(&fixture("bad_indptr.h5ad"), 2, &opts()).is_err());
}

#[test]
fn indices_out_of_range() {
    let e = read_err(&fixture("bad_indices.h5ad"));
    assert_format_error(&e, &["X/indices", "is 7", "outside 0..3"]);
    // Streaming finds it in the chunk that holds it, and then stops.
    let mut s = H5adChunks::open(&fixture("bad_indices.h5ad"), 1, &opts()).unwrap();
    let results: Vec<_> = s.by_ref().collect();
    assert!(results.last().unwrap().is_err());
    assert!(s.next().is_none());
}

#[test]
fn nan_in_x() {
    let e = read_err(&fixture("nan.h5ad"));
    assert!(matches!(e, Error::NonFinite { row: 1, col: 2, .. }), "{e}");
    let s = H5adChunks::open(&fixture("nan.h5ad"), 1, &opts()).unwrap();
    let errs: Vec<_> = s.filter_map(|c| c.err()).collect();
    assert!(matches!(
        errs[..],
        [Error::NonFinite { row: 1, col: 2, .. }]
    ));
}

#[test]
fn negative_values() {
    let e = read_err(&fixture("negative.h5ad"));
    assert!(
        matches!(e, Error::Negative { cell: 2, gene: 0, value, .. } if value == -1.0),
        "{e}"
    );
}

#[test]
fn duplicate_var_names_error_then_make_unique() {
    let e = read_err(&fixture("dup_var.h5ad"));
    assert!(
        matches!(&e, Error::Duplicate { what: "gene", name, first: 0, second: 2, .. } if name == "Actb"),
        "{e}"
    );
    assert!(e.to_string().contains("make_unique"), "{e}");
    let m = read_h5ad(
        &fixture("dup_var.h5ad"),
        &ReadOptions {
            make_unique: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(m.genes().symbols, ["Actb", "Gapdh", "Actb-1"]);
    assert_values("dup_var", m.values(), &expected("dup_var")["X"]);
}

// ---------- Python round trip: Rust writes, anndata reads and re-writes, Rust reads ----------

const PY_CHECK: &str = r#"
import json, sys
import numpy as np
import anndata as ad
path, expect_path, out_path = sys.argv[1:4]
e = json.load(open(expect_path))
a = ad.read_h5ad(path)
assert a.shape == tuple(e["shape"]), a.shape
X = a.X.toarray() if hasattr(a.X, "toarray") else np.asarray(a.X)
assert X.dtype == np.float32, X.dtype
assert np.array_equal(X, np.array(e["X"], dtype=np.float32)), "X differs"
assert list(a.obs_names) == e["obs_names"], "obs names"
assert list(a.var_names) == e["var_names"], "var names"
assert list(a.var["gene_ids"]) == e["gene_ids"], "gene ids"
labels = [None if isinstance(v, float) else str(v) for v in a.obs["cell_type"].astype(object)]
assert labels == e["cell_type"], labels
assert list(a.obs["cell_type"].cat.categories) == e["categories"]
assert np.array_equal(a.obs["n_counts"].to_numpy(), np.array(e["n_counts"])), "n_counts"
assert list(a.obs["barcode"]) == e["barcode"], "barcode"
assert list(a.obs.columns) == ["cell_type", "n_counts", "barcode"], list(a.obs.columns)
R = a.raw.X.toarray()
assert np.array_equal(R, np.array(e["raw_X"], dtype=np.float32)), "raw X"
assert list(a.raw.var_names) == e["raw_var_names"]
for k in ["uns", "obsm", "varm", "obsp", "varp", "layers"]:
    assert len(getattr(a, k)) == 0, k
try:
    import scanpy as sc
    b = sc.read_h5ad(path)
    sc.pp.normalize_total(b, target_sum=1e4)
    print("scanpy", sc.__version__, "ok")
except ImportError:
    print("scanpy not installed; anndata only")
a.write_h5ad(out_path)
print("anndata", ad.__version__, "ok")
"#;

fn dense_json(v: &Values) -> Value {
    let d = v.to_dense();
    Value::Array(
        d.rows()
            .into_iter()
            .map(|r| r.iter().map(|&x| Value::from(f64::from(x))).collect())
            .collect(),
    )
}

#[test]
fn python_anndata_round_trip() {
    let Some(python) = crate::common::python_with("anndata") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let m = synthetic(40, 25, 11);
    let ours = dir.path().join("rust.h5ad");
    write_h5ad(&m, &ours, &H5adWriteOptions::default()).unwrap();
    assert_eq!(read_h5ad(&ours, &opts()).unwrap(), m);

    let ObsColumn::Categorical { categories, codes } = m.obs_column("cell_type").unwrap() else {
        unreachable!()
    };
    let labels: Vec<Value> = codes
        .iter()
        .map(|&c| match usize::try_from(c) {
            Ok(c) => Value::from(categories[c].clone()),
            Err(_) => Value::Null,
        })
        .collect();
    let ObsColumn::Numeric(n_counts) = m.obs_column("n_counts").unwrap() else {
        unreachable!()
    };
    let ObsColumn::Text(barcode) = m.obs_column("barcode").unwrap() else {
        unreachable!()
    };
    let raw = m.raw().unwrap();
    let expect = serde_json::json!({
        "shape": [m.n_cells(), m.n_genes()],
        "X": dense_json(m.values()),
        "obs_names": m.cells(),
        "var_names": m.genes().symbols,
        "gene_ids": m.genes().ids,
        "cell_type": labels,
        "categories": categories,
        "n_counts": n_counts,
        "barcode": barcode,
        "raw_X": dense_json(&raw.values),
        "raw_var_names": raw.genes.symbols,
    });
    let expect_path = dir.path().join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).unwrap();
    let script = dir.path().join("check.py");
    std::fs::write(&script, PY_CHECK).unwrap();
    let theirs = dir.path().join("python.h5ad");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&ours)
        .arg(&expect_path)
        .arg(&theirs)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "anndata rejected our file:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    // And back: what anndata wrote reads as the same matrix, metadata and raw.
    assert_eq!(read_h5ad(&theirs, &opts()).unwrap(), m);
}

/// A time-resolved file as a user has it, written by the real anndata (unsorted times, a
/// replicate time point, a categorical lineage): `data::time_courses` splits it by lineage,
/// orders by time and averages the replicates.
#[test]
fn time_courses_from_a_file_written_by_anndata() {
    let Some(python) = crate::common::python_with("anndata") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tc.h5ad");
    let script = r#"
import sys, numpy as np, pandas as pd, anndata as ad
X = np.array([[4, 1], [0, 3], [1, 5], [3, 7], [2, 2], [6, 0]], dtype=np.float32)
obs = pd.DataFrame(
    {"time": [2.0, 0.0, 1.0, 1.0, 1.5, 0.5],
     "lineage": pd.Categorical(["A", "A", "A", "A", "B", "B"])},
    index=[f"c{i}" for i in range(6)],
)
ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=["g1", "g2"])).write_h5ad(sys.argv[1])
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = read_expression(&path, &opts()).unwrap();
    let trajs = cellsindy::data::time_courses(&m, "time", Some("lineage")).unwrap();
    assert_eq!(trajs.len(), 2);
    let (a, b) = (&trajs[0], &trajs[1]);
    assert_eq!(a.names(), ["g1", "g2"]);
    let times = |t: &cellsindy::data::Trajectory| -> Vec<f64> {
        (0..t.n_samples()).map(|i| t.t().at(i)).collect()
    };
    assert_eq!(times(a), [0.0, 1.0, 2.0]);
    // Time 1 is the mean of its two cells; the rows follow the times.
    assert_eq!(a.x().row(0).to_vec(), [0.0, 3.0]);
    assert_eq!(a.x().row(1).to_vec(), [2.0, 6.0]);
    assert_eq!(a.x().row(2).to_vec(), [4.0, 1.0]);
    assert_eq!(times(b), [0.5, 1.5]);
    assert_eq!(b.x().row(0).to_vec(), [6.0, 0.0]);
    // A column that is not there is named in the error.
    let e = cellsindy::data::time_courses(&m, "pseudotime", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pseudotime"), "{e}");
}

// ---------- timing (release build): `CELLSINDY_H5AD_BENCH=file.h5ad cargo test --release ... -- --ignored` ----------

#[test]
#[ignore = "timing helper; set CELLSINDY_H5AD_BENCH to an .h5ad"]
fn bench_read() {
    let Ok(p) = std::env::var("CELLSINDY_H5AD_BENCH") else {
        return;
    };
    let t = std::time::Instant::now();
    let m = read_h5ad(Path::new(&p), &opts()).unwrap();
    println!(
        "read_h5ad {:.3}s: {} x {}, nnz {}",
        t.elapsed().as_secs_f64(),
        m.n_cells(),
        m.n_genes(),
        m.values().nnz()
    );
}

/// Random byte damage (half of it in the first 6 KB, where the metadata is) to every fixture:
/// reading and streaming must return `Ok` or `Err`, never panic or abort. `H5AD_FUZZ_N` raises
/// the number of damaged copies per fixture (18 000 in total ran clean locally).
#[test]
fn damaged_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let n: u64 = std::env::var("H5AD_FUZZ_N")
        .map(|s| s.parse().unwrap())
        .unwrap_or(40);
    let mut panics = Vec::new();
    let (mut ok, mut total) = (0, 0);
    for name in [
        "csr",
        "dense_gzip",
        "csc_lzf",
        "v06_csr",
        "v07_csr",
        "ensembl",
    ] {
        let bytes = std::fs::read(fixture(&format!("{name}.h5ad"))).unwrap();
        for seed in 0..n {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut b = bytes.clone();
            for _ in 0..rng.random_range(1..8) {
                let i = if rng.random::<bool>() {
                    rng.random_range(0..b.len())
                } else {
                    rng.random_range(0..b.len().min(6000))
                };
                b[i] = rng.random();
            }
            let p = dir.path().join(format!("{name}_{seed}.h5ad"));
            std::fs::write(&p, &b).unwrap();
            let r = std::panic::catch_unwind(|| {
                let read = read_h5ad(&p, &opts()).is_ok();
                if let Ok(s) = H5adChunks::open(&p, 2, &opts()) {
                    for _ in s {}
                }
                read
            });
            total += 1;
            match r {
                Ok(true) => ok += 1,
                Ok(false) => {}
                Err(_) => panics.push(format!("{name} seed {seed}")),
            }
        }
    }
    println!("{ok} of {total} damaged files still read");
    assert!(panics.is_empty(), "panicked on {panics:?}");
    assert!(ok < total, "damage should be detected at least sometimes");
}

#[test]
#[ignore = "timing helper; set CELLSINDY_H5AD_BENCH (and CELLSINDY_H5AD_CHUNK)"]
fn bench_stream() {
    let Ok(p) = std::env::var("CELLSINDY_H5AD_BENCH") else {
        return;
    };
    let chunk = std::env::var("CELLSINDY_H5AD_CHUNK").map_or(10_000, |s| s.parse().unwrap());
    let t = std::time::Instant::now();
    let s = H5adChunks::open(Path::new(&p), chunk, &opts()).unwrap();
    let (mut cells, mut nnz) = (0, 0);
    for c in s {
        let c = c.unwrap();
        cells += c.cells.len();
        nnz += c.values.nnz();
    }
    println!(
        "stream {:.3}s: {cells} cells in chunks of {chunk}, nnz {nnz}",
        t.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "timing helper; set CELLSINDY_H5AD_BENCH and CELLSINDY_H5AD_BENCH_OUT"]
fn bench_write() {
    let (Ok(p), Ok(out)) = (
        std::env::var("CELLSINDY_H5AD_BENCH"),
        std::env::var("CELLSINDY_H5AD_BENCH_OUT"),
    ) else {
        return;
    };
    let m = read_h5ad(Path::new(&p), &opts()).unwrap();
    let t = std::time::Instant::now();
    write_h5ad(&m, Path::new(&out), &H5adWriteOptions::default()).unwrap();
    println!("write_h5ad {:.3}s", t.elapsed().as_secs_f64());
}

// ---------- shared CSR validation, changed with this reader (parallel rows, no panic) ----------

#[test]
fn csr_new_reports_the_first_bad_row_of_a_large_matrix() {
    let (n_rows, per_row) = (2000usize, 600usize);
    let indptr: Vec<usize> = (0..=n_rows).map(|r| r * per_row).collect();
    let mut indices: Vec<u32> = (0..n_rows).flat_map(|_| 0..per_row as u32).collect();
    let data = vec![1.0f32; indices.len()];
    for r in [1500, 700] {
        indices.swap(r * per_row + 3, r * per_row + 4);
    }
    let e = CsrMatrix::new(
        n_rows,
        per_row,
        indptr.clone(),
        indices.clone(),
        data.clone(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("row 700"), "{e}");
    indices.swap(700 * per_row + 3, 700 * per_row + 4);
    indices.swap(1500 * per_row + 3, 1500 * per_row + 4);
    assert!(CsrMatrix::new(n_rows, per_row, indptr, indices, data).is_ok());
}

#[test]
fn csr_new_rejects_a_row_pointer_past_the_entries() {
    // Non-monotone indptr whose middle entry points past the data: an error, not a panic.
    let e = CsrMatrix::new(2, 3, vec![0, 9, 2], vec![0, 1], vec![1.0, 2.0]).unwrap_err();
    assert!(e.to_string().contains("row 0"), "{e}");
}

// ---------- processed files: choosing the matrix, and what it holds (issue 19) ----------

fn with_matrix(matrix: MatrixChoice) -> ReadOptions {
    ReadOptions {
        matrix,
        ..ReadOptions::default()
    }
}

fn kind_name(k: MatrixKind) -> &'static str {
    match k {
        MatrixKind::Counts => "counts",
        MatrixKind::Normalized => "normalized",
        MatrixKind::LogNormalized => "log_normalized",
        MatrixKind::Scaled => "scaled",
    }
}

/// Every matrix the inventory lists has the kind the fixture's JSON says anndata wrote.
fn assert_inventory(name: &str) {
    let want = expected(name);
    let listed = h5ad_matrices(&fixture(&format!("{name}.h5ad"))).unwrap();
    let kinds = want["kinds"].as_object().unwrap();
    assert_eq!(listed.len(), kinds.len(), "{name}: {listed:?}");
    for m in &listed {
        let k = m.kind.as_ref().unwrap_or_else(|| panic!("{name} {m:?}"));
        assert_eq!(
            Some(kind_name(k.kind)),
            kinds[&m.choice.to_string()].as_str(),
            "{name} {}: {}",
            m.choice,
            k.evidence
        );
        assert_eq!(m.n_cells, 12, "{name} {}", m.choice);
    }
}

#[test]
fn scaled_x_is_refused_with_the_matrices_that_work_and_raw_is_read_on_request() {
    assert_inventory("processed_scaled");
    let want = expected("processed_scaled");
    let path = fixture("processed_scaled.h5ad");
    let e = read_h5ad(&path, &opts()).unwrap_err().to_string();
    assert!(
        e.contains("scaled") && e.contains("--raw (log-normalised, 12 x 10)"),
        "{e}"
    );
    let raw = read_h5ad(&path, &with_matrix(MatrixChoice::Raw)).unwrap();
    assert_values("raw/X", raw.values(), &want["raw"]["X"]);
    assert_eq!(raw.genes().symbols, strings(&want["raw"]["var_names"]));
    assert!(
        raw.raw().is_none(),
        "raw read as the matrix is not attached again"
    );
    // Back to a linear scale: every cell sums to the 10,000 it was normalised to.
    let mut m = raw.clone();
    let kind = to_model_scale(&mut m).unwrap();
    assert_eq!(kind.kind, MatrixKind::LogNormalized);
    for s in m.library_sizes() {
        assert!((s - 1e4).abs() < 1.0, "{s}");
    }
    // Streaming the same choice gives the same cells.
    let mut s = H5adChunks::open(&path, 5, &with_matrix(MatrixChoice::Raw)).unwrap();
    assert_eq!(s.genes(), raw.genes());
    let (_, stacked, _) = collect_chunks(&mut s);
    assert_eq!(stacked, raw.values().to_sparse());
    // X streamed is refused at its first chunk; a CSV has no .raw.
    let mut s = H5adChunks::open(&path, 5, &opts()).unwrap();
    assert!(matches!(s.next(), Some(Err(Error::Negative { .. }))));
    let e = read_expression(Path::new("x.csv"), &with_matrix(MatrixChoice::Raw)).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
}

#[test]
fn a_counts_layer_beside_log_normalised_x() {
    assert_inventory("processed_layers");
    let want = expected("processed_layers");
    let path = fixture("processed_layers.h5ad");
    let counts = read_h5ad(&path, &with_matrix(MatrixChoice::Layer("counts".into()))).unwrap();
    assert_values("layers/counts", counts.values(), &want["layers"]["counts"]);
    assert_eq!(counts.genes().symbols, strings(&want["var_names"]));
    assert_eq!(counts.cells(), strings(&want["obs_names"]));
    let x = read_h5ad(&path, &opts()).unwrap();
    assert_values("X", x.values(), &want["X"]);
    // The log-normalised X brought back is the counts normalised to 10,000 per cell.
    let mut lin = x.clone();
    assert_eq!(
        to_model_scale(&mut lin).unwrap().kind,
        MatrixKind::LogNormalized
    );
    let (c, l) = (counts.values().to_dense(), lin.values().to_dense());
    for (i, (cr, lr)) in c.outer_iter().zip(l.outer_iter()).enumerate() {
        let total: f32 = cr.sum();
        for (&cv, &lv) in cr.iter().zip(lr) {
            let want = f64::from(cv / total * 1e4);
            assert!(
                (f64::from(lv) - want).abs() < 1e-3 * want.max(1.0),
                "cell {i}"
            );
        }
    }
    let mut cm = counts.clone();
    assert_eq!(to_model_scale(&mut cm).unwrap().kind, MatrixKind::Counts);
    assert_eq!(cm, counts, "counts are kept as they are");
    // An unknown layer names the ones there are.
    let e = read_h5ad(&path, &with_matrix(MatrixChoice::Layer("spliced".into())))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no such layer") && e.contains("--layer counts"),
        "{e}"
    );
}

#[test]
fn csc_x_and_chunked_compressed_layers() {
    assert_inventory("processed_csc_chunked");
    let want = expected("processed_csc_chunked");
    let path = fixture("processed_csc_chunked.h5ad");
    let x = read_h5ad(&path, &opts()).unwrap();
    assert_values("X (csc)", x.values(), &want["X"]);
    for layer in ["counts", "dense_counts"] {
        let choice = with_matrix(MatrixChoice::Layer(layer.into()));
        let m = read_h5ad(&path, &choice).unwrap();
        assert_values(layer, m.values(), &want["layers"][layer]);
        for chunk in [1, 5, 7, 12] {
            let mut s = H5adChunks::open(&path, chunk, &choice).unwrap();
            let (cells, stacked, _) = collect_chunks(&mut s);
            assert_eq!(cells, m.cells());
            assert_eq!(
                stacked,
                m.values().to_sparse(),
                "{layer} in chunks of {chunk}"
            );
        }
    }
    // The CSC X streams too (read whole, then served by rows).
    let mut s = stream_cells(&path, 5, &opts()).unwrap();
    let (_, stacked, _) = collect_chunks(s.as_mut());
    assert_eq!(stacked, x.values().to_sparse());
}

#[test]
fn extras_of_the_wrong_shape_or_name_are_errors_and_write_nothing() {
    use cellsindy::expression::io::h5ad::{write_h5ad_with, AnnDataExtras, UnsValue};
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.h5ad");
    let m = synthetic(5, 4, 2);
    let bad_layer = AnnDataExtras {
        layers: vec![("l".into(), Values::Dense(Array2::zeros((5, 3))))],
        ..Default::default()
    };
    let e = write_h5ad_with(&m, &bad_layer, &p, &H5adWriteOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let bad_obsm = AnnDataExtras {
        obsm: vec![("X_a".into(), Array2::zeros((4, 2)))],
        ..Default::default()
    };
    assert!(write_h5ad_with(&m, &bad_obsm, &p, &H5adWriteOptions::default()).is_err());
    let bad_name = AnnDataExtras {
        uns: vec![("a/b".into(), UnsValue::Number(1.0))],
        ..Default::default()
    };
    assert!(write_h5ad_with(&m, &bad_name, &p, &H5adWriteOptions::default()).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // A good one reads back as the same matrix (extras are for anndata; the reader skips them).
    let good = AnnDataExtras {
        layers: vec![("twice".into(), Values::Dense(m.values().to_dense() * 2.0))],
        obsm: vec![("X_a".into(), Array2::ones((5, 2)))],
        uns: vec![(
            "meta".into(),
            UnsValue::Dict(vec![("k".into(), UnsValue::Text("v".into()))]),
        )],
    };
    write_h5ad_with(&m, &good, &p, &H5adWriteOptions::default()).unwrap();
    assert_eq!(read_h5ad(&p, &opts()).unwrap(), m);
    let twice = read_h5ad(&p, &with_matrix(MatrixChoice::Layer("twice".into()))).unwrap();
    assert_eq!(twice.values().to_dense(), m.values().to_dense() * 2.0);
}
