//! [`GroundTruth`]: everything known about how a synthetic brain was made, as JSON and TSV.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::network::{DynamicTruth, EdgeKind, NetworkNode, SignedEdge, TargetRule};
use super::params::BrainParams;
use super::stats::ModuleCorrelations;
use crate::error::{Error, Result};

/// Named gene groups of the synthetic brain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneGroups {
    /// The synaptic module ([`super::SYNAPTIC_GENES`]).
    pub synaptic: Vec<String>,
    /// The mitochondrial genes ([`super::MITO_GENES`]).
    pub mito: Vec<String>,
    /// Marker genes per cell type (keys: `neuron`, `astrocyte`, `oligodendrocyte`,
    /// `microglia`). Neurons also list SNAP25, which is neuron-enriched through the synaptic
    /// module.
    pub markers: BTreeMap<String, Vec<String>>,
    /// Immediate-early genes, induced in the `stimulated` condition.
    pub immediate_early: Vec<String>,
    /// Genes of the regulatory network, inputs first.
    pub network: Vec<String>,
    /// Background genes (no structure beyond cell-type programmes), in column order.
    pub background: Vec<String>,
    /// The Simpson module's two groups ([`super::SIMPSON_A`], [`super::SIMPSON_B`]), empty
    /// when the brain has none (`BrainParams::simpson`).
    #[serde(default)]
    pub simpson: [Vec<String>; 2],
}

/// The ground truth of a [`super::SyntheticBrain`]: the regulatory network (signed edges,
/// Boolean and polynomial rules, dynamic equations), the gene groups, the calibration targets of
/// the module correlations and the parameters used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Signed edges: the network's regulatory edges, then marker edges
    /// (`cell_type:<name> → marker`).
    pub edges: Vec<SignedEdge>,
    /// One rule per network target.
    pub rules: Vec<TargetRule>,
    /// The network's nodes with their expression parameters.
    pub network: Vec<NetworkNode>,
    /// The network as Hill-kinetics ODEs (Hill coefficient 4; [`super::simulate_timecourse`]
    /// reports its own for other settings).
    pub dynamics: DynamicTruth,
    /// Named gene groups.
    pub groups: GeneGroups,
    /// The module correlations the defaults are calibrated to (see
    /// [`super::module_spearman`]).
    pub module_targets: ModuleCorrelations,
    /// The parameters the data were generated with.
    pub params: BrainParams,
}

impl GroundTruth {
    /// Gene-to-gene regulatory edges (marker edges left out).
    pub fn regulatory_edges(&self) -> impl Iterator<Item = &SignedEdge> {
        self.edges.iter().filter(|e| e.kind != EdgeKind::Marker)
    }

    /// The rule of `target`, if it is a network target.
    pub fn rule(&self, target: &str) -> Option<&TargetRule> {
        self.rules.iter().find(|r| r.target == target)
    }

    /// The regulatory edges as TSV with a header, `target\tregulator\tweight`, weight = sign
    /// (±1). Magnitudes and gate logic are in the JSON ([`GroundTruth::save_json`]).
    pub fn signed_edges_tsv(&self) -> String {
        let mut s = String::from("target\tregulator\tweight\n");
        for e in self.regulatory_edges() {
            s.push_str(&format!(
                "{}\t{}\t{}\n",
                crate::escape::tsv(&e.target),
                crate::escape::tsv(&e.source),
                e.sign
            ));
        }
        s
    }

    /// Writes [`GroundTruth::signed_edges_tsv`] to `path` atomically.
    ///
    /// # Errors
    /// [`Error::Io`] naming the path.
    pub fn write_signed_edges_tsv(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, self.signed_edges_tsv().as_bytes())
    }

    /// Writes the truth as pretty JSON to `path` atomically.
    ///
    /// # Errors
    /// [`Error::Json`] if serialisation fails, [`Error::Io`] naming the path.
    pub fn save_json(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        crate::io::write_atomic(path, &bytes)
    }

    /// Reads a truth written by [`GroundTruth::save_json`].
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, [`Error::Parse`] (with line) if it is not a
    /// ground-truth JSON.
    pub fn load_json(path: &Path) -> Result<Self> {
        let text = crate::io::input::read_text(path)?;
        serde_json::from_str(&text).map_err(|e| {
            Error::parse(
                path,
                e.line(),
                format!("not a synthetic-brain ground truth: {e}"),
            )
        })
    }
}
