//! `arlab bench`: how fast each model of a spec trains, evaluates and
//! samples, and how much memory it takes.
//!
//! Every figure is measured on random images of the spec's shape (only the
//! shape matters for speed): a training step is the same objective
//! ([`DensityModel::training_loss`]), backward and Adam step as in
//! [`crate::train`]; an evaluation step is
//! [`DensityModel::log_prob`] under `no_grad`. Each rate is preceded by an
//! untimed warm-up and is the median of [`REPETITIONS`] timed repetitions
//! of about `seconds / REPETITIONS` each, with their spread (min–max).
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use tch::{nn, Device, Kind, Tensor};

use crate::autocast::Autocast;
use crate::autocast::Precision;
use crate::data::{Dataset, ImageShape};
use crate::models::{DensityModel, ModelSpec};
use crate::spec::Spec;
use crate::train::optimizer::{Optimizer, OptimizerKind};

/// Timed repetitions per rate.
pub const REPETITIONS: usize = 5;

/// Seed of the sampling runs.
pub const SAMPLE_SEED: u64 = 0;

/// The built-in family: 28×28 binary images (synthetic: only the shape matters).
pub const BUILTIN_SPEC: &str = "\
name: bench
data:
  source: synthetic
  pixels: binary
  synthetic: {height: 28, width: 28, train: 8, val: 8, test: 8, seed: 0}
models:
  - type: independent
  - type: markov
    k: 1
  - type: fvsbn
  - type: nade
    hidden: 500
  - type: pixelcnn
    preset: small
  - type: gated_pixelcnn
    preset: small
  - type: row_lstm
    preset: small
  - type: diagonal_bilstm
    preset: small
orderings: [raster]
train:
  device: auto
";

/// The built-in family as a spec.
pub fn builtin_spec() -> Spec {
    Spec::parse(BUILTIN_SPEC, "the built-in bench family", &[])
        .expect("the built-in bench spec is valid")
}

/// What to measure, beside the spec.
#[derive(Clone, Debug)]
pub struct Options {
    /// Batch sizes; every model is measured at each.
    pub batches: Vec<usize>,
    pub device: Device,
    /// The precision of the training steps (evaluation is float32).
    pub precision: Precision,
    /// Timed seconds per rate (split over the repetitions).
    pub seconds: f64,
    /// Images drawn for the sampling time (0: not measured).
    pub samples: i64,
}

impl Options {
    pub fn check(&self) -> Result<()> {
        if self.batches.is_empty() || self.batches.contains(&0) {
            bail!("--batch: every batch size must be at least 1");
        }
        if !(self.seconds.is_finite() && self.seconds > 0.0) {
            bail!("--seconds: must be a positive number, got {}", self.seconds);
        }
        if self.samples < 0 {
            bail!("--samples: must be at least 0, got {}", self.samples);
        }
        Ok(())
    }
}

/// The models of `spec` named by `filters` (type name or label), in the
/// spec's order; all of them without filters. A filter that names no
/// model is an error.
pub fn select_models<'a>(spec: &'a Spec, filters: &[String]) -> Result<Vec<&'a ModelSpec>> {
    let matches = |m: &ModelSpec, f: &str| m.type_name() == f || m.label() == f;
    for f in filters {
        if !spec.models.iter().any(|m| matches(m, f)) {
            let known: Vec<String> = spec
                .models
                .iter()
                .map(|m| format!("{} ({})", m.label(), m.type_name()))
                .collect();
            bail!(
                "--models: no model of the spec has the type or label {f:?}; its models are: {}",
                known.join(", ")
            );
        }
    }
    Ok(spec
        .models
        .iter()
        .filter(|m| filters.is_empty() || filters.iter().any(|f| matches(m, f)))
        .collect())
}

/// A median with the spread of the repetitions it came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Rate {
    /// Of a non-empty list of values.
    pub fn of(values: &[f64]) -> Rate {
        assert!(!values.is_empty(), "a rate needs at least one value");
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Rate {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }
}

/// One model at one batch size.
#[derive(Clone, Debug)]
pub struct Row {
    pub model: String,
    pub model_type: String,
    pub batch: usize,
    pub parameters: i64,
    pub train: Rate,
    pub eval: Rate,
    /// Seconds to draw `samples` images (None: not measured).
    pub sample_seconds: Option<f64>,
    pub samples: i64,
    /// Peak resident memory of the process while this row was measured
    /// (None on CUDA or where /proc is missing).
    pub peak_rss_mib: Option<f64>,
    /// Resident memory when this row's measurement began (before its model
    /// was built), so `peak_rss_mib - rss_start_mib` is what the row added.
    pub rss_start_mib: Option<f64>,
    /// On CUDA: the most memory libtorch's caching allocator handed out
    /// while this row was measured (None on the CPU).
    pub peak_cuda_mib: Option<f64>,
    pub device: String,
    pub precision: Precision,
}

