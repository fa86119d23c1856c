//! `device: auto|cpu|cuda|cuda:N`, resolved against what libtorch sees.
use anyhow::{bail, Result};
use serde_with::{DeserializeFromStr, SerializeDisplay};
use tch::{Cuda, Device};

/// Where to train: a spec value (`train.device`), parsed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, SerializeDisplay, DeserializeFromStr)]
pub enum DeviceChoice {
    Auto,
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<DeviceChoice> {
        Ok(match s.trim() {
            "auto" => DeviceChoice::Auto,
            "cpu" => DeviceChoice::Cpu,
            "cuda" => DeviceChoice::Cuda(0),
            other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => DeviceChoice::Cuda(n),
                _ => bail!("unknown device {other:?}; use auto, cpu, cuda or cuda:N"),
            },
        })
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(0) => f.write_str("cuda"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceChoice {
    /// The device to use; `auto` falls back to the CPU (with a notice),
    /// an explicit `cuda` without CUDA is an error.
    pub fn resolve(self) -> Result<Device> {
        self.resolve_as("device")
    }

    /// [`DeviceChoice::resolve`], its errors naming `field` (a spec field or
    /// a flag such as `--devices`).
    pub fn resolve_as(self, field: &str) -> Result<Device> {
        let count = if Cuda::is_available() {
            Cuda::device_count() as usize
        } else {
            0
        };
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto if count > 0 => Ok(Device::Cuda(0)),
            DeviceChoice::Auto => {
                static NOTICE: std::sync::Once = std::sync::Once::new();
                NOTICE.call_once(|| {
                    tracing::info!("note: CUDA is not available, `device: auto` uses the CPU")
                });
                Ok(Device::Cpu)
            }
            DeviceChoice::Cuda(_) if count == 0 => {
                bail!("{field}: CUDA was requested but libtorch sees no CUDA device (see `arlab doctor`); use `auto` or `cpu`")
            }
            DeviceChoice::Cuda(n) if n >= count => {
                bail!("{field}: cuda:{n} was requested but only {count} CUDA device(s) exist")
            }
            DeviceChoice::Cuda(n) => Ok(Device::Cuda(n)),
        }
    }
}

extern "C" {
    fn arlab_cuda_peak_allocated(index: i8) -> i64;
    fn arlab_cuda_reset_peak(index: i8) -> bool;
    fn arlab_cuda_memory_info(index: i8, free: *mut i64, total: *mut i64) -> bool;
}

/// A device's memory in bytes: what can still be had, and all of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub available: u64,
    pub total: u64,
    /// `this machine's memory` or `the memory of cuda:N`, for messages.
    pub what: &'static str,
}

/// The memory of `device`: the machine's (MemAvailable and MemTotal of
/// /proc/meminfo) for the CPU, the GPU's (cudaMemGetInfo) for CUDA; `None`
/// where it cannot be read.
pub fn memory(device: Device) -> Option<Memory> {
    match device {
        Device::Cuda(n) => {
            let index = i8::try_from(n).ok()?;
            let (mut free, mut total) = (0i64, 0i64);
            // SAFETY: two out-parameters we own; exceptions are caught on the
            // C++ side and come back as false.
            let ok = unsafe { arlab_cuda_memory_info(index, &mut free, &mut total) };
            (ok && total > 0).then_some(Memory {
                available: free as u64,
                total: total as u64,
                what: "the GPU's memory",
            })
        }
        _ => host_memory(&std::fs::read_to_string("/proc/meminfo").ok()?),
    }
}

/// MemAvailable and MemTotal of a /proc/meminfo text.
fn host_memory(meminfo: &str) -> Option<Memory> {
    let field = |name: &str| {
        meminfo.lines().find_map(|l| {
            let kib = l.strip_prefix(name)?.trim().strip_suffix("kB")?;
            kib.trim().parse::<u64>().ok().map(|k| k * 1024)
        })
    };
    Some(Memory {
        available: field("MemAvailable:")?,
        total: field("MemTotal:")?,
        what: "this machine's memory",
    })
}

/// `bytes` for people: `3.2 GiB`, `512 MiB`, `12 KiB`.
pub fn human_bytes(bytes: u128) -> String {
    let b = bytes as f64;
    for (unit, size) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if b >= size as f64 {
            return format!("{:.1} {unit}", b / size as f64);
        }
    }
    format!("{bytes} B")
}

/// The most memory libtorch's caching allocator has handed out on CUDA
/// device `index` since [`reset_cuda_peak`], in MiB (src/cuda_memory.cpp);
/// `None` where there is no CUDA allocator.
pub fn cuda_peak_allocated_mib(index: usize) -> Option<f64> {
    let index = i8::try_from(index).ok()?;
    // SAFETY: a read of the allocator's statistics; exceptions are caught
    // on the C++ side and come back as −1.
    let bytes = unsafe { arlab_cuda_peak_allocated(index) };
    (bytes >= 0).then(|| bytes as f64 / (1024.0 * 1024.0))
}

/// Starts a new peak for [`cuda_peak_allocated_mib`]; false where there is
/// no CUDA allocator.
pub fn reset_cuda_peak(index: usize) -> bool {
    // SAFETY: as above.
    i8::try_from(index).is_ok_and(|i| unsafe { arlab_cuda_reset_peak(i) })
}

#[cfg(test)]
mod cuda_memory_tests {
    use super::*;

    #[test]
    fn host_memory_reads_meminfo_and_bytes_read_as_people_say_them() {
        let text = "MemTotal:       24000000 kB\nMemFree:  1000 kB\nMemAvailable:   20000000 kB\n";
        let m = host_memory(text).unwrap();
        assert_eq!(
            (m.available, m.total),
            (20_000_000 * 1024, 24_000_000 * 1024)
        );
        assert_eq!(host_memory("MemTotal: 5 kB\n"), None);
        assert!(memory(Device::Cpu).is_some_and(|m| m.total >= m.available && m.total > 0));
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
    }

    #[test]
    fn cuda_memory_statistics_are_absent_without_cuda_and_never_crash() {
        if Cuda::is_available() {
            assert!(reset_cuda_peak(0));
            let x = tch::Tensor::zeros([1024, 1024], (tch::Kind::Float, Device::Cuda(0)));
            let peak = cuda_peak_allocated_mib(0).expect("CUDA statistics");
            assert!(peak >= 4.0, "a 4 MiB tensor, peak {peak} MiB");
            drop(x);
        } else {
            assert_eq!(cuda_peak_allocated_mib(0), None);
            assert!(!reset_cuda_peak(0));
        }
        assert_eq!(cuda_peak_allocated_mib(1000), None);
    }
}
