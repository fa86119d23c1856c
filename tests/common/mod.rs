//! Helpers shared by the integration tests: a temp dir, running the binary,
//! clean-failure assertions, small specs and result-file readers.
#![allow(dead_code)] // each test file uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

pub fn tmp() -> TempDir {
    tempfile::Builder::new()
        .prefix("arlab-cli-")
        .tempdir()
        .expect("a temporary directory")
}

/// Runs `arlab ARGS` in `cwd`.
pub fn arlab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arlab"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LOG")
        .output()
        .expect("arlab starts")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

#[track_caller]
pub fn ok(out: Output) -> Output {
    assert!(out.status.success(), "arlab failed:\n{}", describe(&out));
    out
}

/// What must never reach a user: a panic, a backtrace (Rust's or
/// libtorch's C++ frames).
pub const NEVER_SHOWN: [&str; 6] = [
    "panicked",
    "RUST_BACKTRACE",
    "internal error",
    "stack backtrace",
    "frame #",
    "Exception raised from",
];

/// Asserts a clean failure: exit code 1, an `error:` line with every needle,
/// no panic or backtrace (Rust's or libtorch's). Returns stderr.
#[track_caller]
pub fn fails(out: Output, needles: &[&str]) -> String {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1:\n{}",
        describe(&out)
    );
    assert!(
        err.contains("error:"),
        "no `error:` line:\n{}",
        describe(&out)
    );
    for needle in needles {
        assert!(
            err.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            describe(&out)
        );
    }
    for bad in NEVER_SHOWN {
        assert!(
            !err.contains(bad),
            "stderr has {bad:?}:\n{}",
            describe(&out)
        );
    }
    err
}

/// A spec on `size`×`size` synthetic data (200 / 50 / 50 images).
pub fn spec_text(name: &str, size: usize, models: &str, orderings: &str, train: &str) -> String {
    format!(
        "name: {name}\n\
         data:\n  source: synthetic\n  synthetic: {{height: {size}, width: {size}, train: 200, val: 50, test: 50, seed: 5}}\n\
         models:\n{models}\
         orderings: {orderings}\n\
         seeds: [1]\n\
         train:\n  epochs: 2\n  batch_size: 50\n  device: cpu\n{train}"
    )
}

pub fn write_spec(dir: &Path, file: &str, contents: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, contents).unwrap();
    path
}

pub const NADE8: &str = "  - type: nade\n    hidden: 8\n";

/// A one-run experiment (nade H = 8, raster, seed 1) trained into `root`;
/// returns the run directory.
pub fn train_small(work: &Path, root: &str) -> PathBuf {
    let spec = write_spec(
        work,
        "small.yaml",
        &spec_text("small", 4, NADE8, "[raster]", ""),
    );
    ok(arlab(
        work,
        &["run", spec.to_str().unwrap(), "--quiet", "--results", root],
    ));
    work.join(root).join("small").join("nade-h8-raster-s1")
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let s = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&s).unwrap()
}

pub fn test_nll(run_dir: &Path) -> f64 {
    read_json(&run_dir.join("summary.json"))["test_nll"]
        .as_f64()
        .expect("summary.json has test_nll")
}

#[track_caller]
pub fn assert_png(path: &Path) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        bytes.starts_with(PNG_SIGNATURE) && bytes.len() > 64,
        "{} is not a PNG",
        path.display()
    );
}

/// A CSV file as (header, rows).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// The named columns of a CSV file, as the exact text of each cell.
pub fn csv_columns(path: &Path, names: &[&str]) -> BTreeMap<String, Vec<String>> {
    let (header, rows) = read_csv(path);
    names
        .iter()
        .map(|&name| {
            let i = header
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("{} has no column {name}", path.display()));
            (
                name.to_string(),
                rows.iter().map(|r| r[i].clone()).collect(),
            )
        })
        .collect()
}

pub fn cuda_available(work: &Path) -> bool {
    let out = ok(arlab(work, &["doctor"]));
    text(&out.stdout).contains("CUDA available: true")
}

/// Waits (polling) until `done` holds; panics after `limit`.
#[track_caller]
pub fn wait_until(what: &str, limit: std::time::Duration, mut done: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A 4-run sweep (NADE and FVSBN × two learning rates) on 8×8 synthetic
/// data; `train` images make each run take a few seconds on one thread.
pub fn sweep_spec(name: &str, train: usize, epochs: usize) -> String {
    format!(
        "name: {name}\n\
         data:\n  source: synthetic\n  synthetic: {{height: 8, width: 8, train: {train}, val: 100, test: 100, seed: 1}}\n\
         models:\n  - type: nade\n    hidden: 32\n  - type: fvsbn\n\
         orderings: [raster]\n\
         train:\n  epochs: {epochs}\n  batch_size: 20\n  device: cpu\n  sample_every: 0\n  samples: 8\n\
         sweep:\n  train.lr: [0.003, 0.01]\n"
    )
}

pub const SWEEP_RUNS: [&str; 4] = [
    "nade-h32-raster-s0-lr0.003",
    "fvsbn-raster-s0-lr0.003",
    "nade-h32-raster-s0-lr0.01",
    "fvsbn-raster-s0-lr0.01",
];

/// The venv's Python (scripts/setup.sh) if it imports every one of
/// `modules`; `None` (the test skips with a notice) otherwise, unless
/// ARLAB_REQUIRE_TOOLS says set-up installed them.
pub fn venv_python(modules: &[&str]) -> Option<PathBuf> {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let imports = format!("import {}", modules.join(", "));
    let has_them = py.is_file()
        && Command::new(&py)
            .args(["-c", &imports])
            .status()
            .is_ok_and(|s| s.success());
    if !has_them {
        assert!(
            std::env::var("ARLAB_REQUIRE_TOOLS").is_err(),
            "the venv lacks {modules:?}: run scripts/setup.sh"
        );
        eprintln!("skipped: no .venv with {modules:?} (scripts/setup.sh installs them)");
    }
    has_them.then_some(py)
}

/// comparison.csv's columns without swept values, in order: docs/results.md
/// documents them as stable, so this list changes only with that page.
pub const COMPARISON_COLUMNS: [&str; 22] = [
    "model",
    "ordering",
    "seed",
    "parameters",
    "best_epoch",
    "val_nll",
    "test_nll_nats",
    "bits_per_dim",
    "binarization",
    "train_seconds",
    "train_images_per_s",
    "eval_images_per_s",
    "status",
    "ordering_rank",
    "delta_vs_best",
    "delta_ci_low",
    "delta_ci_high",
    "delta_ci_over",
    "established",
    "published_nll",
    "published_source",
    "delta_vs_published",
];

/// Sends SIGTERM to `child` and waits for it: its output, which must be a
/// failure (a stopped run exits non-zero).
pub fn terminate(child: std::process::Child) -> Output {
    ok(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .output()
        .unwrap());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    out
}
