//! The resume checkpoint `checkpoints/last.ot`: model parameters, optimizer state
//! and training progress in ONE file (written atomically), so a run killed at
//! any moment resumes from a consistent last completed epoch, or from the
//! step where a signal stopped it (see [`crate::runtime::signals`]).
//! (`checkpoints/best.ot` holds only the parameters, as `VarStore::save`.)
use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Tensor};

use super::optimizer::Optimizer;
use crate::results::{with_temp_file, MetricRow};

/// Everything about a run's progress that is not a tensor. Randomness needs
/// no saved state: each epoch's shuffle and binarization derive from
/// (seed, epoch), and sampling uses its own seeded stream.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// Last completed epoch (0: none).
    pub epoch: usize,
    pub best_val: Option<f64>,
    pub best_epoch: usize,
    pub since_best: usize,
    pub train_seconds: f64,
    pub images_seen: i64,
    pub stopped_early: bool,
    pub metrics: Vec<MetricRow>,
    /// Steps done of epoch `epoch + 1` when a signal stopped the run
    /// mid-epoch (0: at an epoch boundary), with that epoch's NLL sum and
    /// seconds so far.
    #[serde(default)]
    pub step: usize,
    #[serde(default)]
    pub step_nll_sum: f64,
    #[serde(default)]
    pub step_seconds: f64,
}

pub fn save(path: &Path, vs: &VarStore, opt: &Optimizer, progress: &Progress) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(name, t)| (format!("param.{name}"), t))
        .collect();
    named.extend(opt.state());
    let json = serde_json::to_vec(progress)?;
    named.push(("progress".into(), Tensor::from_slice(&json)));
    with_temp_file(path, |tmp| {
        Tensor::save_multi(&named, tmp)
            .with_context(|| format!("cannot write checkpoint `{}`", path.display()))
    })
}

/// Restores parameters and optimizer state; returns the progress.
pub fn load(path: &Path, vs: &mut VarStore, opt: &mut Optimizer) -> Result<Progress> {
    let what = || {
        format!(
            "checkpoint `{}` is unreadable or partial (delete it, or use --force to start over)",
            path.display()
        )
    };
    let named: HashMap<String, Tensor> = Tensor::load_multi(path)
        .with_context(what)?
        .into_iter()
        .collect();
    let _guard = tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        let key = format!("param.{name}");
        let Some(t) = named.get(&key) else {
            bail!("{}: it has no `{key}`", what())
        };
        if t.size() != var.size() {
            bail!(
                "{}: `{key}` has shape {:?}, the model {:?}",
                what(),
                t.size(),
                var.size()
            );
        }
        var.copy_(t);
    }
    opt.load_state(&named).with_context(what)?;
    let json = named
        .get("progress")
        .with_context(|| format!("{}: no progress record", what()))?;
    let bytes = Vec::<u8>::try_from(json).with_context(what)?;
    serde_json::from_slice(&bytes).with_context(what)
}
