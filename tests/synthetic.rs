//! Synthetic brain: determinism, biology, network truth, module correlations, time course.

use cellsindy::expression::{ExpressionMatrix, ObsColumn};
use cellsindy::synthetic::*;
use cellsindy::Error;

fn small(n_cells: usize, seed: u64) -> SyntheticBrain {
    generate(
        &BrainParams::default()
            .n_cells(n_cells)
            .n_background_genes(100)
            .seed(seed),
    )
    .unwrap()
}

/// Dense column of `gene`, library-size normalised to 5,000 counts per cell.
fn normalised(m: &ExpressionMatrix, gene: &str) -> Vec<f64> {
    let col = m.genes().position(gene).unwrap();
    let totals = m.library_sizes();
    let mut out = vec![0.0; m.n_cells()];
    m.values().for_each_nonzero(|r, c, v| {
        if c == col {
            out[r] = f64::from(v) / totals[r] * 5000.0;
        }
    });
    out
}

fn counts(m: &ExpressionMatrix, gene: &str) -> Vec<f64> {
    let col = m.genes().position(gene).unwrap();
    let mut out = vec![0.0; m.n_cells()];
    m.values().for_each_nonzero(|r, c, v| {
        if c == col {
            out[r] = f64::from(v);
        }
    });
    out
}

fn codes(m: &ExpressionMatrix, name: &str) -> (Vec<String>, Vec<i32>) {
    match m.obs_column(name).unwrap() {
        ObsColumn::Categorical { categories, codes } => (categories.clone(), codes.clone()),
        other => panic!("{name} is not categorical: {other:?}"),
    }
}

fn node(b: &SyntheticBrain, gene: &str) -> Vec<f32> {
    let j = b
        .latent
        .network_genes
        .iter()
        .position(|g| g == gene)
        .unwrap();
    b.latent.network.column(j).to_vec()
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = small(700, 3);
    let b = small(700, 3);
    assert_eq!(a.matrix, b.matrix);
    assert_eq!(a.latent, b.latent);
    assert_eq!(a.truth, b.truth);
    let c = small(700, 4);
    assert_ne!(a.matrix.values(), c.matrix.values());
    assert_eq!(a.matrix.genes(), c.matrix.genes());
}

#[test]
fn same_data_for_any_number_of_threads() {
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| small(1100, 11))
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one.matrix, three.matrix);
    assert_eq!(one.latent, three.latent);
}

#[test]
fn layout_and_obs_columns() {
    let b = small(1000, 1);
    let m = &b.matrix;
    assert_eq!(m.n_cells(), 1000);
    let n_named = 15 + SYNAPTIC_GENES.len() + MITO_GENES.len() + 5 + 14;
    assert_eq!(m.n_genes(), n_named + 100);
    assert!(matches!(
        m.values(),
        cellsindy::expression::Values::Sparse(_)
    ));
    for g in SYNAPTIC_GENES
        .iter()
        .chain(&MITO_GENES)
        .chain(&["TFA", "TGXOR", "BG00001"])
    {
        assert!(m.genes().position(g).is_some(), "{g} missing");
    }
    // Counts are whole numbers.
    m.values()
        .for_each_nonzero(|_, _, v| assert_eq!(v, v.round()));
    let (cats, _) = codes(m, "condition");
    assert_eq!(cats, vec!["control", "stimulated"]);
    assert_eq!(b.truth.groups.background.len(), 100);
}

#[test]
fn proportions_are_respected() {
    let b = small(1000, 2);
    let (cats, c) = codes(&b.matrix, "cell_type");
    assert_eq!(
        cats,
        vec!["neuron", "astrocyte", "oligodendrocyte", "microglia"]
    );
    let count = |k: i32| c.iter().filter(|&&x| x == k).count();
    assert_eq!(
        (count(0), count(1), count(2), count(3)),
        (420, 380, 120, 80)
    );
    let (_, cond) = codes(&b.matrix, "condition");
    let stim = cond.iter().filter(|&&x| x == 1).count();
    assert!((430..=570).contains(&stim), "stimulated {stim}");
    // Other proportions.
    let p = BrainParams::default()
        .n_cells(999)
        .n_background_genes(10)
        .proportions(PerType {
            neuron: 0.5,
            astrocyte: 0.25,
            oligodendrocyte: 0.25,
            microglia: 0.0,
        });
    let (_, c) = codes(&generate(&p).unwrap().matrix, "cell_type");
    let n: Vec<usize> = (0..4)
        .map(|k| c.iter().filter(|&&x| x == k).count())
        .collect();
    assert_eq!(n.iter().sum::<usize>(), 999);
    assert_eq!(n[3], 0);
    assert!(
        (499..=500).contains(&n[0]) && (249..=250).contains(&n[1]),
        "{n:?}"
    );
}

