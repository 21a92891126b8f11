//! `cellsindy train | impute | generate | activations | evaluate`: the gene transformer.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;

use cellsindy::escape;
use cellsindy::expression::io::{expression_output, write_expression};
use cellsindy::expression::{CsrMatrix, ExpressionMatrix, GeneTable, ObsColumn, Values};
use cellsindy::io::output::Output;
use cellsindy::nn::device::device;
use cellsindy::nn::evaluate::{evaluate, EvalConfig};
use cellsindy::nn::infer::{capture, generate, impute, Context, GenerateParams, InferenceModel};
use cellsindy::nn::{checkpoint, CaptureSpec, RunConfig, TrainEvent};
use cellsindy::tokenize::{BinSchemeKind, PreparedCells};
use cellsindy_cli::pipeline::anndata_out;
use cellsindy_cli::pipeline::transformer::{train, TrainJob};

use cellsindy_cli::args::{
    ActivationsArgs, BinningArg, EvaluateArgs, GenerateArgs, ImputeArgs, TrainArgs,
};

fn step_bar(total: u64) -> anyhow::Result<ProgressBar> {
    let style = ProgressStyle::with_template(
        "{elapsed_precise} {wide_bar} {pos}/{len} steps, eta {eta} | {msg}",
    )?;
    Ok(ProgressBar::new(total).with_style(style))
}

