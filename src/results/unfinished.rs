//! Runs of an experiment that trained but have no test NLL yet (stopped by
//! a signal, killed, or being trained on with `--extend`, which removes the
//! summary until the run finishes again): comparison.md lists their
//! progress below the table, so a run does not silently drop out of it.
use std::fmt::Write as _;
use std::path::Path;

use super::{MetricRow, RunDir};

/// An unfinished run: its name and the epochs it finished.
pub struct Unfinished {
    pub run: String,
    pub metrics: Vec<MetricRow>,
}

/// The runs of `run_ids` under `experiment_dir` without a summary.json
/// that finished at least one epoch (a readable metrics.csv).
pub fn collect(experiment_dir: &Path, run_ids: &[String]) -> Vec<Unfinished> {
    run_ids
        .iter()
        .filter_map(|id| {
            let dir = RunDir::new(experiment_dir.join(id));
            if dir.summary().exists() {
                return None;
            }
            let metrics = dir.read_metrics().ok().filter(|m| !m.is_empty())?;
            Some(Unfinished {
                run: id.clone(),
                metrics,
            })
        })
        .collect()
}

/// The "Not finished" section of comparison.md ("" when there is none).
pub fn markdown(runs: &[Unfinished]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\n## Not finished\n\nRuns without a test NLL yet (stopped, or being trained on with \
         `--extend`); the same `arlab run` command resumes them.\n\n\
         | run | epochs done | best validation NLL | at epoch |\n|---|---:|---:|---:|\n",
    );
    for u in runs {
        let done = u.metrics.last().map_or(0, |r| r.epoch);
        let best = u
            .metrics
            .iter()
            .filter_map(|r| Some((r.val_nll?, r.epoch)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let (val, at) = best.map_or(("—".into(), "—".into()), |(v, e)| {
            (format!("{v:.2}"), e.to_string())
        });
        let _ = writeln!(md, "| {} | {done} | {val} | {at} |", u.run);
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: usize, val_nll: Option<f64>) -> MetricRow {
        MetricRow {
            epoch,
            train_nll: 1.0,
            val_nll,
            lr: 1e-3,
            seconds: 1.0,
            train_images_per_s: 1.0,
        }
    }

    #[test]
    fn the_best_validated_epoch_is_listed() {
        let runs = [Unfinished {
            run: "nade-raster-s0".into(),
            metrics: vec![
                row(1, Some(90.5)),
                row(2, None),
                row(3, Some(89.25)),
                row(4, None),
            ],
        }];
        let md = markdown(&runs);
        assert!(md.contains("| nade-raster-s0 | 4 | 89.25 | 3 |"), "{md}");
        assert_eq!(markdown(&[]), "");
    }
}
