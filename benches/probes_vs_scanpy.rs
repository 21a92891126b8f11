#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Driver for `benches/compare_probes.sh`: writes the two matrices (synthetic-brain
//! expression, `normalize_total` + `log1p`, dense f64 `.npy`), times cellsindy's mean pairwise
//! Spearman and top-50 PCA on them, and writes `rust.json` for `compare_probes.py`, which times
//! `scipy.stats.spearmanr` and `scanpy.pp.pca` on the very same files.
//!
//! `cargo bench --bench probes_vs_scanpy -- --out DIR [--quick]`

use std::path::PathBuf;
use std::time::Instant;

use cellsindy::baselines::{Pca, PcaSolver};
use cellsindy::expression::normalize::{log1p, normalize_total};
use cellsindy::io::{read_npy, write_npy};
use cellsindy::probes::mean_spearman;
use cellsindy::synthetic::{generate, BrainParams};
use ndarray::{s, Array2};
use serde_json::json;

#[path = "common/timing.rs"]
mod timing;
use timing::median_time;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let out = args
        .iter()
        .position(|a| a == "--out")
        .map(|i| PathBuf::from(&args[i + 1]))
        .unwrap_or_else(|| PathBuf::from("target/probes-compare"));
    std::fs::create_dir_all(&out).unwrap();
    let (n_pca, p_pca, n_sp, p_sp, k) = if quick {
        (10_000, 500, 30_000, 100, 50)
    } else {
        (50_000, 2_000, 30_000, 100, 50)
    };
    let pca_path = out.join(format!("pca_{n_pca}x{p_pca}.npy"));
    let sp_path = out.join(format!("spearman_{n_sp}x{p_sp}.npy"));
    if !pca_path.exists() || !sp_path.exists() {
        eprintln!("==> generating {n_pca} synthetic-brain cells (once)");
        let brain = generate(
            &BrainParams::default()
                .n_cells(n_pca.max(n_sp))
                .n_background_genes(p_pca.max(p_sp))
                .seed(0),
        )
        .unwrap();
        let mut m = brain.matrix;
        normalize_total(&mut m, None).unwrap();
        log1p(&mut m);
        let dense = m.values().to_dense();
        // The most variable columns first would favour nothing; take the first genes (markers,
        // modules, immediate-early, then background with the network genes spread through).
        let x: Array2<f64> = dense.slice(s![..n_pca, ..p_pca]).mapv(f64::from);
        write_npy(&pca_path, &x).unwrap();
        let y: Array2<f64> = dense.slice(s![..n_sp, ..p_sp]).mapv(f64::from);
        write_npy(&sp_path, &y).unwrap();
    }
    let xs = read_npy(&sp_path).unwrap();
    let xp = read_npy(&pca_path).unwrap();

    eprintln!("==> cellsindy: mean pairwise Spearman, {n_sp} x {p_sp}");
    let mut rho = 0.0;
    let t_sp = median_time(7, || {
        rho = mean_spearman(xs.view()).unwrap();
    });
    eprintln!("    {t_sp:.4} s, mean rho {rho:.6}");

    eprintln!("==> cellsindy: top-{k} PCA (randomized), {n_pca} x {p_pca}");
    let mut ratio = Vec::new();
    let t_pca = median_time(3, || {
        let pca = Pca::params(k).seed(0).fit(xp.view()).unwrap();
        ratio = pca.explained_variance_ratio().to_vec();
    });
    eprintln!(
        "    {t_pca:.3} s, explained variance {:.6}",
        ratio.iter().sum::<f64>()
    );
    eprintln!("==> cellsindy: top-{k} PCA (exact thin SVD), {n_pca} x {p_pca}");
    let t = Instant::now();
    let ratio_exact = Pca::params(k)
        .solver(PcaSolver::Exact)
        .fit(xp.view())
        .unwrap()
        .explained_variance_ratio()
        .to_vec();
    let t_exact = t.elapsed().as_secs_f64();
    eprintln!("    {t_exact:.3} s");
    let rust = json!({
        "spearman": {"file": sp_path, "shape": [n_sp, p_sp], "seconds": t_sp, "mean_rho": rho},
        "pca": {"file": pca_path, "shape": [n_pca, p_pca], "n_components": k,
                "seconds": t_pca, "variance_ratio": ratio,
                "exact_seconds": t_exact, "exact_variance_ratio": ratio_exact},
        "threads": rayon::current_num_threads(),
    });
    std::fs::write(
        out.join("rust.json"),
        serde_json::to_string_pretty(&rust).unwrap(),
    )
    .unwrap();
}
