//! `arlab report`: the HTML and Markdown report of experiments.
use std::path::PathBuf;

use anyhow::Result;

/// A self-contained report.html and report.md of one or more experiment
/// directories, with every figure as PNG and SVG beside them.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Experiment directories, `RESULTS/EXPERIMENT`.
    #[arg(required = true)]
    experiments: Vec<PathBuf>,
    /// Where the report goes (default: FIRST_EXPERIMENT/report).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Report without the runs whose files cannot be read (they are named
    /// in a warning); without it such runs are an error.
    #[arg(long)]
    allow_incomplete: bool,
}

pub fn run(args: ReportArgs) -> Result<()> {
    let out = args
        .out
        .unwrap_or_else(|| args.experiments[0].join("report"));
    let path = crate::report::write(&args.experiments, &out, args.allow_incomplete)?;
    println!("report: {}", path.display());
    println!("markdown: {}", out.join("report.md").display());
    Ok(())
}
