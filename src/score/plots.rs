//! The plots of `arlab ood`: score histograms and ROC curves, each written
//! as PNG (for the README) and SVG (for papers).
use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use crate::results::chart::{self, series_color, Area, Axes, DrawResult, Style};

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

/// `dir/name.png` and `dir/name.svg`.
fn save_both(
    dir: &Path,
    name: &str,
    png: impl FnOnce(&Area<BitMapBackend<'_>>) -> DrawResult,
    svg: impl FnOnce(&Area<SVGBackend<'_>>) -> DrawResult,
) -> Result<()> {
    let (png_path, svg_path) = (
        dir.join(format!("{name}.png")),
        dir.join(format!("{name}.svg")),
    );
    chart::png_and_svg(&png_path, &svg_path, SIZE, png, svg)
}

/// The sizes of both charts.
const STYLE: Style = Style {
    y_label_area: 60,
    ..chart::FULL
};

fn draw_histogram<DB: DrawingBackend>(
    root: &Area<DB>,
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
    let axes = Axes::new(lo..hi, 0.0..top.max(1e-9), x_desc, "fraction of images");
    let mut chart = chart::axes(root, title, STYLE, &axes)?;
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
    chart::corner_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn draw_roc<DB: DrawingBackend>(
    root: &Area<DB>,
    curves: &[(String, Vec<(f64, f64)>)],
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let axes = Axes::new(
        0.0..1.0,
        0.0..1.0,
        "false-positive rate (in-distribution images flagged)",
        "true-positive rate (out-distribution flagged)",
    );
    let mut chart = chart::axes(root, title, STYLE, &axes)?;
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
    chart::corner_legend(&mut chart, SeriesLabelPosition::LowerRight)
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
