//! Reference trajectory vs the identified model: a 2-D projection (first vs last state
//! variable, the x–z "butterfly" for Lorenz) beside the first variable against time.

use plotters::prelude::*;

use super::{plot_err, FONT, MODEL_COLOR, REFERENCE_COLOR};
use crate::data::Trajectory;
use crate::error::{Error, Result};
use crate::stats::format_significant;

/// Points drawn per curve at most (longer curves are strided; keeps SVGs small).
const MAX_POINTS: usize = 5000;

const WIDTH: u32 = 1300;
const HEIGHT: u32 = 560;
const HEADER: u32 = 64;

/// Labels of the two curves of [`attractor_svg`].
#[derive(Debug, Clone, PartialEq)]
pub struct AttractorLabels {
    /// Figure title.
    pub title: String,
    /// Legend entry of the reference (true or measured) trajectory.
    pub reference: String,
    /// Legend entry of the identified model's simulation.
    pub model: String,
}

/// Draws `reference` and, when given, the identified model's simulation `model` (same
/// variables, usually the same grid) as SVG: the first vs the last state variable on the left,
/// the first variable against time on the right, with a legend in the header. When `model` is
/// `None`, `note` (e.g. why the simulation failed) is printed in its place. One-variable
/// systems get the time panel only.
///
/// # Errors
/// [`Error::Shape`] if `model` has different variables than `reference`, [`Error::Empty`] for an
/// empty reference, [`Error::Plot`] if drawing fails.
pub fn attractor_svg(
    reference: &Trajectory,
    model: Option<&Trajectory>,
    labels: &AttractorLabels,
    note: Option<&str>,
) -> Result<String> {
    if reference.n_samples() == 0 {
        return Err(Error::Empty {
            what: "reference trajectory",
            why: "nothing to draw".into(),
        });
    }
    if let Some(m) = model {
        if m.names() != reference.names() {
            return Err(Error::shape(
                "attractor_svg",
                format!("model variables {:?}", reference.names()),
                format!("{:?}", m.names()),
            ));
        }
    }
    let d = reference.n_vars();
    let names = reference.names();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (header, body) = root.split_vertically(HEADER);
        draw_header(&header, labels, model.is_some(), note)?;

        let (proj_area, time_area) = if d >= 2 {
            let (l, r) = body.split_horizontally(WIDTH * 42 / 100);
            (Some(l), r)
        } else {
            (None, body)
        };

        if let Some(area) = proj_area {
            let (a, b) = (0, d - 1);
            let curves: Vec<Vec<(f64, f64)>> = std::iter::once(reference)
                .chain(model)
                .map(|tr| strided(tr, |i| (tr.x()[(i, a)], tr.x()[(i, b)])))
                .collect();
            let (xr, yr) = bounds(&curves);
            let mut chart = ChartBuilder::on(&area)
                .caption(
                    format!("{} vs {} (phase portrait)", names[b], names[a]),
                    (FONT, 20),
                )
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
                .map_err(plot_err)?;
            configure(&mut chart, &names[a], &names[b])?;
            draw_curves(&mut chart, curves)?;
        }

        let curves: Vec<Vec<(f64, f64)>> = std::iter::once(reference)
            .chain(model)
            .map(|tr| strided(tr, |i| (tr.t().at(i), tr.x()[(i, 0)])))
            .collect();
        let (xr, yr) = bounds(&curves);
        let mut chart = ChartBuilder::on(&time_area)
            .caption(format!("{} against time", names[0]), (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(plot_err)?;
        configure(&mut chart, "t", &names[0])?;
        draw_curves(&mut chart, curves)?;
        root.present().map_err(plot_err)?;
    }
    Ok(super::xml_safe(svg))
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn configure(chart: &mut Chart<'_, '_>, x: &str, y: &str) -> Result<()> {
    let xs = chart.x_range();
    let ys = chart.y_range();
    // Tick values that are zero up to rounding print as 0, not 5.551e-17.
    let tick =
        |v: f64, span: f64| format_significant(if v.abs() < 1e-9 * span { 0.0 } else { v }, 4);
    let x_fmt = |v: &f64| tick(*v, xs.end - xs.start);
    let y_fmt = |v: &f64| tick(*v, ys.end - ys.start);
    chart
        .configure_mesh()
        .x_desc(x)
        .y_desc(y)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 17))
        .light_line_style(RGBColor(242, 242, 242))
        .bold_line_style(RGBColor(215, 215, 215))
        .max_light_lines(4)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .draw()
        .map_err(plot_err)
}

