//! `rules activations` (route 2): a trained model's activations at a masked target gene → each
//! unit and each sparse-dictionary feature explained by a sparse Boolean rule over genes.
//!
//! 1. The target (default TGXOR) is masked in every cell, the rest of the context is the
//!    tokenizer's rule (as in imputation), and the residual stream and MLP hidden units of
//!    every block are captured **at the target's token**: where the model must compute the
//!    target from the genes it sees. Cells are the checkpoint's held-out split (as the probes
//!    use), topped up with training cells to `max_cells` ([`activation_rows`]); only they are
//!    read from a streamable file.
//! 2. Genes are binarised as the probes do (`log1p(normalize_total)`, then
//!    [`Binarize`], two-means by default: a cut between an on/off gene's modes), over the same
//!    cells; the masked target is not a candidate (the model cannot see it).
//! 3. Every unit of every captured layer is explained by [`explain_units`], fitted on all but
//!    a held-out share of the cells and scored on those too (the best of hundreds of in-sample
//!    R² flatters; tables rank by the held-out R²).
//! 4. A [`SparseAutoencoder`] is trained on one layer (default: the last block's residual
//!    stream) and each live dictionary feature is explained the same way (by default whether
//!    it fires).

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use cellsindy::error::{Error, Result};
use cellsindy::escape::{markdown, markdown_code};
use cellsindy::expression::io::ReadOptions;
use cellsindy::io::write_atomic;
use cellsindy::nn::data::split_cells;
use cellsindy::nn::infer::capture_masked;
use cellsindy::nn::infer::{Context, InferenceModel};
use cellsindy::nn::sae::{SaeMetrics, SaeParams, SparseAutoencoder};
use cellsindy::nn::CaptureSpec;
use cellsindy::probes::Binarize;
use cellsindy::rules::{explain_units, ExplainParams, UnitKind, UnitRule};
use cellsindy::tokenize::PreparedCells;

/// Settings of [`activation_rules`].
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `target` | `"TGXOR"` | the gene masked; activations are read at its token |
/// | `layers` | every block's `resid` and `mlp.hidden` | which captured tensors' units are explained |
/// | `sae_layer` | the last block's `resid` | the tensor the dictionary is trained on (`None`: no dictionary) |
/// | `sae` | [`SaeParams::default`] with `n_features = 4·width` when 0 | the dictionary |
/// | `explain` | [`ExplainParams::default`] | the rules |
/// | `feature_firing` | `true` | explain whether each dictionary feature fires (code > 0) rather than its value |
/// | `binarize` | two-means | how genes are called ON |
/// | `max_cells` | 4000 | cells used (held-out split first) |
/// | `seed` | 0 | contexts, the dictionary, the ensembles |
/// | `batch_size` | 64 | cells per forward pass |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivationRulesConfig {
    /// Gene masked.
    pub target: String,
    /// Captured tensors whose units are explained (empty: every block's `resid` and
    /// `mlp.hidden`).
    pub layers: Vec<String>,
    /// Tensor the dictionary is trained on (`Some("")`: the last block's residual stream,
    /// where the target's prediction is assembled; narrow, so the dictionary trains in
    /// seconds on a CPU).
    pub sae_layer: Option<String>,
    /// Dictionary parameters (`n_features = 0`: four times the layer's width).
    pub sae: SaeParams,
    /// Rule parameters.
    pub explain: ExplainParams,
    /// Explain each dictionary feature's firing (`1[code > 0]`), not its value: a sparse
    /// feature is a detector, its magnitude mostly other variation, and on a 0/1 target the
    /// Boolean library reads the detector's Boolean function directly.
    pub feature_firing: bool,
    /// Gene binarisation.
    pub binarize: Binarize,
    /// Cells used.
    pub max_cells: usize,
    /// Seed.
    pub seed: u64,
    /// Cells per forward pass.
    pub batch_size: usize,
}

