//! The catalogue of bad inputs: each one must end in a short error that says
//! what is wrong and where, exit status 1, and no panic or backtrace.
mod common;

use std::path::Path;

use common::*;

/// A valid spec on 4×4 synthetic data; cases replace parts of it.
const BASE: &str = "name: bad
data:
  source: synthetic
  synthetic: {height: 4, width: 4, train: 60, val: 20, test: 20, seed: 0}
models:
  - type: nade
    hidden: 4
orderings: [raster]
train:
  epochs: 1
  batch_size: 20
  device: cpu
";

/// `BASE` with one line replaced.
fn with(old: &str, new: &str) -> String {
    assert!(BASE.contains(old), "BASE has no {old:?}");
    BASE.replacen(old, new, 1)
}

/// Runs `arlab run` on `spec` (with extra args) and checks the failure.
#[track_caller]
fn spec_fails(spec: &str, extra: &[&str], needles: &[&str]) {
    let work = tmp();
    let path = write_spec(work.path(), "exp.yaml", spec);
    let mut args = vec!["run", path.to_str().unwrap(), "--quiet", "--results", "res"];
    args.extend_from_slice(extra);
    fails(arlab(work.path(), &args), needles);
}

// ---------------------------------------------------------------- the spec

#[test]
fn malformed_yaml_gives_line_and_column() {
    spec_fails(
        &with("orderings: [raster]", "orderings: [raster"),
        &[],
        &["exp.yaml", "line", "column"],
    );
    spec_fails(
        &with("  epochs: 1", "  epochs: 1\n   lr: 0.1"),
        &[],
        &["exp.yaml", "line"],
    );
}

#[test]
fn unknown_keys_are_named_with_file_and_line() {
    spec_fails(
        &with("orderings:", "ordering: [raster]\norderings:"),
        &[],
        &["unknown field `ordering`", "exp.yaml", "line 8"],
    );
    spec_fails(
        &with("  epochs: 1", "  epoch: 1"),
        &[],
        &["train", "unknown field `epoch`", "line 10"],
    );
    spec_fails(
        &with("    hidden: 4", "    hiden: 4"),
        &[],
        &["models[0]", "unknown field `hiden`", "nade", "line 6"],
    );
}

#[test]
fn wrong_types_name_the_field() {
    spec_fails(
        &with("  epochs: 1", "  epochs: ten"),
        &[],
        &["train.epochs", "invalid type"],
    );
    spec_fails(
        &with("    hidden: 4", "    hidden: [4]"),
        &[],
        &["models[0]: hidden: invalid type"],
    );
}

#[test]
fn out_of_range_values_name_the_field_and_the_rule() {
    let cases = [
        (
            ("  epochs: 1", "  epochs: 1\n  lr: 0"),
            &["train", "lr: must be a positive number, got 0"][..],
        ),
        (
            ("  epochs: 1", "  epochs: 1\n  lr: -0.5"),
            &["lr: must be a positive number, got -0.5"],
        ),
        (
            ("  batch_size: 20", "  batch_size: 0"),
            &["batch_size: must be at least 1, got 0"],
        ),
        (
            ("  epochs: 1", "  epochs: 0"),
            &["epochs: must be at least 1, got 0"],
        ),
        (
            ("    hidden: 4", "    hidden: 0"),
            &["models[0]", "hidden: must be at least 1"],
        ),
        (
            (
                "  - type: nade\n    hidden: 4",
                "  - type: markov\n    k: 0",
            ),
            &["models[0]", "k: must be at least 1"],
        ),
        (
            ("  device: cpu", "  device: cpu\n  betas: [1.0, 0.9]"),
            &["betas[0]: must be in [0, 1)"],
        ),
        (
            (
                "  source: synthetic",
                "  source: synthetic\n  threshold: 1.5",
            ),
            &["data.threshold: must be in (0, 1)"],
        ),
    ];
    for ((old, new), needles) in cases {
        spec_fails(&with(old, new), &[], needles);
    }
}

