//! (issue 3) Text formats: 10x Matrix Market directories, lone `.mtx` files, streaming by
//! cells, CSV/TSV; round trips, committed fixtures (`tests/data/tenx`, `tests/data/csv`) and one
//! test per kind of bad input, each checking what the error says.

use std::io::Write;
use std::path::{Path, PathBuf};

use cellsindy::expression::io::delimited::{
    parse_delimited_bytes, read_delimited, write_delimited,
};
use cellsindy::expression::io::mtx::{
    parse_mtx_bytes, read_10x, read_10x_mtx_file, write_10x, MtxChunks, MtxHeader,
};
use cellsindy::expression::io::{
    read_expression, stream_cells, write_expression, CellChunks, ReadOptions,
};
use cellsindy::expression::{CsrMatrix, ExpressionMatrix, GeneTable, Values};
use cellsindy::Error;
use ndarray::{array, Array2};
use rand::{Rng, SeedableRng};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn opts() -> ReadOptions {
    ReadOptions::default()
}

/// A seeded random sparse matrix; integral counts or real values; ids optional.
fn random_matrix(
    n_cells: usize,
    n_genes: usize,
    density: f64,
    integral: bool,
    with_ids: bool,
    seed: u64,
) -> ExpressionMatrix {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x = Array2::<f32>::zeros((n_cells, n_genes));
    for v in x.iter_mut() {
        if rng.random::<f64>() < density {
            *v = if integral {
                rng.random_range(1..200) as f32
            } else {
                rng.random_range(0.001f32..50.0)
            };
        }
    }
    let symbols: Vec<String> = (0..n_genes).map(|g| format!("GENE{g}")).collect();
    let genes = GeneTable {
        symbols,
        ids: with_ids.then(|| (0..n_genes).map(|g| format!("ENSG{g:011}")).collect()),
    };
    let cells = (0..n_cells).map(|c| format!("CELL{c:06}-1")).collect();
    ExpressionMatrix::new(
        Values::Sparse(CsrMatrix::from_dense(x.view())),
        genes,
        cells,
    )
    .unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut out).unwrap();
    out
}

/// A plain 10x directory from text.
fn tenx_dir(mtx: &str, features: &str, barcodes: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("matrix.mtx"), mtx).unwrap();
    std::fs::write(d.path().join("features.tsv"), features).unwrap();
    std::fs::write(d.path().join("barcodes.tsv"), barcodes).unwrap();
    d
}

const FEATURES3: &str = "E1\tA\tGene Expression\nE2\tB\tGene Expression\nE3\tC\tGene Expression\n";
const BARCODES2: &str = "c1\nc2\n";

