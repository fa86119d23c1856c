//! `arlab receptive-field`: which pixels one conditional of each model sees.
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::data::{self, ImageShape};
use crate::results::plots;
use crate::spec::Spec;
use crate::{eval, sweep};

/// Draw the receptive field of one conditional for each model of a spec:
/// the gradient magnitude of its logits over the input pixels.
#[derive(clap::Args, Debug)]
pub struct ReceptiveFieldArgs {
    spec: PathBuf,
    /// The pixel whose conditional is examined, `ROW,COL` (0-based).
    #[arg(long, allow_hyphen_values = true)]
    pixel: String,
    /// The channel of that pixel (0 = R for colour).
    #[arg(long, default_value_t = 0)]
    channel: usize,
    #[arg(long, default_value = "receptive_field.png")]
    out: PathBuf,
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    set: Vec<String>,
}

pub fn run(args: ReceptiveFieldArgs) -> Result<()> {
    let spec = sweep::base_spec(&args.spec, &args.set)?;
    receptive_fields(&spec, &args.pixel, args.channel, &args.out)
}

fn receptive_fields(spec: &Spec, pixel: &str, channel: usize, out: &Path) -> Result<()> {
    let splits = data::load_splits(&spec.data)?;
    let shape = ImageShape::new(spec.data.pixels, splits.train.height, splits.train.width);
    let (r, c) = parse_pixel(pixel, shape)?;
    if channel >= shape.channels {
        bail!(
            "--channel: the images have {} channel(s), got {channel}",
            shape.channels
        );
    }
    let ordering = &spec.orderings[0];
    let target = r * shape.width + c;
    let mut panels = Vec::new();
    for m in &spec.models {
        tch::manual_seed(spec.seeds[0] as i64);
        let mut vs = tch::nn::VarStore::new(tch::Device::Cpu);
        vs.set_kind(tch::Kind::Double);
        let model = m.build_run(&vs.root(), shape, ordering)?;
        let field = eval::receptive_field(model.as_ref(), target, channel, 8, tch::Kind::Double);
        let ranks = crate::order::ranks(model.order());
        let earlier = (0..field.len())
            .filter(|&p| ranks[p] < ranks[target])
            .count();
        let seen = (0..field.len())
            .filter(|&p| ranks[p] < ranks[target] && field[p] > 0.0)
            .count();
        println!(
            "{}: sees {seen} of the {earlier} pixels before ({r}, {c}) under {ordering}",
            m.label()
        );
        panels.push((format!("{} ({seen}/{earlier})", m.label()), field));
    }
    plots::receptive_fields(&panels, shape.height, shape.width, target, out)?;
    println!("receptive fields: {}", out.display());
    Ok(())
}

/// `ROW,COL` inside the image.
fn parse_pixel(pixel: &str, shape: ImageShape) -> Result<(usize, usize)> {
    let parse = |v: &str| v.trim().parse::<usize>().ok();
    pixel
        .split_once(',')
        .and_then(|(r, c)| parse(r).zip(parse(c)))
        .filter(|&(r, c)| r < shape.height && c < shape.width)
        .with_context(|| {
            format!(
                "--pixel: expected ROW,COL inside the {}×{} image, got {pixel:?}",
                shape.height, shape.width
            )
        })
}
