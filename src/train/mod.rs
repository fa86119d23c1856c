//! The training loop: for every run of an experiment, fit the model with
//! Adam (or Adagrad), evaluate validation NLL each epoch (or every `train.val_every`),
//! keep the best checkpoint, draw sample grids, and finally report the
//! exact test NLL of the best-validation checkpoint. [`train_run`] is the loop (start or resume,
//! epoch, end of epoch, finish); the steps of an epoch are in `epoch.rs`.
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tch::{Device, Kind};

use crate::data::{Dataset, ImageShape, Split};
use crate::eval::{self, ensemble};
use crate::models::DensityModel;
use crate::results::run::{instantiate, Instance};
use crate::results::{
    self, plots, tensorboard, EnsembleRow, MetricRow, Published, RunDir, Summary,
};
use crate::runtime::{provenance, signals};
use crate::spec::{EnsembleSpec, RunSpec, Schedule, TrainSpec};

pub mod binding;
pub mod checkpoint;
mod epoch;
pub mod optimizer;

use binding::{Binding, Verdict};
use checkpoint::Progress;
use optimizer::Optimizer;

/// Settings of `arlab run` that are not part of the spec.
#[derive(Clone, Debug)]
pub struct Options {
    /// The results root; the experiment goes to `<results>/<name>/`.
    pub results: PathBuf,
    pub quiet: bool,
    /// Redo runs that already finished.
    pub force: bool,
    /// Continue runs whose spec differs only in more epochs (`--extend`).
    pub extend: bool,
}

/// Seed of the sample grids: fixed, so grids of different epochs compare.
pub const SAMPLE_SEED: u64 = 1234;

/// Training steps between reads of the loss on the host (the divergence
/// check and the progress bar); every epoch's last step is read too.
pub const READ_EVERY: usize = 25;

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
    /// log.txt, appended to.
    fn open(path: &std::path::Path) -> Result<RunLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(RunLog { file })
    }

    fn line(&mut self, msg: &str) {
        tracing::info!("{msg}");
        let _ = writeln!(self.file, "{msg}");
    }
}

/// Trains one run into `dir` and returns its summary. Resumes from
/// `checkpoints/last.ot` when a previous attempt was interrupted.
pub fn train_run(run: &RunSpec, data: &Dataset, dir: &RunDir, opts: &Options) -> Result<Summary> {
    let t = &run.spec.train;
    let mut trainer = Trainer::start(run, data, dir, opts)?;
    while trainer.p.epoch < t.epochs && !trainer.p.stopped_early {
        let epoch = trainer.p.epoch + 1;
        let trained = trainer.train_epoch(epoch)?;
        trainer.end_epoch(epoch, trained)?;
    }
    trainer.finish()
}

/// A run being trained: its model, optimiser, progress and log.
struct Trainer<'a> {
    run: &'a RunSpec,
    data: &'a Dataset,
    dir: &'a RunDir,
    quiet: bool,
    /// When this attempt started (UTC), for the provenance.
    started: String,
    inst: Instance,
    opt: Optimizer,
    p: Progress,
    log: RunLog,
    base_lr: f64,
    step_delay: Option<Duration>,
    /// The TensorBoard event file, opened at the first epoch's end.
    events: Option<tensorboard::EventWriter>,
    /// Where `--extend` first continued the run (binding.json).
    extended_from_epoch: Option<usize>,
}

/// What an epoch's steps leave for its end.
struct EpochTrained {
    lr: f64,
    /// Σ (mean NLL × images) over the epoch's steps.
    nll_sum: f64,
    seconds: f64,
}

