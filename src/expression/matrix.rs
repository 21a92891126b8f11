//! [`ExpressionMatrix`]: cells × genes values with the names and metadata that travel with them.

use std::collections::HashMap;

use ndarray::Array2;

use super::sparse::CsrMatrix;
use crate::error::{Error, Result};

/// Cells × genes values, dense or sparse. Rows are cells, as in AnnData.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Dense row-major `f32` (n_cells × n_genes).
    Dense(Array2<f32>),
    /// Compressed sparse rows.
    Sparse(CsrMatrix),
}

impl Values {
    /// `(n_cells, n_genes)`.
    pub fn dim(&self) -> (usize, usize) {
        match self {
            Values::Dense(x) => x.dim(),
            Values::Sparse(x) => (x.n_rows(), x.n_cols()),
        }
    }
    /// Number of non-zero entries (counted for dense storage).
    pub fn nnz(&self) -> usize {
        match self {
            Values::Dense(x) => x.iter().filter(|v| **v != 0.0).count(),
            Values::Sparse(x) => x.nnz(),
        }
    }
    /// Dense copy.
    pub fn to_dense(&self) -> Array2<f32> {
        match self {
            Values::Dense(x) => x.clone(),
            Values::Sparse(x) => x.to_dense(),
        }
    }
    /// Sparse copy (or clone).
    pub fn to_sparse(&self) -> CsrMatrix {
        match self {
            Values::Dense(x) => CsrMatrix::from_dense(x.view()),
            Values::Sparse(x) => x.clone(),
        }
    }
    /// Calls `f(cell, gene, value)` for every non-zero entry, cells in order.
    pub fn for_each_nonzero(&self, mut f: impl FnMut(usize, usize, f32)) {
        match self {
            Values::Dense(x) => {
                for ((r, c), &v) in x.indexed_iter() {
                    if v != 0.0 {
                        f(r, c, v);
                    }
                }
            }
            Values::Sparse(x) => {
                for r in 0..x.n_rows() {
                    let (i, v) = x.row(r);
                    for (&c, &val) in i.iter().zip(v) {
                        f(r, c as usize, val);
                    }
                }
            }
        }
    }
    /// Checks that every value is finite and non-negative (counts or normalised expression).
    ///
    /// # Errors
    /// [`Error::NonFinite`] or [`Error::Negative`] at the first offending entry.
    pub fn check_counts(&self, what: &str) -> Result<()> {
        let mut bad: Option<(usize, usize, f32)> = None;
        // Fast path: one pass over the raw values, positions only on failure.
        let ok = match self {
            Values::Dense(x) => match x.as_slice_memory_order() {
                Some(s) => all_counts(s),
                None => x.iter().all(|v| (0.0..f32::INFINITY).contains(v)),
            },
            Values::Sparse(x) => all_counts(x.data()),
        };
        if ok {
            return Ok(());
        }
        self.for_each_nonzero(|r, c, v| {
            if bad.is_none() && !(v.is_finite() && v >= 0.0) {
                bad = Some((r, c, v));
            }
        });
        match bad {
            Some((row, col, v)) if !v.is_finite() => Err(Error::NonFinite {
                what: "expression values",
                row,
                col,
                value: f64::from(v),
            }),
            Some((cell, gene, v)) => Err(Error::Negative {
                what: what.to_string(),
                cell,
                gene,
                value: f64::from(v),
            }),
            None => Ok(()),
        }
    }
}

/// True when every value is finite and non-negative. Blocks of 256 without short-circuit
/// vectorise (NaN fails both comparisons); a failing block stops the scan; large inputs are
/// scanned in parallel.
fn all_counts(s: &[f32]) -> bool {
    use rayon::prelude::*;
    let block = |c: &[f32]| {
        c.chunks(256).all(|c| {
            c.iter()
                .fold(true, |ok, v| ok & (0.0..f32::INFINITY).contains(v))
        })
    };
    if s.len() >= 1 << 20 {
        s.par_chunks(1 << 16).all(block)
    } else {
        block(s)
    }
}

/// Gene names: symbols (what people say, `var_names` in scanpy) and, where the file gives them,
/// stable ids (Ensembl, 10x `features.tsv` column 1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeneTable {
    /// Gene symbols, one per column, unique.
    pub symbols: Vec<String>,
    /// Stable ids (e.g. `ENSG00000167281`), one per column, when known.
    pub ids: Option<Vec<String>>,
}

impl GeneTable {
    /// Symbols only.
    pub fn from_symbols(symbols: Vec<String>) -> Self {
        GeneTable { symbols, ids: None }
    }
    /// Number of genes.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }
    /// True when there are no genes.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
    /// Position of a symbol (exact match).
    pub fn position(&self, symbol: &str) -> Option<usize> {
        self.symbols.iter().position(|s| s == symbol)
    }
}

