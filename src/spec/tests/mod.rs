//! Spec parsing, validation, `--set` overrides and run expansion; every error
//! case checks the message text, since the message is the user interface.
use super::*;
use crate::data::{Binarize, PixelForm, SyntheticSpec};
use crate::models::ModelSpec;

/// A minimal valid spec: 7 lines, so an appended line is line 8.
const BASE: &str = "\
name: exp
data:
  source: synthetic
models:
  - type: nade
    hidden: 8
orderings: [raster]
";

/// The config of `{type: nade, hidden: h}`.
fn nade(hidden: usize) -> crate::models::ModelConfig {
    let spec: crate::models::ModelSpec =
        serde_yaml_ng::from_str(&format!("{{type: nade, hidden: {hidden}}}")).unwrap();
    spec.config
}

fn orderings(names: &[&str]) -> Vec<crate::order::RunOrdering> {
    names.iter().map(|n| n.parse().unwrap()).collect()
}

fn parse(text: &str) -> Result<Spec> {
    Spec::parse(text, "exp.yaml", &[])
}

fn parse_set(text: &str, sets: &[&str]) -> Result<Spec> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Spec::parse(text, "exp.yaml", &sets)
}

/// The full error message (with every context) of a spec that must fail.
fn err_of(result: Result<Spec>) -> String {
    match result {
        Ok(spec) => panic!("expected an error, got a valid spec: {spec:?}"),
        Err(e) => format!("{e:#}"),
    }
}

fn err(text: &str) -> String {
    err_of(parse(text))
}

fn err_set(text: &str, sets: &[&str]) -> String {
    err_of(parse_set(text, sets))
}

#[track_caller]
fn assert_contains(msg: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            msg.contains(needle),
            "error message lacks {needle:?}:\n{msg}"
        );
    }
}

/// BASE with a `train:` section holding `body` (lines indented by two).
fn with_train(body: &str) -> String {
    format!("{BASE}train:\n  {body}\n")
}

/// BASE with an extra line in the `data:` section.
fn with_data(line: &str) -> String {
    BASE.replace(
        "  source: synthetic\n",
        &format!("  source: synthetic\n  {line}\n"),
    )
}

/// BASE with the single model replaced by `model` (YAML list item lines).
fn with_model(model: &str) -> String {
    BASE.replace("  - type: nade\n    hidden: 8\n", model)
}

// ---------------------------------------------------------------- valid specs

#[test]
fn minimal_spec_parses_with_defaults() {
    let spec = parse(BASE).unwrap();
    assert_eq!(spec.name, "exp");
    assert_eq!(spec.description, None);
    assert_eq!(spec.seeds, vec![0]);
    assert_eq!(spec.train, TrainSpec::default());
    assert_eq!(spec.train.epochs, 10);
    assert_eq!(spec.train.device, DeviceChoice::Auto);
    assert!(spec.data.source.is(&crate::data::synthetic::SOURCE));
    assert_eq!(spec.data.pixels, PixelForm::Binary);
    assert_eq!(spec.data.binarize, Binarize::Threshold);
    assert_eq!(spec.data.threshold, 0.5);
    assert_eq!(spec.data.downscale, 1);
    assert_eq!(spec.data.synthetic, SyntheticSpec::default());
    assert_eq!(spec.models.len(), 1);
    assert_eq!(spec.models[0].type_name(), "nade");
    assert_eq!(spec.models[0].config, nade(8));
    assert_eq!(spec.models[0].label(), "nade-h8");
    assert_eq!(spec.orderings, orderings(&["raster"]));
}

#[test]
fn every_model_type_and_default_labels() {
    let text = BASE.replace(
        "  - type: nade\n    hidden: 8\n",
        "  - type: independent\n  - type: markov\n  - type: markov\n    k: 3\n  - type: tabular\n  - type: fvsbn\n  - type: nade\n  - type: nade\n    name: big\n    hidden: 9\n",
    );
    let spec = parse(&text).unwrap();
    let labels: Vec<String> = spec.models.iter().map(ModelSpec::label).collect();
    assert_eq!(
        labels,
        [
            "independent",
            "markov-k1",
            "markov-k3",
            "tabular",
            "fvsbn",
            "nade-h500",
            "big"
        ]
    );
}

