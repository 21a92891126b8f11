//! SINDy end to end: get trajectories (simulate a known system, or read files), fit, compare
//! with the truth, simulate the identified model, and write results and figures.
//!
//! Used by `cellsindy sindy` and the examples. Nothing here is an algorithm: every step calls
//! the library ([`cellsindy::systems`], [`cellsindy::io`], [`cellsindy::model`], [`cellsindy::plot`]).
//!
//! # Example
//! ```no_run
//! use cellsindy_cli::pipeline::sindy::{run, write_report, SindyRunConfig};
//! use cellsindy::systems::SystemKind;
//! let report = run(&SindyRunConfig::system(SystemKind::Lorenz))?;
//! print!("{}", report.summary());
//! write_report(&report, std::path::Path::new("lorenz-run"))?;
//! # Ok::<(), cellsindy::Error>(())
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{s, Array2};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use cellsindy::data::{TimeGrid, Trajectory};
use cellsindy::differentiate::{DiffChoice, DiffConfig};
use cellsindy::error::{Error, Result};
use cellsindy::io::{read_trajectory, write_atomic, TableOptions};
use cellsindy::library::LibraryConfig;
use cellsindy::model::{
    compare_with_truth, Accuracy, Criterion, SelectionReport, Sindy, SindyParams,
};
use cellsindy::optimize::{
    AutoParams, AutoRule, EnsembleParams, LassoParams, OptimizerConfig, StlsqParams,
};
use cellsindy::simulate::{
    add_measurement_noise, measurement_noise_sigmas, summarize_simulation, SimulationSummary,
    SolverConfig,
};
use cellsindy::systems::{simulate_system, OdeSystem, SystemKind};

/// Default polynomial degree of the library.
pub const DEFAULT_DEGREE: u32 = 3;
/// Default number of simulated samples.
pub const DEFAULT_SAMPLES: usize = 100_000;
/// Sparsity threshold of the lasso and ensemble optimizers, and the start of a `--select`
/// sweep, when none is given (STLSQ chooses its sparsity per equation instead).
pub const DEFAULT_THRESHOLD: f64 = 0.2;
/// STLSQ threshold continuation steps used by the pipeline.
pub const STLSQ_CONTINUATION: usize = 10;
/// Samples of the first trajectory compared with the identified model (and plotted).
pub const COMPARE_SAMPLES: usize = 10_000;
/// Step limit when simulating the identified model (a blown-up or stiff model fails fast
/// instead of grinding through the solver's default of 10^8 steps).
pub const SIMULATION_MAX_STEPS: u32 = 2_000_000;

/// A known system to simulate (with the reference solver) and add noise to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemSource {
    /// Which system.
    pub system: SystemKind,
    /// Number of samples.
    pub samples: usize,
    /// Sampling step; `None` uses the system's default.
    pub dt: Option<f64>,
    /// Gaussian noise, as a fraction of each variable's standard deviation.
    pub noise: f64,
}

/// Trajectories read from files, one per file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSource {
    /// CSV / TSV / `.npy` files (see [`read_trajectory`]).
    pub paths: Vec<PathBuf>,
    /// Time step for files without a time column (required for `.npy`).
    pub dt: Option<f64>,
    /// Name of the time column (default `t` or `time`).
    pub time_column: Option<String>,
    /// Columns read as control inputs.
    pub controls: Vec<String>,
}

/// Where the trajectories come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataSource {
    /// Simulate a known system.
    System(SystemSource),
    /// Read files.
    Files(FileSource),
}

/// The sparse regression method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Without a threshold, sparsity chosen per equation from the data
    /// ([`cellsindy::optimize::AutoStlsq`]); with one, STLSQ at that threshold with threshold
    /// continuation ([`STLSQ_CONTINUATION`]), otherwise PySINDy defaults.
    Stlsq,
    /// Sequentially thresholded lasso with default settings.
    Lasso,
    /// Bagging ensemble (default settings, the run's seed) around the STLSQ above.
    Ensemble,
}

impl OptimizerKind {
    /// The optimizer configuration: automatic sparsity by `rule` for STLSQ without a
    /// threshold, else the method at `threshold` (default [`DEFAULT_THRESHOLD`]); `seed` is the
    /// ensemble's.
    pub fn config(self, threshold: Option<f64>, rule: AutoRule, seed: u64) -> OptimizerConfig {
        let Some(threshold) = threshold.or(match self {
            OptimizerKind::Stlsq => None,
            _ => Some(DEFAULT_THRESHOLD),
        }) else {
            return OptimizerConfig::Auto(AutoParams::default().rule(rule));
        };
        let stlsq = StlsqParams::default()
            .threshold(threshold)
            .continuation(STLSQ_CONTINUATION);
        match self {
            OptimizerKind::Stlsq => OptimizerConfig::Stlsq(stlsq),
            OptimizerKind::Lasso => {
                OptimizerConfig::Lasso(LassoParams::default().threshold(threshold))
            }
            OptimizerKind::Ensemble => OptimizerConfig::Ensemble(
                EnsembleParams::default()
                    .inner(OptimizerConfig::Stlsq(stlsq))
                    .seed(seed),
            ),
        }
    }
}

