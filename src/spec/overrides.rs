//! `--set key.path=value` overrides, applied to the parsed YAML tree before
//! it is checked like any spec (so a typo in a key is an unknown-field error).
use anyhow::{anyhow, bail, Result};
use serde_yaml_ng::{Mapping, Value};

/// Applies one `key.path=value` override. Path segments are mapping keys or
/// list indices (`models.0.hidden` or `models[0].hidden`); the value is read
/// as YAML (`3`, `1e-3`, `true`, `[0, 1]`, `raster`).
pub fn apply_override(root: &mut Value, assignment: &str) -> Result<()> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| anyhow!("--set {assignment:?}: expected KEY.PATH=VALUE"))?;
    let path = path.trim().replace('[', ".").replace(']', "");
    let keys: Vec<&str> = path.split('.').filter(|k| !k.is_empty()).collect();
    if keys.is_empty() {
        bail!("--set {assignment:?}: empty key path");
    }
    let value: Value = serde_yaml_ng::from_str(raw)
        .map_err(|e| anyhow!("--set {assignment:?}: the value is not valid YAML: {e}"))?;
    let mut node = root;
    for (depth, key) in keys.iter().enumerate() {
        let last = depth + 1 == keys.len();
        let here = keys[..depth].join(".");
        node = match node {
            Value::Sequence(items) => {
                let i: usize = key.parse().map_err(|_| {
                    anyhow!("--set {assignment:?}: `{here}` is a list; `{key}` is not an index")
                })?;
                let len = items.len();
                items
                    .get_mut(i)
                    .ok_or_else(|| anyhow!("--set {assignment:?}: index {i} is out of range (`{here}` has {len} items)"))?
            }
            Value::Mapping(map) => {
                let k = Value::String(key.to_string());
                if !map.contains_key(&k) {
                    let fresh = if last {
                        Value::Null
                    } else {
                        Value::Mapping(Mapping::new())
                    };
                    map.insert(k.clone(), fresh);
                }
                map.get_mut(&k).expect("inserted above")
            }
            Value::Null => {
                *node = Value::Mapping(Mapping::new());
                let Value::Mapping(map) = node else {
                    unreachable!()
                };
                map.insert(Value::String(key.to_string()), Value::Null);
                map.get_mut(key).expect("inserted above")
            }
            _ => bail!("--set {assignment:?}: `{here}` is a single value, it has no key `{key}`"),
        };
    }
    *node = value;
    Ok(())
}
