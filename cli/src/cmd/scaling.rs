//! `cellsindy scaling calc | fit | experiment`.

use std::process::ExitCode;

use cellsindy::io::output::Output;
use cellsindy::io::write_atomic;
use cellsindy::scaling::{archive_year, fit, read_points, FitParams, TransferLaw};

use cellsindy_cli::pipeline::scaling::{
    run_experiment, write_outputs, ExperimentConfig, ScalingPreset,
};

use cellsindy_cli::args::{
    ScalingCalcArgs, ScalingCommand, ScalingExperimentArgs, ScalingFitArgs, ScalingPresetArg,
};

/// Runs a `scaling` subcommand.
pub fn run(c: &ScalingCommand) -> anyhow::Result<ExitCode> {
    match c {
        ScalingCommand::Calc(a) => calc(a),
        ScalingCommand::Fit(a) => run_fit(a),
        ScalingCommand::Experiment(a) => experiment(a),
    }
}

fn experiment(a: &ScalingExperimentArgs) -> anyhow::Result<ExitCode> {
    let preset = match a.preset {
        ScalingPresetArg::Tiny => ScalingPreset::Tiny,
        ScalingPresetArg::Small => ScalingPreset::Small,
        ScalingPresetArg::Medium => ScalingPreset::Medium,
        ScalingPresetArg::Large => ScalingPreset::Large,
    };
    let cfg = ExperimentConfig::preset(preset, a.seed);
    let staged = Output::dir(&a.out, &[])?;
    let bar = indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
        "{elapsed_precise} {wide_bar} {pos}/{len} runs, eta {eta} {msg}",
    )?);
    let report = run_experiment(&cfg, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        bar.set_message(format!(
            "{:?} N={} D={} loss {:.4}",
            p.run.kind, p.run.n_params, p.run.d, p.run.loss
        ));
    })?;
    bar.finish_and_clear();
    write_outputs(&report, staged.path())?;
    staged.commit()?;
    println!(
        "{} runs in {:.1} s; {} measurements ({} fitted)",
        report.runs.len(),
        report.seconds,
        report.measurements.len(),
        report.measurements.iter().filter(|m| m.fitted()).count()
    );
    for m in &report.measurements {
        println!(
            "  N = {:>7}  D_f = {:>5}  loss ft {:.4}  scratch@D_f {:.4}  D_t = {:>9.1}  {:?}",
            m.n, m.d_f, m.loss_finetune, m.loss_scratch_same_d, m.d_t, m.status
        );
    }
    match &report.fit {
        Some(f) => {
            let ci = |c: Option<cellsindy::scaling::Interval>| {
                c.map_or(String::new(), |c| format!("  [{:.4}, {:.4}]", c.lo, c.hi))
            };
            println!(
                "fit (R² {:.4}, {:.0} % intervals): alpha = {:.4}{}  beta = {:.4}{}",
                f.r2,
                100.0 * f.level,
                f.law.alpha,
                ci(f.alpha_ci),
                f.law.beta,
                ci(f.beta_ci)
            );
        }
        None => println!("{}", report.fit_note),
    }
    println!("wrote {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn calc(a: &ScalingCalcArgs) -> anyhow::Result<ExitCode> {
    let law = TransferLaw {
        k: a.k,
        alpha: a.alpha,
        beta: a.beta,
    };
    println!(
        "D_t = {} · D_f^{} · N^{}   (trade exponent β/α = {:.4})",
        law.k,
        law.alpha,
        law.beta,
        law.beta / law.alpha
    );
    if let Some(d) = a.data_c {
        let m = law.model_for_data(d)?;
        println!("data_c = {d:e}  ⇔  model_c = {m:.4} (10^{:.4})", m.log10());
    }
    if let Some(m) = a.model_c {
        let d = law.data_for_model(m)?;
        println!("model_c = {m:e}  ⇔  data_c = {d:.4e} (10^{:.4})", d.log10());
    }
    if let (Some(d_f), Some(n)) = (a.d_f, a.n) {
        println!(
            "D_f = {d_f:e}, N = {n:e}  ⇒  D_t = {:.4e}",
            law.effective_data(d_f, n)?
        );
    }
    for &g in &a.growth {
        let year = archive_year(330e6, 2025.0, g, 1e9)?;
        println!(
            "archive: 330 million 10x cells in early 2025 growing {:.0} % a year pass one billion in {year:.1}",
            100.0 * g
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_fit(a: &ScalingFitArgs) -> anyhow::Result<ExitCode> {
    let staged = a
        .json
        .as_deref()
        .map(|p| Output::file(p, &[&a.file]))
        .transpose()?;
    let points = read_points(&a.file)?;
    let f = fit(
        &points,
        &FitParams {
            n_bootstrap: a.bootstrap,
            level: a.level,
            seed: a.seed,
        },
    )?;
    let ci = |c: Option<cellsindy::scaling::Interval>| {
        c.map_or(String::new(), |c| format!("  [{:.4}, {:.4}]", c.lo, c.hi))
    };
    println!(
        "fit of {} measurements (R² of ln D_t {:.4}; {} bootstrap resamples, {:.0} % intervals):",
        f.n_points,
        f.r2,
        f.n_bootstrap,
        100.0 * f.level
    );
    println!("  k     = {:.4}{}", f.law.k, ci(f.k_ci));
    println!("  alpha = {:.4}{}", f.law.alpha, ci(f.alpha_ci));
    println!("  beta  = {:.4}{}", f.law.beta, ci(f.beta_ci));
    println!(
        "  beta/alpha = {:.4}{}",
        f.law.beta / f.law.alpha,
        ci(f.ratio_ci)
    );
    if let Some(staged) = staged {
        write_atomic(staged.path(), serde_json::to_string_pretty(&f)?.as_bytes())?;
        let path = staged.commit()?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
