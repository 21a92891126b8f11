//! Trajectories and their time grids: the input of a SINDy fit.

mod time;
mod trajectory;

pub use time::TimeGrid;
pub use trajectory::{default_names, Trajectory};
