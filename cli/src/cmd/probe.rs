//! `cellsindy probe`: the covariance and XOR probes, the model vs linear and non-linear baselines.

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use indicatif::ProgressBar;

use cellsindy::io::output::Output;
use cellsindy::nn::device::device;
use cellsindy::probes::ProbeConfig;
use cellsindy_cli::pipeline::probe::{probe, write_report, ProbeJob};

use cellsindy_cli::args::ProbeArgs;

/// `cellsindy probe`.
pub fn run(a: &ProbeArgs) -> anyhow::Result<ExitCode> {
    let staged = Output::dir(&a.out, &[&a.model, &a.data])?;
    let mut config: ProbeConfig = match &a.config {
        Some(p) => serde_json::from_str(
            &cellsindy::io::input::read_text(p)
                .with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("parsing {}", p.display()))?,
        None => ProbeConfig::default(),
    };
    // Groups given here are named by their genes, unless the config file names them.
    let default_names = ProbeConfig::default();
    if let Some(g) = &a.group_a {
        config.group_a = g.clone();
        if config.group_a_name == default_names.group_a_name {
            config.group_a_name = format!("A ({})", g.join(", "));
        }
    }
    if let Some(g) = &a.group_b {
        config.group_b = g.clone();
        if config.group_b_name == default_names.group_b_name {
            config.group_b_name = format!("B ({})", g.join(", "));
        }
    }
    match a.markers.as_deref() {
        None => {}
        Some([m1, m2]) => config.markers = [m1.clone(), m2.clone()],
        Some(other) => bail!("--markers takes two genes, got {}", other.len()),
    }
    if let Some(g) = &a.gate {
        config.gate = g.clone();
    }
    config.dead_zone = a.dead_zone.unwrap_or(config.dead_zone);
    config.n_components = a.components.unwrap_or(config.n_components);
    config.max_cells = a.cells.unwrap_or(config.max_cells);
    config.baseline_cells = a.baseline_cells.unwrap_or(config.baseline_cells);
    if a.linear_baselines_only {
        config.nonlinear_baselines = false;
    }
    config.knn_k = a.knn_k.unwrap_or(config.knn_k);
    config.forest_trees = a.forest_trees.unwrap_or(config.forest_trees);
    config.forest_cells = a.forest_cells.unwrap_or(config.forest_cells);
    config.mlp_steps = a.mlp_steps.unwrap_or(config.mlp_steps);
    config.bootstrap_reps = a.bootstrap_reps.unwrap_or(config.bootstrap_reps);
    if a.marker_two_means {
        config.marker_rule = cellsindy::probes::Binarize::TwoMeans;
    }
    if let Some(c) = &a.marker_states {
        config.marker_states = c.clone();
    }
    if a.gate_states.is_some() {
        config.gate_states = a.gate_states.clone();
    }
    if a.covariance_within.is_some() {
        config.covariance_within = a.covariance_within.clone();
    }
    config.seed = a.seed.unwrap_or(config.seed);
    let job = ProbeJob {
        model: a.model.clone(),
        data: a.data.clone(),
        config,
        read: a.read.read_options(),
    };
    let bar = ProgressBar::new_spinner().with_message("probing");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let report = probe(&job, &device(&a.device)?)?;
    bar.finish_and_clear();
    let files = write_report(&report, staged.path())?;
    print!("{}", super::safe(&report.markdown()));
    super::commit_and_list(staged, &files, &mut std::io::stderr())?;
    Ok(ExitCode::SUCCESS)
}