/// Everything a SINDy run needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SindyRunConfig {
    /// Where the data come from.
    pub source: DataSource,
    /// Polynomial library degree.
    pub degree: u32,
    /// Differentiator.
    pub diff: DiffChoice,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// Sparsity threshold; `None` chooses the sparsity per equation from the data (STLSQ) or
    /// uses [`DEFAULT_THRESHOLD`] (lasso, ensemble, the start of a `select` sweep).
    pub threshold: Option<f64>,
    /// How automatic sparsity chooses (STLSQ without a threshold).
    pub rule: AutoRule,
    /// Choose the threshold by sweeping it and applying this criterion.
    pub select: Option<Criterion>,
    /// Stream a simulated system in chunks of this many samples (bounded memory).
    pub chunk: Option<usize>,
    /// Seed of the measurement noise and of ensemble bagging.
    pub seed: u64,
}

impl SindyRunConfig {
    /// Defaults for a simulated system: [`DEFAULT_SAMPLES`] samples at the system's step, no
    /// noise, degree [`DEFAULT_DEGREE`], automatic differentiator, automatic sparsity, seed 0.
    pub fn system(system: SystemKind) -> Self {
        Self::with_source(DataSource::System(SystemSource {
            system,
            samples: DEFAULT_SAMPLES,
            dt: None,
            noise: 0.0,
        }))
    }

    /// Defaults for data files (same fit settings as [`SindyRunConfig::system`]).
    pub fn files(paths: Vec<PathBuf>) -> Self {
        Self::with_source(DataSource::Files(FileSource {
            paths,
            dt: None,
            time_column: None,
            controls: Vec::new(),
        }))
    }

    fn with_source(source: DataSource) -> Self {
        Self {
            source,
            degree: DEFAULT_DEGREE,
            diff: DiffChoice::Auto,
            optimizer: OptimizerKind::Stlsq,
            threshold: None,
            rule: AutoRule::default(),
            select: None,
            chunk: None,
            seed: 0,
        }
    }

    /// Checks the settings that are not checked by the library calls themselves.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a negative noise level, zero samples or chunk, or no files;
    /// [`Error::Unsupported`] for `chunk` with files or with `select`.
    pub fn validate(&self) -> Result<()> {
        if let DataSource::System(s) = &self.source {
            if !(s.noise.is_finite() && s.noise >= 0.0) {
                return Err(Error::param("noise", s.noise, "must be finite and >= 0"));
            }
            if s.samples == 0 {
                return Err(Error::param("samples", 0, "must be >= 1"));
            }
            // What a run keeps per sample (in chunks when streamed): the simulation and its
            // times, the noisy copy, the derivative and the differentiator's work arrays.
            let dim = s.system.build().dim();
            let held = self.chunk.map_or(s.samples, |c| c.min(s.samples));
            cellsindy::memory::ensure_fits(
                || format!("{held} samples of the {dim}-variable system (--samples, --chunk)"),
                cellsindy::memory::array_bytes(&[held, dim + 1, 6], 8),
            )?;
        }
        if let DataSource::Files(f) = &self.source {
            if f.paths.is_empty() {
                return Err(Error::param("data", "(none)", "give at least one file"));
            }
        }
        if let Some(c) = self.chunk {
            if c == 0 {
                return Err(Error::param("chunk", 0, "must be >= 1"));
            }
            if matches!(self.source, DataSource::Files(_)) {
                return Err(Error::Unsupported(
                    "--chunk streams a simulated system (--system); files are read whole".into(),
                ));
            }
            if self.select.is_some() {
                return Err(Error::Unsupported(
                    "threshold selection (--select) needs the data in memory; drop --chunk".into(),
                ));
            }
        }
        Ok(())
    }
}

/// The data a run was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataSummary {
    /// Number of trajectories.
    pub n_trajectories: usize,
    /// Samples per trajectory.
    pub samples: Vec<usize>,
    /// Whether every trajectory has a uniform grid.
    pub uniform: bool,
    /// The common time step, when every grid is uniform with the same step.
    pub dt: Option<f64>,
    /// State variable names.
    pub state_names: Vec<String>,
    /// Control input names.
    pub control_names: Vec<String>,
    /// Initial condition of the (first) trajectory.
    pub x0: Vec<f64>,
}

