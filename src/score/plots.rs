//! The plots of `arlab ood`: score histograms and ROC curves, each written
//! as PNG (for the README) and SVG (for papers).
use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::order::render::ensure_font;
use crate::results::plots::series_color;
use crate::results::with_temp_file;

type DrawResult = Result<(), Box<dyn std::error::Error>>;

const SIZE: (u32, u32) = (820, 520);
const BINS: usize = 40;

/// Overlaid histograms of one score, one per image set (in-distribution
/// first), each normalised to the fraction of its own images so that sets
/// of different sizes compare; written to `dir/name.png` and `dir/name.svg`.
pub fn histogram(
    sets: &[(String, Vec<f64>)],
    title: &str,
    x_desc: &str,
    dir: &Path,
    name: &str,
) -> Result<()> {
    save_both(
        dir,
        name,
        |area| draw_histogram(area, sets, title, x_desc),
        |area| draw_histogram(area, sets, title, x_desc),
    )
}

/// ROC curves, (FPR, TPR) points, one per labelled curve, with the chance
/// diagonal; written to `dir/name.png` and `dir/name.svg`.
pub fn roc(
    curves: &[(String, Vec<(f64, f64)>)],
    title: &str,
    dir: &Path,
    name: &str,
) -> Result<()> {
    save_both(
        dir,
        name,
        |area| draw_roc(area, curves, title),
        |area| draw_roc(area, curves, title),
    )
}

/// Draws the same picture once per backend (plotters backends are distinct
/// types, hence one closure each).
fn save_both(
    dir: &Path,
    name: &str,
    png: impl FnOnce(DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
    svg: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> Result<()> {
    ensure_font();
    let png_path = dir.join(format!("{name}.png"));
    with_temp_file(&png_path, |tmp| {
        png(BitMapBackend::new(tmp, SIZE).into_drawing_area())
            .map_err(|e| anyhow!("cannot draw `{}`: {e}", png_path.display()))
    })?;
    let svg_path = dir.join(format!("{name}.svg"));
    with_temp_file(&svg_path, |tmp| {
        svg(SVGBackend::new(tmp, SIZE).into_drawing_area())
            .map_err(|e| anyhow!("cannot draw `{}`: {e}", svg_path.display()))
    })
}

fn draw_histogram<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    sets: &[(String, Vec<f64>)],
    title: &str,
    x_desc: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (lo, hi) = range(sets.iter().flat_map(|(_, v)| v.iter().copied()));
    let width = (hi - lo) / BINS as f64;
    let hists: Vec<Vec<f64>> = sets.iter().map(|(_, v)| fractions(v, lo, width)).collect();
    let top = hists.iter().flatten().fold(0.0f64, |a, &b| a.max(b)) * 1.1;
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, 0.0..top.max(1e-9))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("fraction of images")
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, ((label, _), h)) in sets.iter().zip(&hists).enumerate() {
        let colour = series_color(i);
        let bars = h.iter().enumerate().map(|(b, &f)| {
            let x0 = lo + b as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, f)], colour.mix(0.3).filled())
        });
        chart.draw_series(bars)?;
        // The outline keeps overlapping sets readable where fills mix.
        chart
            .draw_series(LineSeries::new(
                outline(h, lo, width),
                colour.stroke_width(2),
            ))?
            .label(label.as_str())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.mix(0.6).filled())
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}

fn draw_roc<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    curves: &[(String, Vec<(f64, f64)>)],
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0f64..1.0, 0.0f64..1.0)?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate (in-distribution images flagged)")
        .y_desc("true-positive rate (out-distribution flagged)")
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 14))
        .draw()?;
    chart.draw_series(LineSeries::new(
        vec![(0.0, 0.0), (1.0, 1.0)],
        BLACK.mix(0.3).stroke_width(1),
    ))?;
    for (i, (label, points)) in curves.iter().enumerate() {
        // Colour 0 is the in-distribution's in the histograms: out-set k keeps
        // its histogram colour k + 1 here.
        let colour = series_color(i + 1);
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The legend of the labelled series, in a corner.
fn legend<'a, DB: DrawingBackend + 'a>(
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

/// The finite range of the values, widened when it is a single point.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// The fraction of `values` in each of the BINS bins from `lo`.
fn fractions(values: &[f64], lo: f64, width: f64) -> Vec<f64> {
    let mut counts = vec![0.0; BINS];
    for v in values.iter().filter(|v| v.is_finite()) {
        let b = (((v - lo) / width).floor().max(0.0) as usize).min(BINS - 1);
        counts[b] += 1.0;
    }
    let n = values.len().max(1) as f64;
    counts.iter().map(|c| c / n).collect()
}

/// The step outline of a histogram.
fn outline(h: &[f64], lo: f64, width: f64) -> Vec<(f64, f64)> {
    let mut points = vec![(lo, 0.0)];
    for (b, &f) in h.iter().enumerate() {
        let x0 = lo + b as f64 * width;
        points.extend([(x0, f), (x0 + width, f)]);
    }
    points.push((lo + h.len() as f64 * width, 0.0));
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_sum_to_one_and_keep_the_maximum() {
        let f = fractions(&[0.0, 1.0, 2.0, 10.0], 0.0, 10.0 / BINS as f64);
        assert!((f.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(f[BINS - 1], 0.25);
    }

    #[test]
    fn a_single_value_gets_a_range() {
        assert_eq!(range([3.0, 3.0].into_iter()), (2.5, 3.5));
    }
}
