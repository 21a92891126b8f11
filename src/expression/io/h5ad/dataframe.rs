//! Which dataframe layout a file has: the ≥ 0.7 group ([`super::frame`]) or the ≤ 0.6
//! compound dataset ([`super::legacy`]).

use std::path::Path;

use hdf5_pure::File;

use super::frame::{read_group_frame, Frame};
use super::legacy;
use crate::error::{Error, Result};

/// Reads the dataframe at `name` (`"obs"`, `"var"`, `"raw/var"`, or legacy `"raw.var"`), in
/// whichever layout the file has. `uns` is where ≤ 0.6 files keep categorical labels.
pub(super) fn read_frame(file: &File, path: &Path, name: &str) -> Result<Frame> {
    read_frame_columns(file, path, name, None)
}

/// [`read_frame`] keeping only the columns named in `keep` (all with `None`): a group-based
/// frame skips the others without reading them; a legacy compound frame is one dataset, read
/// whole and then filtered.
pub(super) fn read_frame_columns(
    file: &File,
    path: &Path,
    name: &str,
    keep: Option<&[String]>,
) -> Result<Frame> {
    match file.group(name) {
        Ok(g) => read_group_frame(file, path, name, &g, keep),
        Err(_) => match file.dataset(name) {
            Ok(ds) => {
                let mut f = legacy::read_compound_frame(file, path, name, &ds)?;
                if let Some(k) = keep {
                    f.columns.retain(|(c, _)| k.contains(c));
                }
                Ok(f)
            }
            Err(_) => Err(Error::format(
                path,
                format!("no `{name}` dataframe (not an AnnData .h5ad file?)"),
            )),
        },
    }
}
