//! The probe workflow end to end on a tiny model: every method reported, missing genes named.

use cellsindy::expression::io::{write_expression, ReadOptions};
use cellsindy::probes::{ProbeConfig, ProbeReport, Sign};
use cellsindy::tokenize::BinSchemeKind;
use cellsindy::Error;
use cellsindy_cli::pipeline::data::permute;
use cellsindy_cli::pipeline::probe::{probe_rows, run_probes, run_probes_on, write_report};
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
        // The model, five imputers and the pairwise classifier.
        assert_eq!(x.methods.len(), 7);
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
    let streamed = run_probes_on(&model, &cells, &held, &train, &sampled).unwrap();
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
