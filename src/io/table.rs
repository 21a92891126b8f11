//! Delimited text trajectories (CSV / TSV) with a header row.

use std::path::Path;

use ndarray::Array2;

use crate::data::{TimeGrid, Trajectory};
use crate::error::{Error, Result};

/// How to read a delimited table.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `delimiter` | by extension: `,` for `.csv`, tab otherwise | field separator |
/// | `time_column` | `t` or `time` if present | column holding sample times |
/// | `dt` | — | uniform step when there is no time column |
/// | `control_columns` | none | columns read as control inputs `u` |
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableOptions {
    /// Field separator.
    pub delimiter: Option<u8>,
    /// Name of the time column.
    pub time_column: Option<String>,
    /// Time step when there is no time column.
    pub dt: Option<f64>,
    /// Names of control-input columns.
    pub control_columns: Vec<String>,
}

/// Reads a CSV/TSV trajectory: a header row of column names, then one row per sample. A
/// leading byte-order mark (Excel's "CSV UTF-8") is dropped.
///
/// # Errors
/// [`Error::Parse`] (with the line number) for ragged rows, non-numeric fields, a missing
/// named column, duplicate names, no time information, or both a time column and a time
/// step (`dt`); [`Error::Empty`] for no data rows; trajectory validation errors (NaN,
/// non-increasing times); as [`super::input::read_text`] for a file that is not a regular
/// UTF-8 file.
pub fn read_table(path: &Path, opts: &TableOptions) -> Result<Trajectory> {
    let text = super::input::read_text(path)?;
    let perr = |line: usize, msg: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        msg,
    };
    let delim = opts.delimiter.map(char::from).unwrap_or_else(|| {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => ',',
            _ => '\t',
        }
    });
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (hline, header) = lines
        .next()
        .ok_or_else(|| perr(1, "empty file: no header row".into()))?;
    let names: Vec<String> = header
        .split(delim)
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() {
            return Err(perr(
                hline + 1,
                format!("column {} has an empty name", i + 1),
            ));
        }
        if names[..i].contains(n) {
            return Err(perr(hline + 1, format!("duplicate column name '{n}'")));
        }
    }
    let find = |n: &str| names.iter().position(|c| c == n);
    let tcol = match &opts.time_column {
        Some(n) => {
            Some(find(n).ok_or_else(|| perr(hline + 1, format!("no time column named '{n}'")))?)
        }
        None => find("t").or_else(|| find("time")),
    };
    let ucols: Vec<usize> = opts
        .control_columns
        .iter()
        .map(|n| find(n).ok_or_else(|| perr(hline + 1, format!("no control column named '{n}'"))))
        .collect::<Result<_>>()?;
    let xcols: Vec<usize> = (0..names.len())
        .filter(|i| Some(*i) != tcol && !ucols.contains(i))
        .collect();
    if xcols.is_empty() {
        return Err(perr(hline + 1, "no state columns".into()));
    }
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (ln, line) in lines {
        let fields: Vec<&str> = line.split(delim).collect();
        if fields.len() != names.len() {
            return Err(perr(
                ln + 1,
                format!("expected {} fields, found {}", names.len(), fields.len()),
            ));
        }
        let row = fields
            .iter()
            .enumerate()
            .map(|(c, f)| {
                f.trim().parse::<f64>().map_err(|_| {
                    perr(
                        ln + 1,
                        format!("column '{}': '{}' is not a number", names[c], f.trim()),
                    )
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::Empty {
            what: "table",
            why: format!("{} has a header but no data rows", path.display()),
        });
    }
    let n = rows.len();
    let x = Array2::from_shape_fn((n, xcols.len()), |(i, j)| rows[i][xcols[j]]);
    let t = match (tcol, opts.dt) {
        (Some(c), Some(dt)) => {
            return Err(perr(
                hline + 1,
                format!(
                    "the file has a time column '{}' and a time step was given too (dt {dt}); use one: drop the time step, or name the column to use",
                    crate::escape::terminal(&names[c])
                ),
            ))
        }
        (Some(c), None) => TimeGrid::from_times(rows.iter().map(|r| r[c]).collect())?,
        (None, Some(dt)) => TimeGrid::uniform(0.0, dt, n)?,
        (None, None) => {
            return Err(perr(
                hline + 1,
                "no time column ('t' or 'time') and no time step given (--dt)".into(),
            ))
        }
    };
    let tr = Trajectory::with_names(x, t, xcols.iter().map(|&c| names[c].clone()).collect())?;
    if ucols.is_empty() {
        Ok(tr)
    } else {
        let u = Array2::from_shape_fn((n, ucols.len()), |(i, j)| rows[i][ucols[j]]);
        tr.with_control(u, Some(ucols.iter().map(|&c| names[c].clone()).collect()))
    }
}