// ------------------------------------------------------------- unknown keys

#[test]
fn unknown_top_level_key_names_key_file_and_line() {
    let msg = err(&format!("{BASE}colour: red\n"));
    assert_contains(&msg, &["exp.yaml", "unknown field `colour`", "line 8"]);
}

#[test]
fn unknown_train_key_names_key_file_path_and_line() {
    // `train:` is line 8, `epoch: 3` line 9.
    let msg = err(&with_train("epoch: 3"));
    assert_contains(
        &msg,
        &["exp.yaml", "train", "unknown field `epoch`", "line 9"],
    );
}

#[test]
fn unknown_model_key_names_key_file_and_line() {
    // The model entry starts on line 5 (`hiden` is line 7).
    let msg = err(&with_model("  - type: nade\n    hidden: 8\n    hiden: 9\n"));
    assert_contains(
        &msg,
        &[
            "exp.yaml",
            "models[0]",
            "unknown field `hiden`",
            "nade",
            "line 5",
        ],
    );
}

#[test]
fn unknown_data_and_synthetic_keys() {
    let msg = err(&with_data("sauce: x"));
    assert_contains(
        &msg,
        &["exp.yaml", "data", "unknown field `sauce`", "line 4"],
    );
    let msg = err(&with_data("synthetic: {height: 4, depth: 2}"));
    assert_contains(&msg, &["exp.yaml", "unknown field `depth`", "line 4"]);
}

// ------------------------------------------------------------ malformed YAML

#[test]
fn malformed_yaml_names_file_and_line() {
    let unclosed = BASE.replace("orderings: [raster]", "orderings: [raster, snake");
    let msg = err(&unclosed);
    assert_contains(&msg, &["exp.yaml", "line"]);

    let bad_indent = "name: exp\ndata:\n  source: synthetic\n   pixels: binary\nmodels: []\n";
    let msg = err(bad_indent);
    assert_contains(&msg, &["exp.yaml", "line"]);

    // The override path parses the YAML separately; it too names the file and line.
    let msg = err_set(&unclosed, &["train.epochs=1"]);
    assert_contains(&msg, &["exp.yaml", "line"]);
}

#[test]
fn missing_required_field_is_named() {
    let msg = err(&BASE.replace("orderings: [raster]\n", ""));
    assert_contains(&msg, &["exp.yaml", "missing field `orderings`"]);
    let msg = err(&BASE.replace("  source: synthetic\n", "  pixels: binary\n"));
    assert_contains(&msg, &["exp.yaml", "data", "missing field `source`"]);
}

// ---------------------------------------------------------------- wrong types

#[test]
fn wrong_type_names_field_path() {
    let msg = err(&with_train("epochs: ten"));
    assert_contains(
        &msg,
        &["exp.yaml", "train.epochs", "invalid type", "line 9"],
    );

    let msg = err(&with_train("lr: \"x\""));
    assert_contains(&msg, &["exp.yaml", "train.lr", "invalid type"]);

    let msg = err(&with_model("  - type: nade\n    hidden: many\n"));
    assert_contains(&msg, &["exp.yaml", "models[0]: hidden: invalid type"]);

    let msg = err(&BASE.replace("orderings: [raster]", "orderings: raster"));
    assert_contains(&msg, &["exp.yaml", "orderings", "invalid type"]);

    let msg = err(&format!("{BASE}seeds: [1, -2]\n"));
    assert_contains(&msg, &["exp.yaml", "seeds[1]"]);
}

// ----------------------------------------------------------- value ranges

#[test]
fn train_lr_must_be_positive() {
    for lr in ["0", "-0.1", ".nan", ".inf"] {
        let msg = err(&with_train(&format!("lr: {lr}")));
        assert_contains(&msg, &["exp.yaml", "train", "lr", "positive"]);
    }
}

#[test]
fn train_batch_size_zero_rejected() {
    let msg = err(&with_train("batch_size: 0"));
    assert_contains(&msg, &["exp.yaml", "train", "batch_size", "at least 1"]);
}

