//! Order-agnostic (deep) NADE (Uria, Murray & Larochelle 2014), the
//! `order_agnostic: true` form of `type: nade`:
//! h₁ = relu(c + W_x (x ⊙ m) + W_m m), h_l = relu(c_l + U_l h_(l−1)),
//! p(x_i = 1 | x_obs) = σ(b_i + V_i · h_L) for every unobserved i at once.
//! 3DH + D + H + (L−1)(H² + H) parameters.
//!
//! Training: per example a random split d ∈ {0..D−1} and a random ordering
//! (with a per-batch set: the minibatch's ordering of the set); the first d
//! pixels of the ordering are observed (m = 1); the loss is
//! D/(D−d) · Σ_{unobserved i} −log p(x_i | x_obs), an unbiased estimate of
//! the NLL averaged over orderings (and the reported `nll` is that estimate).
//!
//! Exact evaluation under an ordering o: step t observes o₁..o_(t−1). The
//! first layer's pre-activation is linear in (x ⊙ m, m), so along o it is a
//! running sum, c + Σ_{s<t} (x_s W_x[o_s] + W_m[o_s]), computed in blocks as
//! NADE does; the deeper layers then run once per step (O(D·H²·(L−1))), and
//! the output of step t needs only V[o_t]. Sampling: D steps, the running sum
//! updated by one pixel each.
use rand::Rng;
use tch::{nn, Device, Kind, Tensor};

use super::{bernoulli_log_prob, DensityModel, Head, Loss, Member};
use crate::data::ImageShape;
use crate::order::{Base, OrderSpec, RunOrdering};
use crate::rng;
use anyhow::{bail, Result};

/// Steps per block of the exact evaluation.
const BLOCK: i64 = 28;

/// An ordering as index tensors: `perm[t]` is the pixel of step t,
/// `ranks[p]` the step of pixel p.
pub(super) struct Walk {
    order: Vec<usize>,
    perm: Tensor,
    ranks: Tensor,
}

impl Walk {
    pub(super) fn new(spec: &OrderSpec, shape: ImageShape, device: Device) -> Walk {
        Walk::from_order(spec.order(shape.height, shape.width), device)
    }

    /// Any permutation of the pixels.
    pub(super) fn from_order(order: Vec<usize>, device: Device) -> Walk {
        let perm: Vec<i64> = order.iter().map(|&p| p as i64).collect();
        let ranks: Vec<i64> = crate::order::ranks(&order)
            .iter()
            .map(|&r| r as i64)
            .collect();
        Walk {
            order,
            perm: Tensor::from_slice(&perm).to_device(device),
            ranks: Tensor::from_slice(&ranks).to_device(device),
        }
    }
}

pub struct OaNade {
    /// Row p: the input weights of x_p (D×H) and of the mask bit m_p (D×H).
    wx: Tensor,
    wm: Tensor,
    c: Tensor,
    /// `(weight [H, H], bias [H])` of hidden layers 2..L.
    deep: Vec<(Tensor, Tensor)>,
    /// Row i: the output weights of pixel i (D×H).
    v: Tensor,
    b: Tensor,
    /// The run's orderings: one, or the per-batch set (training draws from
    /// it); member 0 is the first.
    runs: Vec<OrderSpec>,
    walks: Vec<Walk>,
    set: bool,
    shape: ImageShape,
    device: Device,
}

impl OaNade {
    /// `hidden` units in each of `layers` hidden layers.
    pub fn new(
        vs: &nn::Path,
        shape: ImageShape,
        (hidden, layers): (usize, usize),
        ordering: &RunOrdering,
    ) -> OaNade {
        let (d, h) = (shape.dims() as i64, hidden as i64);
        let (b_in, b_h) = (1.0 / ((2 * d) as f64).sqrt(), 1.0 / (h as f64).sqrt());
        let deep = (1..layers)
            .map(|l| {
                let w = vs.uniform(&format!("u{l}"), &[h, h], -b_h, b_h);
                (w, vs.zeros(&format!("c{l}"), &[h]))
            })
            .collect();
        let runs = ordering.all().to_vec();
        let walks = runs
            .iter()
            .map(|o| Walk::new(o, shape, vs.device()))
            .collect();
        OaNade {
            wx: vs.uniform("wx", &[d, h], -b_in, b_in),
            wm: vs.uniform("wm", &[d, h], -b_in, b_in),
            c: vs.zeros("c", &[h]),
            deep,
            v: vs.uniform("v", &[d, h], -b_h, b_h),
            b: vs.zeros("b", &[d]),
            runs,
            walks,
            set: ordering.is_set(),
            shape,
            device: vs.device(),
        }
    }