#[test]
fn markers_are_type_specific_and_rbfox3_gfap_exclusive() {
    let b = small(3000, 5);
    let m = &b.matrix;
    let (_, ty) = codes(m, "cell_type");
    let rbfox3 = counts(m, "RBFOX3");
    let gfap = counts(m, "GFAP");
    let both = rbfox3
        .iter()
        .zip(&gfap)
        .filter(|(a, g)| **a >= 3.0 && **g >= 3.0)
        .count();
    assert_eq!(both, 0, "cells with both RBFOX3 and GFAP high");
    let frac = |xs: &[f64], k: i32, min: f64| {
        let sel: Vec<f64> = xs
            .iter()
            .zip(&ty)
            .filter(|(_, t)| **t == k)
            .map(|(x, _)| *x)
            .collect();
        sel.iter().filter(|x| **x >= min).count() as f64 / sel.len() as f64
    };
    assert!(frac(&rbfox3, 0, 3.0) > 0.9);
    assert!(frac(&gfap, 1, 3.0) > 0.95);
    assert!(frac(&rbfox3, 1, 1.0) < 0.03);
    for (gene, k) in [("MBP", 2), ("CX3CR1", 3), ("AQP4", 1), ("SLC17A7", 0)] {
        let x = counts(m, gene);
        let mean_in = x
            .iter()
            .zip(&ty)
            .filter(|(_, t)| **t == k)
            .map(|(v, _)| v)
            .sum::<f64>();
        let n_in = ty.iter().filter(|t| **t == k).count() as f64;
        let mean_out = x
            .iter()
            .zip(&ty)
            .filter(|(_, t)| **t != k)
            .map(|(v, _)| v)
            .sum::<f64>();
        let n_out = ty.len() as f64 - n_in;
        assert!(mean_in / n_in > 50.0 * (mean_out / n_out + 0.01), "{gene}");
    }
    // The XOR probe's binarisation (0.6 quantile, strictly above) recovers the types.
    for (gene, k) in [("RBFOX3", 0), ("GFAP", 1)] {
        let x = normalised(m, gene);
        let mut s = x.clone();
        s.sort_by(f64::total_cmp);
        let pos = 0.6 * (s.len() - 1) as f64;
        let (lo, hi) = (s[pos.floor() as usize], s[pos.ceil() as usize]);
        let q = lo + (hi - lo) * (pos - pos.floor());
        let agree = x
            .iter()
            .zip(&ty)
            .filter(|(v, t)| (**v > q) == (**t == k))
            .count();
        let acc = agree as f64 / x.len() as f64;
        assert!(
            acc > 0.95,
            "{gene}: binarised at the 0.6 quantile agrees with type {acc}"
        );
    }
    // Stimulation induces the immediate-early genes in neurons.
    let (_, cond) = codes(m, "condition");
    let fos = normalised(m, "FOS");
    let mean = |stim: i32| {
        let v: Vec<f64> = (0..fos.len())
            .filter(|&i| ty[i] == 0 && cond[i] == stim)
            .map(|i| fos[i])
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean(1) > 3.0 * mean(0));
}

