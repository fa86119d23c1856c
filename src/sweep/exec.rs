//! Running a plan: in this process (one run after another, leaving runs that
//! another process holds to it), as `--jobs N` worker processes that each
//! take the next unfinished run, or one run alone (`--task I`, what a Slurm
//! array task calls). After each run the comparison files are rebuilt under
//! a short-held lock.
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::lock::{self, Attempt};
use super::status::{self, Counts};
use super::{Plan, PlannedRun};
use crate::data::Dataset;
use crate::results::{compare, RunDir};
use crate::runtime::signals;
use crate::spec::{DeviceChoice, RunSpec};
use crate::train::binding::{self, Binding, Verdict};
use crate::train::{self, Diverged, Interrupted};

/// Settings of `arlab run` beyond the spec.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    pub train: train::Options,
    /// Worker processes (1: this process trains).
    pub jobs: usize,
    /// Devices handed to the workers in turn (`--devices`).
    pub devices: Vec<DeviceChoice>,
    /// Run only the run of this index.
    pub task: Option<usize>,
    /// This process is one of the workers of a `--jobs` parent.
    pub worker: bool,
    /// Replaces every run's `train.device` (a worker's own device).
    pub device: Option<DeviceChoice>,
    /// The spec file and `--set` list, handed on to workers.
    pub spec_path: PathBuf,
    pub set: Vec<String>,
}

/// Runs the plan as `opts` says; returns the number of runs finished.
pub fn execute(plan: &mut Plan, opts: &ExecOptions) -> Result<usize> {
    let exp = plan.experiment_dir(&opts.train.results);
    let guard = lock::acquire_blocking(&exp.join(".locks").join("manifest.lock"))?;
    plan.sync_manifest(&exp)?;
    drop(guard);
    let selected: Vec<PlannedRun> = match opts.task {
        Some(i) => vec![plan.get(i)?.clone()],
        None => plan.runs.clone(),
    };
    if !opts.train.force {
        preflight(&exp, &selected, opts.train.extend)?;
    }
    let opts = &with_jobs_and_devices(opts, selected.len())?;
    if opts.jobs > 1 && opts.task.is_none() {
        return workers(plan, &exp, opts);
    }
    tracing::info!(
        "experiment `{}`: {} of {} run(s) in this process",
        plan.name,
        selected.len(),
        plan.runs.len()
    );
    let held = train_each(plan, &exp, &selected, opts)?;
    finish(plan, &exp, &selected, if opts.worker { &[] } else { &held })
}

