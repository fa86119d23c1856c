//! `arlab orderings`: the visiting path of each ordering, drawn.
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data::Size;
use crate::order::{self, OrderSpec};

/// Draw each ordering's visiting path (PNG per ordering + overview).
#[derive(clap::Args, Debug)]
pub struct OrderingsArgs {
    /// Image size HxW.
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
