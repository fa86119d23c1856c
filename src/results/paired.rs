//! Paired comparisons of finished runs on the same test images: ΔNLL(A − B)
//! with a 95% confidence interval (crate::stats), and the orderings of each
//! model ranked with "Δ vs best". Runs are paired by seed; with one pair
//! the interval is over test images (per-image paired t), with two or more
//! it is over seeds (t over the seeds' mean differences, which includes
//! seed-to-seed variance). Per-image log-likelihoods come from each run's
//! `test_log_probs.npy`, never from a new evaluation.
use anyhow::{bail, Context, Result};

use super::{npy, RunDir, Summary};
use crate::spec::Swept;
use crate::stats::{self, Interval};

/// A finished run with its per-image test log-likelihoods.
#[derive(Clone, Debug)]
pub struct RunScores {
    pub summary: Summary,
    pub log_p: Vec<f64>,
}

impl RunScores {
    /// Reads a finished run's summary and `test_log_probs.npy`.
    pub fn load(dir: &RunDir) -> Result<RunScores> {
        let summary = dir.read_summary()?;
        if summary.test_nll.is_none() {
            bail!("run `{}` has no test NLL ({})", summary.run, summary.status);
        }
        let path = dir.test_log_probs();
        if !path.is_file() {
            bail!(
                "run `{}` has no per-image test log-likelihoods (`{}`): it was trained by an \
                 older arlab; train it again (`arlab run SPEC --force`) to compare it",
                summary.run,
                path.display()
            );
        }
        let log_p = npy::read_f64(&path)?;
        if log_p.len() != summary.test_images {
            bail!(
                "`{}` holds {} values, but run `{}` was tested on {} images",
                path.display(),
                log_p.len(),
                summary.run,
                summary.test_images
            );
        }
        Ok(RunScores { summary, log_p })
    }

    fn test_set(&self) -> (Option<&str>, &str, usize) {
        let s = &self.summary;
        (s.test_data.as_deref(), s.data.as_str(), s.test_images)
    }
}

/// Refuses runs that were not tested on the same images.
pub fn check_same_test_set(runs: &[&RunScores]) -> Result<()> {
    let Some(first) = runs.first() else {
        return Ok(());
    };
    for r in &runs[1..] {
        let (a, b) = (first.test_set(), r.test_set());
        if a.0.is_none() || b.0.is_none() || a != b {
            bail!(
                "runs `{}` and `{}` were not tested on the same images ({}, {} images, {} vs {}, {} \
                 images, {}): a paired comparison needs one test set",
                first.summary.run,
                r.summary.run,
                a.1,
                a.2,
                a.0.unwrap_or("no fingerprint"),
                b.1,
                b.2,
                b.0.unwrap_or("no fingerprint"),
            );
        }
    }
    Ok(())
}

/// What an interval is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// One pair of runs: over the test images (paired t, n − 1 df).
    Images,
    /// Several seeds: over the seeds' mean differences (t, k − 1 df).
    Seeds,
}

impl Over {
    /// `test images` or `seeds` (comparison.csv's `delta_ci_over`).
    pub fn name(self) -> &'static str {
        match self {
            Over::Images => "test images",
            Over::Seeds => "seeds",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Over::Images => "95% CI over test images (paired t)",
            Over::Seeds => "95% CI over seeds (t on per-seed Δ)",
        }
    }
}

/// ΔNLL(A − B) in nats/image with its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delta {
    pub interval: Interval,
    pub over: Over,
    /// Seeds paired.
    pub pairs: usize,
}

impl Delta {
    /// What the interval is over, for a table: `test images` or `3 seeds`.
    pub fn over_cell(&self) -> String {
        match self.over {
            Over::Images => Over::Images.name().into(),
            Over::Seeds => format!("{} seeds", self.pairs),
        }
    }
}