/// `(line, message)` of a parse error; panics on anything else.
fn parse_error<T: std::fmt::Debug>(r: cellsindy::Result<T>) -> (usize, String) {
    match r {
        Err(Error::Parse { line, msg, .. }) => (line, msg),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// The committed fixtures' matrix (cells x genes).
fn fixture_dense() -> Array2<f32> {
    array![
        [3., 0., 1., 0., 0.],
        [0., 5., 0., 2., 0.],
        [0., 0., 0., 0., 0.],
        [7., 1., 0., 0., 4.]
    ]
}

fn check_fixture(m: &ExpressionMatrix) {
    assert_eq!(m.values().to_dense(), fixture_dense());
    assert!(matches!(m.values(), Values::Sparse(_)));
    assert_eq!(
        m.genes().symbols,
        ["MT-CO1", "ACTB", "GAPDH", "CD3E", "MS4A1"]
    );
    assert_eq!(
        m.genes().ids.as_ref().unwrap()[..2],
        ["ENSG00000198804", "ENSG00000075624"]
    );
    assert_eq!(m.cells()[3], "AAACCTGAGAAACGAG-1");
}

#[test]
fn reads_committed_v3_fixture_gz() {
    // Written by scipy.io.mmwrite (sorted by gene, not by cell) and gzip.
    let m = read_10x(&data("tenx/v3"), &opts()).unwrap();
    check_fixture(&m);
    // Through the format dispatch too.
    assert_eq!(read_expression(&data("tenx/v3"), &opts()).unwrap(), m);
}

#[test]
fn reads_committed_v2_fixture_plain_genes_tsv() {
    let m = read_10x(&data("tenx/v2"), &opts()).unwrap();
    check_fixture(&m);
    // The lone .mtx finds its genes.tsv and barcodes.tsv beside it.
    let lone = read_10x_mtx_file(&data("tenx/v2/matrix.mtx"), &opts()).unwrap();
    assert_eq!(lone, m);
}

#[test]
fn lone_mtx_without_names_gets_generated_names() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("counts.mtx.gz");
    // Pattern field, tabs, CRLF and blank trailing lines.
    let text = "%%MatrixMarket matrix coordinate pattern general\r\n3 2 2\r\n1\t1\r\n3 2\n\n  \n";
    std::fs::write(&p, gz(text.as_bytes())).unwrap();
    let m = read_10x_mtx_file(&p, &opts()).unwrap();
    assert_eq!(m.genes().symbols, ["gene0", "gene1", "gene2"]);
    assert_eq!(m.cells(), ["cell0", "cell1"]);
    assert_eq!(m.genes().ids, None);
    assert_eq!(m.values().to_dense(), array![[1., 0., 0.], [0., 0., 1.]]);
}

#[test]
fn prefixed_lone_mtx_pairs_with_its_names() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("s1_matrix.mtx"),
        "%%MatrixMarket matrix coordinate integer general\n3 2 1\n2 2 9\n",
    )
    .unwrap();
    std::fs::write(d.path().join("s1_features.tsv"), FEATURES3).unwrap();
    std::fs::write(d.path().join("s1_barcodes.tsv"), BARCODES2).unwrap();
    let m = read_10x_mtx_file(&d.path().join("s1_matrix.mtx"), &opts()).unwrap();
    assert_eq!(m.genes().symbols, ["A", "B", "C"]);
    assert_eq!(m.cells(), ["c1", "c2"]);
    assert_eq!(m.values().to_dense()[(1, 1)], 9.0);
}

#[test]
fn write_then_read_10x_is_identical_counts_and_reals() {
    for (integral, with_ids, seed) in [(true, true, 1), (false, true, 2), (true, false, 3)] {
        let m = random_matrix(60, 40, 0.2, integral, with_ids, seed);
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("out");
        write_10x(&m, &dir).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        // Only the three files (no temporary files left behind).
        assert_eq!(
            names,
            ["barcodes.tsv.gz", "features.tsv.gz", "matrix.mtx.gz"]
        );
        let text = gunzip(&std::fs::read(dir.join("matrix.mtx.gz")).unwrap());
        let text = String::from_utf8(text).unwrap();
        let field = if integral { "integer" } else { "real" };
        assert!(text.starts_with(&format!(
            "%%MatrixMarket matrix coordinate {field} general\n"
        )));
        if integral {
            assert!(
                !text.lines().skip(3).any(|l| l.contains('.')),
                "counts written as integers"
            );
        }
        let back = read_10x(&dir, &opts()).unwrap();
        if with_ids {
            assert_eq!(back, m);
        } else {
            // Missing ids are written as the symbols.
            assert_eq!(back.genes().ids.as_ref(), Some(&m.genes().symbols));
            assert_eq!(back.values(), m.values());
            assert_eq!(back.cells(), m.cells());
        }
        // Writing again over the same directory replaces the files.
        write_10x(&m, &dir).unwrap();
        assert_eq!(read_10x(&dir, &opts()).unwrap().values(), m.values());
    }
}

