//! arlab: a research harness for autoregressive image density models.
//!
//! The loop: a YAML [`spec`] names data, models, orderings and seeds; [`train`]
//! fits each run; [`eval`] computes exact log-likelihoods; [`results`] writes
//! the results tree and the cross-run comparison.
pub mod autocast;
pub mod bench;
pub mod cli;
pub mod data;
pub mod device;
pub mod eval;
pub mod models;
pub mod order;
pub mod provenance;
pub mod report;
pub mod results;
pub mod rng;
pub mod slurm;
pub mod spec;
pub mod sweep;
pub mod train;

/// Keeps large freed blocks in glibc's heap instead of returning them to the
/// system, unless `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` say
/// otherwise. libtorch allocates and frees its large temporary tensors
/// through malloc at every step; with glibc's defaults each comes back from
/// mmap as fresh pages, and the page faults cost the CPU image models a
/// third to a half of their speed in some runs (measured in the README,
/// "Benchmarks"). Call it first thing in `main`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let unset = |name: &str| std::env::var_os(name).is_none();
        // SAFETY: mallopt only changes glibc's thresholds for later calls.
        unsafe {
            if unset("MALLOC_MMAP_THRESHOLD_") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
            }
            if unset("MALLOC_TRIM_THRESHOLD_") {
                libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
            }
        }
    }
}
