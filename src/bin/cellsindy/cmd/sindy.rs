//! `cellsindy sindy`: fit, print the equations and accuracy, write results and figures.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;

use cellsindy::pipeline::sindy::{peak_rss_kb, run_with_progress, write_report, SindyRunConfig};

use crate::args::SindyArgs;

/// Runs the subcommand.
pub fn run(args: &SindyArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let cfg = SindyRunConfig::try_from(args).context("invalid arguments")?;
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
    write!(out, "{}", report.summary())?;
    if let Some(dir) = &args.out {
        let files = write_report(&report, dir)
            .with_context(|| format!("writing results to {}", dir.display()))?;
        for f in files {
            writeln!(out, "wrote {}", f.display())?;
        }
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
