//! Exact properties every model must have, under every ordering it takes:
//! normalisation (Σ_x p(x) = 1 over all binary images, float64; every
//! 256-way conditional sums to 1), causality (the parameters of pixel i,
//! channel c do not depend on any later pixel, nor on channels ≥ c of pixel
//! i), closed-form parameter counts, and sampling consistent with the
//! conditionals and the density.
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::*;
use crate::data::ImageShape;
use crate::order::OrderSpec;

mod made;
mod oanade;
mod rnade;

/// Orderings of the fully-connected models.
pub(super) const ORDERINGS: &[&str] = &[
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

/// The 8 dihedral variants of raster order (the raster-scan networks' orderings).
const DIHEDRAL: &[&str] = &[
    "raster",
    "raster+hflip",
    "raster+vflip",
    "raster+reverse",
    "column",
    "column+hflip",
    "column+vflip",
    "column+reverse",
];

/// A small order-agnostic NADE of two hidden layers.
pub(super) fn oa_nade_config() -> nade::Config {
    nade::Config {
        hidden: 6,
        order_agnostic: true,
        layers: Some(2),
        ..Default::default()
    }
}

fn seq_specs() -> Vec<ModelSpec> {
    vec![
        ModelSpec::new(ModelConfig::Independent(independent::Config {})),
        ModelSpec::new(ModelConfig::Markov(table::MarkovConfig { k: 1 })),
        ModelSpec::new(ModelConfig::Markov(table::MarkovConfig { k: 3 })),
        ModelSpec::new(ModelConfig::Tabular(table::TabularConfig {})),
        ModelSpec::new(ModelConfig::Fvsbn(fvsbn::Config::default())),
        ModelSpec::new(ModelConfig::Nade(nade::Config {
            hidden: 5,
            ..Default::default()
        })),
        ModelSpec::new(ModelConfig::Nade(oa_nade_config())),
        ModelSpec::new(ModelConfig::Made(crate::models::made::Config {
            hidden: Some(vec![6, 5]),
            direct: Some(true),
            num_masks: Some(3),
            ..Default::default()
        })),
    ]
}

/// Tiny convolutional models (the architecture of the presets, fewer units).
fn conv_specs() -> Vec<ModelSpec> {
    vec![
        ModelSpec::new(ModelConfig::Pixelcnn(pixelcnn::Config {
            blocks: Some(2),
            hidden: Some(4),
            output_hidden: Some(8),
            ..Default::default()
        })),
        ModelSpec::new(ModelConfig::GatedPixelcnn(gated_pixelcnn::Config {
            layers: Some(3),
            hidden: Some(4),
            kernel: Some(3),
            output_hidden: Some(16),
            ..Default::default()
        })),
    ]
}

fn orderings_of(spec: &ModelSpec) -> &'static [&'static str] {
    match spec.def().orderings() {
        Orderings::Any => ORDERINGS,
        Orderings::Dihedral => DIHEDRAL,
    }
}

pub(super) fn binary(h: usize, w: usize) -> ImageShape {
    ImageShape::new(PixelForm::Binary, h, w)
}

/// A float64 model on images of `shape` under `ordering`.
pub(super) fn make(
    spec: &ModelSpec,
    shape: ImageShape,
    ordering: &str,
) -> (nn::VarStore, Box<dyn DensityModel>) {
    tch::manual_seed(7);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let ordering = ordering.parse::<OrderSpec>().unwrap();
    let model = spec.build(&vs.root(), shape, &ordering).unwrap();
    (vs, model)
}

/// All 2^(h·w) binary images, `[2^d, 1, h, w]` float64.
pub(super) fn all_images(h: usize, w: usize) -> Tensor {
    let d = h * w;
    let v: Vec<f64> = (0..1usize << d)
        .flat_map(|i| (0..d).map(move |j| ((i >> j) & 1) as f64))
        .collect();
    Tensor::from_slice(&v).view([1 << d, 1, h as i64, w as i64])
}

/// All 65,536 gray images of 1×2 pixels, `[65536, 1, 1, 2]` float64.
fn all_gray_pairs() -> Tensor {
    let levels = Tensor::arange(256, (Kind::Double, Device::Cpu));
    Tensor::stack(
        &[
            levels.repeat_interleave_self_int(256, 0, None),
            levels.repeat([256]),
        ],
        1,
    )
    .view([65536, 1, 1, 2])
}

/// Random images of `shape` (level values), float64.
pub(super) fn random_images(n: i64, shape: ImageShape) -> Tensor {
    let dims = [
        n,
        shape.channels as i64,
        shape.height as i64,
        shape.width as i64,
    ];
    Tensor::randint(shape.levels as i64, dims, (Kind::Int64, Device::Cpu)).to_kind(Kind::Double)
}

pub(super) fn log_total(model: &dyn DensityModel, h: usize, w: usize) -> f64 {
    let _g = tch::no_grad_guard();
    model
        .log_prob(&all_images(h, w))
        .logsumexp([0], false)
        .double_value(&[])
}

/// A few Adam steps on random data, so the test is not at a special point.
pub(super) fn train_a_little(vs: &nn::VarStore, model: &dyn DensityModel) {
    let mut opt = nn::Adam::default().build(vs, 0.05).unwrap();
    for _ in 0..5 {
        let x = random_images(16, model.shape());
        let loss = -model.log_prob(&x).mean(Kind::Double);
        opt.backward_step(&loss);
    }
}

#[test]
fn every_model_is_normalised_under_every_ordering() {
    let (h, w) = (3, 3);
    for spec in seq_specs().into_iter().chain(conv_specs()) {
        for ordering in orderings_of(&spec) {
            let (vs, model) = make(&spec, binary(h, w), ordering);
            let at_init = log_total(model.as_ref(), h, w);
            assert!(
                at_init.abs() < 1e-6,
                "{} / {ordering}: log Σp = {at_init} at init",
                spec.label()
            );
            train_a_little(&vs, model.as_ref());
            let trained = log_total(model.as_ref(), h, w);
            assert!(
                trained.abs() < 1e-6,
                "{} / {ordering}: log Σp = {trained} after training",
                spec.label()
            );
        }
    }
}

