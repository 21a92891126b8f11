use ndarray::{concatenate, s, Array2, ArrayView2, Axis};

use super::{DroppedFeature, Sindy, SindyParams};
use crate::data::{TimeGrid, Trajectory};
use crate::error::{Error, Result};
use crate::library::FeatureLibrary;
use crate::linalg::{BlockedNormalEquations, NormalEquations};

/// Rows of the library evaluated at once (keeps Θ's working set in cache).
const THETA_CHUNK: usize = 2048;

/// A SINDy fit fed chunk by chunk, in bounded memory.
///
/// Push consecutive pieces of a trajectory with [`SindyStream::push`], close it with
/// [`SindyStream::end_trajectory`], repeat for more trajectories, then
/// [`SindyStream::finish`]. Only the normal equations (`p × p` per block of `block_rows`
/// samples) and a stencil-wide carry of samples are kept, so memory does not grow with the
/// number of samples beyond one small matrix per block. The result equals an in-memory fit on
/// the concatenated data (up to summation order).
///
/// # Example
/// ```
/// use cellsindy::prelude::*;
/// use cellsindy::systems::{simulate_system, SystemKind};
/// use cellsindy::simulate::SolverConfig;
/// let sys = SystemKind::Lorenz.build();
/// let t = TimeGrid::uniform(0.0, 0.002, 4000)?;
/// let traj = simulate_system(&sys, &sys.default_x0(), &t, &SolverConfig::reference())?;
/// let mut stream = Sindy::params().stream(traj.names().to_vec(), vec![], 1000)?;
/// for start in (0..4000).step_by(500) {
///     stream.push(&traj.slice(start, start + 500))?;
/// }
/// stream.end_trajectory()?;
/// let model = stream.finish()?;
/// assert_eq!(model.complexity(), 7);
/// # Ok::<(), cellsindy::Error>(())
/// ```
#[derive(Debug)]
pub struct SindyStream {
    params: SindyParams,
    state_names: Vec<String>,
    control_names: Vec<String>,
    n_features: usize,
    block_rows: usize,
    blocks: BlockedNormalEquations,
    open: NormalEquations,
    y_sum: Vec<f64>,
    // Samples of the current trajectory not yet turned into rows (plus stencil context).
    carry_x: Array2<f64>,
    carry_u: Array2<f64>,
    carry_t: Vec<f64>,
    carry_dt: Option<f64>,
    /// Leading rows of the carry that are context only (already accepted).
    skip: usize,
}

impl SindyParams {
    /// Starts a streamed fit for trajectories with the given state and control names; blocks
    /// of `block_rows` samples are kept for ensemble row bagging.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for `block_rows == 0` or duplicate names.
    pub fn stream(
        &self,
        state_names: Vec<String>,
        control_names: Vec<String>,
        block_rows: usize,
    ) -> Result<SindyStream> {
        SindyStream::new(self.clone(), state_names, control_names, block_rows)
    }
}

impl SindyStream {
    pub(crate) fn new(
        params: SindyParams,
        state_names: Vec<String>,
        control_names: Vec<String>,
        block_rows: usize,
    ) -> Result<Self> {
        if block_rows == 0 {
            return Err(Error::param("block_rows", 0, "must be >= 1"));
        }
        if state_names.is_empty() {
            return Err(Error::Empty {
                what: "state names",
                why: "a trajectory needs at least one variable".into(),
            });
        }
        let d = state_names.len();
        let m = control_names.len();
        check_library_memory(&params, d + m)?;
        let n_features = params.library.n_output_features(d + m);
        if n_features == 0 {
            return Err(Error::Empty {
                what: "feature library",
                why: "it produces no features".into(),
            });
        }
        Ok(Self {
            params,
            state_names,
            control_names,
            n_features,
            block_rows,
            blocks: BlockedNormalEquations::new(n_features, d),
            open: NormalEquations::zeros(n_features, d),
            y_sum: vec![0.0; d],
            carry_x: Array2::zeros((0, d)),
            carry_u: Array2::zeros((0, m)),
            carry_t: Vec::new(),
            carry_dt: None,
            skip: 0,
        })
    }