#[test]
fn train_eval_batch_size_zero_rejected() {
    let msg = err(&with_train("eval_batch_size: 0"));
    assert_contains(
        &msg,
        &["exp.yaml", "train", "eval_batch_size", "at least 1"],
    );
}

#[test]
fn train_epochs_zero_rejected() {
    let msg = err(&with_train("epochs: 0"));
    assert_contains(&msg, &["exp.yaml", "train", "epochs", "at least 1"]);
}

#[test]
fn train_betas_out_of_range_rejected() {
    let msg = err(&with_train("betas: [1.0, 0.9]"));
    assert_contains(&msg, &["exp.yaml", "train", "betas[0]", "[0, 1)"]);
    let msg = err(&with_train("betas: [0.9, -0.1]"));
    assert_contains(&msg, &["exp.yaml", "train", "betas[1]"]);
}

#[test]
fn train_patience_zero_rejected() {
    let msg = err(&with_train("patience: 0"));
    assert_contains(&msg, &["exp.yaml", "train", "patience", "at least 1"]);
    assert_eq!(
        parse(&with_train("patience: 2")).unwrap().train.patience,
        Some(2)
    );
}

#[test]
fn train_val_every_zero_rejected() {
    let msg = err(&with_train("val_every: 0"));
    assert_contains(&msg, &["exp.yaml", "train", "val_every", "at least 1"]);
    assert_eq!(
        parse(&with_train("val_every: 5")).unwrap().train.val_every,
        5
    );
    assert_eq!(parse(&with_train("lr: 0.01")).unwrap().train.val_every, 1);
}

#[test]
fn train_optimizer_is_adam_unless_said_and_written_only_when_not_adam() {
    let adam = parse(&with_train("lr: 0.01")).unwrap();
    assert_eq!(adam.train.optimizer, OptimizerKind::Adam);
    // Resolved specs of Adam runs (and so their binding hashes) are unchanged.
    assert!(!adam.to_yaml().contains("optimizer"));
    let adagrad = parse(&with_train("optimizer: adagrad")).unwrap();
    assert_eq!(adagrad.train.optimizer, OptimizerKind::Adagrad);
    assert!(adagrad.to_yaml().contains("optimizer: adagrad"));
    assert_eq!(
        Spec::parse(&adagrad.to_yaml(), "x.yaml", &[]).unwrap(),
        adagrad
    );
    let msg = err(&with_train("optimizer: sgd"));
    assert_contains(&msg, &["exp.yaml", "optimizer", "sgd", "adagrad"]);
}

#[test]
fn train_weight_decay_negative_rejected() {
    let msg = err(&with_train("weight_decay: -1"));
    assert_contains(&msg, &["exp.yaml", "train", "weight_decay", ">= 0"]);
}

#[test]
fn train_grad_clip_gamma_step_size_ranges() {
    let msg = err(&with_train("grad_clip: 0"));
    assert_contains(&msg, &["exp.yaml", "train", "grad_clip"]);
    let msg = err(&with_train("gamma: 1.5"));
    assert_contains(&msg, &["exp.yaml", "train", "gamma"]);
    let msg = err(&with_train("step_size: 0"));
    assert_contains(&msg, &["exp.yaml", "train", "step_size"]);
}

#[test]
fn model_hidden_zero_rejected() {
    let msg = err(&with_model("  - type: nade\n    hidden: 0\n"));
    assert_contains(&msg, &["exp.yaml", "models[0]", "hidden", "at least 1"]);
}

#[test]
fn model_k_zero_rejected() {
    let msg = err(&with_model("  - type: markov\n    k: 0\n"));
    assert_contains(&msg, &["exp.yaml", "models[0]", "k: must be at least 1"]);
}

#[test]
fn data_threshold_out_of_range_rejected() {
    for t in ["1.5", "0", "1", "-0.2"] {
        let msg = err(&with_data(&format!("threshold: {t}")));
        assert_contains(&msg, &["exp.yaml", "data.threshold", "(0, 1)"]);
    }
}

#[test]
fn data_downscale_zero_rejected() {
    let msg = err(&with_data("downscale: 0"));
    assert_contains(&msg, &["exp.yaml", "data.downscale", "at least 1"]);
}

