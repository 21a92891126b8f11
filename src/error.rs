//! The crate's one error type.
//!
//! Every fallible public function returns [`Result`]. Variants are structured so that a caller
//! (or a test) can tell *which* check failed without parsing the message, and messages say what
//! was expected and what was found, in the user's terms (samples, features, targets).

use std::path::PathBuf;

/// Everything that can go wrong in `cellsindy`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two arrays that must agree in shape do not.
    #[error("{op}: shape mismatch, expected {expected}, got {got}")]
    Shape {
        /// The operation that checked the shape.
        op: &'static str,
        /// What was expected, e.g. `"(n_samples, 3)"`.
        expected: String,
        /// What was given.
        got: String,
    },
    /// An input is empty where data is needed (no trajectories, zero samples, zero columns).
    #[error("{what} is empty: {why}")]
    Empty {
        /// What was empty.
        what: &'static str,
        /// Why that is a problem here.
        why: String,
    },
    /// A hyper-parameter is outside its valid range.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParam {
        /// Parameter name, as in the params struct.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// The valid range or rule.
        reason: String,
    },
    /// Data contains NaN or infinite values.
    #[error("{what} contains a non-finite value ({value}) at row {row}, column {col}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row (sample) index.
        row: usize,
        /// Column index.
        col: usize,
        /// The value found.
        value: f64,
    },
    /// Sample times are not strictly increasing (or a time step is not positive).
    #[error("time grid is not strictly increasing: {0}")]
    TimeGrid(String),
    /// Too few samples for the requested operation (e.g. a finite-difference stencil).
    #[error("{op} needs at least {needed} samples, got {got}")]
    TooFewSamples {
        /// The operation.
        op: String,
        /// Minimum number of samples.
        needed: usize,
        /// Number given.
        got: usize,
    },
    /// A library column is identically zero, so its coefficient is not identifiable.
    #[error("feature library column `{feature}` is zero on every sample: its coefficient is not identifiable")]
    ZeroColumn {
        /// Name of the feature.
        feature: String,
    },
    /// A linear system could not be solved (singular or not positive definite).
    #[error("linear algebra: {0}")]
    Linalg(String),
    /// An iterative algorithm did not converge.
    #[error("{algorithm} did not converge after {iterations} iterations")]
    NoConvergence {
        /// Algorithm name.
        algorithm: &'static str,
        /// Iterations run.
        iterations: usize,
    },
    /// ODE integration failed (step size underflow, stiffness, blow-up).
    #[error("ODE integration: {0}")]
    Integration(String),
    /// A file could not be parsed.
    #[error("{path}: line {line}: {msg}")]
    Parse {
        /// File path.
        path: PathBuf,
        /// 1-based line (0 when not line-oriented).
        line: usize,
        /// What was wrong.
        msg: String,
    },
    /// An I/O operation failed.
    #[error("I/O on {path}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// JSON (de)serialisation failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Something that is valid input but not supported (yet), said plainly.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Drawing a figure failed.
    #[error("plot: {0}")]
    Plot(String),
    /// A binary file (`.h5ad`, compressed stream) is truncated or not what its name says.
    #[error("{path}: {msg}")]
    Format {
        /// File path.
        path: PathBuf,
        /// What was wrong, in the format's terms.
        msg: String,
    },
    /// A name that must be unique (gene symbol, cell id, column) occurs twice.
    #[error("duplicate {what} `{name}` (positions {first} and {second}){hint}")]
    Duplicate {
        /// What kind of name: "gene", "cell", ...
        what: &'static str,
        /// The repeated name.
        name: String,
        /// 0-based position of the first occurrence.
        first: usize,
        /// 0-based position of the repeat.
        second: usize,
        /// How to get past it (may be empty), starting with "; ".
        hint: String,
    },
    /// A count or expression value is negative where only non-negative values make sense.
    #[error("{what} has a negative value ({value}) at cell {cell}, gene {gene}")]
    Negative {
        /// Which input.
        what: String,
        /// 0-based cell (row).
        cell: usize,
        /// 0-based gene (column).
        gene: usize,
        /// The value found.
        value: f64,
    },
    /// A tensor operation failed (candle: device, dtype or shape problems inside the model).
    #[error("tensor operation: {0}")]
    Tensor(String),
    /// A size asked for would need more memory than this process may use (or its size
    /// overflows): refused before anything is allocated.
    #[error("{}", too_large(what, bytes, budget))]
    TooLarge {
        /// What the memory is for, in the user's terms.
        what: String,
        /// Bytes it would take (`None`: more than 2^128).
        bytes: Option<u128>,
        /// The limit it was checked against, when one could be read.
        budget: Option<crate::memory::limit::Budget>,
    },
    /// An output path that would destroy or mix with something that is not the command's
    /// own (an input, a directory of the user's files, a file where a directory goes).
    #[error("refusing to write {path}: {why}")]
    OutputRefused {
        /// The output path.
        path: PathBuf,
        /// Why, and what to do instead.
        why: String,
    },
    /// Genes asked for by name are not in the data.
    #[error("{n} unknown gene(s): {shown}", n = genes.len(), shown = show_names(genes))]
    UnknownGenes {
        /// The names not found.
        genes: Vec<String>,
    },
}

#[cfg(feature = "nn")]
impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Tensor(e.to_string())
    }
}

fn too_large(
    what: &str,
    bytes: &Option<u128>,
    budget: &Option<crate::memory::limit::Budget>,
) -> String {
    let need = match bytes {
        Some(b) => format!("would need {}", crate::memory::limit::human_bytes(*b)),
        None => "would need more memory than can be counted".into(),
    };
    match budget {
        Some(b) => format!(
            "{what} {need}, more than the {} left under {}",
            crate::memory::limit::human_bytes(u128::from(b.bytes)),
            b.source
        ),
        None => format!("{what} {need}, more than any machine has"),
    }
}

/// At most 10 names, then a count of the rest.
fn show_names(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 10 {
        s.push_str(&format!(" and {} more", names.len() - 10));
    }
    s
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// I/O error with the path attached.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Invalid-parameter error.
    pub fn param(
        name: &'static str,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidParam {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// Parse error at a 1-based line of a text file.
    pub fn parse(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            msg: msg.into(),
        }
    }

    /// Malformed binary file.
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// Shape-mismatch error.
    pub fn shape(op: &'static str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Shape {
            op,
            expected: expected.into(),
            got: got.into(),
        }
    }
}

/// Checks that every entry of `x` is finite.
///
/// # Errors
/// [`Error::NonFinite`] naming the first offending entry.
pub fn check_finite(what: &'static str, x: ndarray::ArrayView2<'_, f64>) -> Result<()> {
    // Fast scan first (contiguous data is a flat slice); indices only on failure.
    let all_finite = match x.as_slice_memory_order() {
        Some(s) => all_finite(s),
        None => x.iter().all(|v| v.is_finite()),
    };
    if all_finite {
        return Ok(());
    }
    for ((row, col), &value) in x.indexed_iter() {
        if !value.is_finite() {
            return Err(Error::NonFinite {
                what,
                row,
                col,
                value,
            });
        }
    }
    Ok(())
}

/// `v * 0` is NaN exactly when `v` is NaN or infinite; eight independent lanes vectorise.
fn all_finite(s: &[f64]) -> bool {
    let mut acc = [0.0f64; 8];
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k] * 0.0;
        }
    }
    acc.iter().chain(rest).all(|v| v.is_finite())
}
