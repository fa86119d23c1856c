//! MADE (Germain et al. 2015): an autoencoder whose weight matrices are
//! multiplied by binary masks so that output d sees only the inputs before d
//! in an ordering. Degrees: input (and output) pixel p has degree rank(p) + 1
//! in 1..D; each hidden unit a degree drawn uniformly from [min of the
//! previous layer's degrees, D − 1]. Hidden unit k sees unit j of the layer
//! below iff m(k) ≥ m(j); output d sees hidden k iff d > m(k); a direct
//! input→output connection d ← j exists iff d > j.
//!
//! `num_masks: K` builds K masks once (mask 0 under the run's ordering, the
//! others under seeded random orderings, or all under the run's ordering with
//! only the connectivity varied); training draws one per minibatch. Masks are
//! applied in the forward pass (`weight * mask`), never written into the
//! weights. The mask randomness comes from `mask_seed` alone (not from the run
//! seed), so a model rebuilt anywhere has the same masks.
use anyhow::{bail, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::adapters::seq::{flatten, unflatten};
use super::{DensityModel, Head, Loss, Member, ModelDef};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::{Base, OrderSpec, RunOrdering};
use crate::rng;

/// `type: made`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Hidden layer sizes, input side first.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Direct input→output connections (a masked D×D matrix).
    #[serde(default)]
    pub direct: bool,
    /// K fixed masks, one drawn per minibatch (default 1, or the size of a
    /// per-batch set of orderings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_masks: Option<usize>,
    /// What the masks beyond mask 0 vary.
    #[serde(default)]
    pub vary: Vary,
    /// Seed of the hidden degrees (and of the random orderings of masks ≥ 1).
    #[serde(default)]
    pub mask_seed: u64,
}

/// What differs between masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vary {
    /// Orderings and connectivity (order-agnostic and connectivity-agnostic
    /// training, as the MADE paper): mask k ≥ 1 takes ordering
    /// `random:{10000·mask_seed + k}`.
    #[default]
    OrderAndConnectivity,
    /// Only the hidden degrees: every mask keeps the run's ordering.
    Connectivity,
}

/// The most masks a model takes (the random orderings' seeds need it).
pub const MAX_MASKS: usize = 10_000;

fn default_hidden() -> Vec<usize> {
    vec![500]
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hidden: default_hidden(),
            direct: false,
            num_masks: None,
            vary: Vary::default(),
            mask_seed: 0,
        }
    }
}

impl ModelDef for Config {
    fn default_label(&self) -> String {
        let sizes: Vec<String> = self.hidden.iter().map(|h| h.to_string()).collect();
        let mut label = format!("made-h{}", sizes.join("x"));
        if let Some(k) = self.num_masks {
            label += &format!("-m{k}");
        }
        if self.vary == Vary::Connectivity {
            label += "-conn";
        }
        if self.direct {
            label += "-direct";
        }
        label
    }
    fn check(&self) -> Result<()> {
        if self.hidden.is_empty() {
            bail!("hidden: needs at least one layer, e.g. `hidden: [500]`");
        }
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            bail!("hidden[{i}]: must be at least 1, got 0");
        }
        match self.num_masks {
            Some(0) => bail!("num_masks: must be at least 1, got 0"),
            Some(k) if k > MAX_MASKS => bail!("num_masks: at most {MAX_MASKS}, got {k}"),
            _ => Ok(()),
        }
    }
    fn pixels(&self) -> &'static [PixelForm] {
        &[PixelForm::Binary]
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let d = shape.dims() as u128;
        let mut sizes = vec![d];
        sizes.extend(self.hidden.iter().map(|&h| h as u128));
        sizes.push(d);
        let layers: u128 = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        Some(layers + if self.direct { d * d } else { 0 })
    }
    fn formula(&self) -> String {
        let direct = if self.direct { " + D² (direct)" } else { "" };
        format!(
            "Σ_l (n_(l-1)·n_l + n_l) over n = (D, {:?}, D){direct}: every stored weight, masked or not",
            self.hidden
        )
    }
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        self.build_run(vs, shape, &RunOrdering::One(ordering.clone()))
    }
    fn check_run(&self, ordering: &RunOrdering) -> Result<()> {
        self.mask_orderings(ordering).map(|_| ())
    }
    fn takes_sets(&self) -> bool {
        true
    }
    fn build_run(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &RunOrdering,
    ) -> Result<Box<dyn DensityModel>> {
        Ok(Box::new(Made::new(vs, shape, self, ordering)?))
    }
}

impl Config {
    /// The ordering of each mask.
    pub fn mask_orderings(&self, ordering: &RunOrdering) -> Result<Vec<OrderSpec>> {
        if let RunOrdering::PerBatch(set) = ordering {
            return match self.num_masks {
                Some(k) if k != set.train.len() => bail!(
                    "num_masks: {k}, but the set of orderings `{ordering}` has {} (with a set, mask k takes ordering k; leave num_masks out)",
                    set.train.len()
                ),
                _ => Ok(set.train.clone()),
            };
        }
        let first = ordering.first().clone();
        let k = self.num_masks.unwrap_or(1);
        Ok((0..k)
            .map(|i| match (i, self.vary) {
                (0, _) | (_, Vary::Connectivity) => first.clone(),
                _ => OrderSpec::new(Base::Random(10_000 * self.mask_seed + i as u64)),
            })
            .collect())
    }
}

