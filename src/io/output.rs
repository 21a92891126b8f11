//! Where commands write, so that no run destroys what it does not own.
//!
//! Every command that writes a file or directory named by the user goes through [`Output`]:
//!
//! - **Only what it owns.** An existing directory is replaced only when it is empty or was
//!   written by cellsindy: each output directory carries a marker, [`MARKER`], listing every
//!   file written into it, and a directory holding anything else is refused. A file output
//!   never replaces a directory, and a directory output never replaces a file.
//! - **Never an input.** The output may not be an input of the command nor contain one.
//! - **Checked before the work.** [`Output::dir`] and [`Output::file`] create the staging
//!   path (a hidden sibling, `.cellsindy-tmp<pid>-NAME`) at once, so a read-only or missing
//!   location fails before a long run, not after it.
//! - **All or nothing.** Results are written into the staging path and renamed into place by
//!   [`Output::commit`]; a failed or interrupted run leaves the old result or nothing, never
//!   a mix. Dropping an uncommitted `Output` removes its staging path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file that marks a directory as cellsindy's, listing every file written into it.
pub const MARKER: &str = ".cellsindy-output.json";

/// Contents of [`MARKER`].
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    written_by: String,
    /// Every file in the directory (relative, `/`-separated), the marker excepted.
    files: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
}

