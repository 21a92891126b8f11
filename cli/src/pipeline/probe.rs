//! The probe workflow: a trained model and its data → the covariance and XOR probes for the
//! model, PCA and linear regression side by side → a report (JSON, Markdown, figures).
//!
//! **Fairness.** Every method is scored on the same cells: the model's held-out split
//! (`nn::data::is_validation` with the checkpoint's training seed and `val_fraction`). PCA
//! and the linear baseline are fitted on the training cells of that split, on
//! `normalize_total` (median library) + `log1p` values of the model's vocabulary genes, so
//! all methods see the same genes and none has seen the scored cells.
//!
//! **Memory.** Only the cells used are read: a seeded sample of at most `max_cells` held-out
//! cells and `baseline_cells` training cells ([`probe_rows`]), streamed from `.h5ad`/10x files,
//! so an atlas costs the sample, not the file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use ndarray::{Array2, Axis};

use cellsindy::baselines::{
    ConditionalGaussian, ForestImputer, KnnImputer, KnnParams, LinearImputer, MlpImputer,
    MlpParams, PairwiseLogistic, PairwiseParams, Pca,
};
use cellsindy::error::{Error, Result};
use cellsindy::expression::io::h5ad::h5ad_obs_named;
use cellsindy::expression::io::{ExpressionFormat, ReadOptions};
use cellsindy::expression::ExpressionMatrix;
use cellsindy::expression::ObsColumn;
use cellsindy::forest::ForestParams;
use cellsindy::io::write_atomic;
use cellsindy::nn::data::{sample_rows, split_cells};
use cellsindy::nn::infer::{impute, impute_joint, Context, InferenceModel, JointParams};
use cellsindy::probes::{
    bin_threshold, roc_curve, score_binary, state_keys, state_oracle, xor_probability, Binarize,
    CovarianceReport, CovarianceScoring, Logistic1d, ProbeConfig, ProbeReport, Role, XorMethod,
    XorReport,
};
use cellsindy::tokenize::PreparedCells;

/// The covariance probe's name for the model's joint draw (the row the demo reads).
pub const JOINT_SAMPLE: &str = "model (joint sample)";

/// A probe job: checkpoint, data, settings.
#[derive(Debug, Clone)]
pub struct ProbeJob {
    /// Training checkpoint directory (its split is reused).
    pub model: PathBuf,
    /// The expression file the model was trained on (raw counts).
    pub data: PathBuf,
    /// Probe settings.
    pub config: ProbeConfig,
    /// Reader options.
    pub read: ReadOptions,
}

/// Loads the checkpoint and reads the cells the probes use ([`probe_inputs`]), then runs
/// [`run_probes_on`].
///
/// # Errors
/// [`Error::InvalidParam`] when the checkpoint has no training state (its split is unknown);
/// read, checkpoint and probe errors.
pub fn probe(job: &ProbeJob, device: &Device) -> Result<ProbeReport> {
    let inputs = probe_inputs(job, device)?;
    let mut report = inputs.run(&job.config)?;
    report.model = job.model.display().to_string();
    report.data = job.data.display().to_string();
    Ok(report)
}

/// What a probe runs on: the model, the cells it reads and their split, the latent states.
pub struct ProbeInputs {
    /// The model (an ablation may be set on it between runs).
    pub model: InferenceModel,
    /// The prepared cells.
    pub cells: PreparedCells,
    /// Positions in `cells` of the scored held-out cells.
    pub held: Vec<usize>,
    /// Positions in `cells` of the training cells the baselines are fitted on.
    pub train: Vec<usize>,
    /// The latent states of the ceilings.
    pub states: CellStates,
}

impl ProbeInputs {
    /// [`run_probes_on`] over these inputs.
    ///
    /// # Errors
    /// As [`run_probes_on`].
    pub fn run(&self, cfg: &ProbeConfig) -> Result<ProbeReport> {
        run_probes_on(
            &self.model,
            &self.cells,
            &self.held,
            &self.train,
            cfg,
            &self.states,
        )
    }
}

