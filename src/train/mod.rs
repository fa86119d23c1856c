//! The training loop, in one file: for every run of an experiment, fit the
//! model with Adam, evaluate validation NLL each epoch, keep the best
//! checkpoint, draw sample grids, and finally report the exact test NLL of
//! the best-validation checkpoint.
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor};

use crate::autocast::Autocast;
use crate::data::{Dataset, ImageShape, Split};
use crate::eval::{self, ensemble};
use crate::models::DensityModel;
use crate::results::run::instantiate;
use crate::results::{self, plots, tensorboard, MetricRow, RunDir, Summary};
use crate::rng;
use crate::runtime::{progress_bar, provenance, signals};
use crate::spec::{EnsembleSpec, RunSpec, Schedule, TrainSpec};

pub mod adam;
pub mod checkpoint;

use adam::Adam;
use checkpoint::Progress;

/// Settings of `arlab run` that are not part of the spec.
#[derive(Clone, Debug)]
pub struct Options {
    /// The results root; the experiment goes to `<results>/<name>/`.
    pub results: PathBuf,
    pub quiet: bool,
    /// Redo runs that already finished.
    pub force: bool,
}

/// A pause after every training step, from `ARLAB_STEP_DELAY_MS`: only for
/// the tests that interrupt runs mid-way (a kill, a Slurm time-limit
/// warning), so that a run lasts long enough to be interrupted however fast
/// the machine trains. Unset (the normal case): no pause.
fn step_delay() -> Option<Duration> {
    let ms: u64 = std::env::var("ARLAB_STEP_DELAY_MS").ok()?.parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Seed of the sample grids: fixed, so grids of different epochs compare.
pub const SAMPLE_SEED: u64 = 1234;

/// Training steps between reads of the loss on the host (the divergence
/// check and the progress bar); every epoch's last step is read too.
pub const READ_EVERY: usize = 25;

/// An epoch's running NLL sum, kept on the model's device: adding a step
/// does not wait for it. It also counts the leading steps whose loss was
/// finite and keeps the first non-finite loss, so the first non-finite step
/// is known when it is read.
struct NllSums {
    /// Σ (mean NLL × images) over the steps, float64.
    sum: Tensor,
    /// 1 while every loss so far was finite, then 0.
    all_finite: Tensor,
    /// Steps before the first non-finite loss.
    finite_steps: Tensor,
    /// The first non-finite loss (0 until there is one).
    first_bad: Tensor,
    steps: i64,
}

impl NllSums {
    /// Sums from `sum` on; the epoch's steps before `first_step` (done
    /// before a resume) are taken as finite.
    fn new(device: Device, sum: f64, first_step: usize) -> NllSums {
        let zero = || Tensor::zeros([], (Kind::Double, device));
        NllSums {
            sum: zero() + sum,
            all_finite: zero() + 1.0,
            finite_steps: zero() + first_step as f64,
            first_bad: zero(),
            steps: first_step as i64,
        }
    }

    fn add(&mut self, nll: &Tensor, images: i64) {
        let _guard = tch::no_grad_guard();
        let nll = nll.detach().to_kind(Kind::Double);
        self.sum += &nll * images as f64;
        let finite = nll.isfinite();
        let first = finite
            .logical_not()
            .logical_and(&self.all_finite.to_kind(Kind::Bool));
        self.first_bad = nll.where_self(&first, &self.first_bad);
        self.all_finite *= finite.to_kind(Kind::Double);
        self.finite_steps += &self.all_finite;
        self.steps += 1;
    }

    /// The 1-based step of the first non-finite loss and that loss (a host read).
    fn first_non_finite(&self) -> Option<(i64, f64)> {
        let finite = self.finite_steps.int64_value(&[]);
        (finite < self.steps).then(|| (finite + 1, self.first_bad.double_value(&[])))
    }

    /// The sum so far (a host read).
    fn total(&self) -> f64 {
        self.sum.double_value(&[])
    }
}

/// A run stopped by a non-finite loss; carries its (failed) summary.
#[derive(Debug)]
pub struct Diverged {
    pub reason: String,
    pub summary: Summary,
}

impl std::fmt::Display for Diverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for Diverged {}

/// A run stopped by SIGUSR1/SIGTERM after writing its resume checkpoint.
#[derive(Debug)]
pub struct Interrupted {
    pub run: String,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} stopped by a signal; its resume checkpoint is written",
            self.run
        )
    }
}

impl std::error::Error for Interrupted {}

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