/// One mask: its ordering and the 0/1 masks of every weight matrix.
struct Mask {
    order: Vec<usize>,
    /// `[out, in]` masks of the hidden layers, then of the output layer.
    layers: Vec<Tensor>,
    /// `[D, D]`: output d ← input j iff j comes before d.
    direct: Tensor,
}

impl Mask {
    /// Degrees and masks for `order` with hidden degrees from `rng`.
    fn new(order: Vec<usize>, hidden: &[usize], rng: &mut impl Rng, device: Device) -> Mask {
        let d = order.len() as i64;
        let deg_in: Vec<i64> = crate::order::ranks(&order)
            .iter()
            .map(|&r| r as i64 + 1)
            .collect();
        let deg_in = Tensor::from_slice(&deg_in).to_device(device);
        let (mut below, mut low) = (deg_in.shallow_clone(), 1i64);
        let mut layers = Vec::with_capacity(hidden.len() + 1);
        for &h in hidden {
            let high = (d - 1).max(low);
            let deg: Vec<i64> = (0..h).map(|_| rng.random_range(low..=high)).collect();
            low = deg.iter().copied().min().unwrap_or(low);
            let deg = Tensor::from_slice(&deg).to_device(device);
            layers.push(as_floats(deg.unsqueeze(1).ge_tensor(&below.unsqueeze(0))));
            below = deg;
        }
        layers.push(as_floats(
            deg_in.unsqueeze(1).gt_tensor(&below.unsqueeze(0)),
        ));
        let direct = as_floats(deg_in.unsqueeze(1).gt_tensor(&deg_in.unsqueeze(0)));
        Mask {
            order,
            layers,
            direct,
        }
    }
}

/// A 0/1 mask as float32: `weight * mask` of floats is several times
/// faster in libtorch than of a float and a bool (forward and backward),
/// at 4 bytes instead of 1 per entry.
fn as_floats(mask: Tensor) -> Tensor {
    mask.to_kind(Kind::Float)
}

pub struct Made {
    /// `(weight [out, in], bias [out])` of the hidden layers, then the output layer.
    layers: Vec<(Tensor, Tensor)>,
    direct: Option<Tensor>,
    masks: Vec<Mask>,
    specs: Vec<OrderSpec>,
    shape: ImageShape,
    device: Device,
}

