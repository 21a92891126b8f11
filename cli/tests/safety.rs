//! Issue 15's findings, one regression test each, run through the binary as a user would:
//! outputs never destroy inputs or unrelated files, memory stays bounded by what an input
//! really holds, sizes are checked before anything is allocated, no garbage comes back with
//! exit status 0, and names are escaped in every output format. Every test that can change
//! files compares the directory's contents before and after.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cellsindy"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs, requires failure and returns stderr; never a panic (exit status 101).
fn fails(args: &[&str]) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?}: not a clean error: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err
}

/// Every file under `dir` (hidden ones included) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A tiny training config: seconds on two cores.
const TINY: &str = "[model]\nd_model = 16\nn_layers = 1\nn_heads = 2\nd_ff = 32\n[tokenizer]\nn_top_genes = 0\nmax_genes = 48\n[train]\nsteps = 5\nbatch_size = 8\nwarmup_steps = 1\nval_cells = 16\n";

/// Trains the tiny model on `data` into `dir/m` (writing `dir/tiny.toml`); returns the
/// checkpoint.
fn train_tiny(dir: &Path, data: &Path) -> PathBuf {
    let cfg = dir.join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let model = dir.join("m");
    ok(&[
        "train",
        "--data",
        s(data),
        "--out",
        s(&model),
        "--config",
        s(&cfg),
    ]);
    model
}

/// A synthetic brain of `cells` cells (20 background genes) at `path`.
fn synth(path: &Path, cells: &str) {
    ok(&[
        "data",
        "synth",
        "--cells",
        cells,
        "--genes",
        "20",
        "--out",
        s(path),
    ]);
}

/// A synthetic brain of `cells` cells at `dir/brain.h5ad` and the tiny model trained on it.
fn brain_and_model(dir: &Path, cells: &str) -> (PathBuf, PathBuf) {
    let data = dir.join("brain.h5ad");
    synth(&data, cells);
    let model = train_tiny(dir, &data);
    (data, model)
}

/// Lorenz as CSV text with a `t` column (or without, for `--dt`).
fn lorenz_csv(n: usize, with_t: bool, extra: Option<(&str, f64)>) -> String {
    let tr = crate::common::lorenz(n, 0.002);
    let mut s = String::new();
    if with_t {
        s.push_str("t,");
    }
    s.push_str("x,y,z");
    if let Some((name, _)) = extra {
        s.push_str(&format!(",{name}"));
    }
    s.push('\n');
    for (i, r) in tr.x().rows().into_iter().enumerate() {
        if with_t {
            s.push_str(&format!("{},", i as f64 * 0.002));
        }
        s.push_str(&format!("{},{},{}", r[0], r[1], r[2]));
        if let Some((_, v)) = extra {
            s.push_str(&format!(",{v}"));
        }
        s.push('\n');
    }
    s
}

// ---- 1. Data loss ----------------------------------------------------------------------------

