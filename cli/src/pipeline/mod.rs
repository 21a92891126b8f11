//! Orchestration shared by the CLI and examples (no algorithms here).
//!
//! Each submodule runs one workflow end to end from a plain config struct and returns a report
//! that the caller prints or writes; the algorithms live in the library modules it calls.
//!
//! | module | workflow |
//! |---|---|
//! | [`activations`] | route 2: a model's units and sparse-dictionary features at a masked target, explained by sparse Boolean gene rules |
//! | [`demo`] | every step below in one run (`cellsindy demo`), written as one report directory |
//! | [`data`] | generate the synthetic brain; read and summarise an expression file |
//! | [`distill`] | route 1 of `rules`: occlusion screen → distillation of a trained transformer's predictions into sparse rules → the same report as [`rules`] |
//! | [`rules`] | sparse regulatory rules (route 3: dynamics, on simulated or the user's time courses) → evaluation against a known network beside baselines → rules, edge table, report |
//! | [`network_bench`] | network inference from time courses on BoolODE-style, HillCube and synthetic-brain generators, cellsindy beside GENIE3 and correlation baselines, several seeds |
//! | [`probe`] | a trained model vs linear and non-linear baselines on the covariance and XOR probes, written as a report |
//! | [`transformer`] | choose a vocabulary, tokenize, train the gene transformer and score it against the synthetic brain |
//! | [`sindy`] | simulate a known system or read data files → fit SINDy → compare with the truth → write results and figures |

pub mod ablation;
pub mod activations;
pub mod anndata_out;
pub mod data;
#[cfg(feature = "bin")]
pub mod demo;
pub mod distill;
pub mod network_bench;
pub mod probe;
pub mod rules;
pub mod scaling;
pub mod sindy;
pub mod transformer;

/// A trained model and its held-out split `(seed, val_fraction)` (`None` when the checkpoint
/// has no training state).
///
/// # Errors
/// Checkpoint errors.
pub(crate) fn load_model(
    model: &std::path::Path,
    device: &candle_core::Device,
) -> cellsindy::Result<(cellsindy::nn::infer::InferenceModel, Option<(u64, f64)>)> {
    let ckpt = cellsindy::nn::checkpoint::load(model, device)?;
    let split = ckpt
        .train
        .as_ref()
        .map(|(s, _)| (s.train.seed, s.train.val_fraction));
    Ok((
        cellsindy::nn::infer::InferenceModel::from_checkpoint(ckpt)?,
        split,
    ))
}

/// Cells per chunk when a model's workflow streams the cells it picked: at least the kind
/// sample, so that the first chunk holds it whole.
const PICK_CHUNK: usize = if cellsindy::expression::kind::KIND_SAMPLE_CELLS > 4096 {
    cellsindy::expression::kind::KIND_SAMPLE_CELLS
} else {
    4096
};

/// The cells `pick(n_cells)` chose (ascending indices) of `data`, checked and brought to the
/// model's scale as [`read_for_model`] does, and laid out for its tokenizer with their file
/// indices ([`cellsindy::tokenize::PreparedCells::index`]).
///
/// `.h5ad`, 10x and Matrix Market files are streamed, so memory is one chunk plus the picked
/// cells whatever the file's size; the kind is told from the file's first cells, as on a whole
/// read. CSV/TSV, and a model conditioned on `obs` columns (streamed chunks carry none), are
/// read whole and then subset. Both routes give the same cells and values.
///
/// # Errors
/// Read errors; scaled values; a kind mismatch; `pick`'s errors.
pub fn read_cells_for_model(
    data: &std::path::Path,
    read: &cellsindy::expression::io::ReadOptions,
    tokenizer: &cellsindy::tokenize::GeneTokenizer,
    pick: &mut dyn FnMut(usize) -> cellsindy::Result<Vec<usize>>,
) -> cellsindy::Result<(cellsindy::tokenize::PreparedCells, usize)> {
    use cellsindy::expression::io::{read_picked_cells, ExpressionFormat};
    use cellsindy::expression::kind::{apply_model_scale, check_model_kind, detect_kind};
    let streamable = !matches!(
        ExpressionFormat::detect(data)?,
        ExpressionFormat::Csv | ExpressionFormat::Tsv
    );
    let (matrix, index, n_cells) = if streamable && tokenizer.conditions.is_empty() {
        let mut p = read_picked_cells(data, read, PICK_CHUNK, pick)?;
        let kind = apply_model_scale(&mut p.matrix, detect_kind(&p.kind_sample))?;
        check_model_kind(tokenizer.input_kind, kind.kind, read.any_kind)?;
        (p.matrix, p.index, p.n_cells)
    } else {
        let whole = read_for_model(data, read, tokenizer.input_kind)?;
        let index = pick(whole.n_cells())?;
        (whole.select_cells(&index)?, index, whole.n_cells())
    };
    let cells = tokenizer.prepare(&matrix)?.with_index(index)?;
    Ok((cells, n_cells))
}

/// Reads the expression a trained model runs on: the chosen matrix, its kind checked against
/// the one the model was trained on (`trained`; a mismatch only with `read.any_kind`) and
/// brought to the model's linear scale ([`cellsindy::expression::kind::to_model_scale`]).
///
/// # Errors
/// Read errors; scaled values; a kind mismatch.
pub fn read_for_model(
    data: &std::path::Path,
    read: &cellsindy::expression::io::ReadOptions,
    trained: Option<cellsindy::expression::kind::MatrixKind>,
) -> cellsindy::Result<cellsindy::expression::ExpressionMatrix> {
    let mut matrix = cellsindy::expression::io::read_expression(data, read)?;
    let kind = cellsindy::expression::kind::to_model_scale(&mut matrix)?;
    cellsindy::expression::kind::check_model_kind(trained, kind.kind, read.any_kind)?;
    Ok(matrix)
}