impl Made {
    pub fn new(
        vs: &nn::Path,
        shape: ImageShape,
        config: &Config,
        ordering: &RunOrdering,
    ) -> Result<Made> {
        let specs = config.mask_orderings(ordering)?;
        let d = shape.dims();
        let mut sizes = vec![d];
        sizes.extend(&config.hidden);
        sizes.push(d);
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(l, w)| {
                let (fan_in, out) = (w[0] as i64, w[1] as i64);
                let bound = 1.0 / (fan_in as f64).sqrt();
                let weight = vs.uniform(&format!("w{l}"), &[out, fan_in], -bound, bound);
                (weight, vs.zeros(&format!("b{l}"), &[out]))
            })
            .collect();
        let bound = 1.0 / (d as f64).sqrt();
        let direct = config
            .direct
            .then(|| vs.uniform("direct", &[d as i64, d as i64], -bound, bound));
        let masks = specs
            .iter()
            .enumerate()
            .map(|(k, spec)| {
                let mut r = rng::stream(config.mask_seed, 0x3ADE_0000 + k as u64);
                let order = spec.order(shape.height, shape.width);
                Mask::new(order, &config.hidden, &mut r, vs.device())
            })
            .collect();
        Ok(Made {
            layers,
            direct,
            masks,
            specs,
            shape,
            device: vs.device(),
        })
    }

    /// The ordering of mask `k`.
    pub fn mask_ordering(&self, k: usize) -> &OrderSpec {
        &self.specs[k]
    }

    /// The masked weights of mask `k` in `kind`: the layers', then the direct one.
    fn masked(&self, k: usize, kind: Kind) -> (Vec<Tensor>, Option<Tensor>) {
        let m = &self.masks[k];
        let layers = self
            .layers
            .iter()
            .zip(&m.layers)
            .map(|((w, _), mask)| (w * mask).to_kind(kind))
            .collect();
        let direct = self.direct.as_ref().map(|a| (a * &m.direct).to_kind(kind));
        (layers, direct)
    }

    /// Bernoulli logits `[B, D]` of images flattened to `[B, D]` (pixel
    /// order, row-major) under mask `k`.
    pub fn logits_flat(&self, x: &Tensor, k: usize) -> Tensor {
        let (weights, direct) = self.masked(k, x.kind());
        let last = weights.len() - 1;
        let mut h = x.shallow_clone();
        for (l, (w, (_, b))) in weights.iter().zip(&self.layers).enumerate() {
            h = h.linear(w, Some(b.to_kind(x.kind())));
            if l < last {
                h = h.relu();
            }
        }
        match direct {
            Some(a) => h + x.linear::<Tensor>(&a, None),
            None => h,
        }
    }

    fn check_mask(&self, k: usize) -> Result<()> {
        if k >= self.masks.len() {
            bail!(
                "this made model has K = {} masks (mask-0..mask-{}); there is no mask-{k}",
                self.masks.len(),
                self.masks.len() - 1
            );
        }
        Ok(())
    }

    /// Per-pixel log-probs `[B, 1, H, W]` under mask `k`.
    pub fn log_probs_mask(&self, x: &Tensor, k: usize) -> Tensor {
        let flat = x.reshape([x.size()[0], -1]);
        let lp = super::bernoulli_log_prob(&self.logits_flat(&flat, k), &flat);
        lp.view_as(x)
    }

    /// Ancestral sampling under mask `k` from uniforms `u` `[n, D]` (pixel
    /// order): the first layer's pre-activation is a running sum, one column
    /// added per sampled pixel (O(H₁)); deeper layers run on one vector per
    /// step; the direct connections are a running sum too.
    pub fn sample_flat(&self, u: &Tensor, k: usize) -> Tensor {
        let _guard = tch::no_grad_guard();
        let kind = u.kind();
        let (weights, direct) = self.masked(k, kind);
        let biases: Vec<Tensor> = self.layers.iter().map(|(_, b)| b.to_kind(kind)).collect();
        let (n, last) = (u.size()[0], weights.len() - 1);
        let mut first = biases[0].unsqueeze(0).repeat([n, 1]);
        let mut from_direct = u.zeros_like();
        let x = u.zeros_like();
        for &p in &self.masks[k].order {
            let p = p as i64;
            let mut h = first.relu();
            for l in 1..last {
                h = h.linear(&weights[l], Some(&biases[l])).relu();
            }
            let logit = h.matmul(&weights[last].get(p)) + biases[last].get(p);
            let logit = logit + from_direct.select(1, p);
            let xp = u.select(1, p).lt_tensor(&logit.sigmoid()).to_kind(kind);
            x.select(1, p).copy_(&xp);
            first += xp.unsqueeze(1) * weights[0].select(1, p).unsqueeze(0);
            if let Some(a) = &direct {
                from_direct += xp.unsqueeze(1) * a.select(1, p).unsqueeze(0);
            }
        }
        x
    }

    /// The visiting order of mask `k` (pixel indices, first visited first).
    pub fn mask_order(&self, k: usize) -> &[usize] {
        &self.masks[k].order
    }
}

impl DensityModel for Made {
    fn logits(&self, x: &Tensor) -> Tensor {
        unflatten(&self.logits_flat(&flatten(x), 0), self.shape, &[1])
    }
    fn head(&self) -> Head {
        Head::Bernoulli
    }
    fn sample_with(&self, u: &Tensor) -> Tensor {
        unflatten(&self.sample_flat(&flatten(u), 0), self.shape, &[])
    }
    fn training_loss(&self, x: &Tensor, draw: u64) -> Loss {
        let k = (draw % self.masks.len() as u64) as usize;
        Loss::from_log_probs(&self.log_probs_mask(x, k))
    }
    fn max_members(&self) -> Option<usize> {
        Some(self.masks.len())
    }
    fn members(&self, n: usize) -> Result<Vec<Member>> {
        if n > self.masks.len() {
            bail!(
                "this made model has K = {} masks; it cannot give {n} ensemble members (train with num_masks: {n} or more)",
                self.masks.len()
            );
        }
        Ok((0..n).map(Member::Mask).collect())
    }
    fn log_probs_under(&self, x: &Tensor, member: &Member) -> Result<Tensor> {
        match member {
            Member::Mask(k) => {
                self.check_mask(*k)?;
                Ok(self.log_probs_mask(x, *k))
            }
            Member::Ordering(o) => match (0..self.masks.len()).position(|k| self.mask_ordering(k) == o) {
                Some(k) => Ok(self.log_probs_mask(x, k)),
                None => bail!("made evaluates under its masks (mask-0..mask-{}), and none has the ordering `{o}`", self.masks.len() - 1),
            },
        }
    }
    fn num_params(&self) -> i64 {
        let layers: i64 = self
            .layers
            .iter()
            .map(|(w, b)| (w.numel() + b.numel()) as i64)
            .sum();
        layers + self.direct.as_ref().map_or(0, |a| a.numel() as i64)
    }
    fn order(&self) -> &[usize] {
        self.mask_order(0)
    }
    fn shape(&self) -> ImageShape {
        self.shape
    }
    fn device(&self) -> Device {
        self.device
    }
}
