//! Many orderings end to end: a locally masked PixelCNN trained over a set
//! of orderings (one per minibatch), its ensemble evaluation in the run
//! (`eval.orderings`) and through `arlab eval --orderings`, the comparison's
//! ensemble section and NLL-vs-N figure, and the errors for models that
//! take one ordering.
mod common;

use common::*;

const LOCAL: &str = "  - type: pixelcnn\n    blocks: 1\n    hidden: 4\n    output_hidden: 8\n";

fn spec() -> String {
    spec_text(
        "orders",
        5,
        LOCAL,
        "\n  - hilbert\n  - {train: [snake, spiral, random:2, zigzag+reverse], per_batch: true, name: four}\n",
        "  sample_every: 0\n  samples: 4\n",
    ) + "eval:\n  orderings: 8\n"
}

#[test]
fn a_set_trains_and_is_evaluated_as_an_ensemble() {
    let work = tmp();
    let path = write_spec(work.path(), "orders.yaml", &spec());
    ok(arlab(
        work.path(),
        &["run", path.to_str().unwrap(), "--quiet", "--results", "res"],
    ));
    let exp = work.path().join("res/orders");
    let set_run = exp.join("pixelcnn-b1-h4-o8-four-s1");
    // Up to 8 asked, 4 trained: 4 single rows, ensembles of 1, 2, 4.
    let cols = csv_columns(&set_run.join("ensemble.csv"), &["kind", "n", "nll"]);
    assert_eq!(cols["kind"].iter().filter(|k| *k == "member").count(), 4);
    let ens: Vec<&str> = cols["kind"]
        .iter()
        .zip(&cols["n"])
        .filter(|(k, _)| *k == "ensemble")
        .map(|(_, n)| n.as_str())
        .collect();
    assert_eq!(ens, ["1", "2", "4"]);
    // The run's own test NLL is its first ordering's.
    let first: f64 = cols["nll"][0].parse().unwrap();
    assert!((first - test_nll(&set_run)).abs() < 1e-3, "{first}");
    // A single-ordering run has nothing to ensemble.
    assert!(!exp
        .join("pixelcnn-b1-h4-o8-hilbert-s1/ensemble.csv")
        .exists());
    let md = std::fs::read_to_string(exp.join("comparison.md")).unwrap();
    assert!(md.contains("## Ensembles over orderings"), "{md}");
    assert!(md.contains("| four |"), "{md}");
    assert_png(&exp.join("ensemble_nll.png"));

    // `arlab eval --orderings`: counts are strict, lists take any ordering.
    let out = ok(arlab(
        work.path(),
        &["eval", set_run.to_str().unwrap(), "--orderings", "2"],
    ));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("ensemble of 2 ordering(s)"), "{stdout}");
    assert!(
        stdout.contains("snake") && stdout.contains("spiral"),
        "{stdout}"
    );
    fails(
        arlab(
            work.path(),
            &["eval", set_run.to_str().unwrap(), "--orderings", "5"],
        ),
        &["trained over 4 ordering(s)"],
    );
    let out = ok(arlab(
        work.path(),
        &[
            "eval",
            set_run.to_str().unwrap(),
            "--orderings",
            "raster,hilbert",
        ],
    ));
    assert!(
        text(&out.stdout).contains("ensemble of 2"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn single_ordering_models_refuse_sets_and_ensembles() {
    let work = tmp();
    let text_ = spec().replace(LOCAL, NADE8);
    let path = write_spec(work.path(), "bad.yaml", &text_);
    fails(
        arlab(
            work.path(),
            &["run", path.to_str().unwrap(), "--results", "res"],
        ),
        &["models[0]", "nade", "cannot train over the set", "four"],
    );
    let small = train_small(work.path(), "res");
    fails(
        arlab(
            work.path(),
            &["eval", small.to_str().unwrap(), "--orderings", "2"],
        ),
        &["own ordering only"],
    );
    // A usage error (exit 2), from the argument parser.
    let out = arlab(
        work.path(),
        &["eval", small.to_str().unwrap(), "--orderings", "0"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("at least 1"),
        "{}",
        describe(&out)
    );
}
