//! The `cellsindy` binary, run as a user would.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn cellsindy(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cellsindy"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the binary and requires success.
fn cellsindy_ok(args: &[&str]) -> std::process::Output {
    let out = cellsindy(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

#[test]
fn lorenz_demo_prints_the_equations_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = cellsindy_ok(&[
        "sindy",
        "--system",
        "lorenz",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for eq in ["x' = 10(y - x)", "y' = 28x - xz - y", "z' = xy - 8/3 z"] {
        assert!(
            stdout.lines().any(|l| l.trim() == eq),
            "missing `{eq}` in\n{stdout}"
        );
    }
    for f in [
        "model.json",
        "results.json",
        "attractor.svg",
        "coefficients.svg",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} not written");
    }
    let r = results(dir.path());
    assert_eq!(r["metrics"]["accuracy"]["exact_support"], Value::Bool(true));
    assert!(r["metrics"]["accuracy"]["max_rel_err"].as_f64().unwrap() < 1e-6);
    let model = cellsindy::Sindy::load_json(dir.path().join("model.json")).unwrap();
    assert_eq!(model.complexity(), 7);
    let svg = std::fs::read_to_string(dir.path().join("coefficients.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("x z"));
}

/// Criterion 2 through the CLI itself: its defaults find the exact support at 1, 5 and 10%
/// noise (10^5 samples, degree 3).
#[test]
fn cli_defaults_survive_noise() {
    for noise in ["0.01", "0.05", "0.1"] {
        let dir = tempfile::tempdir().unwrap();
        let out = cellsindy_ok(&[
            "sindy",
            "--system",
            "lorenz",
            "--noise",
            noise,
            "--out",
            dir.path().to_str().unwrap(),
        ]);
        let r = results(dir.path());
        assert_eq!(r["data"]["samples"][0], 100_000);
        assert_eq!(r["settings"]["degree"], 3);
        assert_eq!(
            r["metrics"]["accuracy"]["exact_support"],
            Value::Bool(true),
            "noise {noise}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Issue 17: results.json says how each equation's terms were chosen; `--threshold` keeps its
/// meaning (STLSQ at that absolute threshold, no automatic choice).
#[test]
fn sparsity_trace_and_explicit_threshold() {
    let lorenz = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["sindy", "--system", "lorenz", "--samples", "5000"];
        args.extend_from_slice(extra);
        args.extend(["--out", dir.path().to_str().unwrap()]);
        cellsindy_ok(&args);
        results(dir.path())
    };
    let r = lorenz(&["--noise", "0.01"]);
    assert_eq!(r["settings"]["optimizer_config"]["kind"], "auto");
    let trace = r["sparsity"].as_array().unwrap();
    assert_eq!(trace.len(), 3);
    assert_eq!(trace[1]["target"], "y");
    let mut chosen: Vec<&str> = trace[1]["chosen_terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    chosen.sort_unstable();
    assert_eq!(chosen, ["x", "x z", "y"]);
    let k = trace[1]["chosen"].as_u64().unwrap() as usize;
    assert!(trace[1]["path"][k]["cv"].as_f64().unwrap() > 0.0);

    let r = lorenz(&["--threshold", "0.2"]);
    assert_eq!(r["settings"]["optimizer_config"]["kind"], "stlsq");
    assert_eq!(r["settings"]["optimizer_config"]["threshold"], 0.2);
    assert!(r.get("sparsity").is_none_or(|s| s.is_null()));
}

#[test]
fn fits_user_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    // A damped oscillator x' = y, y' = -x - y/2, written as a CSV with a time column.
    let t = cellsindy::data::TimeGrid::uniform(0.0, 0.005, 4000).unwrap();
    let f = |_t: f64, s: &[f64], d: &mut [f64]| {
        d[0] = s[1];
        d[1] = -s[0] - 0.5 * s[1];
    };
    let cfg = cellsindy::simulate::SolverConfig::reference();
    let xs = cellsindy::simulate::integrate(&f, &[1.0, 0.0], &t, &cfg).unwrap();
    let mut csv = String::from("t,x,y\n");
    for (i, row) in xs.outer_iter().enumerate() {
        csv.push_str(&format!("{},{},{}\n", t.at(i), row[0], row[1]));
    }
    let path = dir.path().join("run.csv");
    std::fs::write(&path, csv).unwrap();
    let out = cellsindy_ok(&["sindy", "--data", path.to_str().unwrap(), "--degree", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.trim() == "x' = y"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.trim() == "y' = -x - 1/2 y"),
        "{stdout}"
    );
}

#[test]
fn bad_files_give_a_clear_error_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "t,x,y\n0,1,2\n0.1,1.5\n").unwrap();
    let out = cellsindy(&["sindy", "--data", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("expected 3 fields"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let out = cellsindy(&["sindy", "--system", "pendulum"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("known systems"));
}

#[test]
fn data_synth_then_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("brain");
    let out_s = out.to_str().unwrap();
    let text = cellsindy_ok(&[
        "data",
        "synth",
        "--cells",
        "600",
        "--genes",
        "40",
        "--seed",
        "3",
        "--timecourse",
        "2",
        "--out",
        out_s,
    ]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("600 cells"), "{text}");
    assert!(text.contains("mean pairwise Spearman"), "{text}");
    // Ground truth beside the data, in both forms.
    let truth =
        cellsindy::synthetic::GroundTruth::load_json(&dir.path().join("brain.truth.json")).unwrap();
    assert_eq!(
        truth.rule("TGXOR").unwrap().polynomial,
        "TGXOR = TFA + TFB - 2*TFA*TFB"
    );
    let edges = std::fs::read_to_string(dir.path().join("brain.edges.tsv")).unwrap();
    assert!(
        edges.lines().any(|l| l.starts_with("TGXOR\tTFA\t")),
        "{edges}"
    );
    // Time course as CSV with gene and control columns.
    let tc =
        std::fs::read_to_string(dir.path().join("brain.timecourse/trajectory_001.csv")).unwrap();
    let header = tc.lines().next().unwrap();
    assert!(
        header.starts_with("t,") && header.contains(",TGXOR") && header.contains(",u_TFA"),
        "{header}"
    );
    // inspect reads the 10x directory back.
    let j: Value =
        serde_json::from_slice(&cellsindy_ok(&["data", "inspect", "--json", out_s]).stdout)
            .unwrap();
    assert_eq!(j["n_cells"], 600);
    assert_eq!(j["format"], "TenX");
    assert_eq!(j["integer_values"], true);
    for g in j["probe_genes"].as_array().unwrap() {
        assert_eq!(g["missing"].as_array().unwrap().len(), 0, "{g}");
    }
    assert!(j["module_spearman"]["within_a"].as_f64().unwrap() > 0.1);
    // Same seed, same bytes.
    let again = dir.path().join("again");
    cellsindy_ok(&[
        "data",
        "synth",
        "--cells",
        "600",
        "--genes",
        "40",
        "--seed",
        "3",
        "--out",
        again.to_str().unwrap(),
    ]);
    for f in ["matrix.mtx.gz", "features.tsv.gz", "barcodes.tsv.gz"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn data_synth_options_make_the_probes_discriminate_and_write_the_latents() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let synth = |extra: &[&str]| {
        let mut args = vec!["data", "synth", "--cells", "300", "--genes", "20"];
        args.extend_from_slice(extra);
        cellsindy(&args)
    };
    let out = synth(&[
        "--proportions",
        "0.4,0.3,0.2,0.1",
        "--transitional",
        "0.1",
        "--gate-p-on",
        "0.3",
        "--gate-input-amplitude",
        "8",
        "--gate-flip",
        "0.05",
        "--gate-cell-type",
        "neuron",
        "--parity",
        "3",
        "--simpson",
        "--out",
        &d("b.h5ad"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obs = cellsindy::expression::io::h5ad::h5ad_obs_columns(std::path::Path::new(&d("b.h5ad")))
        .unwrap();
    let names: Vec<&str> = obs.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"rule_TGXOR")
            && names.contains(&"state_TFA")
            && names.contains(&"rule_TGPARITY")
            && names.contains(&"state_TFP3"),
        "{names:?}"
    );
    let (_, types) = obs.iter().find(|(n, _)| n == "cell_type").unwrap();
    // Reading named columns only: those asked for that exist, in the file's order.
    let path = std::path::Path::new(&d("b.h5ad")).to_path_buf();
    let named = cellsindy::expression::io::h5ad::h5ad_obs_named(
        &path,
        &["rule_TGPARITY".into(), "cell_type".into(), "absent".into()],
    )
    .unwrap();
    let got: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(got, ["cell_type", "rule_TGPARITY"]);
    assert_eq!(named[0].1, *types);
    assert_eq!(
        (0..300)
            .filter(|&i| types.label(i) == "transitional")
            .count(),
        30
    );
    let truth =
        cellsindy::synthetic::GroundTruth::load_json(&dir.path().join("b.truth.json")).unwrap();
    assert_eq!(truth.params.gate.flip, 0.05);
    assert_eq!(truth.params.proportions.neuron, 0.4);
    assert_eq!(
        (truth.params.parity_inputs, truth.params.simpson),
        (3, true)
    );
    assert!(truth.rule("TGPARITY").is_some() && truth.groups.network.len() == 18);
    for (bad, field) in [
        (vec!["--gate-cell-type", "nope"], "gate-cell-type"),
        (vec!["--proportions", "0.5,0.5,0"], "proportions"),
        (vec!["--gate-p-on", "1"], "gate.p_on"),
        (vec!["--parity", "1"], "parity_inputs"),
    ] {
        let mut args = bad.clone();
        let x = d("x.h5ad");
        args.extend_from_slice(&["--out", &x]);
        let out = synth(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(field),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn data_inspect_reports_bad_files_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "cell,G1,G2\nc1,1,2\nc2,3\n").unwrap();
    let out = cellsindy(&["data", "inspect", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && !err.contains("panicked"), "{err}");
    let out = cellsindy(&[
        "data",
        "inspect",
        dir.path().join("nope.h5ad").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let out = cellsindy(&[
        "data",
        "synth",
        "--cells",
        "0",
        "--out",
        dir.path().join("x.csv").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("n_cells"), "{err}");
}

#[test]
fn transformer_commands_train_resume_impute_generate_capture_and_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    cellsindy_ok(&[
        "data",
        "synth",
        "--cells",
        "300",
        "--genes",
        "40",
        "--out",
        &d("brain.h5ad"),
    ]);
    std::fs::write(
        d("model.toml"),
        "[model]\nd_model = 16\nn_layers = 1\nn_heads = 2\nd_ff = 32\n[tokenizer]\nn_top_genes = 0\nmax_genes = 48\n[train]\nsteps = 4\nbatch_size = 8\nwarmup_steps = 1\nval_cells = 16\n",
    )
    .unwrap();
    let (data, ckpt, config) = (d("brain.h5ad"), d("ckpt"), d("model.toml"));
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train", "--data", &data, "--out", &ckpt, "--config", &config, "--json",
        ];
        args.extend_from_slice(extra);
        let out = cellsindy_ok(&args);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let bad = cellsindy(&[
        "train",
        "--data",
        &data,
        "--out",
        &d("never"),
        "--config",
        &config,
        "--top-genes",
        "8",
        "--include-genes",
        "GFAP,NOT_A_GENE",
    ]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("NOT_A_GENE"), "{err}");
    assert!(!Path::new(&d("never")).exists());
    assert_eq!(train(&["--stop-after", "2"])["steps"], 2);
    // A resume continues the saved run with its own settings: --config (or --seed, --binning,
    // ...) beside it is a conflict, not silently ignored.
    let conflict = cellsindy(&[
        "train", "--data", &data, "--out", &ckpt, "--config", &config, "--resume",
    ]);
    assert!(!conflict.status.success());
    let resumed = cellsindy_ok(&[
        "train", "--data", &data, "--out", &ckpt, "--resume", "--json",
    ]);
    let resumed: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(resumed["steps"], 4);

    cellsindy_ok(&[
        "impute",
        "--ckpt",
        &d("ckpt"),
        "--data",
        &d("brain.h5ad"),
        "--genes",
        "RBFOX3,GFAP",
        "--cells",
        "5",
        "--out",
        &d("imp.tsv"),
    ]);
    let tsv = std::fs::read_to_string(d("imp.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 1 + 5 * 2);
    assert!(tsv.starts_with("cell\tgene\tobserved_bin\texpected_bin\tsampled_bin\tp_high\tp_bin0"));

    cellsindy_ok(&[
        "generate",
        "--ckpt",
        &d("ckpt"),
        "--n",
        "4",
        "--steps",
        "2",
        "--genes",
        "RBFOX3,GFAP,MBP",
        "--out",
        &d("gen.csv"),
    ]);
    let gen = cellsindy::expression::io::read_expression(
        Path::new(&d("gen.csv")),
        &cellsindy::expression::io::ReadOptions {
            cells_as_rows: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((gen.n_cells(), gen.n_genes()), (4, 3));

    cellsindy_ok(&[
        "activations",
        "--ckpt",
        &d("ckpt"),
        "--data",
        &d("brain.h5ad"),
        "--cells",
        "6",
        "--out",
        &d("acts.safetensors"),
    ]);
    let acts =
        cellsindy::nn::infer::ActivationSet::load(Path::new(&d("acts.safetensors"))).unwrap();
    assert_eq!(acts.pooled["blocks.0.mlp.hidden"].dim(), (6, 32));

    let out = cellsindy_ok(&[
        "evaluate",
        "--ckpt",
        &d("ckpt"),
        "--data",
        &d("brain.h5ad"),
        "--generate",
        "4",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["masked"]["model"].as_f64().is_some() && v["masked"]["marginal"].as_f64().is_some());

    // Bad input: unknown gene, missing checkpoint, bad config key.
    let bad = cellsindy(&[
        "impute",
        "--ckpt",
        &d("ckpt"),
        "--data",
        &d("brain.h5ad"),
        "--genes",
        "NOPE",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown gene"));
    let bad = cellsindy(&["generate", "--ckpt", &d("nothing"), "--out", &d("x.csv")]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a checkpoint directory"));
    std::fs::write(d("bad.toml"), "[model]\nwidth = 3\n").unwrap();
    let bad = cellsindy(&[
        "train",
        "--data",
        &d("brain.h5ad"),
        "--out",
        &d("c2"),
        "--config",
        &d("bad.toml"),
    ]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown field"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// A processed `.h5ad` as scanpy leaves it (issue 19): `data inspect` lists every matrix and
/// their kinds without failing on a scaled X; a model trained on the counts layer records
/// counts and refuses the log-normalised X unless told.
#[test]
fn processed_h5ad_inspect_layers_and_the_kind_a_model_was_trained_on() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/h5ad");
    let scaled = fixtures.join("processed_scaled.h5ad");
    let j: Value = serde_json::from_slice(
        &cellsindy_ok(&["data", "inspect", "--json", scaled.to_str().unwrap()]).stdout,
    )
    .unwrap();
    let kinds: Vec<(String, String)> = j["matrices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["kind"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("X".to_string(), "scaled".to_string()),
            ("raw".to_string(), "log_normalized".to_string())
        ]
    );
    assert!(j["note"].as_str().unwrap().contains("--raw"), "{j}");
    assert!(j.get("n_cells").is_none(), "no summary of a scaled X: {j}");
    let j: Value = serde_json::from_slice(
        &cellsindy_ok(&[
            "data",
            "inspect",
            "--json",
            "--raw",
            scaled.to_str().unwrap(),
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(
        (j["n_cells"].as_u64(), j["n_genes"].as_u64()),
        (Some(12), Some(10))
    );
    assert_eq!(j["kind"]["kind"], "log_normalized");

    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let layers = fixtures.join("processed_layers.h5ad");
    let data = layers.to_str().unwrap();
    std::fs::write(
        d("model.toml"),
        "[model]\nd_model = 16\nn_layers = 1\nn_heads = 2\nd_ff = 32\n[tokenizer]\nn_top_genes = 0\nmax_genes = 16\n[train]\nsteps = 2\nbatch_size = 4\nwarmup_steps = 1\nval_cells = 2\n",
    )
    .unwrap();
    cellsindy_ok(&[
        "train",
        "--data",
        data,
        "--layer",
        "counts",
        "--out",
        &d("ckpt"),
        "--config",
        &d("model.toml"),
    ]);
    let tok: Value =
        serde_json::from_str(&std::fs::read_to_string(d("ckpt/tokenizer.json")).unwrap()).unwrap();
    assert_eq!(tok["input_kind"], "counts");
    let ckpt = d("ckpt");
    let impute = |extra: &[&str]| {
        let mut args = vec![
            "impute", "--ckpt", &ckpt, "--data", data, "--genes", "Gene1", "--cells", "3",
        ];
        args.extend_from_slice(extra);
        cellsindy(&args)
    };
    let refused = impute(&[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && err.contains("trained on counts")
            && err.contains("log-normalised"),
        "{err}"
    );
    assert!(impute(&["--layer", "counts"]).status.success());
    assert!(impute(&["--any-kind"]).status.success());

    // Results back into AnnData, opened by the real anndata and plotted by scanpy.
    let (imp, act, gen) = (d("imp.h5ad"), d("act.h5ad"), d("gen.h5ad"));
    cellsindy_ok(&[
        "impute",
        "--ckpt",
        &ckpt,
        "--data",
        data,
        "--layer",
        "counts",
        "--genes",
        "Gene1,Gene4",
        "--cells",
        "3",
        "--out",
        &imp,
    ]);
    cellsindy_ok(&[
        "activations",
        "--ckpt",
        &ckpt,
        "--data",
        data,
        "--layer",
        "counts",
        "--out",
        &act,
    ]);
    cellsindy_ok(&["generate", "--ckpt", &ckpt, "--n", "5", "--out", &gen]);
    let Some(python) = crate::common::python_with("scanpy") else {
        return;
    };
    let script = d("check.py");
    std::fs::write(&script, PY_RESULTS).unwrap();
    let out = Command::new(&python)
        .args([&script, &imp, &act, &gen, &d("figures")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_dir(d("figures")).unwrap().count() >= 2);
}

/// Opens the written results with anndata, checks their parts and plots them with scanpy.
const PY_RESULTS: &str = r#"
import os, sys, json
import matplotlib
matplotlib.use("Agg")
import anndata as ad, numpy as np, scanpy as sc
imp_path, act_path, gen_path, fig = sys.argv[1:5]
os.makedirs(fig, exist_ok=True)
sc.settings.figdir = fig

imp = ad.read_h5ad(imp_path)
assert imp.shape == (3, 2), imp.shape
assert list(imp.var_names) == ["Gene1", "Gene4"], list(imp.var_names)
assert set(imp.layers.keys()) == {"imputed", "sampled", "p_high"}, imp.layers.keys()
p = np.asarray(imp.layers["p_high"])
assert ((p >= 0) & (p <= 1)).all(), p
u = imp.uns["cellsindy"]
assert u["command"] == "impute" and u["input_kind"] == "counts", u
assert list(u["genes"])[:2] == ["Gene0", "Gene1"], u["genes"]
json.loads(u["model"]); json.loads(u["binning"])
sc.pl.violin(imp, keys="Gene1", layer="imputed", show=False, save="_imputed.png")

act = ad.read_h5ad(act_path)
assert act.n_obs == 12 and act.n_vars == 10, act.shape
keys = sorted(act.obsm.keys())
assert keys and all(k.startswith("X_") for k in keys), keys
assert all(act.obsm[k].shape[0] == 12 for k in keys)
assert act.uns["cellsindy"]["command"] == "activations"
sc.pl.embedding(act, basis=keys[0][2:], show=False, save="_activations.png")

gen = ad.read_h5ad(gen_path)
assert gen.n_obs == 5 and gen.uns["cellsindy"]["command"] == "generate", gen
print("ok", keys)
"#;
