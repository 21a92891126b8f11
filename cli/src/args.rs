//! Command-line arguments (clap derive): raw flags with syntactic checks only, converted into
//! `cellsindy_cli::pipeline` configs with `TryFrom` (ripgrep's low-args / high-args split).

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::pipeline::sindy::{
    DataSource, FileSource, OptimizerKind, SindyRunConfig, SystemSource, DEFAULT_DEGREE,
    DEFAULT_SAMPLES,
};
use cellsindy::differentiate::DiffChoice;
use cellsindy::model::Criterion;
use cellsindy::systems::SystemKind;

/// Sparse, interpretable models of cells: SINDy, and a gene transformer read back as equations.
#[derive(Debug, Parser)]
#[command(
    name = "cellsindy",
    version,
    about,
    after_help = "Exit status: 0 on success; 1 on any error (the message is on stderr; an output is only ever replaced by a complete result, and a failed training run keeps its last complete checkpoint); 2 for an invalid command line."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole project in one run, no downloads: Lorenz SINDy, the synthetic brain, the
    /// gene transformer, its evaluation, probes vs PCA, rules, the scaling calculator; writes
    /// one report directory (index.html, report.md, report.json).
    Demo(DemoArgs),
    /// Identify equations with SINDy, from a simulated known system or from data files.
    Sindy(SindyArgs),
    /// Expression data: generate the synthetic brain, inspect a file.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train the gene transformer (masked diffusion) on an expression file; writes a
    /// checkpoint directory.
    Train(TrainArgs),
    /// Impute genes with a trained model: per-bin probabilities, expected and sampled bins.
    Impute(ImputeArgs),
    /// Generate cells with a trained model (iterative unmasking), optionally conditioned.
    Generate(GenerateArgs),
    /// Capture activations (residual stream, attention output, MLP hidden units) as
    /// safetensors.
    Activations(ActivationsArgs),
    /// Score a trained model on its held-out cells: masked-gene accuracy vs a per-gene
    /// marginal baseline, XOR-gate imputation, marker exclusivity of generated cells.
    Evaluate(EvaluateArgs),
    /// Read sparse regulatory rules (text, LaTeX, JSON, edge table) and score them against a
    /// known network.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// The covariance and XOR probes: a trained model vs linear and non-linear baselines on
    /// its held-out cells, with its margin over the best; writes report.json, report.md and
    /// figures.
    Probe(Box<ProbeArgs>),
    /// Transfer scaling laws `D_t = k·D_f^α·N^β`: the data/model trade, fits with bootstrap
    /// intervals, the archive projection.
    #[command(subcommand)]
    Scaling(ScalingCommand),
}

/// `cellsindy demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Report directory (each step's files in a subdirectory).
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// A smoke run of about a minute: few cells and training steps, so the model's numbers
    /// are low (the report says so).
    #[arg(long)]
    pub quick: bool,
    /// Seed of every step.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Override the training steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Skip the activations route (sparse autoencoder).
    #[arg(long)]
    pub no_activations: bool,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `cellsindy scaling`.
#[derive(Debug, Subcommand)]
pub enum ScalingCommand {
    /// The data/model trade `data_c = model_c^(β/α)` (give one factor, get the other), the
    /// effective data `D_t` (give `--d-f` and `--n`), and the archive projection.
    Calc(ScalingCalcArgs),
    /// Fit `(k, α, β)` by least squares in log space to a CSV/TSV of measurements (columns
    /// d_f, n, d_t), with bootstrap confidence intervals.
    Fit(ScalingFitArgs),
    /// Measure transfer scaling: pre-train transformers of several sizes on a shifted "lab"
    /// synthetic brain, fine-tune them on several amounts of target cells, train the same sizes
    /// from scratch, convert each fine-tuned loss into effective data transferred D_t, and fit
    /// (k, α, β). Writes measurements.csv, fit.json, report.md and scaling.svg.
    Experiment(ScalingExperimentArgs),
}

/// Preset of `cellsindy scaling experiment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScalingPresetArg {
    /// Seconds; for tests.
    Tiny,
    /// A few minutes on 2 CPU cores.
    Small,
    /// Tens of minutes on CPU.
    Medium,
    /// For a GPU-sized budget.
    Large,
}