impl<'a> Trainer<'a> {
    /// Checks the run directory's binding (before anything is written),
    /// builds the model, binds the directory and writes spec.yaml, opens
    /// log.txt and resumes from the last checkpoint when there is one.
    fn start(
        run: &'a RunSpec,
        data: &'a Dataset,
        dir: &'a RunDir,
        opts: &Options,
    ) -> Result<Trainer<'a>> {
        let t = &run.spec.train;
        let started = provenance::now_utc();
        let (verdict, bound) = binding::check(dir, &Binding::of(run), &run.id(), opts.extend)?;
        // Build first: a model that cannot be built leaves no run directory behind.
        let mut inst = instantiate(run, data.shape)?;
        dir.create()?;
        dir.remove_temp_files();
        if let Verdict::Extend { .. } = verdict {
            // No longer finished: an interrupted extension resumes, never skips.
            let _ = std::fs::remove_file(dir.summary());
        }
        bound.write(dir)?;
        results::write_atomic(&dir.spec(), run.spec.to_yaml().as_bytes())?;
        let mut log = RunLog::open(&dir.log())?;
        let mut opt = Optimizer::new(t.optimizer, &inst.vs, t.betas, t.weight_decay);
        let p = resume(run, dir, verdict, &mut inst, &mut opt, &mut log)?;
        log.line(&format!(
            "{}: {} parameters, ordering {}, seed {}, device {:?}, binarization {}, training precision {}",
            run.id(),
            inst.model.num_params(),
            run.ordering,
            run.seed,
            inst.device,
            data.binarization(),
            t.precision
        ));
        Ok(Trainer {
            run,
            data,
            dir,
            quiet: opts.quiet,
            started,
            inst,
            opt,
            p,
            log,
            base_lr: run.model.lr.unwrap_or(t.lr),
            step_delay: epoch::step_delay(),
            events: None,
            extended_from_epoch: bound.extended_from_epoch,
        })
    }

    /// The end of an epoch: validation NLL (every `val_every` epochs and at
    /// the last), metrics.csv and the curve, the best checkpoint, samples,
    /// and last the resume checkpoint.
    fn end_epoch(&mut self, epoch: usize, trained: EpochTrained) -> Result<()> {
        let (run, n_train) = (self.run, self.n_train());
        let t = &run.spec.train;
        let p = &mut self.p;
        p.epoch = epoch;
        (p.step, p.step_nll_sum, p.step_seconds) = (0, 0.0, 0.0);
        p.train_seconds += trained.seconds;
        p.images_seen += n_train;
        let train_nll = trained.nll_sum / n_train as f64;
        let val_nll =
            (epoch.is_multiple_of(t.val_every) || epoch == t.epochs).then(|| self.validation_nll());
        let rate = n_train as f64 / trained.seconds;
        self.p.metrics.push(MetricRow {
            epoch,
            train_nll,
            val_nll,
            lr: trained.lr,
            seconds: self.p.train_seconds,
            train_images_per_s: rate,
        });
        if t.tensorboard {
            self.write_tensorboard(epoch)?;
        }
        let mark = match val_nll {
            Some(v) => self.keep_if_best(epoch, v)?,
            None => false,
        };
        let p = &mut self.p;
        p.stopped_early = t.patience.is_some_and(|k| p.since_best >= k) && epoch < t.epochs;
        let val = val_nll.map_or("-".to_string(), |v| format!("{v:.3}"));
        self.log.line(&format!(
            "epoch {epoch:>3}  train {train_nll:.3}  val {val}{}  lr {:.2e}  {rate:.0} img/s",
            if mark { " *" } else { "" },
            trained.lr,
        ));
        results::write_csv(&self.dir.metrics(), &p.metrics)?;
        let title = format!("{}: NLL", self.run.id());
        plots::nll_curve(&p.metrics, &title, &self.dir.curve())?;
        let last = epoch == t.epochs || p.stopped_early;
        if last || (t.sample_every > 0 && epoch.is_multiple_of(t.sample_every)) {
            let model = self.inst.model.as_ref();
            draw_samples(model, self.data.shape, t.samples, &self.dir.samples(epoch))?;
        }
        if p.stopped_early {
            self.log.line(&format!(
                "early stop: no validation improvement for {} validation(s)",
                p.since_best
            ));
        }
        // Last: once this is on disk the epoch counts as done.
        checkpoint::save(&self.dir.last_checkpoint(), &self.inst.vs, &self.opt, p)?;
        if signals::stop_requested() && p.epoch < t.epochs && !p.stopped_early {
            self.log.line(&format!(
                "stopped by a signal after epoch {epoch}: resume checkpoint written"
            ));
            return Err(Interrupted { run: self.run.id() }.into());
        }
        Ok(())
    }

    /// The exact mean NLL of the validation split, in float32.
    fn validation_nll(&self) -> f64 {
        eval::mean_nll(&eval::log_probs(
            self.inst.model.as_ref(),
            self.data.split(Split::Val),
            self.run.spec.train.eval_batch_size,
            self.inst.device,
            Kind::Float,
        ))
    }

    /// Appends the epoch's last metrics row to the TensorBoard event file.
    fn write_tensorboard(&mut self, epoch: usize) -> Result<()> {
        let w = match &mut self.events {
            Some(w) => w,
            None => self.events.insert(tensorboard::EventWriter::create(
                &self.dir.root.join("tensorboard"),
            )?),
        };
        let r = self.p.metrics.last().expect("pushed above");
        let mut scalars = vec![("nll/train", r.train_nll)];
        scalars.extend(r.val_nll.map(|v| ("nll/val", v)));
        scalars.extend([("lr", r.lr), ("train_images_per_s", r.train_images_per_s)]);
        w.scalars(epoch as i64, &scalars)
    }

    /// Saves the best checkpoint when `val_nll` improves on the best so far;
    /// says whether it did.
    fn keep_if_best(&mut self, epoch: usize, val_nll: f64) -> Result<bool> {
        let p = &mut self.p;
        let improved = p.best_val.is_none_or(|best| val_nll < best);
        if improved {
            (p.best_val, p.best_epoch, p.since_best) = (Some(val_nll), epoch, 0);
            // The kept ensemble members were the old network's.
            self.dir.ensemble_members().clear()?;
            let vs = &self.inst.vs;
            results::with_temp_file(&self.dir.best_checkpoint(), |path| Ok(vs.save(path)?))?;
        } else {
            p.since_best += 1;
        }
        Ok(improved)
    }

    /// Training images per epoch.
    fn n_train(&self) -> i64 {
        self.data.split(Split::Train).size()[0]
    }

    /// The exact test NLL of the best-validation checkpoint, the ensemble
    /// over orderings when the spec asks, and summary.json.
    fn finish(mut self) -> Result<Summary> {
        let (run, dir, p) = (self.run, self.dir, &self.p);
        self.inst.vs.load(dir.best_checkpoint())?;
        let model = self.inst.model.as_ref();
        let device = self.inst.device;
        // Per image and in all; the checkpoint also for Python.
        let batch = run.spec.train.eval_batch_size;
        let test = evaluate_test(self.data, model, device, batch);
        results::npy::write_f64(&dir.test_log_probs(), &test.log_probs)?;
        let shape = self.data.shape;
        let spec_yaml = run.spec.to_yaml();
        let best = dir.best_safetensors();
        results::safetensors::save(&self.inst.vs, &spec_yaml, &run.id(), shape, &best)?;
        let mut summary = summarize(run, self.data, model, device, p, Ok(&test), &self.started);
        summary.extended_from_epoch = self.extended_from_epoch;
        self.log.line(&format!(
            "test NLL {:.3} nats/image, {:.4} bits/dim (best epoch {}, {} test images)",
            summary.test_nll.unwrap_or(f64::NAN),
            summary.test_bits_per_dim.unwrap_or(f64::NAN),
            p.best_epoch,
            summary.test_images
        ));
        let ensemble_rows = match &run.spec.eval.orderings {
            Some(spec) => {
                let id = run.id();
                let at = (id.as_str(), dir);
                evaluate_ensemble(spec, self.data, model, (device, batch), at, &mut self.log)?
            }
            None => Vec::new(),
        };
        summary.reference = run
            .model
            .reference
            .as_ref()
            .map(|r| Published::of(r, summary.test_nll, &ensemble_rows));
        if let Some((r, delta)) = summary
            .reference
            .as_ref()
            .and_then(|r| Some((r, r.delta()?)))
        {
            self.log.line(&format!(
                "published {}: Δ {delta:+.3} nats/image",
                r.label()
            ));
        }
        results::write_json(&dir.summary(), &summary)?;
        Ok(summary)
    }
}

