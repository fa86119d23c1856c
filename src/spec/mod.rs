//! The YAML experiment spec: parsing, `--set` overrides, validation, and the
//! expansion of one spec into its runs (models × orderings × seeds).
//!
//! Every check happens here, once: the rest of arlab receives a validated
//! [`Spec`] and never re-validates user input.
mod overrides;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::order::OrderSpec;

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
    pub orderings: Vec<String>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub train: TrainSpec,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PixelForm {
    /// 0/1 pixels with Bernoulli conditionals.
    #[default]
    Binary,
    /// 8-bit levels with 256-way conditionals.
    Gray256,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Binarize {
    /// x > threshold, fixed.
    #[default]
    Threshold,
    /// One Bernoulli draw per image (p = level/255), fixed by `binarize_seed`.
    Stochastic,
    /// Fresh draws every training epoch; validation and test fixed once.
    Dynamic,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// `mnist`, `fashion-mnist`, `idx:PATH` or `synthetic`.
    pub source: String,
    #[serde(default)]
    pub pixels: PixelForm,
    #[serde(default)]
    pub binarize: Binarize,
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    #[serde(default)]
    pub binarize_seed: u64,
    /// Expected size `HxW` of the images in the source (before `downscale`);
    /// data of another size is an error instead of a surprise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Integer average-pooling factor (2 turns 28×28 into 14×14).
    #[serde(default = "one")]
    pub downscale: usize,
    /// Use only the first N images of a split (handy for quick runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_train: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_val: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_test: Option<usize>,
    /// Settings of the `synthetic` source.
    #[serde(default)]
    pub synthetic: SyntheticSpec,
}

fn default_threshold() -> f64 {
    0.5
}
fn one() -> usize {
    1
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticSpec {
    pub height: usize,
    pub width: usize,
    pub train: usize,
    pub val: usize,
    pub test: usize,
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            height: 8,
            width: 8,
            train: 1000,
            val: 200,
            test: 200,
            seed: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Independent,
    Markov,
    Tabular,
    Fvsbn,
    Nade,
}

impl ModelKind {
    pub const NAMES: &'static [&'static str] =
        &["independent", "markov", "tabular", "fvsbn", "nade"];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Independent => "independent",
            ModelKind::Markov => "markov",
            ModelKind::Tabular => "tabular",
            ModelKind::Fvsbn => "fvsbn",
            ModelKind::Nade => "nade",
        }
    }
}

/// One model of the experiment. Only the settings of its `type` are allowed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    #[serde(rename = "type")]
    pub kind: ModelKind,
    /// Label used in run names and tables (default: derived from type and settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// NADE: hidden units H.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
    /// Markov: how many previous pixels (in the ordering) each pixel sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// This model's learning rate, in place of `train.lr` (models on one
    /// budget often want different rates: a table of logits far more than NADE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
}

impl ModelSpec {
    pub const DEFAULT_HIDDEN: usize = 500;
    pub const DEFAULT_K: usize = 1;

    pub fn hidden(&self) -> usize {
        self.hidden.unwrap_or(Self::DEFAULT_HIDDEN)
    }
    pub fn k(&self) -> usize {
        self.k.unwrap_or(Self::DEFAULT_K)
    }

    /// The label used in run directory names and tables.
    pub fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match self.kind {
            ModelKind::Markov => format!("markov-k{}", self.k()),
            ModelKind::Nade => format!("nade-h{}", self.hidden()),
            kind => kind.name().to_string(),
        }
    }
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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    pub epochs: usize,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub lr: f64,
    pub betas: [f64; 2],
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    pub schedule: Schedule,
    pub step_size: usize,
    pub gamma: f64,
    /// Stop when validation NLL has not improved for this many epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Draw a sample grid every N epochs (0: only at the end).
    pub sample_every: usize,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            epochs: 10,
            batch_size: 100,
            eval_batch_size: 1000,
            lr: 1e-3,
            betas: [0.9, 0.999],
            weight_decay: 0.0,
            grad_clip: None,
            schedule: Schedule::Constant,
            step_size: 10,
            gamma: 0.5,
            patience: None,
            sample_every: 1,
            device: "auto".into(),
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
    pub ordering: OrderSpec,
    pub seed: u64,
}