/// `cellsindy scaling experiment`.
#[derive(Debug, Args)]
pub struct ScalingExperimentArgs {
    /// Size of the experiment.
    #[arg(long, value_enum, default_value_t = ScalingPresetArg::Small)]
    pub preset: ScalingPresetArg,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `cellsindy scaling calc`.
#[derive(Debug, Args)]
pub struct ScalingCalcArgs {
    /// Exponent of the fine-tuning data.
    #[arg(long, default_value_t = 0.38)]
    pub alpha: f64,
    /// Exponent of the model size (default: 1, i.e. β/α = 1/α).
    #[arg(long, default_value_t = 1.0)]
    pub beta: f64,
    /// Prefactor.
    #[arg(long, default_value_t = 1.0)]
    pub k: f64,
    /// A data factor: print the model factor worth the same.
    #[arg(long)]
    pub data_c: Option<f64>,
    /// A model factor: print the data factor worth the same.
    #[arg(long)]
    pub model_c: Option<f64>,
    /// Fine-tuning data (with --n: print D_t).
    #[arg(long, requires = "n")]
    pub d_f: Option<f64>,
    /// Model size (with --d-f).
    #[arg(long, requires = "d_f")]
    pub n: Option<f64>,
    /// Archive growth rates to project (fractions a year).
    #[arg(long, value_delimiter = ',', default_values_t = [0.2, 0.3])]
    pub growth: Vec<f64>,
}

/// `cellsindy scaling fit`.
#[derive(Debug, Args)]
pub struct ScalingFitArgs {
    /// CSV/TSV with a header naming d_f, n, d_t.
    pub file: PathBuf,
    /// Bootstrap resamples (0: no intervals).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Confidence level.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Seed of the resampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the fit as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// `cellsindy rules`: one subcommand per route, all writing the same files.
/// `cellsindy rules --model CKPT --data FILE --out DIR` (the form issue 6 wrote) is read as
/// `cellsindy rules distill ...` (see `main.rs`).
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Route 1: distil a trained model's predictions of masked target genes into sparse
    /// Boolean rules of candidate regulators (chosen by occlusion), beside the same rules
    /// fitted to the observed states without a model (candidates from a pair screen) and
    /// |Pearson| and |Spearman| baselines.
    Distill(RulesDistillArgs),
    /// Route 3: SINDy with Hill terms on time courses (simulated from the synthetic network,
    /// or your own with --data); edges scored by stability selection, beside |Pearson|,
    /// |Spearman|, GENIE3 and lagged-regression baselines.
    Dynamics(RulesDynamicsArgs),
    /// The network-inference harness: BEELINE topologies (BoolODE-style), Boolean models as
    /// HillCubes and the synthetic brain, cellsindy's defaults beside the baselines.
    Benchmark(RulesBenchmarkArgs),
    /// Route 2: a trained model's MLP units and residual stream at a masked target gene, and
    /// a sparse autoencoder's features on one layer, each explained by a sparse Boolean gene
    /// rule (single gene, interaction, gate).
    Activations(Box<RulesActivationsArgs>),
    /// The causal check of route 2: the MLP units `rules activations` reads as XOR gates held
    /// at their mean activation (mean patching), the gate probe run again, beside random sets
    /// of as many units of the same layers.
    Ablate(Box<RulesAblateArgs>),
}

/// `cellsindy rules ablate`.
#[derive(Debug, Args)]
pub struct RulesAblateArgs {
    /// Training checkpoint directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Expression file the model was trained on (raw counts).
    #[arg(long)]
    pub data: PathBuf,
    /// `units.json` written by `rules activations` for this checkpoint.
    #[arg(long)]
    pub units: PathBuf,
    /// Output directory (ablation.json, ablation.md).
    #[arg(long)]
    pub out: PathBuf,
    /// How many of the best selected units (by held-out R²) to patch.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Select the interaction units whose rule holds the product of these two genes (e.g. the
    /// gate's inputs `TFA,TFB`) instead of the units read as XOR/XNOR gates.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub inputs: Option<Vec<String>>,
    /// Random sets of as many units patched as the control.
    #[arg(long, default_value_t = 5)]
    pub random_sets: usize,
    /// Seed of the random sets, the contexts and the cell samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Call the markers at the cut between their modes (as `probe --marker-two-means`).
    #[arg(long)]
    pub marker_two_means: bool,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub read: ReadArgs,
}

/// `cellsindy rules benchmark`.
#[derive(Debug, Args)]
pub struct RulesBenchmarkArgs {
    /// Seeds per network.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Measurement noise (sd as a fraction of each gene's range).
    #[arg(long, default_value_t = 0.05)]
    pub noise: f64,
    /// Trajectories per network.
    #[arg(long, default_value_t = 6)]
    pub trajectories: usize,
    /// Samples per trajectory.
    #[arg(long, default_value_t = 100)]
    pub samples: usize,
    /// Only networks whose name contains this, or one family (boolode, hillcube, brain).
    #[arg(long)]
    pub only: Option<String>,
    /// Directory for table.md and scores.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl From<&RulesBenchmarkArgs> for crate::pipeline::network_bench::BenchConfig {
    fn from(a: &RulesBenchmarkArgs) -> Self {
        Self {
            seeds: a.seeds,
            noise: a.noise,
            trajectories: a.trajectories,
            samples: a.samples,
            only: a.only.clone(),
        }
    }
}

/// `cellsindy rules dynamics`.
#[derive(Debug, Args)]
pub struct RulesDynamicsArgs {
    /// Output directory (rules.txt, rules.tex, rules.json, edges.tsv, network.svg,
    /// selection.json, and with a truth evaluation.json, evaluation.md).
    #[arg(long)]
    pub out: PathBuf,
    /// Your own time courses instead of a simulation: CSV/TSV files with a header row, one
    /// trajectory each, genes as columns (time column `t` or `time`, or --time-column, or
    /// --dt), or one time-resolved .h5ad (--time-column and --trajectory-column name `obs`
    /// columns; cells sharing a time are averaged).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Time column: of the CSV/TSV files, or of the .h5ad's `obs` (required for .h5ad).
    #[arg(long, value_name = "NAME")]
    pub time_column: Option<String>,
    /// .h5ad: `obs` column of trajectory / lineage labels (default: all cells one trajectory).
    #[arg(long, value_name = "NAME")]
    pub trajectory_column: Option<String>,
    /// Time step for CSV/TSV files without a time column.
    #[arg(long)]
    pub dt: Option<f64>,
    /// CSV/TSV columns that are control inputs (external signals), not genes.
    #[arg(long, value_delimiter = ',')]
    pub controls: Vec<String>,
    /// Truth file: synthetic-brain JSON, Boolean rules (`C = A and not B`) or a coupling list
    /// (`target regulator weight`). Default: the simulated network itself (no evaluation
    /// for --data without it).
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Number of simulated trajectories (each with its own inputs).
    #[arg(long, default_value_t = crate::pipeline::rules::DEFAULT_TRAJECTORIES, conflicts_with = "data")]
    pub trajectories: usize,
    /// Seed of the simulation and of the stability selection.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Measurement noise of the simulated time courses (standard deviation as a fraction of
    /// each gene's ON level).
    #[arg(long, default_value_t = 0.0, conflicts_with = "data")]
    pub noise: f64,
    /// Differentiator: auto (chosen from the data), fd2, fd4, sg:WINDOW,POLYORDER,
    /// weak:WINDOW or spline:WIDTH.
    #[arg(long, default_value = "auto", value_parser = parse_diff)]
    pub diff: DiffChoice,
    /// Trees of the GENIE3 baseline scored beside the fit when there is a truth.
    #[arg(long, default_value_t = cellsindy::forest::ForestParams::default().n_trees, value_parser = parse_count)]
    pub genie3_trees: usize,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub matrix: MatrixArgs,
}

impl TryFrom<&RulesDynamicsArgs> for crate::pipeline::rules::DynamicsRunConfig {
    type Error = String;

