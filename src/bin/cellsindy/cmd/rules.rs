//! `cellsindy rules`: read sparse regulatory rules and score them against a known network.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use cellsindy::pipeline::rules::{dynamics, write_report, DynamicsRunConfig};

use crate::args::{RulesCommand, RulesDynamicsArgs};

/// Runs the subcommand.
pub fn run(cmd: &RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Dynamics(a) => run_dynamics(a),
        RulesCommand::Activations(a) => super::rules_activations::run(a),
    }
}

fn run_dynamics(a: &RulesDynamicsArgs) -> anyhow::Result<ExitCode> {
    let cfg = DynamicsRunConfig::try_from(a).map_err(anyhow::Error::msg)?;
    let (report, _) = dynamics(&cfg).context("rules from time courses")?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", report.summary())?;
    let files = write_report(&report, &a.out)
        .with_context(|| format!("writing results to {}", a.out.display()))?;
    for f in files {
        writeln!(out, "wrote {}", f.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
