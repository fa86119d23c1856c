//! `arlab export`: a run's best checkpoint as one .safetensors file.
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::results;

/// Write a run's best checkpoint as one .safetensors file with the run's
/// spec in its metadata (for Python; `arlab eval` takes it as a run).
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    run_dir: PathBuf,
    #[arg(long, value_name = "FILE.safetensors")]
    out: PathBuf,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let out = &args.out;
    if !results::run::is_exported(out) {
        bail!("--out: name the file `….safetensors`, got `{}`", out.display());
    }
    let dir = super::check_run_dir(&args.run_dir)?;
    results::run::export(&dir, out)?;
    let header = results::safetensors::read_header(out)?;
    println!(
        "{}: best checkpoint exported to {} ({} bytes)",
        header.run,
        out.display(),
        std::fs::metadata(out)?.len()
    );
    Ok(())
}
