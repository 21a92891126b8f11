//! `cellsindy demo` through the library: a tiny run writes one report directory whose page
//! shows every figure and whose JSON has every section.

use cellsindy_cli::pipeline::demo::{run_demo, DemoConfig, DemoEvent, DemoStage};
use serde_json::Value;

/// The quick settings scaled down to seconds: the numbers are meaningless, the report's shape
/// is what is checked.
fn tiny(out: &std::path::Path) -> DemoConfig {
    DemoConfig {
        sindy_samples: 5_000,
        n_cells: 1_500,
        n_background_genes: 100,
        train_steps: 20,
        val_every: 10,
        eval_cells: 100,
        eval_generate: 20,
        probe_cells: 0,
        distill_cells: 60,
        distill_screen_cells: 32,
        dynamics_trajectories: 8,
        genie3_trees: 20,
        activations: true,
        activation_cells: 200,
        sae_steps: 50,
        ..DemoConfig::quick(out)
    }
}

#[test]
fn demo_writes_one_report_with_every_figure_and_section() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let mut started = Vec::new();
    let report = run_demo(&tiny(&out), &candle_core::Device::Cpu, &mut |e| {
        if let DemoEvent::Start(s) = e {
            started.push(s);
        }
    })
    .unwrap();
    assert_eq!(started, DemoStage::ALL.to_vec());
    assert_eq!(report.sindy.equations.len(), 3);

    // Every figure is referenced by the page and exists; every SVG written is referenced.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let srcs: Vec<&str> = html
        .split("<img src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert!(srcs.len() >= 7, "{srcs:?}");
    for src in &srcs {
        assert!(out.join(src).is_file(), "{src} is referenced but missing");
    }
    let mut svgs = Vec::new();
    for sub in ["sindy", "probe", "rules/distill", "rules/dynamics"] {
        for entry in std::fs::read_dir(out.join(sub)).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "svg") {
                svgs.push(format!(
                    "{sub}/{}",
                    p.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    for s in &svgs {
        assert!(srcs.contains(&s.as_str()), "{s} is not on the page");
    }
    for f in [
        "sindy/attractor.svg",
        "probe/roc_gate.svg",
        "rules/distill/network.svg",
    ] {
        assert!(svgs.iter().any(|s| s == f), "{f} missing");
    }

    // report.json parses and has every section; report.md is there.
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for key in [
        "config",
        "sindy",
        "data",
        "train",
        "evaluation",
        "probe",
        "rules_distill",
        "rules_dynamics",
        "rules_activations",
        "scaling",
        "figures",
        "commands",
        "timings",
    ] {
        assert!(
            json.get(key).is_some_and(|v| !v.is_null()),
            "report.json lacks {key}"
        );
    }
    assert_eq!(json["train"]["steps"], 20);
    assert!((json["scaling"]["model_c"].as_f64().unwrap() - 190.5).abs() < 0.5);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## 7. Transfer scaling") && md.contains("Quick run"));

    // The steps' own files.
    for f in [
        "data/brain.h5ad",
        "data/brain.truth.json",
        "model/config.json",
        "evaluate/evaluation.json",
        "probe/report.json",
        "rules/distill/evaluation.json",
        "rules/dynamics/rules.txt",
        "rules/activations/summary.md",
        "scaling/scaling.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
}

/// A full-budget run (not `--quick`) whose model did not learn the XOR gate says so in the
/// report instead of printing chance-level numbers without comment.
#[test]
fn a_full_run_that_misses_the_gate_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let cfg = DemoConfig {
        quick: false,
        activations: false,
        ..tiny(&out)
    };
    let report = run_demo(&cfg, &candle_core::Device::Cpu, &mut |_| {}).unwrap();
    let gate = report.evaluation.xor.as_ref().unwrap().balanced_accuracy;
    let says = report
        .notes
        .iter()
        .any(|n| n.contains("has not learned the XOR gate in 20 steps"));
    assert_eq!(says, gate < 0.6, "gate {gate}, notes {:?}", report.notes);
    assert!(!report.notes.iter().any(|n| n.starts_with("Quick run")));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert_eq!(md.contains("has not learned the XOR gate"), says);
    // A missed covariance probe is said too, exactly when the joint draw misses a sign.
    let joint = report
        .probe
        .covariance
        .methods
        .iter()
        .find(|m| m.method == cellsindy_cli::pipeline::probe::JOINT_SAMPLE)
        .unwrap();
    let says_cov = report
        .notes
        .iter()
        .any(|n| n.starts_with("The covariance probe is not passed"));
    assert_eq!(says_cov, joint.score < 1.0, "notes {:?}", report.notes);
}
