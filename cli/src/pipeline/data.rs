//! `cellsindy data`: generate the synthetic brain, inspect any expression file, and permute
//! genes into a negative control.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use cellsindy::error::{Error, Result};
use cellsindy::expression::genes::match_genes;
use cellsindy::expression::io::h5ad::{h5ad_matrices, h5ad_obs_columns};
use cellsindy::expression::io::{
    expression_output, read_expression, stream_cells, write_expression, CellChunk, CellChunks,
    ExpressionFormat, MatrixChoice, ReadOptions,
};
use cellsindy::expression::kind::{detect_values_kind, KindReport};
use cellsindy::expression::{CsrMatrix, ExpressionMatrix, GeneTable, ObsColumn, Values};
use cellsindy::io::output::Output;
use cellsindy::synthetic::{
    generate, module_spearman, module_spearman_with_totals, simulate_timecourse, BrainParams,
    ModuleCorrelations, TimeCourseParams, MITO_GENES, SYNAPTIC_GENES,
};

/// Gene groups the probes use, checked by `data inspect` (symbols; matched case-insensitively
/// and by Ensembl id where the file has ids).
pub const PROBE_GROUPS: &[(&str, &[&str])] = &[
    ("markers", &["RBFOX3", "GFAP"]),
    ("synaptic", &SYNAPTIC_GENES),
    ("mitochondrial", &MITO_GENES),
];

/// Five-number summary of a per-cell quantity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Smallest.
    pub min: f64,
    /// 25th percentile.
    pub q25: f64,
    /// Median.
    pub median: f64,
    /// 75th percentile.
    pub q75: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Summary {
    /// Of `v` (NaN-free); all zeros for an empty slice.
    pub fn of(v: &[f64]) -> Self {
        if v.is_empty() {
            return Summary {
                min: 0.0,
                q25: 0.0,
                median: 0.0,
                q75: 0.0,
                max: 0.0,
                mean: 0.0,
            };
        }
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let q = |p: f64| cellsindy::stats::quantile_sorted(&s, p);
        Summary {
            min: s[0],
            q25: q(0.25),
            median: q(0.5),
            q75: q(0.75),
            max: s[s.len() - 1],
            mean: s.iter().sum::<f64>() / s.len() as f64,
        }
    }
}

/// Which genes of a probe group the file has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupPresence {
    /// Group name.
    pub group: String,
    /// Found, as named in the file.
    pub found: Vec<String>,
    /// Not found.
    pub missing: Vec<String>,
}

/// One matrix of an `.h5ad` as `data inspect` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixEntry {
    /// `X`, `raw` or `layers/NAME`.
    pub name: String,
    /// The flag that reads it (`--raw`, `--layer NAME`).
    pub flag: String,
    /// Cells (rows).
    pub n_cells: usize,
    /// Genes (columns).
    pub n_genes: usize,
    /// `csr`, `csc` or `dense`.
    pub storage: String,
    /// Stored entries over all entries.
    pub density: f64,
    /// What it holds, from a sample of cells.
    pub kind: Option<KindReport>,
    /// Why it could not be read, if so.
    pub problem: Option<String>,
}

/// What `data inspect` reports: the file's matrices (for `.h5ad`), and a summary of the chosen
/// one when it holds expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectReport {
    /// The file.
    pub path: PathBuf,
    /// Detected format.
    pub format: String,
    /// Every matrix of an `.h5ad` (X, raw, each layer); empty for other formats.
    pub matrices: Vec<MatrixEntry>,
    /// The matrix summarised (`X`, `raw`, `layers/NAME`).
    pub matrix: String,
    /// What the summarised matrix holds.
    pub kind: Option<KindReport>,
    /// The summary of the chosen matrix (absent when it cannot be read as expression).
    #[serde(flatten)]
    pub summary: Option<MatrixReport>,
    /// Why there is no summary.
    pub note: Option<String>,
    /// Seconds spent reading the file.
    pub read_seconds: f64,
}

