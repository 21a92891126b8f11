//! [`generate`]: cells × genes counts of the synthetic brain, with their ground truth.

use std::collections::BTreeMap;

use ndarray::Array2;
use rand::Rng;
use rayon::prelude::*;

use super::network::{brain_network, compile, edges_and_rules, DynamicTruth, EdgeKind, SignedEdge};
use super::network::{parity_nodes, PARITY_GATE, XOR_GATE, XOR_INPUTS};
use super::network::{NetworkNode, NETWORK_DISPERSION};
use super::params::{BrainParams, CellType, GateOptions};
use super::sampling::{neg_binomial, normal, stream, DOMAIN_CELLS, DOMAIN_DATASET};
use super::stats::ModuleCorrelations;
use super::truth::{GeneGroups, GroundTruth};
use super::{IMMEDIATE_EARLY_GENES, MITO_GENES, SIMPSON_A, SIMPSON_B, SYNAPTIC_GENES};
use crate::error::{Error, Result};
use crate::expression::{CsrMatrix, ExpressionMatrix, GeneTable, ObsColumn, Values};

/// Expected count of a marker gene outside its cell type (ambient RNA), at the median library.
pub const MARKER_AMBIENT: f64 = 0.01;
/// Share of the median library taken by the background genes (the modelled genes take most of
/// the rest).
pub const BACKGROUND_SHARE: f64 = 0.8;
/// Multiplier of immediate-early genes in glia (relative to neurons).
const IEG_GLIA: f64 = 0.3;
/// Fold induction of immediate-early genes in stimulated neurons.
const IEG_STIM_NEURON: f64 = 6.0;
/// Fold induction of immediate-early genes in stimulated glia.
const IEG_STIM_GLIA: f64 = 1.5;
/// Log-scale standard deviation of background gene rates.
const BACKGROUND_RATE_SDLOG: f64 = 1.3;
/// Log-scale standard deviation of cell-type programmes of background genes.
const BACKGROUND_PROGRAM_SDLOG: f64 = 0.8;
/// Expected count of a Simpson-module gene at the median library, before its factors.
const SIMPSON_RATE: f64 = 8.0;
/// Log-scale level of the Simpson module in each cell type (neuron, astrocyte,
/// oligodendrocyte, microglia): both groups follow it, which makes them correlated over all
/// cells.
const SIMPSON_TYPE_LEVEL: [f64; 4] = [1.5, 0.5, -0.5, -1.5];
/// Log-scale weight of the per-cell factor that raises group A and lowers group B (the
/// within-type anti-correlation).
const SIMPSON_WITHIN: f64 = 0.5;
/// Log-scale standard deviation of each Simpson gene's own variation.
const SIMPSON_GENE_SD: f64 = 0.3;
/// Cells per parallel work item.
const CHUNK: usize = 256;

/// A generated dataset: counts, ground truth and the per-cell latent variables behind them.
#[derive(Debug, Clone)]
pub struct SyntheticBrain {
    /// Raw counts (`Values::Sparse`, CSR `f32`), obs columns `cell_type` and `condition`
    /// (categoricals).
    pub matrix: ExpressionMatrix,
    /// How the data were made.
    pub truth: GroundTruth,
    /// Per-cell latent variables (for scoring; not observable in real data).
    pub latent: CellLatents,
}

/// Per-cell latent variables of a [`SyntheticBrain`].
#[derive(Debug, Clone, PartialEq)]
pub struct CellLatents {
    /// Library-size factor `L / library_median` (the realised total differs by sampling and by
    /// the modules).
    pub library_factor: Vec<f64>,
    /// Synaptic activity `S`.
    pub synaptic_activity: Vec<f64>,
    /// Mitochondrial load driver `Λ` (mean of the synaptic genes' log-scale levels).
    pub mito_load: Vec<f64>,
    /// Names of the network nodes, the columns of `network`.
    pub network_genes: Vec<String>,
    /// Activity of each network node in each cell (cells × nodes): 0/1 for switches and gates,
    /// [0, 1] for levels and linear targets.
    pub network: Array2<f32>,
    /// Whether each cell is in the transitional neuron–astrocyte state
    /// ([`BrainParams::transitional_fraction`]).
    pub transitional: Vec<bool>,
    /// The XOR gate's rule on the cell's input states (0/1), after the cell-type restriction
    /// and before the output flip ([`GateOptions`]): all a predictor that knew the inputs'
    /// states could know about the gate, so the gate probe's Bayes ceiling conditions on it.
    pub gate_rule: Vec<f32>,
}