/// Loads the checkpoint and reads the cells the probes use ([`probe_rows`]: a sample of the
/// held-out cells and of the training cells, streamed from an `.h5ad`/10x file so that memory
/// does not grow with the file), with the latent states an `.h5ad` carries in `obs`.
///
/// # Errors
/// As [`probe`].
pub fn probe_inputs(job: &ProbeJob, device: &Device) -> Result<ProbeInputs> {
    job.config.validate()?;
    let (model, split) = super::load_model(&job.model, device)?;
    let (seed, val_fraction) = split.ok_or_else(|| {
        Error::param(
            "model",
            job.model.display(),
            "no training state in the checkpoint, so its held-out split is unknown",
        )
    })?;
    let mut rows = None;
    let (cells, _) =
        super::read_cells_for_model(&job.data, &job.read, &model.tokenizer, &mut |n| {
            let r = probe_rows(n, seed, val_fraction, &job.config)?;
            let all = r.union();
            rows = Some(r);
            Ok(all)
        })?;
    let rows = rows.ok_or_else(|| Error::Empty {
        what: "probe cells",
        why: "no cell was picked".into(),
    })?;
    let (held, train) = rows.positions();
    // The latent states behind the ceilings, from the file's `obs` (only `.h5ad` carries one).
    let states = match ExpressionFormat::detect(&job.data)? {
        ExpressionFormat::H5ad => {
            let wanted = CellStates::columns(&job.config);
            CellStates::from_obs(
                &h5ad_obs_named(&job.data, &wanted)?,
                &cells.index,
                &job.config,
            )?
        }
        _ => CellStates::default(),
    };
    Ok(ProbeInputs {
        model,
        cells,
        held,
        train,
        states,
    })
}

/// The latent states the Bayes ceilings condition on, and the covariance probe's strata: for
/// each `obs` column they name ([`CellStates::columns`]) that the data have, one label per
/// prepared cell. Without them (real data, a file without `obs`) the reports have no ceiling
/// rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellStates(pub Vec<(String, Vec<String>)>);

impl CellStates {
    /// The labels of the ceilings' columns in `obs` for the cells at `rows` (a prepared cell's
    /// index in the data, [`PreparedCells::index`]).
    ///
    /// # Errors
    /// [`Error::Shape`] if a row is outside a column.
    pub fn from_obs(
        obs: &[(String, ObsColumn)],
        rows: &[usize],
        cfg: &ProbeConfig,
    ) -> Result<Self> {
        let wanted = Self::columns(cfg);
        let mut out = Vec::new();
        for (name, col) in obs.iter().filter(|(n, _)| wanted.contains(n)) {
            out.push((name.clone(), state_keys(col, rows)?));
        }
        Ok(CellStates(out))
    }

    /// The `obs` columns `cfg` reads: the ceilings' states and the covariance probe's strata.
    pub fn columns(cfg: &ProbeConfig) -> Vec<String> {
        let mut wanted = vec![cfg.marker_states.clone(), cfg.gate_state_column()];
        wanted.extend(cfg.covariance_within.clone());
        wanted
    }

    /// The labels of column `name` at the positions `rows`, if the data have it.
    fn at(&self, name: &str, rows: &[usize]) -> Option<Vec<String>> {
        let (_, v) = self.0.iter().find(|(n, _)| n == name)?;
        rows.iter().map(|&r| v.get(r).cloned()).collect()
    }

    /// The ceiling row of a call (`None` without the column): `P(call | state)` on the
    /// training cells, for the scored cells.
    fn ceiling(
        &self,
        column: &str,
        train: &[usize],
        train_calls: &[bool],
        held: &[usize],
    ) -> Result<Option<ProbRow>> {
        let (Some(tr), Some(h)) = (self.at(column, train), self.at(column, held)) else {
            return Ok(None);
        };
        Ok(Some((
            format!("Bayes ceiling (knows obs `{column}`)"),
            Role::Reference,
            format!("P(call | {column}) among the training cells: the best a method can do that reads expression only through these latent states"),
            state_oracle(&tr, train_calls, &h)?,
        )))
    }
}

/// The cells a probe reads, by index in the data (ascending): the held-out cells it scores and
/// the training cells its baselines are fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRows {
    /// Held-out cells of the split, at most `max_cells` of them.
    pub held: Vec<usize>,
    /// Training cells of the split, at most `baseline_cells` of them.
    pub train: Vec<usize>,
}

impl ProbeRows {
    /// Both sets, merged in data order.
    pub fn union(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self.held.iter().chain(&self.train).copied().collect();
        all.sort_unstable();
        all
    }

    /// `(held, train)` as positions in [`Self::union`].
    pub fn positions(&self) -> (Vec<usize>, Vec<usize>) {
        let all = self.union();
        let at = |rows: &[usize]| -> Vec<usize> {
            rows.iter()
                .map(|r| all.partition_point(|a| a < r))
                .collect()
        };
        (at(&self.held), at(&self.train))
    }
}

