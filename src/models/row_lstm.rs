//! Row LSTM (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel
//! Recurrent Neural Networks"): a 7×7 mask-A convolution, then recurrent
//! layers that process the image a whole row at a time, top to bottom, each
//! with a residual connection, then two ReLU → 1×1 mask-B output layers.
//!
//! In a layer, the input-to-state part is a 1×3 mask-B convolution over the
//! layer's input (pixel j sees columns j−1 and j, the centre through the
//! R → G → B channel groups), computed for the whole map at once; the
//! state-to-state part is an unmasked 1×3 convolution over the previous
//! row's hidden state (columns j−1..j+1 of row r−1: all earlier pixels, so
//! it may mix every channel). Both give the 4h pre-activations of the gates
//! o, f, i (sigmoid) and the candidate g (tanh):
//! `c_r = f ⊙ c_{r−1} + i ⊙ g`, `h_r = o ⊙ tanh(c_r)`, zero initial state.
//! A 1×1 mask-B convolution takes h back to the 2h-feature residual stream.
//! Its receptive field is a triangle above each pixel (widening by one
//! column per row, plus the first layer's reach) and the pixels to its left:
//! it misses the pixels far to the right in the rows above.
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::parts::cached::{OutputLayers, PixelSampler, Plane, PointConv};
use super::parts::layers::{groups, Mask, MaskedConv2d};
use super::pixelrnn::{lstm_cell, Arch, PixelRnn, Sizes};
use super::{Head, RasterNet};
use crate::data::ImageShape;

/// `type: row_lstm`, with the [`Sizes`] of the PixelRNN models.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Config(pub Sizes);

impl PixelRnn for Config {
    const NAME: &'static str = "row_lstm";
    const RASTER_REASON: &'static str = "row-by-row recurrence";
    const LAYER_FORMULA: &'static str = "3·2h·4h + 3·h·4h";
    fn sizes(&self) -> &Sizes {
        &self.0
    }
    fn recurrent_params(h: i64) -> i64 {
        let f = 2 * h;
        let i2s = 4 * h * f * 3 + 4 * h;
        let s2s = 4 * h * h * 3; // no bias: i2s has one
        i2s + s2s
    }
    fn net(vs: &nn::Path, shape: ImageShape, arch: Arch) -> Box<dyn RasterNet> {
        Box::new(RowLstm::new(vs, shape, arch))
    }
}

struct Layer {
    /// 1×3 mask B, 2h → 4h, over the layer's input.
    i2s: MaskedConv2d,
    /// `[4h, h, 3]`, unmasked, over the previous row's h.
    s2s: Tensor,
    /// 1×1 mask B, h → 2h, back to the residual stream.
    up: MaskedConv2d,
}

impl Layer {
    /// The hidden states `[B, h, H, W]` of the rows, top to bottom.
    fn scan(&self, y: &Tensor) -> Tensor {
        let (b, w) = (y.size()[0], y.size()[3]);
        let mut h = Tensor::zeros([b, self.s2s.size()[1], w], (y.kind(), y.device()));
        let mut c = h.zeros_like();
        let mut states = Vec::new();
        // `unbind`, not `select`: its backward is one stack, where each
        // `select` would add a gradient the size of the whole map.
        for row in self.i2s.forward(y).unbind(2) {
            // Columns j−1..j+1 of row r−1: all before row r, so "same" padding is safe.
            let from_above = h.conv1d::<Tensor>(&self.s2s, None, [1], [1], [1], 1);
            (h, c) = lstm_cell(&(row + from_above), &c);
            states.push(h.shallow_clone());
        }
        Tensor::stack(&states, 2)
    }

    fn num_params(&self) -> i64 {
        self.i2s.num_params() + self.s2s.numel() as i64 + self.up.num_params()
    }
}

pub struct RowLstm {
    first: MaskedConv2d,
    layers: Vec<Layer>,
    out1: MaskedConv2d,
    out2: MaskedConv2d,
}

