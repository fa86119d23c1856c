//! `arlab submit` against a real Slurm: scripts/slurm_local.sh starts a
//! one-node cluster on localhost; a 4-run sweep goes in as a job array.
//! One task gets Slurm's time-limit warning (USR1) mid-run and must requeue
//! itself and resume; another is cancelled mid-run, and the resubmission
//! must run only that one, resumed. The numbers must equal `--jobs 2`'s.
//!
//! Skipped (with a notice) where Slurm is not installed, unless
//! ARLAB_REQUIRE_TOOLS=1 (scripts/test.sh sets it after installing Slurm).
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;

struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm_local.sh")
}

impl Cluster {
    fn start(work: &Path) -> Cluster {
        let dir = work.join("slurm");
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .env("SLURM_LOCAL_DIR", &dir)
            .env("SLURM_LOCAL_PORT", "16937")
            .output()
            .unwrap();
        assert!(out.status.success(), "cluster start:\n{}", describe(&out));
        Cluster {
            conf: dir.join("slurm.conf"),
            dir,
        }
    }

    fn cmd(&self, program: &str, args: &[&str], cwd: &Path) -> Output {
        Command::new(program)
            .args(args)
            .current_dir(cwd)
            .env("SLURM_CONF", &self.conf)
            // Runs last long enough to be interrupted mid-way on any
            // machine (a 2 ms pause after each step; sbatch passes it on).
            .env("ARLAB_STEP_DELAY_MS", "2")
            .env(
                "PATH",
                format!(
                    "{}:/usr/sbin:/sbin",
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .output()
            .unwrap()
    }

    fn arlab(&self, cwd: &Path, args: &[&str]) -> Output {
        self.cmd(env!("CARGO_BIN_EXE_arlab"), args, cwd)
    }

    /// Sends USR1 to the task's batch shell, as `--signal=B:USR1@90` does
    /// before the time limit. (`scancel --signal=USR1 --batch` reports array
    /// tasks as not alterable and keeps retrying, which would signal the
    /// requeued task again.)
    fn warn_batch_shell(&self, task: &str, cwd: &Path) {
        let raw = text(&ok(self.cmd("squeue", &["-h", "-j", task, "-o", "%A"], cwd)).stdout);
        let pids = text(&ok(self.cmd("scontrol", &["listpids", raw.trim()], cwd)).stdout);
        // The batch shell is the step's local task 0.
        let shell = pids
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[2] == "batch" && f[3] == "0")
            .unwrap_or_else(|| panic!("no batch shell in:\n{pids}"))[0]
            .to_string();
        ok(self.cmd("kill", &["-USR1", &shell], cwd));
    }

    fn gone(&self, job: &str, cwd: &Path) -> bool {
        let out = self.cmd("squeue", &["-h", "-j", job], cwd);
        out.status.success() && text(&out.stdout).trim().is_empty()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .env("SLURM_LOCAL_DIR", &self.dir)
            .output();
    }
}

fn installed() -> bool {
    ["sbatch", "slurmctld", "slurmd", "munged"].iter().all(|p| {
        ["/usr/bin", "/usr/sbin"]
            .iter()
            .any(|d| Path::new(d).join(p).exists())
    })
}

/// The (array job, report job, tasks) of the latest submission.
fn last_submission(exp: &Path) -> (String, String, Vec<u64>) {
    let text = std::fs::read_to_string(exp.join("slurm/submissions.jsonl")).unwrap();
    let row: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let tasks = row["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    (
        row["array_job"].as_str().unwrap().to_string(),
        row["report_job"].as_str().unwrap().to_string(),
        tasks,
    )
}

fn log(exp: &Path, run: &str) -> String {
    std::fs::read_to_string(exp.join(run).join("log.txt")).unwrap_or_default()
}

/// Waits until `run` has finished an epoch (and not the run), i.e. is mid-run.
fn wait_mid_run(exp: &Path, run: &str) {
    let dir = exp.join(run);
    // The end-of-epoch checkpoint (written atomically, after metrics.csv):
    // what an interrupted task resumes from.
    wait_until(
        &format!("{run} to checkpoint its first epoch"),
        Duration::from_secs(120),
        || dir.join("checkpoints/last.ot").exists(),
    );
    assert!(
        !dir.join("summary.json").exists(),
        "{run} finished before it could be interrupted"
    );
}

#[test]
fn a_sweep_runs_as_a_job_array_and_interrupted_tasks_resume() {
    if !installed() {
        assert!(
            std::env::var("ARLAB_REQUIRE_TOOLS").is_err(),
            "Slurm is not installed: run scripts/setup.sh"
        );
        eprintln!("skipped: Slurm is not installed (scripts/setup.sh installs it)");
        return;
    }
    let work = tmp();
    let w = work.path();
    let cluster = Cluster::start(w);
    write_spec(w, "sweep.yaml", &sweep_spec("arr", 10_000, 4));
    let submit = [
        "submit",
        "sweep.yaml",
        "--results",
        "res",
        "--max-parallel",
        "2",
        "--cpus-per-task",
        "1",
    ];
    let out = ok(cluster.arlab(w, &submit));
    assert!(
        text(&out.stdout).contains("--array=0-3%2"),
        "{}",
        describe(&out)
    );
    let exp = w.join("res/arr");
    let (job, report_job, tasks) = last_submission(&exp);
    assert_eq!(tasks, [0, 1, 2, 3]);

    // Task 0: the time-limit warning; it checkpoints, requeues and resumes.
    wait_mid_run(&exp, SWEEP_RUNS[0]);
    cluster.warn_batch_shell(&format!("{job}_0"), w);
    // Task 2: cancelled mid-run; it stays unfinished.
    wait_mid_run(&exp, SWEEP_RUNS[2]);
    ok(cluster.cmd("scancel", &[&format!("{job}_2")], w));
    wait_until("the first report job", Duration::from_secs(240), || {
        cluster.gone(&report_job, w)
    });

    for i in [0, 1, 3] {
        assert_eq!(
            read_json(&exp.join(SWEEP_RUNS[i]).join("summary.json"))["status"],
            "ok"
        );
    }
    assert!(
        log(&exp, SWEEP_RUNS[0]).contains("resuming after epoch"),
        "{}",
        log(&exp, SWEEP_RUNS[0])
    );
    let task0 = std::fs::read_to_string(exp.join(format!("slurm/{job}_0.out"))).unwrap();
    assert!(
        task0.contains("requeueing task 0") && task0.contains("restart 1"),
        "{task0}"
    );
    assert!(!exp.join(SWEEP_RUNS[2]).join("summary.json").exists());
    assert!(exp.join(SWEEP_RUNS[2]).join("checkpoints/last.ot").exists());
    assert!(
        exp.join("report/report.html").exists(),
        "the report job wrote no report"
    );
    let status = text(&ok(cluster.arlab(w, &["status", "res/arr"])).stdout);
    assert!(status.contains("3 done, 1 interrupted"), "{status}");
    assert!(status.contains(&format!("{job}_2")), "{status}");

    // The resubmission runs only the unfinished run, which resumes.
    let mtime = |i: usize| {
        std::fs::metadata(exp.join(SWEEP_RUNS[i]).join("summary.json"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = [0, 1, 3].map(mtime).to_vec();
    let out = ok(cluster.arlab(w, &submit));
    assert!(
        text(&out.stdout).contains("--array=2%2"),
        "{}",
        describe(&out)
    );
    let (_, report_job, tasks) = last_submission(&exp);
    assert_eq!(tasks, [2]);
    wait_until("the second report job", Duration::from_secs(240), || {
        cluster.gone(&report_job, w)
    });
    assert_eq!(
        read_json(&exp.join(SWEEP_RUNS[2]).join("summary.json"))["status"],
        "ok"
    );
    assert!(log(&exp, SWEEP_RUNS[2]).contains("resuming after epoch"));
    assert_eq!(
        [0, 1, 3].map(mtime).to_vec(),
        before,
        "a finished run ran again"
    );
    let html = std::fs::read_to_string(exp.join("report/report.html")).unwrap();
    assert_eq!(
        html.matches("<td>nade-h32</td>").count(),
        2,
        "report lacks runs"
    );
    let out = ok(cluster.arlab(w, &submit));
    assert!(text(&out.stdout).contains("nothing to submit"));

    // The same sweep on two local workers: the same numbers, resumed or not.
    ok(arlab(
        w,
        &[
            "run",
            "sweep.yaml",
            "--results",
            "local",
            "--jobs",
            "2",
            "--quiet",
        ],
    ));
    for run in SWEEP_RUNS {
        let a = test_nll(&exp.join(run));
        let b = test_nll(&w.join("local/arr").join(run));
        assert_eq!(a, b, "{run}: Slurm {a} vs --jobs 2 {b}");
    }
}
