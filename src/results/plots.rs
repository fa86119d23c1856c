//! Plots and image grids: NLL curves (plotters, see [`super::chart`]) and
//! sample grids (image).
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;

use super::chart::{self, series_color, Axes};
use super::{with_temp_file, MetricRow};
use crate::data::ImageShape;
use crate::order::render::ensure_font;

/// One run's train and validation NLL per epoch.
pub fn nll_curve(rows: &[MetricRow], title: &str, path: &Path) -> Result<()> {
    let series = vec![
        (
            "train".to_string(),
            rows.iter()
                .map(|r| (r.epoch as f64, r.train_nll))
                .collect::<Vec<_>>(),
        ),
        (
            "validation".to_string(),
            rows.iter()
                .filter_map(|r| Some((r.epoch as f64, r.val_nll?)))
                .collect(),
        ),
    ];
    line_chart(&series, title, path)
}

fn line_chart(series: &[(String, Vec<(f64, f64)>)], title: &str, path: &Path) -> Result<()> {
    let (x1, y0, y1) = chart::extent(series.iter().flat_map(|(_, s)| s.iter()));
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let x_format = |x: &f64| format!("{x:.0}");
    let axes = Axes {
        x_labels: Some((x1 as usize).clamp(2, 12)),
        x_format: Some(&x_format),
        ..Axes::new(
            1.0..x1.max(2.0),
            (y0 - pad)..(y1 + pad),
            "epoch",
            "NLL (nats / image)",
        )
    };
    // The legend gets its own column right of the plot, so it hides no curve.
    let legend_w = 300u32;
    let height = 480u32.max(60 + 20 * series.len() as u32);
    chart::png(path, (780 + legend_w, height), |root| {
        let (plot, legend) = root.split_horizontally(780);
        let mut chart = chart::axes(&plot, title, chart::FULL, &axes)?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = series_color(i);
            let pts: Vec<_> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
            chart::line(&mut chart, &pts, color, 3)?;
            chart::legend_entry(&legend, i, name, color.stroke_width(3))?;
        }
        Ok(())
    })
}

/// Display intensity in [0, 255] of a level value (0/1 binary, or 8-bit).
fn level(v: f32, shape: ImageShape) -> u8 {
    if shape.levels == 2 {
        if v > 0.5 {
            255
        } else {
            0
        }
    } else {
        v.clamp(0.0, 255.0) as u8
    }
}

/// Scale so small images are still visible (each cell at least ~56 px).
/// Bytes one image takes in a sample grid's pixels (8-bit RGB, scaled up).
pub fn grid_bytes_per_image(shape: ImageShape) -> u128 {
    let s = scale_for(shape.height);
    ((shape.width * s + 2) * (shape.height * s + 2) * 3) as u128
}

fn scale_for(height: usize) -> usize {
    (56 / height.max(1)).clamp(1, 16)
}

/// The RGB colour of pixel `p` (row-major) of a planar `[C, H, W]` image:
/// gray for one channel, colour for three.
fn colour_of(img: &[f32], p: usize, shape: ImageShape) -> [u8; 3] {
    let plane = shape.height * shape.width;
    if shape.channels == 3 {
        [0, 1, 2].map(|c| level(img[c * plane + p], shape))
    } else {
        let v = level(img[p], shape);
        [v, v, v]
    }
}

/// Renders `images` (planar `[C, H, W]` values each) into an RGB buffer,
/// `cols` per row.
fn grid_buffer(images: &[Vec<f32>], shape: ImageShape, cols: usize) -> (Vec<u8>, usize, usize) {
    let (height, width) = (shape.height, shape.width);
    let s = scale_for(height);
    let rows = images.len().div_ceil(cols).max(1);
    let (cw, ch) = (width * s + 2, height * s + 2);
    let (w, h) = (cols * cw + 2, rows * ch + 2);
    let mut buf = vec![128u8; w * h * 3];
    for (i, img) in images.iter().enumerate() {
        let (ox, oy) = (2 + (i % cols) * cw, 2 + (i / cols) * ch);
        for y in 0..height * s {
            for x in 0..width * s {
                let rgb = colour_of(img, (y / s) * width + x / s, shape);
                let at = ((oy + y) * w + ox + x) * 3;
                buf[at..at + 3].copy_from_slice(&rgb);
            }
        }
    }
    (buf, w, h)
}

fn save_rgb(path: &Path, buf: Vec<u8>, w: usize, h: usize) -> Result<()> {
    let img = image::RgbImage::from_raw(w as u32, h as u32, buf).context("image buffer size")?;
    with_temp_file(path, |tmp| {
        img.save_with_format(tmp, image::ImageFormat::Png)
            .with_context(|| format!("cannot write `{}`", path.display()))
    })
}

/// A grid of sample images (8 per row).
pub fn sample_grid(images: &[Vec<f32>], shape: ImageShape, path: &Path) -> Result<()> {
    let (buf, w, h) = grid_buffer(images, shape, 8);
    save_rgb(path, buf, w, h)
}