/// Wall-clock seconds per stage.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Timings {
    /// Simulating or reading the data (streamed runs: simulation and fitting interleaved).
    pub data_s: f64,
    /// Fitting (and the threshold sweep).
    pub fit_s: f64,
    /// Simulating the identified model.
    pub simulate_s: f64,
    /// The whole run.
    pub total_s: f64,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct SindyReport {
    /// The run's settings.
    pub config: SindyRunConfig,
    /// The differentiator used (resolved from [`DiffChoice::Auto`]).
    pub diff: DiffConfig,
    /// The optimizer configuration used (at the chosen threshold when selecting).
    pub optimizer: OptimizerConfig,
    /// The identified model.
    pub model: Sindy,
    /// The data fitted.
    pub data: DataSummary,
    /// Comparison with the true system (simulated systems only).
    pub accuracy: Option<Accuracy>,
    /// The threshold sweep, when selecting.
    pub selection: Option<SelectionReport>,
    /// Reference samples the model was simulated against: the noise-free simulation for a
    /// system, the data otherwise (first [`COMPARE_SAMPLES`] samples of the first trajectory).
    pub reference: Trajectory,
    /// The identified model simulated on the reference's grid from its first state, or why it
    /// failed.
    pub simulation: std::result::Result<Trajectory, String>,
    /// Summary of that simulation.
    pub simulation_summary: SimulationSummary,
    /// Stage timings.
    pub timings: Timings,
    /// Peak resident memory of the process (kB), where `/proc/self/status` tells.
    pub peak_rss_kb: Option<u64>,
    /// Remarks worth keeping with the results.
    pub notes: Vec<String>,
}

/// Runs a SINDy fit without progress reports. See [`run_with_progress`].
///
/// # Errors
/// As [`run_with_progress`].
pub fn run(cfg: &SindyRunConfig) -> Result<SindyReport> {
    run_with_progress(cfg, &mut |_, _| {})
}

