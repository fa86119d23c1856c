//! `arlab plan`: the runs of a spec with their indices, and the manifest.
use std::path::PathBuf;

use anyhow::Result;

use crate::sweep::{self, Plan};

/// List every run of a spec with its stable index and write the manifest
/// `<results>/<experiment>/runs.jsonl`.
#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    spec: PathBuf,
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    set: Vec<String>,
    #[arg(long, default_value = "results")]
    results: PathBuf,
}

pub fn run(args: PlanArgs) -> Result<()> {
    let mut plan = Plan::load(&args.spec, &args.set)?;
    let dir = plan.experiment_dir(&args.results);
    plan.sync_manifest(&dir)?;
    let axes = super::describe_axes(&plan);
    println!(
        "experiment `{}`: {} run(s){}",
        plan.name,
        plan.runs.len(),
        if axes.is_empty() {
            String::new()
        } else {
            format!(", sweeping {}", axes.join(", "))
        }
    );
    for r in &plan.runs {
        let state = sweep::status::state(&dir, &r.name());
        println!("{:>5}  {:<12} {}", r.index, state.word(), r.name());
    }
    println!("manifest: {}", dir.join("runs.jsonl").display());
    Ok(())
}
