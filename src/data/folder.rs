//! `images:PATH`: a folder of your own PNG and JPEG images, as RGB.
//!
//! Every file directly in the folder whose extension is `png`, `jpg` or
//! `jpeg` (any case) is read; subfolders and other files are ignored. Each
//! image is decoded (EXIF orientation applied, gray expanded to RGB, alpha
//! dropped), centre-cropped to the aspect ratio of `data.size` and resized to
//! exactly `data.size` with a Catmull-Rom filter.
//!
//! The split is deterministic: file names sorted, then shuffled with
//! `ChaCha8Rng::seed_from_u64(0)`, then the last 10% (at least 1) is test, the
//! 10% (at least 1) before it validation, the rest train. At least 3 images
//! are needed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::images::{split_tail, Images, Splits};
use super::Size;

use super::source::{cut_size, SourceDef, COLOUR};

/// `images:PATH`: a folder of PNG/JPEG images, cut to `data.size`.
pub const SOURCE: SourceDef = SourceDef {
    name: "images",
    takes_path: true,
    pixels: COLOUR,
    cuts_to_size: true,
    full_scale: 255.0,
    install: None,
    load: |spec, source| load(source.required_path(), cut_size(spec)?),
};

/// The file extensions read (compared case-insensitively).
pub const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The filter used to resize (antialiased when shrinking).
pub(crate) const FILTER: FilterType = FilterType::CatmullRom;

/// Loads the folder `dir`, every image cropped and resized to `size`.
pub fn load(dir: &Path, size: Size) -> Result<Splits> {
    let files = image_files(dir)?;
    if files.len() < 3 {
        bail!(
            "images folder `{}`: only {} image(s); need at least 3 to split into train/validation/test",
            dir.display(),
            files.len()
        );
    }
    let mut pixels = Vec::with_capacity(files.len() * 3 * size.height * size.width);
    for path in &files {
        let img = decode_rgb(path)?;
        push_planar(&mut pixels, &crop_resize(&img, size));
    }
    let all = Images {
        channels: 3,
        height: size.height,
        width: size.width,
        pixels,
        labels: None,
    };
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
    split_tail(
        &all.select(&order),
        &format!("images folder `{}`", dir.display()),
    )
}

/// The PNG/JPEG files directly in `dir`, sorted by name. Errors if `dir` is
/// not a readable directory or holds no such file.
pub(crate) fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!("images folder `{}`: no such directory", dir.display());
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("images folder `{}`: cannot read", dir.display()))?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("images folder `{}`: cannot read", dir.display()))?
            .path();
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
        if !wanted {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => files.push(path),
            Ok(_) => skipped.push(format!("{} (not a file)", path.display())),
            Err(e) => skipped.push(format!("{} ({e})", path.display())),
        }
    }
    if !skipped.is_empty() {
        skipped.sort();
        tracing::warn!(
            "warning: images folder `{}`: {} file(s) skipped: {}",
            dir.display(),
            skipped.len(),
            skipped.join("; ")
        );
    }
    if files.is_empty() {
        bail!(
            "images folder `{}`: no PNG or JPEG images (looked for files ending in .{})",
            dir.display(),
            EXTENSIONS.join(", .")
        );
    }
    files.sort();
    Ok(files)
}

/// The most pixels an image file may have (100 megapixels, 300 MB as
/// 8-bit RGB): larger files are refused from their header, before decoding.
pub const MAX_DECODED_PIXELS: u64 = 100_000_000;

/// Decodes one image file as 8-bit RGB, its EXIF orientation applied; the
/// format is guessed from the contents (falling back on the extension).
/// Refuses a file of more than [`MAX_DECODED_PIXELS`] before decoding it.
pub(crate) fn decode_rgb(path: &Path) -> Result<RgbImage> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot decode image `{}`: {e}", path.display());
    let reader = ImageReader::open(path)
        .with_context(|| format!("cannot read image `{}`", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image `{}`", path.display()))?;
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| anyhow::anyhow!(fail(&e)))?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > MAX_DECODED_PIXELS {
        bail!(
            "image `{}` is {w}×{h} pixels: more than the {} million arlab decodes; \
             shrink it (or leave it out of the folder)",
            path.display(),
            MAX_DECODED_PIXELS / 1_000_000
        );
    }
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| anyhow::anyhow!(fail(&e)))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img.to_rgb8())
}

