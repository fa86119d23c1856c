//! One writer per experiment: `arlab run` holds an OS file lock on
//! `<results>/<experiment>/.lock` (released by the OS even if the process is
//! killed); a second `arlab run` of the same experiment refuses, naming the
//! process that holds it.
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Held for as long as the value lives.
pub struct ExperimentLock {
    _file: File,
}

pub fn acquire(experiment_dir: &Path, name: &str) -> Result<ExperimentLock> {
    let path = experiment_dir.join(".lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open lock file `{}`", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("process {holder}")
            };
            bail!("experiment `{name}` is already being run by {who} (lock `{}`); wait for it to finish or stop it", path.display());
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock `{}`", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(ExperimentLock { _file: file })
}
