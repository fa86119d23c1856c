//! Exact properties every model must have, under every ordering:
//! normalisation (Σ_x p(x) = 1 over all binary images, float64), causality
//! (conditional t ignores pixels visited after t), closed-form parameter
//! counts, and sampling consistent with the density.
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::*;
use crate::order::OrderSpec;
use crate::spec::{ModelKind, ModelSpec};

const ORDERINGS: &[&str] = &[
    "raster",
    "column",
    "snake",
    "zigzag",
    "hilbert",
    "spiral",
    "random:3",
    "snake+reverse",
    "hilbert+transpose",
    "zigzag+hflip+vflip",
];

fn specs() -> Vec<ModelSpec> {
    let m = |kind, hidden, k| ModelSpec {
        kind,
        name: None,
        hidden,
        k,
        lr: None,
    };
    vec![
        m(ModelKind::Independent, None, None),
        m(ModelKind::Markov, None, Some(1)),
        m(ModelKind::Markov, None, Some(3)),
        m(ModelKind::Tabular, None, None),
        m(ModelKind::Fvsbn, None, None),
        m(ModelKind::Nade, Some(5), None),
    ]
}

/// A float64 model on H×W binary images under `ordering`.
fn make(
    spec: &ModelSpec,
    h: usize,
    w: usize,
    ordering: &str,
) -> (nn::VarStore, Box<dyn DensityModel>) {
    tch::manual_seed(7);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let order = ordering.parse::<OrderSpec>().unwrap().order(h, w);
    let model = build(
        spec,
        &vs.root(),
        Shape {
            height: h,
            width: w,
        },
        order,
    )
    .unwrap();
    (vs, model)
}

/// All 2^d binary images, `[2^d, d]` float64.
fn all_images(d: usize) -> Tensor {
    let v: Vec<f64> = (0..1usize << d)
        .flat_map(|i| (0..d).map(move |j| ((i >> j) & 1) as f64))
        .collect();
    Tensor::from_slice(&v).view([1 << d, d as i64])
}

fn log_total(model: &dyn DensityModel, d: usize) -> f64 {
    let _g = tch::no_grad_guard();
    model
        .log_prob(&all_images(d))
        .logsumexp([0], false)
        .double_value(&[])
}

/// A few Adam steps on random data, so the test is not at a special point.
fn train_a_little(vs: &nn::VarStore, model: &dyn DensityModel, d: usize) {
    let mut opt = nn::Adam::default().build(vs, 0.05).unwrap();
    for _ in 0..5 {
        let x = Tensor::rand([16, d as i64], (Kind::Double, Device::Cpu))
            .lt(0.3)
            .to_kind(Kind::Double);
        let loss = -model.log_prob(&x).mean(Kind::Double);
        opt.backward_step(&loss);
    }
}

#[test]
fn every_model_is_normalised_under_every_ordering() {
    let (h, w) = (3, 3);
    for spec in specs() {
        for ordering in ORDERINGS {
            let (vs, model) = make(&spec, h, w, ordering);
            let at_init = log_total(model.as_ref(), h * w);
            assert!(
                at_init.abs() < 1e-6,
                "{} / {ordering}: log Σp = {at_init} at init",
                spec.label()
            );
            train_a_little(&vs, model.as_ref(), h * w);
            let trained = log_total(model.as_ref(), h * w);
            assert!(
                trained.abs() < 1e-6,
                "{} / {ordering}: log Σp = {trained} after training",
                spec.label()
            );
        }
    }
}

