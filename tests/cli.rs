//! End-to-end tests of the `arlab` binary on tiny synthetic data.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn tmp() -> TempDir {
    tempfile::Builder::new()
        .prefix("arlab-cli-")
        .tempdir()
        .expect("a temporary directory")
}

/// Runs `arlab ARGS` in `cwd`.
fn arlab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arlab"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LOG")
        .output()
        .expect("arlab starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

#[track_caller]
fn ok(out: Output) -> Output {
    assert!(out.status.success(), "arlab failed:\n{}", describe(&out));
    out
}

/// Asserts a clean failure: exit code 1, an `error:` line with every needle,
/// no panic or backtrace hint. Returns stderr.
#[track_caller]
fn fails(out: Output, needles: &[&str]) -> String {
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
    for bad in ["panicked", "RUST_BACKTRACE", "internal error"] {
        assert!(
            !err.contains(bad),
            "stderr has {bad:?}:\n{}",
            describe(&out)
        );
    }
    err
}

/// A spec on `size`×`size` synthetic data (200 / 50 / 50 images).
fn spec_text(name: &str, size: usize, models: &str, orderings: &str, train: &str) -> String {
    format!(
        "name: {name}\n\
         data:\n  source: synthetic\n  synthetic: {{height: {size}, width: {size}, train: 200, val: 50, test: 50, seed: 5}}\n\
         models:\n{models}\
         orderings: {orderings}\n\
         seeds: [1]\n\
         train:\n  epochs: 2\n  batch_size: 50\n  device: cpu\n{train}"
    )
}

fn write_spec(dir: &Path, file: &str, contents: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, contents).unwrap();
    path
}

const NADE8: &str = "  - type: nade\n    hidden: 8\n";

/// A one-run experiment (nade H = 8, raster, seed 1) trained into `root`;
/// returns the run directory.
fn train_small(work: &Path, root: &str) -> PathBuf {
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

fn read_json(path: &Path) -> serde_json::Value {
    let s = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&s).unwrap()
}

fn test_nll(run_dir: &Path) -> f64 {
    read_json(&run_dir.join("summary.json"))["test_nll"]
        .as_f64()
        .expect("summary.json has test_nll")
}

#[track_caller]
fn assert_png(path: &Path) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        bytes.starts_with(PNG_SIGNATURE) && bytes.len() > 64,
        "{} is not a PNG",
        path.display()
    );
}

