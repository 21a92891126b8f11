//! [`BrainParams`]: what the synthetic brain generator can be asked for, with defaults.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The four cell types of the synthetic brain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellType {
    /// Neurons: RBFOX3, SLC17A7, STMN2 and a high synaptic programme.
    Neuron,
    /// Astrocytes: GFAP, AQP4, ALDH1L1, SLC1A3.
    Astrocyte,
    /// Oligodendrocytes: MBP, PLP1, MOG, MAG.
    Oligodendrocyte,
    /// Microglia: CX3CR1, P2RY12, C1QA, CSF1R.
    Microglia,
}

impl CellType {
    /// All types, in the order used by [`PerType`] and the generator.
    pub const ALL: [CellType; 4] = [
        CellType::Neuron,
        CellType::Astrocyte,
        CellType::Oligodendrocyte,
        CellType::Microglia,
    ];

    /// The label written to the `cell_type` obs column.
    pub fn name(self) -> &'static str {
        match self {
            CellType::Neuron => "neuron",
            CellType::Astrocyte => "astrocyte",
            CellType::Oligodendrocyte => "oligodendrocyte",
            CellType::Microglia => "microglia",
        }
    }

    /// The type's master marker, the first of [`CellType::markers`] (RBFOX3, GFAP, MBP,
    /// CX3CR1): the one a transitional cell keeps at full rate.
    pub fn master_marker(self) -> &'static str {
        self.markers()[0].0
    }

    /// Position in [`CellType::ALL`].
    pub fn index(self) -> usize {
        match self {
            CellType::Neuron => 0,
            CellType::Astrocyte => 1,
            CellType::Oligodendrocyte => 2,
            CellType::Microglia => 3,
        }
    }

    /// The type's dedicated marker genes with their expected count in a cell of the type at the
    /// median library size (outside the type they are at an ambient level, see
    /// [`super::MARKER_AMBIENT`]). SNAP25, a pan-neuronal marker too, belongs to the synaptic
    /// module and is neuron-enriched through it.
    pub fn markers(self) -> &'static [(&'static str, f64)] {
        match self {
            CellType::Neuron => &[("RBFOX3", 12.0), ("SLC17A7", 8.0), ("STMN2", 15.0)],
            CellType::Astrocyte => &[
                ("GFAP", 20.0),
                ("AQP4", 10.0),
                ("ALDH1L1", 6.0),
                ("SLC1A3", 12.0),
            ],
            CellType::Oligodendrocyte => {
                &[("MBP", 40.0), ("PLP1", 50.0), ("MOG", 8.0), ("MAG", 6.0)]
            }
            CellType::Microglia => &[
                ("CX3CR1", 8.0),
                ("P2RY12", 10.0),
                ("C1QA", 15.0),
                ("CSF1R", 6.0),
            ],
        }
    }
}

/// One value per cell type (proportions, offsets), serialised with the type names as keys.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerType<T> {
    /// Value for neurons.
    pub neuron: T,
    /// Value for astrocytes.
    pub astrocyte: T,
    /// Value for oligodendrocytes.
    pub oligodendrocyte: T,
    /// Value for microglia.
    pub microglia: T,
}

impl<T: Copy> PerType<T> {
    /// The value for `t`.
    pub fn get(&self, t: CellType) -> T {
        match t {
            CellType::Neuron => self.neuron,
            CellType::Astrocyte => self.astrocyte,
            CellType::Oligodendrocyte => self.oligodendrocyte,
            CellType::Microglia => self.microglia,
        }
    }
    /// The values in [`CellType::ALL`] order.
    pub fn to_array(&self) -> [T; 4] {
        [
            self.neuron,
            self.astrocyte,
            self.oligodendrocyte,
            self.microglia,
        ]
    }
}

/// The latent model of the synaptic and mitochondrial modules, calibrated so that the
/// [`super::module_spearman`] figures over 30,000 default cells are ≈ +0.30 (within synaptic),
/// ≈ 0.00 (within mitochondrial) and ≈ +0.26 (between); see the module docs for the mechanism.
///
/// All rates are expected counts at the median library size; `*_sd` are standard deviations on
/// the natural-log scale; dispersions are negative-binomial `alpha` (variance `mu + alpha mu²`).
/// Changing these values changes the correlations: the defaults are the calibrated ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModuleModel {
    /// Mean synaptic activity `S` per cell type (neurons 0, glia lower: synaptic genes are
    /// neuron-enriched).
    pub activity_offset: PerType<f64>,
    /// Cell-to-cell standard deviation of `S` within a type.
    pub activity_sd: f64,
    /// Gene-specific (per cell, per synaptic gene) log-scale variation around `S`.
    pub synaptic_gene_sd: f64,
    /// Rate of each synaptic gene (order of [`super::SYNAPTIC_GENES`]) at `S = 0`.
    pub synaptic_rates: Vec<f64>,
    /// NB dispersion of the synaptic genes.
    pub synaptic_dispersion: f64,
    /// Log-scale slope of the mitochondrial load on the cell's synaptic programme
    /// `Λ = mean over synaptic genes of (S + gene-specific term)`.
    pub mito_load: f64,
    /// Standard deviation of the competitive (log-ratio, sum-zero) split of the load among the
    /// mitochondrial genes.
    pub mito_split_sd: f64,
    /// Independent per-gene log-scale variation of the mitochondrial genes.
    pub mito_gene_sd: f64,
    /// Rate of each mitochondrial gene (order of [`super::MITO_GENES`]) at `Λ = 0`.
    pub mito_rates: Vec<f64>,
    /// NB dispersion of the mitochondrial genes.
    pub mito_dispersion: f64,
}

