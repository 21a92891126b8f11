//! Rules: Boolean and Hill libraries, ground-truth formats, ranking metrics, rule extraction
//! and the dynamics route.

use std::path::Path;

use cellsindy::library::FeatureLibrary;
use cellsindy::optimize::{Ensemble, OptimizerConfig, SparseRegressor, Stlsq, StlsqParams};
use cellsindy::rules::*;
use cellsindy::stats::{auroc as roc_auc, average_precision};
use cellsindy::synthetic::{generate, BrainParams, PolyTerm};
use cellsindy::Error;
use ndarray::Array2;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn rules_metrics_match_sklearn_on_hand_cases() {
    // Reference values: sklearn 1.9 average_precision_score / roc_auc_score.
    let s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
    let y = [true, false, true, false, false, true];
    assert!(close(
        average_precision(&s, &y, 3).unwrap().unwrap(),
        0.7222222222222222
    ));
    assert!(close(roc_auc(&s, &y).unwrap().unwrap(), 0.5555555555555556));
    // Ties enter together: sklearn gives 0.5 and 0.5416666666666666.
    let s2 = [0.9, 0.8, 0.8, 0.8, 0.3, 0.3, 0.1];
    let y2 = [false, true, false, true, true, false, false];
    assert!(close(average_precision(&s2, &y2, 3).unwrap().unwrap(), 0.5));
    assert!(close(
        roc_auc(&s2, &y2).unwrap().unwrap(),
        0.5416666666666666
    ));
    // A positive outside the ranking can never be recalled: AP over 4 positives.
    assert!(close(
        average_precision(&s, &y, 4).unwrap().unwrap(),
        0.7222222222222222 * 3.0 / 4.0
    ));
    // Perfect ranking.
    let yp = [true, true, false, false, false, false];
    assert!(close(average_precision(&s, &yp, 2).unwrap().unwrap(), 1.0));
    assert!(close(roc_auc(&s, &yp).unwrap().unwrap(), 1.0));
    assert!(average_precision(&s, &[false; 6], 0).unwrap().is_none());
    assert!(matches!(
        average_precision(&s, &y[..3], 3),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn rules_early_precision_ratio_counts_ties_and_zero_scores() {
    let s2 = [0.9, 0.8, 0.8, 0.8, 0.3, 0.3, 0.1];
    let y2 = [false, true, false, true, true, false, false];
    // k = 3; the 3rd score 0.8 is tied, so the top set is 4 edges with 2 hits:
    // precision 1/2 over random 3/7.
    let epr = cellsindy::rules::evaluate("m", &edges_from(&s2, &y2), None, &truth_from(&y2), false)
        .unwrap();
    assert!((epr.edges.epr.unwrap() - 0.5 / (3.0 / 7.0)).abs() < 1e-12);
    assert!(close(epr.edges.auprc.unwrap(), 0.5));
    // Scores of zero never enter the top set.
    let z = [1.0, 0.0, 0.0, 0.0];
    let yz = [false, true, true, false];
    let e = cellsindy::rules::evaluate("z", &edges_from(&z, &yz), None, &truth_from(&yz), false)
        .unwrap();
    assert_eq!(e.edges.epr, Some(0.0));
}

/// Edges `g{i} → t` with the given scores, sign +1.
fn edges_from(scores: &[f64], _labels: &[bool]) -> Vec<ScoredEdge> {
    scores
        .iter()
        .enumerate()
        .map(|(i, &s)| ScoredEdge {
            regulator: format!("g{i}"),
            target: "t".into(),
            sign: 1,
            score: s,
            max_abs_coef: s,
        })
        .collect()
}

fn truth_from(labels: &[bool]) -> TruthNetwork {
    TruthNetwork {
        edges: labels
            .iter()
            .enumerate()
            .filter(|(_, l)| **l)
            .map(|(i, _)| TruthEdge {
                regulator: format!("g{i}"),
                target: "t".into(),
                sign: 1,
            })
            .collect(),
        rules: Default::default(),
    }
}

fn poly(rule: &str) -> Vec<(f64, String)> {
    let (_, e) = parse_boolean_rule(rule).unwrap();
    e.polynomial()
        .into_iter()
        .map(|t| (t.coef, t.vars.join("*")))
        .collect()
}

#[test]
fn rules_boolean_parser_gives_multilinear_forms() {
    assert_eq!(
        poly("C = (A and not B) or (B and not A)"),
        [(1.0, "A".into()), (1.0, "B".into()), (-2.0, "A*B".into())]
    );
    assert_eq!(poly("C = A and B"), [(1.0, "A*B".into())]);
    assert_eq!(
        poly("C = A & !B"),
        [(1.0, "A".into()), (-1.0, "A*B".into())]
    );
    // Precedence: not > and > or.
    assert_eq!(
        poly("X = A or B and C"),
        [
            (1.0, "A".into()),
            (1.0, "B*C".into()),
            (-1.0, "A*B*C".into())
        ]
    );
    assert_eq!(
        poly("X = not A and B"),
        [(1.0, "B".into()), (-1.0, "A*B".into())]
    );
    assert_eq!(
        poly("X = not (A and B)"),
        [(1.0, "".into()), (-1.0, "A*B".into())]
    );
    // A variable that cancels regulates nothing.
    assert_eq!(poly("X = A or not A"), [(1.0, "".into())]);
    // Evaluation agrees with the polynomial on every state.
    let (_, e) = parse_boolean_rule("Y = (A or B) and not (A and B)").unwrap();
    for a in [false, true] {
        for b in [false, true] {
            let v = e.eval(&|g| if g == "A" { a } else { b });
            assert_eq!(v, a != b);
        }
    }
}

#[test]
fn rules_boolean_file_edges_signs_and_errors_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.txt");
    std::fs::write(
        &path,
        "# synthetic gates\nTGXOR = (TFA and not TFB) or (TFB and not TFA)\n\nTGANDNOT = TFE and not TFF  # repression by TFF\nS = S and A\n",
    )
    .unwrap();
    let net = TruthNetwork::load(&path).unwrap();
    let mut edges: Vec<(String, String, i8)> = net
        .edges
        .iter()
        .map(|e| (e.regulator.clone(), e.target.clone(), e.sign))
        .collect();
    edges.sort();
    assert_eq!(
        edges,
        [
            ("A".into(), "S".into(), 1),
            ("S".into(), "S".into(), 1),
            ("TFA".into(), "TGXOR".into(), 1),
            ("TFB".into(), "TGXOR".into(), 1),
            ("TFE".into(), "TGANDNOT".into(), 1),
            ("TFF".into(), "TGANDNOT".into(), -1),
        ]
    );
    let bad = |text: &str, line: usize, needle: &str| {
        std::fs::write(&path, text).unwrap();
        match TruthNetwork::load(&path) {
            Err(Error::Parse { line: l, msg, .. }) => {
                assert_eq!(l, line, "{msg}");
                assert!(msg.contains(needle), "`{msg}` lacks `{needle}`");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    };
    bad("C = A and B\n# x\nD = A and\n", 3, "expression ends");
    bad("C = (A or B\n", 1, "expected `)`");
    bad("C = A B\n", 1, "after a complete expression");
    bad("C = A $ B\n", 1, "unexpected character `$`");
    bad("C = A\nC = B\n", 2, "line 1");
    bad("= A\n", 1, "not a gene name");
}

#[test]
fn rules_coupling_list_and_synthetic_truth() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edges.tsv");
    std::fs::write(&path, "target\tregulator\tweight\nT\tA\t0.6\nT B -0.4\n").unwrap();
    let net = TruthNetwork::load(&path).unwrap();
    assert_eq!(net.edges.len(), 2);
    assert_eq!(net.edges[1].sign, -1);
    assert_eq!(net.rules["T"].len(), 2);
    std::fs::write(&path, "T A 1\nT B x\n").unwrap();
    assert!(matches!(
        TruthNetwork::load(&path),
        Err(Error::Parse { line: 2, .. })
    ));
    std::fs::write(&path, "T A 1\nT A 2\n").unwrap();
    assert!(matches!(
        TruthNetwork::load(&path),
        Err(Error::Parse { line: 2, .. })
    ));
    std::fs::write(&path, "T A\n").unwrap();
    assert!(matches!(
        TruthNetwork::load(&path),
        Err(Error::Parse { line: 1, .. })
    ));

    // The generator's export: its TSV, its JSON and its Boolean rules agree on edges and signs.
    let brain = generate(
        &BrainParams::default()
            .n_cells(50)
            .n_background_genes(5)
            .seed(3),
    )
    .unwrap();
    brain.truth.write_signed_edges_tsv(&path).unwrap();
    let from_tsv = TruthNetwork::load(&path).unwrap();
    let json = dir.path().join("truth.json");
    brain.truth.save_json(&json).unwrap();
    let from_json = TruthNetwork::load(&json).unwrap();
    let sorted = |n: &TruthNetwork| {
        let mut e = n.edges.clone();
        e.sort();
        e
    };
    assert_eq!(sorted(&from_tsv), sorted(&from_json));
    assert_eq!(from_json.edges.len(), 9);
    let rules: String = brain
        .truth
        .rules
        .iter()
        .filter_map(|r| r.boolean.clone())
        .map(|b| b + "\n")
        .collect();
    let bool_path = dir.path().join("rules.txt");
    std::fs::write(&bool_path, rules).unwrap();
    let from_bool = TruthNetwork::load(&bool_path).unwrap();
    for e in &from_bool.edges {
        assert!(from_json.edges.contains(e), "{e:?}");
    }
    // Boolean XOR's polynomial equals the generator's.
    let xor = brain.truth.rule("TGXOR").unwrap();
    assert_eq!(from_bool.rules["TGXOR"], xor.terms);
}

/// All 64 states of six switches, the three gates computed exactly.
fn boolean_data() -> (Array2<f64>, Array2<f64>) {
    let x = Array2::from_shape_fn((64, 6), |(i, j)| ((i >> j) & 1) as f64);
    let y = Array2::from_shape_fn((64, 3), |(i, k)| {
        let (a, b) = (x[(i, 2 * k)], x[(i, 2 * k + 1)]);
        match k {
            0 => a + b - 2.0 * a * b,
            1 => a * b,
            _ => a * (1.0 - b),
        }
    });
    (x, y)
}

#[test]
fn rules_boolean_library_recovers_xor_and_andnot_exactly() {
    let genes: Vec<String> = ["TFA", "TFB", "TFC", "TFD", "TFE", "TFF"]
        .map(String::from)
        .to_vec();
    let targets: Vec<String> = ["TGXOR", "TGAND", "TGANDNOT"].map(String::from).to_vec();
    let (x, y) = boolean_data();
    let lib = boolean_library(2).unwrap();
    assert_eq!(lib.n_output_features(6), 1 + 6 + 15);
    let theta = lib.transform(x.view()).unwrap();
    let features = FeatureTerms::from_polynomial(&lib, &genes).unwrap();
    let ens = Ensemble::params()
        .inner(OptimizerConfig::Stlsq(
            StlsqParams::default().threshold(0.1),
        ))
        .n_models(20)
        .seed(5)
        .check()
        .unwrap();
    let fit = ens.fit(theta.view(), y.view()).unwrap();
    let rs = extract_rules(&fit, &features, &targets, &genes, &|t| t.to_string(), false).unwrap();
    let terms = |t: &str| -> Vec<(String, f64)> {
        rs.rule(t)
            .unwrap()
            .terms
            .iter()
            .map(|r| (r.feature.clone(), (r.coef * 1e6).round() / 1e6))
            .collect()
    };
    assert_eq!(
        terms("TGXOR"),
        [
            ("TFA".into(), 1.0),
            ("TFB".into(), 1.0),
            ("TFA TFB".into(), -2.0)
        ]
    );
    assert_eq!(terms("TGAND"), [("TFC TFD".into(), 1.0)]);
    assert_eq!(
        terms("TGANDNOT"),
        [("TFE".into(), 1.0), ("TFE TFF".into(), -1.0)]
    );
    assert_eq!(
        rs.rule("TGXOR").unwrap().text(3),
        "TGXOR = TFA + TFB - 2 TFA·TFB"
    );
    assert_eq!(
        rs.rule("TGANDNOT").unwrap().latex(3),
        "\\mathrm{TGANDNOT} = \\mathrm{TFE} - \\mathrm{TFE}\\,\\mathrm{TFF}"
    );
    assert!(rs
        .rules
        .iter()
        .flat_map(|r| &r.terms)
        .all(|t| t.inclusion == Some(1.0)));
    // Edges: the six true ones score 1 with the generator's signs, the rest 0.
    let truth = TruthNetwork::parse_boolean_rules(
        "TGXOR = (TFA and not TFB) or (TFB and not TFA)\nTGAND = TFC and TFD\nTGANDNOT = TFE and not TFF\n",
        Path::new("<test>"),
    )
    .unwrap();
    let ev = evaluate("boolean", &rs.edges, Some(&rs), &truth, false).unwrap();
    assert_eq!(ev.edges.n_true, 6);
    assert_eq!(ev.edges.auprc, Some(1.0));
    assert_eq!(ev.edges.auprc_signed, Some(1.0));
    assert_eq!(ev.sign_accuracy, Some(1.0));
    assert_eq!(ev.exact_count(), (3, 3));
    assert!(ev.targets.iter().all(|t| t.exact_with_signs));
    // A single STLSQ fit (no ensemble) gives the same rules; scores are |coef|.
    let single = Stlsq::params().threshold(0.1).check().unwrap();
    let f1 = single.fit(theta.view(), y.view()).unwrap();
    let r1 = extract_rules(&f1, &features, &targets, &genes, &|t| t.to_string(), false).unwrap();
    assert_eq!(
        r1.rule("TGXOR").unwrap().text(3),
        "TGXOR = TFA + TFB - 2 TFA·TFB"
    );
    // Binarising expression levels recovers the 0/1 states.
    let levels = x.mapv(|v| 0.5 + 30.0 * v);
    assert_eq!(binarize(levels.view(), &[15.5; 6]).unwrap(), x);
}

#[test]
fn rules_hill_library_shapes_names_and_errors() {
    let lib = HillLibrary::new(vec![1.0, 2.0, 3.0], 2.0)
        .unwrap()
        .mode(HillMode::Both);
    let names = lib.feature_names(&["a".into(), "b".into(), "c".into()]);
    assert_eq!(names.len(), 6 + 12);
    assert_eq!(&names[..3], ["H(a)", "R(a)", "H(b)"]);
    assert_eq!(names[6], "H(a) H(b)");
    let th = lib
        .transform(ndarray::array![[1.0, 0.0, 3.0]].view())
        .unwrap();
    assert!(close(th[(0, 0)], 0.5) && close(th[(0, 1)], 0.5));
    assert!(close(th[(0, 2)], 0.0) && close(th[(0, 3)], 1.0));
    assert!(matches!(
        lib.transform(ndarray::array![[1.0, 0.0]].view()),
        Err(Error::Shape { .. })
    ));
    assert!(HillLibrary::new(vec![0.0], 2.0).is_err());
    assert!(HillLibrary::new(vec![1.0], 0.5).is_err());
    let _ = PolyTerm {
        coef: 1.0,
        vars: vec![],
    };
}

#[test]
fn rules_correlation_baseline_is_symmetric_and_signed() {
    let x = ndarray::array![
        [1.0, 2.0, 5.0],
        [2.0, 4.0, 3.0],
        [3.0, 6.5, 1.0],
        [4.0, 8.0, 0.0]
    ];
    let genes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let p = correlation_edges(x.view(), &genes, CorrelationKind::Pearson).unwrap();
    let s = correlation_edges(x.view(), &genes, CorrelationKind::Spearman).unwrap();
    assert_eq!(p.len(), 6);
    let get = |v: &[ScoredEdge], r: &str, t: &str| {
        v.iter()
            .find(|e| e.regulator == r && e.target == t)
            .unwrap()
            .clone()
    };
    assert!(close(get(&s, "a", "b").score, 1.0));
    assert_eq!(get(&s, "a", "c").sign, -1);
    assert!(close(get(&s, "a", "c").score, 1.0));
    assert!(close(get(&p, "a", "b").score, get(&p, "b", "a").score));
    assert!(get(&p, "a", "c").score < 1.0);
}

/// Seeded uniform draws in [0, 1) (SplitMix64), so the route-2 tests need no RNG crate.
fn uniforms(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn rules_activations_unit_regression_finds_planted_xor_unit() {
    // Eight balanced 0/1 genes; units: XOR(g1, g4), 2·g2, g0 AND NOT g5, noise, constant,
    // and a unit that fires in 5 cells only. Every unit carries Gaussian-ish noise (sd ≈ 0.1).
    let (n, g) = (2000, 8);
    let mut u = uniforms(11);
    let states = Array2::from_shape_fn((n, g), |_| if u() < 0.5 { 1.0 } else { 0.0 });
    let mut noise = || (0..4).map(|_| u() - 0.5).sum::<f64>() * 0.17;
    let units = Array2::from_shape_fn((n, 6), |(i, k)| {
        let s = |j: usize| states[(i, j)];
        match k {
            0 => s(1) + s(4) - 2.0 * s(1) * s(4) + noise(),
            1 => 2.0 * s(2) + noise(),
            2 => s(0) * (1.0 - s(5)) + noise(),
            3 => noise(),
            4 => 3.0,
            _ => {
                if i < 5 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    });
    let genes: Vec<String> = (0..g).map(|j| format!("g{j}")).collect();
    let names: Vec<String> = (0..6).map(|k| format!("u[{k}]")).collect();
    let rules = explain_units(
        states.view(),
        &genes,
        units.view(),
        &names,
        &ExplainParams::default(),
    )
    .unwrap();
    assert_eq!(rules.len(), 6);

    let xor = &rules[0];
    assert_eq!(xor.kind, UnitKind::Interaction, "{xor:?}");
    let gate = xor.gate.as_ref().unwrap();
    assert_eq!(gate.op, "XOR");
    assert_eq!(gate.inputs, ["g1".to_string(), "g4".to_string()]);
    assert_eq!(gate.name, "g1 XOR g4");
    assert!(xor.r2 > 0.9, "{}", xor.r2);
    // Exactly the XOR polynomial (plus the constant), coefficients a, a, -2a.
    let terms: Vec<(&str, f64)> = xor
        .rule
        .terms
        .iter()
        .map(|t| (t.feature.as_str(), t.coef))
        .collect();
    let names_only: Vec<&str> = terms.iter().map(|t| t.0).collect();
    assert_eq!(
        names_only,
        ["1", "g1", "g4", "g1 g4"],
        "{}",
        xor.rule.text(3)
    );
    let (a, b, ab) = (terms[1].1, terms[2].1, terms[3].1);
    assert!((a - b).abs() < 0.05 * a.abs(), "{a} {b}");
    assert!((ab + 2.0 * a).abs() < 0.05 * a.abs(), "{a} {ab}");
    assert!(xor.rule.terms.iter().all(|t| t.inclusion.unwrap() >= 0.5));

    let single = &rules[1];
    assert_eq!(single.kind, UnitKind::SingleGene);
    assert!(single.rule.terms.iter().any(|t| t.feature == "g2"));
    assert!(single.r2 > 0.9);

    let andnot = &rules[2];
    assert_eq!(andnot.kind, UnitKind::Interaction);
    assert_eq!(andnot.gate.as_ref().unwrap().name, "g0 AND NOT g5");

    assert_eq!(rules[3].kind, UnitKind::Unexplained);
    assert_eq!(rules[4].kind, UnitKind::Dead);
    assert_eq!(rules[5].kind, UnitKind::Rare);

    // Held out (every third cell or so): the planted rules predict cells they were not fitted
    // on as well as the fitted ones; the noise unit's in-sample fit does not carry over.
    let held = |k: usize| rules[k].heldout_r2.unwrap();
    assert!(
        held(0) > 0.9 && (held(0) - xor.r2).abs() < 0.03,
        "{} vs {}",
        held(0),
        xor.r2
    );
    assert!(held(1) > 0.9 && held(2) > 0.9);
    assert!(
        held(3) < 0.02 && held(3) <= rules[3].r2 + 1e-12,
        "{}",
        held(3)
    );
    assert!(rules[4].heldout_r2.is_none() && rules[5].heldout_r2.is_none());
    let whole = ExplainParams {
        holdout: 0.0,
        ..ExplainParams::default()
    };
    let r = explain_units(states.view(), &genes, units.view(), &names, &whole).unwrap();
    assert!(r[0].heldout_r2.is_none() && r[0].gate.as_ref().unwrap().op == "XOR");
    let too_much = ExplainParams {
        holdout: 0.95,
        ..ExplainParams::default()
    };
    assert!(matches!(
        explain_units(states.view(), &genes, units.view(), &names, &too_much),
        Err(Error::InvalidParam { .. })
    ));

    // Fixed candidates skip the screen; unknown ones are named.
    let fixed = ExplainParams {
        candidates: Some(vec!["g1".into(), "g4".into()]),
        ..ExplainParams::default()
    };
    let r = explain_units(states.view(), &genes, units.view(), &names, &fixed).unwrap();
    assert_eq!(r[0].gate.as_ref().unwrap().op, "XOR");
    assert!(r[0].screen_r2.is_none());
    let bad = ExplainParams {
        candidates: Some(vec!["nope".into()]),
        ..ExplainParams::default()
    };
    assert!(matches!(
        explain_units(states.view(), &genes, units.view(), &names, &bad),
        Err(Error::UnknownGenes { .. })
    ));
    // Non-binary states are refused.
    let mut s2 = states.clone();
    s2[(0, 0)] = 0.5;
    assert!(explain_units(
        s2.view(),
        &genes,
        units.view(),
        &names,
        &ExplainParams::default()
    )
    .is_err());
}

#[test]
fn rules_sae_recovers_planted_sparse_features_in_superposition() {
    use cellsindy::nn::SparseAutoencoder;
    // 32 random unit directions in 16 dimensions (2x overcomplete: superposed), each active in
    // 4% of the samples with magnitude in [1, 2].
    let (d, k_true, n) = (16, 32, 4000);
    let mut u = uniforms(3);
    let mut gauss = || (0..12).map(|_| u()).sum::<f64>() - 6.0;
    let mut dirs = Array2::<f64>::from_shape_fn((k_true, d), |_| gauss());
    for mut r in dirs.rows_mut() {
        let norm = r.dot(&r).sqrt();
        r /= norm;
    }
    let mut u2 = uniforms(4);
    let mut x = Array2::<f32>::zeros((n, d));
    for i in 0..n {
        for k in 0..k_true {
            if u2() < 0.04 {
                let a = 1.0 + u2();
                for j in 0..d {
                    x[(i, j)] += (a * dirs[(k, j)]) as f32;
                }
            }
        }
        for j in 0..d {
            x[(i, j)] += ((u2() - 0.5) * 0.02) as f32;
        }
    }
    let device = candle_core::Device::Cpu;
    let sae = SparseAutoencoder::params()
        .n_features(64)
        .l1(0.1)
        .steps(3000)
        .batch_size(128)
        .lr(3e-3)
        .seed(1)
        .fit(x.view(), &device)
        .unwrap();
    // Every decoder row has unit norm; each planted direction has a close decoder row.
    let dec = sae.decoder.mapv(f64::from);
    for r in dec.rows() {
        assert!((r.dot(&r).sqrt() - 1.0).abs() < 1e-3);
    }
    let best: Vec<f64> = dirs
        .rows()
        .into_iter()
        .map(|t| {
            dec.rows()
                .into_iter()
                .map(|r| r.dot(&t))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let recovered = best.iter().filter(|&&c| c > 0.9).count();
    assert!(
        recovered >= 30,
        "{recovered}/32 recovered; best cosines {best:?}; metrics {:?}",
        (sae.metrics.fvu, sae.metrics.mean_l0, sae.metrics.n_dead)
    );
    assert!(sae.metrics.fvu < 0.2, "{}", sae.metrics.fvu);
    // Planted L0 is 32 · 0.04 = 1.28.
    assert!(sae.metrics.mean_l0 < 5.0, "{}", sae.metrics.mean_l0);

    // Same seed, same dictionary; the file round-trips and encodes identically.
    let again = SparseAutoencoder::params()
        .n_features(64)
        .l1(0.1)
        .steps(50)
        .batch_size(128)
        .seed(1)
        .fit(x.view(), &device)
        .unwrap();
    let again2 = again.params.clone().fit(x.view(), &device).unwrap();
    assert_eq!(again.decoder, again2.decoder);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sae.safetensors");
    sae.save(&path).unwrap();
    let back = SparseAutoencoder::load(&path).unwrap();
    assert_eq!(back, sae);
    assert_eq!(
        back.encode(x.view()).unwrap(),
        sae.encode(x.view()).unwrap()
    );
    assert!(matches!(
        sae.encode(x.slice(ndarray::s![.., ..3])),
        Err(Error::Shape { .. })
    ));
    std::fs::write(&path, b"junk").unwrap();
    assert!(SparseAutoencoder::load(&path).is_err());
}

// ── Route 1: distillation ──

/// The synthetic brain's own ON calls as a perfect "predictor": distilling them must read the
/// three gates exactly (XOR `a + b − 2ab`, AND `ab`, AND-NOT `a − ab`) with distractor
/// candidates in the library, and score the true edges above every other pair.
#[test]
fn rules_distilling_the_brains_own_calls_reads_xor_and_andnot() {
    use cellsindy::expression::normalize::{log1p, normalize_total};
    use cellsindy::probes::Binarize;
    let brain = generate(
        &BrainParams::default()
            .n_cells(1500)
            .n_background_genes(20)
            .seed(5),
    )
    .unwrap();
    let mut m = brain.matrix.clone();
    normalize_total(&mut m, None).unwrap();
    log1p(&mut m);
    let x = m.values().to_dense().mapv(f64::from);
    let call = |g: &str| -> Vec<f64> {
        let c = brain.matrix.genes().position(g).unwrap();
        let v = x.column(c).to_vec();
        let t = Binarize::TwoMeans.threshold(&v).unwrap();
        v.iter().map(|&v| f64::from(u8::from(v > t))).collect()
    };
    let cands = ["TFA", "TFB", "TFC", "TFD", "TFE", "TFF"];
    let calls: Vec<Vec<f64>> = cands.iter().map(|g| call(g)).collect();
    let n = calls[0].len();
    let states = Array2::from_shape_fn((n, cands.len()), |(i, k)| calls[k][i]);
    let names: Vec<String> = cands.iter().map(|s| s.to_string()).collect();
    let targets: Vec<DistilledTarget> = ["TGXOR", "TGAND", "TGANDNOT"]
        .iter()
        .map(|t| {
            let y = call(t);
            DistilledTarget {
                target: t.to_string(),
                candidates: names.clone(),
                states: states.clone(),
                levels: states.clone(),
                expected: y.clone(),
                p_high: y,
            }
        })
        .collect();
    let mut regs = names.clone();
    regs.extend(["TGXOR", "TGAND", "TGANDNOT"].map(String::from));
    let fit = fit_distilled(&targets, &regs, &DistillParams::default()).unwrap();
    let truth = TruthNetwork::from_ground_truth(&brain.truth);
    let e = evaluate("distill", &fit.rules.edges, Some(&fit.rules), &truth, false).unwrap();
    for t in &e.targets {
        assert!(t.exact_with_signs, "{}", t.fitted);
    }
    assert_eq!(e.exact_count(), (3, 3));
    assert_eq!(e.edges.auprc, Some(1.0), "{:?}", e.edges);
    let xor = fit.rules.rule("TGXOR").unwrap();
    let coefs: Vec<i64> = xor.terms.iter().map(|t| t.coef.round() as i64).collect();
    assert_eq!(coefs, [1, 1, -2], "{}", xor.text(3));
}