/// `opts` with `--jobs` capped at the number of runs (said in a log line;
/// more workers than cores are warned about), and `--devices` used by a
/// process that trains itself: its one device replaces the spec's.
fn with_jobs_and_devices(opts: &ExecOptions, runs: usize) -> Result<ExecOptions> {
    let mut opts = opts.clone();
    if opts.jobs > runs.max(1) {
        tracing::info!(
            "--jobs {}: capped at {} worker(s), one per run of the plan",
            opts.jobs,
            runs.max(1)
        );
        opts.jobs = runs.max(1);
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    if opts.jobs > cores {
        tracing::warn!(
            "warning: --jobs {}: more workers than the {cores} core(s) of this machine; they will share them",
            opts.jobs
        );
    }
    if opts.jobs == 1 && !opts.worker && opts.device.is_none() {
        match opts.devices.as_slice() {
            [] => {}
            [one] => {
                tracing::info!("--devices {one}: this process trains every run on {one}");
                opts.device = Some(*one);
            }
            many => bail!(
                "--devices lists {} devices but one process trains (no --jobs, or one run): \
                 give one device, or --jobs {} to use them all",
                many.len(),
                many.len()
            ),
        }
    }
    Ok(opts)
}

/// Trains the runs one after another; returns the runs other processes held.
fn train_each(
    plan: &Plan,
    exp: &Path,
    runs: &[PlannedRun],
    opts: &ExecOptions,
) -> Result<Vec<String>> {
    let mut data: HashMap<String, Dataset> = HashMap::new();
    let mut held = Vec::new();
    for (k, pr) in runs.iter().enumerate() {
        let name = pr.name();
        let tag = format!("[{}/{}] #{} {name}", k + 1, runs.len(), pr.index);
        let lock_path = lock::run_lock_path(exp, &name);
        let _lock = match lock::try_acquire(&lock_path)? {
            Attempt::Acquired(l) => l,
            Attempt::Held(who) => {
                tracing::info!("{tag}: being run by {who}, left to it");
                held.push(format!(
                    "run `{name}` is already being run by {who} (lock `{}`)",
                    lock_path.display()
                ));
                continue;
            }
        };
        let dir = RunDir::new(exp.join(&name));
        if opts.train.force && !opts.worker {
            start_over(&dir);
        } else if let Some((warn, notice)) = finished_notice(&dir, &pr.run, opts.train.extend)? {
            if warn {
                tracing::warn!("{tag}: {notice}");
            } else {
                tracing::info!("{tag}: {notice}");
            }
            continue;
        }
        let mut run = pr.run.clone();
        if let Some(d) = opts.device {
            run.spec.train.device = d;
        }
        let key = serde_yaml_ng::to_string(&run.spec.data)?;
        if !data.contains_key(&key) {
            data.insert(key.clone(), Dataset::load(&run.spec.data)?);
        }
        tracing::info!("{tag}");
        match train::train_run(&run, &data[&key], &dir, &opts.train) {
            Ok(_) => {}
            Err(e) => match e.downcast::<Diverged>() {
                Ok(d) => tracing::error!(
                    "{tag}: {d}; its last good checkpoint is kept, the other runs go on"
                ),
                Err(e) if e.is::<Interrupted>() => {
                    rebuild_comparison(plan, exp)?;
                    return Err(e);
                }
                Err(e) => return Err(e.context(format!("run {name}"))),
            },
        }
        rebuild_comparison(plan, exp)?;
        if signals::stop_requested() {
            bail!("stopped by a signal after run {name}");
        }
    }
    Ok(held)
}

/// Removes what makes a run finished or resumable (`--force`).
fn start_over(dir: &RunDir) {
    for f in [dir.last_checkpoint(), dir.summary(), dir.binding()] {
        let _ = std::fs::remove_file(f);
    }
}

/// What to say when skipping a run that has a summary.json, and whether
/// as a warning (`None`: it is not finished, or `--extend` continues it);
/// refuses a run made by another spec (see [`binding::check`]).
fn finished_notice(dir: &RunDir, run: &RunSpec, extend: bool) -> Result<Option<(bool, String)>> {
    let done = match dir.finished_summary() {
        Ok(Some(done)) => done,
        Ok(None) => return Ok(None),
        Err(err) => {
            tracing::warn!(
                "{}: {:#}: its results are lost; training it again",
                run.id(),
                err
            );
            return Ok(None);
        }
    };
    let (verdict, _) = binding::check(dir, &Binding::of(run), &run.id(), extend)?;
    let unknown = if verdict == Verdict::Unknown {
        " (no binding.json, made by an older arlab: its spec is not checked)"
    } else {
        ""
    };
    Ok(match (verdict, done.failure()) {
        (Verdict::Extend { .. }, None) if done.stopped_early => bail!(
            "run {} stopped early at epoch {} (no validation improvement within `patience`): \
             --extend has nothing to continue; use --force to start it over, or a new run name (`name:` on the model)",
            run.id(),
            done.epochs_run
        ),
        (Verdict::Extend { .. }, None) => None,
        (Verdict::Extend { .. }, Some(why)) => bail!(
            "run {}: failed earlier ({why}); --extend continues finished runs only: use --force to retry it",
            run.id()
        ),
        (_, None) => Some((
            !unknown.is_empty(),
            format!("already finished, skipped (use --force to redo){unknown}"),
        )),
        (_, Some(why)) => Some((
            true,
            format!("failed earlier ({why}), skipped (use --force to retry){unknown}"),
        )),
    })
}

/// Checks every run of `runs` that has an earlier attempt in `exp` against
/// its binding before anything is trained: one error line per run made by
/// another spec.
pub fn preflight(exp: &Path, runs: &[PlannedRun], extend: bool) -> Result<()> {
    let refused: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            let dir = RunDir::new(exp.join(r.name()));
            let checked = binding::check(&dir, &Binding::of(&r.run), &r.name(), extend);
            checked.err().map(|e| format!("{e:#}"))
        })
        .collect();
    if !refused.is_empty() {
        bail!("{}", refused.join("\n"));
    }
    Ok(())
}

/// Rewrites comparison.{csv,md} and the experiment plots from every
/// finished run, under the experiment's comparison lock.
pub fn rebuild_comparison(plan: &Plan, exp: &Path) -> Result<usize> {
    let _lock = lock::acquire_blocking(&exp.join(".locks").join("comparison.lock"))?;
    let ids: Vec<String> = plan.runs.iter().map(PlannedRun::name).collect();
    compare::write(exp, &plan.name, &ids)
}

/// The final word on the selected runs: an error naming failed runs and
/// runs left to other processes.
fn finish(plan: &Plan, exp: &Path, runs: &[PlannedRun], held: &[String]) -> Result<usize> {
    rebuild_comparison(plan, exp)?;
    let mut failed = Vec::new();
    let mut finished = 0;
    for r in runs {
        if let Ok(s) = RunDir::new(exp.join(r.name())).read_summary() {
            finished += 1;
            if let Some(why) = s.failure() {
                failed.push(format!("{}: {why}", s.run));
            }
        }
    }
    let mut msg = Vec::new();
    if !failed.is_empty() {
        msg.push(format!(
            "{} of {} run(s) failed (see comparison.md):\n  {}",
            failed.len(),
            finished,
            failed.join("\n  ")
        ));
    }
    if !held.is_empty() {
        msg.push(format!(
            "{}; wait for it to finish or stop it",
            held.join("; ")
        ));
    }
    if !msg.is_empty() {
        bail!("{}", msg.join("\n"));
    }
    Ok(finished)
}

