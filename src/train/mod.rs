//! The training loop, in one file: for every run of an experiment, fit the
//! model with Adam, evaluate validation NLL each epoch, keep the best
//! checkpoint, draw sample grids, and finally report the exact test NLL of
//! the best-validation checkpoint.
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use crate::data::{Dataset, Split};
use crate::device::DeviceChoice;
use crate::eval;
use crate::models::{self, DensityModel, Shape};
use crate::results::{self, compare, plots, MetricRow, RunDir, Summary};
use crate::rng;
use crate::spec::{RunSpec, Schedule, Spec, TrainSpec};

/// Settings of `arlab run` that are not part of the spec.
#[derive(Clone, Debug)]
pub struct Options {
    /// The results root; the experiment goes to `<results>/<name>/`.
    pub results: PathBuf,
    pub quiet: bool,
    /// Redo runs that already finished.
    pub force: bool,
}

/// Seed of the sample grids: fixed, so grids of different epochs compare.
pub const SAMPLE_SEED: u64 = 1234;
/// Images per sample grid (8×8).
pub const GRID: i64 = 64;

/// A model instantiated for a run: its variables and the model using them.
pub struct Instance {
    pub vs: nn::VarStore,
    pub model: Box<dyn DensityModel>,
    pub device: Device,
}

/// Builds the run's model on the spec's device, parameters initialised from the run's seed.
pub fn instantiate(run: &RunSpec, shape: Shape) -> Result<Instance> {
    let device = DeviceChoice::parse(&run.spec.train.device)?.resolve()?;
    tch::manual_seed(run.seed as i64);
    let vs = nn::VarStore::new(device);
    let order = run.ordering.order(shape.height, shape.width);
    let model = models::build(&run.model, &vs.root(), shape, order)?;
    Ok(Instance { vs, model, device })
}

/// Loads a run directory's spec and best checkpoint.
pub fn load_run(dir: &RunDir, data_override: Option<&str>) -> Result<(RunSpec, Dataset, Instance)> {
    let mut spec = Spec::load(&dir.spec(), &[])?;
    if let Some(src) = data_override {
        spec.data.source = src.to_string();
        spec.validate()?;
    }
    let run = spec
        .runs()
        .into_iter()
        .next()
        .context("the run's spec.yaml names no run")?;
    let data = Dataset::load(&spec.data)?;
    let mut inst = instantiate(
        &run,
        Shape {
            height: data.height,
            width: data.width,
        },
    )?;
    let ckpt = dir.best_checkpoint();
    inst.vs.load(&ckpt).with_context(|| {
        format!(
            "cannot load checkpoint `{}` (missing, partial, or from another model)",
            ckpt.display()
        )
    })?;
    Ok((run, data, inst))
}

/// Runs every run of the experiment and writes the comparison.
pub fn run_experiment(spec: &Spec, opts: &Options) -> Result<Vec<Summary>> {
    let exp_dir = opts.results.join(&spec.name);
    std::fs::create_dir_all(&exp_dir)
        .with_context(|| format!("cannot create results directory `{}`", exp_dir.display()))?;
    let data = Dataset::load(&spec.data)?;
    let runs = spec.runs();
    tracing::info!(
        "experiment `{}`: {} run(s) on `{}` ({}×{}, {} train / {} val / {} test, binarization: {})",
        spec.name,
        runs.len(),
        spec.data.source,
        data.height,
        data.width,
        data.split(Split::Train).size()[0],
        data.split(Split::Val).size()[0],
        data.split(Split::Test).size()[0],
        data.binarization()
    );
    let mut summaries = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let dir = RunDir::new(exp_dir.join(run.id()));
        if !opts.force {
            if let Ok(done) = dir.read_summary() {
                tracing::info!(
                    "[{}/{}] {}: already finished, skipped (use --force to redo)",
                    i + 1,
                    runs.len(),
                    run.id()
                );
                summaries.push(done);
                continue;
            }
        }
        tracing::info!("[{}/{}] {}", i + 1, runs.len(), run.id());
        let summary =
            train_run(run, &data, &dir, opts).with_context(|| format!("run {}", run.id()))?;
        summaries.push(summary);
    }
    let ids: Vec<String> = runs.iter().map(RunSpec::id).collect();
    compare::write(&exp_dir, &spec.name, &ids)?;
    Ok(summaries)
}

