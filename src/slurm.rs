//! `arlab submit`: the unfinished runs of a plan as one Slurm job array
//! (`<results>/<experiment>/slurm/sweep.sbatch`, one task per run index)
//! plus a job that builds the report once the array is over (`afterany`).
//! Each task traps the warning signal Slurm sends before a time limit or
//! preemption (`--signal=B:USR1@90`), passes it to arlab, which writes its
//! resume checkpoint at the next step boundary and exits, and requeues
//! itself (at most `--max-requeues` times) to resume exactly there.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::sweep::status::{self, State, Submission};
use crate::sweep::{lock, Plan};

/// `arlab submit` settings, as the command line gives them (the doc
/// comments are its help).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SubmitOptions {
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task, e.g. `2:00:00`.
    #[arg(long)]
    pub time: Option<String>,
    #[arg(long, value_name = "G")]
    pub gpus_per_task: Option<u32>,
    #[arg(long, value_name = "C")]
    pub cpus_per_task: Option<u32>,
    /// Memory per node, e.g. `8G`.
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    /// Array tasks running at once.
    #[arg(long, value_name = "K")]
    pub max_parallel: Option<u32>,
    /// Another sbatch option for the array, e.g. `--sbatch-arg=--qos=low` (repeatable).
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Requeues of a task after the time-limit warning, at most.
    #[arg(long, default_value_t = 3)]
    pub max_requeues: u32,
    /// Print the scripts, submit nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What a submission did.
#[derive(Debug)]
pub struct Submitted {
    pub tasks: Vec<usize>,
    pub array_job: Option<String>,
    pub report_job: Option<String>,
    pub script: PathBuf,
}

/// Writes the scripts and, unless a dry run, submits the array and the report job.
pub fn submit(plan: &mut Plan, o: &SubmitOptions) -> Result<Submitted> {
    let exp = plan.experiment_dir(&o.results);
    {
        let _guard = lock::acquire_blocking(&exp.join(".locks").join("manifest.lock"))?;
        plan.sync_manifest(&exp)?;
    }
    // A run made by another spec is refused here, not by its array task.
    crate::sweep::exec::preflight(&exp, &plan.runs, false)?;
    let exp = exp
        .canonicalize()
        .with_context(|| format!("cannot resolve `{}`", exp.display()))?;
    let dir = exp.join("slurm");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let tasks: Vec<usize> = plan
        .runs
        .iter()
        .filter(|r| {
            matches!(
                status::state(&exp, &r.name()),
                State::NotStarted | State::Interrupted
            )
        })
        .map(|r| r.index)
        .collect();
    let script = dir.join("sweep.sbatch");
    if tasks.is_empty() {
        return Ok(Submitted {
            tasks,
            array_job: None,
            report_job: None,
            script,
        });
    }
    let spec = dir.join("spec.yaml");
    crate::results::write_atomic(&spec, plan.yaml.as_bytes())?;
    let arlab = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot find the arlab binary")?;
    let results = exp
        .parent()
        .context("the experiment directory has no parent")?;
    let array = array_script(plan, o, &tasks, &arlab, &spec, results, &dir);
    let report = report_script(plan, o, &arlab, &exp, &dir);
    crate::results::write_atomic(&script, array.as_bytes())?;
    crate::results::write_atomic(&dir.join("report.sbatch"), report.as_bytes())?;
    if o.dry_run {
        println!("{array}\n# --- report.sbatch (submitted with --dependency=afterany:<array job>) ---\n{report}");
        return Ok(Submitted {
            tasks,
            array_job: None,
            report_job: None,
            script,
        });
    }
    let array_job = sbatch(&[script.as_os_str()])?;
    let dep = format!("--dependency=afterany:{array_job}");
    let report_job = sbatch(&[dep.as_ref(), dir.join("report.sbatch").as_os_str()])?;
    let row = Submission {
        submitted: crate::runtime::provenance::now_utc(),
        array_job: array_job.clone(),
        report_job: Some(report_job.clone()),
        tasks: tasks.clone(),
    };
    let mut line = serde_json::to_string(&row)?;
    line.push('\n');
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("submissions.jsonl"))
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .context("cannot record the submission in slurm/submissions.jsonl")?;
    Ok(Submitted {
        tasks,
        array_job: Some(array_job),
        report_job: Some(report_job),
        script,
    })
}

/// `sbatch --parsable ARGS`; returns the job id.
fn sbatch(args: &[&std::ffi::OsStr]) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .context(
            "cannot run `sbatch`: is Slurm installed and on PATH? (see scripts/slurm_local.sh)",
        )?;
    if !out.status.success() {
        bail!(
            "sbatch failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        bail!("sbatch printed no job id");
    }
    Ok(id)
}

