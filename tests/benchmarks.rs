//! Published numbers, end to end: a model's `reference:` reaches its runs'
//! summary.json, the "published" and "Δ vs published" columns of
//! comparison.csv/md and the report; a model without one leaves them empty;
//! a reference to an ensemble is compared with the run's ensemble; the
//! benchmark specs of experiments/ load, with every model at its paper
//! preset and the published numbers we checked.
mod common;

use std::path::{Path, PathBuf};

use common::*;

/// NADE with a reference, FVSBN without, and a 4-mask MADE whose reference
/// is an ensemble of 4, on 4×4 synthetic images, seeds 1 and 2.
const MODELS: &str = "  - type: nade
    hidden: 8
    reference: {nll: 5.0, source: \"Test et al. 2024\"}
  - type: fvsbn
  - type: made
    hidden: [12]
    num_masks: 4
    reference: {nll: 6.5, source: \"Mask et al. 2015\", ensemble: 4}
";

fn experiment(work: &Path, name: &str, models: &str, extra: &str) -> PathBuf {
    let text = format!(
        "{}{extra}",
        spec_text(name, 4, models, "[raster]", "").replace("seeds: [1]", "seeds: [1, 2]")
    );
    let spec = write_spec(work, &format!("{name}.yaml"), &text);
    ok(arlab(work, &["run", spec.to_str().unwrap(), "--quiet"]));
    work.join("results").join(name)
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The NLL of the ensemble of `n` members in a run's ensemble.csv.
fn ensemble_nll(run: &Path, n: &str) -> f64 {
    let (head, rows) = read_csv(&run.join("ensemble.csv"));
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let row = rows
        .iter()
        .find(|r| r[col("kind")] == "ensemble" && r[col("n")] == n)
        .unwrap_or_else(|| panic!("no ensemble of {n} in {}", run.display()));
    row[col("nll")].parse().unwrap()
}

#[test]
fn references_reach_summaries_comparison_and_report() {
    let work = tmp();
    let w = work.path();
    let exp = experiment(w, "published", MODELS, "eval:\n  orderings: 4\n");

    // summary.json: the reference and the run's number that compares with it.
    let nade = read_json(&exp.join("nade-h8-raster-s1/summary.json"));
    assert_eq!(nade["reference"]["nll"].as_f64(), Some(5.0));
    assert_eq!(nade["reference"]["source"], "Test et al. 2024");
    assert_eq!(nade["reference"]["arlab_nll"], nade["test_nll"]);
    let fvsbn = read_json(&exp.join("fvsbn-raster-s1/summary.json"));
    assert!(fvsbn.get("reference").is_none(), "{fvsbn}");
    let made_dir = exp.join("made-h12-m4-raster-s1");
    let made = read_json(&made_dir.join("summary.json"));
    let made_ensemble = ensemble_nll(&made_dir, "4");
    assert_eq!(made["reference"]["ensemble"].as_u64(), Some(4));
    assert_eq!(made["reference"]["arlab_nll"].as_f64(), Some(made_ensemble));
    assert_ne!(made["reference"]["arlab_nll"], made["test_nll"]);

    // comparison.csv: the stable columns, the published ones last.
    let (head, rows) = read_csv(&exp.join("comparison.csv"));
    assert_eq!(head, COMPARISON_COLUMNS);
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let nll: f64 = row[col("test_nll_nats")].parse().unwrap();
        let published = [
            row[col("published_nll")].as_str(),
            row[col("published_source")].as_str(),
        ];
        let delta = &row[col("delta_vs_published")];
        match row[col("model")].as_str() {
            "nade-h8" => {
                assert_eq!(published, ["5", "Test et al. 2024"]);
                assert_eq!(delta.parse::<f64>().unwrap(), round4(nll - 5.0));
            }
            "fvsbn" => assert_eq!([published[0], published[1], delta], ["", "", ""]),
            "made-h12-m4" => {
                assert_eq!(published, ["6.5", "Mask et al. 2015 (ensemble of 4)"]);
                let run = exp.join(format!("made-h12-m4-raster-s{}", row[col("seed")]));
                let want = round4(ensemble_nll(&run, "4") - 6.5);
                assert_eq!(delta.parse::<f64>().unwrap(), want);
            }
            other => panic!("unexpected model {other}"),
        }
    }

    // comparison.md: both tables get the columns; `—` where there is none.
    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    assert!(md.contains("| published | Δ vs published |"), "{md}");
    assert!(md.contains("| published | Δ vs published (mean) |"), "{md}");
    assert!(md.contains("5.00 (Test et al. 2024)"), "{md}");
    assert!(
        md.contains("6.50 (Mask et al. 2015; ensemble of 4)"),
        "{md}"
    );
    assert!(
        md.contains("Δ vs published = arlab's test NLL − published"),
        "{md}"
    );
    let fvsbn_row = md
        .lines()
        .find(|l| l.starts_with("| fvsbn | raster | 1 |"))
        .unwrap_or_else(|| panic!("no fvsbn row:\n{md}"));
    assert!(fvsbn_row.contains("| — | — |"), "{fvsbn_row}");

    // The report shows them where it shows the test NLL of each group.
    ok(arlab(w, &["report", exp.to_str().unwrap(), "--out", "rep"]));
    let report = std::fs::read_to_string(w.join("rep/report.md")).unwrap();
    assert!(
        report.contains("| published | Δ vs published |"),
        "{report}"
    );
    assert!(report.contains("5.00 (Test et al. 2024)"), "{report}");
    let html = std::fs::read_to_string(w.join("rep/report.html")).unwrap();
    assert!(html.contains("<th>Δ vs published</th>"), "report.html");
    assert!(
        html.contains("6.50 (Mask et al. 2015; ensemble of 4)"),
        "report.html"
    );
}

#[test]
fn without_references_the_markdown_has_no_published_columns() {
    let (work, models) = (tmp(), "  - type: fvsbn\n");
    let w = work.path();
    let exp = experiment(w, "plain", models, "");
    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    assert!(!md.contains("published"), "{md}");
    let cols = csv_columns(
        &exp.join("comparison.csv"),
        &["published_nll", "published_source", "delta_vs_published"],
    );
    assert!(
        cols.values().flatten().all(|cell| cell.is_empty()),
        "{cols:?}"
    );
    ok(arlab(w, &["report", exp.to_str().unwrap(), "--out", "rep"]));
    let report = std::fs::read_to_string(w.join("rep/report.md")).unwrap();
    assert!(!report.contains("published"), "{report}");
}

#[test]
fn a_bad_reference_is_a_clean_error_naming_the_field() {
    let work = tmp();
    let w = work.path();
    let models = "  - type: nade\n    hidden: 8\n    reference: {nll: -88.3, source: x}\n";
    let spec = write_spec(w, "bad.yaml", &spec_text("bad", 4, models, "[raster]", ""));
    fails(
        arlab(w, &["run", spec.to_str().unwrap(), "--quiet"]),
        &["bad.yaml", "models[0]", "reference.nll", "-88.3"],
    );
    assert!(!w.join("results/bad").exists(), "nothing is written");
    let models = "  - type: nade\n    hidden: 8\n    reference: {nll: 88.3}\n";
    let spec = write_spec(
        w,
        "bad2.yaml",
        &spec_text("bad2", 4, models, "[raster]", ""),
    );
    fails(
        arlab(w, &["inspect", spec.to_str().unwrap()]),
        &["bad2.yaml", "reference", "missing field `source`"],
    );
}

/// The benchmark specs: every model at `preset: paper`, the published
/// numbers where the spec gives one, on `binarized-mnist`.
#[test]
fn the_benchmark_specs_put_every_model_at_its_paper_preset() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut references = Vec::new();
    for name in ["fast", "conv", "lmconv"] {
        let path = repo.join(format!("experiments/binarized_mnist_{name}.yaml"));
        let spec = arlab::spec::Spec::load(&path, &[]).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(spec.data.source.to_string(), "binarized-mnist");
        assert!(spec.train.patience.is_some(), "{name}: early stopping");
        for m in &spec.models {
            let yaml = serde_yaml_ng::to_string(m).unwrap();
            assert!(yaml.contains("preset: paper"), "{name}: {yaml}");
            if let Some(r) = &m.reference {
                references.push((m.label(), r.nll, r.ensemble));
            }
        }
    }
    let want = [
        ("nade-h500", 88.33, None),
        ("made-h8000-direct", 88.40, None),
        ("made-h8000x8000-m32-direct", 86.64, Some(32)),
        ("nade-oa-h500-l2", 85.10, Some(128)),
        ("pixelcnn-paper", 81.30, None),
        ("row_lstm-paper", 80.54, None),
        ("diagonal_bilstm-paper", 79.20, None),
        ("diagonal_bilstm-l1-h32-o32", 80.75, None),
        ("lmconv-paper", 77.56, Some(8)),
    ];
    let want: Vec<(String, f64, Option<usize>)> = want
        .iter()
        .map(|(l, n, e)| (l.to_string(), *n, *e))
        .collect();
    assert_eq!(references, want);
}

/// Every spec under experiments/ loads, validates and expands into its runs
/// (sweeps included), not only the benchmark specs above.
#[test]
fn every_experiment_spec_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            arlab::sweep::Plan::load(&path, &[])
                .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            loaded += 1;
        }
    }
    assert!(loaded >= 20, "only {loaded} specs under {}", dir.display());
}