/// Waits for the device's queued work (a no-op on the CPU).
fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Images per second of `step` (which handles `batch` images): one untimed
/// warm-up step, then [`REPETITIONS`] repetitions of at least one step and
/// about `seconds / REPETITIONS` each.
pub fn measure_rate(batch: usize, seconds: f64, device: Device, mut step: impl FnMut()) -> Rate {
    step();
    sync(device);
    let per_rep = seconds / REPETITIONS as f64;
    let rates: Vec<f64> = (0..REPETITIONS)
        .map(|_| {
            let start = Instant::now();
            let mut steps = 0usize;
            loop {
                step();
                steps += 1;
                if start.elapsed().as_secs_f64() >= per_rep {
                    sync(device);
                    if start.elapsed().as_secs_f64() >= per_rep {
                        break;
                    }
                }
            }
            (steps * batch) as f64 / start.elapsed().as_secs_f64().max(1e-12)
        })
        .collect();
    Rate::of(&rates)
}

/// Random images `[batch, C, H, W]` of the shape's levels, as floats.
pub fn random_images(shape: ImageShape, batch: usize, device: Device) -> Tensor {
    let dims = [
        batch as i64,
        shape.channels as i64,
        shape.height as i64,
        shape.width as i64,
    ];
    let levels = shape.pixels().levels() as i64;
    Tensor::randint(levels, dims, (Kind::Float, device))
}

/// One training step as in [`crate::train`]: the model's minibatch
/// objective ([`DensityModel::training_loss`]; by default −mean log p(x))
/// under autocast at `precision`, backward, Adam. `draw` changes per step,
/// as in training.
fn train_step(
    model: &dyn DensityModel,
    adam: &mut Optimizer,
    x: &Tensor,
    draw: u64,
    precision: Precision,
) {
    let loss = {
        let _autocast = Autocast::enter(precision, model.device());
        model.training_loss(x, draw).objective
    };
    adam.zero_grad();
    loss.backward();
    adam.step(1e-3);
}

/// Training images/s at `batch`.
pub fn train_rate(
    vs: &nn::VarStore,
    model: &dyn DensityModel,
    batch: usize,
    seconds: f64,
    precision: Precision,
) -> Rate {
    let x = random_images(model.shape(), batch, model.device());
    let mut adam = Optimizer::new(OptimizerKind::Adam, vs, [0.9, 0.999], 0.0);
    let mut draw = 0u64;
    measure_rate(batch, seconds, model.device(), || {
        draw += 1;
        train_step(model, &mut adam, &x, draw, precision)
    })
}

/// Evaluation images/s at `batch` (`no_grad`, exact `log p(x)`).
pub fn eval_rate(model: &dyn DensityModel, batch: usize, seconds: f64) -> Rate {
    let _guard = tch::no_grad_guard();
    let x = random_images(model.shape(), batch, model.device());
    measure_rate(batch, seconds, model.device(), || {
        let _ = model.log_prob(&x);
    })
}

/// Seconds to draw `n` images (one timed run; the model's kernels are
/// already warm from the rates).
pub fn sample_seconds(model: &dyn DensityModel, n: i64) -> f64 {
    let _guard = tch::no_grad_guard();
    let start = Instant::now();
    let s = model.sample(n, SAMPLE_SEED);
    sync(model.device());
    drop(s);
    start.elapsed().as_secs_f64()
}

/// A field of /proc/self/status in MiB (e.g. `VmHWM`, `VmRSS`).
fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kib: f64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// This process's user + system CPU seconds so far (/proc/self/stat,
/// 100 ticks/s; 0 where it cannot be read).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The process's resident memory now, in MiB.
pub fn rss_mib() -> Option<f64> {
    proc_status_mib("VmRSS")
}

/// The process's peak resident memory (`VmHWM`) in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    proc_status_mib("VmHWM")
}

/// Resets the peak to the current resident memory (Linux: `5` into
/// /proc/self/clear_refs); false where that is not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Measures one model of `spec` at every batch size of `opts`. The
/// sampling time is measured once (at the first batch size) and repeated
/// in every row.
pub fn bench_model(
    m: &ModelSpec,
    spec: &Spec,
    shape: ImageShape,
    opts: &Options,
) -> Result<Vec<Row>> {
    let cpu = opts.device == Device::Cpu;
    let mut rows = Vec::new();
    let mut sampled = None;
    for &batch in &opts.batches {
        let rss_start = if cpu {
            reset_peak_rss();
            rss_mib()
        } else {
            None
        };
        if let Device::Cuda(i) = opts.device {
            crate::device::reset_cuda_peak(i);
        }
        tch::manual_seed(0);
        let vs = nn::VarStore::new(opts.device);
        let model = m
            .build_run(&vs.root(), shape, &spec.orderings[0])
            .with_context(|| format!("model {}", m.label()))?;
        tracing::info!("bench: {} at batch {batch}", m.label());
        let train = train_rate(&vs, model.as_ref(), batch, opts.seconds, opts.precision);
        let eval = eval_rate(model.as_ref(), batch, opts.seconds);
        if sampled.is_none() && opts.samples > 0 {
            sampled = Some(sample_seconds(model.as_ref(), opts.samples));
        }
        rows.push(Row {
            model: m.label(),
            model_type: m.type_name().into(),
            batch,
            parameters: model.num_params(),
            train,
            eval,
            sample_seconds: sampled,
            samples: opts.samples,
            peak_rss_mib: if cpu { peak_rss_mib() } else { None },
            rss_start_mib: rss_start,
            peak_cuda_mib: match opts.device {
                Device::Cuda(i) => crate::device::cuda_peak_allocated_mib(i),
                _ => None,
            },
            device: format!("{:?}", opts.device),
            precision: opts.precision,
        });
    }
    Ok(rows)
}

