//! Probes: what does the non-linear model capture that PCA cannot?
//!
//! Two evaluations, each run on the same held-out cells for every method (the model, and the
//! baselines of [`crate::baselines`]: PCA, linear regression of the masked genes on the
//! visible ones, and the non-linear kNN, random-forest, MLP, conditional-Gaussian and
//! pairwise-logistic methods), each table ending with the model's margin over the *best*
//! baseline ([`Comparison`]):
//!
//! - **Covariance probe** ([`covariance`]): mean pairwise Spearman ρ within a gene group A
//!   (default: the synaptic module), within a group B (default: the mitochondrial genes) and
//!   between them, on the real values and on values imputed with all those genes masked. Each
//!   figure is read as a sign with a dead zone (`|ρ| < dead_zone` is "0"); the score is the
//!   fraction of the three signs that match. The model is scored twice: expected-value
//!   imputation (which inflates correlations: every masked gene is pulled towards what the
//!   context predicts) and a joint draw from its predictive distribution
//!   ([`crate::nn::infer::impute_joint`]).
//! - **XOR probes** ([`xor`]): two markers (default RBFOX3, GFAP) binarised and XOR-ed, both
//!   masked, `p_xor = p₁(1−p₂) + p₂(1−p₁)` from each method's probability of HIGH; and an
//!   XOR-gate gene (default TGXOR of the synthetic brain) masked alone and predicted from
//!   everything else, which a linear method cannot do.
//!
//! Beside the methods, each table carries references that bound them: the observed values and,
//! where the data carry the simulator's latent states in `obs`, a **Bayes ceiling**
//! ([`ceiling`]): the score of a predictor that knows those states. Each ρ has a bootstrap
//! interval over the scored cells ([`CovarianceScoring::rho_intervals`]).
//!
//! [`mod@spearman`] is the fast rank-correlation kernel used by both; [`report`] holds the report
//! types and their Markdown rendering. The orchestration (reading a checkpoint and data,
//! splitting, fitting the baselines) is the `cellsindy-cli` crate's probe workflow.

pub mod ceiling;
pub mod covariance;
pub mod report;
pub mod spearman;
pub mod xor;

pub use ceiling::{state_keys, state_oracle};
pub use covariance::{matrix_error, CovarianceScoring, MethodCovariance, Role, Sign};
pub use report::{Comparison, CovarianceReport, ProbeReport, XorMethod, XorReport};
pub use spearman::{
    group_means, mean_pairwise_spearman, mean_spearman, spearman, spearman_in, spearman_within,
    GroupCorrelations, SpearmanMatrix,
};
pub use xor::{
    bin_threshold, roc_curve, score_binary, xor_probability, Binarize, BinaryScores, Logistic1d,
};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::synthetic::{MITO_GENES, SYNAPTIC_GENES};

