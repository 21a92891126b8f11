//! The model's features beyond Lorenz: several trajectories, control inputs, discrete time,
//! other libraries and optimizers, persistence, selection.

use cellsindy::data::{TimeGrid, Trajectory};
use cellsindy::differentiate::{SavitzkyGolay, WeakForm};
use cellsindy::library::{
    concat, tensor, CustomFunction, CustomLibrary, FeatureLibrary, FourierLibrary, LibraryConfig,
};
use cellsindy::model::{Criterion, EquationStyle};
use cellsindy::optimize::{Aggregate, Ensemble, Lasso, SparseRegressor, Stlsq};
use cellsindy::prelude::*;
use cellsindy::simulate::{integrate, SolverConfig};
use cellsindy::systems::SystemKind;
use ndarray::Array2;

use crate::common::{lorenz, score_against, with_noise};

#[test]
fn several_trajectories_fit_together() {
    let sys = SystemKind::Lorenz.build();
    let t = TimeGrid::uniform(0.0, 0.002, 1500).unwrap();
    let trajs: Vec<Trajectory> = [[-8.0, 8.0, 27.0], [1.0, 1.0, 1.0], [10.0, -5.0, 30.0]]
        .iter()
        .map(|x0| {
            cellsindy::systems::simulate_system(&sys, x0, &t, &SolverConfig::reference()).unwrap()
        })
        .collect();
    let model = Sindy::params().fit(&trajs).unwrap();
    // Each trajectory gives a row per sample with a full test-function window.
    let radius = model.differentiator_config().build().unwrap().radius();
    assert_eq!(model.info().n_samples, 3 * (1500 - 2 * radius));
    let (exact, err, _) = score_against(&model, &sys);
    assert!(exact && err < 1e-5, "{err:e}");
}

#[test]
fn control_inputs_sindyc() {
    // x' = -x + u, u(t) = sin(3t): the library sees x and u.
    let t = TimeGrid::uniform(0.0, 0.001, 8000).unwrap();
    let f = |tt: f64, x: &[f64], dx: &mut [f64]| dx[0] = -x[0] + (3.0 * tt).sin();
    // Dopri5: ode_solvers' Dop853 struggles with explicitly time-dependent systems.
    let tight = SolverConfig {
        rtol: 1e-12,
        atol: 1e-12,
        ..SolverConfig::default()
    };
    let x = integrate(&f, &[0.5], &t, &tight).unwrap();
    let u = Array2::from_shape_fn((8000, 1), |(i, _)| (3.0 * t.at(i)).sin());
    let tr = Trajectory::new(x, t.clone())
        .unwrap()
        .with_control(u.clone(), None)
        .unwrap();
    let model = Sindy::params().fit(std::slice::from_ref(&tr)).unwrap();
    assert_eq!(model.equations_pretty(), ["x' = u0 - x"]);
    let sim = model
        .simulate(&[0.5], &t, Some(u.view()), &SolverConfig::default())
        .unwrap();
    let d = (&sim.x() - &tr.x())
        .mapv(f64::abs)
        .fold(0.0f64, |a, &b| a.max(b));
    assert!(d < 1e-5, "{d}");
}

#[test]
fn discrete_time_map() {
    // Logistic map x_{k+1} = 3.6 x_k - 3.6 x_k^2.
    let mut x = vec![0.3];
    for _ in 0..400 {
        let v: f64 = *x.last().unwrap();
        x.push(3.6 * v - 3.6 * v * v);
    }
    let n = x.len();
    let tr = Trajectory::new(
        Array2::from_shape_vec((n, 1), x).unwrap(),
        TimeGrid::uniform(0.0, 1.0, n).unwrap(),
    )
    .unwrap();
    let model = Sindy::params()
        .discrete_time(true)
        .optimizer(Stlsq::params().alpha(0.0).check().unwrap())
        .fit(&[tr])
        .unwrap();
    assert_eq!(model.equations_pretty(), ["x[k+1] = 18/5 (x - x^2)"]);
    let sim = model.simulate_discrete(&[0.3], 5, None).unwrap();
    assert!((sim[(1, 0)] - (3.6 * 0.3 - 3.6 * 0.09)).abs() < 1e-10);
    assert!(model
        .simulate(
            &[0.3],
            &TimeGrid::uniform(0.0, 1.0, 3).unwrap(),
            None,
            &SolverConfig::default()
        )
        .is_err());
}

