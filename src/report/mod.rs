//! `arlab report`: one self-contained `report.html` (figures inline as
//! base64, no network) and `report.md` (figures beside it) for one or more
//! experiment directories: the spec, the comparison over seeds, validation
//! curves, test NLL per ordering with the seed spread, sample grids, the
//! orderings drawn, receptive-field pictures where present, and training
//! speed. Every drawn figure is written as PNG and SVG into the output
//! directory. Both pages come from the minijinja templates beside this file.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use minijinja::{context, Environment};
use serde::Serialize;

use crate::order::OrderSpec;
use crate::results::compare::{self, SeedGroup};
use crate::results::figures::{self, Colours, Kind};
use crate::results::{write_atomic, RunDir, Summary};
use crate::sweep::read_manifest;

mod ranking;

const HTML: &str = include_str!("report.html.j2");
const MD: &str = include_str!("report.md.j2");

#[derive(Serialize)]
struct Figure {
    title: String,
    caption: String,
    /// File name in the output directory.
    png: String,
    svg: Option<String>,
    data_uri: String,
}

#[derive(Serialize)]
struct Group {
    model: String,
    ordering: String,
    swept: Vec<String>,
    seeds: usize,
    nll: String,
    bpd: String,
    /// The published number with its source, and mean Δ vs it (`—` where none).
    published: String,
    delta_vs_published: String,
}

#[derive(Serialize)]
struct Speed {
    run: String,
    parameters: i64,
    train_seconds: String,
    train_images_per_s: String,
    eval_images_per_s: String,
    device: String,
}

#[derive(Serialize)]
struct Experiment {
    name: String,
    description: Option<String>,
    data: String,
    runs: usize,
    failed: Vec<String>,
    spec: String,
    swept_keys: Vec<String>,
    /// Whether some model has a published number (the table's two columns).
    published: bool,
    groups: Vec<Group>,
    speed: Vec<Speed>,
    figures: Vec<Figure>,
    /// The orderings of each model ranked with paired intervals.
    ranking: ranking::Ranking,
}

