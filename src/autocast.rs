//! Mixed precision for training steps: libtorch's autocast on the run's
//! device with bfloat16 (tch binds only CUDA autocast at float16, so the
//! switch comes from src/autocast.cpp).
//!
//! Under autocast, matrix products and convolutions run in bfloat16 while
//! the weights, their gradients and Adam's state stay float32. Every
//! likelihood arlab reports comes from float32 log-probabilities
//! (`models::full_precision` lifts bfloat16 outputs before the
//! head) summed in float64; validation and test evaluation run without
//! autocast, in float32.
use tch::Device;

use serde::{Deserialize, Serialize};

extern "C" {
    fn arlab_autocast_enabled(cuda: bool) -> bool;
    fn arlab_autocast_dtype(cuda: bool) -> i8;
    fn arlab_autocast_set(cuda: bool, enabled: bool, dtype: i8);
    fn arlab_bfloat16() -> i8;
}

/// Autocast switched on for one device while this lives; what was there
/// before comes back on drop.
#[must_use = "autocast ends when the guard is dropped"]
pub struct Autocast {
    cuda: bool,
    was_enabled: bool,
    was_dtype: i8,
}

impl Autocast {
    /// Autocast to `precision` on `device`: `None` for float32 (nothing to
    /// switch) and on devices other than the CPU and CUDA.
    pub fn enter(precision: Precision, device: Device) -> Option<Autocast> {
        if precision == Precision::F32 {
            return None;
        }
        let cuda = is_cuda(device)?;
        // SAFETY: plain calls into libtorch's thread-local autocast state.
        let (was_enabled, was_dtype) =
            unsafe { (arlab_autocast_enabled(cuda), arlab_autocast_dtype(cuda)) };
        // SAFETY: as above; BFloat16 is a valid ScalarType code.
        unsafe {
            arlab_autocast_set(cuda, true, arlab_bfloat16());
            torch_sys::at_autocast_increment_nesting();
        }
        Some(Autocast {
            cuda,
            was_enabled,
            was_dtype,
        })
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        // SAFETY: restores the state read in `enter`; the cast weights are
        // freed when the outermost autocast region ends, as in PyTorch.
        unsafe {
            arlab_autocast_set(self.cuda, self.was_enabled, self.was_dtype);
            if torch_sys::at_autocast_decrement_nesting() == 0 {
                torch_sys::at_autocast_clear_cache();
            }
        }
    }
}

/// Whether autocast is on for `device` (the CPU kernels, which do not
/// autocast, step aside for libtorch operations while it is).
pub fn active(device: Device) -> bool {
    // SAFETY: a plain read of libtorch's thread-local autocast state.
    is_cuda(device).is_some_and(|cuda| unsafe { arlab_autocast_enabled(cuda) })
}

/// The shim's device switch: CUDA or not; `None` for devices it does not
/// serve.
fn is_cuda(device: Device) -> Option<bool> {
    match device {
        Device::Cpu => Some(false),
        Device::Cuda(_) => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    #[test]
    fn bf16_autocast_lowers_matmuls_on_the_cpu_and_ends_with_its_guard() {
        let a = Tensor::randn([4, 4], (Kind::Float, Device::Cpu));
        assert!(!active(Device::Cpu));
        assert_eq!(a.matmul(&a).kind(), Kind::Float);
        {
            let _guard = Autocast::enter(Precision::Bf16, Device::Cpu).expect("a guard");
            assert!(active(Device::Cpu));
            assert_eq!(a.matmul(&a).kind(), Kind::BFloat16);
            {
                let _inner = Autocast::enter(Precision::Bf16, Device::Cpu);
                assert!(active(Device::Cpu));
            }
            assert!(active(Device::Cpu), "an inner guard restores, not clears");
        }
        assert!(!active(Device::Cpu));
        assert_eq!(a.matmul(&a).kind(), Kind::Float);
        assert!(Autocast::enter(Precision::F32, Device::Cpu).is_none());
    }
}

/// The precision of training steps: `f32`, or `bf16` (autocast to
/// bfloat16 on the run's device: matrix products and convolutions in
/// bfloat16, master weights, optimizer state and every reported
/// likelihood in float32, sums in float64).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    Bf16,
}

impl Precision {
    pub fn is_f32(&self) -> bool {
        *self == Precision::F32
    }
}

impl std::str::FromStr for Precision {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Precision> {
        match s {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            _ => anyhow::bail!("unknown precision {s:?}: expected f32 or bf16"),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        })
    }
}
