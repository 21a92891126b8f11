//! Activation capture of unmasked cells, per gene token and pooled per cell (the masked
//! counterpart is [`crate::nn::capture`]).

use super::*;

/// Captured activations of cells, per gene token and pooled per cell.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationSet {
    /// Cell ids.
    pub cells: Vec<String>,
    /// Index of each cell in the data it was read from.
    pub cell_index: Vec<i64>,
    /// `[cells, L]` vocabulary token id at each gene position (`-1` for padding); symbols via
    /// `genes[id - 1]`.
    pub gene_index: Array2<i64>,
    /// Vocabulary symbols (token id `i + 1` is `genes[i]`).
    pub genes: Vec<String>,
    /// `name → [cells, d]`: mean over the cell's gene tokens.
    pub pooled: BTreeMap<String, Array2<f32>>,
    /// `name → [cells, L, d]`: per gene token (zeros at padding), when asked for.
    pub per_token: BTreeMap<String, Array3<f32>>,
    /// `[cells, L]` the observed bin of each gene token (0 at padding).
    pub bins: Array2<i64>,
}

/// Runs cells `rows` through the model (nothing masked) and captures `spec`'s activations.
/// Condition tokens are excluded from `per_token` and from the pooled means.
///
/// # Errors
/// As [`impute`].
pub fn capture(
    m: &InferenceModel,
    cells: &PreparedCells,
    rows: &[usize],
    spec: CaptureSpec,
    per_token: bool,
    seed: u64,
    batch_size: usize,
) -> Result<ActivationSet> {
    check_rows(cells, rows)?;
    let n_fields = m.tokenizer.conditions.len();
    let n = rows.len();
    if per_token {
        // One value per cell, token, unit and captured tensor (at most residual, attention
        // and MLP per block), kept until the file is written.
        let c = &m.config;
        let units = (3 * c.d_model + c.d_ff).saturating_mul(c.n_layers);
        crate::memory::ensure_fits(
            || format!("per-token activations of {n} cells"),
            crate::memory::array_bytes(
                &[n, m.tokenizer.sampling.max_genes + n_fields, units, 2],
                4,
            ),
        )?;
    }
    let all_tokens = rows
        .iter()
        .map(|&r| inference_cell(m, cells, r, &[], &Context::sampled(), seed))
        .collect::<Result<Vec<_>>>()?;
    let l = all_tokens.iter().map(|t| t.genes.len()).max().unwrap_or(1);
    let mut gene_index = Array2::<i64>::from_elem((n, l), -1);
    let mut bins = Array2::<i64>::zeros((n, l));
    for (i, t) in all_tokens.iter().enumerate() {
        for j in 0..t.genes.len() {
            gene_index[[i, j]] = t.genes[j] as i64;
            bins[[i, j]] = t.bins[j] as i64;
        }
    }
    let mut pooled: BTreeMap<String, Array2<f32>> = BTreeMap::new();
    let mut tokens_out: BTreeMap<String, Array3<f32>> = BTreeMap::new();
    let bs = batch_size.max(1);
    for (chunk_no, chunk) in all_tokens.chunks(bs).enumerate() {
        let batch = collate(
            chunk,
            None,
            m.tokenizer.binning.n_bins,
            n_fields,
            m.model.device(),
        )?;
        let (_, captured) = m.model.forward_with_capture(&batch.input, spec)?;
        for (name, t) in captured {
            let (b, tt, d) = t.dims3()?;
            let genes_part = t.narrow(1, n_fields, tt - n_fields)?;
            let lb = tt - n_fields;
            // Pooled mean over real gene tokens.
            let mask: Vec<f32> = chunk
                .iter()
                .flat_map(|c| (0..lb).map(move |j| if j < c.genes.len() { 1.0 } else { 0.0 }))
                .collect();
            let mask = Tensor::from_vec(mask, (b, lb, 1), m.model.device())?;
            let counts: Vec<f32> = chunk.iter().map(|c| c.genes.len().max(1) as f32).collect();
            let counts = Tensor::from_vec(counts, (b, 1), m.model.device())?;
            let mean = genes_part
                .broadcast_mul(&mask)?
                .sum(1)?
                .broadcast_div(&counts)?
                .to_vec2::<f32>()?;
            let pooled_arr = pooled
                .entry(name.clone())
                .or_insert_with(|| Array2::zeros((n, d)));
            for (i, row) in mean.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    pooled_arr[[chunk_no * bs + i, j]] = *v;
                }
            }
            if per_token {
                let vals = genes_part.broadcast_mul(&mask)?.to_vec3::<f32>()?;
                let arr = tokens_out
                    .entry(name)
                    .or_insert_with(|| Array3::zeros((n, l, d)));
                for (i, cell) in vals.iter().enumerate() {
                    for (j, tok) in cell.iter().enumerate().take(l) {
                        for (k, v) in tok.iter().enumerate() {
                            arr[[chunk_no * bs + i, j, k]] = *v;
                        }
                    }
                }
            }
        }
    }
    Ok(ActivationSet {
        cells: rows.iter().map(|&r| cells.cells[r].clone()).collect(),
        cell_index: rows.iter().map(|&r| r as i64).collect(),
        gene_index,
        genes: m.tokenizer.vocab.genes().to_vec(),
        pooled,
        per_token: tokens_out,
        bins,
    })
}