impl Default for ActivationRulesConfig {
    fn default() -> Self {
        Self {
            target: "TGXOR".into(),
            layers: Vec::new(),
            sae_layer: Some(String::new()),
            sae: SaeParams::default().n_features(0),
            explain: ExplainParams::default(),
            feature_firing: true,
            binarize: Binarize::TwoMeans,
            max_cells: 4000,
            seed: 0,
            batch_size: 64,
        }
    }
}

impl ActivationRulesConfig {
    /// Checks the settings that do not need the model (targets and layers are checked
    /// against it later).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when `max_cells` is below 10.
    pub fn validate(&self) -> Result<()> {
        if self.max_cells < 10 {
            return Err(Error::param(
                "max_cells",
                self.max_cells,
                "must be at least 10",
            ));
        }
        Ok(())
    }
}

/// A job: checkpoint, data, settings.
#[derive(Debug, Clone)]
pub struct ActivationJob {
    /// Checkpoint directory.
    pub model: PathBuf,
    /// Expression file (raw counts).
    pub data: PathBuf,
    /// Reader options.
    pub read: ReadOptions,
    /// Settings.
    pub config: ActivationRulesConfig,
}

/// One binarised gene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneCall {
    /// Symbol.
    pub gene: String,
    /// ON ⇔ `log1p(normalised)` above this.
    pub threshold: f64,
    /// Share of cells ON.
    pub on_fraction: f64,
}

/// The dictionary and its features' rules.
#[derive(Debug, Clone)]
pub struct DictionaryReport {
    /// The tensor it was trained on.
    pub layer: String,
    /// The trained dictionary.
    pub sae: SparseAutoencoder,
    /// One rule per feature (`sae[k]`), dead ones included as [`UnitKind::Dead`].
    pub features: Vec<UnitRule>,
}

/// Everything [`activation_rules`] found.
#[derive(Debug, Clone)]
pub struct ActivationReport {
    /// Checkpoint.
    pub model: String,
    /// Data file.
    pub data: String,
    /// Masked gene.
    pub target: String,
    /// Cells used.
    pub n_cells: usize,
    /// Binarised candidate genes.
    pub genes: Vec<GeneCall>,
    /// Units' rules, layer by layer (`layer[i]`).
    pub units: Vec<UnitRule>,
    /// The dictionary, if asked for.
    pub dictionary: Option<DictionaryReport>,
    /// Settings.
    pub config: ActivationRulesConfig,
    /// Wall time.
    pub seconds: f64,
}

/// Loads the checkpoint, reads the cells route 2 uses ([`activation_rows`], streamed from an
/// `.h5ad`/10x file so that memory does not grow with the file) and runs [`activation_rules`].
///
/// # Errors
/// Read and checkpoint errors, and those of [`activation_rules`].
pub fn activations(job: &ActivationJob, device: &Device) -> Result<ActivationReport> {
    let (model, split) = super::load_model(&job.model, device)?;
    let (cells, _) =
        super::read_cells_for_model(&job.data, &job.read, &model.tokenizer, &mut |n| {
            activation_rows(n, split, &job.config)
        })?;
    let mut r = activation_rules(&model, &cells, &job.config, device)?;
    r.model = job.model.display().to_string();
    r.data = job.data.display().to_string();
    Ok(r)
}

/// The cells route 2 reads among `n_cells`, ascending: the held-out cells of `split` (the
/// checkpoint's `(seed, val_fraction)`), topped up with training cells, `cfg.max_cells` in all
/// (every cell when there is no split); known before any value is read.
///
/// # Errors
/// [`Error::InvalidParam`] when `max_cells` is below 10.
pub fn activation_rows(
    n_cells: usize,
    split: Option<(u64, f64)>,
    cfg: &ActivationRulesConfig,
) -> Result<Vec<usize>> {
    cfg.validate()?;
    let mut rows: Vec<usize> = match split {
        Some((seed, f)) => {
            let (held, train) = split_cells(n_cells, seed, f);
            held.into_iter().chain(train).collect()
        }
        None => (0..n_cells).collect(),
    };
    rows.truncate(cfg.max_cells);
    rows.sort_unstable();
    Ok(rows)
}