/// A CSV file as (header, rows).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
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
fn csv_columns(path: &Path, names: &[&str]) -> BTreeMap<String, Vec<String>> {
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

fn cuda_available(work: &Path) -> bool {
    let out = ok(arlab(work, &["doctor"]));
    text(&out.stdout).contains("CUDA available: true")
}

// ------------------------------------------------------------ end to end

#[test]
fn run_writes_the_full_results_tree() {
    let work = tmp();
    let models = "  - type: fvsbn\n  - type: nade\n    hidden: 8\n";
    let spec = write_spec(
        work.path(),
        "e2e.yaml",
        &spec_text("e2e", 3, models, "[raster, snake, \"random:1\"]", ""),
    );
    let out = ok(arlab(
        work.path(),
        &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
    ));
    assert!(
        text(&out.stdout).trim().is_empty(),
        "--quiet printed to stdout:\n{}",
        describe(&out)
    );

    let exp = work.path().join("res/e2e");
    let (header, rows) = read_csv(&exp.join("comparison.csv"));
    for col in [
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
    ] {
        assert!(
            header.iter().any(|h| h == col),
            "comparison.csv header lacks {col}: {header:?}"
        );
    }
    assert_eq!(rows.len(), 6, "comparison.csv rows: {rows:?}");
    let cols = csv_columns(
        &exp.join("comparison.csv"),
        &["model", "ordering", "seed", "parameters", "binarization"],
    );
    let mut pairs: Vec<(String, String)> = cols["model"]
        .iter()
        .cloned()
        .zip(cols["ordering"].iter().cloned())
        .collect();
    pairs.sort();
    let mut expected = Vec::new();
    for m in ["fvsbn", "nade-h8"] {
        for o in ["raster", "snake", "random:1"] {
            expected.push((m.to_string(), o.to_string()));
        }
    }
    expected.sort();
    assert_eq!(pairs, expected);
    assert!(cols["seed"].iter().all(|s| s == "1"));
    assert!(cols["binarization"].iter().all(|s| s == "threshold 0.5"));
    // D = 9: fvsbn D + D(D-1)/2 = 45, nade 2DH + D + H = 161.
    for (model, params) in cols["model"].iter().zip(&cols["parameters"]) {
        let want = if model == "fvsbn" { "45" } else { "161" };
        assert_eq!(params, want, "parameters of {model}");
    }

    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    assert!(md.contains("| model |"), "comparison.md:\n{md}");
    assert_eq!(md.matches("| nade-h8 |").count(), 3, "comparison.md:\n{md}");
    assert_png(&exp.join("nll_curves.png"));
    assert_png(&exp.join("samples.png"));

    for model in ["fvsbn", "nade-h8"] {
        for ordering in ["raster", "snake", "random-1"] {
            let run = exp.join(format!("{model}-{ordering}-s1"));
            for file in [
                "spec.yaml",
                "metrics.csv",
                "summary.json",
                "nll_curve.png",
                "samples/epoch-0002.png",
                "checkpoints/best.ot",
                "checkpoints/last.ot",
                "log.txt",
            ] {
                assert!(
                    run.join(file).is_file(),
                    "{} is missing",
                    run.join(file).display()
                );
            }
            assert_png(&run.join("nll_curve.png"));
            assert_png(&run.join("samples/epoch-0002.png"));
            let (_, metrics) = read_csv(&run.join("metrics.csv"));
            assert_eq!(metrics.len(), 2, "{}: metrics rows", run.display());
            let s = read_json(&run.join("summary.json"));
            assert_eq!(s["epochs_run"], 2);
            assert_eq!(s["test_images"], 50);
            assert_eq!(s["status"], "ok");
            assert_eq!(s["seed"], 1);
            let nll = s["test_nll"].as_f64().unwrap();
            // A 9-pixel binary image: 0 < NLL, and no worse than ~uniform by a lot.
            assert!(
                nll > 0.0 && nll < 9.0 * 2.0,
                "{model}/{ordering}: test NLL {nll}"
            );
            let log = std::fs::read_to_string(run.join("log.txt")).unwrap();
            assert!(log.contains("test NLL"), "log.txt:\n{log}");
            // No temporary files are left behind.
            for entry in std::fs::read_dir(&run).unwrap() {
                let name = entry.unwrap().file_name();
                assert!(
                    !name.to_string_lossy().contains(".tmp"),
                    "leftover {name:?} in {}",
                    run.display()
                );
            }
        }
    }
}

// ------------------------------------------------------------------ eval

#[test]
fn eval_matches_summary_and_writes_per_image_csv() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let want = test_nll(&run);
    let csv_path = work.path().join("per-image.csv");
    let out = ok(arlab(
        work.path(),
        &[
            "eval",
            run.to_str().unwrap(),
            "--per-image",
            csv_path.to_str().unwrap(),
        ],
    ));
    let stdout = text(&out.stdout);
    let printed: f64 = stdout
        .split("NLL ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no NLL in eval output:\n{stdout}"));
    assert!(
        (printed - want).abs() < 1e-3,
        "eval printed NLL {printed}, summary.json test_nll {want}\n{stdout}"
    );
    assert!(stdout.contains("50 images"), "{stdout}");

    let raw = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(raw.lines().next(), Some("index,log_prob_nats"));
    let (_, rows) = read_csv(&csv_path);
    assert_eq!(rows.len(), 50);
    let mut sum = 0.0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        let lp: f64 = row[1].parse().unwrap();
        assert!(lp <= 0.0, "log p > 0 in row {i}: {lp}");
        sum -= lp;
    }
    let mean = sum / rows.len() as f64;
    assert!(
        (mean - want).abs() < 1e-6,
        "mean per-image NLL {mean} vs summary.json test_nll {want}"
    );

    // Other splits work too.
    let out = ok(arlab(
        work.path(),
        &["eval", run.to_str().unwrap(), "--split", "val"],
    ));
    assert!(text(&out.stdout).contains("Val NLL"), "{}", describe(&out));
}

