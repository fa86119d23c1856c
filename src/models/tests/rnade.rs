//! RNADE: its continuous density integrates to 1 (1 and 2 pixels, float64
//! quadrature), the discrete bound is above the exact −log P(x), causality,
//! deterministic evaluation noise, sampling quantizes the mixture draws.
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::*;
use super::{dependences, random_images};
use crate::data::ImageShape;
use crate::models::rnade::{Config, Rnade};

fn gray(h: usize, w: usize) -> ImageShape {
    ImageShape::new(PixelForm::Gray256, h, w)
}

/// A small float64 RNADE trained a little on random 8-bit images.
fn rnade(shape: ImageShape, ordering: &str) -> (nn::VarStore, Rnade) {
    tch::manual_seed(5);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let config = Config {
        hidden: 8,
        components: 3,
    };
    let model = Rnade::new(&vs.root(), shape, &config, &ordering.parse().unwrap());
    let mut opt = nn::Adam::default().build(&vs, 0.02).unwrap();
    for step in 0..6 {
        let x = random_images(32, shape);
        opt.backward_step(&model.training_loss(&x, step).objective);
    }
    (vs, model)
}

/// Trapezoid weights of `n` points spaced `h` apart.
fn trapezoid(n: i64, h: f64) -> Tensor {
    let w = Tensor::full([n], h, (Kind::Double, Device::Cpu));
    let _ = w.get(0).fill_(h / 2.0);
    let _ = w.get(n - 1).fill_(h / 2.0);
    w
}

/// The quadrature range and step: after the few training steps every
/// conditional's means lie in [0.27, 0.73] and its scales in [0.2, 0.31]
/// (on y in [−4, 5]), so [−3, 4] holds all but ~e^(−50) of the mass and a
/// step of σ/8 makes the trapezoid rule exact to far below 1e-6.
const LOW: f64 = -3.0;
const HIGH: f64 = 4.0;

#[test]
fn rnade_density_integrates_to_one_on_one_and_two_pixels() {
    let (_, one) = rnade(gray(1, 1), "raster");
    let trained: Vec<_> = ["raster", "raster+reverse"]
        .iter()
        .map(|o| (o, rnade(gray(1, 2), o).1))
        .collect();
    let _g = tch::no_grad_guard();
    let n = 281;
    let h = (HIGH - LOW) / (n - 1) as f64;
    let grid = Tensor::linspace(LOW, HIGH, n, (Kind::Double, Device::Cpu));
    let p = one.log_density(&grid.view([n, 1])).view([n]).exp();
    let total = (p * trapezoid(n, h)).sum(Kind::Double).double_value(&[]);
    assert!((total - 1.0).abs() < 1e-6, "1 pixel: ∫p = {total}");
    for (ordering, two) in &trained {
        let y = Tensor::stack(
            &[
                grid.repeat_interleave_self_int(n, 0, None),
                grid.repeat([n]),
            ],
            1,
        );
        let p = two
            .log_density(&y)
            .sum_dim_intlist(1, false, Kind::Double)
            .exp()
            .view([n, n]);
        let wt = trapezoid(n, h);
        let total = (p * wt.unsqueeze(1) * wt.unsqueeze(0))
            .sum(Kind::Double)
            .double_value(&[]);
        assert!(
            (total - 1.0).abs() < 1e-6,
            "2 pixels / {ordering}: ∫∫p = {total}"
        );
    }
}

