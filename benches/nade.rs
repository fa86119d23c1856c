//! NADE throughput on this machine: training (forward + backward + Adam) and
//! evaluation images/s of the CPU kernel (`training_loss`, and `log_prob`
//! without autograd; also per CPU-second, a figure that a busy machine
//! disturbs less), and of the libtorch formulation for several block lengths
//! of the batched running sum (block 1 = a per-step loop), plus sampling.
//!
//! `cargo bench --bench nade` (env: NADE_H=500, NADE_BATCHES="100 512",
//! NADE_BLOCKS="1 14 28 56 112", NADE_SECONDS=4).
use std::time::Instant;

use arlab::bench::cpu_seconds;
use arlab::data::ImageShape;
use arlab::data::PixelForm;
use arlab::models::{DensityModel, Nade, Permuted};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

fn main() {
    let d = 784usize;
    let h = env_list("NADE_H", "500")[0];
    let seconds: f64 = std::env::var("NADE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let shape = ImageShape::new(PixelForm::Binary, 28, 28);
    println!("NADE D={d} H={h}, {} torch threads", tch::get_num_threads());
    println!(
        "{:>6} {:>6} {:>14} {:>14}",
        "batch", "block", "train img/s", "eval img/s"
    );
    for batch in env_list("NADE_BATCHES", "100 512") {
        tch::manual_seed(0);
        let x = Tensor::rand([batch as i64, 1, 28, 28], (Kind::Float, Device::Cpu))
            .gt(0.5)
            .to_kind(Kind::Float);
        kernel_rates(&x, h, seconds);
        for block in env_list("NADE_BLOCKS", "1 14 28 56 112") {
            let vs = nn::VarStore::new(Device::Cpu);
            let model = Permuted::new(
                Nade::with_block(&vs.root(), d, h, block),
                (0..d).collect(),
                shape,
                Device::Cpu,
            );
            let mut opt = nn::Adam::default().build(&vs, 1e-3).unwrap();
            let train = rate(seconds, batch, || {
                let loss = -model.log_prob(&x).mean(Kind::Double);
                opt.backward_step(&loss);
            });
            let eval = rate(seconds, batch, || {
                let _g = tch::no_grad_guard();
                let _ = model.log_prob(&x);
            });
            println!("{batch:>6} {block:>6} {train:>14.0} {eval:>14.0}");
        }
    }
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Permuted::new(
        Nade::new(&vs.root(), d, h),
        (0..d).collect(),
        shape,
        Device::Cpu,
    );
    let t = Instant::now();
    let _ = model.sample(64, 0);
    println!("sampling 64 images: {:.2} s", t.elapsed().as_secs_f64());
}

/// Images per second of `step` (one batch each), timed for about `seconds`.
fn rate(seconds: f64, batch: usize, mut step: impl FnMut()) -> f64 {
    step(); // warm-up
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed().as_secs_f64() < seconds {
        step();
        n += batch;
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// The CPU kernel's training and evaluation rates at this batch: per second
/// and per CPU-second (all threads' CPU time).
fn kernel_rates(x: &Tensor, h: usize, seconds: f64) {
    let vs = nn::VarStore::new(Device::Cpu);
    let shape = ImageShape::new(PixelForm::Binary, 28, 28);
    let model = Permuted::new(
        Nade::new(&vs.root(), 784, h),
        (0..784).collect(),
        shape,
        Device::Cpu,
    );
    let mut opt = nn::Adam::default().build(&vs, 1e-3).unwrap();
    let batch = x.size()[0] as usize;
    let (cpu, train) = (cpu_seconds(), Instant::now());
    let train_rate = rate(seconds, batch, || {
        let loss = model.training_loss(x, 0);
        opt.zero_grad();
        loss.objective.backward();
        opt.step();
    });
    let train_cpu = (train.elapsed().as_secs_f64() * train_rate) / (cpu_seconds() - cpu);
    let (cpu, eval) = (cpu_seconds(), Instant::now());
    let eval_rate = rate(seconds, batch, || {
        let _g = tch::no_grad_guard();
        let _ = model.log_prob(x);
    });
    let eval_cpu = (eval.elapsed().as_secs_f64() * eval_rate) / (cpu_seconds() - cpu);
    println!(
        "{batch:>6} {:>6} {train_rate:>14.0} {eval_rate:>14.0}   per CPU-second: train {train_cpu:.0}, eval {eval_cpu:.0}",
        "kernel"
    );
}
