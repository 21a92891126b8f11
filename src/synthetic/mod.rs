//! The synthetic brain: a deterministic, seeded generator of single-cell expression with a known
//! regulatory network (the ground truth every gene-side result is scored against).
//!
//! [`generate`] returns raw UMI counts (cells × genes, sparse) for four cell types with marker
//! genes, a synaptic module and mitochondrial genes with calibrated correlations, stimulus
//! induced immediate-early genes, an explicit regulatory network (XOR, AND, AND-NOT and linear
//! rules) among background genes, and a [`GroundTruth`] that says all of it.
//! [`simulate_timecourse`] runs the same network as Hill-kinetics ODEs.
//!
//! ```
//! use cellsindy::synthetic::{generate, BrainParams};
//! let brain = generate(&BrainParams::default().n_cells(200).n_background_genes(50).seed(7))?;
//! let rule = brain.truth.rule("TGXOR").unwrap();
//! assert_eq!(rule.boolean.as_deref(), Some("TGXOR = (TFA and not TFB) or (TFB and not TFA)"));
//! assert_eq!(rule.polynomial, "TGXOR = TFA + TFB - 2*TFA*TFB");
//! # Ok::<(), cellsindy::Error>(())
//! ```
//!
//! # The count model
//!
//! Cell `c` has a type (exact proportions, shuffled), a condition (`stimulated` with
//! probability `stimulated_fraction`) and a library factor `ℓ = exp(library_sdlog · z)`. Every
//! gene's count is negative binomial with mean `ℓ · rate` (rates are expected counts at the
//! median library) and a dispersion `alpha` (variance `mu + alpha mu²`):
//!
//! | genes | rate | `alpha` |
//! |---|---|---|
//! | markers ([`CellType::markers`]) | fixed in their type, [`MARKER_AMBIENT`] elsewhere | `dispersion` |
//! | synaptic ([`SYNAPTIC_GENES`]) | `r_i · exp(S + σ_e e_i)` | `modules.synaptic_dispersion` |
//! | mitochondrial ([`MITO_GENES`]) | `r_j · exp(β Λ + γ (w_j − w̄) + σ_m m_j)` | `modules.mito_dispersion` |
//! | immediate-early ([`IMMEDIATE_EARLY_GENES`]) | ×6 in stimulated neurons, ×1.5 in stimulated glia, glia at 0.3 | `dispersion` |
//! | network ([`brain_network`]) | `baseline + amplitude · activity` | [`NETWORK_DISPERSION`] |
//! | background (`BG00001`, ...) | log-normal, a share with cell-type programmes, summing to [`BACKGROUND_SHARE`] of the median | `dispersion` |
//!
//! RBFOX3 (neurons) and GFAP (astrocytes) are never both expressed highly in a cell: each is at
//! an ambient 0.01 expected counts outside its type.
//!
//! Two options add genes (both off by default):
//!
//! | option | genes | rate | `alpha` |
//! |---|---|---|---|
//! | [`BrainParams::parity_inputs`] `= n` | `TFP1`…`TFPn`, [`PARITY_GATE`] | as the other switches and gates | [`NETWORK_DISPERSION`] |
//! | [`BrainParams::simpson`] | [`SIMPSON_A`], [`SIMPSON_B`] | `r · exp(τ_type ± γ z + σ ε_i)`: `+` for A, `−` for B, one `z` per cell | `dispersion` |
//!
//! # The synaptic and mitochondrial modules
//!
//! Targets, measured by [`module_spearman`] (mean pairwise Spearman ρ on library-size-normalised
//! values) over 30,000 default cells: **+0.30** within [`SYNAPTIC_GENES`], **0.00** within
//! [`MITO_GENES`], **+0.26** between them.
//!
//! Mechanism ([`ModuleModel`], all on the log scale):
//! - a per-cell **synaptic activity** `S` (higher in neurons: `activity_offset`, plus
//!   `activity_sd · z`) is shared by the synaptic genes, each with its own variation
//!   `σ_e e_i`; the shared part sets the within-synaptic correlation;
//! - the **mitochondrial load** follows the cell's synaptic programme,
//!   `Λ = mean_i (S + σ_e e_i)` (the energy demand of the synaptic machinery), with slope `β`;
//!   this is the between-group correlation;
//! - the load is **split competitively** among the MT genes: `γ (w_j − w̄)` with `w` i.i.d.
//!   normal is a sum-zero log-ratio composition (logistic-normal), whose pairwise covariance
//!   `−γ²/K` cancels the `+β² var Λ` the shared load induces, so MT genes are mutually
//!   uncorrelated on average while each follows the synaptic programme;
//! - `σ_m m_j` is per-gene noise that brings the between-group figure from its ceiling
//!   (≈ 0.30 here) down to 0.26.
//!
//! Library-size normalisation divides by the cell total, which the modules barely move (the
//! background takes 80 % of each library), so it removes `ℓ` without inducing a compositional
//! correlation of its own.
//!
//! **Why only four MT genes.** A correlation matrix is positive semi-definite, so with `a`
//! synaptic and `b` mitochondrial genes the three means must satisfy
//! `a·b·between² ≤ (1 + (a−1)·within_a)(1 + (b−1)·within_b)` (Cauchy–Schwarz on the two
//! groups' sums of standardised ranks). With the targets (0.30, 0.00, 0.26) and `a = 10` this
//! gives `b ≤ 5.47` even for noise-free data (this mechanism reaches that ceiling: its
//! between-group figure is at most `√((0.3 + 0.7/a)/b)`). Eight MT genes (MT-CO1..3,
//! MT-ND1/2/4, MT-ATP6, MT-CYB) could not exceed ≈ 0.215 between; six would be at most 0.248.
//! [`MITO_GENES`] therefore has one gene per respiratory-chain complex (I: MT-ND1, III: MT-CYB,
//! IV: MT-CO1, V: MT-ATP6), which leaves room for sampling noise.
//!
//! # The regulatory network
//!
//! [`brain_network`] lists the nodes; [`GroundTruth`] carries their rules, edges and equations.
//!
//! | target | rule | Boolean form | polynomial form |
//! |---|---|---|---|
//! | `TGXOR` | XOR of two switches | `TGXOR = (TFA and not TFB) or (TFB and not TFA)` | `TGXOR = TFA + TFB - 2*TFA*TFB` |
//! | `TGAND` | AND of two switches | `TGAND = TFC and TFD` | `TGAND = TFC*TFD` |
//! | `TGANDNOT` | activation by TFE, repression by TFF | `TGANDNOT = TFE and not TFF` | `TGANDNOT = TFE - TFE*TFF` |
//! | `TGLIN1` | linear in one level | – | `TGLIN1 = TFG` |
//! | `TGLIN2` | linear in two levels, one repressive | – | `TGLIN2 = 0.4 + 0.6*TFH - 0.4*TFI` |
//! | `TGPARITY` (only with [`BrainParams::parity_inputs`] `= n`) | parity of `n` switches `TFP1`…`TFPn` | `(TFP1 and not TFP2 and …) or …` (the `2^(n−1)` odd assignments) | the sum over non-empty input sets `S` of `(−2)^(size(S) − 1) · Π_{i∈S} TFPi` |
//!
//! The switches `TFA`–`TFF` are ON with probability 0.5, independently in every cell and of
//! everything else (cell type, condition, library size); the levels `TFG`–`TFI` are uniform on
//! [0, 1]. In the polynomial forms, gate variables are binarised states (1 = ON) and linear
//! variables are levels. A gene's expected count at the median library is
//! `baseline + amplitude · activity`: 0.5 + 30 for switches and gates (ON ≈ 30 and OFF ≈ 0.5
//! counts, NB dispersion [`NETWORK_DISPERSION`], so the states are read off the expression
//! almost without error), 1 + 30 for levels and linear targets.
//!
//! Each gate has its own inputs: were the AND gate fed by TFA and TFB too,
//! `XOR = A + B − 2·AND` would be a linear function of other genes and a linear imputation of
//! the XOR target would succeed. The XOR target regulates nothing, for the same reason. With
//! P(on) = 0.5 the XOR target is uncorrelated with each input
//! (`cov(a + b − 2ab, a) = p(1−p)(1−2p) = 0`), so the best linear predictor of it from the other
//! genes is a constant, while the XOR of the two binarised inputs predicts it almost exactly.
//!
//! # Time courses
//!
//! [`simulate_timecourse`] integrates the network as ODEs, `dx/dt = production − decay · x`
//! ([`DynamicTruth`]): inputs are driven by constant controls `u_<gene>` (switches 0/1, levels
//! in [0, 1]), gates combine Hill activations `H(x) = xⁿ/(Kⁿ + xⁿ)` (K = midpoint of the
//! regulator's OFF and ON levels) through the same multilinear forms (XOR: `h₁ + h₂ − 2h₁h₂`,
//! AND: `h₁h₂`, AND-NOT: `h₁(1 − h₂)`), and linear targets have linear production. Steady
//! states reproduce the snapshot model.