/// One column of cell metadata (AnnData `obs`).
#[derive(Debug, Clone, PartialEq)]
pub enum ObsColumn {
    /// A categorical (pandas `Categorical`): `codes[i]` indexes `categories`, `-1` is missing.
    Categorical {
        /// The category labels.
        categories: Vec<String>,
        /// One code per cell.
        codes: Vec<i32>,
    },
    /// Free text per cell.
    Text(Vec<String>),
    /// A number per cell (NaN for missing).
    Numeric(Vec<f64>),
}

impl ObsColumn {
    /// Number of cells the column describes.
    pub fn len(&self) -> usize {
        match self {
            ObsColumn::Categorical { codes, .. } => codes.len(),
            ObsColumn::Text(v) => v.len(),
            ObsColumn::Numeric(v) => v.len(),
        }
    }
    /// True when the column has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value for cell `i` as text (`""` for missing).
    pub fn label(&self, i: usize) -> String {
        match self {
            ObsColumn::Categorical { categories, codes } => codes
                .get(i)
                .and_then(|&c| usize::try_from(c).ok())
                .and_then(|c| categories.get(c))
                .cloned()
                .unwrap_or_default(),
            ObsColumn::Text(v) => v.get(i).cloned().unwrap_or_default(),
            ObsColumn::Numeric(v) => v.get(i).map(|x| x.to_string()).unwrap_or_default(),
        }
    }
    /// Categorical column from per-cell labels (categories sorted, like pandas).
    pub fn categorical_from_labels(labels: &[String]) -> Self {
        let mut categories: Vec<String> = labels.to_vec();
        categories.sort();
        categories.dedup();
        let index: HashMap<&str, i32> = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as i32))
            .collect();
        let codes = labels
            .iter()
            .map(|l| index.get(l.as_str()).copied().unwrap_or(-1))
            .collect();
        ObsColumn::Categorical { categories, codes }
    }
    fn select(&self, rows: &[usize]) -> Self {
        match self {
            ObsColumn::Categorical { categories, codes } => ObsColumn::Categorical {
                categories: categories.clone(),
                codes: rows.iter().map(|&r| codes[r]).collect(),
            },
            ObsColumn::Text(v) => ObsColumn::Text(rows.iter().map(|&r| v[r].clone()).collect()),
            ObsColumn::Numeric(v) => ObsColumn::Numeric(rows.iter().map(|&r| v[r]).collect()),
        }
    }
}

/// Values kept before normalisation (AnnData `.raw`): usually counts over all genes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawValues {
    /// n_cells × n_raw_genes.
    pub values: Values,
    /// The raw matrix's genes.
    pub genes: GeneTable,
}

/// Cells × genes expression with gene names, cell ids and cell metadata.
///
/// Built through [`ExpressionMatrix::new`], which checks shapes, uniqueness of gene symbols and
/// cell ids, and that values are finite and non-negative.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionMatrix {
    values: Values,
    genes: GeneTable,
    cells: Vec<String>,
    /// Cell metadata columns in order, e.g. `cell_type`, `condition`.
    obs: Vec<(String, ObsColumn)>,
    raw: Option<RawValues>,
}

impl ExpressionMatrix {
    /// Checks and builds.
    ///
    /// # Errors
    /// [`Error::Shape`] if names do not match the matrix, [`Error::Duplicate`] for a repeated
    /// gene symbol, gene id or cell id, [`Error::NonFinite`]/[`Error::Negative`] for bad values.
    pub fn new(values: Values, genes: GeneTable, cells: Vec<String>) -> Result<Self> {
        let (n_cells, n_genes) = values.dim();
        if genes.symbols.len() != n_genes {
            return Err(Error::shape(
                "gene names",
                format!("{n_genes} (matrix columns)"),
                format!("{}", genes.symbols.len()),
            ));
        }
        if let Some(ids) = &genes.ids {
            if ids.len() != n_genes {
                return Err(Error::shape(
                    "gene ids",
                    format!("{n_genes} (matrix columns)"),
                    format!("{}", ids.len()),
                ));
            }
        }
        if cells.len() != n_cells {
            return Err(Error::shape(
                "cell ids",
                format!("{n_cells} (matrix rows)"),
                format!("{}", cells.len()),
            ));
        }
        check_unique(
            "gene",
            &genes.symbols,
            "; gene symbols must be unique (make them unique, e.g. with scanpy's var_names_make_unique, or read with make_unique)",
        )?;
        check_unique("cell", &cells, "")?;
        values.check_counts("expression values")?;
        Ok(ExpressionMatrix {
            values,
            genes,
            cells,
            obs: Vec::new(),
            raw: None,
        })
    }

