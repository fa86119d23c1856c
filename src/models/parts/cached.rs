//! Cached (incremental) sampling for the raster-scan networks: instead of
//! running the whole network once per pixel, a [`PixelSampler`] computes
//! each layer at the new position only, from caches of the values its
//! kernels read (the rows above and the positions to the left), and carries
//! the recurrent states. The arithmetic is the network's own (the same
//! masked weights, the same zero padding at the borders), so given the same
//! uniforms it draws the same samples as the naive sampler; only the order
//! of floating-point summation differs.
use tch::{Device, Kind, Tensor};

use super::layers::MaskedConv2d;

/// A raster-scan network's incremental sampler for one batch of images.
/// Calls come in raster order; `at` may be called again at the same
/// position after `put` (the next colour channel).
pub trait PixelSampler {
    /// Records the network input (scaled values, `[B, C]`) of pixel (r, c).
    fn put(&mut self, r: i64, c: i64, pixel: &Tensor);
    /// The network's outputs `[B, C·K]` at pixel (r, c), computed from the
    /// pixels put so far.
    fn at(&mut self, r: i64, c: i64) -> Tensor;
}

/// One layer's values on the whole image, `[B, F, top + H, side + W + side]`,
/// zero outside the image (a convolution's zero padding), written one
/// position or one row at a time.
pub struct Plane {
    t: Tensor,
    top: i64,
    side: i64,
    width: i64,
}

impl Plane {
    /// `batch × features` values on `height × width`, padded `top` rows
    /// above and `side` columns on either side.
    pub fn new(dims: [i64; 4], top: i64, side: i64, like: (Kind, Device)) -> Plane {
        let [b, f, h, w] = dims;
        Plane {
            t: Tensor::zeros([b, f, top + h, w + 2 * side], like),
            top,
            side,
            width: w,
        }
    }

    /// Writes `v` `[B, F]` at (r, c).
    pub fn set(&mut self, r: i64, c: i64, v: &Tensor) {
        self.t
            .select(2, self.top + r)
            .select(2, self.side + c)
            .copy_(v);
    }

    /// Writes `v` `[B, F, W]` as row r.
    pub fn set_row(&mut self, r: i64, v: &Tensor) {
        self.row(r).copy_(v);
    }

    /// Row r, `[B, F, W]` (a view).
    pub fn row(&self, r: i64) -> Tensor {
        self.t
            .select(2, self.top + r)
            .narrow(2, self.side, self.width)
    }

    /// Rows r − up ..= r, columns −half .. W + half: `[B, F, up + 1, W + 2·half]`.
    pub fn window(&self, r: i64, up: i64, half: i64) -> Tensor {
        self.t.narrow(2, self.top + r - up, up + 1).narrow(
            3,
            self.side - half,
            self.width + 2 * half,
        )
    }

    /// Rows r − up ..= r, columns c − half ..= c + half, flattened:
    /// `[B, F·(up + 1)·(2·half + 1)]`.
    pub fn patch(&self, r: i64, c: i64, up: i64, half: i64) -> Tensor {
        self.t
            .narrow(2, self.top + r - up, up + 1)
            .narrow(3, self.side + c - half, 2 * half + 1)
            .flatten(1, -1)
    }
}

/// A masked convolution evaluated at one position: its kernel's rows down
/// to the centre (the rows below are masked), flattened into a matrix.
pub struct PointConv {
    /// `[F_in·(up + 1)·kw, F_out]`.
    w: Tensor,
    bias: Tensor,
    up: i64,
    half: i64,
}

impl PointConv {
    pub fn new(conv: &MaskedConv2d) -> PointConv {
        let w = conv.masked_weight();
        let [co, _, kh, kw] = w.size()[..] else {
            unreachable!("conv weights are [out, in, kh, kw]")
        };
        PointConv {
            w: w.narrow(2, 0, kh / 2 + 1)
                .reshape([co, -1])
                .tr()
                .contiguous(),
            bias: conv.bias().detach(),
            up: kh / 2,
            half: kw / 2,
        }
    }

    /// The output `[B, F_out]` at (r, c) from the values in `input`.
    pub fn at(&self, input: &Plane, r: i64, c: i64) -> Tensor {
        self.apply(&input.patch(r, c, self.up, self.half))
    }

    /// A 1×1 convolution's output `[B, F_out]` from its input `[B, F_in]`.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        self.bias.addmm(x, &self.w)
    }
}

/// The two ReLU → 1×1 output layers that end PixelCNN and both PixelRNNs.
pub struct OutputLayers(PointConv, PointConv);

impl OutputLayers {
    pub fn new(out1: &MaskedConv2d, out2: &MaskedConv2d) -> OutputLayers {
        OutputLayers(PointConv::new(out1), PointConv::new(out2))
    }

    pub fn apply(&self, y: &Tensor) -> Tensor {
        self.1.apply(&self.0.apply(&y.relu()).relu())
    }
}
