//! The YAML experiment spec: parsing, `--set` overrides, validation, and the
//! expansion of one spec into its runs (models × orderings × seeds).
//!
//! Every check happens here, once: values such as orderings, the device,
//! the image size and the data source become typed values while the YAML is
//! read, each model's settings are checked by its own config (in its model's
//! file, see [`crate::models`]), and the rest of arlab receives a validated
//! [`Spec`] and never re-parses or re-validates user input.
mod ensemble;
mod overrides;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::autocast::Precision;
use crate::data::DataSpec;
use crate::models::ModelSpec;
use crate::order::RunOrdering;

pub use crate::device::DeviceChoice;
pub use ensemble::EnsembleSpec;
pub use overrides::apply_override;

/// One experiment: data, models, orderings, seeds and training settings.
/// arlab runs the cross product of models × orderings × seeds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Experiment name: the results go to `<results>/<name>/`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub data: DataSpec,
    pub models: Vec<ModelSpec>,
    pub orderings: Vec<RunOrdering>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub train: TrainSpec,
    #[serde(default, skip_serializing_if = "EvalSpec::is_default")]
    pub eval: EvalSpec,
}

/// Evaluation after training, beyond the test NLL under the run's ordering.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvalSpec {
    /// Ensembles over orderings: every model that can be evaluated under
    /// several orderings (or masks) after training is evaluated under up
    /// to this many (or these named orderings), each alone and as their
    /// ensemble; see `ensemble.csv` in the run directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orderings: Option<EnsembleSpec>,
}

impl EvalSpec {
    fn is_default(&self) -> bool {
        *self == EvalSpec::default()
    }
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    #[default]
    Constant,
    /// Cosine decay from `lr` to 0 over all epochs.
    Cosine,
    /// Multiply by `gamma` every `step_size` epochs.
    Step,
}

/// The update rule (`train.optimizer`): `adam` (the default) or `adagrad`
/// (MADE's, Germain et al. 2015). `betas` are Adam's only.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    #[default]
    Adam,
    Adagrad,
}

impl OptimizerKind {
    fn is_adam(&self) -> bool {
        *self == OptimizerKind::Adam
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    pub epochs: usize,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub lr: f64,
    /// Written out only when not Adam, so that the resolved specs (and the
    /// binding hashes) of Adam runs are those of before the option.
    #[serde(skip_serializing_if = "OptimizerKind::is_adam")]
    pub optimizer: OptimizerKind,
    pub betas: [f64; 2],
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    pub schedule: Schedule,
    pub step_size: usize,
    pub gamma: f64,
    /// Evaluate validation NLL every N epochs (and always at the last); the
    /// best checkpoint is chosen among the validated epochs.
    #[serde(skip_serializing_if = "is_one")]
    pub val_every: usize,
    /// Stop when validation NLL has not improved for this many validations
    /// (epochs, unless `val_every` is above 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Draw a sample grid every N epochs (0: only at the end).
    pub sample_every: usize,
    /// Images per sample grid (8 per row). Sampling the image models runs
    /// the network once per pixel and channel: fewer is faster.
    pub samples: usize,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: DeviceChoice,
    /// `f32` or `bf16` for the training steps; evaluation is always float32.
    #[serde(skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
    /// Write TensorBoard scalars per epoch under `<run>/tensorboard/`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tensorboard: bool,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            epochs: 10,
            batch_size: 100,
            eval_batch_size: 1000,
            lr: 1e-3,
            optimizer: OptimizerKind::Adam,
            betas: [0.9, 0.999],
            weight_decay: 0.0,
            grad_clip: None,
            schedule: Schedule::Constant,
            step_size: 10,
            gamma: 0.5,
            val_every: 1,
            patience: None,
            sample_every: 1,
            samples: 64,
            device: DeviceChoice::Auto,
            precision: Precision::F32,
            tensorboard: false,
        }
    }
}

/// One point of the cross product: what a run directory holds.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The single-run spec (one model, one ordering, one seed), as written to
    /// the run directory's spec.yaml.
    pub spec: Spec,
    pub model: ModelSpec,
    pub ordering: RunOrdering,
    pub seed: u64,
    /// The values a `sweep:` gave this run (empty outside a sweep).
    pub swept: Vec<Swept>,
}