#[test]
fn non_uniform_time_grid() {
    let sys = SystemKind::VanDerPol.build();
    let times: Vec<f64> = (0..6000)
        .map(|i| i as f64 * 0.005 + 0.001 * ((i as f64) * 0.7).sin())
        .collect();
    let grid = TimeGrid::samples(times).unwrap();
    let tr = cellsindy::systems::simulate_system(
        &sys,
        &sys.default_x0(),
        &grid,
        &SolverConfig::reference(),
    )
    .unwrap();
    let model = Sindy::params()
        .library(PolynomialLibrary::new(3).unwrap())
        .fit(&[tr])
        .unwrap();
    let (exact, err, _) = score_against(&model, &sys);
    assert!(exact && err < 1e-4, "{err:e}\n{model}");
}

#[test]
fn fourier_custom_concat_and_tensor_libraries() {
    let names: Vec<String> = vec!["x".into(), "y".into()];
    let f = FourierLibrary::new(2, true, true).unwrap();
    assert_eq!(
        f.feature_names(&names)[..4],
        ["sin(1 x)", "cos(1 x)", "sin(1 y)", "cos(1 y)"]
    );
    let c = CustomLibrary::new(vec![CustomFunction::new(
        2,
        |a| a[0] / (1.0 + a[1] * a[1]),
        |n| format!("{}/(1+{}^2)", n[0], n[1]),
    )
    .unwrap()])
    .unwrap();
    assert_eq!(c.feature_names(&names), ["x/(1+y^2)"]);
    let cat = concat(
        Box::new(PolynomialLibrary::new(1).unwrap()),
        Box::new(f.clone()),
    )
    .unwrap();
    assert_eq!(cat.n_output_features(2), 3 + 8);
    let ten = tensor(
        Box::new(PolynomialLibrary::new(1).unwrap().include_bias(false)),
        Box::new(FourierLibrary::new(1, true, false).unwrap()),
    )
    .unwrap();
    assert_eq!(
        ten.feature_names(&names),
        ["x sin(1 x)", "x sin(1 y)", "y sin(1 x)", "y sin(1 y)"]
    );
    // Counting (checked, without building the features) agrees with building them, for every
    // polynomial option and the compositions; a count that cannot fit is None, not a panic.
    for n in 0..6 {
        for d in 1..5 {
            for (bias, only, inter) in [
                (true, false, true),
                (false, true, true),
                (true, false, false),
                (false, true, false),
            ] {
                let p = PolynomialLibrary::new(d)
                    .unwrap()
                    .include_bias(bias)
                    .interaction_only(only)
                    .include_interaction(inter);
                assert_eq!(
                    p.count_features(n),
                    Some(p.n_output_features(n)),
                    "{p:?} n={n}"
                );
            }
        }
        assert_eq!(cat.count_features(n), Some(cat.n_output_features(n)));
        assert_eq!(ten.count_features(n), Some(ten.n_output_features(n)));
        assert_eq!(c.count_features(n), Some(c.n_output_features(n)));
    }
    assert_eq!(
        PolynomialLibrary::new(3).unwrap().count_features(200),
        Some(1_373_701)
    );
    assert_eq!(
        PolynomialLibrary::new(u32::MAX)
            .unwrap()
            .count_features(1000),
        None
    );
    let x = Array2::from_shape_vec((1, 2), vec![0.5, 2.0]).unwrap();
    let out = ten.transform(x.view()).unwrap();
    assert!((out[(0, 3)] - 2.0 * 2.0f64.sin()).abs() < 1e-15);
    // A pendulum-like system x' = y, y' = -sin(x) is found with poly(1) + Fourier(1).
    let t = TimeGrid::uniform(0.0, 0.01, 4000).unwrap();
    let rhs = |_t: f64, s: &[f64], d: &mut [f64]| {
        d[0] = s[1];
        d[1] = -s[0].sin();
    };
    let xs = integrate(&rhs, &[2.0, 0.0], &t, &SolverConfig::reference()).unwrap();
    let tr = Trajectory::new(xs, t).unwrap();
    let lib = LibraryConfig::Concat(vec![
        LibraryConfig::polynomial(1),
        LibraryConfig::Fourier {
            n_frequencies: 1,
            include_sin: true,
            include_cos: true,
        },
    ]);
    let model = Sindy::params()
        .library_boxed(lib.build().unwrap())
        .fit(&[tr])
        .unwrap();
    assert_eq!(model.equations_pretty(), ["x' = y", "y' = -sin(1 x)"]);
}

