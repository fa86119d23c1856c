//! `arlab score` and `arlab ood` end to end on tiny synthetic runs, and
//! their clean failures.
mod common;

use std::path::{Path, PathBuf};

use common::*;

/// An IDX images file of `n` `h`×`w` images whose pixels come from `pixel(image, index)`.
fn write_idx(path: &Path, n: u32, h: u32, w: u32, pixel: impl Fn(u32, u32) -> u8) -> String {
    let mut v = vec![0, 0, 8, 3];
    for x in [n, h, w] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    for i in 0..n {
        v.extend((0..h * w).map(|p| pixel(i, p)));
    }
    std::fs::write(path, v).unwrap();
    format!("idx:{}", path.display())
}

/// Uniform 0/255 noise: nothing like the synthetic rectangles and bars.
fn noise(i: u32, p: u32) -> u8 {
    let x = (i * 31 + p).wrapping_mul(2_654_435_761);
    if (x >> 16) & 1 == 1 {
        255
    } else {
        0
    }
}

fn checkerboard(_: u32, p: u32) -> u8 {
    if (p / 4 + p % 4).is_multiple_of(2) {
        255
    } else {
        0
    }
}

/// An `independent` run on the same synthetic data as [`train_small`].
fn train_background(work: &Path, root: &str, pixels: &str) -> PathBuf {
    let models = "  - type: independent\n";
    let mut text = spec_text("bg", 4, models, "[raster]", "");
    text = text.replace("data:\n", &format!("data:\n  pixels: {pixels}\n"));
    let spec = write_spec(work, "bg.yaml", &text);
    ok(arlab(
        work,
        &["run", spec.to_str().unwrap(), "--quiet", "--results", root],
    ));
    work.join(root).join("bg").join("independent-raster-s1")
}

fn floats(col: &[String]) -> Vec<f64> {
    col.iter().map(|v| v.parse().unwrap()).collect()
}

#[test]
fn score_writes_consistent_rows_and_reproduces_the_test_nll() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let csv = work.path().join("s.csv");
    let out = ok(arlab(
        work.path(),
        &[
            "score",
            run.to_str().unwrap(),
            "--out",
            csv.to_str().unwrap(),
        ],
    ));
    assert!(
        text(&out.stdout).contains("50 images"),
        "{}",
        describe(&out)
    );
    let names = [
        "index",
        "log_prob_nats",
        "bits_per_dim",
        "nll_bits",
        "png_bits",
        "complexity_bits",
    ];
    let cols = csv_columns(&csv, &names);
    assert_eq!(cols["index"].len(), 50, "one row per test image");
    let lp = floats(&cols["log_prob_nats"]);
    let (bpd, nll_bits) = (floats(&cols["bits_per_dim"]), floats(&cols["nll_bits"]));
    let (png, s) = (floats(&cols["png_bits"]), floats(&cols["complexity_bits"]));
    let ln2 = std::f64::consts::LN_2;
    for i in 0..50 {
        assert_eq!(cols["index"][i], i.to_string());
        assert!((bpd[i] - (-lp[i]) / (16.0 * ln2)).abs() < 1e-9, "row {i}");
        assert!((nll_bits[i] - (-lp[i]) / ln2).abs() < 1e-9, "row {i}");
        assert!((s[i] - (nll_bits[i] - png[i])).abs() < 1e-9, "row {i}");
        assert!(
            png[i] > 0.0 && png[i] % 8.0 == 0.0,
            "row {i}: {} bits",
            png[i]
        );
    }
    let nll = -lp.iter().sum::<f64>() / 50.0;
    assert!(
        (nll - test_nll(&run)).abs() < 1e-6,
        "score {nll} vs summary {}",
        test_nll(&run)
    );
}

#[test]
fn score_takes_another_source_of_the_same_shape() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let src = write_idx(&work.path().join("noise"), 100, 4, 4, noise);
    let csv = work.path().join("noise.csv");
    ok(arlab(
        work.path(),
        &[
            "score",
            run.to_str().unwrap(),
            "--data",
            &src,
            "--split",
            "train",
            "--out",
            csv.to_str().unwrap(),
        ],
    ));
    // 100 images split 80/10/10.
    assert_eq!(read_csv(&csv).1.len(), 80);
}

