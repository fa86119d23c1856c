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
    // A garbage resume checkpoint of an unfinished run: `run` refuses.
    std::fs::remove_file(run.join("summary.json")).unwrap();
    std::fs::write(run.join("checkpoints/last.ot"), b"not a checkpoint").unwrap();
    let spec = work.path().join("exp.yaml");
    fails(
        arlab(
            work.path(),
            &["run", spec.to_str().unwrap(), "--quiet", "--results", "res"],
        ),
        &["last.ot", "unreadable or partial", "--force"],
    );
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
