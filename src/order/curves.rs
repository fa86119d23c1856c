//! Base orderings of an `height × width` grid, as row-major pixel indices.
//!
//! Every function returns a permutation of `0..height * width`.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Row by row, left to right.
pub fn raster(h: usize, w: usize) -> Vec<usize> {
    (0..h * w).collect()
}

/// Column by column, top to bottom.
pub fn column(h: usize, w: usize) -> Vec<usize> {
    (0..w)
        .flat_map(|c| (0..h).map(move |r| r * w + c))
        .collect()
}

/// Boustrophedon: rows, even rows left→right, odd rows right→left.
pub fn snake(h: usize, w: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(h * w);
    for r in 0..h {
        if r % 2 == 0 {
            out.extend((0..w).map(|c| r * w + c));
        } else {
            out.extend((0..w).rev().map(|c| r * w + c));
        }
    }
    out
}

/// JPEG zigzag: anti-diagonals `r + c = d`, even `d` walked bottom-left →
/// top-right, odd `d` top-right → bottom-left.
pub fn zigzag(h: usize, w: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(h * w);
    for d in 0..(h + w).saturating_sub(1) {
        // Rows r with 0 <= r < h and 0 <= d - r < w.
        let lo = d.saturating_sub(w - 1);
        let hi = d.min(h - 1);
        let cell = |r: usize| r * w + (d - r);
        if d % 2 == 0 {
            out.extend((lo..=hi).rev().map(cell));
        } else {
            out.extend((lo..=hi).map(cell));
        }
    }
    out
}

/// Clockwise spiral from the top-left corner inward.
pub fn spiral(h: usize, w: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(h * w);
    // Half-open bounds of the not-yet-visited rectangle.
    let (mut top, mut bottom, mut left, mut right) = (0, h, 0, w);
    while top < bottom && left < right {
        out.extend((left..right).map(|c| top * w + c));
        top += 1;
        out.extend((top..bottom).map(|r| r * w + right - 1));
        right -= 1;
        if top < bottom {
            out.extend((left..right).rev().map(|c| (bottom - 1) * w + c));
            bottom -= 1;
        }
        if left < right {
            out.extend((top..bottom).rev().map(|r| r * w + left));
            left += 1;
        }
    }
    out
}

/// Uniformly random permutation, reproducible from `seed`.
pub fn random(h: usize, w: usize, seed: u64) -> Vec<usize> {
    let mut out = raster(h, w);
    out.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    out
}

/// Generalized Hilbert curve ("gilbert", after Jakub Červený) for any size.
///
/// Consecutive cells are 4-neighbours except for at most one diagonal step,
/// which only occurs when the larger side is odd and the smaller one even.
pub fn hilbert(h: usize, w: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(h * w);
    let (hi, wi) = (h as i64, w as i64);
    let mut emit = |x: i64, y: i64| out.push((y * wi + x) as usize);
    // (x, y) = (column, row); the curve runs along the longer side.
    if w >= h {
        gilbert(0, 0, (wi, 0), (0, hi), &mut emit);
    } else {
        gilbert(0, 0, (0, hi), (wi, 0), &mut emit);
    }
    out
}

/// Fills the rectangle at `(x, y)` spanned by the major axis `a` and the
/// minor axis `b`, entering at `(x, y)` and leaving at the corner one `a` away.
fn gilbert(x: i64, y: i64, a: (i64, i64), b: (i64, i64), emit: &mut impl FnMut(i64, i64)) {
    let (w, h) = ((a.0 + a.1).abs(), (b.0 + b.1).abs());
    let da = (a.0.signum(), a.1.signum());
    let db = (b.0.signum(), b.1.signum());
    if h == 1 || w == 1 {
        // A single row or column: walk straight along it.
        let (n, d) = if h == 1 { (w, da) } else { (h, db) };
        for i in 0..n {
            emit(x + i * d.0, y + i * d.1);
        }
        return;
    }
    // Floor division, as in the reference implementation.
    let mut a2 = (a.0.div_euclid(2), a.1.div_euclid(2));
    let mut b2 = (b.0.div_euclid(2), b.1.div_euclid(2));
    if 2 * w > 3 * h {
        // Long rectangle: split along the major axis into two halves,
        // preferring an even first half.
        if (a2.0 + a2.1).abs() % 2 == 1 && w > 2 {
            a2 = (a2.0 + da.0, a2.1 + da.1);
        }
        gilbert(x, y, a2, b, emit);
        gilbert(x + a2.0, y + a2.1, (a.0 - a2.0, a.1 - a2.1), b, emit);
    } else {
        // Standard case: up (half of b), across the full a, then back down.
        if (b2.0 + b2.1).abs() % 2 == 1 && h > 2 {
            b2 = (b2.0 + db.0, b2.1 + db.1);
        }
        gilbert(x, y, b2, a2, emit);
        gilbert(x + b2.0, y + b2.1, a, (b.0 - b2.0, b.1 - b2.1), emit);
        gilbert(
            x + (a.0 - da.0) + (b2.0 - db.0),
            y + (a.1 - da.1) + (b2.1 - db.1),
            (-b2.0, -b2.1),
            (a2.0 - a.0, a2.1 - a.1),
            emit,
        );
    }
}
