//! Exact evaluation: per-image log-likelihoods in nats, summed in float64;
//! per-image scores and out-of-distribution detection built on them.
pub mod ensemble;

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
    log_probs_with(model, x, batch, device, kind, |_| {})
}

/// [`log_probs`], calling `images_done` with the size of each batch done
/// (for progress bars). Batches are as large as `batch` or, where a batch
/// does not fit in the device's memory, the largest half, quarter, … of it
/// that does: the evaluation goes on with that size and says so.
pub fn log_probs_with(
    model: &dyn DensityModel,
    x: &Tensor,
    batch: usize,
    device: Device,
    kind: Kind,
    mut images_done: impl FnMut(usize),
) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let mut out = Vec::with_capacity(n as usize);
    let (mut start, mut batch) = (0, batch.max(1) as i64);
    while start < n {
        let len = batch.min(n - start);
        let xb = x.narrow(0, start, len).to_device(device).to_kind(kind);
        match crate::runtime::catch_handled_panic(|| model.log_prob(&xb).to_device(Device::Cpu)) {
            Ok(lp) => {
                out.extend(Vec::<f64>::try_from(&lp).expect("log_prob is a float64 vector"));
                start += len;
                images_done(len as usize);
            }
            Err(panic) if len > 1 && out_of_memory(&*panic) => {
                batch = len / 2;
                tracing::warn!(
                    "evaluation: {len} images at once do not fit in the memory of {device:?}; going on with batches of {batch}"
                );
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    out
}

/// Whether a libtorch error (a panic) is a device out of memory.
fn out_of_memory(panic: &(dyn std::any::Any + Send)) -> bool {
    let msg = crate::runtime::panic_message(panic);
    msg.contains("out of memory") || msg.contains("OutOfMemory")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;
    use crate::data::PixelForm;
    use crate::models::Head;

    /// A model whose device "runs out of memory" on batches larger than
    /// `fits` (as libtorch reports it: a panic), and whose log p(x) is
    /// known: every pixel has logit 0, so log p = D · ln ½.
    struct Tight {
        fits: i64,
        order: Vec<usize>,
    }

    impl DensityModel for Tight {
        fn logits(&self, x: &Tensor) -> Tensor {
            if x.size()[0] > self.fits {
                panic!("CUDA out of memory. Tried to allocate 2.00 GiB");
            }
            x.zeros_like().unsqueeze(-1)
        }
        fn head(&self) -> Head {
            Head::Bernoulli
        }
        fn sample_with(&self, u: &Tensor) -> Tensor {
            u.zeros_like()
        }
        fn num_params(&self) -> i64 {
            0
        }
        fn order(&self) -> &[usize] {
            &self.order
        }
        fn shape(&self) -> ImageShape {
            ImageShape::new(PixelForm::Binary, 2, 2)
        }
        fn device(&self) -> Device {
            Device::Cpu
        }
    }

    #[test]
    fn a_batch_that_does_not_fit_is_halved_until_it_does() {
        let model = Tight {
            fits: 3,
            order: (0..4).collect(),
        };
        let x = Tensor::ones([10, 1, 2, 2], (Kind::Float, Device::Cpu));
        let mut sizes = Vec::new();
        let lp = log_probs_with(&model, &x, 8, Device::Cpu, Kind::Float, |n| sizes.push(n));
        assert_eq!(sizes, [2, 2, 2, 2, 2], "8 → 4 → 2 fits");
        assert_eq!(lp.len(), 10);
        for v in lp {
            assert!((v - 4.0 * 0.5f64.ln()).abs() < 1e-6, "{v}");
        }
    }

    #[test]
    fn other_errors_and_single_images_that_do_not_fit_still_fail() {
        let model = Tight {
            fits: 0,
            order: (0..4).collect(),
        };
        let x = Tensor::ones([2, 1, 2, 2], (Kind::Float, Device::Cpu));
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            log_probs(&model, &x, 2, Device::Cpu, Kind::Float)
        }));
        assert!(failed.is_err(), "one image that does not fit is an error");
    }
}