/// The summary of one expression matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixReport {
    /// Cells (rows).
    pub n_cells: usize,
    /// Genes (columns).
    pub n_genes: usize,
    /// Stored non-zero entries.
    pub nnz: usize,
    /// Fraction of zero entries.
    pub sparsity: f64,
    /// `"sparse (CSR)"` or `"dense"`.
    pub storage: String,
    /// Whether the file gives gene ids beside symbols.
    pub has_gene_ids: bool,
    /// Whether `.raw` is present.
    pub has_raw: bool,
    /// Metadata columns (name and, for categoricals, the number of categories).
    pub obs: Vec<(String, Option<usize>)>,
    /// Per-cell totals (library sizes, when values are counts).
    pub library_size: Summary,
    /// Detected genes per cell.
    pub genes_per_cell: Summary,
    /// Whether every value is a whole number (raw counts).
    pub integer_values: bool,
    /// Probe gene groups present / missing.
    pub probe_genes: Vec<GroupPresence>,
    /// Mean pairwise Spearman within the synaptic genes (`within_a`), within the
    /// mitochondrial genes (`within_b`) and between them, when all are present.
    pub module_spearman: Option<ModuleCorrelations>,
}

impl std::fmt::Display for InspectReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} ({})", self.path.display(), self.format)?;
        if !self.matrices.is_empty() {
            writeln!(f, "  matrices:")?;
            for m in &self.matrices {
                let what = match (&m.kind, &m.problem) {
                    (Some(k), _) => format!("{}: {}", k.kind, k.evidence),
                    (None, Some(p)) => format!("unreadable: {p}"),
                    (None, None) => "?".into(),
                };
                writeln!(
                    f,
                    "    {:<16} {:>8} x {:<6} {:<5} {:>6.2}% stored  {}  [{}]",
                    m.name,
                    m.n_cells,
                    m.n_genes,
                    m.storage,
                    100.0 * m.density,
                    what,
                    m.flag
                )?;
            }
        }
        writeln!(f, "  summary of {}:", self.matrix)?;
        if let Some(k) = &self.kind {
            writeln!(f, "  holds: {} ({})", k.kind, k.evidence)?;
        }
        match (&self.summary, &self.note) {
            (Some(s), _) => write!(f, "{s}"),
            (None, Some(n)) => writeln!(f, "  not summarised: {n}"),
            (None, None) => Ok(()),
        }
    }
}

impl std::fmt::Display for MatrixReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  {} cells x {} genes, {} non-zero ({:.2}% sparse), {}",
            self.n_cells,
            self.n_genes,
            self.nnz,
            100.0 * self.sparsity,
            self.storage
        )?;
        writeln!(
            f,
            "  values: {}; gene ids: {}; raw: {}",
            if self.integer_values {
                "integer counts"
            } else {
                "non-integer (normalised?)"
            },
            if self.has_gene_ids { "yes" } else { "no" },
            if self.has_raw { "yes" } else { "no" }
        )?;
        for (label, s) in [
            ("library size", &self.library_size),
            ("genes per cell", &self.genes_per_cell),
        ] {
            writeln!(
                f,
                "  {label:<15} min {:.0}, q25 {:.0}, median {:.0}, q75 {:.0}, max {:.0} (mean {:.1})",
                s.min, s.q25, s.median, s.q75, s.max, s.mean
            )?;
        }
        if !self.obs.is_empty() {
            let cols: Vec<String> = self
                .obs
                .iter()
                .map(|(n, k)| match k {
                    Some(k) => format!("{n} ({k} categories)"),
                    None => n.clone(),
                })
                .collect();
            writeln!(f, "  cell metadata: {}", cols.join(", "))?;
        }
        for g in &self.probe_genes {
            write!(
                f,
                "  probe genes, {}: {}/{} present",
                g.group,
                g.found.len(),
                g.found.len() + g.missing.len()
            )?;
            if g.missing.is_empty() {
                writeln!(f)?;
            } else {
                writeln!(f, " (missing: {})", g.missing.join(", "))?;
            }
        }
        if let Some(c) = &self.module_spearman {
            writeln!(
                f,
                "  mean pairwise Spearman: synaptic {:+.3}, mitochondrial {:+.3}, between {:+.3}",
                c.within_a, c.within_b, c.between
            )?;
        }
        Ok(())
    }
}

