//! Independent pixels: p(x) = Π_i p(x_i), the bottom rung for every pixel
//! form. Binary: one Bernoulli logit per pixel (D parameters). 8-bit gray or
//! RGB: a 256-way categorical per pixel and channel, 255 free logits each
//! (the 256th is fixed at 0), so D·255 parameters with D = C·H·W.
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Tensor};

use super::{DensityModel, Head, ModelDef};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::OrderSpec;

/// `type: independent` (no settings).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

impl ModelDef for Config {
    fn default_label(&self) -> String {
        "independent".into()
    }
    fn check(&self) -> Result<()> {
        Ok(())
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &PixelForm::ALL
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        Some(shape.dims() as u128 * (shape.levels as u128 - 1))
    }
    fn formula(&self) -> String {
        "D (binary) or 255·D (8-bit), D = C·H·W".into()
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        Ok(Box::new(Independent::new(vs, shape, ordering)))
    }
}

pub struct Independent {
    /// `[C·H·W]` (binary) or `[C·H·W, 255]` (8-bit).
    logits: Tensor,
    head: Head,
    shape: ImageShape,
    order: Vec<usize>,
}

impl Independent {
    pub fn new(vs: &nn::Path, shape: ImageShape, ordering: &OrderSpec) -> Self {
        let d = shape.dims() as i64;
        let head = Head::for_pixels(shape.pixels());
        let logits = match head {
            Head::Bernoulli => vs.zeros("logits", &[d]),
            _ => vs.zeros("logits", &[d, head.params() - 1]),
        };
        Independent {
            logits,
            head,
            shape,
            order: ordering.order(shape.height, shape.width),
        }
    }

    /// `[1, C, H, W, K]`.
    fn full_logits(&self) -> Tensor {
        let s = self.shape;
        let l = match self.head {
            Head::Bernoulli => self.logits.unsqueeze(-1),
            _ => {
                let zero = self.logits.narrow(1, 0, 1).zeros_like();
                Tensor::cat(&[&self.logits, &zero], 1)
            }
        };
        l.view([
            1,
            s.channels as i64,
            s.height as i64,
            s.width as i64,
            self.head.params(),
        ])
    }
}

impl DensityModel for Independent {
    fn logits(&self, x: &Tensor) -> Tensor {
        let l = self.full_logits().to_kind(x.kind());
        let mut dims = l.size();
        dims[0] = x.size()[0];
        l.expand(dims.as_slice(), false)
    }
    fn head(&self) -> Head {
        self.head
    }
    fn sample_with(&self, u: &Tensor) -> Tensor {
        self.head.sample(&self.logits(&u.zeros_like()), u)
    }
    fn num_params(&self) -> i64 {
        self.logits.numel() as i64
    }
    fn order(&self) -> &[usize] {
        &self.order
    }
    fn shape(&self) -> ImageShape {
        self.shape
    }
    fn device(&self) -> Device {
        self.logits.device()
    }
}
