//! A trained model as one `.safetensors` file: every variable of its
//! `VarStore` under its tch name, and in the header's metadata what is
//! needed to rebuild the model without the run directory:
//!
//! | key            | value                                                   |
//! |----------------|---------------------------------------------------------|
//! | `arlab.format` | `1`                                                     |
//! | `arlab.spec`   | the run's spec as YAML (one run: sweeps resolved)       |
//! | `arlab.run`    | the run's name, `<model>-<ordering>-s<seed>`            |
//! | `arlab.shape`  | the images it was trained on, `C×H×W` as `1x28x28`      |
//!
//! Python reads it with `safetensors.numpy.load_file` (docs/python.md).
use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use safetensors::SafeTensorError;
use tch::{nn, Kind, Tensor};

use super::write_atomic;
use crate::data::ImageShape;

/// The version of the metadata layout above.
pub const FORMAT: &str = "1";

/// The metadata of an exported model.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The run's spec, YAML.
    pub spec: String,
    /// The run's name.
    pub run: String,
    /// Channels, height and width of the images it was trained on.
    pub shape: (usize, usize, usize),
}

/// Writes every variable of `vs` to `path` (atomically), with the run's
/// spec (YAML), its name and the image shape in the metadata.
pub fn save(
    vs: &nn::VarStore,
    spec: &str,
    run: &str,
    shape: ImageShape,
    path: &Path,
) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = named
        .iter()
        .map(|(name, t)| raw(name, t))
        .collect::<Result<_>>()?;
    let views = bytes
        .iter()
        .map(|(name, dtype, shape, data)| {
            Ok((name.as_str(), TensorView::new(*dtype, shape.clone(), data)?))
        })
        .collect::<Result<Vec<_>, SafeTensorError>>()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let metadata = HashMap::from([
        ("arlab.format".to_string(), FORMAT.to_string()),
        ("arlab.spec".to_string(), spec.to_string()),
        ("arlab.run".to_string(), run.to_string()),
        (
            "arlab.shape".to_string(),
            format!("{}x{}x{}", shape.channels, shape.height, shape.width),
        ),
    ]);
    let file = safetensors::tensor::serialize(views, &Some(metadata))
        .map_err(|e| anyhow::anyhow!("cannot encode `{}` as safetensors: {e:?}", path.display()))?;
    write_atomic(path, &file)
}

/// A variable's dtype, shape and bytes (little-endian, row-major, on the CPU).
fn raw(name: &str, t: &Tensor) -> Result<(String, Dtype, Vec<usize>, Vec<u8>)> {
    let t = t.to_device(tch::Device::Cpu).contiguous();
    let dtype = Dtype::try_from(t.kind()).with_context(|| format!("variable `{name}`"))?;
    let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
    let numel = t.numel();
    let mut data = vec![0u8; numel * t.kind().elt_size_in_bytes()];
    t.f_copy_data_u8(&mut data, numel)
        .with_context(|| format!("cannot read variable `{name}`"))?;
    Ok((name.to_string(), dtype, shape, data))
}

/// Reads the metadata of an exported model.
pub fn read_header(path: &Path) -> Result<Header> {
    let file = read(path)?;
    let (_, meta) = SafeTensors::read_metadata(&file).map_err(|e| not_safetensors(path, e))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let get = |key: &str| {
        meta.get(key).cloned().with_context(|| {
            format!(
                "`{}` has no `{key}` in its metadata: not a model exported by arlab (`arlab export`)",
                path.display()
            )
        })
    };
    let format = get("arlab.format")?;
    ensure!(
        format == FORMAT,
        "`{}` is in arlab's safetensors format {format}; this arlab reads format {FORMAT}",
        path.display()
    );
    let shape = get("arlab.shape")?;
    Ok(Header {
        spec: get("arlab.spec")?,
        run: get("arlab.run")?,
        shape: parse_shape(&shape)
            .with_context(|| format!("`{}`: arlab.shape `{shape}` is not C×H×W", path.display()))?,
    })
}

fn parse_shape(s: &str) -> Option<(usize, usize, usize)> {
    let v: Vec<usize> = s
        .split('x')
        .map(|d| d.parse().ok())
        .collect::<Option<_>>()?;
    match v[..] {
        [c, h, w] => Some((c, h, w)),
        _ => None,
    }
}

