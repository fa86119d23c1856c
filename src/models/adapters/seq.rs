//! The sequence adapter: a fully-connected autoregressive net over the pixel
//! sequence, run on the image permuted into visiting order. No model knows
//! about orderings; this adapter does the permuting.
use tch::{nn, Device, Tensor};

use crate::data::ImageShape;
use crate::models::{mean_nll_loss, DensityModel, Head, Loss};
use crate::order::OrderSpec;

/// A fully-connected autoregressive net over binary sequences in visiting order.
pub trait SeqNet {
    /// `[B, D]` sequence → `[B, D]` Bernoulli logits of each step given the
    /// earlier ones.
    fn logits(&self, xs: &Tensor) -> Tensor;
    /// Ancestral sampling from uniforms `u` `[n, D]`: step t is 1 iff
    /// `u[:, t] < p_t`.
    fn sample(&self, u: &Tensor) -> Tensor;
    fn num_params(&self) -> i64;
    /// The mean NLL of sequences `xs` `[B, D]` as a [`Loss`], for a net
    /// with its own gradient; `None`: autograd through `logits`.
    fn training_loss(&self, _xs: &Tensor) -> Option<Loss> {
        None
    }
}

/// A [`SeqNet`] under an ordering: permutes images into sequences and back.
pub struct Permuted<N: SeqNet> {
    net: N,
    order: Vec<usize>,
    perm: Tensor,
    ranks: Tensor,
    /// The order is the raster order: sequences are the images reshaped.
    raster: bool,
    shape: ImageShape,
    device: Device,
}

impl<N: SeqNet> Permuted<N> {
    /// `order` is a permutation of the `shape.pixels()` positions.
    pub fn new(net: N, order: Vec<usize>, shape: ImageShape, device: Device) -> Self {
        let perm: Vec<i64> = order.iter().map(|&p| p as i64).collect();
        let ranks: Vec<i64> = crate::order::ranks(&order)
            .iter()
            .map(|&r| r as i64)
            .collect();
        Permuted {
            net,
            raster: order.iter().enumerate().all(|(i, &p)| i == p),
            order,
            perm: Tensor::from_slice(&perm).to_device(device),
            ranks: Tensor::from_slice(&ranks).to_device(device),
            shape,
            device,
        }
    }

    /// `net` under `ordering` on images of `shape`, on `vs`'s device: what a
    /// fully-connected model's `build` returns.
    pub fn boxed(
        net: N,
        shape: ImageShape,
        ordering: &OrderSpec,
        vs: &nn::Path,
    ) -> Box<dyn DensityModel>
    where
        N: 'static,
    {
        let order = ordering.order(shape.height, shape.width);
        Box::new(Permuted::new(net, order, shape, vs.device()))
    }

    /// `[B, 1, H, W, ...]` ↔ `[B, D]` in visiting order (a reshape alone
    /// under raster order: a gather and its backward scatter cost FVSBN
    /// about a tenth of its training rate).
    fn to_steps(&self, x: &Tensor) -> Tensor {
        let flat = x.reshape([x.size()[0], -1]);
        if self.raster {
            flat
        } else {
            flat.index_select(1, &self.perm)
        }
    }
    fn to_image(&self, steps: &Tensor, extra: &[i64]) -> Tensor {
        let s = self.shape;
        let mut dims = vec![steps.size()[0], 1, s.height as i64, s.width as i64];
        dims.extend_from_slice(extra);
        if self.raster {
            steps.reshape(dims.as_slice())
        } else {
            steps.index_select(1, &self.ranks).view(dims.as_slice())
        }
    }
}

impl<N: SeqNet> DensityModel for Permuted<N> {
    fn logits(&self, x: &Tensor) -> Tensor {
        self.to_image(&self.net.logits(&self.to_steps(x)), &[1])
    }
    fn head(&self) -> Head {
        Head::Bernoulli
    }
    fn sample_with(&self, u: &Tensor) -> Tensor {
        self.to_image(&self.net.sample(&self.to_steps(u)), &[])
    }
    fn training_loss(&self, x: &Tensor, _draw: u64) -> Loss {
        self.net
            .training_loss(&self.to_steps(x))
            .unwrap_or_else(|| mean_nll_loss(self, x))
    }
    fn num_params(&self) -> i64 {
        self.net.num_params()
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

/// Images `[B, C, H, W]` as rows `[B, D]` (row-major pixel order).
pub fn flatten(x: &Tensor) -> Tensor {
    x.reshape([x.size()[0], -1])
}

/// Rows `[B, D]` of a one-channel model back as images `[B, 1, H, W, extra…]`.
pub fn unflatten(flat: &Tensor, shape: ImageShape, extra: &[i64]) -> Tensor {
    let mut dims = vec![flat.size()[0], 1, shape.height as i64, shape.width as i64];
    dims.extend_from_slice(extra);
    flat.view(dims.as_slice())
}