/// 256-way heads: on a 1×2 gray image, the 65,536 joint probabilities sum
/// to 1, and every conditional of a colour image sums to 1.
#[test]
fn eight_bit_models_are_normalised() {
    let gray = ImageShape::new(PixelForm::Gray256, 1, 2);
    let all = all_gray_pairs();
    let mut specs = conv_specs();
    specs.insert(
        0,
        ModelSpec::new(ModelConfig::Independent(independent::Config {})),
    );
    for spec in &specs {
        for ordering in ["raster", "raster+hflip"] {
            let (vs, model) = make(spec, gray, ordering);
            train_a_little(&vs, model.as_ref());
            let total = tch::no_grad(|| model.log_prob(&all).logsumexp([0], false));
            let total = total.double_value(&[]);
            assert!(
                total.abs() < 1e-9,
                "{} / {ordering}: log Σp = {total}",
                spec.label()
            );
        }
        let (_, model) = make(spec, ImageShape::new(PixelForm::Rgb, 3, 3), "column");
        let x = random_images(4, model.shape());
        let lp = tch::no_grad(|| {
            model
                .logits(&x)
                .log_softmax(-1, Kind::Double)
                .logsumexp([-1], false)
        });
        assert!(lp.abs().max().double_value(&[]) < 1e-12, "{}", spec.label());
    }
}

/// For every (pixel q, channel c): which input (channel, pixel) entries the
/// parameters of (q, c) may depend on: pixels earlier in the ordering, and
/// the earlier channels of q itself.
/// `ranks[pixel]` is the step at which the ordering visits it.
fn allowed(ranks: &[usize], q: usize, c: usize, cin: usize, p: usize) -> bool {
    ranks[p] < ranks[q] || (p == q && cin < c)
}

/// Gradients of each conditional's parameters with respect to every input
/// entry: exactly zero where not allowed; and some allowed entry matters.
/// Checked at initialisation, where some dependence must show, and after a
/// little training on noise (which may teach a small net to ignore inputs).
fn check_causality_by_gradients(spec: &ModelSpec, shape: ImageShape, ordering: &str) {
    let (vs, model) = make(spec, shape, ordering);
    check_gradients(spec, model.as_ref(), shape, ordering, true);
    train_a_little(&vs, model.as_ref());
    check_gradients(spec, model.as_ref(), shape, ordering, false);
}

fn check_gradients(
    spec: &ModelSpec,
    model: &dyn DensityModel,
    shape: ImageShape,
    ordering: &str,
    must_depend: bool,
) {
    let (violations, some_dependence) = dependences(model, 8);
    assert!(
        violations.is_empty(),
        "{} / {ordering} / {:?}: non-zero d params[pixel, channel] / d x[input pixel, input channel] \
         where the ordering forbids it, as (pixel, channel, input pixel, input channel): {violations:?}",
        spec.label(),
        shape.pixels()
    );
    if must_depend && spec.type_name() != "independent" {
        assert!(
            some_dependence,
            "{} / {ordering}: no conditional depends on anything",
            spec.label()
        );
    }
}

/// The gradients of each conditional's parameters over `n` random images:
/// every `(pixel q, channel c, input pixel, input channel)` with a non-zero
/// gradient although the ordering forbids it, and whether any allowed entry
/// has a non-zero gradient.
pub(super) fn dependences(
    model: &dyn DensityModel,
    n: i64,
) -> (Vec<(usize, usize, usize, usize)>, bool) {
    let shape = model.shape();
    let (c, p) = (shape.channels, shape.positions());
    let x = random_images(n, shape).set_requires_grad(true);
    let logits = model.logits(&x).reshape([n, c as i64, p as i64, -1]);
    let ranks = crate::order::ranks(model.order());
    let (mut violations, mut some_dependence) = (Vec::new(), false);
    for q in 0..p {
        for ch in 0..c {
            let out = logits
                .select(1, ch as i64)
                .select(1, q as i64)
                .sum(Kind::Double);
            let g = &Tensor::run_backward(&[out], &[&x], true, false)[0];
            if !g.defined() {
                continue; // no dependence on the input at all
            }
            let g = g
                .abs()
                .sum_dim_intlist(0, false, Kind::Double)
                .reshape([c as i64, p as i64]);
            for cin in 0..c {
                for pix in 0..p {
                    if g.double_value(&[cin as i64, pix as i64]) == 0.0 {
                        continue;
                    }
                    if allowed(&ranks, q, ch, cin, pix) {
                        some_dependence = true;
                    } else {
                        violations.push((q, ch, pix, cin));
                    }
                }
            }
        }
    }
    (violations, some_dependence)
}

#[test]
fn fully_connected_models_are_causal_by_gradients_under_every_ordering() {
    for spec in seq_specs()
        .into_iter()
        .filter(|s| matches!(s.type_name(), "fvsbn" | "nade" | "made" | "independent"))
    {
        for ordering in ORDERINGS {
            check_causality_by_gradients(&spec, binary(4, 3), ordering);
        }
    }
}

#[test]
fn conv_models_are_causal_by_gradients_binary_gray_and_rgb() {
    for spec in conv_specs() {
        for ordering in DIHEDRAL {
            check_causality_by_gradients(&spec, binary(4, 5), ordering);
            check_causality_by_gradients(&spec, ImageShape::new(PixelForm::Rgb, 3, 4), ordering);
        }
        check_causality_by_gradients(&spec, ImageShape::new(PixelForm::Gray256, 4, 4), "column");
    }
    // The independent model on colour: no dependence at all.
    let spec = ModelSpec::new(ModelConfig::Independent(independent::Config {}));
    check_causality_by_gradients(&spec, ImageShape::new(PixelForm::Rgb, 2, 2), "raster");
}

/// Conditional t must not change when any pixel visited at or after step t
/// flips (for every fully-connected model, the table-based ones included).
#[test]
fn conditionals_ignore_later_pixels_when_flipped() {
    let (h, w) = (3, 3);
    let d = h * w;
    for spec in seq_specs() {
        for ordering in ORDERINGS {
            let (vs, model) = make(&spec, binary(h, w), ordering);
            train_a_little(&vs, model.as_ref());
            let _g = tch::no_grad_guard();
            let x = random_images(8, binary(h, w));
            let base = model.logits(&x).view([8, d as i64]);
            let ranks = crate::order::ranks(model.order());
            for (pixel, &rank) in ranks.iter().enumerate() {
                let flipped = x.view([8, d as i64]).copy();
                let mut column = flipped.select(1, pixel as i64);
                column.copy_(&(1.0 - column.copy()));
                let after = model
                    .logits(&flipped.view([8, 1, h as i64, w as i64]))
                    .view([8, d as i64]);
                for (q, &rq) in ranks.iter().enumerate() {
                    if rq <= rank {
                        let diff = (after.select(1, q as i64) - base.select(1, q as i64))
                            .abs()
                            .max()
                            .double_value(&[]);
                        assert_eq!(diff, 0.0, "{} / {ordering}: conditional of pixel {q} (step {rq}) changed when pixel {pixel} (step {rank}) flipped", spec.label());
                    }
                }
            }
        }
    }
}

