//! SIGUSR1 (Slurm's warning before a time limit or preemption) and SIGTERM
//! (`scancel`, a kill) ask a training run to write its resume checkpoint at
//! the next step boundary and stop (in the test ensemble: after the current
//! ordering, to be evaluated again on rerun); a second SIGTERM ends the
//! process at once.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGTERM, SIGUSR1};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers (once per process).
pub fn install() -> Result<()> {
    if FLAG.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicBool::new(false));
    // The second SIGTERM (flag already set) terminates with the default action.
    signal_hook::flag::register_conditional_default(SIGTERM, Arc::clone(&flag))
        .context("cannot install the SIGTERM handler")?;
    for sig in [SIGTERM, SIGUSR1] {
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .context("cannot install a signal handler")?;
    }
    let _ = FLAG.set(flag);
    Ok(())
}

/// Whether a stop was requested.
pub fn stop_requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed))
}
