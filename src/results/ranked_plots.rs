//! The rankings of results::paired as figures, PNG and SVG beside it, one
//! panel per model: `nll_intervals` (test NLL per ordering with its 95%
//! interval) and `forest` (Δ vs the baseline with its 95% interval, a line
//! at 0). Side by side they show why pairing matters: the NLL intervals
//! overlap where the paired Δ is established.
use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::chart::{self, series_color, Area, DrawResult};
use super::paired::Ranking;

/// Which figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// Test NLL per ordering with its interval.
    NllIntervals,
    /// ΔNLL vs the baseline with its interval.
    Forest,
}

/// One row of a panel: label, point and interval on the x axis.
struct Row {
    label: String,
    x: f64,
    lo: f64,
    hi: f64,
    established: bool,
}

fn rows(r: &Ranking, figure: Figure) -> Vec<Row> {
    r.rows
        .iter()
        .map(|row| {
            let (x, lo, hi, established) = match figure {
                Figure::NllIntervals => match row.nll_interval {
                    Some(i) => (row.nll, i.lo, i.hi, false),
                    None => (row.nll, row.nll, row.nll, false),
                },
                Figure::Forest => match &row.delta {
                    Some(d) => (
                        d.interval.mean,
                        d.interval.lo,
                        d.interval.hi,
                        d.interval.excludes_zero(),
                    ),
                    None => (0.0, 0.0, 0.0, false),
                },
            };
            Row {
                label: row.ordering.clone(),
                x,
                lo,
                hi,
                established,
            }
        })
        .collect()
}

const PANEL_W: u32 = 520;
const ROW_H: u32 = 26;

/// Draws `figure` for `rankings` into `png` and the `.svg` beside it.
pub fn draw(rankings: &[Ranking], figure: Figure, title: &str, png: &Path) -> Result<()> {
    let heights: Vec<u32> = rankings
        .iter()
        .map(|r| 70 + ROW_H * r.rows.len() as u32)
        .collect();
    let size = (PANEL_W, 40 + heights.iter().sum::<u32>());
    chart::png_and_svg(
        png,
        &png.with_extension("svg"),
        size,
        |root| panels(root, rankings, &heights, figure, title),
        |root| panels(root, rankings, &heights, figure, title),
    )
}

fn panels<DB: DrawingBackend>(
    root: &Area<DB>,
    rankings: &[Ranking],
    heights: &[u32],
    figure: Figure,
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut rest = root.titled(title, ("sans-serif", 16))?;
    for (r, &h) in rankings.iter().zip(heights) {
        let (top, bottom) = rest.split_vertically(h);
        panel(&top, r, figure)?;
        rest = bottom;
    }
    Ok(())
}

fn panel<DB: DrawingBackend>(area: &Area<DB>, r: &Ranking, figure: Figure) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let rows = rows(r, figure);
    let lo = rows.iter().map(|w| w.lo).fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|w| w.hi).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if figure == Figure::Forest {
        (lo.min(0.0), hi.max(0.0))
    } else {
        (lo, hi)
    };
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let n = rows.len() as f64;
    let caption = match figure {
        Figure::NllIntervals => format!("{}: test NLL (nats), 95% CI", r.model),
        Figure::Forest => format!(
            "{}: ΔNLL vs {} (nats), 95% CI; orange: excludes 0",
            r.model, r.baseline
        ),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 13))
        .margin(8)
        .x_label_area_size(24)
        .y_label_area_size(150)
        .build_cartesian_2d((lo - pad)..(hi + pad), -0.5..(n - 0.5))?;
    let labels: Vec<String> = rows.iter().map(|w| w.label.clone()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len())
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[labels.len() - 1 - i as usize].clone()
            } else {
                String::new()
            }
        })
        .draw()?;
    if figure == Figure::Forest {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, -0.5), (0.0, n - 0.5)],
            BLACK.mix(0.5),
        )))?;
    }
    for (i, w) in rows.iter().enumerate() {
        let y = n - 1.0 - i as f64;
        let colour = if w.established {
            series_color(1)
        } else {
            series_color(0)
        };
        let line = PathElement::new(vec![(w.lo, y), (w.hi, y)], colour.stroke_width(2));
        let ends = [w.lo, w.hi]
            .map(|x| PathElement::new(vec![(x, y - 0.15), (x, y + 0.15)], colour.stroke_width(2)));
        chart.draw_series(std::iter::once(line).chain(ends))?;
        chart.draw_series(std::iter::once(Circle::new((w.x, y), 4, colour.filled())))?;
    }
    Ok(())
}
