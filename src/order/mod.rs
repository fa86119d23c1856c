//! Pixel orderings: the sequence in which an autoregressive model visits the
//! pixels of an `height × width` image.
//!
//! An ordering is a `Vec<usize>` where `order[t]` is the row-major pixel index
//! `r * width + c` visited at step `t`; it is always a permutation of
//! `0..height * width`. An [`OrderSpec`] names one: a [`Base`] curve followed
//! by [`Transform`]s applied left to right, written `BASE[+TRANSFORM...]`
//! (e.g. `hilbert`, `random:7`, `snake+reverse`, `raster+transpose+vflip`).

mod curves;
pub mod masks;
pub mod render;
mod set;

pub use set::{OrderSet, RunOrdering};

use anyhow::{anyhow, bail};
use std::fmt;
use std::str::FromStr;

/// A base visiting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// Row by row, left to right.
    Raster,
    /// Column by column, top to bottom.
    Column,
    /// Rows in alternating direction (boustrophedon).
    Snake,
    /// JPEG-style zigzag over anti-diagonals.
    Zigzag,
    /// Generalized Hilbert curve ("gilbert"), any size.
    Hilbert,
    /// Clockwise spiral from the top-left corner inward.
    Spiral,
    /// Uniformly random permutation from the given seed.
    Random(u64),
}

/// A transform applied to an ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// Visit the steps in reverse.
    Reverse,
    /// Build the ordering on the transposed (`width × height`) grid, then
    /// map each `(r, c)` to `(c, r)`.
    Transpose,
    /// Mirror left-right: `(r, c) → (r, W-1-c)`.
    HFlip,
    /// Mirror top-bottom: `(r, c) → (H-1-r, c)`.
    VFlip,
}

/// A named ordering: a base followed by transforms, applied left to right.
/// In a spec it is written as its name (`snake+reverse`) and parsed once.
#[derive(
    Clone, Debug, PartialEq, Eq, serde_with::SerializeDisplay, serde_with::DeserializeFromStr,
)]
pub struct OrderSpec {
    pub base: Base,
    pub transforms: Vec<Transform>,
}

/// Base names accepted by [`OrderSpec::from_str`], for error messages.
pub const BASE_NAMES: &[&str] = &[
    "raster",
    "column",
    "snake",
    "zigzag",
    "hilbert",
    "spiral",
    "random[:SEED]",
];

/// Transform names accepted by [`OrderSpec::from_str`], for error messages.
pub const TRANSFORM_NAMES: &[&str] = &["reverse", "transpose", "hflip", "vflip"];

impl OrderSpec {
    /// A spec with no transforms.
    pub fn new(base: Base) -> Self {
        OrderSpec {
            base,
            transforms: Vec::new(),
        }
    }

    /// The ordering of a `height × width` grid (a permutation of `0..height*width`).
    pub fn order(&self, height: usize, width: usize) -> Vec<usize> {
        build(self.base, &self.transforms, height, width)
    }

    /// Filesystem-safe name, e.g. `raster`, `random-7`, `snake+reverse`.
    pub fn slug(&self) -> String {
        self.to_string().replace(':', "-")
    }

    /// True for the 8 dihedral variants of raster order (raster or column
    /// under any transforms): the orderings a raster-scan network reaches by
    /// transforming the image.
    pub fn is_dihedral(&self) -> bool {
        matches!(self.base, Base::Raster | Base::Column)
    }

    /// The image transform under which this ordering is raster order on an
    /// `height × width` image, if there is one.
    pub fn dihedral(&self, height: usize, width: usize) -> Option<Dihedral> {
        let order = self.order(height, width);
        Dihedral::ALL
            .into_iter()
            .find(|d| d.visiting_order(height, width) == order)
    }
}

/// One of the 8 symmetries of the grid: optionally transpose, then mirror
/// left-right, then mirror top-bottom. A raster-scan network under an
/// ordering with a dihedral form runs on `apply(x)`; its outputs go back
/// through `invert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Dihedral {
    pub transpose: bool,
    pub hflip: bool,
    pub vflip: bool,
}

impl Dihedral {
    pub const ALL: [Dihedral; 8] = {
        let mut all = [Dihedral {
            transpose: false,
            hflip: false,
            vflip: false,
        }; 8];
        let mut i = 0;
        while i < 8 {
            all[i] = Dihedral {
                transpose: i & 1 != 0,
                hflip: i & 2 != 0,
                vflip: i & 4 != 0,
            };
            i += 1;
        }
        all
    };

