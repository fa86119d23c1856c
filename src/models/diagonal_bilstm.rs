//! Diagonal BiLSTM (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel
//! Recurrent Neural Networks"): a 7×7 mask-A convolution, then recurrent
//! layers that scan the image along diagonals, each with a residual
//! connection, then two ReLU → 1×1 mask-B output layers. Its receptive
//! field is every earlier pixel in raster order but one, at any depth: the
//! last pixel of the row above, when the 7×7 first layer does not reach it
//! (pixel j < W − 4; see the receptive-field test).
//!
//! A layer's input map is skewed, `S[i, i+j] = X[i, j]` (width W+H−1), so
//! that a diagonal becomes a column; the columns are scanned left to right.
//! Input-to-state: a 1×1 mask-B convolution (2h → 4h; only the R → G → B
//! channel mask matters). State-to-state: a 2×1 column convolution over the
//! previous column's h with its zero row on top, `s[r] = W0·h[r−1] +
//! W1·h[r]`, so (i, j) reads (i−1, j) and (i, j−1): earlier pixels, any
//! channel. Gates o, f, i (sigmoid) and the candidate g (tanh), as in
//! [`super::row_lstm`]. The right-to-left direction is the same kind of
//! scan, with its own weights, on the width-flipped map, flipped back; it
//! sees (i, j+1..), so it is shifted DOWN one row before it is added to the
//! left-to-right states. A 1×1 mask-B convolution takes h back to the
//! 2h-feature residual stream.
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::parts::cached::{OutputLayers, PixelSampler, Plane, PointConv};
use super::parts::layers::{groups, shift_down, Mask, MaskedConv2d};
use super::pixelrnn::{lstm_cell, Arch, PixelRnn, Sizes};
use super::{Head, RasterNet};
use crate::data::ImageShape;

/// `type: diagonal_bilstm`, with the [`Sizes`] of the PixelRNN models
/// (`paper`: the paper's binarized-MNIST model, 79.20 nats).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Config(pub Sizes);

impl PixelRnn for Config {
    const NAME: &'static str = "diagonal_bilstm";
    const RASTER_REASON: &'static str = "diagonal scans";
    const LAYER_FORMULA: &'static str = "2(2h·4h + 2·h·4h)";
    fn sizes(&self) -> &Sizes {
        &self.0
    }
    fn recurrent_params(h: i64) -> i64 {
        let f = 2 * h;
        let direction = (4 * h * f + 4 * h) + 4 * h * h * 2; // s2s: no bias
        2 * direction
    }
    fn net(vs: &nn::Path, shape: ImageShape, arch: Arch) -> Box<dyn RasterNet> {
        Box::new(DiagonalBiLstm::new(vs, shape, arch))
    }
}

/// `[B, C, H, W]` → `[B, C, H, W+H−1]` with `S[i, i+j] = X[i, j]`, zeros
/// elsewhere: with rows padded to W+H, the flat index of X[i, j] is
/// i(W+H) + j, which is that of S[i, i+j] in rows of W+H−1.
pub(super) fn skew(x: &Tensor) -> Tensor {
    let [b, c, h, w] = x.size()[..] else {
        unreachable!("maps are [B, C, H, W]")
    };
    x.constant_pad_nd([0, h])
        .reshape([b, c, h * (w + h)])
        .narrow(2, 0, h * (w + h - 1))
        .reshape([b, c, h, w + h - 1])
}

/// The inverse of [`skew`]: `X[i, j] = S[i, i+j]`, `[B, C, H, width]`.
pub(super) fn unskew(s: &Tensor, width: i64) -> Tensor {
    let [b, c, h, sw] = s.size()[..] else {
        unreachable!("maps are [B, C, H, W+H−1]")
    };
    s.reshape([b, c, h * sw])
        .constant_pad_nd([0, h])
        .reshape([b, c, h, sw + 1])
        .narrow(3, 0, width)
}

/// One direction of a layer: a left-to-right scan of the skewed map.
struct Direction {
    /// 1×1 mask B, 2h → 4h.
    i2s: MaskedConv2d,
    /// `[4h, h, 2]`: taps on h[r−1] and h[r] of the previous column.
    s2s: Tensor,
}

