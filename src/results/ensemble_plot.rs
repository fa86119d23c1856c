//! The NLL-vs-N figure: the test NLL of the ensemble of the first N
//! orderings (N = 1, 2, 4, …) per run, with its single orderings' NLLs as
//! the spread at N = 1 and their mean as a dashed line.
use std::path::Path;

use anyhow::Result;
use plotters::prelude::*;

use super::chart::{self, series_color, Area, Axes, Chart, DrawResult};
use super::EnsembleRow;

/// `runs`: (label, rows of its `ensemble.csv`); `singles`: (label, test
/// NLL) of the runs trained under one ordering, drawn as dotted lines for
/// reference.
pub fn ensemble_nll(
    runs: &[(String, Vec<EnsembleRow>)],
    singles: &[(String, f64)],
    title: &str,
    path: &Path,
) -> Result<()> {
    let (y0, y1, n_max) = bounds(runs, singles);
    let pad = ((y1 - y0) * 0.08).max(0.05);
    let x1 = (n_max as f64).log2().max(1.0);
    let x_format = |x: &f64| format!("{:.0}", 2f64.powf(*x));
    let axes = Axes {
        x_labels: Some(x1 as usize + 1),
        x_format: Some(&x_format),
        fine_grid: true,
        ..Axes::new(
            -0.25f64..x1 + 0.25,
            (y0 - pad)..(y1 + pad),
            "orderings in the ensemble (N)",
            "test NLL (nats / image)",
        )
    };
    let legend_w = 320u32;
    let height = 480u32.max(80 + 20 * (runs.len() + singles.len()) as u32);
    chart::png(path, (760 + legend_w, height), |root| {
        let (plot, legend) = root.split_horizontally(760);
        let mut chart = chart::axes(&plot, title, chart::FULL, &axes)?;
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
        Ok(())
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

type Png<'a> = BitMapBackend<'a>;

/// Run `i` of `n`: its ensembles as a line over log₂ N, its single
/// orderings as crosses at N = 1 and their mean as a dashed line.
fn draw_run(
    chart: &mut Chart<'_, Png<'_>>,
    legend: &Area<Png<'_>>,
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
    chart::line(chart, &line, color, 4)?;
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
    chart::legend_entry(legend, i, name, color.stroke_width(3))
}

/// A run trained under one ordering (series `i`): its test NLL as a dotted
/// line across.
fn draw_single(
    chart: &mut Chart<'_, Png<'_>>,
    legend: &Area<Png<'_>>,
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
    let label = format!("{name} (one ordering)");
    chart::legend_entry(legend, i, &label, color.stroke_width(1))
}