/// The probe's cells among `n_cells`: the split `(split_seed, val_fraction)` of the model's
/// training, then a seeded uniform sample of each side ([`sample_rows`]; `cfg.max_cells` held-out
/// cells, `cfg.baseline_cells` training cells, 0 = all), known before any value is read.
///
/// # Errors
/// [`Error::Empty`] if fewer than two cells are left on either side.
pub fn probe_rows(
    n_cells: usize,
    split_seed: u64,
    val_fraction: f64,
    cfg: &ProbeConfig,
) -> Result<ProbeRows> {
    let (held, train) = split_cells(n_cells, split_seed, val_fraction);
    let held = sample_rows(held, cfg.max_cells, cfg.seed, 0);
    let train = sample_rows(train, cfg.baseline_cells, cfg.seed, 1);
    enough_cells(
        held.len(),
        train.len(),
        &format!(" (val_fraction {val_fraction})"),
    )?;
    Ok(ProbeRows { held, train })
}

/// At least two held-out and two training cells, or [`Error::Empty`] (`context` follows the
/// counts in the message).
fn enough_cells(n_held: usize, n_train: usize, context: &str) -> Result<()> {
    if n_held < 2 || n_train < 2 {
        return Err(Error::Empty {
            what: "held-out split",
            why: format!(
                "{n_held} held-out and {n_train} training cells{context}; the probes need at least two of each"
            ),
        });
    }
    Ok(())
}