/// Reads `path` and summarises it: for an `.h5ad`, every matrix it holds (never failing on a
/// valid file whose chosen matrix is scaled or absent: the report says so), then the matrix
/// `opts.matrix` chooses.
///
/// # Errors
/// The reader's errors (a damaged file, an unknown layer).
pub fn inspect(path: &Path, opts: &ReadOptions) -> Result<InspectReport> {
    let format = ExpressionFormat::detect(path)?;
    let start = Instant::now();
    let matrices: Vec<MatrixEntry> = if format == ExpressionFormat::H5ad {
        h5ad_matrices(path)?
            .into_iter()
            .map(|m| MatrixEntry {
                name: m.choice.to_string(),
                flag: m.choice.flag(),
                n_cells: m.n_cells,
                n_genes: m.n_genes,
                storage: m.storage.to_string(),
                density: m.density(),
                kind: m.kind,
                problem: m.problem,
            })
            .collect()
    } else {
        Vec::new()
    };
    let chosen = opts.matrix.to_string();
    let listed = matrices.iter().find(|m| m.name == chosen);
    let mut report = InspectReport {
        path: path.to_path_buf(),
        format: format!("{format:?}"),
        kind: listed.and_then(|m| m.kind.clone()),
        matrices: matrices.clone(),
        matrix: chosen.clone(),
        summary: None,
        note: None,
        read_seconds: 0.0,
    };
    // A valid AnnData may hold scaled values in the chosen matrix, or no X at all: list the
    // matrices and say why there is no summary instead of failing.
    let unreadable = match listed {
        Some(m) => m.kind.as_ref().is_some_and(|k| !k.kind.is_usable()),
        None => format == ExpressionFormat::H5ad && opts.matrix == MatrixChoice::X,
    };
    // Streamable formats are summarised chunk by chunk (memory: one chunk plus per-cell
    // totals), text is read whole.
    let summary = if matches!(format, ExpressionFormat::Csv | ExpressionFormat::Tsv) {
        read_expression(path, opts).and_then(|m| {
            let obs = m.obs().to_vec();
            let has_raw = m.raw().is_some();
            let storage = match m.values() {
                Values::Sparse(_) => "sparse (CSR)",
                Values::Dense(_) => "dense",
            };
            let mut one = OneChunk::new(m);
            summarize_chunks(&mut one, obs, has_raw, storage)
        })
    } else {
        stream_cells(path, INSPECT_CHUNK, opts).and_then(|mut chunks| {
            let (obs, has_raw) = if format == ExpressionFormat::H5ad {
                let has_raw = opts.matrix != MatrixChoice::Raw
                    && matrices
                        .iter()
                        .any(|m| m.name == MatrixChoice::Raw.to_string());
                (h5ad_obs_columns(path)?, has_raw)
            } else {
                (Vec::new(), false)
            };
            summarize_chunks(
                chunks.as_mut(),
                obs,
                has_raw,
                "sparse (CSR), read in chunks",
            )
        })
    };
    let summary = match summary {
        Ok(s) => s,
        Err(e) if unreadable => {
            report.note = Some(e.to_string());
            report.read_seconds = start.elapsed().as_secs_f64();
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    report.read_seconds = start.elapsed().as_secs_f64();
    if report.kind.is_none() {
        report.kind = Some(summary.kind.clone());
    }
    report.summary = Some(summary.report);
    Ok(report)
}

/// Cells per chunk when `inspect` streams a file.
const INSPECT_CHUNK: usize = 4096;

/// An in-memory matrix as a single chunk, so that one summary serves every format.
struct OneChunk {
    genes: GeneTable,
    n_cells: usize,
    chunk: Option<CellChunk>,
}

impl OneChunk {
    fn new(m: ExpressionMatrix) -> Self {
        let n_cells = m.n_cells();
        let (values, genes, cells) = m.into_parts();
        OneChunk {
            genes,
            n_cells,
            chunk: Some(CellChunk {
                start: 0,
                cells,
                values: values.to_sparse(),
            }),
        }
    }
}

impl Iterator for OneChunk {
    type Item = Result<CellChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        self.chunk.take().map(Ok)
    }
}

impl CellChunks for OneChunk {
    fn genes(&self) -> &GeneTable {
        &self.genes
    }
    fn n_cells(&self) -> Option<usize> {
        Some(self.n_cells)
    }
}

/// A summary and the kind of values it saw.
pub struct Summarized {
    /// The summary.
    pub report: MatrixReport,
    /// What the first cells hold.
    pub kind: KindReport,
}

/// Summarises a matrix chunk by chunk: shape, sparsity, library sizes, genes per cell, whether
/// values are integers, which probe genes are present and, when all are, the module figures
/// (from the probe genes' columns, kept as the chunks pass). `obs` and `has_raw` come from the
/// file beside the chunks.
///
/// # Errors
/// The chunks' read errors; gene matching errors.
pub fn summarize_chunks(
    chunks: &mut dyn CellChunks,
    obs: Vec<(String, ObsColumn)>,
    has_raw: bool,
    storage: &str,
) -> Result<Summarized> {
    let genes = chunks.genes().clone();
    let mut probe_genes = Vec::new();
    let mut all_present = true;
    let mut keep = vec![usize::MAX; genes.len()];
    let mut kept: Vec<String> = Vec::new();
    for (group, group_genes) in PROBE_GROUPS {
        let vocab: Vec<String> = group_genes.iter().map(|g| (*g).to_string()).collect();
        let matched = match_genes(&genes, &vocab)?;
        all_present &= matched.report.missing.is_empty() && matched.report.ambiguous.is_empty();
        for &c in matched.columns.iter().flatten() {
            if keep[c] == usize::MAX {
                keep[c] = kept.len();
                kept.push(genes.symbols[c].clone());
            }
        }
        probe_genes.push(GroupPresence {
            group: (*group).to_string(),
            found: matched
                .columns
                .iter()
                .flatten()
                .map(|&c| genes.symbols[c].clone())
                .collect(),
            missing: vocab
                .iter()
                .zip(&matched.columns)
                .filter(|(_, c)| c.is_none())
                .map(|(g, _)| g.clone())
                .collect(),
        });
    }
    let (mut library, mut genes_per_cell) = (Vec::new(), Vec::new());
    let (mut cells, mut nnz, mut integer_values) = (Vec::new(), 0usize, true);
    let (mut kr, mut kc, mut kv) = (Vec::new(), Vec::new(), Vec::new());
    let mut kind: Option<KindReport> = None;
    for chunk in chunks {
        let chunk = chunk?;
        if kind.is_none() {
            kind = Some(detect_values_kind(&Values::Sparse(chunk.values.clone())));
        }
        let x = &chunk.values;
        nnz += x.nnz();
        for r in 0..x.n_rows() {
            let (cols, vals) = x.row(r);
            let row = cells.len() + r;
            // A fold from +0: an empty row's library prints as 0, not -0.
            library.push(vals.iter().fold(0.0, |a, &v| a + f64::from(v)));
            genes_per_cell.push(cols.len() as f64);
            for (&c, &v) in cols.iter().zip(vals) {
                integer_values &= v.fract() == 0.0;
                if let Some(&k) = keep.get(c as usize).filter(|&&k| k != usize::MAX) {
                    kr.push(row as u32);
                    kc.push(k as u32);
                    kv.push(v);
                }
            }
        }
        cells.extend(chunk.cells);
    }
    let n_cells = cells.len();
    // The module figures need the exact symbols; files that name them otherwise (case, ids)
    // are reported as present above but not correlated here.
    let module = if all_present {
        CsrMatrix::from_triplets(n_cells, kept.len(), &kr, &kc, &kv)
            .and_then(|x| {
                ExpressionMatrix::new(Values::Sparse(x), GeneTable::from_symbols(kept), cells)
            })
            .and_then(|m| module_spearman_with_totals(&m, &library, &SYNAPTIC_GENES, &MITO_GENES))
            .ok()
    } else {
        None
    };
    let all = n_cells as f64 * genes.len() as f64;
    let report = MatrixReport {
        n_cells,
        n_genes: genes.len(),
        nnz,
        sparsity: if all > 0.0 {
            1.0 - nnz as f64 / all
        } else {
            0.0
        },
        storage: storage.to_string(),
        has_gene_ids: genes.ids.is_some(),
        has_raw,
        obs: obs
            .iter()
            .map(|(n, c)| {
                let k = match c {
                    ObsColumn::Categorical { categories, .. } => Some(categories.len()),
                    _ => None,
                };
                (n.clone(), k)
            })
            .collect(),
        library_size: Summary::of(&library),
        genes_per_cell: Summary::of(&genes_per_cell),
        integer_values,
        probe_genes,
        module_spearman: module,
    };
    // No cells at all: nothing contradicts counts.
    let kind = kind.unwrap_or_else(|| {
        detect_values_kind(&Values::Dense(ndarray::Array2::zeros((0, genes.len()))))
    });
    Ok(Summarized { report, kind })
}

/// What `data synth` makes.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Generator parameters.
    pub params: BrainParams,
    /// Output: `.h5ad`, `.csv`/`.tsv`, or a directory (10x Matrix Market).
    pub out: PathBuf,
    /// Also simulate the network as dynamics and write one CSV per trajectory.
    pub timecourse: Option<TimeCourseParams>,
}

