//! The transfer-scaling experiment end to end (tiny preset), deterministic by seed.

use cellsindy::scaling::read_points;

/// The measuring harness end to end on the tiny preset: runs, is deterministic by seed, writes
/// its files, and fits with intervals. (Exponents from a run this small mean nothing and are
/// not checked.)
#[test]
fn experiment_tiny_runs_end_to_end_deterministically() {
    use cellsindy::scaling::RunKind;
    use cellsindy_cli::pipeline::scaling::{
        run_experiment, write_outputs, ExperimentConfig, ScalingPreset,
    };
    let cfg = ExperimentConfig::preset(ScalingPreset::Tiny, 5);
    let mut seen = 0;
    let a = run_experiment(&cfg, &mut |p| {
        seen += 1;
        assert_eq!(p.done, seen);
        assert!(p.run.loss.is_finite());
    })
    .unwrap();
    let n_sizes = cfg.sizes.len();
    assert_eq!(
        seen,
        n_sizes * (1 + cfg.scratch_data.len() + cfg.finetune_data.len())
    );
    assert_eq!(a.measurements.len(), n_sizes * cfg.finetune_data.len());
    assert_eq!(
        a.runs
            .iter()
            .filter(|r| r.kind == RunKind::Pretrain)
            .count(),
        n_sizes
    );
    for m in &a.measurements {
        eprintln!("{m:?}");
    }
    let f = a.fit.as_ref().expect(&a.fit_note);
    assert!(f.alpha_ci.is_some() && f.beta_ci.is_some() && f.k_ci.is_some());
    assert!(f.r2.is_finite());

    // Compared as JSON: a censored measurement holds NaN, which is never equal to itself.
    let b = run_experiment(&cfg, &mut |_| {}).unwrap();
    let json = |r: &cellsindy_cli::pipeline::scaling::ExperimentReport| {
        serde_json::to_string(&(&r.runs, &r.measurements, &r.fit)).unwrap()
    };
    assert!(json(&a) == json(&b), "same seed, different results");

    let dir = tempfile::tempdir().unwrap();
    write_outputs(&a, dir.path()).unwrap();
    for f in ["measurements.csv", "fit.json", "report.md", "scaling.svg"] {
        let p = dir.path().join(f);
        assert!(std::fs::metadata(&p).unwrap().len() > 0, "{f}");
    }
    let csv = std::fs::read_to_string(dir.path().join("measurements.csv")).unwrap();
    assert!(csv.starts_with("d_f,n,d_t,"));
    assert_eq!(csv.lines().count(), 1 + a.measurements.len());
    // The measurements file is what `scaling fit` reads.
    let pts = read_points(&dir.path().join("measurements.csv")).unwrap_or_default();
    assert!(pts.len() <= a.measurements.len());
}
