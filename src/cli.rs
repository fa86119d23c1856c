//! The command line: raw arguments become validated settings here, then the
//! library does the work.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::autocast::Precision;
use crate::data::Size;
use crate::data::{self, ImageShape, Split};
use crate::eval::ensemble;
use crate::order::{self, OrderSpec};
use crate::results::{self, plots, RunDir};
use crate::score;
use crate::score::detect::{self, ScoreKind};
use crate::spec::EnsembleSpec;
use crate::spec::{DeviceChoice, Spec};
use crate::sweep::{self, Plan};
use crate::{bench, eval, slurm, train};

#[derive(Parser, Debug)]
#[command(
    name = "arlab",
    version,
    about = "Train and compare autoregressive image density models under pixel orderings"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an experiment: every sweep value × model × ordering × seed of the spec.
    Run {
        /// The YAML experiment spec.
        spec: PathBuf,
        /// Override a spec value, e.g. `--set train.epochs=2` (repeatable).
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        set: Vec<String>,
        /// Results root directory.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// No progress bars or log lines (errors only).
        #[arg(long)]
        quiet: bool,
        /// Redo runs that already finished.
        #[arg(long)]
        force: bool,
        /// Worker processes, each taking the next unfinished run.
        #[arg(long, default_value_t = 1, value_name = "N")]
        jobs: usize,
        /// Devices given to the workers in turn, e.g. `cuda:0,cuda:1`.
        #[arg(long, value_delimiter = ',', value_name = "DEVICE,...")]
        devices: Vec<DeviceChoice>,
        /// Run only the run of this index (see `arlab plan`).
        #[arg(long, value_name = "I")]
        task: Option<usize>,
        /// Torch threads of this process (default: libtorch's choice).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Train on this device whatever the spec says.
        #[arg(long, hide = true)]
        device: Option<DeviceChoice>,
        /// Internal: this process is a worker of `--jobs`.
        #[arg(long, hide = true)]
        worker: bool,
    },
    /// List every run of a spec with its stable index and write the manifest
    /// `<results>/<experiment>/runs.jsonl`.
    Plan {
        spec: PathBuf,
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        set: Vec<String>,
        #[arg(long, default_value = "results")]
        results: PathBuf,
    },
    /// Submit the unfinished runs of a spec to Slurm as one job array, plus
    /// a job that builds the report when the array is over.
    Submit {
        spec: PathBuf,
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        set: Vec<String>,
        #[arg(long, default_value = "results")]
        results: PathBuf,
        #[arg(long)]
        partition: Option<String>,
        /// Time limit per task, e.g. `2:00:00`.
        #[arg(long)]
        time: Option<String>,
        #[arg(long, value_name = "G")]
        gpus_per_task: Option<u32>,
        #[arg(long, value_name = "C")]
        cpus_per_task: Option<u32>,
        /// Memory per node, e.g. `8G`.
        #[arg(long, value_name = "M")]
        mem: Option<String>,
        /// Array tasks running at once.
        #[arg(long, value_name = "K")]
        max_parallel: Option<u32>,
        /// Another sbatch option for the array, e.g. `--sbatch-arg=--qos=low` (repeatable).
        #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
        sbatch_args: Vec<String>,
        /// Requeues of a task after the time-limit warning, at most.
        #[arg(long, default_value_t = 3)]
        max_requeues: u32,
        /// Print the scripts, submit nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A self-contained report.html and report.md of one or more experiment
    /// directories, with every figure as PNG and SVG beside them.
    Report {
        /// Experiment directories, `RESULTS/EXPERIMENT`.
        #[arg(required = true)]
        experiments: Vec<PathBuf>,
        /// Where the report goes (default: FIRST_EXPERIMENT/report).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The state of every run of an experiment (done, running, interrupted,
    /// failed, not started) with its Slurm job id.
    Status {
        /// The experiment directory, `RESULTS/EXPERIMENT`.
        experiment: PathBuf,
    },
    /// Exact log-likelihood of a trained run (best checkpoint) on a split.
    Eval {
        /// A run directory, or a model exported as .safetensors (`arlab export`).
        run_dir: PathBuf,
        /// Evaluate on another data source (same image size), e.g. `idx:/data/mnist`.
        #[arg(long)]
        data: Option<String>,
        #[arg(long, value_enum, default_value = "test")]
        split: Split,
        /// Write one row per image: index, log p(x) in nats (and the
        /// log-likelihoods as a float64 .npy beside it).
        #[arg(long, value_name = "FILE.csv")]
        per_image: Option<PathBuf>,
        /// Evaluate under the model's first N orderings (or masks), or under
        /// the named orderings (`raster,snake,hilbert`): each alone and as
        /// their ensemble, logsumexp_k log p_k(x) − log N.
        #[arg(long, value_name = "N|LIST")]
        orderings: Option<EnsembleSpec>,
    },
    /// Per-image scores of a trained run (best checkpoint): log p(x), bits/dim
    /// and the complexity-corrected score S(x) = −log₂ p(x) − L_PNG(x).
    Score {
        /// A run directory, or a model exported as .safetensors (`arlab export`).
        run_dir: PathBuf,
        /// Score another data source (default: the run's own), e.g. `mnist`;
        /// the run's pixel form and binarization apply to it.
        #[arg(long, value_name = "SOURCE")]
        data: Option<String>,
        #[arg(long, value_enum, default_value = "test")]
        split: Split,
        /// The per-image CSV to write (and the same table as a structured
        /// .npy beside it).
        #[arg(long, value_name = "FILE.csv", default_value = "scores.csv")]
        out: PathBuf,
    },
    /// Out-of-distribution detection: AUROC, AUPRC and FPR at 95% TPR of
    /// anomaly scores, in-distribution against each out-distribution.
    Ood {
        run_dir: PathBuf,
        /// The in-distribution source (default: the run's own).
        #[arg(long = "in", value_name = "SOURCE")]
        in_source: Option<String>,
        /// An out-distribution source (repeatable, at least one).
        #[arg(long = "out", value_name = "SOURCE")]
        out_sources: Vec<String>,
        /// `loglik`, `complexity` or `ratio:RUN_DIR` (repeatable; default:
        /// loglik and complexity).
        #[arg(long = "score", value_name = "SCORE")]
        scores: Vec<String>,
        /// The split of every source that is scored.
        #[arg(long, value_enum, default_value = "test")]
        split: Split,
        /// Where the tables and plots go (default: RUN_DIR/ood).
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
    },
    /// Draw samples from a trained run (best checkpoint) into a PNG grid.
    Sample {
        /// A run directory, or a model exported as .safetensors (`arlab export`).
        run_dir: PathBuf,
        #[arg(long, default_value_t = 64)]
        count: i64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a run's best checkpoint as one .safetensors file with the run's
    /// spec in its metadata (for Python; `arlab eval` takes it as a run).
    Export {
        run_dir: PathBuf,
        #[arg(long, value_name = "FILE.safetensors")]
        out: PathBuf,
    },
    /// Draw each ordering's visiting path (PNG per ordering + overview).
    Orderings {
        /// Image size HxW.
        #[arg(long, default_value = "28x28")]
        size: String,
        #[arg(long)]
        out: PathBuf,
        /// Orderings to draw (default: the gallery of all bases and some transforms).
        #[arg(long = "ordering", value_name = "ORDERING")]
        orderings: Vec<String>,
    },
    /// Print the runs of a spec and each model's parameter count.
    Inspect {
        spec: PathBuf,
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        set: Vec<String>,
    },
    /// Draw the receptive field of one conditional for each model of a spec:
    /// the gradient magnitude of its logits over the input pixels.
    ReceptiveField {
        spec: PathBuf,
        /// The pixel whose conditional is examined, `ROW,COL` (0-based).
        #[arg(long)]
        pixel: String,
        /// The channel of that pixel (0 = R for colour).
        #[arg(long, default_value_t = 0)]
        channel: usize,
        #[arg(long, default_value = "receptive_field.png")]
        out: PathBuf,
        #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
        set: Vec<String>,
    },
    /// Speed and memory of each model of a spec (or of the built-in family
    /// on 28×28 binary images): training, evaluation and sampling, as a
    /// markdown table on stdout and a CSV file.
    Bench {
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
    },
    /// Report libtorch, CUDA and the built-in data sets.
    Doctor,
}

/// Parses the arguments and runs the command.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Run { quiet: true, .. });
    init_logging(quiet);
    match cli.command {
        Command::Run {
            spec,
            set,
            results,
            quiet,
            force,
            jobs,
            devices,
            task,
            threads,
            device,
            worker,
        } => {
            if jobs == 0 {
                bail!("--jobs: must be at least 1");
            }
            if let Some(t) = threads {
                tch::set_num_threads(t.max(1) as i32);
            }
            crate::runtime::signals::install()?;
            let mut plan = Plan::load(&spec, &set)?;
            let opts = sweep::exec::ExecOptions {
                train: train::Options {
                    results: results.clone(),
                    quiet,
                    force,
                },
                jobs,
                devices,
                task,
                worker,
                device,
                spec_path: spec,
                set,
            };
            let finished = sweep::exec::execute(&mut plan, &opts)?;
            let dir = results.join(&plan.name);
            if !quiet {
                println!("{finished} run(s) finished; results in {}", dir.display());
                println!("comparison: {}", dir.join("comparison.md").display());
            }
            Ok(())
        }
        Command::Plan { spec, set, results } => cmd_plan(&spec, &set, &results),
        Command::Submit {
            spec,
            set,
            results,
            partition,
            time,
            gpus_per_task,
            cpus_per_task,
            mem,
            max_parallel,
            sbatch_args,
            max_requeues,
            dry_run,
        } => {
            let mut plan = Plan::load(&spec, &set)?;
            let opts = slurm::SubmitOptions {
                results,
                partition,
                time,
                gpus_per_task,
                cpus_per_task,
                mem,
                max_parallel,
                sbatch_args,
                max_requeues,
                dry_run,
            };
            cmd_submit(&mut plan, &opts)
        }
        Command::Report { experiments, out } => {
            let out = out.unwrap_or_else(|| experiments[0].join("report"));
            let path = crate::report::write(&experiments, &out)?;
            println!("report: {}", path.display());
            println!("markdown: {}", out.join("report.md").display());
            Ok(())
        }
        Command::Status { experiment } => {
            print!("{}", sweep::status::table(&experiment)?);
            Ok(())
        }
        Command::Eval {
            run_dir,
            data,
            split,
            per_image,
            orderings,
        } => cmd_eval(
            &run_dir,
            data.as_deref(),
            split,
            per_image.as_deref(),
            orderings.as_ref(),
        ),
        Command::Score {
            run_dir,
            data,
            split,
            out,
        } => cmd_score(&run_dir, data.as_deref(), split, &out),
        Command::Ood {
            run_dir,
            in_source,
            out_sources,
            scores,
            split,
            report,
        } => {
            let scores = if scores.is_empty() {
                vec![ScoreKind::Loglik, ScoreKind::Complexity]
            } else {
                let parse = |s: &String| s.parse().context("--score");
                scores.iter().map(parse).collect::<Result<_>>()?
            };
            let report = report.unwrap_or_else(|| run_dir.join("ood"));
            let parse = |s: &String, flag: &str| s.parse().with_context(|| format!("{flag} {s}"));
            cmd_ood(detect::Request {
                run_dir,
                in_source: in_source.map(|s| parse(&s, "--in")).transpose()?,
                out_sources: out_sources
                    .iter()
                    .map(|s| parse(s, "--out"))
                    .collect::<Result<_>>()?,
                scores,
                split,
                report,
            })
        }
        Command::Sample {
            run_dir,
            count,
            seed,
            out,
        } => cmd_sample(&run_dir, count, seed, &out),
        Command::Export { run_dir, out } => cmd_export(&run_dir, &out),
        Command::Orderings {
            size,
            out,
            orderings,
        } => cmd_orderings(size.parse().context("--size")?, &out, &orderings),
        Command::Inspect { spec, set } => {
            cmd_inspect(&sweep::base_spec(&spec, &set)?)?;
            let plan = Plan::load(&spec, &set)?;
            if !plan.axes.is_empty() {
                let axes: Vec<String> = plan
                    .axes
                    .iter()
                    .map(|a| format!("{} ({} values)", a.key, a.values.len()))
                    .collect();
                println!(
                    "the sweep over {} makes {} run(s) in all (`arlab plan` lists them)",
                    axes.join(", "),
                    plan.runs.len()
                );
            }
            Ok(())
        }
        Command::ReceptiveField {
            spec,
            pixel,
            channel,
            out,
            set,
        } => cmd_receptive_field(&sweep::base_spec(&spec, &set)?, &pixel, channel, &out),
        Command::Bench {
            spec,
            models,
            batches,
            device,
            precision,
            seconds,
            samples,
            out,
            set,
        } => {
            let spec = match spec {
                Some(path) => sweep::base_spec(&path, &set)?,
                None if set.is_empty() => bench::builtin_spec(),
                None => bail!("--set needs a SPEC"),
            };
            let device = match device {
                Some(d) => d.parse::<DeviceChoice>().context("--device")?,
                None => spec.train.device,
            };
            let precision = match precision {
                Some(p) => p.parse::<Precision>().context("--precision")?,
                None => spec.train.precision,
            };
            let opts = bench::Options {
                batches: if batches.is_empty() {
                    vec![100]
                } else {
                    batches
                },
                device: device.resolve()?,
                precision,
                seconds,
                samples,
            };
            cmd_bench(&spec, &models, &opts, &out)
        }
        Command::Doctor => cmd_doctor(),
    }
}

fn init_logging(quiet: bool) {
    let level = if quiet {
        tracing::Level::WARN
    } else {
        tracing::Level::INFO
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .with_level(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn check_run_dir(run_dir: &Path) -> Result<RunDir> {
    results::run::open_run_dir(run_dir)
}

fn cmd_eval(
    run_dir: &Path,
    data: Option<&str>,
    split: Split,
    per_image: Option<&Path>,
    orderings: Option<&EnsembleSpec>,
) -> Result<()> {
    if per_image.is_some_and(|p| p.extension().is_some_and(|e| e == "npy")) {
        bail!("--per-image: name the CSV (e.g. per_image.csv); the .npy is written beside it");
    }
    let (run, dataset, inst) = results::run::load_trained(run_dir, data)?;
    let x = dataset.split(split);
    let batch = run.spec.train.eval_batch_size;
    let model = inst.model.as_ref();
    let (log_probs, what) = match orderings {
        None => (
            eval::log_probs(model, x, batch, inst.device, tch::Kind::Float),
            String::new(),
        ),
        Some(spec) => {
            let members = spec.members(model, false)?;
            let e = ensemble::evaluate(
                model,
                x,
                &members,
                (batch, inst.device, dataset.dims()),
                |m| eprintln!("evaluated under {m}"),
            )?;
            print_ensemble(&e.rows);
            let n = members.len();
            (
                ensemble::ensemble_log_probs(&e.per_member),
                format!(" (ensemble of {n} ordering(s))"),
            )
        }
    };
    let nll = eval::mean_nll(&log_probs);
    println!(
        "{}{what}: {} NLL {nll:.4} nats/image, {:.5} bits/dim over {} images ({}, binarization: {})",
        run.id(),
        split,
        eval::bits_per_dim(nll, dataset.dims()),
        log_probs.len(),
        dataset.spec.source,
        dataset.binarization()
    );
    if let Some(path) = per_image {
        #[derive(serde::Serialize)]
        struct Row {
            index: usize,
            log_prob_nats: f64,
        }
        let rows: Vec<Row> = log_probs
            .iter()
            .enumerate()
            .map(|(index, &log_prob_nats)| Row {
                index,
                log_prob_nats,
            })
            .collect();
        results::write_csv(path, &rows)?;
        let npy = path.with_extension("npy");
        results::npy::write_f64(&npy, &log_probs)?;
        println!(
            "per-image log-likelihoods: {} and {}",
            path.display(),
            npy.display()
        );
    }
    Ok(())
}

/// The per-ordering and ensemble rows as a table on stdout.
fn print_ensemble(rows: &[results::EnsembleRow]) {
    println!(
        "{:<10} {:>3}  {:>12} {:>10}  orderings",
        "", "N", "NLL (nats)", "bits/dim"
    );
    for r in rows {
        println!(
            "{:<10} {:>3}  {:>12.4} {:>10.5}  {}",
            r.kind, r.n, r.nll, r.bits_per_dim, r.orderings
        );
    }
}

fn cmd_score(run_dir: &Path, data: Option<&str>, split: Split, out: &Path) -> Result<()> {
    let (run, dataset, inst) = results::run::load_trained(run_dir, data)?;
    let label = format!("{} ({split})", dataset.spec.source);
    let batch = run.spec.train.eval_batch_size;
    let x = dataset.split(split);
    let scores = score::score_images(inst.model.as_ref(), x, batch, inst.device, &label)?;
    let npy = score::write(&scores, out)?;
    let complexity = scores.complexity();
    let nll = eval::mean_nll(&scores.log_p);
    println!(
        "{}: {label}: {} images, NLL {nll:.4} nats/image, {:.5} bits/dim, mean complexity score {:.2} bits (binarization: {})",
        run.id(),
        scores.log_p.len(),
        eval::bits_per_dim(nll, dataset.dims()),
        complexity.iter().sum::<f64>() / complexity.len().max(1) as f64,
        dataset.binarization()
    );
    println!("per-image scores: {} and {}", out.display(), npy.display());
    Ok(())
}

fn cmd_ood(req: detect::Request) -> Result<()> {
    check_run_dir(&req.run_dir)?;
    let rows = detect::run(&req)?;
    println!("in-distribution: {}", rows[0].in_data);
    for r in &rows {
        println!(
            "{:<30} {:<40} AUROC {:.4}  AUPRC {:.4}  FPR@95%TPR {:.4}",
            r.out_data, r.score, r.auroc, r.auprc, r.fpr_at_95_tpr
        );
    }
    println!("report: {}", req.report.join("metrics.md").display());
    Ok(())
}

fn cmd_sample(run_dir: &Path, count: i64, seed: u64, out: &Path) -> Result<()> {
    if count < 1 {
        bail!("--count: must be at least 1, got {count}");
    }
    let (_, dataset, inst) = results::run::load_trained(run_dir, None)?;
    let images = train::sample_images(inst.model.as_ref(), count, seed);
    plots::sample_grid(&images, dataset.shape, out)?;
    println!("{count} samples (seed {seed}): {}", out.display());
    Ok(())
}

fn cmd_export(run_dir: &Path, out: &Path) -> Result<()> {
    if !results::run::is_exported(out) {
        bail!(
            "--out: name the file `….safetensors`, got `{}`",
            out.display()
        );
    }
    let dir = check_run_dir(run_dir)?;
    results::run::export(&dir, out)?;
    let header = results::safetensors::read_header(out)?;
    println!(
        "{}: best checkpoint exported to {} ({} bytes)",
        header.run,
        out.display(),
        std::fs::metadata(out)?.len()
    );
    Ok(())
}

fn cmd_orderings(size: Size, out: &Path, names: &[String]) -> Result<()> {
    let (h, w) = (size.height, size.width);
    let specs: Vec<OrderSpec> = if names.is_empty() {
        order::gallery()
    } else {
        names.iter().map(|n| n.parse()).collect::<Result<_>>()?
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    for s in &specs {
        order::render::render_path(s, h, w, &out.join(format!("{}.png", s.slug())))?;
    }
    let overview = out.join("overview.png");
    order::render::render_overview(&specs, h, w, &overview)?;
    println!(
        "{} orderings drawn for {h}×{w} in {} (overview: {})",
        specs.len(),
        out.display(),
        overview.display()
    );
    Ok(())
}

fn cmd_submit(plan: &mut Plan, opts: &slurm::SubmitOptions) -> Result<()> {
    let done = slurm::submit(plan, opts)?;
    if done.tasks.is_empty() {
        println!(
            "nothing to submit: every run of `{}` is done, failed or running (see `arlab status`)",
            plan.name
        );
        return Ok(());
    }
    let array = slurm::array_spec(&done.tasks, opts.max_parallel);
    match (&done.array_job, &done.report_job) {
        (Some(a), Some(r)) => {
            println!("submitted job array {a} (--array={array}, {} run(s)) and report job {r} (afterany:{a})", done.tasks.len());
            println!("script: {}", done.script.display());
        }
        _ => println!(
            "dry run: nothing submitted; script written to {}",
            done.script.display()
        ),
    }
    Ok(())
}

fn cmd_plan(spec: &Path, set: &[String], results: &Path) -> Result<()> {
    let mut plan = Plan::load(spec, set)?;
    let dir = plan.experiment_dir(results);
    plan.sync_manifest(&dir)?;
    let axes: Vec<String> = plan
        .axes
        .iter()
        .map(|a| format!("{} ({} values)", a.key, a.values.len()))
        .collect();
    println!(
        "experiment `{}`: {} run(s){}",
        plan.name,
        plan.runs.len(),
        if axes.is_empty() {
            String::new()
        } else {
            format!(", sweeping {}", axes.join(", "))
        }
    );
    for r in &plan.runs {
        let state = sweep::status::state(&dir, &r.name());
        println!("{:>5}  {:<12} {}", r.index, state.word(), r.name());
    }
    println!("manifest: {}", dir.join("runs.jsonl").display());
    Ok(())
}

fn cmd_inspect(spec: &Spec) -> Result<()> {
    let splits = data::load_splits(&spec.data)?;
    let shape = ImageShape::new(spec.data.pixels, splits.train.height, splits.train.width);
    let d = shape.dims();
    println!(
        "experiment `{}`: data `{}`, {} pixels, {}×{}×{} (C×H×W, D = {d}), binarization: {}",
        spec.name,
        spec.data.source,
        spec.data.pixels.name(),
        shape.channels,
        shape.height,
        shape.width,
        data::describe_binarization(&spec.data)
    );
    println!(
        "{} train / {} validation / {} test images",
        splits.train.len(),
        splits.val.len(),
        splits.test.len()
    );
    match spec.data.pixels {
        crate::data::PixelForm::Rgb => println!(
            "the full joint of one RGB pixel alone needs 256^3 - 1 = {} parameters",
            256u64.pow(3) - 1
        ),
        crate::data::PixelForm::Gray256 => {
            println!("the full distribution of one 8-bit pixel needs 255 parameters")
        }
        crate::data::PixelForm::Binary => {}
    }
    println!(
        "\n{:<24} {:<16} {:>22}  formula",
        "model", "type", "parameters"
    );
    for m in &spec.models {
        let def = m.def();
        let closed = def.param_count(shape);
        let counted = if closed.is_some_and(|c| c <= 1 << 30) {
            let vs = tch::nn::VarStore::new(tch::Device::Cpu);
            let ordering = &spec.orderings[0];
            m.build_run(&vs.root(), shape, ordering)
                .ok()
                .map(|m| m.num_params().to_string())
        } else {
            None
        };
        let shown = counted.unwrap_or_else(|| match closed {
            Some(c) => format!("{c} (not built)"),
            None => format!("2^{d} - 1 (not built)"),
        });
        println!(
            "{:<24} {:<16} {:>22}  {}",
            m.label(),
            m.type_name(),
            shown,
            def.formula()
        );
    }
    let runs = spec.runs();
    println!("\n{} run(s):", runs.len());
    for r in runs {
        println!("  {}", r.id());
    }
    Ok(())
}

fn cmd_receptive_field(spec: &Spec, pixel: &str, channel: usize, out: &Path) -> Result<()> {
    let splits = data::load_splits(&spec.data)?;
    let shape = ImageShape::new(spec.data.pixels, splits.train.height, splits.train.width);
    let parse = |v: &str| v.trim().parse::<usize>().ok();
    let (r, c) = pixel
        .split_once(',')
        .and_then(|(r, c)| parse(r).zip(parse(c)))
        .filter(|&(r, c)| r < shape.height && c < shape.width)
        .with_context(|| {
            format!(
                "--pixel: expected ROW,COL inside the {}×{} image, got {pixel:?}",
                shape.height, shape.width
            )
        })?;
    if channel >= shape.channels {
        bail!(
            "--channel: the images have {} channel(s), got {channel}",
            shape.channels
        );
    }
    let ordering = &spec.orderings[0];
    let mut panels = Vec::new();
    for m in &spec.models {
        tch::manual_seed(spec.seeds[0] as i64);
        let mut vs = tch::nn::VarStore::new(tch::Device::Cpu);
        vs.set_kind(tch::Kind::Double);
        let model = m.build_run(&vs.root(), shape, ordering)?;
        let field = eval::receptive_field(
            model.as_ref(),
            r * shape.width + c,
            channel,
            8,
            tch::Kind::Double,
        );
        let target = r * shape.width + c;
        let ranks = crate::order::ranks(model.order());
        let earlier = (0..field.len())
            .filter(|&p| ranks[p] < ranks[target])
            .count();
        let seen = (0..field.len())
            .filter(|&p| ranks[p] < ranks[target] && field[p] > 0.0)
            .count();
        println!(
            "{}: sees {seen} of the {earlier} pixels before ({r}, {c}) under {ordering}",
            m.label()
        );
        panels.push((format!("{} ({seen}/{earlier})", m.label()), field));
    }
    plots::receptive_fields(&panels, shape.height, shape.width, r * shape.width + c, out)?;
    println!("receptive fields: {}", out.display());
    Ok(())
}

fn cmd_bench(spec: &Spec, models: &[String], opts: &bench::Options, out: &Path) -> Result<()> {
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

fn cmd_doctor() -> Result<()> {
    println!("arlab {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch: {}", env!("ARLAB_TORCH_VERSION"));
    let cuda = tch::Cuda::is_available();
    println!("CUDA available: {cuda}");
    println!("CUDA devices: {}", tch::Cuda::device_count());
    println!("cuDNN available: {}", tch::Cuda::cudnn_is_available());
    println!("threads: {} (intra-op)", tch::get_num_threads());
    println!(
        "default device for `device: auto`: {}",
        if cuda { "cuda:0" } else { "cpu" }
    );
    for (name, dir, present, install) in data::builtins() {
        let state = if present {
            "present".to_string()
        } else {
            format!("MISSING — install with: {install}")
        };
        println!("data `{name}`: {} ({state})", dir.display());
    }
    Ok(())
}