    /// Hidden layers 2..L on the last dimension of relu(first layer).
    fn deep(&self, pre: &Tensor) -> Tensor {
        let kind = pre.kind();
        let mut h = pre.relu();
        for (w, b) in &self.deep {
            h = h.linear(&w.to_kind(kind), Some(b.to_kind(kind))).relu();
        }
        h
    }

    /// Logits `[B, D]` (pixel order) of every pixel given the observed
    /// pixels `m` `[B, D]` (1 = observed) of `x` `[B, D]`.
    pub(super) fn logits_given(&self, x: &Tensor, m: &Tensor) -> Tensor {
        let kind = x.kind();
        let pre = (x * m).matmul(&self.wx.to_kind(kind))
            + m.matmul(&self.wm.to_kind(kind))
            + self.c.to_kind(kind);
        self.deep(&pre).matmul(&self.v.to_kind(kind).tr()) + self.b.to_kind(kind)
    }

    /// Exact logits `[B, D]` (pixel order) under `walk`: step t observes the
    /// pixels of steps < t.
    pub(super) fn logits_along(&self, x: &Tensor, walk: &Walk) -> Tensor {
        let kind = x.kind();
        let xs = x.index_select(1, &walk.perm);
        let wx = self.wx.to_kind(kind).index_select(0, &walk.perm);
        let wm = self.wm.to_kind(kind).index_select(0, &walk.perm);
        let v = self.v.to_kind(kind).index_select(0, &walk.perm);
        let b = self.b.to_kind(kind).index_select(0, &walk.perm);
        let (batch, d) = (xs.size()[0], xs.size()[1]);
        let mut carry = self.c.to_kind(kind).unsqueeze(0).expand([batch, -1], false);
        let mut out = Vec::with_capacity((d / BLOCK + 1) as usize);
        let mut start = 0;
        while start < d {
            let len = BLOCK.min(d - start);
            let (xb, wxb, wmb) = (
                xs.narrow(1, start, len),
                wx.narrow(0, start, len),
                wm.narrow(0, start, len),
            );
            let tri = Tensor::ones([len, len], (kind, x.device())).tril(-1);
            let pre = carry.unsqueeze(1) + (xb.unsqueeze(1) * &tri).matmul(&wxb) + tri.matmul(&wmb);
            let h = self.deep(&pre); // [B, L, H]
            let vb = v.narrow(0, start, len);
            out.push(
                Tensor::einsum("blh,lh->bl", &[&h, &vb], None::<i64>) + b.narrow(0, start, len),
            );
            carry = &carry + xb.matmul(&wxb) + wmb.sum_dim_intlist(0, false, kind);
            start += len;
        }
        Tensor::cat(&out, 1).index_select(1, &walk.ranks)
    }

    /// Ancestral sampling along `walk` from uniforms `u` `[n, D]` (pixel order).
    fn sample_along(&self, u: &Tensor, walk: &Walk) -> Tensor {
        let _guard = tch::no_grad_guard();
        let kind = u.kind();
        let (wx, wm, v, b) = (
            self.wx.to_kind(kind),
            self.wm.to_kind(kind),
            self.v.to_kind(kind),
            self.b.to_kind(kind),
        );
        let mut a = self.c.to_kind(kind).unsqueeze(0).repeat([u.size()[0], 1]);
        let x = u.zeros_like();
        for &p in &walk.order {
            let p = p as i64;
            let logit = self.deep(&a).matmul(&v.get(p)) + b.get(p);
            let xp = u.select(1, p).lt_tensor(&logit.sigmoid()).to_kind(kind);
            x.select(1, p).copy_(&xp);
            a += xp.unsqueeze(1) * wx.get(p).unsqueeze(0) + wm.get(p).unsqueeze(0);
        }
        x
    }

