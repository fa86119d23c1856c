//! `arlab ood`: out-of-distribution detection with a trained run.
//!
//! Every image set (the in-distribution and each out-distribution) is scored
//! once; each anomaly score is then derived from those numbers, compared by
//! [`super::ood`]'s metrics, and written as tables and plots.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use tch::Tensor;

use super::ood;
use super::plots as ood_plots;
use crate::data::Source;
use crate::data::{ImageShape, Split};
use crate::results::run::{check_trained_shape, load_model, load_run_data, run_spec, Instance};
use crate::results::{self, RunDir};
use crate::score::{self, ImageScores};
use crate::spec::RunSpec;

/// An anomaly score: higher means more anomalous.
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreKind {
    /// −log p(x), nats.
    Loglik,
    /// −(log p(x) − log p_background(x)), nats (Ren et al. 2019), with the
    /// background model of another run.
    Ratio(PathBuf),
    /// S(x) = −log₂ p(x) − L_PNG(x), bits (Serrà et al. 2020).
    Complexity,
}

impl ScoreKind {
    pub const HELP: &'static str = "use `loglik`, `complexity` or `ratio:RUN_DIR`";
}

impl FromStr for ScoreKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<ScoreKind> {
        Ok(match s {
            "loglik" => ScoreKind::Loglik,
            "complexity" => ScoreKind::Complexity,
            other => match other.strip_prefix("ratio:") {
                Some(dir) if !dir.trim().is_empty() => ScoreKind::Ratio(dir.into()),
                Some(_) => bail!("`ratio:` needs the background run's directory, e.g. `ratio:results/exp/independent-raster-s0`"),
                None => bail!("unknown score {other:?}; {}", ScoreKind::HELP),
            },
        })
    }
}

/// What `arlab ood` was asked to do.
pub struct Request {
    pub run_dir: PathBuf,
    /// The in-distribution source; `None`: the run's own.
    pub in_source: Option<Source>,
    pub out_sources: Vec<Source>,
    pub scores: Vec<ScoreKind>,
    pub split: Split,
    pub report: PathBuf,
}

/// One line of the report: one score against one out-distribution.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub score: String,
    pub in_data: String,
    pub out_data: String,
    pub in_images: usize,
    pub out_images: usize,
    pub auroc: f64,
    pub auprc: f64,
    pub fpr_at_95_tpr: f64,
}

/// A scored image set.
struct Set {
    label: String,
    scores: ImageScores,
    /// log p_background(x) under each background model, in request order.
    background: Vec<Vec<f64>>,
}

/// A background model of a `ratio:` score.
struct Background {
    id: String,
    inst: Instance,
    batch: usize,
}

/// Scores every set, computes the metrics and writes the report; returns the rows.
pub fn run(req: &Request) -> Result<Vec<Row>> {
    if req.out_sources.is_empty() {
        bail!("--out: name at least one out-distribution source");
    }
    for (i, k) in req.scores.iter().enumerate() {
        if req.scores[..i].contains(k) {
            bail!("--score: {k:?} is given twice");
        }
    }
    let dir = RunDir::new(&req.run_dir);
    let run = run_spec(&dir, req.in_source.clone())?;
    let in_data = load_run_data(&dir, &run)?;
    let inst = load_model(&dir, &run, in_data.shape)?;
    let backgrounds = req
        .scores
        .iter()
        .filter_map(|k| match k {
            ScoreKind::Ratio(p) => Some(load_background(p, &run, in_data.shape)),
            _ => None,
        })
        .collect::<Result<Vec<_>>>()?;
    let mut tensors = vec![(
        format!("{} ({})", in_data.spec.source, req.split),
        in_data.split(req.split).shallow_clone(),
    )];
    drop(in_data);
    for src in &req.out_sources {
        tensors.push(load_out(&dir, src, req.split).with_context(|| format!("--out {src}"))?);
    }
    let batch = run.spec.train.eval_batch_size;
    let sets = tensors
        .iter()
        .map(|(label, x)| score_set(label, x, &inst, batch, &backgrounds))
        .collect::<Result<Vec<_>>>()?;
    let rows = write_report(req, &run, &sets, &backgrounds)?;
    Ok(rows)
}