#[test]
fn gates_hold_on_states_and_on_measured_expression() {
    let b = small(4000, 9);
    let m = &b.matrix;
    let state = |g: &str| node(&b, g);
    let (ta, tb, tx) = (state("TFA"), state("TFB"), state("TGXOR"));
    let (tc, td, tand) = (state("TFC"), state("TFD"), state("TGAND"));
    let (te, tf, tandn) = (state("TFE"), state("TFF"), state("TGANDNOT"));
    for i in 0..m.n_cells() {
        assert_eq!(
            tx[i],
            if (ta[i] == 1.0) != (tb[i] == 1.0) {
                1.0
            } else {
                0.0
            }
        );
        assert_eq!(tand[i], ta_and(tc[i], td[i]));
        assert_eq!(tandn[i], ta_and(te[i], 1.0 - tf[i]));
    }
    // Inputs are ON about half the time.
    let on = ta.iter().filter(|v| **v == 1.0).count() as f64 / ta.len() as f64;
    assert!((on - 0.5).abs() < 0.03);
    // Measured: ON ≈ 30, OFF ≈ 0.5 normalised counts; binarise at 5.
    let bin = |g: &str| -> Vec<bool> { normalised(m, g).iter().map(|v| *v > 5.0).collect() };
    for g in [
        "TFA", "TFB", "TGXOR", "TFC", "TFD", "TGAND", "TFE", "TFF", "TGANDNOT",
    ] {
        let s = state(g);
        let agree = bin(g)
            .iter()
            .zip(&s)
            .filter(|(b, s)| **b == (**s == 1.0))
            .count();
        assert!(agree as f64 / s.len() as f64 > 0.99, "{g}: {agree}");
    }
    let (a, bb, x) = (bin("TFA"), bin("TFB"), bin("TGXOR"));
    let xor_ok = (0..a.len()).filter(|&i| x[i] == (a[i] != bb[i])).count();
    assert!(
        xor_ok as f64 / a.len() as f64 > 0.98,
        "measured XOR holds in {xor_ok}"
    );
    // No linear signal: the XOR target is uncorrelated with each input.
    let (xa, xb, xx) = (
        normalised(m, "TFA"),
        normalised(m, "TFB"),
        normalised(m, "TGXOR"),
    );
    // The inputs are independent, so the R² of the best linear predictor from them is
    // ≈ r_a² + r_b²: under 1 % of the variance.
    let (ra, rb) = (pearson(&xx, &xa), pearson(&xx, &xb));
    assert!(ra * ra + rb * rb < 0.01, "r = {ra}, {rb}");
    // Linear targets follow their regulators' levels.
    let lin1 = normalised(m, "TGLIN1");
    let g: Vec<f64> = state("TFG").iter().map(|v| f64::from(*v)).collect();
    assert!(pearson(&lin1, &g) > 0.7);
    // Mean linear in the level: OLS slope ≈ amplitude (30), intercept ≈ baseline (1), and the
    // mean in the middle third of levels on the line.
    let n = g.len() as f64;
    let (mg, ml) = (g.iter().sum::<f64>() / n, lin1.iter().sum::<f64>() / n);
    let sxy: f64 = g.iter().zip(&lin1).map(|(a, b)| (a - mg) * (b - ml)).sum();
    let sxx: f64 = g.iter().map(|a| (a - mg).powi(2)).sum();
    let (slope, icept) = (sxy / sxx, ml - sxy / sxx * mg);
    assert!(
        (27.0..=34.0).contains(&slope) && (0.0..=2.5).contains(&icept),
        "{slope} {icept}"
    );
    let mid: Vec<usize> = (0..g.len())
        .filter(|&i| g[i] > 1.0 / 3.0 && g[i] < 2.0 / 3.0)
        .collect();
    let mid_mean = mid.iter().map(|&i| lin1[i]).sum::<f64>() / mid.len() as f64;
    let mid_g = mid.iter().map(|&i| g[i]).sum::<f64>() / mid.len() as f64;
    assert!((mid_mean - (icept + slope * mid_g)).abs() < 1.0);
    let lin2 = normalised(m, "TGLIN2");
    let h: Vec<f64> = state("TFH").iter().map(|v| f64::from(*v)).collect();
    let ii: Vec<f64> = state("TFI").iter().map(|v| f64::from(*v)).collect();
    assert!(pearson(&lin2, &h) > 0.5);
    assert!(pearson(&lin2, &ii) < -0.35);
}

fn ta_and(a: f32, b: f32) -> f32 {
    if a == 1.0 && b == 1.0 {
        1.0
    } else {
        0.0
    }
}

/// The calibration figure on 30,000 cells (background reduced for the dev profile; the
/// background genes do not enter the module genes and take the same share of the library).
#[test]
fn module_spearman_hits_targets_on_30k_cells() {
    let b = generate(&BrainParams::default().n_background_genes(100)).unwrap();
    assert_eq!(b.matrix.n_cells(), 30_000);
    let r = module_spearman(&b.matrix, &SYNAPTIC_GENES, &MITO_GENES).unwrap();
    eprintln!(
        "within synaptic {:.4}, within mito {:.4}, between {:.4}",
        r.within_a, r.within_b, r.between
    );
    let t = MODULE_TARGETS;
    assert!((r.within_a - t.within_a).abs() <= 0.05, "{r:?}");
    assert!((r.within_b - t.within_b).abs() <= 0.05, "{r:?}");
    assert!((r.between - t.between).abs() <= 0.05, "{r:?}");
    assert_eq!(b.truth.module_targets, t);
}

#[test]
fn module_spearman_measures_what_it_says() {
    // 4 cells, library sizes differ: normalisation then ranks.
    use cellsindy::expression::{GeneTable, Values};
    use ndarray::array;
    let x = array![
        [1.0f32, 2.0, 0.0, 7.0, 0.0],
        [2.0, 4.0, 1.0, 3.0, 0.0],
        [3.0, 6.0, 0.0, 1.0, 0.0],
        [8.0, 16.0, 5.0, 0.0, 0.0]
    ];
    let genes = GeneTable::from_symbols(["a", "b", "c", "d", "e"].map(String::from).to_vec());
    let cells = (0..4).map(|i| format!("c{i}")).collect();
    let m = ExpressionMatrix::new(Values::Dense(x), genes, cells).unwrap();
    let r = module_spearman(&m, &["a", "b"], &["c", "d"]).unwrap();
    // a and b are proportional in every cell: identical normalised ranks.
    assert!((r.within_a - 1.0).abs() < 1e-12);
    assert!(r.within_b < 0.0 && r.between.abs() <= 1.0);
    // Same result after scaling cells (library size is divided out).
    let err = module_spearman(&m, &["a", "zz", "b"], &["c", "qq"]).unwrap_err();
    match err {
        Error::UnknownGenes { genes } => assert_eq!(genes, vec!["zz", "qq"]),
        e => panic!("{e}"),
    }
    assert!(matches!(
        module_spearman(&m, &["a"], &["c", "d"]),
        Err(Error::InvalidParam {
            name: "group_a",
            ..
        })
    ));
    assert!(matches!(
        module_spearman(&m, &["a", "e"], &["c", "d"]),
        Err(Error::InvalidParam { .. })
    ));
}