/// `cellsindy train`.
pub fn run_train(a: &TrainArgs) -> anyhow::Result<ExitCode> {
    let mut config = match &a.config {
        Some(p) => RunConfig::load(p).with_context(|| format!("reading {}", p.display()))?,
        None => RunConfig::default(),
    };
    if let (Some(s), false) = (a.steps, a.resume) {
        config.train.steps = s;
    }
    if let Some(s) = a.seed {
        config.train.seed = s;
    }
    if let Some(n) = a.top_genes {
        config.tokenizer.n_top_genes = n;
    }
    if let Some(b) = a.binning {
        config.tokenizer.binning = match b {
            BinningArg::PerGene => BinSchemeKind::PerGene,
            BinningArg::PerCell => BinSchemeKind::PerCell,
            BinningArg::LogRatio => BinSchemeKind::LogRatio,
        };
    }
    config
        .tokenizer
        .include_genes
        .extend(a.include_genes.iter().cloned());
    let job = TrainJob {
        data: a.data.clone(),
        out: a.out.clone(),
        config,
        read: a.read.read_options(),
        stream: a.stream,
        resume: a.resume,
        resume_steps: a.steps.filter(|_| a.resume),
        stop_after: a.stop_after,
    };
    let dev = device(&a.device)?;
    let bar = step_bar(job.config.train.steps as u64)?;
    let mut last_val = String::new();
    let mut tok_rate = 0.0f64;
    let summary = train(&job, &dev, &mut |e| match e {
        TrainEvent::Step { record, total, tokens_per_sec } => {
            bar.set_length(total as u64);
            bar.set_position(record.step as u64);
            tok_rate = if tok_rate == 0.0 { tokens_per_sec } else { 0.9 * tok_rate + 0.1 * tokens_per_sec };
            bar.set_message(format!("loss {:.3}{last_val} | {:.0} tok/s", record.loss, tok_rate));
        }
        TrainEvent::Validation(v) => {
            last_val = format!(" val {:.3} acc {:.3}", v.loss, v.accuracy);
            let line = format!(
                "step {:>6}: validation loss {:.4}, masked-gene accuracy {:.3} | {:.0} tok/s, {:.0} s",
                v.step,
                v.loss,
                v.accuracy,
                tok_rate,
                bar.elapsed().as_secs_f64()
            );
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
        TrainEvent::Checkpoint(_) => {}
    })
    .with_context(|| format!("training on {}", a.data.display()))?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        write!(out, "{}", super::safe(&summary.to_string()))?;
        writeln!(out, "checkpoint: {}", a.out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn load_model(ckpt: &Path, dev: &str) -> anyhow::Result<InferenceModel> {
    InferenceModel::load(ckpt, &device(dev)?)
        .with_context(|| format!("loading checkpoint {}", ckpt.display()))
}

fn load_cells(
    m: &InferenceModel,
    data: &Path,
    read: &cellsindy::expression::io::ReadOptions,
) -> anyhow::Result<PreparedCells> {
    let x = cellsindy_cli::pipeline::read_for_model(data, read, m.tokenizer.input_kind)
        .with_context(|| format!("reading {}", data.display()))?;
    let p = m
        .tokenizer
        .prepare(&x)
        .with_context(|| format!("tokenizing {}", data.display()))?;
    if !p.coverage.missing.is_empty() {
        eprintln!(
            "note: {} of the model's {} genes are not in the data (treated as not expressed): {}",
            p.coverage.missing.len(),
            m.tokenizer.vocab.n_genes(),
            p.coverage
                .missing
                .iter()
                .take(10)
                .map(|g| escape::terminal(g).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (field, n) in &p.unknown_conditions {
        eprintln!(
            "note: {n} cells have a `{}` the model does not know (given the 'none' token)",
            escape::terminal(field)
        );
    }
    Ok(p)
}

fn first_cells(p: &PreparedCells, n: Option<usize>) -> Vec<usize> {
    (0..n.unwrap_or(usize::MAX).min(p.n_cells())).collect()
}

/// `cellsindy impute`.
pub fn run_impute(a: &ImputeArgs) -> anyhow::Result<ExitCode> {
    let staged = a
        .out
        .as_deref()
        .map(|p| Output::file(p, &[&a.on.ckpt, &a.on.data]))
        .transpose()?;
    let m = load_model(&a.on.ckpt, &a.on.device)?;
    let cells = load_cells(&m, &a.on.data, &a.on.read.read_options())?;
    let genes: Vec<&str> = a.genes.iter().map(String::as_str).collect();
    let pos = m.positions(&genes)?;
    let context = match &a.context_genes {
        Some(c) => Context::Only(m.positions(&c.iter().map(String::as_str).collect::<Vec<_>>())?),
        None => Context::sampled(),
    };
    let rows = first_cells(&cells, a.cells);
    let imp = impute(&m, &cells, &rows, &pos, &context, a.on.seed, 64)?;
    let Some(staged) = staged else {
        std::io::stdout()
            .lock()
            .write_all(imputation_tsv(&imp, m.config.n_bins).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    };
    if anndata_out::is_h5ad(staged.path()) {
        let (x, extras) = anndata_out::imputation(&imp, &m, &a.on.ckpt)?;
        anndata_out::write(&x, &extras, staged.path())?;
    } else {
        let text = imputation_tsv(&imp, m.config.n_bins);
        cellsindy::io::write_atomic(staged.path(), text.as_bytes())?;
    }
    let p = staged.commit()?;
    println!(
        "imputed {} genes in {} cells → {}",
        imp.genes.len(),
        imp.cells.len(),
        p.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The imputation as TSV: one row per cell and gene, bins and the bin probabilities.
fn imputation_tsv(imp: &cellsindy::nn::infer::Imputation, n_bins: usize) -> String {
    let mut text = String::from("cell\tgene\tobserved_bin\texpected_bin\tsampled_bin\tp_high");
    for b in 0..n_bins {
        text.push_str(&format!("\tp_bin{b}"));
    }
    text.push('\n');
    for (c, cell) in imp.cells.iter().enumerate() {
        for (g, gene) in imp.genes.iter().enumerate() {
            text.push_str(&format!(
                "{}\t{}\t{}\t{:.4}\t{}\t{:.5}",
                escape::tsv(cell),
                escape::tsv(gene),
                imp.observed[[c, g]],
                imp.expected[[c, g]],
                imp.sampled[[c, g]],
                imp.p_high[[c, g]]
            ));
            for b in 0..n_bins {
                text.push_str(&format!("\t{:.6}", imp.probs[[c, g, b]]));
            }
            text.push('\n');
        }
    }
    text
}

/// `cellsindy generate`.
pub fn run_generate(a: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let staged = expression_output(&a.out, &[&a.ckpt])?;
    let m = load_model(&a.ckpt, &a.device)?;
    let mut conditions = m.tokenizer.no_conditions();
    for c in &a.condition {
        let Some((field, value)) = c.split_once('=') else {
            bail!("--condition `{c}`: expected FIELD=VALUE");
        };
        let k = m
            .tokenizer
            .conditions
            .iter()
            .position(|f| f.name == field)
            .ok_or_else(|| {
                anyhow::anyhow!("--condition `{c}`: the model has no field `{field}`")
            })?;
        conditions[k] = m.tokenizer.condition_id(field, Some(value))?;
    }
    let genes = match &a.genes {
        Some(g) => Some(m.positions(&g.iter().map(String::as_str).collect::<Vec<_>>())?),
        None => None,
    };
    let params = GenerateParams {
        n_cells: a.n,
        genes,
        conditions: Some(conditions),
        steps: a.steps,
        temperature: a.temperature,
        seed: a.seed,
        batch_size: 64,
    };
    let bar = ProgressBar::new_spinner().with_message(format!("generating {} cells", a.n));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let g = generate(&m, &params)?;
    bar.finish_and_clear();
    let values: Array2<f32> = g.bins.mapv(|b| b as f32);
    let cells: Vec<String> = (0..a.n).map(|i| format!("generated_{i}")).collect();
    let mut x = ExpressionMatrix::new(
        Values::Sparse(CsrMatrix::from_dense(values.view())),
        GeneTable::from_symbols(g.genes.clone()),
        cells,
    )?;
    for c in &a.condition {
        if let Some((field, value)) = c.split_once('=') {
            x = x.with_obs(
                field,
                ObsColumn::categorical_from_labels(&vec![value.to_string(); a.n]),
            )?;
        }
    }
    if anndata_out::is_h5ad(staged.path()) {
        let extras = cellsindy::expression::io::h5ad::AnnDataExtras {
            uns: vec![anndata_out::model_uns(&m, "generate", &a.ckpt)?],
            ..Default::default()
        };
        anndata_out::write(&x, &extras, staged.path())
    } else {
        write_expression(&x, staged.path())
    }
    .with_context(|| format!("writing {}", a.out.display()))?;
    staged.commit()?;
    println!(
        "generated {} cells × {} genes (values are expression bins) → {}",
        a.n,
        g.genes.len(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `cellsindy activations`.
pub fn run_activations(a: &ActivationsArgs) -> anyhow::Result<ExitCode> {
    let staged = Output::file(&a.out, &[&a.on.ckpt, &a.on.data])?;
    let m = load_model(&a.on.ckpt, &a.on.device)?;
    let cells = load_cells(&m, &a.on.data, &a.on.read.read_options())?;
    let rows = first_cells(&cells, a.cells);
    let mut spec = CaptureSpec::default();
    for p in &a.points {
        match p.as_str() {
            "resid" => spec.residual = true,
            "attn" => spec.attention = true,
            "mlp" => spec.mlp = true,
            other => bail!("--points: unknown capture point `{other}` (resid, attn, mlp)"),
        }
    }
    let bar = ProgressBar::new_spinner().with_message(format!("capturing {} cells", rows.len()));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let h5ad = anndata_out::is_h5ad(&a.out);
    if h5ad && a.per_token {
        bail!("--per-token activations are 3-D and go to .safetensors; .h5ad takes the per-cell means (obsm)");
    }
    let set = capture(&m, &cells, &rows, spec, a.per_token, a.on.seed, 64)?;
    bar.finish_and_clear();
    if h5ad {
        let (x, extras) = anndata_out::activations(&set, &m, &a.on.ckpt)?;
        anndata_out::write(&x, &extras, staged.path())
    } else {
        set.save(staged.path())
    }
    .with_context(|| format!("writing {}", a.out.display()))?;
    staged.commit()?;
    println!(
        "captured {} tensors for {} cells ({}) → {}",
        set.pooled.len() + set.per_token.len(),
        rows.len(),
        set.pooled.keys().cloned().collect::<Vec<_>>().join(", "),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `cellsindy evaluate`.
pub fn run_evaluate(a: &EvaluateArgs) -> anyhow::Result<ExitCode> {
    let dev = device(&a.on.device)?;
    let ckpt = checkpoint::load(&a.on.ckpt, &dev)
        .with_context(|| format!("loading checkpoint {}", a.on.ckpt.display()))?;
    let (seed, val_fraction) = match &ckpt.train {
        Some((state, _)) => (state.train.seed, state.train.val_fraction),
        None => bail!(
            "{}: no training state, so the held-out split is unknown",
            a.on.ckpt.display()
        ),
    };
    let m = InferenceModel::from_checkpoint(ckpt)?;
    let cells = load_cells(&m, &a.on.data, &a.on.read.read_options())?;
    let cfg = EvalConfig {
        n_cells: a.cells,
        n_generate: a.generate,
        seed: a.on.seed,
        ..EvalConfig::default()
    };
    let bar = ProgressBar::new_spinner().with_message("evaluating");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let report = evaluate(&m, &cells, seed, val_fraction, &cfg)?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(out, "{}", super::safe(&report.to_string()))?;
    }
    Ok(ExitCode::SUCCESS)
}
