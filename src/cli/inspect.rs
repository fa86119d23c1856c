//! `arlab inspect`: the data, models and runs of a spec, before training.
use std::path::PathBuf;

use anyhow::Result;

use crate::data::{self, ImageShape, PixelForm};
use crate::spec::Spec;
use crate::sweep::{self, Plan};

/// Print the runs of a spec and each model's parameter count.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    spec: PathBuf,
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    set: Vec<String>,
}

pub fn run(args: InspectArgs) -> Result<()> {
    inspect(&sweep::base_spec(&args.spec, &args.set)?)?;
    let plan = Plan::load(&args.spec, &args.set)?;
    if !plan.axes.is_empty() {
        println!(
            "the sweep over {} makes {} run(s) in all (`arlab plan` lists them)",
            super::describe_axes(&plan).join(", "),
            plan.runs.len()
        );
    }
    Ok(())
}

fn inspect(spec: &Spec) -> Result<()> {
    let splits = data::load_splits(&spec.data)?;
    let shape = ImageShape::new(spec.data.pixels, splits.train.height, splits.train.width);
    println!(
        "experiment `{}`: data `{}`, {} pixels, {}×{}×{} (C×H×W, D = {}), binarization: {}",
        spec.name,
        spec.data.source,
        spec.data.pixels.name(),
        shape.channels,
        shape.height,
        shape.width,
        shape.dims(),
        data::describe_binarization(&spec.data)
    );
    println!(
        "{} train / {} validation / {} test images",
        splits.train.len(),
        splits.val.len(),
        splits.test.len()
    );
    match spec.data.pixels {
        PixelForm::Rgb => println!(
            "the full joint of one RGB pixel alone needs 256^3 - 1 = {} parameters",
            256u64.pow(3) - 1
        ),
        PixelForm::Gray256 => {
            println!("the full distribution of one 8-bit pixel needs 255 parameters")
        }
        PixelForm::Binary => {}
    }
    print_models(spec, shape);
    let runs = spec.runs();
    println!("\n{} run(s):", runs.len());
    for r in runs {
        println!("  {}", r.id());
    }
    Ok(())
}

/// Each model's parameter count: counted on the built model where the
/// closed form is at most 2^30, else the closed form.
fn print_models(spec: &Spec, shape: ImageShape) {
    println!(
        "\n{:<24} {:<16} {:>22}  formula",
        "model", "type", "parameters"
    );
    for m in &spec.models {
        let def = m.def();
        let closed = def.param_count(shape);
        let counted = if closed.is_some_and(|c| c <= 1 << 30) {
            let vs = tch::nn::VarStore::new(tch::Device::Cpu);
            let ordering = &spec.orderings[0];
            m.build_run(&vs.root(), shape, ordering)
                .ok()
                .map(|m| m.num_params().to_string())
        } else {
            None
        };
        let shown = counted.unwrap_or_else(|| match closed {
            Some(c) => format!("{c} (not built)"),
            None => format!("2^{} - 1 (not built)", shape.dims()),
        });
        println!(
            "{:<24} {:<16} {:>22}  {}",
            m.label(),
            m.type_name(),
            shown,
            def.formula()
        );
    }
}
