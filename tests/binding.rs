//! A run directory is bound to the spec that made it (`binding.json`):
//! resuming or skipping it under another spec is refused, naming the keys
//! that differ, before anything is written; `--extend` alone continues a run
//! to more epochs and records where; runs without a binding (an older
//! arlab) go on with a warning.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use proptest::prelude::*;

/// A named NADE (its directory keeps its name when `hidden` changes).
const NAMED: &str = "  - type: nade\n    name: mine\n    hidden: 8\n";

fn spec(work: &Path, train: &str) -> PathBuf {
    write_spec(work, "b.yaml", &spec_text("b", 4, NAMED, "[raster]", train))
}

fn run(work: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", "b.yaml", "--results", "res"];
    args.extend_from_slice(extra);
    arlab(work, &args)
}

fn run_dir(work: &Path) -> PathBuf {
    work.join("res/b/mine-raster-s1")
}

/// The files a refusal must leave as they were.
fn snapshot(dir: &Path) -> Vec<Vec<u8>> {
    [
        "spec.yaml",
        "binding.json",
        "metrics.csv",
        "checkpoints/last.ot",
    ]
    .iter()
    .map(|f| std::fs::read(dir.join(f)).unwrap_or_default())
    .collect()
}

/// A run trained to the end, then made "interrupted" (its resume
/// checkpoint without a summary), as reliability.rs does.
fn interrupted(work: &Path) -> PathBuf {
    spec(work, "");
    ok(run(work, &["--quiet"]));
    let dir = run_dir(work);
    std::fs::remove_file(dir.join("summary.json")).unwrap();
    dir
}

/// `arlab run --set SET` in `w` is refused with every needle, and leaves
/// the run directory as it was; returns stderr.
#[track_caller]
fn refused(w: &Path, set: &str, needles: &[&str]) -> String {
    let before = snapshot(&run_dir(w));
    let err = fails(run(w, &["--quiet", "--set", set]), needles);
    assert_eq!(snapshot(&run_dir(w)), before, "a refusal wrote something");
    err
}

#[test]
fn a_changed_lr_after_an_interruption_is_refused() {
    let work = tmp();
    let w = work.path();
    let dir = interrupted(w);
    let needles = [
        "mine-raster-s1",
        "train.lr: 0.001 → 0.05",
        "--force",
        "name:",
    ];
    let err = refused(w, "train.lr=0.05", &needles);
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    // The way out: --force starts over under the new spec.
    ok(run(w, &["--quiet", "--set", "train.lr=0.05", "--force"]));
    let (_, rows) = read_csv(&dir.join("metrics.csv"));
    assert!(rows.iter().all(|r| r[3] == "0.05"), "{rows:?}");
    let spec = std::fs::read_to_string(dir.join("spec.yaml")).unwrap();
    assert!(spec.contains("lr: 0.05"), "{spec}");
}

#[test]
fn a_changed_batch_size_mid_epoch_is_refused() {
    let work = tmp();
    let w = work.path();
    // 40 steps an epoch, 40 ms each: SIGTERM lands inside the first epoch.
    spec(w, "  sample_every: 0\n");
    let text = std::fs::read_to_string(w.join("b.yaml"))
        .unwrap()
        .replace("train: 200", "train: 2000");
    std::fs::write(w.join("b.yaml"), text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_arlab"))
        .env("ARLAB_STEP_DELAY_MS", "40")
        .args(["run", "b.yaml", "--results", "res", "--quiet"])
        .current_dir(w)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = run_dir(w);
    wait_until("training to start", Duration::from_secs(60), || {
        std::fs::read_to_string(dir.join("log.txt")).is_ok_and(|l| l.contains("parameters"))
    });
    std::thread::sleep(Duration::from_millis(300));
    terminate(child);
    let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
    assert!(log.contains("stopped by a signal at epoch 1 step"), "{log}");
    refused(
        w,
        "train.batch_size=7",
        &["train.batch_size: 50 → 7", "--force"],
    );
}

#[test]
fn a_changed_hidden_on_an_interrupted_named_run_names_the_key() {
    let work = tmp();
    let w = work.path();
    interrupted(w);
    let err = refused(
        w,
        "models.0.hidden=16",
        &["model.hidden: 8 → 16", "--force", "name:"],
    );
    assert!(!err.contains("unreadable or partial"), "{err}");
    assert!(!err.contains("shape"), "{err}");
}

#[test]
fn a_finished_run_asked_for_more_epochs_is_refused_then_extended() {
    let work = tmp();
    let w = work.path();
    spec(w, "");
    ok(run(w, &["--quiet"]));
    let dir = run_dir(w);
    let (_, first) = read_csv(&dir.join("metrics.csv"));
    refused(
        w,
        "train.epochs=4",
        &["train.epochs: 2 → 4", "--extend", "--force"],
    );

    let out = ok(run(w, &["--set", "train.epochs=4", "--extend"]));
    assert!(
        text(&out.stderr).contains("extending from epoch 2 to 4"),
        "{}",
        describe(&out)
    );
    let (header, rows) = read_csv(&dir.join("metrics.csv"));
    assert_eq!(header.len(), 6);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[..2], first[..], "the first two epochs are kept");
    let summary = read_json(&dir.join("summary.json"));
    assert_eq!(summary["extended_from_epoch"], 2);
    assert_eq!(summary["epochs_run"], 4);
    let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
    assert!(
        log.contains("extending from epoch 2 to 4 (--extend)"),
        "{log}"
    );
    // Bound to the 4-epoch spec now: skipped without a word.
    let out = ok(run(w, &["--set", "train.epochs=4"]));
    assert!(text(&out.stderr).contains("already finished, skipped"));
    // Fewer epochs is no extension.
    let out = run(w, &["--quiet", "--extend"]);
    fails(out, &["train.epochs: 4 → 2"]);
}

