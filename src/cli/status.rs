//! `arlab status`: the state of every run of an experiment.
use std::path::PathBuf;

use anyhow::Result;

/// The state of every run of an experiment (done, running, interrupted,
/// failed, not started) with its Slurm job id.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The experiment directory, `RESULTS/EXPERIMENT`.
    experiment: PathBuf,
}

pub fn run(args: StatusArgs) -> Result<()> {
    print!("{}", crate::sweep::status::table(&args.experiment)?);
    Ok(())
}
