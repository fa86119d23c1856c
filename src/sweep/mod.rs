//! Sweeps: a spec's `sweep:` grid (spec path → list of values) crossed with
//! models × orderings × seeds, planned into numbered runs. The plan is
//! recorded in `<results>/<experiment>/runs.jsonl` (the manifest) so that a
//! run keeps its index when the same spec is planned again; [`exec`] runs
//! the plan in this process, in worker processes or as one Slurm array task.
pub mod exec;
pub mod lock;
pub mod status;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::spec::{apply_override, RunSpec, Spec, Swept};

/// One swept spec path and its values.
#[derive(Clone, Debug)]
pub struct Axis {
    pub key: String,
    /// Short name in run directory names (`lr` for `train.lr`).
    pub label: String,
    pub values: Vec<Value>,
}

/// One run of the plan: its stable index, the run and its spec's hash.
#[derive(Clone, Debug)]
pub struct PlannedRun {
    pub index: usize,
    pub run: RunSpec,
    pub hash: String,
}

impl PlannedRun {
    pub fn name(&self) -> String {
        self.run.id()
    }
}

/// Every run of a spec, in a fixed order.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The experiment name: results go to `<results>/<name>/`.
    pub name: String,
    /// The spec as given, `--set` applied, sweep section kept: what Slurm
    /// array tasks re-plan.
    pub yaml: String,
    pub axes: Vec<Axis>,
    pub runs: Vec<PlannedRun>,
}

/// The runs of one point of the sweep grid: `tree` (the spec, its sweep
/// section removed) with the point's values applied. Errors name the sweep
/// key and its line in the spec `text`, never a `--set` nobody gave.
fn point_runs(
    tree: &Value,
    text: &str,
    origin: &str,
    axes: &[Axis],
    point: &[&Value],
) -> Result<Vec<RunSpec>> {
    let mut t = tree.clone();
    let mut swept = Vec::new();
    for (axis, v) in axes.iter().zip(point) {
        let raw = serde_yaml_ng::to_string(v)?;
        let at = sweep_line(text, &axis.key);
        apply_override(&mut t, &format!("{}={}", axis.key, raw.trim_end())).map_err(|e| {
            let e = e.to_string();
            let why = e.split_once(": ").map_or(e.as_str(), |(_, w)| w);
            anyhow!("{origin}: sweep: `{}`{at}: {why}", axis.key)
        })?;
        swept.push(Swept {
            key: axis.key.clone(),
            label: axis.label.clone(),
            value: display(v),
        });
    }
    let desc: Vec<String> = swept
        .iter()
        .map(|s| format!("{}={}{}", s.key, s.value, sweep_line(text, &s.key)))
        .collect();
    let here = format!("{origin}: sweep {}", desc.join(", "));
    let spec = Spec::from_tree(t, &here, &here)?;
    Ok(spec
        .runs()
        .into_iter()
        .map(|mut run| {
            run.swept = swept.clone();
            run
        })
        .collect())
}

/// ` (line N)`: where `key` is given under `sweep:` in the spec `text`
/// (empty when it cannot be found, e.g. a key added by `--set`).
fn sweep_line(text: &str, key: &str) -> String {
    let mut lines = text.lines().enumerate();
    let found = lines
        .by_ref()
        .find(|(_, l)| l.trim_end().starts_with("sweep:"))
        .and_then(|(i, l)| {
            if l.contains(key) {
                return Some(i); // a flow mapping on the `sweep:` line
            }
            lines.find_map(|(j, l)| {
                let t = l.trim_start().trim_start_matches(['"', '\'']);
                t.strip_prefix(key)
                    .is_some_and(|r| {
                        r.trim_start_matches(['"', '\''])
                            .trim_start()
                            .starts_with(':')
                    })
                    .then_some(j)
            })
        });
    found.map_or(String::new(), |i| format!(" (line {})", i + 1))
}

/// One line of `runs.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ManifestRow {
    pub index: usize,
    pub name: String,
    /// Swept spec path → value, as applied to the spec.
    pub overrides: BTreeMap<String, String>,
    /// FNV-1a 64 of the run's resolved spec.yaml.
    pub spec_hash: String,
}

