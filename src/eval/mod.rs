//! Exact evaluation: per-image log-likelihoods in nats, summed in float64.
use tch::{Device, Kind, Tensor};

use crate::models::DensityModel;

/// `log p(x)` in nats for every image of `x` (`[N, D]` on the CPU).
pub fn log_probs(
    model: &dyn DensityModel,
    x: &Tensor,
    batch: usize,
    device: Device,
    kind: Kind,
) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let mut out = Vec::with_capacity(n as usize);
    let mut start = 0;
    while start < n {
        let len = (batch as i64).min(n - start);
        let xb = x.narrow(0, start, len).to_device(device).to_kind(kind);
        let lp = model.log_prob(&xb).to_device(Device::Cpu);
        out.extend(Vec::<f64>::try_from(&lp).expect("log_prob is a float64 vector"));
        start += len;
    }
    out
}

/// Mean negative log-likelihood in nats per image.
pub fn mean_nll(log_probs: &[f64]) -> f64 {
    -log_probs.iter().sum::<f64>() / log_probs.len().max(1) as f64
}

/// Nats per image → bits per dimension.
pub fn bits_per_dim(nll_nats: f64, dims: usize) -> f64 {
    nll_nats / (dims as f64 * std::f64::consts::LN_2)
}