/// Route 2 on a loaded model and every cell of `cells` (e.g. those of [`activation_rows`],
/// prepared with their file indices; see the module docs).
///
/// # Errors
/// [`Error::UnknownGenes`] for a target or layer the model does not have;
/// [`Error::InvalidParam`] for bad settings; inference, dictionary and regression errors.
pub fn activation_rules(
    model: &InferenceModel,
    cells: &PreparedCells,
    cfg: &ActivationRulesConfig,
    device: &Device,
) -> Result<ActivationReport> {
    let start = Instant::now();
    cfg.validate()?;
    let rows: Vec<usize> = (0..cells.n_cells().min(cfg.max_cells)).collect();
    let n = rows.len();
    let target_pos = model.positions(&[cfg.target.as_str()])?[0];

    // Activations at the masked target.
    let acts = capture_masked(
        model,
        cells,
        &rows,
        &[target_pos],
        &Context::sampled(),
        CaptureSpec {
            residual: true,
            attention: false,
            mlp: true,
        },
        cfg.seed,
        cfg.batch_size,
    )?;
    let layers: Vec<String> = if cfg.layers.is_empty() {
        (0..model.config.n_layers)
            .flat_map(|i| {
                [
                    format!("blocks.{i}.resid"),
                    format!("blocks.{i}.mlp.hidden"),
                ]
            })
            .collect()
    } else {
        cfg.layers.clone()
    };
    let layer_matrix = |name: &str| -> Result<Array2<f32>> {
        let a = acts.acts.get(name).ok_or_else(|| Error::UnknownGenes {
            genes: vec![format!(
                "layer `{name}` (captured: {})",
                acts.acts.keys().cloned().collect::<Vec<_>>().join(", ")
            )],
        })?;
        Ok(a.index_axis(Axis(1), 0).to_owned())
    };

    // Binarised genes (all vocabulary genes but the target).
    let x = cells.log_normalized_visible(&rows, &[]);
    let vocab = model.tokenizer.vocab.genes();
    let mut calls = Vec::new();
    let mut cols = Vec::new();
    for (j, g) in vocab.iter().enumerate() {
        if j == target_pos as usize || cells.coverage.missing.iter().any(|m| m == g) {
            continue;
        }
        let v = x.column(j).to_vec();
        let threshold = cfg.binarize.threshold(&v)?;
        let on = v.iter().filter(|&&a| a > threshold).count() as f64 / n as f64;
        calls.push(GeneCall {
            gene: g.clone(),
            threshold,
            on_fraction: on,
        });
        cols.push(j);
    }
    let states = Array2::from_shape_fn((n, cols.len()), |(i, c)| {
        if x[(i, cols[c])] > calls[c].threshold {
            1.0
        } else {
            0.0
        }
    });
    let gene_names: Vec<String> = calls.iter().map(|c| c.gene.clone()).collect();
    let explain = cfg.explain.clone().seed(cfg.seed);

    // Units.
    let mut units = Vec::new();
    for layer in &layers {
        let a = layer_matrix(layer)?.mapv(f64::from);
        let names: Vec<String> = (0..a.ncols()).map(|k| format!("{layer}[{k}]")).collect();
        units.extend(explain_units(
            states.view(),
            &gene_names,
            a.view(),
            &names,
            &explain,
        )?);
    }

    // Dictionary.
    let dictionary = match &cfg.sae_layer {
        None => None,
        Some(l) => {
            let layer = if l.is_empty() {
                format!("blocks.{}.resid", model.config.n_layers.saturating_sub(1))
            } else {
                l.clone()
            };
            let a = layer_matrix(&layer)?;
            let mut p = cfg.sae.clone().seed(cfg.seed);
            if p.n_features == 0 {
                p.n_features = 4 * a.ncols();
            }
            let sae = p.fit(a.view(), device)?;
            let firing = cfg.feature_firing;
            let codes = sae.encode(a.view())?.mapv(|v| match (firing, v > 0.0) {
                (true, true) => 1.0,
                (true, false) => 0.0,
                (false, _) => f64::from(v),
            });
            let names: Vec<String> = (0..codes.ncols()).map(|k| format!("sae[{k}]")).collect();
            let features =
                explain_units(states.view(), &gene_names, codes.view(), &names, &explain)?;
            Some(DictionaryReport {
                layer,
                sae,
                features,
            })
        }
    };
    Ok(ActivationReport {
        model: String::new(),
        data: String::new(),
        target: cfg.target.clone(),
        n_cells: n,
        genes: calls,
        units,
        dictionary,
        config: cfg.clone(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// One line per explained rule: `R² kind [gate] rule`.
fn rules_text(rules: &[UnitRule]) -> String {
    let mut s = String::new();
    for u in rules {
        if matches!(
            u.kind,
            UnitKind::Dead | UnitKind::Rare | UnitKind::Unexplained
        ) {
            continue;
        }
        let gate = u
            .gate
            .as_ref()
            .map(|g| format!(" [{}]", g.name))
            .unwrap_or_default();
        s.push_str(&format!(
            "R2={}\t{}{}\t{}\n",
            r2_text(u),
            u.kind.as_str(),
            gate,
            u.rule.text(3)
        ));
    }
    s
}

/// The R² rules are ranked by: held-out where there is one.
fn ranking_r2(u: &UnitRule) -> f64 {
    u.heldout_r2.unwrap_or(u.r2)
}

/// `0.950` or `0.950 (held out 0.941)`.
fn r2_text(u: &UnitRule) -> String {
    match u.heldout_r2 {
        Some(h) => format!("{:.3} (held out {h:.3})", u.r2),
        None => format!("{:.3}", u.r2),
    }
}

fn kind_counts(rules: &[UnitRule]) -> [usize; 5] {
    let mut c = [0usize; 5];
    for u in rules {
        c[match u.kind {
            UnitKind::Dead | UnitKind::Rare => 0,
            UnitKind::Unexplained => 1,
            UnitKind::SingleGene => 2,
            UnitKind::Additive => 3,
            UnitKind::Interaction => 4,
        }] += 1;
    }
    c
}

impl ActivationReport {
    /// Units and features whose gate is XOR or XNOR, best held-out R² first (in-sample R²
    /// without a held-out share).
    pub fn xor_rules(&self) -> Vec<&UnitRule> {
        let mut v: Vec<&UnitRule> = self
            .units
            .iter()
            .chain(self.dictionary.iter().flat_map(|d| &d.features))
            .filter(|u| {
                u.gate
                    .as_ref()
                    .is_some_and(|g| g.op == "XOR" || g.op == "XNOR")
            })
            .collect();
        v.sort_by(|a, b| ranking_r2(b).total_cmp(&ranking_r2(a)));
        v
    }

    /// A short Markdown summary: counts by kind per layer, the dictionary's fit, and the best
    /// interaction rules.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# Rules from activations (route 2)\n\nModel {}, data {}: activations at the masked {} token of {} cells; {} binarised candidate genes. {:.1} s.\n\n",
            markdown_code(&self.model),
            markdown_code(&self.data),
            markdown_code(&self.target),
            self.n_cells,
            self.genes.len(),
            self.seconds
        );
        s.push_str("| units | n | dead or rare | unexplained | single gene | additive | interaction |\n|---|---|---|---|---|---|---|\n");
        let mut groups: Vec<(String, Vec<UnitRule>)> = Vec::new();
        for u in &self.units {
            let layer = u.unit.split('[').next().unwrap_or("").to_string();
            match groups.last_mut() {
                Some((l, v)) if *l == layer => v.push(u.clone()),
                _ => groups.push((layer, vec![u.clone()])),
            }
        }
        if let Some(d) = &self.dictionary {
            groups.push((format!("dictionary on {}", d.layer), d.features.clone()));
        }
        for (layer, v) in &groups {
            let c = kind_counts(v);
            s.push_str(&format!(
                "| {layer} | {} | {} | {} | {} | {} | {} |\n",
                v.len(),
                c[0],
                c[1],
                c[2],
                c[3],
                c[4]
            ));
        }
        if let Some(d) = &self.dictionary {
            let m: &SaeMetrics = &d.sae.metrics;
            s.push_str(&format!(
                "\nDictionary: {} features on `{}` (width {}), L1 {}, {} steps: fraction of variance unexplained {:.3}, mean L0 {:.2}, {} dead features.\n",
                d.sae.n_features(),
                d.layer,
                d.sae.d_input(),
                d.sae.params.l1,
                d.sae.params.steps,
                m.fvu,
                m.mean_l0,
                m.n_dead
            ));
        }
        let xor = self.xor_rules();
        s.push_str(&format!(
            "\n## XOR / XNOR gates ({} units or features)\n\n",
            xor.len()
        ));
        if !xor.is_empty() {
            s.push_str("| unit | R² | gate | corners (00, 01, 10, 11) | rule (standardised) |\n|---|---|---|---|---|\n");
            for u in xor.iter().take(15) {
                if let Some(g) = &u.gate {
                    s.push_str(&format!(
                        "| {} | {} | {} | {:.2}, {:.2}, {:.2}, {:.2} | {} |\n",
                        markdown(&u.unit),
                        r2_text(u),
                        markdown(&g.name),
                        g.corners[0],
                        g.corners[1],
                        g.corners[2],
                        g.corners[3],
                        markdown(&u.rule.text(3))
                    ));
                }
            }
        }
        let mut inter: Vec<&UnitRule> = self
            .units
            .iter()
            .chain(self.dictionary.iter().flat_map(|d| &d.features))
            .filter(|u| u.kind == UnitKind::Interaction)
            .collect();
        inter.sort_by(|a, b| ranking_r2(b).total_cmp(&ranking_r2(a)));
        s.push_str("\n## Best interaction rules\n\n| unit | R² | gate | rule (standardised) |\n|---|---|---|---|\n");
        for u in inter.iter().take(15) {
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                markdown(&u.unit),
                r2_text(u),
                markdown(u.gate.as_ref().map_or("", |g| g.name.as_str())),
                markdown(&u.rule.text(3))
            ));
        }
        s
    }
}

