//! Baselines (PCA, linear) and probes (Spearman, signs, XOR metrics, the end-to-end report).

use cellsindy::baselines::{LinearImputer, Pca, PcaSolver};
use cellsindy::expression::normalize::{log1p, normalize_total};
use cellsindy::expression::ExpressionMatrix;
use cellsindy::nn::infer::{impute, impute_joint, Context, JointParams};
use cellsindy::probes::{
    mean_pairwise_spearman, score_binary, spearman, Binarize, CovarianceScoring, Role, Sign,
};
use cellsindy::synthetic::{module_spearman, MITO_GENES, SYNAPTIC_GENES};
use cellsindy::Error;
use ndarray::{Array2, Axis};

use crate::common::gene::{brain, tiny_model};

/// `log1p(normalize_total(m))` as dense f64, and the column of each gene name.
fn log_dense(m: &ExpressionMatrix) -> Array2<f64> {
    let mut n = m.clone();
    normalize_total(&mut n, None).unwrap();
    log1p(&mut n);
    n.values().to_dense().mapv(f64::from)
}

fn cols(m: &ExpressionMatrix, names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|g| m.genes().position(g).unwrap())
        .collect()
}

#[test]
fn mean_pairwise_spearman_agrees_with_the_synthetic_brains_own_measurement() {
    let m = brain(1500, 1);
    let x = log_dense(&m);
    let a = cols(&m, &SYNAPTIC_GENES);
    let b = cols(&m, &MITO_GENES);
    let ours = mean_pairwise_spearman(x.view(), &a, &b).unwrap();
    let theirs = module_spearman(&m, &SYNAPTIC_GENES, &MITO_GENES).unwrap();
    assert!(
        (ours.within_a - theirs.within_a).abs() < 1e-10,
        "{ours:?} {theirs:?}"
    );
    assert!((ours.within_b - theirs.within_b).abs() < 1e-10);
    assert!((ours.between - theirs.between).abs() < 1e-10);
    // Ranks only: a monotone transform of the values changes nothing.
    let cubed = x.mapv(|v| v * v * v + 2.0 * v);
    let again = mean_pairwise_spearman(cubed.view(), &a, &b).unwrap();
    assert!((again.between - ours.between).abs() < 1e-12);
}

#[test]
fn randomized_pca_matches_exact_pca_on_expression_data() {
    let m = brain(800, 2);
    let x = log_dense(&m);
    let exact = Pca::params(10)
        .solver(PcaSolver::Exact)
        .fit(x.view())
        .unwrap();
    let rand = Pca::params(10)
        .solver(PcaSolver::Randomized {
            n_oversamples: 10,
            n_iter: 7,
        })
        .seed(5)
        .fit(x.view())
        .unwrap();
    let (re, rr) = (
        exact.explained_variance_ratio(),
        rand.explained_variance_ratio(),
    );
    for i in 0..10 {
        assert!((re[i] - rr[i]).abs() < 1e-4, "component {i}: {re} vs {rr}");
    }
    assert!(re.iter().zip(re.iter().skip(1)).all(|(a, b)| a >= b));
    // Scores are projections on orthonormal components: their variance is the explained one.
    let z = exact.transform(x.view()).unwrap();
    let var0 = z.column(0).var(1.0);
    assert!((var0 - exact.explained_variance()[0]).abs() < 1e-8 * var0);
    // Same seed, same result.
    let again = Pca::params(10)
        .solver(PcaSolver::Randomized {
            n_oversamples: 10,
            n_iter: 7,
        })
        .seed(5)
        .fit(x.view())
        .unwrap();
    assert_eq!(again, rand);
}