#[test]
fn write_10x_then_plain_copies_read_the_same() {
    let m = random_matrix(30, 25, 0.3, true, true, 7);
    let d = tempfile::tempdir().unwrap();
    let gzdir = d.path().join("gz");
    write_expression(&m, &gzdir).unwrap();
    let plain = d.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    for f in ["matrix.mtx", "features.tsv", "barcodes.tsv"] {
        let bytes = std::fs::read(gzdir.join(format!("{f}.gz"))).unwrap();
        std::fs::write(plain.join(f), gunzip(&bytes)).unwrap();
    }
    assert_eq!(read_10x(&plain, &opts()).unwrap(), m);
    // A directory holding plain files is not silently shadowed by a new write.
    let err = write_10x(&m, &plain).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.to_string().contains("would be read instead")),
        "{err:?}"
    );
}

#[test]
fn dense_values_are_written_sparse() {
    let x = array![[0.0f32, 1.5], [2.0, 0.0], [0.0, 0.0]];
    let m = ExpressionMatrix::new(
        Values::Dense(x.clone()),
        GeneTable::from_symbols(vec!["a".into(), "b".into()]),
        vec!["x".into(), "y".into(), "z".into()],
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    write_10x(&m, d.path()).unwrap();
    let back = read_10x(d.path(), &opts()).unwrap();
    assert_eq!(back.values().to_dense(), x);
}

#[test]
fn duplicates_are_summed_and_zeros_dropped() {
    let m = parse_mtx_bytes(
        b"%%MatrixMarket matrix coordinate real general\n%c\n2 2 4\n1 1 1.25\n1 1 2\n2 1 0\n2 2 3e0\n",
    )
    .unwrap();
    assert_eq!(m.nnz(), 2);
    assert_eq!(m.to_dense(), array![[3.25f32, 0.0], [0.0, 3.0]]);
}

#[test]
fn header_is_exposed() {
    let h = MtxHeader::from_bytes(
        b"%%MatrixMarket MATRIX Coordinate Integer General\n% x\n\n10 20 30\n",
    )
    .unwrap();
    assert_eq!((h.n_rows, h.n_cols, h.nnz, h.size_line), (10, 20, 30, 4));
}

#[test]
fn streaming_equals_whole_read() {
    let m = random_matrix(53, 17, 0.25, true, true, 11);
    // Cells 5..9 and the last cells without entries.
    let mut x2 = m.values().to_dense();
    for r in [5, 6, 7, 8, 50, 51, 52] {
        x2.row_mut(r).fill(0.0);
    }
    let m = ExpressionMatrix::new(
        Values::Sparse(CsrMatrix::from_dense(x2.view())),
        m.genes().clone(),
        m.cells().to_vec(),
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    write_10x(&m, d.path()).unwrap();
    let whole = read_10x(d.path(), &opts()).unwrap();
    for chunk in [1, 4, 10, 53, 1000] {
        let chunks = MtxChunks::open(d.path(), chunk, &opts()).unwrap();
        assert_eq!(chunks.n_cells(), Some(53));
        assert_eq!(chunks.genes(), whole.genes());
        let parts: Vec<_> = chunks.map(|c| c.unwrap()).collect();
        assert_eq!(parts.len(), 53usize.div_ceil(chunk));
        let mut start = 0;
        for p in &parts {
            assert_eq!(p.start, start);
            assert!(p.values.n_rows() <= chunk);
            assert_eq!(p.cells, whole.cells()[start..start + p.values.n_rows()]);
            start += p.values.n_rows();
        }
        let values: Vec<CsrMatrix> = parts.into_iter().map(|p| p.values).collect();
        let stacked = CsrMatrix::vstack(&values).unwrap();
        assert_eq!(Values::Sparse(stacked), *whole.values(), "chunk {chunk}");
    }
    // Through the dispatch, on the gzip matrix file alone.
    let mut s = stream_cells(&d.path().join("matrix.mtx.gz"), 7, &opts()).unwrap();
    assert_eq!(s.n_cells(), Some(53));
    let first = s.next().unwrap().unwrap();
    assert_eq!(first.cells[0], "CELL000000-1");
}

#[test]
fn streaming_unsorted_file_says_to_convert() {
    // scipy writes entries sorted by gene: cell order goes back.
    let chunks = MtxChunks::open(&data("tenx/v3"), 2, &opts()).unwrap();
    let err = chunks.collect::<cellsindy::Result<Vec<_>>>().unwrap_err();
    let (line, msg) = parse_error::<()>(Err(err));
    assert_eq!(
        line, 6,
        "the first entry whose cell goes back (`2 2 5` after `1 4 7`)"
    );
    assert!(
        msg.contains("not sorted by cell") && msg.contains(".h5ad"),
        "{msg}"
    );
    assert!(matches!(
        MtxChunks::open(&data("tenx/v3"), 0, &opts()),
        Err(Error::InvalidParam { .. })
    ));
}

#[test]
fn streaming_detects_truncation() {
    let d = tenx_dir(
        "%%MatrixMarket matrix coordinate integer general\n3 2 3\n1 1 1\n2 2 1\n",
        FEATURES3,
        BARCODES2,
    );
    let r: cellsindy::Result<Vec<_>> = MtxChunks::open(d.path(), 1, &opts()).unwrap().collect();
    let (_, msg) = parse_error(r);
    assert!(msg.contains("truncated"), "{msg}");
}

// ---- bad Matrix Market input ----

#[test]
fn truncated_mtx_names_counts() {
    let d = tenx_dir(
        "%%MatrixMarket matrix coordinate integer general\n3 2 4\n1 1 1\n2 2 1\n",
        FEATURES3,
        BARCODES2,
    );
    let (line, msg) = parse_error(read_10x(d.path(), &opts()));
    assert_eq!(line, 5);
    assert!(
        msg.contains("truncated") && msg.contains("4 entries") && msg.contains("after 2"),
        "{msg}"
    );
}

#[test]
fn too_many_entries_names_the_first_extra_line() {
    let (line, msg) = parse_error(parse_mtx_bytes(
        b"%%MatrixMarket matrix coordinate integer general\n3 2 1\n1 1 1\n\n2 2 1\n",
    ));
    assert_eq!(line, 5);
    assert!(msg.contains("more entries than the 1"), "{msg}");
}

#[test]
fn header_shape_must_match_features_and_barcodes() {
    let mtx = "%%MatrixMarket matrix coordinate integer general\n%c\n4 2 1\n1 1 1\n";
    let d = tenx_dir(mtx, FEATURES3, BARCODES2);
    let (line, msg) = parse_error(read_10x(d.path(), &opts()));
    assert_eq!(line, 3, "the size line");
    assert!(msg.contains("4 genes") && msg.contains("lists 3"), "{msg}");
    let mtx = "%%MatrixMarket matrix coordinate integer general\n3 5 1\n1 1 1\n";
    let d = tenx_dir(mtx, FEATURES3, BARCODES2);
    let (line, msg) = parse_error(read_10x(d.path(), &opts()));
    assert_eq!(line, 2);
    assert!(
        msg.contains("5 cells") && msg.contains("barcodes.tsv"),
        "{msg}"
    );
}

#[test]
fn index_out_of_range() {
    let base = "%%MatrixMarket matrix coordinate integer general\n3 2 2\n1 1 1\n";
    for (entry, what) in [
        ("4 1 1", "gene (row) index 4 is out of range 1..=3"),
        ("0 1 1", "gene (row) index 0 is out of range"),
        ("1 3 1", "cell (column) index 3 is out of range 1..=2"),
        ("1 0 1", "cell (column) index 0"),
    ] {
        let text = format!("{base}{entry}\n");
        let (line, msg) = parse_error(parse_mtx_bytes(text.as_bytes()));
        assert_eq!(line, 4, "{entry}");
        assert!(msg.contains(what), "{entry}: {msg}");
    }
}

#[test]
fn bad_values_name_the_line() {
    let base = "%%MatrixMarket matrix coordinate real general\n3 2 2\n1 1 1\n";
    for (entry, what) in [
        ("2 2 -3", "negative value `-3`"),
        ("2 2 nan", "`nan` is not finite"),
        ("2 2 NaN", "`NaN` is not finite"),
        ("2 2 inf", "not finite"),
        ("2 2 1e39", "not finite as a 32-bit float"),
        ("2 2 abc", "`abc` is not a number"),
        ("x 2 1", "expected a gene (row) index"),
        ("2 2.5 1", "expected a space and a value"),
        ("2 2", "expected a space and a value"),
        ("2 2 1 7", "unexpected `7`"),
    ] {
        let text = format!("{base}{entry}\n");
        let (line, msg) = parse_error(parse_mtx_bytes(text.as_bytes()));
        assert_eq!(line, 4, "{entry}");
        assert!(msg.contains(what), "{entry}: {msg}");
    }
}

#[test]
fn bad_headers() {
    let (line, msg) = parse_error(parse_mtx_bytes(b""));
    assert_eq!(line, 1);
    assert!(msg.contains("empty file"), "{msg}");
    let (line, msg) = parse_error(parse_mtx_bytes(b"1 2 3\n1 1 1\n"));
    assert_eq!(line, 1);
    assert!(msg.contains("%%MatrixMarket"), "{msg}");
    let (line, msg) = parse_error(parse_mtx_bytes(
        b"%%MatrixMarket matrix coordinate integer general\n%\n",
    ));
    assert_eq!(line, 3);
    assert!(msg.contains("size line"), "{msg}");
    let (line, msg) = parse_error(parse_mtx_bytes(
        b"%%MatrixMarket matrix coordinate integer general\n3 x 1\n",
    ));
    assert_eq!(line, 2);
    assert!(msg.contains("three non-negative integers"), "{msg}");
    for (banner, what) in [
        (
            "%%MatrixMarket matrix coordinate integer symmetric",
            "symmetric",
        ),
        ("%%MatrixMarket matrix array real general", "array"),
        (
            "%%MatrixMarket matrix coordinate complex general",
            "complex",
        ),
    ] {
        let text = format!("{banner}\n2 2 0\n");
        match parse_mtx_bytes(text.as_bytes()) {
            Err(Error::Unsupported(m)) => assert!(m.contains(what), "{m}"),
            other => panic!("{banner}: {other:?}"),
        }
    }
}

#[test]
fn duplicate_gene_symbols_and_make_unique() {
    let features = "E1\tA\tGene Expression\nE2\tB\tGene Expression\nE3\tA\tGene Expression\n";
    let mtx = "%%MatrixMarket matrix coordinate integer general\n3 2 2\n1 1 1\n3 2 2\n";
    let d = tenx_dir(mtx, features, BARCODES2);
    match read_10x(d.path(), &opts()) {
        Err(Error::Duplicate {
            what,
            name,
            first,
            second,
            hint,
        }) => {
            assert_eq!((what, name.as_str(), first, second), ("gene", "A", 0, 2));
            assert!(
                hint.contains("make_unique") && hint.contains("features.tsv"),
                "{hint}"
            );
        }
        other => panic!("{other:?}"),
    }
    let m = read_10x(
        d.path(),
        &ReadOptions {
            make_unique: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(m.genes().symbols, ["A", "B", "A-1"]);
    assert_eq!(m.genes().ids.as_ref().unwrap(), &["E1", "E2", "E3"]);
}

#[test]
fn corrupt_and_mislabelled_gzip_are_format_errors() {
    let m = random_matrix(200, 50, 0.3, true, true, 5);
    let d = tempfile::tempdir().unwrap();
    write_10x(&m, d.path()).unwrap();
    let p = d.path().join("matrix.mtx.gz");
    let good = std::fs::read(&p).unwrap();
    // Truncated.
    std::fs::write(&p, &good[..good.len() / 2]).unwrap();
    let err = read_10x(d.path(), &opts()).unwrap_err();
    assert!(
        matches!(&err, Error::Format { msg, .. } if msg.contains("corrupt or truncated gzip")),
        "{err:?}"
    );
    // Flipped bytes in the middle.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&p, &bad).unwrap();
    let err = read_10x(d.path(), &opts()).unwrap_err();
    assert!(
        matches!(&err, Error::Format { .. } | Error::Parse { .. }),
        "{err:?}"
    );
    // Named .gz but not gzip.
    std::fs::write(&p, "%%MatrixMarket matrix coordinate integer general\n").unwrap();
    let err = read_10x(d.path(), &opts()).unwrap_err();
    assert!(
        matches!(&err, Error::Format { msg, .. } if msg.contains("not gzip")),
        "{err:?}"
    );
}

#[test]
fn missing_files_are_named() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("matrix.mtx"), "x").unwrap();
    let err = read_10x(d.path(), &opts()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path, .. } if path.ends_with("features.tsv or genes.tsv")),
        "{err:?}"
    );
}

