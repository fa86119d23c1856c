//! What the line charts share: one picture written as PNG (and as SVG), the
//! axes with their mesh, the series colours, lines with dots, and the two
//! kinds of legend (a column beside the plot, or a box in a corner).
use std::ops::Range;
use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::with_temp_file;
use crate::order::render::ensure_font;

pub type DrawResult = Result<(), Box<dyn std::error::Error>>;
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
pub type Area<DB> = DrawingArea<DB, Shift>;

/// Writes the picture `draw` makes on a white `size` canvas to `path` (PNG).
pub fn png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<BitMapBackend<'_>>) -> DrawResult,
) -> Result<()> {
    ensure_font();
    with_temp_file(path, |tmp| {
        let root = BitMapBackend::new(tmp, size).into_drawing_area();
        paint(&root, draw).map_err(|e| anyhow!("cannot draw `{}`: {e}", path.display()))
    })
}

/// The same picture as PNG at `png_path` and as SVG at `svg_path`
/// (plotters backends are distinct types, hence one closure each).
pub fn png_and_svg(
    png_path: &Path,
    svg_path: &Path,
    size: (u32, u32),
    png: impl FnOnce(&Area<BitMapBackend<'_>>) -> DrawResult,
    svg: impl FnOnce(&Area<SVGBackend<'_>>) -> DrawResult,
) -> Result<()> {
    self::png(png_path, size, png)?;
    with_temp_file(svg_path, |tmp| {
        let root = SVGBackend::new(tmp, size).into_drawing_area();
        paint(&root, svg).map_err(|e| anyhow!("cannot draw `{}`: {e}", svg_path.display()))
    })
}

/// White, the picture, then out to the backend.
fn paint<DB: DrawingBackend>(
    root: &Area<DB>,
    draw: impl FnOnce(&Area<DB>) -> DrawResult,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    draw(root)?;
    root.present()?;
    Ok(())
}

/// Sizes of a chart: caption, margin, label areas and tick labels.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub caption: u32,
    pub margin: u32,
    pub x_label_area: u32,
    pub y_label_area: u32,
    pub labels: u32,
}

/// A chart that fills its picture.
pub const FULL: Style = Style {
    caption: 20,
    margin: 12,
    x_label_area: 40,
    y_label_area: 70,
    labels: 14,
};

/// The axes of a chart.
pub struct Axes<'a> {
    pub x: Range<f64>,
    pub y: Range<f64>,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    /// How many x labels (plotters' default: None).
    pub x_labels: Option<usize>,
    /// How an x label reads (plotters' default: None).
    pub x_format: Option<&'a dyn Fn(&f64) -> String>,
    /// The light grid lines between labels (plotters draws them by default).
    pub fine_grid: bool,
}

impl<'a> Axes<'a> {
    /// `x` × `y` with these descriptions, plotters' ticks and no fine grid.
    pub fn new(x: Range<f64>, y: Range<f64>, x_desc: &'a str, y_desc: &'a str) -> Axes<'a> {
        Axes {
            x,
            y,
            x_desc,
            y_desc,
            x_labels: None,
            x_format: None,
            fine_grid: false,
        }
    }
}

/// A titled chart on `area` with its axes and mesh drawn.
pub fn axes<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    title: &str,
    style: Style,
    axes: &Axes,
) -> Result<Chart<'a, DB>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", style.caption))
        .margin(style.margin)
        .x_label_area_size(style.x_label_area)
        .y_label_area_size(style.y_label_area)
        .build_cartesian_2d(axes.x.clone(), axes.y.clone())?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .label_style(("sans-serif", style.labels));
    if let Some(n) = axes.x_labels {
        mesh.x_labels(n);
    }
    if let Some(format) = axes.x_format {
        mesh.x_label_formatter(format);
    }
    if !axes.fine_grid {
        mesh.light_line_style(WHITE.mix(0.0));
    }
    mesh.draw()?;
    Ok(chart)
}

/// The largest x (at least 1) and the finite y range (0..1 when there is
/// none) of `points`.
pub fn extent<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> (f64, f64, f64) {
    let (mut x1, mut y0, mut y1) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points.filter(|p| p.1.is_finite()) {
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    (x1, y0, y1)
}

/// A line of width 2 through `points`, with a dot of radius `dot` at each
/// (none when 0).
pub fn line<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    points: &[(f64, f64)],
    color: RGBColor,
    dot: u32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart.draw_series(LineSeries::new(points.to_vec(), color.stroke_width(2)))?;
    if dot > 0 {
        chart.draw_series(points.iter().map(|&p| Circle::new(p, dot, color.filled())))?;
    }
    Ok(())
}

/// Line `i` of a legend column beside the plot: a stroke and its label.
pub fn legend_entry<DB: DrawingBackend>(
    legend: &Area<DB>,
    i: usize,
    label: &str,
    stroke: ShapeStyle,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let y = 50 + 20 * i as i32;
    legend.draw(&PathElement::new(vec![(4, y), (28, y)], stroke))?;
    legend.draw(&Text::new(label, (36, y - 8), ("sans-serif", 14)))?;
    Ok(())
}

/// The legend of the labelled series, in a box in a corner of the chart.
pub fn corner_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// Distinct, print-friendly line colours (Tableau 10, then darker shades).
pub fn series_color(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[i % 10];
    let shade = |c: u8| (c as u32 * 10 / (10 + 4 * (i / 10) as u32)) as u8;
    RGBColor(shade(r), shade(g), shade(b))
}