// --------------------------------------------------------- reproducibility

#[test]
fn rerun_from_run_spec_reproduces_test_nll() {
    let work = tmp();
    let run = train_small(work.path(), "first");
    let spec = run.join("spec.yaml");
    ok(arlab(
        work.path(),
        &[
            "run",
            spec.to_str().unwrap(),
            "--force",
            "--quiet",
            "--results",
            "second",
        ],
    ));
    let again = work.path().join("second/small/nade-h8-raster-s1");
    assert_eq!(test_nll(&run), test_nll(&again));
    assert_eq!(
        std::fs::read_to_string(&spec).unwrap(),
        std::fs::read_to_string(again.join("spec.yaml")).unwrap(),
        "the rerun's spec.yaml differs"
    );
}

#[test]
fn same_spec_twice_gives_identical_metrics() {
    let work = tmp();
    let a = train_small(work.path(), "a");
    let b = train_small(work.path(), "b");
    let cols = ["epoch", "train_nll", "val_nll", "lr"];
    let ma = csv_columns(&a.join("metrics.csv"), &cols);
    let mb = csv_columns(&b.join("metrics.csv"), &cols);
    assert_eq!(ma, mb, "metrics.csv differs between two identical runs");
    assert_eq!(ma["epoch"], ["1", "2"]);
    let (ha, _) = read_csv(&a.join("metrics.csv"));
    let (hb, _) = read_csv(&b.join("metrics.csv"));
    assert_eq!(ha, hb);
    for key in ["test_nll", "best_val_nll", "best_epoch", "parameters"] {
        assert_eq!(
            read_json(&a.join("summary.json"))[key],
            read_json(&b.join("summary.json"))[key],
            "summary.json {key}"
        );
    }
    assert_eq!(
        std::fs::read(a.join("samples/epoch-0002.png")).unwrap(),
        std::fs::read(b.join("samples/epoch-0002.png")).unwrap(),
        "sample grids differ"
    );
}

// ---------------------------------------------------- other subcommands

#[test]
fn sample_writes_a_png() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let out_png = work.path().join("x.png");
    let out = ok(arlab(
        work.path(),
        &[
            "sample",
            run.to_str().unwrap(),
            "--count",
            "10",
            "--seed",
            "3",
            "--out",
            out_png.to_str().unwrap(),
        ],
    ));
    assert!(
        text(&out.stdout).contains("10 samples"),
        "{}",
        describe(&out)
    );
    assert_png(&out_png);
    // Same seed, same picture.
    let again = work.path().join("y.png");
    ok(arlab(
        work.path(),
        &[
            "sample",
            run.to_str().unwrap(),
            "--count",
            "10",
            "--seed",
            "3",
            "--out",
            again.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        std::fs::read(&out_png).unwrap(),
        std::fs::read(&again).unwrap()
    );

    fails(
        arlab(
            work.path(),
            &[
                "sample",
                run.to_str().unwrap(),
                "--count",
                "0",
                "--out",
                "z.png",
            ],
        ),
        &["--count"],
    );
}

#[test]
fn orderings_draws_gallery() {
    let work = tmp();
    let dir = work.path().join("orders");
    ok(arlab(
        work.path(),
        &["orderings", "--size", "5x7", "--out", dir.to_str().unwrap()],
    ));
    assert_png(&dir.join("overview.png"));
    let gallery = arlab::order::gallery();
    assert!(gallery.len() >= 7);
    for o in &gallery {
        assert_png(&dir.join(format!("{}.png", o.slug())));
    }
    let n = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(n, gallery.len() + 1, "files in {}", dir.display());

    // Explicit orderings, and a bad size.
    let dir2 = work.path().join("two");
    ok(arlab(
        work.path(),
        &[
            "orderings",
            "--size",
            "4",
            "--out",
            dir2.to_str().unwrap(),
            "--ordering",
            "hilbert",
            "--ordering",
            "random:3",
        ],
    ));
    assert_png(&dir2.join("hilbert.png"));
    assert_png(&dir2.join("random-3.png"));
    fails(
        arlab(work.path(), &["orderings", "--size", "0x3", "--out", "o"]),
        &["--size"],
    );
    fails(
        arlab(
            work.path(),
            &["orderings", "--out", "o", "--ordering", "peano"],
        ),
        &["peano"],
    );
}

#[test]
fn inspect_prints_parameter_counts() {
    let work = tmp();
    let models = "  - type: independent\n  - type: markov\n    k: 1\n  - type: tabular\n  - type: fvsbn\n  - type: nade\n    hidden: 8\n";
    let spec = write_spec(
        work.path(),
        "inspect.yaml",
        &spec_text("insp", 4, models, "[raster, snake]", ""),
    );
    let out = ok(arlab(work.path(), &["inspect", spec.to_str().unwrap()]));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("D = 16"), "{stdout}");
    // D = 16: D, 2D - 1, 2^D - 1, D + D(D-1)/2, 2DH + D + H.
    for (label, count) in [
        ("independent", "16"),
        ("markov-k1", "31"),
        ("tabular", "65535"),
        ("fvsbn", "136"),
        ("nade-h8", "280"),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(label))
            .unwrap_or_else(|| panic!("no line for {label}:\n{stdout}"));
        let shown = line.split_whitespace().nth(2);
        assert_eq!(shown, Some(count), "{label}: {line}\n{stdout}");
    }
    assert!(stdout.contains("10 run(s)"), "{stdout}");
    assert!(stdout.contains("nade-h8-snake-s1"), "{stdout}");

    // --set works for inspect too.
    let out = ok(arlab(
        work.path(),
        &["inspect", spec.to_str().unwrap(), "--set", "seeds=[1,2]"],
    ));
    assert!(
        text(&out.stdout).contains("20 run(s)"),
        "{}",
        describe(&out)
    );
}

