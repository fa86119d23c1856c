//! `arlab score`: per-image scores of a trained run.
use std::path::PathBuf;

use anyhow::Result;

use crate::data::Split;
use crate::{eval, results, score};

/// Per-image scores of a trained run (best checkpoint): log p(x), bits/dim
/// and the complexity-corrected score S(x) = −log₂ p(x) − L_PNG(x).
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// A run directory, or a model exported as .safetensors (`arlab export`).
    run_dir: PathBuf,
    /// Score another data source (default: the run's own), e.g. `mnist`;
    /// the run's pixel form and binarization apply to it.
    #[arg(long, value_name = "SOURCE")]
    data: Option<String>,
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    /// The per-image CSV to write (and the same table as a structured
    /// .npy beside it).
    #[arg(long, value_name = "FILE.csv", default_value = "scores.csv")]
    out: PathBuf,
}

pub fn run(args: ScoreArgs) -> Result<()> {
    let (run, dataset, inst) = results::run::load_trained(&args.run_dir, args.data.as_deref())?;
    let split = args.split;
    let label = format!("{} ({split})", dataset.spec.source);
    let batch = run.spec.train.eval_batch_size;
    let x = dataset.split(split);
    let scores = score::score_images(inst.model.as_ref(), x, batch, inst.device, &label)?;
    let npy = score::write(&scores, &args.out)?;
    let complexity = scores.complexity();
    let nll = eval::mean_nll(&scores.log_p);
    println!(
        "{}: {label}: {} images, NLL {nll:.4} nats/image, {:.5} bits/dim, mean complexity score {:.2} bits (binarization: {})",
        run.id(),
        scores.log_p.len(),
        eval::bits_per_dim(nll, dataset.dims()),
        complexity.iter().sum::<f64>() / complexity.len().max(1) as f64,
        dataset.binarization()
    );
    println!(
        "per-image scores: {} and {}",
        args.out.display(),
        npy.display()
    );
    Ok(())
}