/// Trains one run into `dir` and returns its summary. Resumes from
/// `checkpoints/last.ot` when a previous attempt was interrupted.
pub fn train_run(run: &RunSpec, data: &Dataset, dir: &RunDir, opts: &Options) -> Result<Summary> {
    let t = &run.spec.train;
    let shape = data.shape;
    let started = provenance::now_utc();
    // Build first: a model that cannot be built leaves no run directory behind.
    let mut inst = instantiate(run, shape)?;
    dir.create()?;
    dir.remove_temp_files();
    results::write_atomic(&dir.spec(), run.spec.to_yaml().as_bytes())?;
    let log_path = dir.log();
    let mut log = RunLog {
        file: std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot write `{}`", log_path.display()))?,
    };
    let mut adam = Adam::new(&inst.vs, t.betas, t.weight_decay);
    let mut p = Progress::default();
    if dir.last_checkpoint().is_file() {
        p = checkpoint::load(&dir.last_checkpoint(), &mut inst.vs, &mut adam)?;
        log.line(&format!(
            "{}: resuming after epoch {} step {} (from {})",
            run.id(),
            p.epoch,
            p.step,
            dir.last_checkpoint().display()
        ));
    }
    let (model, device) = (&inst.model, inst.device);
    log.line(&format!(
        "{}: {} parameters, ordering {}, seed {}, device {:?}, binarization {}, training precision {}",
        run.id(),
        model.num_params(),
        run.ordering,
        run.seed,
        device,
        data.binarization(),
        t.precision
    ));
    let base_lr = run.model.lr.unwrap_or(t.lr);
    let step_delay = step_delay();
    let val = data.split(Split::Val);
    let n_train = data.split(Split::Train).size()[0];
    let patience_hit = |p: &Progress| t.patience.is_some_and(|k| p.since_best >= k);
    let mut events = None;

    while p.epoch < t.epochs && !p.stopped_early {
        let epoch = p.epoch + 1;
        let lr = learning_rate(t, base_lr, epoch);
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
        // A run stopped mid-epoch goes on from its next step.
        let epoch_start = Instant::now()
            .checked_sub(Duration::from_secs_f64(p.step_seconds))
            .unwrap_or_else(Instant::now);
        let mut sums = NllSums::new(device, p.step_nll_sum, p.step);
        bar.set_position(p.step as u64);
        for b in p.step..batches {
            let start = (b * t.batch_size) as i64;
            let len = (t.batch_size as i64).min(n_train - start);
            let xb = x
                .index_select(0, &order.narrow(0, start, len))
                .to_device(device);
            let draw = rng::key(run.seed, (epoch as u64) << 32 | b as u64);
            let loss = {
                let _autocast = Autocast::enter(t.precision, device);
                model.training_loss(&xb, draw)
            };
            sums.add(&loss.nll, len);
            // Read back every READ_EVERY steps, not every step (no host
            // round trip), and before a stop writes its checkpoint.
            let stop = signals::stop_requested() && b + 1 < batches;
            if (b + 1) % READ_EVERY == 0 || b + 1 == batches || stop {
                if let Some((step, value)) = sums.first_non_finite() {
                    bar.finish_and_clear();
                    let reason = format!(
                        "training diverged: the loss is {value} at epoch {epoch}, step {step}"
                    );
                    log.line(&reason);
                    let summary = summarize(
                        run,
                        data,
                        model.as_ref(),
                        device,
                        &p,
                        Err(reason.clone()),
                        &started,
                    );
                    results::write_json(&dir.summary(), &summary)?;
                    return Err(Diverged { reason, summary }.into());
                }
                let done = start + len;
                let rate = done as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
                let mean = sums.total() / done as f64;
                bar.set_message(format!("nll {mean:.2}  {rate:.0} img/s"));
            }
            adam.zero_grad();
            loss.objective.backward();
            if let Some(c) = t.grad_clip {
                adam.clip_grad_norm(c);
            }
            adam.step(lr);
            bar.inc(1);
            if let Some(pause) = step_delay {
                std::thread::sleep(pause);
            }
            if stop {
                bar.finish_and_clear();
                p.step_seconds = epoch_start.elapsed().as_secs_f64();
                (p.step, p.step_nll_sum) = (b + 1, sums.total());
                checkpoint::save(&dir.last_checkpoint(), &inst.vs, &adam, &p)?;
                log.line(&format!(
                    "stopped by a signal at epoch {epoch} step {}: resume checkpoint written",
                    b + 1
                ));
                return Err(Interrupted { run: run.id() }.into());
            }
        }
        let nll_sum = sums.total();
        bar.finish_and_clear();
        let epoch_seconds = epoch_start.elapsed().as_secs_f64();
        p.epoch = epoch;
        (p.step, p.step_nll_sum, p.step_seconds) = (0, 0.0, 0.0);
        p.train_seconds += epoch_seconds;
        p.images_seen += n_train;
        let train_nll = nll_sum / n_train as f64;
        let val_nll = eval::mean_nll(&eval::log_probs(
            model.as_ref(),
            val,
            t.eval_batch_size,
            device,
            Kind::Float,
        ));
        p.metrics.push(MetricRow {
            epoch,
            train_nll,
            val_nll,
            lr,
            seconds: p.train_seconds,
            train_images_per_s: n_train as f64 / epoch_seconds,
        });
        if t.tensorboard {
            let w = match &mut events {
                Some(w) => w,
                None => events.insert(tensorboard::EventWriter::create(
                    &dir.root.join("tensorboard"),
                )?),
            };
            let r = p.metrics.last().expect("pushed above");
            let scalars = [
                ("nll/train", r.train_nll),
                ("nll/val", r.val_nll),
                ("lr", r.lr),
                ("train_images_per_s", r.train_images_per_s),
            ];
            w.scalars(epoch as i64, &scalars)?;
        }
        let improved = p.best_val.is_none_or(|best| val_nll < best);
        if improved {
            (p.best_val, p.best_epoch, p.since_best) = (Some(val_nll), epoch, 0);
            results::with_temp_file(&dir.best_checkpoint(), |path| Ok(inst.vs.save(path)?))?;
        } else {
            p.since_best += 1;
        }
        p.stopped_early = patience_hit(&p) && epoch < t.epochs;
        log.line(&format!(
            "epoch {epoch:>3}  train {train_nll:.3}  val {val_nll:.3}{}  lr {lr:.2e}  {:.0} img/s",
            if improved { " *" } else { "" },
            n_train as f64 / epoch_seconds
        ));
        results::write_csv(&dir.metrics(), &p.metrics)?;
        plots::nll_curve(&p.metrics, &format!("{}: NLL", run.id()), &dir.curve())?;
        let last = epoch == t.epochs || p.stopped_early;
        if last || (t.sample_every > 0 && epoch % t.sample_every == 0) {
            draw_samples(model.as_ref(), shape, t.samples, &dir.samples(epoch))?;
        }
        if p.stopped_early {
            log.line(&format!(
                "early stop: no validation improvement for {} epoch(s)",
                p.since_best
            ));
        }
        // Last: once this is on disk the epoch counts as done.
        checkpoint::save(&dir.last_checkpoint(), &inst.vs, &adam, &p)?;
        if signals::stop_requested() && p.epoch < t.epochs && !p.stopped_early {
            log.line(&format!(
                "stopped by a signal after epoch {epoch}: resume checkpoint written"
            ));
            return Err(Interrupted { run: run.id() }.into());
        }
    }

    // The exact test NLL of the best-validation checkpoint, per image and
    // in all; the checkpoint also for Python.
    inst.vs.load(dir.best_checkpoint())?;
    let test = evaluate_test(data, model.as_ref(), device, t.eval_batch_size);
    results::npy::write_f64(&dir.test_log_probs(), &test.log_probs)?;
    let spec_yaml = run.spec.to_yaml();
    results::safetensors::save(
        &inst.vs,
        &spec_yaml,
        &run.id(),
        data.shape,
        &dir.best_safetensors(),
    )?;
    let summary = summarize(run, data, model.as_ref(), device, &p, Ok(&test), &started);
    log.line(&format!(
        "test NLL {:.3} nats/image, {:.4} bits/dim (best epoch {}, {} test images)",
        summary.test_nll.unwrap_or(f64::NAN),
        summary.test_bits_per_dim.unwrap_or(f64::NAN),
        p.best_epoch,
        summary.test_images
    ));
    if let Some(spec) = &run.spec.eval.orderings {
        evaluate_ensemble(
            spec,
            data,
            model.as_ref(),
            device,
            t.eval_batch_size,
            dir,
            &mut log,
        )?;
    }
    results::write_json(&dir.summary(), &summary)?;
    Ok(summary)
}