/// An out-distribution source under the run's data settings: its label and
/// the images of `split`.
fn load_out(dir: &RunDir, src: &Source, split: Split) -> Result<(String, Tensor)> {
    let data = load_run_data(dir, &run_spec(dir, Some(src.clone()))?)?;
    let label = format!("{} ({split})", data.spec.source);
    // A shallow clone keeps only this split alive once `data` is dropped.
    Ok((label, data.split(split).shallow_clone()))
}

/// Loads the run in `path` as a background for images of `shape`: it must
/// model the same pixel form and image size as the main run.
fn load_background(path: &Path, run: &RunSpec, shape: ImageShape) -> Result<Background> {
    let what = format!("ratio:{}", path.display());
    let dir = RunDir::new(path);
    if !dir.spec().is_file() {
        bail!(
            "{what}: `{}` is not a run directory (it has no spec.yaml)",
            path.display()
        );
    }
    let bg = run_spec(&dir, None).context(what.clone())?;
    let (mine, theirs) = (run.spec.data.pixels, bg.spec.data.pixels);
    if mine != theirs {
        bail!(
            "{what}: the background run {} models {} pixels, but run {} models {} pixels",
            bg.id(),
            theirs.name(),
            run.id(),
            mine.name()
        );
    }
    check_trained_shape(&dir, &bg, &run.spec.data.source.to_string(), shape)
        .context(what.clone())?;
    let inst = load_model(&dir, &bg, shape).context(what)?;
    Ok(Background {
        id: bg.id(),
        inst,
        batch: bg.spec.train.eval_batch_size,
    })
}

fn score_set(
    label: &str,
    x: &Tensor,
    inst: &Instance,
    batch: usize,
    backgrounds: &[Background],
) -> Result<Set> {
    let scores = score::score_images(inst.model.as_ref(), x, batch, inst.device, label)?;
    let background = backgrounds
        .iter()
        .map(|b| {
            let name = format!("{label} under {}", b.id);
            score::log_probs_with_bar(b.inst.model.as_ref(), x, b.batch, b.inst.device, &name)
        })
        .collect();
    Ok(Set {
        label: label.to_string(),
        scores,
        background,
    })
}

/// The anomaly scores of `set` under score `k` (with the index of its
/// background model, for a ratio).
fn anomaly(k: &ScoreKind, set: &Set, bg: Option<usize>) -> Vec<f64> {
    let lp = &set.scores.log_p;
    match (k, bg) {
        (ScoreKind::Ratio(_), Some(b)) => lp
            .iter()
            .zip(&set.background[b])
            .map(|(m, bg)| -(m - bg))
            .collect(),
        (ScoreKind::Complexity, _) => set.scores.complexity(),
        _ => lp.iter().map(|v| -v).collect(),
    }
}

/// One requested score, resolved: its names and every set's values.
struct Scored {
    /// The name in tables (`loglik`, `complexity`, `ratio:<run id>`).
    name: String,
    /// The file-name part of its plots.
    file: String,
    /// The axis label of its histogram.
    axis: String,
    per_set: Vec<Vec<f64>>,
}

/// Every requested score on every set. The backgrounds were loaded in the
/// order of the `ratio:` scores, so the k-th ratio uses the k-th background.
fn resolve(scores: &[ScoreKind], sets: &[Set], backgrounds: &[Background]) -> Vec<Scored> {
    let mut next = 0;
    scores
        .iter()
        .map(|k| {
            let bg = matches!(k, ScoreKind::Ratio(_)).then(|| {
                next += 1;
                next - 1
            });
            let (name, file, axis) = describe(k, bg.map(|b| &backgrounds[b]));
            let per_set = sets.iter().map(|s| anomaly(k, s, bg)).collect();
            Scored {
                name,
                file,
                axis,
                per_set,
            }
        })
        .collect()
}

