//! Comparisons with uncertainty, end to end: an experiment's comparison
//! ranks the orderings with paired intervals (comparison.md, .csv, .tex and
//! figures), `arlab compare` prints and writes the same, runs on other test
//! images are refused, and comparison.tex compiles with pdflatex.
mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const NADE: &str = "  - type: nade\n    hidden: 8\n  - type: fvsbn\n";

/// NADE and FVSBN × raster, snake × seeds 1 and 2 on 4×4 synthetic images
/// (test images from `data_seed`), into `work/results/<name>`.
fn experiment(work: &Path, name: &str, data_seed: u64) -> std::path::PathBuf {
    let text = spec_text(name, 4, NADE, "[raster, snake]", "")
        .replace("seeds: [1]", "seeds: [1, 2]")
        .replace("seed: 5}", &format!("seed: {data_seed}}}"));
    let spec = write_spec(work, &format!("{name}.yaml"), &text);
    ok(arlab(work, &["run", spec.to_str().unwrap(), "--quiet"]));
    work.join("results").join(name)
}

#[test]
fn an_experiment_ranks_its_orderings_with_paired_intervals() {
    let work = tmp();
    let exp = experiment(work.path(), "ranked", 5);
    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    assert!(md.contains("## Orderings ranked"), "{md}");
    assert!(
        md.contains("| CI over |") && md.contains("| 2 seeds |"),
        "{md}"
    );
    // One line per model and ordering, the best of each model first.
    for model in ["nade-h8", "fvsbn"] {
        assert!(md.contains(&format!("| {model} | 1 |")), "{md}");
        assert!(md.contains(&format!("| {model} | 2 |")), "{md}");
    }
    let cols = csv_columns(
        &exp.join("comparison.csv"),
        &["ordering_rank", "delta_vs_best", "delta_ci_over"],
    );
    assert_eq!(cols["ordering_rank"].len(), 8);
    assert!(cols["ordering_rank"].iter().all(|r| r == "1" || r == "2"));
    assert!(cols["delta_ci_over"].iter().any(|o| o == "seeds"));
    for f in [
        "comparison.tex",
        "orderings_nll.png",
        "orderings_delta.png",
        "orderings_delta.svg",
    ] {
        assert!(exp.join(f).is_file(), "{f} missing");
    }
    assert_png(&exp.join("orderings_delta.png"));
    compiles(&exp.join("comparison.tex"));

    // The report shows the same ranking and its figures.
    ok(arlab(
        work.path(),
        &["report", exp.to_str().unwrap(), "--out", "rep"],
    ));
    let rep = work.path().join("rep");
    let report = std::fs::read_to_string(rep.join("report.md")).unwrap();
    assert!(
        report.contains("### Orderings ranked") && report.contains("| 2 seeds |"),
        "{report}"
    );
    assert!(std::fs::read_to_string(rep.join("report.html"))
        .unwrap()
        .contains("<h3>Orderings ranked</h3>"));
    for f in [
        "ranked-ranking-nll.png",
        "ranked-ranking-delta.svg",
        "ranked-ranking/comparison.tex",
    ] {
        assert!(rep.join(f).is_file(), "{f} missing from the report");
    }
}

#[test]
fn compare_prints_and_writes_the_paired_table_and_refuses_other_test_sets() {
    let work = tmp();
    let w = work.path();
    let exp = experiment(w, "cmp", 5);
    let out = ok(arlab(
        w,
        &[
            "compare",
            exp.to_str().unwrap(),
            "--baseline",
            "raster",
            "--out",
            "cmp-out",
        ],
    ));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Δ vs baseline") && stdout.contains("— (baseline)"),
        "{stdout}"
    );
    for f in [
        "compare.md",
        "compare.csv",
        "compare.tex",
        "orderings_nll.svg",
        "orderings_delta.png",
    ] {
        assert!(w.join("cmp-out").join(f).is_file(), "{f} missing");
    }
    let (head, rows) = read_csv(&w.join("cmp-out/compare.csv"));
    assert_eq!(
        head,
        [
            "model",
            "swept",
            "rank",
            "ordering",
            "seeds",
            "test_nll",
            "test_nll_ci_low",
            "test_nll_ci_high",
            "baseline",
            "delta",
            "delta_ci_low",
            "delta_ci_high",
            "ci_over",
            "established"
        ]
    );
    assert_eq!(rows.len(), 4);
    compiles(&w.join("cmp-out/compare.tex"));

    // A run against itself, by name: Δ = 0, zero width.
    let run = exp.join("nade-h8-raster-s1");
    let out = ok(arlab(
        w,
        &[
            "compare",
            run.to_str().unwrap(),
            run.to_str().unwrap(),
            "--baseline",
            "nade-h8-raster-s1",
            "--out",
            "self",
        ],
    ));
    assert!(
        text(&out.stdout).contains("+0.00 (+0.00, +0.00) | test images"),
        "{}",
        describe(&out)
    );

    // Other test images (another synthetic seed) cannot be paired.
    let other = experiment(w, "other", 6);
    fails(
        arlab(
            w,
            &[
                "compare",
                run.to_str().unwrap(),
                other.join("nade-h8-raster-s1").to_str().unwrap(),
                "--baseline",
                "nade-h8-raster-s1",
            ],
        ),
        &["were not tested on the same images"],
    );
    fails(
        arlab(
            w,
            &["compare", exp.to_str().unwrap(), "--baseline", "hilbert"],
        ),
        &["--baseline: `hilbert`"],
    );
    fails(
        arlab(w, &["compare", "nowhere"]),
        &["`nowhere` is neither a run nor an experiment directory"],
    );
}

/// Compiles `table` in a minimal document with pdflatex when it is there
/// (scripts/setup.sh installs it; ARLAB_REQUIRE_TOOLS says it must be).
fn compiles(table: &Path) {
    let have = Command::new("pdflatex")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var("ARLAB_REQUIRE_TOOLS").is_err(),
            "pdflatex is missing: run scripts/setup.sh"
        );
        eprintln!(
            "skipped compiling {}: no pdflatex (scripts/setup.sh installs it)",
            table.display()
        );
        return;
    }
    let dir = table.parent().unwrap();
    let doc = format!(
        "\\documentclass{{article}}\n\\usepackage[utf8]{{inputenc}}\n\\usepackage{{booktabs}}\n\\begin{{document}}\n\\input{{{}}}\n\\end{{document}}\n",
        table.file_name().unwrap().to_str().unwrap()
    );
    std::fs::write(dir.join("doc.tex"), doc).unwrap();
    let out = Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "doc.tex"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pdflatex failed on {}:\n{}",
        table.display(),
        text(&out.stdout)
    );
    assert!(dir.join("doc.pdf").is_file());
}