    /// Adds (or replaces) a metadata column.
    ///
    /// # Errors
    /// [`Error::Shape`] if it does not have one entry per cell.
    pub fn with_obs(mut self, name: impl Into<String>, column: ObsColumn) -> Result<Self> {
        let name = name.into();
        if column.len() != self.n_cells() {
            return Err(Error::shape(
                "obs column",
                format!("{} cells", self.n_cells()),
                format!("{} in `{name}`", column.len()),
            ));
        }
        if let Some(slot) = self.obs.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = column;
        } else {
            self.obs.push((name, column));
        }
        Ok(self)
    }

    /// Attaches `.raw` values.
    ///
    /// # Errors
    /// [`Error::Shape`] if the raw matrix has another number of cells or gene names.
    pub fn with_raw(mut self, raw: RawValues) -> Result<Self> {
        let (n, g) = raw.values.dim();
        if n != self.n_cells() || g != raw.genes.len() {
            return Err(Error::shape(
                "raw",
                format!("{} cells, {} gene names", self.n_cells(), raw.genes.len()),
                format!("{n} x {g}"),
            ));
        }
        self.raw = Some(raw);
        Ok(self)
    }

    /// Number of cells (rows).
    pub fn n_cells(&self) -> usize {
        self.cells.len()
    }
    /// Number of genes (columns).
    pub fn n_genes(&self) -> usize {
        self.genes.len()
    }
    /// The values.
    pub fn values(&self) -> &Values {
        &self.values
    }
    /// Mutable values, for in-place transforms that keep shape and sparsity.
    pub fn values_mut(&mut self) -> &mut Values {
        &mut self.values
    }
    /// Gene names.
    pub fn genes(&self) -> &GeneTable {
        &self.genes
    }
    /// Cell ids.
    pub fn cells(&self) -> &[String] {
        &self.cells
    }
    /// Metadata columns.
    pub fn obs(&self) -> &[(String, ObsColumn)] {
        &self.obs
    }
    /// A metadata column by name.
    pub fn obs_column(&self, name: &str) -> Option<&ObsColumn> {
        self.obs.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
    /// `.raw`, when present.
    pub fn raw(&self) -> Option<&RawValues> {
        self.raw.as_ref()
    }
    /// Fraction of entries that are zero.
    pub fn sparsity(&self) -> f64 {
        let total = (self.n_cells() * self.n_genes()) as f64;
        if total == 0.0 {
            return 0.0;
        }
        1.0 - self.values.nnz() as f64 / total
    }
    /// Total of each cell's values (library size when values are counts).
    pub fn library_sizes(&self) -> Vec<f64> {
        let mut out = vec![0.0f64; self.n_cells()];
        self.values
            .for_each_nonzero(|r, _, v| out[r] += f64::from(v));
        out
    }

    /// The cells at `rows` (in that order), with their metadata and raw values.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an index out of range; [`Error::Duplicate`] for a repeat.
    pub fn select_cells(&self, rows: &[usize]) -> Result<Self> {
        if let Some(&r) = rows.iter().find(|&&r| r >= self.n_cells()) {
            return Err(Error::param(
                "cell",
                r,
                format!("must be < {}", self.n_cells()),
            ));
        }
        let cells: Vec<String> = rows.iter().map(|&r| self.cells[r].clone()).collect();
        check_unique("cell", &cells, "")?;
        let values = select_rows(&self.values, rows)?;
        let raw = match &self.raw {
            Some(raw) => Some(RawValues {
                values: select_rows(&raw.values, rows)?,
                genes: raw.genes.clone(),
            }),
            None => None,
        };
        Ok(ExpressionMatrix {
            values,
            genes: self.genes.clone(),
            cells,
            obs: self
                .obs
                .iter()
                .map(|(n, c)| (n.clone(), c.select(rows)))
                .collect(),
            raw,
        })
    }

    /// A negative control: the values of each gene in `genes` permuted across cells, each gene
    /// with its own seeded permutation (stream = the gene's column). A permuted gene keeps its
    /// distribution but loses every relation to the other genes and to the cell's metadata, so
    /// a model trained on it must fail any probe that reads such a relation. `.raw` is dropped
    /// (it would no longer match); the obs columns are kept.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a column out of range or listed twice.
    pub fn permute_genes(&self, genes: &[usize], seed: u64) -> Result<Self> {
        use rand::seq::SliceRandom;
        const DOMAIN_PERMUTE: u64 = 0x7065_726d_7574_6547;
        let (n, p) = self.values.dim();
        let mut perm: Vec<Option<Vec<u32>>> = vec![None; p];
        for &g in genes {
            if g >= p {
                return Err(Error::param("gene", g, format!("must be < {p}")));
            }
            if perm[g].is_some() {
                return Err(Error::param("gene", g, "listed twice"));
            }
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.shuffle(&mut crate::rng::stream(seed, DOMAIN_PERMUTE, g as u64));
            perm[g] = Some(order);
        }
        let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        self.values.for_each_nonzero(|r, c, v| {
            rows.push(perm[c].as_ref().map_or(r as u32, |o| o[r]));
            cols.push(c as u32);
            vals.push(v);
        });
        let csr = CsrMatrix::from_triplets(n, p, &rows, &cols, &vals)?;
        let values = match &self.values {
            Values::Dense(_) => Values::Dense(csr.to_dense()),
            Values::Sparse(_) => Values::Sparse(csr),
        };
        Ok(ExpressionMatrix {
            values,
            genes: self.genes.clone(),
            cells: self.cells.clone(),
            obs: self.obs.clone(),
            raw: None,
        })
    }

    /// The genes at `cols` (in that order). `.raw` keeps all its genes, as in AnnData.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for an index out of range or repeated.
    pub fn select_genes(&self, cols: &[usize]) -> Result<Self> {
        let values = match &self.values {
            Values::Dense(x) => {
                if let Some(&c) = cols.iter().find(|&&c| c >= self.n_genes()) {
                    return Err(Error::param(
                        "gene",
                        c,
                        format!("must be < {}", self.n_genes()),
                    ));
                }
                Values::Dense(x.select(ndarray::Axis(1), cols))
            }
            Values::Sparse(x) => Values::Sparse(x.select_cols(cols)?),
        };
        let symbols: Vec<String> = cols
            .iter()
            .map(|&c| self.genes.symbols[c].clone())
            .collect();
        check_unique("gene", &symbols, "; a gene was selected twice")?;
        let ids = self
            .genes
            .ids
            .as_ref()
            .map(|ids| cols.iter().map(|&c| ids[c].clone()).collect());
        Ok(ExpressionMatrix {
            values,
            genes: GeneTable { symbols, ids },
            cells: self.cells.clone(),
            obs: self.obs.clone(),
            raw: self.raw.clone(),
        })
    }

    /// The genes named (exact symbols), in the order given.
    ///
    /// # Errors
    /// [`Error::UnknownGenes`] listing every name not found.
    pub fn select_gene_names(&self, names: &[&str]) -> Result<Self> {
        let index: HashMap<&str, usize> = self
            .genes
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let mut cols = Vec::with_capacity(names.len());
        let mut missing = Vec::new();
        for n in names {
            match index.get(n) {
                Some(&c) => cols.push(c),
                None => missing.push((*n).to_string()),
            }
        }
        if !missing.is_empty() {
            return Err(Error::UnknownGenes { genes: missing });
        }
        self.select_genes(&cols)
    }

    /// Takes the matrix apart into values, genes and cells (metadata dropped).
    pub fn into_parts(self) -> (Values, GeneTable, Vec<String>) {
        (self.values, self.genes, self.cells)
    }
}

