//! Models: one trait for every density model, one small file per model.
//!
//! Every model gives exact per-image log-likelihoods as the product of its
//! autoregressive conditionals. A model computes the parameters of every
//! conditional at once ([`DensityModel::logits`]); an output [`Head`] turns
//! them into log-probabilities and samples. Two adapters keep orderings out
//! of the models: [`Permuted`] runs a fully-connected [`SeqNet`] on the image
//! permuted into visiting order, and [`Raster`] runs a raster-scan
//! convolutional [`RasterNet`] on the image transformed so that the ordering
//! becomes raster order.
//!
//! Adding a model: one file with its `Config` (serde, defaults, checks,
//! label, closed-form parameter count, build) implementing [`ModelDef`], and
//! one line in the `models!` list below.
pub mod cached;
mod diagonal_bilstm;
mod fvsbn;
mod gated_pixelcnn;
mod heads;
mod independent;
pub mod layers;
mod local;
mod made;
mod nade;
mod nade_kernel;
mod nade_simd;
mod oanade;
mod pixelcnn;
mod pool;
mod raster;
mod rnade;
mod row_lstm;
mod seq;
mod table;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::{OrderSpec, RunOrdering};
use crate::rng;

pub use heads::Head;
pub use local::{Local, LocalNet};
pub use nade::{Nade, BLOCK as NADE_BLOCK};
pub use raster::{Raster, RasterNet};
pub use seq::{Permuted, SeqNet};

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
        let mut r = rng::stream(seed, 0x5A);
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

/// The model list: `Variant(config type) = "type name"`. A new model is one
/// line here and one file.
macro_rules! models {
    ($($variant:ident($config:ty) = $name:literal,)*) => {
        /// A model's settings, by `type`.
        #[derive(Clone, Debug, PartialEq)]
        pub enum ModelConfig {
            $($variant($config),)*
        }

        impl ModelConfig {
            /// Every model type, as written in specs.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            pub fn type_name(&self) -> &'static str {
                match self {
                    $(ModelConfig::$variant(_) => $name,)*
                }
            }

            pub fn def(&self) -> &dyn ModelDef {
                match self {
                    $(ModelConfig::$variant(c) => c,)*
                }
            }

            /// Reads the settings of model `type_name` from a YAML mapping.
            fn from_yaml(type_name: &str, rest: serde_yaml_ng::Value) -> Result<ModelConfig> {
                match type_name {
                    $($name => Ok(ModelConfig::$variant(config_from(type_name, rest)?)),)*
                    other => bail!(
                        "unknown model type {other:?}; the types are: {}",
                        Self::NAMES.join(", ")
                    ),
                }
            }

            fn to_yaml(&self) -> serde_yaml_ng::Value {
                match self {
                    $(ModelConfig::$variant(c) => serde_yaml_ng::to_value(c),)*
                }
                .expect("a model config always serializes")
            }
        }
    };
}

models! {
    Independent(independent::Config) = "independent",
    Markov(table::MarkovConfig) = "markov",
    Tabular(table::TabularConfig) = "tabular",
    Fvsbn(fvsbn::Config) = "fvsbn",
    Nade(nade::Config) = "nade",
    Made(made::Config) = "made",
    Rnade(rnade::Config) = "rnade",
    Pixelcnn(pixelcnn::Config) = "pixelcnn",
    GatedPixelcnn(gated_pixelcnn::Config) = "gated_pixelcnn",
    RowLstm(row_lstm::Config) = "row_lstm",
    DiagonalBilstm(diagonal_bilstm::Config) = "diagonal_bilstm",
}

/// A config struct from the YAML mapping of its settings; errors name the field.
fn config_from<T: serde::de::DeserializeOwned>(
    type_name: &str,
    rest: serde_yaml_ng::Value,
) -> Result<T> {
    serde_path_to_error::deserialize(rest).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        if path == "." || path.is_empty() {
            anyhow!("{inner} (in a {type_name} model)")
        } else {
            anyhow!("{path}: {inner} (in a {type_name} model)")
        }
    })
}

/// One model of an experiment: `type` and its settings, plus the settings
/// every model has (`name`, `lr`).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// Label used in run names and tables (default: from type and settings).
    pub name: Option<String>,
    /// This model's learning rate, in place of `train.lr` (models on one
    /// budget often want different rates: a table of logits far more than NADE).
    pub lr: Option<f64>,
    /// This model's number of epochs, in place of `train.epochs` (a fast
    /// fully-connected model and a slow convolutional one on one budget).
    pub epochs: Option<usize>,
    pub config: ModelConfig,
}

impl ModelSpec {
    pub fn new(config: ModelConfig) -> ModelSpec {
        ModelSpec {
            name: None,
            lr: None,
            epochs: None,
            config,
        }
    }

    pub fn def(&self) -> &dyn ModelDef {
        self.config.def()
    }