#[test]
fn ood_writes_tables_and_plots() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let bg = train_background(work.path(), "res", "binary");
    let noise = write_idx(&work.path().join("noise"), 200, 4, 4, noise);
    let boards = write_idx(&work.path().join("boards"), 100, 4, 4, checkerboard);
    let ratio = format!("ratio:{}", bg.display());
    let report = work.path().join("report");
    let out = ok(arlab(
        work.path(),
        &[
            "ood",
            run.to_str().unwrap(),
            "--out",
            &noise,
            "--out",
            &boards,
            "--score",
            "loglik",
            "--score",
            &ratio,
            "--score",
            "complexity",
            "--report",
            report.to_str().unwrap(),
        ],
    ));
    assert!(text(&out.stdout).contains("AUROC"), "{}", describe(&out));

    let metrics = report.join("metrics.csv");
    let cols = csv_columns(
        &metrics,
        &[
            "score",
            "out_data",
            "in_images",
            "out_images",
            "auroc",
            "auprc",
            "fpr_at_95_tpr",
        ],
    );
    assert_eq!(cols["score"].len(), 6, "2 out-distributions × 3 scores");
    let scores: Vec<&str> = cols["score"].iter().map(String::as_str).collect();
    for s in ["loglik", "ratio:independent-raster-s1", "complexity"] {
        assert_eq!(scores.iter().filter(|&&x| x == s).count(), 2, "{scores:?}");
    }
    assert!(cols["in_images"].iter().all(|n| n == "50"));
    for (data, n) in cols["out_data"].iter().zip(&cols["out_images"]) {
        let want = if data.contains("noise") { "20" } else { "10" };
        assert_eq!(n, want, "{data}");
    }
    for name in ["auroc", "auprc", "fpr_at_95_tpr"] {
        for v in floats(&cols[name]) {
            assert!((0.0..=1.0).contains(&v), "{name} = {v}");
        }
    }
    let md = std::fs::read_to_string(report.join("metrics.md")).unwrap();
    assert!(
        md.contains("| out-distribution |") && md.contains("AUROC"),
        "{md}"
    );
    assert_eq!(
        md.matches("| ratio:independent-raster-s1 |").count(),
        2,
        "{md}"
    );

    for file in ["loglik", "complexity", "ratio-independent-raster-s1"] {
        for kind in ["hist", "roc"] {
            assert_png(&report.join(format!("{kind}-{file}.png")));
            let svg = std::fs::read_to_string(report.join(format!("{kind}-{file}.svg"))).unwrap();
            assert!(svg.contains("<svg"), "{kind}-{file}.svg is not an SVG");
        }
    }
    let (header, rows) = read_csv(&report.join("scores.csv"));
    assert_eq!(rows.len(), 50 + 20 + 10);
    assert!(header.iter().any(|h| h == "complexity"), "{header:?}");
}

#[test]
fn ood_defaults_to_the_runs_test_split_and_report_dir() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let noise = write_idx(&work.path().join("noise"), 200, 4, 4, noise);
    ok(arlab(
        work.path(),
        &["ood", run.to_str().unwrap(), "--out", &noise],
    ));
    let cols = csv_columns(&run.join("ood/metrics.csv"), &["score", "in_data"]);
    assert_eq!(cols["score"], ["loglik", "complexity"]);
    assert!(cols["in_data"].iter().all(|d| d == "synthetic (test)"));
}

#[test]
fn wrong_size_sources_are_refused() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let big = write_idx(&work.path().join("big"), 30, 8, 8, noise);
    let run = run.to_str().unwrap();
    let needles = ["1×8×8", "trained on 1×4×4"];
    fails(
        arlab(work.path(), &["score", run, "--data", &big]),
        &needles,
    );
    fails(arlab(work.path(), &["ood", run, "--out", &big]), &needles);
    fails(
        arlab(
            work.path(),
            &["ood", run, "--out", "synthetic", "--in", &big],
        ),
        &needles,
    );
}

#[test]
fn bad_scores_and_backgrounds_are_refused() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let run = run.to_str().unwrap();
    let ood = |extra: &[&str]| {
        let mut args = vec!["ood", run, "--out", "synthetic"];
        args.extend_from_slice(extra);
        arlab(work.path(), &args)
    };
    fails(
        ood(&["--score", "bogus"]),
        &["--score", "unknown score \"bogus\""],
    );
    fails(ood(&["--score", "ratio:"]), &["`ratio:` needs"]);
    fails(
        ood(&["--score", "ratio:/nonexistent/run"]),
        &["not a run directory"],
    );
    fails(
        ood(&["--score", "loglik", "--score", "loglik"]),
        &["given twice"],
    );
    fails(
        arlab(work.path(), &["ood", run]),
        &["--out: name at least one"],
    );
    let gray = train_background(work.path(), "res", "gray256");
    let ratio = format!("ratio:{}", gray.display());
    fails(
        ood(&["--score", &ratio]),
        &["models gray256 pixels", "binary"],
    );
}

#[test]
fn missing_checkpoint_and_empty_data_are_refused() {
    let work = tmp();
    let run = train_small(work.path(), "res");
    let empty = write_idx(&work.path().join("empty"), 0, 4, 4, noise);
    let r = run.to_str().unwrap();
    fails(
        arlab(work.path(), &["score", r, "--data", &empty]),
        &["contains no images"],
    );
    fails(
        arlab(work.path(), &["score", "/nonexistent/run"]),
        &["not a run directory"],
    );
    std::fs::remove_file(run.join("checkpoints/best.ot")).unwrap();
    fails(
        arlab(work.path(), &["score", r]),
        &["cannot load checkpoint"],
    );
    fails(
        arlab(work.path(), &["ood", r, "--out", "synthetic"]),
        &["cannot load checkpoint"],
    );
}
