//! Reading a whole body: blocks of lines parsed in parallel while the next block is read.

use super::*;

/// How many entries to reserve: the header's count, bounded by what the file can hold.
pub(super) fn reserve_for(h: &MtxHeader, info: &SourceInfo) -> usize {
    let max = info.max_text_bytes / MIN_ENTRY_BYTES + 1;
    h.nnz.min(usize::try_from(max).unwrap_or(usize::MAX))
}

/// `block` bytes, or fewer when the whole source is smaller (no 32 MB buffer for a small file).
pub(super) fn block_size(block: usize, info: &SourceInfo) -> usize {
    usize::try_from(info.max_text_bytes.saturating_add(1))
        .unwrap_or(usize::MAX)
        .min(block)
}

/// Parses one block on all threads and feeds it to `sink` in order. Returns the line number
/// of the line after the block.
pub(super) fn parse_block(
    block: &[u8],
    h: &MtxHeader,
    path: &Path,
    first_line: usize,
    seen: &mut usize,
    mut sink: impl FnMut(&Parsed, &[u8], usize) -> Result<()>,
) -> Result<usize> {
    let threads = rayon::current_num_threads();
    let parts = if threads > 1 && block.len() > (1 << 16) {
        text::split_lines(block, threads * 4)
    } else {
        vec![block]
    };
    let parsed: Vec<std::result::Result<Parsed, BadLine>> =
        parts.par_iter().map(|p| parse_piece(p, h)).collect();
    let mut line = first_line;
    for (part, res) in parts.iter().zip(parsed) {
        let p = res.map_err(|b| Error::parse(path, line + b.line, b.msg))?;
        let n = p.genes.len();
        if *seen + n > h.nnz {
            let k = h.nnz - *seen;
            return Err(Error::parse(
                path,
                line + entry_line(part, k),
                format!(
                    "more entries than the {} the size line (line {}) announces",
                    h.nnz, h.size_line
                ),
            ));
        }
        sink(&p, part, line)?;
        *seen += n;
        line += p.lines;
    }
    Ok(line)
}

/// Reads the body after the header into CSR (cells × genes).
pub(super) fn read_body<R: Read + Send>(
    src: R,
    h: &MtxHeader,
    info: &SourceInfo,
) -> Result<CsrMatrix> {
    let path = info.path.clone();
    let mut blocks = BlockReader::new(src, block_size(READ_BLOCK, info), info.clone());
    let mut asm = Assembler::new(h.n_cols, reserve_for(h, info));
    let mut cur = Vec::new();
    let mut next = Vec::new();
    let mut more = blocks.fill(&mut cur)?;
    let mut line = h.size_line + 1;
    let mut seen = 0usize;
    while more {
        // Read the next block while this one is parsed.
        let (read, parsed) = rayon::join(
            || blocks.fill(&mut next),
            || {
                parse_block(&cur, h, &path, line, &mut seen, |p, _, _| {
                    asm.push(p);
                    Ok(())
                })
            },
        );
        line = parsed?;
        more = read?;
        std::mem::swap(&mut cur, &mut next);
    }
    drop((cur, next));
    if asm.len() < h.nnz {
        return Err(truncated(&path, line, h, asm.len()));
    }
    asm.finish(h.n_rows)
}

pub(super) fn truncated(path: &Path, line: usize, h: &MtxHeader, got: usize) -> Error {
    Error::parse(
        path,
        line,
        format!(
            "truncated file: the size line (line {}) announces {} entries but the file ends after {got}",
            h.size_line, h.nnz
        ),
    )
}

/// Parses a whole Matrix Market coordinate file held in memory (genes × cells, as 10x writes
/// it) into cells × genes CSR. For tests and fuzzing; files go through [`read_10x`] and
/// [`read_10x_mtx_file`].
///
/// # Errors
/// As [`read_10x_mtx_file`] (paths in messages read `<memory>`).
pub fn parse_mtx_bytes(bytes: &[u8]) -> Result<CsrMatrix> {
    let info = SourceInfo {
        path: PathBuf::from(MEMORY),
        gz: false,
        max_text_bytes: bytes.len() as u64,
    };
    let mut src = bytes;
    let h = read_header(&mut src, &info)?;
    check_backed(h.n_cols, "cells (columns)", &h, &info)?;
    read_body(src, &h, &info)
}

/// Rows or columns a size line may announce with nothing else to back them: each costs a
/// name and a counter (tens of bytes), so a count beyond the file's text bytes (or 2^20,
/// whichever is larger) is a claim the file cannot back. With a features or barcodes file,
/// that file's lines back the count instead.
pub(super) fn check_backed(n: usize, what: &str, h: &MtxHeader, info: &SourceInfo) -> Result<()> {
    let allowed = info.max_text_bytes.max(1 << 20);
    if n as u64 <= allowed {
        return Ok(());
    }
    Err(Error::parse(
        &info.path,
        h.size_line,
        format!(
            "the size line announces {n} {what}, more than a file of this size can describe ({allowed} at most); the header is damaged, or the matrix needs its features.tsv / barcodes.tsv beside it"
        ),
    ))
}
