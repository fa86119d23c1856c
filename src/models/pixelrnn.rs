//! What the two PixelRNN models ([`super::row_lstm`] and
//! [`super::diagonal_bilstm`]) share: their settings ([`Sizes`]), the LSTM
//! cell, and their whole [`ModelDef`], which differs only in the recurrent
//! part of a layer ([`PixelRnn`]). Both are: a 7×7 mask-A convolution (C →
//! 2h), L recurrent layers each with a 1×1 mask-B convolution back to the
//! 2h-feature residual stream, and two ReLU → 1×1 mask-B output layers.
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::{check_sizes, DensityModel, Head, ModelDef, Orderings, Preset, Raster, RasterNet};
use crate::data::{ImageShape, PixelForm};
use crate::order::OrderSpec;

/// The settings of both PixelRNN models (`row_lstm` here and
/// `diagonal_bilstm`, which shares them as it shares [`lstm_cell`]): a
/// preset, any of whose values can be overridden. `small`: 2 recurrent
/// layers of h = 16 (32 features), 32-unit output layer; `paper`: the
/// paper's binarized-MNIST size, 7 layers of h = 16, 32-unit output layers
/// (given for its Diagonal BiLSTM, 79.20 nats; for the Row LSTM, 80.54 nats,
/// the paper states no size, so it gets the same).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sizes {
    #[serde(default)]
    pub preset: Preset,
    /// Recurrent layers after the first convolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    /// h: the LSTM state (of each direction); the residual stream has 2h features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
    /// Units of the two output layers' first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_hidden: Option<usize>,
}

/// The resolved architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    pub layers: i64,
    pub hidden: i64,
    pub output_hidden: i64,
}

impl Sizes {
    pub fn arch(&self) -> Arch {
        let (layers, hidden, output_hidden) = match self.preset {
            Preset::Small => (2, 16, 32),
            Preset::Paper => (7, 16, 32),
        };
        Arch {
            layers: self.layers.unwrap_or(layers) as i64,
            hidden: self.hidden.unwrap_or(hidden) as i64,
            output_hidden: self.output_hidden.unwrap_or(output_hidden) as i64,
        }
    }

    /// `NAME-PRESET`, or `NAME-lL-hH-oO` when a value is overridden.
    pub fn label(&self, name: &str) -> String {
        let a = self.arch();
        match (self.layers, self.hidden, self.output_hidden) {
            (None, None, None) => format!("{name}-{}", self.preset.name()),
            _ => format!("{name}-l{}-h{}-o{}", a.layers, a.hidden, a.output_hidden),
        }
    }

    pub fn check(&self) -> Result<()> {
        check_sizes(&[
            ("layers", self.layers),
            ("hidden", self.hidden),
            ("output_hidden", self.output_hidden),
        ])
    }
}

/// One PixelRNN model: its name, why it takes only the dihedral variants of
/// raster order, and its recurrent part.
pub trait PixelRnn {
    /// The `type:` of the spec and the label's stem.
    const NAME: &'static str;
    /// What makes it raster-only (for the error that refuses other orderings).
    const RASTER_REASON: &'static str;
    /// The recurrent part of one layer, in the formula of `arlab inspect`.
    const LAYER_FORMULA: &'static str;
    fn sizes(&self) -> &Sizes;
    /// Parameters of one layer's recurrent part (state size `h`).
    fn recurrent_params(h: i64) -> i64;
    /// The network (in raster order).
    fn net(vs: &nn::Path, shape: ImageShape, arch: Arch) -> Box<dyn RasterNet>;
}

impl<T: PixelRnn> ModelDef for T {
    fn default_label(&self) -> String {
        self.sizes().label(T::NAME)
    }
    fn check(&self) -> Result<()> {
        self.sizes().check()
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &PixelForm::ALL
    }
    fn orderings(&self) -> Orderings {
        Orderings::Dihedral
    }
    fn raster_reason(&self) -> &'static str {
        T::RASTER_REASON
    }
    fn activation_floats(&self, shape: ImageShape) -> u128 {
        // Each layer: the LSTM's four gates, its cell and state, the 2H input.
        let a = self.sizes().arch();
        let per_pixel = 8 * a.layers as u128 * a.hidden as u128 + 2 * a.output_hidden as u128;
        shape.positions() as u128 * per_pixel
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let a = self.sizes().arch();
        let (c, k) = (
            shape.channels as i64,
            Head::for_pixels(shape.pixels()).params(),
        );
        let (f, h, o) = (2 * a.hidden, a.hidden, a.output_hidden);
        let first = f * c * 49 + f;
        let up = h * f + f;
        let out = (f * o + o) + (o * c * k + c * k);
        Some((first + a.layers * (T::recurrent_params(h) + up) + out) as u128)
    }
    fn formula(&self) -> String {
        let a = self.sizes().arch();
        format!(
            "49·C·2h + L({} + h·2h) + 2h·o + o·C·K + biases; L = {}, h = {}, o = {}",
            T::LAYER_FORMULA,
            a.layers,
            a.hidden,
            a.output_hidden
        )
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        let net = T::net(vs, shape, self.sizes().arch());
        Ok(Box::new(Raster::new(net, shape, ordering, vs)?))
    }
}

/// One LSTM step on pre-activations `[B, 4h, N]` (o, f, i, g in blocks of
/// h) and the previous cell state `[B, h, N]`: the new `(h, c)`.
pub fn lstm_cell(pre: &Tensor, c: &Tensor) -> (Tensor, Tensor) {
    let [o, f, i, g] = &pre.chunk(4, 1)[..] else {
        unreachable!("4h pre-activations")
    };
    let c = f.sigmoid() * c + i.sigmoid() * g.tanh();
    (o.sigmoid() * c.tanh(), c)
}