    fn try_from(a: &RulesDynamicsArgs) -> Result<Self, String> {
        use crate::pipeline::rules::TimeCourseSource;
        let mut cfg = Self::new(a.trajectories, a.seed);
        cfg.truth = a.truth.clone();
        cfg.genie3_trees = a.genie3_trees;
        if let Some(tc) = cfg.timecourse_mut() {
            tc.noise = a.noise;
        }
        let is_h5ad = |p: &PathBuf| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("h5ad"))
        };
        match a.data.as_slice() {
            [] => {
                if a.time_column.is_some()
                    || a.trajectory_column.is_some()
                    || a.dt.is_some()
                    || !a.controls.is_empty()
                {
                    return Err("--time-column, --trajectory-column, --dt and --controls describe --data files".into());
                }
            }
            [one] if is_h5ad(one) => {
                let time = a.time_column.clone().ok_or(
                    "an .h5ad time course needs --time-column (the obs column of times or pseudotime)",
                )?;
                cfg.source = TimeCourseSource::H5ad {
                    path: one.clone(),
                    time,
                    trajectory: a.trajectory_column.clone(),
                    matrix: a.matrix.choice(),
                };
            }
            files if files.iter().any(is_h5ad) => {
                return Err(
                    "give one .h5ad file, or CSV/TSV files (one trajectory each), not a mix".into(),
                );
            }
            files => {
                if a.trajectory_column.is_some() {
                    return Err("--trajectory-column is for .h5ad input; CSV/TSV files are one trajectory each".into());
                }
                cfg.source = TimeCourseSource::Files(crate::pipeline::sindy::FileSource {
                    paths: files.to_vec(),
                    dt: a.dt,
                    time_column: a.time_column.clone(),
                    controls: a.controls.clone(),
                });
            }
        }
        cfg.params.differentiator = match &a.diff {
            DiffChoice::Fixed(d) => Some(d.clone()),
            DiffChoice::Auto => None,
        };
        Ok(cfg)
    }
}