#[test]
fn doctor_reports_cuda() {
    let work = tmp();
    let out = ok(arlab(work.path(), &["doctor"]));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("CUDA available"), "{stdout}");
    assert!(stdout.contains("libtorch"), "{stdout}");
}

// ------------------------------------------------------------ bad input

#[test]
fn unknown_spec_key_is_a_clean_error() {
    let work = tmp();
    let text = spec_text("bad", 4, NADE8, "[raster]", "  epoch: 3\n");
    let spec = write_spec(work.path(), "bad.yaml", &text);
    let err = fails(
        arlab(
            work.path(),
            &["run", spec.to_str().unwrap(), "--results", "r"],
        ),
        &["epoch", "line", "bad.yaml"],
    );
    assert!(err.contains("unknown field"), "{err}");
    assert!(
        !work.path().join("r").exists(),
        "a bad spec created results"
    );

    // A bad --set too.
    let spec = write_spec(
        work.path(),
        "good.yaml",
        &spec_text("good", 4, NADE8, "[raster]", ""),
    );
    fails(
        arlab(
            work.path(),
            &["inspect", spec.to_str().unwrap(), "--set", "train.epoch=3"],
        ),
        &["epoch"],
    );
}

#[test]
fn invalid_value_error_names_the_field() {
    let work = tmp();
    let spec = write_spec(
        work.path(),
        "lr.yaml",
        &spec_text("lr", 4, NADE8, "[raster]", "  lr: -1\n"),
    );
    fails(
        arlab(work.path(), &["inspect", spec.to_str().unwrap()]),
        &["lr.yaml", "lr", "positive"],
    );
}

#[test]
fn missing_spec_file() {
    let work = tmp();
    fails(
        arlab(work.path(), &["run", "nope.yaml", "--results", "r"]),
        &["nope.yaml"],
    );
    fails(
        arlab(work.path(), &["inspect", "nope.yaml"]),
        &["nope.yaml"],
    );
}

#[test]
fn eval_and_sample_on_a_non_run_directory() {
    let work = tmp();
    let dir = work.path().join("not-a-run");
    std::fs::create_dir(&dir).unwrap();
    fails(
        arlab(work.path(), &["eval", dir.to_str().unwrap()]),
        &["not-a-run", "not a run directory"],
    );
    fails(
        arlab(
            work.path(),
            &["sample", dir.to_str().unwrap(), "--out", "x.png"],
        ),
        &["not a run directory"],
    );
    fails(
        arlab(work.path(), &["eval", "/nonexistent/run"]),
        &["not a run directory"],
    );
}