/// A file or directory being written: staged beside its destination, renamed into place by
/// [`Output::commit`] (see the [module docs](self)).
#[derive(Debug)]
pub struct Output {
    kind: Kind,
    dest: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl Output {
    /// An output directory at `dest` for a command reading `inputs`: checks `dest` (see the
    /// module docs) and creates an empty staging directory to write into.
    ///
    /// # Errors
    /// [`Error::OutputRefused`] when `dest` is or contains an input, is a file or symbolic
    /// link, or is a directory holding files cellsindy did not write; [`Error::Io`] when the
    /// staging directory cannot be created (no permission, no space).
    pub fn dir(dest: &Path, inputs: &[&Path]) -> Result<Self> {
        Self::new(Kind::Dir, dest, inputs)
    }

    /// An output file at `dest` for a command reading `inputs`: checks `dest` and creates an
    /// empty staging file beside it. An existing regular file at `dest` is replaced on
    /// commit (the user named it as the output).
    ///
    /// # Errors
    /// [`Error::OutputRefused`] when `dest` is an input, a directory or not a regular file;
    /// [`Error::Io`] when the staging file cannot be created.
    pub fn file(dest: &Path, inputs: &[&Path]) -> Result<Self> {
        Self::new(Kind::File, dest, inputs)
    }

    fn new(kind: Kind, dest: &Path, inputs: &[&Path]) -> Result<Self> {
        let name = dest
            .file_name()
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .ok_or_else(|| {
                refused(
                    dest,
                    "not a file or directory name (it ends in `/`, `.` or `..`)",
                )
            })?;
        let parent = parent_of(dest);
        check_not_input(dest, inputs)?;
        if let Ok(meta) = std::fs::symlink_metadata(dest) {
            let ft = meta.file_type();
            if ft.is_symlink() {
                return Err(refused(
                    dest,
                    "it is a symbolic link; give the path it points to, or a new path",
                ));
            }
            match kind {
                Kind::Dir if !ft.is_dir() => return Err(refused(
                    dest,
                    "it exists and is not a directory; give a new path for the output directory",
                )),
                Kind::Dir => check_owned(dest)?,
                Kind::File if !ft.is_file() => {
                    return Err(refused(
                        dest,
                        "it exists and is not a regular file (a directory?); give a file path",
                    ))
                }
                Kind::File => {}
            }
        }
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        remove_stale(parent, &name.to_string_lossy());
        let staging = parent.join(format!(
            ".cellsindy-tmp{}-{}",
            std::process::id(),
            name.to_string_lossy()
        ));
        remove_path(&staging);
        let made = match kind {
            Kind::Dir => std::fs::create_dir(&staging),
            Kind::File => std::fs::File::create(&staging).map(drop),
        };
        made.map_err(|e| Error::io(&staging, e))?;
        Ok(Output {
            kind,
            dest: dest.to_path_buf(),
            staging,
            committed: false,
        })
    }

    /// Where to write now: the staging directory (write files inside it) or the staging file
    /// (write it whole; its name keeps the destination's extension, so writers that go by
    /// the extension choose the same format).
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Where a path written under [`Output::path`] will be after [`Output::commit`].
    pub fn final_path(&self, staged: &Path) -> PathBuf {
        match staged.strip_prefix(&self.staging) {
            Ok(rel) if rel.as_os_str().is_empty() => self.dest.clone(),
            Ok(rel) => self.dest.join(rel),
            Err(_) => staged.to_path_buf(),
        }
    }

    /// Moves the staged result into place (a directory gets its [`MARKER`] first). An
    /// existing destination is replaced only after the new result is complete, and is
    /// checked again for files that are not ours.
    ///
    /// # Errors
    /// [`Error::OutputRefused`] if foreign files appeared in the destination meanwhile;
    /// [`Error::Io`] on a failed rename (the old result is then left in place).
    pub fn commit(mut self) -> Result<PathBuf> {
        if self.kind == Kind::Dir {
            write_marker(&self.staging)?;
        }
        let exists = std::fs::symlink_metadata(&self.dest).is_ok();
        if !exists {
            std::fs::rename(&self.staging, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        } else if self.kind == Kind::File {
            // rename(2) replaces a file atomically.
            std::fs::rename(&self.staging, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        } else {
            check_owned(&self.dest)?;
            let old = parent_of(&self.dest).join(format!(
                ".cellsindy-old{}-{}",
                std::process::id(),
                self.dest
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            remove_path(&old);
            std::fs::rename(&self.dest, &old).map_err(|e| Error::io(&self.dest, e))?;
            if let Err(e) = std::fs::rename(&self.staging, &self.dest) {
                // Put the old result back: it is better than nothing.
                let _ = std::fs::rename(&old, &self.dest);
                return Err(Error::io(&self.dest, e));
            }
            remove_path(&old);
        }
        self.committed = true;
        Ok(self.dest.clone())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if !self.committed {
            remove_path(&self.staging);
        }
    }
}

fn refused(path: &Path, why: impl Into<String>) -> Error {
    Error::OutputRefused {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Removes a file or directory tree if it exists (cleanup of our own staging paths).
fn remove_path(p: &Path) {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// Removes what a killed run (no destructor ran) left beside `name`: staging and aside paths
/// `.cellsindy-tmp<pid>-NAME` / `.cellsindy-old<pid>-NAME` whose process is gone. Only where
/// that can be told (Linux's `/proc`); elsewhere they stay, hidden and harmless.
fn remove_stale(parent: &Path, name: &str) {
    let proc_dir = Path::new("/proc");
    if !proc_dir.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let pid = [".cellsindy-tmp", ".cellsindy-old"]
            .iter()
            .find_map(|p| file.strip_prefix(p))
            .and_then(|rest| rest.strip_suffix(name))
            .and_then(|rest| rest.strip_suffix('-'))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !proc_dir.join(pid.to_string()).exists() {
                remove_path(&entry.path());
            }
        }
    }
}

/// The absolute, symlink-free form of `p`, also when `p` does not exist yet (its nearest
/// existing ancestor is resolved and the rest appended).
fn resolved(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = parent_of(p);
    Some(resolved(parent)?.join(name))
}

/// Refuses `dest` when it is an input or contains one.
fn check_not_input(dest: &Path, inputs: &[&Path]) -> Result<()> {
    let Some(d) = resolved(dest) else {
        return Ok(());
    };
    for input in inputs {
        let Ok(i) = input.canonicalize() else {
            continue; // a missing input fails when it is read
        };
        if i == d {
            return Err(refused(
                dest,
                format!(
                    "it is the input {}; give another output path",
                    input.display()
                ),
            ));
        }
        if i.starts_with(&d) {
            return Err(refused(
                dest,
                format!(
                    "it contains the input {}; give another output path",
                    input.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Every file under `dir`, relative and `/`-separated, sorted.
fn files_under(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let ft = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if ft.is_dir() {
                walk(root, &path, out)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Refuses a directory that holds a file its marker does not list (or that has no marker
/// and is not empty).
fn check_owned(dir: &Path) -> Result<()> {
    let files = files_under(dir)?;
    if files.is_empty() {
        return Ok(());
    }
    let listed: BTreeSet<String> = std::fs::read(dir.join(MARKER))
        .ok()
        .and_then(|b| serde_json::from_slice::<Marker>(&b).ok())
        .map(|m| m.files.into_iter().collect())
        .unwrap_or_default();
    let foreign: Vec<&String> = files
        .iter()
        .filter(|f| f.as_str() != MARKER && !listed.contains(*f))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = foreign
        .iter()
        .take(5)
        .map(|f| crate::escape::terminal(f).into_owned())
        .collect();
    let more = if foreign.len() > 5 {
        format!(" and {} more", foreign.len() - 5)
    } else {
        String::new()
    };
    Err(refused(
        dir,
        format!(
            "it is a directory holding files cellsindy did not write ({}{more}); give a new or empty directory, or remove them",
            shown.join(", ")
        ),
    ))
}

fn write_marker(dir: &Path) -> Result<()> {
    let files: Vec<String> = files_under(dir)?
        .into_iter()
        .filter(|f| f != MARKER)
        .collect();
    let marker = Marker {
        written_by: format!("cellsindy {}", env!("CARGO_PKG_VERSION")),
        files,
    };
    super::write_atomic(
        &dir.join(MARKER),
        serde_json::to_string_pretty(&marker)?.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, s: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    }

    #[test]
    fn a_directory_of_ours_is_replaced_and_a_foreign_one_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("run");
        let out = Output::dir(&dest, &[]).unwrap();
        write(&out.path().join("a.json"), "1");
        write(&out.path().join("sub/b.svg"), "2");
        assert_eq!(
            out.final_path(&out.path().join("a.json")),
            dest.join("a.json")
        );
        out.commit().unwrap();
        assert_eq!(files_under(&dest).unwrap(), [MARKER, "a.json", "sub/b.svg"]);
        // A second run replaces it whole (b.svg is not written again, so it goes).
        let out = Output::dir(&dest, &[]).unwrap();
        write(&out.path().join("a.json"), "3");
        out.commit().unwrap();
        assert_eq!(files_under(&dest).unwrap(), [MARKER, "a.json"]);
        assert_eq!(std::fs::read_to_string(dest.join("a.json")).unwrap(), "3");
        // A user's file in it makes it foreign.
        write(&dest.join("README"), "mine");
        let e = Output::dir(&dest, &[]).unwrap_err().to_string();
        assert!(e.contains("did not write (README)"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dest.join("README")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn inputs_files_and_links_are_refused_and_nothing_is_left_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("v");
        write(&data.join("matrix.mtx"), "x");
        for dest in [data.clone(), tmp.path().to_path_buf()] {
            let e = Output::dir(&dest, &[&data]).unwrap_err().to_string();
            assert!(e.contains("the input"), "{e}");
        }
        let e = Output::file(&data.join("matrix.mtx"), &[&data.join("matrix.mtx")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("it is the input"), "{e}");
        let f = tmp.path().join("f");
        write(&f, "hello");
        let e = Output::dir(&f, &[]).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
        let e = Output::file(&data, &[]).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&data, &link).unwrap();
            assert!(Output::dir(&link, &[]).is_err());
        }
        // An uncommitted output leaves nothing.
        let before = files_under(tmp.path()).unwrap();
        let out = Output::dir(&tmp.path().join("new"), &[]).unwrap();
        write(&out.path().join("partial"), "1");
        drop(out);
        assert_eq!(files_under(tmp.path()).unwrap(), before);
        assert!(!tmp.path().join("new").exists());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "hello");
    }

    #[test]
    fn what_a_killed_run_left_is_cleaned_up_by_the_next() {
        let tmp = tempfile::tempdir().unwrap();
        // No process has pid 4294967295 (Linux pids stay below 2^22).
        let stale = tmp.path().join(".cellsindy-tmp4294967295-run");
        write(&stale.join("partial.json"), "1");
        let other = tmp.path().join(".cellsindy-tmp4294967295-other");
        write(&other.join("x"), "1");
        let out = Output::dir(&tmp.path().join("run"), &[]).unwrap();
        out.commit().unwrap();
        if cfg!(target_os = "linux") {
            assert!(!stale.exists());
        }
        assert!(
            other.exists(),
            "another output's staging is not ours to remove"
        );
    }

    #[test]
    fn a_file_output_replaces_a_file_on_commit_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("out.tsv");
        write(&dest, "old");
        let out = Output::file(&dest, &[]).unwrap();
        assert!(out.path().to_string_lossy().ends_with("-out.tsv"));
        std::fs::write(out.path(), "new").unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old");
        out.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        assert_eq!(files_under(tmp.path()).unwrap(), ["out.tsv"]);
    }
}