/// Conditional t must not change when any pixel visited after step t flips
/// (for every model, including the table-based ones).
#[test]
fn conditionals_ignore_later_pixels_when_flipped() {
    let (h, w) = (3, 3);
    let d = h * w;
    for spec in specs() {
        for ordering in ORDERINGS {
            let (vs, model) = make(&spec, h, w, ordering);
            train_a_little(&vs, model.as_ref(), d);
            let _g = tch::no_grad_guard();
            let x = Tensor::rand([8, d as i64], (Kind::Double, Device::Cpu))
                .lt(0.5)
                .to_kind(Kind::Double);
            let base = model.log_conditionals(&x);
            let ranks = crate::order::ranks(model.order());
            for (pixel, &rank) in ranks.iter().enumerate() {
                let flipped = x.copy();
                let mut column = flipped.select(1, pixel as i64);
                column.copy_(&(1.0 - x.select(1, pixel as i64)));
                let after = model.log_conditionals(&flipped);
                for t in 0..rank {
                    let diff = (after.select(1, t as i64) - base.select(1, t as i64))
                        .abs()
                        .max()
                        .double_value(&[]);
                    assert_eq!(diff, 0.0, "{} / {ordering}: conditional of step {t} changed when pixel {pixel} (step {rank}) flipped", spec.label());
                }
            }
        }
    }
}

/// The gradient of conditional t with respect to a pixel visited after t is
/// exactly zero; and (so the test can fail) some earlier pixel matters.
#[test]
fn gradients_of_conditionals_vanish_for_later_pixels() {
    let (h, w) = (4, 3);
    let d = h * w;
    for spec in specs().into_iter().filter(|s| {
        matches!(
            s.kind,
            ModelKind::Fvsbn | ModelKind::Nade | ModelKind::Independent
        )
    }) {
        for ordering in ORDERINGS {
            let (vs, model) = make(&spec, h, w, ordering);
            train_a_little(&vs, model.as_ref(), d);
            let ranks = crate::order::ranks(model.order());
            let x = Tensor::rand([4, d as i64], (Kind::Double, Device::Cpu))
                .lt(0.5)
                .to_kind(Kind::Double)
                .set_requires_grad(true);
            let cond = model.log_conditionals(&x);
            let mut earlier_nonzero = false;
            for t in 0..d {
                let g = Tensor::run_backward(
                    &[cond.select(1, t as i64).sum(Kind::Double)],
                    &[&x],
                    true,
                    false,
                );
                let g = g[0].abs().sum_dim_intlist(0, false, Kind::Double);
                for (pixel, &rank) in ranks.iter().enumerate() {
                    let gp = g.double_value(&[pixel as i64]);
                    if rank > t {
                        assert_eq!(gp, 0.0, "{} / {ordering}: d cond[{t}] / d x[{pixel}] = {gp}, but pixel {pixel} is step {rank}", spec.label());
                    } else if rank < t && gp > 0.0 {
                        earlier_nonzero = true;
                    }
                }
            }
            if spec.kind != ModelKind::Independent {
                assert!(
                    earlier_nonzero,
                    "{} / {ordering}: no conditional depends on any earlier pixel",
                    spec.label()
                );
            }
        }
    }
}

#[test]
fn parameter_counts_match_the_closed_forms() {
    for (h, w) in [(3, 3), (4, 5), (28, 28)] {
        let d = h * w;
        for spec in specs() {
            if spec.kind == ModelKind::Tabular && d > TABULAR_MAX_DIMS {
                continue;
            }
            let vs = nn::VarStore::new(Device::Cpu);
            let model = build(
                &spec,
                &vs.root(),
                Shape {
                    height: h,
                    width: w,
                },
                (0..d).collect(),
            )
            .unwrap();
            let d = d as i64;
            let expected = match (spec.kind, spec.k) {
                (ModelKind::Independent, _) => d,
                (ModelKind::Markov, Some(1)) => 2 * d - 1,
                (ModelKind::Markov, Some(3)) => 1 + 2 + 4 + 8 * (d - 3),
                (ModelKind::Tabular, _) => (1i64 << d) - 1,
                (ModelKind::Fvsbn, _) => d + d * (d - 1) / 2,
                (ModelKind::Nade, _) => 2 * d * 5 + d + 5,
                _ => unreachable!(),
            };
            assert_eq!(model.num_params(), expected, "{} on {h}×{w}", spec.label());
            let trainable: i64 = vs
                .trainable_variables()
                .iter()
                .map(|t| t.numel() as i64)
                .sum();
            assert_eq!(
                trainable,
                expected,
                "{} on {h}×{w}: variables",
                spec.label()
            );
            assert_eq!(param_count(&spec, d as usize), Some(expected as u128));
        }
    }
}

