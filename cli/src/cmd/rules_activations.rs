//! `cellsindy rules activations`: route 2, units and dictionary features explained by gene rules.

use std::process::ExitCode;

use anyhow::Context as _;

use cellsindy::io::output::Output;
use cellsindy::nn::device::device;
use cellsindy_cli::pipeline::activations::{
    activations, write_activation_report, ActivationJob, ActivationRulesConfig,
};

use cellsindy_cli::args::RulesActivationsArgs;

/// Runs the subcommand.
pub fn run(a: &RulesActivationsArgs) -> anyhow::Result<ExitCode> {
    let staged = Output::dir(&a.out, &[&a.model, &a.data])?;
    let mut config = ActivationRulesConfig {
        target: a.target.clone(),
        layers: a.layers.clone().unwrap_or_default(),
        seed: a.seed,
        ..ActivationRulesConfig::default()
    };
    match a.sae_layer.as_deref() {
        Some("none") => config.sae_layer = None,
        Some(l) => config.sae_layer = Some(l.to_string()),
        None => {}
    }
    config.sae.n_features = a.features.unwrap_or(config.sae.n_features);
    config.sae.l1 = a.l1.unwrap_or(config.sae.l1);
    config.sae.steps = a.steps.unwrap_or(config.sae.steps);
    config.feature_firing = !a.feature_values;
    config.explain.candidates = a.genes.clone();
    config.explain.n_candidates = a.candidates.unwrap_or(config.explain.n_candidates);
    config.max_cells = a.cells.unwrap_or(config.max_cells);
    let job = ActivationJob {
        model: a.model.clone(),
        data: a.data.clone(),
        read: a.read.read_options(),
        config,
    };
    let report = activations(&job, &device(&a.device)?).context("rules from activations")?;
    let files = write_activation_report(&report, staged.path())
        .with_context(|| format!("writing results to {}", a.out.display()))?;
    print!("{}", super::safe(&report.markdown()));
    super::commit_and_list(staged, &files, &mut std::io::stderr())?;
    Ok(ExitCode::SUCCESS)
}
