//! NumPy arrays as data sets: `npy:PATH` (one array) and `npz:PATH` (an
//! archive of arrays), read with the `npyz` crate.
//!
//! - **Values:** `uint8` levels 0..=255, or floats (`float32`, `float64`)
//!   in [0, 1], which become levels `round(255·x)`. Any other dtype, and
//!   floats outside [0, 1] (or NaN), are refused.
//! - **Shapes:** N×H×W (gray), or N×H×W×C / N×C×H×W with C = 1 or 3. Which
//!   of the two 4-axis layouts is meant is read off the shape: the axis of
//!   size 1 or 3 holds the channels; when both could (a 3×H×W×3 array,
//!   say), N×H×W×C is assumed, NumPy's and PIL's habit. `data.layout:
//!   nhwc` or `nchw` says it outright.
//! - **Splits:** in an `.npz`, the arrays `train`, `valid` (or `val`) and
//!   `test` are the splits; without `valid`, the last tenth of `train`
//!   validates. An archive of one array, or an `.npy`, is split
//!   80/10/10 in its stored order (the last tenth is the test set).
use std::fmt;
use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use npyz::npz::NpzArchive;
use npyz::{DType, NpyFile, Order, TypeChar};
use serde::{Deserialize, Serialize};

use super::images::{split_tail, Images, Splits};
use super::source::SourceDef;
use super::PixelForm;

/// `npy:PATH`: one array, split 80/10/10.
pub const NPY: SourceDef = SourceDef {
    name: "npy",
    takes_path: true,
    pixels: &PixelForm::ALL,
    cuts_to_size: false,
    full_scale: 255.0,
    install: None,
    load: |spec, source| load_npy(source.required_path(), spec.layout),
};

/// `npz:PATH`: an archive with `train`, `valid`/`val` and `test` arrays,
/// or a single array split 80/10/10.
pub const NPZ: SourceDef = SourceDef {
    name: "npz",
    takes_path: true,
    pixels: &PixelForm::ALL,
    cuts_to_size: false,
    full_scale: 255.0,
    install: None,
    load: |spec, source| load_npz(source.required_path(), spec.layout),
};

/// How the axes of a 4-axis array are laid out (`data.layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Images × height × width × channels (NumPy's and PIL's habit).
    Nhwc,
    /// Images × channels × height × width (PyTorch's).
    Nchw,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Nhwc => "nhwc",
            Layout::Nchw => "nchw",
        })
    }
}

/// Reads the one array of an `.npy` file and splits it 80/10/10.
pub fn load_npy(path: &Path, layout: Option<Layout>) -> Result<Splits> {
    let file =
        std::fs::File::open(path).with_context(|| format!("`{}`: cannot open", path.display()))?;
    let what = format!("`{}`", path.display());
    let npy = NpyFile::new(std::io::BufReader::new(file))
        .map_err(|e| anyhow!("{what}: not a NumPy .npy file: {e}"))?;
    let images = read_images(npy, &what, layout)?;
    split_tail(&images, &what)
}

/// Reads the splits of an `.npz` archive (see the module's documentation).
pub fn load_npz(path: &Path, layout: Option<Layout>) -> Result<Splits> {
    let mut npz = NpzArchive::open(path).map_err(|e| {
        anyhow!(
            "`{}`: cannot read as a NumPy .npz archive: {e}",
            path.display()
        )
    })?;
    let mut names: Vec<String> = npz.array_names().map(String::from).collect();
    names.sort();
    let has = |n: &str| names.iter().any(|m| m == n);
    let mut read = |name: &str| -> Result<Images> {
        let what = format!("`{}`, array `{name}`", path.display());
        let npy = npz
            .by_name(name)
            .map_err(|e| anyhow!("{what}: cannot read: {e}"))?
            .with_context(|| format!("{what}: not in the archive"))?;
        read_images(npy, &what, layout)
    };
    if !["train", "valid", "val", "test"].iter().any(|n| has(n)) {
        return match names.as_slice() {
            [one] => {
                let images = read(one)?;
                split_tail(&images, &format!("`{}`, array `{one}`", path.display()))
            }
            [] => bail!("`{}`: the archive holds no arrays", path.display()),
            _ => bail!(
                "`{}`: holds arrays {}; name the splits `train`, `valid` and `test`, \
                 or keep a single array to split 80/10/10",
                path.display(),
                quoted(&names)
            ),
        };
    }
    for needed in ["train", "test"] {
        if !has(needed) {
            bail!(
                "`{}`: has no array `{needed}` (it holds {}); an archive with splits needs \
                 `train` and `test`, and may add `valid`",
                path.display(),
                quoted(&names)
            );
        }
    }
    let val_name = match (has("valid"), has("val")) {
        (true, true) => bail!(
            "`{}`: holds both `valid` and `val`; keep one as the validation split",
            path.display()
        ),
        (true, false) => Some("valid"),
        (false, true) => Some("val"),
        (false, false) => None,
    };
    let train = read("train")?;
    let test = read("test")?;
    check_same_shape(path, ("train", &train), ("test", &test))?;
    let splits = match val_name {
        Some(name) => {
            let val = read(name)?;
            check_same_shape(path, ("train", &train), (name, &val))?;
            Splits { train, val, test }
        }
        None => carve_validation(train, test, path)?,
    };
    Ok(splits)
}

