//! `arlab orderings`: the visiting path of each ordering, drawn.
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::data::Size;
use crate::order::{self, OrderSpec};

/// The largest side drawn.
const MAX_SIDE: usize = 256;

/// Draw each ordering's visiting path (PNG per ordering + overview).
#[derive(clap::Args, Debug)]
pub struct OrderingsArgs {
    /// Image size HxW, at most 256x256 (a path over more pixels cannot be
    /// seen in a drawing).
    #[arg(long, default_value = "28x28")]
    size: String,
    #[arg(long)]
    out: PathBuf,
    /// Orderings to draw (default: the gallery of all bases and some transforms).
    #[arg(long = "ordering", value_name = "ORDERING")]
    orderings: Vec<String>,
}

pub fn run(args: OrderingsArgs) -> Result<()> {
    let size: Size = args.size.parse().context("--size")?;
    if size.height > MAX_SIDE || size.width > MAX_SIDE {
        bail!(
            "--size {size}: at most {MAX_SIDE}x{MAX_SIDE} (a path over more pixels cannot be seen in a drawing)"
        );
    }
    let (h, w, out) = (size.height, size.width, &args.out);
    let specs: Vec<OrderSpec> = if args.orderings.is_empty() {
        order::gallery()
    } else {
        args.orderings
            .iter()
            .map(|n| n.parse())
            .collect::<Result<_>>()?
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))?;
    for s in &specs {
        order::render::render_path(s, h, w, &out.join(format!("{}.png", s.slug())))?;
    }
    let overview = out.join("overview.png");
    order::render::render_overview(&specs, h, w, &overview)?;
    println!(
        "{} orderings drawn for {h}×{w} in {} (overview: {})",
        specs.len(),
        out.display(),
        overview.display()
    );
    Ok(())
}