#[test]
fn data_max_split_and_synthetic_zero_rejected() {
    let msg = err(&with_data("max_train: 0"));
    assert_contains(&msg, &["exp.yaml", "data.max_train"]);
    let msg = err(&with_data(
        "synthetic: {height: 0, width: 4, train: 1, val: 1, test: 1, seed: 0}",
    ));
    assert_contains(&msg, &["exp.yaml", "data.synthetic"]);
}

#[test]
fn bad_experiment_name_rejected() {
    for name in ["\"\"", "a/b", ".hidden"] {
        let msg = err(&BASE.replace("name: exp", &format!("name: {name}")));
        assert_contains(&msg, &["exp.yaml", "name"]);
    }
}

// --------------------------------------------- models, orderings, run lists

#[test]
fn unknown_model_type_lists_valid_names() {
    let msg = err(&with_model("  - type: wavenet\n"));
    assert_contains(&msg, &["exp.yaml", "models[0]", "wavenet"]);
    for name in crate::models::ModelConfig::NAMES {
        assert_contains(&msg, &[name]);
    }
}

#[test]
fn unknown_ordering_lists_valid_bases() {
    let msg = err(&BASE.replace("orderings: [raster]", "orderings: [raster, peano]"));
    assert_contains(&msg, &["exp.yaml", "orderings[1]", "peano"]);
    for base in [
        "raster", "column", "snake", "zigzag", "hilbert", "spiral", "random",
    ] {
        assert_contains(&msg, &[base]);
    }
}

#[test]
fn hidden_on_markov_rejected() {
    let msg = err(&with_model("  - type: markov\n    hidden: 8\n"));
    assert_contains(&msg, &["exp.yaml", "models[0]", "`hidden`", "markov"]);
}

#[test]
fn k_on_nade_rejected() {
    let msg = err(&with_model("  - type: nade\n    k: 2\n"));
    assert_contains(&msg, &["exp.yaml", "models[0]", "`k`", "nade"]);
}

#[test]
fn gray256_pixels_rejected_for_bernoulli_models() {
    let msg = err(&with_data("pixels: gray256"));
    assert_contains(&msg, &["exp.yaml", "models[0]", "data.pixels: binary"]);
}

#[test]
fn empty_lists_expand_to_zero_runs() {
    let msg = err(&BASE.replace("models:\n  - type: nade\n    hidden: 8\n", "models: []\n"));
    assert_contains(&msg, &["exp.yaml", "models", "zero runs"]);
    let msg = err(&BASE.replace("orderings: [raster]", "orderings: []"));
    assert_contains(&msg, &["exp.yaml", "orderings", "zero runs"]);
    let msg = err(&format!("{BASE}seeds: []\n"));
    assert_contains(&msg, &["exp.yaml", "seeds", "zero runs"]);
}

#[test]
fn duplicate_run_ids_rejected() {
    let msg = err(&BASE.replace("orderings: [raster]", "orderings: [raster, raster]"));
    assert_contains(&msg, &["exp.yaml", "nade-h8-raster-s0"]);

    let msg = err(&with_model(
        "  - type: nade\n    hidden: 8\n  - type: nade\n    hidden: 8\n",
    ));
    assert_contains(&msg, &["exp.yaml", "nade-h8-raster-s0"]);

    let msg = err(&format!("{BASE}seeds: [3, 3]\n"));
    assert_contains(&msg, &["exp.yaml", "nade-h8-raster-s3"]);

    // Distinct names make duplicate model settings fine.
    let ok = with_model(
        "  - type: nade\n    hidden: 8\n  - type: nade\n    hidden: 8\n    name: again\n",
    );
    assert_eq!(parse(&ok).unwrap().runs().len(), 2);
}

#[test]
fn unknown_device_rejected() {
    let msg = err(&with_train("device: tpu"));
    assert_contains(&msg, &["exp.yaml", "train", "device", "tpu", "cuda:N"]);
    for ok in ["auto", "cpu", "cuda", "cuda:1"] {
        parse(&with_train(&format!("device: \"{ok}\""))).unwrap();
    }
}

