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

use super::layers::{gate, groups, shift_down, Mask, MaskedConv2d, UpConv2d};
use super::{check_sizes, DensityModel, Head, ModelDef, Orderings, Preset, Raster, RasterNet};
use crate::data::ImageShape;
use crate::order::OrderSpec;
use crate::spec::PixelForm;

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
}
