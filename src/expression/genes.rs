//! Matching a dataset's genes to a vocabulary (a model's genes, a probe's gene list).
//!
//! Datasets name genes inconsistently: `Gfap` vs `GFAP`, symbols vs Ensembl ids, ids with a
//! version suffix (`ENSG00000131095.12`). Matching tries, for each vocabulary entry, in order:
//! 1. an Ensembl-style id (`ENS…`), against the dataset's ids when it has them, ignoring a
//!    `.N` version suffix on either side;
//! 2. the exact symbol;
//! 3. the symbol case-insensitively, when exactly one dataset gene matches that way.
//!
//! Nothing is guessed beyond that: an entry whose case-insensitive match is not unique is
//! reported as ambiguous, never silently picked. The [`CoverageReport`] says how many were found
//! and how, and lists what is missing, so a user sees at once whether their file suits a model.

use std::collections::HashMap;

use super::{CsrMatrix, ExpressionMatrix, GeneTable, Values};
use crate::error::{Error, Result};

/// How one vocabulary entry was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// By stable (Ensembl) id.
    Id,
    /// By exact symbol.
    Symbol,
    /// By symbol, ignoring case.
    SymbolCaseInsensitive,
}

/// What matching found, for people and for JSON reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CoverageReport {
    /// Vocabulary size.
    pub n_vocab: usize,
    /// Entries found (any way).
    pub n_found: usize,
    /// Of those, found by id.
    pub n_by_id: usize,
    /// Of those, found by exact symbol.
    pub n_by_symbol: usize,
    /// Of those, found by symbol ignoring case.
    pub n_case_insensitive: usize,
    /// Entries not found, in vocabulary order.
    pub missing: Vec<String>,
    /// Entries with several case-insensitive candidates (not matched).
    pub ambiguous: Vec<String>,
    /// Dataset genes no vocabulary entry uses.
    pub n_dataset_unused: usize,
}

impl CoverageReport {
    /// Fraction of the vocabulary found.
    pub fn fraction_found(&self) -> f64 {
        if self.n_vocab == 0 {
            return 1.0;
        }
        self.n_found as f64 / self.n_vocab as f64
    }
}

impl std::fmt::Display for CoverageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} genes found ({:.1}%: {} by id, {} by symbol, {} ignoring case)",
            self.n_found,
            self.n_vocab,
            100.0 * self.fraction_found(),
            self.n_by_id,
            self.n_by_symbol,
            self.n_case_insensitive
        )?;
        if !self.missing.is_empty() {
            let shown: Vec<&str> = self.missing.iter().take(10).map(String::as_str).collect();
            write!(f, "; missing: {}", shown.join(", "))?;
            if self.missing.len() > 10 {
                write!(f, " and {} more", self.missing.len() - 10)?;
            }
        }
        if !self.ambiguous.is_empty() {
            write!(f, "; ambiguous: {}", self.ambiguous.join(", "))?;
        }
        Ok(())
    }
}

/// The result of [`match_genes`]: for each vocabulary entry, the dataset column it maps to.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneMatch {
    /// `columns[v]` is the dataset column of vocabulary entry `v`, if found.
    pub columns: Vec<Option<usize>>,
    /// How each found entry was matched (`None` where not found).
    pub kinds: Vec<Option<MatchKind>>,
    /// Summary.
    pub report: CoverageReport,
}

/// Ensembl-style id: `ENS` followed by letters then digits (`ENSG…`, `ENSMUSG…`).
fn is_ensembl_like(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("ENS") else {
        return false;
    };
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_uppercase());
    let digits = strip_version(digits);
    !digits.is_empty() && digits.len() < rest.len() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `ENSG00000131095.12` → `ENSG00000131095`.
fn strip_version(s: &str) -> &str {
    match s.rsplit_once('.') {
        Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => s,
    }
}

