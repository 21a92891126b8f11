//! `cellsindy data`: `inspect` an expression file, `synth` the synthetic brain.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use cellsindy::pipeline::data::inspect;
use cellsindy::pipeline::sindy::peak_rss_kb;

use crate::args::{DataCommand, InspectArgs};

/// Runs the subcommand.
pub fn run(cmd: &DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Inspect(a) => run_inspect(a),
    }
}

fn run_inspect(a: &InspectArgs) -> anyhow::Result<ExitCode> {
    let (report, _) = inspect(&a.file, &a.read_options())
        .with_context(|| format!("reading {}", a.file.display()))?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let (Some(obj), Some(kb)) = (v.as_object_mut(), peak_rss_kb()) {
            obj.insert("peak_rss_kb".into(), kb.into());
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        write!(out, "{report}")?;
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
