//! A run as its directory holds it: the model built from the run's spec
//! (fresh, for training, or with its best checkpoint), its spec and its
//! data, checked against the shape it was trained on.
use anyhow::{bail, Context, Result};
use tch::{nn, Device};

use super::RunDir;
use crate::data::{Dataset, ImageShape, Source};
use crate::models::DensityModel;
use crate::spec::{RunSpec, Spec};

/// A model instantiated for a run: its variables and the model using them.
pub struct Instance {
    pub vs: nn::VarStore,
    pub model: Box<dyn DensityModel>,
    pub device: Device,
}

/// Builds the run's model on the spec's device, parameters initialised from the run's seed.
pub fn instantiate(run: &RunSpec, shape: ImageShape) -> Result<Instance> {
    let device = run.spec.train.device.resolve()?;
    tch::manual_seed(run.seed as i64);
    let vs = nn::VarStore::new(device);
    let model = run.model.build_run(&vs.root(), shape, &run.ordering)?;
    Ok(Instance { vs, model, device })
}

/// Loads a run directory's spec and best checkpoint.
pub fn load_run(dir: &RunDir, data_override: Option<&str>) -> Result<(RunSpec, Dataset, Instance)> {
    let source = data_override
        .map(str::parse)
        .transpose()
        .context("--data")?;
    let run = run_spec(dir, source)?;
    let data = load_run_data(dir, &run)?;
    let inst = load_model(dir, &run, data.shape)?;
    Ok((run, data, inst))
}

/// A run directory's run, its data source replaced by `source` when given:
/// the run's pixel form, binarization and split limits then apply to it.
pub fn run_spec(dir: &RunDir, source: Option<Source>) -> Result<RunSpec> {
    let mut spec = Spec::load(&dir.spec(), &[])?;
    if let Some(src) = source {
        spec.data.source = src;
        spec.validate()?;
    }
    spec.runs()
        .into_iter()
        .next()
        .context("the run's spec.yaml names no run")
}

/// Loads `run`'s data, refused unless its images have the shape the run in
/// `dir` was trained on.
pub fn load_run_data(dir: &RunDir, run: &RunSpec) -> Result<Dataset> {
    let data = Dataset::load(&run.spec.data)?;
    check_trained_shape(dir, run, &run.spec.data.source.to_string(), data.shape)?;
    Ok(data)
}

/// Refuses images of `shape` (from `what`) for a run trained on another
/// C×H×W, as its summary records it.
pub fn check_trained_shape(dir: &RunDir, run: &RunSpec, what: &str, s: ImageShape) -> Result<()> {
    if let Ok(trained) = dir.read_summary() {
        if (trained.channels, trained.height, trained.width) != (s.channels, s.height, s.width) {
            bail!(
                "the images of `{what}` are {}×{}×{}, but run {} was trained on {}×{}×{} images (C×H×W)",
                s.channels,
                s.height,
                s.width,
                run.id(),
                trained.channels,
                trained.height,
                trained.width
            );
        }
    }
    Ok(())
}

/// Builds `run`'s model for images of `shape` and loads its best checkpoint from `dir`.
pub fn load_model(dir: &RunDir, run: &RunSpec, shape: ImageShape) -> Result<Instance> {
    let mut inst = instantiate(run, shape)?;
    let ckpt = dir.best_checkpoint();
    inst.vs.load(&ckpt).with_context(|| {
        format!(
            "cannot load checkpoint `{}` (missing, partial, or from another model)",
            ckpt.display()
        )
    })?;
    Ok(inst)
}