/// (name for tables, file-name slug, axis label) of a score.
fn describe(k: &ScoreKind, bg: Option<&Background>) -> (String, String, String) {
    match (k, bg) {
        (ScoreKind::Ratio(_), Some(b)) => (
            format!("ratio:{}", b.id),
            format!("ratio-{}", slug(&b.id)),
            format!("−(log p − log p_bg) (nats), background {}", b.id),
        ),
        (ScoreKind::Complexity, _) => (
            "complexity".into(),
            "complexity".into(),
            "S(x) = −log₂ p(x) − L_PNG(x) (bits)".into(),
        ),
        _ => ("loglik".into(), "loglik".into(), "−log p(x) (nats)".into()),
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Metrics, tables, per-image scores and plots into the report directory.
fn write_report(
    req: &Request,
    run: &RunSpec,
    sets: &[Set],
    backgrounds: &[Background],
) -> Result<Vec<Row>> {
    let out = &req.report;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create report directory `{}`", out.display()))?;
    let scored = resolve(&req.scores, sets, backgrounds);
    let mut rows = Vec::new();
    for s in &scored {
        rows.extend(report_score(s, run, sets, out)?);
    }
    results::write_csv(&out.join("metrics.csv"), &rows)?;
    let md = markdown(run, sets, &rows);
    results::write_atomic(&out.join("metrics.md"), md.as_bytes())?;
    write_scores(&out.join("scores.csv"), sets, &scored)?;
    Ok(rows)
}

/// One score's metrics against each out-distribution (one row each), its
/// histogram and its ROC curves.
fn report_score(s: &Scored, run: &RunSpec, sets: &[Set], out: &Path) -> Result<Vec<Row>> {
    let ins = &s.per_set[0];
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (set, scores) in sets.iter().zip(&s.per_set).skip(1) {
        let m = ood::detection(ins, scores).with_context(|| {
            format!("score {}, {} against {}", s.name, sets[0].label, set.label)
        })?;
        let label = format!("{} (AUROC {:.3})", set.label, m.auroc);
        curves.push((label, ood::roc_curve(ins, scores)));
        rows.push(Row {
            score: s.name.clone(),
            in_data: sets[0].label.clone(),
            out_data: set.label.clone(),
            in_images: ins.len(),
            out_images: scores.len(),
            auroc: m.auroc,
            auprc: m.auprc,
            fpr_at_95_tpr: m.fpr_at_95_tpr,
        });
    }
    let labelled: Vec<(String, Vec<f64>)> = sets
        .iter()
        .zip(&s.per_set)
        .enumerate()
        .map(|(i, (set, v))| {
            let side = if i == 0 { "in:" } else { "out:" };
            (format!("{side} {}", set.label), v.clone())
        })
        .collect();
    let title = format!("{}: {}", run.id(), s.name);
    ood_plots::histogram(&labelled, &title, &s.axis, out, &format!("hist-{}", s.file))?;
    let roc_title = format!("{title}, ROC");
    ood_plots::roc(&curves, &roc_title, out, &format!("roc-{}", s.file))?;
    Ok(rows)
}

/// The report as a markdown table, with the conventions it uses.
fn markdown(run: &RunSpec, sets: &[Set], rows: &[Row]) -> String {
    let mut s = format!("# Out-of-distribution detection with {}\n\n", run.id());
    let _ = writeln!(
        s,
        "In-distribution: {} images of {}; pixels {}, binarization {}.\n",
        sets[0].scores.log_p.len(),
        sets[0].label,
        run.spec.data.pixels.name(),
        crate::data::describe_binarization(&run.spec.data)
    );
    s.push_str(
        "Out-distribution images are the positive class; a higher anomaly score is more \
         anomalous. Scores: `loglik` = −log p(x) (nats); `ratio:RUN` = −(log p(x) − \
         log p_RUN(x)) (nats); `complexity` = −log₂ p(x) − L(x) (bits), L = PNG length.\n\n",
    );
    s.push_str("| out-distribution | images | score | AUROC | AUPRC | FPR@95%TPR |\n");
    s.push_str("|---|---:|---|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} |",
            r.out_data, r.out_images, r.score, r.auroc, r.auprc, r.fpr_at_95_tpr
        );
    }
    s
}

/// `scores.csv`: one row per image of every set, with log p, L and each
/// anomaly score.
fn write_scores(path: &Path, sets: &[Set], scored: &[Scored]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "set".to_string(),
        "index".into(),
        "log_prob_nats".into(),
        "png_bits".into(),
    ];
    header.extend(scored.iter().map(|s| s.name.clone()));
    w.write_record(&header)?;
    for (s, set) in sets.iter().enumerate() {
        for i in 0..set.scores.log_p.len() {
            let mut rec = vec![
                set.label.clone(),
                i.to_string(),
                set.scores.log_p[i].to_string(),
                set.scores.png_bits[i].to_string(),
            ];
            rec.extend(scored.iter().map(|c| c.per_set[s][i].to_string()));
            w.write_record(&rec)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    results::write_atomic(path, &bytes)
}
