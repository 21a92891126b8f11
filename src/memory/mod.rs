//! How much memory this process may use, and a check that a planned allocation fits.
//!
//! Sizes a user chooses (samples, library degree, cells to generate, vocabulary, context) are
//! turned into a byte count *before* anything is allocated, and [`ensure_fits`] turns a count
//! the process cannot hold into [`Error::TooLarge`], naming what it was for and how much it
//! would take. Without this, Rust aborts on a failed allocation (no error, no cleanup) or the
//! kernel kills the process after it has used every byte of the machine.
//!
//! The budget is the smallest of what the machine and its limits allow (Linux): the memory
//! the kernel reports as available (`MemAvailable`), the cgroup's `memory.max` less what the
//! cgroup already uses, and the address-space and data limits (`ulimit -v`, `ulimit -d`) less
//! what the process already maps. They are read from `/proc` and `/sys` text files (a few
//! lines, no system-information crate needed). Where none can be read the budget is unknown
//! and only arithmetic overflow is refused.

use crate::error::{Error, Result};

pub(crate) mod limit;
pub use limit::{human_bytes, Budget};

/// The tightest memory limit of this process, or `None` where none can be read.
pub fn budget() -> Option<Budget> {
    let mut best: Option<Budget> = None;
    let mut take = |bytes: Option<u64>, source: &'static str| {
        if let Some(bytes) = bytes {
            if best.is_none_or(|b| bytes < b.bytes) {
                best = Some(Budget { bytes, source });
            }
        }
    };
    take(meminfo_available(), "memory available on this machine");
    take(cgroup_room(), "the memory limit of this process's cgroup");
    let mapped = proc_status_kb("VmSize:").map(|kb| kb * 1024);
    take(
        rlimit("Max address space").map(|l| l.saturating_sub(mapped.unwrap_or(0))),
        "the address-space limit (ulimit -v)",
    );
    take(
        rlimit("Max data size").map(|l| l.saturating_sub(mapped.unwrap_or(0))),
        "the data-size limit (ulimit -d)",
    );
    best
}

/// Checks that `bytes` (`None`: the size computation overflowed) fit this process's
/// [`budget`]; `what` says what the memory is for, e.g. "the normal equations of a
/// 23,426-feature library".
///
/// # Errors
/// [`Error::TooLarge`] when it does not fit or overflowed.
pub fn ensure_fits(what: impl FnOnce() -> String, bytes: Option<u128>) -> Result<()> {
    match (bytes, budget()) {
        (None, b) => Err(Error::TooLarge {
            what: what(),
            bytes: None,
            budget: b,
        }),
        (Some(n), Some(b)) if n > u128::from(b.bytes) => Err(Error::TooLarge {
            what: what(),
            bytes: Some(n),
            budget: Some(b),
        }),
        // Beyond any machine's address space, whether or not a limit could be read.
        (Some(n), None) if n > u128::from(u64::MAX >> 8) => Err(Error::TooLarge {
            what: what(),
            bytes: Some(n),
            budget: None,
        }),
        _ => Ok(()),
    }
}

/// `a · b · …` in bytes, `None` on overflow: the size of an array of `dims` elements of
/// `elem` bytes each.
pub fn array_bytes(dims: &[usize], elem: usize) -> Option<u128> {
    dims.iter()
        .try_fold(elem as u128, |acc, &d| acc.checked_mul(d as u128))
}

fn meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    kb_field(&text, "MemAvailable:").map(|kb| kb * 1024)
}

fn proc_status_kb(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    kb_field(&text, key)
}

fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
}

/// The soft limit of `/proc/self/limits`' row `name` in bytes (`None` when unlimited).
fn rlimit(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let row = text.lines().find(|l| l.starts_with(name))?;
    let soft = row.get(name.len()..)?.split_whitespace().next()?;
    soft.parse::<u64>().ok()
}

/// cgroup v2: `memory.max - memory.current` of this process's cgroup.
fn cgroup_room() -> Option<u64> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let max = std::fs::read_to_string(dir.join("memory.max")).ok()?;
    let max: u64 = max.trim().parse().ok()?; // "max" (no limit) does not parse
    let current: u64 = std::fs::read_to_string(dir.join("memory.current"))
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// Peak resident set size of this process in kB (`VmHWM` of `/proc/self/status`), if known.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_overflow_to_none_and_print_in_decimal_units() {
        assert_eq!(array_bytes(&[1000, 1000], 8), Some(8_000_000));
        assert_eq!(array_bytes(&[usize::MAX, usize::MAX, 4], 8), None);
        assert_eq!(human_bytes(812), "812 B");
        assert_eq!(human_bytes(4_390_219_808), "4.4 GB");
        assert_eq!(human_bytes(15_200_000_000_000), "15.2 TB");
    }

    #[test]
    fn absurd_sizes_are_refused_and_small_ones_pass() {
        let e = ensure_fits(
            || "a test array".into(),
            array_bytes(&[1 << 40, 1 << 20], 8),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("a test array") && msg.contains("9.2 EB"),
            "{msg}"
        );
        assert!(ensure_fits(|| "overflow".into(), None).is_err());
        ensure_fits(|| "a small array".into(), array_bytes(&[1000], 8)).unwrap();
    }

    #[test]
    fn the_budget_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let b = budget().unwrap();
            assert!(b.bytes > 0, "{b:?}");
        }
    }
}
