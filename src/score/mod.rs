//! Per-image scores of a trained model: log p(x) in nats, bits/dim, and the
//! complexity-corrected score of Serrà et al. (2020),
//! S(x) = −log₂ p(x) − L(x), where L(x) is the length in bits of x
//! losslessly compressed by a generic compressor (here PNG). Likelihoods of
//! simple images are high whatever the model learnt; subtracting what a
//! generic compressor already achieves leaves what the model adds.
pub mod detect;
pub mod ood;
pub mod plots;

use std::f64::consts::LN_2;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::data::ImageShape;
use crate::models::DensityModel;
use crate::results;

/// The per-image quantities of one image set under one model.
pub struct ImageScores {
    /// log p(x) in nats.
    pub log_p: Vec<f64>,
    /// L(x): PNG length in bits.
    pub png_bits: Vec<f64>,
    /// D = C·H·W.
    pub dims: usize,
}

impl ImageScores {
    /// −log₂ p(x) − L(x) in bits, per image.
    pub fn complexity(&self) -> Vec<f64> {
        self.log_p
            .iter()
            .zip(&self.png_bits)
            .map(|(lp, l)| -lp / LN_2 - l)
            .collect()
    }
}

/// One row of `arlab score`'s CSV, and one element of its `.npy` (a
/// structured array with these fields: `index` uint64, the others float64).
#[derive(Debug, Serialize, npyz::Serialize, npyz::AutoSerialize)]
pub struct ScoreRow {
    pub index: u64,
    pub log_prob_nats: f64,
    pub bits_per_dim: f64,
    pub nll_bits: f64,
    pub png_bits: f64,
    pub complexity_bits: f64,
}

/// The CSV rows of `scores`, one per image.
pub fn rows(scores: &ImageScores) -> Vec<ScoreRow> {
    let complexity = scores.complexity();
    (0..scores.log_p.len())
        .map(|i| {
            let nll_bits = -scores.log_p[i] / LN_2;
            ScoreRow {
                index: i as u64,
                log_prob_nats: scores.log_p[i],
                bits_per_dim: nll_bits / scores.dims as f64,
                nll_bits,
                png_bits: scores.png_bits[i],
                complexity_bits: complexity[i],
            }
        })
        .collect()
}

/// Writes `scores` as CSV to `csv` and as a structured `.npy` beside it
/// (same name, `.npy`); returns the `.npy`'s path.
pub fn write(scores: &ImageScores, csv: &Path) -> Result<PathBuf> {
    if csv.extension().is_some_and(|e| e == "npy") {
        bail!(
            "`{}`: name the CSV (e.g. scores.csv); the .npy is written beside it",
            csv.display()
        );
    }
    let rows = rows(scores);
    results::write_csv(csv, &rows)?;
    let npy = csv.with_extension("npy");
    results::npy::write_rows(&npy, &rows)?;
    Ok(npy)
}

/// Scores every image of `x` (`[N, C, H, W]` level values on the CPU):
/// batched log-likelihoods on `device` with a progress bar named `label`,
/// then the PNG lengths.
pub fn score_images(
    model: &dyn DensityModel,
    x: &Tensor,
    batch: usize,
    device: Device,
    label: &str,
) -> Result<ImageScores> {
    let shape = model.shape();
    let png_bits = png_bits_all(x, shape)?;
    Ok(ImageScores {
        log_p: log_probs_with_bar(model, x, batch, device, label),
        png_bits,
        dims: shape.dims(),
    })
}

/// log p(x) in nats of every image, with a progress bar over the images
/// (drawn only on a terminal).
pub fn log_probs_with_bar(
    model: &dyn DensityModel,
    x: &Tensor,
    batch: usize,
    device: Device,
    label: &str,
) -> Vec<f64> {
    let images = x.size()[0] as u64;
    let bar = crate::runtime::progress_bar(false, images, format!("scoring {label}"));
    let log_p = crate::eval::log_probs_with(model, x, batch, device, Kind::Float, |done| {
        bar.inc(done as u64)
    });
    bar.finish_and_clear();
    log_p
}

/// L(x) of every image of `x`, in bits.
pub fn png_bits_all(x: &Tensor, shape: ImageShape) -> Result<Vec<f64>> {
    let n = x.size()[0] as usize;
    let flat = x.to_kind(Kind::Float).flatten(0, -1);
    let values = Vec::<f32>::try_from(&flat).context("image tensor")?;
    let d = shape.dims();
    if values.len() != n * d {
        bail!(
            "the images hold {} values each, but the model takes {}×{}×{} images",
            values.len() / n.max(1),
            shape.channels,
            shape.height,
            shape.width
        );
    }
    values
        .chunks_exact(d.max(1))
        .enumerate()
        .map(|(i, img)| png_bits(img, shape).with_context(|| format!("image {i}")))
        .collect()
}

