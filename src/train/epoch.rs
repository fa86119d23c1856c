//! The steps of one epoch: shuffled minibatches, the loss on the model's
//! device, the optimizer; a non-finite loss or a stop signal ends the epoch early.
use std::time::{Duration, Instant};

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use super::checkpoint;
use super::{learning_rate, summarize, Diverged, EpochTrained, Interrupted, Trainer, READ_EVERY};
use crate::autocast::Autocast;
use crate::results;
use crate::rng;
use crate::runtime::{progress_bar, signals};

impl Trainer<'_> {
    /// The training steps of epoch `epoch`, from the step a stopped run
    /// reached (0 normally).
    pub(super) fn train_epoch(&mut self, epoch: usize) -> Result<EpochTrained> {
        let (run, data, device) = (self.run, self.data, self.inst.device);
        let t = &run.spec.train;
        let lr = learning_rate(t, self.base_lr, epoch);
        let x = data.train_epoch(epoch);
        let n_train = self.n_train();
        let order = Tensor::from_slice(&rng::permutation(
            &mut rng::stream(run.seed, epoch as u64),
            n_train as usize,
        ));
        let batches = (n_train as usize).div_ceil(t.batch_size);
        let bar = progress_bar(
            self.quiet,
            batches as u64,
            format!("{} epoch {epoch}/{}", run.id(), t.epochs),
        );
        // A run stopped mid-epoch goes on from its next step.
        let epoch_start = Instant::now()
            .checked_sub(Duration::from_secs_f64(self.p.step_seconds))
            .unwrap_or_else(Instant::now);
        let mut sums = NllSums::new(device, self.p.step_nll_sum, self.p.step);
        bar.set_position(self.p.step as u64);
        for b in self.p.step..batches {
            let start = (b * t.batch_size) as i64;
            let len = (t.batch_size as i64).min(n_train - start);
            let xb = x
                .index_select(0, &order.narrow(0, start, len))
                .to_device(device);
            let draw = rng::key(run.seed, (epoch as u64) << 32 | b as u64);
            let loss = {
                let _autocast = Autocast::enter(t.precision, device);
                self.inst.model.training_loss(&xb, draw)
            };
            sums.add(&loss.nll, len);
            // Read back every READ_EVERY steps, not every step (no host
            // round trip), and before a stop writes its checkpoint.
            let stop = signals::stop_requested() && b + 1 < batches;
            if (b + 1) % READ_EVERY == 0 || b + 1 == batches || stop {
                if let Some((step, value)) = sums.first_non_finite() {
                    bar.finish_and_clear();
                    return self.diverge(epoch, step, value);
                }
                let done = start + len;
                let rate = done as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
                let mean = sums.total() / done as f64;
                bar.set_message(format!("nll {mean:.2}  {rate:.0} img/s"));
            }
            self.optimise(&loss.objective, lr);
            bar.inc(1);
            if let Some(pause) = self.step_delay {
                std::thread::sleep(pause);
            }
            if stop {
                bar.finish_and_clear();
                return self.stop_mid_epoch(epoch, b + 1, &sums, epoch_start);
            }
        }
        let nll_sum = sums.total();
        bar.finish_and_clear();
        let seconds = epoch_start.elapsed().as_secs_f64();
        Ok(EpochTrained {
            lr,
            nll_sum,
            seconds,
        })
    }

    /// One optimizer step on `objective`, its gradient clipped when the spec says.
    fn optimise(&mut self, objective: &Tensor, lr: f64) {
        self.opt.zero_grad();
        objective.backward();
        if let Some(c) = self.run.spec.train.grad_clip {
            self.opt.clip_grad_norm(c);
        }
        self.opt.step(lr);
    }

    /// A non-finite loss at `step` of `epoch`: the run fails, with its
    /// summary.json written.
    fn diverge(&mut self, epoch: usize, step: i64, value: f64) -> Result<EpochTrained> {
        let reason =
            format!("training diverged: the loss is {value} at epoch {epoch}, step {step}");
        self.log.line(&reason);
        let mut summary = summarize(
            self.run,
            self.data,
            self.inst.model.as_ref(),
            self.inst.device,
            &self.p,
            Err(reason.clone()),
            &self.started,
        );
        summary.extended_from_epoch = self.extended_from_epoch;
        results::write_json(&self.dir.summary(), &summary)?;
        Err(Diverged { reason, summary }.into())
    }

    /// A stop signal after `steps` steps of `epoch`: the resume checkpoint
    /// records them, with the epoch's NLL sum and seconds so far.
    fn stop_mid_epoch(
        &mut self,
        epoch: usize,
        steps: usize,
        sums: &NllSums,
        epoch_start: Instant,
    ) -> Result<EpochTrained> {
        let p = &mut self.p;
        p.step_seconds = epoch_start.elapsed().as_secs_f64();
        (p.step, p.step_nll_sum) = (steps, sums.total());
        checkpoint::save(&self.dir.last_checkpoint(), &self.inst.vs, &self.opt, p)?;
        self.log.line(&format!(
            "stopped by a signal at epoch {epoch} step {steps}: resume checkpoint written"
        ));
        Err(Interrupted { run: self.run.id() }.into())
    }
}

/// A pause after every training step (and every ordering of the test
/// ensemble), from `ARLAB_STEP_DELAY_MS`: only for
/// the tests that interrupt runs mid-way (a kill, a Slurm time-limit
/// warning), so that a run lasts long enough to be interrupted however fast
/// the machine trains. Unset (the normal case): no pause.
pub(super) fn step_delay() -> Option<Duration> {
    let ms: u64 = std::env::var("ARLAB_STEP_DELAY_MS").ok()?.parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

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