/// `0-3,7,9-10`, with `%K` when given.
pub fn array_spec(tasks: &[usize], max_parallel: Option<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tasks.len() {
        let mut j = i;
        while j + 1 < tasks.len() && tasks[j + 1] == tasks[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", tasks[i], tasks[j])
        } else {
            tasks[i].to_string()
        });
        i = j + 1;
    }
    let mut s = parts.join(",");
    if let Some(k) = max_parallel {
        let _ = write!(s, "%{k}");
    }
    s
}

/// Single-quotes a string for bash.
fn q(s: impl AsRef<std::ffi::OsStr>) -> String {
    format!("'{}'", s.as_ref().to_string_lossy().replace('\'', r"'\''"))
}

fn resources(o: &SubmitOptions, tasks: bool) -> String {
    let mut s = String::new();
    if let Some(p) = &o.partition {
        let _ = writeln!(s, "#SBATCH --partition={p}");
    }
    if let Some(t) = &o.time {
        let _ = writeln!(s, "#SBATCH --time={t}");
    }
    if let Some(m) = &o.mem {
        let _ = writeln!(s, "#SBATCH --mem={m}");
    }
    if tasks {
        if let Some(g) = o.gpus_per_task {
            let _ = writeln!(s, "#SBATCH --gpus-per-task={g}");
        }
        if let Some(c) = o.cpus_per_task {
            let _ = writeln!(s, "#SBATCH --cpus-per-task={c}");
        }
        for a in &o.sbatch_args {
            let _ = writeln!(s, "#SBATCH {a}");
        }
    }
    s
}

fn array_script(
    plan: &Plan,
    o: &SubmitOptions,
    tasks: &[usize],
    arlab: &Path,
    spec: &Path,
    results: &Path,
    dir: &Path,
) -> String {
    format!(
        r#"#!/bin/bash
# Written by `arlab submit`: one array task per unfinished run of the
# manifest {manifest}; `arlab submit` again submits what is still unfinished.
#SBATCH --job-name=arlab-{name}
#SBATCH --array={array}
#SBATCH --output={out}
#SBATCH --open-mode=append
#SBATCH --signal=B:USR1@90
#SBATCH --requeue
{resources}
MAX_REQUEUES={max_requeues}
echo "arlab: task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname), restart ${{SLURM_RESTART_COUNT:-0}}"
{arlab} run {spec} --results {results} --task "$SLURM_ARRAY_TASK_ID" --quiet ${{SLURM_CPUS_PER_TASK:+--threads $SLURM_CPUS_PER_TASK}} &
pid=$!
# Before the time limit (USR1): arlab checkpoints at the next step and exits;
# the task is requeued and resumes there.
on_usr1() {{
  kill -USR1 "$pid" 2>/dev/null
  wait "$pid"; rc=$?
  if [ "$rc" -ne 0 ] && [ "${{SLURM_RESTART_COUNT:-0}}" -lt "$MAX_REQUEUES" ]; then
    echo "arlab: requeueing task $SLURM_ARRAY_TASK_ID"
    scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
  fi
  exit "$rc"
}}
trap on_usr1 USR1
wait "$pid"
"#,
        manifest = plan.experiment_dir(results).join("runs.jsonl").display(),
        name = plan.name,
        array = array_spec(tasks, o.max_parallel),
        out = dir.join("%A_%a.out").display(),
        resources = resources(o, true),
        max_requeues = o.max_requeues,
        arlab = q(arlab),
        spec = q(spec),
        results = q(results),
    )
}

fn report_script(plan: &Plan, o: &SubmitOptions, arlab: &Path, exp: &Path, dir: &Path) -> String {
    format!(
        "#!/bin/bash\n# Written by `arlab submit`: the report, once the array is over.\n\
         #SBATCH --job-name=arlab-{name}-report\n#SBATCH --output={out}\n{resources}\n\
         {arlab} report {exp} --out {report}\n",
        name = plan.name,
        out = dir.join("report-%j.out").display(),
        resources = resources(o, false),
        arlab = q(arlab),
        exp = q(exp),
        report = q(exp.join("report")),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn array_specs_compress_ranges() {
        assert_eq!(super::array_spec(&[0, 1, 2, 3], None), "0-3");
        assert_eq!(super::array_spec(&[3, 7, 12], Some(2)), "3,7,12%2");
        assert_eq!(
            super::array_spec(&[1, 2, 5, 7, 8, 9], Some(4)),
            "1-2,5,7-9%4"
        );
    }
}