/// Plain PixelCNN misses some earlier pixels whatever its depth (the blind
/// spot); Gated PixelCNN sees every earlier pixel.
#[test]
fn pixelcnn_has_a_blind_spot_and_gated_pixelcnn_has_none() {
    let (h, w) = (6, 8);
    let shape = binary(h, w);
    let target = 5 * w; // (5, 0)
    let field = |spec: &ModelSpec| -> Vec<f64> {
        let (_, model) = make(spec, shape, "raster");
        crate::eval::receptive_field(model.as_ref(), target, 0, 4, Kind::Double)
    };
    let deep = |cfg: pixelcnn::Config| ModelSpec::new(ModelConfig::Pixelcnn(cfg));
    let plain = field(&deep(pixelcnn::Config {
        blocks: Some(6),
        hidden: Some(4),
        output_hidden: Some(8),
        ..Default::default()
    }));
    let gated = field(&ModelSpec::new(ModelConfig::GatedPixelcnn(
        gated_pixelcnn::Config {
            layers: Some(8),
            hidden: Some(4),
            kernel: Some(3),
            output_hidden: Some(8),
            ..Default::default()
        },
    )));
    let blind: Vec<usize> = (0..target).filter(|&p| plain[p] == 0.0).collect();
    assert!(
        !blind.is_empty(),
        "plain PixelCNN sees every earlier pixel: {plain:?}"
    );
    // The blind spot is above and to the right.
    assert!(
        blind.iter().all(|&p| p / w < 5 && p % w > 0),
        "blind spot {blind:?}"
    );
    let missed: Vec<usize> = (0..target).filter(|&p| gated[p] == 0.0).collect();
    assert!(missed.is_empty(), "gated PixelCNN misses pixels {missed:?}");
    for field in [&plain, &gated] {
        assert!(
            (target..h * w).all(|p| field[p] == 0.0),
            "later pixels in the field"
        );
    }
}

#[test]
fn parameter_counts_match_the_closed_forms() {
    for (h, w) in [(3, 3), (4, 5), (28, 28)] {
        let d = (h * w) as i64;
        for spec in seq_specs() {
            if spec.type_name() == "tabular" && h * w > table::TABULAR_MAX_DIMS {
                continue;
            }
            let expected = match &spec.config {
                ModelConfig::Independent(_) => d,
                ModelConfig::Markov(m) if m.k == 1 => 2 * d - 1,
                ModelConfig::Markov(_) => 1 + 2 + 4 + 8 * (d - 3),
                ModelConfig::Tabular(_) => (1i64 << d) - 1,
                ModelConfig::Fvsbn(_) => d + d * (d - 1) / 2,
                ModelConfig::Nade(c) if c.order_agnostic => 3 * d * 6 + d + 6 + 6 * 6 + 6,
                ModelConfig::Nade(_) => 2 * d * 5 + d + 5,
                ModelConfig::Made(_) => d * 6 + 6 + 6 * 5 + 5 + 5 * d + d + d * d,
                _ => unreachable!(),
            };
            check_count(&spec, binary(h, w), Some(expected));
        }
    }
    for pixels in PixelForm::ALL {
        let shape = ImageShape::new(pixels, 5, 4);
        let indep = ModelSpec::new(ModelConfig::Independent(independent::Config {}));
        let per = if pixels == PixelForm::Binary { 1 } else { 255 };
        check_count(&indep, shape, Some(shape.dims() as i64 * per));
        for spec in conv_specs() {
            check_count(&spec, shape, None);
        }
        for preset in [Preset::Small, Preset::Paper] {
            let spec = ModelSpec::new(ModelConfig::Pixelcnn(pixelcnn::Config {
                preset,
                ..Default::default()
            }));
            check_count(&spec, shape, None);
        }
        let spec = ModelSpec::new(ModelConfig::GatedPixelcnn(Default::default()));
        check_count(&spec, shape, None);
    }
}

/// The built model's variables, its `num_params` and its config's closed
/// form agree (and equal `expected` when given).
fn check_count(spec: &ModelSpec, shape: ImageShape, expected: Option<i64>) {
    let vs = nn::VarStore::new(Device::Cpu);
    let model = spec
        .build(&vs.root(), shape, &"raster".parse().unwrap())
        .unwrap();
    let trainable: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    let closed = spec.def().param_count(shape).unwrap() as i64;
    let what = format!("{} on {:?}", spec.label(), shape);
    assert_eq!(
        model.num_params(),
        trainable,
        "{what}: num_params vs variables"
    );
    assert_eq!(closed, trainable, "{what}: closed form vs variables");
    if let Some(e) = expected {
        assert_eq!(trainable, e, "{what}");
    }
}

#[test]
fn tabular_refuses_more_than_twenty_pixels() {
    let spec = ModelSpec::new(ModelConfig::Tabular(table::TabularConfig {}));
    let vs = nn::VarStore::new(Device::Cpu);
    let err = spec
        .build(&vs.root(), binary(3, 7), &"raster".parse().unwrap())
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("2^21 − 1") && msg.contains("D = 20"), "{msg}");
}