#[test]
fn runs_that_stopped_early_or_failed_are_not_extended() {
    let work = tmp();
    let w = work.path();
    // lr 1e38 diverges in epoch 1; at lr 1 the NADE's validation NLL rises
    // in epoch 3 (9.46 after 9.38), so patience 1 stops it there, of 6.
    let boom = "  - type: fvsbn\n    name: boom\n    lr: 1.0e+38\n";
    let calm = "  - type: nade\n    name: calm\n    hidden: 8\n    lr: 1.0\n";
    let both = spec_text(
        "b",
        4,
        &format!("{boom}{calm}"),
        "[raster]",
        "  patience: 1\n",
    );
    write_spec(w, "b.yaml", &both.replace("epochs: 2", "epochs: 6"));
    fails(run(w, &["--quiet"]), &["boom-raster-s1", "diverged"]);
    let dir = w.join("res/b/calm-raster-s1");
    assert_eq!(read_json(&dir.join("summary.json"))["stopped_early"], true);
    let before = snapshot(&dir);
    let out = run(w, &["--quiet", "--set", "train.epochs=9", "--extend"]);
    fails(out, &["boom-raster-s1: failed earlier", "--force"]);
    let alone = spec_text("b", 4, calm, "[raster]", "  patience: 1\n");
    write_spec(w, "b.yaml", &alone.replace("epochs: 2", "epochs: 6"));
    let out = run(w, &["--quiet", "--set", "train.epochs=9", "--extend"]);
    fails(out, &["calm-raster-s1 stopped early", "--force"]);
    assert_eq!(snapshot(&dir), before);
    assert!(dir.join("summary.json").is_file());
}

#[test]
fn workers_refuse_and_extend_like_one_process() {
    let work = tmp();
    let w = work.path();
    let models = "  - type: nade\n    hidden: 8\n  - type: fvsbn\n";
    write_spec(w, "b.yaml", &spec_text("b", 4, models, "[raster]", ""));
    ok(run(w, &["--quiet", "--jobs", "2"]));
    let out = run(w, &["--quiet", "--jobs", "2", "--set", "train.epochs=3"]);
    let err = fails(out, &["nade-h8-raster-s1", "fvsbn-raster-s1", "--extend"]);
    assert_eq!(err.matches("train.epochs: 2 → 3").count(), 2, "{err}");
    ok(run(
        w,
        &[
            "--quiet",
            "--jobs",
            "2",
            "--set",
            "train.epochs=3",
            "--extend",
        ],
    ));
    for r in ["nade-h8-raster-s1", "fvsbn-raster-s1"] {
        let s = read_json(&w.join("res/b").join(r).join("summary.json"));
        assert_eq!(s["extended_from_epoch"], 2, "{r}");
        assert_eq!(s["epochs_run"], 3, "{r}");
    }
}

#[test]
fn cosmetic_changes_are_not_a_different_spec() {
    let work = tmp();
    let w = work.path();
    let dir = interrupted(w);
    ok(run(
        w,
        &[
            "--quiet",
            "--set",
            "train.samples=8",
            "--set",
            "train.sample_every=2",
            "--set",
            "description=again",
            "--set",
            "train.eval_batch_size=7",
        ],
    ));
    assert_eq!(read_json(&dir.join("summary.json"))["status"], "ok");
}

