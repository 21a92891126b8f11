//! The regulatory network read out by [`crate::rules`]: genes on a circle, edges as arrows.

use std::collections::{BTreeMap, BTreeSet};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{plot_err, FONT};
use crate::error::{Error, Result};
use crate::rules::{ScoredEdge, TruthNetwork};

const SIZE: i32 = 760;
const NODE_R: f64 = 22.0;
const ACTIVATION: RGBColor = RGBColor(178, 24, 43);
const REPRESSION: RGBColor = RGBColor(33, 102, 172);
const FALSE_POSITIVE: RGBColor = RGBColor(230, 140, 20);
const MISSED: RGBColor = RGBColor(190, 190, 190);

/// Draws the predicted edges scoring at least `min_score` (self-loops left out) as arrows
/// between genes placed on a circle: red for activation, blue for repression, line width
/// growing with the score. With a `truth`, a predicted edge that is not true is drawn orange and
/// a true edge that was not predicted light grey, so errors are visible at a glance.
///
/// # Errors
/// [`Error::Empty`] if there are no genes to draw; [`Error::Plot`] if drawing fails.
pub fn network_svg(
    edges: &[ScoredEdge],
    truth: Option<&TruthNetwork>,
    min_score: f64,
    title: &str,
) -> Result<String> {
    let mut all: BTreeSet<&str> = BTreeSet::new();
    for e in edges {
        all.insert(&e.regulator);
        all.insert(&e.target);
    }
    if all.is_empty() {
        return Err(Error::Empty {
            what: "edge list",
            why: "no genes to draw".into(),
        });
    }
    let drawn = |e: &&ScoredEdge| e.regulator != e.target && e.score >= min_score && e.score > 0.0;
    // Only genes with a drawn or a true edge get a node: a distillation scores every pair of a
    // 78-gene vocabulary, most at 0, and 78 nodes on one circle hide the few edges that matter.
    let mut genes: BTreeSet<&str> = BTreeSet::new();
    for e in edges.iter().filter(drawn) {
        genes.insert(&e.regulator);
        genes.insert(&e.target);
    }
    if let Some(t) = truth {
        for e in t.edges.iter().filter(|e| e.regulator != e.target) {
            genes.insert(&e.regulator);
            genes.insert(&e.target);
        }
    }
    if genes.is_empty() {
        genes = all;
    }
    let n = genes.len();
    let (cx, cy) = (SIZE as f64 / 2.0, SIZE as f64 / 2.0 + 20.0);
    let radius = SIZE as f64 / 2.0 - 120.0;
    let pos: BTreeMap<&str, (f64, f64)> = genes
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let a = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
            (*g, (cx + radius * a.cos(), cy + radius * a.sin()))
        })
        .collect();
    let true_set: BTreeSet<(&str, &str)> = truth
        .map(|t| {
            t.edges
                .iter()
                .map(|e| (e.regulator.as_str(), e.target.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let shown: Vec<&ScoredEdge> = edges.iter().filter(drawn).collect();
    let shown_set: BTreeSet<(&str, &str)> = shown
        .iter()
        .map(|e| (e.regulator.as_str(), e.target.as_str()))
        .collect();

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE as u32, (SIZE + 40) as u32))
            .into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        root.draw(&Text::new(
            title.to_string(),
            (16, 10),
            (FONT, 22).into_font().style(FontStyle::Bold),
        ))
        .map_err(plot_err)?;
        let legend = if truth.is_some() {
            "red: activation, blue: repression, orange: not in the truth, grey: true edge missed; width: score"
        } else {
            "red: activation, blue: repression; width: score"
        };
        root.draw(&Text::new(
            legend.to_string(),
            (16, 40),
            (FONT, 14).into_font().color(&RGBColor(90, 90, 90)),
        ))
        .map_err(plot_err)?;
        let arrow = |from: (f64, f64), to: (f64, f64), color: RGBColor, width: u32| {
            let (dx, dy) = (to.0 - from.0, to.1 - from.1);
            let len = (dx * dx + dy * dy).sqrt().max(1e-9);
            let (ux, uy) = (dx / len, dy / len);
            let start = (from.0 + ux * NODE_R, from.1 + uy * NODE_R);
            let tip = (to.0 - ux * NODE_R, to.1 - uy * NODE_R);
            let back = (tip.0 - ux * 12.0, tip.1 - uy * 12.0);
            let (px, py) = (-uy * 6.0, ux * 6.0);
            let pt = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
            root.draw(&PathElement::new(
                vec![pt(start), pt(back)],
                color.stroke_width(width),
            ))
            .map_err(plot_err)?;
            root.draw(&Polygon::new(
                vec![
                    pt(tip),
                    pt((back.0 + px, back.1 + py)),
                    pt((back.0 - px, back.1 - py)),
                ],
                color.filled(),
            ))
            .map_err(plot_err)
        };
        for (r, t) in &true_set {
            if shown_set.contains(&(*r, *t)) || r == t {
                continue;
            }
            if let (Some(&a), Some(&b)) = (pos.get(r), pos.get(t)) {
                arrow(a, b, MISSED, 1)?;
            }
        }
        for e in &shown {
            let (Some(&a), Some(&b)) = (pos.get(e.regulator.as_str()), pos.get(e.target.as_str()))
            else {
                continue;
            };
            let known = true_set.contains(&(e.regulator.as_str(), e.target.as_str()));
            let color = if truth.is_some() && !known {
                FALSE_POSITIVE
            } else if e.sign < 0 {
                REPRESSION
            } else {
                ACTIVATION
            };
            let width = 1 + (3.0 * e.score.clamp(0.0, 1.0)).round() as u32;
            arrow(a, b, color, width)?;
        }
        for (g, &(x, y)) in &pos {
            let c = (x.round() as i32, y.round() as i32);
            root.draw(&Circle::new(
                c,
                NODE_R as i32,
                RGBColor(245, 245, 245).filled(),
            ))
            .map_err(plot_err)?;
            root.draw(&Circle::new(c, NODE_R as i32, BLACK.stroke_width(1)))
                .map_err(plot_err)?;
            let (dx, dy) = (x - cx, y - cy);
            let d = (dx * dx + dy * dy).sqrt().max(1e-9);
            let lx = x + dx / d * (NODE_R + 8.0);
            let ly = y + dy / d * (NODE_R + 8.0);
            let h = if dx.abs() < 1.0 {
                HPos::Center
            } else if dx > 0.0 {
                HPos::Left
            } else {
                HPos::Right
            };
            root.draw(&Text::new(
                g.to_string(),
                (lx.round() as i32, ly.round() as i32),
                (FONT, 15)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(h, VPos::Center)),
            ))
            .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(super::xml_safe(svg))
}