#[test]
fn baselines_reject_bad_input_with_clear_errors() {
    let mut x = Array2::from_shape_fn((30, 4), |(i, j)| ((i * (j + 1)) % 7) as f64);
    let pca = Pca::params(2).fit(x.view()).unwrap();
    assert!(matches!(
        pca.impute(x.slice(ndarray::s![.., ..3]), &[0]),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        pca.impute(x.view(), &[9]),
        Err(Error::InvalidParam { .. })
    ));
    x[(4, 2)] = f64::NAN;
    assert!(matches!(
        Pca::params(2).fit(x.view()),
        Err(Error::NonFinite { row: 4, col: 2, .. })
    ));
    assert!(matches!(
        LinearImputer::fit(x.view(), &[0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(LinearImputer::fit(x.view(), &[]).is_err());
}

#[test]
fn a_linear_imputation_cannot_read_the_xor_gate_but_its_inputs_can() {
    let m = brain(3000, 4);
    let x = log_dense(&m);
    let g = cols(&m, &["TGXOR", "TFA", "TFB"]);
    let (train, test): (Vec<usize>, Vec<usize>) = (0..x.nrows()).partition(|i| i % 4 != 0);
    let xt = x.select(Axis(0), &train);
    let xh = x.select(Axis(0), &test);
    let on = |v: &[f64]| -> Vec<bool> {
        let t = Binarize::TwoMeans.threshold(v).unwrap();
        v.iter().map(|&x| x > t).collect()
    };
    let truth = on(&xh.column(g[0]).to_vec());
    let lin = LinearImputer::fit(xt.view(), &[g[0]]).unwrap();
    let pred = lin.predict(xh.view()).unwrap();
    // Rank the linear prediction: its AUROC is near chance.
    let s = score_binary(&pred.column(0).to_vec(), &truth).unwrap();
    assert!(s.auroc < 0.65, "linear AUROC {}", s.auroc);
    // The XOR of the (visible) inputs' calls reads the gate almost exactly.
    let (a, b) = (on(&xh.column(g[1]).to_vec()), on(&xh.column(g[2]).to_vec()));
    let xor: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(p, q)| f64::from(u8::from(p != q)))
        .collect();
    let s = score_binary(&xor, &truth).unwrap();
    assert!(s.balanced_accuracy > 0.9, "{s:?}");
}

#[test]
fn a_predicted_correlation_where_the_truth_has_none_is_a_sign_mismatch() {
    // Two groups of two columns; truth: A correlated, B independent, between independent.
    let n = 400;
    let truth = Array2::from_shape_fn((n, 4), |(i, j)| {
        let u = (i as f64 * 0.37).sin();
        match j {
            0 => u,
            1 => u + 0.1 * ((i * 7919) % 13) as f64,
            2 => ((i * 31) % 17) as f64,
            _ => ((i * 57) % 11) as f64,
        }
    });
    let genes: Vec<String> = ["a1", "a2", "b1", "b2"].map(String::from).to_vec();
    let scoring = CovarianceScoring {
        genes: &genes,
        n_a: 2,
        strata: None,
        dead_zone: 0.05,
    };
    let real = scoring
        .score("real", Role::Reference, truth.view(), None)
        .unwrap();
    assert_eq!(real.signs[0], Sign::Positive);
    assert_eq!(real.signs[1], Sign::Zero, "{:?}", real.rho);
    // An "imputation" that makes everything follow u: within B becomes +, a mismatch.
    let inflated = Array2::from_shape_fn((n, 4), |(i, j)| {
        (i as f64 * 0.37).sin() + 0.01 * j as f64 * ((i * 13) % 5) as f64
    });
    let m = scoring
        .score("x", Role::Baseline, inflated.view(), Some(&real))
        .unwrap();
    assert_eq!(m.signs[1], Sign::Positive);
    assert!(!m.matches[1] && m.matches[0]);
    assert!(m.score < 1.0);
    // The full matrix agrees with the group means, and its error against the truth is the
    // RMS over the six gene pairs.
    let s = spearman(inflated.view()).unwrap();
    assert!((s.rho[(2, 3)] - m.rho.within_b).abs() < 1e-12);
    let want = ((0..4)
        .flat_map(|i| (i + 1..4).map(move |j| (i, j)))
        .map(|(i, j)| (s.rho[(i, j)] - real.matrix[(i, j)]).powi(2))
        .sum::<f64>()
        / 6.0)
        .sqrt();
    assert!((m.matrix_error - want).abs() < 1e-12 && m.matrix_error > 0.1);
    assert_eq!(real.matrix_error, 0.0);
}

#[test]
fn joint_imputation_is_seeded_per_cell_and_hides_the_observed_bins() {
    let m = brain(200, 5);
    let (model, _) = tiny_model(&m, 3);
    let cells = model.tokenizer.prepare(&m).unwrap();
    let genes = model.positions(&["SYN1", "SYP", "MT-ND1"]).unwrap();
    let rows: Vec<usize> = (0..20).collect();
    let p = JointParams {
        steps: 3,
        seed: 9,
        batch_size: 7,
    };
    let a = impute_joint(&model, &cells, &rows, &genes, &Context::sampled(), &p).unwrap();
    let b = impute_joint(
        &model,
        &cells,
        &rows,
        &genes,
        &Context::sampled(),
        &JointParams {
            batch_size: 64,
            ..p
        },
    )
    .unwrap();
    assert_eq!(a, b, "batch size must not change the draw");
    let marg = impute(&model, &cells, &rows, &genes, &Context::sampled(), 9, 64).unwrap();
    assert_eq!(a.observed, marg.observed);
    assert_eq!(a.sampled.dim(), (20, 3));
    let other = impute_joint(
        &model,
        &cells,
        &rows,
        &genes,
        &Context::sampled(),
        &JointParams { seed: 10, ..p },
    )
    .unwrap();
    assert_ne!(a.sampled, other.sampled);
    assert!(impute_joint(
        &model,
        &cells,
        &rows,
        &genes,
        &Context::sampled(),
        &JointParams { steps: 0, ..p }
    )
    .is_err());
}