impl Direction {
    /// The hidden states `[B, h, H, W]` of the scan over `y` `[B, 2h, H, W]`.
    fn scan(&self, y: &Tensor) -> Tensor {
        let (b, rows) = (y.size()[0], y.size()[2]);
        let mut h = Tensor::zeros([b, self.s2s.size()[1], rows], (y.kind(), y.device()));
        let mut c = h.zeros_like();
        let mut states = Vec::new();
        // `unbind`, not `select` (see the Row LSTM's scan).
        for column in skew(&self.i2s.forward(y)).unbind(3) {
            // Zero row on top, no padding below: row r reads rows r−1 and r.
            let from_before =
                h.constant_pad_nd([1, 0])
                    .conv1d::<Tensor>(&self.s2s, None, [1], [0], [1], 1);
            (h, c) = lstm_cell(&(column + from_before), &c);
            states.push(h.shallow_clone());
        }
        unskew(&Tensor::stack(&states, 3), y.size()[3])
    }

    fn num_params(&self) -> i64 {
        self.i2s.num_params() + self.s2s.numel() as i64
    }
}

struct Layer {
    left: Direction,
    right: Direction,
    /// 1×1 mask B, h → 2h, back to the residual stream.
    up: MaskedConv2d,
}

pub struct DiagonalBiLstm {
    first: MaskedConv2d,
    layers: Vec<Layer>,
    out1: MaskedConv2d,
    out2: MaskedConv2d,
    /// Shift the right-to-left states down one row (always, but for the
    /// test that shows the causality check catching the unshifted bug).
    pub(super) shift_backward: bool,
}

impl DiagonalBiLstm {
    pub fn new(vs: &nn::Path, shape: ImageShape, a: Arch) -> DiagonalBiLstm {
        let c = shape.channels as i64;
        let k = Head::for_pixels(shape.pixels()).params();
        let g = |n: i64| groups(n, c);
        let (f, h, o) = (2 * a.hidden, a.hidden, a.output_hidden);
        // Each of o, f, i, g carries the channel groups of h.
        let gates: Vec<i64> = [g(h), g(h), g(h), g(h)].concat();
        let direction = |p: nn::Path| Direction {
            i2s: MaskedConv2d::new(&(&p / "i2s"), [1, 1], Mask::B, &g(f), &gates),
            s2s: (&p / "s2s").kaiming_uniform("weight", &[4 * h, h, 2]),
        };
        let layers = (0..a.layers)
            .map(|l| {
                let p = vs / "layers" / l;
                Layer {
                    left: direction(&p / "left"),
                    right: direction(&p / "right"),
                    up: MaskedConv2d::new(&(&p / "up"), [1, 1], Mask::B, &g(h), &g(f)),
                }
            })
            .collect();
        DiagonalBiLstm {
            first: MaskedConv2d::new(&(vs / "first"), [7, 7], Mask::A, &g(c), &g(f)),
            layers,
            out1: MaskedConv2d::new(&(vs / "out1"), [1, 1], Mask::B, &g(f), &g(o)),
            out2: MaskedConv2d::new(&(vs / "out2"), [1, 1], Mask::B, &g(o), &groups(c * k, c)),
            shift_backward: true,
        }
    }

    /// A layer's states, both directions summed: `[B, h, H, W]`.
    fn states(&self, layer: &Layer, y: &Tensor) -> Tensor {
        let right = layer.right.scan(&y.flip([3])).flip([3]);
        let right = match self.shift_backward {
            true => shift_down(&right),
            false => right,
        };
        layer.left.scan(y) + right
    }
}

impl RasterNet for DiagonalBiLstm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut y = self.first.forward(x);
        for layer in &self.layers {
            y = layer.up.forward(&self.states(layer, &y)) + &y;
        }
        self.out2.forward(&self.out1.forward(&y.relu()).relu())
    }

    fn num_params(&self) -> i64 {
        let layers: i64 = self
            .layers
            .iter()
            .map(|l| l.left.num_params() + l.right.num_params() + l.up.num_params())
            .sum();
        self.first.num_params() + layers + self.out1.num_params() + self.out2.num_params()
    }

    fn sampler(&self, batch: i64, height: i64, width: i64) -> Option<Box<dyn PixelSampler + '_>> {
        if !self.shift_backward {
            return None; // the unshifted variant is not causal: nothing to sample
        }
        let like = (self.first.bias().kind(), self.first.bias().device());
        let [f, c_in] = self.first.masked_weight().size()[..2] else {
            unreachable!("conv weights are [out, in, kh, kw]")
        };
        let zeros = |n: i64, w: i64| Tensor::zeros([batch, n, w], like);
        Some(Box::new(Sampler {
            image: Plane::new([batch, c_in, height, width], 3, 3, like),
            first: PointConv::new(&self.first),
            layers: (self.layers.iter())
                .map(|l| LayerSampler {
                    left: StepSampler::new(&l.left),
                    right: StepSampler::new(&l.right),
                    up: PointConv::new(&l.up),
                    input: zeros(f, width),
                    h: zeros(f / 2, width + 1),
                    c: zeros(f / 2, width + 1),
                    h_above: zeros(f / 2, width),
                    right_above: zeros(f / 2, width),
                })
                .collect(),
            out: OutputLayers::new(&self.out1, &self.out2),
            row: -1,
        }))
    }
}