impl ActivationSet {
    /// Writes a safetensors file: `<name>.pooled` `[cells, d]`, `<name>.tokens`
    /// `[cells, L, d]`, `cell_index` `[cells]`, `gene_index` `[cells, L]`, `bins` `[cells, L]`;
    /// metadata `cells` and `genes` (JSON lists of ids and vocabulary symbols). Atomic.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut t = BTreeMap::new();
        for (name, a) in &self.pooled {
            t.insert(
                format!("{name}.pooled"),
                HostTensor::f32(a.shape().to_vec(), a.iter().copied().collect()),
            );
        }
        for (name, a) in &self.per_token {
            t.insert(
                format!("{name}.tokens"),
                HostTensor::f32(a.shape().to_vec(), a.iter().copied().collect()),
            );
        }
        t.insert(
            "cell_index".into(),
            HostTensor::i64(vec![self.cell_index.len()], self.cell_index.clone()),
        );
        t.insert(
            "gene_index".into(),
            HostTensor::i64(
                self.gene_index.shape().to_vec(),
                self.gene_index.iter().copied().collect(),
            ),
        );
        t.insert(
            "bins".into(),
            HostTensor::i64(
                self.bins.shape().to_vec(),
                self.bins.iter().copied().collect(),
            ),
        );
        let meta = HashMap::from([
            ("cells".to_string(), serde_json::to_string(&self.cells)?),
            ("genes".to_string(), serde_json::to_string(&self.genes)?),
        ]);
        store::write(path, &t, meta)
    }

    /// Reads a file written by [`ActivationSet::save`].
    ///
    /// # Errors
    /// [`Error::Format`] for a file that is not one.
    pub fn load(path: &Path) -> Result<Self> {
        let (mut t, meta) = store::read(path)?;
        let json = |k: &str| -> Result<Vec<String>> {
            let s = meta
                .get(k)
                .ok_or_else(|| Error::format(path, format!("missing metadata `{k}`")))?;
            serde_json::from_str(s).map_err(|e| Error::format(path, format!("metadata `{k}`: {e}")))
        };
        let cells = json("cells")?;
        let genes = json("genes")?;
        let take_i64 = |t: &mut BTreeMap<String, HostTensor>, k: &str| -> Result<HostTensor> {
            t.remove(k)
                .ok_or_else(|| Error::format(path, format!("missing tensor `{k}`")))
        };
        let ci = take_i64(&mut t, "cell_index")?;
        let gi = take_i64(&mut t, "gene_index")?;
        let bi = take_i64(&mut t, "bins")?;
        let as_i64 = |h: HostTensor| -> Result<(Vec<usize>, Vec<i64>)> {
            match h.data {
                store::HostData::I64(v) => Ok((h.shape, v)),
                store::HostData::F32(_) => Err(Error::format(path, "index tensor is not i64")),
            }
        };
        let (_, cell_index) = as_i64(ci)?;
        let (gs, gv) = as_i64(gi)?;
        let (bs, bv) = as_i64(bi)?;
        let shape2 = |s: &[usize]| -> Result<(usize, usize)> {
            match s {
                [a, b] => Ok((*a, *b)),
                _ => Err(Error::format(
                    path,
                    format!("expected a 2-d tensor, got {s:?}"),
                )),
            }
        };
        let gene_index = Array2::from_shape_vec(shape2(&gs)?, gv)
            .map_err(|e| Error::format(path, e.to_string()))?;
        let bins = Array2::from_shape_vec(shape2(&bs)?, bv)
            .map_err(|e| Error::format(path, e.to_string()))?;
        let mut pooled = BTreeMap::new();
        let mut per_token = BTreeMap::new();
        for (k, h) in t {
            let v = h
                .as_f32()
                .map_err(|_| Error::format(path, format!("`{k}` is not f32")))?
                .to_vec();
            if let Some(name) = k.strip_suffix(".pooled") {
                pooled.insert(
                    name.to_string(),
                    Array2::from_shape_vec(shape2(&h.shape)?, v)
                        .map_err(|e| Error::format(path, e.to_string()))?,
                );
            } else if let Some(name) = k.strip_suffix(".tokens") {
                let [a, b, c] = h.shape.as_slice() else {
                    return Err(Error::format(path, format!("`{k}` is not 3-d")));
                };
                per_token.insert(
                    name.to_string(),
                    Array3::from_shape_vec((*a, *b, *c), v)
                        .map_err(|e| Error::format(path, e.to_string()))?,
                );
            }
        }
        if cells.len() != cell_index.len() || gene_index.nrows() != cells.len() {
            return Err(Error::format(
                path,
                "cell metadata and index tensors disagree",
            ));
        }
        Ok(Self {
            cells,
            cell_index,
            gene_index,
            genes,
            pooled,
            per_token,
            bins,
        })
    }
}