    /// Samples accumulated so far (rows of Θ).
    pub fn n_samples(&self) -> usize {
        self.blocks.total().n_samples + self.open.n_samples
    }

    /// Appends the next piece of the current trajectory (its times must continue the previous
    /// piece's).
    ///
    /// # Errors
    /// [`Error::Shape`] / [`Error::InvalidParam`] if names or controls differ from the stream's,
    /// [`Error::TimeGrid`] if the times do not continue, and differentiation errors.
    pub fn push(&mut self, piece: &Trajectory) -> Result<()> {
        self.check_piece(piece)?;
        self.resolve_differentiator(piece)?;
        if piece.n_samples() == 0 {
            return Ok(());
        }
        let t = piece.t();
        if let Some(&last) = self.carry_t.last() {
            if t.at(0) <= last {
                return Err(Error::TimeGrid(format!(
                    "piece starts at t = {} which does not follow the previous piece's last time {last}",
                    t.at(0)
                )));
            }
        }
        // Keep the grid uniform across pieces when it is.
        let continues_uniform = match (self.carry_t.last(), t.uniform_dt()) {
            (None, Some(dt)) => Some(dt),
            (Some(&last), Some(dt)) => self
                .carry_dt
                .filter(|&cd| {
                    (cd - dt).abs() <= 1e-9 * dt && (t.at(0) - last - dt).abs() <= 1e-6 * dt
                })
                .or_else(|| {
                    (self.carry_t.len() == 1 && (t.at(0) - last - dt).abs() <= 1e-6 * dt)
                        .then_some(dt)
                }),
            _ => None,
        };
        self.carry_dt = continues_uniform;
        self.carry_t.extend(t.to_vec());
        self.carry_x = concatenate![Axis(0), self.carry_x, piece.x()];
        let u = piece
            .u()
            .map(|u| u.to_owned())
            .unwrap_or_else(|| Array2::zeros((piece.n_samples(), 0)));
        self.carry_u = concatenate![Axis(0), self.carry_u, u];
        self.process(false)
    }

    /// An automatic differentiator is chosen from the first piece pushed.
    fn resolve_differentiator(&mut self, piece: &Trajectory) -> Result<()> {
        if self.params.auto_differentiator && piece.n_samples() > 0 {
            self.params = self.params.resolved(std::slice::from_ref(piece))?;
        }
        Ok(())
    }

    fn check_piece(&self, piece: &Trajectory) -> Result<()> {
        if piece.names() != self.state_names.as_slice() {
            return Err(Error::shape(
                "SindyStream::push",
                format!("variables {:?}", self.state_names),
                format!("{:?}", piece.names()),
            ));
        }
        if piece.control_names() != self.control_names.as_slice() {
            return Err(Error::shape(
                "SindyStream::push",
                format!("controls {:?}", self.control_names),
                format!("{:?}", piece.control_names()),
            ));
        }
        Ok(())
    }

