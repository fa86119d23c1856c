//! `data.source`: a name from the list of sources ([`super::SOURCES`]),
//! with `:PATH` for the sources that read the user's files. Each source is
//! declared once, in its own file, as a [`SourceDef`].
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use serde_with::{DeserializeFromStr, SerializeDisplay};

use super::{DataSpec, PixelForm, Size, Splits, SOURCES};

/// The pixel forms of gray sources.
pub const GRAY: &[PixelForm] = &[PixelForm::Binary, PixelForm::Gray256];
/// The pixel form of colour sources.
pub const COLOUR: &[PixelForm] = &[PixelForm::Rgb];

/// One data source: what a spec names it, what it holds, where a built-in
/// one is installed, and its loader.
pub struct SourceDef {
    /// The name in `data.source` (before `:PATH` when it takes one).
    pub name: &'static str,
    /// Written `NAME:PATH`: the user's own files.
    pub takes_path: bool,
    /// The pixel forms a spec may ask of it.
    pub pixels: &'static [PixelForm],
    /// Its images are cut to `data.size`, which it then requires.
    pub cuts_to_size: bool,
    /// The level that stands for intensity 1: 255 for 8-bit images, 256
    /// for the classic MNIST, whose values are k/256. Stochastic
    /// binarization draws 1 with probability level / `full_scale`.
    pub full_scale: f64,
    /// A built-in data set: where it is installed and how.
    pub install: Option<Install>,
    /// Loads the 8-bit splits (before `size`, `downscale` and `max_*`).
    pub load: fn(&DataSpec, &Source) -> Result<Splits>,
}

/// Where a built-in data set lives and how to install it.
#[derive(Clone, Copy)]
pub struct Install {
    pub dir: fn() -> PathBuf,
    /// A file under `dir` that exists once the set is installed.
    pub marker: &'static str,
    /// The command that installs it.
    pub how: &'static str,
}

impl Install {
    pub fn is_present(&self) -> bool {
        (self.dir)().join(self.marker).is_file()
    }
}

/// Where the images come from (`data.source`): a source and, for those
/// that take one, the path.
#[derive(Clone, SerializeDisplay, DeserializeFromStr)]
pub struct Source {
    def: &'static SourceDef,
    path: Option<PathBuf>,
}

impl Source {
    /// The source `def` without a path.
    pub fn builtin(def: &'static SourceDef) -> Source {
        Source { def, path: None }
    }

    pub fn def(&self) -> &'static SourceDef {
        self.def
    }

    /// The name in the spec, without the path.
    pub fn name(&self) -> &'static str {
        self.def.name
    }

    /// Whether this is the source `def`.
    pub fn is(&self, def: &SourceDef) -> bool {
        self.def.name == def.name
    }

    /// The user's path of a `NAME:PATH` source.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Sources of colour images (they need `pixels: rgb` and a `size`).
    pub fn is_colour(&self) -> bool {
        self.def.pixels == COLOUR
    }

    /// Loads its 8-bit splits; a built-in set that is not installed is
    /// refused with the command that installs it.
    pub fn load(&self, spec: &DataSpec) -> Result<Splits> {
        if let Some(install) = self.def.install {
            if !install.is_present() {
                bail!(
                    "built-in data set `{}` is not installed (looked in `{}`); install it with: {}",
                    self.def.name,
                    (install.dir)().display(),
                    install.how
                );
            }
        }
        (self.def.load)(spec, self)
    }

    /// The path of a source that takes one (its loader's argument).
    pub fn required_path(&self) -> &Path {
        self.path
            .as_deref()
            .expect("a source that takes a path always has one")
    }

    /// `use `mnist`, …, `idx:PATH` or `images:PATH``: every name, for errors.
    pub fn help() -> String {
        let names: Vec<String> = SOURCES.iter().map(|d| spelled(d)).collect();
        let (last, rest) = names.split_last().expect("the list is not empty");
        format!("use {} or {last}", rest.join(", "))
    }
}

/// `` `name` `` or `` `name:PATH` ``.
fn spelled(d: &SourceDef) -> String {
    if d.takes_path {
        format!("`{}:PATH`", d.name)
    } else {
        format!("`{}`", d.name)
    }
}

/// The colour sources, for errors: `` `photos` or `images:PATH` ``.
pub fn colour_sources() -> String {
    let names: Vec<String> = SOURCES
        .iter()
        .filter(|d| d.pixels == COLOUR)
        .map(|d| spelled(d))
        .collect();
    names.join(" or ")
}

/// The size colour sources cut their images to (`data.size`, required).
pub fn cut_size(spec: &DataSpec) -> Result<Size> {
    spec.size.with_context(|| {
        format!(
            "data.size: `{}` needs the size to cut its images to, e.g. `size: 32x32`",
            spec.source
        )
    })
}

impl PartialEq for Source {
    fn eq(&self, other: &Source) -> bool {
        self.def.name == other.def.name && self.path == other.path
    }
}

impl Eq for Source {}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({self})")
    }
}

impl FromStr for Source {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Source> {
        for def in SOURCES {
            if !def.takes_path && s == def.name {
                return Ok(Source::builtin(def));
            }
            let prefixed = s.strip_prefix(def.name).and_then(|r| r.strip_prefix(':'));
            if let (true, Some(p)) = (def.takes_path, prefixed) {
                if p.trim().is_empty() {
                    bail!("`{0}:` needs a path, e.g. `{0}:/data/mnist`", def.name);
                }
                return Ok(Source {
                    def,
                    path: Some(PathBuf::from(p)),
                });
            }
        }
        bail!("unknown source {s:?}; {}", Source::help())
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            None => f.write_str(self.def.name),
            Some(p) => write!(f, "{}:{}", self.def.name, p.display()),
        }
    }
}