/// A tiny evaluator of the plain-text Boolean rules (`and`, `or`, `not`, parentheses).
fn eval_bool(expr: &str, env: &dyn Fn(&str) -> bool) -> bool {
    let spaced = expr.replace('(', " ( ").replace(')', " ) ");
    let toks: Vec<&str> = spaced.split_whitespace().collect();
    fn or(t: &[&str], i: &mut usize, env: &dyn Fn(&str) -> bool) -> bool {
        let mut v = and(t, i, env);
        while t.get(*i) == Some(&"or") {
            *i += 1;
            let w = and(t, i, env);
            v = v || w;
        }
        v
    }
    fn and(t: &[&str], i: &mut usize, env: &dyn Fn(&str) -> bool) -> bool {
        let mut v = not(t, i, env);
        while t.get(*i) == Some(&"and") {
            *i += 1;
            let w = not(t, i, env);
            v = v && w;
        }
        v
    }
    fn not(t: &[&str], i: &mut usize, env: &dyn Fn(&str) -> bool) -> bool {
        match t[*i] {
            "not" => {
                *i += 1;
                !not(t, i, env)
            }
            "(" => {
                *i += 1;
                let v = or(t, i, env);
                assert_eq!(t[*i], ")");
                *i += 1;
                v
            }
            name => {
                *i += 1;
                env(name)
            }
        }
    }
    let mut i = 0;
    let v = or(&toks, &mut i, env);
    assert_eq!(i, toks.len(), "trailing tokens in {expr}");
    v
}

#[test]
fn truth_rules_edges_and_json_round_trip() {
    let b = small(50, 0);
    let t = &b.truth;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truth.json");
    t.save_json(&path).unwrap();
    let back = GroundTruth::load_json(&path).unwrap();
    assert_eq!(&back, t);
    // Boolean and polynomial forms agree on every input combination.
    for rule in t.rules.iter().filter(|r| r.boolean.is_some()) {
        let text = rule.boolean.as_deref().unwrap();
        let (lhs, rhs) = text.split_once('=').unwrap();
        assert_eq!(lhs.trim(), rule.target);
        for bits in 0..4u32 {
            let val = |g: &str| {
                let k = rule.regulators.iter().position(|r| r == g).unwrap();
                bits >> k & 1 == 1
            };
            let boolean = eval_bool(rhs, &val);
            let poly: f64 = rule
                .terms
                .iter()
                .map(|term| {
                    term.coef
                        * term
                            .vars
                            .iter()
                            .map(|v| if val(v) { 1.0 } else { 0.0 })
                            .product::<f64>()
                })
                .sum();
            assert_eq!(poly, if boolean { 1.0 } else { 0.0 }, "{text}");
        }
    }
    assert_eq!(
        t.rule("TGANDNOT").unwrap().polynomial,
        "TGANDNOT = TFE - TFE*TFF"
    );
    assert_eq!(
        t.rule("TGLIN2").unwrap().polynomial,
        "TGLIN2 = 0.4 + 0.6*TFH - 0.4*TFI"
    );
    let tsv = t.signed_edges_tsv();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines[0], "target\tregulator\tweight");
    for l in [
        "TGXOR\tTFA\t1",
        "TGXOR\tTFB\t1",
        "TGANDNOT\tTFF\t-1",
        "TGLIN2\tTFI\t-1",
        "TGLIN1\tTFG\t1",
    ] {
        assert!(lines.contains(&l), "{l} missing from\n{tsv}");
    }
    assert_eq!(lines.len(), 1 + 9);
    assert!(t
        .edges
        .iter()
        .any(|e| e.kind == EdgeKind::Marker && e.target == "GFAP"));
    let tsv_path = dir.path().join("edges.tsv");
    t.write_signed_edges_tsv(&tsv_path).unwrap();
    assert_eq!(std::fs::read_to_string(&tsv_path).unwrap(), tsv);
    assert_eq!(t.groups.synaptic.len(), SYNAPTIC_GENES.len());
    assert!(t.groups.markers["neuron"].contains(&"RBFOX3".to_string()));
    // A file that is not a truth is a parse error naming the file.
    std::fs::write(&path, "{\"edges\": 3}").unwrap();
    assert!(matches!(
        GroundTruth::load_json(&path),
        Err(Error::Parse { .. })
    ));
}

