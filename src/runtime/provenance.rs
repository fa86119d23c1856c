//! What reproduces a run, recorded in its summary.json: arlab's version and
//! git commit, libtorch's version, the device, the host, the start and end
//! times and the command line.
use serde::{Deserialize, Serialize};
use tch::Device;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    pub arlab_version: String,
    /// The commit arlab was built from (absent outside a git checkout).
    pub git_commit: Option<String>,
    pub libtorch_version: String,
    pub device_name: String,
    pub host: String,
    /// UTC, RFC 3339; the start of the attempt that finished the run.
    pub started: String,
    pub finished: String,
    pub command_line: Vec<String>,
}

impl Provenance {
    pub fn collect(device: Device, started: String) -> Provenance {
        let commit = env!("ARLAB_GIT_COMMIT");
        Provenance {
            arlab_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: (!commit.is_empty()).then(|| commit.to_string()),
            libtorch_version: env!("ARLAB_TORCH_VERSION").into(),
            device_name: device_name(device),
            host: host_name(),
            started,
            finished: now_utc(),
            command_line: std::env::args().collect(),
        }
    }
}

/// The CPU model, or the GPU's name from nvidia-smi.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => std::process::Command::new("nvidia-smi")
            .args([
                "-i",
                &i.to_string(),
                "--query-gpu=name",
                "--format=csv,noheader",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| format!("cuda:{i} {}", String::from_utf8_lossy(&o.stdout).trim()))
            .unwrap_or_else(|| format!("cuda:{i}")),
        _ => std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
                })
            })
            .map(|m| format!("cpu {m}"))
            .unwrap_or_else(|| "cpu".into()),
    }
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_utc(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC (days to civil date after
/// Howard Hinnant's algorithm).
pub fn format_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates_are_civil_dates() {
        assert_eq!(super::format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::format_utc(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
