//! Reliability: a run killed with SIGKILL mid-epoch resumes to exactly the
//! numbers of an uninterrupted run; files are never seen half-written; one
//! writer per experiment; a diverging run fails alone.
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Slow enough to be killed mid-run (NADE on 8×8, several epochs), small
/// enough for CI.
const SLOW: &str = "name: slow
data:
  source: synthetic
  synthetic: {height: 8, width: 8, train: 3000, val: 200, test: 200, seed: 0}
  binarize: dynamic
models:
  - type: nade
    hidden: 48
orderings: [\"random:2\"]
seeds: [3]
train:
  epochs: 6
  batch_size: 50
  schedule: cosine
  grad_clip: 5.0
  patience: 4
  sample_every: 2
  device: cpu
";

const RUN: &str = "slow/nade-h48-random-2-s3";

fn start(work: &Path, results: &str) -> std::process::Child {
    let spec = work.join("slow.yaml");
    Command::new(env!("CARGO_BIN_EXE_arlab"))
        .args([
            "run",
            spec.to_str().unwrap(),
            "--quiet",
            "--results",
            results,
        ])
        .current_dir(work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("arlab starts")
}

fn metric_rows(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every result file present is whole: parses, decodes or loads.
fn assert_whole(run: &Path) {
    let (header, rows) = read_csv(&run.join("metrics.csv"));
    assert_eq!(header.len(), 6);
    assert!(rows
        .iter()
        .all(|r| r.len() == 6 && r.iter().all(|c| !c.is_empty())));
    if run.join("summary.json").exists() {
        read_json(&run.join("summary.json"));
    }
    for dir in [run.to_path_buf(), run.join("samples")] {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".png") && !name.starts_with('.') {
                image::open(&p).unwrap_or_else(|e| panic!("{} does not decode: {e}", p.display()));
            }
        }
    }
    for ckpt in ["best.ot", "last.ot"] {
        let p = run.join("checkpoints").join(ckpt);
        tch::Tensor::load_multi(&p)
            .unwrap_or_else(|e| panic!("{} does not load: {e}", p.display()));
    }
}

#[test]
fn a_killed_run_resumes_to_the_same_numbers() {
    let work = tmp();
    write_spec(work.path(), "slow.yaml", SLOW);

    // Uninterrupted reference.
    let out = start(work.path(), "ref").wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Killed after two epochs, somewhere inside the third.
    let run = work.path().join("cut").join(RUN);
    let mut child = start(work.path(), "cut");
    wait_for("two epochs", Duration::from_secs(300), || {
        metric_rows(&run.join("metrics.csv")) >= 2
    });
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !run.join("summary.json").exists(),
        "the run finished before it could be killed"
    );
    assert_whole(&run);

    // The same command again resumes and finishes.
    let out = Command::new(env!("CARGO_BIN_EXE_arlab"))
        .args(["run", "slow.yaml", "--results", "cut"])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("resuming after epoch"),
        "{}",
        describe(&out)
    );
    assert_whole(&run);

    let reference = work.path().join("ref").join(RUN);
    let cols = ["epoch", "train_nll", "val_nll", "lr"];
    assert_eq!(
        csv_columns(&run.join("metrics.csv"), &cols),
        csv_columns(&reference.join("metrics.csv"), &cols)
    );
    let (a, b) = (
        read_json(&run.join("summary.json")),
        read_json(&reference.join("summary.json")),
    );
    for key in [
        "test_nll",
        "best_val_nll",
        "best_epoch",
        "epochs_run",
        "status",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    // A second resume finds nothing to do.
    let out = Command::new(env!("CARGO_BIN_EXE_arlab"))
        .args(["run", "slow.yaml", "--results", "cut"])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("already finished, skipped"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_second_writer_is_refused_while_the_first_runs() {
    let work = tmp();
    write_spec(work.path(), "slow.yaml", SLOW);
    let run = work.path().join("res").join(RUN);
    let mut first = start(work.path(), "res");
    wait_for("the first run to start", Duration::from_secs(120), || {
        run.join("spec.yaml").exists()
    });
    let out = arlab(
        work.path(),
        &["run", "slow.yaml", "--quiet", "--results", "res"],
    );
    let pid = first.id().to_string();
    let _ = first.kill();
    let _ = first.wait();
    let err = fails(out, &["already being run by process", &pid]);
    assert!(err.contains(".lock"), "{err}");
    // Once the holder is gone (killed: the OS drops its lock), a new run may proceed.
    let out = arlab(
        work.path(),
        &[
            "run",
            "slow.yaml",
            "--quiet",
            "--results",
            "res",
            "--set",
            "train.epochs=1",
            "--force",
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_diverging_run_fails_alone() {
    let work = tmp();
    // lr 1e38 overflows float32 within a step or two: the loss becomes NaN.
    let models =
        "  - type: nade\n    hidden: 8\n  - type: fvsbn\n    name: boom\n    lr: 1.0e+38\n";
    let spec = write_spec(
        work.path(),
        "div.yaml",
        &spec_text("div", 4, models, "[raster]", ""),
    );
    let out = arlab(
        work.path(),
        &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
    );
    let err = fails(
        out,
        &[
            "1 of 2 run(s) failed",
            "boom-raster-s1",
            "diverged",
            "epoch 1, step",
        ],
    );
    assert!(err.contains("NaN") || err.contains("inf"), "{err}");
    let exp = work.path().join("res/div");
    let boom = read_json(&exp.join("boom-raster-s1/summary.json"));
    assert!(
        boom["status"]
            .as_str()
            .unwrap()
            .starts_with("failed: training diverged"),
        "{boom}"
    );
    assert!(boom["test_nll"].is_null());
    let nade = read_json(&exp.join("nade-h8-raster-s1/summary.json"));
    assert_eq!(nade["status"], "ok");
    assert!(nade["test_nll"].as_f64().unwrap().is_finite());
    let (header, rows) = read_csv(&exp.join("comparison.csv"));
    let status = header.iter().position(|h| h == "status").unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().any(|r| r[status].starts_with("failed"))
            && rows.iter().any(|r| r[status] == "ok")
    );
    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    assert!(md.contains("failed: training diverged"), "{md}");
}

#[test]
fn a_run_diverging_after_good_epochs_keeps_its_last_good_checkpoints() {
    let work = tmp();
    let spec = write_spec(
        work.path(),
        "late.yaml",
        &spec_text("late", 4, NADE8, "[raster]", ""),
    );
    let spec = spec.to_str().unwrap();
    let run = work.path().join("res/late/nade-h8-raster-s1");
    // Two good epochs, then pretend the run was interrupted (no summary) and
    // continue it with a learning rate that blows up in epoch 3.
    ok(arlab(
        work.path(),
        &["run", spec, "--quiet", "--results", "res"],
    ));
    std::fs::remove_file(run.join("summary.json")).unwrap();
    // And made by an arlab that kept no binding.json, so that the changed
    // spec is let through (tests/binding.rs: otherwise it is refused).
    std::fs::remove_file(run.join("binding.json")).unwrap();
    let best_before = std::fs::read(run.join("checkpoints/best.ot")).unwrap();
    let last_before = std::fs::read(run.join("checkpoints/last.ot")).unwrap();
    let out = arlab(
        work.path(),
        &[
            "run",
            spec,
            "--quiet",
            "--results",
            "res",
            "--set",
            "train.epochs=4",
            "--set",
            "models.0.lr=1e38",
        ],
    );
    fails(out, &["diverged", "epoch 3, step"]);
    let summary = read_json(&run.join("summary.json"));
    assert!(
        summary["status"].as_str().unwrap().contains("epoch 3"),
        "{summary}"
    );
    assert_eq!(summary["epochs_run"], 2);
    // The checkpoints are those of the last good epoch, and still usable.
    assert_eq!(
        std::fs::read(run.join("checkpoints/best.ot")).unwrap(),
        best_before
    );
    assert_eq!(
        std::fs::read(run.join("checkpoints/last.ot")).unwrap(),
        last_before
    );
    ok(arlab(
        work.path(),
        &["eval", run.to_str().unwrap(), "--split", "val"],
    ));
}

/// SIGTERM during the test ensemble (which can take an hour) ends the run
/// after the current ordering, not after the last one; the run has no
/// summary yet, and the same command evaluates it again and finishes it.
#[test]
fn a_stop_during_the_test_ensemble_ends_it_and_the_rerun_finishes_it() {
    let work = tmp();
    let w = work.path();
    let models = "  - type: nade\n    hidden: 8\n    order_agnostic: true\n";
    let train = "  sample_every: 0\neval:\n  orderings: 100\n";
    write_spec(
        w,
        "e.yaml",
        &spec_text("e", 4, models, "[\"random:0\"]", train),
    );
    let args = ["run", "e.yaml", "--results", "res", "--quiet"];
    // 40 ms after every step and every ordering: the ensemble of 100
    // lasts 4 s, long enough to be stopped inside on any machine.
    let child = Command::new(env!("CARGO_BIN_EXE_arlab"))
        .env("ARLAB_STEP_DELAY_MS", "40")
        .args(args)
        .current_dir(w)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = w.join("res/e/nade-oa-h8-random-0-s1");
    let log = || std::fs::read_to_string(dir.join("log.txt")).unwrap_or_default();
    wait_until("the test NLL", Duration::from_secs(120), || {
        log().contains("test NLL")
    });
    std::thread::sleep(Duration::from_millis(300));
    terminate(child);
    assert!(
        log().contains("stopped by a signal during the test ensemble"),
        "{}",
        log()
    );
    assert!(!dir.join("summary.json").exists());
    assert!(!dir.join("ensemble.csv").exists());
    // The finished members are kept, and the rerun goes on from them.
    let members = dir.join("ensemble");
    let kept = || std::fs::read_dir(&members).map_or(0, |d| d.count());
    let before = kept();
    assert!((1..100).contains(&before), "{before} members kept");
    ok(arlab(w, &args));
    assert!(
        log().contains(&format!(
            "{before} of 100 orderings kept from an earlier attempt"
        )),
        "{}",
        log()
    );
    assert_eq!(kept(), 100);
    let (_, rows) = read_csv(&dir.join("ensemble.csv"));
    assert_eq!(rows.iter().filter(|r| r[0] == "member").count(), 100);
    assert!(dir.join("summary.json").exists());
    // The same numbers as evaluating all 100 afresh.
    let all = rows
        .iter()
        .find(|r| r[0] == "ensemble" && r[1] == "100")
        .unwrap();
    let fresh = text(
        &ok(arlab(
            w,
            &["eval", dir.to_str().unwrap(), "--orderings", "100"],
        ))
        .stdout,
    );
    assert!(
        fresh.contains(&format!("{:.4}", all[3].parse::<f64>().unwrap())),
        "{fresh}\n{all:?}"
    );
    // --force starts over: the old network's members are forgotten.
    std::fs::write(members.join("stale.npy"), b"x").unwrap();
    ok(arlab(
        w,
        &["run", "e.yaml", "--results", "res", "--quiet", "--force"],
    ));
    assert!(!members.join("stale.npy").exists());
    assert_eq!(kept(), 100);
}
