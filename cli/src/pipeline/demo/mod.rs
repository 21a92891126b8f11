//! `cellsindy demo`: the whole project in one command, with embedded defaults and no
//! downloads, written as one report directory.
//!
//! The steps are the individual commands' own pipelines, called with the same settings and
//! seeds, so every number in the report is the number the corresponding command prints (the
//! report lists those command lines under "Reproduce"):
//!
//! 1. Lorenz SINDy ([`super::sindy`]),
//! 2. the synthetic brain ([`super::data::synth`]),
//! 3. the gene transformer, trained with the probe genes in its vocabulary
//!    ([`super::transformer::train`]),
//! 4. its evaluation on the held-out cells ([`cellsindy::nn::evaluate::evaluate`]),
//! 5. the covariance and XOR probes against PCA and linear regression ([`super::probe`]),
//! 6. rules: distillation of the model against the synthetic truth ([`super::distill`]), the
//!    dynamics route ([`super::rules::dynamics`]) and, when asked, the activations route
//!    ([`super::activations`]),
//! 7. the transfer scaling calculator ([`cellsindy::scaling`]).
//!
//! Layout of the output directory: `index.html` (tables and the SVG figures, linked
//! relatively so the directory can be moved or zipped), `report.md`, `report.json`, and one
//! subdirectory per step with that step's own files (`sindy/`, `data/`, `model/`,
//! `evaluate/`, `probe/`, `rules/distill/`, `rules/dynamics/`, `rules/activations/`,
//! `scaling/`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use crate::args::{Cli, Command, DataCommand, RulesCommand};
use crate::pipeline::activations::{
    activations, write_activation_report, ActivationJob, ActivationRulesConfig,
};
use crate::pipeline::data::{synth, SynthConfig, SynthReport};
use crate::pipeline::distill::{distill, write_extras, DistillJob};
use crate::pipeline::probe::{probe, ProbeJob};
use crate::pipeline::rules::{dynamics, DynamicsRunConfig, RulesReport};
use crate::pipeline::sindy::SindyRunConfig;
use crate::pipeline::transformer::{train, TrainJob, TrainSummary};
use cellsindy::error::{Error, Result};
use cellsindy::expression::io::{read_expression, ReadOptions};
use cellsindy::io::output::Output;
use cellsindy::io::write_atomic;
use cellsindy::model::Accuracy;
use cellsindy::nn::evaluate::{evaluate, EvalConfig, EvalReport};
use cellsindy::nn::infer::InferenceModel;
use cellsindy::nn::{checkpoint, RunConfig, TrainEvent};
use cellsindy::probes::{probe_genes, ProbeConfig, ProbeReport};
use cellsindy::rules::{DistillConfig, DistillStage};
use cellsindy::rules::{DistillParams, Evaluation};
use cellsindy::scaling::{archive_year, TransferLaw};
use cellsindy::simulate::SimulationSummary;

mod report;
pub use report::*;
mod commands;
use commands::*;

/// The demo's settings. [`DemoConfig::full`] is the default run (about 10 minutes on two
/// cores), [`DemoConfig::quick`] a smoke run (about a minute; the model is then barely
/// trained, and the report says so).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoConfig {
    /// Report directory.
    pub out: PathBuf,
    /// Seed of every step (what each command's `--seed` gets).
    pub seed: u64,
    /// A quick run (recorded in the report, which then warns that the model is undertrained).
    pub quick: bool,
    /// Lorenz samples (`sindy --samples`).
    pub sindy_samples: usize,
    /// Synthetic cells (`data synth --cells`).
    pub n_cells: usize,
    /// Synthetic background genes (`data synth --genes`).
    pub n_background_genes: usize,
    /// Training steps (`train --steps`).
    pub train_steps: usize,
    /// Validate every this many steps during training.
    pub val_every: usize,
    /// Held-out cells scored by the evaluation (`evaluate --cells`).
    pub eval_cells: usize,
    /// Cells generated for the exclusivity test (`evaluate --generate`).
    pub eval_generate: usize,
    /// Held-out cells scored by the probes, 0 = all (`probe --cells`).
    pub probe_cells: usize,
    /// Cells of the distillation pass (`rules distill --cells`).
    pub distill_cells: usize,
    /// Cells of the occlusion screen (`rules distill --screen-cells`).
    pub distill_screen_cells: usize,
    /// Trajectories of the dynamics route (`rules dynamics --trajectories`).
    pub dynamics_trajectories: usize,
    /// Trees of the dynamics route's GENIE3 baseline (`rules dynamics --genie3-trees`).
    pub genie3_trees: usize,
    /// Run the activations route (sparse autoencoder) too.
    pub activations: bool,
    /// Cells of the activations route (`rules activations --cells`).
    pub activation_cells: usize,
    /// Sparse-autoencoder steps (`rules activations --steps`).
    pub sae_steps: usize,
}