/// One swept value of a run: the spec path, its short label in run names,
/// and the value as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swept {
    pub key: String,
    pub label: String,
    pub value: String,
}

impl RunSpec {
    /// `<model>-<ordering>-s<seed>[-<label><value>...]`, the run directory's name.
    pub fn id(&self) -> String {
        let mut id = format!(
            "{}-{}-s{}",
            self.model.label(),
            self.ordering.slug(),
            self.seed
        );
        for s in &self.swept {
            let safe = |c: char| c.is_ascii_alphanumeric() || ".-_".contains(c);
            let value: String = s
                .value
                .chars()
                .map(|c| if safe(c) { c } else { '-' })
                .collect();
            let _ = write!(id, "-{}{value}", s.label);
        }
        id
    }
}

impl Spec {
    /// Reads, overrides and validates a spec file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Spec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read spec `{}`", path.display()))?;
        Spec::parse(&text, &path.display().to_string(), overrides)
    }

    /// Parses spec text; `origin` names the file in error messages.
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Spec> {
        let spec: Spec = if overrides.is_empty() {
            // Straight from the text, so errors carry line and column.
            let de = serde_yaml_ng::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|e| describe(origin, e))?
        } else {
            let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
                .map_err(|e| anyhow::anyhow!("{origin}: invalid YAML: {e}"))?;
            for o in overrides {
                apply_override(&mut value, o)?;
            }
            return Spec::from_tree(value, origin, &format!("{origin} (after --set)"));
        };
        spec.validate()
            .map_err(|e| anyhow::anyhow!("{origin}: {e:#}"))?;
        Ok(spec)
    }

    /// A spec from its YAML tree (no line numbers: the text it came from is
    /// not this tree's); `tree_origin` names it in type errors, `origin` in
    /// value errors.
    pub fn from_tree(tree: serde_yaml_ng::Value, origin: &str, tree_origin: &str) -> Result<Spec> {
        let spec: Spec =
            serde_path_to_error::deserialize(tree).map_err(|e| describe(tree_origin, e))?;
        spec.validate()
            .map_err(|e| anyhow::anyhow!("{origin}: {e:#}"))?;
        Ok(spec)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("a spec always serializes")
    }

    /// Checks every value range and combination; errors name the field.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty()
            || self.name.contains(['/', '\\'])
            || self.name.starts_with('.')
        {
            bail!("name: must be a non-empty directory name (no `/`, not starting with `.`), got {:?}", self.name);
        }
        self.data.validate()?;
        if self.models.is_empty() {
            bail!("models: the list is empty, so the spec expands to zero runs");
        }
        if self.orderings.is_empty() {
            bail!("orderings: the list is empty, so the spec expands to zero runs");
        }
        if self.seeds.is_empty() {
            bail!("seeds: the list is empty, so the spec expands to zero runs");
        }
        for (i, o) in self.orderings.iter().enumerate() {
            o.validate().with_context(|| format!("orderings[{i}]"))?;
        }
        for (i, m) in self.models.iter().enumerate() {
            m.validate(self.data.pixels, &self.orderings)
                .with_context(|| format!("models[{i}]"))?;
            self.check_reference_ensemble(m)
                .with_context(|| format!("models[{i}]"))?;
        }
        self.train.validate().context("train")?;
        let mut ids = std::collections::HashSet::new();
        for run in self.runs() {
            if !ids.insert(run.id()) {
                bail!("two runs would share the directory `{}`: give the models distinct `name`s or remove duplicate orderings/seeds", run.id());
            }
        }
        Ok(())
    }

    /// A reference to a published ensemble of N members needs `eval.orderings`
    /// of at least N, the run's ensemble that compares with it.
    fn check_reference_ensemble(&self, m: &ModelSpec) -> Result<()> {
        let Some(n) = m.reference.as_ref().and_then(|r| r.ensemble) else {
            return Ok(());
        };
        let asked = match &self.eval.orderings {
            Some(EnsembleSpec::Count(c)) => *c,
            Some(EnsembleSpec::Orderings(o)) => o.len(),
            None => 0,
        };
        if asked < n {
            bail!(
                "reference.ensemble: {n} compares the run's ensemble of {n} members with the published one; \
                 it needs `eval.orderings: {n}` (or more), got {}",
                self.eval
                    .orderings
                    .as_ref()
                    .map_or("none".to_string(), |o| o.to_string())
            );
        }
        Ok(())
    }

    /// The cross product models × orderings × seeds, each as its own spec.
    pub fn runs(&self) -> Vec<RunSpec> {
        let mut runs = Vec::new();
        for model in &self.models {
            for ordering in &self.orderings {
                for &seed in &self.seeds {
                    let mut spec = Spec {
                        models: vec![model.clone()],
                        orderings: vec![ordering.clone()],
                        seeds: vec![seed],
                        ..self.clone()
                    };
                    // A model's own epochs are the run's.
                    spec.train.epochs = model.epochs.unwrap_or(spec.train.epochs);
                    runs.push(RunSpec {
                        spec,
                        model: model.clone(),
                        ordering: ordering.clone(),
                        seed,
                        swept: Vec::new(),
                    });
                }
            }
        }
        runs
    }
}

