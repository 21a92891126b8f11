//! A memory limit and how sizes are written: the words of [`crate::Error::TooLarge`], kept
//! apart from the probing in the parent module so that the error type needs nothing else.

/// What limits this process's memory, and how many bytes are left under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes the process can still allocate.
    pub bytes: u64,
    /// Which limit that is, in words.
    pub source: &'static str,
}

/// A byte count for people: `4.4 GB`, `15.2 TB`, `812 kB` (decimal units, as `df -H`).
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if v >= 1000.0 {
        // Beyond exabytes: keep the unit, show the magnitude.
        format!("{v:.3e} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
