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
pub mod adapters;
pub mod nade_cpu;
pub mod parts;
mod traits;

mod diagonal_bilstm;
mod fvsbn;
mod gated_pixelcnn;
mod independent;
mod made;
mod nade;
mod oanade;
mod pixelcnn;
mod pixelrnn;
mod reference;
mod rnade;
mod row_lstm;
mod table;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use tch::nn;

use crate::data::ImageShape;
use crate::data::PixelForm;
use crate::order::{OrderSpec, RunOrdering};

pub use adapters::local::{Local, LocalNet};
pub use adapters::raster::{Raster, RasterNet};
pub use adapters::seq::{Permuted, SeqNet};
pub use nade::{Nade, BLOCK as NADE_BLOCK};
pub use parts::heads::Head;
pub use reference::Reference;
pub use traits::{
    bernoulli_log_prob, full_precision, mean_nll_loss, sample_in_batches, DensityModel, Loss,
    Member, ModelDef, Orderings,
};

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
/// every model has (`name`, `lr`, `epochs`, `reference`).
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
    /// The published test NLL this model's runs are compared with.
    pub reference: Option<Reference>,
    pub config: ModelConfig,
}

impl ModelSpec {
    pub fn new(config: ModelConfig) -> ModelSpec {
        ModelSpec {
            name: None,
            lr: None,
            epochs: None,
            reference: None,
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
        if let Some(r) = &self.reference {
            r.check()?;
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
        if let Some(r) = &self.reference {
            let r = serde_yaml_ng::to_value(r).expect("a reference always serializes");
            map.insert("reference".into(), r);
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
        let reference = map
            .remove("reference")
            .map(reference_from)
            .transpose()
            .map_err(D::Error::custom)?;
        let config = ModelConfig::from_yaml(&kind, Value::Mapping(map))
            .map_err(|e| D::Error::custom(format!("{e:#}")))?;
        Ok(ModelSpec {
            name,
            lr,
            epochs,
            reference,
            config,
        })
    }
}

/// A `reference:` mapping; errors name the field (`reference.nll: …`).
fn reference_from(value: serde_yaml_ng::Value) -> Result<Reference, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." | "" => format!("reference: {}", e.inner()),
            _ => format!("reference.{path}: {}", e.inner()),
        }
    })
}

/// Named settings of a model (each model's file says what they are for
/// it, and the paper it follows): `preset: small` or `preset: paper`.
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
    /// The default (`skip_serializing_if` of the fully-connected models, so
    /// that their specs without a preset are written as before).
    pub fn is_small(&self) -> bool {
        *self == Preset::Small
    }

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

#[cfg(test)]
mod tests;
