//! NADE (Larochelle & Murray 2011):
//! h_t = σ(c + Σ_{s<t} W_s x_s),  p(x_t = 1) = σ(b_t + V_t · h_t).
//! 2DH + D + H parameters.
//!
//! Cost is O(DH) per image: the pre-activation is a running sum shared by all
//! steps. For a batch we walk the sequence in blocks of `BLOCK` steps: inside
//! a block the exclusive prefix sums come from one small strictly-triangular
//! matmul (BLAS-friendly), between blocks a carry is added. The per-image
//! cost is O(D·H·BLOCK) flops with BLOCK fixed — never O(D²H) — and it runs
//! faster on a CPU than a per-step loop or a cumsum over a B×D×H tensor
//! (see "NADE's block length" in docs/measurements.md). Sampling is D
//! steps of O(H).
//!
//! With `order_agnostic: true` the model is the order-agnostic (deep) NADE
//! of `oanade.rs` instead.
//!
//! Presets (`preset:`, any value of which can be overridden):
//! - `small` (the default): H = 500; one hidden layer when order-agnostic.
//! - `paper`: the binarized-MNIST settings of the papers. Plain NADE:
//!   H = 500 (Larochelle & Murray 2011, the model of their MNIST
//!   experiment; the same as `small`). Order-agnostic: two hidden layers of
//!   500 units (the "EoNADE 2hl" of Uria, Murray & Larochelle 2014, whose
//!   ensemble of 128 orderings gives their binarized-MNIST number). The
//!   width of 500 per layer is our reading of that paper, which we could
//!   not check from this machine: a choice, documented in docs/models.md.
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::nade_cpu::kernel::{self as nade_kernel, Params, Real};
use super::oanade::OaNade;
use super::{DensityModel, Loss, ModelDef, Permuted, Preset, SeqNet};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::{OrderSpec, RunOrdering};

/// `type: nade`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `small` (default) or `paper`: see the module's documentation.
    #[serde(default, skip_serializing_if = "Preset::is_small")]
    pub preset: Preset,
    /// Hidden units H (500 in both presets).
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Order-agnostic training (Uria, Murray & Larochelle 2014): a random
    /// ordering and split per example, the observed-mask as an extra input.
    #[serde(default, skip_serializing_if = "is_false")]
    pub order_agnostic: bool,
    /// Hidden layers of `hidden` units (order-agnostic only; the preset's
    /// when absent: 1, or 2 for `paper`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn default_hidden() -> usize {
    500
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preset: Preset::Small,
            hidden: default_hidden(),
            order_agnostic: false,
            layers: None,
        }
    }
}

impl Config {
    /// Hidden layers: the given number, else the preset's (2 for an
    /// order-agnostic `paper` NADE, else 1).
    pub fn layers(&self) -> usize {
        let preset = match (self.preset, self.order_agnostic) {
            (Preset::Paper, true) => 2,
            _ => 1,
        };
        self.layers.unwrap_or(preset)
    }
}

