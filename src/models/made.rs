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
//!
//! Presets (`preset:`, any value of which can be overridden):
//! - `small` (the default): one hidden layer of 500 units, no direct
//!   connections.
//! - `paper`: the binarized-MNIST setting of Germain et al. 2015: hidden
//!   layers of 8000 units with direct input→output connections, ReLU. The
//!   authors' published command for the paper's best MNIST model (2 hidden
//!   layers, 32 masks, 86.64 nats; github.com/mgermain/MADE, README) uses
//!   `[8000,8000]` and direct input→output connections; `paper` is one such
//!   layer, the paper's one-hidden-layer, one-mask model (88.40 nats). That
//!   this model too had 8000 units and direct connections is our choice
//!   (the command gives only the best model's sizes). The 32-mask model is
//!   `preset: paper` with `hidden: [8000, 8000]` and `num_masks: 32`.
use anyhow::{bail, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::adapters::seq::{flatten, unflatten};
use super::{DensityModel, Head, Loss, Member, ModelDef, Preset};
use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::{Base, OrderSpec, RunOrdering};
use crate::rng;

/// `type: made`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `small` (default) or `paper`: see the module's documentation.
    #[serde(default, skip_serializing_if = "Preset::is_small")]
    pub preset: Preset,
    /// Hidden layer sizes, input side first (the preset's when absent:
    /// `[500]`, or `[8000]` for `paper`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Vec<usize>>,
    /// Direct input→output connections (a masked D×D matrix; the preset's
    /// when absent: false, or true for `paper`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct: Option<bool>,
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

impl Config {
    /// The hidden layer sizes: given, or the preset's.
    pub fn hidden(&self) -> Vec<usize> {
        self.hidden.clone().unwrap_or_else(|| match self.preset {
            Preset::Small => vec![500],
            Preset::Paper => vec![8000],
        })
    }

    /// Whether there are direct input→output connections: given, or the preset's.
    pub fn direct(&self) -> bool {
        self.direct.unwrap_or(self.preset == Preset::Paper)
    }
}

impl ModelDef for Config {
    fn default_label(&self) -> String {
        let sizes: Vec<String> = self.hidden().iter().map(|h| h.to_string()).collect();
        let mut label = format!("made-h{}", sizes.join("x"));
        if let Some(k) = self.num_masks {
            label += &format!("-m{k}");
        }
        if self.vary == Vary::Connectivity {
            label += "-conn";
        }
        if self.direct() {
            label += "-direct";
        }
        label
    }
    fn check(&self) -> Result<()> {
        let hidden = self.hidden();
        if hidden.is_empty() {
            bail!("hidden: needs at least one layer, e.g. `hidden: [500]`");
        }
        if let Some(i) = hidden.iter().position(|&h| h == 0) {
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
    fn activation_floats(&self, shape: ImageShape) -> u128 {
        let hidden: u128 = self.hidden().iter().map(|&h| h as u128).sum();
        2 * hidden + 4 * shape.dims() as u128
    }
    fn param_count(&self, shape: ImageShape) -> Option<u128> {
        let d = shape.dims() as u128;
        let mut sizes = vec![d];
        sizes.extend(self.hidden().iter().map(|&h| h as u128));
        sizes.push(d);
        let layers: u128 = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        Some(layers + if self.direct() { d * d } else { 0 })
    }
    fn formula(&self) -> String {
        let direct = if self.direct() { " + D² (direct)" } else { "" };
        format!(
            "Σ_l (n_(l-1)·n_l + n_l) over n = (D, {:?}, D){direct}: every stored weight, masked or not",
            self.hidden()
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

/// One mask: its ordering and the degrees its 0/1 masks come from. The
/// masks themselves are made from the degrees when a forward pass needs
/// them (one comparison per weight, cheap beside the matmul), so K masks
/// cost K·(D + Σ hidden) degrees of memory, not K copies of the weights (the
/// paper's 32 masks over two layers of 8000 would be 10 GB).
struct Mask {
    order: Vec<usize>,
    /// The input (and output) degrees `[D]`, then each hidden layer's `[n_l]`.
    degrees: Vec<Tensor>,
}

impl Mask {
    /// Degrees for `order`, with hidden degrees from `rng`.
    fn new(order: Vec<usize>, hidden: &[usize], rng: &mut impl Rng, device: Device) -> Mask {
        let d = order.len() as i64;
        let deg_in: Vec<i64> = crate::order::ranks(&order)
            .iter()
            .map(|&r| r as i64 + 1)
            .collect();
        let mut degrees = vec![Tensor::from_slice(&deg_in).to_device(device)];
        let mut low = 1i64;
        for &h in hidden {
            let high = (d - 1).max(low);
            let deg: Vec<i64> = (0..h).map(|_| rng.random_range(low..=high)).collect();
            low = deg.iter().copied().min().unwrap_or(low);
            degrees.push(Tensor::from_slice(&deg).to_device(device));
        }
        Mask { order, degrees }
    }

    /// `[out, in]` masks of the hidden layers (unit k sees unit j below iff
    /// m(k) ≥ m(j)), then of the output layer (output d sees hidden k iff
    /// d > m(k)).
    fn layers(&self) -> Vec<Tensor> {
        let input = &self.degrees[0];
        let hidden = &self.degrees[1..];
        let mut out: Vec<Tensor> = hidden
            .iter()
            .zip(&self.degrees)
            .map(|(deg, below)| as_floats(deg.unsqueeze(1).ge_tensor(&below.unsqueeze(0))))
            .collect();
        let last = self.degrees.last().expect("the input degrees");
        out.push(as_floats(input.unsqueeze(1).gt_tensor(&last.unsqueeze(0))));
        out
    }

    /// `[D, D]`: output d ← input j iff j comes before d.
    fn direct(&self) -> Tensor {
        let input = &self.degrees[0];
        as_floats(input.unsqueeze(1).gt_tensor(&input.unsqueeze(0)))
    }
}

/// A 0/1 mask as float32: `weight * mask` of floats is several times
/// faster in libtorch than of a float and a bool (forward and backward).
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
        let hidden = config.hidden();
        let mut sizes = vec![d];
        sizes.extend(&hidden);
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
            .direct()
            .then(|| vs.uniform("direct", &[d as i64, d as i64], -bound, bound));
        let masks = specs
            .iter()
            .enumerate()
            .map(|(k, spec)| {
                let mut r = rng::stream(config.mask_seed, 0x3ADE_0000 + k as u64);
                let order = spec.order(shape.height, shape.width);
                Mask::new(order, &hidden, &mut r, vs.device())
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
            .zip(m.layers())
            .map(|((w, _), mask)| (w * mask).to_kind(kind))
            .collect();
        let direct = self.direct.as_ref().map(|a| (a * m.direct()).to_kind(kind));
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
