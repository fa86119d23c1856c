//! `arlab eval`: the exact log-likelihood of a trained run, alone or as an
//! ensemble over orderings.
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::data::Split;
use crate::eval::{self, ensemble};
use crate::results;
use crate::spec::EnsembleSpec;

/// Exact log-likelihood of a trained run (best checkpoint) on a split.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// A run directory, or a model exported as .safetensors (`arlab export`).
    run_dir: PathBuf,
    /// Evaluate on another data source (same image size), e.g. `idx:/data/mnist`.
    #[arg(long)]
    data: Option<String>,
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    /// Write one row per image: index, log p(x) in nats (and the
    /// log-likelihoods as a float64 .npy beside it).
    #[arg(long, value_name = "FILE.csv")]
    per_image: Option<PathBuf>,
    /// Evaluate under the model's first N orderings (or masks), or under
    /// the named orderings (`raster,snake,hilbert`): each alone and as
    /// their ensemble, logsumexp_k log p_k(x) − log N.
    #[arg(long, value_name = "N|LIST")]
    orderings: Option<EnsembleSpec>,
}

pub fn run(args: EvalArgs) -> Result<()> {
    if let Some(p) = &args.per_image {
        if p.extension().is_some_and(|e| e == "npy") {
            bail!("--per-image: name the CSV (e.g. per_image.csv); the .npy is written beside it");
        }
    }
    let (run, dataset, inst) = results::run::load_trained(&args.run_dir, args.data.as_deref())?;
    let x = dataset.split(args.split);
    let batch = run.spec.train.eval_batch_size;
    let model = inst.model.as_ref();
    let orderings = match args.orderings {
        // The model's first ordering is its own: the plain evaluation.
        Some(EnsembleSpec::Count(1)) if model.members(1).is_err() => {
            eprintln!(
                "--orderings 1: run {} is evaluated under its own ordering ({}), as without --orderings",
                run.id(),
                run.ordering
            );
            None
        }
        o => o,
    };
    let (log_probs, what) = match &orderings {
        None => (
            eval::log_probs(model, x, batch, inst.device, tch::Kind::Float),
            String::new(),
        ),
        Some(spec) => {
            let members = spec.members(model, false)?;
            let e = ensemble::evaluate(
                model,
                x,
                &members,
                (batch, inst.device, dataset.dims()),
                None,
                |m, _| {
                    eprintln!("evaluated under {m}");
                    Ok(())
                },
            )?;
            print_ensemble(&e.rows);
            let n = members.len();
            (
                ensemble::ensemble_log_probs(&e.per_member),
                format!(" (ensemble of {n} ordering(s))"),
            )
        }
    };
    let nll = eval::mean_nll(&log_probs);
    println!(
        "{}{what}: {} NLL {nll:.4} nats/image, {:.5} bits/dim over {} images ({}, binarization: {})",
        run.id(),
        args.split,
        eval::bits_per_dim(nll, dataset.dims()),
        log_probs.len(),
        dataset.spec.source,
        dataset.binarization()
    );
    if let Some(path) = &args.per_image {
        write_per_image(path, &log_probs)?;
    }
    Ok(())
}

/// The per-ordering and ensemble rows as a table on stdout.
fn print_ensemble(rows: &[results::EnsembleRow]) {
    println!(
        "{:<10} {:>3}  {:>12} {:>10}  orderings",
        "", "N", "NLL (nats)", "bits/dim"
    );
    for r in rows {
        println!(
            "{:<10} {:>3}  {:>12.4} {:>10.5}  {}",
            r.kind, r.n, r.nll, r.bits_per_dim, r.orderings
        );
    }
}

/// One row per image: index, log p(x) in nats; and the log-likelihoods as
/// a float64 vector in the .npy beside it.
fn write_per_image(path: &Path, log_probs: &[f64]) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Row {
        index: usize,
        log_prob_nats: f64,
    }
    let rows: Vec<Row> = log_probs
        .iter()
        .enumerate()
        .map(|(index, &log_prob_nats)| Row {
            index,
            log_prob_nats,
        })
        .collect();
    results::write_csv(path, &rows)?;
    let npy = path.with_extension("npy");
    results::npy::write_f64(&npy, log_probs)?;
    println!(
        "per-image log-likelihoods: {} and {}",
        path.display(),
        npy.display()
    );
    Ok(())
}
