//! The ordering(s) of one run: one ordering, or a set of orderings with one
//! drawn per minibatch (how LMConv and MADE train over many orderings).
use std::fmt;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::OrderSpec;

/// One entry of a spec's `orderings:` list: a run trains under it.
///
/// ```yaml
/// orderings:
///   - raster                                   # one ordering
///   - {train: [raster, snake, hilbert], per_batch: true, name: three}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RunOrdering {
    One(OrderSpec),
    PerBatch(OrderSet),
}

/// Several orderings, one drawn per minibatch during training.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSet {
    /// The orderings, in the order an ensemble evaluation takes them.
    pub train: Vec<OrderSpec>,
    /// Must be `true`: one ordering per minibatch (the only way a set trains).
    pub per_batch: bool,
    /// Label in run names (default `per-batch-N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl RunOrdering {
    /// Every ordering the run trains under (one for [`RunOrdering::One`]).
    pub fn all(&self) -> &[OrderSpec] {
        match self {
            RunOrdering::One(o) => std::slice::from_ref(o),
            RunOrdering::PerBatch(s) => &s.train,
        }
    }

    /// The first ordering: the run's own for a single ordering.
    pub fn first(&self) -> &OrderSpec {
        &self.all()[0]
    }

    pub fn is_set(&self) -> bool {
        matches!(self, RunOrdering::PerBatch(_))
    }

    /// The label in tables and figures: the ordering's name, or the set's
    /// label (its members are in the run's spec.yaml and log).
    pub fn label(&self) -> String {
        match self {
            RunOrdering::One(o) => o.to_string(),
            RunOrdering::PerBatch(s) => s.label(),
        }
    }

    /// Filesystem-safe label for run names.
    pub fn slug(&self) -> String {
        match self {
            RunOrdering::One(o) => o.slug(),
            RunOrdering::PerBatch(s) => s.label(),
        }
    }

    /// Checks a set: non-empty, `per_batch: true`, no duplicates, a usable name.
    pub fn validate(&self) -> Result<()> {
        let RunOrdering::PerBatch(s) = self else {
            return Ok(());
        };
        if !s.per_batch {
            bail!("per_batch: a set of orderings trains with one drawn per minibatch; write `per_batch: true` (or list the orderings as separate entries, one run each)");
        }
        if s.train.is_empty() {
            bail!("train: the set of orderings is empty");
        }
        for (i, o) in s.train.iter().enumerate() {
            if s.train[..i].contains(o) {
                bail!("train[{i}]: `{o}` is listed twice");
            }
        }
        if let Some(name) = &s.name {
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                bail!("name: must be a non-empty name without `/`, got {name:?}");
            }
        }
        Ok(())
    }
}

impl OrderSet {
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("per-batch-{}", self.train.len()))
    }
}

impl<'de> Deserialize<'de> for RunOrdering {
    /// A string is one ordering (its parse error passes through), a mapping is a set.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RunOrdering;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ordering name or `{train: [ORDERING, ...], per_batch: true}`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RunOrdering, E> {
                v.parse().map(RunOrdering::One).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RunOrdering, A::Error> {
                let de = serde::de::value::MapAccessDeserializer::new(map);
                OrderSet::deserialize(de).map(RunOrdering::PerBatch)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl std::str::FromStr for RunOrdering {
    type Err = anyhow::Error;
    /// One ordering by name (sets are written as YAML mappings).
    fn from_str(s: &str) -> Result<Self> {
        s.parse().map(RunOrdering::One)
    }
}

impl From<OrderSpec> for RunOrdering {
    fn from(o: OrderSpec) -> Self {
        RunOrdering::One(o)
    }
}

impl fmt::Display for RunOrdering {
    /// A single ordering's name; a set's label and members,
    /// e.g. `three (raster, snake, hilbert)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunOrdering::One(o) => write!(f, "{o}"),
            RunOrdering::PerBatch(s) => {
                let names: Vec<String> = s.train.iter().map(|o| o.to_string()).collect();
                write!(f, "{} ({})", s.label(), names.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> RunOrdering {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn one_or_a_set() {
        let one = parse("snake+reverse");
        assert_eq!(one.slug(), "snake+reverse");
        assert_eq!(one.all().len(), 1);
        let set = parse("{train: [raster, hilbert], per_batch: true}");
        assert!(set.is_set());
        assert_eq!(set.slug(), "per-batch-2");
        assert_eq!(set.to_string(), "per-batch-2 (raster, hilbert)");
        assert_eq!(set.label(), "per-batch-2");
        assert_eq!(parse("random:3").label(), "random:3");
        assert_eq!(set.first().to_string(), "raster");
        set.validate().unwrap();
        let named = parse("{train: [raster], per_batch: true, name: solo}");
        assert_eq!(named.slug(), "solo");
        // Round trip through YAML.
        let back: RunOrdering =
            serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&set).unwrap()).unwrap();
        assert_eq!(back, set);
    }

    #[test]
    fn bad_sets() {
        let err = |y: &str| parse(y).validate().unwrap_err().to_string();
        assert!(err("{train: [raster], per_batch: false}").contains("per_batch: true"));
        assert!(err("{train: [], per_batch: true}").contains("empty"));
        assert!(err("{train: [raster, raster], per_batch: true}").contains("twice"));
    }
}