/// Gets the data, fits, compares with the truth (for systems) and simulates the identified
/// model. Streamed runs (`chunk`) call `progress(samples_done, samples_total)` after every
/// chunk.
///
/// A failed simulation of the identified model (blow-up) is not an error: it is recorded in
/// [`SindyReport::simulation`].
///
/// # Errors
/// [`SindyRunConfig::validate`] errors; simulation, file reading ([`Error::Parse`],
/// [`Error::Io`]), fitting and model-selection errors; [`Error::InvalidParam`] when data files
/// disagree on variable or control names.
pub fn run_with_progress(
    cfg: &SindyRunConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SindyReport> {
    cfg.validate()?;
    let start = Instant::now();
    let mut notes = Vec::new();
    let mut timings = Timings::default();
    let library = LibraryConfig::polynomial(cfg.degree);

    let (model, diff, selection, reference, data, system) = match (&cfg.source, cfg.chunk) {
        (DataSource::System(src), Some(chunk)) => {
            let sys = src.system.build();
            // The automatic differentiator reads the time scale of a noise-free pilot chunk.
            let pilot = match cfg.diff {
                DiffChoice::Auto => vec![simulate_system(
                    &sys,
                    &sys.default_x0(),
                    &TimeGrid::uniform(
                        0.0,
                        src.dt.unwrap_or_else(|| sys.default_dt()),
                        chunk.min(src.samples),
                    )?,
                    &SolverConfig::reference(),
                )?],
                DiffChoice::Fixed(_) => Vec::new(),
            };
            let diff = cfg.diff.resolve(&pilot);
            let optimizer = cfg.optimizer.config(cfg.threshold, cfg.rule, cfg.seed);
            let params = SindyParams::from_configs(&library, &optimizer, &diff, false)?;
            let streamed = fit_streamed(&params, &sys, src, chunk, cfg.seed, progress)?;
            let (model, reference, x0) = (streamed.model, streamed.reference, streamed.x0);
            timings.data_s = streamed.simulate_s;
            timings.fit_s = streamed.fit_s;
            if src.noise > 0.0 {
                notes.push(
                    "noise standard deviations were taken from the first chunk's variables".into(),
                );
            }
            let data = DataSummary {
                n_trajectories: 1,
                samples: vec![src.samples],
                uniform: true,
                dt: reference.t().uniform_dt(),
                state_names: sys.names(),
                control_names: Vec::new(),
                x0,
            };
            (model, diff, None, reference, data, Some(sys))
        }
        (source, _) => {
            let (trajs, reference, system) = match source {
                DataSource::System(src) => {
                    let sys = src.system.build();
                    let (noisy, clean_head) = simulate_noisy(&sys, src, cfg.seed)?;
                    (vec![noisy], clean_head, Some(sys))
                }
                DataSource::Files(src) => {
                    let trajs = read_files(src)?;
                    let head = match trajs.first() {
                        Some(t) => t.slice(0, COMPARE_SAMPLES),
                        None => {
                            return Err(Error::param("data", "(none)", "give at least one file"))
                        }
                    };
                    (trajs, head, None)
                }
            };
            timings.data_s = start.elapsed().as_secs_f64();
            let fit_start = Instant::now();
            let diff = cfg.diff.resolve(&trajs);
            let optimizer = match cfg.select {
                // A sweep needs a thresholded optimizer to start from.
                Some(_) => cfg.optimizer.config(
                    Some(cfg.threshold.unwrap_or(DEFAULT_THRESHOLD)),
                    cfg.rule,
                    cfg.seed,
                ),
                None => cfg.optimizer.config(cfg.threshold, cfg.rule, cfg.seed),
            };
            let params = SindyParams::from_configs(&library, &optimizer, &diff, false)?;
            let (model, selection) = match cfg.select {
                Some(criterion) => {
                    let (m, r) = params.select_threshold(&trajs, None, criterion)?;
                    (m, Some(r))
                }
                None => (params.fit(&trajs)?, None),
            };
            timings.fit_s = fit_start.elapsed().as_secs_f64();
            let data = summarize(&trajs);
            (model, diff, selection, reference, data, system)
        }
    };
    let dropped = &model.info().dropped;
    if !dropped.is_empty() {
        let list: Vec<String> = dropped
            .iter()
            .map(|d| match &d.duplicate_of {
                Some(of) => format!("`{}` (a multiple of `{of}`)", d.feature),
                None => format!("`{}` (zero)", d.feature),
            })
            .collect();
        notes.push(format!(
            "{} library feature(s) left out of the fit, zero or a multiple of an earlier feature on every sample (a constant or duplicate variable?): {}",
            dropped.len(),
            list.join(", ")
        ));
    }
    let accuracy = match &system {
        Some(sys) => match compare_with_truth(&model, sys) {
            Ok(a) => Some(a),
            Err(e) => {
                notes.push(format!("no comparison with the true system: {e}"));
                None
            }
        },
        None => None,
    };

    let sim_start = Instant::now();
    let solver = SolverConfig {
        max_steps: SIMULATION_MAX_STEPS,
        ..SolverConfig::default()
    };
    let x0 = reference.x().row(0).to_vec();
    let simulation = model
        .simulate(&x0, reference.t(), reference.u(), &solver)
        .map_err(|e| e.to_string());
    timings.simulate_s = sim_start.elapsed().as_secs_f64();
    let simulation_summary = summarize_simulation(&reference, &simulation);
    timings.total_s = start.elapsed().as_secs_f64();

    Ok(SindyReport {
        config: cfg.clone(),
        diff,
        optimizer: model.optimizer_config().cloned().ok_or_else(|| {
            Error::Unsupported("the run's optimizer has no configuration to report".into())
        })?,
        model,
        data,
        accuracy,
        selection,
        reference,
        simulation,
        simulation_summary,
        timings,
        peak_rss_kb: cellsindy::memory::peak_rss_kb(),
        notes,
    })
}

fn summarize(trajs: &[Trajectory]) -> DataSummary {
    let dts: Vec<Option<f64>> = trajs.iter().map(|t| t.t().uniform_dt()).collect();
    let uniform = dts.iter().all(Option::is_some);
    let dt = match dts.first() {
        Some(Some(d0))
            if dts
                .iter()
                .all(|d| d.is_some_and(|d| (d - d0).abs() <= 1e-12 * d0)) =>
        {
            Some(*d0)
        }
        _ => None,
    };
    let first = trajs.first();
    DataSummary {
        n_trajectories: trajs.len(),
        samples: trajs.iter().map(Trajectory::n_samples).collect(),
        uniform,
        dt,
        state_names: first.map(|t| t.names().to_vec()).unwrap_or_default(),
        control_names: first
            .map(|t| t.control_names().to_vec())
            .unwrap_or_default(),
        x0: first.map(|t| t.x().row(0).to_vec()).unwrap_or_default(),
    }
}

/// The simulated system with noise, and the noise-free head used as the reference.
fn simulate_noisy(
    sys: &dyn OdeSystem,
    src: &SystemSource,
    seed: u64,
) -> Result<(Trajectory, Trajectory)> {
    let dt = src.dt.unwrap_or_else(|| sys.default_dt());
    let grid = TimeGrid::uniform(0.0, dt, src.samples)?;
    let clean = simulate_system(sys, &sys.default_x0(), &grid, &SolverConfig::reference())?;
    let head = clean.slice(0, COMPARE_SAMPLES);
    if src.noise == 0.0 {
        return Ok((clean, head));
    }
    let (mut x, t, names) = clean.into_parts();
    let sigma = measurement_noise_sigmas(&x, src.noise);
    add_measurement_noise(&mut x, &sigma, &mut StdRng::seed_from_u64(seed))?;
    Ok((Trajectory::with_names(x, t, names)?, head))
}

/// What a streamed fit returns.
struct Streamed {
    model: Sindy,
    /// Noise-free head of the first chunk.
    reference: Trajectory,
    x0: Vec<f64>,
    /// Seconds spent simulating (and adding noise).
    simulate_s: f64,
    /// Seconds spent in the stream (differentiation, normal equations, final fit).
    fit_s: f64,
}

/// Simulates `src` chunk by chunk and streams it into a fit, keeping one chunk in memory.
fn fit_streamed(
    params: &SindyParams,
    sys: &dyn OdeSystem,
    src: &SystemSource,
    chunk: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Streamed> {
    let dt = src.dt.unwrap_or_else(|| sys.default_dt());
    let names = sys.names();
    let x0 = sys.default_x0();
    let solver = SolverConfig::reference();
    let mut stream = params.stream(names.clone(), Vec::new(), chunk)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sigma: Option<Vec<f64>> = None;
    let mut reference: Option<Trajectory> = None;
    let mut state = x0.clone();
    let mut done = 0usize;
    let (mut simulate_s, mut fit_s) = (0.0, 0.0);
    progress(0, src.samples);
    while done < src.samples {
        let tic = Instant::now();
        let k = chunk.min(src.samples - done);
        let mut x = if done == 0 {
            let tr = simulate_system(sys, &state, &TimeGrid::uniform(0.0, dt, k)?, &solver)?;
            tr.into_parts().0
        } else {
            // Continue from the last state; its sample is already in the stream.
            let grid = TimeGrid::uniform((done - 1) as f64 * dt, dt, k + 1)?;
            let tr = simulate_system(sys, &state, &grid, &solver)?;
            tr.x().slice(s![1.., ..]).to_owned()
        };
        state = x.row(k - 1).to_vec();
        if reference.is_none() {
            let m = k.min(COMPARE_SAMPLES);
            reference = Some(Trajectory::with_names(
                x.slice(s![..m, ..]).to_owned(),
                TimeGrid::uniform(0.0, dt, m)?,
                names.clone(),
            )?);
        }
        let sigma = sigma.get_or_insert_with(|| measurement_noise_sigmas(&x, src.noise));
        add_measurement_noise(&mut x, sigma, &mut rng)?;
        let piece = Trajectory::with_names(
            x,
            TimeGrid::uniform(done as f64 * dt, dt, k)?,
            names.clone(),
        )?;
        simulate_s += tic.elapsed().as_secs_f64();
        let tic = Instant::now();
        stream.push(&piece)?;
        fit_s += tic.elapsed().as_secs_f64();
        done += k;
        progress(done, src.samples);
    }
    let tic = Instant::now();
    stream.end_trajectory()?;
    let model = stream.finish()?;
    fit_s += tic.elapsed().as_secs_f64();
    let reference = reference.ok_or_else(|| Error::Empty {
        what: "simulation",
        why: "no samples were generated".into(),
    })?;
    Ok(Streamed {
        model,
        reference,
        x0,
        simulate_s,
        fit_s,
    })
}

/// Reads one trajectory per file and checks that they agree on names.
///
/// # Errors
/// As [`read_trajectory`]; [`Error::InvalidParam`] when a file's variables or controls differ
/// from the first file's.
pub fn read_files(src: &FileSource) -> Result<Vec<Trajectory>> {
    let opts = TableOptions {
        dt: src.dt,
        time_column: src.time_column.clone(),
        control_columns: src.controls.clone(),
        ..TableOptions::default()
    };
    let mut out: Vec<Trajectory> = Vec::with_capacity(src.paths.len());
    for path in &src.paths {
        let tr = read_trajectory(path, &opts)?;
        if let (Some(first), Some(first_path)) = (out.first(), src.paths.first()) {
            if tr.names() != first.names() || tr.control_names() != first.control_names() {
                return Err(Error::param(
                    "data",
                    path.display(),
                    format!(
                        "its variables {:?} (controls {:?}) differ from {:?} (controls {:?}) in {}",
                        tr.names(),
                        tr.control_names(),
                        first.names(),
                        first.control_names(),
                        first_path.display()
                    ),
                ));
            }
        }
        out.push(tr);
    }
    Ok(out)
}

/// At most 8 items joined by `; `, then how many more.
fn list(items: &[String]) -> String {
    let head = items.iter().take(8).cloned().collect::<Vec<_>>().join("; ");
    match items.len() {
        n if n > 8 => format!("{head}; ... {} more", n - 8),
        _ => head,
    }
}

fn describe_criterion(c: Criterion) -> &'static str {
    match c {
        Criterion::Aic => "AIC",
        Criterion::Bic => "BIC",
        Criterion::HeldOut => "held-out RSS",
    }
}

fn describe_rule(r: AutoRule) -> &'static str {
    match r {
        AutoRule::CrossValidation => "cross-validation (one-standard-error rule)",
        AutoRule::Bic => "BIC",
        AutoRule::Knee => "the knee of the path",
    }
}

