//! `arlab sample`: a grid of samples from a trained run.
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::results::{self, plots};
use crate::train;

/// Draw samples from a trained run (best checkpoint) into a PNG grid.
#[derive(clap::Args, Debug)]
pub struct SampleArgs {
    /// A run directory, or a model exported as .safetensors (`arlab export`).
    run_dir: PathBuf,
    #[arg(long, default_value_t = 64)]
    count: i64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: SampleArgs) -> Result<()> {
    let SampleArgs {
        run_dir,
        count,
        seed,
        out,
    } = args;
    if count < 1 {
        bail!("--count: must be at least 1, got {count}");
    }
    let (_, dataset, inst) = results::run::load_trained(&run_dir, None)?;
    let images = train::sample_images(inst.model.as_ref(), count, seed);
    plots::sample_grid(&images, dataset.shape, &out)?;
    println!("{count} samples (seed {seed}): {}", out.display());
    Ok(())
}
