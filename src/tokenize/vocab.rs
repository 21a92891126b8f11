//! The gene vocabulary: gene symbol ↔ token id, built from data and saved with the checkpoint.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::expression::check_unique;

/// Token id of padding (positions past a short cell's genes).
pub const PAD_ID: u32 = 0;
/// Number of reserved ids before the first gene.
pub const N_SPECIAL: u32 = 1;

/// Gene symbols in token order: gene `i` has token id `i + N_SPECIAL`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VocabFile", into = "VocabFile")]
pub struct GeneVocab {
    genes: Vec<String>,
    index: HashMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct VocabFile {
    genes: Vec<String>,
}

impl TryFrom<VocabFile> for GeneVocab {
    type Error = Error;
    fn try_from(f: VocabFile) -> Result<Self> {
        GeneVocab::new(f.genes)
    }
}

impl From<GeneVocab> for VocabFile {
    fn from(v: GeneVocab) -> Self {
        VocabFile { genes: v.genes }
    }
}

impl GeneVocab {
    /// A vocabulary of `genes`, in that order.
    ///
    /// # Errors
    /// [`Error::Empty`] for no genes, [`Error::Duplicate`] for a repeated symbol.
    pub fn new(genes: Vec<String>) -> Result<Self> {
        if genes.is_empty() {
            return Err(Error::Empty {
                what: "gene vocabulary",
                why: "a model needs at least one gene".into(),
            });
        }
        check_unique("gene", &genes, "")?;
        if genes.len() >= (u32::MAX - N_SPECIAL) as usize {
            return Err(Error::param(
                "genes",
                genes.len(),
                "too many genes for u32 ids",
            ));
        }
        let index = genes
            .iter()
            .enumerate()
            .map(|(i, g)| (g.clone(), i as u32 + N_SPECIAL))
            .collect();
        Ok(Self { genes, index })
    }

    /// Number of genes (not counting special tokens).
    pub fn n_genes(&self) -> usize {
        self.genes.len()
    }

    /// Size of the gene-embedding table (genes + special tokens).
    pub fn n_tokens(&self) -> usize {
        self.genes.len() + N_SPECIAL as usize
    }

    /// Gene symbols in order.
    pub fn genes(&self) -> &[String] {
        &self.genes
    }

    /// Token id of `gene`.
    pub fn id(&self, gene: &str) -> Option<u32> {
        self.index.get(gene).copied()
    }

    /// Token ids of `genes`.
    ///
    /// # Errors
    /// [`Error::UnknownGenes`] listing every name not in the vocabulary.
    pub fn ids(&self, genes: &[&str]) -> Result<Vec<u32>> {
        let unknown: Vec<String> = genes
            .iter()
            .filter(|g| self.id(g).is_none())
            .map(|g| g.to_string())
            .collect();
        if !unknown.is_empty() {
            return Err(Error::UnknownGenes { genes: unknown });
        }
        Ok(genes.iter().filter_map(|g| self.id(g)).collect())
    }

    /// Symbol of token `id` (`None` for special tokens and ids past the end).
    pub fn gene(&self, id: u32) -> Option<&str> {
        let i = id.checked_sub(N_SPECIAL)? as usize;
        self.genes.get(i).map(String::as_str)
    }
}
