//! A run directory is bound to the spec that made it: `binding.json` holds
//! every value of the run's resolved spec that changes its results (as
//! `key.path → value`) and their hash, written before the first epoch.
//! Resuming (`checkpoints/last.ot`) or skipping (`summary.json`) checks the
//! spec at hand against it and refuses a different one, naming the keys
//! that differ; `--extend` alone may continue a run to more epochs.
//!
//! Left out, because they do not change what is trained or measured: the
//! experiment's `name` and a model's `name` (they name directories),
//! `description`, a model's `reference` (published numbers to compare
//! with), `train.eval_batch_size` (how many images are evaluated at once),
//! `train.sample_every` and `train.samples` (the sample grids, drawn from
//! their own seeded stream), `train.device` and `train.tensorboard`; a
//! model's `epochs` is kept as the run's `train.epochs`, which it resolves to.
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::results::{self, RunDir};
use crate::spec::{fnv1a_hex, RunSpec};

/// The run spec's keys left out of the binding (see the module's text).
pub const EXCLUDED: [&str; 10] = [
    "name",
    "description",
    "model.name",
    "model.epochs",
    "model.reference",
    "train.eval_batch_size",
    "train.sample_every",
    "train.samples",
    "train.device",
    "train.tensorboard",
];

/// `binding.json`: the result-relevant values of the spec that made a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Binding {
    /// FNV-1a 64 of the `key=value` lines of `values`.
    pub hash: String,
    pub values: BTreeMap<String, String>,
    /// The last epoch trained before `--extend` first asked for more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_from_epoch: Option<usize>,
}

/// One key whose value differs between two bindings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub old: String,
    pub new: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} → {}", self.key, self.old, self.new)
    }
}

/// What an earlier attempt in a run directory allows the run at hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No earlier attempt: start afresh.
    Fresh,
    /// An earlier attempt of this very spec.
    Same,
    /// An earlier attempt without `binding.json` (an older arlab): its spec
    /// is unknown, so it is resumed or skipped with a warning.
    Unknown,
    /// `--extend`: the spec differs only in more epochs than the `from`
    /// the directory was trained for.
    Extend { from: usize },
}

impl Binding {
    /// The binding of a run's resolved spec.
    pub fn of(run: &RunSpec) -> Binding {
        let tree = serde_yaml_ng::to_value(&run.spec).expect("a spec always serializes");
        let mut values = BTreeMap::new();
        flatten(String::new(), &tree, &mut values);
        let values: BTreeMap<String, String> = values
            .into_iter()
            .map(|(k, v)| (rename(&k), v))
            .filter(|(k, _)| !excluded(k))
            .collect();
        let lines: String = values.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        Binding {
            hash: fnv1a_hex(&lines),
            values,
            extended_from_epoch: None,
        }
    }

    /// The binding stored in `dir`; `None` when there is none.
    pub fn read(dir: &RunDir) -> Result<Option<Binding>> {
        let path = dir.binding();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        };
        serde_json::from_str(&text).map(Some).with_context(|| {
            format!(
                "`{}` is unreadable (use --force to start the run over)",
                path.display()
            )
        })
    }

    pub fn write(&self, dir: &RunDir) -> Result<()> {
        results::write_json(&dir.binding(), self)
    }

    /// The keys whose values differ from `new`'s, in key order.
    pub fn changes(&self, new: &Binding) -> Vec<Change> {
        let keys: BTreeSet<&String> = self.values.keys().chain(new.values.keys()).collect();
        let unset = || "(unset)".to_string();
        keys.into_iter()
            .filter(|k| self.values.get(*k) != new.values.get(*k))
            .map(|k| Change {
                key: k.clone(),
                old: self.values.get(k).cloned().unwrap_or_else(unset),
                new: new.values.get(k).cloned().unwrap_or_else(unset),
            })
            .collect()
    }

    fn epochs(&self) -> Option<usize> {
        self.values.get("train.epochs")?.parse().ok()
    }
}

