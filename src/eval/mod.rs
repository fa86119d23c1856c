//! Exact evaluation: per-image log-likelihoods in nats, summed in float64;
//! per-image scores and out-of-distribution detection built on them.
pub mod detect;
pub mod ensemble;
pub mod ood;
pub mod score;

use tch::{Device, Kind, Tensor};

use crate::models::DensityModel;

/// `log p(x)` in nats for every image of `x` (`[N, C, H, W]` on the CPU).
pub fn log_probs(
    model: &dyn DensityModel,
    x: &Tensor,
    batch: usize,
    device: Device,
    kind: Kind,
) -> Vec<f64> {
    log_probs_with(model, x, batch, device, kind, || {})
}

/// [`log_probs`], calling `batch_done` after each batch (for progress bars).
pub fn log_probs_with(
    model: &dyn DensityModel,
    x: &Tensor,
    batch: usize,
    device: Device,
    kind: Kind,
    mut batch_done: impl FnMut(),
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
        batch_done();
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

/// The receptive field of one conditional: for the parameters of pixel
/// `pixel` (row-major), channel `channel`, the summed gradient magnitude with
/// respect to every input pixel (all channels), over `n` random images.
/// Returns `H·W` values; zero means the pixel cannot influence that
/// conditional.
pub fn receptive_field(
    model: &dyn DensityModel,
    pixel: usize,
    channel: usize,
    n: i64,
    kind: Kind,
) -> Vec<f64> {
    let s = model.shape();
    let dims = [n, s.channels as i64, s.height as i64, s.width as i64];
    let mut r = crate::rng::stream(99, 0xF1E1D);
    let u = crate::rng::uniform(&mut r, &dims, model.device());
    let x = (u * (s.levels as f64))
        .floor()
        .to_kind(kind)
        .set_requires_grad(true);
    let logits = model.logits(&x);
    let (h, w) = (s.height as i64, s.width as i64);
    let out = logits
        .select(1, channel as i64)
        .select(1, pixel as i64 / w)
        .select(1, pixel as i64 % w)
        .sum(Kind::Double);
    let g = Tensor::run_backward(&[out], &[&x], false, false);
    if !g[0].defined() {
        // The logits do not depend on the input at all (independent pixels).
        return vec![0.0; (h * w) as usize];
    }
    let field = g[0]
        .abs()
        .to_kind(Kind::Double)
        .sum_dim_intlist([0, 1].as_slice(), false, Kind::Double)
        .view([h * w])
        .to_device(Device::Cpu);
    Vec::<f64>::try_from(&field).expect("a float64 vector")
}
