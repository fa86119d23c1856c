//! MADE under every one of its masks: normalisation, causality by
//! gradients, masks never written into the weights, incremental sampling
//! equal to the naive sampler, members and sets.
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::*;
use super::{all_images, binary, dependences, random_images};
use crate::data::ImageShape;
use crate::models::adapters::seq::{flatten, unflatten};
use crate::models::made::{Config, Made, Vary};
use crate::order::RunOrdering;

fn config(num_masks: usize, vary: Vary) -> Config {
    Config {
        hidden: Some(vec![7, 6]),
        direct: Some(true),
        num_masks: Some(num_masks),
        vary,
        mask_seed: 5,
        ..Default::default()
    }
}

fn made(config: &Config, shape: ImageShape, ordering: &str) -> (nn::VarStore, Made) {
    tch::manual_seed(7);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let ordering: RunOrdering = serde_yaml_ng::from_str(ordering).unwrap();
    let model = Made::new(&vs.root(), shape, config, &ordering).unwrap();
    (vs, model)
}

/// A few Adam steps through `training_loss`, every mask drawn in turn.
fn train_every_mask(vs: &nn::VarStore, model: &Made, k: usize) {
    let mut opt = nn::Adam::default().build(vs, 0.05).unwrap();
    for step in 0..3 * k as u64 {
        let x = random_images(16, model.shape());
        opt.backward_step(&model.training_loss(&x, step).objective);
    }
}

fn log_total_under(model: &Made, k: usize, h: usize, w: usize) -> f64 {
    let _g = tch::no_grad_guard();
    let x = all_images(h, w);
    let lp = model.log_probs_under(&x, &Member::Mask(k)).unwrap();
    lp.sum_dim_intlist([1, 2, 3].as_slice(), false, Kind::Double)
        .logsumexp([0], false)
        .double_value(&[])
}

#[test]
fn made_is_normalised_under_every_mask_before_and_after_training() {
    let (h, w) = (3, 3);
    for (cfg, ordering) in [
        (config(4, Vary::OrderAndConnectivity), "snake"),
        (config(3, Vary::Connectivity), "hilbert"),
        (config(1, Vary::OrderAndConnectivity), "random:4"),
    ] {
        let k = cfg.num_masks.unwrap();
        let (vs, model) = made(&cfg, binary(h, w), ordering);
        for when in ["at init", "after training over every mask"] {
            for mask in 0..k {
                let total = log_total_under(&model, mask, h, w);
                assert!(
                    total.abs() < 1e-9,
                    "{ordering} mask {mask} {when}: log Σp = {total}"
                );
            }
            train_every_mask(&vs, &model, k);
        }
    }
}

#[test]
fn made_is_causal_by_gradients_under_every_mask() {
    let shape = binary(5, 5);
    for (vary, ordering) in [
        (Vary::OrderAndConnectivity, "spiral"),
        (Vary::OrderAndConnectivity, "hilbert"),
        (Vary::Connectivity, "random:9"),
        (Vary::OrderAndConnectivity, "zigzag+transpose"),
    ] {
        let (vs, model) = made(&config(4, vary), shape, ordering);
        for trained in [false, true] {
            for k in 0..4 {
                let under = under(&model, k);
                let (violations, some) = dependences(&under, 4);
                assert!(violations.is_empty(), "{ordering} mask {k}: {violations:?}");
                assert!(some || trained, "{ordering} mask {k}: no dependence at all");
            }
            train_every_mask(&vs, &model, 4);
        }
    }
}

/// Mask 0 is the run's ordering; with vary: order_and_connectivity the others
/// are distinct random orderings; with a set, mask k is ordering k.
#[test]
fn made_masks_take_the_run_ordering_the_random_ones_or_the_set() {
    let shape = binary(4, 4);
    let (_, m) = made(&config(3, Vary::OrderAndConnectivity), shape, "spiral");
    assert_eq!(m.mask_ordering(0).to_string(), "spiral");
    assert_eq!(m.mask_ordering(2).to_string(), "random:50002");
    let under: Vec<Vec<usize>> = (0..3).map(|k| under(&m, k).order().to_vec()).collect();
    assert!(under[0] != under[1] && under[1] != under[2]);
    let (_, c) = made(&config(3, Vary::Connectivity), shape, "spiral");
    assert!((0..3).all(|k| c.mask_ordering(k).to_string() == "spiral"));
    let set = "{train: [raster, snake, hilbert], per_batch: true}";
    let mut cfg = config(3, Vary::OrderAndConnectivity);
    let (_, s) = made(&cfg, shape, set);
    assert_eq!(s.mask_ordering(2).to_string(), "hilbert");
    assert_eq!(
        s.members(3).unwrap(),
        (0..3).map(Member::Mask).collect::<Vec<_>>()
    );
    let err = s.members(4).unwrap_err().to_string();
    assert!(err.contains("K = 3"), "{err}");
    let x = random_images(2, shape);
    let err = s
        .log_probs_under(&x, &Member::Mask(3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("K = 3"), "{err}");
    // A member named by its ordering is that mask.
    let by_name = s.log_probs_under(&x, &Member::Ordering("snake".parse().unwrap()));
    assert!(by_name.unwrap().equal(&s.log_probs_mask(&x, 1)));
    cfg.num_masks = Some(2);
    let ordering: RunOrdering = serde_yaml_ng::from_str(set).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let err = Made::new(&vs.root(), shape, &cfg, &ordering)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("num_masks: 2") && err.contains("has 3"),
        "{err}"
    );
}