#[test]
fn train_never_deletes_its_input_or_a_users_file() {
    let tmp = tempfile::tempdir().unwrap();
    let v = tmp.path().join("v");
    synth(&v, "50");
    std::fs::write(v.join("README"), "mine").unwrap();
    let before = snapshot(tmp.path());
    // --out is the input directory.
    let err = fails(&["train", "--data", s(&v), "--out", s(&v), "--steps", "5"]);
    assert!(err.contains("it is the input"), "{err}");
    // --out contains the input.
    let err = fails(&[
        "train",
        "--data",
        s(&v),
        "--out",
        s(tmp.path()),
        "--steps",
        "5",
    ]);
    assert!(err.contains("contains the input"), "{err}");
    // --out is an existing plain file: refused before training, the file untouched (no
    // hidden `.NAME.old<pid>` either).
    let err = fails(&[
        "train",
        "--data",
        s(&v),
        "--out",
        s(&v.join("README")),
        "--steps",
        "5",
    ]);
    assert!(err.contains("not a directory"), "{err}");
    // --out is a directory of the user's files.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let before_mine = snapshot(tmp.path());
    let err = fails(&["train", "--data", s(&v), "--out", s(&mine), "--steps", "5"]);
    assert!(err.contains("did not write (notes.txt)"), "{err}");
    // The demo (minutes of work) refuses it at once too.
    let start = std::time::Instant::now();
    let err = fails(&["demo", "--out", s(&mine)]);
    assert!(err.contains("did not write (notes.txt)"), "{err}");
    assert!(start.elapsed().as_secs() < 60);
    assert_eq!(snapshot(tmp.path()), before_mine);
    std::fs::remove_dir_all(&mine).unwrap();
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn an_unwritable_output_fails_before_the_work() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("brain.h5ad");
    synth(&data, "60");
    let file = tmp.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let before = snapshot(tmp.path());
    // A location under a regular file cannot be created (as root too, unlike a read-only
    // directory). Training would take minutes at the default steps: the error must come
    // first, so the default is kept and the test still returns at once.
    let start = std::time::Instant::now();
    fails(&["train", "--data", s(&data), "--out", s(&file.join("model"))]);
    assert!(
        start.elapsed().as_secs() < 60,
        "the check came after training"
    );
    fails(&["sindy", "--system", "lorenz", "--out", s(&file.join("run"))]);
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn reports_replace_only_their_own_directory_and_a_failed_run_keeps_the_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    ok(&[
        "sindy",
        "--system",
        "lorenz",
        "--samples",
        "4000",
        "--out",
        s(&out),
    ]);
    assert!(out.join("results.json").is_file());
    // Ours: a rerun replaces it.
    ok(&[
        "sindy",
        "--system",
        "lorenz",
        "--samples",
        "5000",
        "--out",
        s(&out),
    ]);
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["data"]["samples"][0], 5000);
    // A failed run (bad data) leaves the previous result exactly, and no staging files.
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "t,x\n0,1\n1,oops\n").unwrap();
    let before = snapshot(tmp.path());
    fails(&["sindy", "--data", s(&bad), "--out", s(&out)]);
    assert_eq!(snapshot(tmp.path()), before);
    // A file of the user's inside it makes it not ours any more.
    std::fs::write(out.join("README"), "mine").unwrap();
    let before = snapshot(tmp.path());
    let err = fails(&[
        "sindy",
        "--system",
        "lorenz",
        "--samples",
        "4000",
        "--out",
        s(&out),
    ]);
    assert!(err.contains("README"), "{err}");
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn a_report_is_never_written_over_the_model_or_data_it_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = brain_and_model(tmp.path(), "200");
    let before = snapshot(tmp.path());
    for args in [
        vec![
            "probe",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--out",
            s(&model),
        ],
        vec![
            "rules",
            "distill",
            "--model",
            s(&model),
            "--data",
            s(&data),
            "--out",
            s(&model),
        ],
        vec![
            "impute",
            "--ckpt",
            s(&model),
            "--data",
            s(&data),
            "--genes",
            "GFAP",
            "--out",
            s(&data),
        ],
        vec![
            "activations",
            "--ckpt",
            s(&model),
            "--data",
            s(&data),
            "--out",
            s(&data),
        ],
        vec![
            "generate",
            "--ckpt",
            s(&model),
            "--n",
            "3",
            "--out",
            s(&model),
        ],
    ] {
        let err = fails(&args);
        assert!(err.contains("the input"), "{args:?}: {err}");
    }
    assert_eq!(snapshot(tmp.path()), before);
}

// ---- 2. Memory bounded by the input ----------------------------------------------------------

#[test]
fn special_files_and_header_claims_do_not_take_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let before = snapshot(tmp.path());
    if cfg!(unix) {
        let err = fails(&["sindy", "--data", "/dev/zero", "--dt", "0.1"]);
        assert!(err.contains("not a regular file"), "{err}");
        let err = fails(&["data", "inspect", "/dev/zero"]);
        assert!(
            err.contains("not a regular file") || err.contains("unknown"),
            "{err}"
        );
    }
    // 97 bytes announcing 10^9 genes.
    let mtx = tmp.path().join("d.mtx.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"%%MatrixMarket matrix coordinate integer general\n1000000000 10 1\n1 1 1\n")
        .unwrap();
    std::fs::write(&mtx, gz.finish().unwrap()).unwrap();
    let err = fails(&["data", "inspect", s(&mtx)]);
    assert!(err.contains("announces 1000000000 genes"), "{err}");
    // A small gzip holding one line longer than the cap (64 MiB), as a matrix and as a table.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"%%MatrixMarket matrix coordinate integer general\n")
        .unwrap();
    let chunk = vec![b'1'; 1 << 20];
    for _ in 0..66 {
        gz.write_all(&chunk).unwrap();
    }
    let long = gz.finish().unwrap();
    assert!(long.len() < 1 << 20);
    for name in ["long.mtx.gz", "long.csv.gz"] {
        std::fs::write(tmp.path().join(name), &long).unwrap();
        let err = fails(&["data", "inspect", s(&tmp.path().join(name))]);
        assert!(err.contains("longer than 64 MiB"), "{name}: {err}");
        std::fs::remove_file(tmp.path().join(name)).unwrap();
    }
    std::fs::remove_file(&mtx).unwrap();
    assert_eq!(snapshot(tmp.path()), before);
}

