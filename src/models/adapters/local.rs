//! The local adapter: a convolutional network run with locally masked
//! convolutions (Jain, Abbeel & Pathak 2020), so that it takes any ordering
//! arlab knows, or trains over a set of orderings with one drawn per
//! minibatch and is then evaluated under each of them (ensembles). The masks
//! come from the orderings (`order::masks`); the network never sees an
//! ordering, only its masks.
use anyhow::{bail, Result};
use tch::{nn, Device, Kind, Tensor};

use crate::data::ImageShape;
use crate::models::parts::layers::LocalMasks;
use crate::models::{DensityModel, Head, Loss, Member};
use crate::order::{OrderSpec, RunOrdering};

/// A convolutional network whose spatial convolutions run locally masked.
pub trait LocalNet {
    /// Scaled images `[B, C, H, W]` → parameters `[B, C·K, H, W]` (as
    /// [`super::RasterNet::forward`]), every spatial convolution masked by
    /// `masks`: output (c, p) depends only on pixels before p in the masks'
    /// ordering and on channels < c of pixel p.
    fn forward_local(&self, x: &Tensor, masks: &LocalMasks) -> Tensor;
    /// The kernel sizes of its spatial convolutions (the masks it needs).
    fn kernels(&self) -> Vec<i64>;
    fn num_params(&self) -> i64;
    /// An incremental sampler for `batch` images of `height × width`, if the
    /// network has one.
    fn local_sampler(
        &self,
        _batch: i64,
        _height: i64,
        _width: i64,
    ) -> Option<Box<dyn LocalSampler + '_>> {
        None
    }
}

/// A locally masked network's incremental sampler: pixels come in the
/// ordering's order, and every layer is computed at the new position only,
/// from caches of the (final) values at the earlier positions its masked
/// kernel reads. Under any ordering a position's values depend only on
/// earlier pixels, so a cached value never changes.
pub trait LocalSampler {
    /// Records the network input (scaled values, `[B, C]`) of pixel (r, c).
    fn put(&mut self, r: i64, c: i64, pixel: &Tensor);
    /// The outputs `[B, C·K]` at (r, c), `p = r·W + c`, with `masks`.
    fn at(&mut self, r: i64, c: i64, masks: &LocalMasks) -> Tensor;
}

/// One layer's values on the whole image, zero-padded by `pad` on every
/// side, `[B, F, H + 2·pad, W + 2·pad]`.
pub struct PaddedPlane {
    t: Tensor,
    pad: i64,
}

impl PaddedPlane {
    pub fn new(dims: [i64; 4], pad: i64, like: (Kind, Device)) -> PaddedPlane {
        let [b, f, h, w] = dims;
        PaddedPlane {
            t: Tensor::zeros([b, f, h + 2 * pad, w + 2 * pad], like),
            pad,
        }
    }

    /// Writes `v` `[B, F]` at (r, c).
    pub fn set(&mut self, r: i64, c: i64, v: &Tensor) {
        self.t
            .select(2, self.pad + r)
            .select(2, self.pad + c)
            .copy_(v);
    }

    /// The `k × k` neighbourhood of (r, c): `[B, F, k, k]`.
    fn patch(&self, r: i64, c: i64, k: i64) -> Tensor {
        let h = k / 2;
        self.t
            .narrow(2, self.pad + r - h, k)
            .narrow(3, self.pad + c - h, k)
    }
}

/// A locally masked `k × k` convolution at one position.
pub struct LocalPointConv {
    /// `[F_in·k·k, F_out]`.
    w: Tensor,
    bias: Tensor,
    k: i64,
}

impl LocalPointConv {
    pub fn new(conv: &crate::models::parts::layers::MaskedConv2d) -> LocalPointConv {
        let w = conv.centre_masked_weight().detach();
        let [co, _, k, _] = w.size()[..] else {
            unreachable!("conv weights are [out, in, kh, kw]")
        };
        LocalPointConv {
            w: w.reshape([co, -1]).tr().contiguous(),
            bias: conv.bias().detach(),
            k,
        }
    }

    /// The output `[B, F_out]` at (r, c), pixel `p`, from `input`.
    pub fn at(&self, input: &PaddedPlane, r: i64, c: i64, p: i64, masks: &LocalMasks) -> Tensor {
        let k = self.k;
        let open = masks.get(k).select(1, p).view([1, 1, k, k]);
        let patch = (input.patch(r, c, k) * open).flatten(1, -1);
        self.bias.addmm(&patch, &self.w)
    }
}

/// One ordering the model trains under, with its masks.
struct Trained {
    spec: OrderSpec,
    order: Vec<usize>,
    masks: LocalMasks,
}

pub struct Local {
    net: Box<dyn LocalNet>,
    head: Head,
    shape: ImageShape,
    /// The run's orderings: one, or a per-minibatch set. The first is the
    /// model's own ordering (`logits`, `log_prob`, sampling).
    trained: Vec<Trained>,
    device: Device,
    kind: Kind,
}

