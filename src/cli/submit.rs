//! `arlab submit`: the unfinished runs of a spec as a Slurm job array.
use std::path::PathBuf;

use anyhow::Result;

use crate::slurm::{self, SubmitOptions};
use crate::sweep::Plan;

/// Submit the unfinished runs of a spec to Slurm as one job array, plus
/// a job that builds the report when the array is over.
#[derive(clap::Args, Debug)]
pub struct SubmitArgs {
    spec: PathBuf,
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    set: Vec<String>,
    #[command(flatten)]
    options: SubmitOptions,
}

pub fn run(args: SubmitArgs) -> Result<()> {
    let mut plan = Plan::load(&args.spec, &args.set)?;
    let opts = &args.options;
    let done = slurm::submit(&mut plan, opts)?;
    if done.tasks.is_empty() {
        println!(
            "nothing to submit: every run of `{}` is done, failed or running (see `arlab status`)",
            plan.name
        );
        return Ok(());
    }
    let array = slurm::array_spec(&done.tasks, opts.max_parallel);
    match (&done.array_job, &done.report_job) {
        (Some(a), Some(r)) => {
            println!("submitted job array {a} (--array={array}, {} run(s)) and report job {r} (afterany:{a})", done.tasks.len());
            println!("script: {}", done.script.display());
        }
        _ => println!(
            "dry run: nothing submitted; script written to {}",
            done.script.display()
        ),
    }
    Ok(())
}