impl Plan {
    pub fn load(path: &Path, overrides: &[String]) -> Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read spec `{}`", path.display()))?;
        Plan::parse(&text, &path.display().to_string(), overrides)
    }

    /// Parses a spec with an optional `sweep:` section.
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Plan> {
        let mut tree: Value =
            serde_yaml_ng::from_str(text).map_err(|e| anyhow!("{origin}: invalid YAML: {e}"))?;
        for o in overrides {
            apply_override(&mut tree, o)?;
        }
        let yaml = serde_yaml_ng::to_string(&tree)?;
        let sweep = match &mut tree {
            Value::Mapping(m) => m.remove("sweep"),
            _ => None,
        };
        let axes = match sweep {
            None => Vec::new(),
            Some(s) => axes(s).map_err(|e| anyhow!("{origin}: sweep: {e:#}"))?,
        };
        let mut runs = Vec::new();
        if axes.is_empty() {
            // Straight from the text, so errors keep their line numbers.
            runs = Spec::parse(text, origin, overrides)?.runs();
        }
        for point in points(&axes) {
            runs.extend(point_runs(&tree, text, origin, &axes, &point)?);
        }
        // A point that leaves a run unchanged (the other models under
        // `models.0.hidden`) plans it once, under its first values.
        let mut specs = HashSet::new();
        runs.retain(|r| specs.insert(r.spec.to_yaml()));
        let mut seen = HashSet::new();
        for r in &runs {
            if !seen.insert(r.id()) {
                bail!("{origin}: two runs of the sweep would share the directory `{}`: remove duplicate values", r.id());
            }
        }
        let name = runs
            .first()
            .map(|r| r.spec.name.clone())
            .unwrap_or_default();
        let runs = runs
            .into_iter()
            .enumerate()
            .map(|(index, run)| PlannedRun {
                index,
                hash: spec_hash(&run.spec),
                run,
            })
            .collect();
        Ok(Plan {
            name,
            yaml,
            axes,
            runs,
        })
    }

    pub fn experiment_dir(&self, results: &Path) -> PathBuf {
        results.join(&self.name)
    }

    /// Gives runs already in `<dir>/runs.jsonl` their recorded index and new
    /// runs fresh ones (never reused), then rewrites the manifest and
    /// `<dir>/sweep.yaml` (the spec as planned) where they changed.
    pub fn sync_manifest(&mut self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create results directory `{}`", dir.display()))?;
        let path = dir.join("runs.jsonl");
        let old = read_manifest(&path)?;
        let known: HashMap<&str, usize> = old.iter().map(|r| (r.name.as_str(), r.index)).collect();
        let mut next = old.iter().map(|r| r.index + 1).max().unwrap_or(0);
        for r in &mut self.runs {
            r.index = known.get(r.name().as_str()).copied().unwrap_or_else(|| {
                next += 1;
                next - 1
            });
        }
        self.runs.sort_by_key(|r| r.index);
        let rows = self.manifest();
        if rows != old {
            let mut text = String::new();
            for r in &rows {
                text.push_str(&serde_json::to_string(r)?);
                text.push('\n');
            }
            crate::results::write_atomic(&path, text.as_bytes())?;
        }
        let spec = dir.join("sweep.yaml");
        if std::fs::read_to_string(&spec).ok().as_deref() != Some(self.yaml.as_str()) {
            crate::results::write_atomic(&spec, self.yaml.as_bytes())?;
        }
        Ok(())
    }

    pub fn manifest(&self) -> Vec<ManifestRow> {
        self.runs
            .iter()
            .map(|r| ManifestRow {
                index: r.index,
                name: r.name(),
                overrides: r
                    .run
                    .swept
                    .iter()
                    .map(|s| (s.key.clone(), s.value.clone()))
                    .collect(),
                spec_hash: r.hash.clone(),
            })
            .collect()
    }

    pub fn get(&self, index: usize) -> Result<&PlannedRun> {
        self.runs
            .iter()
            .find(|r| r.index == index)
            .with_context(|| {
                let have: Vec<String> = self.runs.iter().map(|r| r.index.to_string()).collect();
                format!(
                    "--task {index}: the plan of `{}` has no run {index} (its indices: {})",
                    self.name,
                    have.join(",")
                )
            })
    }
}

/// A spec file without its `sweep:` section (for the commands that look at
/// a spec's models rather than its runs: inspect, bench, receptive-field).
pub fn base_spec(path: &Path, overrides: &[String]) -> Result<Spec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read spec `{}`", path.display()))?;
    let origin = path.display().to_string();
    let mut tree: Value =
        serde_yaml_ng::from_str(&text).map_err(|e| anyhow!("{origin}: invalid YAML: {e}"))?;
    match &mut tree {
        Value::Mapping(m) if m.contains_key("sweep") => {
            m.remove("sweep");
            Spec::parse(&serde_yaml_ng::to_string(&tree)?, &origin, overrides)
        }
        _ => Spec::parse(&text, &origin, overrides),
    }
}

/// Reads a manifest; a missing file is an empty one.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestRow>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("`{}` line {}: not a manifest row", path.display(), i + 1))
        })
        .collect()
}

fn axes(sweep: Value) -> Result<Vec<Axis>> {
    let Value::Mapping(map) = sweep else {
        bail!("expected a map from spec paths to lists of values, e.g. `train.lr: [0.001, 0.003]`");
    };
    let mut out: Vec<Axis> = Vec::new();
    for (k, v) in map {
        let key = match k {
            Value::String(s) => s.replace('[', ".").replace(']', ""),
            other => bail!("{other:?}: a key must be a spec path such as `train.lr`"),
        };
        if key == "sweep" || key.starts_with("sweep.") || key == "name" {
            bail!("`{key}` cannot be swept");
        }
        let values = match v {
            Value::Sequence(items) if !items.is_empty() => items,
            _ => bail!("{key}: expected a non-empty list of values, e.g. `{key}: [a, b]`"),
        };
        let label = key
            .rsplit('.')
            .find(|s| s.parse::<usize>().is_err())
            .unwrap_or(&key)
            .replace('_', "");
        out.push(Axis { key, label, values });
    }
    // Labels must tell the axes apart: fall back to the whole path.
    let labels: Vec<String> = out.iter().map(|a| a.label.clone()).collect();
    for a in &mut out {
        if labels.iter().filter(|l| **l == a.label).count() > 1 {
            a.label = a.key.replace(['.', '_'], "");
        }
    }
    Ok(out)
}

/// The cartesian product of the axes' values, the first axis slowest (one
/// empty point without axes).
fn points(axes: &[Axis]) -> Vec<Vec<&Value>> {
    let mut out: Vec<Vec<&Value>> = vec![Vec::new()];
    if axes.is_empty() {
        return Vec::new();
    }
    for a in axes {
        out = out
            .into_iter()
            .flat_map(|p| {
                a.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push(v);
                    q
                })
            })
            .collect();
    }
    out
}

/// A value as shown in run names, tables and the manifest.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_else(|_| format!("{other:?}")),
    }
}

/// FNV-1a 64 of a run's resolved spec, as hex.
pub fn spec_hash(spec: &Spec) -> String {
    crate::spec::fnv1a_hex(&spec.to_yaml())
}

#[cfg(test)]
mod tests;
