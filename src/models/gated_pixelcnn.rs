//! Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation
//! with PixelCNN Decoders"): a vertical stack that sees the rows above and a
//! horizontal stack that sees the pixels to the left; the vertical stack's
//! output is shifted down one row before it feeds the horizontal stack, so
//! the horizontal stack gets the whole region above with no blind spot.
//! Gates tanh(f) ⊙ σ(g); residual connections in the horizontal stack; skip
//! connections from every layer to the two ReLU → 1×1 mask-B output layers.
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::parts::cached::{OutputLayers, PixelSampler, Plane, PointConv};
use super::parts::layers::{gate, groups, shift_down, Mask, MaskedConv2d, UpConv2d};
use super::{check_sizes, DensityModel, Head, ModelDef, Orderings, Preset, Raster, RasterNet};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::OrderSpec;

/// `type: gated_pixelcnn`: a preset, any of whose values can be overridden.
/// `small`: 5 gated layers of h = 16, kernel 3, 32-unit output layer;
/// `paper`: the paper's ImageNet configuration, 20 layers of 384 units with
/// 5×5 filters (it reports no binarized-MNIST model), 1024-unit output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub preset: Preset,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    /// Features h of both stacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
    /// Filter size k (odd): vertical (k/2 + 1) × k, horizontal 1 × k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_hidden: Option<usize>,
}

/// The resolved architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    pub layers: i64,
    pub hidden: i64,
    pub kernel: i64,
    pub output_hidden: i64,
}

impl Config {
    pub fn arch(&self) -> Arch {
        let (layers, hidden, kernel, output_hidden) = match self.preset {
            Preset::Small => (5, 16, 3, 32),
            Preset::Paper => (20, 384, 5, 1024),
        };
        Arch {
            layers: self.layers.unwrap_or(layers) as i64,
            hidden: self.hidden.unwrap_or(hidden) as i64,
            kernel: self.kernel.unwrap_or(kernel) as i64,
            output_hidden: self.output_hidden.unwrap_or(output_hidden) as i64,
        }
    }
}

impl ModelDef for Config {
    fn default_label(&self) -> String {
        let a = self.arch();
        match (self.layers, self.hidden, self.kernel, self.output_hidden) {
            (None, None, None, None) => format!("gated_pixelcnn-{}", self.preset.name()),
            _ => format!(
                "gated_pixelcnn-l{}-h{}-k{}-o{}",
                a.layers, a.hidden, a.kernel, a.output_hidden
            ),
        }
    }
    fn check(&self) -> Result<()> {
        check_sizes(&[
            ("layers", self.layers),
            ("hidden", self.hidden),
            ("output_hidden", self.output_hidden),
        ])?;
        if let Some(k) = self.kernel {
            if k % 2 == 0 {
                bail!("kernel: must be odd (the centre is the current pixel), got {k}");
            }
        }
        Ok(())
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &PixelForm::ALL
    }
    fn orderings(&self) -> Orderings {
        Orderings::Dihedral
    }
    fn raster_reason(&self) -> &'static str {
        "vertical stack (the rows above) and horizontal stack (the pixels to the left)"
    }
    fn activation_floats(&self, shape: ImageShape) -> u128 {
        // Two stacks, each a gated 2H map and its H output, per layer.
        let a = self.arch();
        let per_pixel = 6 * a.layers as u128 * a.hidden as u128 + 2 * a.output_hidden as u128;
        shape.positions() as u128 * per_pixel
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let a = self.arch();
        let (c, k) = (
            shape.channels as i64,
            Head::for_pixels(shape.pixels()).params(),
        );
        let (h, n, o) = (a.hidden, a.kernel, a.output_hidden);
        let layer = |ci: i64| {
            let v = 2 * h * ci * (n / 2 + 1) * n + 2 * h;
            let v_to_h = 4 * h * h + 2 * h;
            let hz = 2 * h * ci * n + 2 * h;
            let h_out = h * h + h;
            let skip = h * h + h;
            v + v_to_h + hz + h_out + skip
        };
        let out = (h * o + o) + (o * c * k + c * k);
        Some((layer(c) + (a.layers - 1) * layer(h) + out) as u128)
    }
    fn formula(&self) -> String {
        let a = self.arch();
        format!(
            "per layer 2h·C_in·k(k/2+1) + 4h² + 2h·C_in·k + 2h² + biases, then h·o + o·C·K; L = {}, h = {}, k = {}, o = {}",
            a.layers, a.hidden, a.kernel, a.output_hidden
        )
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        let net = GatedPixelCnn::new(vs, shape, self.arch());
        Ok(Box::new(Raster::new(Box::new(net), shape, ordering, vs)?))
    }
}

