//! Trajectories and their time grids: the input of a SINDy fit.

mod from_cells;
mod time;
mod trajectory;

pub use from_cells::time_courses;
pub use time::TimeGrid;
pub use trajectory::{default_names, Trajectory};