impl RowLstm {
    pub fn new(vs: &nn::Path, shape: ImageShape, a: Arch) -> RowLstm {
        let c = shape.channels as i64;
        let k = Head::for_pixels(shape.pixels()).params();
        let g = |n: i64| groups(n, c);
        let (f, h, o) = (2 * a.hidden, a.hidden, a.output_hidden);
        // Each of o, f, i, g carries the channel groups of h.
        let gates: Vec<i64> = [g(h), g(h), g(h), g(h)].concat();
        let layers = (0..a.layers)
            .map(|l| {
                let p = vs / "layers" / l;
                Layer {
                    i2s: MaskedConv2d::new(&(&p / "i2s"), [1, 3], Mask::B, &g(f), &gates),
                    s2s: (&p / "s2s").kaiming_uniform("weight", &[4 * h, h, 3]),
                    up: MaskedConv2d::new(&(&p / "up"), [1, 1], Mask::B, &g(h), &g(f)),
                }
            })
            .collect();
        RowLstm {
            first: MaskedConv2d::new(&(vs / "first"), [7, 7], Mask::A, &g(c), &g(f)),
            layers,
            out1: MaskedConv2d::new(&(vs / "out1"), [1, 1], Mask::B, &g(f), &g(o)),
            out2: MaskedConv2d::new(&(vs / "out2"), [1, 1], Mask::B, &g(o), &groups(c * k, c)),
        }
    }
}

impl RasterNet for RowLstm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut y = self.first.forward(x);
        for layer in &self.layers {
            y = layer.up.forward(&layer.scan(&y)) + &y;
        }
        self.out2.forward(&self.out1.forward(&y.relu()).relu())
    }

    fn num_params(&self) -> i64 {
        let layers: i64 = self.layers.iter().map(Layer::num_params).sum();
        self.first.num_params() + layers + self.out1.num_params() + self.out2.num_params()
    }

    fn sampler(&self, batch: i64, height: i64, width: i64) -> Option<Box<dyn PixelSampler + '_>> {
        let like = (self.first.bias().kind(), self.first.bias().device());
        let [f, c_in] = self.first.masked_weight().size()[..2] else {
            unreachable!("conv weights are [out, in, kh, kw]")
        };
        let h = f / 2;
        let zeros = || Tensor::zeros([batch, h, width], like);
        Some(Box::new(Sampler {
            net: self,
            image: Plane::new([batch, c_in, height, width], 3, 3, like),
            first: PointConv::new(&self.first),
            layers: (self.layers.iter())
                .map(|l| LayerSampler {
                    input: Plane::new([batch, f, height, width], 0, 1, like),
                    i2s: PointConv::new(&l.i2s),
                    up: PointConv::new(&l.up),
                    from_above: Tensor::new(),
                    above_c: Tensor::new(),
                    h: zeros(),
                    c: zeros(),
                })
                .collect(),
            out: OutputLayers::new(&self.out1, &self.out2),
            row: -1,
        }))
    }
}

/// One recurrent layer at one position; the states of the row being
/// sampled, and what the row above contributes to it.
struct LayerSampler {
    /// The layer's input (the 1×3 input-to-state convolution reads columns c − 1, c).
    input: Plane,
    i2s: PointConv,
    up: PointConv,
    /// The state-to-state convolution of the row above's h, `[B, 4h, W]`.
    from_above: Tensor,
    /// The row above's cell states, `[B, h, W]`.
    above_c: Tensor,
    /// The current row's h and cell states, `[B, h, W]`, filled left to right.
    h: Tensor,
    c: Tensor,
}

/// Row LSTM one position at a time, carrying each layer's row of states.
struct Sampler<'a> {
    net: &'a RowLstm,
    image: Plane,
    first: PointConv,
    layers: Vec<LayerSampler>,
    out: OutputLayers,
    row: i64,
}

impl Sampler<'_> {
    /// The completed row's states become the row above (zeros above row 0).
    fn start_row(&mut self, r: i64) {
        for (s, layer) in self.layers.iter_mut().zip(&self.net.layers) {
            s.from_above = s.h.conv1d::<Tensor>(&layer.s2s, None, [1], [1], [1], 1);
            s.above_c = s.c.shallow_clone();
            (s.h, s.c) = (s.h.zeros_like(), s.c.zeros_like());
        }
        self.row = r;
    }
}

impl PixelSampler for Sampler<'_> {
    fn put(&mut self, r: i64, c: i64, pixel: &Tensor) {
        self.image.set(r, c, pixel);
    }

    fn at(&mut self, r: i64, c: i64) -> Tensor {
        if r != self.row {
            self.start_row(r);
        }
        let mut y = self.first.at(&self.image, r, c);
        for s in &mut self.layers {
            s.input.set(r, c, &y);
            let pre = s.i2s.at(&s.input, r, c) + s.from_above.select(2, c);
            let (h, cell) = lstm_cell(&pre, &s.above_c.select(2, c));
            s.h.select(2, c).copy_(&h);
            s.c.select(2, c).copy_(&cell);
            y = s.up.apply(&h) + y;
        }
        self.out.apply(&y)
    }
}