#[test]
fn tabular_refuses_more_than_twenty_pixels() {
    let spec = ModelSpec {
        kind: ModelKind::Tabular,
        name: None,
        hidden: None,
        k: None,
        lr: None,
    };
    let vs = nn::VarStore::new(Device::Cpu);
    let err = build(
        &spec,
        &vs.root(),
        Shape {
            height: 3,
            width: 7,
        },
        (0..21).collect(),
    )
    .err()
    .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("2^21 − 1") && msg.contains("D = 20"), "{msg}");
}

#[test]
fn nade_blocks_match_a_per_step_reference_in_value_and_gradient() {
    tch::manual_seed(3);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let (d, hidden) = (61usize, 7usize); // not a multiple of the block length
    let x = Tensor::rand([5, d as i64], (Kind::Double, Device::Cpu))
        .lt(0.5)
        .to_kind(Kind::Double);
    let reference = nade::Nade::with_block(&vs.root().sub("a"), d, hidden, 1);
    for block in [1usize, 4, 28, 100] {
        let fast = nade::Nade::with_block(&vs.root().sub(format!("b{block}")), d, hidden, block);
        // Same parameters as the reference.
        let vars = vs.variables();
        for name in ["w", "c", "v", "b"] {
            let mut dst = vars[&format!("b{block}.{name}")].shallow_clone();
            tch::no_grad(|| dst.copy_(&vars[&format!("a.{name}")]));
        }
        let r = nade::reference_log_conditionals(&reference, &x);
        let f = fast.log_conditionals(&x);
        let diff = (&r - &f).abs().max().double_value(&[]);
        assert!(diff < 1e-12, "block {block}: max |Δ| = {diff}");
        let gr = Tensor::run_backward(
            &[r.sum(Kind::Double)],
            &[&vars["a.w"], &vars["a.v"]],
            false,
            false,
        );
        let gf = Tensor::run_backward(
            &[f.sum(Kind::Double)],
            &[&vars[&format!("b{block}.w")], &vars[&format!("b{block}.v")]],
            false,
            false,
        );
        for (a, b) in gr.iter().zip(&gf) {
            let diff = (a - b).abs().max().double_value(&[]);
            assert!(diff < 1e-12, "block {block}: gradient max |Δ| = {diff}");
        }
    }
}

#[test]
fn same_seed_same_samples_and_samples_follow_the_density() {
    let (h, w) = (2, 2);
    let d = h * w;
    for spec in specs() {
        for ordering in ["raster", "random:5", "spiral+reverse"] {
            let (vs, model) = make(&spec, h, w, ordering);
            train_a_little(&vs, model.as_ref(), d);
            let a = model.sample(4000, 11);
            let b = model.sample(4000, 11);
            assert!(
                a.equal(&b),
                "{} / {ordering}: same seed, different samples",
                spec.label()
            );
            assert!(
                !a.equal(&model.sample(4000, 12)),
                "{}: seed ignored",
                spec.label()
            );
            // Empirical frequencies of the 16 images against p(x).
            let codes: Vec<i64> =
                Vec::try_from(
                    (a.to_kind(Kind::Int64) * Tensor::from_slice(&[1i64, 2, 4, 8]))
                        .sum_dim_intlist(1, false, Kind::Int64),
                )
                .unwrap();
            let mut counts = [0f64; 16];
            for c in codes {
                counts[c as usize] += 1.0 / 4000.0;
            }
            let p: Vec<f64> =
                Vec::try_from(tch::no_grad(|| model.log_prob(&all_images(d)).exp())).unwrap();
            let tv: f64 = counts
                .iter()
                .zip(&p)
                .map(|(c, p)| (c - p).abs())
                .sum::<f64>()
                / 2.0;
            assert!(
                tv < 0.05,
                "{} / {ordering}: total variation {tv} between samples and p(x)",
                spec.label()
            );
        }
    }
}
