//! `arlab doctor`: libtorch, CUDA and the built-in data sets.
use anyhow::Result;

use crate::data;

/// Report libtorch, CUDA and the built-in data sets.
#[derive(clap::Args, Debug)]
pub struct DoctorArgs {}

pub fn run(_: DoctorArgs) -> Result<()> {
    println!("arlab {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch: {}", env!("ARLAB_TORCH_VERSION"));
    let cuda = tch::Cuda::is_available();
    println!("CUDA available: {cuda}");
    println!("CUDA devices: {}", tch::Cuda::device_count());
    println!("cuDNN available: {}", tch::Cuda::cudnn_is_available());
    println!("threads: {} (intra-op)", tch::get_num_threads());
    println!(
        "default device for `device: auto`: {}",
        if cuda { "cuda:0" } else { "cpu" }
    );
    for (name, dir, present, install) in data::builtins() {
        let state = if present {
            "present".to_string()
        } else {
            format!("MISSING — install with: {install}")
        };
        println!("data `{name}`: {} ({state})", dir.display());
    }
    Ok(())
}
