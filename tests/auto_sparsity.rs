//! Issue 17: sparsity and differentiator chosen from the data.

use cellsindy::data::{TimeGrid, Trajectory};
use cellsindy::optimize::{AutoParams, AutoRule, AutoStlsq, SparseRegressor};
use cellsindy::prelude::*;
use cellsindy::systems::suite::{case, SuiteCase};

fn fit(case: &SuiteCase, trajs: &[Trajectory]) -> Sindy {
    Sindy::params()
        .library_boxed(case.library.build().unwrap())
        .fit(trajs)
        .unwrap()
}

fn support(model: &Sindy) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for ((i, j), c) in model.coefficients().indexed_iter() {
        if *c != 0.0 {
            out.push((j, model.feature_names()[i].clone()));
        }
    }
    out
}

/// The defaults on Lorenz, never worse than the thresholded defaults they replace: exact
/// support at 0/1/5/10 % noise, clean coefficient error <= 1e-5.
#[test]
fn lorenz_exact_support_at_every_noise_level() {
    let lorenz = case("lorenz").unwrap();
    for noise in [0.0, 0.01, 0.05, 0.1] {
        let trajs = lorenz.simulate(noise, 11).unwrap();
        let model = fit(&lorenz, &trajs);
        let score = lorenz.score(&model);
        assert!(score.exact_support, "noise {noise}: {score:?}\n{model}");
        if noise == 0.0 {
            assert!(
                score.max_rel_err <= 1e-5,
                "clean error {}",
                score.max_rel_err
            );
        }
    }
}

/// Multiplying a variable by 1,000, or the time axis by 0.01, gives the same support.
#[test]
fn support_is_invariant_to_units() {
    let lorenz = case("lorenz").unwrap();
    let tr = lorenz.simulate(0.05, 3).unwrap().remove(0);
    let base = support(&fit(&lorenz, std::slice::from_ref(&tr)));
    let (x, t, names) = tr.clone().into_parts();
    let mut scaled = x.clone();
    scaled.column_mut(1).mapv_inplace(|v| v * 1000.0);
    let rescaled = Trajectory::with_names(scaled, t.clone(), names.clone()).unwrap();
    assert_eq!(support(&fit(&lorenz, &[rescaled])), base);
    let dt = t.uniform_dt().unwrap();
    let fast = TimeGrid::uniform(0.0, dt * 0.01, x.nrows()).unwrap();
    let retimed = Trajectory::with_names(x, fast, names).unwrap();
    assert_eq!(support(&fit(&lorenz, &[retimed])), base);
}

/// A system of the suite's held-out part (not used while the defaults were designed), noisy.
#[test]
fn held_out_chen_at_five_percent_noise() {
    let chen = case("chen").unwrap();
    assert!(chen.held_out);
    let trajs = chen.simulate(0.05, 21).unwrap();
    let model = fit(&chen, &trajs);
    let score = chen.score(&model);
    assert!(score.exact_support, "{score:?}\n{model}");
    assert!(score.max_rel_err < 0.1, "{}", score.max_rel_err);
}

/// The fit records, per equation, the path of supports and the scores that chose one.
#[test]
fn the_selection_trace_explains_the_choice() {
    let lorenz = case("lorenz").unwrap();
    let trajs = lorenz.simulate(0.01, 0).unwrap();
    let model = fit(&lorenz, &trajs);
    let sel = model.info().selection.as_ref().unwrap();
    assert_eq!(sel.len(), 3);
    for (j, eq) in sel.iter().enumerate() {
        assert_eq!(eq.rule, AutoRule::CrossValidation);
        // From the full library down to the empty model, densest first; the STLSQ path's
        // supports are nested.
        assert_eq!(eq.path[0].support.len(), model.feature_names().len());
        assert!(eq.path.last().unwrap().support.is_empty());
        for w in eq.path.windows(2) {
            assert!(w[1].support.len() <= w[0].support.len());
        }
        let stlsq: Vec<_> = eq.path.iter().filter(|p| p.threshold.is_some()).collect();
        for w in stlsq.windows(2) {
            assert!(w[1].support.iter().all(|i| w[0].support.contains(i)));
        }
        let chosen = &eq.path[eq.chosen];
        let kept: Vec<usize> = (0..model.feature_names().len())
            .filter(|&i| model.coefficients()[(i, j)] != 0.0)
            .collect();
        assert_eq!(chosen.support, kept);
        assert!(eq.path.iter().all(|p| p.cv.is_some() && p.cv_se.is_some()));
    }
    // The trace survives a save and load.
    let dir = tempfile::tempdir().unwrap();
    model.save_json(dir.path().join("m.json")).unwrap();
    let loaded = Sindy::load_json(dir.path().join("m.json")).unwrap();
    assert_eq!(loaded.info().selection, model.info().selection);
}

/// Terms four orders of magnitude apart are both kept; a threshold in coefficient units
/// cannot do that.
#[test]
fn coefficients_of_very_different_sizes() {
    let theta = ndarray::Array2::from_shape_fn((2000, 6), |(i, j)| {
        ((i * (j + 1)) as f64 * 0.0137 + j as f64).sin()
    });
    let y = theta.column(1).mapv(|v| 0.01 * v) + theta.column(4).mapv(|v| 100.0 * v);
    let y = y.insert_axis(ndarray::Axis(1));
    let fit = AutoStlsq::default().fit(theta.view(), y.view()).unwrap();
    assert_eq!(fit.complexity(), 2);
    assert!((fit.coef[(1, 0)] - 0.01).abs() < 1e-9 && (fit.coef[(4, 0)] - 100.0).abs() < 1e-9);
    let bic = AutoParams::default().rule(AutoRule::Bic).check().unwrap();
    assert_eq!(bic.fit(theta.view(), y.view()).unwrap().complexity(), 2);
    assert!(AutoParams::default().folds(1).check().is_err());
}

/// The one-liner fits with the automatic differentiator and sparsity.
#[test]
fn fit_uniform_is_a_one_liner() {
    let lorenz = case("lorenz").unwrap();
    let tr = lorenz.simulate(0.0, 0).unwrap().remove(0);
    let model = Sindy::fit_uniform(tr.x(), 0.002).unwrap();
    assert_eq!(
        model.equations_pretty(),
        ["x' = 10(y - x)", "y' = 28x - xz - y", "z' = xy - 8/3 z"]
    );
    assert!(matches!(
        model.differentiator_config(),
        cellsindy::differentiate::DiffConfig::WeakSpline { .. }
    ));
    assert!(Sindy::fit_uniform(tr.x(), -1.0).is_err());
    assert!(Sindy::fit_uniform(tr.x(), f64::NAN).is_err());
}