/// `cellsindy rules distill` (also `cellsindy rules --model ...`).
#[derive(Debug, Args)]
pub struct RulesDistillArgs {
    /// Checkpoint directory (its held-out split is used when it has a training state).
    #[arg(long)]
    pub model: PathBuf,
    /// Expression file the model was trained on (raw counts).
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (rules.txt, rules.tex, rules.json, edges.tsv, network.svg,
    /// expression_rules.txt, attribution.tsv, evaluation.json, evaluation.md).
    #[arg(long)]
    pub out: PathBuf,
    /// Truth file: synthetic-brain JSON, Boolean rules or a coupling list. Without
    /// `--targets`, its targets that are in the vocabulary are the targets.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Target genes (comma-separated). Default: the truth's targets in the vocabulary with
    /// `--truth`, otherwise every vocabulary gene.
    #[arg(long, value_delimiter = ',')]
    pub targets: Option<Vec<String>>,
    /// Candidate regulators per target (the top of the occlusion screen).
    #[arg(long, default_value_t = 6)]
    pub candidates: usize,
    /// Cells of the distillation pass.
    #[arg(long, default_value_t = 1000)]
    pub cells: usize,
    /// Cells of the occlusion screen.
    #[arg(long, default_value_t = 256)]
    pub screen_cells: usize,
    /// Targets masked together in one context (0 = n_targets/32, between 1 and 32).
    #[arg(long, default_value_t = 0)]
    pub targets_per_pass: usize,
    /// Contexts per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Seed of cells, contexts, screen groups and the ensemble.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub read: ReadArgs,
}

impl From<&RulesDistillArgs> for crate::pipeline::distill::DistillJob {
    fn from(a: &RulesDistillArgs) -> Self {
        use cellsindy::rules::DistillConfig;
        let config = DistillConfig {
            targets: a.targets.clone(),
            candidates: a.candidates,
            cells: a.cells,
            screen_cells: a.screen_cells,
            targets_per_pass: a.targets_per_pass,
            batch_size: a.batch_size,
            seed: a.seed,
            regression: cellsindy::rules::DistillParams::default().seed(a.seed),
        };
        Self {
            model: a.model.clone(),
            data: a.data.clone(),
            truth: a.truth.clone(),
            config,
            read: a.read.read_options(),
        }
    }
}

/// Options for reading an expression file.
#[derive(Debug, Args, Clone)]
pub struct ReadArgs {
    /// Make repeated gene symbols unique (`-1`, `-2` suffixes) instead of failing.
    #[arg(long)]
    pub make_unique: bool,
    /// CSV/TSV orientation: cells are the rows (default: guess).
    #[arg(long)]
    pub cells_as_rows: bool,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub matrix: MatrixArgs,
    /// Run the model on data of another kind than it was trained on (counts vs normalised vs
    /// log-normalised), which it otherwise refuses.
    #[arg(long)]
    pub any_kind: bool,
}

impl ReadArgs {
    /// Reader options from the flags.
    pub fn read_options(&self) -> cellsindy::expression::io::ReadOptions {
        cellsindy::expression::io::ReadOptions {
            make_unique: self.make_unique,
            cells_as_rows: self.cells_as_rows.then_some(true),
            matrix: self.matrix.choice(),
            any_kind: self.any_kind,
            ..Default::default()
        }
    }
}

/// Which matrix of an `.h5ad` to read.
#[derive(Debug, Args, Clone)]
pub struct MatrixArgs {
    /// .h5ad: read `layers[NAME]` instead of X (e.g. `counts`); `data inspect` lists them.
    #[arg(long, value_name = "NAME", conflicts_with = "raw")]
    pub layer: Option<String>,
    /// .h5ad: read `.raw.X`, with the genes of `.raw.var`, instead of X.
    #[arg(long)]
    pub raw: bool,
}

impl MatrixArgs {
    /// The chosen matrix.
    pub fn choice(&self) -> cellsindy::expression::io::MatrixChoice {
        use cellsindy::expression::io::MatrixChoice;
        match (&self.layer, self.raw) {
            (Some(name), _) => MatrixChoice::Layer(name.clone()),
            (None, true) => MatrixChoice::Raw,
            (None, false) => MatrixChoice::X,
        }
    }
}

/// `cellsindy train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Expression file of raw counts (.h5ad, 10x directory, .mtx, .csv/.tsv).
    #[arg(long)]
    pub data: PathBuf,
    /// Checkpoint directory to write (replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// TOML file with [model], [tokenizer], [train] tables (see `cellsindy::nn::config`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override `train.steps` (with `--resume`: the run's new total).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Override `train.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override `tokenizer.n_top_genes` (highly variable genes in the vocabulary; 0 = all).
    #[arg(long)]
    pub top_genes: Option<usize>,
    /// Add genes (symbols or ids, comma-separated) to the vocabulary, e.g. the genes a probe
    /// will ask about; appended to `tokenizer.include_genes`.
    #[arg(long, value_delimiter = ',')]
    pub include_genes: Vec<String>,
    /// Override `tokenizer.binning`: value bins per cell (default; scGPT's within-cell ranks),
    /// per gene (monotone in each gene's normalised expression across cells: keeps gene–gene
    /// covariances, but the default budget does not learn the XOR gate) or log ratio (log2 of
    /// value / the cell's median visible value: library-size invariant, keeps the cell's scale).
    #[arg(long, value_enum)]
    pub binning: Option<BinningArg>,
    /// Stream batches from disk (.h5ad, 10x) instead of loading the data.
    #[arg(long)]
    pub stream: bool,
    /// Continue the run saved in `--out`, with its own settings (`--steps` sets a new total,
    /// which must exceed the steps it has done).
    #[arg(long, conflicts_with_all = ["config", "seed", "top_genes", "include_genes", "binning"])]
    pub resume: bool,
    /// Stop after this many steps (checkpointing; resume later with `--resume`).
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// `cpu`, `cuda` or `cuda:N` (CUDA needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub read: ReadArgs,
}

/// A trained model run on an expression file (`impute`, `activations`, `evaluate`).
#[derive(Debug, Args)]
pub struct ModelOnData {
    /// Checkpoint directory (for `evaluate`, a training checkpoint: its split is reused).
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Expression file (for `evaluate`, the one the model was trained on).
    #[arg(long)]
    pub data: PathBuf,
    /// Seed of contexts, masks and draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub read: ReadArgs,
}

