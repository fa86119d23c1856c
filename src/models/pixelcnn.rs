//! PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016): a 7×7 mask-A
//! convolution, residual blocks (1×1 down to h, 3×3 mask B, 1×1 up to 2h),
//! then two ReLU → 1×1 mask-B output layers. Colour channels are predicted
//! R → G → B through channel-group masks. Its receptive field has a blind
//! spot above and to the right of each pixel.
//!
//! Under the 8 dihedral variants of raster order it runs as ordinary masked
//! convolutions on the transformed image; under any other ordering, or a
//! set of orderings drawn per minibatch, the same network runs with locally
//! masked convolutions (same weights, see [`super::local`]). That is
//! LMConv (Jain, Abbeel & Pathak 2020): this network over the 8 dihedral
//! variants of the S-curve ordering, one per minibatch, evaluated as their
//! ensemble (77.56 nats on dynamically binarized MNIST in the paper, with
//! its own PixelCNN++-style network: `preset: paper` here is our choice of
//! network for it, see docs/models.md).
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::adapters::local::{Local, LocalNet, LocalPointConv, LocalSampler, PaddedPlane};
use super::parts::cached::{OutputLayers, PixelSampler, Plane, PointConv};
use super::parts::layers::LocalMasks;
use super::parts::layers::{groups, Mask, MaskedConv2d};
use super::{check_sizes, DensityModel, Head, ModelDef, Orderings, Preset, Raster, RasterNet};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::{OrderSpec, RunOrdering};

/// `type: pixelcnn`: a preset, any of whose values can be overridden.
/// `small`: 4 residual blocks, h = 8 (16 features), 32-unit output layer;
/// `paper`: the binarized-MNIST setting of van den Oord, Kalchbrenner &
/// Kavukcuoglu 2016 (81.30 nats), h = 16 (2h = 32 features), 7 blocks,
/// 32-unit output layers. The paper does not list its PixelCNN's MNIST
/// depth: 7 × 16 is the size it gives for its MNIST recurrent models (our
/// choice).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub preset: Preset,
    /// Residual blocks after the first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<usize>,
    /// h: the blocks work on 2h features, h inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
    /// Units of the two output layers' first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_hidden: Option<usize>,
    /// `auto`: ordinary masked convolutions for raster and its dihedral
    /// variants, locally masked ones otherwise; `local`: always locally
    /// masked (to compare the two on the same orderings).
    #[serde(default, skip_serializing_if = "Conv::is_auto")]
    pub conv: Conv,
}

/// How the masked convolutions run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conv {
    #[default]
    Auto,
    Local,
}

impl Conv {
    fn is_auto(&self) -> bool {
        *self == Conv::Auto
    }
}

/// The resolved architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    pub blocks: i64,
    pub hidden: i64,
    pub output_hidden: i64,
}

impl Config {
    pub fn arch(&self) -> Arch {
        let (blocks, hidden, output_hidden) = match self.preset {
            Preset::Small => (4, 8, 32),
            Preset::Paper => (7, 16, 32),
        };
        Arch {
            blocks: self.blocks.unwrap_or(blocks) as i64,
            hidden: self.hidden.unwrap_or(hidden) as i64,
            output_hidden: self.output_hidden.unwrap_or(output_hidden) as i64,
        }
    }
}