struct Layer {
    v_conv: UpConv2d,
    v_to_h: nn::Conv2D,
    h_conv: MaskedConv2d,
    h_out: MaskedConv2d,
    skip: MaskedConv2d,
    residual: bool,
}

impl Layer {
    /// `(v, h)` → `(v', h', skip)`.
    fn forward(&self, v: &Tensor, h: &Tensor) -> (Tensor, Tensor, Tensor) {
        let v_pre = self.v_conv.forward(v);
        let h_pre = self.h_conv.forward(h) + shift_down(&v_pre).apply(&self.v_to_h);
        let h_gated = gate(&h_pre);
        let mut h_new = self.h_out.forward(&h_gated);
        if self.residual {
            h_new += h;
        }
        (gate(&v_pre), h_new, self.skip.forward(&h_gated))
    }

    fn num_params(&self) -> i64 {
        let v_to_h = self.v_to_h.ws.numel() + self.v_to_h.bs.as_ref().map_or(0, |b| b.numel());
        self.v_conv.num_params()
            + v_to_h as i64
            + self.h_conv.num_params()
            + self.h_out.num_params()
            + self.skip.num_params()
    }
}

pub struct GatedPixelCnn {
    layers: Vec<Layer>,
    out1: MaskedConv2d,
    out2: MaskedConv2d,
}

impl GatedPixelCnn {
    pub fn new(vs: &nn::Path, shape: ImageShape, a: Arch) -> GatedPixelCnn {
        let c = shape.channels as i64;
        let k = Head::for_pixels(shape.pixels()).params();
        let (h, n, o) = (a.hidden, a.kernel, a.output_hidden);
        let g = |m: i64| groups(m, c);
        // The gate's f and g halves each carry the channel groups.
        let gated: Vec<i64> = [g(h), g(h)].concat();
        let layers = (0..a.layers)
            .map(|l| {
                let p = vs / "layers" / l;
                let ci = if l == 0 { c } else { h };
                let mask = if l == 0 { Mask::A } else { Mask::B };
                Layer {
                    v_conv: UpConv2d::new(&(&p / "v_conv"), ci, 2 * h, n),
                    v_to_h: nn::conv2d(&p / "v_to_h", 2 * h, 2 * h, 1, Default::default()),
                    h_conv: MaskedConv2d::new(&(&p / "h_conv"), [1, n], mask, &g(ci), &gated),
                    h_out: MaskedConv2d::new(&(&p / "h_out"), [1, 1], Mask::B, &g(h), &g(h)),
                    skip: MaskedConv2d::new(&(&p / "skip"), [1, 1], Mask::B, &g(h), &g(h)),
                    residual: l > 0,
                }
            })
            .collect();
        GatedPixelCnn {
            layers,
            out1: MaskedConv2d::new(&(vs / "out1"), [1, 1], Mask::B, &g(h), &g(o)),
            out2: MaskedConv2d::new(&(vs / "out2"), [1, 1], Mask::B, &g(o), &groups(c * k, c)),
        }
    }
}

impl RasterNet for GatedPixelCnn {
    fn forward(&self, x: &Tensor) -> Tensor {
        let (mut v, mut h) = (x.shallow_clone(), x.shallow_clone());
        let mut skips: Option<Tensor> = None;
        for layer in &self.layers {
            let (v2, h2, s) = layer.forward(&v, &h);
            (v, h) = (v2, h2);
            skips = Some(match skips {
                None => s,
                Some(total) => total + s,
            });
        }
        let skips = skips.unwrap_or_else(|| h.zeros_like());
        self.out2.forward(&self.out1.forward(&skips.relu()).relu())
    }

