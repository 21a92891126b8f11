//! Writing a 10x directory (gzip, in pieces).

use super::*;

/// Writes a 10x directory that `scanpy.read_10x_mtx` and Cell Ranger tools read:
/// `matrix.mtx.gz` (genes × cells, `integer` when every value is a whole number, else `real`),
/// `features.tsv.gz` (`id<TAB>symbol<TAB>Gene Expression`; the symbol stands in for a missing
/// id) and `barcodes.tsv.gz`. The directory is created if needed; each file is written
/// atomically. The matrix is compressed in parallel as a multi-member gzip file (read by every
/// gzip reader).
///
/// # Errors
/// [`Error::Io`] for write failures, or when the directory already holds uncompressed 10x files
/// (`matrix.mtx`, `features.tsv`, `genes.tsv`, `barcodes.tsv`) or `genes.tsv.gz`, which readers
/// would pick instead of the new files; [`Error::InvalidParam`] for a name with a tab or line
/// end (TSV cannot hold it).
pub fn write_10x(m: &ExpressionMatrix, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for stale in [
        "matrix.mtx",
        "features.tsv",
        "genes.tsv",
        "genes.tsv.gz",
        "barcodes.tsv",
    ] {
        let p = dir.join(stale);
        if p.exists() {
            return Err(Error::io(
                &p,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "this file would be read instead of the new matrix.mtx.gz/features.tsv.gz/barcodes.tsv.gz; remove it or write to another directory",
                ),
            ));
        }
    }
    let check_name = |what: &'static str, s: &str| {
        if s.contains(['\t', '\n', '\r']) || s.is_empty() {
            Err(Error::param(
                what,
                format!("{s:?}"),
                "must be non-empty without tabs or line ends to be written to a 10x TSV file",
            ))
        } else {
            Ok(())
        }
    };
    let genes = m.genes();
    let mut features = Vec::new();
    for (k, sym) in genes.symbols.iter().enumerate() {
        let id = genes.ids.as_ref().and_then(|ids| ids.get(k)).unwrap_or(sym);
        check_name("gene symbol", sym)?;
        check_name("gene id", id)?;
        features.extend_from_slice(id.as_bytes());
        features.push(b'\t');
        features.extend_from_slice(sym.as_bytes());
        features.extend_from_slice(b"\tGene Expression\n");
    }
    let mut barcodes = Vec::new();
    for c in m.cells() {
        check_name("cell id", c)?;
        barcodes.extend_from_slice(c.as_bytes());
        barcodes.push(b'\n');
    }
    let gz =
        |path: &Path, bytes: &[u8]| text::gzip_member(bytes, 6).map_err(|e| Error::io(path, e));
    let p = dir.join("features.tsv.gz");
    crate::io::write_atomic(&p, &gz(&p, &features)?)?;
    let p = dir.join("barcodes.tsv.gz");
    crate::io::write_atomic(&p, &gz(&p, &barcodes)?)?;
    write_matrix_gz(m.values(), &dir.join("matrix.mtx.gz"))
}

/// Entries per parallel piece when writing.
pub(super) const WRITE_PIECE: usize = 1 << 20;

pub(super) fn write_matrix_gz(values: &Values, path: &Path) -> Result<()> {
    let (n_cells, n_genes) = values.dim();
    let integral = match values {
        Values::Sparse(x) => text::all_integral(x.data()),
        Values::Dense(x) => match x.as_slice() {
            Some(s) => text::all_integral(s),
            None => x
                .iter()
                .all(|v| text::all_integral(std::slice::from_ref(v))),
        },
    };
    let nnz = values.nnz();
    let mut out = text::AtomicFile::create(path)?;
    let mut head = format!(
        "%%MatrixMarket matrix coordinate {} general\n%written by cellsindy {}: genes x cells\n",
        if integral { "integer" } else { "real" },
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes();
    text::push_uint(&mut head, n_genes as u64);
    head.push(b' ');
    text::push_uint(&mut head, n_cells as u64);
    head.push(b' ');
    text::push_uint(&mut head, nnz as u64);
    head.push(b'\n');
    out.write_all(&text::gzip_member(&head, GZ_LEVEL).map_err(|e| Error::io(path, e))?)?;
    // Pieces of consecutive cells, about WRITE_PIECE entries each.
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let mut acc = 0;
    for r in 0..n_cells {
        acc += match values {
            Values::Sparse(x) => x.row(r).0.len(),
            Values::Dense(_) => n_genes,
        };
        if acc >= WRITE_PIECE {
            pieces.push((start, r + 1));
            start = r + 1;
            acc = 0;
        }
    }
    if start < n_cells {
        pieces.push((start, n_cells));
    }
    let group = rayon::current_num_threads().max(1) * 2;
    for batch in pieces.chunks(group) {
        let members: Vec<std::io::Result<Vec<u8>>> = batch
            .par_iter()
            .map(|&(a, b)| {
                let mut t = Vec::with_capacity(WRITE_PIECE * 12);
                for r in a..b {
                    let mut put = |g: usize, v: f32| {
                        text::push_uint(&mut t, g as u64 + 1);
                        t.push(b' ');
                        text::push_uint(&mut t, r as u64 + 1);
                        t.push(b' ');
                        text::push_value(&mut t, v, integral);
                        t.push(b'\n');
                    };
                    match values {
                        Values::Sparse(x) => {
                            let (i, v) = x.row(r);
                            for (&g, &v) in i.iter().zip(v) {
                                put(g as usize, v);
                            }
                        }
                        Values::Dense(x) => {
                            for (g, &v) in x.row(r).iter().enumerate() {
                                if v != 0.0 {
                                    put(g, v);
                                }
                            }
                        }
                    }
                }
                text::gzip_member(&t, GZ_LEVEL)
            })
            .collect();
        for m in members {
            out.write_all(&m.map_err(|e| Error::io(path, e))?)?;
        }
    }
    out.commit()
}