#[test]
fn lasso_and_ensemble_recover_lorenz() {
    let tr = lorenz(10_000, 0.002);
    let sys = SystemKind::Lorenz.build();
    let lasso = Sindy::params()
        .optimizer(Lasso::params().check().unwrap())
        .fit(std::slice::from_ref(&tr))
        .unwrap();
    let (exact, err, _) = score_against(&lasso, &sys);
    assert!(exact && err < 1e-5, "lasso {err:e}\n{lasso}");
    let noisy = with_noise(&lorenz(20_000, 0.002), 0.02, 3);
    let ensemble = |aggregate: Aggregate| {
        Sindy::params()
            .library(PolynomialLibrary::new(2).unwrap())
            .differentiator(SavitzkyGolay::new(31, 3).unwrap())
            .optimizer(
                Ensemble::params()
                    .n_models(30)
                    .n_drop(1)
                    .seed(5)
                    .aggregate(aggregate)
                    .check()
                    .unwrap(),
            )
            .fit(std::slice::from_ref(&noisy))
            .unwrap()
    };
    let ens = ensemble(Aggregate::Refit);
    let inc = ens.info().inclusion.clone().unwrap();
    let (exact, _, _) = score_against(&ens, &sys);
    assert!(exact, "{ens}");
    // Kept terms are in most members, dropped ones in few.
    for ((i, j), &c) in ens.coefficients().indexed_iter() {
        let p = inc[(i, j)];
        let name = &ens.feature_names()[i];
        if c != 0.0 {
            assert!(p >= 0.8, "inclusion {p} for kept {name}");
        } else {
            assert!(p < 0.5, "inclusion {p} for dropped {name}");
        }
    }
    // Same seed, same members: the median aggregate sees the same inclusions and keeps the
    // same terms.
    let median = ensemble(Aggregate::Median);
    assert_eq!(median.info().inclusion, ens.info().inclusion);
    assert_eq!(
        median.coefficients().mapv(|c| c != 0.0),
        ens.coefficients().mapv(|c| c != 0.0)
    );
}

