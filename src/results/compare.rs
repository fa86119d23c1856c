//! The side-by-side comparison of an experiment's runs:
//! comparison.csv, comparison.md, nll_curves.png and samples.png.
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::{ensemble_plot, plots, write_atomic, write_csv, RunDir, Summary};
use crate::data::ImageShape;
use crate::eval::ensemble::EnsembleRow;

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
    train_images_per_s: f64,
    eval_images_per_s: f64,
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
            train_images_per_s: s.train_images_per_s.round(),
            eval_images_per_s: s.eval_images_per_s.round(),
            status: &s.status,
        })
        .collect();
    write_csv(&experiment_dir.join("comparison.csv"), &rows)?;
    let ensembles: Vec<(String, Vec<EnsembleRow>)> = runs
        .iter()
        .filter_map(|(dir, s)| {
            let rows = dir.read_ensemble().ok()?;
            Some((format!("{} / {} / s{}", s.model, s.ordering, s.seed), rows))
        })
        .collect();
    let mut md = markdown(name, &runs);
    if !ensembles.is_empty() {
        md.push_str(&ensemble_markdown(&ensembles));
        let singles: Vec<(String, f64)> = runs
            .iter()
            .filter(|(dir, _)| !dir.ensemble().is_file())
            .filter_map(|(_, s)| {
                let label = format!("{} / {} / s{}", s.model, s.ordering, s.seed);
                s.test_nll.map(|nll| (label, nll))
            })
            .collect();
        ensemble_plot::ensemble_nll(
            &ensembles,
            &singles,
            &format!("{name}: test NLL of ensembles over orderings"),
            &experiment_dir.join("ensemble_nll.png"),
        )?;
    }
    write_atomic(&experiment_dir.join("comparison.md"), md.as_bytes())?;

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

    // Grids hold display levels (0..=255) whatever the pixel form.
    let first = &runs[0].1;
    let shape = ImageShape {
        channels: first.channels,
        height: first.height,
        width: first.width,
        levels: 256,
    };
    let sample_rows: Vec<_> = runs
        .iter()
        .filter(|(_, s)| {
            (s.channels, s.height, s.width) == (shape.channels, shape.height, shape.width)
        })
        .filter_map(|(dir, s)| {
            let last = dir.samples(s.epochs_run);
            let imgs = plots::read_first_row(&last, shape).ok()?;
            Some((format!("{} / {} / s{}", s.model, s.ordering, s.seed), imgs))
        })
        .collect();
    plots::labelled_rows(&sample_rows, shape, &experiment_dir.join("samples.png"))?;
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
            "Data: `{}`, {} pixels, {}×{}×{} (C×H×W), binarization: {}. Test NLL of the best-validation checkpoint; \
             training images/s over all epochs, evaluation images/s on the test set.\n",
            s.data, s.pixels, s.channels, s.height, s.width, s.binarization
        );
    }
    let _ = writeln!(md, "| model | ordering | seed | parameters | best epoch | val NLL | test NLL (nats) | bits/dim | train s | train img/s | eval img/s | status |");
    let _ = writeln!(
        md,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    let num =
        |v: Option<f64>, digits: usize| v.map_or("—".to_string(), |x| format!("{x:.digits$}"));
    for s in sorted {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {} |",
            s.model,
            s.ordering,
            s.seed,
            s.parameters,
            s.best_epoch,
            num(s.best_val_nll, 2),
            num(s.test_nll, 2),
            num(s.test_bits_per_dim, 4),
            s.train_seconds,
            s.train_images_per_s,
            s.eval_images_per_s,
            s.status
        );
    }
    let groups = seed_groups(runs.iter().map(|(_, s)| s));
    if groups.iter().any(|g| g.seeds > 1) {
        let _ = writeln!(md, "\n## Over seeds\n");
        let _ = writeln!(
            md,
            "Mean ± sample standard deviation of the test NLL over the seeds that finished.\n"
        );
        let _ = writeln!(
            md,
            "| model | ordering | seeds | test NLL (nats) | bits/dim |"
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|");
        for g in groups {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2} ± {:.2} | {:.4} ± {:.4} |",
                g.model, g.ordering, g.seeds, g.nll.0, g.nll.1, g.bpd.0, g.bpd.1
            );
        }
    }
    md
}

