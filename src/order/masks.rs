//! Locally masked convolution masks (Jain, Abbeel & Pathak 2020): for every
//! output position, which taps of a `k × k` kernel see a pixel that comes
//! earlier in the ordering. The masks are derived from the ordering alone,
//! so every ordering arlab knows gets them.

/// The `[k², H·W]` 0/1 mask of a `k × k` kernel (odd `k`) under `order` on an
/// `h × w` image, tap-major as `im2col` lays out a patch: tap `(dy, dx)` of
/// output position `p` is 1 iff the neighbour `p + (dy − k/2, dx − k/2)` is
/// inside the image and comes before `p` in the ordering. The centre tap is
/// always 1: whether a layer sees the centre pixel's own channels is a
/// channel mask (type A / B), not a spatial one.
pub fn local_mask(order: &[usize], h: usize, w: usize, k: usize) -> Vec<f32> {
    let ranks = super::ranks(order);
    let half = (k / 2) as isize;
    let n = h * w;
    let mut m = vec![0f32; k * k * n];
    for (tap, chunk) in m.chunks_mut(n).enumerate() {
        let dy = (tap / k) as isize - half;
        let dx = (tap % k) as isize - half;
        for (p, open) in chunk.iter_mut().enumerate() {
            let (r, c) = ((p / w) as isize, (p % w) as isize);
            let (qr, qc) = (r + dy, c + dx);
            let inside = qr >= 0 && qc >= 0 && (qr as usize) < h && (qc as usize) < w;
            let centre = dy == 0 && dx == 0;
            if centre || (inside && ranks[qr as usize * w + qc as usize] < ranks[p]) {
                *open = 1.0;
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderSpec;

    #[test]
    fn raster_mask_is_the_pixelcnn_mask() {
        // Under raster order, interior positions see the rows above and the
        // pixels to the left: the PixelCNN mask.
        let (h, w, k) = (5, 5, 3);
        let order: Vec<usize> = "raster".parse::<OrderSpec>().unwrap().order(h, w);
        let m = local_mask(&order, h, w, k);
        let p = 2 * w + 2;
        let taps: Vec<f32> = (0..k * k).map(|t| m[t * h * w + p]).collect();
        assert_eq!(taps, vec![1., 1., 1., 1., 1., 0., 0., 0., 0.]);
        // The first pixel sees nothing but (its own channels at) the centre.
        let first: Vec<f32> = (0..k * k).map(|t| m[t * h * w]).collect();
        assert_eq!(first, vec![0., 0., 0., 0., 1., 0., 0., 0., 0.]);
    }

    #[test]
    fn every_open_tap_is_an_earlier_pixel() {
        let (h, w, k) = (6, 5, 3);
        for name in ["spiral", "hilbert", "random:3", "zigzag+reverse"] {
            let order = name.parse::<OrderSpec>().unwrap().order(h, w);
            let ranks = crate::order::ranks(&order);
            let m = local_mask(&order, h, w, k);
            let mut open_neighbours = 0;
            for p in 0..h * w {
                for t in 0..k * k {
                    let (dy, dx) = (t as isize / 3 - 1, t as isize % 3 - 1);
                    if m[t * h * w + p] == 0.0 || (dy, dx) == (0, 0) {
                        continue;
                    }
                    let q = ((p / w) as isize + dy) as usize * w + ((p % w) as isize + dx) as usize;
                    assert!(ranks[q] < ranks[p], "{name}: tap {t} of {p}");
                    open_neighbours += 1;
                }
            }
            // Each pair of 8-neighbours is open in exactly one direction.
            let pairs = h * (w - 1) + (h - 1) * w + 2 * (h - 1) * (w - 1);
            assert_eq!(open_neighbours, pairs, "{name}");
        }
    }
}