/// Copies the tensors of `path` into `vs`: each variable must be there with
/// its shape, and nothing else may be.
pub fn load(vs: &mut nn::VarStore, path: &Path) -> Result<()> {
    let file = read(path)?;
    let st = SafeTensors::deserialize(&file).map_err(|e| not_safetensors(path, e))?;
    let mut stored: HashMap<String, TensorView> = st.tensors().into_iter().collect();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let from = |what: String| {
        format!(
            "`{}`: {what} (exported from another model?)",
            path.display()
        )
    };
    tch::no_grad(|| -> Result<()> {
        for (name, var) in &vars {
            let view = stored
                .remove(name)
                .with_context(|| from(format!("no tensor `{name}`")))?;
            let want: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
            if view.shape() != want.as_slice() {
                bail!(from(format!(
                    "tensor `{name}` is {:?}, the model's is {want:?}",
                    view.shape()
                )));
            }
            let kind =
                Kind::try_from(view.dtype()).with_context(|| from(format!("tensor `{name}`")))?;
            let t = Tensor::f_from_data_size(view.data(), &var.size(), kind)?;
            var.shallow_clone().f_copy_(&t.to_kind(var.kind()))?;
        }
        Ok(())
    })?;
    if let Some(extra) = stored.keys().min() {
        bail!(from(format!(
            "tensor `{extra}` is not a variable of the model"
        )));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))
}

fn not_safetensors(path: &Path, e: SafeTensorError) -> anyhow::Error {
    anyhow::anyhow!(
        "`{}` is not a valid safetensors file ({e:?})",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn store(vars: &[(&str, &[i64])]) -> nn::VarStore {
        let vs = nn::VarStore::new(Device::Cpu);
        for (name, shape) in vars {
            let _ = vs.root().randn(name, shape, 0.0, 1.0);
        }
        vs
    }

    fn shape() -> ImageShape {
        ImageShape {
            channels: 1,
            height: 2,
            width: 3,
            levels: 2,
        }
    }

    fn saved(vs: &nn::VarStore) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(vs, "name: x\n", "nade-raster-s0", shape(), &path).unwrap();
        (dir, path)
    }

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn variables_and_metadata_read_back_exactly() {
        let vs = store(&[("w", &[2, 3]), ("b", &[3])]);
        let (_dir, path) = saved(&vs);
        let header = read_header(&path).unwrap();
        assert_eq!(
            header,
            Header {
                spec: "name: x\n".into(),
                run: "nade-raster-s0".into(),
                shape: (1, 2, 3)
            }
        );
        let mut other = store(&[("w", &[2, 3]), ("b", &[3])]);
        load(&mut other, &path).unwrap();
        for (name, t) in vs.variables() {
            assert!(t.equal(&other.variables()[&name]), "{name}");
        }
    }

    #[test]
    fn another_model_is_refused_by_name_and_shape() {
        let (_dir, path) = saved(&store(&[("w", &[2, 3]), ("b", &[3])]));
        let mut missing = store(&[("w", &[2, 3]), ("b", &[3]), ("c", &[1])]);
        assert!(err(load(&mut missing, &path)).contains("no tensor `c`"));
        let mut extra = store(&[("w", &[2, 3])]);
        assert!(err(load(&mut extra, &path)).contains("tensor `b` is not a variable"));
        let mut reshaped = store(&[("w", &[3, 2]), ("b", &[3])]);
        assert!(
            err(load(&mut reshaped, &path)).contains("tensor `w` is [2, 3], the model's is [3, 2]")
        );
    }

    #[test]
    fn broken_files_are_refused_with_their_name() {
        let (dir, path) = saved(&store(&[("w", &[2, 3])]));
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.safetensors");
        std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
        let mut vs = store(&[("w", &[2, 3])]);
        assert!(
            err(load(&mut vs, &cut)).contains("cut.safetensors` is not a valid safetensors file")
        );
        std::fs::write(&cut, b"hello").unwrap();
        assert!(err(read_header(&cut)).contains("not a valid safetensors file"));
        assert!(err(read_header(&dir.path().join("none.safetensors"))).contains("cannot read"));
        // Written by someone else: no arlab metadata.
        let plain = dir.path().join("plain.safetensors");
        tch::Tensor::write_safetensors(
            &[("w", tch::Tensor::zeros([2, 3], tch::kind::FLOAT_CPU))],
            &plain,
        )
        .unwrap();
        assert!(err(read_header(&plain)).contains("no `arlab.format` in its metadata"));
    }
}
