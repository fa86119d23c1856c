//! Order-agnostic NADE: exact under any ordering (normalised, causal, and
//! equal to the network of training run one step at a time), the training
//! estimate unbiased, members.
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::*;
use super::{all_images, binary, dependences, oa_nade_config, random_images};
use crate::data::ImageShape;
use crate::models::oanade::{OaNade, Walk};
use crate::order::{OrderSpec, RunOrdering};

/// Hidden units and layers of [`oa_nade_config`].
fn oa_sizes() -> (usize, usize) {
    let c = oa_nade_config();
    (c.hidden, c.layers())
}

fn oa_nade(shape: ImageShape, ordering: &str) -> (nn::VarStore, Box<dyn DensityModel>) {
    tch::manual_seed(11);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let ordering: RunOrdering = serde_yaml_ng::from_str(ordering).unwrap();
    let spec = ModelSpec::new(ModelConfig::Nade(oa_nade_config()));
    let model = spec.build_run(&vs.root(), shape, &ordering).unwrap();
    (vs, model)
}

/// A few Adam steps on the order-agnostic objective.
fn train(vs: &nn::VarStore, model: &dyn DensityModel) {
    let mut opt = nn::Adam::default().build(vs, 0.05).unwrap();
    for step in 0..6 {
        let x = random_images(16, model.shape());
        opt.backward_step(&model.training_loss(&x, step).objective);
    }
}

fn log_p_under(model: &dyn DensityModel, x: &Tensor, ordering: &str) -> Tensor {
    let member = Member::Ordering(ordering.parse().unwrap());
    let lp = model.log_probs_under(x, &member).unwrap();
    lp.sum_dim_intlist([1, 2, 3].as_slice(), false, Kind::Double)
}

const SOME: &[&str] = &[
    "raster",
    "snake",
    "hilbert",
    "spiral",
    "random:5",
    "zigzag+hflip",
];

#[test]
fn oa_nade_is_normalised_under_every_ordering_after_training() {
    let (h, w) = (3, 3);
    for run in ["raster", "{train: [snake, hilbert], per_batch: true}"] {
        let (vs, model) = oa_nade(binary(h, w), run);
        train(&vs, model.as_ref());
        let _g = tch::no_grad_guard();
        for ordering in SOME {
            let total = log_p_under(model.as_ref(), &all_images(h, w), ordering)
                .logsumexp([0], false)
                .double_value(&[]);
            assert!(total.abs() < 1e-9, "{run} / {ordering}: log Σp = {total}");
        }
    }
}

#[test]
fn oa_nade_is_causal_by_gradients_at_5x5() {
    for ordering in ["spiral", "hilbert", "random:5", "zigzag+transpose"] {
        let (vs, model) = oa_nade(binary(5, 5), ordering);
        for trained in [false, true] {
            let (violations, some) = dependences(model.as_ref(), 4);
            assert!(violations.is_empty(), "{ordering}: {violations:?}");
            assert!(some || trained, "{ordering}: no dependence at all");
            train(&vs, model.as_ref());
        }
    }
}

/// The blocked evaluation under an ordering (a block of 28 steps and 8) equals
/// the network of training run once per step, with the observed-mask of
/// that step (the pixels before it); `log_prob` is the run ordering's.
#[test]
fn oa_nade_exact_evaluation_is_the_training_network_step_by_step() {
    let shape = binary(6, 6);
    tch::manual_seed(11);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let run: RunOrdering = "hilbert".parse().unwrap();
    let model = OaNade::new(&vs.root(), shape, oa_sizes(), &run);
    train(&vs, &model);
    let x = random_images(5, shape).reshape([5, 36]);
    for ordering in ["hilbert", "random:2"] {
        let spec: OrderSpec = ordering.parse().unwrap();
        let walk = Walk::new(&spec, shape, Device::Cpu);
        let along = model.logits_along(&x, &walk);
        let m = Tensor::zeros([5, 36], (Kind::Double, Device::Cpu));
        for p in spec.order(6, 6) {
            let p = p as i64;
            let step = model.logits_given(&x, &m).select(1, p);
            let diff = (step - along.select(1, p)).abs().max().double_value(&[]);
            assert!(diff < 1e-10, "{ordering}, pixel {p}: max |Δ| = {diff}");
            let _ = m.select(1, p).fill_(1.0);
        }
    }
    let img = x.view([5, 1, 6, 6]);
    let own = model.log_prob(&img) - log_p_under(&model, &img, "hilbert");
    assert_eq!(own.abs().max().double_value(&[]), 0.0);
}

