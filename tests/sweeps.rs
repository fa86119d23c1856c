//! Sweeps on one machine: `arlab plan` and its manifest, `arlab run --jobs 2`
//! (progress line, swept columns, provenance, TensorBoard event files read
//! back), `--task I`, a second process sharing the experiment, and the
//! report opened in headless chromium.
mod common;

use std::path::Path;
use std::process::Command;

use arlab::results::tensorboard::read_scalars;
use common::*;

const TB: &str = "  tensorboard: true\n";

fn spec(work: &Path) {
    // Small and quick: 1000 images, 2 epochs.
    let text = sweep_spec("sw", 1000, 2).replace("  samples: 8\n", &format!("  samples: 8\n{TB}"));
    write_spec(work, "sweep.yaml", &text);
}

#[test]
fn plan_lists_stable_indices_and_writes_the_manifest() {
    let work = tmp();
    let w = work.path();
    spec(w);
    let out = text(&ok(arlab(w, &["plan", "sweep.yaml", "--results", "res"])).stdout);
    assert!(
        out.contains("4 run(s), sweeping train.lr (2 values)"),
        "{out}"
    );
    for (i, run) in SWEEP_RUNS.iter().enumerate() {
        assert!(out.contains(&format!("{i}  not started  {run}")), "{out}");
    }
    let manifest = std::fs::read_to_string(w.join("res/sw/runs.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2]["name"], SWEEP_RUNS[2]);
    assert_eq!(rows[2]["overrides"]["train.lr"], "0.01");
    assert_eq!(rows[2]["spec_hash"].as_str().unwrap().len(), 16);
    // A third value comes after the planned runs; their indices stay.
    let three = std::fs::read_to_string(w.join("sweep.yaml"))
        .unwrap()
        .replace("[0.003, 0.01]", "[0.03, 0.003, 0.01]");
    write_spec(w, "three.yaml", &three);
    let out = text(&ok(arlab(w, &["plan", "three.yaml", "--results", "res"])).stdout);
    assert!(
        out.contains(&format!("0  not started  {}", SWEEP_RUNS[0])),
        "{out}"
    );
    assert!(
        out.contains("4  not started  nade-h32-raster-s0-lr0.03"),
        "{out}"
    );
}

#[test]
fn two_workers_run_a_sweep_and_a_task_runs_alone() {
    let work = tmp();
    let w = work.path();
    spec(w);
    // --task: only that run.
    ok(arlab(
        w,
        &[
            "run",
            "sweep.yaml",
            "--results",
            "res",
            "--task",
            "3",
            "--quiet",
        ],
    ));
    let exp = w.join("res/sw");
    assert!(exp.join(SWEEP_RUNS[3]).join("summary.json").exists());
    assert!(!exp.join(SWEEP_RUNS[0]).exists());
    fails(
        arlab(w, &["run", "sweep.yaml", "--results", "res", "--task", "9"]),
        &["--task 9", "no run 9"],
    );

    let out = ok(arlab(
        w,
        &["run", "sweep.yaml", "--results", "res", "--jobs", "2"],
    ));
    let err = text(&out.stderr);
    assert!(
        err.contains("2 worker process(es), 1 torch thread(s) each"),
        "{err}"
    );
    assert!(
        err.contains("sweep sw: 4/4 done, 0 running, 0 failed, 0 waiting"),
        "{err}"
    );
    let cols = csv_columns(
        &exp.join("comparison.csv"),
        &["model", "train.lr", "test_nll_nats"],
    );
    assert_eq!(cols["train.lr"].len(), 4);
    assert!(cols["train.lr"].contains(&"0.003".to_string()));
    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    assert!(
        md.contains("| model | ordering | train.lr | seed |"),
        "{md}"
    );
    for f in [
        "nll_curves.png",
        "nll_curves.svg",
        "test_nll.png",
        "test_nll.svg",
    ] {
        assert!(exp.join(f).is_file(), "{f}");
    }
    assert!(std::fs::read_to_string(exp.join("nll_curves.svg"))
        .unwrap()
        .contains("<svg"));

    // summary.json: swept values and what reproduces the run.
    let s = read_json(&exp.join(SWEEP_RUNS[2]).join("summary.json"));
    assert_eq!(s["swept"][0]["key"], "train.lr");
    let p = &s["provenance"];
    for key in [
        "arlab_version",
        "libtorch_version",
        "device_name",
        "host",
        "started",
        "finished",
    ] {
        assert!(p[key].as_str().is_some_and(|v| !v.is_empty()), "{key}: {s}");
    }
    assert!(
        p["git_commit"].as_str().is_some_and(|c| c.len() == 40),
        "{s}"
    );
    assert!(p["command_line"].to_string().contains("--worker"), "{s}");
    // The run's own spec reproduces it: the swept value applied, no sweep.
    let run_spec = std::fs::read_to_string(exp.join(SWEEP_RUNS[2]).join("spec.yaml")).unwrap();
    assert!(
        run_spec.contains("lr: 0.01") && !run_spec.contains("sweep"),
        "{run_spec}"
    );

    // TensorBoard scalars per epoch, read back.
    let tb = exp.join(SWEEP_RUNS[2]).join("tensorboard");
    let file = std::fs::read_dir(&tb)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let scalars = read_scalars(&file).unwrap();
    let val: Vec<_> = scalars.iter().filter(|s| s.tag == "nll/val").collect();
    assert_eq!(val.iter().map(|s| s.step).collect::<Vec<_>>(), [1, 2]);
    let (_, rows) = read_csv(&exp.join(SWEEP_RUNS[2]).join("metrics.csv"));
    let csv_val: f64 = rows[1][2].parse().unwrap();
    assert!(
        (val[1].value as f64 - csv_val).abs() < 1e-3,
        "{} vs {csv_val}",
        val[1].value
    );

    let status = text(&ok(arlab(w, &["status", "res/sw"])).stdout);
    assert!(status.contains("4 run(s): 4 done"), "{status}");
}

#[test]
fn report_renders_in_headless_chromium() {
    let work = tmp();
    let w = work.path();
    spec(w);
    ok(arlab(
        w,
        &[
            "run",
            "sweep.yaml",
            "--results",
            "res",
            "--jobs",
            "2",
            "--quiet",
        ],
    ));
    ok(arlab(w, &["report", "res/sw", "--out", "rep"]));
    let rep = w.join("rep");
    let md = std::fs::read_to_string(rep.join("report.md")).unwrap();
    assert!(
        md.contains("| model | ordering | train.lr | seeds |"),
        "{md}"
    );
    for f in [
        "sw-val-nll.png",
        "sw-val-nll.svg",
        "sw-test-nll.svg",
        "sw-orderings.svg",
        "sw-samples.png",
    ] {
        assert!(rep.join(f).is_file(), "{f}");
        assert!(md.contains(f), "report.md lacks {f}");
    }
    let html = std::fs::read_to_string(rep.join("report.html")).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the report must not need a network"
    );
    // Inline images (minijinja escapes the `/` of the data URI as `&#x2f;`).
    assert_eq!(html.matches("<img src=\"data:image").count(), 4);

    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        assert!(
            std::env::var("ARLAB_REQUIRE_TOOLS").is_err(),
            "chromium is not installed: run scripts/setup.sh"
        );
        eprintln!(
            "skipped the browser check: chromium is not installed (scripts/setup.sh installs it)"
        );
        return;
    };
    let url = format!("file://{}", rep.join("report.html").display());
    let browser = |args: &[&str]| {
        let out = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(args)
            .arg(&url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        out
    };
    let dom = text(&browser(&["--dump-dom"]).stdout);
    assert_eq!(dom.matches("<table").count(), 2, "{dom}");
    assert_eq!(dom.matches("<img").count(), 4);
    let shot = w.join("shot.png");
    browser(&[
        "--window-size=1300,1600",
        &format!("--screenshot={}", shot.display()),
    ]);
    let img = image::open(&shot).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1300, 1600));
    // Rendered, not blank: many distinct colours (text, tables, plot lines).
    let colours: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert!(
        colours.len() > 50,
        "only {} colours in the screenshot",
        colours.len()
    );
}

