//! The `data:` section of a spec, as typed values: the source, the pixel
//! form, binarization, the image size and split limits.
use std::fmt;
use std::str::FromStr;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use serde_with::{DeserializeFromStr, SerializeDisplay};

use super::numpy::Layout;
use super::Source;

/// How pixel values are modelled.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PixelForm {
    /// One channel of 0/1 pixels with Bernoulli conditionals.
    #[default]
    Binary,
    /// One channel of 8-bit levels with 256-way conditionals.
    Gray256,
    /// Three channels (R, G, B) of 8-bit levels, 256-way conditionals each.
    Rgb,
}

impl PixelForm {
    pub const ALL: [PixelForm; 3] = [PixelForm::Binary, PixelForm::Gray256, PixelForm::Rgb];

    pub fn name(self) -> &'static str {
        match self {
            PixelForm::Binary => "binary",
            PixelForm::Gray256 => "gray256",
            PixelForm::Rgb => "rgb",
        }
    }
    /// Channels per pixel.
    pub fn channels(self) -> usize {
        match self {
            PixelForm::Rgb => 3,
            _ => 1,
        }
    }
    /// Values a channel takes.
    pub fn levels(self) -> usize {
        match self {
            PixelForm::Binary => 2,
            _ => 256,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Binarize {
    /// x > threshold, fixed.
    #[default]
    Threshold,
    /// One Bernoulli draw per pixel (p = level / the source's full scale: 255,
    /// or 256 for the classic MNIST), fixed by `binarize_seed`.
    Stochastic,
    /// Fresh draws every training epoch; validation and test fixed once.
    Dynamic,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// A name from [`super::SOURCES`], with `:PATH` for the user's files.
    pub source: Source,
    #[serde(default)]
    pub pixels: PixelForm,
    #[serde(default)]
    pub binarize: Binarize,
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    #[serde(default)]
    pub binarize_seed: u64,
    /// Expected size `HxW` of the images in the source (before `downscale`);
    /// data of another size is an error instead of a surprise. For
    /// `images:PATH` and `photos`, the size the images are cut to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
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
    /// The axes of 4-axis `npy:`/`npz:` arrays (read off the shape when
    /// left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
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

impl DataSpec {
    /// Checks value ranges and that the source holds the pixel form asked
    /// for; errors name the field.
    pub fn validate(&self) -> Result<()> {
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            bail!("data.threshold: must be in (0, 1), got {}", self.threshold);
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
        if self.source.is(&super::synthetic::SOURCE) {
            if s.height == 0 || s.width == 0 || s.train == 0 || s.val == 0 || s.test == 0 {
                bail!("data.synthetic: height, width, train, val and test must all be at least 1");
            }
            check_side("data.synthetic", s.height, s.width)?;
            check_data_memory(self, s)?;
        }
        if let Some(size) = self.size {
            check_side("data.size", size.height, size.width)?;
        }
        let def = self.source.def();
        if self.layout.is_some()
            && !(self.source.is(&super::numpy::NPY) || self.source.is(&super::numpy::NPZ))
        {
            bail!(
                "data.layout: only for `npy:PATH` and `npz:PATH` sources, not `{}`",
                self.source
            );
        }
        if self.source.is(&super::mnist_classic::BINARIZED) {
            if self.pixels != PixelForm::Binary {
                bail!(
                    "data.pixels: `binarized-mnist` is binary; for the 8-bit digits use \
                     `source: mnist-full` with `pixels: {}`",
                    self.pixels.name()
                );
            }
            if self.binarize == Binarize::Threshold {
                bail!(
                    "data.binarize: `binarized-mnist` is binarized by drawing each pixel with \
                     p = level/256; say `binarize: stochastic` (drawn once, the papers' fixed \
                     binarization) or `binarize: dynamic` (drawn every epoch); for thresholded \
                     digits use `source: mnist-full`"
                );
            }
        }
        if !def.pixels.contains(&self.pixels) {
            if self.pixels == PixelForm::Rgb {
                bail!(
                    "data.pixels: `rgb` needs a colour source ({}); `{}` holds gray images",
                    super::source::colour_sources(),
                    self.source
                );
            }
            bail!(
                "data.pixels: `{}` holds colour images; use `pixels: rgb`",
                self.source
            );
        }
        if def.cuts_to_size && self.size.is_none() {
            bail!(
                "data.size: `{}` needs the size to cut its images to, e.g. `size: 32x32`",
                self.source
            );
        }
        Ok(())
    }
}

/// The largest image side arlab takes (`data.size`, synthetic images): an
/// autoregressive model takes one step per pixel, and `photos` resizes its
/// photos to 8 times the side before cutting patches.
pub const MAX_SIDE: usize = 1024;

/// Refuses a side over [`MAX_SIDE`] before any image is decoded or made.
fn check_side(field: &str, height: usize, width: usize) -> Result<()> {
    if height > MAX_SIDE || width > MAX_SIDE {
        bail!(
            "{field}: {height}x{width} is too large: the limit is {MAX_SIDE} pixels a side \
             (autoregressive models take one step per pixel); cut your images smaller"
        );
    }
    Ok(())
}

/// Refuses synthetic data larger than this machine's available memory
/// (bytes, and float32 once a batch is made of them: 5 bytes a value).
fn check_data_memory(spec: &DataSpec, s: &SyntheticSpec) -> Result<()> {
    let images = (s.train as u128) + (s.val as u128) + (s.test as u128);
    let values = images * (s.height * s.width * spec.pixels.channels()) as u128;
    let need = values.saturating_mul(5);
    let Some(mem) = crate::device::memory(tch::Device::Cpu) else {
        return Ok(());
    };
    if need > mem.available as u128 {
        bail!(
            "data.synthetic: {images} images of {}x{} need about {}, more than the {} available \
             of {}: ask for fewer images",
            s.height,
            s.width,
            crate::device::human_bytes(need),
            crate::device::human_bytes(mem.available as u128),
            mem.what
        );
    }
    Ok(())
}

/// An image size `HxW` (or `N` for N×N), both positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, SerializeDisplay, DeserializeFromStr)]
pub struct Size {
    pub height: usize,
    pub width: usize,
}

impl FromStr for Size {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Size> {
        let parse = |v: &str| v.trim().parse::<usize>().ok().filter(|&n| n > 0);
        let hw = match s.split_once(['x', 'X', '×']) {
            Some((h, w)) => parse(h).zip(parse(w)),
            None => parse(s).map(|n| (n, n)),
        };
        let (height, width) = hw
            .ok_or_else(|| anyhow!("expected HxW with positive integers, e.g. 28x28, got {s:?}"))?;
        Ok(Size { height, width })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.height, self.width)
    }
}
