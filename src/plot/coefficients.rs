//! Heat map of the coefficient matrix Ξ: one row per library feature, one column per equation,
//! a diverging colour by signed value, and the value printed in every non-zero cell.

use ndarray::ArrayView2;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{plot_err, FONT};
use crate::error::{Error, Result};
use crate::optimize::ZERO_TOL;
use crate::stats::format_significant;

const CELL_W: i32 = 120;
const CELL_H: i32 = 28;
const HEADER: i32 = 84;
const COLUMN_HEADER: i32 = 30;
const BAR_W: i32 = 22;

/// Negative end of the diverging scale (ColorBrewer RdBu).
const NEG: (f64, f64, f64) = (33.0, 102.0, 172.0);
/// Positive end.
const POS: (f64, f64, f64) = (178.0, 24.0, 43.0);
/// Zero (light grey, so that white text never sits on it).
const MID: (f64, f64, f64) = (247.0, 247.0, 247.0);

/// Draws Ξ as an SVG heat map.
///
/// Colour encodes the signed value with a log-scaled magnitude (`ln(1 + |ξ|/s) / ln(1 +
/// max|ξ|/s)`, `s = max|ξ| / 100`), so that coefficients of 1 and 28 are both visible; the
/// colour bar is labelled in coefficient units. Exact zeros are left blank.
///
/// # Shapes
/// `coef`: `(n_features, n_targets)`; `feature_names`: `n_features`; `target_labels`:
/// `n_targets` (e.g. `x'`, `y'`, `z'`).
///
/// # Errors
/// [`Error::Shape`] if the names do not match `coef`, [`Error::Empty`] for an empty matrix,
/// [`Error::Plot`] if drawing fails.
pub fn coefficients_svg(
    coef: ArrayView2<'_, f64>,
    feature_names: &[String],
    target_labels: &[String],
    title: &str,
) -> Result<String> {
    let (p, d) = coef.dim();
    if p == 0 || d == 0 {
        return Err(Error::Empty {
            what: "coefficient matrix",
            why: "nothing to draw".into(),
        });
    }
    if feature_names.len() != p || target_labels.len() != d {
        return Err(Error::shape(
            "coefficients_svg",
            format!("{p} feature names and {d} target labels"),
            format!("{} and {}", feature_names.len(), target_labels.len()),
        ));
    }
    let name_w = feature_names
        .iter()
        .map(|n| n.chars().count() as i32)
        .max()
        .unwrap_or(1)
        * 9
        + 30;
    let left = name_w.max(80);
    let grid_w = CELL_W * d as i32;
    let grid_h = CELL_H * p as i32;
    let top = HEADER + COLUMN_HEADER;
    let width = (left + grid_w + 40 + BAR_W + 90).max(560);
    let height = top + grid_h + 30;
    let cmax = coef
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, v| a.max(v.abs()));

    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let text = |s: &str, at: (i32, i32), size: f64, h: HPos, color: &RGBColor| {
            root.draw(&Text::new(
                s.to_string(),
                at,
                (FONT, size)
                    .into_font()
                    .color(color)
                    .pos(Pos::new(h, VPos::Center)),
            ))
            .map_err(plot_err)
        };
        root.draw(&Text::new(
            title.to_string(),
            (16, 10),
            (FONT, 22).into_font().style(FontStyle::Bold),
        ))
        .map_err(plot_err)?;
        text(
            "rows: library features, columns: equations; colour: signed value (log-scaled magnitude)",
            (16, 54),
            15.0,
            HPos::Left,
            &RGBColor(90, 90, 90),
        )?;
        for (j, lab) in target_labels.iter().enumerate() {
            let cx = left + CELL_W * j as i32 + CELL_W / 2;
            text(
                lab,
                (cx, HEADER + COLUMN_HEADER / 2),
                18.0,
                HPos::Center,
                &BLACK,
            )?;
        }
        for (i, name) in feature_names.iter().enumerate() {
            let y0 = top + CELL_H * i as i32;
            text(
                name,
                (left - 10, y0 + CELL_H / 2),
                16.0,
                HPos::Right,
                &BLACK,
            )?;
            for j in 0..d {
                let x0 = left + CELL_W * j as i32;
                let v = coef[(i, j)];
                let nonzero = v.abs() > ZERO_TOL && v.is_finite();
                let (fill, strength) = if nonzero {
                    diverging(v, cmax)
                } else {
                    (RGBColor(255, 255, 255), 0.0)
                };
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + CELL_W, y0 + CELL_H)],
                    fill.filled(),
                ))
                .map_err(plot_err)?;
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + CELL_W, y0 + CELL_H)],
                    RGBColor(215, 215, 215).stroke_width(1),
                ))
                .map_err(plot_err)?;
                if nonzero {
                    let color = if strength > 0.55 { WHITE } else { BLACK };
                    text(
                        &format_significant(v, 4),
                        (x0 + CELL_W / 2, y0 + CELL_H / 2),
                        16.0,
                        HPos::Center,
                        &color,
                    )?;
                }
            }
        }
        root.draw(&Rectangle::new(
            [(left, top), (left + grid_w, top + grid_h)],
            RGBColor(120, 120, 120).stroke_width(1),
        ))
        .map_err(plot_err)?;
        color_bar(&root, left + grid_w + 40, top, grid_h.min(320), cmax)?;
        root.present().map_err(plot_err)?;
    }
    Ok(super::xml_safe(svg))
}