    /// The pixels of an `h × w` image in the order a raster scan of the
    /// transformed image visits them.
    pub fn visiting_order(&self, h: usize, w: usize) -> Vec<usize> {
        let idx: Vec<i64> = (0..(h * w) as i64).collect();
        let grid = tch::Tensor::from_slice(&idx).view([1, 1, h as i64, w as i64]);
        Vec::<i64>::try_from(self.apply(&grid).flatten(0, -1))
            .expect("an index vector")
            .into_iter()
            .map(|i| i as usize)
            .collect()
    }

    /// Transforms the last two (height, width) dimensions of `x`.
    pub fn apply(&self, x: &tch::Tensor) -> tch::Tensor {
        let n = x.dim() as i64;
        let mut y = x.shallow_clone();
        if self.transpose {
            y = y.transpose(n - 2, n - 1);
        }
        if self.hflip {
            y = y.flip([n - 1]);
        }
        if self.vflip {
            y = y.flip([n - 2]);
        }
        y
    }

    /// The inverse of [`Dihedral::apply`] on dimensions `hdim` and `hdim + 1`.
    pub fn invert_at(&self, y: &tch::Tensor, hdim: i64) -> tch::Tensor {
        let mut x = y.shallow_clone();
        if self.vflip {
            x = x.flip([hdim]);
        }
        if self.hflip {
            x = x.flip([hdim + 1]);
        }
        if self.transpose {
            x = x.transpose(hdim, hdim + 1);
        }
        x
    }
}

/// Applies `transforms` (left to right) to `base` on an `h × w` grid.
fn build(base: Base, transforms: &[Transform], h: usize, w: usize) -> Vec<usize> {
    let Some((last, rest)) = transforms.split_last() else {
        if h == 0 || w == 0 {
            return Vec::new();
        }
        return match base {
            Base::Raster => curves::raster(h, w),
            Base::Column => curves::column(h, w),
            Base::Snake => curves::snake(h, w),
            Base::Zigzag => curves::zigzag(h, w),
            Base::Hilbert => curves::hilbert(h, w),
            Base::Spiral => curves::spiral(h, w),
            Base::Random(seed) => curves::random(h, w, seed),
        };
    };
    match last {
        Transform::Reverse => {
            let mut o = build(base, rest, h, w);
            o.reverse();
            o
        }
        // On the w × h grid, index i is (i / h, i % h); it becomes (i % h, i / h).
        Transform::Transpose => build(base, rest, w, h)
            .into_iter()
            .map(|i| (i % h) * w + i / h)
            .collect(),
        Transform::HFlip => build(base, rest, h, w)
            .into_iter()
            .map(|i| (i / w) * w + (w - 1 - i % w))
            .collect(),
        Transform::VFlip => build(base, rest, h, w)
            .into_iter()
            .map(|i| (h - 1 - i / w) * w + i % w)
            .collect(),
    }
}

/// Inverse permutation: `rank[pixel]` is the step at which `pixel` is visited.
pub fn ranks(order: &[usize]) -> Vec<usize> {
    let mut rank = vec![0; order.len()];
    for (t, &p) in order.iter().enumerate() {
        rank[p] = t;
    }
    rank
}

/// The orderings drawn by `arlab orderings`: every base (random with seed 0)
/// plus a few transformed ones.
pub fn gallery() -> Vec<OrderSpec> {
    [
        "raster",
        "column",
        "snake",
        "zigzag",
        "hilbert",
        "spiral",
        "random:0",
        "raster+reverse",
        "snake+transpose",
        "zigzag+hflip",
        "hilbert+transpose",
        "spiral+reverse",
    ]
    .iter()
    .map(|s| s.parse().expect("gallery specs are valid"))
    .collect()
}

fn valid_names() -> String {
    format!(
        "valid bases: {}; valid transforms: {}",
        BASE_NAMES.join(", "),
        TRANSFORM_NAMES.join(", ")
    )
}

impl FromStr for OrderSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        let mut parts = lower.split('+').map(str::trim);
        let base_str = parts.next().unwrap_or_default();
        let base = match base_str {
            "raster" => Base::Raster,
            "column" => Base::Column,
            "snake" => Base::Snake,
            "zigzag" => Base::Zigzag,
            "hilbert" => Base::Hilbert,
            "spiral" => Base::Spiral,
            "random" => Base::Random(0),
            other => match other.strip_prefix("random:") {
                Some(seed) => Base::Random(seed.trim().parse().map_err(|_| {
                    anyhow!("bad seed {seed:?} in ordering {s:?}: expected random:SEED with SEED a non-negative integer")
                })?),
                None => bail!("unknown ordering base {other:?} in {s:?}; {}", valid_names()),
            },
        };
        let transforms = parts
            .map(|t| {
                Ok(match t {
                    "reverse" => Transform::Reverse,
                    "transpose" => Transform::Transpose,
                    "hflip" => Transform::HFlip,
                    "vflip" => Transform::VFlip,
                    other => bail!(
                        "unknown ordering transform {other:?} in {s:?}; {}",
                        valid_names()
                    ),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(OrderSpec { base, transforms })
    }
}

impl fmt::Display for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base::Raster => f.write_str("raster"),
            Base::Column => f.write_str("column"),
            Base::Snake => f.write_str("snake"),
            Base::Zigzag => f.write_str("zigzag"),
            Base::Hilbert => f.write_str("hilbert"),
            Base::Spiral => f.write_str("spiral"),
            Base::Random(seed) => write!(f, "random:{seed}"),
        }
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transform::Reverse => "reverse",
            Transform::Transpose => "transpose",
            Transform::HFlip => "hflip",
            Transform::VFlip => "vflip",
        })
    }
}

