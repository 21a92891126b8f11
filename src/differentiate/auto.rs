//! Choosing a differentiator from the data: [`DiffChoice`] (`auto` or a fixed method, as the
//! CLI's `--diff` spells it) and [`auto_diff`], the rule `auto` follows.

use crate::error::{Error, Result};

use super::DiffConfig;

/// Weak-form window chosen by [`DiffChoice::Auto`] when the data are long enough.
pub const WEAK_WINDOW: usize = 201;
/// Weak-form test-function order chosen by [`DiffChoice::Auto`].
pub const WEAK_ORDER: u32 = 4;
/// Smallest weak-form window [`DiffChoice::Auto`] accepts before falling back to finite
/// differences.
pub const MIN_AUTO_WINDOW: usize = 21;
/// How to differentiate.
#[derive(Debug, Clone, PartialEq)]
pub enum DiffChoice {
    /// Pick from the data, see [`auto_diff`].
    Auto,
    /// A fixed differentiator.
    Fixed(DiffConfig),
}

impl DiffChoice {
    /// The differentiator for data whose shortest trajectory has `shortest` samples
    /// (`uniform`: every grid is uniform): [`auto_diff`] for [`DiffChoice::Auto`].
    pub fn resolve(&self, shortest: usize, uniform: bool) -> DiffConfig {
        match self {
            DiffChoice::Auto => auto_diff(shortest, uniform),
            DiffChoice::Fixed(c) => c.clone(),
        }
    }
    /// Parses `auto`, `fd2`, `fd4`, `sg:WINDOW,POLYORDER` or `weak:WINDOW` (test-function
    /// order [`WEAK_ORDER`]).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for anything else, or settings the differentiator rejects.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::param(
                "diff",
                text,
                format!("{why}; expected auto, fd2, fd4, sg:WINDOW,POLYORDER or weak:WINDOW"),
            )
        };
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| bad("not a whole number"))
        };
        let t = text.trim().to_ascii_lowercase();
        let cfg = match t.as_str() {
            "auto" => return Ok(DiffChoice::Auto),
            "fd2" => DiffConfig::FiniteDifference { order: 2 },
            "fd4" => DiffConfig::FiniteDifference { order: 4 },
            _ => match t.split_once(':') {
                Some(("sg", rest)) => {
                    let (w, p) = rest
                        .split_once(',')
                        .ok_or_else(|| bad("sg needs WINDOW,POLYORDER"))?;
                    DiffConfig::SavitzkyGolay {
                        window: num(w)?,
                        polyorder: num(p)?,
                        smooth_x: true,
                    }
                }
                Some(("weak", w)) => DiffConfig::Weak {
                    window: num(w)?,
                    order: WEAK_ORDER,
                },
                _ => return Err(bad("unknown differentiator")),
            },
        };
        cfg.build()?;
        Ok(DiffChoice::Fixed(cfg))
    }
}

/// The differentiator [`DiffChoice::Auto`] picks: the weak form with window [`WEAK_WINDOW`]
/// and order [`WEAK_ORDER`] when every grid is uniform and the shortest trajectory has at
/// least `4 × WEAK_WINDOW` samples; otherwise the largest odd window `<= n/4` if that is at
/// least [`MIN_AUTO_WINDOW`]; otherwise (and for non-uniform grids) 4th-order finite
/// differences.
pub fn auto_diff(shortest: usize, uniform: bool) -> DiffConfig {
    let fd = DiffConfig::FiniteDifference { order: 4 };
    if !uniform {
        return fd;
    }
    let mut window = (shortest / 4).min(WEAK_WINDOW);
    if window.is_multiple_of(2) {
        window = window.saturating_sub(1);
    }
    if window >= MIN_AUTO_WINDOW {
        DiffConfig::Weak {
            window,
            order: WEAK_ORDER,
        }
    } else {
        fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_diff_follows_the_data() {
        assert_eq!(
            auto_diff(100_000, true),
            DiffConfig::Weak {
                window: 201,
                order: 4
            }
        );
        assert_eq!(
            auto_diff(804, true),
            DiffConfig::Weak {
                window: 201,
                order: 4
            }
        );
        assert_eq!(
            auto_diff(400, true),
            DiffConfig::Weak {
                window: 99,
                order: 4
            }
        );
        assert_eq!(
            auto_diff(80, true),
            DiffConfig::FiniteDifference { order: 4 }
        );
        assert_eq!(
            auto_diff(100_000, false),
            DiffConfig::FiniteDifference { order: 4 }
        );
    }

    #[test]
    fn diff_choices_parse() -> Result<()> {
        assert_eq!(DiffChoice::parse("auto")?, DiffChoice::Auto);
        assert_eq!(
            DiffChoice::parse("sg:21,3")?,
            DiffChoice::Fixed(DiffConfig::SavitzkyGolay {
                window: 21,
                polyorder: 3,
                smooth_x: true
            })
        );
        assert_eq!(
            DiffChoice::parse("weak:101")?,
            DiffChoice::Fixed(DiffConfig::Weak {
                window: 101,
                order: 4
            })
        );
        assert!(DiffChoice::parse("sg:20,3").is_err());
        assert!(DiffChoice::parse("spline").is_err());
        Ok(())
    }
}
