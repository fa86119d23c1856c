//! Memory checked before it is spent: a run's model (parameters, their
//! gradients and Adam's moments, the activations of a training batch) and
//! other large buffers (`arlab sample`'s grid) against what the device has.
//! What cannot fit is refused with the estimate and the device's memory;
//! what takes more than half of it is warned about.
use anyhow::{bail, Result};
use tch::Device;

use crate::data::ImageShape;
use crate::device::{self, human_bytes, Memory};
use crate::spec::RunSpec;

/// Bytes per parameter while training: the value, its gradient and Adam's
/// two moments, float32 each.
pub const TRAINING_BYTES_PER_PARAMETER: u128 = 16;

/// A training run's memory, estimated from the model's closed-form
/// parameter count and a rough count of its activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelEstimate {
    /// `None`: the count overflows.
    pub parameters: Option<u128>,
    /// Activation bytes of one training batch.
    pub activations: u128,
}

impl ModelEstimate {
    pub fn of(run: &RunSpec, shape: ImageShape) -> ModelEstimate {
        let def = run.model.def();
        let batch = run.spec.train.batch_size as u128;
        ModelEstimate {
            parameters: def.param_count(shape),
            activations: def
                .activation_floats(shape)
                .saturating_mul(batch)
                .saturating_mul(4),
        }
    }

    /// Every byte of the estimate (saturating).
    pub fn bytes(&self) -> u128 {
        self.parameters
            .map_or(u128::MAX, |p| {
                p.saturating_mul(TRAINING_BYTES_PER_PARAMETER)
            })
            .saturating_add(self.activations)
    }
}

/// Refuses `run`'s model on `device` when its estimate exceeds the memory
/// available there (before anything is allocated); warns above half of it.
pub fn check_model(run: &RunSpec, shape: ImageShape, device: Device) -> Result<()> {
    let est = ModelEstimate::of(run, shape);
    let params = est
        .parameters
        .map_or("more than 2^128".to_string(), count_words);
    let what = format!(
        "the {} model has {params} parameters; training it needs about {} ({} at 4 bytes \
         per parameter, ×4 with gradients and Adam's moments, and {} of activations for a batch \
         of {})",
        run.model.type_name(),
        human_bytes(est.bytes()),
        human_bytes(est.parameters.map_or(u128::MAX, |p| p.saturating_mul(4))),
        human_bytes(est.activations),
        run.spec.train.batch_size
    );
    check_fits(
        &what,
        est.bytes(),
        device,
        "use a smaller model (fewer or narrower layers) or a smaller train.batch_size",
    )
}

/// Refuses `need` bytes on `device` when more than its available memory
/// (`what` says what needs them, `fix` the way out); warns above half.
pub fn check_fits(what: &str, need: u128, device: Device, fix: &str) -> Result<()> {
    let Some(mem) = device::memory(device) else {
        return Ok(());
    };
    match verdict(need, mem) {
        Fit::No => bail!(
            "{what}, more than the {} available of {} ({} in all): {fix}",
            human_bytes(mem.available as u128),
            mem.what,
            human_bytes(mem.total as u128)
        ),
        Fit::Close => tracing::warn!(
            "warning: {what}, more than half of the {} available of {}",
            human_bytes(mem.available as u128),
            mem.what
        ),
        Fit::Yes => {}
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum Fit {
    Yes,
    Close,
    No,
}

fn verdict(need: u128, mem: Memory) -> Fit {
    let available = mem.available as u128;
    if need > available {
        Fit::No
    } else if need > available / 2 {
        Fit::Close
    } else {
        Fit::Yes
    }
}

/// A count for people: `12345`, `3.4 million`, `1.02 trillion`.
pub fn count_words(n: u128) -> String {
    for (word, size) in [("trillion", 1e12), ("billion", 1e9), ("million", 1e6)] {
        if n as f64 >= size {
            return format!("{:.2} {word}", n as f64 / size);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_close_or_not() {
        let mem = Memory {
            available: 1000,
            total: 2000,
            what: "this machine's memory",
        };
        assert_eq!(verdict(400, mem), Fit::Yes);
        assert_eq!(verdict(600, mem), Fit::Close);
        assert_eq!(verdict(1001, mem), Fit::No);
        assert_eq!(count_words(1_020_000_000_000), "1.02 trillion");
        assert_eq!(count_words(999_999), "999999");
    }

    #[test]
    fn a_huge_model_is_refused_before_it_is_built() {
        let spec = crate::spec::Spec::parse(
            "name: e\ndata: {source: synthetic}\nmodels: [{type: gated_pixelcnn, hidden: 100000}]\n\
             orderings: [raster]\ntrain: {device: cpu}\n",
            "e.yaml",
            &[],
        )
        .unwrap();
        let run = &spec.runs()[0];
        let shape = ImageShape::new(crate::data::PixelForm::Binary, 28, 28);
        let est = ModelEstimate::of(run, shape);
        assert!(est.parameters.unwrap() > 100_000_000_000);
        let err = check_model(run, shape, Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the gated_pixelcnn model has"), "{err}");
        assert!(err.contains("illion parameters"), "{err}");
        assert!(err.contains("available of this machine's memory"), "{err}");
    }
}
