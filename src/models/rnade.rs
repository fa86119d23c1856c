//! RNADE (Uria, Murray & Larochelle 2013): NADE for real values, each
//! conditional a mixture of K Gaussians,
//! h_t = relu(c + Σ_{s<t} W_s y_s),
//! p(y_t | y_<t) = Σ_k π_tk N(y_t; μ_tk, σ_tk²), with (logits of π, μ, log σ)
//! = V_t h_t + b_t. DH + H + 3DHK + 3DK parameters.
//!
//! On 8-bit data (`pixels: gray256`) the model sees y = (x + u)/256 with
//! u uniform in [0, 1)^D. Since P(x) = 256^(−D) E_u[p((x + u)/256)],
//! Jensen gives the discrete bound −log P(x) ≤ E_u[−log p(y)] + D·log 256
//! (nats), comparable with the 256-way models; `log_probs` reports one draw
//! of it per pixel, log p(y_t | y_<t) − log 256, with u seeded by the image's
//! content (the same image always gets the same noise, whatever its batch).
//! Training draws fresh noise per minibatch. Sampling draws y from the
//! continuous model and quantizes it: x = clamp(⌊256 y⌋, 0, 255), an exact
//! draw from P(x).
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::adapters::seq::{flatten, unflatten};
use super::{DensityModel, Head, Loss, ModelDef};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::OrderSpec;
use crate::rng;

/// `type: rnade`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Hidden units H.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Gaussians per conditional K.
    #[serde(default = "default_components")]
    pub components: usize,
}

fn default_hidden() -> usize {
    100
}

fn default_components() -> usize {
    10
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hidden: default_hidden(),
            components: default_components(),
        }
    }
}

impl ModelDef for Config {
    fn default_label(&self) -> String {
        format!("rnade-h{}-k{}", self.hidden, self.components)
    }
    fn check(&self) -> Result<()> {
        super::check_sizes(&[
            ("hidden", Some(self.hidden)),
            ("components", Some(self.components)),
        ])
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &[PixelForm::Gray256]
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let (d, h, k) = (
            shape.dims() as u128,
            self.hidden as u128,
            self.components as u128,
        );
        Some(d * h + h + 3 * d * h * k + 3 * d * k)
    }
    fn formula(&self) -> String {
        format!(
            "DH + H + 3DHK + 3DK, H = {}, K = {}",
            self.hidden, self.components
        )
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        if shape.channels != 1 {
            bail!("rnade models one channel (`data.pixels: gray256`)");
        }
        Ok(Box::new(Rnade::new(vs, shape, self, ordering)))
    }
}

/// Steps per block of the batched running sum (as NADE's).
const BLOCK: i64 = 28;
/// The stream of the training noise (per minibatch draw).
const TRAIN_NOISE: u64 = 0xDE0A_0001;
/// The stream of the evaluation noise (per image content).
const EVAL_NOISE: u64 = 0xDE0A_0002;

pub struct Rnade {
    w: Tensor,
    c: Tensor,
    /// `[D, H, 3K]`: step t's output weights.
    v: Tensor,
    /// `[D, 3K]`: mixture logits, means, log-scales.
    b: Tensor,
    k: i64,
    order: Vec<usize>,
    perm: Tensor,
    ranks: Tensor,
    shape: ImageShape,
    device: Device,
}

impl Rnade {
    pub fn new(vs: &nn::Path, shape: ImageShape, config: &Config, ordering: &OrderSpec) -> Rnade {
        let (d, h, k) = (
            shape.dims() as i64,
            config.hidden as i64,
            config.components as i64,
        );
        // Initial mixtures: equal weights, means spread over [0, 1], σ = 1/K.
        let means = (Tensor::arange(k, (Kind::Double, Device::Cpu)) + 0.5) / k as f64;
        let init = Tensor::cat(
            &[
                Tensor::zeros([k], (Kind::Double, Device::Cpu)),
                means,
                Tensor::full([k], -(k as f64).ln(), (Kind::Double, Device::Cpu)),
            ],
            0,
        );
        let b = vs.zeros("b", &[d, 3 * k]);
        tch::no_grad(|| {
            b.shallow_clone()
                .copy_(&init.unsqueeze(0).expand([d, 3 * k], false))
        });
        let order = ordering.order(shape.height, shape.width);
        let perm: Vec<i64> = order.iter().map(|&p| p as i64).collect();
        let ranks: Vec<i64> = crate::order::ranks(&order)
            .iter()
            .map(|&r| r as i64)
            .collect();
        Rnade {
            w: vs.randn("w", &[d, h], 0.0, 0.05),
            c: vs.zeros("c", &[h]),
            v: vs.randn("v", &[d, h, 3 * k], 0.0, 0.01),
            b,
            k,
            order,
            perm: Tensor::from_slice(&perm).to_device(vs.device()),
            ranks: Tensor::from_slice(&ranks).to_device(vs.device()),
            shape,
            device: vs.device(),
        }
    }

    fn mixture(&self) -> Head {
        Head::GaussianMixture { components: self.k }
    }