/// `cellsindy impute`.
#[derive(Debug, Args)]
pub struct ImputeArgs {
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub on: ModelOnData,
    /// Genes to impute (masked).
    #[arg(long, value_delimiter = ',', required = true)]
    pub genes: Vec<String>,
    /// Show the model only these genes (default: the usual sampled context).
    #[arg(long, value_delimiter = ',')]
    pub context_genes: Option<Vec<String>>,
    /// Only the first N cells.
    #[arg(long)]
    pub cells: Option<usize>,
    /// Output TSV (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `cellsindy generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Checkpoint directory.
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Cells to generate.
    #[arg(long, default_value_t = 100)]
    pub n: usize,
    /// Condition, e.g. `cell_type=astrocyte` (repeatable).
    #[arg(long)]
    pub condition: Vec<String>,
    /// Genes to generate (default: the whole vocabulary, if it fits the context).
    #[arg(long, value_delimiter = ',')]
    pub genes: Option<Vec<String>>,
    /// Unmasking steps.
    #[arg(long, default_value_t = 16)]
    pub steps: usize,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output (.h5ad, .csv, .tsv or a 10x directory); values are bins.
    #[arg(long)]
    pub out: PathBuf,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `cellsindy activations`.
#[derive(Debug, Args)]
pub struct ActivationsArgs {
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub on: ModelOnData,
    /// Output .safetensors.
    #[arg(long)]
    pub out: PathBuf,
    /// Only the first N cells.
    #[arg(long)]
    pub cells: Option<usize>,
    /// Capture points: resid, attn, mlp.
    #[arg(long, value_delimiter = ',', default_values_t = ["resid".to_string(), "attn".to_string(), "mlp".to_string()])]
    pub points: Vec<String>,
    /// Also save per-gene-token activations (large), not only per-cell means.
    #[arg(long)]
    pub per_token: bool,
}

/// `cellsindy evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub on: ModelOnData,
    /// Held-out cells to score (at most).
    #[arg(long, default_value_t = 2000)]
    pub cells: usize,
    /// Cells to generate for the exclusivity test (0 = skip).
    #[arg(long, default_value_t = 500)]
    pub generate: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `cellsindy probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Training checkpoint directory (its held-out split is reused).
    #[arg(long)]
    pub model: PathBuf,
    /// Expression file the model was trained on (raw counts).
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory for report.json, report.md and the figures.
    #[arg(long)]
    pub out: PathBuf,
    /// JSON file with probe settings (`cellsindy::probes::ProbeConfig`: gene groups, markers,
    /// gate, rules); flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Covariance probe, group A (comma-separated; default: the synaptic genes).
    #[arg(long, value_delimiter = ',')]
    pub group_a: Option<Vec<String>>,
    /// Covariance probe, group B (comma-separated; default: the mitochondrial genes).
    #[arg(long, value_delimiter = ',')]
    pub group_b: Option<Vec<String>>,
    /// XOR probe markers, two genes (default: RBFOX3,GFAP).
    #[arg(long, value_delimiter = ',')]
    pub markers: Option<Vec<String>>,
    /// XOR-gate gene (default: TGXOR).
    #[arg(long)]
    pub gate: Option<String>,
    /// |rho| below this counts as sign 0.
    #[arg(long)]
    pub dead_zone: Option<f64>,
    /// PCA components.
    #[arg(long)]
    pub components: Option<usize>,
    /// Held-out cells to score, a seeded uniform sample (0 = all).
    #[arg(long)]
    pub cells: Option<usize>,
    /// Training cells the baselines are fitted on, a seeded uniform sample
    /// (0 = all; memory: cells × vocabulary × 8 bytes).
    #[arg(long)]
    pub baseline_cells: Option<usize>,
    /// PCA and linear baselines only: skip the kNN, random-forest, MLP, conditional-Gaussian
    /// and pairwise-logistic baselines (faster, but the margin is then over linear methods).
    #[arg(long)]
    pub linear_baselines_only: bool,
    /// Neighbours of the kNN imputer.
    #[arg(long)]
    pub knn_k: Option<usize>,
    /// Trees per masked gene of the random-forest imputer.
    #[arg(long)]
    pub forest_trees: Option<usize>,
    /// Training cells the forests are grown on, a seeded sample (0 = all).
    #[arg(long)]
    pub forest_cells: Option<usize>,
    /// Adam steps of the MLP imputer.
    #[arg(long)]
    pub mlp_steps: Option<usize>,
    /// Bootstrap resamples behind each ρ's 95 % interval (0 = no intervals).
    #[arg(long)]
    pub bootstrap_reps: Option<usize>,
    /// Call the markers HIGH at the cut between their two modes instead of at the 0.6
    /// quantile (which reads "is a neuron / an astrocyte" only at about 40 % of each).
    #[arg(long)]
    pub marker_two_means: bool,
    /// `obs` column the markers' Bayes ceiling conditions on (default `cell_type`).
    #[arg(long, value_name = "COLUMN")]
    pub marker_states: Option<String>,
    /// `obs` column the gate's Bayes ceiling conditions on (default `rule_<gate>`, written by
    /// `data synth`).
    #[arg(long, value_name = "COLUMN")]
    pub gate_states: Option<String>,
    /// Take every ρ of the covariance probe within the values of this `obs` column (e.g.
    /// `cell_type`), pooled over them, instead of over all cells: a correlation that only comes
    /// from the types' different levels then disappears.
    #[arg(long, value_name = "COLUMN")]
    pub covariance_within: Option<String>,
    /// Seed of contexts, draws, cell samples, the randomized SVD and the baselines.
    #[arg(long)]
    pub seed: Option<u64>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub read: ReadArgs,
}

/// `cellsindy data ...`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Read an expression file (.h5ad, 10x directory, .mtx[.gz], .csv, .tsv) and summarise it:
    /// shape, sparsity, library sizes, which probe genes are present.
    Inspect(InspectArgs),
    /// Generate the synthetic brain (counts with a known regulatory network) and write it with
    /// its ground truth (`<out>.truth.json`, `<out>.edges.tsv`).
    Synth(SynthArgs),
    /// Write a negative control: the file with the named genes' values (or every gene's)
    /// permuted across cells, each gene independently and seeded. A model trained on it must
    /// fail every probe that reads those genes' relations.
    Permute(PermuteArgs),
}

/// `cellsindy data permute`.
#[derive(Debug, Args)]
pub struct PermuteArgs {
    /// Expression file to read.
    #[arg(long)]
    pub data: PathBuf,
    /// File to write (`.h5ad`, `.csv`, `.tsv`, `.mtx`; replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Genes to permute (comma-separated symbols).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "all_genes",
        conflicts_with = "all_genes"
    )]
    pub genes: Option<Vec<String>>,
    /// Permute every gene independently (destroys all gene–gene structure, keeps each gene's
    /// distribution).
    #[arg(long)]
    pub all_genes: bool,
    /// Seed of the permutations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub read: ReadArgs,
}

/// `cellsindy data synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of cells.
    #[arg(long, default_value_t = 30_000)]
    pub cells: usize,
    /// Number of background genes (beside the markers, modules and network genes).
    #[arg(long, default_value_t = 2_000)]
    pub genes: usize,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Cell-type proportions: neurons,astrocytes,oligodendrocytes,microglia.
    #[arg(long, value_name = "N,A,O,M", value_delimiter = ',')]
    pub proportions: Option<Vec<f64>>,
    /// Share of cells in the `stimulated` condition.
    #[arg(long)]
    pub stimulated: Option<f64>,
    /// Share of cells in a transitional neuron–astrocyte state that co-expresses RBFOX3 and
    /// GFAP (labelled `transitional`): their XOR is then not the OR of two cell types.
    #[arg(long, value_name = "F")]
    pub transitional: Option<f64>,
    /// P(ON) of the XOR gate's inputs TFA and TFB (default 0.5; other values unbalance them).
    #[arg(long, value_name = "P")]
    pub gate_p_on: Option<f64>,
    /// Added expected count of an ON gate input (default 30; small values make the inputs
    /// noisy readouts of their states).
    #[arg(long, value_name = "COUNTS")]
    pub gate_input_amplitude: Option<f64>,
    /// Probability that TGXOR's state contradicts its rule (default 0).
    #[arg(long, value_name = "P")]
    pub gate_flip: Option<f64>,
    /// Make the XOR gate active in this cell type only (neuron, astrocyte, oligodendrocyte,
    /// microglia).
    #[arg(long, value_name = "TYPE")]
    pub gate_cell_type: Option<String>,
    /// Add a parity gate TGPARITY on N new switches TFP1..TFPN (2 to 8): ON when an odd number
    /// of them is ON, so with N >= 3 no pair of genes predicts it.
    #[arg(long, value_name = "N")]
    pub parity: Option<usize>,
    /// Add the Simpson module (SMPA1-3, SMPB1-3): the two groups correlate positively over all
    /// cells and negatively within every cell type (probe it with `--group-a`, `--group-b` and
    /// `--covariance-within cell_type`).
    #[arg(long)]
    pub simpson: bool,
    /// Also simulate the network as Hill-kinetics dynamics: this many trajectories, one CSV
    /// each in `<out>.timecourse/` (read them with `cellsindy sindy --data ... --controls`).
    #[arg(long, value_name = "N")]
    pub timecourse: Option<usize>,
    /// Output: FILE.h5ad (AnnData), FILE.csv / FILE.tsv, or a directory (10x Matrix Market).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

impl TryFrom<&SynthArgs> for crate::pipeline::data::SynthConfig {
    type Error = cellsindy::Error;

