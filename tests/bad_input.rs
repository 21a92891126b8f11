//! Criterion 5: bad input gets a clear error, never a panic.

use cellsindy::data::{TimeGrid, Trajectory};
use cellsindy::differentiate::{
    DiffConfig, Differentiator, FiniteDifference, SavitzkyGolay, WeakForm,
};
use cellsindy::io::{read_table, read_trajectory, TableOptions};
use cellsindy::optimize::{Ensemble, Lasso, SparseRegressor, Stlsq};
use cellsindy::prelude::*;
use ndarray::Array2;

use crate::common::lorenz;

fn ramp(n: usize, d: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, d), |(i, j)| (i as f64 * 0.01 + j as f64).sin())
}

#[test]
fn nan_and_inf_are_rejected() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = ramp(50, 2);
        x[(17, 1)] = bad;
        let err = Trajectory::new(x, TimeGrid::uniform(0.0, 0.1, 50).unwrap()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonFinite {
                    row: 17,
                    col: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("row 17"));
    }
    let mut theta = ramp(20, 3);
    theta[(3, 0)] = f64::NAN;
    let y = ramp(20, 1);
    assert!(matches!(
        Stlsq::default().fit(theta.view(), y.view()),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn non_increasing_times_are_rejected() {
    let err = TimeGrid::samples(vec![0.0, 0.1, 0.1, 0.3]).unwrap_err();
    assert!(matches!(err, Error::TimeGrid(_)), "{err}");
    assert!(err.to_string().contains("t[2]"));
    assert!(TimeGrid::samples(vec![0.0, 0.2, 0.1]).is_err());
    assert!(TimeGrid::uniform(0.0, 0.0, 10).is_err());
    assert!(TimeGrid::uniform(0.0, -0.1, 10).is_err());
    assert!(TimeGrid::uniform(0.0, f64::NAN, 10).is_err());
}

#[test]
fn fewer_samples_than_the_stencil_needs() {
    let t = TimeGrid::uniform(0.0, 0.1, 4).unwrap();
    let x = ramp(4, 1);
    let err = FiniteDifference::new(4)
        .unwrap()
        .differentiate(x.view(), &t)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooFewSamples {
                needed: 5,
                got: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(SavitzkyGolay::new(7, 2)
        .unwrap()
        .differentiate(x.view(), &t)
        .is_err());
    assert!(WeakForm::new(7, 4)
        .unwrap()
        .differentiate(x.view(), &t)
        .is_err());
    // Through the model: a 3-sample trajectory.
    let tr = Trajectory::new(ramp(3, 2), TimeGrid::uniform(0.0, 0.1, 3).unwrap()).unwrap();
    let err = Sindy::params().fit(&[tr]).unwrap_err();
    assert!(matches!(err, Error::TooFewSamples { .. }), "{err}");
}

#[test]
fn mismatched_shapes_are_rejected() {
    // x and t disagree
    let err = Trajectory::new(ramp(10, 2), TimeGrid::uniform(0.0, 0.1, 11).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    // controls with the wrong number of rows
    let tr = Trajectory::new(ramp(10, 2), TimeGrid::uniform(0.0, 0.1, 10).unwrap()).unwrap();
    assert!(matches!(
        tr.clone().with_control(ramp(9, 1), None),
        Err(Error::Shape { .. })
    ));
    // trajectories with different variables in one fit
    let other = Trajectory::new(ramp(10, 3), TimeGrid::uniform(0.0, 0.1, 10).unwrap()).unwrap();
    assert!(matches!(
        Sindy::params().fit(&[tr.clone(), other]),
        Err(Error::Shape { .. })
    ));
    // theta and target rows differ
    assert!(matches!(
        Stlsq::default().fit(ramp(10, 2).view(), ramp(9, 1).view()),
        Err(Error::Shape { .. })
    ));
    // predict with the wrong number of columns
    let model = Sindy::params().fit(&[lorenz(2000, 0.002)]).unwrap();
    assert!(matches!(
        model.predict(ramp(5, 2).view(), None),
        Err(Error::Shape { .. })
    ));
    assert!(model
        .simulate(
            &[1.0, 2.0],
            &TimeGrid::uniform(0.0, 0.1, 5).unwrap(),
            None,
            &Default::default()
        )
        .is_err());
}

#[test]
fn invalid_parameters_are_rejected() {
    assert!(matches!(
        PolynomialLibrary::new(0),
        Err(Error::InvalidParam { name: "degree", .. })
    ));
    let err = Stlsq::params().threshold(-0.1).check().unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidParam {
                name: "threshold",
                ..
            }
        ),
        "{err}"
    );
    assert!(Stlsq::params().alpha(-1.0).check().is_err());
    assert!(Stlsq::params().max_iter(0).check().is_err());
    assert!(Lasso::params().alpha(-1.0).check().is_err());
    assert!(Ensemble::params().n_models(0).check().is_err());
    assert!(Ensemble::params().inclusion_threshold(1.5).check().is_err());
    assert!(FiniteDifference::new(3).is_err());
    assert!(SavitzkyGolay::new(8, 2).is_err());
    assert!(SavitzkyGolay::new(7, 7).is_err());
    assert!(WeakForm::new(6, 4).is_err());
    assert!(DiffConfig::Weak {
        window: 11,
        order: 1
    }
    .build()
    .is_err());
}

#[test]
fn all_zero_library_columns_are_left_out_and_named() {
    // z is identically zero, so every feature containing z vanishes: those features are left
    // out (named), the rest is fitted.
    let mut x = ramp(200, 3);
    x.column_mut(2).fill(0.0);
    let tr = Trajectory::new(x, TimeGrid::uniform(0.0, 0.01, 200).unwrap()).unwrap();
    let m = Sindy::params().fit(&[tr]).unwrap();
    let dropped: Vec<(&str, Option<&str>)> = m
        .info()
        .dropped
        .iter()
        .map(|d| (d.feature.as_str(), d.duplicate_of.as_deref()))
        .collect();
    assert!(dropped.contains(&("z", None)), "{dropped:?}");
    assert!(dropped.contains(&("x z", None)), "{dropped:?}");
    let names = m.feature_names();
    for d in &m.info().dropped {
        let i = names.iter().position(|n| *n == d.feature).unwrap();
        assert!(m.coefficients().row(i).iter().all(|&c| c == 0.0));
    }
    // Nothing left at all is still an error.
    let zero = Trajectory::new(
        ndarray::Array2::zeros((200, 2)),
        TimeGrid::uniform(0.0, 0.01, 200).unwrap(),
    )
    .unwrap();
    let lib = cellsindy::library::PolynomialLibrary::new(2)
        .unwrap()
        .include_bias(false);
    match Sindy::params().library(lib).fit(&[zero]).unwrap_err() {
        Error::ZeroColumn { .. } => {}
        e => panic!("expected ZeroColumn, got {e}"),
    }
}

/// A constant variable made the library singular and the minimum-norm solution spread every
/// coefficient over `x`, `x c`, `x c^2`, ... under the threshold: every equation came out zero.
/// Its copies are now left out, and Lorenz is recovered beside it.
#[test]
fn a_constant_variable_does_not_wipe_out_the_fit() {
    use cellsindy::simulate::SolverConfig;
    use cellsindy::systems::{simulate_system, SystemKind};
    let sys = SystemKind::Lorenz.build();
    let t = TimeGrid::uniform(0.0, 0.002, 5000).unwrap();
    let tr = simulate_system(&sys, &[-8.0, 8.0, 27.0], &t, &SolverConfig::reference()).unwrap();
    let mut x = ndarray::Array2::from_elem((5000, 4), 5.0);
    x.slice_mut(ndarray::s![.., 0..3]).assign(&tr.x());
    let with_c =
        Trajectory::with_names(x, t, ["x", "y", "z", "c"].map(String::from).to_vec()).unwrap();
    let lib = cellsindy::library::PolynomialLibrary::new(2).unwrap();
    let m = Sindy::params()
        .library(lib)
        .optimizer(
            cellsindy::optimize::Stlsq::params()
                .threshold(0.5)
                .check()
                .unwrap(),
        )
        .fit(&[with_c])
        .unwrap();
    assert_eq!(m.complexity(), 7, "{:?}", m.equations_pretty());
    let dropped: Vec<&str> = m
        .info()
        .dropped
        .iter()
        .map(|d| d.feature.as_str())
        .collect();
    assert_eq!(dropped, ["c", "x c", "y c", "z c", "c^2"]);
    assert_eq!(m.info().dropped[0].duplicate_of.as_deref(), Some("1"));
}

#[test]
fn empty_inputs_are_rejected() {
    let err = Sindy::params().fit(&[]).unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err}");
    assert!(err.to_string().contains("trajectory list"));
    assert!(Trajectory::new(
        Array2::zeros((10, 0)),
        TimeGrid::uniform(0.0, 1.0, 10).unwrap()
    )
    .is_err());
    let stream = Sindy::params()
        .stream(vec!["x".into()], vec![], 100)
        .unwrap();
    assert!(matches!(stream.finish(), Err(Error::Empty { .. })));
}

#[test]
fn singular_systems_do_not_panic() {
    // Two identical columns: the normal matrix is singular; the fit still returns.
    let c = ramp(100, 1);
    let theta = ndarray::concatenate![ndarray::Axis(1), c, c];
    let y = c.mapv(|v| 2.0 * v);
    let fit = Stlsq::params()
        .alpha(0.0)
        .check()
        .unwrap()
        .fit(theta.view(), y.view())
        .unwrap();
    let total = fit.coef[(0, 0)] + fit.coef[(1, 0)];
    assert!((total - 2.0).abs() < 1e-8, "{total}");
}

#[test]
fn malformed_files_are_rejected_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.csv");
    std::fs::write(&p, "t,x,y\n0,1,2\n0.1,1.5\n").unwrap();
    let err = read_table(&p, &TableOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
    std::fs::write(&p, "t,x,y\n0,1,2\n0.1,abc,3\n").unwrap();
    assert!(read_table(&p, &TableOptions::default())
        .unwrap_err()
        .to_string()
        .contains("abc"));
    std::fs::write(&p, "t,x,x\n0,1,2\n").unwrap();
    assert!(read_table(&p, &TableOptions::default())
        .unwrap_err()
        .to_string()
        .contains("duplicate"));
    std::fs::write(&p, "t,x\n0,1\n0,2\n").unwrap();
    assert!(matches!(
        read_table(&p, &TableOptions::default()),
        Err(Error::TimeGrid(_))
    ));
    std::fs::write(&p, "x,y\n0,1\n").unwrap();
    assert!(read_table(&p, &TableOptions::default())
        .unwrap_err()
        .to_string()
        .contains("--dt"));
    let npy = dir.path().join("bad.npy");
    std::fs::write(&npy, b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'").unwrap();
    assert!(matches!(
        read_trajectory(
            &npy,
            &TableOptions {
                dt: Some(0.1),
                ..Default::default()
            }
        ),
        Err(Error::Parse { .. })
    ));
    assert!(matches!(
        read_trajectory(&dir.path().join("missing.csv"), &TableOptions::default()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn integration_blow_up_is_an_error() {
    // x' = x^2 from x0 = 1 blows up at t = 1.
    let f = |_t: f64, x: &[f64], d: &mut [f64]| d[0] = x[0] * x[0];
    let r = cellsindy::simulate::integrate(
        &f,
        &[1.0],
        &TimeGrid::uniform(0.0, 0.01, 200).unwrap(),
        &Default::default(),
    );
    assert!(matches!(r, Err(Error::Integration(_))), "{r:?}");
}