/// Canonical form: lowercase, `random:SEED` always with its seed.
impl fmt::Display for OrderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.base)?;
        for t in &self.transforms {
            write!(f, "+{t}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> OrderSpec {
        s.parse().unwrap()
    }

    fn is_permutation(o: &[usize], n: usize) -> bool {
        let mut seen = vec![false; n];
        o.len() == n
            && o.iter()
                .all(|&p| p < n && !std::mem::replace(&mut seen[p], true))
    }

    /// Chebyshev-distance-1 neighbours: 4-neighbours or diagonal neighbours.
    fn step_kind(a: usize, b: usize, w: usize) -> (usize, usize) {
        let (ra, ca, rb, cb) = (a / w, a % w, b / w, b % w);
        (ra.abs_diff(rb), ca.abs_diff(cb))
    }

    fn all_4_adjacent(o: &[usize], w: usize) -> bool {
        o.windows(2)
            .all(|p| matches!(step_kind(p[0], p[1], w), (0, 1) | (1, 0)))
    }

    fn all_specs() -> Vec<OrderSpec> {
        let mut specs: Vec<OrderSpec> = [
            "raster", "column", "snake", "zigzag", "hilbert", "spiral", "random:3",
        ]
        .iter()
        .map(|s| spec(s))
        .collect();
        for t in TRANSFORM_NAMES {
            specs.push(spec(&format!("hilbert+{t}")));
            specs.push(spec(&format!("zigzag+{t}")));
        }
        specs.extend(
            [
                "raster+transpose+vflip",
                "spiral+hflip+reverse+transpose",
                "snake+transpose+transpose",
            ]
            .map(spec),
        );
        specs
    }

    #[test]
    fn every_ordering_is_a_bijection() {
        let mut sizes: Vec<(usize, usize)> = (1..=32)
            .flat_map(|h| (1..=32).map(move |w| (h, w)))
            .collect();
        sizes.extend([(3, 17), (28, 14), (5, 1), (1, 100), (100, 1)]);
        for s in all_specs() {
            for &(h, w) in &sizes {
                let o = s.order(h, w);
                assert!(is_permutation(&o, h * w), "{s} on {h}x{w}: {o:?}");
                let r = ranks(&o);
                assert!(o.iter().enumerate().all(|(t, &p)| r[p] == t));
            }
        }
    }

    #[test]
    fn known_3x3_orders() {
        let cases: [(&str, [usize; 9]); 7] = [
            ("raster", [0, 1, 2, 3, 4, 5, 6, 7, 8]),
            ("column", [0, 3, 6, 1, 4, 7, 2, 5, 8]),
            ("snake", [0, 1, 2, 5, 4, 3, 6, 7, 8]),
            ("zigzag", [0, 1, 3, 6, 4, 2, 5, 7, 8]),
            ("spiral", [0, 1, 2, 5, 8, 7, 6, 3, 4]),
            ("hilbert", [0, 3, 6, 7, 8, 5, 4, 1, 2]),
            ("raster+hflip", [2, 1, 0, 5, 4, 3, 8, 7, 6]),
        ];
        for (s, want) in cases {
            assert_eq!(spec(s).order(3, 3), want, "{s}");
        }
        // Non-square spiral, 2 rows x 3 columns.
        assert_eq!(spec("spiral").order(2, 3), [0, 1, 2, 5, 4, 3]);
        assert_eq!(spec("zigzag").order(2, 3), [0, 1, 3, 4, 2, 5]);
    }

    #[test]
    fn transforms() {
        for (h, w) in [(1, 1), (1, 7), (7, 1), (3, 5), (5, 3), (28, 14), (8, 8)] {
            assert_eq!(
                spec("raster+transpose").order(h, w),
                spec("column").order(h, w)
            );
            assert_eq!(
                spec("column+transpose").order(h, w),
                spec("raster").order(h, w)
            );
            assert_eq!(
                spec("hilbert+hflip+hflip").order(h, w),
                spec("hilbert").order(h, w)
            );
            assert_eq!(
                spec("zigzag+vflip+vflip").order(h, w),
                spec("zigzag").order(h, w)
            );
            assert_eq!(
                spec("spiral+transpose+transpose").order(h, w),
                spec("spiral").order(h, w)
            );
            let mut rev = spec("snake").order(h, w);
            rev.reverse();
            assert_eq!(spec("snake+reverse").order(h, w), rev);
            assert_eq!(
                spec("raster+reverse").order(h, w),
                (0..h * w).rev().collect::<Vec<_>>()
            );
        }
        assert_eq!(spec("raster+vflip").order(2, 2), [2, 3, 0, 1]);
        // Later transforms see the earlier ones: transpose of raster+hflip on 2x3.
        assert_eq!(
            spec("raster+hflip+transpose").order(2, 3),
            [3, 0, 4, 1, 5, 2]
        );
    }

    #[test]
    fn path_orderings_are_connected() {
        for h in 1..=32 {
            for w in 1..=32 {
                for s in ["snake", "spiral", "snake+transpose", "spiral+reverse+vflip"] {
                    assert!(all_4_adjacent(&spec(s).order(h, w), w), "{s} {h}x{w}");
                }
            }
        }
    }

    #[test]
    fn hilbert_adjacency() {
        // Always at most one diagonal step, never a jump.
        for h in 1..=32 {
            for w in 1..=32 {
                let o = spec("hilbert").order(h, w);
                let steps: Vec<_> = o.windows(2).map(|p| step_kind(p[0], p[1], w)).collect();
                assert!(steps.iter().all(|&(dr, dc)| dr <= 1 && dc <= 1), "{h}x{w}");
                let diagonals = steps.iter().filter(|&&s| s == (1, 1)).count();
                assert!(diagonals <= 1, "{h}x{w}: {diagonals} diagonal steps");
                // Even × even grids (and square ones) are fully 4-connected.
                if (h % 2 == 0 && w % 2 == 0) || h == w {
                    assert_eq!(diagonals, 0, "{h}x{w}");
                }
            }
        }
        for n in [1, 2, 4, 8, 16, 32, 64, 14, 28] {
            assert!(all_4_adjacent(&spec("hilbert").order(n, n), n), "{n}x{n}");
        }
        assert!(all_4_adjacent(&spec("hilbert").order(28, 14), 14));
    }

    #[test]
    fn random_is_reproducible() {
        let a = spec("random:7").order(28, 28);
        assert_eq!(a, spec("random:7").order(28, 28));
        assert_ne!(a, spec("random:8").order(28, 28));
        assert_eq!(spec("random"), spec("random:0"));
    }

    #[test]
    fn parse_display_round_trip() {
        for s in all_specs().into_iter().chain(gallery()) {
            assert_eq!(spec(&s.to_string()), s);
        }
        let s = spec("  Raster + Transpose+VFLIP ");
        assert_eq!(s.to_string(), "raster+transpose+vflip");
        assert_eq!(s.transforms, [Transform::Transpose, Transform::VFlip]);
        assert_eq!(spec("random:7").slug(), "random-7");
        assert_eq!(spec("snake+reverse").slug(), "snake+reverse");
        assert_eq!(spec("raster").slug(), "raster");
    }

    #[test]
    fn parse_errors() {
        let err = "hilbret".parse::<OrderSpec>().unwrap_err().to_string();
        assert!(err.contains("\"hilbret\""), "{err}");
        for name in BASE_NAMES.iter().chain(TRANSFORM_NAMES) {
            assert!(err.contains(name), "{err}");
        }
        let err = "snake+flip".parse::<OrderSpec>().unwrap_err().to_string();
        assert!(err.contains("\"flip\"") && err.contains("hflip"), "{err}");
        let err = "random:x".parse::<OrderSpec>().unwrap_err().to_string();
        assert!(err.contains("seed") && err.contains("\"x\""), "{err}");
        assert!("".parse::<OrderSpec>().is_err());
        assert!("raster+".parse::<OrderSpec>().is_err());
    }

    #[test]
    fn render_writes_png() {
        let dir = std::env::temp_dir().join(format!("arlab-order-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = dir.join("hilbert.png");
        render::render_path(&spec("hilbert"), 28, 28, &one).unwrap();
        let all = dir.join("overview.png");
        render::render_overview(&gallery(), 7, 5, &all).unwrap();
        for p in [&one, &all] {
            let bytes = std::fs::read(p).unwrap();
            assert!(
                bytes.starts_with(b"\x89PNG") && bytes.len() > 1000,
                "{}",
                p.display()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