#[test]
fn missing_idx_path_is_named() {
    let work = tmp();
    let text = spec_text("idx", 4, NADE8, "[raster]", "")
        .replace("source: synthetic", "source: \"idx:/nonexistent/path\"");
    let spec = write_spec(work.path(), "idx.yaml", &text);
    fails(
        arlab(
            work.path(),
            &["run", spec.to_str().unwrap(), "--results", "r"],
        ),
        &["/nonexistent/path"],
    );
    fails(
        arlab(work.path(), &["inspect", spec.to_str().unwrap()]),
        &["/nonexistent/path"],
    );
}

#[test]
fn corrupt_idx_file_mentions_magic() {
    let work = tmp();
    let garbage = work.path().join("garbage.idx");
    std::fs::write(&garbage, b"not an idx file!").unwrap();
    assert_eq!(std::fs::metadata(&garbage).unwrap().len(), 16);
    let text = spec_text("corrupt", 4, NADE8, "[raster]", "").replace(
        "source: synthetic",
        &format!("source: \"idx:{}\"", garbage.display()),
    );
    let spec = write_spec(work.path(), "corrupt.yaml", &text);
    fails(
        arlab(
            work.path(),
            &["run", spec.to_str().unwrap(), "--results", "r"],
        ),
        &["magic", "garbage.idx"],
    );
}

#[test]
fn tabular_on_8x8_is_refused() {
    let work = tmp();
    let spec = write_spec(
        work.path(),
        "tab.yaml",
        &spec_text("tab", 8, "  - type: tabular\n", "[raster]", ""),
    );
    fails(
        arlab(
            work.path(),
            &["run", spec.to_str().unwrap(), "--quiet", "--results", "r"],
        ),
        &["tabular", "2^"],
    );
}

#[test]
fn explicit_cuda_without_cuda_is_an_error() {
    let work = tmp();
    if cuda_available(work.path()) {
        eprintln!("CUDA is available here; skipping the no-CUDA error check");
        return;
    }
    let text = spec_text("cuda", 4, NADE8, "[raster]", "").replace("device: cpu", "device: cuda");
    let spec = write_spec(work.path(), "cuda.yaml", &text);
    fails(
        arlab(
            work.path(),
            &["run", spec.to_str().unwrap(), "--quiet", "--results", "r"],
        ),
        &["CUDA"],
    );
}

#[test]
fn results_under_a_regular_file_is_an_error() {
    let work = tmp();
    let file = work.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let spec = write_spec(
        work.path(),
        "s.yaml",
        &spec_text("s", 4, NADE8, "[raster]", ""),
    );
    let root = file.join("results");
    fails(
        arlab(
            work.path(),
            &[
                "run",
                spec.to_str().unwrap(),
                "--quiet",
                "--results",
                root.to_str().unwrap(),
            ],
        ),
        &["cannot create", "plain-file"],
    );
}

#[test]
fn finished_runs_are_skipped_unless_forced() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let spec = work.path().join("small.yaml");
    let summary_before = std::fs::read_to_string(run.join("summary.json")).unwrap();

    // Not quiet, so the skip notice is shown.
    let out = ok(arlab(
        work.path(),
        &["run", spec.to_str().unwrap(), "--results", "res"],
    ));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("skipped"),
        "no skip notice:\n{}",
        describe(&out)
    );
    assert!(all.contains("1 run(s) finished"), "{}", describe(&out));
    assert_eq!(
        std::fs::read_to_string(run.join("summary.json")).unwrap(),
        summary_before,
        "a skipped run was rewritten"
    );

    let out = ok(arlab(
        work.path(),
        &["run", spec.to_str().unwrap(), "--results", "res", "--force"],
    ));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !all.contains("skipped"),
        "--force skipped:\n{}",
        describe(&out)
    );
    assert!(
        all.contains("test NLL"),
        "--force did not train:\n{}",
        describe(&out)
    );
    // Retrained from the same seed: same result.
    let after = read_json(&run.join("summary.json"));
    let before: serde_json::Value = serde_json::from_str(&summary_before).unwrap();
    assert_eq!(after["test_nll"], before["test_nll"]);
}
