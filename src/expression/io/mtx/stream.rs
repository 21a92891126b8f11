//! Streaming a 10x matrix in chunks of cells with bounded memory.

use super::*;

/// Streams a 10x directory or `.mtx[.gz]` file in chunks of consecutive cells with bounded
/// memory (one block of text, one chunk, and the gene and cell names), without loading the
/// file. The entries must be sorted by cell (non-decreasing column index), as 10x writes them;
/// a file that is not is an error that says so.
pub struct MtxChunks {
    pub(super) genes: GeneTable,
    /// Feature rows kept (`gex_only`), applied to every chunk.
    pub(super) keep: Option<Vec<usize>>,
    pub(super) cells: Vec<String>,
    pub(super) header: MtxHeader,
    pub(super) chunk_cells: usize,
    pub(super) blocks: BlockReader<BufReader<DynRead>>,
    pub(super) buf: Vec<u8>,
    /// Parsed entries of the current block, and the next one to use.
    pub(super) pending: Parsed,
    pub(super) pos: usize,
    /// Line number of the next block's first line.
    pub(super) line: usize,
    /// Entries read so far.
    pub(super) seen: usize,
    /// Cell of the last entry read.
    pub(super) last_cell: u32,
    /// First cell of the next chunk.
    pub(super) next_cell: usize,
    pub(super) eof: bool,
    pub(super) done: bool,
}

impl std::fmt::Debug for MtxChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtxChunks")
            .field("path", &self.blocks.info().path)
            .field("header", &self.header)
            .field("chunk_cells", &self.chunk_cells)
            .field("next_cell", &self.next_cell)
            .finish_non_exhaustive()
    }
}

impl MtxChunks {
    /// Opens a 10x directory or a `.mtx[.gz]` file (names as [`read_10x`] and
    /// [`read_10x_mtx_file`]) and reads its header and names.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `chunk_cells == 0`, and what [`read_10x`] reports about the
    /// header and names.
    pub fn open(path: &Path, chunk_cells: usize, opts: &ReadOptions) -> Result<Self> {
        if chunk_cells == 0 {
            return Err(Error::param("chunk_cells", 0, "must be at least 1"));
        }
        let files = if path.is_dir() {
            TenxFiles::of_dir(path)?
        } else {
            TenxFiles::beside_mtx(path)
        };
        let o = open_files(&files, opts)?;
        let line = o.header.size_line + 1;
        Ok(MtxChunks {
            genes: o.genes,
            keep: o.keep,
            cells: o.cells,
            chunk_cells,
            blocks: BlockReader::new(o.body, block_size(STREAM_BLOCK, &o.info), o.info),
            header: o.header,
            buf: Vec::new(),
            pending: Parsed::default(),
            pos: 0,
            line,
            seen: 0,
            last_cell: 0,
            next_cell: 0,
            eof: false,
            done: false,
        })
    }

    /// Reads and parses the next block into `pending`; `false` at the end of the file.
    pub(super) fn load_block(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if !self.blocks.fill(&mut self.buf)? {
            self.eof = true;
            if self.seen < self.header.nnz {
                return Err(truncated(
                    &self.blocks.info().path,
                    self.line,
                    &self.header,
                    self.seen,
                ));
            }
            return Ok(false);
        }
        let path = self.blocks.info().path.clone();
        let mut pending = Parsed::default();
        let mut last = self.last_cell;
        let h = &self.header;
        self.line = parse_block(
            &self.buf,
            h,
            &path,
            self.line,
            &mut self.seen,
            |p, part, line| {
                let first_bad = p
                    .cells
                    .iter()
                    .enumerate()
                    .find(|&(_, &c)| {
                        let ok = c >= last;
                        last = c;
                        !ok
                    })
                    .map(|(k, _)| k);
                if let Some(k) = first_bad {
                    return Err(Error::parse(
                        &path,
                        line + entry_line(part, k),
                        "entries are not sorted by cell (column index decreases), so the file cannot be streamed; read it whole or convert it to .h5ad first",
                    ));
                }
                pending.cells.extend_from_slice(&p.cells);
                pending.genes.extend_from_slice(&p.genes);
                pending.vals.extend_from_slice(&p.vals);
                Ok(())
            },
        )?;
        self.last_cell = last;
        self.pending = pending;
        self.pos = 0;
        Ok(true)
    }

    pub(super) fn next_chunk(&mut self) -> Result<Option<CellChunk>> {
        let n_cells = self.header.n_cols;
        let start = self.next_cell;
        if start >= n_cells {
            // No cells left: make sure nothing is missing (entries would all be in earlier
            // chunks, as they are sorted by cell).
            while self.load_block()? {}
            return Ok(None);
        }
        let end = start.saturating_add(self.chunk_cells).min(n_cells);
        let mut counts = vec![0usize; end - start];
        let mut genes = Vec::new();
        let mut vals = Vec::new();
        'fill: loop {
            while let (Some(&c), Some(&g), Some(&v)) = (
                self.pending.cells.get(self.pos),
                self.pending.genes.get(self.pos),
                self.pending.vals.get(self.pos),
            ) {
                let c = c as usize;
                if c >= end {
                    break 'fill;
                }
                if let Some(k) = counts.get_mut(c - start) {
                    *k += 1;
                }
                genes.push(g);
                vals.push(v);
                self.pos += 1;
            }
            if !self.load_block()? {
                break;
            }
        }
        let mut indptr = Vec::with_capacity(counts.len() + 1);
        indptr.push(0);
        let mut acc = 0;
        for k in counts {
            acc += k;
            indptr.push(acc);
        }
        normalize_rows(&mut indptr, &mut genes, &mut vals);
        let mut values = CsrMatrix::new(end - start, self.header.n_rows, indptr, genes, vals)?;
        if let Some(k) = &self.keep {
            values = values.select_cols(k)?;
        }
        self.next_cell = end;
        Ok(Some(CellChunk {
            start,
            cells: self.cells.get(start..end).unwrap_or(&[]).to_vec(),
            values,
        }))
    }
}

impl Iterator for MtxChunks {
    type Item = Result<CellChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(c)) => Some(Ok(c)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl CellChunks for MtxChunks {
    fn genes(&self) -> &GeneTable {
        &self.genes
    }
    fn n_cells(&self) -> Option<usize> {
        Some(self.header.n_cols)
    }
}
