//! `cellsindy sindy`: fit, print the equations and accuracy, write results and figures.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;

use cellsindy::io::output::Output;
use cellsindy::memory::peak_rss_kb;
use cellsindy_cli::pipeline::sindy::{run_with_progress, write_report, SindyRunConfig};

use cellsindy_cli::args::SindyArgs;

/// Runs the subcommand.
pub fn run(args: &SindyArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let cfg = SindyRunConfig::try_from(args).context("invalid arguments")?;
    let inputs: Vec<&std::path::Path> = args.data.iter().map(|p| p.as_path()).collect();
    let staged = args
        .out
        .as_deref()
        .map(|dir| Output::dir(dir, &inputs))
        .transpose()?;
    let bar = match cfg.chunk {
        Some(_) => super::progress_bar("samples")?,
        None => ProgressBar::hidden(),
    };
    let report = run_with_progress(&cfg, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let report = report?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", super::safe(&report.summary()))?;
    if let Some(staged) = staged {
        let files = write_report(&report, staged.path())
            .with_context(|| format!("writing results to {}", staged.dest().display()))?;
        super::commit_and_list(staged, &files, &mut out)?;
    }
    let rss = peak_rss_kb().map_or("unknown".into(), |kb| {
        format!("{kb} kB ({:.1} MB)", kb as f64 / 1024.0)
    });
    writeln!(
        out,
        "elapsed {:.2} s, peak RSS {rss}",
        start.elapsed().as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}