/// Writes `units.json`, `units.txt`, `genes.json`, `summary.md` and, with a dictionary,
/// `features.json`, `features.txt` and `sae.safetensors` into `dir` (created if needed), each
/// atomically. Returns the paths written.
///
/// # Errors
/// [`Error::Io`] naming the path; [`Error::Json`].
pub fn write_activation_report(r: &ActivationReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            dir.join("units.json"),
            serde_json::to_vec_pretty(&serde_json::json!({
                "model": r.model,
                "data": r.data,
                "target": r.target,
                "n_cells": r.n_cells,
                "settings": r.config,
                "units": r.units,
            }))?,
        ),
        (dir.join("units.txt"), rules_text(&r.units).into_bytes()),
        (dir.join("genes.json"), serde_json::to_vec_pretty(&r.genes)?),
        (dir.join("summary.md"), r.markdown().into_bytes()),
    ];
    let mut written = Vec::new();
    if let Some(d) = &r.dictionary {
        files.push((
            dir.join("features.json"),
            serde_json::to_vec_pretty(&serde_json::json!({
                "layer": d.layer,
                "params": d.sae.params,
                "metrics": d.sae.metrics,
                "features": d.features,
            }))?,
        ));
        files.push((
            dir.join("features.txt"),
            rules_text(&d.features).into_bytes(),
        ));
        let p = dir.join("sae.safetensors");
        d.sae.save(&p)?;
        written.push(p);
    }
    for (path, bytes) in files {
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}