    fn try_from(a: &SynthArgs) -> Result<Self, Self::Error> {
        use cellsindy::synthetic::{BrainParams, PerType, TimeCourseParams};
        let mut params = BrainParams::default()
            .n_cells(a.cells)
            .n_background_genes(a.genes)
            .seed(a.seed);
        if let Some(p) = &a.proportions {
            let [neuron, astrocyte, oligodendrocyte, microglia] = p[..] else {
                return Err(cellsindy::Error::param(
                    "proportions",
                    format!("{} values", p.len()),
                    "four shares: neurons,astrocytes,oligodendrocytes,microglia",
                ));
            };
            params = params.proportions(PerType {
                neuron,
                astrocyte,
                oligodendrocyte,
                microglia,
            });
        }
        if let Some(f) = a.stimulated {
            params = params.stimulated_fraction(f);
        }
        if let Some(f) = a.transitional {
            params = params.transitional_fraction(f);
        }
        let d = params.gate.clone();
        let cell_type = match &a.gate_cell_type {
            None => None,
            Some(name) => Some(
                cellsindy::synthetic::CellType::ALL
                    .into_iter()
                    .find(|t| t.name() == name)
                    .ok_or_else(|| {
                        cellsindy::Error::param(
                            "gate-cell-type",
                            name,
                            "one of neuron, astrocyte, oligodendrocyte, microglia",
                        )
                    })?,
            ),
        };
        params = params.gate(cellsindy::synthetic::GateOptions {
            p_on: a.gate_p_on.unwrap_or(d.p_on),
            input_amplitude: a.gate_input_amplitude.unwrap_or(d.input_amplitude),
            flip: a.gate_flip.unwrap_or(d.flip),
            cell_type,
        });
        params = params
            .parity_inputs(a.parity.unwrap_or(0))
            .simpson(a.simpson);
        params.validate()?;
        let timecourse = a.timecourse.map(|n| TimeCourseParams {
            n_trajectories: n,
            seed: a.seed,
            ..TimeCourseParams::default()
        });
        if let Some(tp) = &timecourse {
            tp.validate()?;
        }
        Ok(crate::pipeline::data::SynthConfig {
            params,
            out: a.out.clone(),
            timecourse,
        })
    }
}

/// `cellsindy data inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The file or 10x directory.
    pub file: PathBuf,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Make repeated gene symbols unique (`-1`, `-2` suffixes) instead of failing.
    #[arg(long)]
    pub make_unique: bool,
    /// CSV/TSV orientation: cells are the columns (default: guess; genes are the longer axis).
    #[arg(long, conflicts_with = "cells_as_rows")]
    pub cells_as_columns: bool,
    /// CSV/TSV orientation: cells are the rows.
    #[arg(long)]
    pub cells_as_rows: bool,
    /// 10x: keep every feature type (antibody capture, CRISPR, peaks), not only
    /// `Gene Expression` (scanpy's `gex_only=False`).
    #[arg(long)]
    pub all_features: bool,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub matrix: MatrixArgs,
}

