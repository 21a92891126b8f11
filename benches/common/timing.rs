//! Shared by the comparison benches (`#[path]`-included: each bench is its own crate).

use std::time::Instant;

/// Median wall time of `reps` runs of `f`, after one warm-up run.
pub fn median_time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
