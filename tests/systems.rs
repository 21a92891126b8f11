//! Every benchmark system is recovered from clean data.

use cellsindy::prelude::*;
use cellsindy::simulate::SolverConfig;
use cellsindy::systems::{simulate_system, SystemKind};

use crate::common::score_against;

#[test]
fn all_benchmark_systems_are_recovered() {
    for kind in SystemKind::ALL {
        let sys = kind.build();
        // Two starts, so that no system sits on a set where library columns are collinear
        // (on the Hopf limit cycle x² + y² is constant).
        let t = TimeGrid::uniform(0.0, sys.default_dt(), 2000).unwrap();
        let x0 = sys.default_x0();
        let x1: Vec<f64> = x0.iter().map(|v| 0.1 * v + 0.05).collect();
        let trs: Vec<_> = [x0, x1]
            .iter()
            .map(|x| simulate_system(&sys, x, &t, &SolverConfig::reference()).unwrap())
            .collect();
        let model = Sindy::params()
            .library(PolynomialLibrary::new(sys.degree().max(2)).unwrap())
            .optimizer(Stlsq::params().threshold(0.05).check().unwrap())
            .fit(&trs)
            .unwrap();
        let (exact, err, _) = score_against(&model, &sys);
        assert!(exact, "{kind:?}: wrong support\n{model}");
        assert!(err < 1e-4, "{kind:?}: max relative error {err:e}");
    }
}

#[test]
fn names_parse() {
    assert_eq!(
        SystemKind::parse("Van-der-Pol").unwrap(),
        SystemKind::VanDerPol
    );
    assert!(SystemKind::parse("pendulum").is_err());
}
