"""Writes the tiny 10x fixtures used by tests/text_formats.rs (run once; outputs are committed).

v3/: Cell Ranger >= 3 layout written with scipy.io.mmwrite (an independent Matrix Market writer)
and gzip: matrix.mtx.gz, features.tsv.gz (id, symbol, type), barcodes.tsv.gz.
v2/: Cell Ranger 2 layout, plain text: matrix.mtx, genes.tsv (id, symbol), barcodes.tsv.

The matrix, cells x genes (cell 2 has no counts):
    [[3, 0, 1, 0, 0],
     [0, 5, 0, 2, 0],
     [0, 0, 0, 0, 0],
     [7, 1, 0, 0, 4]]
"""
import gzip
import io
import pathlib

import numpy as np
import scipy.io
import scipy.sparse

here = pathlib.Path(__file__).parent
x = np.array([[3, 0, 1, 0, 0], [0, 5, 0, 2, 0], [0, 0, 0, 0, 0], [7, 1, 0, 0, 4]])
ids = ["ENSG00000198804", "ENSG00000075624", "ENSG00000111640", "ENSG00000198851", "ENSG00000156738"]
symbols = ["MT-CO1", "ACTB", "GAPDH", "CD3E", "MS4A1"]
barcodes = ["AAACCTGAGAAACCAT-1", "AAACCTGAGAAACCGC-1", "AAACCTGAGAAACCTA-1", "AAACCTGAGAAACGAG-1"]


def mtx_text(m):
    buf = io.BytesIO()
    scipy.io.mmwrite(buf, scipy.sparse.coo_matrix(m), field="integer")
    return buf.getvalue()


v3 = here / "v3"
v3.mkdir(exist_ok=True)
genes_by_cells = x.T
(v3 / "matrix.mtx.gz").write_bytes(gzip.compress(mtx_text(genes_by_cells), mtime=0))
(v3 / "features.tsv.gz").write_bytes(
    gzip.compress("".join(f"{i}\t{s}\tGene Expression\n" for i, s in zip(ids, symbols)).encode(), mtime=0)
)
(v3 / "barcodes.tsv.gz").write_bytes(gzip.compress("".join(b + "\n" for b in barcodes).encode(), mtime=0))

v2 = here / "v2"
v2.mkdir(exist_ok=True)
(v2 / "matrix.mtx").write_bytes(mtx_text(genes_by_cells))
(v2 / "genes.tsv").write_text("".join(f"{i}\t{s}\n" for i, s in zip(ids, symbols)))
(v2 / "barcodes.tsv").write_text("".join(b + "\n" for b in barcodes))
