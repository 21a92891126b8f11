//! The expression matrix core: CSR invariants, subsetting, normalisation and HVG against scanpy,
//! gene matching.

use cellsindy::expression::genes::{match_genes, MatchKind};
use cellsindy::expression::normalize::{highly_variable_genes, log1p, normalize_total, HvgFlavor};
use cellsindy::expression::{CsrMatrix, ExpressionMatrix, GeneTable, ObsColumn, Values};
use cellsindy::Error;
use ndarray::{array, Array2};

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn small() -> ExpressionMatrix {
    let x = array![[1.0f32, 0.0, 3.0], [0.0, 0.0, 2.0], [4.0, 5.0, 0.0]];
    ExpressionMatrix::new(
        Values::Sparse(CsrMatrix::from_dense(x.view())),
        GeneTable::from_symbols(vec!["A".into(), "B".into(), "C".into()]),
        names("c", 3),
    )
    .unwrap()
}

#[test]
fn csr_checks_every_invariant() {
    let ok = CsrMatrix::new(2, 3, vec![0, 1, 3], vec![2, 0, 1], vec![1.0, 2.0, 3.0]);
    assert!(ok.is_ok());
    let cases: Vec<(Vec<usize>, Vec<u32>, &str)> = vec![
        (vec![0, 1], vec![2, 0, 1], "indptr"),     // wrong length
        (vec![0, 2, 1], vec![2, 0, 1], "indptr"),  // decreasing / wrong end
        (vec![0, 1, 3], vec![3, 0, 1], "indices"), // out of range
        (vec![0, 1, 3], vec![2, 1, 0], "indices"), // unsorted row
        (vec![0, 1, 3], vec![2, 1, 1], "indices"), // duplicate in row
    ];
    for (indptr, indices, what) in cases {
        let e = CsrMatrix::new(2, 3, indptr.clone(), indices.clone(), vec![1.0, 2.0, 3.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains(what), "{indptr:?} {indices:?}: {e}");
    }
}

#[test]
fn triplets_sum_duplicates_and_drop_zeros_like_scipy() {
    let m = CsrMatrix::from_triplets(
        2,
        3,
        &[1, 0, 1, 0, 1],
        &[2, 1, 0, 1, 1],
        &[1.0, 2.0, 3.0, 4.0, 0.0],
    )
    .unwrap();
    assert_eq!(m.to_dense(), array![[0.0, 6.0, 0.0], [3.0, 0.0, 1.0]]);
    assert_eq!(m.nnz(), 3); // the explicit zero is gone
    assert!(CsrMatrix::from_triplets(2, 3, &[2], &[0], &[1.0]).is_err());
}

#[test]
fn subsetting_keeps_names_metadata_and_values() {
    let m = small()
        .with_obs(
            "cell_type",
            ObsColumn::categorical_from_labels(&["n".into(), "a".into(), "n".into()]),
        )
        .unwrap();
    let s = m
        .select_cells(&[2, 0])
        .unwrap()
        .select_gene_names(&["C", "A"])
        .unwrap();
    assert_eq!(s.cells(), ["c2", "c0"]);
    assert_eq!(s.genes().symbols, ["C", "A"]);
    assert_eq!(s.values().to_dense(), array![[0.0, 4.0], [3.0, 1.0]]);
    assert_eq!(s.obs_column("cell_type").unwrap().label(0), "n");
    // Dense storage gives the same.
    let (v, g, c) = small().into_parts();
    let d = ExpressionMatrix::new(Values::Dense(v.to_dense()), g, c).unwrap();
    let sd = d
        .select_cells(&[2, 0])
        .unwrap()
        .select_gene_names(&["C", "A"])
        .unwrap();
    assert_eq!(sd.values().to_dense(), s.values().to_dense());
    match m.select_gene_names(&["A", "Nope", "Zip"]).unwrap_err() {
        Error::UnknownGenes { genes } => assert_eq!(genes, ["Nope", "Zip"]),
        e => panic!("{e}"),
    }
    assert!(m.select_cells(&[3]).is_err());
    assert!(m.select_cells(&[1, 1]).is_err());
}

#[test]
fn constructor_rejects_bad_names_and_values() {
    let x = Values::Dense(Array2::<f32>::ones((2, 2)));
    let e = ExpressionMatrix::new(
        x.clone(),
        GeneTable::from_symbols(vec!["G".into(), "G".into()]),
        names("c", 2),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Duplicate {
                what: "gene",
                second: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("make_unique"), "{e}");
    let e = ExpressionMatrix::new(
        x.clone(),
        GeneTable::from_symbols(names("g", 3)),
        names("c", 2),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let mut bad = Array2::<f32>::ones((2, 2));
    bad[[1, 0]] = -1.0;
    let e = ExpressionMatrix::new(
        Values::Dense(bad.clone()),
        GeneTable::from_symbols(names("g", 2)),
        names("c", 2),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Negative {
                cell: 1,
                gene: 0,
                ..
            }
        ),
        "{e}"
    );
    bad[[1, 0]] = f32::NAN;
    let e = ExpressionMatrix::new(
        Values::Dense(bad),
        GeneTable::from_symbols(names("g", 2)),
        names("c", 2),
    )
    .unwrap_err();
    assert!(matches!(e, Error::NonFinite { row: 1, col: 0, .. }), "{e}");
}

#[test]
fn make_unique_follows_scanpy() {
    let mut v: Vec<String> = ["A", "B", "A", "A", "C"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cellsindy::expression::io::make_unique(&mut v);
    assert_eq!(v, ["A", "B", "A-1", "A-2", "C"]);
}

/// The golden file's count matrix (cells × genes rows) and its number of genes.
fn golden_counts(counts: &serde_json::Value) -> (ExpressionMatrix, usize) {
    let rows: Vec<Vec<f32>> = serde_json::from_value(counts.clone()).unwrap();
    let (n, g) = (rows.len(), rows[0].len());
    let x = Array2::from_shape_vec((n, g), rows.concat()).unwrap();
    let m = ExpressionMatrix::new(
        Values::Sparse(CsrMatrix::from_dense(x.view())),
        GeneTable::from_symbols(names("g", g)),
        names("c", n),
    )
    .unwrap();
    (m, g)
}

#[test]
fn hvg_matches_scanpy() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("data/expression/hvg_golden.json")).unwrap();
    let (mut m, g) = golden_counts(&golden["counts"]);
    normalize_total(&mut m, Some(1e4)).unwrap();
    let row0: Vec<f64> = serde_json::from_value(golden["normalized_row0"].clone()).unwrap();
    let ours = m.values().to_dense();
    for (j, want) in row0.iter().enumerate() {
        assert!(
            (f64::from(ours[[0, j]]) - want).abs() <= 1e-3 * want.max(1.0),
            "gene {j}"
        );
    }
    log1p(&mut m);
    let (top, disp) = highly_variable_genes(&m, 12, HvgFlavor::Seurat { n_bins: 20 }).unwrap();
    let want_top: Vec<usize> = serde_json::from_value(golden["highly_variable"].clone()).unwrap();
    assert_eq!(top, want_top);
    let means: Vec<f64> = serde_json::from_value(golden["means"].clone()).unwrap();
    let norm: Vec<Option<f64>> =
        serde_json::from_value(golden["dispersions_norm"].clone()).unwrap();
    for j in 0..g {
        assert!((disp.mean[j] - means[j]).abs() < 1e-4, "mean of gene {j}");
        match norm[j] {
            Some(w) => assert!(
                (disp.normalized_dispersion[j] - w).abs() < 1e-3,
                "gene {j}: {} vs {w}",
                disp.normalized_dispersion[j]
            ),
            None => assert!(disp.normalized_dispersion[j].is_nan(), "gene {j}"),
        }
    }
    // Cell Ranger flavour (its own, larger matrix).
    let cr = &golden["cell_ranger"];
    let (mut m, g) = golden_counts(&cr["counts"]);
    normalize_total(&mut m, Some(1e4)).unwrap();
    log1p(&mut m);
    let (top, disp) = highly_variable_genes(&m, 40, HvgFlavor::CellRanger).unwrap();
    let want_top: Vec<usize> = serde_json::from_value(cr["highly_variable"].clone()).unwrap();
    assert_eq!(top, want_top);
    let means: Vec<f64> = serde_json::from_value(cr["means"].clone()).unwrap();
    let disps: Vec<f64> = serde_json::from_value(cr["dispersions"].clone()).unwrap();
    let norm: Vec<Option<f64>> = serde_json::from_value(cr["dispersions_norm"].clone()).unwrap();
    for j in 0..g {
        assert!(
            (disp.mean[j] - means[j]).abs() < 1e-4,
            "cell_ranger mean of gene {j}"
        );
        assert!(
            (disp.dispersion[j] - disps[j]).abs() < 1e-4 * disps[j].abs().max(1.0),
            "cell_ranger dispersion of gene {j}"
        );
        match norm[j] {
            Some(w) => assert!(
                (disp.normalized_dispersion[j] - w).abs() < 1e-3 * w.abs().max(1.0),
                "cell_ranger gene {j}: {} vs {w}",
                disp.normalized_dispersion[j]
            ),
            None => assert!(disp.normalized_dispersion[j].is_nan(), "gene {j}"),
        }
    }
    for flavor in [HvgFlavor::Seurat { n_bins: 20 }, HvgFlavor::CellRanger] {
        assert!(highly_variable_genes(&m, 0, flavor).is_err());
        assert!(highly_variable_genes(&m, g + 1, flavor).is_err());
    }
    assert!(highly_variable_genes(&m, 3, HvgFlavor::Seurat { n_bins: 0 }).is_err());
}

#[test]
fn normalize_total_default_target_is_the_median() {
    let mut m = small();
    normalize_total(&mut m, None).unwrap();
    // Library sizes 4, 2, 9 → median 4.
    for s in m.library_sizes() {
        assert!((s - 4.0).abs() < 1e-5, "{s}");
    }
    assert!(normalize_total(&mut m, Some(-1.0)).is_err());
}

#[test]
fn gene_matching_by_id_symbol_and_case() {
    let table = GeneTable {
        symbols: vec![
            "GFAP".into(),
            "Rbfox3".into(),
            "SNAP25".into(),
            "snap25".into(),
            "MT-CO1".into(),
        ],
        ids: Some(vec![
            "ENSG00000131095.12".into(),
            "ENSG00000167281".into(),
            "ENSG00000132639".into(),
            "ENSG00000000001".into(),
            "ENSG00000198804".into(),
        ]),
    };
    let vocab: Vec<String> = ["ENSG00000131095", "RBFOX3", "MT-CO1", "Snap25", "SYN1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let m = match_genes(&table, &vocab).unwrap();
    assert_eq!(m.columns, [Some(0), Some(1), Some(4), None, None]);
    assert_eq!(m.kinds[0], Some(MatchKind::Id));
    assert_eq!(m.kinds[1], Some(MatchKind::SymbolCaseInsensitive));
    assert_eq!(m.kinds[2], Some(MatchKind::Symbol));
    assert_eq!(m.report.n_found, 3);
    assert_eq!(m.report.missing, ["SYN1"]);
    assert_eq!(m.report.ambiguous, ["Snap25"]);
    assert_eq!(m.report.n_dataset_unused, 2);
    let text = m.report.to_string();
    assert!(
        text.contains("3/5") && text.contains("SYN1") && text.contains("Snap25"),
        "{text}"
    );
    match m.require_all().unwrap_err() {
        Error::UnknownGenes { genes } => assert_eq!(genes, ["SYN1", "Snap25 (ambiguous)"]),
        e => panic!("{e}"),
    }
}

#[test]
fn reindex_puts_values_in_vocabulary_order() {
    let m = small();
    let vocab: Vec<String> = ["C", "X", "a"].iter().map(|s| s.to_string()).collect();
    let gm = match_genes(m.genes(), &vocab).unwrap();
    let r = gm.reindex(&m).unwrap();
    assert_eq!(
        r.to_dense(),
        array![[3.0, 0.0, 1.0], [2.0, 0.0, 0.0], [0.0, 0.0, 4.0]]
    );
}