impl InspectArgs {
    /// Reader options from the flags.
    pub fn read_options(&self) -> cellsindy::expression::io::ReadOptions {
        cellsindy::expression::io::ReadOptions {
            make_unique: self.make_unique,
            cells_as_rows: if self.cells_as_rows {
                Some(true)
            } else if self.cells_as_columns {
                Some(false)
            } else {
                None
            },
            gex_only: !self.all_features,
            matrix: self.matrix.choice(),
            ..Default::default()
        }
    }
}

/// `cellsindy sindy`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["system", "data"])))]
pub struct SindyArgs {
    /// Simulate a known system: lorenz, rossler, van_der_pol, duffing, lotka_volterra, hopf.
    #[arg(long, value_name = "NAME")]
    pub system: Option<String>,
    /// Data files, one trajectory each: CSV/TSV with a header row (time column `t` or `time`,
    /// or --dt), or .npy (needs --dt).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Gaussian measurement noise, as a fraction of each variable's standard deviation.
    #[arg(
        long,
        default_value_t = 0.0,
        conflicts_with = "data",
        allow_negative_numbers = true
    )]
    pub noise: f64,
    /// Degree of the polynomial library.
    #[arg(long, default_value_t = DEFAULT_DEGREE)]
    pub degree: u32,
    /// Number of simulated samples.
    #[arg(long, default_value_t = DEFAULT_SAMPLES, conflicts_with = "data")]
    pub samples: usize,
    /// Time step: of the simulation (default: the system's own), or of data files without a
    /// time column (required for .npy).
    #[arg(long, allow_negative_numbers = true)]
    pub dt: Option<f64>,
    /// Seed of the measurement noise and of ensemble bagging.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Differentiator: auto, fd2, fd4, sg:WINDOW,POLYORDER, weak:WINDOW or spline:WIDTH.
    #[arg(long, default_value = "auto", value_parser = parse_diff)]
    pub diff: DiffChoice,
    /// Sparsity threshold (STLSQ: absolute, with continuation). Without it STLSQ chooses the
    /// sparsity of each equation from the data (--auto-rule); lasso and ensemble use 0.2.
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<f64>,
    /// How automatic sparsity chooses each equation's terms.
    #[arg(long, value_enum, default_value_t = AutoRuleArg::Cv, conflicts_with = "threshold")]
    pub auto_rule: AutoRuleArg,
    /// Sparse regression method.
    #[arg(long, value_enum, default_value_t = OptimizerArg::Stlsq)]
    pub optimizer: OptimizerArg,
    /// Choose the threshold by a sweep and this criterion (writes pareto.svg with --out).
    #[arg(long, value_enum)]
    pub select: Option<SelectArg>,
    /// Stream the simulation in chunks of N samples (memory independent of --samples).
    #[arg(long, value_name = "N", conflicts_with = "data")]
    pub chunk: Option<usize>,
    /// Directory for model.json, results.json and figures (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Name of the time column in data files (default: `t` or `time`).
    #[arg(long, value_name = "NAME", conflicts_with = "system")]
    pub time_column: Option<String>,
    /// Columns of the data files that are control inputs, comma-separated.
    #[arg(
        long,
        value_name = "U1,U2",
        value_delimiter = ',',
        conflicts_with = "system"
    )]
    pub controls: Vec<String>,
}