/// `eval.orderings`: the test NLL under each of up to N orderings (or the
/// named ones) and of their ensembles, into `ensemble.csv`. Models that
/// are evaluated under their own ordering only are skipped.
fn evaluate_ensemble(
    spec: &EnsembleSpec,
    data: &Dataset,
    model: &dyn DensityModel,
    device: Device,
    batch: usize,
    dir: &RunDir,
    log: &mut RunLog,
) -> Result<()> {
    let members = match spec.members(model, true) {
        Ok(m) if m.len() > 1 || matches!(spec, EnsembleSpec::Orderings(_)) => m,
        _ => return Ok(()),
    };
    let test = data.split(Split::Test);
    let rows = ensemble::evaluate(model, test, &members, (batch, device, data.dims()), |m| {
        tracing::debug!("evaluated under {m}")
    })?
    .rows;
    for r in rows.iter().filter(|r| r.kind == "ensemble") {
        log.line(&format!(
            "ensemble of {} ordering(s): test NLL {:.3} nats/image, {:.4} bits/dim",
            r.n, r.nll, r.bits_per_dim
        ));
    }
    results::write_csv(&dir.ensemble(), &rows)
}

/// The exact log-likelihood of every test image, and how fast it came.
struct TestEval {
    log_probs: Vec<f64>,
    images_per_s: f64,
}