#[test]
fn unknown_names_list_the_valid_ones() {
    spec_fails(
        &with("type: nade", "type: pixelcnn9"),
        &[],
        &[
            "unknown model type \"pixelcnn9\"",
            "independent",
            "markov",
            "tabular",
            "fvsbn",
            "nade",
            "pixelcnn",
            "gated_pixelcnn",
        ],
    );
    spec_fails(
        &with("orderings: [raster]", "orderings: [peano]"),
        &[],
        &[
            "orderings[0]",
            "peano",
            "raster",
            "hilbert",
            "spiral",
            "random[:SEED]",
            "reverse",
        ],
    );
    spec_fails(
        &with("orderings: [raster]", "orderings: [\"random:x\"]"),
        &[],
        &["random:x", "seed"],
    );
    spec_fails(
        &with("  device: cpu", "  device: tpu"),
        &[],
        &["device", "unknown device \"tpu\""],
    );
    spec_fails(
        &with("source: synthetic", "source: cifar"),
        &[],
        &["data.source", "cifar", "idx:PATH"],
    );
}

#[test]
fn unsupported_combinations_are_refused() {
    // model × pixel form: Bernoulli models on 8-bit pixels
    spec_fails(
        &with(
            "  source: synthetic",
            "  source: synthetic\n  pixels: gray256",
        ),
        &[],
        &["models[0]", "needs `data.pixels: binary`"],
    );
    // a raster-scan network under an ordering it cannot take
    spec_fails(
        &with("type: nade\n    hidden: 4", "type: gated_pixelcnn")
            .replace("orderings: [raster]", "orderings: [raster, snake]"),
        &[],
        &["models[0]", "`snake`", "dihedral", "raster, column"],
    );
    // colour data with a Bernoulli-only model
    spec_fails(
        &with("  source: synthetic", "  source: synthetic\n  pixels: rgb"),
        &[],
        &[
            "models[0]",
            "nade",
            "`data.pixels: rgb`",
            "needs `data.pixels: binary`",
        ],
    );
    // settings of another model type
    spec_fails(
        &with("    hidden: 4", "    hidden: 4\n    k: 2"),
        &[],
        &["models[0]", "unknown field `k`", "nade model"],
    );
    // the full chain rule on 16 pixels is fine, on 64 it is refused
    spec_fails(
        &with("height: 4, width: 4", "height: 8, width: 8")
            .replace("type: nade\n    hidden: 4", "type: tabular"),
        &[],
        &["2^64", "D = 20"],
    );
    // a Markov table too large to build
    spec_fails(
        &with("height: 4, width: 4", "height: 8, width: 8")
            .replace("type: nade\n    hidden: 4", "type: markov\n    k: 40"),
        &[],
        &["markov", "k = 40", "table entries"],
    );
}

#[test]
fn specs_that_expand_to_zero_runs() {
    spec_fails(
        &with("orderings: [raster]", "orderings: []"),
        &[],
        &["orderings", "zero runs"],
    );
    spec_fails(
        &with("orderings: [raster]", "orderings: [raster]\nseeds: []"),
        &[],
        &["seeds", "zero runs"],
    );
}

#[test]
fn bad_overrides() {
    spec_fails(
        BASE,
        &["--set", "train.epochs"],
        &["--set", "expected KEY.PATH=VALUE"],
    );
    spec_fails(
        BASE,
        &["--set", "train.epoch=3"],
        &["after --set", "unknown field `epoch`"],
    );
    spec_fails(
        BASE,
        &["--set", "models.3.hidden=3"],
        &["index 3 is out of range"],
    );
    spec_fails(
        BASE,
        &["--set", "train.lr=-1"],
        &["lr: must be a positive number"],
    );
}

#[test]
fn missing_spec_file() {
    let work = tmp();
    fails(
        arlab(work.path(), &["run", "nope.yaml"]),
        &["cannot read spec `nope.yaml`"],
    );
}

// ---------------------------------------------------------------- data