/// Reference first (thicker), then the model on top.
fn draw_curves(chart: &mut Chart<'_, '_>, curves: Vec<Vec<(f64, f64)>>) -> Result<()> {
    for (k, pts) in curves.into_iter().enumerate() {
        let style = if k == 0 {
            REFERENCE_COLOR.stroke_width(2)
        } else {
            MODEL_COLOR.mix(0.85).stroke_width(1)
        };
        chart
            .draw_series(LineSeries::new(pts, style))
            .map_err(plot_err)?;
    }
    Ok(())
}

/// The title and a legend (line swatches) in the header strip.
fn draw_header(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    labels: &AttractorLabels,
    with_model: bool,
    note: Option<&str>,
) -> Result<()> {
    area.draw(&Text::new(
        labels.title.clone(),
        (20, 8),
        (FONT, 22).into_font().style(FontStyle::Bold),
    ))
    .map_err(plot_err)?;
    let y = 46;
    let mut x = 20;
    let entry = |color: RGBColor, text: &str, x: &mut i32| -> Result<()> {
        area.draw(&PathElement::new(
            vec![(*x, y), (*x + 36, y)],
            color.stroke_width(3),
        ))
        .map_err(plot_err)?;
        area.draw(&Text::new(
            text.to_string(),
            (*x + 44, y - 9),
            (FONT, 16).into_font(),
        ))
        .map_err(plot_err)?;
        *x += 44 + 7 * text.chars().count() as i32 + 36;
        Ok(())
    };
    entry(REFERENCE_COLOR, &labels.reference, &mut x)?;
    if with_model {
        entry(MODEL_COLOR, &labels.model, &mut x)?;
    }
    if let Some(note) = note {
        area.draw(&Text::new(
            note.to_string(),
            (x, y - 9),
            (FONT, 16).into_font().color(&MODEL_COLOR),
        ))
        .map_err(plot_err)?;
    }
    Ok(())
}

/// At most [`MAX_POINTS`] evenly strided points of a trajectory (always including the last).
fn strided(tr: &Trajectory, f: impl Fn(usize) -> (f64, f64)) -> Vec<(f64, f64)> {
    let n = tr.n_samples();
    let step = n.div_ceil(MAX_POINTS).max(1);
    let mut pts: Vec<(f64, f64)> = (0..n).step_by(step).map(&f).collect();
    if n > 0 && !(n - 1).is_multiple_of(step) {
        pts.push(f(n - 1));
    }
    pts
}

/// Bounding box of all curves, padded by 4% (a degenerate range gets a unit width).
pub(crate) fn bounds(curves: &[Vec<(f64, f64)>]) -> ((f64, f64), (f64, f64)) {
    let mut lo = (f64::INFINITY, f64::INFINITY);
    let mut hi = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &(x, y) in curves.iter().flatten() {
        if x.is_finite() && y.is_finite() {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
    }
    let pad = |a: f64, b: f64| {
        if !(a.is_finite() && b.is_finite()) {
            return (0.0, 1.0);
        }
        let w = b - a;
        if w <= 0.0 {
            let h = a.abs().max(1.0) * 0.5;
            (a - h, b + h)
        } else {
            (a - 0.04 * w, b + 0.04 * w)
        }
    };
    (pad(lo.0, hi.0), pad(lo.1, hi.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TimeGrid;
    use ndarray::Array2;

    #[test]
    fn draws_reference_and_model() -> Result<()> {
        let x = Array2::from_shape_fn((200, 3), |(i, j)| ((i as f64) * 0.05 + j as f64).sin());
        let t = TimeGrid::uniform(0.0, 0.01, 200)?;
        let tr = Trajectory::new(x, t)?;
        let labels = AttractorLabels {
            title: "test".into(),
            reference: "data".into(),
            model: "model".into(),
        };
        let svg = attractor_svg(&tr, Some(&tr), &labels, None)?;
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("z vs x"));
        let svg = attractor_svg(&tr, None, &labels, Some("simulation failed"))?;
        assert!(svg.contains("simulation failed"));
        Ok(())
    }
}