/// Measures the selected models of `spec`.
pub fn run(spec: &Spec, models: &[&ModelSpec], opts: &Options) -> Result<Vec<Row>> {
    opts.check()?;
    let shape = Dataset::load(&spec.data)?.shape;
    let mut rows = Vec::new();
    for m in models {
        rows.extend(bench_model(m, spec, shape, opts)?);
    }
    Ok(rows)
}

fn fmt_rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The rows as a markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let samples = rows.first().map_or(0, |r| r.samples);
    let memory = if rows.iter().any(|r| r.peak_cuda_mib.is_some()) {
        "peak CUDA allocated MiB"
    } else {
        "peak RSS MiB (+ over row start)"
    };
    let mut out = format!(
        "| model | type | batch | parameters | train img/s | train spread | eval img/s | eval spread | sample {samples} (s) | {memory} |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        let sample = r.sample_seconds.map_or("–".into(), |s| format!("{s:.2}"));
        let rss = match (r.peak_rss_mib, r.rss_start_mib, r.peak_cuda_mib) {
            (Some(peak), Some(start), _) => {
                format!("{peak:.0} (+{:.0})", (peak - start).max(0.0))
            }
            (Some(peak), None, _) => format!("{peak:.0}"),
            (None, _, Some(cuda)) => format!("{cuda:.0}"),
            _ => "n/a".into(),
        };
        out += &format!(
            "| {} | {} | {} | {} | {} | {}–{} | {} | {}–{} | {sample} | {rss} |\n",
            r.model,
            r.model_type,
            r.batch,
            r.parameters,
            fmt_rate(r.train.median),
            fmt_rate(r.train.min),
            fmt_rate(r.train.max),
            fmt_rate(r.eval.median),
            fmt_rate(r.eval.min),
            fmt_rate(r.eval.max),
        );
    }
    out
}

/// One CSV line.
#[derive(Serialize)]
struct CsvRow<'a> {
    model: &'a str,
    #[serde(rename = "type")]
    model_type: &'a str,
    batch: usize,
    parameters: i64,
    train_img_per_s: f64,
    train_min: f64,
    train_max: f64,
    eval_img_per_s: f64,
    eval_min: f64,
    eval_max: f64,
    samples: i64,
    sample_seconds: Option<f64>,
    peak_rss_mib: Option<f64>,
    rss_start_mib: Option<f64>,
    peak_cuda_mib: Option<f64>,
    device: &'a str,
    precision: String,
}

/// The rows as CSV at `path`.
pub fn write_csv(path: &Path, rows: &[Row]) -> Result<()> {
    let lines: Vec<CsvRow> = rows
        .iter()
        .map(|r| CsvRow {
            model: &r.model,
            model_type: &r.model_type,
            batch: r.batch,
            parameters: r.parameters,
            train_img_per_s: r.train.median,
            train_min: r.train.min,
            train_max: r.train.max,
            eval_img_per_s: r.eval.median,
            eval_min: r.eval.min,
            eval_max: r.eval.max,
            samples: r.samples,
            sample_seconds: r.sample_seconds,
            peak_rss_mib: r.peak_rss_mib,
            rss_start_mib: r.rss_start_mib,
            peak_cuda_mib: r.peak_cuda_mib,
            device: &r.device,
            precision: r.precision.to_string(),
        })
        .collect();
    crate::results::write_csv(path, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_median_and_spread() {
        let r = Rate::of(&[3.0, 1.0, 2.0, 5.0, 4.0]);
        assert_eq!((r.median, r.min, r.max), (3.0, 1.0, 5.0));
        assert_eq!(Rate::of(&[1.0, 2.0, 4.0, 3.0]).median, 2.5);
    }

    #[test]
    fn builtin_family_parses_and_filters() {
        let spec = builtin_spec();
        assert_eq!(spec.models.len(), 8);
        let nade = select_models(&spec, &["nade".into()]).unwrap();
        assert_eq!(nade.len(), 1);
        let by_label = select_models(&spec, &["markov-k1".into(), "fvsbn".into()]).unwrap();
        assert_eq!(by_label.len(), 2);
        assert!(select_models(&spec, &["made".into()]).is_err());
    }

    #[test]
    fn peak_rss_is_read() {
        if Path::new("/proc/self/status").exists() {
            let peak = peak_rss_mib().expect("VmHWM");
            assert!(peak > 0.0 && peak >= rss_mib().unwrap() - 1.0);
        }
    }
}
