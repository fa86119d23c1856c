//! arlab: a research harness for autoregressive image density models.
//!
//! The loop: a YAML [`spec`] names data, models, orderings and seeds; [`train`]
//! fits each run; [`eval`] computes exact log-likelihoods; [`results`] writes
//! the results tree and the cross-run comparison.
pub mod autocast;
pub mod bench;
pub mod cli;
pub mod data;
pub mod device;
pub mod eval;
pub mod models;
pub mod order;
pub mod report;
pub mod results;
pub mod rng;
pub mod runtime;
pub mod score;
pub mod slurm;
pub mod spec;
pub mod stats;
pub mod sweep;
pub mod train;
