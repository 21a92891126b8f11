//! Probe figures: ROC curves of the methods on an XOR probe, and Spearman heat maps of the
//! covariance probe's genes, real next to each imputation.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{plot_err, FONT};
use crate::error::{Error, Result};
use crate::probes::{CovarianceReport, XorReport};

/// Line colours of the methods, in report order (model first): matplotlib's ten "tab10"
/// colours, enough for the model and every baseline of an XOR probe (seven today).
const METHOD_COLORS: [RGBColor; 10] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// ROC curves of every method of an XOR probe, AUROC in the legend, the chance diagonal
/// dashed.
///
/// # Errors
/// [`Error::Empty`] for a probe without methods, [`Error::Plot`] if drawing fails.
pub fn roc_svg(x: &XorReport) -> Result<String> {
    if x.methods.is_empty() {
        return Err(Error::Empty {
            what: "XOR probe",
            why: "no method to draw".into(),
        });
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("ROC: {} ({} held-out cells)", x.target, x.n_cells),
                (FONT, 20),
            )
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("false positive rate")
            .y_desc("true positive rate")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                RGBColor(160, 160, 160).stroke_width(1),
            ))
            .map_err(plot_err)?;
        for (i, m) in x.methods.iter().enumerate() {
            let color = METHOD_COLORS[i % METHOD_COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    m.roc.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(plot_err)?
                .label(format!("{} (AUROC {:.3})", m.method, m.scores.auroc))
                .legend(move |(lx, ly)| {
                    PathElement::new([(lx, ly), (lx + 20, ly)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FONT, 14))
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(super::xml_safe(svg))
}

const CELL: i32 = 22;
const GAP: i32 = 40;

/// Spearman matrices of the covariance probe's genes, side by side: the real values, then
/// each method's imputation, on one diverging scale from −1 (blue) to +1 (red). The group
/// boundary is drawn as a line.
///
/// # Errors
/// [`Error::Empty`] for no genes, [`Error::Plot`] if drawing fails.
pub fn covariance_heatmaps_svg(c: &CovarianceReport) -> Result<String> {
    let g = c.genes.len();
    if g == 0 {
        return Err(Error::Empty {
            what: "covariance probe",
            why: "no genes to draw".into(),
        });
    }
    let panels: Vec<(&str, &ndarray::Array2<f64>)> = std::iter::once(("real", &c.real.matrix))
        .chain(c.methods.iter().map(|m| (m.method.as_str(), &m.matrix)))
        .collect();
    let label_w = c.genes.iter().map(|s| s.chars().count()).max().unwrap_or(1) as i32 * 8 + 12;
    let side = CELL * g as i32;
    let panel_w = side.max(200);
    let left = label_w + 10;
    let top = 80;
    let width = left + panels.len() as i32 * (panel_w + GAP) + 20;
    let height = top + side + label_w + 30;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        root.draw(&Text::new(
            format!(
                "Spearman ρ of the masked genes, {} held-out cells: real vs imputed (blue −1 … red +1)",
                c.n_cells
            ),
            (16, 12),
            (FONT, 18).into_font().style(FontStyle::Bold),
        ))
        .map_err(plot_err)?;
        let text = |s: &str, at: (i32, i32), size: f64, h: HPos| {
            root.draw(&Text::new(
                s.to_string(),
                at,
                (FONT, size)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(h, VPos::Center)),
            ))
            .map_err(plot_err)
        };
        for (i, name) in c.genes.iter().enumerate() {
            text(
                name,
                (left - 6, top + CELL * i as i32 + CELL / 2),
                11.0,
                HPos::Right,
            )?;
        }
        for (k, (title, m)) in panels.iter().enumerate() {
            let x0 = left + k as i32 * (panel_w + GAP);
            text(title, (x0 + side / 2, top - 16), 13.0, HPos::Center)?;
            for i in 0..g {
                for j in 0..g {
                    let v = m.get((i, j)).copied().unwrap_or(0.0);
                    let (cx, cy) = (x0 + CELL * j as i32, top + CELL * i as i32);
                    root.draw(&Rectangle::new(
                        [(cx, cy), (cx + CELL, cy + CELL)],
                        diverging(v).filled(),
                    ))
                    .map_err(plot_err)?;
                }
            }
            // Group boundary.
            let b = CELL * c.n_a as i32;
            root.draw(&PathElement::new(
                [(x0 + b, top), (x0 + b, top + side)],
                BLACK.stroke_width(1),
            ))
            .map_err(plot_err)?;
            root.draw(&PathElement::new(
                [(x0, top + b), (x0 + side, top + b)],
                BLACK.stroke_width(1),
            ))
            .map_err(plot_err)?;
            root.draw(&Rectangle::new(
                [(x0, top), (x0 + side, top + side)],
                RGBColor(120, 120, 120).stroke_width(1),
            ))
            .map_err(plot_err)?;
            for (j, name) in c.genes.iter().enumerate() {
                root.draw(&Text::new(
                    name.clone(),
                    (x0 + CELL * j as i32 + CELL / 2, top + side + 6),
                    (FONT, 11)
                        .into_font()
                        .transform(FontTransform::Rotate90)
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(plot_err)?;
            }
        }
        root.present().map_err(plot_err)?;
    }
    Ok(super::xml_safe(svg))
}

/// Blue (−1) … light grey (0) … red (+1).
fn diverging(v: f64) -> RGBColor {
    let s = v.clamp(-1.0, 1.0);
    let (end, t) = if s < 0.0 {
        ((33.0, 102.0, 172.0), -s)
    } else {
        ((178.0, 24.0, 43.0), s)
    };
    let mid = (247.0, 247.0, 247.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(mid.0, end.0), mix(mid.1, end.1), mix(mid.2, end.2))
}