impl DemoConfig {
    /// The default run: 30,000 cells, `train`'s default recipe and steps with the probe genes
    /// in the vocabulary, every route at its command's defaults. When training did not learn
    /// the XOR gate (it depends on the seed: docs/transformer.md), the report says so.
    pub fn full(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            seed: 0,
            quick: false,
            sindy_samples: crate::pipeline::sindy::DEFAULT_SAMPLES,
            n_cells: 30_000,
            n_background_genes: 2_000,
            train_steps: cellsindy::nn::TrainConfig::default().steps,
            val_every: 1_000,
            eval_cells: 2_000,
            eval_generate: 500,
            probe_cells: 0,
            distill_cells: DistillConfig::default().cells,
            distill_screen_cells: DistillConfig::default().screen_cells,
            dynamics_trajectories: crate::pipeline::rules::DEFAULT_TRAJECTORIES,
            genie3_trees: cellsindy::forest::ForestParams::default().n_trees,
            activations: true,
            activation_cells: ActivationRulesConfig::default().max_cells,
            sae_steps: ActivationRulesConfig::default().sae.steps,
        }
    }

    /// A smoke run of about a minute: 10,000 cells, 2,000 training steps, fewer cells per
    /// step. The model is far from trained, so its numbers are low.
    pub fn quick(out: impl Into<PathBuf>) -> Self {
        Self {
            quick: true,
            sindy_samples: 20_000,
            n_cells: 10_000,
            n_background_genes: 500,
            train_steps: 2_000,
            val_every: 500,
            eval_cells: 500,
            eval_generate: 100,
            probe_cells: 500,
            distill_cells: 300,
            distill_screen_cells: 128,
            dynamics_trajectories: 12,
            activations: true,
            activation_cells: 1_000,
            sae_steps: 500,
            ..Self::full(out)
        }
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the counts.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("sindy_samples", self.sindy_samples),
            ("n_cells", self.n_cells),
            ("train_steps", self.train_steps),
            ("val_every", self.val_every),
            ("eval_cells", self.eval_cells),
            ("distill_cells", self.distill_cells),
            ("distill_screen_cells", self.distill_screen_cells),
            ("dynamics_trajectories", self.dynamics_trajectories),
            ("genie3_trees", self.genie3_trees),
        ] {
            if v == 0 {
                return Err(Error::param(name, v, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DemoStage {
    /// Lorenz SINDy.
    Sindy,
    /// Synthetic brain.
    Data,
    /// Transformer training.
    Train,
    /// Evaluation of the model.
    Evaluate,
    /// Probes vs PCA and linear.
    Probe,
    /// Rules, route 1 (distillation).
    RulesDistill,
    /// Rules, route 3 (dynamics).
    RulesDynamics,
    /// Rules, route 2 (activations, sparse autoencoder).
    RulesActivations,
    /// Scaling calculator.
    Scaling,
}

impl DemoStage {
    /// Every stage, in the order run.
    pub const ALL: [DemoStage; 9] = [
        DemoStage::Sindy,
        DemoStage::Data,
        DemoStage::Train,
        DemoStage::Evaluate,
        DemoStage::Probe,
        DemoStage::RulesDistill,
        DemoStage::RulesDynamics,
        DemoStage::RulesActivations,
        DemoStage::Scaling,
    ];

    /// What the stage does, for progress lines.
    pub fn describe(self) -> &'static str {
        match self {
            DemoStage::Sindy => "Lorenz SINDy",
            DemoStage::Data => "synthetic brain",
            DemoStage::Train => "training the gene transformer",
            DemoStage::Evaluate => "evaluating the model",
            DemoStage::Probe => "probes: model vs baselines",
            DemoStage::RulesDistill => "rules, route 1: distillation",
            DemoStage::RulesDynamics => "rules, route 3: dynamics",
            DemoStage::RulesActivations => "rules, route 2: activations",
            DemoStage::Scaling => "scaling calculator",
        }
    }
}

/// Progress of [`run_demo`].
#[derive(Debug, Clone, Copy)]
pub enum DemoEvent<'a> {
    /// A stage starts.
    Start(DemoStage),
    /// A stage finished after this many seconds; `summary` is what its command prints first.
    Done(DemoStage, f64, &'a str),
    /// A stage was skipped (with why).
    Skipped(DemoStage, &'a str),
    /// Training progress.
    Train(TrainEvent<'a>),
    /// Distillation progress: `(stage, cells done, cells total)`.
    Distill(DistillStage, usize, usize),
}

fn stage(s: DemoStage, on_event: &mut dyn FnMut(DemoEvent<'_>)) -> (DemoStage, Instant) {
    on_event(DemoEvent::Start(s));
    (s, Instant::now())
}

fn done(
    (s, t): (DemoStage, Instant),
    summary: &str,
    timings: &mut Vec<StageTime>,
    on_event: &mut dyn FnMut(DemoEvent<'_>),
) {
    let seconds = t.elapsed().as_secs_f64();
    timings.push(StageTime { stage: s, seconds });
    on_event(DemoEvent::Done(s, seconds, summary));
}

fn rel(out: &Path, p: &Path) -> String {
    p.strip_prefix(out)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn svgs(out: &Path, files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .map(|p| rel(out, p))
        .collect()
}

/// Runs every step into `cfg.out` (created if needed; a previous demo report there is replaced
/// whole, and a directory holding anything else is refused) and writes `index.html`,
/// `report.md` and `report.json` there. `on_event` is called at the start
/// and end of each stage and with training and distillation progress.
///
/// # Errors
/// [`DemoConfig::validate`] errors and any step's errors (each step's own error, unchanged).
pub fn run_demo(
    cfg: &DemoConfig,
    device: &Device,
    on_event: &mut dyn FnMut(DemoEvent<'_>),
) -> Result<DemoReport> {
    cfg.validate()?;
    let start = Instant::now();
    // Everything is written under a staging directory and moved to `cfg.out` at the end: a
    // failed run leaves the previous report (or nothing), and a directory that is not a
    // cellsindy output is refused before any work.
    let staged = Output::dir(&cfg.out, &[])?;
    let out = staged.path();
    let mut figures = Vec::new();
    let mut commands = Vec::new();
    let mut timings = Vec::new();
    let mut notes = Vec::new();
    let seed = cfg.seed;

    // 1. Lorenz SINDy, as `cellsindy sindy --system lorenz --samples N --seed S --out sindy`.
    let st = stage(DemoStage::Sindy, on_event);
    let (sindy_cfg, line) = sindy_step(cfg.sindy_samples, seed)?;
    let sindy_report = crate::pipeline::sindy::run(&sindy_cfg)?;
    let sindy_dir = out.join("sindy");
    let files = crate::pipeline::sindy::write_report(&sindy_report, &sindy_dir)?;
    figures.extend(svgs(out, &files));
    commands.push(line);
    let model = &sindy_report.model;
    let sindy = SindySection {
        equations: model.equations_pretty(),
        r2: model
            .state_names()
            .iter()
            .cloned()
            .zip(model.info().r2.iter().copied())
            .collect(),
        accuracy: sindy_report.accuracy.clone(),
        simulation: sindy_report.simulation_summary.clone(),
        samples: cfg.sindy_samples,
        summary: sindy_report.summary(),
    };
    done(st, &sindy.equations.join("\n"), &mut timings, on_event);

    // 2. The synthetic brain, as `cellsindy data synth --cells N --genes G --seed S`.
    let st = stage(DemoStage::Data, on_event);
    let data_path = out.join("data").join("brain.h5ad");
    let truth_path = out.join("data").join("brain.truth.json");
    let (mut synth_cfg, line) = synth_step(cfg.n_cells, cfg.n_background_genes, seed)?;
    synth_cfg.out = data_path.clone();
    synth_cfg.params.validate()?;
    let data = synth(&synth_cfg, &mut |_| {})?;
    commands.push(line);
    let text = data.to_string();
    done(st, &text, &mut timings, on_event);

    // 3. Training, as `cellsindy train --steps N --seed S --include-genes <probe genes>`.
    let st = stage(DemoStage::Train, on_event);
    let model_dir = out.join("model");
    let mut run_cfg = RunConfig::default();
    run_cfg.train.steps = cfg.train_steps;
    run_cfg.train.seed = seed;
    run_cfg.train.val_every = cfg.val_every;
    run_cfg.tokenizer.include_genes.extend(probe_genes());
    let job = TrainJob {
        resume_steps: None,
        data: data_path.clone(),
        out: model_dir.clone(),
        config: run_cfg,
        read: ReadOptions::default(),
        stream: false,
        resume: false,
        stop_after: None,
    };
    let train_summary = train(&job, device, &mut |e| on_event(DemoEvent::Train(e)))?;
    let (_, line) = step_command(&[
        "train",
        "--data",
        DATA,
        "--out",
        "model",
        "--steps",
        &cfg.train_steps.to_string(),
        "--seed",
        &seed.to_string(),
        "--include-genes",
        &probe_genes().join(","),
    ])?;
    commands.push(if cfg.val_every == RunConfig::default().train.val_every {
        line
    } else {
        format!(
            "{line}   # with train.val_every = {} (--config)",
            cfg.val_every
        )
    });
    let text = train_summary.to_string();
    done(st, &text, &mut timings, on_event);

    // 4. Evaluation, as `cellsindy evaluate --cells N --generate G --seed S`.
    let st = stage(DemoStage::Evaluate, on_event);
    let ckpt = checkpoint::load(&model_dir, device)?;
    let (split_seed, val_fraction) = match &ckpt.train {
        Some((state, _)) => (state.train.seed, state.train.val_fraction),
        None => {
            return Err(Error::param(
                "model",
                model_dir.display(),
                "the demo's checkpoint has no training state",
            ))
        }
    };
    let inference = InferenceModel::from_checkpoint(ckpt)?;
    let matrix = read_expression(&data_path, &ReadOptions::default())?;
    let cells = inference.tokenizer.prepare(&matrix)?;
    drop(matrix);
    let eval_cfg = EvalConfig {
        n_cells: cfg.eval_cells,
        n_generate: cfg.eval_generate,
        seed,
        ..EvalConfig::default()
    };
    let evaluation = evaluate(&inference, &cells, split_seed, val_fraction, &eval_cfg)?;
    drop(cells);
    drop(inference);
    let eval_dir = out.join("evaluate");
    std::fs::create_dir_all(&eval_dir).map_err(|e| Error::io(&eval_dir, e))?;
    write_atomic(
        &eval_dir.join("evaluation.json"),
        serde_json::to_string_pretty(&evaluation)?.as_bytes(),
    )?;
    let text = evaluation.to_string();
    write_atomic(&eval_dir.join("evaluation.txt"), text.as_bytes())?;
    commands.push(
        step_command(&[
            "evaluate",
            "--ckpt",
            "model",
            "--data",
            DATA,
            "--cells",
            &cfg.eval_cells.to_string(),
            "--generate",
            &cfg.eval_generate.to_string(),
            "--seed",
            &seed.to_string(),
            "--json",
        ])?
        .1,
    );
    done(st, &text, &mut timings, on_event);

    // 5. Probes, as `cellsindy probe --cells N --seed S`.
    let st = stage(DemoStage::Probe, on_event);
    let probe_job = ProbeJob {
        model: model_dir.clone(),
        data: data_path.clone(),
        config: ProbeConfig {
            max_cells: cfg.probe_cells,
            seed,
            ..ProbeConfig::default()
        },
        read: ReadOptions::default(),
    };
    let probe_report = probe(&probe_job, device)?;
    let files = crate::pipeline::probe::write_report(&probe_report, &out.join("probe"))?;
    figures.extend(svgs(out, &files));
    commands.push(
        step_command(&[
            "probe",
            "--model",
            "model",
            "--data",
            DATA,
            "--cells",
            &cfg.probe_cells.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
            "probe",
        ])?
        .1,
    );
    done(st, "", &mut timings, on_event);

    // 6a. Rules by distillation, as `cellsindy rules distill --truth data/brain.truth.json`.
    let st = stage(DemoStage::RulesDistill, on_event);
    let distill_job = DistillJob {
        model: model_dir.clone(),
        data: data_path.clone(),
        truth: Some(truth_path.clone()),
        config: DistillConfig {
            cells: cfg.distill_cells,
            screen_cells: cfg.distill_screen_cells,
            seed,
            regression: DistillParams::default().seed(seed),
            ..DistillConfig::default()
        },
        read: ReadOptions::default(),
    };
    let (distill_report, distillation) = distill(&distill_job, device, &mut |s, d, t| {
        on_event(DemoEvent::Distill(s, d, t))
    })?;
    let dir = out.join("rules").join("distill");
    let mut files = crate::pipeline::rules::write_report(&distill_report, &dir)?;
    files.extend(write_extras(&distillation, &dir)?);
    figures.extend(svgs(out, &files));
    commands.push(
        step_command(&[
            "rules",
            "distill",
            "--model",
            "model",
            "--data",
            DATA,
            "--truth",
            TRUTH,
            "--cells",
            &cfg.distill_cells.to_string(),
            "--screen-cells",
            &cfg.distill_screen_cells.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
            "rules/distill",
        ])?
        .1,
    );
    let rules_distill = RulesSection::of(&distill_report);
    done(st, &distill_report.summary(), &mut timings, on_event);

    // 6b. Rules from dynamics, as `cellsindy rules dynamics --trajectories N --genie3-trees T
    // --seed S`.
    let st = stage(DemoStage::RulesDynamics, on_event);
    let (dyn_cfg, line) = dynamics_step(cfg.dynamics_trajectories, cfg.genie3_trees, seed)?;
    let (dyn_report, _) = dynamics(&dyn_cfg)?;
    let files =
        crate::pipeline::rules::write_report(&dyn_report, &out.join("rules").join("dynamics"))?;
    figures.extend(svgs(out, &files));
    commands.push(line);
    let rules_dynamics = RulesSection::of(&dyn_report);
    done(st, &dyn_report.summary(), &mut timings, on_event);

    // 6c. Rules from activations, as `cellsindy rules activations --cells N --steps K`.
    let rules_activations = if cfg.activations {
        let st = stage(DemoStage::RulesActivations, on_event);
        let mut config = ActivationRulesConfig {
            seed,
            max_cells: cfg.activation_cells,
            ..ActivationRulesConfig::default()
        };
        config.sae.steps = cfg.sae_steps;
        let job = ActivationJob {
            model: model_dir.clone(),
            data: data_path.clone(),
            read: ReadOptions::default(),
            config,
        };
        let r = activations(&job, device)?;
        write_activation_report(&r, &out.join("rules").join("activations"))?;
        commands.push(
            step_command(&[
                "rules",
                "activations",
                "--model",
                "model",
                "--data",
                DATA,
                "--cells",
                &cfg.activation_cells.to_string(),
                "--steps",
                &cfg.sae_steps.to_string(),
                "--seed",
                &seed.to_string(),
                "--out",
                "rules/activations",
            ])?
            .1,
        );
        let section = ActivationsSection {
            target: r.target.clone(),
            n_cells: r.n_cells,
            n_xor_rules: r.xor_rules().len(),
            markdown: r.markdown(),
        };
        done(st, "", &mut timings, on_event);
        Some(section)
    } else {
        on_event(DemoEvent::Skipped(DemoStage::RulesActivations, "not asked"));
        None
    };

    // 7. Scaling, as `cellsindy scaling calc --alpha 0.38 --data-c 1e6`.
    let st = stage(DemoStage::Scaling, on_event);
    let law = TransferLaw {
        k: 1.0,
        alpha: 0.38,
        beta: 1.0,
    };
    let data_c = 1e6;
    let scaling = ScalingSection {
        law,
        data_c,
        model_c: law.model_for_data(data_c)?,
        archive: [0.2, 0.3]
            .into_iter()
            .map(|g| archive_year(330e6, 2025.0, g, 1e9).map(|y| (g, y)))
            .collect::<Result<_>>()?,
    };
    let scaling_dir = out.join("scaling");
    std::fs::create_dir_all(&scaling_dir).map_err(|e| Error::io(&scaling_dir, e))?;
    write_atomic(
        &scaling_dir.join("scaling.json"),
        serde_json::to_string_pretty(&scaling)?.as_bytes(),
    )?;
    commands.push(step_command(&["scaling", "calc", "--alpha", "0.38", "--data-c", "1e6"])?.1);
    done(st, "", &mut timings, on_event);

    // The gate is the model's hardest test; say so when this run did not learn it.
    if let Some(x) = evaluation
        .xor
        .as_ref()
        .filter(|x| x.balanced_accuracy < 0.6)
    {
        if !cfg.quick {
            notes.push(format!(
                "The model has not learned the XOR gate in {} steps (balanced accuracy {:.3}), so the gate probe and the distilled rules are near chance. When the gate is learned depends on the training seed (learning curves over seeds: docs/transformer.md, `bash benches/recipe_curves.sh`); `cellsindy demo --seed K` trains with another.",
                cfg.train_steps, x.balanced_accuracy
            ));
        }
    }
    // The covariance probe: say which of the cells' correlations the joint draw missed.
    let cov = &probe_report.covariance;
    if let Some(joint) = cov
        .methods
        .iter()
        .find(|m| m.method == crate::pipeline::probe::JOINT_SAMPLE)
        .filter(|m| m.score < 1.0)
    {
        if !cfg.quick {
            let (got, want) = (joint.rho.as_array(), cov.real.rho.as_array());
            notes.push(format!(
                "The covariance probe is not passed: the model's joint draw matches {} of the 3 correlation signs of the held-out cells (|ρ| < {} counts as 0). Mean Spearman ρ, joint draw against cells: synaptic {:.3} / {:.3}, mitochondrial {:.3} / {:.3}, between {:.3} / {:.3}.",
                joint.matches.iter().filter(|&&m| m).count(),
                cov.dead_zone,
                got[0], want[0], got[1], want[1], got[2], want[2]
            ));
        }
    }
    if cfg.quick {
        notes.push(format!(
            "Quick run: {} cells and {} training steps. The model is far from trained, so its accuracy, the XOR gate, the probes and the distilled rules are low; run `cellsindy demo` without --quick for the real numbers.",
            cfg.n_cells, cfg.train_steps
        ));
    }
    let report = DemoReport {
        config: cfg.clone(),
        sindy,
        data,
        train: train_summary,
        evaluation,
        probe: probe_report,
        rules_distill,
        rules_dynamics,
        rules_activations,
        scaling,
        figures,
        commands,
        timings,
        seconds: start.elapsed().as_secs_f64(),
        notes,
    };
    write_demo_report(&report, out)?;
    staged.commit()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::html_page;

    #[test]
    fn html_renders_tables_code_and_images_and_never_raw_html() {
        let md = "# T\n\n| a | b \\| c |\n|---|---|\n| `x<y` | **2** |\n\n```\nx' = 10(y - x)\n```\n\n![f](sindy/attractor.svg)\n\n- one\n- two\n\ngene \\<script\\> and <script>alert(1)</script>\n";
        let h = html_page("t<", md);
        assert!(h.contains("<title>t&lt;</title>"));
        assert!(h.contains("<h1>T</h1>"));
        assert!(h.contains("<th>b | c</th>"), "{h}");
        assert!(h.contains("<td><code>x&lt;y</code></td>"), "{h}");
        assert!(h.contains("<strong>2</strong>"));
        assert!(h.contains("x' = 10(y - x)"));
        assert!(h.contains("<img src=\"sindy/attractor.svg\""));
        assert!(h.contains("<li>one</li>"));
        assert!(h.contains("gene &lt;script&gt;"), "{h}");
        assert!(!h.contains("<script>"), "{h}");
    }
}