impl Default for ModuleModel {
    fn default() -> Self {
        ModuleModel {
            activity_offset: PerType {
                neuron: 0.0,
                astrocyte: -1.0,
                oligodendrocyte: -1.0,
                microglia: -1.0,
            },
            activity_sd: 0.55,
            synaptic_gene_sd: 0.85,
            synaptic_rates: vec![12.0, 14.0, 20.0, 12.0, 8.0, 8.0, 10.0, 18.0, 9.0, 11.0],
            synaptic_dispersion: 0.1,
            mito_load: 0.75,
            mito_split_sd: 1.06,
            mito_gene_sd: 0.45,
            mito_rates: vec![60.0, 45.0, 80.0, 55.0],
            mito_dispersion: 0.02,
        }
    }
}

impl ModuleModel {
    fn validate(&self) -> Result<()> {
        for t in CellType::ALL {
            finite("modules.activity_offset", self.activity_offset.get(t))?;
        }
        for (name, v) in [
            ("modules.activity_sd", self.activity_sd),
            ("modules.synaptic_gene_sd", self.synaptic_gene_sd),
            ("modules.synaptic_dispersion", self.synaptic_dispersion),
            ("modules.mito_load", self.mito_load),
            ("modules.mito_split_sd", self.mito_split_sd),
            ("modules.mito_gene_sd", self.mito_gene_sd),
            ("modules.mito_dispersion", self.mito_dispersion),
        ] {
            non_negative(name, v)?;
        }
        check_rates(
            "modules.synaptic_rates",
            &self.synaptic_rates,
            super::SYNAPTIC_GENES.len(),
        )?;
        check_rates(
            "modules.mito_rates",
            &self.mito_rates,
            super::MITO_GENES.len(),
        )?;
        Ok(())
    }
}

