//! The probe workflow end to end on a tiny model: every method reported, missing genes named.

use cellsindy::expression::io::{write_expression, ReadOptions};
use cellsindy::probes::{ProbeConfig, ProbeReport, Role, Sign};
use cellsindy::tokenize::BinSchemeKind;
use cellsindy::Error;
use cellsindy_cli::pipeline::data::permute;
use cellsindy_cli::pipeline::probe::{
    probe_rows, run_probes, run_probes_on, write_report, CellStates,
};
use cellsindy_cli::pipeline::read_cells_for_model;

use crate::common::gene::{brain, tiny_model, tiny_model_binned};

#[test]
fn log_ratio_bins_read_back_as_the_modules_figures() {
    // Bins relative to each cell's visible median, fitted through the training pipeline and
    // decoded through that median, keep the mean pairwise Spearman figures of the expression.
    let m = brain(400, 6);
    let (model, tc) = tiny_model_binned(&m, 3, BinSchemeKind::LogRatio);
    assert!(matches!(
        model.tokenizer.binning.scheme,
        cellsindy::tokenize::BinScheme::LogRatio { width, .. } if width > 0.0
    ));
    let cfg = ProbeConfig {
        n_components: 5,
        joint_steps: 2,
        nonlinear_baselines: false,
        ..ProbeConfig::default()
    };
    let r = run_probes(&model, &m, tc.seed, tc.val_fraction, &cfg).unwrap();
    observed_bins_keep_the_figures(&r);
}
/// The probe's "observed bins" row (the masked genes' own bins, decoded) is within 0.05 of the
/// expression's figures.
fn observed_bins_keep_the_figures(r: &ProbeReport) {
    let bins = &r.covariance.methods[0];
    assert!(bins.method.starts_with("observed bins"), "{}", bins.method);
    for (b, e) in bins
        .rho
        .as_array()
        .iter()
        .zip(r.covariance.real.rho.as_array())
    {
        assert!(
            (b - e).abs() < 0.05,
            "bins {:?} vs expression {:?}",
            bins.rho,
            r.covariance.real.rho
        );
    }
}
#[test]
fn the_probe_report_covers_every_method_and_names_missing_genes() {
    let m = brain(400, 6);
    let (model, tc) = tiny_model(&m, 5);
    let cfg = ProbeConfig {
        n_components: 5,
        joint_steps: 4,
        forest_trees: 20,
        mlp_steps: 200,
        ..ProbeConfig::default()
    };
    let r = run_probes(&model, &m, tc.seed, tc.val_fraction, &cfg).unwrap();
    assert_eq!(r.n_scored + r.n_train, 400);
    // Every ρ with its bootstrap interval around it.
    for m in std::iter::once(&r.covariance.real).chain(&r.covariance.methods) {
        let iv = m.rho_intervals.unwrap();
        for (i, rho) in m.rho.as_array().iter().enumerate() {
            assert!(
                iv[i].lo <= *rho + 1e-12 && *rho <= iv[i].hi + 1e-12,
                "{}: {iv:?}",
                m.method
            );
        }
    }
    assert!(r.n_scored > 50 && r.n_scored < 150, "{}", r.n_scored);
    assert_eq!(r.covariance.genes.len(), 14);
    // Reference, three model readouts, five imputers and two samplers.
    assert_eq!(r.covariance.methods.len(), 11);
    // The model's input keeps the figures: per-gene bins (this model's) are monotone in each
    // gene's normalised expression, so only ties move the rank correlations.
    observed_bins_keep_the_figures(&r);
    // The real values' own signs match themselves; the brain's modules are positive within
    // the synaptic genes.
    assert_eq!(r.covariance.real.score, 1.0);
    assert_eq!(r.covariance.real.signs[0], Sign::Positive);
    for x in [&r.xor_markers, &r.xor_gate] {
        // The model, five imputers, the pairwise classifier, and the Bayes ceiling (the
        // synthetic brain carries its latent states in `obs`).
        assert_eq!(x.methods.len(), 8);
        let ceiling = x.methods.last().unwrap();
        assert!(ceiling.role == Role::Reference && ceiling.method.starts_with("Bayes ceiling"));
        assert_eq!(
            x.comparison().unwrap().ceiling.map(|c| c.1),
            Some(ceiling.scores.balanced_accuracy)
        );
        for meth in &x.methods {
            let c = meth.scores.confusion;
            assert_eq!(c[0][0] + c[0][1] + c[1][0] + c[1][1], r.n_scored);
            assert!((0.0..=1.0).contains(&meth.scores.auroc));
        }
    }
    // The gate is a two-input XOR: the screened pairwise logistic regression reads it from 300
    // training cells where linear regression cannot, and every table names the best baseline
    // and the model's margin over it.
    let ba = |x: &cellsindy::probes::XorReport, name: &str| {
        x.methods
            .iter()
            .find(|m| m.method == name)
            .map(|m| m.scores.balanced_accuracy)
            .unwrap()
    };
    let (pairwise, linear) = (
        ba(&r.xor_gate, "pairwise logistic"),
        ba(&r.xor_gate, "linear"),
    );
    assert!(
        pairwise > 0.85 && pairwise - linear > 0.2,
        "{pairwise} vs {linear}"
    );
    let c = r.xor_gate.comparison().unwrap();
    assert!(c.baseline_score >= pairwise && c.model == "model", "{c:?}");
    assert!((c.margin - (c.model_score - c.baseline_score)).abs() < 1e-12);
    assert!(r.covariance.comparison().is_some() && r.xor_markers.comparison().is_some());
    assert!(r.markdown().contains("Model vs best baseline"));
    // TGXOR is ON in about half the cells; the marker XOR in about 80 %.
    let gate_share = r.xor_gate.n_positive as f64 / r.n_scored as f64;
    assert!(gate_share > 0.3 && gate_share < 0.7, "{gate_share}");
    // Deterministic.
    let again = run_probes(&model, &m, tc.seed, tc.val_fraction, &cfg).unwrap();
    assert_eq!(again.covariance, r.covariance);
    assert_eq!(again.xor_gate.methods, r.xor_gate.methods);
    // Written atomically, with the tables and figures.
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&r, &dir.path().join("probe")).unwrap();
    assert_eq!(files.len(), 5);
    let md = std::fs::read_to_string(dir.path().join("probe/report.md")).unwrap();
    assert!(md.contains("| Aspect | Real ρ |") && md.contains("Balanced accuracy"));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("probe/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["n_scored"], r.n_scored);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("probe"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A sample of each side, read whole or streamed from an .h5ad (only the sampled cells are
    // kept): the same report.
    let sampled = ProbeConfig {
        max_cells: 40,
        baseline_cells: 150,
        nonlinear_baselines: false,
        ..cfg.clone()
    };
    let whole = run_probes(&model, &m, tc.seed, tc.val_fraction, &sampled).unwrap();
    assert_eq!((whole.n_scored, whole.n_train), (40, 150));
    let path = dir.path().join("brain.h5ad");
    write_expression(&m, &path).unwrap();
    let mut rows = None;
    let (cells, n) =
        read_cells_for_model(&path, &ReadOptions::default(), &model.tokenizer, &mut |n| {
            let r = probe_rows(n, tc.seed, tc.val_fraction, &sampled)?;
            let all = r.union();
            rows = Some(r);
            Ok(all)
        })
        .unwrap();
    assert_eq!((n, cells.n_cells()), (400, 190));
    let (held, train) = rows.unwrap().positions();
    let states = CellStates::from_obs(
        &cellsindy::expression::io::h5ad::h5ad_obs_columns(&path).unwrap(),
        &cells.index,
        &sampled,
    )
    .unwrap();
    let streamed = run_probes_on(&model, &cells, &held, &train, &sampled, &states).unwrap();
    assert_eq!(streamed.covariance, whole.covariance);
    assert_eq!(streamed.xor_markers, whole.xor_markers);
    assert_eq!(streamed.xor_gate, whole.xor_gate);
    // The held-out sample is a subset of the full run's scored cells: other real figures.
    assert_ne!(whole.covariance.real.rho, r.covariance.real.rho);
    // Missing genes are named.
    let bad = ProbeConfig {
        gate: "NOPE".into(),
        markers: ["RBFOX3".into(), "ALSO-NOPE".into()],
        ..cfg.clone()
    };
    let err = run_probes(&model, &m, tc.seed, tc.val_fraction, &bad).unwrap_err();
    assert!(matches!(err, Error::UnknownGenes { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("NOPE") && msg.contains("ALSO-NOPE"), "{msg}");
    // Invalid settings.
    let bad = ProbeConfig {
        dead_zone: -1.0,
        ..cfg
    };
    assert!(matches!(
        run_probes(&model, &m, tc.seed, tc.val_fraction, &bad),
        Err(Error::InvalidParam { .. })
    ));
}

#[test]
fn a_permuted_gate_is_a_negative_control_the_best_baseline_fails() {
    // The gate's inputs predict it (the pairwise baseline reads it), until the gate's values
    // are permuted across cells: then no method can, which is what a model trained on the
    // permuted file must show too.
    let m = brain(400, 6);
    let (model, tc) = tiny_model(&m, 3);
    let cfg = ProbeConfig {
        n_components: 5,
        joint_steps: 2,
        forest_trees: 10,
        mlp_steps: 100,
        ..ProbeConfig::default()
    };
    let gate = m.genes().position("TGXOR").unwrap();
    let permuted = m.permute_genes(&[gate], 1).unwrap();
    let r = run_probes(&model, &permuted, tc.seed, tc.val_fraction, &cfg).unwrap();
    for x in &r.xor_gate.methods {
        assert!(
            x.scores.balanced_accuracy < 0.65,
            "{} reads a permuted gate: {:?}",
            x.method,
            x.scores
        );
    }
}

#[test]
fn data_permute_writes_the_control_and_names_unknown_genes() {
    let m = brain(60, 2);
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("b.h5ad"), dir.path().join("p.h5ad"));
    write_expression(&m, &src).unwrap();
    let opts = ReadOptions::default();
    let genes = vec!["TGXOR".to_string()];
    assert_eq!(
        permute(&src, &opts, Some(&genes), 4, &dst).unwrap(),
        (60, 1)
    );
    let back = cellsindy::expression::io::read_expression(&dst, &opts).unwrap();
    assert_eq!(
        back,
        m.permute_genes(&[m.genes().position("TGXOR").unwrap()], 4)
            .unwrap()
    );
    let bad = vec!["TGXOR".to_string(), "NOPE".to_string()];
    let err = permute(&src, &opts, Some(&bad), 4, &dst).unwrap_err();
    assert!(
        matches!(err, Error::UnknownGenes { ref genes } if genes == &["NOPE"]),
        "{err}"
    );
}

#[test]
fn a_co_expressing_subpopulation_puts_pca_and_linear_below_the_ceiling() {
    // Transitional cells co-express RBFOX3 and GFAP and sit half-way between neurons and
    // astrocytes in every visible gene: their marker XOR is 0 while a linear reading puts both
    // markers half-way. On the plain brain the linear methods reach the Bayes ceiling (the
    // probe cannot tell them from a non-linear one); with the subpopulation they fall below it
    // and below the best non-linear baseline. (A tiny model trained for seconds does not learn
    // the markers, so the model's own row is measured in the probe study, not here.)
    use cellsindy::synthetic::{generate, BrainParams};
    let scores = |f: f64| {
        let m = generate(
            &BrainParams::default()
                .n_cells(800)
                .n_background_genes(60)
                .seed(4)
                .transitional_fraction(f),
        )
        .unwrap()
        .matrix;
        let (model, tc) = tiny_model(&m, 1);
        let cfg = ProbeConfig {
            n_components: 5,
            joint_steps: 2,
            forest_trees: 20,
            mlp_steps: 200,
            bootstrap_reps: 0,
            marker_rule: cellsindy::probes::Binarize::TwoMeans,
            ..ProbeConfig::default()
        };
        let r = run_probes(&model, &m, tc.seed, tc.val_fraction, &cfg).unwrap();
        let ba = |name: &str| {
            r.xor_markers
                .methods
                .iter()
                .find(|m| m.method.starts_with(name))
                .map(|m| m.scores.balanced_accuracy)
                .unwrap()
        };
        let best = ["kNN", "pairwise logistic", "random forest"].map(ba);
        (
            ba("Bayes ceiling"),
            ba("PCA"),
            ba("linear"),
            best.into_iter().fold(0.0, f64::max),
        )
    };
    let (ceiling, pca, linear, nonlinear) = scores(0.0);
    eprintln!(
        "plain: ceiling {ceiling:.3} PCA {pca:.3} linear {linear:.3} non-linear {nonlinear:.3}"
    );
    assert!(
        ceiling - linear < 0.02 && ceiling - pca < 0.02,
        "plain brain"
    );
    let (ceiling, pca, linear, nonlinear) = scores(0.2);
    eprintln!("transitional: ceiling {ceiling:.3} PCA {pca:.3} linear {linear:.3} non-linear {nonlinear:.3}");
    assert!(
        ceiling - linear > 0.05 && ceiling - pca > 0.05,
        "transitional brain"
    );
    assert!(nonlinear - linear.max(pca) > 0.03, "transitional brain");
}

#[test]
fn ablating_units_reruns_the_probes_beside_random_sets() {
    use cellsindy_cli::pipeline::ablation::{ablate, selected_units, AblationJob};
    use cellsindy_cli::pipeline::probe::ProbeJob;
    let m = brain(300, 8);
    let dir = tempfile::tempdir().unwrap();
    let (data, ckpt) = (dir.path().join("b.h5ad"), dir.path().join("ckpt"));
    write_expression(&m, &data).unwrap();
    crate::common::gene::tiny_checkpoint(&m, 3, &ckpt);
    let unit = |name: &str, op: Option<&str>, r2: f64| {
        serde_json::json!({
            "unit": name, "mean": 0.1, "sd": 1.0, "candidates": [], "screen_r2": null,
            "rule": {"target": name, "lhs": name, "terms": []},
            "r2": r2, "heldout_r2": r2, "kind": "interaction",
            "gate": op.map(|op| serde_json::json!({
                "inputs": ["TFA", "TFB"], "corners": [0.0, 1.0, 1.0, 0.0],
                "truth_table": [false, true, true, false], "name": "TFA XOR TFB", "op": op})),
        })
    };
    let units = dir.path().join("units.json");
    let write = |list: Vec<serde_json::Value>| {
        std::fs::write(&units, serde_json::json!({ "units": list }).to_string()).unwrap();
    };
    let mut list = vec![
        unit("blocks.0.mlp.hidden[3]", Some("XOR"), 0.5),
        unit("blocks.0.mlp.hidden[9]", Some("XNOR"), 0.7),
        unit("blocks.1.resid[2]", Some("XOR"), 0.9),
    ];
    list.extend((10..20).map(|k| unit(&format!("blocks.0.mlp.hidden[{k}]"), None, 0.1)));
    let mut product = unit("blocks.0.mlp.hidden[30]", Some("OR"), 0.6);
    product["rule"]["terms"] = serde_json::json!([
        {"feature": "TFA TFB", "genes": ["TFA", "TFB"], "coef": -0.8, "inclusion": null}
    ]);
    list.push(product);
    write(list);
    // By the gate's inputs (in either order): the units whose rule multiplies them.
    let inputs = ["TFB".to_string(), "TFA".to_string()];
    let (by_inputs, _) = selected_units(&units, Some(&inputs)).unwrap();
    assert_eq!(by_inputs.len(), 1);
    assert_eq!(by_inputs[0].unit, "blocks.0.mlp.hidden[30]");
    // MLP units only, best held-out R² first.
    let (xor, pool) = selected_units(&units, None).unwrap();
    let names: Vec<&str> = xor.iter().map(|u| u.unit.as_str()).collect();
    assert_eq!(names, ["blocks.0.mlp.hidden[9]", "blocks.0.mlp.hidden[3]"]);
    assert_eq!(pool.len(), 13);
    let job = AblationJob {
        probe: ProbeJob {
            model: ckpt.clone(),
            data: data.clone(),
            config: ProbeConfig {
                n_components: 5,
                joint_steps: 2,
                ..ProbeConfig::default()
            },
            read: ReadOptions::default(),
        },
        units: units.clone(),
        top: 2,
        inputs: None,
        random_sets: 3,
        seed: 1,
    };
    let r = ablate(&job, &candle_core::Device::Cpu).unwrap();
    assert_eq!(r.rows.len(), 5);
    assert_eq!(r.rows[1].units, names);
    for row in &r.rows[2..] {
        assert_eq!(row.units.len(), 2);
        assert!(row.units.iter().all(|u| !names.contains(&u.as_str())));
    }
    assert!(r.drops().is_some() && r.markdown().contains("random units"));
    // The unpatched row is the plain probe's model.
    let plain = cellsindy_cli::pipeline::probe::probe(
        &ProbeJob {
            config: ProbeConfig {
                nonlinear_baselines: false,
                bootstrap_reps: 0,
                ..job.probe.config.clone()
            },
            ..job.probe.clone()
        },
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(
        r.rows[0].gate_balanced_accuracy,
        plain.xor_gate.methods[0].scores.balanced_accuracy
    );
    // Units of another model (a block this one lacks), or no XOR unit: clear errors.
    write(vec![unit("blocks.4.mlp.hidden[1]", Some("XOR"), 0.9)]);
    assert!(matches!(
        ablate(&job, &candle_core::Device::Cpu),
        Err(Error::InvalidParam { .. })
    ));
    write(vec![unit("blocks.0.mlp.hidden[1]", None, 0.9)]);
    assert!(matches!(
        ablate(&job, &candle_core::Device::Cpu),
        Err(Error::Empty { .. })
    ));
}

#[test]
fn a_parity_gate_defeats_the_pairwise_baselines_and_the_simpson_module_flips_within_types() {
    // A 3-input parity carries no information in any pair of genes: the linear and pairwise
    // methods must score chance on it while its ceiling is near 1. The Simpson module's two
    // groups correlate positively over all cells and negatively within cell types: the real
    // cells' row of the covariance probe shows both, depending on `covariance_within`.
    use cellsindy::synthetic::{generate, BrainParams, PARITY_GATE, SIMPSON_A, SIMPSON_B};
    let m = generate(
        &BrainParams::default()
            .n_cells(800)
            .n_background_genes(40)
            .seed(5)
            .parity_inputs(3)
            .simpson(true),
    )
    .unwrap()
    .matrix;
    let (model, tc) = tiny_model(&m, 1);
    let cfg = ProbeConfig {
        group_a: SIMPSON_A.iter().map(|s| s.to_string()).collect(),
        group_b: SIMPSON_B.iter().map(|s| s.to_string()).collect(),
        gate: PARITY_GATE.into(),
        n_components: 5,
        joint_steps: 2,
        forest_trees: 20,
        mlp_steps: 100,
        bootstrap_reps: 20,
        ..ProbeConfig::default()
    };
    let pooled = run_probes(&model, &m, tc.seed, tc.val_fraction, &cfg).unwrap();
    for x in &pooled.xor_gate.methods {
        let ba = x.scores.balanced_accuracy;
        if ["PCA", "linear", "pairwise logistic"].contains(&x.method.as_str()) {
            assert!(ba < 0.62, "{} reads a 3-input parity: {ba:.3}", x.method);
        }
        if x.method.starts_with("Bayes ceiling") {
            assert!(ba > 0.95, "ceiling {ba:.3}");
        }
    }
    assert!(pooled
        .xor_gate
        .methods
        .iter()
        .any(|x| x.method.starts_with("Bayes ceiling")));
    let within_cfg = ProbeConfig {
        covariance_within: Some("cell_type".into()),
        ..cfg.clone()
    };
    let within = run_probes(&model, &m, tc.seed, tc.val_fraction, &within_cfg).unwrap();
    let real = |r: &ProbeReport| r.covariance.real.clone();
    let (p, w) = (real(&pooled), real(&within));
    assert_eq!(p.method, "real");
    assert!(
        p.rho.between > 0.1 && w.rho.between < -0.1,
        "{:?} {:?}",
        p.rho,
        w.rho
    );
    let iv = w.rho_intervals.unwrap()[2];
    assert!(
        iv.lo <= w.rho.between && w.rho.between <= iv.hi && iv.hi < 0.0,
        "{iv:?}"
    );
    // A stratifying column the data lack is an error, not a silent pooled probe.
    let missing = ProbeConfig {
        covariance_within: Some("no_such_column".into()),
        ..cfg
    };
    let err = run_probes(&model, &m, tc.seed, tc.val_fraction, &missing).unwrap_err();
    assert!(err.to_string().contains("no_such_column"), "{err}");
}
