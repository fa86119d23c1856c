//! The side-by-side comparison of an experiment's runs:
//! comparison.csv, comparison.md, nll_curves.{png,svg} (small multiples),
//! test_nll.{png,svg} (seed spread) and samples.png. Swept values are
//! columns of the tables and panel titles of the figures.
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use super::ensemble_plot;
use super::figures::{self, Colours, Kind, Panel};
use super::paired::{self, RunScores};
use super::EnsembleRow;
use super::{plots, write_atomic, Published, RunDir, Summary};
use super::{ranked_plots, ranked_tables, unfinished};
use crate::data::ImageShape;
use crate::spec::Swept;

/// The swept spec paths of the runs, in order of first appearance.
pub fn swept_keys<'a>(runs: impl Iterator<Item = &'a Summary>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for s in runs {
        for w in &s.swept {
            if !keys.contains(&w.key) {
                keys.push(w.key.clone());
            }
        }
    }
    keys
}

/// The run's value of each key (`—` where it has none).
pub fn swept_values(s: &Summary, keys: &[String]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            s.swept
                .iter()
                .find(|w| &w.key == k)
                .map_or("—".to_string(), |w| w.value.clone())
        })
        .collect()
}

/// Writes the experiment-level files from the finished runs in `run_ids`;
/// runs without a summary are left out of the tables and figures, and
/// comparison.md lists those that trained an epoch as not finished.
pub fn write(experiment_dir: &Path, name: &str, run_ids: &[String]) -> Result<usize> {
    let runs: Vec<(RunDir, Summary)> = run_ids
        .iter()
        .map(|id| RunDir::new(experiment_dir.join(id)))
        .filter_map(|dir| dir.read_summary().ok().map(|s| (dir, s)))
        .collect();
    if runs.is_empty() {
        return Ok(0);
    }
    let ranked = Rankings::of(&runs);
    write_csv_table(&experiment_dir.join("comparison.csv"), &runs, &ranked)?;
    let mut md = markdown(name, &runs);
    md.push_str(&unfinished::markdown(&unfinished::collect(
        experiment_dir,
        run_ids,
    )));
    write_ensembles(experiment_dir, name, &runs, &mut md)?;
    ranked.write(experiment_dir, name, &mut md)?;
    write_atomic(&experiment_dir.join("comparison.md"), md.as_bytes())?;
    let colours = Colours {
        orderings: orderings(runs.iter().map(|(_, s)| s)),
    };
    figures::small_multiples(
        &curve_panels(&runs),
        &colours,
        Kind::Curves,
        &format!("{name}: validation NLL"),
        &experiment_dir.join("nll_curves.png"),
    )?;
    figures::small_multiples(
        &spread_panels(runs.iter().map(|(_, s)| s), &colours),
        &colours,
        Kind::Spread,
        &format!("{name}: test NLL per ordering (dots: seeds, bar: mean)"),
        &experiment_dir.join("test_nll.png"),
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
            Some((s.run.clone(), imgs))
        })
        .collect();
    plots::labelled_rows(&sample_rows, shape, &experiment_dir.join("samples.png"))?;
    Ok(runs.len())
}

/// The orderings of the runs, in order of first appearance (their colours).
pub fn orderings<'a>(runs: impl Iterator<Item = &'a Summary>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in runs {
        if !out.contains(&s.ordering) {
            out.push(s.ordering.clone());
        }
    }
    out
}

/// The panel a run belongs to: its model and swept values.
pub fn panel_title(s: &Summary) -> String {
    let mut t = s.model.clone();
    for w in &s.swept {
        t.push_str(&format!(" · {}={}", w.label, w.value));
    }
    t
}

fn panel_of(panels: &mut Vec<Panel>, title: String) -> &mut Panel {
    let i = match panels.iter().position(|p| p.title == title) {
        Some(i) => i,
        None => {
            panels.push(Panel {
                title,
                series: Vec::new(),
            });
            panels.len() - 1
        }
    };
    &mut panels[i]
}

/// Validation curves, one panel per model and swept values.
pub fn curve_panels(runs: &[(RunDir, Summary)]) -> Vec<Panel> {
    let mut panels = Vec::new();
    for (dir, s) in runs {
        if let Ok(m) = dir.read_metrics() {
            let pts = m
                .iter()
                .filter_map(|r| Some((r.epoch as f64, r.val_nll?)))
                .collect();
            panel_of(&mut panels, panel_title(s))
                .series
                .push((s.ordering.clone(), pts));
        }
    }
    panels
}

