//! The synthetic brain end to end: generate 5,000 cells, write them as `.h5ad` and as a 10x
//! directory, read both back, check the module correlations and the XOR gate against the
//! ground truth, then normalise and pick highly-variable genes as scanpy would.
//!
//! ```text
//! cargo run --release --example synthetic_brain
//! ```

use cellsindy::expression::genes::match_genes;
use cellsindy::expression::io::{read_expression, stream_cells, write_expression, ReadOptions};
use cellsindy::expression::normalize::{highly_variable_genes, log1p, normalize_total, HvgFlavor};
use cellsindy::synthetic::{generate, module_spearman, BrainParams, MITO_GENES, SYNAPTIC_GENES};

fn main() -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let brain = generate(&BrainParams::default().n_cells(5_000).seed(42))?;
    let m = &brain.matrix;
    println!(
        "generated {} cells x {} genes ({:.1}% zeros)",
        m.n_cells(),
        m.n_genes(),
        100.0 * m.sparsity()
    );

    let dir = tempfile::tempdir()?;
    let h5ad = dir.path().join("brain.h5ad");
    let tenx = dir.path().join("brain_10x");
    write_expression(m, &h5ad)?;
    write_expression(m, &tenx)?;
    let from_h5ad = read_expression(&h5ad, &ReadOptions::default())?;
    let from_10x = read_expression(&tenx, &ReadOptions::default())?;
    println!(
        "read back: .h5ad identical {}, 10x counts identical {}",
        from_h5ad == *m,
        from_10x.values() == m.values()
    );
    let chunks = stream_cells(&h5ad, 1_000, &ReadOptions::default())?;
    let n_chunks = chunks
        .map(|c| c.map(|_| ()))
        .collect::<Result<Vec<_>, _>>()?
        .len();
    println!("streamed in {n_chunks} chunks of at most 1,000 cells");

    let c = module_spearman(m, &SYNAPTIC_GENES, &MITO_GENES)?;
    println!(
        "mean pairwise Spearman: synaptic {:+.3}, mitochondrial {:+.3}, between {:+.3} (targets +0.30, +0.00, +0.26)",
        c.within_a, c.within_b, c.between
    );

    // The XOR gate, read off the counts: TGXOR is high exactly when one of TFA, TFB is.
    let g = |name: &str| -> anyhow::Result<Vec<f32>> {
        let sub = m.select_gene_names(&[name])?;
        Ok(sub.values().to_dense().column(0).to_vec())
    };
    let (a, b, y) = (g("TFA")?, g("TFB")?, g("TGXOR")?);
    let on = |v: f32| v > 8.0;
    let agree = (0..a.len())
        .filter(|&i| on(y[i]) == (on(a[i]) != on(b[i])))
        .count();
    println!(
        "{}; agrees with the counts in {:.1}% of cells",
        brain
            .truth
            .rule("TGXOR")
            .map_or("?", |r| r.polynomial.as_str()),
        100.0 * agree as f64 / a.len() as f64
    );

    let vocab: Vec<String> = ["rbfox3", "GFAP", "SNAP25", "NOT_A_GENE"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    println!("vocabulary: {}", match_genes(m.genes(), &vocab)?.report);

    let mut x = m.clone();
    normalize_total(&mut x, Some(1e4))?;
    log1p(&mut x);
    let (hvg, _) = highly_variable_genes(&x, 64, HvgFlavor::CellRanger)?;
    let named: Vec<&str> = hvg
        .iter()
        .map(|&j| x.genes().symbols[j].as_str())
        .filter(|s| !s.starts_with("BG"))
        .take(12)
        .collect();
    println!(
        "{} highly variable genes (Cell Ranger flavour), the first named ones: {}",
        hvg.len(),
        named.join(", ")
    );
    println!("elapsed {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}