// ---- 3. Sizes checked before allocation -------------------------------------------------------

#[test]
fn sizes_too_large_for_memory_are_errors_that_say_how_much() {
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(&[
        "sindy",
        "--system",
        "lorenz",
        "--samples",
        "18446744073709551615",
    ]);
    assert!(
        err.contains("would need") && err.contains("samples"),
        "{err}"
    );
    // Degree 200 of 3 variables: 1.4 million features, a 16 TB normal matrix.
    let err = fails(&["sindy", "--system", "lorenz", "--degree", "200"]);
    assert!(
        err.contains("1373701 features") && err.contains("would need"),
        "{err}"
    );
    // 200 variables at the default degree 3.
    let mut csv = String::from("t");
    for j in 0..200 {
        csv.push_str(&format!(",v{j}"));
    }
    csv.push('\n');
    for i in 0..30 {
        csv.push_str(&format!("{i}"));
        for j in 0..200 {
            csv.push_str(&format!(",{}", ((i * 7 + j * 3) % 11) as f64 * 0.1 + 1.0));
        }
        csv.push('\n');
    }
    let wide = tmp.path().join("wide.csv");
    std::fs::write(&wide, csv).unwrap();
    let err = fails(&["sindy", "--data", s(&wide), "--diff", "fd2"]);
    assert!(
        err.contains("1373701 features") && (err.contains("TB") || err.contains("PB")),
        "{err}"
    );
    // Simulated time courses (rules dynamics, data synth --timecourse).
    let err = fails(&[
        "rules",
        "dynamics",
        "--trajectories",
        "1000000000000",
        "--out",
        s(&tmp.path().join("rd")),
    ]);
    assert!(
        err.contains("simulated trajectories") && err.contains("would need"),
        "{err}"
    );
    // The synthetic brain and generation.
    let err = fails(&[
        "data",
        "synth",
        "--cells",
        "4000000000",
        "--out",
        s(&tmp.path().join("b.h5ad")),
    ]);
    assert!(err.contains("would need"), "{err}");
    let (data, model) = brain_and_model(tmp.path(), "100");
    let before = snapshot(tmp.path());
    let err = fails(&[
        "generate",
        "--ckpt",
        s(&model),
        "--n",
        "1000000000000",
        "--genes",
        "GFAP,RBFOX3",
        "--out",
        s(&tmp.path().join("g.h5ad")),
    ]);
    assert!(
        err.contains("generating 1000000000000 cells") && err.contains("TB"),
        "{err}"
    );
    // A model (width, depth, context) too large to train.
    std::fs::write(
        tmp.path().join("huge.toml"),
        "[model]\nd_model = 4096\nn_layers = 1000000\n[tokenizer]\nmax_genes = 100000\n",
    )
    .unwrap();
    let before_huge = snapshot(tmp.path());
    let err = fails(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&tmp.path().join("m2")),
        "--config",
        s(&tmp.path().join("huge.toml")),
    ]);
    assert!(
        err.contains("1000000 layers") && err.contains("would need"),
        "{err}"
    );
    assert_eq!(snapshot(tmp.path()), before_huge);
    std::fs::remove_file(tmp.path().join("huge.toml")).unwrap();
    assert_eq!(snapshot(tmp.path()), before);
}

// ---- 4. No garbage with exit status 0 ---------------------------------------------------------

/// A checkpoint whose first weight is NaN.
fn poison_weights(model: &Path) {
    let p = model.join("model.safetensors");
    let mut b = std::fs::read(&p).unwrap();
    let header = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    b[8 + header..8 + header + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&p, b).unwrap();
}

