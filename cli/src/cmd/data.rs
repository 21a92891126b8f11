//! `cellsindy data`: `inspect` an expression file, `synth` the synthetic brain, `permute` genes
//! into a negative control.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use cellsindy::memory::peak_rss_kb;
use cellsindy_cli::pipeline::data::{inspect, permute, synth, SynthConfig};

use cellsindy_cli::args::{DataCommand, InspectArgs, PermuteArgs, SynthArgs};

/// Runs the subcommand.
pub fn run(cmd: &DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Inspect(a) => run_inspect(a),
        DataCommand::Synth(a) => run_synth(a),
        DataCommand::Permute(a) => run_permute(a),
    }
}

fn run_permute(a: &PermuteArgs) -> anyhow::Result<ExitCode> {
    let (n_cells, n_genes) = permute(
        &a.data,
        &a.read.read_options(),
        a.genes.as_deref(),
        a.seed,
        &a.out,
    )
    .with_context(|| format!("permuting {} into {}", a.data.display(), a.out.display()))?;
    println!(
        "{}: {n_genes} gene(s) permuted across {n_cells} cells (seed {})",
        super::safe(&a.out.display().to_string()),
        a.seed
    );
    Ok(ExitCode::SUCCESS)
}

fn run_synth(a: &SynthArgs) -> anyhow::Result<ExitCode> {
    let start = std::time::Instant::now();
    let cfg = SynthConfig::try_from(a).context("invalid arguments")?;
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let report = synth(&cfg, &mut |step| spinner.set_message(step.to_string()));
    spinner.finish_and_clear();
    let report = report.with_context(|| format!("writing {}", a.out.display()))?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", super::safe(&report.to_string()))?;
    writeln!(out, "elapsed {:.2} s", start.elapsed().as_secs_f64())?;
    Ok(ExitCode::SUCCESS)
}

fn run_inspect(a: &InspectArgs) -> anyhow::Result<ExitCode> {
    let report = inspect(&a.file, &a.read_options())
        .with_context(|| format!("reading {}", a.file.display()))?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let (Some(obj), Some(kb)) = (v.as_object_mut(), peak_rss_kb()) {
            obj.insert("peak_rss_kb".into(), kb.into());
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write!(out, "{}", super::safe(&report.to_string()))?;
        let rss = peak_rss_kb().map_or("unknown".into(), |kb| {
            format!("{:.1} MB", kb as f64 / 1024.0)
        });
        writeln!(
            out,
            "  read in {:.3} s, peak RSS {rss}",
            report.read_seconds
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
