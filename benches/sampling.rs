//! Cached against naive sampling of the image models: wall and CPU seconds
//! to draw `SAMPLING_N` (default 64) binary 28×28 images with each model's
//! `small` preset, both from the same uniforms, and whether the draws agree.
//!
//! `cargo bench --bench sampling` (env: SAMPLING_N=64,
//! SAMPLING_MODELS="pixelcnn gated_pixelcnn row_lstm diagonal_bilstm").
use std::time::Instant;

use arlab::bench::cpu_seconds;
use arlab::data::ImageShape;
use arlab::data::PixelForm;
use arlab::models::ModelSpec;
use arlab::order::OrderSpec;
use arlab::rng;
use tch::{nn, Device};

fn main() {
    let n: i64 = std::env::var("SAMPLING_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let models = std::env::var("SAMPLING_MODELS")
        .unwrap_or_else(|_| "pixelcnn gated_pixelcnn row_lstm diagonal_bilstm".into());
    let shape = ImageShape::new(PixelForm::Binary, 28, 28);
    let ordering: OrderSpec = "raster".parse().unwrap();
    println!(
        "{n} binary 28×28 samples, {} torch threads; seconds wall (CPU)",
        tch::get_num_threads()
    );
    println!("| model | naive | cached | speed-up (wall) | same draws |");
    println!("|---|---:|---:|---:|---|");
    for name in models.split_whitespace() {
        let spec: ModelSpec = serde_yaml_ng::from_str(&format!("{{type: {name}}}")).unwrap();
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = spec.build(&vs.root(), shape, &ordering).unwrap();
        let u = rng::uniform(&mut rng::stream(1, 0x5A), &[n, 1, 28, 28], Device::Cpu);
        let (naive, naive_t) = timed(|| model.sample_naive_with(&u));
        let (cached, cached_t) = timed(|| model.sample_with(&u));
        println!(
            "| {} | {:.2} ({:.2}) | {:.3} ({:.3}) | {:.0}× | {} |",
            spec.label(),
            naive_t.0,
            naive_t.1,
            cached_t.0,
            cached_t.1,
            naive_t.0 / cached_t.0,
            if naive.equal(&cached) { "yes" } else { "no" }
        );
    }
}

/// The result of `f`, its wall and CPU seconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, (f64, f64)) {
    let _guard = tch::no_grad_guard();
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let out = f();
    (out, (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu))
}
