//! Ensembles over orderings: a model trained over several orderings (or
//! masks) defines one exact density per member, and their mixture
//! `log p(x) = logsumexp_k log p_k(x) − log N` is again an exact density,
//! usually better than every member. Never an average of logits or
//! probabilities per pixel: that is not a normalised density.
use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

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

/// `log p_k(x)` per member (outer) and image (inner), in nats, float64.
pub fn member_log_probs(
    model: &dyn DensityModel,
    x: &Tensor,
    members: &[Member],
    batch: usize,
    (device, kind): (Device, Kind),
    mut member_done: impl FnMut(&Member),
) -> Result<Vec<Vec<f64>>> {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let mut lp = Vec::with_capacity(n as usize);
        let mut start = 0;
        while start < n {
            let len = (batch as i64).min(n - start);
            let xb = x.narrow(0, start, len).to_device(device).to_kind(kind);
            let per_image = model
                .log_probs_under(&xb, m)
                .with_context(|| format!("evaluating under `{m}`"))?
                .to_kind(Kind::Double)
                .sum_dim_intlist([1, 2, 3].as_slice(), false, Kind::Double)
                .to_device(Device::Cpu);
            lp.extend(Vec::<f64>::try_from(&per_image)?);
            start += len;
        }
        member_done(m);
        out.push(lp);
    }
    Ok(out)
}

/// The ensemble's `log p(x)` per image: `logsumexp_k log p_k(x) − log N`
/// over the given members (all the same length), in float64.
pub fn ensemble_log_probs(per_member: &[Vec<f64>]) -> Vec<f64> {
    let n = per_member.len();
    assert!(n > 0, "an ensemble has at least one member");
    (0..per_member[0].len())
        .map(|i| {
            let max = per_member
                .iter()
                .map(|m| m[i])
                .fold(f64::NEG_INFINITY, f64::max);
            if max == f64::NEG_INFINITY {
                return max;
            }
            let sum: f64 = per_member.iter().map(|m| (m[i] - max).exp()).sum();
            max + sum.ln() - (n as f64).ln()
        })
        .collect()
}

/// One row of `ensemble.csv`: a single member, or the ensemble of the first `n`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EnsembleRow {
    /// `member` or `ensemble`.
    pub kind: String,
    /// Members in the row (1 for a single member).
    pub n: usize,
    /// The member (or the ensemble's members, joined by ` `).
    pub orderings: String,
    pub nll: f64,
    pub bits_per_dim: f64,
}

/// Every member alone, then the ensembles of the first 1, 2, 4, … members
/// and of all of them: the rows of the NLL-vs-N plot.
pub fn rows(members: &[Member], per_member: &[Vec<f64>], dims: usize) -> Vec<EnsembleRow> {
    let row = |kind: &str, n: usize, names: String, lp: &[f64]| {
        let nll = super::mean_nll(lp);
        EnsembleRow {
            kind: kind.into(),
            n,
            orderings: names,
            nll,
            bits_per_dim: super::bits_per_dim(nll, dims),
        }
    };
    let mut out: Vec<EnsembleRow> = members
        .iter()
        .zip(per_member)
        .map(|(m, lp)| row("member", 1, m.to_string(), lp))
        .collect();
    let mut sizes: Vec<usize> = (0..)
        .map(|k| 1usize << k)
        .take_while(|&n| n < members.len())
        .collect();
    sizes.push(members.len());
    for n in sizes {
        let names: Vec<String> = members[..n].iter().map(|m| m.to_string()).collect();
        out.push(row(
            "ensemble",
            n,
            names.join(" "),
            &ensemble_log_probs(&per_member[..n]),
        ));
    }
    out
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

    /// Jensen: the mixture's log-likelihood lies between the members' mean
    /// and their maximum, per image.
    #[test]
    fn ensemble_is_between_the_mean_and_the_max_of_its_members() {
        let members = vec![
            vec![-10.0, -3.0, -700.0, -1e-3],
            vec![-12.0, -3.0, -800.0, -5.0],
            vec![-11.0, -3.0, -650.0, -2.0],
        ];
        let e = ensemble_log_probs(&members);
        for (i, &v) in e.iter().enumerate() {
            let vals: Vec<f64> = members.iter().map(|m| m[i]).collect();
            let mean = vals.iter().sum::<f64>() / 3.0;
            let max = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            assert!(
                mean <= v + 1e-12 && v <= max + 1e-12,
                "{i}: {mean} {v} {max}"
            );
        }
        // Equal members: the ensemble is that member.
        assert!((e[1] + 3.0).abs() < 1e-12);
        // Far apart: max − log N.
        assert!((e[2] - (-650.0 - 3f64.ln())).abs() < 1e-9);
    }

    #[test]
    fn rows_hold_every_member_and_power_of_two_ensembles() {
        let members: Vec<Member> = (0..5).map(Member::Mask).collect();
        let lp: Vec<Vec<f64>> = (0..5).map(|k| vec![-(k as f64) - 1.0; 3]).collect();
        let rows = rows(&members, &lp, 4);
        let ns: Vec<(String, usize)> = rows.iter().map(|r| (r.kind.clone(), r.n)).collect();
        assert_eq!(ns.iter().filter(|(k, _)| k == "member").count(), 5);
        let ens: Vec<usize> = ns
            .iter()
            .filter(|(k, _)| k == "ensemble")
            .map(|x| x.1)
            .collect();
        assert_eq!(ens, vec![1, 2, 4, 5]);
        assert_eq!(rows[5].nll, rows[0].nll, "an ensemble of one is its member");
    }
}
