//! Ensembles over orderings: a model trained over several orderings (or
//! masks) defines one exact density per member, and their mixture
//! `log p(x) = logsumexp_k log p_k(x) − log N` is again an exact density,
//! usually better than every member. Never an average of logits or
//! probabilities per pixel: that is not a normalised density.
use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor};

use crate::models::{DensityModel, Member};
use crate::results::members::MemberStore;
use crate::results::EnsembleRow;

/// An ensemble evaluated on a set of images.
pub struct Evaluated {
    /// `log p_k(x)` per member (outer) and image (inner), in nats.
    pub per_member: Vec<Vec<f64>>,
    /// Every member alone and the ensembles of the first 1, 2, 4, … (see [`rows`]).
    pub rows: Vec<EnsembleRow>,
}

/// Evaluates `model` on `x` under each of `members`, in float32 batches of
/// `batch` on `device`; `dims` (C·H·W) gives bits/dim. Members kept in
/// `store` from an earlier attempt are read, not evaluated again; the
/// others are kept there as they finish. `member_done` hears of each
/// member as it is finished (and whether it was kept); an error from it
/// (a stop request) ends the evaluation.
pub fn evaluate(
    model: &dyn DensityModel,
    x: &Tensor,
    members: &[Member],
    (batch, device, dims): (usize, Device, usize),
    store: Option<&MemberStore>,
    mut member_done: impl FnMut(&Member, bool) -> Result<()>,
) -> Result<Evaluated> {
    let n = x.size()[0] as usize;
    let mut per_member = Vec::with_capacity(members.len());
    for m in members {
        let name = m.to_string();
        let kept = store.and_then(|s| s.load(&name, n));
        let was_kept = kept.is_some();
        let lp = match kept {
            Some(lp) => lp,
            None => {
                let lp = log_probs_under(model, x, m, batch, (device, Kind::Float))?;
                if let Some(s) = store {
                    s.save(&name, &lp)?;
                }
                lp
            }
        };
        per_member.push(lp);
        member_done(m, was_kept)?;
    }
    let rows = rows(members, &per_member, dims);
    Ok(Evaluated { per_member, rows })
}

/// `log p_k(x)` per member (outer) and image (inner), in nats, float64.
pub fn member_log_probs(
    model: &dyn DensityModel,
    x: &Tensor,
    members: &[Member],
    batch: usize,
    (device, kind): (Device, Kind),
) -> Result<Vec<Vec<f64>>> {
    members
        .iter()
        .map(|m| log_probs_under(model, x, m, batch, (device, kind)))
        .collect()
}

/// `log p(x)` under one member per image, in nats, float64.
fn log_probs_under(
    model: &dyn DensityModel,
    x: &Tensor,
    m: &Member,
    batch: usize,
    (device, kind): (Device, Kind),
) -> Result<Vec<f64>> {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
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
    Ok(lp)
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