/// Writes report.html, report.md and the figures into `out`; returns the HTML path.
/// Every run whose files cannot be read is named; unless `allow_incomplete`,
/// such runs are an error (nothing is written), else a warning. Nothing is
/// created for a missing experiment directory or one without finished runs.
pub fn write(experiments: &[PathBuf], out: &Path, allow_incomplete: bool) -> Result<PathBuf> {
    if experiments.is_empty() {
        bail!("name at least one experiment directory, RESULTS/EXPERIMENT");
    }
    let mut loaded = Vec::new();
    let mut unreadable = Vec::new();
    for e in experiments {
        let (runs, bad) = summaries(e).with_context(|| format!("report of `{}`", e.display()))?;
        if runs.is_empty() {
            let why = if bad.is_empty() {
                format!("no finished run (no summary.json) in `{}`", e.display())
            } else {
                format!(
                    "no readable finished run in `{}`:\n  {}",
                    e.display(),
                    bad.join("\n  ")
                )
            };
            bail!("report of `{}`: {why}", e.display());
        }
        unreadable.extend(bad);
        loaded.push((e, runs));
    }
    if !unreadable.is_empty() {
        let list = unreadable.join("\n  ");
        if !allow_incomplete {
            bail!(
                "{} run(s) would be left out of the report, their files unreadable:\n  {list}\n\
                 repair or remove them (`arlab run` redoes a run whose summary is removed), \
                 or pass --allow-incomplete to report without them",
                unreadable.len()
            );
        }
        tracing::warn!(
            "warning: {} run(s) left out of the report (--allow-incomplete), their files unreadable:\n  {list}",
            unreadable.len()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    let views = loaded
        .into_iter()
        .map(|(e, runs)| {
            experiment(e, runs, out).with_context(|| format!("report of `{}`", e.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut env = Environment::new();
    env.add_template("report.html", HTML)?;
    env.add_template("report.md", MD)?;
    let title = views
        .iter()
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let ctx = context! {
        title => title,
        generated => crate::runtime::provenance::now_utc(),
        version => env!("CARGO_PKG_VERSION"),
        experiments => views,
    };
    let html = env.get_template("report.html")?.render(&ctx)?;
    let md = env.get_template("report.md")?.render(&ctx)?;
    let path = out.join("report.html");
    write_atomic(&path, html.as_bytes())?;
    write_atomic(&out.join("report.md"), md.as_bytes())?;
    Ok(path)
}

/// Finished runs: each directory and its summary.
type Runs = Vec<(RunDir, Summary)>;

/// The finished runs of an experiment directory: the manifest's order when
/// there is one, else every subdirectory with a summary; and one line per
/// run whose summary.json is there but cannot be read, saying why.
fn summaries(exp: &Path) -> Result<(Runs, Vec<String>)> {
    if !exp.is_dir() {
        bail!("`{}`: no such experiment directory", exp.display());
    }
    let rows = read_manifest(&exp.join("runs.jsonl"))?;
    let names: Vec<String> = if rows.is_empty() {
        let mut v: Vec<String> = std::fs::read_dir(exp)
            .with_context(|| format!("cannot read `{}`", exp.display()))?
            .flatten()
            .filter(|e| e.path().join("summary.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    } else {
        rows.into_iter().map(|r| r.name).collect()
    };
    let (mut runs, mut unreadable) = (Vec::new(), Vec::new());
    for n in names {
        let dir = RunDir::new(exp.join(&n));
        match dir.finished_summary() {
            Ok(Some(s)) => runs.push((dir, s)),
            Ok(None) => {} // not finished
            Err(e) => unreadable.push(format!("run {n}: {e:#}")),
        }
    }
    Ok((runs, unreadable))
}

fn experiment(exp: &Path, runs: Vec<(RunDir, Summary)>, out: &Path) -> Result<Experiment> {
    let Some((first_dir, first)) = runs.first() else {
        bail!("no finished run (no summary.json) in `{}`", exp.display());
    };
    let name = first.experiment.clone();
    let spec = std::fs::read_to_string(exp.join("sweep.yaml"))
        .or_else(|_| std::fs::read_to_string(first_dir.spec()))
        .unwrap_or_default();
    let description =
        crate::spec::Spec::parse(&std::fs::read_to_string(first_dir.spec())?, "spec", &[])
            .ok()
            .and_then(|s| s.description);
    let summaries: Vec<&Summary> = runs.iter().map(|(_, s)| s).collect();
    let keys = compare::swept_keys(summaries.iter().copied());
    let groups: Vec<Group> = compare::seed_groups(summaries.iter().copied())
        .into_iter()
        .map(|g| group(g, &keys))
        .collect();
    let published = summaries.iter().any(|s| s.reference.is_some());
    let speed = summaries
        .iter()
        .map(|s| Speed {
            run: s.run.clone(),
            parameters: s.parameters,
            train_seconds: format!("{:.1}", s.train_seconds),
            train_images_per_s: format!("{:.0}", s.train_images_per_s),
            eval_images_per_s: format!("{:.0}", s.eval_images_per_s),
            device: s
                .provenance
                .as_ref()
                .map_or(s.device.clone(), |p| p.device_name.clone()),
        })
        .collect();
    Ok(Experiment {
        description,
        data: format!(
            "{}, {} pixels, {}×{}×{} (C×H×W), binarization: {}",
            first.data, first.pixels, first.channels, first.height, first.width, first.binarization
        ),
        runs: runs.len(),
        failed: summaries
            .iter()
            .filter_map(|s| s.failure().map(|w| format!("{}: {w}", s.run)))
            .collect(),
        spec,
        swept_keys: keys,
        published,
        groups,
        speed,
        figures: draw_figures(exp, &name, &runs, out)?,
        ranking: ranking_with_figures(&runs, &name, out)?,
        name,
    })
}

/// The ranking, its figures turned into the report's figures.
fn ranking_with_figures(
    runs: &[(RunDir, Summary)],
    name: &str,
    out: &Path,
) -> Result<ranking::Ranking> {
    let mut r = ranking::of(runs, name, out)?;
    r.figure_views = std::mem::take(&mut r.figures)
        .iter()
        .map(|(title, caption, png)| figure(title, caption, png, true))
        .collect::<Result<_>>()?;
    Ok(r)
}

fn group(g: SeedGroup, keys: &[String]) -> Group {
    Group {
        swept: keys
            .iter()
            .map(|k| {
                g.swept
                    .iter()
                    .find(|w| &w.key == k)
                    .map_or("—".into(), |w| w.value.clone())
            })
            .collect(),
        model: g.model,
        ordering: g.ordering,
        seeds: g.seeds,
        // "±" only where there is a spread over seeds to give.
        nll: match g.seeds {
            1 => format!("{:.3}", g.nll.0),
            _ => format!("{:.3} ± {:.3}", g.nll.0, g.nll.1),
        },
        bpd: match g.seeds {
            1 => format!("{:.4}", g.bpd.0),
            _ => format!("{:.4} ± {:.4}", g.bpd.0, g.bpd.1),
        },
        published: g.published.as_ref().map_or("—".into(), |p| p.label()),
        delta_vs_published: g
            .delta_vs_published
            .map_or("—".into(), |d| format!("{d:+.2}")),
    }
}

/// Draws (PNG + SVG) or copies every figure of one experiment into `out`.
fn draw_figures(
    exp: &Path,
    name: &str,
    runs: &[(RunDir, Summary)],
    out: &Path,
) -> Result<Vec<Figure>> {
    let colours = Colours {
        orderings: compare::orderings(runs.iter().map(|(_, s)| s)),
    };
    let mut figs = nll_figures(name, runs, &colours, out)?;
    // Figures drawn elsewhere: (file of the experiment, name here, title, caption).
    let copies = [
        (
            "samples.png",
            "samples.png",
            "Samples",
            "The first row of each run's last sample grid (fixed sampling seed).",
        ),
        (
            "ensemble_nll.png",
            "ensemble-nll.png",
            "Ensembles over orderings",
            "Test NLL of the ensemble of the first N orderings (eval.orderings); crosses: single orderings, dashed: their mean, dotted: runs trained under one ordering.",
        ),
    ];
    for (file, to, title, caption) in copies {
        let to = out.join(format!("{name}-{to}"));
        figs.extend(copied(&exp.join(file), &to, title, caption)?);
    }
    let specs: Vec<OrderSpec> = colours
        .orderings
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    if let (false, Some((_, s))) = (specs.is_empty(), runs.first()) {
        let to = out.join(format!("{name}-orderings.png"));
        crate::order::render::render_overview_with_svg(&specs, s.height, s.width, &to)?;
        figs.push(figure(
            "Orderings",
            "Each ordering's visiting path (dark blue first, yellow last; red dot: start).",
            &to,
            true,
        )?);
    }
    for entry in std::fs::read_dir(exp)?.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.contains("receptive") && file.ends_with(".png") {
            let to = out.join(format!("{name}-{file}"));
            std::fs::copy(entry.path(), &to)?;
            figs.push(figure("Receptive fields", "Gradient magnitude of one conditional over the input pixels (`arlab receptive-field`).", &to, false)?);
        }
    }
    Ok(figs)
}

/// The small multiples of validation NLL curves and of test NLL per
/// ordering, drawn (PNG + SVG) into `out`.
fn nll_figures(
    name: &str,
    runs: &[(RunDir, Summary)],
    colours: &Colours,
    out: &Path,
) -> Result<Vec<Figure>> {
    let summaries = runs.iter().map(|(_, s)| s);
    // (kind, panels, file, what the title says, figure title, caption)
    let charts = [
        (
            Kind::Curves,
            compare::curve_panels(runs),
            "val-nll",
            "validation NLL",
            "Validation NLL",
            "One panel per model and swept values; colour = ordering; one line per seed.",
        ),
        (
            Kind::Spread,
            compare::spread_panels(summaries, colours),
            "test-nll",
            "test NLL",
            "Test NLL per ordering",
            "Dots: seeds; bar: their mean (best-validation checkpoint).",
        ),
    ];
    let mut figs = Vec::new();
    for (kind, panels, file, what, title, caption) in charts {
        let png = out.join(format!("{name}-{file}.png"));
        figures::small_multiples(&panels, colours, kind, &format!("{name}: {what}"), &png)?;
        figs.push(figure(title, caption, &png, true)?);
    }
    Ok(figs)
}

/// `from` copied to `to` as a figure (PNG only), when `from` is there.
fn copied(from: &Path, to: &Path, title: &str, caption: &str) -> Result<Option<Figure>> {
    if !from.is_file() {
        return Ok(None);
    }
    std::fs::copy(from, to).with_context(|| format!("cannot copy `{}`", from.display()))?;
    figure(title, caption, to, false).map(Some)
}

fn figure(title: &str, caption: &str, png: &Path, svg: bool) -> Result<Figure> {
    let bytes = std::fs::read(png).with_context(|| format!("cannot read `{}`", png.display()))?;
    let file = |p: &Path| {
        p.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    Ok(Figure {
        title: title.into(),
        caption: caption.into(),
        png: file(png),
        svg: svg.then(|| file(&png.with_extension("svg"))),
        data_uri: format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
    })
}
