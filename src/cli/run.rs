//! `arlab run`: every run of a spec, by this process or by workers.
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::spec::DeviceChoice;
use crate::sweep::{self, Plan};
use crate::train;

/// Run an experiment: every sweep value × model × ordering × seed of the spec.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The YAML experiment spec.
    spec: PathBuf,
    /// Override a spec value, e.g. `--set train.epochs=2` (repeatable).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    set: Vec<String>,
    /// Results root directory.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// No progress bars or log lines (errors only).
    #[arg(long)]
    pub quiet: bool,
    /// Redo runs that already finished, and start over runs made by another spec.
    #[arg(long)]
    force: bool,
    /// Continue runs (finished or interrupted) whose spec now differs only
    /// in more epochs (`train.epochs`, or the model's `epochs`).
    #[arg(long, conflicts_with = "force")]
    extend: bool,
    /// Worker processes, each taking the next unfinished run.
    #[arg(long, default_value_t = 1, value_name = "N")]
    jobs: usize,
    /// Devices given to the workers in turn, e.g. `cuda:0,cuda:1`.
    #[arg(long, value_delimiter = ',', value_name = "DEVICE,...")]
    devices: Vec<DeviceChoice>,
    /// Run only the run of this index (see `arlab plan`).
    #[arg(long, value_name = "I")]
    task: Option<usize>,
    /// Torch threads of this process (default: libtorch's choice).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Train on this device whatever the spec says.
    #[arg(long, hide = true)]
    device: Option<DeviceChoice>,
    /// Internal: this process is a worker of `--jobs`.
    #[arg(long, hide = true)]
    worker: bool,
}

pub fn run(args: RunArgs) -> Result<()> {
    if args.jobs == 0 {
        bail!("--jobs: must be at least 1");
    }
    if let Some(t) = args.threads {
        tch::set_num_threads(t.max(1) as i32);
    }
    for d in &args.devices {
        // Here, once, naming the flag: not in each worker, naming the spec field.
        d.resolve_as(&format!("--devices {d}"))?;
    }
    crate::runtime::signals::install()?;
    let mut plan = Plan::load(&args.spec, &args.set)?;
    let quiet = args.quiet;
    let opts = sweep::exec::ExecOptions {
        train: train::Options {
            results: args.results,
            quiet,
            force: args.force,
            extend: args.extend,
        },
        jobs: args.jobs,
        devices: args.devices,
        task: args.task,
        worker: args.worker,
        device: args.device,
        spec_path: args.spec,
        set: args.set,
    };
    let finished = sweep::exec::execute(&mut plan, &opts)?;
    let dir = opts.train.results.join(&plan.name);
    if !quiet {
        println!("{finished} run(s) finished; results in {}", dir.display());
        println!("comparison: {}", dir.join("comparison.md").display());
    }
    Ok(())
}
