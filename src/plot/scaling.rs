//! Transfer-scaling figure: evaluation loss against target cells (scratch curves, fine-tuned
//! points) and the effective data transferred `D_t` against `D_f` with the fitted law, one
//! colour per model size.

use plotters::prelude::*;

use super::{plot_err, FONT};
use crate::error::{Error, Result};
use crate::scaling::{Measurement, RunKind, RunRecord, TransferFit};

const SIZE_COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    (lo.is_finite() && hi.is_finite()).then(|| (lo / 1.5, hi * 1.5))
}

/// Two panels side by side (SVG string) of an experiment's `runs`, the parameter counts of
/// its model sizes (`(total, without the gene embeddings)`, indexed by [`RunRecord::size`]),
/// its `measurements` and the law `fit` to them.
///
/// # Errors
/// [`Error::Empty`] for an experiment without runs, [`Error::Plot`] if drawing fails.
pub fn scaling_svg(
    runs: &[RunRecord],
    n_params: &[(usize, usize)],
    measurements: &[Measurement],
    fit: Option<&TransferFit>,
) -> Result<String> {
    let target: Vec<_> = runs
        .iter()
        .filter(|x| x.kind != RunKind::Pretrain)
        .collect();
    let Some((d_lo, d_hi)) = log_range(target.iter().map(|x| x.d as f64)) else {
        return Err(Error::Empty {
            what: "scaling experiment",
            why: "no scratch or fine-tune run to draw".into(),
        });
    };
    let (l_lo, l_hi) = target
        .iter()
        .map(|x| x.loss)
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let pad = ((l_hi - l_lo) * 0.1).max(1e-3);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (left, right) = root.split_horizontally(600);
        let mut chart = ChartBuilder::on(&left)
            .caption("evaluation loss vs target cells", (FONT, 18))
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((d_lo..d_hi).log_scale(), (l_lo - pad)..(l_hi + pad))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("cells D (scratch) or D_f (fine-tuned)")
            .y_desc("masked-gene loss")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_err)?;
        for (s, (n, _)) in n_params.iter().enumerate() {
            let color = SIZE_COLORS[s % SIZE_COLORS.len()];
            let pts = |kind: RunKind| -> Vec<(f64, f64)> {
                target
                    .iter()
                    .filter(|x| x.size == s && x.kind == kind)
                    .map(|x| (x.d as f64, x.loss))
                    .collect()
            };
            let scratch = pts(RunKind::Scratch);
            chart
                .draw_series(LineSeries::new(scratch.clone(), color.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("N = {n}: scratch (line), fine-tuned (triangles)"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(scratch.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(plot_err)?;
            chart
                .draw_series(
                    pts(RunKind::Finetune)
                        .into_iter()
                        .map(|p| TriangleMarker::new(p, 6, color.filled())),
                )
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 11))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(plot_err)?;

        let fitted: Vec<_> = measurements.iter().filter(|m| m.fitted()).collect();
        let (f_lo, f_hi) = log_range(measurements.iter().map(|m| m.d_f)).unwrap_or((1.0, 10.0));
        let (t_lo, t_hi) = log_range(fitted.iter().map(|m| m.d_t)).unwrap_or((1.0, 10.0));
        let mut chart = ChartBuilder::on(&right)
            .caption(
                match fit {
                    Some(f) => format!(
                        "D_t vs D_f: α = {:.2}, β = {:.2}, R² = {:.2}",
                        f.law.alpha, f.law.beta, f.r2
                    ),
                    None => "D_t vs D_f (no fit)".to_string(),
                },
                (FONT, 18),
            )
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((f_lo..f_hi).log_scale(), (t_lo..t_hi).log_scale())
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("fine-tuning cells D_f")
            .y_desc("effective data transferred D_t")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(plot_err)?;
        for (s, (n, _)) in n_params.iter().enumerate() {
            let color = SIZE_COLORS[s % SIZE_COLORS.len()];
            let n = *n as f64;
            chart
                .draw_series(
                    fitted
                        .iter()
                        .filter(|m| m.n == n)
                        .map(|m| Circle::new((m.d_f, m.d_t), 4, color.filled())),
                )
                .map_err(plot_err)?;
            if let Some(f) = fit {
                let line: Vec<(f64, f64)> = (0..=20)
                    .map(|i| {
                        let d_f = f_lo * (f_hi / f_lo).powf(i as f64 / 20.0);
                        (d_f, f.law.k * d_f.powf(f.law.alpha) * n.powf(f.law.beta))
                    })
                    .filter(|&(_, t)| t >= t_lo && t <= t_hi)
                    .collect();
                chart
                    .draw_series(LineSeries::new(line, color.stroke_width(1)))
                    .map_err(plot_err)?;
            }
        }
    }
    Ok(super::xml_safe(svg))
}