/// Names of the probe genes missing from the model's vocabulary or from the data.
fn check_genes(model: &InferenceModel, cells: &PreparedCells, cfg: &ProbeConfig) -> Result<()> {
    let mut missing = Vec::new();
    for g in cfg.genes() {
        if model.tokenizer.vocab.id(g).is_none() {
            missing.push(format!(
                "{g} (not in the model's vocabulary: train with --include-genes)"
            ));
        } else if cells.coverage.missing.iter().any(|m| m == g) {
            missing.push(format!("{g} (not in the data)"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::UnknownGenes { genes: missing })
    }
}

/// One method's probabilities of HIGH for a binarised gene: `(name, role, rule, p on scored
/// cells)`.
type ProbRow = (String, Role, String, Vec<f64>);
/// Every method's.
type Probs = Vec<ProbRow>;

/// One baseline's imputation of the masked columns, on the scored cells and (for the XOR
/// probes, which calibrate a threshold on them) on the training cells. The training values are
/// honest where the method would otherwise have seen the cell (leave-one-out for kNN,
/// out-of-bag for the forests).
struct Imputation {
    name: &'static str,
    train: Option<Array2<f64>>,
    held: Array2<f64>,
}

impl Imputation {
    /// Column `j` of the training and the scored values.
    fn column(&self, j: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        let train = self.train.as_ref().ok_or_else(|| Error::Empty {
            what: "training imputation",
            why: format!("{} was fitted without training values", self.name),
        })?;
        Ok((train.column(j).to_vec(), self.held.column(j).to_vec()))
    }
}

/// What a probe needs from the imputers: the XOR probes calibrate on training-cell values; the
/// covariance probe reads the scored cells only, and the samplers' joint draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Xor,
    Covariance,
}

/// Samplers' joint draws on the scored cells: `(name, values)`.
type Draws = Vec<(&'static str, Array2<f64>)>;

/// Every baseline imputer of `cfg` fitted on `train` for the columns `cols` (PCA is given,
/// fitted with those columns hidden); for [`Purpose::Xor`] with their training-cell values,
/// for [`Purpose::Covariance`] with the samplers' joint draws on the scored cells
/// (`(name, values)`: a neighbour's values, the conditional Gaussian).
fn imputations(
    train: &Array2<f64>,
    held: &Array2<f64>,
    cols: &[usize],
    pca: &Pca,
    cfg: &ProbeConfig,
    purpose: Purpose,
) -> Result<(Vec<Imputation>, Draws)> {
    let (tr, h) = (train.view(), held.view());
    let on_train = purpose == Purpose::Xor;
    let lin = LinearImputer::fit(tr, cols)?;
    let mut out = vec![
        Imputation {
            name: "PCA",
            train: on_train.then(|| pca.impute(tr, cols)).transpose()?,
            held: pca.impute(h, cols)?,
        },
        Imputation {
            name: "linear",
            train: on_train.then(|| lin.predict(tr)).transpose()?,
            held: lin.predict(h)?,
        },
    ];
    let mut samples = Vec::new();
    if !cfg.nonlinear_baselines {
        return Ok((out, samples));
    }
    let knn = KnnImputer::fit(
        tr,
        cols,
        &KnnParams {
            k: cfg.knn_k,
            n_components: cfg.n_components,
            seed: cfg.seed,
        },
    )?;
    out.push(Imputation {
        name: "kNN (PCA space)",
        train: on_train.then(|| knn.predict_training()).transpose()?,
        held: knn.predict(h)?,
    });
    // Forests grow on a sample of the training cells; the other training cells are
    // out-of-sample for every tree.
    let rows = sample_rows((0..train.nrows()).collect(), cfg.forest_cells, cfg.seed, 2);
    let grown_on = train.select(Axis(0), &rows);
    let forest = ForestImputer::fit(
        grown_on.view(),
        cols,
        &ForestParams {
            n_trees: cfg.forest_trees,
            seed: cfg.seed,
            ..ForestParams::default()
        },
    )?;
    let forest_train = if on_train {
        let mut v = forest.predict(tr)?;
        let oob = forest.predict_training(grown_on.view())?;
        for (k, &r) in rows.iter().enumerate() {
            v.row_mut(r).assign(&oob.row(k));
        }
        Some(v)
    } else {
        None
    };
    out.push(Imputation {
        name: "random forest",
        train: forest_train,
        held: forest.predict(h)?,
    });
    let mlp = MlpImputer::fit(
        tr,
        cols,
        &MlpParams {
            steps: cfg.mlp_steps,
            seed: cfg.seed,
            ..MlpParams::default()
        },
    )?;
    let mlp_train = if on_train {
        Some(cross_fitted_mlp(train, cols, cfg)?)
    } else {
        None
    };
    out.push(Imputation {
        name: "MLP",
        train: mlp_train,
        held: mlp.predict(h)?,
    });
    if purpose == Purpose::Covariance {
        samples.push(("kNN (a neighbour's values)", knn.sample(h, cfg.seed)?));
        samples.push((
            "conditional Gaussian (joint draw)",
            ConditionalGaussian::fit(tr, cols)?.sample(h, cfg.seed)?,
        ));
    }
    Ok((out, samples))
}

/// The MLP's training-cell values, each out of sample (as the forest's out-of-bag values and
/// kNN's leave-one-out ones), for the calibration of its probabilities: two MLPs, each fitted
/// on alternate halves of the training cells, predict the other half. An MLP's in-sample
/// predictions are closer to the labels than its predictions on new cells, which would make
/// the calibration overconfident (scikit-learn's cross-validated calibration with
/// `ensemble=False` does the same: calibrate on held-out folds, score with the model fitted on
/// every cell).
fn cross_fitted_mlp(train: &Array2<f64>, cols: &[usize], cfg: &ProbeConfig) -> Result<Array2<f64>> {
    let n = train.nrows();
    let mut out = Array2::<f64>::zeros((n, cols.len()));
    for fold in 0..2 {
        let fit_rows: Vec<usize> = (0..n).filter(|r| r % 2 != fold).collect();
        let other: Vec<usize> = (0..n).filter(|r| r % 2 == fold).collect();
        if fit_rows.is_empty() || other.is_empty() {
            return Err(Error::Empty {
                what: "MLP calibration",
                why: format!("{n} training cells cannot be split in two"),
            });
        }
        let mlp = MlpImputer::fit(
            train.select(Axis(0), &fit_rows).view(),
            cols,
            &MlpParams {
                steps: cfg.mlp_steps,
                seed: cfg.seed.wrapping_add(1 + fold as u64),
                ..MlpParams::default()
            },
        )?;
        let v = mlp.predict(train.select(Axis(0), &other).view())?;
        for (k, &r) in other.iter().enumerate() {
            out.row_mut(r).assign(&v.row(k));
        }
    }
    Ok(out)
}

/// The pairwise-interaction logistic classifier's P(HIGH) on the scored cells (`None` when the
/// non-linear baselines are off).
fn pairwise_probs(
    train: &Array2<f64>,
    labels: &[bool],
    held: &Array2<f64>,
    cols: &[usize],
    cfg: &ProbeConfig,
) -> Result<Option<Vec<f64>>> {
    if !cfg.nonlinear_baselines {
        return Ok(None);
    }
    let m = PairwiseLogistic::fit(train.view(), labels, cols, &PairwiseParams::default())?;
    Ok(Some(m.predict_proba(held.view())?))
}

/// Baseline probabilities from imputed values: a 1-D logistic fit of the training labels on
/// the training cells' imputed values (out of sample for kNN, the forest and the MLP; in
/// sample for PCA and linear regression, whose few parameters barely fit noise), applied to
/// the scored cells' imputed values.
fn calibrated(train_imputed: &[f64], train_labels: &[bool], scored: &[f64]) -> Result<Vec<f64>> {
    let l = Logistic1d::fit(train_imputed, train_labels)?;
    Ok(scored.iter().map(|&v| l.predict(v)).collect())
}

/// Runs the probes of `cfg` for `model` on `matrix` (on the model's scale), scoring the held-out
/// cells of the split `(split_seed, val_fraction)`: the cells of [`probe_rows`], then
/// [`run_probes_on`] (what [`probe`] does with a file).
///
/// # Errors
/// [`Error::UnknownGenes`] naming every probe gene missing from the vocabulary or the data;
/// [`Error::Empty`] if the split leaves fewer than two held-out or training cells; config,
/// inference, baseline and probe errors.
pub fn run_probes(
    model: &InferenceModel,
    matrix: &ExpressionMatrix,
    split_seed: u64,
    val_fraction: f64,
    cfg: &ProbeConfig,
) -> Result<ProbeReport> {
    cfg.validate()?;
    let rows = probe_rows(matrix.n_cells(), split_seed, val_fraction, cfg)?;
    let all = rows.union();
    let cells = model.tokenizer.prepare_rows(matrix, &all)?;
    let (held, train) = rows.positions();
    let states = CellStates::from_obs(matrix.obs(), &all, cfg)?;
    run_probes_on(model, &cells, &held, &train, cfg, &states)
}

/// Runs the probes of `cfg` for `model` on prepared cells: `held` (positions in `cells`) are
/// scored, the baselines are fitted on `train`; `states` (one label per prepared cell) add the
/// Bayes-ceiling rows.
///
/// # Errors
/// [`Error::UnknownGenes`] naming every probe gene missing from the vocabulary or the data;
/// [`Error::Empty`] with fewer than two held-out or training cells; config, inference, baseline
/// and probe errors.
pub fn run_probes_on(
    model: &InferenceModel,
    cells: &PreparedCells,
    held: &[usize],
    train: &[usize],
    cfg: &ProbeConfig,
    states: &CellStates,
) -> Result<ProbeReport> {
    let start = Instant::now();
    cfg.validate()?;
    check_genes(model, cells, cfg)?;
    enough_cells(held.len(), train.len(), "")?;
    if let Some(&r) = held.iter().chain(train).find(|&&r| r >= cells.n_cells()) {
        return Err(Error::param(
            "probe cells",
            r,
            format!("only {} cells were prepared", cells.n_cells()),
        ));
    }
    let (held, train) = (held.to_vec(), train.to_vec());
    let n_vocab = cells.values.n_cols();
    let pos = |g: &str| -> Result<u32> { Ok(model.positions(&[g])?[0]) };
    let n_bins = model.tokenizer.binning.n_bins;
    let bs = cfg.batch_size;

    // One normalisation for every method and for the truth they are scored against: each cell
    // over its visible genes, as the model sees a masked cell (so no masked value reaches a
    // method through the library size, and a perfect prediction scores the truth exactly).
    // The baselines see the vocabulary genes with the masked ones hidden and are fitted on the
    // training cells under the same mask.
    let k = cfg.n_components.min(n_vocab).min(train.len());
    let baseline_inputs = |hidden: &[u32]| -> Result<(Array2<f64>, Array2<f64>, Pca)> {
        let tr = cells.log_normalized_visible(&train, hidden);
        let h = cells.log_normalized_visible(&held, hidden);
        let pca = Pca::params(k).seed(cfg.seed).fit(tr.view())?;
        Ok((tr, h, pca))
    };

    // ── Covariance probe ──
    let cov_genes: Vec<String> = cfg.group_a.iter().chain(&cfg.group_b).cloned().collect();
    let cov_pos: Vec<u32> = cov_genes.iter().map(|g| pos(g)).collect::<Result<_>>()?;
    let cov_cols: Vec<usize> = cov_pos.iter().map(|&p| p as usize).collect();
    let n_a = cfg.group_a.len();
    let dz = cfg.dead_zone;
    let (b_train, b_held, pca) = baseline_inputs(&cov_pos)?;
    let pca_explained_variance = pca.explained_variance_ratio().sum();
    // Asked for by name, so a missing column is an error (unlike a ceiling's).
    let strata = match &cfg.covariance_within {
        None => None,
        Some(c) => Some(states.at(c, &held).ok_or_else(|| {
            Error::param(
                "covariance_within",
                c,
                "the data have no such obs column (only an .h5ad carries obs)",
            )
        })?),
    };
    // Each method's ρ with its bootstrap interval over the scored cells.
    let scoring = CovarianceScoring {
        genes: &cov_genes,
        n_a,
        strata: strata.as_deref(),
        dead_zone: dz,
    };
    let scored = |name: &str, role: Role, v: ndarray::ArrayView2<'_, f64>, truth| {
        let mut m = scoring.score(name, role, v, truth)?;
        if cfg.bootstrap_reps > 0 {
            m.rho_intervals = Some(scoring.rho_intervals(v, cfg.bootstrap_reps, cfg.seed)?);
        }
        Ok::<_, Error>(m)
    };
    let real = scored(
        "real",
        Role::Reference,
        b_held.select(Axis(1), &cov_cols).view(),
        None,
    )?;
    let imp = impute(
        model,
        cells,
        &held,
        &cov_pos,
        &Context::sampled(),
        cfg.seed,
        bs,
    )?;
    let joint = impute_joint(
        model,
        cells,
        &held,
        &cov_pos,
        &Context::sampled(),
        &JointParams {
            steps: cfg.joint_steps,
            seed: cfg.seed,
            batch_size: bs,
        },
    )?;
    let (cov_imputed, cov_draws) =
        imputations(&b_train, &b_held, &cov_cols, &pca, cfg, Purpose::Covariance)?;
    // The model's bins are read back as expression through each cell's edges (the visible
    // genes', since all probe genes were masked): see `tokenize::BinDecoder`.
    let n_cov = cov_pos.len();
    let mut decoded = [(); 4].map(|()| Array2::<f64>::zeros((held.len(), n_cov)));
    for (c, &r) in held.iter().enumerate() {
        let (cols, _) = cells.values.row(r);
        let vals = cells.visible_values(r, &cov_pos);
        let withheld: Vec<bool> = cols.iter().map(|g| cov_pos.contains(g)).collect();
        let d = model.tokenizer.binning.decoder(cols, &vals, &withheld)?;
        for (j, &g) in cov_pos.iter().enumerate() {
            let probs: Vec<f32> = imp.probs.slice(ndarray::s![c, j, ..]).to_vec();
            decoded[0][[c, j]] = d.value(g, joint.observed[[c, j]]);
            decoded[1][[c, j]] = d.expected(g, &probs);
            decoded[2][[c, j]] = d.value(g, joint.sampled[[c, j]]);
            decoded[3][[c, j]] = d.value(g, imp.sampled[[c, j]]);
        }
    }
    let [observed_values, expected_values, joint_values, independent_values] = decoded;
    let mut methods: Vec<(&str, Role, Array2<f64>)> = vec![
        (
            "observed bins (the targets, decoded)",
            Role::Reference,
            observed_values,
        ),
        ("model (expected value)", Role::Model, expected_values),
        (JOINT_SAMPLE, Role::Model, joint_values),
        (
            "model (independent samples)",
            Role::Model,
            independent_values,
        ),
    ];
    methods.extend(
        cov_imputed
            .into_iter()
            .map(|i| (i.name, Role::Baseline, i.held)),
    );
    methods.extend(
        cov_draws
            .into_iter()
            .map(|(name, v)| (name, Role::Baseline, v)),
    );
    let methods = methods
        .into_iter()
        .map(|(name, role, v)| scored(name, role, v.view(), Some(&real)))
        .collect::<Result<Vec<_>>>()?;
    let covariance = CovarianceReport {
        n_cells: held.len(),
        genes: cov_genes.clone(),
        n_a,
        dead_zone: dz,
        real,
        methods,
    };

    // One set of dense baseline inputs at a time (cells × vocabulary each).
    drop((b_train, b_held, pca));

    // ── XOR probes ──
    // One binarised gene: its truth on the scored and training cells, the model's P(HIGH) with
    // the mapped bin threshold, and the baselines' imputed values (filled in by the callers).
    struct Called {
        threshold: f64,
        bin_threshold: u32,
        held: Vec<bool>,
        train: Vec<bool>,
    }
    let call = |g: &str, rule: Binarize, x_train: &Array2<f64>, x_held: &Array2<f64>| {
        let c = pos(g)? as usize;
        let vh: Vec<f64> = x_held.column(c).to_vec();
        let threshold = rule.threshold(&vh)?;
        let held_calls: Vec<bool> = vh.iter().map(|&v| v > threshold).collect();
        let train_calls: Vec<bool> = x_train.column(c).iter().map(|&v| v > threshold).collect();
        let bins = model
            .tokenizer
            .binning
            .masked_bins(cells, &train, c as u32)?;
        Ok::<_, Error>(Called {
            threshold,
            bin_threshold: bin_threshold(&bins, &train_calls, threshold, n_bins),
            held: held_calls,
            train: train_calls,
        })
    };
    let p_model = |probs: &ndarray::Array3<f32>, j: usize, b: u32| -> Vec<f64> {
        (0..probs.shape()[0])
            .map(|c| {
                (b as usize..probs.shape()[2])
                    .map(|k| f64::from(probs[[c, j, k]]))
                    .sum::<f64>()
                    .clamp(0.0, 1.0)
            })
            .collect()
    };
    let calib_rule = "logistic fit of the training cells' calls on their imputed value";

    // Markers: both masked together.
    let [m1, m2] = &cfg.markers;
    let mpos = [pos(m1)?, pos(m2)?];
    let (b_train, b_held, pca) = baseline_inputs(&mpos)?;
    let (c1, c2) = (
        call(m1, cfg.marker_rule, &b_train, &b_held)?,
        call(m2, cfg.marker_rule, &b_train, &b_held)?,
    );
    let mcols = [mpos[0] as usize, mpos[1] as usize];
    let truth: Vec<bool> = c1.held.iter().zip(&c2.held).map(|(a, b)| a != b).collect();
    let mimp = impute(
        model,
        cells,
        &held,
        &mpos,
        &Context::sampled(),
        cfg.seed,
        bs,
    )?;
    let (pm1, pm2) = (
        p_model(&mimp.probs, 0, c1.bin_threshold),
        p_model(&mimp.probs, 1, c2.bin_threshold),
    );
    let mut marker_probs: Probs = vec![(
        "model".into(),
        Role::Model,
        "p_xor from the model's P(bin ≥ bin threshold) of each marker".into(),
        pm1.iter()
            .zip(&pm2)
            .map(|(&a, &b)| xor_probability(a, b))
            .collect(),
    )];
    let xor_of = |p1: &[f64], p2: &[f64]| -> Vec<f64> {
        p1.iter()
            .zip(p2)
            .map(|(&a, &b)| xor_probability(a, b))
            .collect()
    };
    for i in imputations(&b_train, &b_held, &mcols, &pca, cfg, Purpose::Xor)?.0 {
        let ((tr1, h1), (tr2, h2)) = (i.column(0)?, i.column(1)?);
        let p1 = calibrated(&tr1, &c1.train, &h1)?;
        let p2 = calibrated(&tr2, &c2.train, &h2)?;
        marker_probs.push((
            i.name.into(),
            Role::Baseline,
            format!("p_xor from each marker's P(HIGH): {calib_rule}"),
            xor_of(&p1, &p2),
        ));
    }
    if let (Some(p1), Some(p2)) = (
        pairwise_probs(&b_train, &c1.train, &b_held, &mcols, cfg)?,
        pairwise_probs(&b_train, &c2.train, &b_held, &mcols, cfg)?,
    ) {
        marker_probs.push((
            "pairwise logistic".into(),
            Role::Baseline,
            "p_xor from each marker's P(HIGH) of a logistic regression on screened genes and gene pairs".into(),
            xor_of(&p1, &p2),
        ));
    }
    let train_truth: Vec<bool> = c1
        .train
        .iter()
        .zip(&c2.train)
        .map(|(a, b)| a != b)
        .collect();
    marker_probs.extend(states.ceiling(&cfg.marker_states, &train, &train_truth, &held)?);
    let rule_text = |rule: Binarize| match rule {
        Binarize::Quantile { q } => {
            format!("expression > its {q} quantile over the scored cells")
        }
        Binarize::TwoMeans => {
            "expression > the midpoint of its two-means clusters over the scored cells".into()
        }
    };
    let xor_markers = xor_report(
        format!("{m1} xor {m2}"),
        vec![m1.clone(), m2.clone()],
        format!(
            "XOR of the markers' calls, each {}",
            rule_text(cfg.marker_rule)
        ),
        vec![c1.threshold, c2.threshold],
        vec![c1.bin_threshold, c2.bin_threshold],
        &truth,
        marker_probs,
    )?;

    drop((b_train, b_held, pca));

    // Gate: masked alone, everything else visible.
    let gate = &cfg.gate;
    let gpos = pos(gate)?;
    let (b_train, b_held, pca) = baseline_inputs(&[gpos])?;
    let cg = call(gate, cfg.gate_rule, &b_train, &b_held)?;
    let gcol = [gpos as usize];
    let gimp = impute(
        model,
        cells,
        &held,
        &[gpos],
        &Context::sampled(),
        cfg.seed,
        bs,
    )?;
    let mut gate_probs: Probs = vec![(
        "model".into(),
        Role::Model,
        "the model's P(bin ≥ bin threshold)".into(),
        p_model(&gimp.probs, 0, cg.bin_threshold),
    )];
    for i in imputations(&b_train, &b_held, &gcol, &pca, cfg, Purpose::Xor)?.0 {
        let (tr, h) = i.column(0)?;
        gate_probs.push((
            i.name.into(),
            Role::Baseline,
            calib_rule.into(),
            calibrated(&tr, &cg.train, &h)?,
        ));
    }
    if let Some(p) = pairwise_probs(&b_train, &cg.train, &b_held, &gcol, cfg)? {
        gate_probs.push((
            "pairwise logistic".into(),
            Role::Baseline,
            "P(ON) of a logistic regression on screened genes and gene pairs".into(),
            p,
        ));
    }
    gate_probs.extend(states.ceiling(&cfg.gate_state_column(), &train, &cg.train, &held)?);
    let xor_gate = xor_report(
        gate.clone(),
        vec![gate.clone()],
        format!("ON ⇔ {}", rule_text(cfg.gate_rule)),
        vec![cg.threshold],
        vec![cg.bin_threshold],
        &cg.held,
        gate_probs,
    )?;

    Ok(ProbeReport {
        config: cfg.clone(),
        model: String::new(),
        data: String::new(),
        n_train: train.len(),
        n_scored: held.len(),
        n_genes: n_vocab,
        pca_explained_variance,
        covariance,
        xor_markers,
        xor_gate,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn xor_report(
    target: String,
    masked: Vec<String>,
    truth_rule: String,
    thresholds: Vec<f64>,
    bin_thresholds: Vec<u32>,
    truth: &[bool],
    probs: Probs,
) -> Result<XorReport> {
    let methods = probs
        .into_iter()
        .map(|(method, role, probability, p)| {
            Ok(XorMethod {
                method,
                role,
                probability,
                scores: score_binary(&p, truth)?,
                roc: roc_curve(&p, truth)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(XorReport {
        target,
        masked,
        truth_rule,
        thresholds,
        bin_thresholds,
        n_cells: truth.len(),
        n_positive: truth.iter().filter(|&&t| t).count(),
        methods,
    })
}

/// Writes `report.json`, `report.md` and (with the `plot` feature) the figures
/// `roc_markers.svg`, `roc_gate.svg` and `covariance_heatmaps.svg` into `dir` (created if
/// needed), each atomically. Returns the paths written.
///
/// # Errors
/// [`Error::Io`] on file-system failures, [`Error::Plot`] if a figure cannot be drawn.
pub fn write_report(report: &ProbeReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files: Vec<(PathBuf, String)> = vec![
        (
            dir.join("report.json"),
            serde_json::to_string_pretty(report)?,
        ),
        (dir.join("report.md"), report.markdown()),
    ];
    {
        use cellsindy::plot::probes::{covariance_heatmaps_svg, roc_svg};
        files.push((dir.join("roc_markers.svg"), roc_svg(&report.xor_markers)?));
        files.push((dir.join("roc_gate.svg"), roc_svg(&report.xor_gate)?));
        files.push((
            dir.join("covariance_heatmaps.svg"),
            covariance_heatmaps_svg(&report.covariance)?,
        ));
    }
    let mut written = Vec::with_capacity(files.len());
    for (path, text) in files {
        write_atomic(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