/// Where a column's expected count comes from.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Marker {
        ty: usize,
        rate: f64,
    },
    Synaptic(usize),
    Mito(usize),
    Ieg(f64),
    Network(usize),
    Background(usize),
    /// A Simpson-module gene: its slot among the six (group A's first).
    Simpson(usize),
}

/// Gene layout and per-gene parameters shared by all cells.
struct Layout {
    symbols: Vec<String>,
    kinds: Vec<Kind>,
    /// Background rates per cell type (`[type][k]`).
    bg_rates: [Vec<f64>; 4],
    /// Background rates of a transitional cell: [`log1p_midpoint`] of the neuron's and the
    /// astrocyte's.
    bg_transitional: Vec<f64>,
}

fn layout(p: &BrainParams, net: &[NetworkNode]) -> Layout {
    let mut symbols = Vec::new();
    let mut kinds = Vec::new();
    for t in CellType::ALL {
        for &(s, rate) in t.markers() {
            symbols.push(s.to_string());
            kinds.push(Kind::Marker {
                ty: t.index(),
                rate,
            });
        }
    }
    for (i, s) in SYNAPTIC_GENES.iter().enumerate() {
        symbols.push(s.to_string());
        kinds.push(Kind::Synaptic(i));
    }
    for (i, s) in MITO_GENES.iter().enumerate() {
        symbols.push(s.to_string());
        kinds.push(Kind::Mito(i));
    }
    for &(s, rate) in IMMEDIATE_EARLY_GENES.iter() {
        symbols.push(s.to_string());
        kinds.push(Kind::Ieg(rate));
    }
    if p.simpson {
        for (slot, s) in SIMPSON_A.iter().chain(&SIMPSON_B).enumerate() {
            symbols.push(s.to_string());
            kinds.push(Kind::Simpson(slot));
        }
    }
    // Background block with the network genes spread evenly through it.
    let nb = p.n_background_genes;
    let nn = net.len();
    let width = nb.max(1).to_string().len().max(5);
    let mut next_net = 0;
    for k in 0..=nb {
        // Network gene j goes before background gene floor((j + 1) nb / (nn + 1)).
        while next_net < nn && k == (next_net + 1) * nb / (nn + 1) {
            symbols.push(net[next_net].symbol.clone());
            kinds.push(Kind::Network(next_net));
            next_net += 1;
        }
        if k < nb {
            symbols.push(format!("BG{:0width$}", k + 1));
            kinds.push(Kind::Background(k));
        }
    }
    // Background rates: log-normal, some genes with a cell-type programme, each type's total
    // scaled to BACKGROUND_SHARE of the median library.
    let mut rng = stream(p.seed, DOMAIN_DATASET, 0);
    let mut bg_rates: [Vec<f64>; 4] = Default::default();
    for r in bg_rates.iter_mut() {
        r.reserve(nb);
    }
    for _ in 0..nb {
        let base = (BACKGROUND_RATE_SDLOG * normal(&mut rng)).exp();
        let programmed = rng.random::<f64>() < p.background_program_fraction;
        for r in bg_rates.iter_mut() {
            let lfc = if programmed {
                BACKGROUND_PROGRAM_SDLOG * normal(&mut rng)
            } else {
                0.0
            };
            r.push(base * lfc.exp());
        }
    }
    for r in bg_rates.iter_mut() {
        let total: f64 = r.iter().sum();
        if total > 0.0 {
            let s = BACKGROUND_SHARE * p.library_median / total;
            r.iter_mut().for_each(|v| *v *= s);
        }
    }
    let bg_transitional = bg_rates[CellType::Neuron.index()]
        .iter()
        .zip(&bg_rates[CellType::Astrocyte.index()])
        .map(|(&a, &b)| log1p_midpoint(a, b))
        .collect();
    Layout {
        symbols,
        kinds,
        bg_rates,
        bg_transitional,
    }
}

