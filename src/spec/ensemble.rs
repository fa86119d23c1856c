//! `eval.orderings` (and `arlab eval --orderings`): which members an
//! ensemble over orderings takes.
use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::models::{DensityModel, Member};
use crate::order::OrderSpec;

/// Which members an ensemble takes: the first N of the model's own (the
/// orderings it trained over, its masks, or random orderings for an
/// order-agnostic model), or named orderings.
#[derive(Clone, Debug, PartialEq, Eq, serde_with::SerializeDisplay)]
pub enum EnsembleSpec {
    Count(usize),
    Orderings(Vec<OrderSpec>),
}

impl FromStr for EnsembleSpec {
    type Err = anyhow::Error;
    /// `8`, or orderings separated by commas: `raster,snake,hilbert`.
    fn from_str(s: &str) -> Result<Self> {
        if let Ok(n) = s.trim().parse::<usize>() {
            if n == 0 {
                bail!("the number of orderings must be at least 1");
            }
            return Ok(EnsembleSpec::Count(n));
        }
        let orders = s
            .split(',')
            .map(|o| o.trim().parse::<OrderSpec>())
            .collect::<Result<Vec<_>>>()
            .context("expected a number of orderings or a comma-separated list of orderings")?;
        Ok(EnsembleSpec::Orderings(orders))
    }
}

impl<'de> Deserialize<'de> for EnsembleSpec {
    /// `8`, `[raster, snake]` or `"raster,snake"`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = EnsembleSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of orderings (e.g. 8) or a list of orderings")
            }
            fn visit_u64<E: Error>(self, n: u64) -> Result<EnsembleSpec, E> {
                self.visit_str(&n.to_string())
            }
            fn visit_i64<E: Error>(self, n: i64) -> Result<EnsembleSpec, E> {
                if n < 1 {
                    return Err(E::custom(format!(
                        "the number of orderings must be at least 1, got {n}"
                    )));
                }
                self.visit_str(&n.to_string())
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<EnsembleSpec, E> {
                v.parse().map_err(|e| E::custom(format!("{e:#}")))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<EnsembleSpec, A::Error> {
                let mut orders = Vec::new();
                while let Some(o) = seq.next_element::<OrderSpec>()? {
                    orders.push(o);
                }
                if orders.is_empty() {
                    return Err(A::Error::custom("the list of orderings is empty"));
                }
                Ok(EnsembleSpec::Orderings(orders))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl fmt::Display for EnsembleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnsembleSpec::Count(n) => write!(f, "{n}"),
            EnsembleSpec::Orderings(o) => {
                let names: Vec<String> = o.iter().map(|o| o.to_string()).collect();
                write!(f, "{}", names.join(","))
            }
        }
    }
}

impl EnsembleSpec {
    /// The members to evaluate `model` under. A count is strict (an error if
    /// the model has fewer members) unless `up_to`, when the model takes as
    /// many as it has.
    pub fn members(&self, model: &dyn DensityModel, up_to: bool) -> Result<Vec<Member>> {
        match self {
            EnsembleSpec::Count(n) => {
                let n = match (up_to, model.max_members()) {
                    (true, Some(max)) => max.min(*n),
                    _ => *n,
                };
                model.members(n)
            }
            EnsembleSpec::Orderings(o) => Ok(o.iter().cloned().map(Member::Ordering).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_counts_and_lists() {
        let y = |s: &str| serde_yaml_ng::from_str::<EnsembleSpec>(s);
        assert_eq!(y("8").unwrap(), EnsembleSpec::Count(8));
        assert_eq!(
            y("[raster, hilbert]").unwrap().to_string(),
            "raster,hilbert"
        );
        assert!(y("0").is_err() && y("-2").is_err() && y("[]").is_err());
    }

    #[test]
    fn parse_counts_and_lists() {
        assert_eq!("8".parse::<EnsembleSpec>().unwrap(), EnsembleSpec::Count(8));
        let list: EnsembleSpec = "raster, snake+reverse".parse().unwrap();
        assert_eq!(list.to_string(), "raster,snake+reverse");
        assert!("0".parse::<EnsembleSpec>().is_err());
        let err = format!("{:#}", "raster,peano".parse::<EnsembleSpec>().unwrap_err());
        assert!(err.contains("peano"), "{err}");
    }
}