#[test]
fn time_course_shapes_and_steady_state_logic() {
    let p = TimeCourseParams {
        n_trajectories: 12,
        n_samples: 201,
        dt: 0.1,
        ..TimeCourseParams::default()
    };
    let tc = simulate_timecourse(&p).unwrap();
    assert_eq!(tc.trajectories.len(), 12);
    let names = &tc.truth.variables;
    assert_eq!(names.len(), 14);
    let idx = |g: &str| names.iter().position(|n| n == g).unwrap();
    let uidx = |g: &str| {
        tc.truth
            .controls
            .iter()
            .position(|n| n == &format!("u_{g}"))
            .unwrap()
    };
    let mut xor_seen = [false; 2];
    for (tr, u) in tc.trajectories.iter().zip(&tc.inputs) {
        assert_eq!(tr.x().dim(), (201, 14));
        assert_eq!(tr.names(), &names[..]);
        assert_eq!(tr.n_controls(), 9);
        let last = tr.x().row(200).to_vec();
        // Steady state: derivative ≈ 0.
        let d = tc.truth.derivative(&last, u).unwrap();
        assert!(d.iter().all(|v| v.abs() < 0.05), "{d:?}");
        let on = |g: &str| u[uidx(g)] == 1.0;
        let high = |g: &str| {
            let v = last[idx(g)];
            assert!(
                !(5.0..=25.0).contains(&v),
                "{g} = {v} is neither ON nor OFF"
            );
            v > 15.0
        };
        let xor = on("TFA") != on("TFB");
        xor_seen[usize::from(xor)] = true;
        assert_eq!(high("TGXOR"), xor);
        assert_eq!(high("TGAND"), on("TFC") && on("TFD"));
        assert_eq!(high("TGANDNOT"), on("TFE") && !on("TFF"));
        let lin1 = 1.0 + 30.0 * u[uidx("TFG")];
        assert!((last[idx("TGLIN1")] - lin1).abs() < 0.01 * lin1);
        let lin2 = 1.0 + 30.0 * (0.4 + 0.6 * u[uidx("TFH")] - 0.4 * u[uidx("TFI")]);
        assert!((last[idx("TGLIN2")] - lin2).abs() < 0.01 * lin2);
    }
    assert_eq!(
        xor_seen,
        [true, true],
        "both XOR outcomes among the trajectories"
    );
    assert!(tc.truth.equations[idx("TGXOR")]
        .text
        .contains("hTFA + hTFB - 2*hTFA*hTFB"));
    // Deterministic; noise changes values, not shapes.
    let again = simulate_timecourse(&p).unwrap();
    assert_eq!(again.trajectories, tc.trajectories);
    let noisy = simulate_timecourse(&TimeCourseParams {
        noise: 0.05,
        ..p.clone()
    })
    .unwrap();
    assert_eq!(noisy.inputs, tc.inputs);
    let diff = &noisy.trajectories[0].x() - &tc.trajectories[0].x();
    let sd = (diff.iter().map(|v| v * v).sum::<f64>() / diff.len() as f64).sqrt();
    assert!(sd > 0.5 && sd < 3.0, "noise sd {sd}");
}

#[test]
fn invalid_parameters_are_rejected() {
    let bad = |p: BrainParams, field: &str| match generate(&p) {
        Err(Error::InvalidParam { name, .. }) => assert_eq!(name, field),
        other => panic!("{field}: {other:?}"),
    };
    let d = BrainParams::default().n_background_genes(5);
    bad(d.clone().n_cells(0), "n_cells");
    bad(
        d.clone().proportions(PerType {
            neuron: 0.5,
            astrocyte: 0.5,
            oligodendrocyte: 0.5,
            microglia: 0.0,
        }),
        "proportions",
    );
    bad(
        d.clone().proportions(PerType {
            neuron: 1.2,
            astrocyte: -0.2,
            oligodendrocyte: 0.0,
            microglia: 0.0,
        }),
        "proportions",
    );
    bad(d.clone().dispersion(-1.0), "dispersion");
    bad(d.clone().dispersion(f64::NAN), "dispersion");
    bad(d.clone().stimulated_fraction(1.5), "stimulated_fraction");
    bad(d.clone().library_size(0.0, 0.4), "library_median");
    bad(
        d.clone().transitional_fraction(1.5),
        "transitional_fraction",
    );
    bad(d.clone().parity_inputs(1), "parity_inputs");
    bad(
        d.clone().parity_inputs(MAX_PARITY_INPUTS + 1),
        "parity_inputs",
    );
    for (gate, field) in [
        (
            GateOptions {
                p_on: 0.0,
                ..GateOptions::default()
            },
            "gate.p_on",
        ),
        (
            GateOptions {
                flip: f64::NAN,
                ..GateOptions::default()
            },
            "gate.flip",
        ),
        (
            GateOptions {
                input_amplitude: -1.0,
                ..GateOptions::default()
            },
            "gate.input_amplitude",
        ),
    ] {
        bad(d.clone().gate(gate), field);
    }
    let mut m = d.clone();
    m.modules.mito_rates.pop();
    bad(m, "modules.mito_rates");
    assert!(BrainParams::default().validate().is_ok());
    let tbad = |p: TimeCourseParams, field: &str| match simulate_timecourse(&p) {
        Err(Error::InvalidParam { name, .. }) => assert_eq!(name, field),
        other => panic!("{field}: {other:?}"),
    };
    let t = TimeCourseParams::default();
    tbad(
        TimeCourseParams {
            dt: 0.0,
            ..t.clone()
        },
        "dt",
    );
    tbad(
        TimeCourseParams {
            n_samples: 1,
            ..t.clone()
        },
        "n_samples",
    );
    tbad(
        TimeCourseParams {
            n_trajectories: 0,
            ..t.clone()
        },
        "n_trajectories",
    );
    tbad(
        TimeCourseParams {
            noise: -0.1,
            ..t.clone()
        },
        "noise",
    );
    tbad(TimeCourseParams { hill_n: 0.5, ..t }, "hill_n");
    // Params are serde with defaults: an empty JSON object is the default.
    let p: BrainParams = serde_json::from_str("{}").unwrap();
    assert_eq!(p, BrainParams::default());
    assert!(serde_json::from_str::<BrainParams>("{\"n_cell\": 3}").is_err());
}