    /// Mixture parameters `[B, D, 3K]` (pixel order) of every conditional,
    /// for continuous images `y` `[B, D]` (pixel order).
    pub(super) fn params(&self, y: &Tensor) -> Tensor {
        let kind = y.kind();
        let ys = y.index_select(1, &self.perm);
        let (w, v, b) = (
            self.w.to_kind(kind).index_select(0, &self.perm),
            self.v.to_kind(kind).index_select(0, &self.perm),
            self.b.to_kind(kind).index_select(0, &self.perm),
        );
        let (batch, d) = (ys.size()[0], ys.size()[1]);
        let mut carry = self.c.to_kind(kind).unsqueeze(0).expand([batch, -1], false);
        let mut out = Vec::with_capacity((d / BLOCK + 1) as usize);
        let mut start = 0;
        while start < d {
            let len = BLOCK.min(d - start);
            let (yb, wb) = (ys.narrow(1, start, len), w.narrow(0, start, len));
            let tri = Tensor::ones([len, len], (kind, y.device())).tril(-1);
            let h = (carry.unsqueeze(1) + (yb.unsqueeze(1) * tri).matmul(&wb)).relu();
            let vb = v.narrow(0, start, len);
            out.push(
                Tensor::einsum("blh,lhk->blk", &[&h, &vb], None::<i64>) + b.narrow(0, start, len),
            );
            carry = &carry + yb.matmul(&wb);
            start += len;
        }
        Tensor::cat(&out, 1).index_select(1, &self.ranks)
    }

    /// `log p(y_t | y_<t)` `[B, D]` (pixel order) of continuous images `y`.
    pub(super) fn log_density(&self, y: &Tensor) -> Tensor {
        self.mixture().log_prob(&self.params(y), y)
    }

    /// The evaluation noise `[B, D]` of images `x` `[B, D]`: uniforms from a
    /// stream seeded by each image's levels.
    fn eval_noise(&self, x: &Tensor) -> Tensor {
        let (batch, d) = (x.size()[0], x.size()[1]);
        let levels = Vec::<f64>::try_from(
            x.detach()
                .to_device(Device::Cpu)
                .to_kind(Kind::Double)
                .reshape([-1]),
        )
        .expect("a float vector");
        let u: Vec<Tensor> = levels
            .chunks(d.max(1) as usize)
            .map(|image| {
                // FNV-1a over the levels.
                let seed = image.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &v| {
                    (h ^ v as u8 as u64).wrapping_mul(0x0100_0000_01B3)
                });
                rng::uniform(&mut rng::stream(seed, EVAL_NOISE), &[d], Device::Cpu)
            })
            .collect();
        if u.is_empty() {
            return x.zeros_like();
        }
        Tensor::stack(&u, 0)
            .view([batch, d])
            .to_kind(x.kind())
            .to_device(x.device())
    }

    /// Per-pixel bound terms `[B, D]`: log p(y_t | y_<t) − log 256 at
    /// y = (x + u)/256.
    fn bound_terms(&self, x: &Tensor, u: &Tensor) -> Tensor {
        self.log_density(&((x + u) / 256.0)) - 256f64.ln()
    }
}

impl DensityModel for Rnade {
    /// The mixture parameters at the evaluation noise, `[B, 1, H, W, 3K]`.
    fn logits(&self, x: &Tensor) -> Tensor {
        let x = flatten(x);
        let y = (&x + self.eval_noise(&x)) / 256.0;
        unflatten(&self.params(&y), self.shape, &[3 * self.k])
    }
    fn head(&self) -> Head {
        self.mixture()
    }
    /// The discrete bound per pixel (one seeded noise draw).
    fn log_probs(&self, x: &Tensor) -> Tensor {
        let flat = flatten(x);
        let u = self.eval_noise(&flat);
        unflatten(&self.bound_terms(&flat, &u), self.shape, &[])
    }
    fn training_loss(&self, x: &Tensor, draw: u64) -> Loss {
        let flat = flatten(x);
        let dims = flat.size();
        let u = rng::uniform(&mut rng::stream(draw, TRAIN_NOISE), &dims, self.device);
        Loss::of_nll(
            -self
                .bound_terms(&flat, &u.to_kind(flat.kind()))
                .sum_dim_intlist(1, false, Kind::Float)
                .mean(Kind::Float),
        )
    }
    fn sample_with(&self, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let u = flatten(u);
        let kind = u.kind();
        let (w, v, b) = (
            self.w.to_kind(kind),
            self.v.to_kind(kind),
            self.b.to_kind(kind),
        );
        let mut a = self.c.to_kind(kind).unsqueeze(0).repeat([u.size()[0], 1]);
        let x = u.zeros_like();
        for &p in &self.order {
            let p = p as i64;
            let params = a.relu().matmul(&v.get(p)) + b.get(p);
            let y = self.mixture().sample(&params, &u.select(1, p));
            x.select(1, p)
                .copy_(&(y.shallow_clone() * 256.0).floor().clamp(0.0, 255.0));
            a += y.unsqueeze(1) * w.get(p).unsqueeze(0);
        }
        unflatten(&x, self.shape, &[])
    }
    fn num_params(&self) -> i64 {
        [&self.w, &self.c, &self.v, &self.b]
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }
    fn order(&self) -> &[usize] {
        &self.order
    }
    fn shape(&self) -> ImageShape {
        self.shape
    }
    fn device(&self) -> Device {
        self.device
    }
}