/// One labelled row of samples per run.
pub fn labelled_rows(
    rows: &[(String, Vec<Vec<f32>>)],
    shape: ImageShape,
    path: &Path,
) -> Result<()> {
    ensure_font();
    let label_w = 300usize;
    let parts: Vec<_> = rows
        .iter()
        .map(|(_, imgs)| grid_buffer(imgs, shape, 8))
        .collect();
    let grid_w = parts.iter().map(|p| p.1).max().unwrap_or(1);
    let row_h = parts.iter().map(|p| p.2).max().unwrap_or(1).max(24);
    let (w, h) = (label_w + grid_w, row_h * rows.len().max(1));
    let mut buf = vec![255u8; w * h * 3];
    for (r, (part, pw, ph)) in parts.iter().enumerate() {
        for y in 0..*ph {
            let src = &part[y * pw * 3..(y + 1) * pw * 3];
            let at = ((r * row_h + y) * w + label_w) * 3;
            buf[at..at + pw * 3].copy_from_slice(src);
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w as u32, h as u32)).into_drawing_area();
        for (r, (label, _)) in rows.iter().enumerate() {
            let y = (r * row_h + row_h / 2) as i32 - 8;
            root.draw(&Text::new(label.as_str(), (8, y), ("sans-serif", 16)))
                .map_err(|e| anyhow!("cannot draw `{}`: {e}", path.display()))?;
        }
        root.present()
            .map_err(|e| anyhow!("cannot draw `{}`: {e}", path.display()))?;
    }
    save_rgb(path, buf, w, h)
}

/// Reads the first row (8 images) of a sample grid written by
/// [`sample_grid`], as 8-bit level values (planar `[C, H, W]`).
pub fn read_first_row(path: &Path, shape: ImageShape) -> Result<Vec<Vec<f32>>> {
    let img = image::open(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?
        .to_rgb8();
    let (height, width) = (shape.height, shape.width);
    let s = scale_for(height);
    let (cw, ch) = (width * s + 2, height * s + 2);
    let cols = ((img.width() as usize).saturating_sub(2) / cw).min(8);
    if (img.height() as usize) < ch {
        anyhow::bail!("`{}` is smaller than one grid row", path.display());
    }
    Ok((0..cols)
        .map(|i| {
            let (ox, oy) = (2 + i * cw, 2);
            (0..shape.channels)
                .flat_map(|c| {
                    let img = &img;
                    (0..height * width).map(move |p| {
                        img.get_pixel((ox + (p % width) * s) as u32, (oy + (p / width) * s) as u32)
                            [c] as f32
                    })
                })
                .collect()
        })
        .collect())
}

/// Receptive-field maps side by side, one panel per model: for the
/// conditional of pixel `target` (row-major), each input pixel is coloured
/// by its gradient magnitude (log scale, viridis) or black where it is zero
/// (the pixel cannot influence that conditional); the target is red.
pub fn receptive_fields(
    panels: &[(String, Vec<f64>)],
    height: usize,
    width: usize,
    target: usize,
    path: &Path,
) -> Result<()> {
    ensure_font();
    let cell = (240 / height.max(width)).clamp(4, 40) as i32;
    let (pw, ph) = (width as i32 * cell, height as i32 * cell);
    let (margin, title) = (16, 30);
    let total_w = (panels.len() as i32 * (pw + margin) + margin) as u32;
    let total_h = (ph + title + 2 * margin) as u32;
    with_temp_file(path, |tmp| {
        let root = BitMapBackend::new(tmp, (total_w, total_h)).into_drawing_area();
        root.fill(&WHITE)?;
        for (k, (label, field)) in panels.iter().enumerate() {
            let ox = margin + k as i32 * (pw + margin);
            let oy = margin + title;
            root.draw(&Text::new(label.as_str(), (ox, margin), ("sans-serif", 15)))?;
            let (lo, hi) = log_range(field);
            for (p, &v) in field.iter().enumerate() {
                let (r, c) = ((p / width) as i32, (p % width) as i32);
                let colour = if p == target {
                    RGBColor(220, 30, 30)
                } else if v == 0.0 {
                    BLACK
                } else {
                    crate::order::render::viridis((v.ln() - lo) / (hi - lo).max(1e-12))
                };
                let (x0, y0) = (ox + c * cell, oy + r * cell);
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell - 1, y0 + cell - 1)],
                    colour.filled(),
                ))?;
            }
        }
        root.present()?;
        Ok(())
    })
    .with_context(|| format!("cannot draw `{}`", path.display()))
}

/// The range of ln(v) over the non-zero values (0, 1 when there are none).
fn log_range(field: &[f64]) -> (f64, f64) {
    let logs = field.iter().filter(|v| **v > 0.0).map(|v| v.ln());
    let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}
