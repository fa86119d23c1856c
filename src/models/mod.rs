//! Models: one trait for every density model, one small file per model.
//!
//! Every model gives exact per-image log-likelihoods as the sum of its
//! autoregressive conditionals under an ordering from [`crate::order`].
//! The fully-connected models here work on the pixel *sequence* (the image
//! permuted into visiting order) through [`SeqNet`]; [`Permuted`] does the
//! permuting, so no model re-implements an ordering.
mod fvsbn;
mod independent;
mod nade;
mod table;

use anyhow::{bail, Result};
use tch::{nn, Device, Kind, Tensor};

use crate::rng;
use crate::spec::{ModelKind, ModelSpec};

pub use fvsbn::Fvsbn;
pub use independent::Independent;
pub use nade::{Nade, BLOCK as NADE_BLOCK};
pub use table::TableAr;

/// An explicit density model over images of D pixels.
pub trait DensityModel {
    /// `log p(x_{o_t} | x_{o_<t})` for every image and step `t` of the
    /// ordering `o`: shape `[B, D]`, in step order. `x` is `[B, D]`, row-major
    /// pixels, in the model's float kind.
    fn log_conditionals(&self, x: &Tensor) -> Tensor;

    /// Exact `log p(x)` per image, `[B]`, summed in float64.
    fn log_prob(&self, x: &Tensor) -> Tensor {
        self.log_conditionals(x)
            .to_kind(Kind::Double)
            .sum_dim_intlist(1, false, Kind::Double)
    }

    /// `n` images `[n, D]` (row-major pixels) drawn with the given seed.
    /// Does not touch libtorch's global random generator.
    fn sample(&self, n: i64, seed: u64) -> Tensor;

    /// Free parameters.
    fn num_params(&self) -> i64;

    /// The ordering: `order()[t]` is the pixel visited at step `t`.
    fn order(&self) -> &[usize];
}

/// A fully-connected autoregressive net over the pixel sequence in visiting order.
pub trait SeqNet {
    /// `[B, D]` sequence → `[B, D]` log conditionals of each step given the earlier ones.
    fn log_conditionals(&self, xs: &Tensor) -> Tensor;
    /// Ancestral sampling from uniforms `u` `[n, D]`: step t is 1 iff `u[:, t] < p_t`.
    fn sample(&self, u: &Tensor) -> Tensor;
    fn num_params(&self) -> i64;
}

/// A [`SeqNet`] under an ordering: permutes images into sequences and back.
pub struct Permuted<N: SeqNet> {
    net: N,
    order: Vec<usize>,
    perm: Tensor,
    ranks: Tensor,
    device: Device,
}

impl<N: SeqNet> Permuted<N> {
    pub fn new(net: N, order: Vec<usize>, device: Device) -> Self {
        let perm: Vec<i64> = order.iter().map(|&p| p as i64).collect();
        let ranks: Vec<i64> = crate::order::ranks(&order)
            .iter()
            .map(|&r| r as i64)
            .collect();
        Permuted {
            net,
            order,
            perm: Tensor::from_slice(&perm).to_device(device),
            ranks: Tensor::from_slice(&ranks).to_device(device),
            device,
        }
    }
}

impl<N: SeqNet> DensityModel for Permuted<N> {
    fn log_conditionals(&self, x: &Tensor) -> Tensor {
        self.net.log_conditionals(&x.index_select(1, &self.perm))
    }
    fn sample(&self, n: i64, seed: u64) -> Tensor {
        let mut r = rng::stream(seed, 0x5A);
        let u = rng::uniform(&mut r, &[n, self.order.len() as i64], self.device);
        self.net.sample(&u).index_select(1, &self.ranks)
    }
    fn num_params(&self) -> i64 {
        self.net.num_params()
    }
    fn order(&self) -> &[usize] {
        &self.order
    }
}

/// Binary images: data shapes a model is built for.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub height: usize,
    pub width: usize,
}

impl Shape {
    pub fn dims(&self) -> usize {
        self.height * self.width
    }
}

/// The largest image the tabular chain rule accepts (2^20 − 1 parameters).
pub const TABULAR_MAX_DIMS: usize = 20;

/// The largest Markov table built (2^26 logits, 256 MiB in float32).
pub const MARKOV_MAX_ENTRIES: u64 = 1 << 26;

/// Builds the model a spec names, its parameters under `vs`.
pub fn build(
    spec: &ModelSpec,
    vs: &nn::Path,
    shape: Shape,
    order: Vec<usize>,
) -> Result<Box<dyn DensityModel>> {
    let d = shape.dims();
    if order.len() != d {
        bail!(
            "the ordering has {} steps but the image has {d} pixels",
            order.len()
        );
    }
    let dev = vs.device();
    Ok(match spec.kind {
        ModelKind::Independent => Box::new(Permuted::new(Independent::new(vs, d), order, dev)),
        ModelKind::Markov => {
            let size = table::table_size(d, spec.k());
            if size > MARKOV_MAX_ENTRIES {
                bail!(
                    "markov: k = {} on D = {d} pixels needs {size} table entries (Σ_t 2^min(t, k)); the limit is {MARKOV_MAX_ENTRIES}: use a smaller k",
                    spec.k()
                );
            }
            Box::new(Permuted::new(TableAr::new(vs, d, spec.k()), order, dev))
        }
        ModelKind::Tabular => {
            if d > TABULAR_MAX_DIMS {
                bail!(
                    "tabular: a full chain-rule table over D = {d} pixels needs 2^D − 1 = 2^{d} − 1 parameters; \
                     it is only allowed up to D = {TABULAR_MAX_DIMS} (use data.downscale, a smaller synthetic size, or another model)"
                );
            }
            Box::new(Permuted::new(
                TableAr::new(vs, d, d.saturating_sub(1)),
                order,
                dev,
            ))
        }
        ModelKind::Fvsbn => Box::new(Permuted::new(Fvsbn::new(vs, d), order, dev)),
        ModelKind::Nade => Box::new(Permuted::new(Nade::new(vs, d, spec.hidden()), order, dev)),
    })
}

/// The closed-form parameter count of a model on D binary pixels, without
/// building it (the table of the whole family in `arlab inspect`).
/// `None` when it overflows (the tabular model on large images).
pub fn param_count(spec: &ModelSpec, d: usize) -> Option<u128> {
    let d128 = d as u128;
    Some(match spec.kind {
        ModelKind::Independent => d128,
        ModelKind::Markov => table::table_size(d, spec.k()) as u128,
        ModelKind::Tabular => {
            if d >= 127 {
                return None;
            }
            (1u128 << d) - 1
        }
        ModelKind::Fvsbn => d128 + d128 * d128.saturating_sub(1) / 2,
        ModelKind::Nade => {
            let h = spec.hidden() as u128;
            2 * d128 * h + d128 + h
        }
    })
}

/// `log p(x_t)` for Bernoulli conditionals with the given logits:
/// `x·l − softplus(l)`, stable for any logit.
pub fn bernoulli_log_prob(logits: &Tensor, x: &Tensor) -> Tensor {
    x * logits - logits.softplus()
}

#[cfg(test)]
mod tests;