/// Parameters of [`super::generate`].
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `n_cells` | 30,000 | cells (rows) | ≥ 1 |
/// | `n_background_genes` | 2,000 | genes outside the modelled modules | any |
/// | `proportions` | 0.42 / 0.38 / 0.12 / 0.08 | neuron / astrocyte / oligodendrocyte / microglia shares | ≥ 0, sum 1 (±1e-6) |
/// | `stimulated_fraction` | 0.5 | share of cells with `condition = stimulated` | [0, 1] |
/// | `seed` | 0 | every random draw | any |
/// | `library_median` | 5,000 | median library size (UMIs per cell) | > 0 |
/// | `library_sdlog` | 0.4 | log-normal spread of library sizes | ≥ 0 |
/// | `dispersion` | 0.3 | NB `alpha` of background, marker and immediate-early genes | ≥ 0 |
/// | `background_program_fraction` | 0.25 | share of background genes that differ by cell type | [0, 1] |
/// | `modules` | calibrated | synaptic / mitochondrial latent model ([`ModuleModel`]) | see there |
/// | `transitional_fraction` | 0 | share of cells in a transitional neuron–astrocyte state that co-expresses RBFOX3 and GFAP | [0, 1] |
/// | `gate` | the plain gate | harder variants of the XOR gate ([`GateOptions`]) | see there |
///
/// **Options that make the probes discriminate** (all off by default, so the default brain and
/// its calibration do not move): a transitional state in which the two markers are co-expressed
/// (so their XOR is not the OR of two cell types, and a method that reads cell type linearly
/// is wrong on those cells) and harder gates ([`GateOptions`]).
///
/// **Why these proportions.** The downstream XOR probe binarises RBFOX3 and GFAP at their 0.6
/// quantile (`x > q`) and takes the XOR. That binarisation means "is a neuron" / "is an
/// astrocyte" only when the 0.6 quantile falls at the boundary between the type's cells and the
/// rest, i.e. when the type makes up about 40 % of cells: with 42 % neurons the RBFOX3
/// threshold sits at the bottom of the neuron mode (≈ 95 % of neurons are above it, no other
/// cell is), and with 38 % astrocytes the GFAP threshold sits at the top of the non-astrocytes
/// (62 % of cells, almost all with no GFAP), so ≈ 98 % of cells get the label of their type. With
/// a rarer type (say 20 %) the threshold would fall inside the "off" cells and binarise noise.
///
/// # Errors
/// [`BrainParams::validate`] returns [`Error::InvalidParam`] naming the first bad field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrainParams {
    /// Number of cells.
    pub n_cells: usize,
    /// Number of background genes (named `BG00001`, ...), which carry no module structure.
    pub n_background_genes: usize,
    /// Cell-type proportions (exact: counts are rounded by largest remainder, then shuffled).
    pub proportions: PerType<f64>,
    /// Share of cells in the `stimulated` condition (drawn per cell).
    pub stimulated_fraction: f64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Median library size (total UMIs per cell).
    pub library_median: f64,
    /// Standard deviation of the log library size.
    pub library_sdlog: f64,
    /// Negative-binomial dispersion `alpha` (variance `mu + alpha mu²`) of the background,
    /// marker and immediate-early genes. The calibrated modules and the network use their own.
    pub dispersion: f64,
    /// Share of background genes with a cell-type-specific expression level (so that cell types
    /// separate in PCA as in real data).
    pub background_program_fraction: f64,
    /// Latent model of the synaptic and mitochondrial modules.
    pub modules: ModuleModel,
    /// Share of cells (exact, a seeded subset of all types) in a transitional state between
    /// neuron and astrocyte: both master markers ([`CellType::master_marker`]) at their full
    /// rate, every other expression level half-way between the neuron's and the astrocyte's on
    /// the log scale (other markers, background programmes, synaptic activity), as along a
    /// differentiation trajectory. Such a cell lies between the two types in every visible
    /// gene, so any linear reading of the markers puts it half-way, while its markers are both
    /// HIGH. Its `cell_type` label is `transitional`.
    pub transitional_fraction: f64,
    /// Harder variants of the XOR gate.
    pub gate: GateOptions,
    /// Inputs of an extra parity gate (0: none). With `n ≥ 2`, switches `TFP1`…`TFPn` (ON with
    /// probability 0.5, as the other switches) and the target
    /// [`TGPARITY`](super::PARITY_GATE), ON when an odd number of them is ON, are added to the
    /// network. With three or more inputs no pair of genes carries any information about the
    /// target, so methods limited to pairwise interactions score chance.
    pub parity_inputs: usize,
    /// Adds the Simpson module ([`SIMPSON_A`](super::SIMPSON_A), [`SIMPSON_B`](super::SIMPSON_B)):
    /// two groups of genes whose between-group correlation is positive over all cells (both
    /// follow the cell type) and negative within every cell type (a per-cell factor raises one
    /// group and lowers the other), so a method that reproduces pooled correlations through the
    /// cell type alone gets the within-type sign wrong.
    pub simpson: bool,
}

/// Harder variants of the XOR gate `TGXOR = TFA xor TFB` (the defaults are the plain gate).
///
/// | Name | Default | Effect |
/// |---|---|---|
/// | `p_on` | 0.5 | P(ON) of each input; away from 0.5 the inputs are unbalanced and the target correlates with them |
/// | `input_amplitude` | 30 | added expected count of an ON input; small values overlap its OFF level (0.5), so the inputs are noisy readouts of their states |
/// | `flip` | 0 | probability that the target's state is the opposite of its rule (noise no input explains) |
/// | `cell_type` | none | the gate is active in this cell type only (OFF elsewhere, transitional cells included) |
///
/// The ground truth's rule table keeps the plain gate's forms (`TGXOR = TFA + TFB − 2 TFA·TFB`):
/// with `cell_type` set it holds in that type only, with `flip` up to the flipped cells. The
/// truth's `params` say which options were on, and `obs` carries each cell's `rule_TGXOR`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateOptions {
    /// P(ON) of the inputs TFA and TFB.
    pub p_on: f64,
    /// Added expected count of TFA and TFB when ON, at the median library.
    pub input_amplitude: f64,
    /// Probability that the output contradicts the rule.
    pub flip: f64,
    /// The only cell type in which the gate is active.
    pub cell_type: Option<CellType>,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            p_on: 0.5,
            input_amplitude: 30.0,
            flip: 0.0,
            cell_type: None,
        }
    }
}

impl GateOptions {
    fn validate(&self) -> Result<()> {
        if !(self.p_on.is_finite() && self.p_on > 0.0 && self.p_on < 1.0) {
            return Err(Error::param("gate.p_on", self.p_on, "must be in (0, 1)"));
        }
        non_negative("gate.input_amplitude", self.input_amplitude)?;
        unit("gate.flip", self.flip)
    }
}

