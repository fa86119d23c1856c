//! The side-by-side comparison of an experiment's runs:
//! comparison.csv, comparison.md, nll_curves.png and samples.png.
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::{plots, write_atomic, write_csv, RunDir, Summary};

/// One row of comparison.csv.
#[derive(Serialize)]
struct Row<'a> {
    model: &'a str,
    ordering: &'a str,
    seed: u64,
    parameters: i64,
    best_epoch: usize,
    val_nll: Option<f64>,
    test_nll_nats: Option<f64>,
    bits_per_dim: Option<f64>,
    binarization: &'a str,
    train_seconds: f64,
    status: &'a str,
}

/// Writes the experiment-level files from the finished runs in `run_ids`
/// (runs without a summary are left out).
pub fn write(experiment_dir: &Path, name: &str, run_ids: &[String]) -> Result<usize> {
    let runs: Vec<(RunDir, Summary)> = run_ids
        .iter()
        .map(|id| RunDir::new(experiment_dir.join(id)))
        .filter_map(|dir| dir.read_summary().ok().map(|s| (dir, s)))
        .collect();
    if runs.is_empty() {
        return Ok(0);
    }
    let rows: Vec<Row> = runs
        .iter()
        .map(|(_, s)| Row {
            model: &s.model,
            ordering: &s.ordering,
            seed: s.seed,
            parameters: s.parameters,
            best_epoch: s.best_epoch,
            val_nll: s.best_val_nll.map(round4),
            test_nll_nats: s.test_nll.map(round4),
            bits_per_dim: s.test_bits_per_dim.map(round4),
            binarization: &s.binarization,
            train_seconds: (s.train_seconds * 10.0).round() / 10.0,
            status: &s.status,
        })
        .collect();
    write_csv(&experiment_dir.join("comparison.csv"), &rows)?;
    write_atomic(
        &experiment_dir.join("comparison.md"),
        markdown(name, &runs).as_bytes(),
    )?;

    let curves: Vec<_> = runs
        .iter()
        .filter_map(|(dir, s)| {
            dir.read_metrics()
                .ok()
                .map(|m| (format!("{} / {} / s{}", s.model, s.ordering, s.seed), m))
        })
        .collect();
    plots::nll_curves(
        &curves,
        &format!("{name}: validation NLL"),
        &experiment_dir.join("nll_curves.png"),
    )?;

    let (h, w) = (runs[0].1.height, runs[0].1.width);
    let sample_rows: Vec<_> = runs
        .iter()
        .filter(|(_, s)| (s.height, s.width) == (h, w))
        .filter_map(|(dir, s)| {
            let last = dir.samples(s.epochs_run);
            let imgs = plots::read_first_row(&last, h, w).ok()?;
            Some((format!("{} / {} / s{}", s.model, s.ordering, s.seed), imgs))
        })
        .collect();
    plots::labelled_rows(
        &sample_rows,
        h,
        w,
        false,
        &experiment_dir.join("samples.png"),
    )?;
    Ok(runs.len())
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The comparison as a Markdown table, best test NLL first.
pub fn markdown(name: &str, runs: &[(RunDir, Summary)]) -> String {
    let mut sorted: Vec<&Summary> = runs.iter().map(|(_, s)| s).collect();
    // Failed runs (no test NLL) last.
    sorted.sort_by(|a, b| {
        a.test_nll
            .unwrap_or(f64::INFINITY)
            .total_cmp(&b.test_nll.unwrap_or(f64::INFINITY))
    });
    let mut md = String::new();
    let _ = writeln!(md, "# {name}\n");
    if let Some(s) = sorted.first() {
        let _ = writeln!(
            md,
            "Data: `{}`, {}×{}, binarization: {}. Test NLL of the best-validation checkpoint.\n",
            s.data, s.height, s.width, s.binarization
        );
    }
    let _ = writeln!(md, "| model | ordering | seed | parameters | best epoch | val NLL | test NLL (nats) | bits/dim | train s | status |");
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let num =
        |v: Option<f64>, digits: usize| v.map_or("—".to_string(), |x| format!("{x:.digits$}"));
    for s in sorted {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} |",
            s.model,
            s.ordering,
            s.seed,
            s.parameters,
            s.best_epoch,
            num(s.best_val_nll, 2),
            num(s.test_nll, 2),
            num(s.test_bits_per_dim, 4),
            s.train_seconds,
            s.status
        );
    }
    md
}
