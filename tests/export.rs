//! Checkpoints as safetensors and per-image results as .npy: every run
//! writes checkpoints/best.safetensors and test_log_probs.npy; `arlab
//! export` writes the same file anywhere; a model loaded back from one
//! gives the run's numbers exactly; and bad files are refused clearly.
mod common;

use std::path::{Path, PathBuf};

use common::*;

const MODELS: &str =
    "  - type: fvsbn\n  - type: nade\n    hidden: 8\n  - type: made\n    hidden: [16]\n  \
                      - type: pixelcnn\n    blocks: 1\n    hidden: 4\n    output_hidden: 8\n";
const RUNS: [&str; 4] = [
    "fvsbn-snake-s1",
    "nade-h8-snake-s1",
    "made-h16-snake-s1",
    "pixelcnn-b1-h4-o8-snake-s1",
];

/// Trains the four models under the snake ordering (1 epoch) into `work/results`.
fn trained(work: &Path) -> PathBuf {
    let spec = spec_text("interop", 4, MODELS, "[snake]", "").replace("epochs: 2", "epochs: 1");
    let spec = write_spec(work, "interop.yaml", &spec);
    ok(arlab(work, &["run", spec.to_str().unwrap(), "--quiet"]));
    work.join("results/interop")
}

/// The NLL an `arlab eval` line prints.
fn printed_nll(out: &std::process::Output) -> String {
    let stdout = text(&out.stdout);
    let at = stdout
        .find("NLL ")
        .unwrap_or_else(|| panic!("no NLL in {stdout}"));
    stdout[at..].split_whitespace().nth(1).unwrap().to_string()
}

fn f64s(path: &Path) -> Vec<u64> {
    let v = arlab::results::npy::read_f64(path).unwrap();
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn exported_models_give_the_runs_numbers_exactly() {
    let work = tmp();
    let exp = trained(work.path());
    let run_names: Vec<String> = std::fs::read_dir(&exp)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // comparison.csv's columns are documented in docs/results.md as stable.
    let (head, rows) = read_csv(&exp.join("comparison.csv"));
    assert_eq!(head, COMPARISON_COLUMNS);
    assert_eq!(rows.len(), RUNS.len());
    for name in RUNS {
        assert!(
            run_names.iter().any(|n| n == name),
            "{name} not in {run_names:?}"
        );
        let run = exp.join(name);
        // Per-image log-likelihoods: float64, one per test image, mean = −test NLL.
        let log_p = arlab::results::npy::read_f64(&run.join("test_log_probs.npy")).unwrap();
        assert_eq!(log_p.len(), 50, "{name}");
        let mean = -log_p.iter().sum::<f64>() / log_p.len() as f64;
        assert!(
            (mean - test_nll(&run)).abs() < 1e-9,
            "{name}: {mean} vs {}",
            test_nll(&run)
        );

        let file = work.path().join(format!("{name}.safetensors"));
        let out = ok(arlab(
            work.path(),
            &[
                "export",
                run.to_str().unwrap(),
                "--out",
                file.to_str().unwrap(),
            ],
        ));
        assert!(text(&out.stdout).contains(name), "{}", describe(&out));

        let per = |what: &Path, csv: &str| {
            let csv = work.path().join(csv);
            let out = ok(arlab(
                work.path(),
                &[
                    "eval",
                    what.to_str().unwrap(),
                    "--per-image",
                    csv.to_str().unwrap(),
                ],
            ));
            (printed_nll(&out), f64s(&csv.with_extension("npy")))
        };
        let from_run = per(&run, "run.csv");
        let from_export = per(&file, "export.csv");
        let from_best = per(&run.join("checkpoints/best.safetensors"), "best.csv");
        assert_eq!(from_run, from_export, "{name}: eval of the export differs");
        assert_eq!(
            from_run, from_best,
            "{name}: eval of best.safetensors differs"
        );
        assert_eq!(from_run.1, f64s(&run.join("test_log_probs.npy")), "{name}");
    }
}

#[test]
fn bad_exports_and_imports_get_one_clear_line() {
    let work = tmp();
    let run = train_small(work.path(), "results");
    let w = work.path();
    let r = run.to_str().unwrap();
    fails(
        arlab(w, &["export", r, "--out", "model.pt"]),
        &["--out", ".safetensors"],
    );
    fails(
        arlab(
            w,
            &["export", w.to_str().unwrap(), "--out", "m.safetensors"],
        ),
        &["not a run directory"],
    );
    fails(
        arlab(w, &["eval", "missing.safetensors"]),
        &["cannot read `missing.safetensors`"],
    );
    std::fs::write(w.join("junk.safetensors"), b"not a safetensors file").unwrap();
    fails(
        arlab(w, &["eval", "junk.safetensors"]),
        &["`junk.safetensors` is not a valid safetensors file"],
    );
    fails(
        arlab(w, &["eval", r, "--per-image", "x.npy"]),
        &["--per-image", "the .npy is written beside it"],
    );
    fails(
        arlab(w, &["score", r, "--out", "x.npy"]),
        &["the .npy is written beside it"],
    );

    ok(arlab(w, &["export", r, "--out", "m.safetensors"]));
    // Its images are 4×4; 28×28 ones are refused, naming both.
    fails(
        arlab(w, &["eval", "m.safetensors", "--data", "mnist"]),
        &["are 1×28×28, but run nade-h8-raster-s1 was trained on 1×4×4 images"],
    );
    // A file cut short.
    let bytes = std::fs::read(w.join("m.safetensors")).unwrap();
    std::fs::write(w.join("cut.safetensors"), &bytes[..bytes.len() - 3]).unwrap();
    fails(
        arlab(w, &["eval", "cut.safetensors"]),
        &["is not a valid safetensors file"],
    );
}
