//! Fashion-MNIST as Debian's `dataset-fashion-mnist` installs it: the four
//! IDX files (gzipped) of the original release, read by [`super::idx`].
use std::path::PathBuf;

use super::source::{Install, SourceDef, GRAY};

/// `fashion-mnist`: 60,000 training (the last 5,000 for validation) and
/// 10,000 test images.
pub const SOURCE: SourceDef = SourceDef {
    name: "fashion-mnist",
    takes_path: false,
    pixels: GRAY,
    cuts_to_size: false,
    full_scale: 255.0,
    install: Some(Install {
        dir: fashion_mnist_dir,
        marker: "train-images-idx3-ubyte.gz",
        how: "bash scripts/setup.sh  (apt-get install dataset-fashion-mnist)",
    }),
    load: |_, _| super::idx::load_source(&fashion_mnist_dir()),
};

/// Where Debian's `dataset-fashion-mnist` lives (`ARLAB_FASHION_MNIST_DIR` overrides).
pub fn fashion_mnist_dir() -> PathBuf {
    std::env::var_os("ARLAB_FASHION_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"))
}