fn evaluate_test(
    data: &Dataset,
    model: &dyn DensityModel,
    device: Device,
    batch: usize,
) -> TestEval {
    let start = Instant::now();
    let log_probs = eval::log_probs(model, data.split(Split::Test), batch, device, Kind::Float);
    let images_per_s = log_probs.len() as f64 / start.elapsed().as_secs_f64().max(1e-9);
    TestEval {
        log_probs,
        images_per_s,
    }
}

/// The run's summary: of a finished run with its test evaluation, or of a
/// failed one with the reason.
fn summarize(
    run: &RunSpec,
    data: &Dataset,
    model: &dyn DensityModel,
    device: Device,
    p: &Progress,
    test: std::result::Result<&TestEval, String>,
    started: &str,
) -> Summary {
    let (test_nll, test_images, eval_rate) = match &test {
        Ok(t) => (
            Some(eval::mean_nll(&t.log_probs)),
            t.log_probs.len(),
            t.images_per_s,
        ),
        Err(_) => (None, 0, 0.0),
    };
    Summary {
        experiment: run.spec.name.clone(),
        run: run.id(),
        model: run.model.label(),
        model_type: run.model.type_name().into(),
        ordering: run.ordering.label(),
        seed: run.seed,
        parameters: model.num_params(),
        channels: data.shape.channels,
        height: data.shape.height,
        width: data.shape.width,
        pixels: run.spec.data.pixels.name().into(),
        data: run.spec.data.source.to_string(),
        binarization: data.binarization(),
        device: format!("{device:?}"),
        epochs_run: p.metrics.len(),
        best_epoch: p.best_epoch,
        best_val_nll: p.best_val,
        test_nll,
        test_bits_per_dim: test_nll.map(|n| eval::bits_per_dim(n, data.dims())),
        test_images,
        train_seconds: p.train_seconds,
        train_images_per_s: p.images_seen as f64 / p.train_seconds.max(1e-9),
        eval_images_per_s: eval_rate,
        stopped_early: p.stopped_early,
        status: match test {
            Ok(_) => "ok".into(),
            Err(why) => format!("failed: {why}"),
        },
        swept: run.swept.clone(),
        provenance: Some(provenance::Provenance::collect(device, started.into())),
    }
}

/// The grid of `count` samples (8 per row) with the fixed sampling seed.
pub fn draw_samples(
    model: &dyn DensityModel,
    shape: ImageShape,
    count: usize,
    path: &std::path::Path,
) -> Result<()> {
    let images = sample_images(model, count as i64, SAMPLE_SEED);
    plots::sample_grid(&images, shape, path)
}

/// `n` samples as plain vectors of level values (`[C, H, W]` each).
pub fn sample_images(model: &dyn DensityModel, n: i64, seed: u64) -> Vec<Vec<f32>> {
    let _guard = tch::no_grad_guard();
    let s = model
        .sample(n, seed)
        .to_device(Device::Cpu)
        .to_kind(Kind::Float);
    (0..n)
        .map(|i| Vec::<f32>::try_from(&s.get(i).flatten(0, -1)).expect("a float vector"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The device-side sums report the first non-finite loss and its step,
    /// whatever comes after it, and sum in float64.
    #[test]
    fn nll_sums_find_the_first_non_finite_step() {
        let mut sums = NllSums::new(Device::Cpu, 0.0, 0);
        for v in [1.5f32, 2.0] {
            sums.add(&Tensor::from(v), 10);
        }
        assert_eq!(sums.first_non_finite(), None);
        assert_eq!(sums.total(), 35.0);
        for v in [f32::INFINITY, f32::NAN, 1.0] {
            sums.add(&Tensor::from(v), 10);
        }
        assert_eq!(sums.first_non_finite(), Some((3, f64::INFINITY)));
        let mut sums = NllSums::new(Device::Cpu, 0.0, 0);
        sums.add(&Tensor::from(f32::NAN), 4);
        let (step, value) = sums.first_non_finite().unwrap();
        assert!(step == 1 && value.is_nan());
        // Resumed at step 5 of an epoch with a partial sum of 10.
        let mut sums = NllSums::new(Device::Cpu, 10.0, 5);
        sums.add(&Tensor::from(2.0f32), 1);
        assert_eq!((sums.total(), sums.first_non_finite()), (12.0, None));
        sums.add(&Tensor::from(f32::NAN), 1);
        assert_eq!(sums.first_non_finite().map(|s| s.0), Some(7));
    }
}
