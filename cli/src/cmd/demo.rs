//! `cellsindy demo`: every step in one run, with progress; the report directory at the end.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use cellsindy::nn::device::device;
use cellsindy::nn::TrainEvent;
use cellsindy::rules::DistillStage;
use cellsindy_cli::pipeline::demo::{run_demo, DemoConfig, DemoEvent, DemoStage};

use cellsindy_cli::args::DemoArgs;

fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// `cellsindy demo`.
pub fn run(a: &DemoArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = if a.quick {
        DemoConfig::quick(&a.out)
    } else {
        DemoConfig::full(&a.out)
    }
    .seed(a.seed);
    if let Some(s) = a.steps {
        cfg.train_steps = s;
    }
    cfg.activations = !a.no_activations;
    let n_stages = DemoStage::ALL.len();
    let spinner_style = ProgressStyle::with_template("{elapsed_precise} {spinner} {msg}")?;
    let steps_style =
        ProgressStyle::with_template("{elapsed_precise} {wide_bar} {pos}/{len} {msg}, eta {eta}")?;
    let bar = ProgressBar::new_spinner().with_style(spinner_style.clone());
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut tok_rate = 0.0f64;
    let report = run_demo(&cfg, &device(&a.device)?, &mut |e| match e {
        DemoEvent::Start(s) => {
            let k = DemoStage::ALL.iter().position(|&x| x == s).unwrap_or(0) + 1;
            bar.set_style(spinner_style.clone());
            bar.set_message(format!("[{k}/{n_stages}] {}", s.describe()));
        }
        DemoEvent::Done(s, secs, summary) => {
            let mut line = format!("✓ {} ({secs:.1} s)", s.describe());
            if s == DemoStage::Sindy {
                for eq in summary.lines() {
                    line.push_str(&format!("\n    {eq}"));
                }
            }
            say(&bar, line);
        }
        DemoEvent::Skipped(s, why) => say(&bar, format!("- {} skipped: {why}", s.describe())),
        DemoEvent::Train(TrainEvent::Step {
            record,
            total,
            tokens_per_sec,
        }) => {
            if bar.length() != Some(total as u64) {
                bar.set_style(steps_style.clone());
                bar.set_length(total as u64);
            }
            bar.set_position(record.step as u64);
            tok_rate = if tok_rate == 0.0 {
                tokens_per_sec
            } else {
                0.9 * tok_rate + 0.1 * tokens_per_sec
            };
            bar.set_message(format!(
                "steps | loss {:.3} | {tok_rate:.0} tok/s",
                record.loss
            ));
        }
        DemoEvent::Train(TrainEvent::Validation(v)) => say(
            &bar,
            format!(
                "    step {:>6}: validation loss {:.4}, masked-gene accuracy {:.3}",
                v.step, v.loss, v.accuracy
            ),
        ),
        DemoEvent::Train(_) => {}
        DemoEvent::Distill(stage, done, total) => {
            let msg = match stage {
                DistillStage::Screen => "cells (occlusion screen)",
                DistillStage::Distill => "cells (distillation)",
            };
            if bar.message() != msg {
                bar.set_style(steps_style.clone());
                bar.reset();
                bar.set_message(msg);
                bar.set_length(total as u64);
            }
            bar.set_position(done as u64);
        }
    })
    .with_context(|| format!("running the demo into {}", a.out.display()))?;
    bar.finish_and_clear();
    for n in &report.notes {
        println!("note: {n}");
    }
    let e = &report.evaluation;
    println!(
        "masked-gene accuracy {:.3} (marginal {:.3}){}",
        e.masked.model,
        e.masked.marginal,
        e.xor.as_ref().map_or(String::new(), |x| format!(
            ", XOR gate balanced accuracy {:.3}",
            x.balanced_accuracy
        ))
    );
    println!(
        "scaling: data ×{:e} ⇔ model ×{:.1}",
        report.scaling.data_c, report.scaling.model_c
    );
    println!("demo finished in {:.1} s", report.seconds);
    println!("report: {}", a.out.join("index.html").display());
    println!("        {}", a.out.join("report.md").display());
    Ok(ExitCode::SUCCESS)
}