/// Starts `opts.jobs` workers, shows the sweep's progress, waits for them.
fn workers(plan: &Plan, exp: &Path, opts: &ExecOptions) -> Result<usize> {
    let n = opts.jobs;
    if opts.train.force {
        // Start over, here: a worker's --force would undo another's runs.
        for r in &plan.runs {
            if let Attempt::Acquired(_) = lock::try_acquire(&lock::run_lock_path(exp, &r.name()))? {
                start_over(&RunDir::new(exp.join(r.name())));
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let threads = (cores / n).max(1);
    let mut children: Vec<Child> = Vec::new();
    for k in 0..n {
        let mut cmd =
            Command::new(std::env::current_exe().context("cannot find the arlab binary")?);
        cmd.arg("run").arg(&opts.spec_path);
        for s in &opts.set {
            cmd.arg("--set").arg(s);
        }
        cmd.arg("--results").arg(&opts.train.results);
        cmd.args(["--quiet", "--worker"]);
        if opts.train.extend {
            cmd.arg("--extend");
        }
        let device = opts.devices.get(k % opts.devices.len().max(1)).copied();
        if let Some(d) = device {
            cmd.arg("--device").arg(d.to_string());
        }
        if device.is_none_or(|d| d == DeviceChoice::Cpu) {
            cmd.arg("--threads").arg(threads.to_string());
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        children.push(cmd.spawn().context("cannot start a worker process")?);
    }
    tracing::info!(
        "experiment `{}`: {} run(s) on {n} worker process(es), {threads} torch thread(s) each on the CPU",
        plan.name,
        plan.runs.len()
    );
    let codes = watch(plan, exp, &mut children, opts.train.quiet)?;
    let bad: Vec<String> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.success())
        .map(|(k, c)| format!("worker {k} {c}"))
        .collect();
    let finished = finish(plan, exp, &plan.runs, &[])?;
    if !bad.is_empty() {
        bail!("{} (its error is above)", bad.join(", "));
    }
    Ok(finished)
}

/// Polls the workers until all exit, printing the sweep's progress; a
/// SIGTERM/SIGUSR1 to this process is passed on to them.
fn watch(
    plan: &Plan,
    exp: &Path,
    children: &mut [Child],
    quiet: bool,
) -> Result<Vec<std::process::ExitStatus>> {
    let start = Instant::now();
    let names: Vec<String> = plan.runs.iter().map(PlannedRun::name).collect();
    let first = status::counts(exp, names.iter().map(String::as_str));
    let tty = std::io::stderr().is_terminal();
    let mut last = None;
    let mut forwarded = false;
    let mut codes = vec![None; children.len()];
    loop {
        for (c, code) in children.iter_mut().zip(codes.iter_mut()) {
            if code.is_none() {
                *code = c.try_wait()?;
            }
        }
        if signals::stop_requested() && !forwarded {
            for c in children.iter() {
                // SAFETY: kill(2) on our own child's pid, no memory involved.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            }
            forwarded = true;
        }
        let now = status::counts(exp, names.iter().map(String::as_str));
        let all_done = codes.iter().all(Option::is_some);
        if !quiet && (tty || Some(now) != last || all_done) {
            let line = progress_line(&plan.name, now, first, start.elapsed());
            if tty {
                eprint!("\r\x1b[2K{line}");
                if all_done {
                    eprintln!();
                }
            } else if Some(now) != last {
                eprintln!("{line}");
            }
            let _ = std::io::stderr().flush();
        }
        last = Some(now);
        if all_done {
            return Ok(codes.into_iter().map(|c| c.expect("all exited")).collect());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `sweep NAME: 3/8 done, 2 running, 0 failed, 3 waiting, 1m20s, ETA 2m10s`.
pub fn progress_line(name: &str, now: Counts, first: Counts, elapsed: Duration) -> String {
    let total = now.done + now.failed + now.running + now.waiting;
    let ended_here = (now.done + now.failed).saturating_sub(first.done + first.failed);
    let left = now.running + now.waiting;
    let eta = if ended_here > 0 && left > 0 {
        let per = elapsed.as_secs_f64() / ended_here as f64;
        format!(", ETA {}", minutes(per * left as f64))
    } else {
        String::new()
    };
    format!(
        "sweep {name}: {}/{total} done, {} running, {} failed, {} waiting, {}{eta}",
        now.done,
        now.running,
        now.failed,
        now.waiting,
        minutes(elapsed.as_secs_f64())
    )
}

fn minutes(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_counts_and_estimates_from_runs_ended_here() {
        let first = Counts {
            done: 2,
            failed: 0,
            running: 0,
            waiting: 6,
        };
        let now = Counts {
            done: 4,
            failed: 1,
            running: 2,
            waiting: 1,
        };
        // 3 runs ended in 90 s: 30 s each for the 3 left.
        let line = progress_line("sw", now, first, Duration::from_secs(90));
        assert_eq!(
            line,
            "sweep sw: 4/8 done, 2 running, 1 failed, 1 waiting, 1m30s, ETA 1m30s"
        );
        let start = progress_line("sw", first, first, Duration::from_secs(5));
        assert_eq!(
            start,
            "sweep sw: 2/8 done, 0 running, 0 failed, 6 waiting, 5s"
        );
    }
}
