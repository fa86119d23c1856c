//! The two traits every model implements: [`DensityModel`] (what a trained
//! model does: exact log-likelihoods, samples, ensemble members) and
//! [`ModelDef`] (what a model's config gives: checks, label, parameter
//! count, build), with the loss and the Bernoulli log-probability they share.
use anyhow::{bail, Result};
use tch::{nn, Kind, Tensor};

use crate::rng;

use super::Head;
use crate::data::{ImageShape, PixelForm};
use crate::order::{OrderSpec, RunOrdering};

/// An explicit density model over images of shape `[C, H, W]`.
pub trait DensityModel {
    /// The parameters of every conditional, `[B, C, H, W, K]` for images
    /// `x` `[B, C, H, W]` (level values in the model's float kind): the
    /// entry of pixel i, channel c depends only on the pixels before i in the
    /// ordering and, for colour, on the channels of pixel i before c.
    fn logits(&self, x: &Tensor) -> Tensor;

    /// How `logits` become probabilities.
    fn head(&self) -> Head;

    /// `log p(x_ic | everything before it)`, `[B, C, H, W]`.
    fn log_probs(&self, x: &Tensor) -> Tensor {
        self.head().log_prob(&self.logits(x), x)
    }

    /// Exact `log p(x)` per image, `[B]`, summed in float64.
    fn log_prob(&self, x: &Tensor) -> Tensor {
        self.log_probs(x).to_kind(Kind::Double).sum_dim_intlist(
            [1, 2, 3].as_slice(),
            false,
            Kind::Double,
        )
    }

    /// Ancestral sampling driven by uniforms `u` `[n, C, H, W]`: the value
    /// of pixel i, channel c is the head's draw from its conditional with
    /// `u[:, c, i]` (so the same uniforms give the same images).
    fn sample_with(&self, u: &Tensor) -> Tensor;

    /// The reference sampler: the same draws as `sample_with` by the
    /// plainest computation (the image models: the whole network once per
    /// pixel and channel, no caches). Default: `sample_with`.
    fn sample_naive_with(&self, u: &Tensor) -> Tensor {
        self.sample_with(u)
    }

    /// `n` images `[n, C, H, W]` drawn with the given seed. Does not touch
    /// libtorch's global random generator.
    fn sample(&self, n: i64, seed: u64) -> Tensor {
        let s = self.shape();
        let dims = [n, s.channels as i64, s.height as i64, s.width as i64];
        let mut r = rng::stream(seed, SAMPLE_STREAM);
        self.sample_with(&rng::uniform(&mut r, &dims, self.device()))
    }

    /// The training objective on one minibatch `x`. `draw` is a number
    /// unique to the minibatch (from the run's seed and the step), for models
    /// that draw an ordering or a mask per minibatch. The default is the mean
    /// negative log-likelihood under the model's ordering.
    fn training_loss(&self, x: &Tensor, _draw: u64) -> Loss {
        mean_nll_loss(self, x)
    }

    /// How many members an ensemble of this trained model can have (`None`:
    /// any number, e.g. an order-agnostic model under random orderings).
    fn max_members(&self) -> Option<usize> {
        Some(1)
    }

    /// The first `n` members of an ensemble over orderings (or masks):
    /// only models that can be evaluated under more than one ordering
    /// after training have them.
    fn members(&self, n: usize) -> Result<Vec<Member>> {
        bail!("this model is evaluated under its own ordering only (asked for {n} orderings)")
    }

    /// `log_probs` under `member` (an ordering or mask the model takes).
    fn log_probs_under(&self, _x: &Tensor, member: &Member) -> Result<Tensor> {
        bail!("this model is evaluated under its own ordering only, not under `{member}`")
    }

    /// Free parameters.
    fn num_params(&self) -> i64;

    /// The ordering: `order()[t]` is the pixel (row-major) visited at step t.
    fn order(&self) -> &[usize];

    fn shape(&self) -> ImageShape;

    fn device(&self) -> tch::Device;
}

/// The seeded stream sampling draws its uniforms from.
const SAMPLE_STREAM: u64 = 0x5A;

/// The `n` images that `model.sample(n, seed)` draws, `batch` at a time
/// (the uniforms come from one stream in order, so they are the same
/// images), each batch `[b, C, H, W]` handed to `each` as it is drawn:
/// memory holds one batch, whatever `n`.
pub fn sample_in_batches(
    model: &dyn DensityModel,
    n: i64,
    seed: u64,
    batch: i64,
    mut each: impl FnMut(Tensor),
) {
    let s = model.shape();
    let mut r = rng::stream(seed, SAMPLE_STREAM);
    let mut left = n;
    while left > 0 {
        let b = left.min(batch.max(1));
        let dims = [b, s.channels as i64, s.height as i64, s.width as i64];
        each(model.sample_with(&rng::uniform(&mut r, &dims, model.device())));
        left -= b;
    }
}