    /// Ends the current trajectory (the next push starts a new one).
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] if the trajectory is shorter than the differentiator needs.
    pub fn end_trajectory(&mut self) -> Result<()> {
        if !self.carry_t.is_empty() {
            self.process(true)?;
        }
        let (d, m) = (self.state_names.len(), self.control_names.len());
        self.carry_x = Array2::zeros((0, d));
        self.carry_u = Array2::zeros((0, m));
        self.carry_t.clear();
        self.carry_dt = None;
        self.skip = 0;
        Ok(())
    }

    fn grid(&self) -> Result<TimeGrid> {
        match self.carry_dt {
            Some(dt) => TimeGrid::uniform(self.carry_t[0], dt, self.carry_t.len()),
            None => TimeGrid::samples(self.carry_t.clone()),
        }
    }

    /// Turns the carried samples into rows; on `last`, the trajectory ends here.
    fn process(&mut self, last: bool) -> Result<()> {
        let grid = self.grid()?;
        // Take the carry out so that rows can be accumulated while reading it.
        let x = std::mem::take(&mut self.carry_x);
        let u = std::mem::take(&mut self.carry_u);
        let res = self.process_views(x.view(), u.view(), &grid, self.skip, last);
        self.carry_x = x;
        self.carry_u = u;
        if let Some((keep_start, skip)) = res? {
            self.keep_from(keep_start, skip);
        }
        Ok(())
    }

    /// A whole trajectory at once, read in place (the in-memory fast path: no carry copies).
    pub(crate) fn push_whole(&mut self, tr: &Trajectory) -> Result<()> {
        if !self.carry_t.is_empty() {
            self.end_trajectory()?;
        }
        self.check_piece(tr)?;
        self.resolve_differentiator(tr)?;
        let empty;
        let u = match tr.u() {
            Some(u) => u,
            None => {
                empty = Array2::zeros((tr.n_samples(), 0));
                empty.view()
            }
        };
        if tr.n_samples() == 0 {
            return Ok(());
        }
        self.process_views(tr.x(), u, tr.t(), 0, true)?;
        Ok(())
    }

    /// Accepts the rows of `x` (samples of one trajectory, the first `skip` of which are
    /// context already used) that are final: all of them on `last`, else those whose stencil
    /// is complete. Returns where the carry should start and how many of its rows are context,
    /// or `None` when nothing could be processed yet.
    fn process_views(
        &mut self,
        x: ArrayView2<'_, f64>,
        u: ArrayView2<'_, f64>,
        grid: &TimeGrid,
        skip: usize,
        last: bool,
    ) -> Result<Option<(usize, usize)>> {
        let len = x.nrows();
        if self.params.discrete_time {
            if len < 2 {
                if last && skip == 0 {
                    return Err(Error::TooFewSamples {
                        op: "discrete-time SINDy".into(),
                        needed: 2,
                        got: len,
                    });
                }
                return Ok(None);
            }
            self.accumulate(
                x.slice(s![..len - 1, ..]),
                u.slice(s![..len - 1, ..]),
                x.slice(s![1.., ..]),
            )?;
            return Ok(Some((len - 1, 1)));
        }
        let diff = self.params.differentiator.clone();
        let r = diff.radius();
        let m = diff.min_samples();
        if len < m {
            if last && skip == 0 {
                return Err(Error::TooFewSamples {
                    op: format!("differentiation ({:?})", diff.config()),
                    needed: m,
                    got: len,
                });
            }
            return Ok(None);
        }
        let phi = diff.test_function(grid)?;
        // Weak forms only have rows whose window lies inside the trajectory.
        let (start, end) = match phi {
            Some(_) => (skip.max(r), len - r),
            None => (skip, if last { len } else { len - r }),
        };
        if end <= start {
            return Ok(None);
        }
        match phi {
            Some(_) => {
                // Rows a..b of both sides need samples a - r .. b + r. Sub-chunks keep the
                // working set (library rows, integrals, derivatives) bounded and in cache
                // whatever the size of the pushed piece; they end at block boundaries, are
                // computed in parallel and added in order, so the result does not depend on
                // the number of threads.
                let mut ranges = Vec::new();
                let mut room = self.block_rows - self.open.n_samples;
                // Rows per sub-chunk: library rows of about WEAK_CHUNK_VALUES values (small
                // enough for the allocator to reuse them), and many more rows than the
                // window's overlap.
                let chunk = (WEAK_CHUNK_VALUES / self.n_features.max(1))
                    .max(8 * r)
                    .max(256);
                let mut a = start;
                while a < end {
                    let b = (a + chunk.min(room)).min(end);
                    room -= b - a;
                    let closes = room == 0;
                    if closes {
                        room = self.block_rows;
                    }
                    ranges.push((a, b, closes));
                    a = b;
                }
                let library = self.params.library.clone();
                let weak_rows =
                    |&(a, b, _): &(usize, usize, bool)| -> Result<(NormalEquations, Vec<f64>)> {
                        let (lo, hi) = (a - r, b + r);
                        let xs = x.slice(s![lo..hi, ..]);
                        let sub = grid.slice(lo, hi);
                        let dx = diff.differentiate(xs, &sub)?;
                        let input = library_input(xs, u.slice(s![lo..hi, ..]));
                        let theta = library.transform(input.view())?;
                        let weak_theta = diff.weak_integrate(theta.view(), &sub)?;
                        let rows = s![r..r + (b - a), ..];
                        let y = dx.slice(rows);
                        let sums = y.axis_iter(Axis(1)).map(|c| c.sum()).collect();
                        Ok((NormalEquations::from_data(weak_theta.slice(rows), y)?, sums))
                    };
                use rayon::prelude::*;
                // A few sub-chunks per thread at a time: each holds a `p × p` matrix until it
                // is added, and a long piece has thousands of them.
                let threads = rayon::current_num_threads().clamp(1, 8);
                for batch in ranges.chunks(WEAK_BATCH_PER_THREAD * threads) {
                    let parts: Vec<Result<(NormalEquations, Vec<f64>)>> =
                        if batch.len() > 1 && threads > 1 {
                            batch.par_iter().map(weak_rows).collect()
                        } else {
                            batch.iter().map(weak_rows).collect()
                        };
                    for (part, &(_, _, closes)) in parts.into_iter().zip(batch) {
                        let (ne, sums) = part?;
                        self.open.add_scaled(&ne, 1.0);
                        for (t, v) in self.y_sum.iter_mut().zip(sums) {
                            *t += v;
                        }
                        if closes {
                            self.close_block()?;
                        }
                    }
                }
            }
            None => {
                let dx = diff.differentiate(x, grid)?;
                let smoothed = diff.smooth(x, grid)?;
                let rows = s![start..end, ..];
                match &smoothed {
                    Some(xs) => self.accumulate(xs.slice(rows), u.slice(rows), dx.slice(rows))?,
                    None => self.accumulate(x.slice(rows), u.slice(rows), dx.slice(rows))?,
                }
            }
        }
        let keep_start = end.saturating_sub(r).min(len.saturating_sub(m));
        Ok(Some((keep_start, end - keep_start)))
    }

    /// Drops carried rows before `from`; the first `skip` kept rows are context only.
    fn keep_from(&mut self, from: usize, skip: usize) {
        self.carry_x = self.carry_x.slice(s![from.., ..]).to_owned();
        self.carry_u = self.carry_u.slice(s![from.., ..]).to_owned();
        self.carry_t.drain(..from);
        self.skip = skip;
    }

    /// Adds rows `(library input = [x, u], target y)`.
    fn accumulate(
        &mut self,
        x: ArrayView2<'_, f64>,
        u: ArrayView2<'_, f64>,
        y: ArrayView2<'_, f64>,
    ) -> Result<()> {
        let (library, p) = (self.params.library.clone(), self.n_features);
        self.add_rows(y, |r| {
            let rows = s![r, ..];
            segment_normal(
                library.as_ref(),
                p,
                x.slice(rows),
                u.slice(rows),
                y.slice(rows),
            )
        })
    }

    /// Adds the normal equations of rows of `y`, computed by `normal` for each run of rows that
    /// fits in the open block, closing blocks every `block_rows` rows.
    fn add_rows(
        &mut self,
        y: ArrayView2<'_, f64>,
        mut normal: impl FnMut(std::ops::Range<usize>) -> Result<NormalEquations>,
    ) -> Result<()> {
        let n = y.nrows();
        let mut i = 0;
        while i < n {
            let room = self.block_rows - self.open.n_samples;
            let k = room.min(n - i);
            self.open.add_scaled(&normal(i..i + k)?, 1.0);
            for (j, col) in y.slice(s![i..i + k, ..]).axis_iter(Axis(1)).enumerate() {
                self.y_sum[j] += col.sum();
            }
            if self.open.n_samples >= self.block_rows {
                self.close_block()?;
            }
            i += k;
        }
        Ok(())
    }

    fn close_block(&mut self) -> Result<()> {
        if self.open.n_samples > 0 {
            let d = self.state_names.len();
            let full =
                std::mem::replace(&mut self.open, NormalEquations::zeros(self.n_features, d));
            self.blocks.push(full)?;
        }
        Ok(())
    }

    /// The normal equations so far (closing the open block), with the feature names.
    pub(crate) fn into_normal(mut self) -> Result<StreamParts> {
        if !self.carry_t.is_empty() {
            self.end_trajectory()?;
        }
        self.close_block()?;
        if self.blocks.total().n_samples == 0 {
            return Err(Error::Empty {
                what: "training data",
                why: "no samples were pushed".into(),
            });
        }
        let inputs: Vec<String> = self
            .state_names
            .iter()
            .chain(self.control_names.iter())
            .cloned()
            .collect();
        let feature_names = self.params.library.feature_names(&inputs);
        let redundant = self.blocks.total().redundant_columns();
        if redundant.len() == feature_names.len() {
            let feature = feature_names.first().cloned().unwrap_or_default();
            return Err(Error::ZeroColumn { feature });
        }
        let name = |i: usize| feature_names.get(i).cloned().unwrap_or_default();
        let dropped = redundant
            .iter()
            .map(|&(i, dup)| DroppedFeature {
                feature: name(i),
                duplicate_of: dup.map(name),
            })
            .collect();
        let excluded: Vec<usize> = redundant.iter().map(|&(i, _)| i).collect();
        self.blocks.exclude_features(&excluded);
        Ok(StreamParts {
            params: self.params,
            state_names: self.state_names,
            control_names: self.control_names,
            feature_names,
            normal: self.blocks,
            y_sum: self.y_sum,
            dropped,
        })
    }

    /// Fits the model on everything pushed (an unfinished trajectory is ended first).
    ///
    /// # Errors
    /// [`Error::Empty`] if nothing was pushed, [`Error::ZeroColumn`] when every library column
    /// vanishes, and optimizer errors.
    pub fn finish(self) -> Result<Sindy> {
        let parts = self.into_normal()?;
        let fit = parts.params.optimizer.fit_normal(&parts.normal)?;
        Sindy::from_fit(parts, fit)
    }
}