/// What `data synth` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthReport {
    /// Cells generated.
    pub n_cells: usize,
    /// Genes generated.
    pub n_genes: usize,
    /// Non-zero counts.
    pub nnz: usize,
    /// Cells per type, in the order of the `cell_type` categories.
    pub cell_types: Vec<(String, usize)>,
    /// The module figures measured on the generated cells.
    pub module_spearman: ModuleCorrelations,
    /// Files written.
    pub files: Vec<PathBuf>,
}

impl std::fmt::Display for SynthReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "synthetic brain: {} cells x {} genes, {} non-zero counts",
            self.n_cells, self.n_genes, self.nnz
        )?;
        let types: Vec<String> = self
            .cell_types
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        writeln!(f, "  cell types: {}", types.join(", "))?;
        let c = &self.module_spearman;
        writeln!(
            f,
            "  mean pairwise Spearman: synaptic {:+.3}, mitochondrial {:+.3}, between {:+.3}",
            c.within_a, c.within_b, c.between
        )?;
        for p in &self.files {
            writeln!(f, "wrote {}", p.display())?;
        }
        Ok(())
    }
}

/// `out` with its extension (if any) replaced by `suffix`: `brain.h5ad` → `brain.truth.json`.
fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let stem = if out.extension().is_some() && !out.is_dir() {
        out.with_extension("")
    } else {
        out.to_path_buf()
    };
    let mut name = stem.into_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Generates the synthetic brain and writes it with its ground truth beside it