    /// The observed-masks `[B, D]` of one minibatch: per example a split d
    /// and the first d pixels of a random ordering (or of the set's ordering
    /// drawn for this minibatch); also the splits `[B]`.
    fn draw_masks(&self, batch: i64, draw: u64, kind: Kind) -> (Tensor, Tensor) {
        let d = self.shape.dims();
        let mut r = rng::stream(draw, 0x0A_AADE);
        let splits: Vec<i64> = (0..batch).map(|_| r.random_range(0..d as i64)).collect();
        let splits = Tensor::from_slice(&splits).to_device(self.device);
        let ranks = if self.set {
            let k = (draw % self.walks.len() as u64) as usize;
            self.walks[k].ranks.unsqueeze(0)
        } else {
            let scores = rng::uniform(&mut r, &[batch, d as i64], self.device);
            scores.argsort(1, false).argsort(1, false)
        };
        let m = ranks.lt_tensor(&splits.unsqueeze(1)).to_kind(kind);
        (m, splits.to_kind(kind))
    }

    fn walk_of(&self, o: &OrderSpec) -> Walk {
        Walk::new(o, self.shape, self.device)
    }

    fn flat(&self, x: &Tensor) -> Tensor {
        x.reshape([x.size()[0], -1])
    }

    fn image(&self, flat: &Tensor) -> Tensor {
        let s = self.shape;
        flat.view([flat.size()[0], 1, s.height as i64, s.width as i64])
    }
}

impl DensityModel for OaNade {
    fn logits(&self, x: &Tensor) -> Tensor {
        let flat = self.logits_along(&self.flat(x), &self.walks[0]);
        self.image(&flat).unsqueeze(-1)
    }
    fn head(&self) -> Head {
        Head::Bernoulli
    }
    fn sample_with(&self, u: &Tensor) -> Tensor {
        self.image(&self.sample_along(&self.flat(u), &self.walks[0]))
    }
    fn training_loss(&self, x: &Tensor, draw: u64) -> Loss {
        let x = self.flat(x);
        let (batch, d) = (x.size()[0], x.size()[1]);
        let (m, splits) = self.draw_masks(batch, draw, x.kind());
        let lp = bernoulli_log_prob(&self.logits_given(&x, &m), &x);
        let hidden: Tensor = 1.0 - &m;
        let unobserved = -(lp * hidden).sum_dim_intlist(1, false, x.kind());
        let scale = (d as f64) / (-splits + d as f64);
        Loss::of_nll((unobserved * scale).mean(Kind::Float))
    }
    /// The run's ordering(s), then `random:1`, `random:2`, … (skipping any
    /// already listed).
    fn max_members(&self) -> Option<usize> {
        None
    }
    fn members(&self, n: usize) -> Result<Vec<Member>> {
        let mut out = self.runs.clone();
        let mut seed = 1;
        while out.len() < n {
            let o = OrderSpec::new(Base::Random(seed));
            if !out.contains(&o) {
                out.push(o);
            }
            seed += 1;
        }
        out.truncate(n);
        Ok(out.into_iter().map(Member::Ordering).collect())
    }
    fn log_probs_under(&self, x: &Tensor, member: &Member) -> Result<Tensor> {
        let Member::Ordering(o) = member else {
            bail!("an order-agnostic nade is evaluated under orderings, not under `{member}`");
        };
        let flat = self.flat(x);
        let logits = self.logits_along(&flat, &self.walk_of(o));
        Ok(bernoulli_log_prob(&logits, &flat).view_as(x))
    }
    fn num_params(&self) -> i64 {
        let deep: i64 = self
            .deep
            .iter()
            .map(|(w, b)| (w.numel() + b.numel()) as i64)
            .sum();
        [&self.wx, &self.wm, &self.c, &self.v, &self.b]
            .iter()
            .map(|t| t.numel() as i64)
            .sum::<i64>()
            + deep
    }
    fn order(&self) -> &[usize] {
        &self.walks[0].order
    }
    fn shape(&self) -> ImageShape {
        self.shape
    }
    fn device(&self) -> Device {
        self.device
    }
}