#[test]
#[ignore = "release-mode measurement: cargo test --release --test integration synthetic::measure_default -- --ignored --nocapture"]
fn measure_default() {
    let p = BrainParams::default();
    let t0 = std::time::Instant::now();
    let b = generate(&p).unwrap();
    let dt = t0.elapsed();
    let t1 = std::time::Instant::now();
    let r = module_spearman(&b.matrix, &SYNAPTIC_GENES, &MITO_GENES).unwrap();
    println!(
        "cells {} genes {} nnz {} generate {:.2}s (threads {}), module_spearman {:.2}s",
        b.matrix.n_cells(),
        b.matrix.n_genes(),
        b.matrix.values().nnz(),
        dt.as_secs_f64(),
        rayon::current_num_threads(),
        t1.elapsed().as_secs_f64()
    );
    println!(
        "within_synaptic {:.4} within_mito {:.4} between {:.4}",
        r.within_a, r.within_b, r.between
    );
    let t = MODULE_TARGETS;
    assert!((r.within_a - t.within_a).abs() <= 0.05);
    assert!((r.within_b - t.within_b).abs() <= 0.05);
    assert!((r.between - t.between).abs() <= 0.05);
}

fn numeric(m: &ExpressionMatrix, name: &str) -> Vec<f64> {
    match m.obs_column(name).unwrap() {
        ObsColumn::Numeric(v) => v.clone(),
        other => panic!("{name} is not numeric: {other:?}"),
    }
}

#[test]
fn transitional_cells_co_express_the_markers_between_the_two_types() {
    let plain = small(2000, 3);
    let b = generate(
        &BrainParams::default()
            .n_cells(2000)
            .n_background_genes(100)
            .seed(3)
            .transitional_fraction(0.1),
    )
    .unwrap();
    let (cats, code) = codes(&b.matrix, "cell_type");
    assert_eq!(cats.last().map(String::as_str), Some(TRANSITIONAL));
    assert_eq!(
        codes(&plain.matrix, "cell_type").0.len(),
        4,
        "off by default"
    );
    let trans: Vec<usize> = (0..2000).filter(|&i| code[i] == 4).collect();
    assert_eq!(trans.len(), 200, "exact share");
    assert_eq!(b.latent.transitional.iter().filter(|&&t| t).count(), 200);
    let mean_over =
        |v: &[f64], cells: &[usize]| cells.iter().map(|&i| v[i]).sum::<f64>() / cells.len() as f64;
    let of_type = |k: i32| -> Vec<usize> { (0..2000).filter(|&i| code[i] == k).collect() };
    let (neurons, astro) = (of_type(0), of_type(1));
    let (rbfox3, gfap) = (
        normalised(&b.matrix, "RBFOX3"),
        normalised(&b.matrix, "GFAP"),
    );
    // Both master markers at their type's level in transitional cells.
    for (v, own) in [(&rbfox3, &neurons), (&gfap, &astro)] {
        let (t, o) = (mean_over(v, &trans), mean_over(v, own));
        assert!(t > 0.6 * o && t < 1.6 * o, "{t} vs {o}");
        assert!(trans.iter().filter(|&&i| v[i] > 0.0).count() > 190);
    }
    // Other markers in between, on the log scale.
    for (g, own, other) in [("SLC17A7", &neurons, &astro), ("AQP4", &astro, &neurons)] {
        let v: Vec<f64> = normalised(&b.matrix, g).iter().map(|x| x.ln_1p()).collect();
        let (t, hi, lo) = (
            mean_over(&v, &trans),
            mean_over(&v, own),
            mean_over(&v, other),
        );
        assert!(
            t > lo + 0.2 * (hi - lo) && t < hi - 0.2 * (hi - lo),
            "{g}: {lo} < {t} < {hi}"
        );
    }
    // The option draws nothing per cell: every cell keeps the plain brain's network states.
    let (x0, x1) = (node(&plain, "TFA"), node(&b, "TFA"));
    assert_eq!(x0, x1);
}

