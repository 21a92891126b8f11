//! Parsed entries into CSR order: straight in when sorted by cell, else a counting sort; duplicates summed, zeros dropped.

use super::*;

/// Collects parsed pieces in file order into CSR (cells as rows), checking the entry count.
pub(super) struct Assembler {
    pub(super) n_cells: usize,
    /// Entries per cell.
    pub(super) counts: Vec<usize>,
    pub(super) genes: Vec<u32>,
    pub(super) vals: Vec<f32>,
    /// Cell of each entry, only once an entry came out of cell order.
    pub(super) cells: Option<Vec<u32>>,
    pub(super) last: u32,
}

impl Assembler {
    pub(super) fn new(n_cells: usize, reserve: usize) -> Self {
        Assembler {
            n_cells,
            counts: vec![0; n_cells],
            genes: Vec::with_capacity(reserve),
            vals: Vec::with_capacity(reserve),
            cells: None,
            last: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.genes.len()
    }

    pub(super) fn push(&mut self, p: &Parsed) {
        if self.cells.is_none() {
            let in_order = p.cells.first().is_none_or(|&c| c >= self.last)
                && p.cells.windows(2).all(|w| w[0] <= w[1]);
            if !in_order {
                // Everything so far was in cell order: the cell of each entry follows from
                // the counts.
                let mut cells = Vec::with_capacity(self.genes.capacity());
                for (c, &k) in self.counts.iter().enumerate() {
                    cells.extend(std::iter::repeat_n(c as u32, k));
                }
                self.cells = Some(cells);
            }
        }
        if let Some(cells) = self.cells.as_mut() {
            cells.extend_from_slice(&p.cells);
        }
        for &c in &p.cells {
            if let Some(k) = self.counts.get_mut(c as usize) {
                *k += 1;
            }
        }
        if let Some(&c) = p.cells.last() {
            self.last = c;
        }
        self.genes.extend_from_slice(&p.genes);
        self.vals.extend_from_slice(&p.vals);
    }

    pub(super) fn finish(self, n_genes: usize) -> Result<CsrMatrix> {
        let Assembler {
            n_cells,
            counts,
            genes,
            vals,
            cells,
            ..
        } = self;
        let mut indptr = Vec::with_capacity(n_cells + 1);
        indptr.push(0usize);
        let mut acc = 0usize;
        for &k in &counts {
            acc += k;
            indptr.push(acc);
        }
        drop(counts);
        let (mut genes, mut vals) = match cells {
            None => (genes, vals),
            Some(cells) => {
                // Counting sort by cell (stable: duplicates are summed in file order).
                let mut next: Vec<usize> = indptr.clone();
                let mut g2 = vec![0u32; genes.len()];
                let mut v2 = vec![0f32; vals.len()];
                for ((&c, &g), &v) in cells.iter().zip(&genes).zip(&vals) {
                    if let Some(slot) = next.get_mut(c as usize) {
                        if let (Some(gs), Some(vs)) = (g2.get_mut(*slot), v2.get_mut(*slot)) {
                            *gs = g;
                            *vs = v;
                        }
                        *slot += 1;
                    }
                }
                (g2, v2)
            }
        };
        normalize_rows(&mut indptr, &mut genes, &mut vals);
        CsrMatrix::new(n_cells, n_genes, indptr, genes, vals)
    }
}

/// Sorts each row by column, sums duplicate columns and drops zeros, in place.
pub(super) fn normalize_rows(indptr: &mut [usize], idx: &mut Vec<u32>, val: &mut Vec<f32>) {
    let n = indptr.len().saturating_sub(1);
    fn clean(idx: &[u32], val: &[f32], a: usize, b: usize) -> bool {
        match (idx.get(a..b), val.get(a..b)) {
            (Some(i), Some(v)) => i.windows(2).all(|w| w[0] < w[1]) && !v.contains(&0.0),
            _ => true,
        }
    }
    let ptr: &[usize] = indptr;
    let (ix, vx): (&[u32], &[f32]) = (idx, val);
    let all_clean =
        (0..n)
            .into_par_iter()
            .with_min_len(1024)
            .all(|r| match (ptr.get(r), ptr.get(r + 1)) {
                (Some(&a), Some(&b)) => clean(ix, vx, a, b),
                _ => true,
            });
    if all_clean {
        return;
    }
    let mut w = 0usize;
    let mut pairs: Vec<(u32, f32)> = Vec::new();
    let mut start = 0usize;
    for r in 0..n {
        let end = indptr.get(r + 1).copied().unwrap_or(start);
        if let Some(p) = indptr.get_mut(r) {
            *p = w;
        }
        if clean(idx, val, start, end) {
            idx.copy_within(start..end, w);
            val.copy_within(start..end, w);
            w += end - start;
        } else {
            pairs.clear();
            if let (Some(i), Some(v)) = (idx.get(start..end), val.get(start..end)) {
                pairs.extend(i.iter().copied().zip(v.iter().copied()));
            }
            pairs.sort_by_key(|p| p.0);
            let mut k = 0;
            while k < pairs.len() {
                let (c, mut s) = pairs[k];
                k += 1;
                while k < pairs.len() && pairs[k].0 == c {
                    s += pairs[k].1;
                    k += 1;
                }
                if s != 0.0 {
                    if let (Some(i), Some(v)) = (idx.get_mut(w), val.get_mut(w)) {
                        *i = c;
                        *v = s;
                    }
                    w += 1;
                }
            }
        }
        start = end;
    }
    if let Some(p) = indptr.get_mut(n) {
        *p = w;
    }
    idx.truncate(w);
    val.truncate(w);
}
