//! `cellsindy rules`: read sparse regulatory rules and score them against a known network.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use cellsindy::io::output::Output;
use cellsindy::nn::device::device;
use cellsindy::rules::DistillStage;
use cellsindy_cli::pipeline::distill::{distill, write_extras, DistillJob};
use cellsindy_cli::pipeline::rules::{dynamics, write_report, DynamicsRunConfig};

use cellsindy_cli::args::{RulesBenchmarkArgs, RulesCommand, RulesDistillArgs, RulesDynamicsArgs};

/// Runs the subcommand.
pub fn run(cmd: &RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Dynamics(a) => run_dynamics(a),
        RulesCommand::Benchmark(a) => run_benchmark(a),
        RulesCommand::Activations(a) => super::rules_activations::run(a),
        RulesCommand::Ablate(a) => run_ablate(a),
        RulesCommand::Distill(a) => run_distill(a),
    }
}

fn run_dynamics(a: &RulesDynamicsArgs) -> anyhow::Result<ExitCode> {
    let cfg = DynamicsRunConfig::try_from(a).map_err(anyhow::Error::msg)?;
    let inputs: Vec<&std::path::Path> =
        a.truth.iter().chain(&a.data).map(|p| p.as_path()).collect();
    let staged = Output::dir(&a.out, &inputs)?;
    let (report, _) = dynamics(&cfg).context("rules from time courses")?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", super::safe(&report.summary()))?;
    let files = write_report(&report, staged.path())
        .with_context(|| format!("writing results to {}", a.out.display()))?;
    super::commit_and_list(staged, &files, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

fn run_benchmark(a: &RulesBenchmarkArgs) -> anyhow::Result<ExitCode> {
    use cellsindy_cli::pipeline::network_bench::{benchmark, table, BenchConfig};
    let cfg = BenchConfig::from(a);
    let staged = match &a.out {
        Some(dir) => Some(Output::dir(dir, &[])?),
        None => None,
    };
    let bar = ProgressBar::new(0).with_style(ProgressStyle::with_template(
        "{elapsed_precise} {wide_bar} {pos}/{len} networks x seeds, eta {eta}",
    )?);
    let scores = benchmark(
        &cfg,
        &cellsindy::rules::DynamicsParams::default(),
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )
    .context("network benchmark")?;
    bar.finish_and_clear();
    let md = table(&scores);
    let mut out = std::io::stdout().lock();
    write!(out, "{}", super::safe(&md))?;
    if let Some(staged) = staged {
        let files = vec![
            staged.path().join("table.md"),
            staged.path().join("scores.json"),
        ];
        cellsindy::io::write_atomic(&files[0], md.as_bytes())?;
        cellsindy::io::write_atomic(&files[1], &serde_json::to_vec_pretty(&scores)?)?;
        super::commit_and_list(staged, &files, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_distill(a: &RulesDistillArgs) -> anyhow::Result<ExitCode> {
    let job = DistillJob::from(a);
    let mut inputs = vec![a.model.as_path(), a.data.as_path()];
    inputs.extend(a.truth.as_deref());
    let staged = Output::dir(&a.out, &inputs)?;
    let style = ProgressStyle::with_template(
        "{elapsed_precise} {msg} {wide_bar} {pos}/{len} cells, eta {eta}",
    )?;
    let bar = ProgressBar::new(0).with_style(style);
    let (report, d) = distill(&job, &device(&a.device)?, &mut |stage, done, total| {
        let msg = match stage {
            DistillStage::Screen => "occlusion screen",
            DistillStage::Distill => "distillation",
        };
        if bar.message() != msg {
            bar.reset();
            bar.set_message(msg);
            bar.set_length(total as u64);
        }
        bar.set_position(done as u64);
    })
    .context("distilling the model into rules")?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    write!(out, "{}", super::safe(&report.summary()))?;
    let mut files = write_report(&report, staged.path())
        .with_context(|| format!("writing results to {}", a.out.display()))?;
    files.extend(write_extras(&d, staged.path())?);
    super::commit_and_list(staged, &files, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

fn run_ablate(a: &cellsindy_cli::args::RulesAblateArgs) -> anyhow::Result<ExitCode> {
    use cellsindy_cli::pipeline::ablation::{ablate, AblationJob};
    use cellsindy_cli::pipeline::probe::ProbeJob;
    let staged = cellsindy::io::output::Output::dir(&a.out, &[&a.model, &a.data, &a.units])?;
    let mut config = cellsindy::probes::ProbeConfig {
        seed: a.seed,
        ..cellsindy::probes::ProbeConfig::default()
    };
    if a.marker_two_means {
        config.marker_rule = cellsindy::probes::Binarize::TwoMeans;
    }
    let job = AblationJob {
        probe: ProbeJob {
            model: a.model.clone(),
            data: a.data.clone(),
            config,
            read: a.read.read_options(),
        },
        units: a.units.clone(),
        top: a.top,
        inputs: match a.inputs.as_deref() {
            None => None,
            Some([x, y]) => Some([x.clone(), y.clone()]),
            Some(other) => anyhow::bail!("--inputs takes two genes, got {}", other.len()),
        },
        random_sets: a.random_sets,
        seed: a.seed,
    };
    let report =
        ablate(&job, &cellsindy::nn::device::device(&a.device)?).context("ablating units")?;
    let md = report.markdown();
    let files = vec![
        staged.path().join("ablation.json"),
        staged.path().join("ablation.md"),
    ];
    cellsindy::io::write_atomic(&files[0], serde_json::to_string_pretty(&report)?.as_bytes())?;
    cellsindy::io::write_atomic(&files[1], md.as_bytes())?;
    print!("{}", super::safe(&md));
    super::commit_and_list(staged, &files, &mut std::io::stderr())?;
    Ok(ExitCode::SUCCESS)
}
