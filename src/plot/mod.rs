//! Figures (plotters, SVG).
//!
//! Every function renders into an SVG string (no system font libraries are needed: plotters
//! writes `<text>` elements and the viewer lays them out); callers write the string where they
//! like, e.g. atomically with [`crate::io::write_atomic`]. Plotters errors become
//! [`Error::Plot`].
//!
//! | module | figures |
//! |---|---|
//! | [`trajectory`] | reference vs identified model: 2-D projection and time series |
//! | [`coefficients`] | heat map of the coefficient matrix Ξ |
//! | [`network`] | regulatory network read out by `rules`: signed, scored edges on a circle |
//! | [`selection`] | threshold sweep: error vs number of terms, Pareto front |
//! | [`probes`] | ROC curves of the XOR probes, Spearman heat maps of the covariance probe |
//! | [`scaling`] | transfer-scaling experiment: loss vs data, `D_t` vs `D_f` with the fitted law |

pub mod coefficients;
pub mod network;
pub mod probes;
#[cfg(feature = "nn")]
pub mod scaling;
pub mod selection;
pub mod trajectory;

pub use coefficients::coefficients_svg;
pub use network::network_svg;
pub use selection::pareto_svg;
pub use trajectory::{attractor_svg, AttractorLabels};

use plotters::style::RGBColor;

use crate::error::Error;

/// A finished SVG with the characters XML cannot hold shown as escapes: plotters escapes
/// `& < > " '` in labels but passes control characters through, and a name from a user's file
/// (a NUL, an ANSI escape) would otherwise make the whole figure invalid XML.
pub(crate) fn xml_safe(svg: String) -> String {
    match crate::escape::xml_chars(&svg) {
        std::borrow::Cow::Borrowed(_) => svg,
        std::borrow::Cow::Owned(s) => s,
    }
}

/// Converts any plotters error into [`Error::Plot`].
pub(crate) fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// Line colour of the reference (true or measured) trajectory.
pub const REFERENCE_COLOR: RGBColor = RGBColor(31, 119, 180);
/// Line colour of the identified model.
pub const MODEL_COLOR: RGBColor = RGBColor(214, 39, 40);
/// Font family used in every figure.
pub const FONT: &str = "sans-serif";

/// `v` with at most `sig` significant digits, trailing zeros removed (`-2.667`, `28`, `0.0012`).
pub fn format_value(v: f64, sig: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..=6).contains(&mag) {
        return format!("{v:.*e}", (sig - 1).max(0) as usize);
    }
    let decimals = (sig - 1 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::format_value;

    #[test]
    fn values_read_naturally() {
        assert_eq!(format_value(-10.0000001, 4), "-10");
        assert_eq!(format_value(-8.0 / 3.0, 4), "-2.667");
        assert_eq!(format_value(28.0, 4), "28");
        assert_eq!(format_value(0.001234567, 3), "0.00123");
        assert_eq!(format_value(1.5e-7, 3), "1.50e-7");
    }
}