/// Checks the earlier attempt in `dir` (its summary.json or resume
/// checkpoint) against `now`, the binding of run `id`: refuses a different
/// spec with one line naming the keys that differ and the ways out. Returns
/// the verdict and the binding the directory is to hold from now on.
pub fn check(dir: &RunDir, now: &Binding, id: &str, extend: bool) -> Result<(Verdict, Binding)> {
    if !dir.summary().is_file() && !dir.last_checkpoint().is_file() {
        return Ok((Verdict::Fresh, now.clone()));
    }
    let Some(old) = Binding::read(dir)? else {
        return Ok((Verdict::Unknown, now.clone()));
    };
    let changes = old.changes(now);
    if changes.is_empty() {
        return Ok((Verdict::Same, old));
    }
    let list: Vec<String> = changes.iter().map(Change::to_string).collect();
    let list = list.join(", ");
    let from = old.epochs().unwrap_or(0);
    let more_epochs =
        changes.len() == 1 && changes[0].key == "train.epochs" && now.epochs() > old.epochs();
    if more_epochs && extend {
        let bound = Binding {
            extended_from_epoch: old.extended_from_epoch.or(Some(from)),
            ..now.clone()
        };
        return Ok((Verdict::Extend { from }, bound));
    }
    if more_epochs {
        bail!(
            "run {id} was trained for {from} epochs and the spec now asks for more ({list}): \
             use --extend to continue it, --force to start it over, or a new run name (`name:` on the model)"
        );
    }
    bail!(
        "run {id} was made by another spec ({list}): resuming or skipping it would mix two specs; \
         use --force to start it over, or a new run name (`name:` on the model) to keep both"
    )
}

/// `models.0.hidden` → `model.hidden`, `orderings.0` → `ordering`,
/// `seeds.0` → `seed`: a run's spec has one of each.
fn rename(key: &str) -> String {
    for (from, to) in [
        ("models.0", "model"),
        ("orderings.0", "ordering"),
        ("seeds.0", "seed"),
    ] {
        if key == from {
            return to.into();
        }
        if let Some(rest) = key.strip_prefix(from).and_then(|r| r.strip_prefix('.')) {
            return format!("{to}.{rest}");
        }
    }
    key.into()
}

fn excluded(key: &str) -> bool {
    EXCLUDED
        .iter()
        .any(|x| key == *x || key.strip_prefix(x).is_some_and(|r| r.starts_with('.')))
}

/// The scalars of a YAML tree by their dotted paths (list items by index).
fn flatten(path: String, v: &Value, out: &mut BTreeMap<String, String>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(join(&scalar(k)), v, out);
            }
        }
        Value::Sequence(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(join(&i.to_string()), v, out);
            }
        }
        other => {
            out.insert(path, scalar(other));
        }
    }
}

/// A scalar as written in YAML (anything else as one line of YAML).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_yaml_ng::to_string(other)
            .map(|s| s.trim().replace('\n', " "))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    fn run(extra: &str) -> RunSpec {
        let text = format!(
            "name: b\ndescription: d\ndata:\n  source: synthetic\n  synthetic: {{height: 4, width: 4}}\n\
             models:\n  - type: nade\n    hidden: 8\norderings: [raster]\nseeds: [1]\ntrain:\n  epochs: 2\n{extra}"
        );
        Spec::parse(&text, "t", &[]).unwrap().runs().remove(0)
    }

    #[test]
    fn cosmetic_keys_are_left_out_and_the_rest_is_named() {
        let b = Binding::of(&run(""));
        assert_eq!(b.values["model.hidden"], "8");
        assert_eq!(b.values["ordering"], "raster");
        assert_eq!(b.values["seed"], "1");
        assert_eq!(b.values["train.lr"], "0.001");
        assert!(b.values.keys().all(|k| !excluded(k)), "{:?}", b.values);
        assert!(!b.values.contains_key("description"));
        assert_eq!(Binding::of(&run("  samples: 8\n  device: cpu\n")), b);
    }

    #[test]
    fn changes_name_the_keys_with_old_and_new_values() {
        let a = Binding::of(&run(""));
        let b = Binding::of(&run("  lr: 0.05\n  grad_clip: 1.0\n"));
        assert_ne!(a.hash, b.hash);
        let c: Vec<String> = a.changes(&b).iter().map(Change::to_string).collect();
        assert_eq!(
            c,
            ["train.grad_clip: (unset) → 1.0", "train.lr: 0.001 → 0.05"]
        );
    }

    #[test]
    fn val_every_is_bound_but_its_default_leaves_old_hashes_alone() {
        let a = Binding::of(&run(""));
        assert!(!a.values.contains_key("train.val_every"));
        assert_eq!(Binding::of(&run("  val_every: 1\n")), a);
        let b = Binding::of(&run("  val_every: 3\n"));
        let c: Vec<String> = a.changes(&b).iter().map(Change::to_string).collect();
        assert_eq!(c, ["train.val_every: (unset) → 3"]);
    }
}