impl ModelDef for Config {
    fn default_label(&self) -> String {
        match (self.order_agnostic, self.layers()) {
            (false, _) => format!("nade-h{}", self.hidden),
            (true, 1) => format!("nade-oa-h{}", self.hidden),
            (true, l) => format!("nade-oa-h{}-l{l}", self.hidden),
        }
    }
    fn check(&self) -> Result<()> {
        if self.hidden == 0 {
            bail!("hidden: must be at least 1, got 0");
        }
        if self.layers == Some(0) {
            bail!("layers: must be at least 1, got 0");
        }
        if self.layers() > 1 && !self.order_agnostic {
            bail!(
                "layers: {} needs `order_agnostic: true` (plain NADE has one hidden layer)",
                self.layers()
            );
        }
        Ok(())
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &[PixelForm::Binary]
    }
    fn activation_floats(&self, shape: ImageShape) -> u128 {
        // The hidden layer(s) at every step: D × H pre-activations and values.
        let (d, h) = (shape.dims() as u128, self.hidden as u128);
        2 * d * h * self.layers() as u128
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let (d, h) = (shape.dims() as u128, self.hidden as u128);
        if self.order_agnostic {
            let deep = (self.layers() as u128 - 1) * (h * h + h);
            return Some(3 * d * h + d + h + deep);
        }
        Some(2 * d * h + d + h)
    }
    fn formula(&self) -> String {
        if self.order_agnostic {
            return format!(
                "3DH + D + H + (L-1)(H² + H), H = {}, L = {}",
                self.hidden,
                self.layers()
            );
        }
        format!("2DH + D + H, H = {}", self.hidden)
    }
    fn takes_sets(&self) -> bool {
        self.order_agnostic
    }
    fn build_run(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &RunOrdering,
    ) -> Result<Box<dyn DensityModel>> {
        match (self.order_agnostic, ordering) {
            (true, _) => Ok(Box::new(OaNade::new(
                vs,
                shape,
                (self.hidden, self.layers()),
                ordering,
            ))),
            (false, RunOrdering::One(o)) => self.build(vs, shape, o),
            (false, RunOrdering::PerBatch(_)) => {
                bail!(
                    "plain nade trains under one ordering, not a set; write `order_agnostic: true`"
                )
            }
        }
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        if self.order_agnostic {
            return self.build_run(vs, shape, &RunOrdering::One(ordering.clone()));
        }
        let net = Nade::new(vs, shape.dims(), self.hidden);
        Ok(Permuted::boxed(net, shape, ordering, vs))
    }
}

/// Steps per block in the batched forward pass.
pub const BLOCK: i64 = 28;

pub struct Nade {
    /// Row s is W[:, s] of the paper: the input weights of pixel s (D×H).
    w: Tensor,
    c: Tensor,
    /// Row t is V_t: the output weights of step t (D×H).
    v: Tensor,
    b: Tensor,
    d: i64,
    block: i64,
}

impl Nade {
    pub fn new(vs: &nn::Path, d: usize, hidden: usize) -> Self {
        Nade::with_block(vs, d, hidden, BLOCK as usize)
    }

    /// As [`Nade::new`] with another block length (1 = a plain per-step loop;
    /// the benchmark compares them).
    pub fn with_block(vs: &nn::Path, d: usize, hidden: usize, block: usize) -> Self {
        let (d, h) = (d as i64, hidden as i64);
        Nade {
            block: block.max(1) as i64,
            w: vs.randn("w", &[d, h], 0.0, 0.01),
            c: vs.zeros("c", &[h]),
            v: vs.randn("v", &[d, h], 0.0, 0.01),
            b: vs.zeros("b", &[d]),
            d,
        }
    }
}

impl Nade {
    /// The logits by libtorch operations (autograd, any device): blocks
    /// of `block` steps.
    fn blocked_logits(&self, xs: &Tensor) -> Tensor {
        let batch = xs.size()[0];
        let mut carry = self.c.unsqueeze(0).expand([batch, -1], false);
        let mut out = Vec::with_capacity((self.d / self.block + 1) as usize);
        let mut start = 0;
        while start < self.d {
            let len = self.block.min(self.d - start);
            let xb = xs.narrow(1, start, len); // [B, L]
            let wb = self.w.narrow(0, start, len); // [L, H]
            let tri = Tensor::ones([len, len], (xs.kind(), xs.device())).tril(-1);
            // pre[b, t] = carry[b] + Σ_{s<t in block} x[b, s] W_s
            let pre = carry.unsqueeze(1) + (xb.unsqueeze(1) * tri).matmul(&wb); // [B, L, H]
            let h = pre.sigmoid();
            let vb = self.v.narrow(0, start, len);
            let logits = Tensor::einsum("blh,lh->bl", &[&h, &vb], None::<i64>)
                + self.b.narrow(0, start, len);
            out.push(logits);
            carry = &carry + xb.matmul(&wb); // not `+=`: carry starts as an expanded view
            start += len;
        }
        Tensor::cat(&out, 1)
    }

