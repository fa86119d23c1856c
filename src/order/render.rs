//! PNG drawings of orderings: the visiting path through pixel centres,
//! coloured by step from dark blue (first) to yellow (last).

use super::OrderSpec;
use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;

/// Side of one panel in pixels.
const PANEL_PX: u32 = 400;

/// Registers DejaVu Sans as plotters' `"sans-serif"` font. Call before drawing
/// any text with plotters (the `ab_glyph` backend has no system fonts);
/// cheap and idempotent.
pub fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("bundled DejaVu Sans font is valid"));
    });
}

/// Viridis colour map: `t` in `[0, 1]` (clamped) from dark purple-blue to yellow.
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (0x44, 0x01, 0x54),
        (0x48, 0x28, 0x78),
        (0x3e, 0x49, 0x89),
        (0x31, 0x68, 0x8e),
        (0x26, 0x82, 0x8e),
        (0x1f, 0x9e, 0x89),
        (0x35, 0xb7, 0x79),
        (0x6e, 0xce, 0x58),
        (0xfd, 0xe7, 0x25),
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// PNG (about 400×400 px) of one ordering's visiting path on a
/// `height × width` grid, titled with the spec and size.
pub fn render_path(
    spec: &OrderSpec,
    height: usize,
    width: usize,
    path: &Path,
) -> anyhow::Result<()> {
    ensure_font();
    let root = BitMapBackend::new(path, (PANEL_PX, PANEL_PX)).into_drawing_area();
    draw_panel(&root, spec, height, width)
        .and_then(|()| root.present())
        .map_err(|e| anyhow!("failed to draw ordering {spec} to {}: {e}", path.display()))
}

/// One PNG with a grid of titled panels, one per spec, each drawn as in
/// [`render_path`].
pub fn render_overview(
    specs: &[OrderSpec],
    height: usize,
    width: usize,
    path: &Path,
) -> anyhow::Result<()> {
    ensure_font();
    let cols = (specs.len() as f64).sqrt().ceil().max(1.0) as usize;
    let rows = specs.len().div_ceil(cols).max(1);
    let size = (cols as u32 * PANEL_PX, rows as u32 * PANEL_PX);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    let result = root.fill(&WHITE).and_then(|()| {
        for (panel, spec) in root.split_evenly((rows, cols)).iter().zip(specs) {
            draw_panel(panel, spec, height, width)?;
        }
        root.present()
    });
    result.map_err(|e| {
        anyhow!(
            "failed to draw orderings overview to {}: {e}",
            path.display()
        )
    })
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws one titled ordering path into `area`.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &OrderSpec,
    height: usize,
    width: usize,
) -> DrawResult<DB> {
    area.fill(&WHITE)?;
    let title = format!("{spec}  ({height}×{width})");
    let inner = area
        .titled(&title, ("sans-serif", 20))?
        .margin(4, 12, 12, 12);
    if height == 0 || width == 0 {
        return Ok(());
    }
    // Square cells, the grid centred in the available space.
    let (aw, ah) = inner.dim_in_pixel();
    let cell = (aw as f64 / width as f64).min(ah as f64 / height as f64);
    let x0 = (aw as f64 - cell * width as f64) / 2.0;
    let y0 = (ah as f64 - cell * height as f64) / 2.0;
    let centre = |p: usize| {
        let (r, c) = (p / width, p % width);
        (
            (x0 + (c as f64 + 0.5) * cell).round() as i32,
            (y0 + (r as f64 + 0.5) * cell).round() as i32,
        )
    };
    let corner = |x: f64, y: f64| (x.round() as i32, y.round() as i32);
    inner.draw(&Rectangle::new(
        [
            corner(x0, y0),
            corner(x0 + cell * width as f64, y0 + cell * height as f64),
        ],
        RGBColor(200, 200, 200).stroke_width(1),
    ))?;

    let order = spec.order(height, width);
    let steps = (order.len() - 1).max(1) as f64;
    let stroke = ((cell / 5.0).round() as u32).clamp(1, 6);
    for (t, pair) in order.windows(2).enumerate() {
        let colour = viridis(t as f64 / steps);
        inner.draw(&PathElement::new(
            vec![centre(pair[0]), centre(pair[1])],
            colour.stroke_width(stroke),
        ))?;
    }
    // Start: red dot; end: hollow red ring.
    let radius = ((cell * 0.3).round() as i32).clamp(3, 12);
    inner.draw(&Circle::new(centre(order[0]), radius, RED.filled()))?;
    let end = *order.last().expect("non-empty ordering");
    inner.draw(&Circle::new(centre(end), radius, RED.stroke_width(2)))?;
    Ok(())
}

/// [`render_overview`] into `png`, and the same drawing as SVG beside it
/// (`png` with extension `.svg`).
pub fn render_overview_with_svg(
    specs: &[OrderSpec],
    height: usize,
    width: usize,
    png: &Path,
) -> anyhow::Result<()> {
    render_overview(specs, height, width, png)?;
    let cols = (specs.len() as f64).sqrt().ceil().max(1.0) as usize;
    let rows = specs.len().div_ceil(cols).max(1);
    let svg = png.with_extension("svg");
    let root =
        SVGBackend::new(&svg, (cols as u32 * PANEL_PX, rows as u32 * PANEL_PX)).into_drawing_area();
    let result = root.fill(&WHITE).and_then(|()| {
        for (panel, spec) in root.split_evenly((rows, cols)).iter().zip(specs) {
            draw_panel(panel, spec, height, width)?;
        }
        root.present()
    });
    result.map_err(|e| {
        anyhow!(
            "failed to draw orderings overview to {}: {e}",
            svg.display()
        )
    })
}