/// Colour of `v` on the diverging scale and its strength in `[0, 1]`.
fn diverging(v: f64, cmax: f64) -> (RGBColor, f64) {
    let s = strength(v.abs(), cmax);
    let end = if v < 0.0 { NEG } else { POS };
    let mix = |a: f64, b: f64| (a + (b - a) * s).round().clamp(0.0, 255.0) as u8;
    (
        RGBColor(mix(MID.0, end.0), mix(MID.1, end.1), mix(MID.2, end.2)),
        s,
    )
}

/// Log-scaled magnitude in `[0, 1]`.
fn strength(a: f64, cmax: f64) -> f64 {
    if cmax <= 0.0 {
        return 0.0;
    }
    let s = cmax / 100.0;
    ((1.0 + a / s).ln() / (1.0 + cmax / s).ln()).clamp(0.0, 1.0)
}

/// Vertical colour bar from `+cmax` (top) to `-cmax` (bottom) with labelled ticks.
fn color_bar(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    x: i32,
    top: i32,
    h: i32,
    cmax: f64,
) -> Result<()> {
    if cmax <= 0.0 || h < 40 {
        return Ok(());
    }
    let half = h / 2;
    let steps = 60;
    for k in 0..steps {
        let y0 = top + h * k / steps;
        let y1 = top + h * (k + 1) / steps;
        // Signed strength from +1 (top) to -1 (bottom) at the band's centre.
        let u = 1.0 - 2.0 * (k as f64 + 0.5) / steps as f64;
        let v = inverse_strength(u.abs(), cmax) * u.signum();
        root.draw(&Rectangle::new(
            [(x, y0), (x + BAR_W, y1)],
            diverging(v, cmax).0.filled(),
        ))
        .map_err(plot_err)?;
    }
    root.draw(&Rectangle::new(
        [(x, top), (x + BAR_W, top + h)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))
    .map_err(plot_err)?;
    // Ticks: 0, ±max, and ±powers of ten far enough from both.
    let mut ticks = vec![0.0, cmax, -cmax];
    let mut p = 10f64.powf((cmax / 30.0).log10().ceil());
    while p < cmax * 0.6 {
        ticks.push(p);
        ticks.push(-p);
        p *= 10.0;
    }
    for v in ticks {
        let u = strength(v.abs(), cmax) * v.signum();
        let y = top + half - (u * f64::from(half)).round() as i32;
        root.draw(&PathElement::new(
            vec![(x + BAR_W, y), (x + BAR_W + 5, y)],
            BLACK.stroke_width(1),
        ))
        .map_err(plot_err)?;
        root.draw(&Text::new(
            format_significant(v, 3),
            (x + BAR_W + 8, y),
            (FONT, 14.0)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(plot_err)?;
    }
    Ok(())
}

/// Magnitude whose strength is `s` (inverse of [`strength`]).
fn inverse_strength(s: f64, cmax: f64) -> f64 {
    let sc = cmax / 100.0;
    sc * ((1.0 + cmax / sc).ln() * s).exp_m1()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn strength_roundtrips_and_heat_map_draws() -> Result<()> {
        for a in [0.0, 0.5, 1.0, 10.0, 28.0] {
            assert!((inverse_strength(strength(a, 28.0), 28.0) - a).abs() < 1e-9);
        }
        let coef = array![[-10.0, 28.0], [10.0, 0.0]];
        let names = vec!["x".to_string(), "y".to_string()];
        let labels = vec!["x'".to_string(), "y'".to_string()];
        let svg = coefficients_svg(coef.view(), &names, &labels, "Xi")?;
        let has = |t: &str| svg.lines().any(|l| l.trim() == t);
        assert!(has("28") && has("-10"));
        Ok(())
    }
}