fn describe_diff(d: &DiffConfig) -> String {
    match d {
        DiffConfig::FiniteDifference { order } => format!("finite differences (order {order})"),
        DiffConfig::SavitzkyGolay {
            window, polyorder, ..
        } => {
            format!("Savitzky-Golay (window {window}, polyorder {polyorder})")
        }
        DiffConfig::Weak { window, order } => format!("weak form (window {window}, order {order})"),
        DiffConfig::WeakSpline { width, boxes } => format!(
            "weak form (B-spline of {boxes} boxes of {width} samples, {} samples wide)",
            boxes * (width - 1) + 1
        ),
    }
}

fn describe_optimizer(o: &OptimizerConfig) -> String {
    match o {
        OptimizerConfig::Stlsq(p) => format!(
            "STLSQ (threshold {})",
            cellsindy::stats::format_significant(p.threshold, 4)
        ),
        OptimizerConfig::Lasso(p) => format!(
            "lasso (alpha {}, threshold {})",
            cellsindy::stats::format_significant(p.alpha, 4),
            cellsindy::stats::format_significant(p.threshold, 4)
        ),
        OptimizerConfig::Ensemble(p) => format!(
            "ensemble of {} around {}",
            p.n_models,
            describe_optimizer(&p.inner)
        ),
        OptimizerConfig::Auto(p) => format!(
            "STLSQ with sparsity chosen per equation by {}",
            describe_rule(p.rule)
        ),
    }
}