impl Default for BrainParams {
    fn default() -> Self {
        BrainParams {
            n_cells: 30_000,
            n_background_genes: 2_000,
            proportions: PerType {
                neuron: 0.42,
                astrocyte: 0.38,
                oligodendrocyte: 0.12,
                microglia: 0.08,
            },
            stimulated_fraction: 0.5,
            seed: 0,
            library_median: 5_000.0,
            library_sdlog: 0.4,
            dispersion: 0.3,
            background_program_fraction: 0.25,
            modules: ModuleModel::default(),
            transitional_fraction: 0.0,
            gate: GateOptions::default(),
            parity_inputs: 0,
            simpson: false,
        }
    }
}

impl BrainParams {
    /// Sets `n_cells`.
    pub fn n_cells(mut self, n: usize) -> Self {
        self.n_cells = n;
        self
    }
    /// Sets `n_background_genes`.
    pub fn n_background_genes(mut self, n: usize) -> Self {
        self.n_background_genes = n;
        self
    }
    /// Sets the cell-type proportions.
    pub fn proportions(mut self, p: PerType<f64>) -> Self {
        self.proportions = p;
        self
    }
    /// Sets `stimulated_fraction`.
    pub fn stimulated_fraction(mut self, f: f64) -> Self {
        self.stimulated_fraction = f;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets the library-size distribution (median and log-scale spread).
    pub fn library_size(mut self, median: f64, sdlog: f64) -> Self {
        self.library_median = median;
        self.library_sdlog = sdlog;
        self
    }
    /// Sets `transitional_fraction`.
    pub fn transitional_fraction(mut self, f: f64) -> Self {
        self.transitional_fraction = f;
        self
    }
    /// Sets the gate variant.
    pub fn gate(mut self, gate: GateOptions) -> Self {
        self.gate = gate;
        self
    }
    /// Sets `parity_inputs`.
    pub fn parity_inputs(mut self, n: usize) -> Self {
        self.parity_inputs = n;
        self
    }
    /// Sets `simpson`.
    pub fn simpson(mut self, on: bool) -> Self {
        self.simpson = on;
        self
    }
    /// Sets the NB dispersion of background, marker and immediate-early genes.
    pub fn dispersion(mut self, alpha: f64) -> Self {
        self.dispersion = alpha;
        self
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        if self.n_cells == 0 {
            return Err(Error::param("n_cells", 0, "must be at least 1"));
        }
        if self.n_cells > u32::MAX as usize {
            return Err(Error::param("n_cells", self.n_cells, "at most 2^32 - 1"));
        }
        if self.n_background_genes > 10_000_000 {
            return Err(Error::param(
                "n_background_genes",
                self.n_background_genes,
                "at most 10,000,000",
            ));
        }
        let p = self.proportions.to_array();
        for (t, &v) in CellType::ALL.iter().zip(&p) {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::param(
                    "proportions",
                    format!("{} = {v}", t.name()),
                    "each proportion must be finite and >= 0",
                ));
            }
        }
        let sum: f64 = p.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(Error::param(
                "proportions",
                format!("{p:?} (sum {sum})"),
                "must sum to 1",
            ));
        }
        unit("stimulated_fraction", self.stimulated_fraction)?;
        if !(self.library_median.is_finite() && self.library_median > 0.0) {
            return Err(Error::param(
                "library_median",
                self.library_median,
                "must be finite and > 0",
            ));
        }
        non_negative("library_sdlog", self.library_sdlog)?;
        if self.library_sdlog > 3.0 {
            return Err(Error::param(
                "library_sdlog",
                self.library_sdlog,
                "at most 3 (a 20-fold spread per standard deviation)",
            ));
        }
        non_negative("dispersion", self.dispersion)?;
        unit(
            "background_program_fraction",
            self.background_program_fraction,
        )?;
        unit("transitional_fraction", self.transitional_fraction)?;
        self.gate.validate()?;
        let max = super::network::MAX_PARITY_INPUTS;
        if self.parity_inputs == 1 || self.parity_inputs > max {
            return Err(Error::param(
                "parity_inputs",
                self.parity_inputs,
                format!("0 (no parity gate) or 2 to {max}"),
            ));
        }
        self.modules.validate()
    }
}

fn finite(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be finite"))
    }
}

fn non_negative(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be finite and >= 0"))
    }
}

fn unit(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::param(name, v, "must be in [0, 1]"))
    }
}

fn check_rates(name: &'static str, rates: &[f64], n: usize) -> Result<()> {
    if rates.len() != n {
        return Err(Error::param(
            name,
            format!("{} values", rates.len()),
            format!("needs one rate per gene ({n})"),
        ));
    }
    if let Some(r) = rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
        return Err(Error::param(name, r, "every rate must be finite and > 0"));
    }
    Ok(())
}