#[test]
fn unknown_data_source_rejected() {
    let msg = err(&BASE.replace("source: synthetic", "source: cifar"));
    assert_contains(&msg, &["exp.yaml", "data.source", "cifar", "idx:PATH"]);
    let msg = err(&BASE.replace("source: synthetic", "source: \"idx:\""));
    assert_contains(&msg, &["exp.yaml", "data.source", "needs a path"]);
    for ok in ["mnist", "fashion-mnist", "idx:/data/x"] {
        parse(&BASE.replace("source: synthetic", &format!("source: \"{ok}\""))).unwrap();
    }
}

// ------------------------------------------------------------------ --set

#[test]
fn set_overrides_apply() {
    let spec = parse_set(
        BASE,
        &[
            "train.epochs=3",
            "train.lr=1e-3",
            "orderings=[raster, snake]",
            "seeds=[1,2]",
        ],
    )
    .unwrap();
    assert_eq!(spec.train.epochs, 3);
    assert_eq!(spec.train.lr, 1e-3);
    assert_eq!(spec.orderings, orderings(&["raster", "snake"]));
    assert_eq!(spec.seeds, vec![1, 2]);
    assert_eq!(spec.runs().len(), 4);

    let spec = parse_set(BASE, &["train.lr=2.5e-4"]).unwrap();
    assert_eq!(spec.train.lr, 2.5e-4);
    let spec = parse_set(BASE, &["train.lr=0.01"]).unwrap();
    assert_eq!(spec.train.lr, 0.01);
}

#[test]
fn set_list_index_in_both_notations() {
    let a = parse_set(BASE, &["models.0.hidden=7"]).unwrap();
    assert_eq!(a.models[0].config, nade(7));
    let b = parse_set(BASE, &["models[0].hidden=7"]).unwrap();
    assert_eq!(a, b);
    assert_eq!(b.models[0].label(), "nade-h7");
}

#[test]
fn set_into_absent_sections() {
    // BASE has no `train:` section and no `data.synthetic`.
    let spec = parse_set(BASE, &["data.synthetic.height=4", "train.epochs=2"]).unwrap();
    // A partial `synthetic` section keeps the defaults of the other fields.
    assert_eq!(spec.data.synthetic.height, 4);
    assert_eq!(spec.data.synthetic.width, SyntheticSpec::default().width);
    assert_eq!(spec.train.epochs, 2);
    assert_eq!(spec.train.lr, TrainSpec::default().lr);

    let spec = parse_set(BASE, &["train.device=cpu", "description=hello"]).unwrap();
    assert_eq!(spec.train.device, DeviceChoice::Cpu);
    assert_eq!(spec.description.as_deref(), Some("hello"));
}

#[test]
fn set_into_empty_section() {
    // `train:` with nothing under it is YAML null; `--set` fills it in.
    let text = format!("{BASE}train:\n");
    let spec = parse_set(&text, &["train.device=cpu"]).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(spec.train.device, DeviceChoice::Cpu);
    assert_eq!(spec.train.epochs, TrainSpec::default().epochs);
    let spec =
        parse_set(&text, &["train.epochs=4", "train.lr=0.01"]).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((spec.train.epochs, spec.train.lr), (4, 0.01));
}

#[test]
fn set_unknown_field_rejected() {
    let msg = err_set(BASE, &["train.epoch=3"]);
    assert_contains(
        &msg,
        &["exp.yaml", "--set", "train", "unknown field `epoch`"],
    );
}

#[test]
fn set_index_out_of_range_rejected() {
    let msg = err_set(BASE, &["models.5.hidden=1"]);
    assert_contains(
        &msg,
        &["models.5.hidden=1", "index 5", "out of range", "1 items"],
    );
}

#[test]
fn set_without_equals_rejected() {
    let msg = err_set(BASE, &["nokey"]);
    assert_contains(&msg, &["nokey", "KEY.PATH=VALUE"]);
}

#[test]
fn set_bad_index_and_scalar_paths_rejected() {
    let msg = err_set(BASE, &["models.first.hidden=1"]);
    assert_contains(&msg, &["models.first.hidden=1", "is a list", "first"]);
    let msg = err_set(BASE, &["name.sub=1"]);
    assert_contains(&msg, &["name.sub=1", "single value"]);
    let msg = err_set(BASE, &["=3"]);
    assert_contains(&msg, &["empty key path"]);
}

