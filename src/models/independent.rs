//! Independent pixels: p(x) = Π_i Bernoulli(x_i; σ(b_i)). D parameters.
use tch::{nn, Tensor};

use super::{bernoulli_log_prob, SeqNet};

pub struct Independent {
    logits: Tensor,
}

impl Independent {
    pub fn new(vs: &nn::Path, d: usize) -> Self {
        Independent {
            logits: vs.zeros("logits", &[d as i64]),
        }
    }
}

impl SeqNet for Independent {
    fn log_conditionals(&self, xs: &Tensor) -> Tensor {
        bernoulli_log_prob(&self.logits.unsqueeze(0), xs)
    }
    fn sample(&self, u: &Tensor) -> Tensor {
        u.lt_tensor(&self.logits.sigmoid().unsqueeze(0))
            .to_kind(u.kind())
    }
    fn num_params(&self) -> i64 {
        self.logits.numel() as i64
    }
}