/// Refuses a library whose normal equations cannot fit in memory, before it is built: the fit
/// keeps `p × p` matrices (the total, the open block, a few per thread while accumulating, the
/// solver's copies, and the row blocks of optimizers that resample or cross-validate) and
/// `THETA_CHUNK × p` rows per thread.
fn check_library_memory(params: &SindyParams, n_inputs: usize) -> Result<()> {
    let p = params.library.count_features(n_inputs);
    let threads = rayon::current_num_threads().min(8);
    let ensemble = params.optimizer.resamples_rows();
    let square = 4
        + WEAK_BATCH_PER_THREAD * threads
        + if ensemble {
            crate::optimize::DEFAULT_BLOCKS
        } else {
            0
        };
    let bytes = p.and_then(|p| {
        let squares = crate::memory::array_bytes(&[p, p, square], 8)?;
        squares.checked_add(crate::memory::array_bytes(&[p, THETA_CHUNK, threads], 8)?)
    });
    crate::memory::ensure_fits(
        || {
            match p {
            Some(p) => format!(
                "fitting a feature library of {p} features on {n_inputs} variables (its {p} × {p} normal equations; lower the degree or use fewer variables)"
            ),
            None => format!(
                "fitting a feature library on {n_inputs} variables (more features than can be counted)"
            ),
        }
        },
        bytes,
    )
}