#[test]
fn raster_networks_refuse_non_dihedral_orderings() {
    let raster_only = conv_specs()
        .into_iter()
        .filter(|s| s.def().orderings() == Orderings::Dihedral)
        .chain(pixelrnn_specs());
    for spec in raster_only {
        let err = spec
            .validate(PixelForm::Binary, &["snake".parse().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("dihedral") && err.contains("`snake`"), "{err}");
        spec.validate(PixelForm::Rgb, &["column+reverse".parse().unwrap()])
            .unwrap();
    }
    let nade = ModelSpec::new(ModelConfig::Nade(nade::Config {
        hidden: 3,
        ..Default::default()
    }));
    let err = nade
        .validate(PixelForm::Rgb, &["raster".parse().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("data.pixels: binary"), "{err}");
}

/// NADE's logits by a plain per-step loop, from its variables `w`, `c`,
/// `v`, `b` (names prefixed by `prefix`): the reference for the blocked
/// formulation and the CPU kernel.
fn nade_reference(
    vars: &std::collections::HashMap<String, Tensor>,
    prefix: &str,
    xs: &Tensor,
) -> Tensor {
    let var = |n: &str| &vars[&format!("{prefix}{n}")];
    let (w, c, v, b) = (var("w"), var("c"), var("v"), var("b"));
    let batch = xs.size()[0];
    let mut a = c.unsqueeze(0).expand([batch, -1], false);
    let mut out = Vec::new();
    for t in 0..xs.size()[1] {
        let logit = (a.sigmoid() * v.get(t)).sum_dim_intlist(-1, false, None) + b.get(t);
        out.push(logit);
        a = &a + xs.select(1, t).unsqueeze(1) * w.get(t);
    }
    Tensor::stack(&out, 1)
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
    // The reference's variables a.w, a.c, a.v and a.b.
    nade::Nade::with_block(&vs.root().sub("a"), d, hidden, 1);
    for block in [1usize, 4, 28, 100] {
        let fast = nade::Nade::with_block(&vs.root().sub(format!("b{block}")), d, hidden, block);
        // Same parameters as the reference.
        let vars = vs.variables();
        for name in ["w", "c", "v", "b"] {
            let mut dst = vars[&format!("b{block}.{name}")].shallow_clone();
            tch::no_grad(|| dst.copy_(&vars[&format!("a.{name}")]));
        }
        let r = nade_reference(&vars, "a.", &x);
        let f = fast.logits(&x);
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

/// NADE's CPU kernel: its hand-derived gradient of the mean NLL equals
/// autograd's through the per-step reference (float64, 1e-10), as do its
/// NLL and (without autograd) its logits; in float32 it agrees with
/// libtorch's float32 to rounding (where the CPU has AVX2 and FMA, the
/// float32 kernel runs `nade_simd`'s loops).
#[test]
fn nade_kernel_gradient_equals_autograd() {
    // H = 13: one vector of 8 and a tail; H = 37: four vectors and a tail.
    for hidden in [13usize, 37] {
        nade_kernel_matches_autograd_at(hidden);
    }
}

fn nade_kernel_matches_autograd_at(hidden: usize) {
    tch::manual_seed(5);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let (d, batch) = (61usize, 19i64); // B not a multiple of 8
    let net = nade::Nade::new(&vs.root(), d, hidden);
    let vars = vs.variables();
    let params: Vec<Tensor> = ["w", "c", "v", "b"]
        .iter()
        .map(|n| vars[*n].shallow_clone())
        .collect();
    tch::no_grad(|| {
        for p in &params {
            p.shallow_clone().copy_(&(p.randn_like() * 0.7));
        }
    });
    let x = Tensor::rand([batch, d as i64], (Kind::Double, Device::Cpu))
        .lt(0.4)
        .to_kind(Kind::Double);
    let reference = nade_reference(&vars, "", &x);
    let nll = -bernoulli_log_prob(&reference, &x).sum(Kind::Double) / batch as f64;
    let expected = Tensor::run_backward(&[&nll], &params, false, false);
    let loss = net.training_loss(&x).expect("the CPU kernel");
    let got = Tensor::run_backward(&[&loss.objective], &params, false, false);
    for ((e, g), name) in expected.iter().zip(&got).zip(["w", "c", "v", "b"]) {
        let diff = (e - g).abs().max().double_value(&[]);
        assert!(diff < 1e-10, "∂{name}: max |Δ| = {diff}");
        assert!(e.abs().max().double_value(&[]) > 1e-3, "∂{name} is trivial");
    }
    let nll_diff = (loss.nll.double_value(&[]) - nll.double_value(&[])).abs();
    assert!(
        nll_diff < 1e-5,
        "NLL off by {nll_diff} (reported in float32)"
    );
    let fast = tch::no_grad(|| net.logits(&x));
    let diff = (&fast - &reference).abs().max().double_value(&[]);
    assert!(diff < 1e-10, "kernel logits: max |Δ| = {diff}");

    vs.set_kind(Kind::Float);
    let x = x.to_kind(Kind::Float);
    let (fast, torch) = (tch::no_grad(|| net.logits(&x)), net.logits(&x));
    let diff = (&fast - &torch).abs().max().double_value(&[]);
    assert!(diff < 1e-4, "float32 kernel logits: max |Δ| = {diff}");
    let expected = Tensor::run_backward(
        &[-bernoulli_log_prob(&torch, &x).sum(Kind::Float) / batch as f64],
        &params,
        false,
        false,
    );
    let loss = net.training_loss(&x).expect("the CPU kernel");
    let got = Tensor::run_backward(&[&loss.objective], &params, false, false);
    for (e, g) in expected.iter().zip(&got) {
        let diff = (e - g).abs().max().double_value(&[]);
        assert!(diff < 1e-4, "float32 gradient: max |Δ| = {diff}");
    }
}

/// Given the same uniforms, a sample is exactly what the model's own
/// conditionals imply at every pixel and channel: binary, gray and RGB.
#[test]
fn samples_are_what_the_conditionals_imply_given_the_uniforms() {
    let shapes = [
        binary(3, 3),
        ImageShape::new(PixelForm::Gray256, 3, 2),
        ImageShape::new(PixelForm::Rgb, 2, 3),
    ];
    for shape in shapes {
        let specs: Vec<ModelSpec> = if shape.pixels() == PixelForm::Binary {
            seq_specs().into_iter().chain(conv_specs()).collect()
        } else {
            let mut s = conv_specs();
            s.push(ModelSpec::new(ModelConfig::Independent(
                independent::Config {},
            )));
            s
        };
        for spec in &specs {
            let ordering = orderings_of(spec)[5];
            check_samples_follow_the_conditionals(spec, shape, ordering);
        }
    }
}

/// Given the same uniforms, a sample is exactly what the model's own
/// conditionals draw at every pixel and channel.
pub(super) fn check_samples_follow_the_conditionals(
    spec: &ModelSpec,
    shape: ImageShape,
    ordering: &str,
) {
    let (vs, model) = make(spec, shape, ordering);
    train_a_little(&vs, model.as_ref());
    let dims = [
        6,
        shape.channels as i64,
        shape.height as i64,
        shape.width as i64,
    ];
    let u = Tensor::rand(dims, (Kind::Double, Device::Cpu));
    let x = model.sample_with(&u);
    let again = model.head().sample(&tch::no_grad(|| model.logits(&x)), &u);
    assert!(
        x.equal(&again),
        "{} / {ordering} / {:?}: samples differ from the conditionals' draws",
        spec.label(),
        shape.pixels()
    );
}

#[test]
fn same_seed_same_samples_and_samples_follow_the_density() {
    let (h, w) = (2, 2);
    let d = h * w;
    for spec in seq_specs().into_iter().chain(conv_specs()) {
        for ordering in [
            orderings_of(&spec)[0],
            orderings_of(&spec)[6],
            orderings_of(&spec)[7],
        ] {
            let (vs, model) = make(&spec, binary(h, w), ordering);
            train_a_little(&vs, model.as_ref());
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
            let codes: Vec<i64> = Vec::try_from(
                (a.reshape([4000, d as i64]).to_kind(Kind::Int64)
                    * Tensor::from_slice(&[1i64, 2, 4, 8]))
                .sum_dim_intlist(1, false, Kind::Int64),
            )
            .unwrap();
            let mut counts = [0f64; 16];
            for c in codes {
                counts[c as usize] += 1.0 / 4000.0;
            }
            let p: Vec<f64> =
                Vec::try_from(tch::no_grad(|| model.log_prob(&all_images(h, w)).exp())).unwrap();
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

/// Sampling in batches draws the very images of one call: the uniforms
/// come from one stream in order.
#[test]
fn samples_drawn_in_batches_are_the_samples_of_one_call() {
    for spec in seq_specs().into_iter().chain(conv_specs()) {
        let (vs, model) = make(&spec, binary(3, 3), orderings_of(&spec)[0]);
        train_a_little(&vs, model.as_ref());
        let whole = model.sample(23, 5);
        let mut parts = Vec::new();
        crate::models::sample_in_batches(model.as_ref(), 23, 5, 7, |b| parts.push(b));
        assert_eq!(parts.len(), 4, "{}", spec.label());
        assert!(
            Tensor::cat(&parts, 0).equal(&whole),
            "{}: batches differ from one call",
            spec.label()
        );
    }
}

// ---- PixelRNN: Row LSTM and Diagonal BiLSTM --------------------------------

/// Tiny PixelRNNs (the presets' architecture, fewer units and layers).
fn pixelrnn_specs() -> Vec<ModelSpec> {
    vec![row_lstm_spec(2), diagonal_bilstm_spec(2)]
}

fn row_lstm_spec(layers: usize) -> ModelSpec {
    ModelSpec::new(ModelConfig::RowLstm(row_lstm::Config(tiny_sizes(layers))))
}

fn diagonal_bilstm_spec(layers: usize) -> ModelSpec {
    ModelSpec::new(ModelConfig::DiagonalBilstm(diagonal_bilstm::Config(
        tiny_sizes(layers),
    )))
}

fn tiny_sizes(layers: usize) -> crate::models::pixelrnn::Sizes {
    crate::models::pixelrnn::Sizes {
        layers: Some(layers),
        hidden: Some(4),
        output_hidden: Some(8),
        ..Default::default()
    }
}

/// A tiny float64 Diagonal BiLSTM, its right-to-left stream shifted down
/// (correct) or not (the bug).
fn diagonal_bilstm_shifted(
    shape: ImageShape,
    ordering: &str,
    shift: bool,
) -> (nn::VarStore, Box<dyn DensityModel>) {
    tch::manual_seed(7);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let ModelConfig::DiagonalBilstm(config) = diagonal_bilstm_spec(2).config else {
        unreachable!()
    };
    let mut net = diagonal_bilstm::DiagonalBiLstm::new(&vs.root(), shape, config.0.arch());
    net.shift_backward = shift;
    let ordering = ordering.parse::<OrderSpec>().unwrap();
    let model = Raster::new(Box::new(net), shape, &ordering, &vs.root()).unwrap();
    (vs, Box::new(model))
}

/// Every forbidden dependence of the model (see [`dependences`]).
fn causality_violations(model: &dyn DensityModel) -> Vec<(usize, usize, usize, usize)> {
    dependences(model, 4).0
}

#[test]
fn pixelrnn_models_are_causal_by_gradients_under_every_dihedral_ordering() {
    for spec in pixelrnn_specs() {
        for ordering in DIHEDRAL {
            check_causality_by_gradients(&spec, binary(4, 5), ordering);
            check_causality_by_gradients(&spec, ImageShape::new(PixelForm::Rgb, 3, 4), ordering);
        }
        check_causality_by_gradients(&spec, ImageShape::new(PixelForm::Gray256, 4, 4), "column");
    }
}

/// The bug of public implementations: without the down-shift the
/// right-to-left stream at (i, j) has read (i, j+1..): the gradient check
/// finds it, on binary and colour, and finds nothing once shifted.
#[test]
fn diagonal_bilstm_without_the_down_shift_is_caught() {
    let (w, ordering) = (5, "raster");
    for shape in [binary(4, w), ImageShape::new(PixelForm::Rgb, 3, w)] {
        let (_, buggy) = diagonal_bilstm_shifted(shape, ordering, false);
        let leaks = causality_violations(buggy.as_ref());
        assert!(!leaks.is_empty(), "{shape:?}: unshifted stream not caught");
        // Among them: a pixel reading the pixel right of it in its own row.
        assert!(
            leaks
                .iter()
                .any(|&(q, _, p, _)| p == q + 1 && p / w == q / w),
            "{shape:?}: {leaks:?}"
        );
        let (vs, model) = diagonal_bilstm_shifted(shape, ordering, true);
        assert_eq!(causality_violations(model.as_ref()), vec![], "{shape:?}");
        train_a_little(&vs, model.as_ref());
        assert_eq!(causality_violations(model.as_ref()), vec![], "{shape:?}");
    }
}

fn assert_normalised(spec: &ModelSpec, h: usize, w: usize, orderings: &[&str]) {
    for ordering in orderings {
        let (vs, model) = make(spec, binary(h, w), ordering);
        for when in ["at init", "after training"] {
            let total = log_total(model.as_ref(), h, w);
            assert!(
                total.abs() < 1e-6,
                "{} / {ordering} / {h}×{w}: log Σp = {total} {when}",
                spec.label()
            );
            train_a_little(&vs, model.as_ref());
        }
    }
}

#[test]
fn pixelrnn_models_are_normalised_on_every_3x3_binary_image() {
    for spec in pixelrnn_specs() {
        assert_normalised(&spec, 3, 3, &["raster", "column"]);
    }
}

/// The scans on degenerate maps: one row (one Row LSTM step; a skewed
/// width of W) and one column (H steps; a skewed width of H).
#[test]
fn pixelrnn_models_are_normalised_on_one_row_and_one_column_images() {
    for spec in pixelrnn_specs() {
        assert_normalised(&spec, 1, 4, &["raster", "column"]);
        assert_normalised(&spec, 4, 1, &["raster", "column"]);
    }
}

/// 256-way heads: the 65,536 joint probabilities of a 1×2 gray image sum to 1.
#[test]
fn pixelrnn_models_are_normalised_on_gray_1x2_images() {
    let all = all_gray_pairs();
    for spec in pixelrnn_specs() {
        let (vs, model) = make(&spec, ImageShape::new(PixelForm::Gray256, 1, 2), "raster");
        train_a_little(&vs, model.as_ref());
        let total = tch::no_grad(|| model.log_prob(&all).logsumexp([0], false));
        let total = total.double_value(&[]);
        assert!(total.abs() < 1e-9, "{}: log Σp = {total}", spec.label());
    }
}

#[test]
fn skew_puts_row_i_i_columns_right_and_unskew_undoes_it() {
    for (h, w) in [(4, 5), (5, 2), (1, 4), (4, 1), (1, 1)] {
        let x = Tensor::randn([2, 3, h, w], (Kind::Double, Device::Cpu));
        let s = diagonal_bilstm::skew(&x);
        assert_eq!(s.size(), [2, 3, h, w + h - 1]);
        for i in 0..h {
            let row = s.select(2, i);
            assert!(
                row.narrow(2, i, w).equal(&x.select(2, i)),
                "{h}×{w} row {i}"
            );
            // Zeros before column i and after column i + w − 1.
            let rest = row.narrow(2, 0, i).abs().sum(Kind::Double)
                + row.narrow(2, i + w, h - 1 - i).abs().sum(Kind::Double);
            assert_eq!(rest.double_value(&[]), 0.0, "{h}×{w} row {i}");
        }
        assert!(diagonal_bilstm::unskew(&s, w).equal(&x), "{h}×{w}");
    }
}

/// The receptive field of output (pixel, channel 0) on a binary `h × w`
/// image under raster order, as "seen" flags.
fn seen(spec: &ModelSpec, h: usize, w: usize, pixel: usize) -> Vec<bool> {
    let (_, model) = make(spec, binary(h, w), "raster");
    let field = crate::eval::receptive_field(model.as_ref(), pixel, 0, 4, Kind::Double);
    field.iter().map(|&v| v > 0.0).collect()
}

/// Row LSTM at (r, j) sees row r − k (k ≥ 1) up to column j + k + 2, at
/// any depth: the state-to-state convolution reaches k rows up and k
/// columns right, and the 7×7 first layer 3 more columns from one row
/// below. So (4, 4..7), (3, 5..7), (2, 6..7), (1, 7) are missed from (5, 0).
#[test]
fn row_lstm_misses_the_pixels_far_right_in_the_rows_above() {
    let (h, w) = (6, 8);
    for layers in [1, 3] {
        let spec = row_lstm_spec(layers);
        for (r, j) in [(5, 0), (5, 2), (3, 1)] {
            let field = seen(&spec, h, w, r * w + j);
            for (p, &s) in field.iter().enumerate() {
                let (pr, pc) = (p / w, p % w);
                let expected = p < r * w + j && (pr == r || pc <= j + (r - pr) + 2);
                assert_eq!(s, expected, "L = {layers}, ({r}, {j}) ← ({pr}, {pc})");
            }
        }
        let from_5_0 = seen(&spec, h, w, 5 * w);
        assert!(!from_5_0[4 * w + 4] && !from_5_0[w + 7] && from_5_0[7]);
    }
}

/// Diagonal BiLSTM at (i, j) sees every earlier pixel but one: the last
/// pixel of the row above, (i − 1, w − 1), unless the 7×7 first layer at
/// (i, j) reaches it (j + 3 ≥ w − 1). No position of row i − 1 holds it
/// (mask A keeps it from its own position, and it has no right
/// neighbour), and from (i, j) the streams read only (i, ≤ j) (left to
/// right) and rows above (right to left, shifted down). The paper's claim
/// of the entire context holds up to this pixel; depth does not change it.
#[test]
fn diagonal_bilstm_sees_every_earlier_pixel_but_the_end_of_the_row_above() {
    let (h, w) = (6, 8);
    for layers in [1, 2] {
        let spec = diagonal_bilstm_spec(layers);
        for (i, j) in [(5, 0), (5, 2), (5, 4), (2, 4), (1, 7)] {
            let field = seen(&spec, h, w, i * w + j);
            for (p, &s) in field.iter().enumerate() {
                let blind = p == i * w - 1 && j + 3 < w - 1;
                let expected = p < i * w + j && !blind;
                assert_eq!(s, expected, "L = {layers}, ({i}, {j}) ← pixel {p}");
            }
        }
    }
}

#[test]
fn pixelrnn_parameter_counts_match_the_closed_forms() {
    let small = |c| ModelSpec::new(c);
    // By hand, binary, h = 16, o = 32, 2 layers: first 32·49 + 32 = 1600,
    // output 32·32 + 32 + 32 + 1 = 1089; Row LSTM layer 64·32·3 + 64 +
    // 64·16·3 + 16·32 + 32 = 9824; Diagonal BiLSTM layer 2(64·32 + 64 +
    // 64·16·2) + 16·32 + 32 = 8864.
    let row = small(ModelConfig::RowLstm(Default::default()));
    check_count(&row, binary(5, 4), Some(1600 + 2 * 9824 + 1089));
    let diag = small(ModelConfig::DiagonalBilstm(Default::default()));
    check_count(&diag, binary(5, 4), Some(1600 + 2 * 8864 + 1089));
    for pixels in PixelForm::ALL {
        let shape = ImageShape::new(pixels, 5, 4);
        for preset in [Preset::Small, Preset::Paper] {
            let sizes = crate::models::pixelrnn::Sizes {
                preset,
                ..Default::default()
            };
            let row = row_lstm::Config(sizes.clone());
            let diag = diagonal_bilstm::Config(sizes);
            check_count(&small(ModelConfig::RowLstm(row)), shape, None);
            check_count(&small(ModelConfig::DiagonalBilstm(diag)), shape, None);
        }
        for spec in pixelrnn_specs() {
            check_count(&spec, shape, None);
        }
    }
}

#[test]
fn pixelrnn_labels_presets_and_checks() {
    let parse = |y: &str| serde_yaml_ng::from_str::<ModelSpec>(y).unwrap();
    assert_eq!(parse("{type: row_lstm}").label(), "row_lstm-small");
    let paper = parse("{type: diagonal_bilstm, preset: paper}");
    assert_eq!(paper.label(), "diagonal_bilstm-paper");
    let ModelConfig::DiagonalBilstm(c) = &paper.config else {
        unreachable!()
    };
    let a = c.0.arch();
    assert_eq!((a.layers, a.hidden, a.output_hidden), (7, 16, 32));
    let custom = parse("{type: row_lstm, layers: 3, hidden: 8, output_hidden: 16}");
    assert_eq!(custom.label(), "row_lstm-l3-h8-o16");
    let zero = parse("{type: diagonal_bilstm, hidden: 0}");
    let err = zero
        .validate(PixelForm::Binary, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("hidden"), "{err}");
    let err = custom
        .validate(PixelForm::Rgb, &["hilbert".parse().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("dihedral"), "{err}");
}

#[test]
fn pixelrnn_samples_are_what_the_conditionals_imply_given_the_uniforms() {
    let shapes = [
        binary(3, 3),
        ImageShape::new(PixelForm::Gray256, 3, 2),
        ImageShape::new(PixelForm::Rgb, 2, 3),
    ];
    for shape in shapes {
        for spec in pixelrnn_specs() {
            let ordering = "column+hflip";
            check_samples_follow_the_conditionals(&spec, shape, ordering);
        }
    }
}

// ------------------------------------------------ locally masked convolutions

fn local_pixelcnn(conv: pixelcnn::Conv) -> ModelSpec {
    ModelSpec::new(ModelConfig::Pixelcnn(pixelcnn::Config {
        blocks: Some(2),
        hidden: Some(4),
        output_hidden: Some(8),
        conv,
        ..Default::default()
    }))
}

fn make_run(
    spec: &ModelSpec,
    shape: ImageShape,
    ordering: &RunOrdering,
) -> (nn::VarStore, Box<dyn DensityModel>) {
    tch::manual_seed(7);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let model = spec.build_run(&vs.root(), shape, ordering).unwrap();
    (vs, model)
}

fn set_of(names: &[&str]) -> RunOrdering {
    RunOrdering::PerBatch(crate::order::OrderSet {
        train: names.iter().map(|n| n.parse().unwrap()).collect(),
        per_batch: true,
        name: None,
    })
}

/// Under raster order the locally masked network computes exactly what the
/// ordinary masked convolutions compute, with the same weights. (Under the
/// other dihedral orderings the ordinary path runs on the transformed image,
/// so the same weights are a mirrored kernel: another network.)
#[test]
fn local_masking_equals_ordinary_masking_under_dihedral_orderings() {
    for shape in [binary(5, 6), ImageShape::new(PixelForm::Rgb, 4, 5)] {
        let ordering = "raster";
        let (vs, ordinary) = make(&local_pixelcnn(pixelcnn::Conv::Auto), shape, ordering);
        train_a_little(&vs, ordinary.as_ref());
        let (mut vs_local, local) = make(&local_pixelcnn(pixelcnn::Conv::Local), shape, ordering);
        vs_local.copy(&vs).unwrap();
        let x = random_images(5, shape);
        let diff = tch::no_grad(|| (ordinary.logits(&x) - local.logits(&x)).abs().max());
        assert!(
            diff.double_value(&[]) < 1e-10,
            "{ordering} / {shape:?}: {diff}"
        );
    }
}

/// Every ordering, neighbours from all sides included: conditional i reads
/// only earlier pixels (and, for colour, earlier channels of pixel i).
#[test]
fn local_pixelcnn_is_causal_by_gradients_under_every_ordering() {
    let spec = local_pixelcnn(pixelcnn::Conv::Auto);
    for ordering in ORDERINGS.iter().chain(DIHEDRAL) {
        check_causality_by_gradients(&spec, binary(5, 6), ordering);
    }
    for ordering in ["spiral", "hilbert", "random:5", "zigzag+reverse"] {
        check_causality_by_gradients(&spec, ImageShape::new(PixelForm::Rgb, 5, 5), ordering);
    }
}

/// A set of orderings: every member is normalised, the model's own ordering
/// is the first, and the training loss draws each of them.
#[test]
fn per_batch_sets_train_every_member_and_each_is_normalised() {
    let spec = local_pixelcnn(pixelcnn::Conv::Auto);
    let names = ["snake", "hilbert", "random:9"];
    let (vs, model) = make_run(&spec, binary(3, 3), &set_of(&names));
    let members = model.members(3).unwrap();
    assert_eq!(
        members.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        names
    );
    assert!(model.members(4).is_err());
    let order: OrderSpec = "snake".parse().unwrap();
    assert_eq!(model.order(), order.order(3, 3).as_slice());
    train_a_little(&vs, model.as_ref());
    let all = all_images(3, 3);
    let mut nlls = std::collections::BTreeSet::new();
    for m in &members {
        let lp = tch::no_grad(|| model.log_probs_under(&all, m).unwrap());
        let total = lp
            .sum_dim_intlist([1, 2, 3].as_slice(), false, Kind::Double)
            .logsumexp([0], false)
            .double_value(&[]);
        assert!(total.abs() < 1e-9, "{m}: log Σp = {total}");
        // The minibatch loss under each draw is the NLL under one member.
        let x = all.narrow(0, 0, 16);
        let want = -lp.narrow(0, 0, 16).sum(Kind::Double).double_value(&[]) / 16.0;
        let got: Vec<f64> = (0..3u64)
            .map(|d| tch::no_grad(|| model.training_loss(&x, d).nll.double_value(&[])))
            .collect();
        // (The loss is summed in float32.)
        assert!(
            got.iter().any(|g| (g - want).abs() < 1e-5),
            "{m}: {got:?} vs {want}"
        );
        nlls.insert((want * 1e6) as i64);
    }
    assert_eq!(nlls.len(), 3, "the members are different conditionals");
}

/// The ensemble of a set's members is itself normalised over every 3×3
/// image, and on every image it lies between the members' mean and their
/// maximum (Jensen).
#[test]
fn the_ensemble_over_orderings_is_normalised_and_obeys_jensen() {
    use crate::eval::ensemble;
    let spec = local_pixelcnn(pixelcnn::Conv::Auto);
    let set = set_of(&["hilbert", "spiral", "random:4", "snake+transpose"]);
    let (vs, model) = make_run(&spec, binary(3, 3), &set);
    train_a_little(&vs, model.as_ref());
    let all = all_images(3, 3);
    let members = model.members(4).unwrap();
    let per_member = ensemble::member_log_probs(
        model.as_ref(),
        &all,
        &members,
        512,
        (Device::Cpu, Kind::Double),
    )
    .unwrap();
    let ens = ensemble::ensemble_log_probs(&per_member);
    let total = Tensor::from_slice(&ens)
        .logsumexp([0], false)
        .double_value(&[]);
    assert!(total.abs() < 1e-9, "log Σ p_ensemble = {total}");
    for (i, &e) in ens.iter().enumerate() {
        let vals: Vec<f64> = per_member.iter().map(|m| m[i]).collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let max = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            mean <= e + 1e-12 && e <= max + 1e-12,
            "image {i}: {mean} {e} {max}"
        );
    }
}

// ---- Cached sampling ---------------------------------------------------------

/// A tiny image model of `spec` as its raster adapter (float64); its
/// network must have a cached sampler.
fn raster_model(spec: &ModelSpec, shape: ImageShape, ordering: &str) -> (nn::VarStore, Raster) {
    tch::manual_seed(7);
    let mut vs = nn::VarStore::new(Device::Cpu);
    vs.set_kind(Kind::Double);
    let root = vs.root();
    let net: Box<dyn RasterNet> = match &spec.config {
        ModelConfig::Pixelcnn(c) => Box::new(pixelcnn::PixelCnn::new(&root, shape, c.arch())),
        ModelConfig::GatedPixelcnn(c) => {
            Box::new(gated_pixelcnn::GatedPixelCnn::new(&root, shape, c.arch()))
        }
        ModelConfig::RowLstm(c) => Box::new(row_lstm::RowLstm::new(&root, shape, c.0.arch())),
        ModelConfig::DiagonalBilstm(c) => Box::new(diagonal_bilstm::DiagonalBiLstm::new(
            &root,
            shape,
            c.0.arch(),
        )),
        other => unreachable!("not an image model: {other:?}"),
    };
    let (h, w) = (shape.height as i64, shape.width as i64);
    assert!(
        net.sampler(2, h, w).is_some(),
        "{}: no cached sampler",
        spec.label()
    );
    let ordering = ordering.parse::<OrderSpec>().unwrap();
    let model = Raster::new(net, shape, &ordering, &root).unwrap();
    (vs, model)
}

/// The cached sampler draws exactly what the naive sampler (the whole
/// network per pixel and channel) draws from the same uniforms: every image
/// model, binary, gray and RGB, under orderings that transpose and flip.
#[test]
fn cached_sampling_draws_what_naive_sampling_draws() {
    let shapes = [
        (
            binary(6, 7),
            &["raster", "column+hflip", "raster+reverse"][..],
        ),
        (
            ImageShape::new(PixelForm::Gray256, 3, 4),
            &["column+vflip"][..],
        ),
        (ImageShape::new(PixelForm::Rgb, 3, 3), &["raster+hflip"][..]),
    ];
    let mut gated = conv_specs().remove(1);
    if let ModelConfig::GatedPixelcnn(c) = &mut gated.config {
        c.kernel = Some(5); // a reach of 2 rows and columns
    }
    let specs: Vec<ModelSpec> = conv_specs()
        .into_iter()
        .chain([gated])
        .chain(pixelrnn_specs())
        .collect();
    for (shape, orderings) in shapes {
        for spec in &specs {
            for &ordering in orderings {
                let (vs, model) = raster_model(spec, shape, ordering);
                train_a_little(&vs, &model);
                let what = format!("{} / {ordering} / {:?}", spec.label(), shape.pixels());
                assert_cached_equals_naive(&model, &what);
            }
        }
    }
}

/// The locally masked PixelCNN's cached sampler draws exactly what the
/// naive sampler draws, under orderings with neighbours on every side and
/// under a set (its first ordering), binary, gray and RGB.
#[test]
fn local_cached_sampling_draws_what_naive_sampling_draws() {
    let spec = local_pixelcnn(pixelcnn::Conv::Auto);
    let cases: [(ImageShape, RunOrdering); 5] = [
        (binary(6, 7), "spiral".parse().unwrap()),
        (binary(6, 7), "hilbert+reverse".parse().unwrap()),
        (binary(5, 5), set_of(&["random:4", "snake"])),
        (
            ImageShape::new(PixelForm::Gray256, 3, 4),
            "zigzag".parse().unwrap(),
        ),
        (
            ImageShape::new(PixelForm::Rgb, 3, 3),
            "random:2".parse().unwrap(),
        ),
    ];
    for (shape, ordering) in cases {
        let (vs, model) = make_run(&spec, shape, &ordering);
        train_a_little(&vs, model.as_ref());
        assert_cached_equals_naive(model.as_ref(), &format!("{ordering} / {shape:?}"));
    }
}

/// From the same uniforms the model's (cached) sampler and its naive one
/// draw the same images, and the draws vary (not trivially equal).
fn assert_cached_equals_naive(model: &dyn DensityModel, what: &str) {
    let s = model.shape();
    let dims = [5, s.channels as i64, s.height as i64, s.width as i64];
    let u = Tensor::rand(dims, (Kind::Double, Device::Cpu));
    let (cached, naive) = (model.sample_with(&u), model.sample_naive_with(&u));
    assert!(
        cached.equal(&naive),
        "{what}: cached and naive samples differ"
    );
    assert!(
        naive.std(false).double_value(&[]) > 0.0,
        "{what}: the draws do not vary"
    );
}