#[test]
fn a_checkpoint_with_nan_weights_is_refused_by_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = brain_and_model(tmp.path(), "100");
    poison_weights(&model);
    let before = snapshot(tmp.path());
    let imp = tmp.path().join("imp.tsv");
    let gen = tmp.path().join("gen.h5ad");
    for args in [
        vec![
            "impute",
            "--ckpt",
            s(&model),
            "--data",
            s(&data),
            "--genes",
            "GFAP",
            "--out",
            s(&imp),
        ],
        vec![
            "generate",
            "--ckpt",
            s(&model),
            "--n",
            "5",
            "--out",
            s(&gen),
        ],
        vec!["evaluate", "--ckpt", s(&model), "--data", s(&data)],
        vec![
            "train",
            "--data",
            s(&data),
            "--out",
            s(&model),
            "--resume",
            "--steps",
            "9",
        ],
    ] {
        let err = fails(&args);
        assert!(err.contains("non-finite value (NaN)"), "{args:?}: {err}");
    }
    assert_eq!(snapshot(tmp.path()), before);
}

#[test]
fn sindy_files_constant_columns_byte_order_marks_and_time_conflicts() {
    let tmp = tempfile::tempdir().unwrap();
    let equations = |out: &Output| {
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        ["x' = 10(y - x)", "y' = 28x - xz - y", "z' = xy - 8/3 z"]
            .iter()
            .all(|eq| text.lines().any(|l| l.trim() == *eq))
    };
    // A constant column no longer zeroes every equation.
    let c = tmp.path().join("c.csv");
    std::fs::write(&c, lorenz_csv(5000, true, Some(("c", 5.0)))).unwrap();
    let out = ok(&["sindy", "--data", s(&c)]);
    assert!(equations(&out), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("left out of the fit") && text.contains("`c` (a multiple of `1`)"));
    // A byte-order mark is not part of the first column's name: `t` is the time column.
    let bom = tmp.path().join("bom.csv");
    std::fs::write(&bom, format!("\u{feff}{}", lorenz_csv(5000, true, None))).unwrap();
    let out = ok(&["sindy", "--data", s(&bom)]);
    assert!(equations(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("variables x,y,z\n"));
    // --dt beside a time column is a conflict, not silently ignored.
    let err = fails(&["sindy", "--data", s(&bom), "--dt", "0.1"]);
    assert!(
        err.contains("time column 't'") && err.contains("time step"),
        "{err}"
    );
    // Without a time column, --dt is what gives the times.
    let no_t = tmp.path().join("no_t.csv");
    std::fs::write(&no_t, lorenz_csv(5000, false, None)).unwrap();
    assert!(equations(&ok(&[
        "sindy",
        "--data",
        s(&no_t),
        "--dt",
        "0.002"
    ])));
}

#[test]
fn degenerate_training_data_and_resumes_are_errors_or_labelled() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tiny.toml"), TINY).unwrap();
    let cfg = tmp.path().join("tiny.toml");
    let table = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let mut one = String::from("cell,G1\n");
    let mut zero = String::from("cell,G1,G2,G3\n");
    for i in 0..40 {
        one.push_str(&format!("c{i},{}\n", i % 5));
        zero.push_str(&format!("c{i},0,0,0\n"));
    }
    let one = table("one.csv", &one);
    let zero = table("zero.csv", &zero);
    let before = snapshot(tmp.path());
    let err = fails(&[
        "train",
        "--data",
        s(&one),
        "--out",
        s(&tmp.path().join("m1")),
        "--config",
        s(&cfg),
        "--cells-as-rows",
    ]);
    assert!(err.contains("at least 2"), "{err}");
    let err = fails(&[
        "train",
        "--data",
        s(&zero),
        "--out",
        s(&tmp.path().join("m0")),
        "--config",
        s(&cfg),
        "--cells-as-rows",
    ]);
    assert!(
        err.contains("every value") && err.contains("is zero"),
        "{err}"
    );
    assert_eq!(snapshot(tmp.path()), before);

    // Resume: --steps is the new total; a total at or below the steps done is an error.
    let data = tmp.path().join("brain.h5ad");
    synth(&data, "100");
    let m = tmp.path().join("m");
    let summary = |out: &Output| -> Value { serde_json::from_slice(&out.stdout).unwrap() };
    let first = summary(&ok(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&m),
        "--config",
        s(&cfg),
        "--json",
    ]));
    assert_eq!(first["steps"], 5);
    for steps in ["5", "3"] {
        let err = fails(&[
            "train",
            "--data",
            s(&data),
            "--out",
            s(&m),
            "--resume",
            "--steps",
            steps,
        ]);
        assert!(err.contains("has done 5 steps"), "{err}");
    }
    let err = fails(&["train", "--data", s(&data), "--out", s(&m), "--resume"]);
    assert!(err.contains("complete (5 of 5 steps)"), "{err}");
    let more = summary(&ok(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&m),
        "--resume",
        "--steps",
        "10",
        "--json",
    ]));
    assert_eq!(more["steps"], 10);

    // No held-out cell: said, not a made-up accuracy.
    std::fs::write(
        tmp.path().join("noval.toml"),
        format!("{TINY}val_fraction = 0.0\n"),
    )
    .unwrap();
    let out = ok(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&tmp.path().join("mv")),
        "--config",
        s(&tmp.path().join("noval.toml")),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no validation: no cell was held out"),
        "{text}"
    );
    assert!(!text.contains("validation loss"), "{text}");
}

