//! OS file locks (released by the OS even if the process is killed):
//! one per run, `<results>/<experiment>/.locks/<run>.lock`, so that worker
//! processes, Slurm array tasks and a second `arlab run` share an
//! experiment and never train the same run; and a short-held
//! `<experiment>/.locks/comparison.lock` around rewriting the comparison.
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Held for as long as the value lives.
pub struct Lock {
    _file: File,
}

/// The outcome of trying to lock a run.
pub enum Attempt {
    Acquired(Lock),
    /// Another process holds it; its pid when it wrote one.
    Held(String),
}

pub fn run_lock_path(experiment_dir: &Path, run: &str) -> PathBuf {
    experiment_dir.join(".locks").join(format!("{run}.lock"))
}

fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create results directory `{}`", dir.display()))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open lock file `{}`", path.display()))
}

/// Takes the lock at `path` unless another process holds it.
pub fn try_acquire(path: &Path) -> Result<Attempt> {
    let mut file = open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Ok(Attempt::Held(if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("process {holder}")
            }));
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock `{}`", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(Attempt::Acquired(Lock { _file: file }))
}

/// Whether some process holds the lock at `path` now. On Linux this reads
/// /proc/locks and never takes the lock itself (a probe that took it, even
/// briefly, could make a worker skip a run nobody trains).
pub fn is_held(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    match std::fs::read_to_string("/proc/locks") {
        Ok(locks) => {
            use std::os::unix::fs::MetadataExt;
            let (dev, ino) = (meta.dev(), meta.ino());
            let id = format!("{:02x}:{:02x}:{ino}", libc::major(dev), libc::minor(dev));
            locks.lines().any(|l| l.split_whitespace().any(|f| f == id))
        }
        Err(_) => matches!(try_acquire(path), Ok(Attempt::Held(_))),
    }
}

/// Waits for the lock at `path` (for short critical sections).
pub fn acquire_blocking(path: &Path) -> Result<Lock> {
    let file = open(path)?;
    file.lock()
        .with_context(|| format!("cannot lock `{}`", path.display()))?;
    Ok(Lock { _file: file })
}
