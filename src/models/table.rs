//! Tabular autoregressive models over binary pixels: one Bernoulli logit per
//! (step, context), where the context is the previous `k` pixels of the
//! sequence. `k = 1` is the Markov AR-1 model (2D − 1 parameters);
//! `k = D − 1` is the full chain rule (2^D − 1 parameters).
use tch::{nn, Kind, Tensor};

use super::{bernoulli_log_prob, SeqNet};

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
    /// (`models::build` checks the size first).
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
    fn log_conditionals(&self, xs: &Tensor) -> Tensor {
        let idx = self.context(xs);
        let logits = self.logits.index_select(0, &idx.flatten(0, 1)).view_as(xs);
        bernoulli_log_prob(&logits, xs)
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