/// The mean bound E_u[−log p((x + u)/256)] + log 256 is at least the exact
/// −log P(x) = −log ∫ over the cell of p, and `log_prob` is one draw of it.
#[test]
fn rnade_discrete_bound_is_above_the_exact_discrete_nll() {
    let (_, model) = rnade(gray(1, 1), "raster");
    let _g = tch::no_grad_guard();
    let n = 4000;
    let u = (Tensor::arange(n, (Kind::Double, Device::Cpu)) + 0.5) / n as f64;
    for level in [0.0, 77.0, 200.0, 255.0] {
        let y = ((u.shallow_clone() + level) / 256.0).view([n, 1]);
        let lp = model.log_density(&y).view([n]);
        let exact = -(lp.exp().mean(Kind::Double).log() - 256f64.ln()).double_value(&[]);
        let bound = -(lp.mean(Kind::Double) - 256f64.ln()).double_value(&[]);
        assert!(
            bound >= exact - 1e-9,
            "level {level}: bound {bound} < exact {exact}"
        );
        let x = Tensor::from_slice(&[level]).view([1, 1, 1, 1]);
        let one = -model.log_prob(&x).double_value(&[0]);
        assert!(
            one.is_finite() && (one - bound).abs() < 3.0,
            "{one} vs {bound}"
        );
    }
}

/// The evaluation noise depends on the image only: the same image gives the
/// same log p in any batch; different images get different noise.
#[test]
fn rnade_evaluation_is_deterministic_and_batch_independent() {
    let shape = gray(3, 4);
    let (_, model) = rnade(shape, "hilbert");
    let x = random_images(6, shape);
    let all = model.log_prob(&x);
    let again = model.log_prob(&x);
    assert!(all.equal(&again));
    let alone = model.log_prob(&x.narrow(0, 3, 1));
    let diff = (alone - all.narrow(0, 3, 1)).abs().double_value(&[0]);
    assert!(diff < 1e-12, "image 3 alone vs in its batch: {diff}");
}

#[test]
fn rnade_is_causal_by_gradients() {
    for ordering in ["raster", "hilbert", "spiral", "random:3"] {
        let (_, model) = rnade(gray(4, 4), ordering);
        let (violations, some) = dependences(&model, 4);
        assert!(violations.is_empty(), "{ordering}: {violations:?}");
        assert!(some, "{ordering}: no dependence");
    }
}

/// Given the uniforms, a sample is the quantized mixture draw of each
/// conditional, given the continuous draws before it (1 pixel: the first).
#[test]
fn rnade_samples_are_quantized_mixture_draws() {
    let (_, model) = rnade(gray(1, 1), "raster");
    let u = Tensor::rand([500, 1, 1, 1], (Kind::Double, Device::Cpu));
    let x = model.sample_with(&u);
    let params = tch::no_grad(|| model.params(&Tensor::zeros([1, 1], (Kind::Double, Device::Cpu))));
    let y = model
        .head()
        .sample(&params.view([1, 9]).expand([500, 9], false), &u.view([500]));
    let expected = (y * 256.0).floor().clamp(0.0, 255.0).view([500, 1, 1, 1]);
    assert!(x.equal(&expected));
    let (_, model) = rnade(gray(3, 3), "snake");
    let a = model.sample(50, 4);
    assert!(a.equal(&model.sample(50, 4)));
    let whole = a.equal(&a.round()) && a.min().double_value(&[]) >= 0.0;
    assert!(whole && a.max().double_value(&[]) <= 255.0);
}

#[test]
fn rnade_parameter_count_label_and_checks() {
    let spec: ModelSpec =
        serde_yaml_ng::from_str("{type: rnade, hidden: 7, components: 4}").unwrap();
    assert_eq!(spec.label(), "rnade-h7-k4");
    let shape = gray(3, 5);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = spec
        .build(&vs.root(), shape, &"raster".parse().unwrap())
        .unwrap();
    let vars: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    let (d, h, k) = (15, 7, 4);
    let closed = d * h + h + 3 * d * h * k + 3 * d * k;
    assert_eq!(vars, closed);
    assert_eq!(model.num_params(), closed);
    assert_eq!(spec.def().param_count(shape), Some(closed as u128));
    let err = spec
        .validate(PixelForm::Binary, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("gray256"), "{err}");
    let zero: ModelSpec = serde_yaml_ng::from_str("{type: rnade, components: 0}").unwrap();
    let err = zero
        .validate(PixelForm::Gray256, &[])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("components"), "{err}");
}