impl TrainSpec {
    fn validate(&self) -> Result<()> {
        let t = self;
        if t.epochs == 0 {
            bail!("epochs: must be at least 1, got 0");
        }
        if t.batch_size == 0 {
            bail!("batch_size: must be at least 1, got 0");
        }
        if t.eval_batch_size == 0 {
            bail!("eval_batch_size: must be at least 1, got 0");
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            bail!("lr: must be a positive number, got {}", t.lr);
        }
        for (i, b) in t.betas.iter().enumerate() {
            if !(0.0..1.0).contains(b) {
                bail!("betas[{i}]: must be in [0, 1), got {b}");
            }
        }
        if !(t.weight_decay >= 0.0 && t.weight_decay.is_finite()) {
            bail!("weight_decay: must be >= 0, got {}", t.weight_decay);
        }
        if let Some(c) = t.grad_clip {
            if !(c > 0.0 && c.is_finite()) {
                bail!("grad_clip: must be a positive number, got {c}");
            }
        }
        if t.step_size == 0 {
            bail!("step_size: must be at least 1, got 0");
        }
        if !(t.gamma > 0.0 && t.gamma <= 1.0) {
            bail!("gamma: must be in (0, 1], got {}", t.gamma);
        }
        if t.samples == 0 {
            bail!("samples: must be at least 1, got 0");
        }
        if t.val_every == 0 {
            bail!("val_every: must be at least 1 (1: validate every epoch)");
        }
        if t.patience == Some(0) {
            bail!("patience: must be at least 1 (leave it out to disable early stopping)");
        }
        Ok(())
    }
}

/// Serde's `skip_serializing_if` for settings whose default is 1: a spec
/// written before the setting existed keeps its binding hash.
fn is_one(n: &usize) -> bool {
    *n == 1
}

/// FNV-1a 64 of `text`, as 16 hex digits: the hashes of specs (the sweep
/// manifest's `spec_hash`, a run directory's binding).
pub fn fnv1a_hex(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Formats a deserialization error as `origin: path: message` (the YAML
/// reader's message may already start with the path: it is not repeated).
fn describe<E: std::fmt::Display>(origin: &str, e: serde_path_to_error::Error<E>) -> anyhow::Error {
    let path = e.path().to_string();
    let mut inner = e.inner().to_string();
    // The YAML reader may prefix its own (shorter) path, e.g. `models: ` for
    // an error inside `models[0]`: ours is the precise one.
    if let Some((head, rest)) = inner.split_once(": ") {
        let theirs = head.trim();
        if !theirs.is_empty()
            && !theirs.contains(' ')
            && (path == theirs
                || path.starts_with(&format!("{theirs}["))
                || path.starts_with(&format!("{theirs}.")))
        {
            inner = rest.to_string();
        }
    }
    let mut msg = String::new();
    let _ = write!(msg, "{origin}: ");
    if path != "." && !path.is_empty() {
        let _ = write!(msg, "{path}: ");
    }
    let _ = write!(msg, "{inner}");
    anyhow::anyhow!(msg)
}

#[cfg(test)]
mod tests;
