//! Figures readable at any sweep size, each written as PNG and as SVG
//! beside it: small multiples (one panel per model and swept values) of
//! validation NLL curves, and the test NLL per ordering with the spread over
//! seeds. Colour = ordering, the same in every figure of an experiment.
use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::chart::{self, series_color, Area, Axes, DrawResult, Style};

/// One panel: a title and its lines or points, each tagged by ordering.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    pub title: String,
    /// (ordering, points): a curve per run, or the test NLL of every seed.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// The colour of each ordering: its place in `orderings`.
#[derive(Clone, Debug)]
pub struct Colours {
    pub orderings: Vec<String>,
}

impl Colours {
    pub fn of(&self, ordering: &str) -> RGBColor {
        let i = self
            .orderings
            .iter()
            .position(|o| o == ordering)
            .unwrap_or(self.orderings.len());
        series_color(i)
    }
}

/// Which chart a panel holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// x = epoch, one line per series.
    Curves,
    /// x = ordering (its index in the colours), one dot per seed, a bar at the mean.
    Spread,
}

const PANEL: (u32, u32) = (420, 300);
const LEGEND_H: u32 = 40;

/// Draws `panels` in a grid (up to 3 per row) with the ordering legend on
/// top into `png` and the same figure as `png` with extension `.svg`.
pub fn small_multiples(
    panels: &[Panel],
    colours: &Colours,
    kind: Kind,
    title: &str,
    png: &Path,
) -> Result<()> {
    let cols = panels.len().clamp(1, 3);
    let rows = panels.len().div_ceil(cols).max(1);
    let size = (PANEL.0 * cols as u32, LEGEND_H + 30 + PANEL.1 * rows as u32);
    chart::png_and_svg(
        png,
        &png.with_extension("svg"),
        size,
        |root| draw(root, panels, colours, kind, title, cols),
        |root| draw(root, panels, colours, kind, title, cols),
    )
}

fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    panels: &[Panel],
    colours: &Colours,
    kind: Kind,
    title: &str,
    cols: usize,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (head, body) = root.split_vertically(LEGEND_H + 30);
    head.draw(&Text::new(title.to_string(), (10, 6), ("sans-serif", 18)))?;
    let mut x = 10;
    for o in &colours.orderings {
        let c = colours.of(o);
        head.draw(&PathElement::new(
            vec![(x, 48), (x + 22, 48)],
            c.stroke_width(3),
        ))?;
        head.draw(&Text::new(o.clone(), (x + 27, 41), ("sans-serif", 13)))?;
        x += 40 + 8 * o.chars().count() as i32;
    }
    let rows = panels.len().div_ceil(cols).max(1);
    let areas = body.split_evenly((rows, cols));
    for (panel, area) in panels.iter().zip(areas.iter()) {
        draw_panel(area, panel, colours, kind)
            .map_err(|err| format!("panel {}: {err}", panel.title))?;
    }
    Ok(())
}

fn bounds(panel: &Panel, kind: Kind, n_orderings: usize) -> (f64, f64, f64, f64) {
    let (x1, y0, y1) = chart::extent(panel.series.iter().flat_map(|(_, p)| p.iter()));
    let pad = ((y1 - y0) * 0.08).max(1e-3);
    match kind {
        Kind::Curves => (1.0, x1.max(2.0), y0 - pad, y1 + pad),
        Kind::Spread => (-0.5, n_orderings.max(1) as f64 - 0.5, y0 - pad, y1 + pad),
    }
}

/// The sizes of a panel's chart.
const PANEL_STYLE: Style = Style {
    caption: 14,
    margin: 8,
    x_label_area: 32,
    y_label_area: 56,
    labels: 11,
};

fn draw_panel<DB: DrawingBackend>(
    area: &Area<DB>,
    panel: &Panel,
    colours: &Colours,
    kind: Kind,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (x0, x1, y0, y1) = bounds(panel, kind, colours.orderings.len());
    let names = &colours.orderings;
    let label = |x: &f64| match kind {
        Kind::Curves => format!("{x:.0}"),
        Kind::Spread => names
            .get(x.round().max(0.0) as usize)
            .cloned()
            .unwrap_or_default(),
    };
    let x_desc = if kind == Kind::Curves { "epoch" } else { "" };
    let axes = Axes {
        x_labels: Some(match kind {
            Kind::Curves => (x1 as usize).clamp(2, 8),
            Kind::Spread => colours.orderings.len().max(1),
        }),
        x_format: Some(&label),
        ..Axes::new(x0..x1, y0..y1, x_desc, "NLL (nats)")
    };
    let mut chart = chart::axes(area, &panel.title, PANEL_STYLE, &axes)?;
    for (ordering, pts) in &panel.series {
        let c = colours.of(ordering);
        let pts: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
        match kind {
            Kind::Curves => chart::line(&mut chart, &pts, c, 0)?,
            Kind::Spread => {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
                if !pts.is_empty() {
                    let mean = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
                    let x = pts[0].0;
                    chart::line(&mut chart, &[(x - 0.25, mean), (x + 0.25, mean)], c, 0)?;
                }
            }
        }
    }
    Ok(())
}
