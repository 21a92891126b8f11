//! Trajectories and their time grids: the input of a SINDy fit.

mod from_cells;
mod time;
mod trajectory;

pub use from_cells::time_courses;
pub use time::TimeGrid;
pub use trajectory::{default_names, Trajectory};

/// Checks the shape of a simulated set of time courses: at least one trajectory of at least
/// two samples (one step). Shared by the simulators' parameter checks.
///
/// # Errors
/// [`crate::Error::InvalidParam`] naming `n_trajectories` or `n_samples`.
pub(crate) fn check_sampling(n_trajectories: usize, n_samples: usize) -> crate::Result<()> {
    use crate::Error;
    if n_trajectories == 0 {
        return Err(Error::param("n_trajectories", 0, "must be at least 1"));
    }
    if n_samples < 2 {
        return Err(Error::param("n_samples", n_samples, "must be at least 2"));
    }
    Ok(())
}