/// Weak-form sub-chunks in flight per thread (each holds its `p × p` statistics until added).
const WEAK_BATCH_PER_THREAD: usize = 4;

/// Values (rows × features) of weak-form library integrals computed at once.
const WEAK_CHUNK_VALUES: usize = 32_768;

/// Rows from which splitting the work over threads pays for the threads.
const PARALLEL_ROWS: usize = 32_768;
/// ... or from which `rows × features²` (the Gram's cost) does.
const PARALLEL_WORK: usize = 20_000_000;

/// Normal equations of a run of rows, split over the available cores when it is long.
fn segment_normal(
    library: &dyn FeatureLibrary,
    n_features: usize,
    x: ArrayView2<'_, f64>,
    u: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
) -> Result<NormalEquations> {
    let n = x.nrows();
    let threads = rayon::current_num_threads().min(8);
    let work = n * n_features * n_features;
    if (n < PARALLEL_ROWS && work < PARALLEL_WORK) || n < 2 * THETA_CHUNK || threads < 2 {
        return serial_normal(library, n_features, x, u, y);
    }
    // rayon's pool (shared with faer) costs microseconds per task, where spawning threads
    // costs tens.
    use rayon::prelude::*;
    let parts: Vec<Result<NormalEquations>> = (0..threads)
        .into_par_iter()
        .map(|t| {
            let rows = s![t * n / threads..(t + 1) * n / threads, ..];
            serial_normal(
                library,
                n_features,
                x.slice(rows),
                u.slice(rows),
                y.slice(rows),
            )
        })
        .collect();
    let mut total = NormalEquations::zeros(n_features, y.ncols());
    for part in parts {
        total.add_scaled(&part?, 1.0);
    }
    Ok(total)
}

