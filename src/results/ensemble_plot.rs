//! The NLL-vs-N figure: the test NLL of the ensemble of the first N
//! orderings (N = 1, 2, 4, …) per run, with its single orderings' NLLs as
//! the spread at N = 1 and their mean as a dashed line.
use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::plots::series_color;
use super::with_temp_file;
use super::EnsembleRow;
use crate::order::render::ensure_font;

type DrawResult = Result<(), Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// `runs`: (label, rows of its `ensemble.csv`); `singles`: (label, test
/// NLL) of the runs trained under one ordering, drawn as dotted lines for
/// reference.
pub fn ensemble_nll(
    runs: &[(String, Vec<EnsembleRow>)],
    singles: &[(String, f64)],
    title: &str,
    path: &Path,
) -> Result<()> {
    ensure_font();
    let (y0, y1, n_max) = bounds(runs, singles);
    let pad = ((y1 - y0) * 0.08).max(0.05);
    let x1 = (n_max as f64).log2().max(1.0);
    let legend_w = 320u32;
    let height = 480u32.max(80 + 20 * (runs.len() + singles.len()) as u32);
    with_temp_file(path, |tmp| {
        let root = BitMapBackend::new(tmp, (760 + legend_w, height)).into_drawing_area();
        let draw = || -> DrawResult {
            root.fill(&WHITE)?;
            let (plot, legend) = root.split_horizontally(760);
            let mut chart = ChartBuilder::on(&plot)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(-0.25f64..x1 + 0.25, (y0 - pad)..(y1 + pad))?;
            chart
                .configure_mesh()
                .x_desc("orderings in the ensemble (N)")
                .x_labels(x1 as usize + 1)
                .x_label_formatter(&|x| format!("{:.0}", 2f64.powf(*x)))
                .y_desc("test NLL (nats / image)")
                .label_style(("sans-serif", 14))
                .draw()?;
            for (i, (name, rows)) in runs.iter().enumerate() {
                draw_run(&mut chart, &legend, (i, runs.len()), name, rows, x1)?;
            }
            for (j, (name, nll)) in singles.iter().enumerate() {
                draw_single(&mut chart, &legend, runs.len() + j, name, *nll, x1)?;
            }
            let y = 60 + 20 * (runs.len() + singles.len()) as i32;
            legend.draw(&Text::new(
                "× single orderings, - - their mean",
                (4, y),
                ("sans-serif", 13),
            ))?;
            root.present()?;
            Ok(())
        };
        draw().map_err(|e| anyhow!("cannot draw `{}`: {e}", path.display()))
    })
}

/// The lowest and highest NLL drawn (0..1 when there is none) and the
/// largest ensemble.
fn bounds(runs: &[(String, Vec<EnsembleRow>)], singles: &[(String, f64)]) -> (f64, f64, usize) {
    let all = runs.iter().flat_map(|(_, r)| r.iter().map(|r| r.nll));
    let (mut y0, mut y1, mut n_max) = (f64::INFINITY, f64::NEG_INFINITY, 1usize);
    for y in all.chain(singles.iter().map(|s| s.1)) {
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    for r in runs.iter().flat_map(|(_, r)| r.iter()) {
        n_max = n_max.max(r.n);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    (y0, y1, n_max)
}

/// Run `i` of `n`: its ensembles as a line over log₂ N, its single
/// orderings as crosses at N = 1 and their mean as a dashed line.
fn draw_run(
    chart: &mut Chart,
    legend: &Area,
    (i, n): (usize, usize),
    name: &str,
    rows: &[EnsembleRow],
    x1: f64,
) -> DrawResult {
    let color = series_color(i);
    let line: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.kind == "ensemble")
        .map(|r| ((r.n as f64).log2(), r.nll))
        .collect();
    let singles: Vec<f64> = rows
        .iter()
        .filter(|r| r.kind == "member")
        .map(|r| r.nll)
        .collect();
    chart.draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?;
    chart.draw_series(line.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    // The single orderings: a spread of hollow marks at N = 1 ...
    let dx = 0.04 * (i as f64 - (n as f64 - 1.0) / 2.0);
    chart.draw_series(
        singles
            .iter()
            .map(|&y| Cross::new((dx, y), 4, color.stroke_width(1))),
    )?;
    // ... and their mean as a dashed line across.
    if !singles.is_empty() {
        let mean = singles.iter().sum::<f64>() / singles.len() as f64;
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, mean), (x1, mean)],
            6,
            4,
            color.stroke_width(1),
        ))?;
    }
    legend_entry(legend, i, name, color.stroke_width(3))
}

/// A run trained under one ordering (series `i`): its test NLL as a dotted
/// line across.
fn draw_single(
    chart: &mut Chart,
    legend: &Area,
    i: usize,
    name: &str,
    nll: f64,
    x1: f64,
) -> DrawResult {
    let color = series_color(i);
    chart.draw_series(DashedLineSeries::new(
        vec![(-0.25, nll), (x1 + 0.25, nll)],
        2,
        5,
        color.stroke_width(2),
    ))?;
    legend_entry(
        legend,
        i,
        &format!("{name} (one ordering)"),
        color.stroke_width(1),
    )
}

/// Line `i` of the legend column: a stroke of `style` and its label.
fn legend_entry(legend: &Area, i: usize, label: &str, style: ShapeStyle) -> DrawResult {
    let y = 50 + 20 * i as i32;
    legend.draw(&PathElement::new(vec![(4, y), (28, y)], style))?;
    legend.draw(&Text::new(label, (36, y - 8), ("sans-serif", 14)))?;
    Ok(())
}