#[test]
fn set_values_are_validated_like_the_file() {
    let msg = err_set(BASE, &["train.lr=-1"]);
    assert_contains(&msg, &["exp.yaml", "train", "lr", "positive"]);
    let msg = err_set(BASE, &["train.epochs=ten"]);
    assert_contains(&msg, &["exp.yaml", "train.epochs", "invalid type"]);
}

#[test]
fn apply_override_on_raw_value() {
    let mut v: serde_yaml_ng::Value = serde_yaml_ng::from_str("a: {b: [1, 2]}").unwrap();
    apply_override(&mut v, "a.b[1]=5").unwrap();
    apply_override(&mut v, "a.c.d=x").unwrap();
    let expected: serde_yaml_ng::Value =
        serde_yaml_ng::from_str("a: {b: [1, 5], c: {d: x}}").unwrap();
    assert_eq!(v, expected);
}

// ------------------------------------------------------------------- runs()

#[test]
fn runs_are_the_cross_product_in_order() {
    let text = BASE
        .replace(
            "  - type: nade\n    hidden: 8\n",
            "  - type: fvsbn\n  - type: nade\n    hidden: 8\n",
        )
        .replace("orderings: [raster]", "orderings: [raster, random:7]");
    let spec = parse(&format!("{text}seeds: [0, 1]\n")).unwrap();
    let runs = spec.runs();
    let ids: Vec<String> = runs.iter().map(RunSpec::id).collect();
    assert_eq!(
        ids,
        [
            "fvsbn-raster-s0",
            "fvsbn-raster-s1",
            "fvsbn-random-7-s0",
            "fvsbn-random-7-s1",
            "nade-h8-raster-s0",
            "nade-h8-raster-s1",
            "nade-h8-random-7-s0",
            "nade-h8-random-7-s1",
        ]
    );
    for run in &runs {
        assert_eq!(run.spec.models, vec![run.model.clone()]);
        assert_eq!(run.spec.orderings, vec![run.ordering.clone()]);
        assert_eq!(run.spec.seeds, vec![run.seed]);
        assert_eq!(run.spec.data, spec.data);
        assert_eq!(run.spec.train, spec.train);
        assert_eq!(run.spec.name, spec.name);
        // The single-run spec expands to exactly itself.
        let inner = run.spec.runs();
        assert_eq!(inner.len(), 1);
        assert_eq!(inner[0].id(), run.id());
    }
    let last = runs.last().unwrap();
    assert_eq!(last.model.config, nade(8));
    assert_eq!(
        last.ordering,
        "random:7".parse::<crate::order::RunOrdering>().unwrap()
    );
    assert_eq!(last.seed, 1);
}

#[test]
fn run_spec_yaml_round_trips() {
    let text = format!(
        "{}seeds: [4, 5]\ndescription: a test\ntrain:\n  epochs: 2\n  lr: 0.003\n  grad_clip: 1.5\n  patience: 3\n  schedule: cosine\n  device: cpu\n",
        BASE.replace("orderings: [raster]", "orderings: [\"Snake + Reverse\", random]")
    )
    .replace(
        "  source: synthetic\n",
        "  source: synthetic\n  binarize: dynamic\n  binarize_seed: 9\n  max_train: 50\n  synthetic: {height: 3, width: 5, train: 60, val: 10, test: 10, seed: 2}\n",
    );
    let spec = parse(&text).unwrap();
    let runs = spec.runs();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0].id(), "nade-h8-snake+reverse-s4");
    assert_eq!(runs[2].id(), "nade-h8-random-0-s4");
    for run in &runs {
        let yaml = run.spec.to_yaml();
        let back = Spec::parse(&yaml, "spec.yaml", &[])
            .unwrap_or_else(|e| panic!("{e:#}\n--- yaml ---\n{yaml}"));
        assert_eq!(back, run.spec);
        assert_eq!(back.runs()[0].id(), run.id());
    }
    // The whole spec round-trips too.
    assert_eq!(Spec::parse(&spec.to_yaml(), "x.yaml", &[]).unwrap(), spec);
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exp.yaml");
    std::fs::write(&path, BASE).unwrap();
    let spec = Spec::load(&path, &["train.epochs=2".to_string()]).unwrap();
    assert_eq!(spec.train.epochs, 2);
    let missing = dir.path().join("nope.yaml");
    let msg = format!("{:#}", Spec::load(&missing, &[]).unwrap_err());
    assert_contains(&msg, &["cannot read spec", "nope.yaml"]);
}