/// Centre-crops `img` to the aspect ratio of `size` (the largest such
/// window), then resizes it to exactly `size`.
pub(crate) fn crop_resize(img: &RgbImage, size: Size) -> RgbImage {
    let (w, h) = (img.width() as u64, img.height() as u64);
    let (tw, th) = (size.width as u64, size.height as u64);
    // The largest window of aspect tw:th inside w×h (at least 1 pixel).
    let (cw, ch) = if w * th > h * tw {
        (((h * tw + th / 2) / th).clamp(1, w), h)
    } else {
        (w, ((w * th + tw / 2) / tw).clamp(1, h))
    };
    let (x, y) = ((w - cw) / 2, (h - ch) / 2);
    let window = imageops::crop_imm(img, x as u32, y as u32, cw as u32, ch as u32).to_image();
    imageops::resize(&window, size.width as u32, size.height as u32, FILTER)
}

/// Appends `img` in planar order: all R values row-major, then G, then B.
pub(crate) fn push_planar(pixels: &mut Vec<u8>, img: &RgbImage) {
    for c in 0..3 {
        pixels.extend(img.pixels().map(|p| p.0[c]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn size(height: usize, width: usize) -> Size {
        Size { height, width }
    }

    fn solid(w: u32, h: u32, colour: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(w, h, Rgb(colour))
    }

    /// A folder with red, green and blue PNGs of different shapes, a yellow
    /// JPEG (upper-case extension) and files that must be ignored.
    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        solid(40, 20, [255, 0, 0])
            .save(p.join("a_red.png"))
            .unwrap();
        solid(10, 30, [0, 255, 0])
            .save(p.join("b_green.png"))
            .unwrap();
        solid(16, 16, [0, 0, 255])
            .save(p.join("c_blue.png"))
            .unwrap();
        solid(24, 24, [255, 255, 0])
            .save_with_format(p.join("d_yellow.JPG"), image::ImageFormat::Jpeg)
            .unwrap();
        std::fs::write(p.join("notes.txt"), "not an image").unwrap();
        std::fs::create_dir(p.join("sub.png")).unwrap();
        dir
    }

    /// The mean of each channel plane of every image.
    fn plane_means(images: &Images) -> Vec<[f64; 3]> {
        let plane = images.height * images.width;
        (0..images.len())
            .map(|i| {
                let img = images.image(i);
                [0, 1, 2].map(|c| {
                    img[c * plane..(c + 1) * plane]
                        .iter()
                        .map(|&v| v as f64)
                        .sum::<f64>()
                        / plane as f64
                })
            })
            .collect()
    }

    #[test]
    fn loads_png_and_jpeg_as_planar_rgb() {
        let dir = folder();
        let s = load(dir.path(), size(8, 12)).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (2, 1, 1));
        let mut means = Vec::new();
        for part in [&s.train, &s.val, &s.test] {
            assert_eq!(
                (part.channels, part.height, part.width),
                (3, 8, 12),
                "shape"
            );
            assert_eq!(part.pixels.len(), part.len() * 3 * 8 * 12);
            assert!(part.labels.is_none());
            means.extend(plane_means(part));
        }
        // Solid PNG colours survive exactly; the JPEG nearly.
        let exact = |m: &[f64; 3], c: [f64; 3]| m == &c;
        let near = |m: &[f64; 3], c: [f64; 3]| m.iter().zip(c).all(|(a, b)| (a - b).abs() < 4.0);
        assert_eq!(
            means.iter().filter(|m| exact(m, [255.0, 0.0, 0.0])).count(),
            1
        );
        assert_eq!(
            means.iter().filter(|m| exact(m, [0.0, 255.0, 0.0])).count(),
            1
        );
        assert_eq!(
            means.iter().filter(|m| exact(m, [0.0, 0.0, 255.0])).count(),
            1
        );
        assert_eq!(
            means
                .iter()
                .filter(|m| near(m, [255.0, 255.0, 0.0]))
                .count(),
            1
        );
    }

    #[test]
    fn red_image_gives_red_plane_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["r1.png", "r2.png", "r3.png"] {
            solid(5, 7, [255, 0, 0])
                .save(dir.path().join(name))
                .unwrap();
        }
        let s = load(dir.path(), size(4, 4)).unwrap();
        let img = s.train.image(0);
        assert!(img[..16].iter().all(|&v| v == 255));
        assert!(img[16..].iter().all(|&v| v == 0));
    }

    #[test]
    fn planar_order_and_centre_crop() {
        // 6 wide × 2 high: left third red, middle green, right third blue;
        // cropping to 1:1 keeps the middle 2×2 (green).
        let mut img = RgbImage::new(6, 2);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = Rgb(match x {
                0 | 1 => [255, 0, 0],
                2 | 3 => [0, 255, 0],
                _ => [0, 0, 255],
            });
        }
        let out = crop_resize(&img, size(2, 2));
        assert!(out.pixels().all(|p| p.0 == [0, 255, 0]));

        // Planar layout: R values, then G, then B.
        let mut planar = Vec::new();
        let mut two = RgbImage::new(2, 1);
        two.put_pixel(0, 0, Rgb([1, 2, 3]));
        two.put_pixel(1, 0, Rgb([4, 5, 6]));
        push_planar(&mut planar, &two);
        assert_eq!(planar, vec![1, 4, 2, 5, 3, 6]);

        // Wide and tall sources, non-square targets.
        let wide = crop_resize(&solid(100, 10, [9, 9, 9]), size(3, 30));
        assert_eq!(wide.dimensions(), (30, 3));
        let tall = crop_resize(&solid(10, 100, [9, 9, 9]), size(30, 3));
        assert_eq!(tall.dimensions(), (3, 30));
        assert!(tall.pixels().all(|p| p.0 == [9, 9, 9]));
    }

    #[test]
    fn deterministic() {
        let dir = folder();
        let a = load(dir.path(), size(6, 6)).unwrap();
        let b = load(dir.path(), size(6, 6)).unwrap();
        assert_eq!(a.train, b.train);
        assert_eq!(a.val, b.val);
        assert_eq!(a.test, b.test);
    }

    #[test]
    fn errors_name_the_problem() {
        let missing = tempfile::tempdir().unwrap().path().join("nope");
        let err = load(&missing, size(4, 4)).unwrap_err().to_string();
        assert!(err.contains("no such directory"), "{err}");

        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join("readme.txt"), "x").unwrap();
        let err = load(empty.path(), size(4, 4)).unwrap_err().to_string();
        assert!(
            err.contains("no PNG or JPEG") && err.contains(".png, .jpg, .jpeg"),
            "{err}"
        );

        let two = tempfile::tempdir().unwrap();
        for name in ["a.png", "b.png"] {
            solid(4, 4, [1, 2, 3]).save(two.path().join(name)).unwrap();
        }
        let err = load(two.path(), size(4, 4)).unwrap_err().to_string();
        assert!(err.contains("only 2 image(s)"), "{err}");

        let corrupt = folder();
        std::fs::write(corrupt.path().join("x.png"), b"\x89PNG garbage bytes").unwrap();
        let err = format!("{:#}", load(corrupt.path(), size(4, 4)).unwrap_err());
        assert!(
            err.contains("cannot decode image") && err.contains("x.png"),
            "{err}"
        );
        let junk = folder();
        std::fs::write(junk.path().join("y.jpeg"), b"hello").unwrap();
        let err = format!("{:#}", load(junk.path(), size(4, 4)).unwrap_err());
        assert!(err.contains("y.jpeg"), "{err}");
    }
}