/// What the probes ask about, and how. Defaults are the synthetic brain's genes.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `group_a` | [`SYNAPTIC_GENES`] | covariance probe, group A | ≥ 2 genes |
/// | `group_a_name` | `"synaptic"` | its name in reports | |
/// | `group_b` | [`MITO_GENES`] | covariance probe, group B | ≥ 2 genes, disjoint from A |
/// | `group_b_name` | `"mitochondrial"` | its name in reports | |
/// | `dead_zone` | 0.05 | `|ρ|` below this is the sign "0" | ≥ 0 |
/// | `markers` | `["RBFOX3", "GFAP"]` | XOR probe's two markers | two distinct genes |
/// | `marker_rule` | `Quantile { q: 0.6 }` | how a marker is called HIGH (over the scored cells) | |
/// | `gate` | `"TGXOR"` | XOR-gate probe's gene (masked alone) | |
/// | `gate_rule` | `TwoMeans` | how the gate is called ON (a cut between its modes) | |
/// | `n_components` | 20 | PCA components | ≥ 1 |
/// | `max_cells` | 0 | held-out cells scored, a seeded uniform sample (0 = all) | |
/// | `baseline_cells` | 10,000 | training cells the baselines are fitted on, a seeded uniform sample (0 = all): bounds the dense baseline input (cells × vocabulary) on an atlas | |
/// | `nonlinear_baselines` | `true` | also fit kNN, random-forest, MLP and conditional-Gaussian imputers and a pairwise-interaction logistic classifier (off: PCA and linear only) | |
/// | `knn_k` | 15 | neighbours of the kNN imputer | ≥ 1 |
/// | `forest_trees` | 100 | trees per masked gene of the forest imputer | ≥ 1 |
/// | `forest_cells` | 2,000 | training cells the forests are grown on (a seeded sample; 0 = all): a forest costs cells × log cells × √genes per tree | |
/// | `mlp_steps` | 1,500 | Adam steps of the MLP imputer | ≥ 1 |
/// | `joint_steps` | 64 | unmasking rounds of the model's joint draw (≥ the number of covariance genes: exact, one gene per round) | ≥ 1 |
/// | `bootstrap_reps` | 200 | resamples of the cells behind each ρ's 95 % interval (0 = no intervals) | |
/// | `marker_states` | `"cell_type"` | `obs` column of the latent state the markers' Bayes ceiling conditions on (absent from the data: no ceiling row) | |
/// | `gate_states` | `None` = `rule_<gate>` | `obs` column of the gate's latent rule (written by the synthetic brain, [`crate::synthetic::rule_obs`]) | |
/// | `covariance_within` | `None` | `obs` column (e.g. `cell_type`) within whose values every ρ of the covariance probe is taken ([`spearman_within`]); `None`: over all cells | |
/// | `seed` | 0 | contexts, draws, cell samples, randomized SVD | |
/// | `batch_size` | 64 | cells per forward pass | ≥ 1 |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeConfig {
    /// Covariance probe, group A.
    pub group_a: Vec<String>,
    /// Name of group A in reports.
    pub group_a_name: String,
    /// Covariance probe, group B.
    pub group_b: Vec<String>,
    /// Name of group B in reports.
    pub group_b_name: String,
    /// Sign dead zone.
    pub dead_zone: f64,
    /// XOR probe's markers.
    pub markers: [String; 2],
    /// How markers are binarised.
    pub marker_rule: Binarize,
    /// XOR-gate gene.
    pub gate: String,
    /// How the gate is binarised.
    pub gate_rule: Binarize,
    /// PCA components.
    pub n_components: usize,
    /// Held-out cells scored (0 = all).
    pub max_cells: usize,
    /// Training cells the baselines are fitted on (0 = all).
    pub baseline_cells: usize,
    /// Also fit the non-linear baselines.
    pub nonlinear_baselines: bool,
    /// kNN imputer's neighbours.
    pub knn_k: usize,
    /// Trees per masked gene.
    pub forest_trees: usize,
    /// Training cells the forests are grown on (0 = all).
    pub forest_cells: usize,
    /// MLP imputer's Adam steps.
    pub mlp_steps: usize,
    /// Unmasking steps of the joint draw.
    pub joint_steps: usize,
    /// Bootstrap resamples behind each ρ's interval (0 = none).
    pub bootstrap_reps: usize,
    /// `obs` column the markers' Bayes ceiling conditions on.
    pub marker_states: String,
    /// `obs` column the gate's Bayes ceiling conditions on (`None`: `rule_<gate>`).
    pub gate_states: Option<String>,
    /// `obs` column the covariance probe's correlations are taken within (`None`: all cells).
    pub covariance_within: Option<String>,
    /// Seed.
    pub seed: u64,
    /// Cells per forward pass.
    pub batch_size: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            group_a: SYNAPTIC_GENES.iter().map(|s| s.to_string()).collect(),
            group_a_name: "synaptic".into(),
            group_b: MITO_GENES.iter().map(|s| s.to_string()).collect(),
            group_b_name: "mitochondrial".into(),
            dead_zone: 0.05,
            markers: ["RBFOX3".into(), "GFAP".into()],
            marker_rule: Binarize::Quantile { q: 0.6 },
            gate: "TGXOR".into(),
            gate_rule: Binarize::TwoMeans,
            n_components: 20,
            max_cells: 0,
            baseline_cells: 10_000,
            nonlinear_baselines: true,
            knn_k: 15,
            forest_trees: 100,
            forest_cells: 2_000,
            mlp_steps: 1_500,
            joint_steps: 64,
            bootstrap_reps: 200,
            marker_states: "cell_type".into(),
            gate_states: None,
            covariance_within: None,
            seed: 0,
            batch_size: 64,
        }
    }
}

impl ProbeConfig {
    /// Checks the settings (gene names are checked against the model and data later).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        for (name, g) in [("group_a", &self.group_a), ("group_b", &self.group_b)] {
            if g.len() < 2 {
                return Err(Error::param(
                    name,
                    g.len(),
                    "needs at least two genes for a within-group correlation",
                ));
            }
        }
        let all: Vec<&String> = self.group_a.iter().chain(&self.group_b).collect();
        for (i, g) in all.iter().enumerate() {
            if all[..i].contains(g) {
                return Err(Error::param(
                    "group_a/group_b",
                    g,
                    "listed twice (within or across the groups)",
                ));
            }
        }
        if self.markers[0] == self.markers[1] {
            return Err(Error::param(
                "markers",
                &self.markers[0],
                "must be two genes",
            ));
        }
        if !(self.dead_zone.is_finite() && self.dead_zone >= 0.0) {
            return Err(Error::param(
                "dead_zone",
                self.dead_zone,
                "must be finite and >= 0",
            ));
        }
        for (name, rule) in [
            ("marker_rule", self.marker_rule),
            ("gate_rule", self.gate_rule),
        ] {
            if let Binarize::Quantile { q } = rule {
                if !(q > 0.0 && q < 1.0) {
                    return Err(Error::param(name, q, "quantile must be in (0, 1)"));
                }
            }
        }
        if self.n_components == 0 {
            return Err(Error::param("n_components", 0, "must be at least 1"));
        }
        for (name, v) in [
            ("knn_k", self.knn_k),
            ("forest_trees", self.forest_trees),
            ("mlp_steps", self.mlp_steps),
        ] {
            if v == 0 {
                return Err(Error::param(name, 0, "must be at least 1"));
            }
        }
        if self.joint_steps == 0 {
            return Err(Error::param("joint_steps", 0, "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The `obs` column the gate's Bayes ceiling conditions on.
    pub fn gate_state_column(&self) -> String {
        self.gate_states
            .clone()
            .unwrap_or_else(|| crate::synthetic::rule_obs(&self.gate))
    }

    /// Every gene the probes need: group A, group B, the markers, the gate.
    pub fn genes(&self) -> Vec<&str> {
        self.group_a
            .iter()
            .chain(&self.group_b)
            .chain(&self.markers)
            .chain(std::iter::once(&self.gate))
            .map(String::as_str)
            .collect()
    }
}

/// The genes the probes ask about (synaptic and mitochondrial groups, the two markers): the
/// model must have them in its vocabulary, so training includes them (`train
/// --include-genes`).
pub fn probe_genes() -> Vec<String> {
    let p = ProbeConfig::default();
    p.group_a
        .iter()
        .chain(&p.group_b)
        .chain(&p.markers)
        .cloned()
        .collect()
}
