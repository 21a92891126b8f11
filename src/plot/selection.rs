//! The threshold sweep of [`crate::model::SindyParams::select_threshold`]: error against the
//! number of terms (log scale), the Pareto front joined, the chosen model marked.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{plot_err, FONT, MODEL_COLOR, REFERENCE_COLOR};
use crate::error::{Error, Result};
use crate::model::{Criterion, SelectionReport};
use crate::stats::format_significant;

/// Draws a threshold sweep as SVG: every threshold as a grey dot at (non-zero terms, error),
/// the Pareto front as a blue line, the chosen threshold in red. The error is the held-out RSS
/// when the sweep has one (criterion `held_out`), the training RSS otherwise.
///
/// # Errors
/// [`Error::Empty`] for a sweep without points, [`Error::Plot`] if drawing fails.
pub fn pareto_svg(report: &SelectionReport) -> Result<String> {
    let pts = &report.points;
    if pts.is_empty() {
        return Err(Error::Empty {
            what: "threshold sweep",
            why: "nothing to draw".into(),
        });
    }
    let heldout = pts.iter().all(|p| p.heldout_rss.is_some());
    let err = |p: &crate::model::SelectionPoint| {
        if heldout {
            p.heldout_rss.unwrap_or(p.train_rss)
        } else {
            p.train_rss
        }
    };
    let positive_min = pts
        .iter()
        .map(err)
        .filter(|e| *e > 0.0 && e.is_finite())
        .fold(f64::INFINITY, f64::min);
    let floor = if positive_min.is_finite() {
        positive_min
    } else {
        1e-12
    };
    let y = |p: &crate::model::SelectionPoint| {
        let e = err(p);
        if e.is_finite() && e > floor {
            e
        } else {
            floor
        }
    };
    let ymin = pts.iter().map(y).fold(f64::INFINITY, f64::min);
    let ymax = pts.iter().map(y).fold(0.0f64, f64::max);
    let (lo, hi) = if ymax > ymin {
        (ymin / 2.0, ymax * 2.0)
    } else {
        (ymin / 10.0, ymin * 10.0)
    };
    let kmin = pts.iter().map(|p| p.complexity).min().unwrap_or(0) as i32;
    let kmax = pts.iter().map(|p| p.complexity).max().unwrap_or(1) as i32;
    let criterion = match report.criterion {
        Criterion::Aic => "AIC",
        Criterion::Bic => "BIC",
        Criterion::HeldOut => "held-out RSS",
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 620)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Threshold sweep: error vs number of terms (chosen by {criterion})"),
                (FONT, 22),
            )
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d((kmin - 1)..(kmax + 1), (lo..hi).log_scale())
            .map_err(plot_err)?;
        let y_fmt = |v: &f64| {
            if *v >= 1e4 || *v < 1e-3 {
                format!("{v:.0e}")
            } else {
                format_significant(*v, 2)
            }
        };
        let x_fmt = |k: &i32| if *k < 0 { String::new() } else { k.to_string() };
        chart
            .configure_mesh()
            .x_desc("non-zero coefficients (terms)")
            .y_desc(if heldout {
                "held-out residual sum of squares"
            } else {
                "training residual sum of squares"
            })
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .y_label_formatter(&y_fmt)
            .x_label_formatter(&x_fmt)
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(210, 210, 210))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(pts.iter().map(|p| {
                Circle::new(
                    (p.complexity as i32, y(p)),
                    4,
                    RGBColor(150, 150, 150).filled(),
                )
            }))
            .map_err(plot_err)?
            .label("threshold")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, RGBColor(150, 150, 150).filled()));
        let mut front: Vec<(i32, f64)> = pts
            .iter()
            .filter(|p| p.pareto)
            .map(|p| (p.complexity as i32, y(p)))
            .collect();
        front.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        chart
            .draw_series(LineSeries::new(front, REFERENCE_COLOR.stroke_width(2)).point_size(4))
            .map_err(plot_err)?
            .label("Pareto front")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], REFERENCE_COLOR.stroke_width(2))
            });
        if let Some(c) = report.chosen_point() {
            let at = (c.complexity as i32, y(c));
            let label = format!(
                "threshold {} ({} terms)",
                format_significant(c.threshold, 3),
                c.complexity
            );
            // Label towards the middle of the plot so that it is never clipped.
            let right_half = 2 * (c.complexity as i32) > kmin + kmax;
            let (dx, h) = if right_half {
                (-12, HPos::Right)
            } else {
                (12, HPos::Left)
            };
            let style = (FONT, 16)
                .into_font()
                .color(&MODEL_COLOR)
                .pos(Pos::new(h, VPos::Bottom));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(at)
                        + Circle::new((0, 0), 8, MODEL_COLOR.stroke_width(3))
                        + Text::new(label, (dx, -12), style),
                ))
                .map_err(plot_err)?
                .label("chosen")
                .legend(|(x, y)| Circle::new((x + 10, y), 6, MODEL_COLOR.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font((FONT, 15))
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(super::xml_safe(svg))
}
