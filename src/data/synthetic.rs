//! Small generated image sets for tests and demos.
//!
//! Each image is black (level 0) with one white (level 255) shape: a filled
//! axis-aligned rectangle, a full-width horizontal bar or a full-height
//! vertical bar. The label is the shape kind (0, 1 or 2 respectively).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::images::{Images, Splits};

use super::source::SourceDef;
use super::PixelForm;

/// `synthetic`: generated shapes (`data.synthetic` sets their size and
/// counts), gray or colour.
pub const SOURCE: SourceDef = SourceDef {
    name: "synthetic",
    takes_path: false,
    pixels: &PixelForm::ALL,
    cuts_to_size: false,
    full_scale: 255.0,
    install: None,
    load: |spec, _| {
        let s = &spec.synthetic;
        let channels = spec.pixels.channels();
        Ok(splits(
            s.height, s.width, channels, s.train, s.val, s.test, s.seed,
        ))
    },
};

/// A random non-empty range `[start, end)` within `0..len` (`len >= 1`), at
/// most `max_extent` long (`max_extent >= 1`).
fn random_span(rng: &mut ChaCha8Rng, len: usize, max_extent: usize) -> (usize, usize) {
    let extent = rng.random_range(1..=max_extent.min(len));
    let start = rng.random_range(0..=len - extent);
    (start, start + extent)
}

/// `count` structured `height`×`width` images with levels 0 or 255 and shape
/// labels, deterministic given `seed`. A zero `height` or `width` gives an
/// empty set (no images) rather than a panic.
pub fn generate(height: usize, width: usize, count: usize, seed: u64) -> Images {
    if height == 0 || width == 0 {
        return Images {
            channels: 1,
            height,
            width,
            pixels: Vec::new(),
            labels: Some(Vec::new()),
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = vec![0u8; count * height * width];
    let mut labels = Vec::with_capacity(count);
    for img in pixels.chunks_exact_mut(height * width) {
        let kind: u8 = rng.random_range(0..3);
        let bar = |n: usize| (n / 3).max(1);
        let ((y0, y1), (x0, x1)) = match kind {
            0 => (
                random_span(&mut rng, height, height),
                random_span(&mut rng, width, width),
            ),
            1 => (random_span(&mut rng, height, bar(height)), (0, width)),
            _ => ((0, height), random_span(&mut rng, width, bar(width))),
        };
        for row in img.chunks_exact_mut(width).take(y1).skip(y0) {
            row[x0..x1].fill(255);
        }
        labels.push(kind);
    }
    Images {
        channels: 1,
        height,
        width,
        pixels,
        labels: Some(labels),
    }
}

/// Train/validation/test sets generated from seeds `seed`, `seed + 1`, `seed + 2`.
/// With `channels = 3`, each shape gets a random colour (see [`colourize`]).
pub fn splits(
    height: usize,
    width: usize,
    channels: usize,
    n_train: usize,
    n_val: usize,
    n_test: usize,
    seed: u64,
) -> Splits {
    let make = |n, s: u64| {
        let gray = generate(height, width, n, s);
        if channels == 3 {
            colourize(&gray, s)
        } else {
            gray
        }
    };
    Splits {
        train: make(n_train, seed),
        val: make(n_val, seed.wrapping_add(1)),
        test: make(n_test, seed.wrapping_add(2)),
    }
}

/// RGB versions of gray shape images: each image's white shape gets a random
/// colour (each channel 64..=255) on black, deterministic given `seed`.
pub fn colourize(gray: &Images, seed: u64) -> Images {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC0_10_52);
    let plane = gray.height * gray.width;
    let mut pixels = Vec::with_capacity(gray.pixels.len() * 3);
    for img in gray.pixels.chunks_exact(plane.max(1)) {
        let colour: [u8; 3] = [0, 1, 2].map(|_| rng.random_range(64..=255));
        for level in colour {
            pixels.extend(img.iter().map(|&p| if p > 0 { level } else { 0 }));
        }
    }
    Images {
        channels: 3,
        height: gray.height,
        width: gray.width,
        pixels,
        labels: gray.labels.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_binary_and_structured() {
        let a = generate(8, 6, 200, 7);
        assert_eq!(a, generate(8, 6, 200, 7));
        assert_ne!(a, generate(8, 6, 200, 8));
        assert_eq!((a.len(), a.height, a.width), (200, 8, 6));
        assert!(a.pixels.iter().all(|&p| p == 0 || p == 255));
        let labels = a.labels.as_ref().unwrap();
        for k in 0..3 {
            assert!(labels.contains(&k));
        }
        for (i, &label) in labels.iter().enumerate() {
            let img = a.image(i);
            assert!(img.contains(&255), "image {i} is blank");
            let rows: Vec<&[u8]> = img.chunks(6).collect();
            match label {
                // Horizontal bar: every row is all-on or all-off.
                1 => assert!(rows.iter().all(|r| r.iter().all(|&p| p == r[0]))),
                // Vertical bar: every row equals the first.
                2 => assert!(rows.iter().all(|r| *r == rows[0])),
                _ => {}
            }
        }
    }

    #[test]
    fn tiny_sizes_and_splits() {
        assert_eq!(generate(1, 1, 3, 0).pixels, vec![255; 3]);
        assert!(generate(2, 2, 0, 0).is_empty());
        assert!(generate(0, 3, 5, 0).is_empty());
        assert!(generate(3, 0, 5, 0).is_empty());
        let s = splits(2, 3, 1, 5, 2, 1, 42);
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (5, 2, 1));
        assert_eq!(s.val, generate(2, 3, 2, 43));
        assert_eq!(s.test, generate(2, 3, 1, 44));
    }
}