mod brain;
mod network;
mod params;
mod sampling;
mod stats;
mod timecourse;
mod truth;

pub use brain::{
    generate, rule_obs, state_obs, CellLatents, SyntheticBrain, BACKGROUND_SHARE, DEFAULT_HILL_N,
    MARKER_AMBIENT, MODULE_TARGETS, TRANSITIONAL,
};
pub use network::{
    brain_network, parity_nodes, DynamicEquation, DynamicTruth, EdgeKind, GateKind, NetworkNode,
    NodeRule, PolyTerm, Production, SignedEdge, TargetRule, MAX_PARITY_INPUTS, NETWORK_DISPERSION,
    PARITY_GATE, XOR_GATE, XOR_INPUTS,
};
pub use params::{BrainParams, CellType, GateOptions, ModuleModel, PerType};
pub use stats::{module_spearman, module_spearman_with_totals, ModuleCorrelations};
pub use timecourse::{simulate_timecourse, TimeCourse, TimeCourseParams};
pub use truth::{GeneGroups, GroundTruth};

/// The synaptic module: genes of the presynaptic vesicle cycle and the postsynaptic density that
/// share the per-cell synaptic activity.
pub const SYNAPTIC_GENES: [&str; 10] = [
    "SYN1", "SYP", "SNAP25", "SYT1", "DLG4", "SYN2", "STX1A", "VAMP2", "SYNGR1", "CPLX1",
];

/// The mitochondrially encoded genes, one per respiratory-chain complex (see the module docs
/// for why four).
pub const MITO_GENES: [&str; 4] = ["MT-ND1", "MT-CYB", "MT-CO1", "MT-ATP6"];

/// The Simpson module's group A ([`BrainParams::simpson`]).
pub const SIMPSON_A: [&str; 3] = ["SMPA1", "SMPA2", "SMPA3"];

/// The Simpson module's group B ([`BrainParams::simpson`]).
pub const SIMPSON_B: [&str; 3] = ["SMPB1", "SMPB2", "SMPB3"];

/// Immediate-early genes with their expected count in control neurons at the median library;
/// induced in the `stimulated` condition.
pub const IMMEDIATE_EARLY_GENES: [(&str, f64); 5] = [
    ("FOS", 2.0),
    ("ARC", 1.0),
    ("EGR1", 3.0),
    ("NPAS4", 0.5),
    ("JUNB", 2.0),
];
