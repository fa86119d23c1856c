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
    /// How many samples (drawn 256 at a time; a grid that cannot fit in
    /// memory is refused before sampling).
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
    check_grid_memory(count, dataset.shape)?;
    let images = train::sample_images(inst.model.as_ref(), count, seed);
    plots::sample_grid(&images, dataset.shape, &out)?;
    println!("{count} samples (seed {seed}): {}", out.display());
    Ok(())
}

/// Refuses a grid whose samples (float32) and pixels (8-bit RGB) cannot fit
/// in this machine's memory, before anything is drawn.
fn check_grid_memory(count: i64, shape: crate::data::ImageShape) -> Result<()> {
    // The samples as floats; the grid's pixels, twice (buffer and PNG).
    let per_image = shape.dims() as u128 * 4 + 2 * plots::grid_bytes_per_image(shape);
    let what = format!(
        "--count {count}: a grid of {count} {}×{} samples needs about {} (the samples as floats, \
         the grid's pixels and its PNG)",
        shape.height,
        shape.width,
        crate::device::human_bytes(per_image * count as u128)
    );
    results::memory::check_fits(
        &what,
        per_image * count as u128,
        tch::Device::Cpu,
        "ask for fewer samples",
    )
}