/// Test NLL of every seed at its ordering's place, one panel per model and swept values.
pub fn spread_panels<'a>(runs: impl Iterator<Item = &'a Summary>, colours: &Colours) -> Vec<Panel> {
    let mut panels = Vec::new();
    for s in runs {
        let (Some(nll), Some(x)) = (
            s.test_nll,
            colours.orderings.iter().position(|o| o == &s.ordering),
        ) else {
            continue;
        };
        let panel = panel_of(&mut panels, panel_title(s));
        match panel.series.iter_mut().find(|(o, _)| o == &s.ordering) {
            Some((_, pts)) => pts.push((x as f64, nll)),
            None => panel
                .series
                .push((s.ordering.clone(), vec![(x as f64, nll)])),
        }
    }
    panels
}

fn write_csv_table(path: &Path, runs: &[(RunDir, Summary)], ranked: &Rankings) -> Result<()> {
    let keys = swept_keys(runs.iter().map(|(_, s)| s));
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head = vec!["model".to_string(), "ordering".into()];
    head.extend(keys.iter().cloned());
    head.extend(
        [
            "seed",
            "parameters",
            "best_epoch",
            "val_nll",
            "test_nll_nats",
            "bits_per_dim",
            "binarization",
            "train_seconds",
            "train_images_per_s",
            "eval_images_per_s",
            "status",
            "ordering_rank",
            "delta_vs_best",
            "delta_ci_low",
            "delta_ci_high",
            "delta_ci_over",
            "established",
            "published_nll",
            "published_source",
            "delta_vs_published",
        ]
        .map(String::from),
    );
    w.write_record(&head)?;
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| round4(x).to_string());
    for (_, s) in runs {
        let mut row = vec![s.model.clone(), s.ordering.clone()];
        row.extend(swept_values(s, &keys));
        row.extend([
            s.seed.to_string(),
            s.parameters.to_string(),
            s.best_epoch.to_string(),
            opt(s.best_val_nll),
            opt(s.test_nll),
            opt(s.test_bits_per_dim),
            s.binarization.clone(),
            ((s.train_seconds * 10.0).round() / 10.0).to_string(),
            s.train_images_per_s.round().to_string(),
            s.eval_images_per_s.round().to_string(),
            s.status.clone(),
        ]);
        row.extend(ranking_cells(ranked.row_of(s)));
        row.extend(published_cells(s.reference.as_ref()));
        w.write_record(&row)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    write_atomic(path, &bytes)
}

/// The ranking columns of comparison.csv: rank of the run's ordering, Δ vs
/// the best ordering with its interval, what the interval is over, and
/// whether it excludes 0 (all empty where the model has one ordering).
fn ranking_cells(row: Option<(usize, &paired::Ranked)>) -> [String; 6] {
    let Some((i, r)) = row else {
        return Default::default();
    };
    let rank = (i + 1).to_string();
    match &r.delta {
        None => [
            rank,
            "0".into(),
            "0".into(),
            "0".into(),
            String::new(),
            "false".into(),
        ],
        Some(d) => [
            rank,
            round4(d.interval.mean).to_string(),
            round4(d.interval.lo).to_string(),
            round4(d.interval.hi).to_string(),
            d.over.name().into(),
            d.interval.excludes_zero().to_string(),
        ],
    }
}