impl ModelDef for Config {
    fn default_label(&self) -> String {
        let a = self.arch();
        let base = match (self.blocks, self.hidden, self.output_hidden) {
            (None, None, None) => format!("pixelcnn-{}", self.preset.name()),
            _ => format!("pixelcnn-b{}-h{}-o{}", a.blocks, a.hidden, a.output_hidden),
        };
        match self.conv {
            Conv::Auto => base,
            Conv::Local => format!("{base}-local"),
        }
    }
    fn check(&self) -> Result<()> {
        // blocks: 0 is a valid (shallow) network.
        check_sizes(&[
            ("hidden", self.hidden),
            ("output_hidden", self.output_hidden),
        ])
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &PixelForm::ALL
    }
    fn orderings(&self) -> Orderings {
        Orderings::Any
    }
    fn takes_sets(&self) -> bool {
        true
    }
    fn activation_floats(&self, shape: ImageShape) -> u128 {
        // Each residual block: its 2H input, two H maps and their activations.
        let a = self.arch();
        let per_pixel = 6 * a.blocks as u128 * a.hidden as u128 + 2 * a.output_hidden as u128;
        shape.positions() as u128 * per_pixel
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let a = self.arch();
        let (c, k) = (
            shape.channels as i64,
            Head::for_pixels(shape.pixels()).params(),
        );
        let (f, h, o) = (2 * a.hidden, a.hidden, a.output_hidden);
        let first = f * c * 49 + f;
        let block = (f * h + h) + (h * h * 9 + h) + (h * f + f);
        let out = (f * o + o) + (o * c * k + c * k);
        Some((first + a.blocks * block + out) as u128)
    }
    fn formula(&self) -> String {
        let a = self.arch();
        format!(
            "49·C·2h + B(4h² + 9h²) + 2h·o + o·C·K + biases; B = {}, h = {}, o = {}",
            a.blocks, a.hidden, a.output_hidden
        )
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        self.build_run(vs, shape, &RunOrdering::One(ordering.clone()))
    }
    fn build_run(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &RunOrdering,
    ) -> Result<Box<dyn DensityModel>> {
        let net = Box::new(PixelCnn::new(vs, shape, self.arch()));
        Ok(match ordering {
            RunOrdering::One(o) if self.conv == Conv::Auto && o.is_dihedral() => {
                Box::new(Raster::new(net, shape, o, vs)?)
            }
            _ => Box::new(Local::new(net, shape, ordering, vs)),
        })
    }
}

struct Block {
    down: MaskedConv2d,
    mid: MaskedConv2d,
    up: MaskedConv2d,
}

pub struct PixelCnn {
    first: MaskedConv2d,
    blocks: Vec<Block>,
    out1: MaskedConv2d,
    out2: MaskedConv2d,
}

impl PixelCnn {
    pub fn new(vs: &nn::Path, shape: ImageShape, a: Arch) -> PixelCnn {
        let c = shape.channels as i64;
        let k = Head::for_pixels(shape.pixels()).params();
        let g = |n: i64| groups(n, c);
        let (f, h, o) = (2 * a.hidden, a.hidden, a.output_hidden);
        let conv = |p: nn::Path, kernel: i64, mask, i: i64, out: i64| {
            MaskedConv2d::new(&p, [kernel, kernel], mask, &g(i), &g(out))
        };
        PixelCnn {
            first: conv(vs / "first", 7, Mask::A, c, f),
            blocks: (0..a.blocks)
                .map(|b| {
                    let p = vs / "blocks" / b;
                    Block {
                        down: conv(&p / "down", 1, Mask::B, f, h),
                        mid: conv(&p / "mid", 3, Mask::B, h, h),
                        up: conv(&p / "up", 1, Mask::B, h, f),
                    }
                })
                .collect(),
            out1: conv(vs / "out1", 1, Mask::B, f, o),
            // c·K outputs: channel c's K values form group c.
            out2: MaskedConv2d::new(&(vs / "out2"), [1, 1], Mask::B, &g(o), &groups(c * k, c)),
        }
    }
}

impl PixelCnn {
    /// The network with its spatial (7×7 and 3×3) convolutions run by `spatial`.
    fn run(&self, x: &Tensor, spatial: impl Fn(&MaskedConv2d, &Tensor) -> Tensor) -> Tensor {
        let mut y = spatial(&self.first, x);
        for b in &self.blocks {
            let r = b.down.forward(&y.relu());
            let r = spatial(&b.mid, &r.relu());
            y = b.up.forward(&r.relu()) + &y; // not `+=`: keep autograd's saved tensors intact
        }
        self.out2.forward(&self.out1.forward(&y.relu()).relu())
    }

    fn params(&self) -> i64 {
        let blocks: i64 = self
            .blocks
            .iter()
            .map(|b| b.down.num_params() + b.mid.num_params() + b.up.num_params())
            .sum();
        self.first.num_params() + blocks + self.out1.num_params() + self.out2.num_params()
    }
}

/// A residual block at one position; `mid_in` caches the 3×3 layer's input.
struct BlockSampler {
    down: PointConv,
    mid_in: Plane,
    mid: PointConv,
    up: PointConv,
}