// ---- CSV / TSV ----

#[test]
fn csv_cells_as_columns_fixture_with_guess() {
    // 5 genes (rows) x 3 cells (columns): genes are the longer axis, so rows are genes.
    let m = read_delimited(&data("csv/genes_by_cells.csv"), &opts()).unwrap();
    assert_eq!(m.cells(), ["AAACCTG-1", "AAACGGG-1", "AAAGATG-1"]);
    assert_eq!(
        m.genes().symbols,
        ["MT-CO1", "ACTB", "GAPDH", "CD3E", "MS4A1"]
    );
    assert_eq!(
        m.values(),
        &Values::Dense(array![
            [3., 0., 1., 0., 0.],
            [0., 5.5, 0., 2., 0.],
            [0., 0., 0., 0., 4.]
        ])
    );
    // Forcing the other orientation reads it as 5 cells of 3 genes.
    let t = read_delimited(
        &data("csv/genes_by_cells.csv"),
        &ReadOptions {
            cells_as_rows: Some(true),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!((t.n_cells(), t.n_genes()), (5, 3));
    assert_eq!(t.cells()[2], "GAPDH");
}

#[test]
fn tsv_cells_as_rows_fixture_crlf_and_sparse() {
    let o = ReadOptions {
        force_sparse: true,
        ..opts()
    };
    let m = read_delimited(&data("csv/cells_by_genes.tsv"), &o).unwrap();
    assert_eq!(m.cells(), ["cell_a", "cell_b"]);
    assert_eq!(m.genes().symbols, ["MT-CO1", "ACTB", "GAPDH"]);
    assert!(matches!(m.values(), Values::Sparse(_)));
    assert_eq!(m.values().to_dense(), array![[3., 0., 1.], [0., 5., 0.]]);
    let guessed = read_delimited(&data("csv/cells_by_genes.tsv"), &opts()).unwrap();
    assert_eq!(guessed.values().to_dense(), m.values().to_dense());
    assert!(matches!(guessed.values(), Values::Dense(_)));
}

#[test]
fn csv_header_without_corner_and_quotes() {
    let text = b"\"G,1\",G2\nc1,1,2\n\"c\"\"2\",0,3.5\n";
    let m = parse_delimited_bytes(
        text,
        b',',
        &ReadOptions {
            cells_as_rows: Some(true),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(m.genes().symbols, ["G,1", "G2"]);
    assert_eq!(m.cells(), ["c1", "c\"2"]);
    assert_eq!(m.values().to_dense(), array![[1., 2.], [0., 3.5]]);
}

#[test]
fn csv_round_trip_plain_and_gz() {
    let mut m = random_matrix(12, 30, 0.4, false, false, 9);
    // Names that need quoting.
    let (values, mut genes, cells) = m.clone().into_parts();
    genes.symbols[3] = "HLA-A,B".into();
    genes.symbols[4] = "say \"hi\"".into();
    m = ExpressionMatrix::new(values, genes, cells).unwrap();
    let d = tempfile::tempdir().unwrap();
    for name in ["x.csv", "x.tsv", "x.csv.gz"] {
        let p = d.path().join(name);
        write_delimited(&m, &p).unwrap();
        let back = read_delimited(
            &p,
            &ReadOptions {
                cells_as_rows: Some(true),
                force_sparse: true,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(back, m, "{name}");
    }
    // Guessing: 30 genes > 12 cells, so rows (cells) are read as cells.
    let back = read_expression(&d.path().join("x.tsv"), &opts()).unwrap();
    assert_eq!(back.values().to_dense(), m.values().to_dense());
}

#[test]
fn csv_ragged_row() {
    let (line, msg) = parse_error(parse_delimited_bytes(
        b",g1,g2\nc1,1,2\n\nc2,1\n",
        b',',
        &opts(),
    ));
    assert_eq!(line, 4);
    assert!(
        msg.contains("2 fields, expected 3") && msg.contains("ragged"),
        "{msg}"
    );
    let (line, msg) = parse_error(parse_delimited_bytes(b",g1\nc1,1,2,3\n", b',', &opts()));
    assert_eq!(line, 2);
    assert!(msg.contains("header (line 1) has 2"), "{msg}");
}

#[test]
fn csv_bad_values_name_line_and_column() {
    for (row, what) in [
        ("c2,1,abc", "`abc` is not a number"),
        ("c2,NA,1", "`NA` is not a number"),
        ("c2,1,", "is empty"),
        ("c2,nan,1", "`nan` is not finite"),
        ("c2,1,-inf", "not finite"),
        ("c2,-2,1", "negative value `-2`"),
    ] {
        let text = format!(",g1,g2\nc1,1,2\n{row}\n");
        let (line, msg) = parse_error(parse_delimited_bytes(text.as_bytes(), b',', &opts()));
        assert_eq!(line, 3, "{row}");
        assert!(msg.contains(what), "{row}: {msg}");
        assert!(msg.contains("column `g"), "{row}: {msg}");
    }
    let (line, msg) = parse_error(parse_delimited_bytes(b",g1\nc1,\"1\n", b',', &opts()));
    assert_eq!(line, 2);
    assert!(msg.contains("unterminated quote"), "{msg}");
}

#[test]
fn csv_empty_and_header_only() {
    for (text, what) in [
        (&b""[..], "no text"),
        (b"\n  \n", "no text"),
        (b",g1,g2\n", "only a header"),
    ] {
        match parse_delimited_bytes(text, b',', &opts()) {
            Err(Error::Empty { why, .. }) => assert!(why.contains(what), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn csv_duplicate_genes_and_make_unique() {
    let text = b"gene,c1,c2\nA,1,2\nB,0,1\nA,3,0\n";
    let o = ReadOptions {
        cells_as_rows: Some(false),
        ..opts()
    };
    match parse_delimited_bytes(text, b',', &o) {
        Err(Error::Duplicate { name, hint, .. }) => {
            assert_eq!(name, "A");
            assert!(
                hint.contains("first column") && hint.contains("make_unique"),
                "{hint}"
            );
        }
        other => panic!("{other:?}"),
    }
    let m = parse_delimited_bytes(
        text,
        b',',
        &ReadOptions {
            make_unique: true,
            ..o
        },
    )
    .unwrap();
    assert_eq!(m.genes().symbols, ["A", "B", "A-1"]);
    assert_eq!(m.values().to_dense(), array![[1., 0., 3.], [2., 1., 0.]]);
}

// ---- cross-check with scanpy (optional) ----

/// Runs when a Python with scanpy is found (see `common::python_with`): our 10x output must open in
/// `scanpy.read_10x_mtx` with the same values and names, and scanpy's reading of the committed
/// fixture must match ours.
#[test]
fn scanpy_reads_our_10x_output() {
    let Some(python) = crate::common::python_with("scanpy") else {
        return;
    };
    let m = random_matrix(40, 30, 0.3, true, true, 21);
    let d = tempfile::tempdir().unwrap();
    write_10x(&m, d.path()).unwrap();
    let script = r#"
import sys, numpy as np, scanpy as sc
a = sc.read_10x_mtx(sys.argv[1], var_names="gene_symbols", cache=False)
x = a.X.toarray()
print(a.shape[0], a.shape[1], int(a.X.nnz), repr(float(x.sum())), repr(float((x * np.arange(x.shape[1])).sum())))
print(a.obs_names[0], a.obs_names[-1], a.var_names[0], a.var["gene_ids"].iloc[-1], a.var["feature_types"].iloc[0])
"#;
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    let x = m.values().to_dense().mapv(f64::from);
    let weighted: f64 = x.indexed_iter().map(|((_, g), v)| v * g as f64).sum();
    let want = format!("40 30 {} {:?} {:?}", m.values().nnz(), x.sum(), weighted);
    assert_eq!(lines.next().unwrap(), want);
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "{} {} GENE0 {} Gene Expression",
            m.cells()[0],
            m.cells()[39],
            m.genes().ids.as_ref().unwrap()[29]
        )
    );
}

/// A multi-modal (CITE-seq style) 10x directory: the antibody `CD4` shares its gene's symbol.
/// scanpy's default `gex_only` drops the antibody rows; so does ours, in whole reads and
/// streams, and `gex_only: false` keeps them (then the repeated symbol is an error).
#[test]
fn gex_only_drops_other_feature_types_like_scanpy() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("features.tsv"),
        "ENSG1\tCD4\tGene Expression\nAB1\tCD4\tAntibody Capture\nENSG2\tGFAP\tGene Expression\n",
    )
    .unwrap();
    std::fs::write(d.path().join("barcodes.tsv"), "c1\nc2\n").unwrap();
    std::fs::write(
        d.path().join("matrix.mtx"),
        "%%MatrixMarket matrix coordinate integer general\n3 2 4\n1 1 5\n2 1 7\n3 2 2\n2 2 9\n",
    )
    .unwrap();
    let m = read_10x(d.path(), &ReadOptions::default()).unwrap();
    assert_eq!(m.genes().symbols, ["CD4", "GFAP"]);
    assert_eq!(m.genes().ids.as_deref().unwrap(), ["ENSG1", "ENSG2"]);
    assert_eq!(m.values().to_dense(), array![[5.0, 0.0], [0.0, 2.0]]);
    let streamed: Vec<CsrMatrix> = MtxChunks::open(d.path(), 1, &ReadOptions::default())
        .unwrap()
        .map(|c| c.unwrap().values)
        .collect();
    assert_eq!(
        CsrMatrix::vstack(&streamed).unwrap().to_dense(),
        m.values().to_dense()
    );
    let all = ReadOptions {
        gex_only: false,
        ..ReadOptions::default()
    };
    let e = read_10x(d.path(), &all).unwrap_err();
    assert!(matches!(e, Error::Duplicate { .. }), "{e}");
    let all_unique = ReadOptions {
        make_unique: true,
        ..all
    };
    let m = read_10x(d.path(), &all_unique).unwrap();
    assert_eq!(m.genes().symbols, ["CD4", "CD4-1", "GFAP"]);
    assert_eq!(
        m.values().to_dense(),
        array![[5.0, 7.0, 0.0], [0.0, 9.0, 2.0]]
    );
}