#[test]
fn model_learning_rate_overrides_and_is_validated() {
    let text = "name: e\ndata: {source: synthetic}\nmodels:\n  - {type: fvsbn, lr: 0.01}\norderings: [raster]\n";
    let spec = Spec::parse(text, "exp.yaml", &[]).unwrap();
    assert_eq!(spec.models[0].lr, Some(0.01));
    let err = Spec::parse(text, "exp.yaml", &["models.0.lr=0".to_string()]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("models[0]") && msg.contains("lr: must be a positive number"),
        "{msg}"
    );
}

#[test]
fn model_epochs_override_the_runs_epochs_and_are_validated() {
    let text = "name: e\ndata: {source: synthetic}\nmodels:\n  - {type: fvsbn, epochs: 30}\n  - {type: nade, hidden: 4}\norderings: [raster]\ntrain: {epochs: 3}\n";
    let spec = Spec::parse(text, "exp.yaml", &[]).unwrap();
    let epochs: Vec<usize> = spec.runs().iter().map(|r| r.spec.train.epochs).collect();
    assert_eq!(epochs, vec![30, 3]);
    // The run's resolved spec reproduces it alone.
    let run = &spec.runs()[0];
    let again = Spec::parse(&run.spec.to_yaml(), "run.yaml", &[]).unwrap();
    assert_eq!(again.runs()[0].spec.train.epochs, 30);
    let err = Spec::parse(text, "exp.yaml", &["models.0.epochs=0".to_string()]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("models[0]") && msg.contains("epochs: must be at least 1"),
        "{msg}"
    );
}

// ----------------------------------------------------- references and presets

/// A spec of one `model` (a YAML flow mapping) and `extra` top-level lines.
fn one_model(model: &str, extra: &str) -> String {
    format!(
        "name: e\ndata: {{source: synthetic}}\nmodels:\n  - {model}\norderings: [raster]\n{extra}"
    )
}

#[test]
fn model_reference_parses_round_trips_and_is_typed() {
    let text = one_model(
        "{type: nade, reference: {nll: 88.33, source: \"Uria et al. 2014\"}}",
        "",
    );
    let spec = parse(&text).unwrap();
    let r = spec.models[0].reference.as_ref().unwrap();
    assert_eq!(
        (r.nll, r.source.as_str(), r.ensemble),
        (88.33, "Uria et al. 2014", None)
    );
    assert_eq!(Spec::parse(&spec.to_yaml(), "x.yaml", &[]).unwrap(), spec);
    let run = &spec.runs()[0];
    assert_eq!(parse(&run.spec.to_yaml()).unwrap(), run.spec);
    // Without one, nothing changes.
    assert_eq!(
        parse(&one_model("{type: nade}", "")).unwrap().models[0].reference,
        None
    );
}

#[test]
fn bad_references_name_the_field() {
    let cases = [
        (
            "{nll: -1, source: x}",
            "reference.nll: must be a positive finite number",
        ),
        (
            "{nll: 0, source: x}",
            "reference.nll: must be a positive finite number",
        ),
        (
            "{nll: .nan, source: x}",
            "reference.nll: must be a positive finite number",
        ),
        (
            "{nll: .inf, source: x}",
            "reference.nll: must be a positive finite number",
        ),
        (
            "{nll: 88.3, source: \"\"}",
            "reference.source: must say where",
        ),
        ("{nll: 88.3}", "reference: missing field `source`"),
        ("{source: x}", "reference: missing field `nll`"),
        ("{nll: many, source: x}", "reference.nll: invalid type"),
        (
            "{nll: 88.3, source: x, year: 2011}",
            "unknown field `year`, expected one of `nll`, `source`",
        ),
        ("88.3", "reference: invalid type"),
        (
            "{nll: 88.3, source: x, ensemble: 0}",
            "reference.ensemble: must be at least 1",
        ),
    ];
    for (reference, expected) in cases {
        let msg = err(&one_model(
            &format!("{{type: fvsbn, reference: {reference}}}"),
            "",
        ));
        assert_contains(&msg, &["exp.yaml", "models[0]", expected]);
    }
    // `--set` values are checked the same way.
    let text = one_model("{type: fvsbn, reference: {nll: 97, source: x}}", "");
    let msg = err_set(&text, &["models.0.reference.nll=-3"]);
    assert_contains(&msg, &["models[0]", "reference.nll"]);
}