/// PixelCNN one position at a time: every layer at (r, c) only, the 7×7
/// and 3×3 layers reading their cached inputs.
struct Sampler {
    image: Plane,
    first: PointConv,
    blocks: Vec<BlockSampler>,
    out: OutputLayers,
}

impl PixelSampler for Sampler {
    fn put(&mut self, r: i64, c: i64, pixel: &Tensor) {
        self.image.set(r, c, pixel);
    }

    fn at(&mut self, r: i64, c: i64) -> Tensor {
        let mut y = self.first.at(&self.image, r, c);
        for b in &mut self.blocks {
            b.mid_in.set(r, c, &b.down.apply(&y.relu()).relu());
            y = b.up.apply(&b.mid.at(&b.mid_in, r, c).relu()) + y;
        }
        self.out.apply(&y)
    }
}

/// A residual block at one position under local masks.
struct LocalBlock {
    down: PointConv,
    mid_in: PaddedPlane,
    mid: LocalPointConv,
    up: PointConv,
}

/// PixelCNN's cached sampler under any ordering: the 7×7 and 3×3 layers at
/// the new position from the cached values of earlier positions.
struct LocalPixelCnn {
    image: PaddedPlane,
    first: LocalPointConv,
    blocks: Vec<LocalBlock>,
    out: OutputLayers,
    width: i64,
}

impl LocalSampler for LocalPixelCnn {
    fn put(&mut self, r: i64, c: i64, pixel: &Tensor) {
        self.image.set(r, c, pixel);
    }

    fn at(&mut self, r: i64, c: i64, masks: &LocalMasks) -> Tensor {
        let p = r * self.width + c;
        let mut y = self.first.at(&self.image, r, c, p, masks);
        for b in &mut self.blocks {
            b.mid_in.set(r, c, &b.down.apply(&y.relu()).relu());
            y = b.up.apply(&b.mid.at(&b.mid_in, r, c, p, masks).relu()) + y;
        }
        self.out.apply(&y)
    }
}

impl RasterNet for PixelCnn {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.run(x, |conv, x| conv.forward(x))
    }

    fn num_params(&self) -> i64 {
        self.params()
    }

    fn sampler(&self, batch: i64, height: i64, width: i64) -> Option<Box<dyn PixelSampler + '_>> {
        let like = (self.first.bias().kind(), self.first.bias().device());
        let c_in = self.first.masked_weight().size()[1];
        let plane = |features: i64, reach: i64| {
            Plane::new([batch, features, height, width], reach, reach, like)
        };
        Some(Box::new(Sampler {
            image: plane(c_in, 3),
            first: PointConv::new(&self.first),
            blocks: (self.blocks.iter())
                .map(|b| BlockSampler {
                    down: PointConv::new(&b.down),
                    mid_in: plane(b.mid.masked_weight().size()[1], 1),
                    mid: PointConv::new(&b.mid),
                    up: PointConv::new(&b.up),
                })
                .collect(),
            out: OutputLayers::new(&self.out1, &self.out2),
        }))
    }
}

impl LocalNet for PixelCnn {
    fn forward_local(&self, x: &Tensor, masks: &LocalMasks) -> Tensor {
        self.run(x, |conv, x| conv.forward_local(x, masks))
    }

    fn kernels(&self) -> Vec<i64> {
        vec![7, 3]
    }

    fn local_sampler(
        &self,
        batch: i64,
        height: i64,
        width: i64,
    ) -> Option<Box<dyn LocalSampler + '_>> {
        let like = (self.first.bias().kind(), self.first.bias().device());
        let plane =
            |features: i64, pad: i64| PaddedPlane::new([batch, features, height, width], pad, like);
        Some(Box::new(LocalPixelCnn {
            image: plane(self.first.masked_weight().size()[1], 3),
            first: LocalPointConv::new(&self.first),
            blocks: (self.blocks.iter())
                .map(|b| LocalBlock {
                    down: PointConv::new(&b.down),
                    mid_in: plane(b.mid.masked_weight().size()[1], 1),
                    mid: LocalPointConv::new(&b.mid),
                    up: PointConv::new(&b.up),
                })
                .collect(),
            out: OutputLayers::new(&self.out1, &self.out2),
            width,
        }))
    }

    fn num_params(&self) -> i64 {
        self.params()
    }
}