/// Exact type counts (largest remainder), shuffled with the dataset stream.
fn cell_types(p: &BrainParams) -> Vec<CellType> {
    let n = p.n_cells;
    let props = p.proportions.to_array();
    // Validated to sum to 1 within 1e-6; renormalised so the floors never exceed `n`.
    let sum: f64 = props.iter().sum();
    let raw: Vec<f64> = props.iter().map(|q| q / sum * n as f64).collect();
    let mut counts: Vec<usize> = raw.iter().map(|r| r.floor() as usize).collect();
    let mut left = n.saturating_sub(counts.iter().sum::<usize>());
    let mut order: Vec<usize> = (0..4).collect();
    order.sort_by(|&a, &b| {
        let fa = raw[a] - raw[a].floor();
        let fb = raw[b] - raw[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(8) {
        if left == 0 {
            break;
        }
        if props[i] > 0.0 {
            counts[i] += 1;
            left -= 1;
        }
    }
    let mut types = Vec::with_capacity(n);
    for (t, &c) in CellType::ALL.iter().zip(&counts) {
        types.extend(std::iter::repeat_n(*t, c));
    }
    let mut rng = stream(p.seed, DOMAIN_DATASET, 1);
    for i in (1..types.len()).rev() {
        let j = rng.random_range(0..=i);
        types.swap(i, j);
    }
    types
}

/// The expected count half-way between `a` and `b` on the `log1p` scale that analyses of counts
/// use, `√((1 + a)(1 + b)) − 1`: a transitional cell sits between the two types there (a
/// geometric mean would put a marker at `√(rate · ambient)`, practically off).
fn log1p_midpoint(a: f64, b: f64) -> f64 {
    ((1.0 + a) * (1.0 + b)).sqrt() - 1.0
}

/// Which cells are transitional: an exact, seeded subset of `round(fraction · n)` cells (no
/// draw at all when the fraction is 0, so the default brain is unchanged).
fn transitional_cells(p: &BrainParams) -> Vec<bool> {
    let n = p.n_cells;
    let k = ((p.transitional_fraction * n as f64).round() as usize).min(n);
    let mut out = vec![false; n];
    if k == 0 {
        return out;
    }
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = stream(p.seed, DOMAIN_DATASET, 2);
    for i in 0..k {
        let j = rng.random_range(i..n);
        order.swap(i, j);
        out[order[i]] = true;
    }
    out
}

/// The network with the gate's inputs set as [`GateOptions`] asks (their P(ON) and ON level),
/// and the parity gate appended when asked for.
fn network_with(gate: &GateOptions, parity_inputs: usize) -> Vec<NetworkNode> {
    let mut net = brain_network();
    net.extend(parity_nodes(parity_inputs));
    for node in net
        .iter_mut()
        .filter(|n| XOR_INPUTS.contains(&n.symbol.as_str()))
    {
        if let super::network::NodeRule::Switch { p_on } = &mut node.rule {
            *p_on = gate.p_on;
        }
        node.amplitude = gate.input_amplitude;
    }
    net
}

/// Expected count of marker `symbol` of type `mt` in a cell of type `t` (`transitional`: both
/// master markers on, the neuron's and astrocyte's other markers at the log-space midpoint of
/// on and ambient ([`log1p_midpoint`]), other types' markers ambient).
fn marker_rate(symbol: &str, mt: usize, rate: f64, t: usize, transitional: bool) -> f64 {
    let (neuron, astro) = (CellType::Neuron.index(), CellType::Astrocyte.index());
    if !transitional {
        return if mt == t { rate } else { MARKER_AMBIENT };
    }
    if mt != neuron && mt != astro {
        MARKER_AMBIENT
    } else if symbol == CellType::ALL[mt].master_marker() {
        rate
    } else {
        log1p_midpoint(rate, MARKER_AMBIENT)
    }
}

/// One chunk of cells: local CSR pieces and latents.
struct Chunk {
    row_nnz: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f32>,
    stimulated: Vec<bool>,
    library_factor: Vec<f64>,
    activity: Vec<f64>,
    load: Vec<f64>,
    network: Vec<f32>,
    gate_rule: Vec<f32>,
}

/// Generates the synthetic brain described by `p`.
///
/// Deterministic: every cell draws from its own random stream keyed by `(seed, cell index)`,
/// so the result is the same for any number of rayon threads.
///
/// # Errors
/// [`Error::InvalidParam`] from [`BrainParams::validate`].
///
/// # Example
/// ```
/// use cellsindy::synthetic::{generate, module_spearman, BrainParams, MITO_GENES, SYNAPTIC_GENES};
/// let brain = generate(&BrainParams::default().n_cells(500).n_background_genes(100))?;
/// assert_eq!(brain.matrix.n_cells(), 500);
/// let r = module_spearman(&brain.matrix, &SYNAPTIC_GENES, &MITO_GENES)?;
/// assert!(r.within_a > 0.1);
/// # Ok::<(), cellsindy::Error>(())
/// ```
pub fn generate(p: &BrainParams) -> Result<SyntheticBrain> {
    p.validate()?;
    let net = network_with(&p.gate, p.parity_inputs);
    let compiled = compile(&net)?;
    let gate = net.iter().position(|n| n.symbol == XOR_GATE);
    let parity = net.iter().position(|n| n.symbol == PARITY_GATE);
    let lay = layout(p, &net);
    let n = p.n_cells;
    let n_genes = lay.symbols.len();
    // About half of the entries are non-zero, each a u32 index and an f32 count, held twice
    // (the chunks, then the assembled matrix).
    crate::memory::ensure_fits(
        || format!("the synthetic brain of {n} cells × {n_genes} genes"),
        crate::memory::array_bytes(&[n, n_genes], 8),
    )?;
    let types = cell_types(p);
    let transitional = transitional_cells(p);
    let nn = net.len();
    let mm = &p.modules;
    let n_syn = SYNAPTIC_GENES.len();
    let n_mito = MITO_GENES.len();
    let offsets = mm.activity_offset.to_array();

    let n_chunks = n.div_ceil(CHUNK);
    let chunks: Vec<Chunk> = (0..n_chunks)
        .into_par_iter()
        .map(|k| {
            let lo = k * CHUNK;
            let hi = ((k + 1) * CHUNK).min(n);
            let m = hi - lo;
            let mut ch = Chunk {
                row_nnz: Vec::with_capacity(m),
                indices: Vec::with_capacity(m * n_genes / 2),
                data: Vec::with_capacity(m * n_genes / 2),
                stimulated: Vec::with_capacity(m),
                library_factor: Vec::with_capacity(m),
                activity: Vec::with_capacity(m),
                load: Vec::with_capacity(m),
                network: Vec::with_capacity(m * nn),
                gate_rule: Vec::with_capacity(m),
            };
            let mut u = vec![0.0; n_syn];
            let mut mito_log = vec![0.0; n_mito];
            let mut act = vec![0.0; nn];
            let n_simpson = SIMPSON_A.len() + SIMPSON_B.len();
            let mut simpson = vec![0.0; n_simpson];
            for (cell, &ty) in types.iter().enumerate().take(hi).skip(lo) {
                let mut rng = stream(p.seed, DOMAIN_CELLS, cell as u64);
                let t = ty.index();
                let trans = transitional[cell];
                let lib = (p.library_sdlog * normal(&mut rng)).exp();
                let stim = rng.random::<f64>() < p.stimulated_fraction;
                // Synaptic activity and the gene-specific parts of the synaptic programme.
                let offset = if trans {
                    0.5 * (offsets[CellType::Neuron.index()] + offsets[CellType::Astrocyte.index()])
                } else {
                    offsets[t]
                };
                let s = offset + mm.activity_sd * normal(&mut rng);
                for v in u.iter_mut() {
                    *v = s + mm.synaptic_gene_sd * normal(&mut rng);
                }
                let load = u.iter().sum::<f64>() / n_syn as f64;
                // Mitochondrial load, split competitively (sum-zero log-ratios) among MT genes.
                for v in mito_log.iter_mut() {
                    *v = normal(&mut rng);
                }
                let wbar = mito_log.iter().sum::<f64>() / n_mito as f64;
                for v in mito_log.iter_mut() {
                    *v = mm.mito_load * load
                        + mm.mito_split_sd * (*v - wbar)
                        + mm.mito_gene_sd * normal(&mut rng);
                }
                super::network::draw_activities(&compiled, &mut rng, &mut act);
                let mut rule = 0.0;
                if let Some(g) = gate {
                    if p.gate.cell_type.is_some_and(|only| trans || only != ty) {
                        act[g] = 0.0;
                    }
                    rule = act[g];
                    // Drawn only when asked for, so the default brain's streams do not move.
                    if p.gate.flip > 0.0 && rng.random::<f64>() < p.gate.flip {
                        act[g] = 1.0 - act[g];
                    }
                }
                if p.simpson {
                    // Drawn only when asked for, as above.
                    let level = if trans {
                        0.5 * (SIMPSON_TYPE_LEVEL[CellType::Neuron.index()]
                            + SIMPSON_TYPE_LEVEL[CellType::Astrocyte.index()])
                    } else {
                        SIMPSON_TYPE_LEVEL[t]
                    };
                    let z = normal(&mut rng);
                    for (slot, v) in simpson.iter_mut().enumerate() {
                        let sign = if slot < SIMPSON_A.len() { 1.0 } else { -1.0 };
                        *v = level + sign * SIMPSON_WITHIN * z + SIMPSON_GENE_SD * normal(&mut rng);
                    }
                }
                let ieg = |neuron: bool| match (neuron, stim) {
                    (true, false) => 1.0,
                    (true, true) => IEG_STIM_NEURON,
                    (false, false) => IEG_GLIA,
                    (false, true) => IEG_GLIA * IEG_STIM_GLIA,
                };
                let ieg_mult = if trans {
                    (ieg(true) * ieg(false)).sqrt()
                } else {
                    ieg(ty == CellType::Neuron)
                };
                let before = ch.indices.len();
                for (col, kind) in lay.kinds.iter().enumerate() {
                    let (mu, alpha) = match *kind {
                        Kind::Marker { ty: mt, rate } => (
                            marker_rate(&lay.symbols[col], mt, rate, t, trans),
                            p.dispersion,
                        ),
                        Kind::Synaptic(i) => {
                            (mm.synaptic_rates[i] * u[i].exp(), mm.synaptic_dispersion)
                        }
                        Kind::Mito(j) => (mm.mito_rates[j] * mito_log[j].exp(), mm.mito_dispersion),
                        Kind::Ieg(rate) => (rate * ieg_mult, p.dispersion),
                        Kind::Network(j) => (
                            net[j].baseline + net[j].amplitude * act[j],
                            NETWORK_DISPERSION,
                        ),
                        Kind::Simpson(slot) => (SIMPSON_RATE * simpson[slot].exp(), p.dispersion),
                        Kind::Background(k) if trans => (lay.bg_transitional[k], p.dispersion),
                        Kind::Background(k) => (lay.bg_rates[t][k], p.dispersion),
                    };
                    let x = neg_binomial(&mut rng, lib * mu, alpha);
                    if x > 0.0 {
                        ch.indices.push(col as u32);
                        ch.data.push(x as f32);
                    }
                }
                ch.row_nnz.push(ch.indices.len() - before);
                ch.stimulated.push(stim);
                ch.library_factor.push(lib);
                ch.activity.push(s);
                ch.load.push(load);
                ch.network.extend(act.iter().map(|&a| a as f32));
                ch.gate_rule.push(rule as f32);
            }
            ch
        })
        .collect();

    // Assemble.
    let nnz: usize = chunks.iter().map(|c| c.indices.len()).sum();
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0usize);
    let mut indices = Vec::with_capacity(nnz);
    let mut data = Vec::with_capacity(nnz);
    let mut stimulated = Vec::with_capacity(n);
    let mut library_factor = Vec::with_capacity(n);
    let mut activity = Vec::with_capacity(n);
    let mut load = Vec::with_capacity(n);
    let mut network = Vec::with_capacity(n * nn);
    let mut gate_rule = Vec::with_capacity(n);
    let mut acc = 0usize;
    for c in chunks {
        for r in &c.row_nnz {
            acc += r;
            indptr.push(acc);
        }
        indices.extend_from_slice(&c.indices);
        data.extend_from_slice(&c.data);
        stimulated.extend_from_slice(&c.stimulated);
        library_factor.extend_from_slice(&c.library_factor);
        activity.extend_from_slice(&c.activity);
        load.extend_from_slice(&c.load);
        network.extend_from_slice(&c.network);
        gate_rule.extend_from_slice(&c.gate_rule);
    }
    let csr = CsrMatrix::new(n, n_genes, indptr, indices, data)?;
    let width = n.to_string().len().max(5);
    let cells: Vec<String> = (0..n).map(|i| format!("cell{i:0width$}")).collect();
    let matrix = ExpressionMatrix::new(
        Values::Sparse(csr),
        GeneTable::from_symbols(lay.symbols.clone()),
        cells,
    )?
    .with_obs("cell_type", cell_type_column(&types, &transitional))?
    .with_obs(
        "condition",
        ObsColumn::Categorical {
            categories: vec!["control".into(), "stimulated".into()],
            codes: stimulated.iter().map(|&s| i32::from(s)).collect(),
        },
    )?;
    let network = Array2::from_shape_vec((n, nn), network)
        .map_err(|e| Error::shape("network latents", format!("({n}, {nn})"), e.to_string()))?;
    // The latent states, for scoring only (a probe's Bayes ceiling conditions on them).
    let mut matrix = matrix;
    for (j, node) in net.iter().enumerate() {
        let v = network.column(j).iter().map(|&a| f64::from(a)).collect();
        matrix = matrix.with_obs(state_obs(&node.symbol), ObsColumn::Numeric(v))?;
    }
    if gate.is_some() {
        let v = gate_rule.iter().map(|&a| f64::from(a)).collect();
        matrix = matrix.with_obs(rule_obs(XOR_GATE), ObsColumn::Numeric(v))?;
    }
    if let Some(j) = parity {
        // No noise option touches the parity gate: its rule is its state.
        let v = network.column(j).iter().map(|&a| f64::from(a)).collect();
        matrix = matrix.with_obs(rule_obs(PARITY_GATE), ObsColumn::Numeric(v))?;
    }
    let truth = ground_truth(p, &net, &lay)?;
    Ok(SyntheticBrain {
        matrix,
        truth,
        latent: CellLatents {
            library_factor,
            synaptic_activity: activity,
            mito_load: load,
            network_genes: net.iter().map(|n| n.symbol.clone()).collect(),
            network,
            transitional,
            gate_rule,
        },
    })
}

/// The `obs` column holding a network gene's latent activity in each cell.
pub fn state_obs(gene: &str) -> String {
    format!("state_{gene}")
}

/// The `obs` column holding a gate's rule on its inputs' states (before any output noise; see
/// [`CellLatents::gate_rule`]).
pub fn rule_obs(gene: &str) -> String {
    format!("rule_{gene}")
}

/// The label of the transitional state in the `cell_type` column.
pub const TRANSITIONAL: &str = "transitional";

/// `cell_type` as a categorical; `transitional` is a fifth category, present only when some
/// cell is transitional.
fn cell_type_column(types: &[CellType], transitional: &[bool]) -> ObsColumn {
    let mut categories: Vec<String> = CellType::ALL.iter().map(|t| t.name().to_string()).collect();
    let any = transitional.iter().any(|&t| t);
    if any {
        categories.push(TRANSITIONAL.into());
    }
    let codes = types
        .iter()
        .zip(transitional)
        .map(|(t, &tr)| if tr { 4 } else { t.index() as i32 })
        .collect();
    ObsColumn::Categorical { categories, codes }
}

/// The Hill coefficient of the dynamics stored in [`GroundTruth::dynamics`].
pub const DEFAULT_HILL_N: f64 = 4.0;

/// The calibration targets of [`super::module_spearman`] on the default brain.
pub const MODULE_TARGETS: ModuleCorrelations = ModuleCorrelations {
    within_a: 0.30,
    within_b: 0.00,
    between: 0.26,
};

fn ground_truth(p: &BrainParams, net: &[NetworkNode], lay: &Layout) -> Result<GroundTruth> {
    let (mut edges, rules) = edges_and_rules(net);
    let mut markers = BTreeMap::new();
    for t in CellType::ALL {
        let mut genes: Vec<String> = t.markers().iter().map(|(s, _)| s.to_string()).collect();
        for (s, _) in t.markers() {
            edges.push(SignedEdge {
                source: format!("cell_type:{}", t.name()),
                target: s.to_string(),
                sign: 1,
                kind: EdgeKind::Marker,
            });
        }
        if t == CellType::Neuron {
            genes.push("SNAP25".into());
        }
        markers.insert(t.name().to_string(), genes);
    }
    let background = lay
        .symbols
        .iter()
        .zip(&lay.kinds)
        .filter(|(_, k)| matches!(k, Kind::Background(_)))
        .map(|(s, _)| s.clone())
        .collect();
    Ok(GroundTruth {
        edges,
        rules,
        network: net.to_vec(),
        dynamics: DynamicTruth::from_network(net, DEFAULT_HILL_N)?,
        groups: GeneGroups {
            synaptic: SYNAPTIC_GENES.iter().map(|s| s.to_string()).collect(),
            mito: MITO_GENES.iter().map(|s| s.to_string()).collect(),
            markers,
            immediate_early: IMMEDIATE_EARLY_GENES
                .iter()
                .map(|(s, _)| s.to_string())
                .collect(),
            network: net.iter().map(|n| n.symbol.clone()).collect(),
            background,
            simpson: [SIMPSON_A, SIMPSON_B].map(|g| {
                g.iter()
                    .filter(|_| p.simpson)
                    .map(|s| s.to_string())
                    .collect()
            }),
        },
        module_targets: MODULE_TARGETS,
        params: p.clone(),
    })
}