/// One direction's LSTM step at one position: from the layer's input there
/// and the states of its two predecessors (above, and before it in the row).
struct StepSampler {
    i2s: PointConv,
    /// `[2h, 4h]`: the 2×1 state-to-state taps, input interleaved (above, before).
    s2s: Tensor,
}

impl StepSampler {
    fn new(d: &Direction) -> StepSampler {
        let gates = d.s2s.size()[0];
        StepSampler {
            i2s: PointConv::new(&d.i2s),
            s2s: d.s2s.detach().reshape([gates, -1]).tr().contiguous(),
        }
    }

    /// `(h, c)` at a position from its input `y` `[B, 2h]`, the h above
    /// and the `(h, c)` before it, `[B, h]`.
    fn step(&self, y: &Tensor, above: &Tensor, before: (&Tensor, &Tensor)) -> (Tensor, Tensor) {
        let from_before = Tensor::stack(&[above, before.0], 2)
            .flatten(1, -1)
            .mm(&self.s2s);
        lstm_cell(&(self.i2s.apply(y) + from_before), before.1)
    }
}

/// One layer at one position: the left-to-right stream position by
/// position; the right-to-left stream of a row once the row is complete
/// (row r reads the row above's only, through the down-shift).
struct LayerSampler {
    left: StepSampler,
    right: StepSampler,
    up: PointConv,
    /// The layer's input on the current row, `[B, 2h, W]`.
    input: Tensor,
    /// The left-to-right h and cell states of the current row at columns
    /// −1.. (a zero column first), `[B, h, W + 1]`.
    h: Tensor,
    c: Tensor,
    /// The left-to-right h of the row above, `[B, h, W]`.
    h_above: Tensor,
    /// The right-to-left h of the row above, `[B, h, W]` (zeros above row 0).
    right_above: Tensor,
}

impl LayerSampler {
    /// Ends a completed row: its right-to-left scan (from the right edge,
    /// reading the scan of the row before it), and its left-to-right h
    /// becomes the row above.
    fn end_row(&mut self) {
        let width = self.input.size()[2];
        let mut before = (self.right_above.select(2, 0).zeros_like(), Tensor::new());
        before.1 = before.0.zeros_like();
        let right = self.right_above.zeros_like();
        for j in (0..width).rev() {
            let (y, above) = (self.input.select(2, j), self.right_above.select(2, j));
            before = self.right.step(&y, &above, (&before.0, &before.1));
            right.select(2, j).copy_(&before.0);
        }
        self.right_above = right;
        self.h_above = self.h.narrow(2, 1, width).copy();
    }

    /// The layer's output `[B, 2h]` at column c of the current row from its input `y`.
    fn at(&mut self, c: i64, y: &Tensor) -> Tensor {
        self.input.select(2, c).copy_(y);
        let before = (self.h.select(2, c), self.c.select(2, c));
        let (h, cell) = self
            .left
            .step(y, &self.h_above.select(2, c), (&before.0, &before.1));
        self.h.select(2, c + 1).copy_(&h);
        self.c.select(2, c + 1).copy_(&cell);
        self.up.apply(&(h + self.right_above.select(2, c))) + y
    }
}

/// Diagonal BiLSTM one position at a time, carrying both streams' states.
struct Sampler {
    image: Plane,
    first: PointConv,
    layers: Vec<LayerSampler>,
    out: OutputLayers,
    row: i64,
}

impl PixelSampler for Sampler {
    fn put(&mut self, r: i64, c: i64, pixel: &Tensor) {
        self.image.set(r, c, pixel);
    }

    fn at(&mut self, r: i64, c: i64) -> Tensor {
        if r != self.row {
            if r > 0 {
                self.layers.iter_mut().for_each(LayerSampler::end_row);
            }
            self.row = r;
        }
        let mut y = self.first.at(&self.image, r, c);
        for layer in &mut self.layers {
            y = layer.at(c, &y);
        }
        self.out.apply(&y)
    }
}