#[test]
fn runs_of_an_older_arlab_without_a_binding_go_on_with_a_warning() {
    let work = tmp();
    let w = work.path();
    let dir = interrupted(w);
    std::fs::remove_file(dir.join("binding.json")).unwrap();
    let out = ok(run(w, &[]));
    let err = text(&out.stderr);
    assert!(err.contains("no binding.json"), "{err}");
    assert!(err.contains("resuming after epoch 2"), "{err}");
    // Bound from now on.
    assert!(dir.join("binding.json").is_file());
    std::fs::remove_file(dir.join("binding.json")).unwrap();
    let out = ok(run(w, &[]));
    let err = text(&out.stderr);
    assert!(err.contains("already finished, skipped"), "{err}");
    assert!(err.contains("older arlab"), "{err}");
}

/// A `--set` path, the key the refusal names, and a changed value made
/// from a number (never the spec's own value).
type Field = (&'static str, &'static str, fn(u16) -> String);

/// Result-relevant fields of the spec.
const FIELDS: [Field; 13] = [
    ("train.lr", "train.lr", |n| format!("0.{:04}7", n % 9000)),
    ("train.batch_size", "train.batch_size", |n| {
        (51 + n % 100).to_string()
    }),
    ("train.weight_decay", "train.weight_decay", |n| {
        format!("0.{}", 1 + n % 99)
    }),
    ("train.grad_clip", "train.grad_clip", |n| {
        format!("{}.5", 1 + n % 9)
    }),
    ("train.schedule", "train.schedule", |n| {
        ["cosine", "step"][n as usize % 2].into()
    }),
    ("train.gamma", "train.gamma", |n| format!("0.{}", 1 + n % 4)),
    ("train.patience", "train.patience", |n| {
        (1 + n % 5).to_string()
    }),
    ("train.val_every", "train.val_every", |n| {
        (2 + n % 5).to_string()
    }),
    ("train.betas", "train.betas.0", |n| {
        format!("[0.{}, 0.999]", 1 + n % 8)
    }),
    ("models.0.hidden", "model.hidden", |n| {
        (9 + n % 40).to_string()
    }),
    ("models.0.lr", "model.lr", |n| format!("0.0{}", 2 + n % 8)),
    ("data.synthetic.seed", "data.synthetic.seed", |n| {
        (6 + n % 100).to_string()
    }),
    ("data.threshold", "data.threshold", |n| {
        format!("0.{}", 1 + n % 4)
    }),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Resuming under any single changed result-relevant field is refused,
    /// naming it, and leaves the run directory as it was.
    #[test]
    fn resuming_under_any_changed_field_is_refused(field in 0..FIELDS.len(), n in any::<u16>()) {
        thread_local! {
            static WORK: tempfile::TempDir = {
                let work = tmp();
                interrupted(work.path());
                work
            };
        }
        let (path, key, value) = FIELDS[field];
        let set = format!("{path}={}", value(n));
        WORK.with(|work| {
            let err = refused(work.path(), &set, &[&format!("{key}: "), "--force"]);
            prop_assert!(err.contains(" → "), "{}", err);
            Ok(())
        })?;
    }
}

/// A run without a summary (stopped, or being extended) drops out of the
/// comparison's table but is listed under "Not finished" with its
/// progress; once finished it is back in the table.
#[test]
fn comparison_lists_unfinished_runs_with_their_progress() {
    let work = tmp();
    let w = work.path();
    let models = "  - type: nade\n    hidden: 8\n  - type: fvsbn\n";
    write_spec(w, "b.yaml", &spec_text("b", 4, models, "[raster]", ""));
    ok(run(w, &["--quiet"]));
    let exp = w.join("res/b");
    let fvsbn = exp.join("fvsbn-raster-s1");
    let val = csv_columns(&fvsbn.join("metrics.csv"), &["val_nll"])["val_nll"].clone();
    let best = val
        .iter()
        .map(|v| v.parse::<f64>().unwrap())
        .fold(f64::INFINITY, f64::min);
    std::fs::remove_file(fvsbn.join("summary.json")).unwrap();
    ok(run(w, &["--quiet", "--task", "0"]));
    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    let (table, rest) = md.split_once("## Not finished").expect(&md);
    assert!(
        table.contains("nade-h8") && !table.contains("| fvsbn"),
        "{md}"
    );
    assert!(
        rest.contains(&format!("| fvsbn-raster-s1 | 2 | {best:.2} |")),
        "{md}"
    );
    ok(run(w, &["--quiet"]));
    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    assert!(
        !md.contains("Not finished") && md.contains("| fvsbn"),
        "{md}"
    );
}
