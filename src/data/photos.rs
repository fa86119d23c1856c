//! `photos`: patches of real colour photographs, the ones scikit-image ships
//! in its wheel (`skimage/data/`), extracted by `scripts/setup.sh` into
//! `.data/photos/` (see [`photos_dir`]); nothing is downloaded at run
//! time.
//!
//! The rule, for `data.size` = h×w:
//!
//! 1. Each photo is decoded as 8-bit RGB and resized (Catmull-Rom,
//!    aspect ratio kept, sides rounded) so that its shorter side is
//!    `8 · max(h, w)` pixels: 256 for 32×32. Every patch is thus about the
//!    same fraction of a photo whatever the size (for sizes above about 37
//!    pixels, the smaller photos are upsampled).
//! 2. Non-overlapping h×w patches are cut on a regular grid, as many rows
//!    and columns as fit, the grid centred (the leftover margin split evenly,
//!    the odd pixel going right/down), in raster order.
//! 3. Whole photographs are held out: test = every patch of `astronaut` and
//!    `coffee`, validation = every patch of `chelsea`, train = the patches of
//!    the other six (`rocket`, `hubble_deep_field`, `ihc`, `retina`,
//!    `motorcycle_left`, `motorcycle_right`; the two motorcycles are a stereo
//!    pair, both in train).
//! 4. Each split is shuffled with one `ChaCha8Rng::seed_from_u64(0)`, train
//!    first, then validation, then test.
//!
//! For 32×32 this gives 728 patches: 472 train, 96 validation, 160 test.
//! The label of a patch is the index of its photo in [`PHOTOS`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use image::imageops;
use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::folder::{decode_rgb, push_planar, FILTER};
use super::images::{Images, Splits};
use super::Size;

use super::source::{cut_size, Install, SourceDef, COLOUR};

/// `photos`: patches of the scikit-image photographs, cut to `data.size`.
pub const SOURCE: SourceDef = SourceDef {
    name: "photos",
    takes_path: false,
    pixels: COLOUR,
    cuts_to_size: true,
    full_scale: 255.0,
    install: Some(Install {
        dir: photos_dir,
        marker: "chelsea.png",
        how: "bash scripts/setup.sh  (extracts the photos from the scikit-image==0.25.2 wheel)",
    }),
    load: |spec, _| load(&photos_dir(), cut_size(spec)?),
};

/// Where the scikit-image photos live (`ARLAB_PHOTOS_DIR` overrides).
pub fn photos_dir() -> PathBuf {
    std::env::var_os("ARLAB_PHOTOS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".data/photos"))
}

/// Which split a photo's patches go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Train,
    Val,
    Test,
}

/// The photos (file names in the photos directory) and the split of each;
/// a patch's label is its photo's index here.
pub const PHOTOS: [(&str, Role); 9] = [
    ("astronaut.png", Role::Test),
    ("coffee.png", Role::Test),
    ("chelsea.png", Role::Val),
    ("rocket.jpg", Role::Train),
    ("hubble_deep_field.jpg", Role::Train),
    ("ihc.png", Role::Train),
    ("retina.jpg", Role::Train),
    ("motorcycle_left.png", Role::Train),
    ("motorcycle_right.png", Role::Train),
];

/// The shorter side of a photo once resized, for patches of `size`.
pub fn shorter_side(size: Size) -> usize {
    8 * size.height.max(size.width)
}

/// The size (width, height) a `w`×`h` photo is resized to.
fn resized(w: u32, h: u32, size: Size) -> (u32, u32) {
    let s = shorter_side(size) as u64;
    let (w, h) = (w as u64, h as u64);
    let scale = |long: u64, short: u64| ((long * s + short / 2) / short).max(1);
    let (nw, nh) = if w <= h {
        (s, scale(h, w))
    } else {
        (scale(w, h), s)
    };
    (nw as u32, nh as u32)
}

/// The patches of one photo, planar RGB, in raster order of the grid.
fn patches(path: &Path, size: Size) -> Result<Vec<u8>> {
    let photo = decode_rgb(path)?;
    let (nw, nh) = resized(photo.width(), photo.height(), size);
    let photo = imageops::resize(&photo, nw, nh, FILTER);
    let (pw, ph) = (size.width as u32, size.height as u32);
    let (cols, rows) = (nw / pw, nh / ph);
    let (x0, y0) = ((nw - cols * pw) / 2, (nh - rows * ph) / 2);
    let mut pixels = Vec::with_capacity((rows * cols) as usize * 3 * size.height * size.width);
    for r in 0..rows {
        for c in 0..cols {
            let patch = imageops::crop_imm(&photo, x0 + c * pw, y0 + r * ph, pw, ph).to_image();
            push_planar(&mut pixels, &patch);
        }
    }
    Ok(pixels)
}

