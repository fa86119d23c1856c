//! `arlab ood`: out-of-distribution detection with a trained run.
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data::Split;
use crate::score::detect::{self, ScoreKind};

/// Out-of-distribution detection: AUROC, AUPRC and FPR at 95% TPR of
/// anomaly scores, in-distribution against each out-distribution.
#[derive(clap::Args, Debug)]
pub struct OodArgs {
    run_dir: PathBuf,
    /// The in-distribution source (default: the run's own).
    #[arg(long = "in", value_name = "SOURCE")]
    in_source: Option<String>,
    /// An out-distribution source (repeatable, at least one).
    #[arg(long = "out", value_name = "SOURCE")]
    out_sources: Vec<String>,
    /// `loglik`, `complexity` or `ratio:RUN_DIR` (repeatable; default:
    /// loglik and complexity).
    #[arg(long = "score", value_name = "SCORE")]
    scores: Vec<String>,
    /// The split of every source that is scored.
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    /// Where the tables and plots go (default: RUN_DIR/ood).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

pub fn run(args: OodArgs) -> Result<()> {
    let req = request(args)?;
    super::check_run_dir(&req.run_dir)?;
    let rows = detect::run(&req)?;
    println!("in-distribution: {}", rows[0].in_data);
    for r in &rows {
        println!(
            "{:<30} {:<40} AUROC {:.4}  AUPRC {:.4}  FPR@95%TPR {:.4}",
            r.out_data, r.score, r.auroc, r.auprc, r.fpr_at_95_tpr
        );
    }
    println!("report: {}", req.report.join("metrics.md").display());
    Ok(())
}

/// The arguments parsed into the library's request.
fn request(args: OodArgs) -> Result<detect::Request> {
    let scores = if args.scores.is_empty() {
        vec![ScoreKind::Loglik, ScoreKind::Complexity]
    } else {
        let parse = |s: &String| s.parse().context("--score");
        args.scores.iter().map(parse).collect::<Result<_>>()?
    };
    let report = args.report.unwrap_or_else(|| args.run_dir.join("ood"));
    let parse = |s: &String, flag: &str| s.parse().with_context(|| format!("{flag} {s}"));
    Ok(detect::Request {
        in_source: args.in_source.map(|s| parse(&s, "--in")).transpose()?,
        out_sources: args
            .out_sources
            .iter()
            .map(|s| parse(s, "--out"))
            .collect::<Result<_>>()?,
        run_dir: args.run_dir,
        scores,
        split: args.split,
        report,
    })
}