/// ΔNLL(A − B) of runs `a` and `b` (the same model and ordering over seeds,
/// or one run each), paired by seed; a single run on each side pairs
/// whatever their seeds.
pub fn delta(a: &[&RunScores], b: &[&RunScores]) -> Result<Delta> {
    let all: Vec<&RunScores> = a.iter().chain(b).copied().collect();
    check_same_test_set(&all)?;
    let pairs: Vec<(&RunScores, &RunScores)> = if a.len() == 1 && b.len() == 1 {
        vec![(a[0], b[0])]
    } else {
        a.iter()
            .filter_map(|ra| {
                b.iter()
                    .find(|rb| rb.summary.seed == ra.summary.seed)
                    .map(|rb| (*ra, *rb))
            })
            .collect()
    };
    let name = |rs: &[&RunScores]| rs.first().map_or("?".into(), |r| r.summary.run.clone());
    let (interval, over) = match pairs.as_slice() {
        [] => bail!("no seed in common between `{}` and `{}`", name(a), name(b)),
        [(ra, rb)] => (
            stats::t_interval(&stats::nll_differences(&ra.log_p, &rb.log_p)),
            Over::Images,
        ),
        _ => {
            let per_seed: Vec<f64> = pairs
                .iter()
                .map(|(ra, rb)| mean(&stats::nll_differences(&ra.log_p, &rb.log_p)))
                .collect();
            (stats::t_interval(&per_seed), Over::Seeds)
        }
    };
    let interval = interval.with_context(|| {
        format!(
            "`{}` and `{}`: too few test images for an interval",
            name(a),
            name(b)
        )
    })?;
    Ok(Delta {
        interval,
        over,
        pairs: pairs.len(),
    })
}