impl SindyReport {
    /// Human-readable summary: data, settings, the equations (one per line, as
    /// [`Sindy::equations_pretty`]), R², accuracy against the truth, simulation, timings
    /// (peak memory is left to the caller, who knows when the work ends: [`cellsindy::memory::peak_rss_kb`]).
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let n_total: usize = self.data.samples.iter().sum();
        let dt = self
            .data
            .dt
            .map_or("non-uniform".to_string(), |d| format!("dt {d}"));
        match &self.config.source {
            DataSource::System(src) => {
                let _ = writeln!(
                    s,
                    "data: {:?} simulated, {n_total} samples, {dt}, noise {} (seed {}){}",
                    src.system,
                    src.noise,
                    self.config.seed,
                    self.config
                        .chunk
                        .map_or(String::new(), |c| format!(", streamed in chunks of {c}")),
                );
            }
            DataSource::Files(src) => {
                let _ = writeln!(
                    s,
                    "data: {} file(s), {n_total} samples, {dt}, variables {}{}",
                    src.paths.len(),
                    self.data.state_names.join(","),
                    if self.data.control_names.is_empty() {
                        String::new()
                    } else {
                        format!(", controls {}", self.data.control_names.join(","))
                    }
                );
            }
        }
        let _ = writeln!(
            s,
            "fit: polynomial degree {} ({} features), {}, {}",
            self.config.degree,
            self.model.feature_names().len(),
            describe_diff(&self.diff),
            describe_optimizer(&self.optimizer),
        );
        if let Some(sel) = &self.selection {
            if let Some(p) = sel.chosen_point() {
                let _ = writeln!(
                    s,
                    "selection: {} over {} thresholds chose threshold {} ({} terms)",
                    describe_criterion(sel.criterion),
                    sel.points.len(),
                    cellsindy::stats::format_significant(p.threshold, 4),
                    p.complexity
                );
            }
        }
        let _ = writeln!(s);
        for e in self.model.equations_pretty() {
            let _ = writeln!(s, "{e}");
        }
        let _ = writeln!(s);
        let r2: Vec<String> = self
            .model
            .state_names()
            .iter()
            .zip(&self.model.info().r2)
            .map(|(n, r)| format!("{n} {r:.6}"))
            .collect();
        let _ = writeln!(s, "R²: {}", r2.join(", "));
        if let Some(a) = &self.accuracy {
            let support = if a.exact_support {
                format!("exact support ({} terms)", a.terms.len())
            } else {
                format!(
                    "support differs: spurious [{}], missing [{}]",
                    list(&a.spurious),
                    list(&a.missing)
                )
            };
            let _ = writeln!(
                s,
                "accuracy: {support}, max relative coefficient error {:.3e}",
                a.max_rel_err
            );
        }
        let sim = &self.simulation_summary;
        match (&sim.error, &sim.agreement_until) {
            (Some(e), _) => {
                let _ = writeln!(s, "simulation of the identified model failed: {e}");
            }
            (None, until) => {
                let until = until.map_or("over the whole span".to_string(), |t| {
                    format!("until t = {t:.3} (then differs by > 20% of its spread)")
                });
                let _ = writeln!(
                    s,
                    "simulation: t {:.3}..{:.3}, the identified model follows the reference {until}",
                    sim.t_start, sim.t_end
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let t = &self.timings;
        let _ = writeln!(
            s,
            "time: data {:.3} s, fit {:.3} s, simulate model {:.3} s, total {:.3} s",
            t.data_s, t.fit_s, t.simulate_s, t.total_s
        );
        s
    }
}

/// How one equation's sparsity was chosen, with feature names (for `results.json`).
#[derive(Debug, Serialize)]
struct SparsityTrace {
    target: String,
    rule: AutoRule,
    chosen: usize,
    chosen_terms: Vec<String>,
    path: Vec<TracePoint>,
}

#[derive(Debug, Serialize)]
struct TracePoint {
    threshold: Option<f64>,
    terms: Vec<String>,
    rss: f64,
    cv: Option<f64>,
    cv_se: Option<f64>,
    bic: f64,
}

fn sparsity_traces(model: &Sindy) -> Option<Vec<SparsityTrace>> {
    let names = model.feature_names();
    let terms = |s: &[usize]| s.iter().filter_map(|&i| names.get(i).cloned()).collect();
    let sel = model.info().selection.as_ref()?;
    Some(
        sel.iter()
            .zip(model.state_names())
            .map(|(e, target)| SparsityTrace {
                target: target.clone(),
                rule: e.rule,
                chosen: e.chosen,
                chosen_terms: e
                    .path
                    .get(e.chosen)
                    .map(|p| terms(&p.support))
                    .unwrap_or_default(),
                path: e
                    .path
                    .iter()
                    .map(|p| TracePoint {
                        threshold: p.threshold,
                        terms: terms(&p.support),
                        rss: p.rss,
                        cv: p.cv,
                        cv_se: p.cv_se,
                        bic: p.bic,
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// Equations in three forms.
#[derive(Debug, Serialize)]
struct Equations {
    pretty: Vec<String>,
    decimal: Vec<String>,
    latex: Vec<String>,
}

/// Fit metrics.
#[derive(Debug, Serialize)]
struct Metrics<'a> {
    r2: &'a [f64],
    rss: &'a [f64],
    complexity: usize,
    n_samples: usize,
    n_iter: usize,
    converged: bool,
    accuracy: Option<&'a Accuracy>,
    simulation: &'a SimulationSummary,
}

#[derive(Debug, Serialize)]
struct Settings<'a> {
    degree: u32,
    library: LibraryConfig,
    differentiator: &'a DiffConfig,
    differentiator_auto: bool,
    optimizer: OptimizerKind,
    optimizer_config: &'a OptimizerConfig,
    threshold: Option<f64>,
    select: Option<Criterion>,
    chunk: Option<usize>,
    seed: u64,
    simulation_solver: SolverConfig,
}

/// The layout of `results.json`.
#[derive(Debug, Serialize)]
struct Results<'a> {
    cellsindy_version: &'static str,
    source: &'a DataSource,
    data: &'a DataSummary,
    settings: Settings<'a>,
    state_names: &'a [String],
    control_names: &'a [String],
    feature_names: &'a [String],
    /// One row per feature, one column per state variable.
    coefficients: Vec<Vec<f64>>,
    inclusion_probabilities: Option<Vec<Vec<f64>>>,
    equations: Equations,
    metrics: Metrics<'a>,
    timings: &'a Timings,
    peak_rss_kb: Option<u64>,
    selection: Option<&'a SelectionReport>,
    /// Automatic sparsity: per equation, the path of supports, their scores and the choice.
    sparsity: Option<Vec<SparsityTrace>>,
    files: Vec<String>,
    notes: Vec<String>,
}

/// Writes a run into `out` (created if needed): `model.json` ([`Sindy::save_json`]),
/// `results.json` (source, settings, feature names, coefficients, equations in three forms,
/// metrics, accuracy, simulation, timings, the sweep), and, with the `plot` feature,
/// `attractor.svg`, `coefficients.svg` and (when selecting) `pareto.svg`. Every file is
/// written atomically. Returns the paths written.
///
/// # Errors
/// [`Error::Io`] if the directory or a file cannot be written, [`Error::Json`] /
/// [`Error::Unsupported`] from saving the model, [`Error::Plot`] if a figure fails.
pub fn write_report(report: &SindyReport, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut names = vec!["model.json".to_string(), "results.json".to_string()];
    names.push("attractor.svg".into());
    names.push("coefficients.svg".into());
    if report.selection.is_some() {
        names.push("pareto.svg".into());
    }
    let model = &report.model;
    model.save_json(out.join("model.json"))?;
    let mut notes = report.notes.clone();
    if let Err(e) = &report.simulation {
        notes.push(format!("the identified model could not be simulated: {e}"));
    }
    let rows = |a: &Array2<f64>| a.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>();
    let info = model.info();
    let results = Results {
        cellsindy_version: env!("CARGO_PKG_VERSION"),
        source: &report.config.source,
        data: &report.data,
        settings: Settings {
            degree: report.config.degree,
            library: LibraryConfig::polynomial(report.config.degree),
            differentiator: &report.diff,
            differentiator_auto: report.config.diff == DiffChoice::Auto,
            optimizer: report.config.optimizer,
            optimizer_config: &report.optimizer,
            threshold: report.config.threshold,
            select: report.config.select,
            chunk: report.config.chunk,
            seed: report.config.seed,
            simulation_solver: SolverConfig {
                max_steps: SIMULATION_MAX_STEPS,
                ..SolverConfig::default()
            },
        },
        state_names: model.state_names(),
        control_names: model.control_names(),
        feature_names: model.feature_names(),
        coefficients: rows(model.coefficients()),
        inclusion_probabilities: info.inclusion.as_ref().map(rows),
        equations: Equations {
            pretty: model.equations_pretty(),
            decimal: model.equations(4),
            latex: model.to_latex(),
        },
        metrics: Metrics {
            r2: &info.r2,
            rss: &info.rss,
            complexity: model.complexity(),
            n_samples: info.n_samples,
            n_iter: info.n_iter,
            converged: info.converged,
            accuracy: report.accuracy.as_ref(),
            simulation: &report.simulation_summary,
        },
        timings: &report.timings,
        peak_rss_kb: report.peak_rss_kb,
        selection: report.selection.as_ref(),
        sparsity: sparsity_traces(model),
        files: names.clone(),
        notes,
    };
    let text = serde_json::to_string_pretty(&results)?;
    write_atomic(&out.join("results.json"), text.as_bytes())?;
    write_figures(report, out)?;
    Ok(names.iter().map(|n| out.join(n)).collect())
}
fn write_figures(report: &SindyReport, out: &Path) -> Result<()> {
    use cellsindy::plot::{attractor_svg, coefficients_svg, pareto_svg, AttractorLabels};
    let model = &report.model;
    let (title, reference) = match &report.config.source {
        DataSource::System(src) => (
            format!("{:?}: true trajectory vs identified model", src.system),
            "true system (noise-free, reference solver)".to_string(),
        ),
        DataSource::Files(src) => (
            "data vs identified model".to_string(),
            format!(
                "data ({})",
                src.paths
                    .first()
                    .and_then(|p| p.file_name())
                    .map_or("file".into(), |f| f.to_string_lossy().into_owned())
            ),
        ),
    };
    let sim = &report.simulation_summary;
    let labels = AttractorLabels {
        title: format!(
            "{title}, t from {} to {}",
            cellsindy::stats::format_significant(sim.t_start, 4),
            cellsindy::stats::format_significant(sim.t_end, 5)
        ),
        reference,
        model: "identified model (simulated from the same initial state)".into(),
    };
    let note = report
        .simulation
        .as_ref()
        .err()
        .map(|e| format!("identified model: simulation failed ({e})"));
    let svg = attractor_svg(
        &report.reference,
        report.simulation.as_ref().ok(),
        &labels,
        note.as_deref(),
    )?;
    write_atomic(&out.join("attractor.svg"), svg.as_bytes())?;
    let targets: Vec<String> = model
        .state_names()
        .iter()
        .map(|n| format!("{n}'"))
        .collect();
    let svg = coefficients_svg(
        model.coefficients().view(),
        model.feature_names(),
        &targets,
        &format!("Identified coefficients ({} non-zero)", model.complexity()),
    )?;
    write_atomic(&out.join("coefficients.svg"), svg.as_bytes())?;
    if let Some(sel) = &report.selection {
        write_atomic(&out.join("pareto.svg"), pareto_svg(sel)?.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lorenz_is_recovered_exactly() -> Result<()> {
        let mut cfg = SindyRunConfig::system(SystemKind::Lorenz);
        if let DataSource::System(s) = &mut cfg.source {
            s.samples = 5000;
        }
        let report = run(&cfg)?;
        assert_eq!(
            report.model.equations_pretty(),
            vec!["x' = 10(y - x)", "y' = 28x - xz - y", "z' = xy - 8/3 z"]
        );
        let acc = report
            .accuracy
            .as_ref()
            .map(|a| (a.exact_support, a.max_rel_err));
        assert!(matches!(acc, Some((true, e)) if e < 1e-3), "{acc:?}");
        Ok(())
    }

    #[test]
    fn streaming_matches_the_equations() -> Result<()> {
        let mut cfg = SindyRunConfig::system(SystemKind::Lorenz);
        cfg.degree = 2;
        cfg.chunk = Some(1500);
        if let DataSource::System(s) = &mut cfg.source {
            s.samples = 6000;
            s.noise = 0.01;
        }
        let mut calls = Vec::new();
        let report = run_with_progress(&cfg, &mut |done, total| calls.push((done, total)))?;
        assert_eq!(calls.last(), Some(&(6000, 6000)));
        assert!(report.model.info().n_samples > 5000);
        assert_eq!(report.model.equations_pretty()[0], "x' = 10(y - x)");
        Ok(())
    }
}
