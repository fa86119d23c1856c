//! The results tree:
//!
//! ```text
//! results/<experiment>/
//!   comparison.csv  comparison.md  nll_curves.png  samples.png
//!   <model>-<ordering>-s<seed>/
//!     spec.yaml  metrics.csv  summary.json  nll_curve.png
//!     test_log_probs.npy   (per-image test log p(x), float64 nats)
//!     samples/epoch-NNNN.png  checkpoints/{best,last}.ot  log.txt
//!     checkpoints/best.safetensors   (the best checkpoint for Python)
//!     tensorboard/events.out.tfevents.*   (with `train.tensorboard: true`)
//!     ensemble.csv  ensemble/<member>.npy   (with `eval.orderings`)
//! ```
//! Every file is written to a temporary name and renamed into place, so a
//! reader never sees half a file.
pub mod chart;
pub mod compare;
pub mod ensemble_plot;
pub mod figures;
pub mod members;
pub mod memory;
pub mod npy;
pub mod paired;
pub mod plots;
pub mod ranked_plots;
pub mod ranked_tables;
pub mod run;
pub mod safetensors;
pub mod tensorboard;
pub mod unfinished;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Per-run summary, `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub experiment: String,
    pub run: String,
    pub model: String,
    pub model_type: String,
    pub ordering: String,
    pub seed: u64,
    pub parameters: i64,
    /// Channels per pixel (1 gray or binary, 3 RGB).
    #[serde(default = "one")]
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `binary`, `gray256` or `rgb`.
    #[serde(default = "binary")]
    pub pixels: String,
    pub data: String,
    pub binarization: String,
    pub device: String,
    pub epochs_run: usize,
    pub best_epoch: usize,
    /// Absent when no epoch finished.
    pub best_val_nll: Option<f64>,
    /// Absent for a failed run.
    pub test_nll: Option<f64>,
    pub test_bits_per_dim: Option<f64>,
    pub test_images: usize,
    /// The test images' fingerprint (`Dataset::fingerprint`): runs compare
    /// image by image only when theirs agree (absent in older summaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_data: Option<String>,
    pub train_seconds: f64,
    pub train_images_per_s: f64,
    pub eval_images_per_s: f64,
    pub stopped_early: bool,
    /// `ok`, or `failed: <reason>`.
    pub status: String,
    /// The values a `sweep:` gave this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub swept: Vec<crate::spec::Swept>,
    /// What reproduces the run (absent in summaries of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::runtime::provenance::Provenance>,
    /// The model's published number (`reference:` in the spec) and the
    /// run's number that compares with it (absent without a reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Published>,
    /// The last epoch trained before `arlab run --extend` asked for more
    /// epochs (absent: never extended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_from_epoch: Option<usize>,
}

/// A published test NLL and the run's own number that compares with it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Published {
    /// Published test NLL, nats per image.
    pub nll: f64,
    pub source: String,
    /// The published number is an ensemble of this many members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<usize>,
    /// The run's test NLL that compares with `nll`: of the best-validation
    /// checkpoint, or of its ensemble of `ensemble` members (`ensemble.csv`);
    /// absent when the run has no such number (failed, or no such ensemble).
    pub arlab_nll: Option<f64>,
}

impl Published {
    /// `reference` with the run's test NLL, or the NLL of its ensemble of
    /// as many members as the published one had (from `ensemble` rows).
    pub fn of(
        reference: &crate::models::Reference,
        test_nll: Option<f64>,
        ensemble: &[EnsembleRow],
    ) -> Published {
        let arlab_nll = match reference.ensemble {
            None => test_nll,
            Some(n) => ensemble
                .iter()
                .find(|r| r.kind == "ensemble" && r.n == n)
                .map(|r| r.nll),
        };
        Published {
            nll: reference.nll,
            source: reference.source.clone(),
            ensemble: reference.ensemble,
            arlab_nll,
        }
    }

    /// The run's number minus the published one (negative: arlab is better).
    pub fn delta(&self) -> Option<f64> {
        self.arlab_nll.map(|x| x - self.nll)
    }

    /// `88.33 (Uria et al. 2014)`, with the ensemble's size when there is one.
    pub fn label(&self) -> String {
        match self.ensemble {
            None => format!("{:.2} ({})", self.nll, self.source),
            Some(n) => format!("{:.2} ({}; ensemble of {n})", self.nll, self.source),
        }
    }
}

fn one() -> usize {
    1
}
fn binary() -> String {
    "binary".into()
}

impl Summary {
    /// The reason a run failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.status.strip_prefix("failed: ")
    }
}

/// One row of `metrics.csv`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricRow {
    pub epoch: usize,
    pub train_nll: f64,
    /// Empty on epochs without validation (`train.val_every`).
    pub val_nll: Option<f64>,
    pub lr: f64,
    pub seconds: f64,
    pub train_images_per_s: f64,
}

/// One row of `ensemble.csv`: a single member, or the ensemble of the first `n`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EnsembleRow {
    /// `member` or `ensemble`.
    pub kind: String,
    /// Members in the row (1 for a single member).
    pub n: usize,
    /// The member (or the ensemble's members, joined by ` `).
    pub orderings: String,
    pub nll: f64,
    pub bits_per_dim: f64,
}

/// Paths inside one run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }
    pub fn spec(&self) -> PathBuf {
        self.root.join("spec.yaml")
    }
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }
    /// The run's binding to the spec that made it (see `train::binding`).
    pub fn binding(&self) -> PathBuf {
        self.root.join("binding.json")
    }
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }
    /// Test NLL per ordering and of their ensembles (`eval.orderings`).
    pub fn ensemble(&self) -> PathBuf {
        self.root.join("ensemble.csv")
    }
    /// The test ensemble's finished members (see [`members`]).
    pub fn ensemble_members(&self) -> members::MemberStore {
        members::MemberStore::new(self.root.join("ensemble"))
    }
    pub fn read_ensemble(&self) -> Result<Vec<EnsembleRow>> {
        let path = self.ensemble();
        let mut r = csv::Reader::from_path(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        r.deserialize()
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("`{}` is not an ensemble table", path.display()))
    }
    pub fn curve(&self) -> PathBuf {
        self.root.join("nll_curve.png")
    }
    pub fn log(&self) -> PathBuf {
        self.root.join("log.txt")
    }
    pub fn samples_dir(&self) -> PathBuf {
        self.root.join("samples")
    }
    pub fn samples(&self, epoch: usize) -> PathBuf {
        self.samples_dir().join(format!("epoch-{epoch:04}.png"))
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    pub fn best_checkpoint(&self) -> PathBuf {
        self.checkpoints().join("best.ot")
    }
    /// The best checkpoint with the run's spec, as safetensors (docs/python.md).
    pub fn best_safetensors(&self) -> PathBuf {
        self.checkpoints().join("best.safetensors")
    }
    /// log p(x) in nats of every test image, in test-set order (float64 .npy).
    pub fn test_log_probs(&self) -> PathBuf {
        self.root.join("test_log_probs.npy")
    }
    pub fn last_checkpoint(&self) -> PathBuf {
        self.checkpoints().join("last.ot")
    }

    /// Removes temporary files a killed writer may have left behind.
    pub fn remove_temp_files(&self) {
        for dir in [self.root.clone(), self.samples_dir(), self.checkpoints()] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.contains(".tmp") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }

    pub fn create(&self) -> Result<()> {
        for dir in [self.root.clone(), self.samples_dir(), self.checkpoints()] {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create results directory `{}`", dir.display()))?;
        }
        Ok(())
    }

    /// The run's summary when it finished: `Ok(None)` without a
    /// summary.json, an error when the file is there but cannot be read.
    pub fn finished_summary(&self) -> Result<Option<Summary>> {
        if !self.summary().exists() {
            return Ok(None);
        }
        self.read_summary().map(Some)
    }

    pub fn read_summary(&self) -> Result<Summary> {
        let path = self.summary();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not a valid summary", path.display()))
    }

    pub fn read_metrics(&self) -> Result<Vec<MetricRow>> {
        let path = self.metrics();
        let mut reader = csv::Reader::from_path(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        reader
            .deserialize()
            .collect::<Result<Vec<MetricRow>, _>>()
            .with_context(|| format!("`{}` is not a valid metrics file", path.display()))
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    with_temp_file(path, |tmp| {
        let mut f = std::fs::File::create(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(())
    })
    .with_context(|| format!("cannot write `{}`", path.display()))
}

/// Runs `write` on a temporary path, then renames it to `path`.
pub fn with_temp_file(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temp_path(path);
    match write(&tmp) {
        Ok(()) => std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot write `{}`", path.display())),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `dir/name.tmp.ext` (keeps the extension, which some writers dispatch on).
fn temp_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("file");
    let name = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!(".{stem}.tmp.{ext}"),
        None => format!(".{stem}.tmp"),
    };
    path.with_file_name(name)
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    write_atomic(path, &bytes)
}