#[test]
fn gate_options_unbalance_flip_and_restrict_the_gate() {
    let gate = GateOptions {
        p_on: 0.2,
        input_amplitude: 5.0,
        flip: 0.1,
        cell_type: Some(CellType::Neuron),
    };
    let b = generate(
        &BrainParams::default()
            .n_cells(4000)
            .n_background_genes(50)
            .seed(5)
            .gate(gate.clone()),
    )
    .unwrap();
    let m = &b.matrix;
    let (a, bb, out) = (node(&b, "TFA"), node(&b, "TFB"), node(&b, "TGXOR"));
    let on = a.iter().filter(|&&v| v == 1.0).count() as f64 / 4000.0;
    assert!((on - 0.2).abs() < 0.03, "P(TFA on) = {on}");
    let rule = numeric(m, &rule_obs(XOR_GATE));
    assert_eq!(
        numeric(m, &state_obs("TGXOR")),
        out.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()
    );
    let (_, code) = codes(m, "cell_type");
    let mut flipped = 0;
    for i in 0..4000 {
        let want = if code[i] == 0 {
            f64::from(u8::from(a[i] != bb[i]))
        } else {
            0.0
        };
        assert_eq!(rule[i], want, "cell {i}");
        flipped += usize::from(f64::from(out[i]) != rule[i]);
    }
    let flip = flipped as f64 / 4000.0;
    assert!((flip - 0.1).abs() < 0.02, "flip rate {flip}");
    // ON inputs at 0.5 + 5 counts overlap OFF's 0.5 more often than at 30.
    let tfa = counts(m, "TFA");
    let zero_when_on = (0..4000).filter(|&i| a[i] == 1.0 && tfa[i] == 0.0).count();
    assert!(
        zero_when_on > 0,
        "a weak input should sometimes read 0 when ON"
    );
    assert_eq!(b.truth.params.gate, gate);
}

