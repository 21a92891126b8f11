//! The rules workflows end to end: the dynamics route on the synthetic brain's network and the
//! distillation route on a tiny model.

use cellsindy::rules::*;
use cellsindy::synthetic::{generate, BrainParams};
use cellsindy::Error;
use cellsindy_cli::pipeline::rules::{dynamics, write_report, DynamicsRunConfig};

/// Route 3 with the CLI defaults on the synthetic brain's network (24 noise-free simulated
/// trajectories, seed 0): defaults that fix nothing to this network still recover every rule,
/// the gates included, as the previous network-specific defaults did.
#[test]
fn rules_dynamics_route_on_the_synthetic_brain() {
    let mut cfg = DynamicsRunConfig::new(24, 0);
    // A smaller GENIE3 than the default 300 trees keeps the test fast.
    cfg.genie3_trees = 50;
    let (report, fit) = dynamics(&cfg).unwrap();
    let names: Vec<&str> = report
        .evaluations
        .iter()
        .map(|e| e.method.as_str())
        .collect();
    assert_eq!(
        names,
        ["dynamics", "|pearson|", "|spearman|", "genie3", "lagged"]
    );
    let ev = &report.evaluations[0];
    let auprc = ev.edges.auprc.unwrap();
    assert!(auprc > 0.95, "AUPRC {auprc}");
    // Above every baseline on the same samples (measured: GENIE3 0.398, the best of them).
    for b in &report.evaluations[1..] {
        assert!(
            auprc > b.edges.auprc.unwrap(),
            "{}: {:?}",
            b.method,
            b.edges.auprc
        );
    }
    // Every rule, the XOR gate (no main effect of either input) and AND-NOT included.
    assert_eq!(ev.exact_count().0, 14, "{:?}", ev.exact_count());
    let xor = report.rules.rule("TGXOR").unwrap();
    assert!(
        xor.terms
            .iter()
            .any(|t| t.feature == "H(TFA) H(TFB)" && t.coef < 0.0),
        "{}",
        xor.text(3)
    );
    let and = report.rules.rule("TGAND").unwrap();
    assert!(
        and.terms.iter().any(|t| t.feature == "H(TFC) H(TFD)"),
        "{}",
        and.text(3)
    );
    let lin = report.rules.rule("TGLIN1").unwrap();
    assert!(
        lin.terms.iter().any(|t| t.feature == "TFG"),
        "{}",
        lin.text(3)
    );
    assert_eq!(fit.targets.len(), 14);
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&report, dir.path()).unwrap();
    assert_eq!(files.len(), 8);
    let sel = std::fs::read_to_string(dir.path().join("selection.json")).unwrap();
    assert!(sel.contains("stability") && sel.contains("cv_by_hill_n"));
    let tsv = std::fs::read_to_string(dir.path().join("edges.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 1 + 14 * 14);
}

/// Each generator family, seed 0: cellsindy's defaults above the |Spearman| baseline in mean
/// AUPRC over the family's networks here (the full table is `cellsindy rules benchmark`). The
/// HillCube family is the mean of its three random networks: one small random network on one
/// seed is too noisy to compare two methods (random8 at seed 0 ranks |Spearman| first).
#[test]
fn harness_network_per_family_beats_spearman() {
    use cellsindy_cli::pipeline::network_bench::{cases, simulate_case, BenchConfig};
    let cfg = BenchConfig::default();
    let families: [&[&str]; 3] = [
        &["CY"],
        &["random8", "random12", "random16"],
        &["synthetic brain"],
    ];
    for names in families {
        let (mut ours, mut base) = (0.0, 0.0);
        for &name in names {
            let case = cases().into_iter().find(|c| c.name == name).unwrap();
            let (trajs, truth) = simulate_case(&case, &cfg, 0).unwrap();
            let fit = fit_dynamics(&trajs, &DynamicsParams::default()).unwrap();
            let views: Vec<_> = trajs.iter().map(|t| t.x()).collect();
            let x = ndarray::concatenate(ndarray::Axis(0), &views).unwrap();
            let rho = correlation_edges(x.view(), &fit.genes, CorrelationKind::Spearman).unwrap();
            let e = evaluate("cellsindy", &fit.rules.edges, None, &truth, true).unwrap();
            let r = evaluate("|spearman|", &rho, None, &truth, true).unwrap();
            ours += e.edges.auprc.unwrap() / names.len() as f64;
            base += r.edges.auprc.unwrap() / names.len() as f64;
        }
        assert!(
            ours > base,
            "{names:?}: cellsindy {ours} vs |spearman| {base}"
        );
    }
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A user's own time courses: CSV files (one trajectory each) with a Boolean truth; a
/// time-resolved .h5ad; and bad files that are clear errors.
#[test]
fn rules_dynamics_reads_user_time_courses() {
    use cellsindy::networks::{beeline_topology, simulate_model, NetworkSimParams};
    use cellsindy_cli::pipeline::rules::TimeCourseSource;
    use cellsindy_cli::pipeline::sindy::FileSource;
    let dir = tempfile::tempdir().unwrap();
    let model = beeline_topology("CY").unwrap();
    let trajs = simulate_model(
        &model,
        &NetworkSimParams {
            n_trajectories: 4,
            ..Default::default()
        },
    )
    .unwrap();
    let mut paths = Vec::new();
    for (k, t) in trajs.iter().enumerate() {
        let mut csv = format!("time,{}\n", t.names().join(","));
        for (i, row) in t.x().rows().into_iter().enumerate() {
            let vals: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            csv.push_str(&format!("{},{}\n", t.t().at(i), vals.join(",")));
        }
        paths.push(write(dir.path(), &format!("traj{k}.csv"), &csv));
    }
    // The truth names a gene (g9) the data do not have: counted apart, not an error.
    let truth = write(dir.path(), "truth.txt", &format!("{}g9 = g1\n", model.text));
    let files = |paths: Vec<std::path::PathBuf>| DynamicsRunConfig {
        source: TimeCourseSource::Files(FileSource {
            paths,
            dt: None,
            time_column: None,
            controls: vec![],
        }),
        params: DynamicsParams::default(),
        truth: Some(truth.clone()),
        genie3_trees: 20,
    };
    let (report, _) = dynamics(&files(paths.clone())).unwrap();
    let ev = &report.evaluations[0];
    assert_eq!(ev.edges.n_true, 6);
    assert_eq!(ev.edges.n_true_outside, 1);
    assert!(ev.edges.auprc.unwrap() > 2.0 * ev.edges.random_precision);

    // The same data as one .h5ad: time and lineage in obs.
    {
        use cellsindy::expression::{
            io::write_expression, ExpressionMatrix, GeneTable, ObsColumn, Values,
        };
        let n = trajs[0].n_samples();
        let mut rows = Vec::new();
        let (mut times, mut lineage) = (Vec::new(), Vec::new());
        for (k, t) in trajs.iter().enumerate() {
            for i in 0..n {
                rows.extend(t.x().row(i).iter().map(|v| v.max(0.0) as f32));
                times.push(t.t().at(i));
                lineage.push(format!("L{k}"));
            }
        }
        let x = ndarray::Array2::from_shape_vec((trajs.len() * n, 6), rows).unwrap();
        let cells = (0..x.nrows()).map(|i| format!("c{i}")).collect();
        let m = ExpressionMatrix::new(
            Values::Dense(x),
            GeneTable::from_symbols(model.genes.clone()),
            cells,
        )
        .unwrap()
        .with_obs("time", ObsColumn::Numeric(times))
        .unwrap()
        .with_obs("lineage", ObsColumn::categorical_from_labels(&lineage))
        .unwrap();
        let h5 = dir.path().join("tc.h5ad");
        write_expression(&m, &h5).unwrap();
        let mut cfg = files(vec![]);
        cfg.source = TimeCourseSource::H5ad {
            path: h5.clone(),
            time: "time".into(),
            trajectory: Some("lineage".into()),
            matrix: Default::default(),
        };
        let (r2, fit) = dynamics(&cfg).unwrap();
        assert_eq!(r2.settings["n_trajectories"], 4);
        assert_eq!(fit.genes, model.genes);
        cfg.source = TimeCourseSource::H5ad {
            path: h5,
            time: "pseudotime".into(),
            trajectory: None,
            matrix: Default::default(),
        };
        let e = dynamics(&cfg).unwrap_err().to_string();
        assert!(e.contains("pseudotime") && e.contains("time"), "{e}");
    }

    let good = std::fs::read_to_string(&paths[0]).unwrap();
    let bad = |name: &str, text: &str| {
        let p = write(dir.path(), name, text);
        dynamics(&files(vec![paths[1].clone(), p]))
            .unwrap_err()
            .to_string()
    };
    let mut ragged = good.clone();
    ragged.push_str("99,1,2\n");
    assert!(bad("ragged.csv", &ragged).contains("line"), "ragged");
    let lines: Vec<&str> = good.lines().collect();
    let backwards = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[1]);
    assert!(
        bad("backwards.csv", &backwards).contains("not greater"),
        "non-increasing time"
    );
    let one = format!("{}\n{}\n", lines[0], lines[1]);
    let e = bad("one.csv", &one);
    assert!(e.contains("got 1") && e.contains("sample"), "{e}");
    let other = good.replacen("g6", "g7", 1);
    assert!(
        bad("other.csv", &other).contains("differ"),
        "mismatched genes"
    );
}

/// The whole route on a tiny freshly trained model: every pair is ranked, the candidates
/// come from the screen, the run is reproducible, and bad targets are clear errors.
#[test]
fn rules_distill_runs_end_to_end_on_a_tiny_model_and_is_seeded() {
    use candle_core::Device;
    use cellsindy::nn::{Architecture, TokenizerConfig, TrainConfig, TrainData, Trainer};
    use cellsindy::rules::DistillConfig;
    use cellsindy::tokenize::fit_tokenizer;
    use cellsindy_cli::pipeline::distill::run_distill;
    let brain = generate(
        &BrainParams::default()
            .n_cells(300)
            .n_background_genes(10)
            .seed(2),
    )
    .unwrap();
    let tok_cfg = TokenizerConfig {
        n_top_genes: 6,
        include_genes: ["TFA", "TFB", "TGXOR"].map(String::from).to_vec(),
        ..TokenizerConfig::default()
    };
    let (tok, m) = fit_tokenizer(&brain.matrix, &tok_cfg).unwrap();
    let arch = Architecture {
        d_model: 16,
        n_layers: 1,
        n_heads: 2,
        d_ff: 32,
        ..Architecture::default()
    };
    let train = TrainConfig {
        steps: 20,
        batch_size: 16,
        warmup_steps: 2,
        val_cells: 16,
        val_every: 1000,
        seed: 3,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(tok.clone(), &arch, train, &Device::Cpu).unwrap();
    let data = TrainData::memory(tok.prepare(&m).unwrap(), &t.train).unwrap();
    t.run(&data, None, None, &mut |_| {}).unwrap();
    let model = t.inference_model().unwrap();
    let truth = TruthNetwork::from_ground_truth(&brain.truth);
    let cfg = DistillConfig {
        candidates: 3,
        cells: 60,
        screen_cells: 4,
        ..DistillConfig::default()
    };
    let mut calls = 0;
    let (report, d) = run_distill(
        &model,
        &m,
        None,
        Some((&truth, "truth")),
        &cfg,
        &mut |_, _, _| calls += 1,
    )
    .unwrap();
    // The truth's targets that are in this vocabulary.
    assert!(d.targets.iter().any(|t| t == "TGXOR"), "{:?}", d.targets);
    assert!(d
        .targets
        .iter()
        .all(|t| truth.edges.iter().any(|e| &e.target == t)));
    assert!(d.candidates.iter().all(|c| c.len() == 3));
    assert!(calls >= 2);
    let n_vocab = model.tokenizer.vocab.n_genes();
    let n_t = d.targets.len();
    assert_eq!(report.rules.edges.len(), n_t * (n_vocab - 1));
    assert!(report
        .rules
        .edges
        .iter()
        .all(|e| (0.0..=1.0).contains(&e.score) && e.regulator != e.target));
    // Non-candidates score 0.
    let zero = report.rules.edges.iter().filter(|e| e.score == 0.0).count();
    assert!(zero >= n_t * (n_vocab - 1 - 3));
    // distill, distill (expression), the observed-state rules (no model), occlusion screen,
    // |pearson|, |spearman|.
    let names: Vec<&str> = report
        .evaluations
        .iter()
        .map(|e| e.method.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "distill",
            "distill (expression)",
            "observed states (pair screen, no model)",
            "occlusion screen",
            "|pearson|",
            "|spearman|"
        ]
    );
    assert!(report.settings["observed_state_rules"]
        .as_array()
        .is_some_and(|r| r.len() == n_t));
    assert_eq!(report.route, "distill");
    let (again, _) = run_distill(
        &model,
        &m,
        None,
        Some((&truth, "truth")),
        &cfg,
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(again.rules, report.rules);
    // Streamed from an .h5ad, keeping only the distilled cells: the same rules.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brain.h5ad");
    cellsindy::expression::io::write_expression(&m, &path).unwrap();
    let (cells, _) = cellsindy_cli::pipeline::read_cells_for_model(
        &path,
        &cellsindy::expression::io::ReadOptions::default(),
        &model.tokenizer,
        &mut |n| distill_rows(n, None, &cfg),
    )
    .unwrap();
    assert_eq!(cells.n_cells(), 60);
    let (streamed, _) = cellsindy_cli::pipeline::distill::run_distill_on(
        &model,
        &cells,
        false,
        Some((&truth, "truth")),
        &cfg,
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(streamed.rules, report.rules);
    let bad = DistillConfig {
        targets: Some(vec!["NOPE".into()]),
        ..cfg.clone()
    };
    assert!(matches!(
        run_distill(&model, &m, None, None, &bad, &mut |_, _, _| {}),
        Err(Error::UnknownGenes { .. })
    ));
    let zero_cands = DistillConfig {
        candidates: 0,
        ..cfg
    };
    assert!(matches!(
        run_distill(&model, &m, None, None, &zero_cands, &mut |_, _, _| {}),
        Err(Error::InvalidParam { .. })
    ));
}
