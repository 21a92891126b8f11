//! Reading user trajectories (CSV/TSV, NumPy `.npy`), opening inputs with bounded memory
//! ([`input`]) and writing outputs that never destroy what the command does not own
//! ([`output`]; single files atomically with [`write_atomic`]).

pub mod input;
mod npy;
pub mod output;
mod table;

pub use npy::{read_npy, read_npy_bytes, write_npy};
pub use table::{read_table, TableOptions};

use std::io::Write;
use std::path::Path;

use crate::data::{TimeGrid, Trajectory};
use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed and
/// synced, then renamed over the target (a crash never leaves a half-written file).
///
/// # Errors
/// [`Error::Io`] naming the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path_for(path)?;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// The temporary file an atomic write of `path` goes through: `.NAME.tmpPID` in the same
/// directory (same file system, so the final rename is atomic).
///
/// # Errors
/// [`Error::Io`] when `path` has no file name.
pub fn temp_path_for(path: &Path) -> Result<std::path::PathBuf> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        )
    })?;
    Ok(dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Reads a trajectory from a file by extension: `.npy` (2-D float array; needs `dt`), `.csv`,
/// `.tsv`/`.txt` (see [`TableOptions`]).
///
/// # Errors
/// [`Error::Parse`] / [`Error::Io`] on unreadable input, and trajectory validation errors.
pub fn read_trajectory(path: &Path, opts: &TableOptions) -> Result<Trajectory> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if ext == "npy" {
        let x = read_npy(path)?;
        let dt = opts.dt.ok_or_else(|| Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            msg: ".npy files carry no times: give a time step (--dt)".into(),
        })?;
        let t = TimeGrid::uniform(0.0, dt, x.nrows())?;
        return Trajectory::new(x, t);
    }
    read_table(path, opts)
}