// ---- 5. Names escaped in every output ---------------------------------------------------------

#[test]
fn hostile_gene_names_stay_inside_their_fields() {
    use cellsindy::expression::{CsrMatrix, ExpressionMatrix, GeneTable, Values};
    let tmp = tempfile::tempdir().unwrap();
    // A synthetic brain whose gate gene and one background gene get hostile names.
    let brain = tmp.path().join("brain.h5ad");
    synth(&brain, "300");
    let m = cellsindy::expression::io::read_expression(&brain, &Default::default()).unwrap();
    let nl = "NEW\nLINE\tTAB";
    let script = "<script>alert(1)</script>";
    let mut symbols = m.genes().symbols.clone();
    let gate = symbols.iter().position(|g| g == "TGXOR").unwrap();
    symbols[gate] = script.to_string();
    let bg = symbols.iter().position(|g| g.starts_with("BG")).unwrap();
    symbols[bg] = nl.to_string();
    let csr = match m.values() {
        Values::Sparse(c) => c.clone(),
        Values::Dense(d) => CsrMatrix::from_dense(d.view()),
    };
    let renamed = ExpressionMatrix::new(
        Values::Sparse(csr),
        GeneTable::from_symbols(symbols),
        m.cells().to_vec(),
    )
    .unwrap();
    let data = tmp.path().join("hostile.h5ad");
    cellsindy::expression::io::write_expression(&renamed, &data).unwrap();
    let model = train_tiny(tmp.path(), &data);
    // impute's TSV: one line per (cell, gene), whatever the name holds.
    let imp = tmp.path().join("imp.tsv");
    ok(&[
        "impute",
        "--ckpt",
        s(&model),
        "--data",
        s(&data),
        "--genes",
        &format!("{nl},GFAP"),
        "--cells",
        "4",
        "--out",
        s(&imp),
    ]);
    let tsv = std::fs::read_to_string(&imp).unwrap();
    let header_fields = tsv.lines().next().unwrap().split('\t').count();
    assert_eq!(tsv.lines().count(), 1 + 4 * 2);
    assert!(tsv.lines().all(|l| l.split('\t').count() == header_fields));
    assert!(tsv.contains("NEW\\nLINE\\tTAB"), "{tsv}");
    // The probe's report with the hostile gate: Markdown and its figures are safe.
    let probe = tmp.path().join("probe");
    let out = ok(&[
        "probe",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--out",
        s(&probe),
        "--gate",
        script,
    ]);
    let md = std::fs::read_to_string(probe.join("report.md")).unwrap();
    assert!(!md.contains("<script>"), "{md}");
    assert!(md.contains("\\<script\\>"), "{md}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("<script>"));
    for f in std::fs::read_dir(&probe).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "svg") {
            let svg = std::fs::read_to_string(&p).unwrap();
            assert!(!svg.contains("<script>"), "{}", p.display());
        }
    }
}

#[test]
fn control_characters_in_a_trajectory_header_reach_neither_svg_nor_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = lorenz_csv(3000, true, None).replacen("t,x,y,z", "t,x\u{1b}[31m,y\u{0},z", 1);
    let f = tmp.path().join("ctl.csv");
    std::fs::write(&f, csv).unwrap();
    let out_dir = tmp.path().join("out");
    let out = ok(&["sindy", "--data", s(&f), "--out", s(&out_dir)]);
    assert!(
        !out.stdout.contains(&0x1b) && !out.stdout.contains(&0),
        "raw control characters on stdout"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("x\\u{1b}[31m"), "{text}");
    for f in ["attractor.svg", "coefficients.svg"] {
        let svg = std::fs::read(out_dir.join(f)).unwrap();
        // XML 1.0 allows no C0 control character but tab, newline and carriage return.
        assert!(
            !svg.iter()
                .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')),
            "{f} holds a control character"
        );
    }
    // results.json keeps the real names (JSON escapes them itself).
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(r["data"]["state_names"][0], "x\u{1b}[31m");
}