#[test]
fn a_reference_to_an_ensemble_needs_as_many_members_in_eval_orderings() {
    let model =
        "{type: nade, order_agnostic: true, reference: {nll: 85.1, source: x, ensemble: 128}}";
    let msg = err(&one_model(model, ""));
    assert_contains(
        &msg,
        &[
            "models[0]",
            "reference.ensemble: 128",
            "eval.orderings: 128",
            "got none",
        ],
    );
    let msg = err(&one_model(model, "eval: {orderings: 16}\n"));
    assert_contains(&msg, &["reference.ensemble: 128", "got 16"]);
    let spec = parse(&one_model(model, "eval: {orderings: 128}\n")).unwrap();
    assert_eq!(
        spec.models[0].reference.as_ref().unwrap().ensemble,
        Some(128)
    );
}

#[test]
fn paper_presets_of_the_fully_connected_models_and_their_defaults() {
    let shape = crate::data::ImageShape::new(PixelForm::Binary, 28, 28);
    let model = |m: &str| -> ModelSpec { serde_yaml_ng::from_str(m).unwrap() };
    let count = |m: &str| model(m).def().param_count(shape).unwrap();
    // D = 784. NADE, H = 500: 2DH + D + H (both presets).
    assert_eq!(
        count("{type: nade, preset: paper}"),
        2 * 784 * 500 + 784 + 500
    );
    assert_eq!(count("{type: nade}"), 785_284);
    // EoNADE 2hl: 3DH + D + H + (H² + H), H = 500.
    let oa = model("{type: nade, preset: paper, order_agnostic: true}");
    assert_eq!(oa.label(), "nade-oa-h500-l2");
    assert_eq!(
        oa.def().param_count(shape),
        Some(3 * 784 * 500 + 784 + 500 + 500 * 500 + 500)
    );
    assert_eq!(
        model("{type: nade, order_agnostic: true}").label(),
        "nade-oa-h500"
    );
    // MADE: one layer of 8000 with direct connections; the 32-mask model two.
    let made = model("{type: made, preset: paper}");
    assert_eq!(made.label(), "made-h8000-direct");
    let one = (784 * 8000 + 8000) + (8000 * 784 + 784) + 784 * 784;
    assert_eq!(made.def().param_count(shape), Some(one));
    assert_eq!(one, 13_167_440);
    let two = model("{type: made, preset: paper, hidden: [8000, 8000], num_masks: 32}");
    assert_eq!(two.label(), "made-h8000x8000-m32-direct");
    assert_eq!(two.def().param_count(shape), Some(one + 8000 * 8000 + 8000));
    assert_eq!(model("{type: made}").label(), "made-h500");
    assert_eq!(
        model("{type: made, preset: paper, direct: false}").label(),
        "made-h8000"
    );
    // FVSBN has no settings: the presets are one model.
    assert_eq!(count("{type: fvsbn, preset: paper}"), 784 + 784 * 783 / 2);
    assert_eq!(model("{type: fvsbn, preset: paper}").label(), "fvsbn");
    // Absent presets are written as before (`small` is left out).
    for m in ["{type: nade}", "{type: made}", "{type: fvsbn}"] {
        let yaml = serde_yaml_ng::to_string(&model(m)).unwrap();
        assert!(!yaml.contains("preset"), "{yaml}");
    }
    let yaml = serde_yaml_ng::to_string(&model("{type: made, preset: paper}")).unwrap();
    assert!(
        yaml.contains("preset: paper") && !yaml.contains("hidden"),
        "{yaml}"
    );
}