/// The test NLL of `runs` (seeds of one setting) with its 95% interval.
fn nll_interval(runs: &[&RunScores]) -> Option<Interval> {
    match runs {
        [r] => stats::t_interval(&r.log_p.iter().map(|l| -l).collect::<Vec<_>>()),
        _ => stats::t_interval(
            &runs
                .iter()
                .filter_map(|r| r.summary.test_nll)
                .collect::<Vec<_>>(),
        ),
    }
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// One ordering of a ranked model: its runs (seeds) and Δ vs the baseline.
#[derive(Clone, Debug)]
pub struct Ranked {
    pub ordering: String,
    pub seeds: usize,
    /// Mean test NLL over seeds, nats/image.
    pub nll: f64,
    /// Its 95% interval: over test images (t on per-image NLL) for one
    /// seed, over seeds for several. Far wider than the paired Δ's: most
    /// of it is image-to-image variance that pairing removes.
    pub nll_interval: Option<Interval>,
    /// ΔNLL(this − baseline); `None` for the baseline itself.
    pub delta: Option<Delta>,
}

/// The orderings of one model (and swept values), best first.
#[derive(Clone, Debug)]
pub struct Ranking {
    pub model: String,
    pub swept: Vec<Swept>,
    /// The ordering the Δs are against.
    pub baseline: String,
    pub rows: Vec<Ranked>,
}

/// Per model and swept values with two or more orderings, the orderings
/// ranked by mean test NLL, each with Δ vs the best and its interval.
pub fn rank_orderings(runs: &[RunScores]) -> Result<Vec<Ranking>> {
    rank_against(runs, None)
}

/// As [`rank_orderings`], with Δ vs `baseline` (an ordering's label)
/// instead of the best; a model without that ordering is left out.
pub fn rank_against(runs: &[RunScores], baseline: Option<&str>) -> Result<Vec<Ranking>> {
    type Group<'r> = ((String, Vec<Swept>), Vec<&'r RunScores>);
    let mut groups: Vec<Group> = Vec::new();
    for r in runs {
        let key = (r.summary.model.clone(), r.summary.swept.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let mut out = Vec::new();
    for ((model, swept), members) in groups {
        let mut by_ordering: Vec<(String, Vec<&RunScores>)> = Vec::new();
        for r in members {
            match by_ordering
                .iter_mut()
                .find(|(o, _)| *o == r.summary.ordering)
            {
                Some((_, v)) => v.push(r),
                None => by_ordering.push((r.summary.ordering.clone(), vec![r])),
            }
        }
        if by_ordering.len() < 2 {
            continue;
        }
        let nll = |rs: &[&RunScores]| {
            mean(
                &rs.iter()
                    .filter_map(|r| r.summary.test_nll)
                    .collect::<Vec<_>>(),
            )
        };
        by_ordering.sort_by(|a, b| nll(&a.1).total_cmp(&nll(&b.1)));
        let base = match baseline {
            None => 0,
            Some(b) => match by_ordering.iter().position(|(o, _)| o == b) {
                Some(i) => i,
                None => continue,
            },
        };
        let (base_name, base_runs) = by_ordering[base].clone();
        let rows = by_ordering
            .iter()
            .enumerate()
            .map(|(i, (ordering, rs))| {
                Ok(Ranked {
                    ordering: ordering.clone(),
                    seeds: rs.len(),
                    nll: nll(rs),
                    nll_interval: nll_interval(rs),
                    delta: if i == base {
                        None
                    } else {
                        Some(delta(rs, &base_runs)?)
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(Ranking {
            model,
            swept,
            baseline: base_name,
            rows,
        });
    }
    Ok(out)
}

/// The finished runs under `paths`: each a run directory (with
/// summary.json) or an experiment directory holding run directories.
/// A run whose files cannot be read is an error naming it.
pub fn collect(paths: &[std::path::PathBuf]) -> Result<Vec<RunScores>> {
    let mut dirs = Vec::new();
    for p in paths {
        if RunDir::new(p).summary().is_file() {
            dirs.push(RunDir::new(p));
            continue;
        }
        let entries = std::fs::read_dir(p).with_context(|| {
            format!(
                "`{}` is neither a run nor an experiment directory",
                p.display()
            )
        })?;
        let mut runs: Vec<RunDir> = entries
            .flatten()
            .map(|e| RunDir::new(e.path()))
            .filter(|d| d.spec().is_file())
            .collect();
        if runs.is_empty() {
            bail!("`{}` holds no run directories", p.display());
        }
        runs.sort_by(|a, b| a.root.cmp(&b.root));
        dirs.extend(runs);
    }
    let (mut runs, mut unreadable) = (Vec::new(), Vec::new());
    for d in &dirs {
        match RunScores::load(d) {
            Ok(r) => runs.push(r),
            Err(e) => unreadable.push(format!("run `{}`: {e:#}", d.root.display())),
        }
    }
    if !unreadable.is_empty() {
        bail!(
            "{} run(s) cannot be compared, their files unreadable or missing:\n  {}",
            unreadable.len(),
            unreadable.join("\n  ")
        );
    }
    Ok(runs)
}

/// Every run against the run named `baseline` (its directory name): one
/// ranking whose rows are runs, best first.
pub fn rank_runs_against(runs: &[RunScores], baseline: &str) -> Result<Ranking> {
    let base = runs
        .iter()
        .find(|r| r.summary.run == baseline)
        .with_context(|| format!("no run named `{baseline}`"))?;
    let mut rows = runs
        .iter()
        .map(|r| {
            Ok(Ranked {
                ordering: r.summary.run.clone(),
                seeds: 1,
                nll: r.summary.test_nll.unwrap_or(f64::NAN),
                nll_interval: nll_interval(&[r]),
                delta: if std::ptr::eq(r, base) {
                    None
                } else {
                    Some(delta(&[r], &[base])?)
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    rows.sort_by(|a, b| a.nll.total_cmp(&b.nll));
    Ok(Ranking {
        model: "runs".into(),
        swept: Vec::new(),
        baseline: baseline.into(),
        rows,
    })
}

/// The rankings `arlab compare` prints: per model, its orderings against
/// the best, or against `baseline` when that names an ordering; or every
/// run against the run `baseline` names.
pub fn compare(runs: &[RunScores], baseline: Option<&str>) -> Result<Vec<Ranking>> {
    let Some(b) = baseline else {
        return rank_orderings(runs);
    };
    if runs.iter().any(|r| r.summary.ordering == b) {
        return rank_against(runs, Some(b));
    }
    if runs.iter().any(|r| r.summary.run == b) {
        return Ok(vec![rank_runs_against(runs, b)?]);
    }
    let mut names: Vec<&str> = runs.iter().map(|r| r.summary.ordering.as_str()).collect();
    names.sort();
    names.dedup();
    bail!(
        "--baseline: `{b}` is neither an ordering of these runs ({}) nor one of their run names",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ordering: &str, seed: u64, log_p: Vec<f64>, data: &str) -> RunScores {
        let n = log_p.len();
        let nll = -mean(&log_p);
        let mut summary: Summary = serde_json::from_value(serde_json::json!({
            "experiment": "e", "run": format!("nade-{ordering}-s{seed}"), "model": "nade",
            "model_type": "nade", "ordering": ordering, "seed": seed, "parameters": 1,
            "height": 2, "width": 2, "data": "synthetic", "binarization": "threshold 0.5",
            "device": "Cpu", "epochs_run": 1, "best_epoch": 1, "best_val_nll": nll,
            "test_nll": nll, "test_bits_per_dim": nll / 4.0, "test_images": n,
            "train_seconds": 1.0, "train_images_per_s": 1.0, "eval_images_per_s": 1.0,
            "stopped_early": false, "status": "ok"
        }))
        .unwrap();
        summary.test_data = Some(data.into());
        RunScores { summary, log_p }
    }

    #[test]
    fn identical_runs_differ_by_zero_with_a_zero_width_interval() {
        let a = run("raster", 0, vec![-3.0, -5.5, -4.25], "sha256:aa");
        let b = run("snake", 0, vec![-3.0, -5.5, -4.25], "sha256:aa");
        let d = delta(&[&a], &[&b]).unwrap();
        assert_eq!(
            (d.interval.mean, d.interval.lo, d.interval.hi),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(d.over, Over::Images);
    }

    #[test]
    fn runs_on_other_test_images_are_refused() {
        let a = run("raster", 0, vec![-3.0, -5.0], "sha256:aa");
        let b = run("snake", 0, vec![-3.0, -5.0], "sha256:bb");
        let e = format!("{:#}", delta(&[&a], &[&b]).unwrap_err());
        assert!(e.contains("not tested on the same images"), "{e}");
        let mut c = run("snake", 0, vec![-3.0, -5.0], "sha256:aa");
        c.summary.test_data = None;
        assert!(delta(&[&a], &[&c]).is_err());
    }

    #[test]
    fn several_seeds_give_an_interval_over_seeds() {
        // Snake is worse by 1 nat on seed 0 and 3 nats on seed 1.
        let base = vec![-10.0, -20.0, -30.0];
        let shift = |d: f64| base.iter().map(|x| x - d).collect::<Vec<_>>();
        let runs = vec![
            run("raster", 0, base.clone(), "x"),
            run("raster", 1, base.clone(), "x"),
            run("snake", 0, shift(1.0), "x"),
            run("snake", 1, shift(3.0), "x"),
        ];
        let ranked = rank_orderings(&runs).unwrap();
        assert_eq!(ranked.len(), 1);
        let rows = &ranked[0].rows;
        assert_eq!(
            (rows[0].ordering.as_str(), rows[1].ordering.as_str()),
            ("raster", "snake")
        );
        assert!(rows[0].delta.is_none());
        let d = rows[1].delta.unwrap();
        assert_eq!((d.over, d.pairs), (Over::Seeds, 2));
        assert!((d.interval.mean - 2.0).abs() < 1e-12);
        // t(0.975, 1 df) · sd/√2 = 12.706 · 1.
        assert!((d.interval.hi - 2.0 - 12.7062).abs() < 1e-3, "{d:?}");
    }

    #[test]
    fn a_single_ordering_is_not_ranked() {
        let runs = vec![run("raster", 0, vec![-1.0, -2.0], "x")];
        assert!(rank_orderings(&runs).unwrap().is_empty());
    }
}