/// Normal equations of a run of rows on this thread: Θ is built `THETA_CHUNK` rows at a time
/// into a column-major buffer (each feature one vectorised column product) and folded into
/// `ΘᵀΘ`, `ΘᵀY`.
fn serial_normal(
    library: &dyn FeatureLibrary,
    n_features: usize,
    x: ArrayView2<'_, f64>,
    u: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
) -> Result<NormalEquations> {
    use ndarray::ShapeBuilder;
    let n = x.nrows();
    if let Some(ne) = library.normal_equations(library_input(x, u).view(), y) {
        return ne;
    }
    let mut ne = NormalEquations::zeros(n_features, y.ncols());
    let mut buf = Array2::zeros((THETA_CHUNK.min(n), n_features).f());
    let mut i = 0;
    while i < n {
        let k = THETA_CHUNK.min(n - i);
        if k != buf.nrows() {
            buf = Array2::zeros((k, n_features).f());
        }
        let rows = s![i..i + k, ..];
        let input = library_input(x.slice(rows), u.slice(rows));
        library.transform_into(input.view(), buf.view_mut())?;
        ne.accumulate(buf.view(), y.slice(rows))?;
        i += k;
    }
    Ok(ne)
}

/// `[x, u]` side by side (just `x` without controls).
fn library_input(x: ArrayView2<'_, f64>, u: ArrayView2<'_, f64>) -> Array2<f64> {
    if u.ncols() == 0 {
        x.to_owned()
    } else {
        concatenate![Axis(1), x, u]
    }
}

/// Everything a finished stream knows, before the optimizer runs.
pub(crate) struct StreamParts {
    pub(crate) params: SindyParams,
    pub(crate) state_names: Vec<String>,
    pub(crate) control_names: Vec<String>,
    pub(crate) feature_names: Vec<String>,
    pub(crate) normal: BlockedNormalEquations,
    pub(crate) y_sum: Vec<f64>,
    /// Library columns left out of the fit (zero, or parallel to an earlier column).
    pub(crate) dropped: Vec<DroppedFeature>,
}
