//! Time courses from a cells × genes matrix with a time and a trajectory label per cell
//! (a time-resolved AnnData file: sampling time or pseudotime and lineage in `obs`).

use std::collections::BTreeMap;

use ndarray::Array2;

use super::{TimeGrid, Trajectory};
use crate::error::{Error, Result};
use crate::expression::{ExpressionMatrix, ObsColumn};

/// Splits `m` into one trajectory per distinct value of the `trajectory` column (all cells in
/// one trajectory without it), ordered by the numeric `time` column. Cells sharing a time
/// within a trajectory are averaged (a pseudo-bulk time point), so replicate cells per time
/// point are allowed. Trajectories come out in the order of their labels.
///
/// # Errors
/// [`Error::InvalidParam`] for a missing column, a non-numeric time column or a missing
/// (NaN) or infinite time; [`Error::TooFewSamples`] for a trajectory with fewer than two
/// time points.
pub fn time_courses(
    m: &ExpressionMatrix,
    time: &str,
    trajectory: Option<&str>,
) -> Result<Vec<Trajectory>> {
    let names: Vec<String> = m.obs().iter().map(|(n, _)| n.clone()).collect();
    let column = |name: &str| {
        m.obs_column(name).ok_or_else(|| {
            Error::param(
                "obs column",
                name,
                format!("is not in the file; obs has {names:?}"),
            )
        })
    };
    let times = match column(time)? {
        ObsColumn::Numeric(v) => v.clone(),
        _ => {
            return Err(Error::param(
                "time column",
                time,
                "must be numeric (sampling time or pseudotime)",
            ))
        }
    };
    if let Some(i) = times.iter().position(|t| !t.is_finite()) {
        return Err(Error::param(
            "time column",
            time,
            format!(
                "cell {} ({}) has no finite time ({})",
                i,
                m.cells()[i],
                times[i]
            ),
        ));
    }
    let labels: Vec<String> = match trajectory {
        Some(name) => {
            let c = column(name)?;
            (0..m.n_cells()).map(|i| c.label(i)).collect()
        }
        None => vec![String::new(); m.n_cells()],
    };
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        groups.entry(l.as_str()).or_default().push(i);
    }
    let dense = m.values().to_dense();
    let genes: Vec<String> = m.genes().symbols.clone();
    let mut out = Vec::with_capacity(groups.len());
    for (label, mut cells) in groups {
        cells.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
        let mut t: Vec<f64> = Vec::new();
        let mut rows: Vec<Vec<f64>> = Vec::new();
        let mut counts: Vec<f64> = Vec::new();
        for &c in &cells {
            if t.last() != Some(&times[c]) {
                t.push(times[c]);
                rows.push(vec![0.0; genes.len()]);
                counts.push(0.0);
            }
            if let (Some(r), Some(k)) = (rows.last_mut(), counts.last_mut()) {
                for (v, x) in r.iter_mut().zip(dense.row(c)) {
                    *v += f64::from(*x);
                }
                *k += 1.0;
            }
        }
        if t.len() < 2 {
            return Err(Error::TooFewSamples {
                op: format!("time course `{label}`"),
                needed: 2,
                got: t.len(),
            });
        }
        let x = Array2::from_shape_fn((t.len(), genes.len()), |(i, j)| rows[i][j] / counts[i]);
        out.push(Trajectory::with_names(
            x,
            TimeGrid::from_times(t)?,
            genes.clone(),
        )?);
    }
    Ok(out)
}