/// `--binning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BinningArg {
    /// Quantiles of each cell's non-zero values (scGPT).
    PerCell,
    /// Quantiles of each gene's non-zero values over the training cells.
    PerGene,
    /// Equal-width bins of log2(value / the cell's median visible value).
    LogRatio,
}

/// `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    /// Sequentially thresholded least squares.
    Stlsq,
    /// Sequentially thresholded lasso.
    Lasso,
    /// Bagging ensemble of STLSQ fits.
    Ensemble,
}

/// `--auto-rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AutoRuleArg {
    /// Cross-validation over blocks of samples, one-standard-error rule.
    Cv,
    /// Bayesian information criterion.
    Bic,
    /// The knee of the threshold path.
    Knee,
}

/// `--select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SelectArg {
    /// Akaike information criterion.
    Aic,
    /// Bayesian information criterion.
    Bic,
    /// Residuals on held-out sample blocks.
    Heldout,
}

/// A count of at least one.
fn parse_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a whole number >= 1, got {text:?}")),
    }
}

fn parse_diff(text: &str) -> Result<DiffChoice, String> {
    DiffChoice::parse(text).map_err(|e| e.to_string())
}

impl TryFrom<&SindyArgs> for SindyRunConfig {
    type Error = cellsindy::Error;

    fn try_from(a: &SindyArgs) -> Result<Self, Self::Error> {
        let source = match &a.system {
            Some(name) => DataSource::System(SystemSource {
                system: SystemKind::parse(name)?,
                samples: a.samples,
                dt: a.dt,
                noise: a.noise,
            }),
            None => DataSource::Files(FileSource {
                paths: a.data.clone(),
                dt: a.dt,
                time_column: a.time_column.clone(),
                controls: a.controls.clone(),
            }),
        };
        let cfg = SindyRunConfig {
            source,
            degree: a.degree,
            diff: a.diff.clone(),
            optimizer: match a.optimizer {
                OptimizerArg::Stlsq => OptimizerKind::Stlsq,
                OptimizerArg::Lasso => OptimizerKind::Lasso,
                OptimizerArg::Ensemble => OptimizerKind::Ensemble,
            },
            threshold: a.threshold,
            rule: match a.auto_rule {
                AutoRuleArg::Cv => cellsindy::optimize::AutoRule::CrossValidation,
                AutoRuleArg::Bic => cellsindy::optimize::AutoRule::Bic,
                AutoRuleArg::Knee => cellsindy::optimize::AutoRule::Knee,
            },
            select: a.select.map(|s| match s {
                SelectArg::Aic => Criterion::Aic,
                SelectArg::Bic => Criterion::Bic,
                SelectArg::Heldout => Criterion::HeldOut,
            }),
            chunk: a.chunk,
            seed: a.seed,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// `cellsindy rules activations`.
#[derive(Debug, Args)]
pub struct RulesActivationsArgs {
    /// Training checkpoint directory (its held-out cells are used first).
    #[arg(long)]
    pub model: PathBuf,
    /// Expression file the model was trained on (raw counts).
    #[arg(long)]
    pub data: PathBuf,
    /// Output directory (units.json, units.txt, features.json, features.txt, genes.json,
    /// sae.safetensors, summary.md).
    #[arg(long)]
    pub out: PathBuf,
    /// Gene masked; activations are read at its token.
    #[arg(long, default_value = "TGXOR")]
    pub target: String,
    /// Captured tensors whose units are explained, comma-separated (default: every block's
    /// `blocks.{i}.resid` and `blocks.{i}.mlp.hidden`).
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<String>>,
    /// Tensor the sparse autoencoder is trained on (default: the last block's `resid`;
    /// `none` for no dictionary). (`--layer` names the data's AnnData layer, as on every
    /// command that reads expression.)
    #[arg(long)]
    pub sae_layer: Option<String>,
    /// Dictionary size (default: four times the layer's width).
    #[arg(long)]
    pub features: Option<usize>,
    /// L1 weight of the dictionary's codes.
    #[arg(long)]
    pub l1: Option<f64>,
    /// Dictionary training steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Explain dictionary features by their values, not by whether they fire.
    #[arg(long)]
    pub feature_values: bool,
    /// Fixed candidate genes for every rule, comma-separated (default: a pair screen picks
    /// each unit's genes).
    #[arg(long, value_delimiter = ',')]
    pub genes: Option<Vec<String>>,
    /// Genes per rule chosen by the screen.
    #[arg(long)]
    pub candidates: Option<usize>,
    /// Cells used.
    #[arg(long)]
    pub cells: Option<usize>,
    /// Seed of the contexts, the dictionary and the ensembles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    #[allow(missing_docs)] // flattened: its fields carry the help
    pub read: ReadArgs,
}