/// The published columns of comparison.csv: the number, its source (with
/// the ensemble's size when it is one) and the run's number minus it (all
/// empty without a reference; Δ empty when the run has no number to compare).
fn published_cells(p: Option<&Published>) -> [String; 3] {
    let Some(p) = p else {
        return Default::default();
    };
    let source = match p.ensemble {
        None => p.source.clone(),
        Some(n) => format!("{} (ensemble of {n})", p.source),
    };
    [
        p.nll.to_string(),
        source,
        p.delta().map_or(String::new(), |d| round4(d).to_string()),
    ]
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The runs' binarization: one value, or each distinct one when a sweep
/// varies it (`data.binarize_seed`, say).
fn binarizations(runs: &[&Summary]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for s in runs {
        if !seen.contains(&s.binarization.as_str()) {
            seen.push(&s.binarization);
        }
    }
    match seen.as_slice() {
        [one] => one.to_string(),
        many => format!("per run ({})", many.join("; ")),
    }
}

/// The comparison as a Markdown table, best test NLL first, with the
/// seed-group table (mean ± sd) when there are several seeds.
pub fn markdown(name: &str, runs: &[(RunDir, Summary)]) -> String {
    let mut sorted: Vec<&Summary> = runs.iter().map(|(_, s)| s).collect();
    // Failed runs (no test NLL) last.
    sorted.sort_by(|a, b| {
        a.test_nll
            .unwrap_or(f64::INFINITY)
            .total_cmp(&b.test_nll.unwrap_or(f64::INFINITY))
    });
    let keys = swept_keys(sorted.iter().copied());
    let mut md = String::new();
    let _ = writeln!(md, "# {name}\n");
    if let Some(s) = sorted.first() {
        let _ = writeln!(
            md,
            "Data: `{}`, {} pixels, {}×{}×{} (C×H×W), binarization: {}. Test NLL of the best-validation checkpoint; \
             training images/s over all epochs, evaluation images/s on the test set.\n",
            s.data,
            s.pixels,
            s.channels,
            s.height,
            s.width,
            binarizations(&sorted)
        );
    }
    let published = sorted.iter().any(|s| s.reference.is_some());
    if published {
        let _ = writeln!(md, "{PUBLISHED_NOTE}\n");
    }
    md.push_str(&runs_table(&sorted, &keys, published));
    let groups = seed_groups(runs.iter().map(|(_, s)| s));
    if groups.iter().any(|g| g.seeds > 1) {
        let _ = writeln!(md, "\n## Over seeds\n");
        let _ = writeln!(
            md,
            "Mean ± sample standard deviation of the test NLL over the seeds that finished (one seed: its value alone). The ± is a spread of runs, not a confidence interval; intervals are in \"Orderings ranked\".\n"
        );
        md.push_str(&groups_table(&groups, &keys));
    }
    md
}

/// What the published columns hold, above a table that has them.
pub const PUBLISHED_NOTE: &str =
    "Published: the test NLL the spec's `reference:` gives for the model, \
     with its source; Δ vs published = arlab's test NLL − published (negative: arlab is lower), \
     against the run's ensemble of as many members where the published number is an ensemble's. \
     A different binarization or split makes the two not comparable: see the binarization above.";

/// One row per run: the table of comparison.md (with the published
/// columns when `published`).
fn runs_table(sorted: &[&Summary], keys: &[String], published: bool) -> String {
    let swept_head: String = keys.iter().map(|k| format!(" {k} |")).collect();
    let swept_rule = "---|".repeat(keys.len());
    let (pub_head, pub_rule) = match published {
        true => (" published | Δ vs published |", "---|---:|"),
        false => ("", ""),
    };
    let mut md = String::new();
    let _ = writeln!(md, "| model | ordering |{swept_head} seed | parameters | best epoch | val NLL | test NLL (nats) | bits/dim |{pub_head} train s | train img/s | eval img/s | status |");
    let _ = writeln!(
        md,
        "|---|---|{swept_rule}---:|---:|---:|---:|---:|---:|{pub_rule}---:|---:|---:|---|"
    );
    let num =
        |v: Option<f64>, digits: usize| v.map_or("—".to_string(), |x| format!("{x:.digits$}"));
    for s in sorted {
        let cells: String = swept_values(s, keys)
            .iter()
            .map(|v| format!(" {v} |"))
            .collect();
        let pub_cells = match published {
            true => published_md_cells(s.reference.as_ref()),
            false => String::new(),
        };
        let _ = writeln!(
            md,
            "| {} | {} |{cells} {} | {} | {} | {} | {} | {} |{pub_cells} {:.0} | {:.0} | {:.0} | {} |",
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
    md
}

/// ` published | Δ |` cells of a Markdown row (`—` where there is none).
fn published_md_cells(p: Option<&Published>) -> String {
    published_pair(p, p.and_then(Published::delta))
}

/// The published number with its source, and a Δ, as two Markdown cells.
fn published_pair(p: Option<&Published>, delta: Option<f64>) -> String {
    let dash = || "—".to_string();
    format!(
        " {} | {} |",
        p.map_or_else(dash, Published::label),
        delta.map_or_else(dash, |d| format!("{d:+.2}"))
    )
}

/// Where a model ran under several orderings: the orderings ranked with
/// Δ vs best and its interval, from the runs' per-image test
/// log-likelihoods; the runs without them are named, not dropped.
struct Rankings {
    rankings: Result<Vec<paired::Ranking>, String>,
    left_out: Vec<String>,
}

impl Rankings {
    fn of(runs: &[(RunDir, Summary)]) -> Rankings {
        let mut scores = Vec::new();
        let mut left_out = Vec::new();
        for (d, s) in runs.iter().filter(|(_, s)| s.test_nll.is_some()) {
            match RunScores::load(d) {
                Ok(r) => scores.push(r),
                Err(_) => left_out.push(s.run.clone()),
            }
        }
        Rankings {
            rankings: paired::rank_orderings(&scores).map_err(|e| format!("{e:#}")),
            left_out,
        }
    }

    /// The ranking row of a run's model, ordering and swept values.
    fn row_of(&self, s: &Summary) -> Option<(usize, &paired::Ranked)> {
        let rankings = self.rankings.as_ref().ok()?;
        let r = rankings
            .iter()
            .find(|r| r.model == s.model && r.swept == s.swept)?;
        r.rows
            .iter()
            .enumerate()
            .find(|(_, row)| row.ordering == s.ordering)
    }

    /// The section of comparison.md, comparison.tex and the figures.
    fn write(&self, dir: &Path, name: &str, md: &mut String) -> Result<()> {
        match &self.rankings {
            Ok(rankings) if rankings.is_empty() => Ok(()),
            Ok(rankings) => {
                md.push_str(&ranked_tables::markdown(rankings, &self.left_out));
                write_ranking_files(dir, "comparison", name, rankings)
            }
            Err(e) => {
                let _ = writeln!(md, "\n## Orderings ranked\n\nNot ranked: {e}.");
                Ok(())
            }
        }
    }
}

/// `<stem>.tex` and the figures `orderings_nll` (test NLL per ordering
/// with intervals) and `orderings_delta` (the forest plot of Δ) of
/// `rankings` in `dir`; `<stem>.csv` too unless the stem is `comparison`
/// (whose CSV is the per-run table, with the ranking's columns).
pub fn write_ranking_files(
    dir: &Path,
    stem: &str,
    name: &str,
    rankings: &[paired::Ranking],
) -> Result<()> {
    write_atomic(
        &dir.join(format!("{stem}.tex")),
        ranked_tables::latex(name, rankings).as_bytes(),
    )?;
    if stem != "comparison" {
        super::write_csv(
            &dir.join(format!("{stem}.csv")),
            &ranked_tables::csv_rows(rankings),
        )?;
    }
    ranked_plots::draw(
        rankings,
        ranked_plots::Figure::NllIntervals,
        &format!("{name}: test NLL per ordering"),
        &dir.join("orderings_nll.png"),
    )?;
    ranked_plots::draw(
        rankings,
        ranked_plots::Figure::Forest,
        &format!("{name}: paired Δ vs {}", ranked_tables::against(rankings)),
        &dir.join("orderings_delta.png"),
    )
}

/// With `eval.orderings`: the ensemble section of comparison.md and
/// ensemble_nll.png, from the runs' `ensemble.csv` (the runs trained under
/// one ordering are the figure's reference lines).
fn write_ensembles(
    dir: &Path,
    name: &str,
    runs: &[(RunDir, Summary)],
    md: &mut String,
) -> Result<()> {
    let ensembles: Vec<(String, Vec<EnsembleRow>)> = runs
        .iter()
        .filter_map(|(d, s)| d.read_ensemble().ok().map(|rows| (s.run.clone(), rows)))
        .collect();
    if ensembles.is_empty() {
        return Ok(());
    }
    md.push_str(&ensemble_markdown(&ensembles));
    let singles: Vec<(String, f64)> = runs
        .iter()
        .filter(|(d, _)| !d.ensemble().is_file())
        .filter_map(|(_, s)| s.test_nll.map(|nll| (s.run.clone(), nll)))
        .collect();
    ensemble_plot::ensemble_nll(
        &ensembles,
        &singles,
        &format!("{name}: test NLL of ensembles over orderings"),
        &dir.join("ensemble_nll.png"),
    )
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

/// The seed groups as a Markdown table (swept values as columns).
pub fn groups_table(groups: &[SeedGroup], keys: &[String]) -> String {
    let mut md = String::new();
    let head: String = keys.iter().map(|k| format!(" {k} |")).collect();
    let published = groups.iter().any(|g| g.published.is_some());
    let (pub_head, pub_rule) = match published {
        true => (" published | Δ vs published (mean) |", "---|---:|"),
        false => ("", ""),
    };
    let _ = writeln!(
        md,
        "| model | ordering |{head} seeds | test NLL (nats) | bits/dim |{pub_head}"
    );
    let _ = writeln!(
        md,
        "|---|---|{}---:|---:|---:|{pub_rule}",
        "---|".repeat(keys.len())
    );
    for g in groups {
        let vals: String = keys
            .iter()
            .map(|k| {
                let v = g
                    .swept
                    .iter()
                    .find(|w| &w.key == k)
                    .map_or("—", |w| w.value.as_str());
                format!(" {v} |")
            })
            .collect();
        // "±" only where there is a spread to give.
        let (nll, bpd) = if g.seeds > 1 {
            (
                format!("{:.2} ± {:.2}", g.nll.0, g.nll.1),
                format!("{:.4} ± {:.4}", g.bpd.0, g.bpd.1),
            )
        } else {
            (format!("{:.2}", g.nll.0), format!("{:.4}", g.bpd.0))
        };
        let pub_cells = match published {
            true => published_pair(g.published.as_ref(), g.delta_vs_published),
            false => String::new(),
        };
        let _ = writeln!(
            md,
            "| {} | {} |{vals} {} | {nll} | {bpd} |{pub_cells}",
            g.model, g.ordering, g.seeds
        );
    }
    md
}

/// The finished runs of one model under one ordering (and swept values), over seeds.
#[derive(Debug, PartialEq)]
pub struct SeedGroup {
    pub model: String,
    pub ordering: String,
    pub swept: Vec<Swept>,
    pub seeds: usize,
    /// (mean, sample standard deviation; 0 for one seed)
    pub nll: (f64, f64),
    pub bpd: (f64, f64),
    /// The model's published number (the first run's `reference`).
    pub published: Option<Published>,
    /// Mean over the seeds of Δ vs published (over the runs that have it).
    pub delta_vs_published: Option<f64>,
}

/// Groups finished runs by (model, ordering, swept values), best mean test NLL first.
pub fn seed_groups<'a>(runs: impl Iterator<Item = &'a Summary>) -> Vec<SeedGroup> {
    type Key = (String, String, Vec<Swept>);
    let mut by_key: Vec<(Key, Vec<&Summary>)> = Vec::new();
    for s in runs.filter(|s| s.test_nll.is_some() && s.test_bits_per_dim.is_some()) {
        let key = (s.model.clone(), s.ordering.clone(), s.swept.clone());
        match by_key.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(s),
            None => by_key.push((key, vec![s])),
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
        .map(|((model, ordering, swept), v)| {
            let deltas: Vec<f64> = v
                .iter()
                .filter_map(|s| s.reference.as_ref()?.delta())
                .collect();
            SeedGroup {
                model,
                ordering,
                swept,
                seeds: v.len(),
                nll: stats(v.iter().filter_map(|s| s.test_nll).collect()),
                bpd: stats(v.iter().filter_map(|s| s.test_bits_per_dim).collect()),
                published: v.iter().find_map(|s| s.reference.clone()),
                delta_vs_published: (!deltas.is_empty()).then(|| stats(deltas).0),
            }
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
            test_data: None,
            train_seconds: 1.0,
            train_images_per_s: 1.0,
            eval_images_per_s: 1.0,
            stopped_early: false,
            status: if nll.is_some() {
                "ok".into()
            } else {
                "failed: x".into()
            },
            swept: Vec::new(),
            provenance: None,
            reference: None,
            extended_from_epoch: None,
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

    #[test]
    fn a_swept_binarization_is_listed_per_run() {
        let one = summary("nade", "raster", 0, Some(1.0));
        let mut other = summary("nade", "raster", 1, Some(2.0));
        assert_eq!(binarizations(&[&one, &other]), "threshold 0.5");
        other.binarization = "stochastic (seed 1)".into();
        assert_eq!(
            binarizations(&[&one, &other, &one]),
            "per run (threshold 0.5; stochastic (seed 1))"
        );
    }
}