/// One member of an ensemble over orderings: an ordering, or one of a
/// model's fixed masks (MADE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Member {
    Ordering(OrderSpec),
    Mask(usize),
}

impl std::fmt::Display for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Member::Ordering(o) => write!(f, "{o}"),
            Member::Mask(k) => write!(f, "mask-{k}"),
        }
    }
}

/// The default training loss: the mean negative log-likelihood of `x`.
pub fn mean_nll_loss<M: DensityModel + ?Sized>(model: &M, x: &Tensor) -> Loss {
    Loss::from_log_probs(&model.log_probs(x))
}

/// A minibatch's training loss.
pub struct Loss {
    /// The scalar to differentiate (a model with its own gradient may
    /// return a surrogate whose gradient is that gradient).
    pub objective: Tensor,
    /// The mean negative log-likelihood in nats per image, for logging and
    /// divergence checks (a scalar tensor on the model's device).
    pub nll: Tensor,
}

impl Loss {
    /// A loss that is its own mean NLL (no surrogate).
    pub fn of_nll(nll: Tensor) -> Loss {
        Loss {
            objective: nll.shallow_clone(),
            nll,
        }
    }

    /// The mean NLL of per-pixel log-probabilities `[B, C, H, W]`.
    pub fn from_log_probs(log_probs: &Tensor) -> Loss {
        Loss::of_nll(
            -log_probs
                .sum_dim_intlist([1, 2, 3].as_slice(), false, Kind::Float)
                .mean(Kind::Float),
        )
    }
}

/// Which orderings a model takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orderings {
    /// Every ordering arlab knows.
    Any,
    /// The 8 dihedral variants of raster order (raster-scan networks).
    Dihedral,
}

/// What every model's config gives: checks, label, parameter count, build.
pub trait ModelDef {
    /// The label in run names and tables, e.g. `nade-h500`.
    fn default_label(&self) -> String;
    /// Checks the config's own values; errors name the field.
    fn check(&self) -> Result<()>;
    /// The pixel forms the model handles.
    fn pixels(&self) -> &'static [PixelForm];
    fn orderings(&self) -> Orderings {
        Orderings::Any
    }
    /// What ties a raster-scan network to raster order (for the error).
    fn raster_reason(&self) -> &'static str {
        "layers"
    }
    /// The closed-form parameter count (`None` if it overflows).
    fn param_count(&self, shape: ImageShape) -> Option<u128>;
    /// The parameter count's formula, for `arlab inspect`.
    fn formula(&self) -> String;
    /// Floats one image's training step keeps for the backward pass,
    /// roughly (for the memory check before a model is built). By default
    /// a few copies of the head's outputs; networks with hidden maps per
    /// pixel say more.
    fn activation_floats(&self, shape: ImageShape) -> u128 {
        let k = Head::for_pixels(shape.pixels()).params() as u128;
        4 * shape.dims() as u128 * k
    }
    /// Checks that depend on the image (sizes the model cannot handle).
    fn check_shape(&self, _shape: ImageShape) -> Result<()> {
        Ok(())
    }
    /// The model, its parameters under `vs`.
    fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>>;
    /// Checks that depend on a run's ordering(s), e.g. a set's size
    /// against the model's own settings.
    fn check_run(&self, _ordering: &RunOrdering) -> Result<()> {
        Ok(())
    }
    /// Whether the model trains over a set of orderings, one per minibatch.
    fn takes_sets(&self) -> bool {
        false
    }
    /// The model for a run's ordering(s); models that take sets override it.
    fn build_run(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &RunOrdering,
    ) -> Result<Box<dyn DensityModel>> {
        match ordering {
            RunOrdering::One(o) => self.build(vs, shape, o),
            RunOrdering::PerBatch(_) => bail!("this model trains under one ordering, not a set"),
        }
    }
}

/// `log p(x_t)` for Bernoulli conditionals with the given logits:
/// `x·l − softplus(l)`, stable for any logit.
pub fn bernoulli_log_prob(logits: &Tensor, x: &Tensor) -> Tensor {
    // x·l − softplus(l), as one fused (and stable) libtorch kernel.
    -full_precision(logits).binary_cross_entropy_with_logits::<Tensor>(
        x,
        None,
        None,
        tch::Reduction::None,
    )
}

/// `t` in float32 if a reduced precision (bfloat16 or float16, from a
/// training step under autocast), else `t` itself: log-probabilities are
/// always computed in float32 or better.
pub fn full_precision(t: &Tensor) -> Tensor {
    match t.kind() {
        Kind::BFloat16 | Kind::Half => t.to_kind(Kind::Float),
        _ => t.shallow_clone(),
    }
}