impl Local {
    pub fn new(
        net: Box<dyn LocalNet>,
        shape: ImageShape,
        ordering: &RunOrdering,
        vs: &nn::Path,
    ) -> Local {
        let mut local = Local {
            net,
            head: Head::for_pixels(shape.pixels()),
            shape,
            trained: Vec::new(),
            device: vs.device(),
            kind: vs.kind(),
        };
        local.trained = ordering
            .all()
            .iter()
            .map(|spec| {
                let order = spec.order(shape.height, shape.width);
                let masks = local.masks(&order);
                Trained {
                    spec: spec.clone(),
                    order,
                    masks,
                }
            })
            .collect();
        local
    }

    fn masks(&self, order: &[usize]) -> LocalMasks {
        let s = self.shape;
        LocalMasks::new(
            order,
            s.height,
            s.width,
            &self.net.kernels(),
            (self.kind, self.device),
        )
    }

    /// `[B, C, H, W, K]` parameters under `masks`.
    fn logits_with(&self, x: &Tensor, masks: &LocalMasks) -> Tensor {
        let scaled = x * (2.0 / (self.shape.levels - 1) as f64) - 1.0;
        let out = self.net.forward_local(&scaled, masks);
        let (b, h, w) = (out.size()[0], out.size()[2], out.size()[3]);
        out.view([b, self.shape.channels as i64, self.head.params(), h, w])
            .permute([0, 1, 3, 4, 2])
    }

    fn log_probs_with(&self, x: &Tensor, masks: &LocalMasks) -> Tensor {
        self.head.log_prob(&self.logits_with(x, masks), x)
    }
}

impl DensityModel for Local {
    fn logits(&self, x: &Tensor) -> Tensor {
        self.logits_with(x, &self.trained[0].masks)
    }

    fn head(&self) -> Head {
        self.head
    }

    /// One of the run's orderings per minibatch (the only one for a single ordering).
    fn training_loss(&self, x: &Tensor, draw: u64) -> Loss {
        let t = &self.trained[(draw % self.trained.len() as u64) as usize];
        Loss::from_log_probs(&self.log_probs_with(x, &t.masks))
    }

    fn max_members(&self) -> Option<usize> {
        Some(self.trained.len())
    }

    /// The orderings it was trained over, in the order of the spec.
    fn members(&self, n: usize) -> Result<Vec<Member>> {
        if n > self.trained.len() {
            bail!(
                "the model was trained over {} ordering(s), so an ensemble takes at most {}; \
                 name other orderings explicitly to evaluate under them",
                self.trained.len(),
                self.trained.len()
            );
        }
        Ok(self.trained[..n]
            .iter()
            .map(|t| Member::Ordering(t.spec.clone()))
            .collect())
    }

    /// Any ordering: the masks of the orderings it trained over are kept,
    /// others are derived on the spot.
    fn log_probs_under(&self, x: &Tensor, member: &Member) -> Result<Tensor> {
        let Member::Ordering(spec) = member else {
            bail!("a locally masked network is evaluated under orderings, not `{member}`");
        };
        Ok(match self.trained.iter().find(|t| &t.spec == spec) {
            Some(t) => self.log_probs_with(x, &t.masks),
            None => {
                let order = spec.order(self.shape.height, self.shape.width);
                self.log_probs_with(x, &self.masks(&order))
            }
        })
    }

    /// Ancestral sampling under the model's own ordering, with the
    /// network's cached sampler when it has one.
    fn sample_with(&self, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let s = self.shape;
        let (h, w) = (s.height as i64, s.width as i64);
        let Some(mut sampler) = self.net.local_sampler(u.size()[0], h, w) else {
            return self.sample_naive_with(u);
        };
        let u = u.to_kind(self.kind);
        let canvas = u.zeros_like();
        let t = &self.trained[0];
        let scale = 2.0 / (s.levels - 1) as f64;
        for &p in &t.order {
            let (r, c) = (p as i64 / w, p as i64 % w);
            for ch in 0..s.channels as i64 {
                let out = sampler.at(r, c, &t.masks);
                let params = out
                    .view([out.size()[0], s.channels as i64, self.head.params()])
                    .select(1, ch);
                let v = self
                    .head
                    .sample(&params, &u.select(1, ch).select(1, r).select(1, c));
                canvas.select(1, ch).select(1, r).select(1, c).copy_(&v);
                let pixel = canvas.select(2, r).select(2, c) * scale - 1.0;
                sampler.put(r, c, &pixel);
            }
        }
        canvas
    }

    /// The reference sampler: the whole network once per pixel and channel.
    fn sample_naive_with(&self, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let u = u.to_kind(self.kind);
        let canvas = u.zeros_like();
        let w = self.shape.width as i64;
        let t = &self.trained[0];
        for &p in &t.order {
            let (r, c) = (p as i64 / w, p as i64 % w);
            for ch in 0..self.shape.channels as i64 {
                let params = self
                    .logits_with(&canvas, &t.masks)
                    .select(1, ch)
                    .select(1, r)
                    .select(1, c);
                let v = self
                    .head
                    .sample(&params, &u.select(1, ch).select(1, r).select(1, c));
                canvas.select(1, ch).select(1, r).select(1, c).copy_(&v);
            }
        }
        canvas
    }

    fn num_params(&self) -> i64 {
        self.net.num_params()
    }
    fn order(&self) -> &[usize] {
        &self.trained[0].order
    }
    fn shape(&self) -> ImageShape {
        self.shape
    }
    fn device(&self) -> Device {
        self.device
    }
}
