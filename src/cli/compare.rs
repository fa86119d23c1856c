//! `arlab compare`: paired comparisons of finished runs on the same test
//! images, with 95% confidence intervals.
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::results::{self, compare, paired, ranked_tables};

/// Compare finished runs on the same test images: ΔNLL with 95% confidence
/// intervals (paired per image; over seeds when there are several), printed
/// and written as compare.md, compare.csv, compare.tex and figures.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Run directories or experiment directories (every run inside).
    #[arg(required = true, value_name = "RUN_OR_EXPERIMENT")]
    paths: Vec<PathBuf>,
    /// What every Δ is against: an ordering (per model) or a run's name
    /// (default: each model's best ordering).
    #[arg(long, value_name = "ORDERING|RUN")]
    baseline: Option<String>,
    /// Where the tables and figures go.
    #[arg(long, value_name = "DIR", default_value = "compare")]
    out: PathBuf,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let runs = paired::collect(&args.paths)?;
    let rankings = paired::compare(&runs, args.baseline.as_deref())?;
    if rankings.is_empty() {
        bail!(
            "nothing to compare: {} run(s), and no model has two orderings; name a run with \
             --baseline to compare runs with each other",
            runs.len()
        );
    }
    let md = ranked_tables::markdown(&rankings, &[]);
    print!("{md}");
    std::fs::create_dir_all(&args.out)?;
    results::write_atomic(&args.out.join("compare.md"), md.as_bytes())?;
    compare::write_ranking_files(&args.out, "compare", "compare", &rankings)?;
    println!(
        "\n{} run(s) compared: {}/compare.{{md,csv,tex}}, orderings_nll.png, orderings_delta.png",
        runs.len(),
        args.out.display()
    );
    Ok(())
}