    fn num_params(&self) -> i64 {
        let layers: i64 = self.layers.iter().map(Layer::num_params).sum();
        layers + self.out1.num_params() + self.out2.num_params()
    }

    fn sampler(&self, batch: i64, height: i64, width: i64) -> Option<Box<dyn PixelSampler + '_>> {
        let like = (self.out1.bias().kind(), self.out1.bias().device());
        let reach = self.layers[0].v_conv.reach();
        let plane = |features: i64, top: i64| {
            Plane::new([batch, features, height, width], top, reach, like)
        };
        let c_in = self.layers[0].h_conv.masked_weight().size()[1];
        let h = self.layers[0].h_out.bias().size()[0];
        Some(Box::new(Sampler {
            net: self,
            image: plane(c_in, reach),
            v_in: (1..self.layers.len()).map(|_| plane(h, reach)).collect(),
            h_in: (1..self.layers.len()).map(|_| plane(h, 0)).collect(),
            h_conv: self
                .layers
                .iter()
                .map(|l| PointConv::new(&l.h_conv))
                .collect(),
            h_out: self
                .layers
                .iter()
                .map(|l| PointConv::new(&l.h_out))
                .collect(),
            skip: self
                .layers
                .iter()
                .map(|l| PointConv::new(&l.skip))
                .collect(),
            v_to_h: Vec::new(),
            out: OutputLayers::new(&self.out1, &self.out2),
            zero_row: Tensor::zeros([batch, 2 * h, 1, width], like),
            row: -1,
        }))
    }
}

/// Gated PixelCNN incrementally: the vertical stack a row at a time (row
/// r − 1 once it is complete: row r only reads it through the down-shift),
/// the horizontal stack and the output at one position.
struct Sampler<'a> {
    net: &'a GatedPixelCnn,
    /// The input of layer 0's both stacks.
    image: Plane,
    /// The vertical and horizontal inputs of layers 1.. .
    v_in: Vec<Plane>,
    h_in: Vec<Plane>,
    h_conv: Vec<PointConv>,
    h_out: Vec<PointConv>,
    skip: Vec<PointConv>,
    /// Each layer's shifted vertical contribution to the current row, `[B, 2h, W]`.
    v_to_h: Vec<Tensor>,
    out: OutputLayers,
    /// The vertical pre-activations above row 0: zeros, `[B, 2h, 1, W]`.
    zero_row: Tensor,
    row: i64,
}

impl Sampler<'_> {
    /// The vertical stack of row r − 1 (zeros above row 0), as every
    /// layer's contribution to row r.
    fn start_row(&mut self, r: i64) {
        self.v_to_h.clear();
        for (l, layer) in self.net.layers.iter().enumerate() {
            let v_pre = match r {
                0 => self.zero_row.shallow_clone(),
                _ => {
                    let input = if l == 0 {
                        &self.image
                    } else {
                        &self.v_in[l - 1]
                    };
                    layer.v_conv.valid(&input.window(
                        r - 1,
                        layer.v_conv.reach(),
                        layer.v_conv.reach(),
                    ))
                }
            };
            if r > 0 && l + 1 < self.net.layers.len() {
                self.v_in[l].set_row(r - 1, &gate(&v_pre).squeeze_dim(2));
            }
            self.v_to_h.push(v_pre.apply(&layer.v_to_h).squeeze_dim(2));
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
        let mut skips: Option<Tensor> = None;
        let mut h = Tensor::new();
        for l in 0..self.net.layers.len() {
            let input = if l == 0 {
                &self.image
            } else {
                &self.h_in[l - 1]
            };
            let h_pre = self.h_conv[l].at(input, r, c) + self.v_to_h[l].select(2, c);
            let h_gated = gate(&h_pre);
            let mut h_new = self.h_out[l].apply(&h_gated);
            if self.net.layers[l].residual {
                h_new += &h;
            }
            let s = self.skip[l].apply(&h_gated);
            skips = Some(match skips {
                None => s,
                Some(total) => total + s,
            });
            if l + 1 < self.net.layers.len() {
                self.h_in[l].set(r, c, &h_new);
            }
            h = h_new;
        }
        self.out.apply(&skips.expect("at least one layer"))
    }
}