/// E over (ordering, split) of the training estimate is the NLL averaged
/// over all orderings: on a 2×2 image (24 orderings), the mean of many
/// minibatch estimates agrees with the exact average.
#[test]
fn oa_nade_training_estimate_is_unbiased() {
    let shape = binary(2, 2);
    tch::manual_seed(11);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let model = OaNade::new(&vs.root(), shape, oa_sizes(), &"raster".parse().unwrap());
    train(&vs, &model);
    let _g = tch::no_grad_guard();
    let x = Tensor::from_slice(&[1.0f64, 0.0, 1.0, 1.0]).view([1, 4]);
    let orders = permutations(&[0, 1, 2, 3]);
    let exact: f64 = orders
        .iter()
        .map(|o| {
            let logits = model.logits_along(&x, &Walk::from_order(o.clone(), Device::Cpu));
            -bernoulli_log_prob(&logits, &x)
                .sum(Kind::Double)
                .double_value(&[])
        })
        .sum::<f64>()
        / orders.len() as f64;
    let batch = x.view([1, 1, 2, 2]).repeat([8192, 1, 1, 1]);
    let draws = 20;
    let estimate: f64 = (0..draws)
        .map(|k| model.training_loss(&batch, 1000 + k).nll.double_value(&[]))
        .sum::<f64>()
        / draws as f64;
    assert!(
        (estimate - exact).abs() < 0.03,
        "estimate {estimate} vs exact average {exact}"
    );
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    (0..items.len())
        .flat_map(|i| {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            permutations(&rest).into_iter().map(move |mut p| {
                p.insert(0, first);
                p
            })
        })
        .collect()
}

#[test]
fn oa_nade_members_labels_and_checks() {
    let (_, model) = oa_nade(binary(3, 3), "random:2");
    let names: Vec<String> = model
        .members(4)
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(names, ["random:2", "random:1", "random:3", "random:4"]);
    let (_, set) = oa_nade(binary(3, 3), "{train: [snake, hilbert], per_batch: true}");
    let names: Vec<String> = set
        .members(3)
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(names, ["snake", "hilbert", "random:1"]);
    let x = random_images(2, binary(3, 3));
    let err = set
        .log_probs_under(&x, &Member::Mask(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("orderings"), "{err}");
    let parse = |y: &str| serde_yaml_ng::from_str::<ModelSpec>(y).unwrap();
    let oa = parse("{type: nade, hidden: 500, order_agnostic: true, layers: 2}");
    assert_eq!(oa.label(), "nade-oa-h500-l2");
    assert_eq!(
        parse("{type: nade, order_agnostic: true}").label(),
        "nade-oa-h500"
    );
    let set_run: RunOrdering =
        serde_yaml_ng::from_str("{train: [raster, snake], per_batch: true}").unwrap();
    oa.validate(PixelForm::Binary, std::slice::from_ref(&set_run))
        .unwrap();
    let plain = parse("{type: nade, hidden: 5}");
    assert!(plain.validate(PixelForm::Binary, &[set_run]).is_err());
    let err = parse("{type: nade, layers: 2}")
        .validate(PixelForm::Binary, &[])
        .unwrap_err();
    assert!(err.to_string().contains("order_agnostic: true"), "{err}");
    // Plain nade specs serialize as before (no new keys).
    let yaml = serde_yaml_ng::to_string(&plain).unwrap();
    assert!(
        !yaml.contains("order_agnostic") && !yaml.contains("layers"),
        "{yaml}"
    );
}