    /// Whether the CPU kernel ([`nade_kernel`]) runs this model: on the
    /// CPU, in float32 or float64, outside autocast (the kernel computes in
    /// its parameters' precision only; under bf16 autocast libtorch does).
    fn on_kernel(&self) -> bool {
        self.w.device() == Device::Cpu
            && matches!(self.w.kind(), Kind::Float | Kind::Double)
            && !crate::autocast::active(Device::Cpu)
    }

    /// Runs `f` on the parameters as plain vectors of `T`.
    fn with_params<T: Real, R>(&self, f: impl FnOnce(&Params<T>) -> R) -> R {
        let [w, c, v, b] = {
            let _guard = tch::no_grad_guard();
            [&self.w, &self.c, &self.v, &self.b].map(|t| as_vec::<T>(t))
        };
        f(&Params {
            w: &w,
            c: &c,
            v: &v,
            b: &b,
        })
    }

    fn kernel_logits<T: Real>(&self, xs: &Tensor) -> Tensor {
        let out = self.with_params(|p| nade_kernel::logits(p, &as_vec::<T>(xs)));
        Tensor::from_slice(&out).view([-1, self.d])
    }

    /// The mean NLL and a surrogate objective whose gradient is the
    /// kernel's hand-derived gradient of it.
    fn kernel_loss<T: Real>(&self, xs: &Tensor) -> Loss {
        let g = self.with_params(|p| nade_kernel::loss_and_grads(p, &as_vec::<T>(xs)));
        let batch = xs.size()[0].max(1) as f64;
        let params = [&self.w, &self.c, &self.v, &self.b];
        let objective = [g.w, g.c, g.v, g.b]
            .iter()
            .zip(params)
            .map(|(g, p)| {
                (p * Tensor::from_slice(g).view(p.size().as_slice()) / batch).sum(p.kind())
            })
            .fold(
                Tensor::zeros([], (self.w.kind(), Device::Cpu)),
                |acc, term| acc + term,
            );
        Loss {
            objective,
            nll: Tensor::from(g.loss / batch).to_kind(Kind::Float),
        }
    }
}

/// A CPU tensor's values as a vector of `T`.
fn as_vec<T: Real>(t: &Tensor) -> Vec<T> {
    Vec::try_from(t.to_kind(T::KIND).contiguous().view(-1)).expect("a CPU tensor of T")
}

impl SeqNet for Nade {
    fn logits(&self, xs: &Tensor) -> Tensor {
        // The kernel has no autograd graph: only where none is needed.
        let tracked = xs.requires_grad() || (&self.c * 1.0).requires_grad();
        if self.on_kernel() && !tracked {
            return match self.w.kind() {
                Kind::Double => self.kernel_logits::<f64>(xs),
                _ => self.kernel_logits::<f32>(xs),
            };
        }
        self.blocked_logits(xs)
    }

    fn training_loss(&self, xs: &Tensor) -> Option<Loss> {
        match (self.on_kernel(), self.w.kind()) {
            (false, _) => None,
            (true, Kind::Double) => Some(self.kernel_loss::<f64>(xs)),
            (true, _) => Some(self.kernel_loss::<f32>(xs)),
        }
    }

    fn sample(&self, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let kind = u.kind();
        let (w, v, b) = (
            self.w.to_kind(kind),
            self.v.to_kind(kind),
            self.b.to_kind(kind),
        );
        let n = u.size()[0];
        let mut a = self.c.to_kind(kind).unsqueeze(0).repeat([n, 1]);
        let x = u.zeros_like();
        for t in 0..self.d {
            let p = (a.sigmoid().matmul(&v.get(t)) + b.get(t)).sigmoid();
            let xt = u.select(1, t).lt_tensor(&p).to_kind(kind);
            a += xt.unsqueeze(1) * w.get(t).unsqueeze(0);
            x.select(1, t).copy_(&xt);
        }
        x
    }

    fn num_params(&self) -> i64 {
        [&self.w, &self.c, &self.v, &self.b]
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }
}
