//! `train.precision: bf16`: training steps run under bfloat16 autocast, but
//! the test NLL a run reports is computed at full precision (float32
//! network, float64 sums), exactly what a float32 evaluation of the saved
//! checkpoint gives, and not what a bfloat16 evaluation would give.
mod common;

use arlab::autocast::Autocast;
use arlab::autocast::Precision;
use arlab::data::Split;
use arlab::eval;
use arlab::results::RunDir;
use common::*;
use tch::{Device, Kind};

const MODELS: &str = "  - type: pixelcnn\n    blocks: 1\n    hidden: 8\n    output_hidden: 16\n  \
                      - type: nade\n    hidden: 16\n  - type: fvsbn\n";
const RUNS: [&str; 3] = [
    "pixelcnn-b1-h8-o16-raster-s1",
    "nade-h16-raster-s1",
    "fvsbn-raster-s1",
];

fn train(work: &std::path::Path, precision: &str) -> std::path::PathBuf {
    let spec = spec_text(
        precision,
        6,
        MODELS,
        "[raster]",
        &format!("  sample_every: 0\n  samples: 4\n  lr: 0.05\n  precision: {precision}\n"),
    );
    let path = write_spec(work, &format!("{precision}.yaml"), &spec);
    ok(arlab(
        work,
        &["run", path.to_str().unwrap(), "--quiet", "--results", "res"],
    ));
    work.join("res").join(precision)
}

/// The mean test NLL of a run's best checkpoint, evaluated as `arlab run`
/// does, optionally under autocast.
fn evaluate(run_dir: &std::path::Path, precision: Precision) -> f64 {
    let (run, data, inst) = arlab::results::run::load_run(&RunDir::new(run_dir), None).unwrap();
    let _autocast = Autocast::enter(precision, Device::Cpu);
    let test = data.split(Split::Test);
    let batch = run.spec.train.eval_batch_size;
    let lp = eval::log_probs(inst.model.as_ref(), test, batch, Device::Cpu, Kind::Float);
    eval::mean_nll(&lp)
}

#[test]
fn a_bf16_trained_model_reports_its_test_nll_at_full_precision() {
    let work = tmp();
    let bf16 = train(work.path(), "bf16");
    let f32 = train(work.path(), "f32");
    for run in RUNS {
        let dir = bf16.join(run);
        let log = std::fs::read_to_string(dir.join("log.txt")).unwrap();
        assert!(log.contains("training precision bf16"), "{run}: {log}");
        let spec = std::fs::read_to_string(dir.join("spec.yaml")).unwrap();
        assert!(spec.contains("precision: bf16"), "{run}: {spec}");

        let reported = test_nll(&dir);
        let full = evaluate(&dir, Precision::F32);
        let reduced = evaluate(&dir, Precision::Bf16);
        eprintln!("{run}: reported {reported}, float32 {full}, bf16 {reduced}");
        assert!(
            (reported - full).abs() <= 1e-9 * full.abs(),
            "{run}: reported {reported} but float32 evaluation gives {full}"
        );
        assert!(
            (reduced - full).abs() > 5e-6 * full.abs(),
            "{run}: bf16 evaluation {reduced} is indistinguishable from float32 {full}: \
             the check above would prove nothing"
        );
        // The training NLL of the first epoch (from the steps' own forward
        // passes) is off the float32 run's by far more than float32
        // rounding: the steps really ran in bfloat16.
        let first_train_nll = |exp: &std::path::Path| -> f64 {
            let cols = csv_columns(&exp.join(run).join("metrics.csv"), &["train_nll"]);
            cols["train_nll"][0].parse().unwrap()
        };
        let (b, f) = (first_train_nll(&bf16), first_train_nll(&f32));
        assert!(
            (b - f).abs() > 5e-6 * f.abs(),
            "{run}: epoch 1 training NLL {b} in bf16 and {f} in f32"
        );
    }
}

#[test]
fn an_unknown_precision_is_a_clear_error() {
    let work = tmp();
    let spec = spec_text("p", 4, NADE8, "[raster]", "  precision: fp8\n");
    let path = write_spec(work.path(), "p.yaml", &spec);
    fails(
        arlab(work.path(), &["run", path.to_str().unwrap(), "--quiet"]),
        &["precision", "fp8"],
    );
    fails(
        arlab(work.path(), &["bench", "--precision", "half"]),
        &["--precision", "unknown precision \"half\"", "f32 or bf16"],
    );
}