    pub fn type_name(&self) -> &'static str {
        self.config.type_name()
    }

    /// The label used in run directory names and tables.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.def().default_label())
    }

    /// Checks the model's settings, and that it takes the data's pixel form
    /// and every ordering of the spec.
    pub fn validate(&self, pixels: PixelForm, orderings: &[RunOrdering]) -> Result<()> {
        let def = self.def();
        let kind = self.type_name();
        def.check()?;
        if self.epochs == Some(0) {
            bail!("epochs: must be at least 1, got 0");
        }
        if let Some(lr) = self.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                bail!("lr: must be a positive number, got {lr}");
            }
        }
        if let Some(name) = &self.name {
            if name.is_empty() || name.contains(['/', '\\']) {
                bail!("name: must be a non-empty name without `/`, got {name:?}");
            }
        }
        if !def.pixels().contains(&pixels) {
            let takes: Vec<&str> = def.pixels().iter().map(|p| p.name()).collect();
            bail!(
                "a {kind} model cannot model `data.pixels: {}`; it needs `data.pixels: {}`",
                pixels.name(),
                takes.join("` or `")
            );
        }
        if let Some(set) = orderings.iter().find(|o| o.is_set()) {
            if !def.takes_sets() {
                bail!(
                    "a {kind} model trains under one ordering; it cannot train over the set `{set}` \
                     (the models that can: made, nade with order_agnostic: true, pixelcnn)"
                );
            }
        }
        for o in orderings {
            def.check_run(o)?;
        }
        if def.orderings() == Orderings::Dihedral {
            if let Some(o) = orderings
                .iter()
                .flat_map(RunOrdering::all)
                .find(|o| !o.is_dihedral())
            {
                bail!(
                    "a {kind} model is a raster-scan network: it takes the 8 dihedral variants of raster order \
                     (raster, column, and either with +hflip, +vflip, +transpose or +reverse), not `{o}`; \
                     its {} encode raster order (pixelcnn takes every ordering through locally masked convolutions)",
                    def.raster_reason()
                );
            }
        }
        Ok(())
    }

    /// Builds the model for images of `shape` under `ordering`.
    pub fn build(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &OrderSpec,
    ) -> Result<Box<dyn DensityModel>> {
        self.build_run(vs, shape, &RunOrdering::One(ordering.clone()))
    }

    /// Builds the model for images of `shape` under a run's ordering(s).
    pub fn build_run(
        &self,
        vs: &nn::Path,
        shape: ImageShape,
        ordering: &RunOrdering,
    ) -> Result<Box<dyn DensityModel>> {
        self.def().check_shape(shape)?;
        self.def().build_run(vs, shape, ordering)
    }
}

impl Serialize for ModelSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde_yaml_ng::Value;
        let mut map = serde_yaml_ng::Mapping::new();
        map.insert("type".into(), self.type_name().into());
        if let Value::Mapping(fields) = self.config.to_yaml() {
            map.extend(fields);
        }
        if let Some(name) = &self.name {
            map.insert("name".into(), name.as_str().into());
        }
        if let Some(lr) = self.lr {
            map.insert("lr".into(), lr.into());
        }
        if let Some(epochs) = self.epochs {
            map.insert("epochs".into(), (epochs as u64).into());
        }
        Value::Mapping(map).serialize(s)
    }
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ModelSpec, D::Error> {
        use serde::de::Error;
        use serde_yaml_ng::Value;
        let Value::Mapping(mut map) = Value::deserialize(d)? else {
            return Err(D::Error::custom(
                "a model is a mapping with a `type`, e.g. `{type: nade, hidden: 500}`",
            ));
        };
        let Some(kind) = map.remove("type") else {
            return Err(D::Error::custom(format!(
                "missing field `type` (one of: {})",
                ModelConfig::NAMES.join(", ")
            )));
        };
        let kind: String =
            serde_yaml_ng::from_value(kind).map_err(|e| D::Error::custom(format!("type: {e}")))?;
        let name = map
            .remove("name")
            .map(serde_yaml_ng::from_value::<String>)
            .transpose()
            .map_err(|e| D::Error::custom(format!("name: {e}")))?;
        let lr = map
            .remove("lr")
            .map(serde_yaml_ng::from_value::<f64>)
            .transpose()
            .map_err(|e| D::Error::custom(format!("lr: {e}")))?;
        let epochs = map
            .remove("epochs")
            .map(serde_yaml_ng::from_value::<usize>)
            .transpose()
            .map_err(|e| D::Error::custom(format!("epochs: {e}")))?;
        let config = ModelConfig::from_yaml(&kind, Value::Mapping(map))
            .map_err(|e| D::Error::custom(format!("{e:#}")))?;
        Ok(ModelSpec {
            name,
            lr,
            epochs,
            config,
        })
    }
}

/// Named architecture settings of the convolutional and recurrent models
/// (each model's file says what they are for it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Small enough to train in minutes on 2 CPU cores.
    #[default]
    Small,
    /// The configuration of the model's paper.
    Paper,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Small => "small",
            Preset::Paper => "paper",
        }
    }
}

/// Errors unless every given size is absent or at least 1.
pub fn check_sizes(sizes: &[(&str, Option<usize>)]) -> Result<()> {
    for (name, v) in sizes {
        if *v == Some(0) {
            bail!("{name}: must be at least 1, got 0");
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_made;
#[cfg(test)]
mod tests_oanade;
#[cfg(test)]
mod tests_rnade;
