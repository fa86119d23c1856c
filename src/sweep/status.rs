//! Where every run of a planned experiment stands, read from the results
//! tree (summary.json, the run's lock, its resume checkpoint) and, for runs
//! a Slurm submission covered, the job id it recorded and squeue's state.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::lock::{is_held, run_lock_path};
use super::{read_manifest, ManifestRow};
use crate::results::RunDir;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Done,
    Failed(String),
    Running,
    /// Stopped with a resume checkpoint, not running now.
    Interrupted,
    NotStarted,
    /// Its summary.json is there but cannot be read (why).
    Unreadable(String),
}

impl State {
    pub fn word(&self) -> &'static str {
        match self {
            State::Done => "done",
            State::Failed(_) => "failed",
            State::Running => "running",
            State::Interrupted => "interrupted",
            State::NotStarted => "not started",
            State::Unreadable(_) => "unreadable",
        }
    }
}

/// The state of run `name` of the experiment in `exp`.
pub fn state(exp: &Path, name: &str) -> State {
    let dir = RunDir::new(exp.join(name));
    if is_held(&run_lock_path(exp, name)) {
        return State::Running;
    }
    match dir.finished_summary() {
        Ok(Some(s)) => match s.failure() {
            None => State::Done,
            Some(why) => State::Failed(why.to_string()),
        },
        Err(e) => State::Unreadable(format!("{e:#}")),
        Ok(None) if dir.last_checkpoint().is_file() => State::Interrupted,
        Ok(None) => State::NotStarted,
    }
}

/// Counts of runs per state, for progress lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub done: usize,
    pub failed: usize,
    pub running: usize,
    pub waiting: usize,
}

pub fn counts<'a>(exp: &Path, names: impl Iterator<Item = &'a str>) -> Counts {
    let mut c = Counts::default();
    for n in names {
        match state(exp, n) {
            State::Done => c.done += 1,
            State::Failed(_) | State::Unreadable(_) => c.failed += 1,
            State::Running => c.running += 1,
            State::Interrupted | State::NotStarted => c.waiting += 1,
        }
    }
    c
}

/// One line of `<experiment>/slurm/submissions.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Submission {
    pub submitted: String,
    pub array_job: String,
    pub report_job: Option<String>,
    pub tasks: Vec<usize>,
}

pub fn read_submissions(exp: &Path) -> Vec<Submission> {
    std::fs::read_to_string(exp.join("slurm").join("submissions.jsonl"))
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `arlab status`: one line per run, then the totals.
pub fn table(exp: &Path) -> Result<String> {
    let rows: Vec<ManifestRow> = read_manifest(&exp.join("runs.jsonl"))?;
    if rows.is_empty() {
        bail!(
            "`{}` has no runs.jsonl: plan the experiment first (`arlab plan SPEC` or `arlab run SPEC`)",
            exp.display()
        );
    }
    // The latest submission that covered each run.
    let mut job: HashMap<usize, String> = HashMap::new();
    let subs = read_submissions(exp);
    for s in &subs {
        for &t in &s.tasks {
            job.insert(t, format!("{}_{t}", s.array_job));
        }
    }
    let queued = squeue_states(subs.iter().map(|s| s.array_job.as_str()));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5}  {:<12} {:<16} run",
        "index", "state", "slurm job"
    );
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        let st = state(exp, &r.name);
        *counts.entry(st.word()).or_default() += 1;
        let slurm = match job.get(&r.index) {
            Some(id) => match queued.get(id) {
                Some(q) => format!("{id} {q}"),
                None => id.clone(),
            },
            None => "—".into(),
        };
        let why = match &st {
            State::Failed(w) | State::Unreadable(w) => format!("  ({w})"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:>5}  {:<12} {:<16} {}{why}",
            r.index,
            st.word(),
            slurm,
            r.name
        );
    }
    let mut words: Vec<String> = [
        "done",
        "running",
        "interrupted",
        "failed",
        "unreadable",
        "not started",
    ]
    .iter()
    .filter_map(|w| counts.get(w).map(|n| format!("{n} {w}")))
    .collect();
    if words.is_empty() {
        words.push("nothing".into());
    }
    let _ = writeln!(out, "{} run(s): {}", rows.len(), words.join(", "));
    Ok(out)
}

/// squeue's state of each array task still known to it (empty when squeue
/// is absent or fails).
fn squeue_states<'a>(jobs: impl Iterator<Item = &'a str>) -> HashMap<String, String> {
    let ids: Vec<&str> = jobs.collect();
    if ids.is_empty() {
        return HashMap::new();
    }
    let out = std::process::Command::new("squeue")
        .args(["-h", "-r", "-t", "all", "-o", "%i %T", "-j", &ids.join(",")])
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, st)| (id.to_string(), st.trim().to_string()))
        .collect()
}
