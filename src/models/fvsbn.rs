//! FVSBN (fully visible sigmoid belief net): logistic regression of each
//! pixel on all earlier ones, p(x_t = 1) = σ(b_t + Σ_{s<t} W_ts x_s).
//! W is strictly lower-triangular and stored packed: D + D(D−1)/2 parameters.
//!
//! The model has no settings, so `preset: small` and `preset: paper` are the
//! same model: there is nothing for a paper to set (Larochelle & Murray
//! 2011 use it as a baseline to NADE). `preset` is accepted so that a spec
//! can put every model at `preset: paper`.
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use super::{DensityModel, ModelDef, Permuted, Preset, SeqNet};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::OrderSpec;

/// `type: fvsbn` (no settings; `preset` changes nothing).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Preset::is_small")]
    pub preset: Preset,
}

impl ModelDef for Config {
    fn default_label(&self) -> String {
        "fvsbn".into()
    }
    fn check(&self) -> Result<()> {
        Ok(())
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &[PixelForm::Binary]
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let d = shape.dims() as u128;
        Some(d + d * d.saturating_sub(1) / 2)
    }
    fn formula(&self) -> String {
        "D + D(D-1)/2".into()
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        let net = Fvsbn::new(vs, shape.dims());
        Ok(Permuted::boxed(net, shape, ordering, vs))
    }
}

pub struct Fvsbn {
    /// The D(D−1)/2 entries below the diagonal, row by row.
    w: Tensor,
    b: Tensor,
    rows: Tensor,
    cols: Tensor,
    d: i64,
}

impl Fvsbn {
    pub fn new(vs: &nn::Path, d: usize) -> Self {
        let d = d as i64;
        let tri = Tensor::tril_indices(d, d, -1, (Kind::Int64, vs.device()));
        let n = tri.size()[1];
        Fvsbn {
            w: vs.randn("w", &[n], 0.0, 0.01),
            b: vs.zeros("b", &[d]),
            rows: tri.get(0),
            cols: tri.get(1),
            d,
        }
    }

    /// The dense D×D weight matrix (zero on and above the diagonal).
    fn weight(&self) -> Tensor {
        Tensor::zeros([self.d, self.d], (self.w.kind(), self.w.device())).index_put(
            &[Some(&self.rows), Some(&self.cols)],
            &self.w,
            false,
        )
    }
}

impl SeqNet for Fvsbn {
    fn logits(&self, xs: &Tensor) -> Tensor {
        xs.linear(&self.weight(), Some(&self.b))
    }

    fn sample(&self, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let w = self.weight().to_kind(u.kind());
        let b = self.b.to_kind(u.kind());
        let x = u.zeros_like();
        for t in 0..self.d {
            // Later pixels are still zero, so the full row is the past only.
            let p = (x.matmul(&w.get(t)) + b.get(t)).sigmoid();
            x.select(1, t)
                .copy_(&u.select(1, t).lt_tensor(&p).to_kind(u.kind()));
        }
        x
    }

    fn num_params(&self) -> i64 {
        (self.w.numel() + self.b.numel()) as i64
    }
}
