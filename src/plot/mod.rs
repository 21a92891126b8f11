//! Figures (plotters, SVG).