/// Loads the photos in `dir` as patches of `size` (see the module doc).
pub fn load(dir: &Path, size: Size) -> Result<Splits> {
    if !dir.is_dir() {
        bail!(
            "photos: `{}`: no such directory; install the photos with: bash scripts/setup.sh",
            dir.display()
        );
    }
    let empty = || Images {
        channels: 3,
        height: size.height,
        width: size.width,
        pixels: Vec::new(),
        labels: Some(Vec::new()),
    };
    let (mut train, mut val, mut test) = (empty(), empty(), empty());
    for (index, (name, role)) in PHOTOS.iter().enumerate() {
        let path = dir.join(name);
        if !path.is_file() {
            bail!(
                "photos: `{}` is missing; install the photos with: bash scripts/setup.sh",
                path.display()
            );
        }
        let pixels = patches(&path, size)?;
        let n = pixels.len() / (3 * size.height * size.width);
        let part = match role {
            Role::Train => &mut train,
            Role::Val => &mut val,
            Role::Test => &mut test,
        };
        part.pixels.extend(pixels);
        if let Some(labels) = &mut part.labels {
            labels.extend(std::iter::repeat_n(index as u8, n));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut shuffled = |part: &Images| {
        let mut order: Vec<usize> = (0..part.len()).collect();
        order.shuffle(&mut rng);
        part.select(&order)
    };
    let splits = Splits {
        train: shuffled(&train),
        val: shuffled(&val),
        test: shuffled(&test),
    };
    for (what, part) in [
        ("train", &splits.train),
        ("validation", &splits.val),
        ("test", &splits.test),
    ] {
        if part.is_empty() {
            bail!("photos: no {size} patch fits in the {what} photos (size too large)");
        }
    }
    Ok(splits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed() -> Option<std::path::PathBuf> {
        let dir = super::photos_dir();
        if dir.join("chelsea.png").is_file() {
            Some(dir)
        } else {
            eprintln!(
                "skipping: photos not installed at `{}` (bash scripts/setup.sh)",
                dir.display()
            );
            None
        }
    }

    /// Patches per photo index in `images`.
    fn counts(images: &Images) -> Vec<usize> {
        let mut c = vec![0; PHOTOS.len()];
        for &l in images.labels.as_ref().unwrap() {
            c[l as usize] += 1;
        }
        c
    }

    #[test]
    fn resize_rule() {
        let s32 = Size {
            height: 32,
            width: 32,
        };
        assert_eq!(shorter_side(s32), 256);
        assert_eq!(resized(512, 512, s32), (256, 256));
        assert_eq!(resized(451, 300, s32), (385, 256));
        assert_eq!(resized(300, 451, s32), (256, 385));
        let wide = Size {
            height: 8,
            width: 16,
        };
        assert_eq!(resized(1000, 500, wide), (256, 128));
    }

    #[test]
    fn splits_hold_out_whole_photos() {
        let Some(dir) = installed() else { return };
        let size = Size {
            height: 32,
            width: 32,
        };
        let s = load(&dir, size).unwrap();
        for part in [&s.train, &s.val, &s.test] {
            assert!(!part.is_empty());
            assert_eq!((part.channels, part.height, part.width), (3, 32, 32));
            assert_eq!(part.pixels.len(), part.len() * 3 * 32 * 32);
        }
        // astronaut 512×512 -> 256×256: 8×8 patches; coffee 600×400 ->
        // 384×256: 12×8; chelsea 451×300 -> 385×256: 12×8.
        let (train, val, test) = (counts(&s.train), counts(&s.val), counts(&s.test));
        assert_eq!(test, vec![64, 96, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(val, vec![0, 0, 96, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&train[..3], &[0, 0, 0]);
        assert!(train[3..].iter().all(|&n| n > 0), "{train:?}");
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (472, 96, 160));
        // Shuffled: the test split does not start with all the astronaut patches.
        let labels = s.test.labels.as_ref().unwrap();
        assert!(labels[..64].iter().any(|&l| l != 0));
        // Real photographs, not blank.
        let mean =
            s.train.pixels.iter().map(|&v| v as f64).sum::<f64>() / s.train.pixels.len() as f64;
        assert!(mean > 10.0 && mean < 245.0, "{mean}");

        let again = load(&dir, size).unwrap();
        assert_eq!(s.train, again.train);
        assert_eq!(s.val, again.val);
        assert_eq!(s.test, again.test);

        let small = load(
            &dir,
            Size {
                height: 8,
                width: 16,
            },
        )
        .unwrap();
        assert_eq!((small.test.height, small.test.width), (8, 16));
        // 8×16 patches: astronaut resized to 128×128 holds 16 rows × 8 columns.
        assert_eq!(counts(&small.test)[0], 16 * 8);
    }

    #[test]
    fn missing_photos_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let size = Size {
            height: 4,
            width: 4,
        };
        let err = load(&dir.path().join("nope"), size)
            .unwrap_err()
            .to_string();
        assert!(err.contains("scripts/setup.sh"), "{err}");
        let err = load(dir.path(), size).unwrap_err().to_string();
        assert!(
            err.contains("astronaut.png") && err.contains("setup.sh"),
            "{err}"
        );
    }
}