#[test]
fn a_killed_worker_loses_nothing_the_rerun_finishes_what_is_missing() {
    let work = tmp();
    let w = work.path();
    write_spec(w, "sweep.yaml", &sweep_spec("kw", 6000, 3));
    // Slow enough to kill a worker mid-run, on any machine: 300 steps an
    // epoch, each followed by a pause of 3 ms.
    let parent = Command::new(env!("CARGO_BIN_EXE_arlab"))
        .env("ARLAB_STEP_DELAY_MS", "3")
        .args([
            "run",
            "sweep.yaml",
            "--results",
            "res",
            "--jobs",
            "2",
            "--quiet",
        ])
        .current_dir(w)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let exp = w.join("res/kw");
    let run = exp.join(SWEEP_RUNS[0]);
    // The end-of-epoch checkpoint (written atomically, after metrics.csv):
    // what the rerun resumes from.
    wait_until(
        "a worker to checkpoint an epoch",
        std::time::Duration::from_secs(120),
        || run.join("checkpoints/last.ot").exists(),
    );
    // The lock file names the worker training the run.
    let pid = std::fs::read_to_string(exp.join(".locks").join(format!("{}.lock", SWEEP_RUNS[0])))
        .unwrap();
    assert!(
        !run.join("summary.json").exists(),
        "the run ended before the kill"
    );
    ok(Command::new("kill")
        .args(["-KILL", pid.trim()])
        .output()
        .unwrap());
    let out = parent.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("signal: 9"),
        "{}",
        describe(&out)
    );
    assert!(!run.join("summary.json").exists());

    let out = ok(arlab(
        w,
        &["run", "sweep.yaml", "--results", "res", "--jobs", "2"],
    ));
    assert!(text(&out.stderr).contains("4/4 done"), "{}", describe(&out));
    assert!(std::fs::read_to_string(run.join("log.txt"))
        .unwrap()
        .contains("resuming after epoch"));
    // The same numbers as a sweep nobody interrupted.
    ok(arlab(
        w,
        &[
            "run",
            "sweep.yaml",
            "--results",
            "clean",
            "--jobs",
            "2",
            "--quiet",
        ],
    ));
    for r in SWEEP_RUNS {
        assert_eq!(
            test_nll(&exp.join(r)),
            test_nll(&w.join("clean/kw").join(r)),
            "{r}"
        );
    }
}