/// (`<out>.truth.json`, `<out>.edges.tsv`), plus time-course CSVs (`<out>.timecourse/`) when
/// asked. `progress(step)` is called before each step, for a spinner.
///
/// # Errors
/// Parameter validation, generation and write errors.
pub fn synth(cfg: &SynthConfig, progress: &mut dyn FnMut(&str)) -> Result<SynthReport> {
    // Every output is checked and staged before anything is generated; all are moved into
    // place at the end, so a failed run leaves the old files or none.
    let matrix_out = expression_output(&cfg.out, &[])?;
    let truth_out = Output::file(&sibling(&cfg.out, ".truth.json"), &[])?;
    let edges_out = Output::file(&sibling(&cfg.out, ".edges.tsv"), &[])?;
    let timecourse_out = match &cfg.timecourse {
        Some(_) => Some(Output::dir(&sibling(&cfg.out, ".timecourse"), &[])?),
        None => None,
    };
    progress("generating");
    let brain = generate(&cfg.params)?;
    let m = &brain.matrix;
    progress("writing");
    write_expression(m, matrix_out.path())?;
    brain.truth.save_json(truth_out.path())?;
    brain.truth.write_signed_edges_tsv(edges_out.path())?;
    let mut trajectory_files = Vec::new();
    if let (Some(tp), Some(out)) = (&cfg.timecourse, &timecourse_out) {
        progress("simulating the time course");
        let tc = simulate_timecourse(tp)?;
        for (k, tr) in tc.trajectories.iter().enumerate() {
            let path = out.path().join(format!("trajectory_{k:03}.csv"));
            cellsindy::io::write_atomic(&path, trajectory_csv(tr).as_bytes())?;
            trajectory_files.push(out.final_path(&path));
        }
    }
    let mut files = vec![
        matrix_out.commit()?,
        truth_out.commit()?,
        edges_out.commit()?,
    ];
    if let Some(out) = timecourse_out {
        out.commit()?;
        files.extend(trajectory_files);
    }
    progress("measuring");
    let module_spearman = module_spearman(m, &SYNAPTIC_GENES, &MITO_GENES)?;
    let cell_types = match m.obs_column("cell_type") {
        Some(ObsColumn::Categorical { categories, codes }) => categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), codes.iter().filter(|&&k| k == i as i32).count()))
            .collect(),
        _ => Vec::new(),
    };
    Ok(SynthReport {
        n_cells: m.n_cells(),
        n_genes: m.n_genes(),
        nnz: m.values().nnz(),
        cell_types,
        module_spearman,
        files,
    })
}

