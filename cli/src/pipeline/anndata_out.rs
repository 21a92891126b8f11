//! Results written back into AnnData for scanpy: imputations as layers, activations in `obsm`,
//! the model's genes and settings in `uns["cellsindy"]`.

use std::path::Path;

use ndarray::Array2;

use cellsindy::error::Result;
use cellsindy::expression::io::h5ad::{write_h5ad_with, AnnDataExtras, H5adWriteOptions, UnsValue};
use cellsindy::expression::{CsrMatrix, ExpressionMatrix, GeneTable, Values};
use cellsindy::nn::infer::{ActivationSet, Imputation, InferenceModel};

/// True when `path` names an `.h5ad` (case-insensitive).
pub fn is_h5ad(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("h5ad"))
}

/// `uns["cellsindy"]`: what made the file (command, checkpoint), the model's vocabulary, the
/// kind of data it was trained on, its binning and architecture (as JSON text, readable with
/// `json.loads`).
pub fn model_uns(m: &InferenceModel, command: &str, ckpt: &Path) -> Result<(String, UnsValue)> {
    let kind = m
        .tokenizer
        .input_kind
        .map_or("unrecorded".to_string(), |k| k.label().to_string());
    Ok((
        "cellsindy".into(),
        UnsValue::Dict(vec![
            ("command".into(), UnsValue::Text(command.into())),
            (
                "checkpoint".into(),
                UnsValue::Text(ckpt.display().to_string()),
            ),
            (
                "version".into(),
                UnsValue::Text(env!("CARGO_PKG_VERSION").into()),
            ),
            (
                "genes".into(),
                UnsValue::Texts(m.tokenizer.vocab.genes().to_vec()),
            ),
            ("input_kind".into(), UnsValue::Text(kind)),
            (
                "values".into(),
                UnsValue::Text("expression bins (0 = not expressed)".into()),
            ),
            ("n_bins".into(), UnsValue::Number(m.config.n_bins as f64)),
            (
                "binning".into(),
                UnsValue::Text(serde_json::to_string(&m.tokenizer.binning)?),
            ),
            (
                "model".into(),
                UnsValue::Text(serde_json::to_string(&m.config)?),
            ),
        ]),
    ))
}

fn bins(x: &Array2<u32>) -> Values {
    Values::Dense(x.mapv(|b| b as f32))
}

/// An imputation as AnnData: the imputed cells × genes, `X` the observed bins, layers
/// `imputed` (expected bin), `sampled` (a drawn bin) and `p_high`.
///
/// # Errors
/// Shape and name errors of the matrix (none for a well-formed imputation).
pub fn imputation(
    imp: &Imputation,
    m: &InferenceModel,
    ckpt: &Path,
) -> Result<(ExpressionMatrix, AnnDataExtras)> {
    let x = ExpressionMatrix::new(
        bins(&imp.observed),
        GeneTable::from_symbols(imp.genes.clone()),
        imp.cells.clone(),
    )?;
    let extras = AnnDataExtras {
        layers: vec![
            ("imputed".into(), Values::Dense(imp.expected.clone())),
            ("sampled".into(), bins(&imp.sampled)),
            ("p_high".into(), Values::Dense(imp.p_high.clone())),
        ],
        obsm: Vec::new(),
        uns: vec![model_uns(m, "impute", ckpt)?],
    };
    Ok((x, extras))
}

/// Captured activations as AnnData: the cells × vocabulary genes with `X` the observed bins
/// of the genes in each cell's context, and every pooled activation in `obsm["X_<name>"]`
/// (scanpy's naming, so `sc.pl.embedding(adata, basis=name)` finds it).
///
/// # Errors
/// Shape errors (none for a well-formed capture).
pub fn activations(
    set: &ActivationSet,
    m: &InferenceModel,
    ckpt: &Path,
) -> Result<(ExpressionMatrix, AnnDataExtras)> {
    let n_genes = set.genes.len();
    let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    for (((c, _), &id), &bin) in set.gene_index.indexed_iter().zip(set.bins.iter()) {
        // Token ids are vocabulary positions + 1; padding (-1) and unexpressed genes are zeros.
        if id >= 1 && bin > 0 && (id as usize) <= n_genes {
            rows.push(c as u32);
            cols.push(id as u32 - 1);
            vals.push(bin as f32);
        }
    }
    let x = CsrMatrix::from_triplets(set.cells.len(), n_genes, &rows, &cols, &vals)?;
    let x = ExpressionMatrix::new(
        Values::Sparse(x),
        GeneTable::from_symbols(set.genes.clone()),
        set.cells.clone(),
    )?;
    let extras = AnnDataExtras {
        layers: Vec::new(),
        obsm: set
            .pooled
            .iter()
            .map(|(name, a)| (format!("X_{name}"), a.clone()))
            .collect(),
        uns: vec![model_uns(m, "activations", ckpt)?],
    };
    Ok((x, extras))
}

/// Writes `x` with `extras` (atomic, like every `.h5ad` write).
///
/// # Errors
/// As [`write_h5ad_with`].
pub fn write(x: &ExpressionMatrix, extras: &AnnDataExtras, path: &Path) -> Result<()> {
    write_h5ad_with(x, extras, path, &H5adWriteOptions::default())
}