fn select_rows(values: &Values, rows: &[usize]) -> Result<Values> {
    Ok(match values {
        Values::Dense(x) => Values::Dense(x.select(ndarray::Axis(0), rows)),
        Values::Sparse(x) => Values::Sparse(x.select_rows(rows)?),
    })
}

/// [`Error::Duplicate`] at the first repeated name.
///
/// # Errors
/// As above.
pub fn check_unique(what: &'static str, names: &[String], hint: &str) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        if let Some(&first) = seen.get(n.as_str()) {
            return Err(Error::Duplicate {
                what,
                name: n.clone(),
                first,
                second: i,
                hint: hint.to_string(),
            });
        }
        seen.insert(n, i);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permuting_a_gene_keeps_its_values_and_moves_them_across_cells() {
        let x = Array2::from_shape_fn((50, 3), |(i, j)| {
            if (i + j) % 4 == 0 {
                0.0
            } else {
                (i * 3 + j) as f32
            }
        });
        let cells: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
        let genes = GeneTable::from_symbols(vec!["a".into(), "b".into(), "c".into()]);
        let m = ExpressionMatrix::new(
            Values::Sparse(CsrMatrix::from_dense(x.view())),
            genes,
            cells,
        )
        .unwrap();
        let p = m.permute_genes(&[1], 3).unwrap();
        let d = p.values().to_dense();
        assert_eq!(d.column(0), x.column(0));
        assert_eq!(d.column(2), x.column(2));
        assert_ne!(d.column(1), x.column(1));
        let mut a: Vec<f32> = d.column(1).to_vec();
        let mut b: Vec<f32> = x.column(1).to_vec();
        a.sort_by(f32::total_cmp);
        b.sort_by(f32::total_cmp);
        assert_eq!(a, b);
        assert_eq!(p, m.permute_genes(&[1], 3).unwrap());
        assert!(m.permute_genes(&[1, 1], 3).is_err());
        assert!(m.permute_genes(&[3], 3).is_err());
    }
}
