//! The report's "Orderings ranked" table and its two figures, from the
//! paired comparison of the experiment's runs (results::paired).
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::results::paired::{self, RunScores};
use crate::results::{compare, ranked_tables, RunDir, Summary};

/// One row of the table, as text.
#[derive(Serialize)]
pub struct Row {
    model: String,
    rank: usize,
    ordering: String,
    seeds: usize,
    nll: String,
    delta: String,
    over: String,
}

/// The table, what it means, the runs it had to leave out, and its figures
/// (paths of PNGs in the report's folder).
#[derive(Serialize, Default)]
pub struct Ranking {
    pub rows: Vec<Row>,
    pub explanation: String,
    pub left_out: Vec<String>,
    pub error: Option<String>,
    #[serde(skip)]
    pub figures: Vec<(String, String, std::path::PathBuf)>,
    /// The figures as the report shows them.
    pub figure_views: Vec<super::Figure>,
}

/// Ranks the orderings of each model of `runs` and draws the figures into
/// `out` (names prefixed with `name`).
pub fn of(runs: &[(RunDir, Summary)], name: &str, out: &Path) -> Result<Ranking> {
    let mut scores = Vec::new();
    let mut left_out = Vec::new();
    for (d, s) in runs.iter().filter(|(_, s)| s.test_nll.is_some()) {
        match RunScores::load(d) {
            Ok(r) => scores.push(r),
            Err(e) => left_out.push(format!("{}: {e:#}", s.run)),
        }
    }
    let rankings = match paired::rank_orderings(&scores) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Ranking {
                error: Some(format!("{e:#}")),
                left_out,
                ..Default::default()
            })
        }
    };
    if rankings.is_empty() {
        return Ok(Ranking::default());
    }
    let vs = ranked_tables::against(&rankings);
    let mut rows = Vec::new();
    for r in &rankings {
        let model: String = std::iter::once(r.model.clone())
            .chain(r.swept.iter().map(|w| format!("{}={}", w.label, w.value)))
            .collect::<Vec<_>>()
            .join(" · ");
        for (i, row) in r.rows.iter().enumerate() {
            rows.push(Row {
                model: model.clone(),
                rank: i + 1,
                ordering: row.ordering.clone(),
                seeds: row.seeds,
                nll: format!("{:.3}", row.nll),
                delta: row
                    .delta
                    .as_ref()
                    .map_or(format!("— ({vs})"), ranked_tables::delta_cell),
                over: row.delta.as_ref().map_or(String::new(), |d| d.over_cell()),
            });
        }
    }
    // comparison.tex and the figures, in a folder of their own; the figures
    // also beside the report, like every other figure.
    let dir = out.join(format!("{name}-ranking"));
    std::fs::create_dir_all(&dir)?;
    compare::write_ranking_files(&dir, "comparison", name, &rankings)?;
    let mut figures = Vec::new();
    for (file, title, caption) in [
        (
            "orderings_nll",
            "Test NLL per ordering, 95% CI".to_string(),
            "Mean test NLL of each ordering with its 95% confidence interval (over test images for one seed, over seeds for several).",
        ),
        (
            "orderings_delta",
            format!("Paired Δ vs {vs}, 95% CI"),
            "ΔNLL of each ordering against the model's baseline, paired image by image, with its 95% confidence interval; orange where it excludes 0.",
        ),
    ] {
        let png = out.join(format!("{name}-ranking-{}.png", &file["orderings_".len()..]));
        for ext in ["png", "svg"] {
            std::fs::copy(dir.join(format!("{file}.{ext}")), png.with_extension(ext))?;
        }
        figures.push((title, caption.to_string(), png));
    }
    Ok(Ranking {
        rows,
        explanation: ranked_tables::explanation(vs),
        left_out,
        error: None,
        figures,
        figure_views: Vec::new(),
    })
}
