//! `arlab bench`: speed and memory of each model of a spec.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::autocast::Precision;
use crate::spec::{DeviceChoice, Spec};
use crate::{bench, sweep};

/// Speed and memory of each model of a spec (or of the built-in family
/// on 28×28 binary images): training, evaluation and sampling, as a
/// markdown table on stdout and a CSV file.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The YAML spec whose models are measured (default: the built-in family).
    spec: Option<PathBuf>,
    /// Only the models of this type or label (repeatable).
    #[arg(long = "models", value_name = "TYPE_OR_LABEL", num_args = 1..)]
    models: Vec<String>,
    /// Batch sizes (repeatable; default 100).
    #[arg(long = "batch", value_name = "N", num_args = 1..)]
    batches: Vec<usize>,
    /// `auto`, `cpu`, `cuda` or `cuda:N` (default: the spec's `train.device`).
    #[arg(long)]
    device: Option<String>,
    /// `f32` or `bf16` for the training steps (default: the spec's
    /// `train.precision`); evaluation is always float32.
    #[arg(long)]
    precision: Option<String>,
    /// Timed seconds per rate, split over 5 repetitions.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Images drawn for the sampling time (0: not measured).
    #[arg(long, default_value_t = 64)]
    samples: i64,
    /// The CSV file to write.
    #[arg(long, value_name = "FILE.csv", default_value = "bench.csv")]
    out: PathBuf,
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    set: Vec<String>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let spec = match &args.spec {
        Some(path) => sweep::base_spec(path, &args.set)?,
        None if args.set.is_empty() => bench::builtin_spec(),
        None => bail!("--set needs a SPEC"),
    };
    let device = match &args.device {
        Some(d) => d.parse::<DeviceChoice>().context("--device")?,
        None => spec.train.device,
    };
    let precision = match &args.precision {
        Some(p) => p.parse::<Precision>().context("--precision")?,
        None => spec.train.precision,
    };
    let opts = bench::Options {
        batches: if args.batches.is_empty() {
            vec![100]
        } else {
            args.batches
        },
        device: device.resolve()?,
        precision,
        seconds: args.seconds,
        samples: args.samples,
    };
    measure(&spec, &args.models, &opts, &args.out)
}

fn measure(spec: &Spec, models: &[String], opts: &bench::Options, out: &Path) -> Result<()> {
    opts.check()?;
    let selected = bench::select_models(spec, models)?;
    let rows = bench::run(spec, &selected, opts)?;
    bench::write_csv(out, &rows)?;
    print!("{}", bench::markdown(&rows));
    let rss = if opts.device == tch::Device::Cpu {
        "peak RSS: the whole process's peak resident memory while the row was measured (VmHWM, reset before each row, so libtorch, arlab and memory the allocator kept from earlier rows are included); in brackets, its rise over the resident memory at the row's start"
    } else {
        "peak memory on CUDA: the most memory libtorch's caching allocator handed out while the row was measured"
    };
    println!(
        "\n{:?}, {} torch thread(s), training steps in {}, evaluation in float32; median of {} timed repetitions (min–max), {}s per rate; {rss}",
        opts.device,
        tch::get_num_threads(),
        opts.precision,
        bench::REPETITIONS,
        opts.seconds
    );
    println!("CSV: {}", out.display());
    Ok(())
}
