//! In-memory 8-bit image sets (gray or colour) and their train/validation/test splits.

use anyhow::{bail, Result};

/// A set of images, 8-bit levels 0..=255, image after image; each image is
/// `channels` planes (1 for gray, 3 for RGB: R, then G, then B), each plane
/// row-major: the layout of a `[N, C, H, W]` tensor.
///
/// Invariant: `pixels.len() == len() * channels * height * width`, and
/// `labels`, when present, holds one label per image.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub pixels: Vec<u8>,
    pub labels: Option<Vec<u8>>,
}

impl Images {
    /// Gray images (one channel).
    pub fn gray(height: usize, width: usize, pixels: Vec<u8>, labels: Option<Vec<u8>>) -> Images {
        Images {
            channels: 1,
            height,
            width,
            pixels,
            labels,
        }
    }

    /// Values per image (channels × height × width).
    fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        match self.image_size() {
            0 => 0,
            size => self.pixels.len() / size,
        }
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pixels of image `i`. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.image_size();
        &self.pixels[i * size..(i + 1) * size]
    }

    /// Images `[start, end)` (labels too). Panics unless `start <= end <= len()`.
    pub fn slice(&self, start: usize, end: usize) -> Images {
        assert!(
            start <= end && end <= self.len(),
            "slice {start}..{end} out of range for {} images",
            self.len()
        );
        let size = self.image_size();
        Images {
            channels: self.channels,
            height: self.height,
            width: self.width,
            pixels: self.pixels[start * size..end * size].to_vec(),
            labels: self.labels.as_ref().map(|l| l[start..end].to_vec()),
        }
    }

    /// The images at `indices`, in that order (labels too). Panics if an index
    /// is out of range.
    pub fn select(&self, indices: &[usize]) -> Images {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_size());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Images {
            channels: self.channels,
            height: self.height,
            width: self.width,
            pixels,
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
        }
    }

    /// Average-pool by an integer factor (28 -> 14 with factor 2), rounding to
    /// the nearest level (halves round up). Errors if the factor is zero or
    /// does not divide both the height and the width.
    pub fn downscale(&self, factor: usize) -> Result<Images> {
        if factor == 0 {
            bail!("downscale factor must be at least 1");
        }
        if !self.height.is_multiple_of(factor) {
            bail!(
                "cannot downscale: height {} is not divisible by factor {factor}",
                self.height
            );
        }
        if !self.width.is_multiple_of(factor) {
            bail!(
                "cannot downscale: width {} is not divisible by factor {factor}",
                self.width
            );
        }
        let (h, w) = (self.height / factor, self.width / factor);
        let area = (factor * factor) as u32;
        let mut pixels = Vec::with_capacity(self.len() * h * w);
        let plane = self.height * self.width;
        for img in self.pixels.chunks_exact(plane) {
            for y in 0..h {
                for x in 0..w {
                    let mut sum = 0u32;
                    for dy in 0..factor {
                        let row = (y * factor + dy) * self.width + x * factor;
                        sum += img[row..row + factor]
                            .iter()
                            .map(|&p| p as u32)
                            .sum::<u32>();
                    }
                    // Every term is <= 255, so the rounded mean fits in a u8.
                    pixels.push(((sum + area / 2) / area) as u8);
                }
            }
        }
        Ok(Images {
            channels: self.channels,
            height: h,
            width: w,
            pixels,
            labels: self.labels.clone(),
        })
    }

    /// Keep the first `n` images (no-op if `n >= len()`).
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.pixels.truncate(n * self.image_size());
            if let Some(labels) = &mut self.labels {
                labels.truncate(n);
            }
        }
    }
}

/// Train, validation and test sets.
#[derive(Clone, Debug)]
pub struct Splits {
    pub train: Images,
    pub val: Images,
    pub test: Images,
}

/// Split in order: the last 10% (at least 1) is test, the 10% (at least 1)
/// before it validation, the rest train. Needs at least 3 images; `what`
/// names the source in the error.
pub(crate) fn split_tail(images: &Images, what: &str) -> Result<Splits> {
    let n = images.len();
    if n < 3 {
        bail!("{what}: only {n} image(s); need at least 3 to split into train/validation/test");
    }
    let tenth = (n / 10).max(1);
    let (val_start, test_start) = (n - 2 * tenth, n - tenth);
    Ok(Splits {
        train: images.slice(0, val_start),
        val: images.slice(val_start, test_start),
        test: images.slice(test_start, n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn four_by_four() -> Images {
        #[rustfmt::skip]
        let pixels = vec![
            0, 2, 10, 10,
            4, 5, 10, 11,
            255, 255, 0, 0,
            255, 254, 0, 1,
        ];
        Images::gray(4, 4, pixels, Some(vec![7]))
    }

    #[test]
    fn downscale_exact_values() {
        let small = four_by_four().downscale(2).unwrap();
        assert_eq!((small.height, small.width), (2, 2));
        // 11/4 = 2.75 -> 3; 41/4 = 10.25 -> 10; 1019/4 = 254.75 -> 255; 1/4 -> 0
        assert_eq!(small.pixels, vec![3, 10, 255, 0]);
        assert_eq!(small.labels, Some(vec![7]));
        assert_eq!(four_by_four().downscale(1).unwrap(), four_by_four());
    }

    #[test]
    fn downscale_rejects_non_divisible() {
        let err = four_by_four().downscale(3).unwrap_err().to_string();
        assert!(
            err.contains("height 4") && err.contains("factor 3"),
            "{err}"
        );
        let mut wide = four_by_four();
        wide.height = 2;
        wide.width = 8;
        let err = wide.downscale(4).unwrap_err().to_string();
        assert!(
            err.contains("height 2") && err.contains("factor 4"),
            "{err}"
        );
        wide.height = 8;
        wide.width = 2;
        let err = wide.downscale(4).unwrap_err().to_string();
        assert!(err.contains("width 2"), "{err}");
        assert!(four_by_four().downscale(0).is_err());
    }

    #[test]
    fn slice_select_truncate() {
        let imgs = Images::gray(1, 2, (0..10).collect(), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(imgs.len(), 5);
        assert_eq!(imgs.image(2), &[4, 5]);
        let s = imgs.slice(1, 3);
        assert_eq!(s.pixels, vec![2, 3, 4, 5]);
        assert_eq!(s.labels, Some(vec![1, 2]));
        let sel = imgs.select(&[4, 0]);
        assert_eq!(sel.pixels, vec![8, 9, 0, 1]);
        assert_eq!(sel.labels, Some(vec![4, 0]));
        let mut t = imgs.clone();
        t.truncate(10);
        assert_eq!(t, imgs);
        t.truncate(2);
        assert_eq!(t.len(), 2);
        assert_eq!(t.labels, Some(vec![0, 1]));
        assert!(imgs.slice(5, 5).is_empty());
    }

    #[test]
    fn split_tail_sizes() {
        let imgs = |n: usize| Images::gray(1, 1, vec![0; n], None);
        let sizes = |n| {
            let s = split_tail(&imgs(n), "x").unwrap();
            (s.train.len(), s.val.len(), s.test.len())
        };
        assert_eq!(sizes(3), (1, 1, 1));
        assert_eq!(sizes(25), (21, 2, 2));
        assert_eq!(sizes(100), (80, 10, 10));
        assert!(split_tail(&imgs(2), "x").is_err());
    }
}
