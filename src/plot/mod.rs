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
