//! `reference:` on a model entry: the published test NLL that the model's
//! runs are compared with (the "published" and "Δ vs published" columns of
//! comparison.csv/md and the report).
//!
//! ```yaml
//! - type: nade
//!   preset: paper
//!   reference: {nll: 88.33, source: "Uria et al. 2014"}
//! ```
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// A published test NLL, in nats per image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// The published test NLL, nats per image.
    pub nll: f64,
    /// Where it is published, e.g. `Larochelle & Murray 2011, Table 2`.
    pub source: String,
    /// The published number is that of an ensemble of this many orderings
    /// or masks: the run is compared through its own ensemble of as many
    /// members (`eval.orderings`), not its single-ordering test NLL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<usize>,
}

impl Reference {
    /// Checks the values; errors name the field.
    pub fn check(&self) -> Result<()> {
        if !(self.nll.is_finite() && self.nll > 0.0) {
            bail!(
                "reference.nll: must be a positive finite number of nats per image, got {}",
                self.nll
            );
        }
        if self.source.trim().is_empty() {
            bail!(
                "reference.source: must say where the number is published, e.g. \
                 `source: \"Larochelle & Murray 2011\"`"
            );
        }
        if self.ensemble == Some(0) {
            bail!("reference.ensemble: must be at least 1 member, got 0");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(nll: f64, source: &str) -> Reference {
        Reference {
            nll,
            source: source.into(),
            ensemble: None,
        }
    }

    #[test]
    fn values_are_checked_and_errors_name_the_field() {
        assert!(reference(88.33, "Uria et al. 2014").check().is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = reference(bad, "x").check().unwrap_err().to_string();
            assert!(err.starts_with("reference.nll:"), "{err}");
        }
        let err = reference(88.0, "  ").check().unwrap_err().to_string();
        assert!(err.starts_with("reference.source:"), "{err}");
        let r = Reference {
            ensemble: Some(0),
            ..reference(85.1, "x")
        };
        assert!(r
            .check()
            .unwrap_err()
            .to_string()
            .starts_with("reference.ensemble:"));
    }
}