fn idx_header(n: u32, h: u32, w: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for x in [n, h, w] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

fn idx_spec(path: &Path) -> String {
    with(
        "source: synthetic",
        &format!("source: \"idx:{}\"", path.display()),
    )
}

#[test]
fn missing_data_file_is_named() {
    spec_fails(
        &with("source: synthetic", "source: \"idx:/nonexistent/mnist\""),
        &[],
        &["/nonexistent/mnist"],
    );
}

#[test]
fn corrupt_idx_files_say_what_is_wrong() {
    let work = tmp();
    let bad_magic = work.path().join("magic.idx");
    std::fs::write(
        &bad_magic,
        [0u8, 0, 8, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2],
    )
    .unwrap();
    spec_fails(&idx_spec(&bad_magic), &[], &["magic.idx", "magic"]);

    let truncated = work.path().join("short.idx");
    let mut bytes = idx_header(10, 4, 4);
    bytes.extend_from_slice(&[0u8; 50]);
    std::fs::write(&truncated, bytes).unwrap();
    spec_fails(&idx_spec(&truncated), &[], &["short.idx", "truncated"]);

    let bad_gzip = work.path().join("bad.idx.gz");
    std::fs::write(
        &bad_gzip,
        [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef],
    )
    .unwrap();
    spec_fails(&idx_spec(&bad_gzip), &[], &["bad.idx.gz", "gzip"]);

    let empty = work.path().join("empty.idx");
    std::fs::write(&empty, idx_header(0, 4, 4)).unwrap();
    spec_fails(&idx_spec(&empty), &[], &["empty.idx", "no images"]);
}

#[test]
fn images_of_another_size_than_the_spec_says() {
    let work = tmp();
    let file = work.path().join("five.idx");
    let mut bytes = idx_header(30, 5, 5);
    bytes.extend(std::iter::repeat_n(9u8, 30 * 25));
    std::fs::write(&file, bytes).unwrap();
    let spec = idx_spec(&file).replace("  source:", "  size: 28x28\n  source:");
    spec_fails(&spec, &[], &["five.idx", "5×5", "data.size says 28×28"]);
    spec_fails(
        &with("  source: synthetic", "  source: synthetic\n  size: 28by28"),
        &[],
        &["data.size", "28by28"],
    );
}

#[test]
fn missing_builtin_data_names_the_install_command() {
    let work = tmp();
    let spec = write_spec(
        work.path(),
        "exp.yaml",
        &with("source: synthetic", "source: mnist"),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_arlab"))
        .args(["run", spec.to_str().unwrap(), "--quiet", "--results", "res"])
        .current_dir(work.path())
        .env("ARLAB_MNIST_DIR", "/nonexistent/mnist")
        .output()
        .unwrap();
    fails(
        out,
        &[
            "`mnist` is not installed",
            "/nonexistent/mnist",
            "scripts/setup.sh",
        ],
    );
}

// ------------------------------------------------ devices, results, runs

#[test]
fn cuda_requested_without_cuda() {
    let work = tmp();
    if cuda_available(work.path()) {
        eprintln!("skipped: this machine has CUDA");
        return;
    }
    spec_fails(
        &with("device: cpu", "device: cuda"),
        &[],
        &["CUDA was requested", "arlab doctor"],
    );
    spec_fails(&with("device: cpu", "device: \"cuda:1\""), &[], &["CUDA"]);
    // `auto` is not an error: it falls back to the CPU and says so.
    let spec = write_spec(
        work.path(),
        "auto.yaml",
        &with("device: cpu", "device: auto"),
    );
    let out = ok(arlab(
        work.path(),
        &["run", spec.to_str().unwrap(), "--results", "res"],
    ));
    assert!(
        text(&out.stderr).contains("CUDA is not available, `device: auto` uses the CPU"),
        "{}",
        describe(&out)
    );
}

#[test]
fn results_directory_that_cannot_be_written() {
    let work = tmp();
    std::fs::write(work.path().join("file"), "x").unwrap();
    let spec = write_spec(work.path(), "exp.yaml", BASE);
    fails(
        arlab(
            work.path(),
            &[
                "run",
                spec.to_str().unwrap(),
                "--quiet",
                "--results",
                "file/res",
            ],
        ),
        &["cannot create results directory"],
    );
}

/// A trained run, for the cases that need one.
fn trained(work: &Path) -> std::path::PathBuf {
    let spec = write_spec(work, "exp.yaml", BASE);
    ok(arlab(
        work,
        &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
    ));
    work.join("res/bad/nade-h4-raster-s0")
}

#[test]
fn partial_or_unreadable_checkpoints() {
    let work = tmp();
    let run = trained(work.path());
    let run_s = run.to_str().unwrap();
    // best.ot cut in half: eval and sample refuse.
    let best = run.join("checkpoints/best.ot");
    let bytes = std::fs::read(&best).unwrap();
    std::fs::write(&best, &bytes[..bytes.len() / 2]).unwrap();
    fails(
        arlab(work.path(), &["eval", run_s]),
        &["cannot load checkpoint", "best.ot"],
    );
    fails(
        arlab(work.path(), &["sample", run_s, "--out", "x.png"]),
        &["cannot load checkpoint"],
    );
    // A resume checkpoint cut in half, then garbage, of an unfinished run:
    // `run` refuses in one line per cause, libtorch's without its C++
    // backtrace (`fails` checks that none shows).
    std::fs::remove_file(run.join("summary.json")).unwrap();
    let last = run.join("checkpoints/last.ot");
    let bytes = std::fs::read(&last).unwrap();
    let spec = work.path().join("exp.yaml");
    let args = ["run", spec.to_str().unwrap(), "--quiet", "--results", "res"];
    for contents in [&bytes[..bytes.len() / 2], b"not a checkpoint"] {
        std::fs::write(&last, contents).unwrap();
        let err = fails(
            arlab(work.path(), &args),
            &["last.ot", "unreadable or partial", "--force"],
        );
        assert!(err.lines().count() <= 3, "more than 3 lines:\n{err}");
    }
    // eval on the half best.ot: short too.
    let err = fails(arlab(work.path(), &["eval", run_s]), &["best.ot"]);
    assert!(err.lines().count() <= 3, "more than 3 lines:\n{err}");
}

#[test]
fn images_of_another_size_than_the_run() {
    let work = tmp();
    let run = trained(work.path());
    let five = work.path().join("five.idx");
    let mut bytes = idx_header(30, 5, 5);
    bytes.extend(std::iter::repeat_n(200u8, 30 * 25));
    std::fs::write(&five, bytes).unwrap();
    let source = format!("idx:{}", five.display());
    fails(
        arlab(
            work.path(),
            &["eval", run.to_str().unwrap(), "--data", &source],
        ),
        &["5×5", "4×4"],
    );
}

#[test]
fn commands_on_something_that_is_not_a_run() {
    let work = tmp();
    fails(arlab(work.path(), &["eval", "."]), &["not a run directory"]);
    fails(
        arlab(work.path(), &["sample", ".", "--out", "x.png"]),
        &["not a run directory"],
    );
    let run = trained(work.path());
    fails(
        arlab(
            work.path(),
            &[
                "sample",
                run.to_str().unwrap(),
                "--count",
                "0",
                "--out",
                "x.png",
            ],
        ),
        &["--count"],
    );
    fails(
        arlab(work.path(), &["orderings", "--size", "0x5", "--out", "o"]),
        &["--size"],
    );
}

// ------------------------------------------- flags and sweeps, where they are

#[test]
fn devices_without_jobs_is_used_and_a_bad_one_is_named_once_by_its_flag() {
    let work = tmp();
    // One process: `--devices cpu` is its device, and it says so.
    let spec = write_spec(work.path(), "exp.yaml", BASE);
    let spec = spec.to_str().unwrap();
    let out = ok(arlab(work.path(), &["run", spec, "--devices", "cpu"]));
    let err = text(&out.stderr);
    assert!(
        err.contains("--devices cpu: this process trains every run on cpu"),
        "{err}"
    );
    if cuda_available(work.path()) {
        eprintln!("skipped the cuda:7 cases: this machine has CUDA");
        return;
    }
    let two = with("orderings: [raster]", "orderings: [raster, column]");
    for extra in [
        &["--devices", "cuda:7"][..],
        &["--devices", "cuda:7", "--jobs", "2"],
    ] {
        let work = tmp();
        let path = write_spec(work.path(), "exp.yaml", &two);
        let mut args = vec!["run", path.to_str().unwrap(), "--quiet", "--results", "res"];
        args.extend_from_slice(extra);
        let err = fails(arlab(work.path(), &args), &["--devices cuda:7", "CUDA"]);
        assert_eq!(err.matches("error:").count(), 1, "{err}");
        assert!(!err.contains("device: "), "names the spec field:\n{err}");
    }
    // Two devices for one process: refused, naming the flag and the way out.
    spec_fails(
        BASE,
        &["--devices", "cpu,cpu"],
        &["--devices lists 2 devices", "--jobs 2"],
    );
}

#[test]
fn sweep_errors_name_their_line_in_the_spec() {
    // BASE has 12 lines: `sweep:` is line 13, its key line 14.
    spec_fails(
        &format!("{BASE}sweep:\n  train.lr: [0.1, -1]\n"),
        &[],
        &[
            "exp.yaml",
            "train.lr=-1 (line 14)",
            "lr: must be a positive number",
        ],
    );
    let work = tmp();
    let path = write_spec(
        work.path(),
        "exp.yaml",
        &format!("{BASE}sweep:\n  models.3.hidden: [2]\n"),
    );
    let err = fails(
        arlab(work.path(), &["run", path.to_str().unwrap(), "--quiet"]),
        &[
            "sweep: `models.3.hidden` (line 14)",
            "index 3 is out of range",
        ],
    );
    assert!(!err.contains("--set"), "a --set never given:\n{err}");
}

#[test]
fn eval_orderings_1_is_the_models_own_ordering() {
    let work = tmp();
    let run = trained(work.path());
    let run = run.to_str().unwrap();
    let plain = ok(arlab(work.path(), &["eval", run]));
    let one = ok(arlab(work.path(), &["eval", run, "--orderings", "1"]));
    assert!(
        text(&one.stderr).contains("evaluated under its own ordering (raster)"),
        "{}",
        describe(&one)
    );
    assert_eq!(text(&plain.stdout), text(&one.stdout));
    fails(
        arlab(work.path(), &["eval", run, "--orderings", "2"]),
        &["its own ordering only", "2"],
    );
}

#[test]
fn a_negative_pixel_gets_an_error_about_its_value() {
    let work = tmp();
    let spec = write_spec(work.path(), "exp.yaml", BASE);
    fails(
        arlab(
            work.path(),
            &["receptive-field", spec.to_str().unwrap(), "--pixel", "-1,0"],
        ),
        &["--pixel", "ROW,COL", "\"-1,0\""],
    );
}

// ------------------------------------------------- results that cannot be read

#[test]
fn report_status_and_compare_name_runs_whose_summary_is_unreadable() {
    let work = tmp();
    let w = work.path();
    let spec = write_spec(
        w,
        "exp.yaml",
        &with("orderings: [raster]", "orderings: [raster, column]"),
    );
    ok(arlab(
        w,
        &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
    ));
    let exp = w.join("res/bad");
    std::fs::write(exp.join("nade-h4-column-s0/summary.json"), "{\"run\": ").unwrap();
    // report: refused, the run named, nothing written.
    fails(
        arlab(w, &["report", "res/bad", "--out", "rep"]),
        &[
            "1 run(s) would be left out",
            "nade-h4-column-s0",
            "summary.json",
            "--allow-incomplete",
        ],
    );
    assert!(!w.join("rep").exists());
    let out = ok(arlab(
        w,
        &["report", "res/bad", "--out", "rep", "--allow-incomplete"],
    ));
    assert!(
        text(&out.stderr).contains("nade-h4-column-s0"),
        "{}",
        describe(&out)
    );
    // status: unreadable, with why; never "interrupted".
    let status = text(&ok(arlab(w, &["status", "res/bad"])).stdout);
    let line = status
        .lines()
        .find(|l| l.contains("nade-h4-column-s0"))
        .unwrap();
    assert!(
        line.contains("unreadable") && line.contains("not a valid summary"),
        "{status}"
    );
    assert!(!status.contains("interrupted"), "{status}");
    // compare: refused, the run named.
    fails(
        arlab(w, &["compare", "res/bad", "--out", "cmp"]),
        &["nade-h4-column-s0", "summary.json"],
    );
    // Only the unreadable run left: never "no summary.json".
    std::fs::remove_file(exp.join("nade-h4-raster-s0/summary.json")).unwrap();
    let err = fails(
        arlab(w, &["report", "res/bad", "--out", "rep2"]),
        &["no readable finished run", "nade-h4-column-s0"],
    );
    assert!(!err.contains("no summary.json"), "{err}");
    // run: the unreadable run is trained again, and says so.
    let out = ok(arlab(
        w,
        &["run", spec.to_str().unwrap(), "--results", "res"],
    ));
    let log = text(&out.stderr);
    assert!(
        log.contains("nade-h4-column-s0")
            && log.contains("not a valid summary")
            && log.contains("training it again"),
        "{}",
        describe(&out)
    );
    read_summary_ok(&exp.join("nade-h4-column-s0/summary.json"));
}

fn read_summary_ok(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap();
}

#[test]
fn report_on_a_missing_or_empty_directory_creates_nothing() {
    let work = tmp();
    let w = work.path();
    fails(
        arlab(w, &["report", "nope"]),
        &["nope", "no such experiment directory"],
    );
    assert!(!w.join("nope").exists());
    std::fs::create_dir(w.join("empty")).unwrap();
    fails(arlab(w, &["report", "empty"]), &["no finished run"]);
    assert!(!w.join("empty/report").exists());
}