/// Matches `vocab` (symbols or Ensembl ids) against a dataset's genes; see the module docs for
/// the rules. A dataset column is used by at most one entry (the first that claims it).
///
/// # Errors
/// [`Error::Empty`] for an empty vocabulary.
pub fn match_genes(dataset: &GeneTable, vocab: &[String]) -> Result<GeneMatch> {
    if vocab.is_empty() {
        return Err(Error::Empty {
            what: "gene vocabulary",
            why: "nothing to match".into(),
        });
    }
    let exact: HashMap<&str, usize> = dataset
        .symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut folded: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, s) in dataset.symbols.iter().enumerate() {
        folded.entry(s.to_uppercase()).or_default().push(i);
    }
    let ids: HashMap<&str, usize> = dataset
        .ids
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| (strip_version(s), i))
        .collect();

    let mut used = vec![false; dataset.len()];
    let mut columns = Vec::with_capacity(vocab.len());
    let mut kinds = Vec::with_capacity(vocab.len());
    let mut missing = Vec::new();
    let mut ambiguous = Vec::new();
    for entry in vocab {
        let mut found: Option<(usize, MatchKind)> = None;
        if is_ensembl_like(entry) {
            if let Some(&c) = ids.get(strip_version(entry)) {
                found = Some((c, MatchKind::Id));
            }
        }
        if found.is_none() {
            if let Some(&c) = exact.get(entry.as_str()) {
                found = Some((c, MatchKind::Symbol));
            }
        }
        if found.is_none() {
            match folded.get(&entry.to_uppercase()).map(Vec::as_slice) {
                Some([c]) => found = Some((*c, MatchKind::SymbolCaseInsensitive)),
                Some([_, _, ..]) => ambiguous.push(entry.clone()),
                _ => {}
            }
        }
        match found {
            Some((c, kind)) if !used[c] => {
                used[c] = true;
                columns.push(Some(c));
                kinds.push(Some(kind));
            }
            _ => {
                if ambiguous.last().is_none_or(|a| a != entry) {
                    missing.push(entry.clone());
                }
                columns.push(None);
                kinds.push(None);
            }
        }
    }
    let count = |k: MatchKind| kinds.iter().filter(|x| **x == Some(k)).count();
    let report = CoverageReport {
        n_vocab: vocab.len(),
        n_found: columns.iter().filter(|c| c.is_some()).count(),
        n_by_id: count(MatchKind::Id),
        n_by_symbol: count(MatchKind::Symbol),
        n_case_insensitive: count(MatchKind::SymbolCaseInsensitive),
        missing,
        ambiguous,
        n_dataset_unused: used.iter().filter(|u| !**u).count(),
    };
    Ok(GeneMatch {
        columns,
        kinds,
        report,
    })
}

impl GeneMatch {
    /// Requires every vocabulary entry to be found.
    ///
    /// # Errors
    /// [`Error::UnknownGenes`] listing the missing and ambiguous entries.
    pub fn require_all(&self) -> Result<()> {
        if self.report.missing.is_empty() && self.report.ambiguous.is_empty() {
            return Ok(());
        }
        let mut genes = self.report.missing.clone();
        genes.extend(
            self.report
                .ambiguous
                .iter()
                .map(|a| format!("{a} (ambiguous)")),
        );
        Err(Error::UnknownGenes { genes })
    }

    /// The dataset's values laid out in vocabulary order: n_cells × n_vocab CSR, with missing
    /// genes as all-zero columns (what a model with a fixed gene vocabulary reads).
    ///
    /// # Errors
    /// [`Error::Shape`] if `m` is not the dataset this match was made for.
    pub fn reindex(&self, m: &ExpressionMatrix) -> Result<CsrMatrix> {
        let n_dataset = self.report.n_dataset_unused + self.report.n_found;
        if m.n_genes() != n_dataset {
            return Err(Error::shape(
                "GeneMatch::reindex",
                format!("{n_dataset} genes (the matched dataset)"),
                format!("{}", m.n_genes()),
            ));
        }
        let cols: Vec<usize> = self.columns.iter().flatten().copied().collect();
        let positions: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .filter_map(|(v, c)| c.map(|_| v))
            .collect();
        let sub = match m.values() {
            Values::Sparse(x) => x.select_cols(&cols)?,
            Values::Dense(x) => CsrMatrix::from_dense(x.select(ndarray::Axis(1), &cols).view()),
        };
        // Renumber sub's columns 0..cols.len() to their vocabulary positions (monotone map,
        // but `cols` order follows the vocabulary, so rows stay sorted).
        let (n_rows, _, indptr, indices, data) = sub.into_parts();
        let indices = indices
            .into_iter()
            .map(|c| positions[c as usize] as u32)
            .collect();
        CsrMatrix::new(n_rows, self.columns.len(), indptr, indices, data)
    }
}