/// The progress of an earlier attempt from `checkpoints/last.ot` (none:
/// from the start), with a log line on how the run goes on.
fn resume(
    run: &RunSpec,
    dir: &RunDir,
    verdict: Verdict,
    inst: &mut Instance,
    opt: &mut Optimizer,
    log: &mut RunLog,
) -> Result<Progress> {
    let last = dir.last_checkpoint();
    if !last.is_file() {
        return Ok(Progress::default());
    }
    if verdict == Verdict::Unknown {
        tracing::warn!(
            "{}: no binding.json (made by an older arlab): its spec cannot be checked, resuming under this one",
            run.id()
        );
    }
    let p = checkpoint::load(&last, &mut inst.vs, opt)?;
    if let Verdict::Extend { from } = verdict {
        if p.stopped_early {
            bail!(
                "run {} stopped early at epoch {} (no validation improvement in {} validations): --extend has nothing to continue; \
                 use --force to start it over, or a new run name (`name:` on the model)",
                run.id(),
                p.epoch,
                p.since_best
            );
        }
        log.line(&format!(
            "{}: extending from epoch {from} to {} (--extend)",
            run.id(),
            run.spec.train.epochs
        ));
    }
    log.line(&format!(
        "{}: resuming after epoch {} step {} (from {})",
        run.id(),
        p.epoch,
        p.step,
        last.display()
    ));
    Ok(p)
}

