//! `arlab bench`: the table, the CSV, the model filter and its errors.
mod common;
use common::*;

const MODELS: &str = "  - type: nade\n    hidden: 4\n  - type: pixelcnn\n    blocks: 1\n    hidden: 4\n    output_hidden: 8\n";

const COLUMNS: [&str; 17] = [
    "model",
    "type",
    "batch",
    "parameters",
    "train_img_per_s",
    "train_min",
    "train_max",
    "eval_img_per_s",
    "eval_min",
    "eval_max",
    "samples",
    "sample_seconds",
    "peak_rss_mib",
    "rss_start_mib",
    "peak_cuda_mib",
    "device",
    "precision",
];

fn tiny_spec(work: &std::path::Path) -> String {
    let text = spec_text("tiny", 4, MODELS, "[raster]", "");
    write_spec(work, "tiny.yaml", &text)
        .to_str()
        .unwrap()
        .to_string()
}

fn bench(work: &std::path::Path, spec: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        spec,
        "--seconds",
        "0.2",
        "--samples",
        "4",
        "--out",
        "x.csv",
    ];
    args.extend_from_slice(extra);
    arlab(work, &args)
}

fn positive(cells: &[String]) -> bool {
    cells
        .iter()
        .all(|c| c.parse::<f64>().is_ok_and(|v| v.is_finite() && v > 0.0))
}

#[test]
fn bench_prints_a_table_and_writes_the_csv() {
    let dir = tmp();
    let spec = tiny_spec(dir.path());
    let out = text(&ok(bench(dir.path(), &spec, &[])).stdout);
    assert!(out.contains("| model | type | batch |"), "{out}");
    assert!(out.contains("| nade-h4 | nade | 100 |"), "{out}");
    assert!(
        out.contains("| pixelcnn-b1-h4-o8 | pixelcnn | 100 |"),
        "{out}"
    );
    let csv = dir.path().join("x.csv");
    let (header, rows) = read_csv(&csv);
    assert_eq!(header, COLUMNS);
    assert_eq!(rows.len(), 2);
    let cols = csv_columns(&csv, &COLUMNS);
    assert_eq!(cols["model"], ["nade-h4", "pixelcnn-b1-h4-o8"]);
    assert_eq!(cols["batch"], ["100", "100"]);
    assert_eq!(cols["precision"], ["f32", "f32"]);
    for c in [
        "parameters",
        "train_img_per_s",
        "train_min",
        "eval_img_per_s",
        "eval_min",
        "sample_seconds",
    ] {
        assert!(positive(&cols[c]), "{c}: {:?}", cols[c]);
    }
    for (lo, mid, hi) in [
        ("train_min", "train_img_per_s", "train_max"),
        ("eval_min", "eval_img_per_s", "eval_max"),
    ] {
        let num = |c: &str| -> Vec<f64> { cols[c].iter().map(|v| v.parse().unwrap()).collect() };
        for ((l, m), h) in num(lo).into_iter().zip(num(mid)).zip(num(hi)) {
            assert!(l <= m && m <= h, "{lo} {l}, {mid} {m}, {hi} {h}");
        }
    }
    if cfg!(target_os = "linux") {
        for c in ["peak_rss_mib", "rss_start_mib"] {
            assert!(positive(&cols[c]), "{c}: {:?}", cols[c]);
        }
    }
}

#[test]
fn bench_measures_bf16_training_steps() {
    let dir = tmp();
    let spec = tiny_spec(dir.path());
    let out = text(&ok(bench(dir.path(), &spec, &["--precision", "bf16"])).stdout);
    assert!(
        out.contains("training steps in bf16, evaluation in float32"),
        "{out}"
    );
    let cols = csv_columns(&dir.path().join("x.csv"), &["precision", "train_img_per_s"]);
    assert_eq!(cols["precision"], ["bf16", "bf16"]);
    assert!(positive(&cols["train_img_per_s"]));
}

#[test]
fn bench_filters_models_by_type_and_batch() {
    let dir = tmp();
    let spec = tiny_spec(dir.path());
    let out = text(
        &ok(bench(
            dir.path(),
            &spec,
            &["--models", "nade", "--batch", "8", "16"],
        ))
        .stdout,
    );
    assert!(out.contains("nade-h4"), "{out}");
    assert!(!out.contains("pixelcnn"), "{out}");
    let cols = csv_columns(&dir.path().join("x.csv"), &["model", "batch"]);
    assert_eq!(cols["model"], ["nade-h4", "nade-h4"]);
    assert_eq!(cols["batch"], ["8", "16"]);
}

#[test]
fn bench_refuses_an_unknown_model_and_bad_values() {
    let dir = tmp();
    let spec = tiny_spec(dir.path());
    fails(
        bench(dir.path(), &spec, &["--models", "made"]),
        &["--models", "\"made\"", "nade-h4 (nade)"],
    );
    assert!(!dir.path().join("x.csv").exists());
    fails(bench(dir.path(), &spec, &["--batch", "0"]), &["--batch"]);
    fails(
        bench(dir.path(), &spec, &["--device", "tpu"]),
        &["--device", "unknown device"],
    );
}