#[test]
fn a_three_input_parity_is_invisible_to_every_pair_of_genes() {
    let b = generate(
        &BrainParams::default()
            .n_cells(4000)
            .n_background_genes(100)
            .seed(8)
            .parity_inputs(3),
    )
    .unwrap();
    let inputs: Vec<Vec<f32>> = ["TFP1", "TFP2", "TFP3"]
        .iter()
        .map(|g| node(&b, g))
        .collect();
    let target = node(&b, PARITY_GATE);
    // The state is the parity of the inputs' states, and `obs` carries it as the rule.
    for c in 0..target.len() {
        let ones = inputs.iter().filter(|v| v[c] > 0.5).count();
        assert_eq!(target[c], (ones % 2) as f32, "cell {c}");
    }
    assert_eq!(
        numeric(&b.matrix, &rule_obs(PARITY_GATE)),
        numeric(&b.matrix, &state_obs(PARITY_GATE))
    );
    // Given any two inputs' states, the target is ON half the time: no pair informs it.
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        for (si, sj) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)] {
            let cells: Vec<usize> = (0..target.len())
                .filter(|&c| inputs[i][c] == si && inputs[j][c] == sj)
                .collect();
            let on = cells.iter().filter(|&&c| target[c] > 0.5).count() as f64;
            let rate = on / cells.len() as f64;
            assert!(
                (rate - 0.5).abs() < 0.06,
                "P(ON | TFP{} = {si}, TFP{} = {sj}) = {rate:.3}",
                i + 1,
                j + 1
            );
        }
    }
    // The measured expression follows the states (ON ≈ 30 counts, OFF ≈ 0.5).
    let x = counts(&b.matrix, PARITY_GATE);
    let on: Vec<f64> = (0..x.len())
        .filter(|&c| target[c] > 0.5)
        .map(|c| x[c])
        .collect();
    let off: Vec<f64> = (0..x.len())
        .filter(|&c| target[c] < 0.5)
        .map(|c| x[c])
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&on) > 15.0 && mean(&off) < 2.0,
        "{} vs {}",
        mean(&on),
        mean(&off)
    );
    // The truth: edges from every input, the Boolean form true exactly on odd parity, and the
    // multilinear polynomial with its 7 terms (a + b + c − 2ab − 2ac − 2bc + 4abc).
    let rule = b.truth.rule(PARITY_GATE).unwrap();
    assert_eq!(rule.kind, EdgeKind::Parity);
    assert_eq!(rule.terms.len(), 7);
    assert_eq!(
        rule.polynomial,
        "TGPARITY = TFP1 + TFP2 + TFP3 - 2*TFP1*TFP2 - 2*TFP1*TFP3 - 2*TFP2*TFP3 + 4*TFP1*TFP2*TFP3"
    );
    let boolean = rule.boolean.as_deref().unwrap();
    let rhs = boolean.split_once('=').unwrap().1;
    for mask in 0..8u32 {
        let env = |name: &str| match name {
            "TFP1" => mask & 1 == 1,
            "TFP2" => mask & 2 == 2,
            "TFP3" => mask & 4 == 4,
            other => panic!("unexpected {other}"),
        };
        assert_eq!(
            eval_bool(rhs, &env),
            mask.count_ones() % 2 == 1,
            "{boolean} at {mask:03b}"
        );
    }
    for input in ["TFP1", "TFP2", "TFP3"] {
        assert!(b
            .truth
            .edges
            .iter()
            .any(|e| e.source == input && e.target == PARITY_GATE));
    }
    // The dynamics' steady state at sharp inputs is the parity too.
    let dyn_truth = &b.truth.dynamics;
    let vars = &dyn_truth.variables;
    let t = vars.iter().position(|v| v == PARITY_GATE).unwrap();
    for mask in 0..8u32 {
        let mut x = vec![0.5; vars.len()];
        for (k, g) in ["TFP1", "TFP2", "TFP3"].iter().enumerate() {
            let j = vars.iter().position(|v| v == g).unwrap();
            x[j] = if mask >> k & 1 == 1 { 1000.0 } else { 0.0 };
        }
        let want = 0.5 + 30.0 * f64::from(mask.count_ones() % 2);
        x[t] = want;
        let u = vec![0.0; dyn_truth.controls.len()];
        let dx = dyn_truth.derivative(&x, &u).unwrap();
        assert!(dx[t].abs() < 1e-3, "{mask:03b}: d/dt = {}", dx[t]);
    }
    // The default brain has no parity gate.
    let plain = small(20, 8);
    assert!(plain.matrix.genes().position(PARITY_GATE).is_none());
}

#[test]
fn the_simpson_module_correlates_positively_overall_and_negatively_within_types() {
    use cellsindy::probes::{group_means, spearman, spearman_within};
    let b = generate(
        &BrainParams::default()
            .n_cells(3000)
            .n_background_genes(100)
            .seed(9)
            .simpson(true),
    )
    .unwrap();
    let genes: Vec<&str> = SIMPSON_A.iter().chain(&SIMPSON_B).copied().collect();
    let cols: Vec<Vec<f64>> = genes.iter().map(|g| normalised(&b.matrix, g)).collect();
    let x = ndarray::Array2::from_shape_fn((b.matrix.n_cells(), genes.len()), |(c, j)| {
        cols[j][c].ln_1p()
    });
    let (cats, codes) = codes(&b.matrix, "cell_type");
    let strata: Vec<String> = codes.iter().map(|&c| cats[c as usize].clone()).collect();
    let (a, bb) = ((0..3).collect::<Vec<_>>(), (3..6).collect::<Vec<_>>());
    let pooled = group_means(spearman(x.view()).unwrap().rho.view(), &a, &bb).unwrap();
    let within = group_means(
        spearman_within(x.view(), &strata).unwrap().rho.view(),
        &a,
        &bb,
    )
    .unwrap();
    assert!(
        pooled.between > 0.15,
        "pooled between {:.3}",
        pooled.between
    );
    assert!(
        within.between < -0.15,
        "within-type between {:.3}",
        within.between
    );
    // Each group hangs together both ways.
    assert!(
        pooled.within_a > 0.2 && within.within_a > 0.05,
        "{pooled:?} {within:?}"
    );
    // Every type on its own shows the negative sign.
    for ty in CellType::ALL {
        let rows: Vec<usize> = (0..strata.len())
            .filter(|&r| strata[r] == ty.name())
            .collect();
        let sub = x.select(ndarray::Axis(0), &rows);
        let g = group_means(spearman(sub.view()).unwrap().rho.view(), &a, &bb).unwrap();
        assert!(g.between < -0.05, "{}: {:.3}", ty.name(), g.between);
    }
    // The truth names the two groups; the default brain has none of these genes.
    assert_eq!(b.truth.groups.simpson[0], SIMPSON_A);
    assert_eq!(b.truth.groups.simpson[1], SIMPSON_B);
    let plain = small(20, 9);
    assert!(plain.matrix.genes().position("SMPA1").is_none());
    assert!(plain.truth.groups.simpson.iter().all(Vec::is_empty));
}