/// `t,<genes>,<controls>` with a header row: what `cellsindy sindy --data F --controls ...`
/// reads.
fn trajectory_csv(tr: &cellsindy::data::Trajectory) -> String {
    let mut s = String::from("t");
    for n in tr.names().iter().chain(tr.control_names()) {
        s.push(',');
        s.push_str(&cellsindy::escape::csv(n));
    }
    s.push('\n');
    let t = tr.t().to_vec();
    for (i, row) in tr.x().rows().into_iter().enumerate() {
        s.push_str(&format!("{}", t[i]));
        for v in row {
            s.push_str(&format!(",{v}"));
        }
        if let Some(u) = tr.u() {
            for v in u.row(i) {
                s.push_str(&format!(",{v}"));
            }
        }
        s.push('\n');
    }
    s
}

/// Reads `data`, permutes the named genes (all genes with `None`) across cells
/// ([`ExpressionMatrix::permute_genes`]) and writes the control to `out` (atomically, by the
/// writer). Returns `(cells, genes permuted)`.
///
/// # Errors
/// Read and write errors; [`Error::UnknownGenes`] naming every gene not in the file.
pub fn permute(
    data: &Path,
    opts: &ReadOptions,
    genes: Option<&[String]>,
    seed: u64,
    out: &Path,
) -> Result<(usize, usize)> {
    let m = read_expression(data, opts)?;
    let cols: Vec<usize> = match genes {
        None => (0..m.n_genes()).collect(),
        Some(names) => {
            let missing: Vec<String> = names
                .iter()
                .filter(|g| m.genes().position(g).is_none())
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(Error::UnknownGenes { genes: missing });
            }
            names.iter().filter_map(|g| m.genes().position(g)).collect()
        }
    };
    let control = m.permute_genes(&cols, seed)?;
    write_expression(&control, out)?;
    Ok((m.n_cells(), cols.len()))
}