/// L(x): 8 × the bytes of one image (planar `[C, H, W]` level values) as a
/// PNG at the best compression the encoder offers. The 8-bit levels are
/// encoded; binary 0/1 pixels as 0/255 gray.
pub fn png_bits(img: &[f32], shape: ImageShape) -> Result<f64> {
    let bytes = to_interleaved_u8(img, shape)?;
    let colour = match shape.channels {
        1 => ExtendedColorType::L8,
        3 => ExtendedColorType::Rgb8,
        c => bail!("cannot encode images with {c} channels as PNG (1 or 3)"),
    };
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Best, FilterType::Adaptive)
        .write_image(&bytes, shape.width as u32, shape.height as u32, colour)
        .context("PNG encoding")?;
    Ok(8.0 * png.len() as f64)
}

/// Planar level values → interleaved 8-bit samples (binary scaled to 0/255);
/// a value that is not one of the pixel form's levels is an error.
fn to_interleaved_u8(img: &[f32], shape: ImageShape) -> Result<Vec<u8>> {
    let plane = shape.height * shape.width;
    let scale = if shape.levels == 2 { 255.0 } else { 1.0 };
    let mut out = vec![0u8; img.len()];
    for (k, &v) in img.iter().enumerate() {
        if !(v >= 0.0 && v < shape.levels as f32 && v.fract() == 0.0) {
            bail!(
                "value {v} is not one of the {} levels of {} pixels",
                shape.levels,
                shape.pixels().name()
            );
        }
        let (c, p) = (k / plane, k % plane);
        out[p * shape.channels + c] = (v * scale) as u8;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(levels: usize, h: usize, w: usize) -> ImageShape {
        ImageShape {
            channels: 1,
            height: h,
            width: w,
            levels,
        }
    }

    /// The PNG of the image as the image crate writes it at `Best`, decoded back.
    fn decode(png_bits: f64, img: &[f32], shape: ImageShape) -> image::DynamicImage {
        let bytes = to_interleaved_u8(img, shape).unwrap();
        let mut png = Vec::new();
        PngEncoder::new_with_quality(&mut png, CompressionType::Best, FilterType::Adaptive)
            .write_image(
                &bytes,
                shape.width as u32,
                shape.height as u32,
                ExtendedColorType::L8,
            )
            .unwrap();
        assert_eq!(png_bits, 8.0 * png.len() as f64);
        image::load_from_memory(&png).unwrap()
    }

    #[test]
    fn binary_pixels_are_encoded_as_0_and_255() {
        let shape = gray(2, 2, 3);
        let img = [0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        let bits = png_bits(&img, shape).unwrap();
        let back = decode(bits, &img, shape).to_luma8();
        assert_eq!(back.as_raw(), &vec![0, 255, 255, 0, 0, 255]);
    }

    #[test]
    fn rgb_is_interleaved() {
        let shape = ImageShape {
            channels: 3,
            height: 1,
            width: 2,
            levels: 256,
        };
        // Planar R R, G G, B B.
        let img = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            to_interleaved_u8(&img, shape).unwrap(),
            vec![1, 3, 5, 2, 4, 6]
        );
    }

    #[test]
    fn a_flat_image_compresses_better_than_noise() {
        let shape = gray(256, 16, 16);
        let flat = vec![7.0f32; 256];
        let noise: Vec<f32> = (0..256u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as f32)
            .collect();
        let (f, n) = (
            png_bits(&flat, shape).unwrap(),
            png_bits(&noise, shape).unwrap(),
        );
        assert!(f < n, "flat {f} bits, noise {n} bits");
    }

    #[test]
    fn complexity_is_nll_bits_minus_png_bits() {
        // A known 3×3 binary image, whose PNG length is taken from the encoder.
        let shape = gray(2, 3, 3);
        let img = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let l = png_bits(&img, shape).unwrap();
        let scores = ImageScores {
            log_p: vec![-10.0 * LN_2],
            png_bits: vec![l],
            dims: 9,
        };
        let row = &rows(&scores)[0];
        assert!((row.nll_bits - 10.0).abs() < 1e-12);
        assert!((row.complexity_bits - (10.0 - l)).abs() < 1e-12);
        assert!((row.bits_per_dim - 10.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn values_outside_the_levels_are_refused() {
        let e = png_bits(&[0.0, 2.0], gray(2, 1, 2)).unwrap_err();
        assert!(e.to_string().contains("not one of the 2 levels"), "{e}");
        assert!(png_bits(&[0.5, 1.0], gray(256, 1, 2)).is_err());
    }
}
