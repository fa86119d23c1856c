//! End-to-end tests of the `arlab` binary on tiny synthetic data.
mod common;

use common::*;

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
    for col in COMPARISON_COLUMNS {
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
    // One row per run in the first table (the ranking below has its own).
    let runs_table = md.split("\n## ").next().unwrap();
    assert_eq!(
        runs_table.matches("| nade-h8 |").count(),
        3,
        "comparison.md:\n{md}"
    );
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
    assert!(
        text(&out.stdout).contains("validation NLL"),
        "{}",
        describe(&out)
    );
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

/// `train.val_every: 2` over 9 epochs validates at epochs 2, 4, 6, 8 and
/// the last, 9: metrics.csv leaves the others empty, the best checkpoint is
/// a validated epoch, and `patience` counts validations, not epochs.
#[test]
fn val_every_validates_every_nth_epoch_and_patience_counts_validations() {
    let work = tmp();
    let w = work.path();
    let every = |train: &str| {
        let text = spec_text("v", 4, NADE8, "[raster]", train);
        write_spec(w, "v.yaml", &text.replace("epochs: 2", "epochs: 9"));
        ok(arlab(
            w,
            &["run", "v.yaml", "--quiet", "--results", "res", "--force"],
        ));
        let dir = w.join("res/v/nade-h8-raster-s1");
        let m = csv_columns(&dir.join("metrics.csv"), &["epoch", "val_nll"]);
        (m, read_json(&dir.join("summary.json")))
    };
    let (m, s) = every("  val_every: 2\n");
    let validated: Vec<&str> = (0..m["epoch"].len())
        .filter(|&i| !m["val_nll"][i].is_empty())
        .map(|i| m["epoch"][i].as_str())
        .collect();
    assert_eq!(validated, ["2", "4", "6", "8", "9"]);
    let best = s["best_epoch"].as_u64().unwrap().to_string();
    assert!(validated.contains(&best.as_str()), "best epoch {best}");
    let lowest = m["val_nll"]
        .iter()
        .filter_map(|v| v.parse::<f64>().ok())
        .fold(f64::INFINITY, f64::min);
    assert!((s["best_val_nll"].as_f64().unwrap() - lowest).abs() < 1e-9);
    // lr 1 makes the validation NLL rise early: patience 1 stops at the
    // first validation (two epochs) after the best.
    let (m, s) = every("  val_every: 2\n  patience: 1\n  lr: 1.0\n");
    assert_eq!(s["stopped_early"], true, "{s}");
    let last: u64 = m["epoch"].last().unwrap().parse().unwrap();
    assert_eq!(last, s["best_epoch"].as_u64().unwrap() + 2, "{m:?}");
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

#[test]
fn several_seeds_are_summarised_in_the_comparison() {
    let work = tmp();
    let spec = spec_text("seeds", 3, "  - type: independent\n", "[raster, snake]", "")
        .replace("seeds: [1]", "seeds: [1, 2, 3]");
    let spec = write_spec(work.path(), "seeds.yaml", &spec);
    ok(arlab(
        work.path(),
        &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
    ));
    let md = std::fs::read_to_string(work.path().join("res/seeds/comparison.md")).unwrap();
    assert!(md.contains("## Over seeds"), "{md}");
    assert!(
        md.contains("| independent | raster | 3 |") && md.contains("| independent | snake | 3 |"),
        "{md}"
    );
}

/// `arlab plan SPEC | head`: a reader that stops reading ends arlab quietly,
/// with status 0, not with an "internal error" (stdout's write fails).
#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    let work = tmp();
    let spec = spec_text("pipe", 3, "  - type: independent\n", "[raster, snake]", "");
    let spec = write_spec(work.path(), "pipe.yaml", &spec);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_arlab"))
        .args(["plan", spec.to_str().unwrap(), "--results", "res"])
        .current_dir(work.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("arlab starts");
    // Close the read end before arlab prints (it starts libtorch first).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("internal error"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
