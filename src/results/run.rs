//! A run as its directory holds it: the model built from the run's spec
//! (fresh, for training, or with its best checkpoint), its spec and its
//! data, checked against the shape it was trained on. A model exported as
//! `.safetensors` (results::safetensors) stands in for its run directory.
use std::path::Path;

use anyhow::{bail, Context, Result};
use tch::{nn, Device};

use super::{safetensors, RunDir};
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
    run.model.def().check_shape(shape)?;
    super::memory::check_model(run, shape, device)?;
    tch::manual_seed(run.seed as i64);
    let vs = nn::VarStore::new(device);
    let model = run.model.build_run(&vs.root(), shape, &run.ordering)?;
    Ok(Instance { vs, model, device })
}

/// Loads a trained model from `path`: a run directory (its spec and best
/// checkpoint) or a model exported as `.safetensors`.
pub fn load_trained(
    path: &Path,
    data_override: Option<&str>,
) -> Result<(RunSpec, Dataset, Instance)> {
    if is_exported(path) {
        return load_exported(path, data_override);
    }
    load_run(&open_run_dir(path)?, data_override)
}

/// `path` as a run directory, refused unless it holds a spec.yaml.
pub fn open_run_dir(path: &Path) -> Result<RunDir> {
    let dir = RunDir::new(path);
    if !dir.spec().is_file() {
        bail!(
            "`{}` is not a run directory (it has no spec.yaml)",
            path.display()
        );
    }
    Ok(dir)
}

/// Loads a run directory's spec and best checkpoint.
pub fn load_run(dir: &RunDir, data_override: Option<&str>) -> Result<(RunSpec, Dataset, Instance)> {
    let run = run_spec(dir, parse_source(data_override)?)?;
    let data = load_run_data(dir, &run)?;
    let inst = load_model(dir, &run, data.shape)?;
    Ok((run, data, inst))
}

fn parse_source(data_override: Option<&str>) -> Result<Option<Source>> {
    data_override.map(str::parse).transpose().context("--data")
}

/// A run directory's run, its data source replaced by `source` when given:
/// the run's pixel form, binarization and split limits then apply to it.
pub fn run_spec(dir: &RunDir, source: Option<Source>) -> Result<RunSpec> {
    first_run(Spec::load(&dir.spec(), &[])?, source)
}

/// The one run of a run's spec, its data source replaced by `source`.
fn first_run(mut spec: Spec, source: Option<Source>) -> Result<RunSpec> {
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
    match dir.read_summary() {
        Ok(t) => check_shape((t.channels, t.height, t.width), &run.id(), what, s),
        Err(_) => Ok(()),
    }
}

/// Refuses images of `shape` (from `what`) for the run `name` trained on
/// `trained` = (C, H, W).
fn check_shape(
    trained: (usize, usize, usize),
    name: &str,
    what: &str,
    s: ImageShape,
) -> Result<()> {
    let (c, h, w) = trained;
    if (c, h, w) != (s.channels, s.height, s.width) {
        bail!(
            "the images of `{what}` are {}×{}×{}, but run {name} was trained on {c}×{h}×{w} images (C×H×W)",
            s.channels,
            s.height,
            s.width,
        );
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

/// Whether `path` names an exported model rather than a run directory.
pub fn is_exported(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "safetensors")
}

/// Loads a model exported as `.safetensors` (`arlab export`, or a run's
/// `checkpoints/best.safetensors`): the spec in its metadata, that spec's
/// data (or `data_override`), and its tensors.
pub fn load_exported(
    path: &Path,
    data_override: Option<&str>,
) -> Result<(RunSpec, Dataset, Instance)> {
    let header = safetensors::read_header(path)?;
    let origin = format!("{} (arlab.spec)", path.display());
    let spec = Spec::parse(&header.spec, &origin, &[])?;
    let run = first_run(spec, parse_source(data_override)?)?;
    let data = Dataset::load(&run.spec.data)?;
    let what = run.spec.data.source.to_string();
    check_shape(header.shape, &header.run, &what, data.shape)?;
    let mut inst = instantiate(&run, data.shape)?;
    safetensors::load(&mut inst.vs, path)?;
    Ok((run, data, inst))
}

/// Writes the best checkpoint of the run in `dir` as one `.safetensors`
/// file with the run's spec in its metadata.
pub fn export(dir: &RunDir, out: &Path) -> Result<()> {
    let run = run_spec(dir, None)?;
    let shape = match dir.read_summary() {
        Ok(s) => ImageShape::new(run.spec.data.pixels, s.height, s.width),
        // A run stopped before its summary: its data says.
        Err(_) => load_run_data(dir, &run)?.shape,
    };
    let inst = load_model(dir, &run, shape)?;
    let spec = std::fs::read_to_string(dir.spec())
        .with_context(|| format!("cannot read `{}`", dir.spec().display()))?;
    safetensors::save(&inst.vs, &spec, &run_name(dir), shape, out)
}

/// The run directory's name (the run's id, with any swept values).
pub fn run_name(dir: &RunDir) -> String {
    dir.root
        .canonicalize()
        .unwrap_or_else(|_| dir.root.clone())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