#[test]
fn save_and_load_json_roundtrip() {
    let tr = lorenz(5000, 0.002);
    let model = Sindy::params().fit(std::slice::from_ref(&tr)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    model.save_json(&path).unwrap();
    let back = Sindy::load_json(&path).unwrap();
    assert_eq!(back.coefficients(), model.coefficients());
    assert_eq!(back.feature_names(), model.feature_names());
    assert_eq!(
        back.predict(tr.x(), None).unwrap(),
        model.predict(tr.x(), None).unwrap()
    );
    // Tampered files are rejected with a clear error.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 9");
    std::fs::write(&path, text).unwrap();
    assert!(matches!(Sindy::load_json(&path), Err(Error::Parse { .. })));
    std::fs::write(&path, "{ not json").unwrap();
    assert!(matches!(Sindy::load_json(&path), Err(Error::Json(_))));
}

#[test]
fn equations_text_and_latex() {
    let model = Sindy::params().fit(&[lorenz(5000, 0.002)]).unwrap();
    assert_eq!(
        model.to_string(),
        "x' = 10(y - x)\ny' = 28x - xz - y\nz' = xy - 8/3 z\n"
    );
    let dec = model.equations(3);
    assert_eq!(dec[0], "x' = -10.000 x + 10.000 y");
    assert_eq!(
        model.equations_with(EquationStyle::Decimal { precision: 1 })[2],
        "z' = -2.7 z + 1.0 x y"
    );
    assert_eq!(model.to_latex()[2], "\\dot{z} &= xy - \\frac{8}{3} z");
}

#[test]
fn threshold_sweep_pareto_and_selection() {
    let noisy = with_noise(&lorenz(20_000, 0.002), 0.01, 11);
    let params = Sindy::params()
        .library(PolynomialLibrary::new(3).unwrap())
        .differentiator(WeakForm::new(101, 4).unwrap());
    let thresholds: Vec<f64> = (0..12).map(|i| 10f64.powf(-3.0 + i as f64 * 0.3)).collect();
    let (model, report) = params
        .select_threshold(&[noisy], Some(&thresholds), Criterion::HeldOut)
        .unwrap();
    assert_eq!(report.points.len(), 12);
    assert!(report.points.iter().any(|p| p.pareto));
    // Complexity never grows with the threshold.
    for w in report.points.windows(2) {
        assert!(w[1].complexity <= w[0].complexity);
    }
    let chosen = report.chosen_point().unwrap();
    assert!(chosen.pareto);
    assert_eq!(model.complexity(), chosen.complexity);
    // The true 7-term model is on the front; held-out error may prefer a slightly larger one
    // (a small constant absorbs noise bias), which is why the CLI uses a fixed threshold.
    assert!(report.points.iter().any(|p| p.pareto && p.complexity == 7));
    assert!(chosen.complexity <= 9, "{model}");
}

#[test]
fn stlsq_on_data_directly() {
    let theta = Array2::from_shape_fn((100, 4), |(i, j)| ((i * 7 + j * 13) % 17) as f64 - 8.0);
    let y = theta
        .column(1)
        .mapv(|v| 3.0 * v)
        .insert_axis(ndarray::Axis(1));
    let fit = Stlsq::params()
        .check()
        .unwrap()
        .fit(theta.view(), y.view())
        .unwrap();
    assert_eq!(fit.complexity(), 1);
    assert!((fit.coef[(1, 0)] - 3.0).abs() < 1e-10);
    assert!(fit.converged);
}

#[test]
fn simulation_on_explicit_times_matches_dense_output() {
    let model = Sindy::params().fit(&[lorenz(5000, 0.002)]).unwrap();
    let cfg = SolverConfig {
        rtol: 1e-12,
        atol: 1e-12,
        ..SolverConfig::default()
    };
    let uniform = TimeGrid::uniform(0.0, 0.01, 101).unwrap();
    let explicit = TimeGrid::samples((0..101).map(|i| i as f64 * 0.01).collect()).unwrap();
    let a = model
        .simulate(&[-8.0, 8.0, 27.0], &uniform, None, &cfg)
        .unwrap();
    let b = model
        .simulate(&[-8.0, 8.0, 27.0], &explicit, None, &cfg)
        .unwrap();
    let d = (&a.x() - &b.x())
        .mapv(f64::abs)
        .fold(0.0f64, |m, &v| m.max(v));
    assert!(d < 1e-8, "{d}");
}

/// An optimizer written by a user, outside the crate: least squares once, then every
/// coefficient below `threshold` in magnitude set to zero (no refit).
#[derive(Debug, Clone)]
struct OneShotThreshold {
    threshold: f64,
}

impl SparseRegressor for OneShotThreshold {
    fn fit_normal(
        &self,
        ne: &cellsindy::linalg::BlockedNormalEquations,
    ) -> cellsindy::Result<cellsindy::optimize::SparseFit> {
        let total = ne.total();
        let mut coef = cellsindy::linalg::solve_spd(total.gram.view(), total.xty.view(), 0.0)?;
        coef.mapv_inplace(|c| if c.abs() < self.threshold { 0.0 } else { c });
        Ok(cellsindy::optimize::SparseFit::new(coef))
    }

    fn with_threshold(&self, threshold: f64) -> cellsindy::Result<Box<dyn SparseRegressor>> {
        Ok(Box::new(OneShotThreshold { threshold }))
    }
}

#[test]
fn a_users_own_optimizer_fits_sweeps_and_joins_an_ensemble() {
    let sys = SystemKind::Lorenz.build();
    let data = lorenz(4000, 0.002);
    // Finite differences: their truncation error gives every spurious term a small non-zero
    // least-squares coefficient, which the sweep's smallest threshold keeps.
    let params = Sindy::params()
        .differentiator(FiniteDifference::default())
        .optimizer(OneShotThreshold { threshold: 0.5 });

    // In a plain fit.
    let model = params.fit(std::slice::from_ref(&data)).unwrap();
    let (exact, err, _) = score_against(&model, &sys);
    assert!(exact && err < 1e-3, "exact {exact}, error {err}");
    assert!(model.optimizer_config().is_none());
    let dir = tempfile::tempdir().unwrap();
    let saved = model.save_json(dir.path().join("m.json"));
    assert!(
        matches!(saved, Err(cellsindy::Error::Unsupported(_))),
        "{saved:?}"
    );

    // In a threshold sweep: every point is the user's optimizer at that threshold.
    let grid = [1e-6, 0.5, 50.0];
    let (chosen, report) = params
        .select_threshold(std::slice::from_ref(&data), Some(&grid), Criterion::Bic)
        .unwrap();
    let complexity: Vec<usize> = report.points.iter().map(|p| p.complexity).collect();
    assert!(
        complexity[0] > complexity[1] && complexity[1] > complexity[2],
        "{complexity:?}"
    );
    assert_eq!(complexity[1], 7, "Lorenz has 7 terms");
    assert_eq!(chosen.complexity(), report.points[report.chosen].complexity);

    // As the inner optimizer of an ensemble, and swept through it.
    let ens = Ensemble::with_inner(
        Ensemble::params().n_models(10).seed(3),
        std::sync::Arc::new(OneShotThreshold { threshold: 0.5 }),
    )
    .unwrap();
    let model = Sindy::params()
        .optimizer(ens)
        .fit(std::slice::from_ref(&data))
        .unwrap();
    assert!(score_against(&model, &sys).0);
    assert!(model.info().inclusion.is_some());
    let swept = Sindy::params()
        .optimizer(
            Ensemble::with_inner(
                Ensemble::params().n_models(10),
                std::sync::Arc::new(OneShotThreshold { threshold: 0.0 }),
            )
            .unwrap(),
        )
        .select_threshold(std::slice::from_ref(&data), Some(&[0.5]), Criterion::Aic)
        .unwrap();
    assert!(score_against(&swept.0, &sys).0);

    // An optimizer without a threshold says so in a sweep.
    #[derive(Debug)]
    struct NoThreshold;
    impl SparseRegressor for NoThreshold {
        fn fit_normal(
            &self,
            ne: &cellsindy::linalg::BlockedNormalEquations,
        ) -> cellsindy::Result<cellsindy::optimize::SparseFit> {
            OneShotThreshold { threshold: 0.0 }.fit_normal(ne)
        }
    }
    let err = Sindy::params()
        .optimizer(NoThreshold)
        .select_threshold(std::slice::from_ref(&data), Some(&grid), Criterion::Aic)
        .unwrap_err();
    assert!(matches!(err, cellsindy::Error::Unsupported(_)), "{err}");
}