/// The ensemble section: per run, its single orderings (best, mean, worst)
/// and its ensembles of 1, 2, 4, … orderings.
fn ensemble_markdown(runs: &[(String, Vec<EnsembleRow>)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "\n## Ensembles over orderings\n");
    let _ = writeln!(
        md,
        "Test NLL under each ordering alone and of the ensemble of the first N, \
         log p(x) = logsumexp_k log p_k(x) − log N (an exact density; see `ensemble.csv` in each run).\n"
    );
    let _ = writeln!(md, "| run | single orderings: best / mean / worst (nats) | N | ensemble NLL (nats) | bits/dim | gain over the mean single |");
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    for (run, rows) in runs {
        let singles: Vec<f64> = rows
            .iter()
            .filter(|r| r.kind == "member")
            .map(|r| r.nll)
            .collect();
        if singles.is_empty() {
            continue;
        }
        let mean = singles.iter().sum::<f64>() / singles.len() as f64;
        let best = singles.iter().cloned().fold(f64::INFINITY, f64::min);
        let worst = singles.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        for r in rows.iter().filter(|r| r.kind == "ensemble") {
            let _ = writeln!(
                md,
                "| {run} | {best:.2} / {mean:.2} / {worst:.2} | {} | {:.2} | {:.4} | {:.2} |",
                r.n,
                r.nll,
                r.bits_per_dim,
                mean - r.nll
            );
        }
    }
    md
}

/// The finished runs of one model under one ordering, over seeds.
#[derive(Debug, PartialEq)]
pub struct SeedGroup {
    pub model: String,
    pub ordering: String,
    pub seeds: usize,
    /// (mean, sample standard deviation; 0 for one seed)
    pub nll: (f64, f64),
    pub bpd: (f64, f64),
}

/// Groups finished runs by (model, ordering), best mean test NLL first.
pub fn seed_groups<'a>(runs: impl Iterator<Item = &'a Summary>) -> Vec<SeedGroup> {
    let mut by_key: std::collections::BTreeMap<(String, String), Vec<(f64, f64)>> =
        Default::default();
    for s in runs {
        if let (Some(nll), Some(bpd)) = (s.test_nll, s.test_bits_per_dim) {
            by_key
                .entry((s.model.clone(), s.ordering.clone()))
                .or_default()
                .push((nll, bpd));
        }
    }
    let stats = |xs: Vec<f64>| {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = if xs.len() > 1 {
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        (mean, var.sqrt())
    };
    let mut groups: Vec<SeedGroup> = by_key
        .into_iter()
        .map(|((model, ordering), v)| SeedGroup {
            model,
            ordering,
            seeds: v.len(),
            nll: stats(v.iter().map(|p| p.0).collect()),
            bpd: stats(v.iter().map(|p| p.1).collect()),
        })
        .collect();
    groups.sort_by(|a, b| a.nll.0.total_cmp(&b.nll.0));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(model: &str, ordering: &str, seed: u64, nll: Option<f64>) -> Summary {
        Summary {
            experiment: "e".into(),
            run: format!("{model}-{ordering}-s{seed}"),
            model: model.into(),
            model_type: "nade".into(),
            ordering: ordering.into(),
            seed,
            parameters: 1,
            channels: 1,
            height: 2,
            width: 2,
            pixels: "binary".into(),
            data: "synthetic".into(),
            binarization: "threshold 0.5".into(),
            device: "Cpu".into(),
            epochs_run: 1,
            best_epoch: 1,
            best_val_nll: nll,
            test_nll: nll,
            test_bits_per_dim: nll.map(|n| n / 10.0),
            test_images: 1,
            train_seconds: 1.0,
            train_images_per_s: 1.0,
            eval_images_per_s: 1.0,
            stopped_early: false,
            status: if nll.is_some() {
                "ok".into()
            } else {
                "failed: x".into()
            },
        }
    }

    #[test]
    fn seeds_are_grouped_with_mean_and_sample_sd_and_failures_left_out() {
        let runs = [
            summary("nade", "raster", 0, Some(10.0)),
            summary("nade", "raster", 1, Some(12.0)),
            summary("nade", "raster", 2, None),
            summary("fvsbn", "raster", 0, Some(9.0)),
        ];
        let groups = seed_groups(runs.iter());
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (groups[0].model.as_str(), groups[0].seeds, groups[0].nll),
            ("fvsbn", 1, (9.0, 0.0))
        );
        assert_eq!(groups[1].seeds, 2);
        assert_eq!(groups[1].nll.0, 11.0);
        assert!((groups[1].nll.1 - 2f64.sqrt()).abs() < 1e-12);
        assert!((groups[1].bpd.0 - 1.1).abs() < 1e-12);
    }
}