impl RunSpec {
    /// `<model>-<ordering>-s<seed>`, the run directory's name.
    pub fn id(&self) -> String {
        format!(
            "{}-{}-s{}",
            self.model.label(),
            self.ordering.slug(),
            self.seed
        )
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
            serde_path_to_error::deserialize(value)
                .map_err(|e| describe(&format!("{origin} (after --set)"), e))?
        };
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
        for (i, m) in self.models.iter().enumerate() {
            m.validate(self.data.pixels)
                .with_context(|| format!("models[{i}]"))?;
        }
        for (i, o) in self.orderings.iter().enumerate() {
            o.parse::<OrderSpec>()
                .with_context(|| format!("orderings[{i}]"))?;
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

    /// The cross product models × orderings × seeds, each as its own spec.
    /// Call on a validated spec (orderings parse).
    pub fn runs(&self) -> Vec<RunSpec> {
        let mut runs = Vec::new();
        for model in &self.models {
            for ordering in &self.orderings {
                let Ok(order) = ordering.parse::<OrderSpec>() else {
                    continue;
                };
                for &seed in &self.seeds {
                    let spec = Spec {
                        models: vec![model.clone()],
                        orderings: vec![order.to_string()],
                        seeds: vec![seed],
                        ..self.clone()
                    };
                    runs.push(RunSpec {
                        spec,
                        model: model.clone(),
                        ordering: order.clone(),
                        seed,
                    });
                }
            }
        }
        runs
    }
}

impl DataSpec {
    fn validate(&self) -> Result<()> {
        let src = self.source.as_str();
        if !(src == "mnist"
            || src == "fashion-mnist"
            || src == "synthetic"
            || src.starts_with("idx:"))
        {
            bail!("data.source: unknown source {src:?}; use `mnist`, `fashion-mnist`, `synthetic` or `idx:PATH`");
        }
        if src == "idx:" {
            bail!("data.source: `idx:` needs a path, e.g. `idx:/data/mnist`");
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            bail!("data.threshold: must be in (0, 1), got {}", self.threshold);
        }
        if let Some(size) = &self.size {
            if parse_size(size).is_none() {
                bail!("data.size: expected HxW with positive integers, e.g. 28x28, got {size:?}");
            }
        }
        if self.downscale == 0 {
            bail!("data.downscale: must be at least 1, got 0");
        }
        for (name, v) in [
            ("max_train", self.max_train),
            ("max_val", self.max_val),
            ("max_test", self.max_test),
        ] {
            if v == Some(0) {
                bail!("data.{name}: must be at least 1 (leave it out to use the whole split)");
            }
        }
        let s = &self.synthetic;
        if src == "synthetic"
            && (s.height == 0 || s.width == 0 || s.train == 0 || s.val == 0 || s.test == 0)
        {
            bail!("data.synthetic: height, width, train, val and test must all be at least 1");
        }
        Ok(())
    }
}

impl ModelSpec {
    fn validate(&self, pixels: PixelForm) -> Result<()> {
        let kind = self.kind.name();
        if self.hidden.is_some() && self.kind != ModelKind::Nade {
            bail!("`hidden` does not apply to a {kind} model (only to nade)");
        }
        if self.k.is_some() && self.kind != ModelKind::Markov {
            bail!("`k` does not apply to a {kind} model (only to markov)");
        }
        if self.hidden == Some(0) {
            bail!("hidden: must be at least 1, got 0");
        }
        if self.k == Some(0) {
            bail!("k: must be at least 1, got 0");
        }
        if let Some(lr) = self.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                bail!("lr: must be a positive number, got {lr}");
            }
        }
        if let Some(lr) = self.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                bail!("lr: must be a positive number, got {lr}");
            }
        }
        if let Some(name) = &self.name {
            if name.is_empty() || name.contains(['/', '\\']) {
                bail!("name: must be a non-empty name without `/`, got {name:?}");
            }
        }
        if pixels != PixelForm::Binary {
            bail!("a {kind} model needs `data.pixels: binary` (its conditionals are Bernoulli)");
        }
        Ok(())
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
        if t.patience == Some(0) {
            bail!("patience: must be at least 1 (leave it out to disable early stopping)");
        }
        crate::device::DeviceChoice::parse(&t.device).context("device")?;
        Ok(())
    }
}

/// Parses `HxW` (or `N` for N×N) with positive integers.
pub fn parse_size(s: &str) -> Option<(usize, usize)> {
    let parse = |v: &str| v.trim().parse::<usize>().ok().filter(|&n| n > 0);
    match s.split_once(['x', 'X', '×']) {
        Some((h, w)) => parse(h).zip(parse(w)),
        None => parse(s).map(|n| (n, n)),
    }
}

/// Formats a deserialization error as `origin: path: message`.
fn describe<E: std::fmt::Display>(origin: &str, e: serde_path_to_error::Error<E>) -> anyhow::Error {
    let path = e.path().to_string();
    let mut msg = String::new();
    let _ = write!(msg, "{origin}: ");
    if path != "." && !path.is_empty() {
        let _ = write!(msg, "{path}: ");
    }
    let _ = write!(msg, "{}", e.inner());
    anyhow::anyhow!(msg)
}

#[cfg(test)]
mod tests;
