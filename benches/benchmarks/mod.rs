pub mod differentiate;
pub mod expression;
pub mod fit;
pub mod library;
pub mod probes;
pub mod simulate;
pub mod transformer;

use cellsindy::prelude::*;
use cellsindy::simulate::SolverConfig;
use cellsindy::systems::{simulate_system, SystemKind};

/// Lorenz, dt = 0.002, from (-8, 8, 27).
pub fn lorenz(n: usize) -> Trajectory {
    let sys = SystemKind::Lorenz.build();
    let t = TimeGrid::uniform(0.0, 0.002, n).unwrap();
    simulate_system(&sys, &sys.default_x0(), &t, &SolverConfig::reference()).unwrap()
}