/// The learning rate of a (1-based) epoch, starting from `base`.
pub fn learning_rate(t: &TrainSpec, base: f64, epoch: usize) -> f64 {
    let e = (epoch - 1) as f64;
    match t.schedule {
        Schedule::Constant => base,
        Schedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * e / t.epochs as f64).cos()),
        Schedule::Step => base * t.gamma.powi(((epoch - 1) / t.step_size) as i32),
    }
}

/// A run's log: log.txt, and the terminal unless quiet.
struct RunLog {
    file: std::fs::File,
}

impl RunLog {
    fn line(&mut self, msg: &str) {
        tracing::info!("{msg}");
        let _ = writeln!(self.file, "{msg}");
    }
}

/// Trains one run into `dir` and returns its summary.
pub fn train_run(run: &RunSpec, data: &Dataset, dir: &RunDir, opts: &Options) -> Result<Summary> {
    let t = &run.spec.train;
    let shape = Shape {
        height: data.height,
        width: data.width,
    };
    // Build first: a model that cannot be built leaves no run directory behind.
    let mut inst = instantiate(run, shape)?;
    dir.create()?;
    results::write_atomic(&dir.spec(), run.spec.to_yaml().as_bytes())?;
    let log_path = dir.log();
    let mut log = RunLog {
        file: std::fs::File::create(&log_path)
            .with_context(|| format!("cannot write `{}`", log_path.display()))?,
    };
    let (model, device) = (&inst.model, inst.device);
    log.line(&format!(
        "{}: {} parameters, ordering {}, seed {}, device {:?}, binarization {}",
        run.id(),
        model.num_params(),
        run.ordering,
        run.seed,
        device,
        data.binarization()
    ));
    let base_lr = run.model.lr.unwrap_or(t.lr);
    let mut opt = nn::Adam {
        beta1: t.betas[0],
        beta2: t.betas[1],
        wd: t.weight_decay,
        ..Default::default()
    }
    .build(&inst.vs, base_lr)?;

    let val = data.split(Split::Val);
    let n_train = data.split(Split::Train).size()[0];
    let mut metrics: Vec<MetricRow> = Vec::new();
    let (mut best_val, mut best_epoch, mut since_best) = (f64::INFINITY, 0usize, 0usize);
    let (mut train_seconds, mut images_seen) = (0.0f64, 0i64);
    let started = Instant::now();
    let mut stopped_early = false;

    for epoch in 1..=t.epochs {
        let lr = learning_rate(t, base_lr, epoch);
        opt.set_lr(lr);
        let x = data.train_epoch(epoch);
        let order = Tensor::from_slice(&rng::permutation(
            &mut rng::stream(run.seed, epoch as u64),
            n_train as usize,
        ));
        let batches = (n_train as usize).div_ceil(t.batch_size);
        let bar = progress_bar(
            opts.quiet,
            batches as u64,
            format!("{} epoch {epoch}/{}", run.id(), t.epochs),
        );
        let epoch_start = Instant::now();
        let mut nll_sum = 0.0f64;
        for b in 0..batches {
            let start = (b * t.batch_size) as i64;
            let len = (t.batch_size as i64).min(n_train - start);
            let xb = x
                .index_select(0, &order.narrow(0, start, len))
                .to_device(device);
            let log_p = model
                .log_conditionals(&xb)
                .sum_dim_intlist(1, false, Kind::Float);
            let loss = -log_p.mean(Kind::Float);
            let loss_value = loss.double_value(&[]);
            if !loss_value.is_finite() {
                bail!(
                    "training diverged: the loss is {loss_value} at epoch {epoch}, step {}",
                    b + 1
                );
            }
            opt.zero_grad();
            loss.backward();
            if let Some(c) = t.grad_clip {
                opt.clip_grad_norm(c);
            }
            opt.step();
            nll_sum += loss_value * len as f64;
            let done = start + len;
            let rate = done as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("nll {:.2}  {rate:.0} img/s", nll_sum / done as f64));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let epoch_seconds = epoch_start.elapsed().as_secs_f64();
        train_seconds += epoch_seconds;
        images_seen += n_train;
        let train_nll = nll_sum / n_train as f64;
        let val_nll = eval::mean_nll(&eval::log_probs(
            model.as_ref(),
            val,
            t.eval_batch_size,
            device,
            Kind::Float,
        ));
        metrics.push(MetricRow {
            epoch,
            train_nll,
            val_nll,
            lr,
            seconds: started.elapsed().as_secs_f64(),
            train_images_per_s: n_train as f64 / epoch_seconds,
        });
        let improved = val_nll < best_val;
        if improved {
            (best_val, best_epoch, since_best) = (val_nll, epoch, 0);
            results::with_temp_file(&dir.best_checkpoint(), |p| Ok(inst.vs.save(p)?))?;
        } else {
            since_best += 1;
        }
        results::with_temp_file(&dir.last_checkpoint(), |p| Ok(inst.vs.save(p)?))?;
        log.line(&format!(
            "epoch {epoch:>3}  train {train_nll:.3}  val {val_nll:.3}{}  lr {lr:.2e}  {:.0} img/s",
            if improved { " *" } else { "" },
            n_train as f64 / epoch_seconds
        ));
        results::write_csv(&dir.metrics(), &metrics)?;
        plots::nll_curve(&metrics, &format!("{}: NLL", run.id()), &dir.curve())?;
        let last = epoch == t.epochs || t.patience.is_some_and(|p| since_best >= p);
        if last || (t.sample_every > 0 && epoch % t.sample_every == 0) {
            draw_samples(model.as_ref(), shape, &dir.samples(epoch))?;
        }
        if t.patience.is_some_and(|p| since_best >= p) && epoch < t.epochs {
            log.line(&format!(
                "early stop: no validation improvement for {since_best} epoch(s)"
            ));
            stopped_early = true;
            break;
        }
    }

    // The exact test NLL of the best-validation checkpoint.
    inst.vs.load(dir.best_checkpoint())?;
    let test = data.split(Split::Test);
    let eval_start = Instant::now();
    let log_probs = eval::log_probs(model.as_ref(), test, t.eval_batch_size, device, Kind::Float);
    let eval_rate = log_probs.len() as f64 / eval_start.elapsed().as_secs_f64().max(1e-9);
    let test_nll = eval::mean_nll(&log_probs);
    let dims = shape.dims();
    let summary = Summary {
        experiment: run.spec.name.clone(),
        run: run.id(),
        model: run.model.label(),
        model_type: run.model.kind.name().into(),
        ordering: run.ordering.to_string(),
        seed: run.seed,
        parameters: model.num_params(),
        height: data.height,
        width: data.width,
        data: run.spec.data.source.clone(),
        binarization: data.binarization(),
        device: format!("{device:?}"),
        epochs_run: metrics.len(),
        best_epoch,
        best_val_nll: best_val,
        test_nll,
        test_bits_per_dim: eval::bits_per_dim(test_nll, dims),
        test_images: log_probs.len(),
        train_seconds,
        train_images_per_s: images_seen as f64 / train_seconds.max(1e-9),
        eval_images_per_s: eval_rate,
        stopped_early,
        status: "ok".into(),
    };
    log.line(&format!(
        "test NLL {:.3} nats/image, {:.4} bits/dim (best epoch {best_epoch}, {} test images)",
        test_nll, summary.test_bits_per_dim, summary.test_images
    ));
    results::write_json(&dir.summary(), &summary)?;
    Ok(summary)
}

/// The 8×8 grid of samples with the fixed sampling seed.
pub fn draw_samples(model: &dyn DensityModel, shape: Shape, path: &std::path::Path) -> Result<()> {
    let images = sample_images(model, GRID, SAMPLE_SEED);
    plots::sample_grid(&images, shape.height, shape.width, true, path)
}

/// `n` samples as plain vectors of pixel values.
pub fn sample_images(model: &dyn DensityModel, n: i64, seed: u64) -> Vec<Vec<f32>> {
    let _guard = tch::no_grad_guard();
    let s = model
        .sample(n, seed)
        .to_device(Device::Cpu)
        .to_kind(Kind::Float);
    (0..n)
        .map(|i| Vec::<f32>::try_from(&s.get(i)).expect("a float vector"))
        .collect()
}

fn progress_bar(quiet: bool, len: u64, prefix: String) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches  {msg}  eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}
