//! Tabular autoregressive models over binary pixels: one Bernoulli logit per
//! (step, context), where the context is the previous `k` pixels of the
//! sequence. `k = 1` is the Markov AR-1 model (2D − 1 parameters);
//! `k = D − 1` is the full chain rule (2^D − 1 parameters).
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use super::{DensityModel, ModelDef, Permuted, SeqNet};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::OrderSpec;

/// The largest image the tabular chain rule accepts (2^20 − 1 parameters).
pub const TABULAR_MAX_DIMS: usize = 20;

/// The largest Markov table built (2^26 logits, 256 MiB in float32).
pub const MARKOV_MAX_ENTRIES: u64 = 1 << 26;

/// `type: markov`: each pixel given the previous `k` in the ordering.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkovConfig {
    #[serde(default = "one")]
    pub k: usize,
}

fn one() -> usize {
    1
}

impl ModelDef for MarkovConfig {
    fn default_label(&self) -> String {
        format!("markov-k{}", self.k)
    }
    fn check(&self) -> Result<()> {
        if self.k == 0 {
            bail!("k: must be at least 1, got 0");
        }
        Ok(())
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &[PixelForm::Binary]
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        Some(table_size(shape.dims(), self.k) as u128)
    }
    fn formula(&self) -> String {
        match self.k {
            1 => "2D - 1".into(),
            k => format!("sum_t 2^min(t, {k})"),
        }
    }
    fn check_shape(&self, shape: ImageShape) -> Result<()> {
        let (d, k) = (shape.dims(), self.k);
        let size = table_size(d, k);
        if size > MARKOV_MAX_ENTRIES {
            bail!(
                "markov: k = {k} on D = {d} pixels needs {size} table entries (Σ_t 2^min(t, k)); the limit is {MARKOV_MAX_ENTRIES}: use a smaller k"
            );
        }
        Ok(())
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        let net = TableAr::new(vs, shape.dims(), self.k);
        Ok(Permuted::boxed(net, shape, ordering, vs))
    }
}

/// `type: tabular`: the full chain rule, one logit per (step, whole past).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TabularConfig {}

impl ModelDef for TabularConfig {
    fn default_label(&self) -> String {
        "tabular".into()
    }
    fn check(&self) -> Result<()> {
        Ok(())
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &[PixelForm::Binary]
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let d = shape.dims();
        (d < 127).then(|| (1u128 << d) - 1)
    }
    fn formula(&self) -> String {
        "2^D - 1".into()
    }
    fn check_shape(&self, shape: ImageShape) -> Result<()> {
        let d = shape.dims();
        if d > TABULAR_MAX_DIMS {
            bail!(
                "tabular: a full chain-rule table over D = {d} pixels needs 2^D − 1 = 2^{d} − 1 parameters; \
                 it is only allowed up to D = {TABULAR_MAX_DIMS} (use data.downscale, a smaller synthetic size, or another model)"
            );
        }
        Ok(())
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        let d = shape.dims();
        let net = TableAr::new(vs, d, d.saturating_sub(1));
        Ok(Permuted::boxed(net, shape, ordering, vs))
    }
}

/// Σ_t 2^min(t, k): the number of (step, context) entries, saturating.
pub fn table_size(d: usize, k: usize) -> u64 {
    (0..d).fold(0u64, |acc, t| {
        acc.saturating_add(1u64.checked_shl(t.min(k) as u32).unwrap_or(u64::MAX))
    })
}

pub struct TableAr {
    logits: Tensor,
    /// Where step t's contexts start in `logits`.
    offsets: Tensor,
    d: usize,
    k: usize,
}

impl TableAr {
    /// Panics if the table would not fit in memory; callers validate `k`
    /// (the configs' `check_shape` checks the size first).
    pub fn new(vs: &nn::Path, d: usize, k: usize) -> Self {
        let size = table_size(d, k) as i64;
        let mut offsets = Vec::with_capacity(d);
        let mut at = 0i64;
        for t in 0..d {
            offsets.push(at);
            at += 1i64 << t.min(k);
        }
        TableAr {
            logits: vs.randn("logits", &[size], 0.0, 0.1),
            offsets: Tensor::from_slice(&offsets).to_device(vs.device()),
            d,
            k,
        }
    }

    /// Row index of every step's context: `[B, D]` int64.
    fn context(&self, xs: &Tensor) -> Tensor {
        let xi = xs.to_kind(Kind::Int64);
        let b = xs.size()[0];
        let mut idx = self.offsets.unsqueeze(0).repeat([b, 1]);
        for j in 1..=self.k.min(self.d.saturating_sub(1)) {
            let pad = Tensor::zeros([b, j as i64], (Kind::Int64, xs.device()));
            let shifted = Tensor::cat(&[pad, xi.narrow(1, 0, (self.d - j) as i64)], 1);
            idx += shifted * (1i64 << (j - 1));
        }
        idx
    }
}

impl SeqNet for TableAr {
    fn logits(&self, xs: &Tensor) -> Tensor {
        let idx = self.context(xs);
        self.logits.index_select(0, &idx.flatten(0, 1)).view_as(xs)
    }

    fn sample(&self, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let n = u.size()[0];
        let mut bits: Vec<Tensor> = Vec::with_capacity(self.d);
        for t in 0..self.d {
            let mut ctx =
                Tensor::zeros([n], (Kind::Int64, u.device())) + self.offsets.get(t as i64);
            for j in 1..=self.k.min(t) {
                ctx += &bits[t - j] * (1i64 << (j - 1));
            }
            let p = self.logits.index_select(0, &ctx).sigmoid();
            bits.push(u.select(1, t as i64).lt_tensor(&p).to_kind(Kind::Int64));
        }
        Tensor::stack(&bits, 1).to_kind(u.kind())
    }

    fn num_params(&self) -> i64 {
        self.logits.numel() as i64
    }
}