/// A forward pass under any mask leaves every variable as it was; after
/// training over K masks, a weight that mask 0 masks out but mask 1 uses
/// has been trained (so not zeroed by an in-place mask).
#[test]
fn made_masks_are_never_written_into_the_weights() {
    let shape = binary(4, 4);
    let (vs, model) = made(&config(4, Vary::OrderAndConnectivity), shape, "raster");
    let before: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();
    let x = random_images(8, shape);
    for k in 0..4 {
        let _ = model.log_probs_under(&x, &Member::Mask(k)).unwrap();
        let _ = under(&model, k).sample(3, k as u64);
    }
    let vars = vs.variables();
    for (name, t) in &before {
        assert!(vars[name].equal(t), "{name} changed by a forward pass");
    }
    train_every_mask(&vs, &model, 4);
    // A direct weight d ← j that mask 0 masks out and mask 1 uses.
    let r0 = crate::order::ranks(under(&model, 0).order());
    let r1 = crate::order::ranks(under(&model, 1).order());
    let (d, j) = (0..16)
        .flat_map(|d| (0..16).map(move |j| (d, j)))
        .find(|&(d, j)| r0[j] > r0[d] && r1[j] < r1[d])
        .unwrap();
    let (d, j) = (d as i64, j as i64);
    let now = vs.variables()["direct"].double_value(&[d, j]);
    let init = before
        .iter()
        .find(|(n, _)| n == "direct")
        .unwrap()
        .1
        .double_value(&[d, j]);
    assert!(now != init, "direct[{d}, {j}] never trained");
}

/// The incremental sampler draws exactly the naive sampler's images from the
/// same uniforms, under every mask, with two hidden layers and direct
/// connections, after some training.
#[test]
fn made_incremental_sampling_equals_the_naive_sampler() {
    let shape = binary(4, 5);
    let (vs, model) = made(&config(3, Vary::OrderAndConnectivity), shape, "hilbert");
    train_every_mask(&vs, &model, 3);
    let u = Tensor::rand([64, 20], (Kind::Double, Device::Cpu));
    for k in 0..3 {
        let fast = model.sample_flat(&u, k);
        let naive = sample_naive(&model, &u, k);
        assert!(fast.equal(&naive), "mask {k}: samples differ");
    }
}

#[test]
fn made_labels_checks_and_spec_keys() {
    let parse = |y: &str| serde_yaml_ng::from_str::<ModelSpec>(y).unwrap();
    let m = parse("{type: made, hidden: [500, 500], num_masks: 8, direct: true}");
    assert_eq!(m.label(), "made-h500x500-m8-direct");
    assert_eq!(parse("{type: made}").label(), "made-h500");
    let c = parse("{type: made, num_masks: 2, vary: connectivity, mask_seed: 3}");
    assert_eq!(c.label(), "made-h500-m2-conn");
    for (yaml, field) in [
        ("{type: made, hidden: []}", "hidden"),
        ("{type: made, hidden: [4, 0]}", "hidden[1]"),
        ("{type: made, num_masks: 0}", "num_masks"),
    ] {
        let err = parse(yaml).validate(PixelForm::Binary, &[]).unwrap_err();
        assert!(err.to_string().starts_with(field), "{err}");
    }
    let set: RunOrdering =
        serde_yaml_ng::from_str("{train: [raster, snake], per_batch: true}").unwrap();
    parse("{type: made}")
        .validate(PixelForm::Binary, std::slice::from_ref(&set))
        .unwrap();
    let err = m
        .validate(PixelForm::Binary, &[set])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("num_masks: 8") && err.contains("has 2"),
        "{err}"
    );
}

/// The naive sampler under mask `k`: one full forward pass per pixel.
fn sample_naive(m: &Made, u: &Tensor, k: usize) -> Tensor {
    let _guard = tch::no_grad_guard();
    let x = u.zeros_like();
    for &p in m.mask_order(k) {
        let p = p as i64;
        let logit = m.logits_flat(&x, k).select(1, p);
        let xp = u.select(1, p).lt_tensor(&logit.sigmoid()).to_kind(u.kind());
        x.select(1, p).copy_(&xp);
    }
    x
}

/// The model under mask `k` alone, as a [`DensityModel`] (its `order()`
/// is mask k's ordering).
fn under(made: &Made, k: usize) -> Under<'_> {
    assert!(k < made.max_members().unwrap(), "no mask {k}");
    Under { made, k }
}

/// A MADE under one of its masks.
struct Under<'a> {
    made: &'a Made,
    k: usize,
}

impl DensityModel for Under<'_> {
    fn logits(&self, x: &Tensor) -> Tensor {
        let m = self.made;
        unflatten(&m.logits_flat(&flatten(x), self.k), m.shape(), &[1])
    }
    fn head(&self) -> Head {
        Head::Bernoulli
    }
    fn sample_with(&self, u: &Tensor) -> Tensor {
        let m = self.made;
        unflatten(&m.sample_flat(&flatten(u), self.k), m.shape(), &[])
    }
    fn num_params(&self) -> i64 {
        self.made.num_params()
    }
    fn order(&self) -> &[usize] {
        self.made.mask_order(self.k)
    }
    fn shape(&self) -> ImageShape {
        self.made.shape()
    }
    fn device(&self) -> Device {
        self.made.device()
    }
}