/// `eval.orderings`: the test NLL under each of up to N orderings (or the
/// named ones) and of their ensembles, into `ensemble.csv`, and its rows.
/// Models that are evaluated under their own ordering only are skipped
/// (no rows).
fn evaluate_ensemble(
    spec: &EnsembleSpec,
    data: &Dataset,
    model: &dyn DensityModel,
    (device, batch): (Device, usize),
    (run_id, dir): (&str, &RunDir),
    log: &mut RunLog,
) -> Result<Vec<EnsembleRow>> {
    let members = match spec.members(model, true) {
        Ok(m) if m.len() > 1 || matches!(spec, EnsembleSpec::Orderings(_)) => m,
        _ => return Ok(Vec::new()),
    };
    let test = data.split(Split::Test);
    let n = members.len();
    let (mut done, mut kept) = (0, 0);
    let store = dir.ensemble_members();
    let at = (batch, device, data.dims());
    let rows = ensemble::evaluate(model, test, &members, at, Some(&store), |m, was_kept| {
        tracing::debug!("evaluated under {m}");
        done += 1;
        if was_kept {
            kept += 1;
            return Ok(());
        }
        if let Some(pause) = epoch::step_delay() {
            std::thread::sleep(pause);
        }
        // A stop request ends the run here, not after the last member: an
        // ensemble of 128 orderings can take an hour. Rerunning resumes
        // after the last epoch and goes on from the members kept so far.
        if signals::stop_requested() && done < n {
            log.line(&format!(
                "stopped by a signal during the test ensemble ({done} of {n} orderings, kept in {}): rerun to finish it",
                store.dir().display()
            ));
            return Err(Interrupted { run: run_id.to_string() }.into());
        }
        Ok(())
    })?
    .rows;
    if kept > 0 {
        log.line(&format!(
            "test ensemble: {kept} of {n} orderings kept from an earlier attempt"
        ));
    }
    for r in rows.iter().filter(|r| r.kind == "ensemble") {
        log.line(&format!(
            "ensemble of {} ordering(s): test NLL {:.3} nats/image, {:.4} bits/dim",
            r.n, r.nll, r.bits_per_dim
        ));
    }
    results::write_csv(&dir.ensemble(), &rows)?;
    Ok(rows)
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
        test_data: test.as_ref().ok().map(|_| data.fingerprint(Split::Test)),
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
        // A failed run has no number to compare; `finish` fills in a finished one's.
        reference: run
            .model
            .reference
            .as_ref()
            .map(|r| Published::of(r, None, &[])),
        // The trainer fills in an extended run's.
        extended_from_epoch: None,
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

/// Images drawn at once by [`sample_images`]: the model's sampling memory
/// is that of this many images, whatever the count.
pub const SAMPLE_BATCH: i64 = 256;

/// `n` samples as plain vectors of level values (`[C, H, W]` each), the
/// images of `model.sample(n, seed)`, drawn [`SAMPLE_BATCH`] at a time.
pub fn sample_images(model: &dyn DensityModel, n: i64, seed: u64) -> Vec<Vec<f32>> {
    let _guard = tch::no_grad_guard();
    let mut images = Vec::with_capacity(n.max(0) as usize);
    crate::models::sample_in_batches(model, n, seed, SAMPLE_BATCH, |batch| {
        let s = batch.to_device(Device::Cpu).to_kind(Kind::Float);
        for i in 0..s.size()[0] {
            images.push(Vec::<f32>::try_from(&s.get(i).flatten(0, -1)).expect("a float vector"));
        }
    });
    images
}