/// The last tenth of `train` (at least one image) validates.
fn carve_validation(train: Images, test: Images, path: &Path) -> Result<Splits> {
    let n = train.len();
    if n < 2 {
        bail!(
            "`{}`, array `train`: only {n} image; need at least 2 to carve out a validation \
             split (or add a `valid` array)",
            path.display()
        );
    }
    let val_count = (n / 10).max(1);
    Ok(Splits {
        val: train.slice(n - val_count, n),
        train: train.slice(0, n - val_count),
        test,
    })
}

fn check_same_shape(path: &Path, a: (&str, &Images), b: (&str, &Images)) -> Result<()> {
    let shape = |i: &Images| (i.channels, i.height, i.width);
    if shape(a.1) != shape(b.1) {
        let show = |i: &Images| format!("{}×{}×{}", i.channels, i.height, i.width);
        bail!(
            "`{}`: array `{}` holds {} images (C×H×W) but `{}` holds {}; the splits must agree",
            path.display(),
            a.0,
            show(a.1),
            b.0,
            show(b.1)
        );
    }
    Ok(())
}

fn quoted(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    q.join(", ")
}

/// The images of one array: shape and dtype checked, values turned into
/// 8-bit levels, axes into `[N, C, H, W]`.
fn read_images<R: Read>(npy: NpyFile<R>, what: &str, layout: Option<Layout>) -> Result<Images> {
    if npy.order() == Order::Fortran {
        bail!("{what}: stored in Fortran order; save `np.ascontiguousarray(x)` instead");
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let axes = Axes::of(&shape, layout).with_context(|| what.to_string())?;
    if shape.contains(&0) {
        bail!("{what}: the array is empty (shape {})", show_shape(&shape));
    }
    let dtype = npy.dtype();
    let levels = match plain_type(&dtype) {
        Some((TypeChar::Uint, 1)) => npy.into_vec::<u8>().map_err(|e| read_error(what, e))?,
        Some((TypeChar::Float, 4)) => {
            let x = npy.into_vec::<f32>().map_err(|e| read_error(what, e))?;
            float_levels(x.into_iter().map(f64::from), what)?
        }
        Some((TypeChar::Float, 8)) => {
            let x = npy.into_vec::<f64>().map_err(|e| read_error(what, e))?;
            float_levels(x.into_iter(), what)?
        }
        _ => bail!(
            "{what}: dtype {} is not supported; store uint8 levels 0..=255 \
             (`x.astype(np.uint8)`) or floats in [0, 1] (float32 or float64)",
            dtype.descr()
        ),
    };
    Ok(axes.to_planar(levels))
}

fn read_error(what: &str, e: std::io::Error) -> anyhow::Error {
    anyhow!("{what}: cannot read the data (truncated or corrupt?): {e}")
}

/// The type letter and byte size of a plain (non-record) dtype.
fn plain_type(dtype: &DType) -> Option<(TypeChar, u64)> {
    match dtype {
        DType::Plain(t) => Some((t.type_char(), t.size_field())),
        _ => None,
    }
}

/// Floats in [0, 1] as levels `round(255·x)`; anything else is refused.
fn float_levels(values: impl Iterator<Item = f64>, what: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (i, x) in values.enumerate() {
        if !(0.0..=1.0).contains(&x) {
            bail!(
                "{what}: float values must lie in [0, 1], but element {i} is {x}; \
                 divide 8-bit data by 255 or store it as uint8"
            );
        }
        out.push((x * 255.0).round() as u8);
    }
    Ok(out)
}

fn show_shape(shape: &[usize]) -> String {
    let s: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("({})", s.join(", "))
}

/// Where images, channels, rows and columns are in an array.
#[derive(Debug, PartialEq)]
struct Axes {
    n: usize,
    channels: usize,
    height: usize,
    width: usize,
    /// Channels last (N×H×W×C) rather than first.
    channels_last: bool,
}

impl Axes {
    fn of(shape: &[usize], layout: Option<Layout>) -> Result<Axes> {
        let is_channels = |c: usize| c == 1 || c == 3;
        let (n, channels, height, width, channels_last) = match (shape, layout) {
            (&[n, h, w], None) => (n, 1, h, w, false),
            (&[_, _, _], Some(l)) => bail!(
                "data.layout: `{l}` is for 4-axis arrays, but this one has shape {} (N×H×W); \
                 leave layout out",
                show_shape(shape)
            ),
            (&[n, h, w, c], Some(Layout::Nhwc)) => (n, c, h, w, true),
            (&[n, c, h, w], Some(Layout::Nchw)) => (n, c, h, w, false),
            (&[n, a, b, c], None) if is_channels(c) => (n, c, a, b, true),
            (&[n, a, b, c], None) if is_channels(a) => (n, a, b, c, false),
            (&[_, _, _, _], None) => bail!(
                "shape {}: neither axis 1 nor axis 3 has 1 or 3 channels; expected \
                 N×H×W×C or N×C×H×W",
                show_shape(shape)
            ),
            _ => bail!(
                "shape {}: expected N×H×W (gray), N×H×W×C or N×C×H×W (C = 1 or 3)",
                show_shape(shape)
            ),
        };
        if !is_channels(channels) {
            bail!(
                "shape {}: {channels} channels under layout {}; images have 1 (gray) or 3 (RGB)",
                show_shape(shape),
                if channels_last { "nhwc" } else { "nchw" }
            );
        }
        Ok(Axes {
            n,
            channels,
            height,
            width,
            channels_last,
        })
    }

    /// The values in `[N, C, H, W]` order.
    fn to_planar(&self, values: Vec<u8>) -> Images {
        let (c, h, w) = (self.channels, self.height, self.width);
        let pixels = if self.channels_last && c > 1 {
            let mut out = vec![0u8; values.len()];
            for (i, &v) in values.iter().enumerate() {
                let (img, rest) = (i / (h * w * c), i % (h * w * c));
                let (pos, ch) = (rest / c, rest % c);
                out[img * c * h * w + ch * h * w + pos] = v;
            }
            out
        } else {
            values
        };
        debug_assert_eq!(pixels.len(), self.n * c * h * w);
        Images {
            channels: c,
            height: h,
            width: w,
            pixels,
            labels: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_read_off_the_shape() {
        let axes = |s: &[usize], l| {
            Axes::of(s, l).map(|a| (a.channels, a.height, a.width, a.channels_last))
        };
        assert_eq!(axes(&[5, 28, 28], None).unwrap(), (1, 28, 28, false));
        assert_eq!(axes(&[5, 8, 6, 3], None).unwrap(), (3, 8, 6, true));
        assert_eq!(axes(&[5, 3, 8, 6], None).unwrap(), (3, 8, 6, false));
        assert_eq!(axes(&[5, 1, 8, 6], None).unwrap(), (1, 8, 6, false));
        // Both axes could hold channels: N×H×W×C unless told.
        assert_eq!(axes(&[5, 3, 8, 3], None).unwrap(), (3, 3, 8, true));
        let nchw = Some(Layout::Nchw);
        assert_eq!(axes(&[5, 3, 8, 3], nchw).unwrap(), (3, 8, 3, false));
        assert!(axes(&[5, 8, 8, 8], None).is_err());
        assert!(axes(&[5, 8, 8, 3], nchw).is_err());
        assert!(axes(&[5, 28, 28], Some(Layout::Nhwc)).is_err());
        assert!(axes(&[784], None).is_err());
        assert!(axes(&[1, 2, 3, 4, 3], None).is_err());
    }

    #[test]
    fn channels_last_becomes_planar() {
        // One 1×2 image, RGB, channels last: (r0 g0 b0) (r1 g1 b1).
        let axes = Axes::of(&[1, 1, 2, 3], None).unwrap();
        let images = axes.to_planar(vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(images.pixels, vec![1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn floats_become_levels_and_are_range_checked() {
        let levels = float_levels([0.0, 0.5, 1.0].into_iter(), "x").unwrap();
        assert_eq!(levels, vec![0, 128, 255]);
        let err = float_levels([0.0, 255.0].into_iter(), "`a.npy`").unwrap_err();
        assert!(err.to_string().contains("element 1 is 255"), "{err}");
        assert!(float_levels([f64::NAN].into_iter(), "x").is_err());
    }
}
